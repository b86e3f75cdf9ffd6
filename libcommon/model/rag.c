#include "model/rag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/rerank.h"

const char rag_instruction[] =
	"Answer the question using the numbered passages below. Cite the passages that support "
	"your answer by their numbers in square brackets, such as [1] or [2][3]. If the passages "
	"do not contain the answer, say so.";

size_t rag_select(const size_t *cost, size_t n, size_t budget)
{
	size_t k, used = 0;

	for (k = 0; k < n; k++) {
		if (cost[k] > budget - used)
			break;
		used += cost[k];
	}
	return k;
}

void rag_place(const uint32_t *in, size_t n, uint32_t *out)
{
	rerank_edges(in, n, out);
}

static int has(const char *s)
{
	return s && *s;
}

char *rag_passage_text(const struct rag_passage *p, size_t *len)
{
	char *s = NULL;
	int n;

	if (has(p->title))
		n = asprintf(&s, "%s\n%s", p->title, p->text ? p->text : "");
	else
		n = asprintf(&s, "%s", p->text ? p->text : "");
	if (n < 0)
		return NULL;
	if (len)
		*len = (size_t)n;
	return s;
}

int rag_prompt(const char *query, const struct rag_passage *p, const uint32_t *order, size_t n, int chat,
	       char **out, size_t *len, struct lm_error *err)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	int bad;

	*out = NULL;
	if (!f)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	fputs(rag_instruction, f);
	fputs("\n\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct rag_passage *q = &p[order[i]];

		fprintf(f, "[%zu] ", i + 1);
		if (has(q->title))
			fprintf(f, "%s\n", q->title);
		fprintf(f, "%s\n\n", q->text ? q->text : "");
	}
	fprintf(f, "Question: %s", query);
	if (!chat)
		fputs("\nAnswer:", f);
	bad = ferror(f);
	if (fclose(f) || bad) {
		free(buf);
		return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	*out = buf;
	if (len)
		*len = size;
	return LM_OK;
}

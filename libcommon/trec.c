#include "trec.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "input.h"
#include "json.h"


/* Longest line accepted: TREC lines are short, NDJSON hits may carry text. */
enum { TREC_MAX_LINE = 64 << 20, TREC_ARENA_BLOCK = 1 << 20, TREC_MAX_FIELDS = 8 };

/* Relevance levels index a histogram per query (trec_eval form_res_rels.c
 * allocates max_rel + 1 counters); bound them so a typo cannot ask for
 * gigabytes.  trec_eval documents -127..127. */
#define TREC_MAX_REL 1000000L

/* Query ids and docnos live in one arena per qrels or run, freed at once. */
static char *trec_strdup(struct arena **arena, const char *s, size_t n)
{
	char *p;

	if (!*arena && !(*arena = arena_new(TREC_ARENA_BLOCK)))
		return NULL;
	p = arena_alloc(*arena, n + 1, 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* One parsed line, before grouping by query. */
struct trec_entry {
	const char *qid;
	const char *docno;
	double score;
	long rel;
	unsigned long line;
};

struct trec_entries {
	struct trec_entry *v;
	size_t n, cap;
	const char *last_qid;   /* consecutive lines share one qid copy */
	struct arena *arena;
};

static int entries_add(struct trec_entries *e, const char *name, unsigned long line,
		       const char *qid, size_t qid_len, const char *docno, size_t docno_len,
		       struct trec_entry **out, struct lm_error *err)
{
	struct trec_entry *x;

	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 1024;
		struct trec_entry *v = realloc(e->v, cap * sizeof *v);

		if (!v)
			return lm_fail(err, LM_ENOMEM, "%s:%lu: out of memory", name, line);
		e->v = v;
		e->cap = cap;
	}
	x = &e->v[e->n];
	memset(x, 0, sizeof *x);
	if (e->last_qid && strlen(e->last_qid) == qid_len && !memcmp(e->last_qid, qid, qid_len)) {
		x->qid = e->last_qid;
	} else {
		x->qid = trec_strdup(&e->arena, qid, qid_len);
		e->last_qid = x->qid;
	}
	x->docno = trec_strdup(&e->arena, docno, docno_len);
	if (!x->qid || !x->docno)
		return lm_fail(err, LM_ENOMEM, "%s:%lu: out of memory", name, line);
	x->line = line;
	e->n++;
	*out = x;
	return LM_OK;
}

struct field {
	const char *p;
	size_t n;
};

/* Split on whitespace (trec_eval uses isspace).  Returns the number of
 * fields, at most MAX stored; more are counted but not stored. */
static size_t split_fields(const char *s, size_t len, struct field *f, size_t max)
{
	size_t i = 0, n = 0;

	for (;;) {
		size_t start;

		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i == len)
			return n;
		start = i;
		while (i < len && !isspace((unsigned char)s[i]))
			i++;
		if (n < max) {
			f[n].p = s + start;
			f[n].n = i - start;
		}
		n++;
	}
}

static int parse_long(const struct field *f, long *out)
{
	char buf[32], *end;
	long v;

	if (f->n == 0 || f->n >= sizeof buf)
		return -1;
	memcpy(buf, f->p, f->n);
	buf[f->n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_score(const struct field *f, double *out)
{
	char buf[64], *end;
	double v;

	if (f->n == 0 || f->n >= sizeof buf)
		return -1;
	memcpy(buf, f->p, f->n);
	buf[f->n] = '\0';
	v = strtod(buf, &end);
	if (*end || isnan(v))
		return -1;
	*out = v;
	return 0;
}

/* Read the next line that carries data: skips blank lines and '#' comments,
 * strips a trailing '\r', refuses NUL bytes.  LM_EOF at the end. */
static int next_data_line(struct input *in, char **line, size_t *len, struct lm_error *err)
{
	for (;;) {
		size_t i;
		int rc = input_line(in, line, len, TREC_MAX_LINE, err);

		if (rc == LM_ENOMEM)
			return lm_fail(err, LM_EFORMAT, "%s:%llu: line longer than %d bytes",
				       in->name, (unsigned long long)in->line + 1, TREC_MAX_LINE);
		if (rc)
			return rc;
		if (*len && (*line)[*len - 1] == '\r')
			(*line)[--*len] = '\0';
		if (memchr(*line, '\0', *len))
			return lm_fail(err, LM_EFORMAT, "%s:%llu: NUL byte in line",
				       in->name, (unsigned long long)in->line);
		for (i = 0; i < *len && isspace((unsigned char)(*line)[i]); i++)
			;
		if (i == *len || (*line)[i] == '#')
			continue;
		return LM_OK;
	}
}

static int cmp_qid_docno(const void *a, const void *b)
{
	const struct trec_entry *x = a, *y = b;
	int c = x->qid == y->qid ? 0 : strcmp(x->qid, y->qid);

	if (c)
		return c;
	c = strcmp(x->docno, y->docno);
	if (c)
		return c;
	/* Equal keys are duplicates; order them by line for the message. */
	return (x->line > y->line) - (x->line < y->line);
}

/* trec_eval form_res_rels.c comp_sim_docno: higher score first, then the
 * docno that is GREATER by strcmp first. */
static int cmp_rank(const void *a, const void *b)
{
	const struct trec_ranked_doc *x = a, *y = b;

	if (x->score > y->score)
		return -1;
	if (x->score < y->score)
		return 1;
	return strcmp(y->docno, x->docno);
}

/* Sort by (qid, docno), refuse duplicates, count the queries. */
static int sort_entries(struct trec_entries *e, const char *name, const char *what,
			size_t *n_queries, struct lm_error *err)
{
	size_t i, nq = 0;

	if (e->n)
		qsort(e->v, e->n, sizeof *e->v, cmp_qid_docno);
	for (i = 0; i < e->n; i++) {
		if (i && !strcmp(e->v[i].qid, e->v[i - 1].qid)) {
			if (!strcmp(e->v[i].docno, e->v[i - 1].docno))
				return lm_fail(err, LM_EFORMAT,
					       "%s:%lu: duplicate %s for query '%s', document '%s' (first at line %lu)",
					       name, e->v[i].line, what, e->v[i].qid, e->v[i].docno,
					       e->v[i - 1].line);
			continue;
		}
		nq++;
	}
	*n_queries = nq;
	return LM_OK;
}

/* ---- qrels ---- */

enum qrels_format { QRELS_UNKNOWN, QRELS_TREC, QRELS_TSV };

static int qrels_line(struct trec_entries *e, struct input *in, char *line, size_t len,
		      enum qrels_format *fmt, int first, struct lm_error *err)
{
	struct field f[TREC_MAX_FIELDS];
	size_t nf = split_fields(line, len, f, TREC_MAX_FIELDS);
	unsigned long ln = (unsigned long)in->line;
	const struct field *qid, *doc, *rel;
	struct trec_entry *x;
	long v;
	int rc;

	if (*fmt == QRELS_UNKNOWN) {
		if (nf == 4)
			*fmt = QRELS_TREC;
		else if (nf == 3)
			*fmt = QRELS_TSV;
		else
			return lm_fail(err, LM_EFORMAT,
				       "%s:%lu: expected 'qid iter docno rel' (TREC qrels) or "
				       "'query-id<TAB>corpus-id<TAB>score' (BEIR TSV), got %zu fields",
				       in->name, ln, nf);
	}
	if (*fmt == QRELS_TREC) {
		if (nf != 4)
			return lm_fail(err, LM_EFORMAT,
				       "%s:%lu: expected 4 fields 'qid iter docno rel', got %zu",
				       in->name, ln, nf);
		qid = &f[0];
		doc = &f[2];
		rel = &f[3];
	} else {
		if (nf != 3)
			return lm_fail(err, LM_EFORMAT,
				       "%s:%lu: expected 3 fields 'query-id corpus-id score', got %zu",
				       in->name, ln, nf);
		qid = &f[0];
		doc = &f[1];
		rel = &f[2];
	}
	if (parse_long(rel, &v)) {
		/* BEIR files start with a "query-id corpus-id score" header. */
		if (*fmt == QRELS_TSV && first)
			return LM_OK;
		return lm_fail(err, LM_EFORMAT, "%s:%lu: relevance '%.*s' is not an integer",
			       in->name, ln, (int)rel->n, rel->p);
	}
	if (v > TREC_MAX_REL || v < -TREC_MAX_REL)
		return lm_fail(err, LM_EFORMAT, "%s:%lu: relevance %ld out of range (|rel| <= %ld)",
			       in->name, ln, v, TREC_MAX_REL);
	rc = entries_add(e, in->name, ln, qid->p, qid->n, doc->p, doc->n, &x, err);
	if (rc)
		return rc;
	x->rel = v;
	return LM_OK;
}

int trec_qrels_load(struct trec_qrels *qrels, const char *path, struct lm_error *err)
{
	struct trec_entries e = { 0 };
	enum qrels_format fmt = QRELS_UNKNOWN;
	struct input in;
	size_t i, q, len, nq = 0;
	char *line;
	int rc, first = 1;

	memset(qrels, 0, sizeof *qrels);
	rc = input_open(&in, path, err);
	if (rc)
		return rc;
	while ((rc = next_data_line(&in, &line, &len, err)) == LM_OK) {
		rc = qrels_line(&e, &in, line, len, &fmt, first, err);
		if (rc)
			goto out;
		first = 0;
	}
	if (rc != LM_EOF)
		goto out;
	rc = sort_entries(&e, in.name, "judgement", &nq, err);
	if (rc)
		goto out;
	qrels->all_judged = malloc((e.n ? e.n : 1) * sizeof *qrels->all_judged);
	qrels->queries = malloc((nq ? nq : 1) * sizeof *qrels->queries);
	if (!qrels->all_judged || !qrels->queries) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", in.name);
		goto out;
	}
	for (i = 0, q = 0; i < e.n; i++) {
		if (!i || strcmp(e.v[i].qid, e.v[i - 1].qid)) {
			qrels->queries[q].qid = e.v[i].qid;
			qrels->queries[q].judged = &qrels->all_judged[i];
			qrels->queries[q].n_judged = 0;
			q++;
		}
		qrels->all_judged[i].docno = e.v[i].docno;
		qrels->all_judged[i].rel = e.v[i].rel;
		qrels->queries[q - 1].n_judged++;
	}
	qrels->n_queries = nq;
	qrels->arena = e.arena;
	e.arena = NULL;
	rc = LM_OK;
out:
	input_close(&in);
	free(e.v);
	arena_free(e.arena);
	if (rc)
		trec_qrels_free(qrels);
	return rc;
}

void trec_qrels_free(struct trec_qrels *qrels)
{
	free(qrels->queries);
	free(qrels->all_judged);
	arena_free(qrels->arena);
	memset(qrels, 0, sizeof *qrels);
}

const struct trec_qrels_query *trec_qrels_find(const struct trec_qrels *qrels, const char *qid)
{
	size_t lo = 0, hi = qrels->n_queries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(qid, qrels->queries[mid].qid);

		if (!c)
			return &qrels->queries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- runs ---- */

/* "qid iter docno rank score tag": trec_eval get_trec_results.c ignores
 * iter and rank, keeps the tag of the last line as the runid, and ignores
 * any field after the tag. */
static int run_trec_line(struct trec_entries *e, struct input *in, char *line, size_t len,
			 const char **tag, size_t *tag_len, struct lm_error *err)
{
	struct field f[TREC_MAX_FIELDS];
	size_t nf = split_fields(line, len, f, TREC_MAX_FIELDS);
	unsigned long ln = (unsigned long)in->line;
	struct trec_entry *x;
	double score;
	int rc;

	if (nf < 6)
		return lm_fail(err, LM_EFORMAT,
			       "%s:%lu: expected 'qid Q0 docno rank score tag', got %zu fields",
			       in->name, ln, nf);
	if (parse_score(&f[4], &score))
		return lm_fail(err, LM_EFORMAT, "%s:%lu: score '%.*s' is not a number",
			       in->name, ln, (int)f[4].n, f[4].p);
	rc = entries_add(e, in->name, ln, f[0].p, f[0].n, f[2].p, f[2].n, &x, err);
	if (rc)
		return rc;
	x->score = score;
	*tag = f[5].p;
	*tag_len = f[5].n;
	return LM_OK;
}

/* A string member, or a number's text (qids and ids are sometimes
 * written as numbers). */
static const char *json_id(const struct json_value *v, size_t *len, char buf[32])
{
	if (!v)
		return NULL;
	if (json_type(v) == JSON_STRING)
		return json_string(v, len);
	if (json_type(v) == JSON_NUMBER)
		return json_number_text(v, len, buf);
	return NULL;
}

/* One search hit per line: {"qid","id","score",...}, as search(1) writes
 * them ("_id" is accepted for "id" as everywhere in lmpipe).  Without a
 * score the rank orders the hits (score = -rank). */
static int run_ndjson_read(struct trec_entries *e, struct input *in, struct lm_error *err)
{
	struct json_doc *doc = json_doc_new();
	size_t len;
	char *line;
	int rc;

	if (!doc)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", in->name);
	while ((rc = next_data_line(in, &line, &len, err)) == LM_OK) {
		unsigned long ln = (unsigned long)in->line;
		struct json_value *v, *qv, *dv, *sv;
		char qbuf[32], dbuf[32];
		const char *qid, *doc_id;
		size_t qlen = 0, dlen = 0, off = 0;
		struct trec_entry *x;
		double score;

		json_doc_reset(doc);
		rc = json_parse_at(doc, line, len, &v, &off, err);
		if (rc) {
			lm_error_prefix(err, "%s:%lu:%zu: ", in->name, ln, off + 1);
			goto out;
		}
		if (json_type(v) != JSON_OBJECT) {
			rc = lm_fail(err, LM_EFORMAT, "%s:%lu: expected a JSON object (a search hit)",
				     in->name, ln);
			goto out;
		}
		qv = json_get(v, "qid");
		dv = json_get(v, "id");
		if (!dv)
			dv = json_get(v, "_id");
		qid = json_id(qv, &qlen, qbuf);
		doc_id = json_id(dv, &dlen, dbuf);
		if (!qid || !doc_id) {
			rc = lm_fail(err, LM_EFORMAT, "%s:%lu: hit needs string fields \"qid\" and \"id\"",
				     in->name, ln);
			goto out;
		}
		if (!qlen || !dlen || memchr(qid, '\0', qlen) || memchr(doc_id, '\0', dlen)) {
			rc = lm_fail(err, LM_EFORMAT, "%s:%lu: empty or NUL-holding \"qid\" or \"id\"",
				     in->name, ln);
			goto out;
		}
		sv = json_get(v, "score");
		if (sv && json_type(sv) == JSON_NUMBER) {
			score = json_number_double(sv);
		} else if (!sv && (sv = json_get(v, "rank")) && json_type(sv) == JSON_NUMBER) {
			score = -json_number_double(sv);
		} else {
			rc = lm_fail(err, LM_EFORMAT, "%s:%lu: hit needs a numeric \"score\" (or \"rank\")",
				     in->name, ln);
			goto out;
		}
		rc = entries_add(e, in->name, ln, qid, qlen, doc_id, dlen, &x, err);
		if (rc)
			goto out;
		x->score = score;
	}
	if (rc == LM_EOF)
		rc = LM_OK;
out:
	json_doc_free(doc);
	return rc;
}

static int run_group(struct trec_run *run, struct trec_entries *e, const char *name,
		     struct lm_error *err)
{
	size_t i, q, nq = 0;
	int rc;

	rc = sort_entries(e, name, "document", &nq, err);
	if (rc)
		return rc;
	run->all_docs = malloc((e->n ? e->n : 1) * sizeof *run->all_docs);
	run->queries = malloc((nq ? nq : 1) * sizeof *run->queries);
	if (!run->all_docs || !run->queries)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", name);
	for (i = 0, q = 0; i < e->n; i++) {
		if (!i || strcmp(e->v[i].qid, e->v[i - 1].qid)) {
			run->queries[q].qid = e->v[i].qid;
			run->queries[q].docs = &run->all_docs[i];
			run->queries[q].n_docs = 0;
			q++;
		}
		run->all_docs[i].docno = e->v[i].docno;
		run->all_docs[i].score = e->v[i].score;
		run->queries[q - 1].n_docs++;
	}
	run->n_queries = nq;
	for (q = 0; q < nq; q++)
		qsort(run->queries[q].docs, run->queries[q].n_docs, sizeof *run->all_docs, cmp_rank);
	return LM_OK;
}

static const char *base_name(const char *path)
{
	const char *s;

	if (!path || !strcmp(path, "-"))
		return "stdin";
	s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

int trec_run_load(struct trec_run *run, const char *path, struct lm_error *err)
{
	struct trec_entries e = { 0 };
	char *tag = NULL;
	const char *runid;
	size_t tag_len = 0, tag_cap = 0, len;
	const unsigned char *peek;
	struct input in;
	char *line;
	long avail;
	int rc, ndjson = 0;

	memset(run, 0, sizeof *run);
	rc = input_open(&in, path, err);
	if (rc)
		return rc;
	/* NDJSON hits start with '{' (after optional whitespace). */
	for (size_t want = 64;; want *= 2) {
		size_t i;

		avail = input_peek(&in, want, &peek, err);
		if (avail < 0) {
			rc = (int)avail;
			goto out;
		}
		for (i = 0; i < (size_t)avail && isspace(peek[i]); i++)
			;
		if (i < (size_t)avail) {
			ndjson = peek[i] == '{';
			break;
		}
		if ((size_t)avail < want || want >= TREC_MAX_LINE)
			break;
	}
	if (ndjson) {
		rc = run_ndjson_read(&e, &in, err);
		if (rc)
			goto out;
	} else {
		while ((rc = next_data_line(&in, &line, &len, err)) == LM_OK) {
			const char *t = NULL;

			rc = run_trec_line(&e, &in, line, len, &t, &tag_len, err);
			if (rc)
				goto out;
			/* The tag points into the line buffer; keep the last one. */
			if (tag_len >= tag_cap) {
				char *nt = realloc(tag, tag_len + 1);

				if (!nt) {
					rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", in.name);
					goto out;
				}
				tag = nt;
				tag_cap = tag_len + 1;
			}
			memcpy(tag, t, tag_len);
			tag[tag_len] = '\0';
		}
		if (rc != LM_EOF)
			goto out;
	}
	runid = tag ? tag : base_name(path);
	run->runid = trec_strdup(&e.arena, runid, strlen(runid));
	if (!run->runid) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", in.name);
		goto out;
	}
	rc = run_group(run, &e, in.name, err);
	if (rc)
		goto out;
	run->arena = e.arena;
	e.arena = NULL;
out:
	input_close(&in);
	free(tag);
	free(e.v);
	arena_free(e.arena);
	if (rc)
		trec_run_free(run);
	return rc;
}

void trec_run_free(struct trec_run *run)
{
	free(run->queries);
	free(run->all_docs);
	arena_free(run->arena);
	memset(run, 0, sizeof *run);
}

const struct trec_run_query *trec_run_find(const struct trec_run *run, const char *qid)
{
	size_t lo = 0, hi = run->n_queries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(qid, run->queries[mid].qid);

		if (!c)
			return &run->queries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* rag.h - the prompt of retrieval-augmented generation: a question and the
 * search hits that answer it, as numbered passages the model can cite.
 *
 * What the module promises:
 *  - rag_select takes passages in relevance order (best first) while their
 *    token costs fit in the budget, and stops at the first that does not
 *    (a less relevant passage never displaces a more relevant one).
 *  - rag_place puts the chosen passages best first, second best last, third
 *    second, fourth second to last... (rerank_edges: the model reads the
 *    ends of a long context best, Liu et al. 2023, "Lost in the Middle").
 *  - rag_prompt lays the question out as
 *
 *        Answer the question using the numbered passages below. ...
 *        (blank line)
 *        [1] TITLE
 *        TEXT
 *        (blank line)
 *        [2] TEXT            (a passage without a title)
 *        (blank line)
 *        Question: QUERY
 *        Answer:             (without chat only: a chat template opens the
 *                             assistant's turn itself)
 *
 *    numbering the passages 1, 2, ... in the order given, so that [n] in an
 *    answer names the n-th passage of the prompt.
 */
#ifndef LMPIPE_MODEL_RAG_H
#define LMPIPE_MODEL_RAG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct rag_passage {
	const char *title;      /* NULL or "": none */
	const char *text;
};

/* The instruction that opens every prompt. */
extern const char rag_instruction[];

/* How many of the first N passages fit: the longest prefix of COST (in
 * relevance order) whose sum is at most BUDGET. */
size_t rag_select(const size_t *cost, size_t n, size_t budget);

/* OUT[0..N) = IN[0..N) (best first) in the order of the prompt. */
void rag_place(const uint32_t *in, size_t n, uint32_t *out);

/* The text of passage P as the prompt shows it after its number
 * ("TITLE\nTEXT" or "TEXT"): what its cost is measured on.  Malloc'd. */
char *rag_passage_text(const struct rag_passage *p, size_t *len);

/* The prompt for QUERY with passages P[ORDER[0]], P[ORDER[1]], ... (N of
 * them), numbered from 1; CHAT leaves out the final "Answer:".  *OUT is
 * malloc'd and NUL-terminated; *LEN may be NULL. */
int rag_prompt(const char *query, const struct rag_passage *p, const uint32_t *order, size_t n, int chat,
	       char **out, size_t *len, struct lm_error *err);

#endif

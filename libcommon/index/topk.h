/* topk.h - the best K of a stream of scored documents (a bounded min-heap).
 *
 * Every search structure (flat, HNSW, IVF, BM25) and the shard merge keep
 * their candidates here.  Higher score is better for every metric (L2 pushes
 * the negative squared distance).  Order is total and deterministic: a higher
 * score wins, and among equal scores the lower doc number wins, so the same
 * input gives the same K hits in any push order.  NaN scores are ignored.
 *
 * The heap's root is the worst kept hit, so a push that cannot make the list
 * costs one comparison, and topk_worst gives the bar a candidate must beat
 * (the pruning bound of HNSW and IVF).
 */
#ifndef LMPIPE_INDEX_TOPK_H
#define LMPIPE_INDEX_TOPK_H

#include <stdint.h>

struct topk_hit {
	uint32_t doc;   /* internal row number */
	float score;    /* higher is better */
};

struct topk {
	uint32_t k;             /* capacity */
	uint32_t n;             /* hits kept so far, n <= k */
	struct topk_hit *hits;  /* heap order until topk_sorted */
};

/* An empty list for the best K hits; K may be 0 (keeps nothing).
 * 0 or LM_ENOMEM. */
int topk_init(struct topk *t, uint32_t k);
void topk_free(struct topk *t);
/* Forget the hits, keep the memory (the next query). */
void topk_reset(struct topk *t);

/* Offer one hit; returns 1 when it was kept (possibly evicting the worst). */
int topk_push(struct topk *t, uint32_t doc, float score);

/* 1 when the list is full and (doc, score) would not be kept: lets a search
 * skip work for candidates that cannot make the list. */
int topk_rejects(const struct topk *t, uint32_t doc, float score);

/* The worst kept hit's score, or -INFINITY while fewer than K are kept. */
float topk_worst(const struct topk *t);

/* Sort the kept hits in place, best first (score descending, doc ascending)
 * and return them; t->n of them.  Call it once: afterwards the list is no
 * longer a heap, and only topk_reset or topk_free may follow. */
const struct topk_hit *topk_sorted(struct topk *t);

/* The order topk uses: <0 when a ranks before b (better), >0 after, 0 equal. */
int topk_hit_cmp(const struct topk_hit *a, const struct topk_hit *b);

#endif

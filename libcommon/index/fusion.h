/* fusion.h - combining ranked lists: hybrid search's dense + BM25 runs.
 *
 *   rrf[:K]   Reciprocal rank fusion (Cormack, Clarke and Buettcher, SIGIR
 *             2009): score(d) = sum over the lists holding d of
 *             1 / (K + rank), rank 1-based in that list, K = 60 by default
 *             (the paper's value).  Any number of lists.
 *   alpha:A   Convex combination of min-max normalised scores: each list's
 *             scores are mapped to [0, 1] by (s - min) / (max - min) over
 *             that query's list (all 1 when max = min), then
 *             score(d) = A * dense(d) + (1 - A) * bm25(d), a list that does
 *             not hold d contributing 0.  Two lists: dense first, then BM25.
 *
 * Sums are taken in double, list by list in the order given, and the best K
 * go through topk, so equal fused scores rank by doc number: the result
 * does not depend on anything but the lists.
 */
#ifndef LMPIPE_INDEX_FUSION_H
#define LMPIPE_INDEX_FUSION_H

#include <stdint.h>

#include "error.h"
#include "index/topk.h"

#define FUSION_RRF_K 60.0

enum fusion_method {
	FUSION_RRF,
	FUSION_ALPHA,
};

struct fusion {
	enum fusion_method method;
	double rrf_k;     /* rrf: K >= 0 */
	double alpha;     /* alpha: weight of the dense list, 0..1 */
};

/* "rrf", "rrf:K", "alpha:A".  LM_EINVAL with a message otherwise. */
int fusion_parse(const char *spec, struct fusion *f, struct lm_error *err);

/* Fuse NLISTS lists, LISTS[i] holding LENS[i] hits best first (as
 * topk_sorted returns them; a doc at most once per list), into OUT, which
 * the caller initialised with the number of hits wanted and sorts after.
 * LM_EINVAL for alpha with other than two lists, LM_ENOMEM. */
int fusion_fuse(const struct fusion *f, const struct topk_hit *const *lists,
		const uint32_t *lens, unsigned nlists, struct topk *out, struct lm_error *err);

#endif

/* ann.h - what the approximate nearest-neighbour indexes (hnsw.h, ivf.h)
 * share: the metric, the hit, the filter callback and the way they
 * serialise into named sections.
 *
 * Scores are "higher is better" for every metric: ip (and cosine, whose
 * vectors the caller L2-normalises before adding and querying) score the
 * inner product; l2 scores minus the squared Euclidean distance.
 */
#ifndef LMPIPE_ANN_H
#define LMPIPE_ANN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum ann_metric {
	ANN_L2 = 0,   /* score = -||q - x||^2 */
	ANN_IP = 1,   /* score = q . x; cosine is ip on unit vectors */
};

struct ann_hit {
	uint32_t doc;
	float score;
};

/* Nonzero when doc may be returned.  Searches call it on every candidate
 * they would return and keep exploring until k docs passed (or nothing is
 * left to explore), so a selective filter still yields k hits.  Tombstones
 * are rejected through the same callback.  NULL accepts everything. */
typedef int ann_accept_fn(uint32_t doc, void *arg);

/* Serialisation goes through two callbacks so that an index can be written
 * into any container of named, 64-byte aligned sections (index/idxfile.h)
 * or into plain buffers.  put stores a copy of size bytes under name;
 * get finds a section, returning its bytes (which must stay valid, and are
 * used in place, for the life of the loaded index) or LM_EFORMAT when it is
 * missing.  Both return 0 or a negative LM_E* code with err filled. */
typedef int ann_put_fn(void *arg, const char *name, const void *data, size_t size, struct lm_error *err);
typedef int ann_get_fn(void *arg, const char *name, const void **data, size_t *size, struct lm_error *err);

/* The callbacks for index/idxfile.h: put's arg is a struct idxfile_writer *,
 * get's a const struct idxfile * (a missing section is LM_EFORMAT naming the
 * file and section). */
int ann_idxfile_put(void *writer, const char *name, const void *data, size_t size, struct lm_error *err);
int ann_idxfile_get(void *idxfile, const char *name, const void **data, size_t *size, struct lm_error *err);

/* sort hits by descending score, ties by ascending doc */
void ann_sort_hits(struct ann_hit *hits, size_t n);

#endif

/* flat.h - exact nearest-neighbour search over f32 vectors.
 *
 * Every stored vector is scored against the query: the ground truth that
 * HNSW and IVF are measured against (`search --exact`).  Scores are
 * "higher is better" (topk.h): cosine and ip score q.x (cosine vectors are
 * L2-normalised when added, and queries when searched), l2 scores
 * -||q - x||^2 = -(||q||^2 - 2 q.x + ||x||^2) with ||x||^2 stored per row,
 * so all three metrics are one dot product per row.
 *
 * One query uses the dot_f32 kernel (convert.h).  A batch of queries is one
 * matrix product per block of rows (OpenBLAS cblas_sgemm), which reads the
 * vectors once per batch instead of once per query.
 *
 * Sections: flat.vectors float[n][dim], flat.norms float[n] (squared L2
 * norms, l2 only).  The header's dim and metric describe them.
 */
#ifndef LMPIPE_INDEX_FLAT_H
#define LMPIPE_INDEX_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "index/idxfile.h"
#include "index/topk.h"

#define FLAT_MAX_DIM 65536

typedef int flat_accept_fn(uint32_t doc, void *arg);

struct flat_index {
	uint32_t n, dim, metric;   /* metric: enum idxfile_metric */
	const float *vectors;      /* n * dim */
	const float *norms;        /* n squared norms (l2), else NULL */
	/* private: storage while building */
	float *own_vectors, *own_norms;
	size_t cap;
};

/* An empty index to add vectors to. */
int flat_init(struct flat_index *fi, uint32_t dim, uint32_t metric, struct lm_error *err);
/* Append COUNT vectors (count * dim floats, copied; cosine vectors are
 * normalised on the way in).  They become rows n..n+count-1. */
int flat_add(struct flat_index *fi, const float *x, uint32_t count, struct lm_error *err);
void flat_free(struct flat_index *fi);

/* Write flat.* and set dim, metric and IDXFILE_F_FLAT in the header. */
int flat_write(const struct flat_index *fi, struct idxfile_writer *w, struct lm_error *err);
/* Point FI at F's flat.* sections (zero-copy; flat_free is still called). */
int flat_load(struct flat_index *fi, const struct idxfile *f, struct lm_error *err);

/* Scale X to unit L2 norm (a zero vector stays zero). */
void flat_normalize(float *x, uint32_t dim);

/* The K best accepted rows for one query (dim floats) into OUT (initialised
 * by the caller with topk_init; hits are pushed, not reset). */
int flat_search(const struct flat_index *fi, const float *query, flat_accept_fn *accept,
		void *arg, struct topk *out, struct lm_error *err);

/* The same for NQ queries (nq * dim floats) into OUT[0..nq). */
int flat_search_batch(const struct flat_index *fi, const float *queries, uint32_t nq,
		      flat_accept_fn *accept, void *arg, struct topk *out, struct lm_error *err);

#endif

#include "index/flat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "convert.h"

/* Rows scored per sgemm call: the score block (queries x rows floats) stays
 * in cache while it is pushed into the heaps.  The block shape is part of the
 * results: OpenBLAS rounds a dot product differently depending on where a row
 * falls in its tiles, so changing it moves scores by an ulp. */
#define FLAT_BLOCK_ROWS 1024
#define FLAT_BATCH_MAX 256

int flat_init(struct flat_index *fi, uint32_t dim, uint32_t metric, struct lm_error *err)
{
	memset(fi, 0, sizeof(*fi));
	if (dim == 0 || dim > FLAT_MAX_DIM)
		return lm_fail(err, LM_EINVAL, "vector dimension %u out of range 1..%d", dim,
			       FLAT_MAX_DIM);
	if (metric < IDXFILE_METRIC_COSINE || metric > IDXFILE_METRIC_L2)
		return lm_fail(err, LM_EINVAL, "unknown metric %u", metric);
	fi->dim = dim;
	fi->metric = metric;
	return 0;
}

void flat_free(struct flat_index *fi)
{
	free(fi->own_vectors);
	free(fi->own_norms);
	memset(fi, 0, sizeof(*fi));
}

void flat_normalize(float *x, uint32_t dim)
{
	double s = 0;
	uint32_t i;

	for (i = 0; i < dim; i++)
		s += (double)x[i] * x[i];
	if (s == 0)
		return;
	s = 1 / sqrt(s);
	for (i = 0; i < dim; i++)
		x[i] = (float)(x[i] * s);
}

int flat_add(struct flat_index *fi, const float *x, uint32_t count, struct lm_error *err)
{
	const struct convert_kernels *k = convert_kernels();
	size_t need = (size_t)fi->n + count, cap, i;
	float *v, *nr;

	if (need > UINT32_MAX - 1)
		return lm_fail(err, LM_EINVAL, "flat index: too many vectors");
	if (fi->vectors != fi->own_vectors)
		return lm_fail(err, LM_EINVAL, "flat index: a loaded index is read-only");
	if (need > fi->cap) {
		cap = fi->cap ? fi->cap : 1024;
		while (cap < need)
			cap *= 2;
		v = realloc(fi->own_vectors, cap * fi->dim * sizeof(float));
		if (!v)
			return lm_fail(err, LM_ENOMEM, "flat index: out of memory");
		fi->own_vectors = v;
		nr = realloc(fi->own_norms, cap * sizeof(float));
		if (!nr)
			return lm_fail(err, LM_ENOMEM, "flat index: out of memory");
		fi->own_norms = nr;
		fi->cap = cap;
	}
	v = fi->own_vectors + (size_t)fi->n * fi->dim;
	memcpy(v, x, (size_t)count * fi->dim * sizeof(float));
	for (i = 0; i < count; i++) {
		float *row = v + i * fi->dim;

		if (fi->metric == IDXFILE_METRIC_COSINE)
			flat_normalize(row, fi->dim);
		fi->own_norms[fi->n + i] = k->dot_f32(row, row, fi->dim);
	}
	fi->n += count;
	fi->vectors = fi->own_vectors;
	fi->norms = fi->metric == IDXFILE_METRIC_L2 ? fi->own_norms : NULL;
	return 0;
}

int flat_write(const struct flat_index *fi, struct idxfile_writer *w, struct lm_error *err)
{
	struct idxfile_info *info = idxfile_writer_info(w);
	int rc;

	rc = idxfile_add_section(w, "flat.vectors", fi->vectors,
				 (size_t)fi->n * fi->dim * sizeof(float), err);
	if (!rc && fi->metric == IDXFILE_METRIC_L2)
		rc = idxfile_add_section(w, "flat.norms", fi->norms, (size_t)fi->n * sizeof(float),
					 err);
	if (rc)
		return rc;
	info->flags |= IDXFILE_F_FLAT;
	info->dim = fi->dim;
	info->metric = fi->metric;
	return 0;
}

int flat_load(struct flat_index *fi, const struct idxfile *f, struct lm_error *err)
{
	const void *p;
	uint64_t size;
	int rc;

	memset(fi, 0, sizeof(*fi));
	if (!(f->info.flags & IDXFILE_F_FLAT))
		return lm_fail(err, LM_EFORMAT, "%s: no flat vectors", f->path);
	if (f->info.dim == 0 || f->info.dim > FLAT_MAX_DIM ||
	    f->info.metric < IDXFILE_METRIC_COSINE)
		return lm_fail(err, LM_EFORMAT, "%s: bad dimension %u or metric %u for flat vectors",
			       f->path, f->info.dim, f->info.metric);
	fi->n = (uint32_t)f->info.doc_count;
	fi->dim = f->info.dim;
	fi->metric = f->info.metric;
	rc = idxfile_require(f, "flat.vectors", &p, &size, err);
	if (rc)
		return rc;
	if (size != (uint64_t)fi->n * fi->dim * sizeof(float))
		return lm_fail(err, LM_EFORMAT, "%s: section flat.vectors: %llu bytes, expected "
			       "%u x %u floats", f->path, (unsigned long long)size, fi->n, fi->dim);
	fi->vectors = p;
	if (fi->metric == IDXFILE_METRIC_L2) {
		rc = idxfile_require(f, "flat.norms", &p, &size, err);
		if (rc)
			return rc;
		if (size != (uint64_t)fi->n * sizeof(float))
			return lm_fail(err, LM_EFORMAT, "%s: section flat.norms: %llu bytes, "
				       "expected %u floats", f->path, (unsigned long long)size, fi->n);
		fi->norms = p;
	}
	return 0;
}

/* The query as scored: normalised for cosine; its squared norm for l2. */
static float *prepare_queries(const struct flat_index *fi, const float *q, uint32_t nq,
			      float *qnorm)
{
	const struct convert_kernels *k = convert_kernels();
	float *c = malloc((size_t)nq * fi->dim * sizeof(float));
	uint32_t i;

	if (!c)
		return NULL;
	memcpy(c, q, (size_t)nq * fi->dim * sizeof(float));
	for (i = 0; i < nq; i++) {
		float *row = c + (size_t)i * fi->dim;

		if (fi->metric == IDXFILE_METRIC_COSINE)
			flat_normalize(row, fi->dim);
		qnorm[i] = k->dot_f32(row, row, fi->dim);
	}
	return c;
}

static float score_of(const struct flat_index *fi, float dot, float qnorm, uint32_t row)
{
	if (fi->metric == IDXFILE_METRIC_L2) {
		float d = qnorm - 2 * dot + fi->norms[row];

		/* Rounding can take a near-zero distance below zero. */
		return d > 0 ? -d : 0;
	}
	return dot;
}

int flat_search(const struct flat_index *fi, const float *query, flat_accept_fn *accept,
		void *arg, struct topk *out, struct lm_error *err)
{
	const struct convert_kernels *k = convert_kernels();
	float qnorm, s;
	float *q = prepare_queries(fi, query, 1, &qnorm);
	uint32_t row;

	if (!q)
		return lm_fail(err, LM_ENOMEM, "flat search: out of memory");
	for (row = 0; row < fi->n; row++) {
		if (accept && !accept(row, arg))
			continue;
		s = k->dot_f32(q, fi->vectors + (size_t)row * fi->dim, fi->dim);
		topk_push(out, row, score_of(fi, s, qnorm, row));
	}
	free(q);
	return 0;
}

/* Turn one row of dot products into the scores score_of gives, in place.
 * The same float operations in the same order as score_of, so the results
 * match the one-query path bit for bit.  Written with vector types because
 * gcc's -O2 cost model leaves the plain loop scalar; a lane that is not
 * above zero (NaN included) becomes +0, as score_of's "d > 0 ? -d : 0". */
typedef float flat_v4f __attribute__((vector_size(16)));
typedef int32_t flat_v4i __attribute__((vector_size(16)));

static void score_row(const struct flat_index *fi, float *s, float qnorm, uint32_t row0,
		      uint32_t rows)
{
	const float *nr = fi->norms + row0;
	const flat_v4f zero = {0, 0, 0, 0};
	flat_v4f x, n, d;
	uint32_t j = 0;

	if (fi->metric != IDXFILE_METRIC_L2)
		return;
	for (; j + 4 <= rows; j += 4) {
		memcpy(&x, s + j, sizeof(x));
		memcpy(&n, nr + j, sizeof(n));
		d = qnorm - 2 * x + n;
		d = (flat_v4f)((flat_v4i)(-d) & (d > zero));
		memcpy(s + j, &d, sizeof(d));
	}
	for (; j < rows; j++) {
		float e = qnorm - 2 * s[j] + nr[j];

		s[j] = e > 0 ? -e : 0;
	}
}

/* Offer a row of scores to one query's list.  A score below the list's worst
 * cannot enter, so most rows cost one comparison; equal scores still go to
 * topk_push, which settles ties by doc number.  NaN (also the mark for a
 * rejected row) fails the comparison and is skipped, as topk_push would.
 * Once the list is full almost no score enters, so 16 scores are compared
 * at a time (four 4-lane compares, one test of their OR) and only a group
 * holding a candidate is walked one by one, with the same comparisons in
 * the same order as the plain loop: the same pushes, the same results. */
static void push_row(struct topk *t, const float *s, uint32_t row0, uint32_t rows)
{
	float worst = topk_worst(t);
	flat_v4f w, a, b, c, d;
	flat_v4i any;
	uint64_t half[2];
	uint32_t j = 0, e;

	for (; j + 16 <= rows; j += 16) {
		w = (flat_v4f){ worst, worst, worst, worst };
		memcpy(&a, s + j, sizeof(a));
		memcpy(&b, s + j + 4, sizeof(b));
		memcpy(&c, s + j + 8, sizeof(c));
		memcpy(&d, s + j + 12, sizeof(d));
		any = (a >= w) | (b >= w) | (c >= w) | (d >= w);
		memcpy(half, &any, sizeof(half));
		if (!(half[0] | half[1]))
			continue;
		for (e = j; e < j + 16; e++)
			if (s[e] >= worst && topk_push(t, row0 + e, s[e]))
				worst = topk_worst(t);
	}
	for (; j < rows; j++)
		if (s[j] >= worst && topk_push(t, row0 + j, s[j]))
			worst = topk_worst(t);
}

int flat_search_batch(const struct flat_index *fi, const float *queries, uint32_t nq,
		      flat_accept_fn *accept, void *arg, struct topk *out, struct lm_error *err)
{
	float *q = NULL, *qnorm = NULL, *scores = NULL;
	unsigned char *ok = NULL;
	uint32_t q0, nb, row0, rows, i, j;
	int rc = 0;

	if (nq == 1)
		return flat_search(fi, queries, accept, arg, out, err);
	nb = nq < FLAT_BATCH_MAX ? nq : FLAT_BATCH_MAX;
	qnorm = malloc((size_t)nq * sizeof(float));
	scores = malloc((size_t)nb * FLAT_BLOCK_ROWS * sizeof(float));
	ok = malloc(FLAT_BLOCK_ROWS);
	if (!qnorm || !scores || !ok || !(q = prepare_queries(fi, queries, nq, qnorm))) {
		rc = lm_fail(err, LM_ENOMEM, "flat search: out of memory");
		goto out;
	}
	if ((rc = blas_open(err)))
		goto out;
	blas_set_threads(0);
	for (q0 = 0; q0 < nq; q0 += nb) {
		uint32_t m = nq - q0 < nb ? nq - q0 : nb;

		for (row0 = 0; row0 < fi->n; row0 += rows) {
			rows = fi->n - row0 < FLAT_BLOCK_ROWS ? fi->n - row0 : FLAT_BLOCK_ROWS;
			if (accept)
				for (j = 0; j < rows; j++)
					ok[j] = accept(row0 + j, arg) != 0;
			/* scores[m][rows] = Q[m][dim] * X[rows][dim]^T */
			blas_sgemm(0, 1, (int)m, (int)rows,
				    (int)fi->dim, 1.0f, q + (size_t)q0 * fi->dim, (int)fi->dim,
				    fi->vectors + (size_t)row0 * fi->dim, (int)fi->dim, 0.0f, scores,
				    (int)rows);
			for (i = 0; i < m; i++) {
				float *s = scores + (size_t)i * rows;

				score_row(fi, s, qnorm[q0 + i], row0, rows);
				if (accept)
					for (j = 0; j < rows; j++)
						if (!ok[j])
							s[j] = NAN;
				push_row(&out[q0 + i], s, row0, rows);
			}
		}
	}
out:
	free(q);
	free(qnorm);
	free(scores);
	free(ok);
	return rc;
}

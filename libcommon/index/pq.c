#include "index/pq.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"

int pq_init(struct pq_codebook *pq, uint32_t dim, uint32_t m, struct lm_error *err)
{
	memset(pq, 0, sizeof(*pq));
	if (!m || !dim || dim % m)
		return lm_fail(err, LM_EINVAL, "pq: %u sub-quantizers do not divide dimension %u", m, dim);
	pq->dim = dim;
	pq->m = m;
	pq->dsub = dim / m;
	return 0;
}

int pq_train(struct pq_codebook *pq, const float *x, size_t n, const struct kmeans_params *params,
	struct lm_error *err)
{
	size_t i, per = (size_t)PQ_K * pq->dsub;
	float *c = malloc(pq->m * per * sizeof(float)), *sub = NULL;
	uint32_t j;
	int r = 0;

	if (n < PQ_K) {
		r = lm_fail(err, LM_EINVAL, "pq: %zu training vectors, need at least %d", n, PQ_K);
		goto out;
	}
	sub = malloc(n * pq->dsub * sizeof(float));
	if (!c || !sub) {
		r = lm_fail(err, LM_ENOMEM, "pq: out of memory for %zu training vectors", n);
		goto out;
	}
	for (j = 0; j < pq->m; j++) {
		for (i = 0; i < n; i++)
			memcpy(sub + i * pq->dsub, x + i * pq->dim + (size_t)j * pq->dsub, pq->dsub * sizeof(float));
		if ((r = kmeans_train(sub, n, pq->dsub, PQ_K, params, c + j * per, err))) {
			lm_error_prefix(err, "pq sub-quantizer %u: ", j);
			goto out;
		}
	}
	free(pq->owned);
	pq->owned = c;
	pq->centroids = c;
	c = NULL;
out:
	free(c);
	free(sub);
	return r;
}

void pq_borrow(struct pq_codebook *pq, const float *centroids)
{
	free(pq->owned);
	pq->owned = NULL;
	pq->centroids = centroids;
}

void pq_free(struct pq_codebook *pq)
{
	free(pq->owned);
	pq->owned = NULL;
	pq->centroids = NULL;
}

void pq_encode(const struct pq_codebook *pq, const float *x, uint8_t *code)
{
	distance_fn *l2 = distance_kernels()->l2sq;
	uint32_t j, c, best;
	float bd, d;

	for (j = 0; j < pq->m; j++) {
		const float *xs = x + (size_t)j * pq->dsub, *cs = pq->centroids + (size_t)j * PQ_K * pq->dsub;

		best = 0;
		bd = FLT_MAX;
		for (c = 0; c < PQ_K; c++) {
			d = l2(xs, cs + (size_t)c * pq->dsub, pq->dsub);
			if (d < bd) {
				bd = d;
				best = c;
			}
		}
		code[j] = (uint8_t)best;
	}
}

void pq_decode(const struct pq_codebook *pq, const uint8_t *code, float *x)
{
	uint32_t j;

	for (j = 0; j < pq->m; j++)
		memcpy(x + (size_t)j * pq->dsub, pq->centroids + ((size_t)j * PQ_K + code[j]) * pq->dsub,
			pq->dsub * sizeof(float));
}

/* The sub-distances are computed inline: sub-vectors are a handful of
 * floats, too short to pay for a call per table entry. */
void pq_table_l2(const struct pq_codebook *pq, const float *q, float *t)
{
	uint32_t j, c, i, dsub = pq->dsub;
	float s, d;

	for (j = 0; j < pq->m; j++) {
		const float *qs = q + (size_t)j * dsub, *cs = pq->centroids + (size_t)j * PQ_K * dsub;

		for (c = 0; c < PQ_K; c++, cs += dsub) {
			s = 0;
			for (i = 0; i < dsub; i++) {
				d = qs[i] - cs[i];
				s += d * d;
			}
			t[(size_t)j * PQ_K + c] = s;
		}
	}
}

void pq_table_ip(const struct pq_codebook *pq, const float *q, float *t)
{
	uint32_t j, c, i, dsub = pq->dsub;
	float s;

	for (j = 0; j < pq->m; j++) {
		const float *qs = q + (size_t)j * dsub, *cs = pq->centroids + (size_t)j * PQ_K * dsub;

		for (c = 0; c < PQ_K; c++, cs += dsub) {
			s = 0;
			for (i = 0; i < dsub; i++)
				s += qs[i] * cs[i];
			t[(size_t)j * PQ_K + c] = s;
		}
	}
}

/* pq.h - product quantization (Jegou, Douze & Schmid, "Product quantization
 * for nearest neighbor search", TPAMI 2011).
 *
 * A dim-vector is cut into m sub-vectors of dsub = dim / m floats; each is
 * replaced by the index of the nearest of 256 sub-centroids learned by
 * k-means on that sub-space, so a code is m bytes.  Distances between a
 * query and codes use asymmetric distance computation (ADC): a table of
 * query-to-sub-centroid distances (m x 256 floats) built once per query,
 * then m table look-ups per code.
 */
#ifndef LMPIPE_PQ_H
#define LMPIPE_PQ_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "index/kmeans.h"

#define PQ_K 256

struct pq_codebook {
	uint32_t dim, m, dsub;
	const float *centroids;  /* m x PQ_K x dsub */
	float *owned;            /* centroids when trained here; NULL when borrowed */
};

/* An untrained codebook; m must divide dim. */
int pq_init(struct pq_codebook *pq, uint32_t dim, uint32_t m, struct lm_error *err);
/* Learns the sub-centroids from n >= 256 vectors. */
int pq_train(struct pq_codebook *pq, const float *x, size_t n, const struct kmeans_params *params,
	struct lm_error *err);
/* Uses m x 256 x dsub floats in place (a loaded section). */
void pq_borrow(struct pq_codebook *pq, const float *centroids);
void pq_free(struct pq_codebook *pq);

void pq_encode(const struct pq_codebook *pq, const float *x, uint8_t *code);
void pq_decode(const struct pq_codebook *pq, const uint8_t *code, float *x);

/* ADC tables, m x 256: squared L2 distance, or inner product, of each
 * query sub-vector to each sub-centroid. */
void pq_table_l2(const struct pq_codebook *pq, const float *q, float *table);
void pq_table_ip(const struct pq_codebook *pq, const float *q, float *table);

/* sum over j of table[j * 256 + code[j]] */
static inline float pq_adc(const float *table, const uint8_t *code, uint32_t m)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	uint32_t j;

	for (j = 0; j + 4 <= m; j += 4) {
		s0 += table[(j + 0) * PQ_K + code[j + 0]];
		s1 += table[(j + 1) * PQ_K + code[j + 1]];
		s2 += table[(j + 2) * PQ_K + code[j + 2]];
		s3 += table[(j + 3) * PQ_K + code[j + 3]];
	}
	for (; j < m; j++)
		s0 += table[j * PQ_K + code[j]];
	return (s0 + s1) + (s2 + s3);
}

#endif

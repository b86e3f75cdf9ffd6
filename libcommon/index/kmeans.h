/* kmeans.h - k-means clustering under the squared L2 distance (Lloyd's
 * algorithm), for IVF coarse quantizers and PQ codebooks.
 *
 * Training runs on a sample of at most max_sample vectors (FAISS's rule of
 * thumb: 256 per centroid is plenty), drawn with the seed, so results are
 * deterministic.  Initialisation is k distinct random sample points, or
 * k-means++ (Arthur & Vassilvitskii 2007: each next centre drawn with
 * probability proportional to the squared distance to the nearest chosen
 * one).  An emptied cluster is refilled by splitting the largest one.
 * Assignment computes ||x||^2 - 2 x.c + ||c||^2 with a BLAS sgemm per block
 * of rows.
 */
#ifndef LMPIPE_KMEANS_H
#define LMPIPE_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct kmeans_params {
	uint32_t iters;        /* Lloyd iterations; 0 = 20 */
	size_t max_sample;     /* 0 = 256 * k */
	uint64_t seed;
	int plusplus;          /* k-means++ initialisation instead of random */
};

/* Clusters n vectors of dim floats into k centroids (k * dim floats out).
 * LM_EINVAL when n < k. */
int kmeans_train(const float *x, size_t n, uint32_t dim, uint32_t k, const struct kmeans_params *params,
	float *centroids, struct lm_error *err);

/* The nearest of k centroids for each of n vectors, and optionally its
 * squared distance (dist may be NULL). */
int kmeans_assign(const float *centroids, uint32_t k, uint32_t dim, const float *x, size_t n,
	uint32_t *assign, float *dist, struct lm_error *err);

#endif

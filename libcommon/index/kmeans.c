#include "index/kmeans.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "distance.h"

/* Rows per sgemm block: the block of dot products stays within 1 MB (in
 * cache, and no fresh mapping per call). */
static size_t block_rows(uint32_t k, size_t n)
{
	size_t b = ((size_t)256 << 10) / k;

	b = b < 16 ? 16 : b > 1024 ? 1024 : b;
	return b < n ? b : n ? n : 1;
}

static float sqnorm(const float *x, uint32_t dim)
{
	float s = 0;
	uint32_t j;

	for (j = 0; j < dim; j++)
		s += x[j] * x[j];
	return s;
}

int kmeans_assign(const float *centroids, uint32_t k, uint32_t dim, const float *x, size_t n,
	uint32_t *assign, float *dist, struct lm_error *err)
{
	size_t b = block_rows(k, n), i0, i, rows;
	float *cn = malloc((size_t)k * sizeof(float)), *g = malloc(b * k * sizeof(float)), best, d, xn;
	uint32_t j, arg;
	int r = 0;

	if (!cn || !g) {
		r = lm_fail(err, LM_ENOMEM, "kmeans: out of memory for %u centroids", k);
		goto out;
	}
	/* short vectors (PQ sub-spaces): a GEMM with an inner dimension of 2
	 * or 4 costs more in packing and threads than it saves */
	if (dim < 16) {
		distance_fn *l2 = distance_kernels()->l2sq;

		for (i = 0; i < n; i++) {
			best = FLT_MAX;
			arg = 0;
			for (j = 0; j < k; j++) {
				d = l2(x + i * dim, centroids + (size_t)j * dim, dim);
				if (d < best) {
					best = d;
					arg = j;
				}
			}
			assign[i] = arg;
			if (dist)
				dist[i] = best;
		}
		goto out;
	}
	if ((r = blas_open(err)))
		goto out;
	blas_set_threads(0);
	for (j = 0; j < k; j++)
		cn[j] = sqnorm(centroids + (size_t)j * dim, dim);
	for (i0 = 0; i0 < n; i0 += b) {
		rows = n - i0 < b ? n - i0 : b;
		blas_sgemm(0, 1, (int)rows, (int)k, (int)dim, 1.0f,
			x + i0 * dim, (int)dim, centroids, (int)dim, 0.0f, g, (int)k);
		for (i = 0; i < rows; i++) {
			const float *gi = g + i * k;

			best = FLT_MAX;
			arg = 0;
			for (j = 0; j < k; j++) {
				d = cn[j] - 2 * gi[j];
				if (d < best) {
					best = d;
					arg = j;
				}
			}
			assign[i0 + i] = arg;
			if (dist) {
				xn = sqnorm(x + (i0 + i) * dim, dim);
				dist[i0 + i] = best + xn > 0 ? best + xn : 0;
			}
		}
	}
out:
	free(cn);
	free(g);
	return r;
}

static uint64_t mix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
	return (double)(mix64(s) >> 11) * 0x1.0p-53;
}

/* k-means++ seeding over the sample */
static void init_plusplus(const float *x, size_t n, uint32_t dim, uint32_t k, float *c, float *d2, uint64_t *rng)
{
	size_t i, pick;
	uint32_t j, t;
	double total, u;
	float d;

	pick = mix64(rng) % n;
	memcpy(c, x + pick * dim, dim * sizeof(float));
	for (i = 0; i < n; i++) {
		d = 0;
		for (t = 0; t < dim; t++)
			d += (x[i * dim + t] - c[t]) * (x[i * dim + t] - c[t]);
		d2[i] = d;
	}
	for (j = 1; j < k; j++) {
		total = 0;
		for (i = 0; i < n; i++)
			total += d2[i];
		u = unif(rng) * total;
		for (pick = 0; pick + 1 < n && (u -= d2[pick]) > 0; pick++)
			;
		memcpy(c + (size_t)j * dim, x + pick * dim, dim * sizeof(float));
		for (i = 0; i < n; i++) {
			d = 0;
			for (t = 0; t < dim; t++)
				d += (x[i * dim + t] - c[(size_t)j * dim + t]) * (x[i * dim + t] - c[(size_t)j * dim + t]);
			if (d < d2[i])
				d2[i] = d;
		}
	}
}

int kmeans_train(const float *x, size_t n, uint32_t dim, uint32_t k, const struct kmeans_params *params,
	float *centroids, struct lm_error *err)
{
	uint32_t iters = params && params->iters ? params->iters : 20, it, j, t, big;
	size_t max_sample = params && params->max_sample ? params->max_sample : (size_t)256 * k;
	uint64_t rng = (params ? params->seed : 0) ^ 0x6b6d65616e73ULL;
	size_t ns = n < max_sample ? n : max_sample, i, q;
	float *sample = NULL, *d2 = NULL;
	double *sum = NULL;
	uint32_t *assign = NULL, *count = NULL, *perm = NULL;
	const float *xs = x;
	int r = 0;

	if (!k || !dim)
		return lm_fail(err, LM_EINVAL, "kmeans: k and dimension must be positive");
	if (n < k)
		return lm_fail(err, LM_EINVAL, "kmeans: %zu training vectors for %u clusters", n, k);
	assign = malloc(ns * sizeof(*assign));
	count = malloc((size_t)k * sizeof(*count));
	sum = malloc((size_t)k * dim * sizeof(*sum));
	perm = malloc(n * sizeof(*perm));
	if (!assign || !count || !sum || !perm)
		goto oom;
	/* a sample without replacement: the first ns of a partial
	 * Fisher-Yates shuffle */
	if (ns < n) {
		if (!(sample = malloc(ns * dim * sizeof(float))))
			goto oom;
		for (i = 0; i < n; i++)
			perm[i] = (uint32_t)i;
		for (i = 0; i < ns; i++) {
			q = i + mix64(&rng) % (n - i);
			t = perm[i];
			perm[i] = perm[q];
			perm[q] = t;
			memcpy(sample + i * dim, x + (size_t)perm[i] * dim, dim * sizeof(float));
		}
		xs = sample;
	}
	if (params && params->plusplus) {
		if (!(d2 = malloc(ns * sizeof(float))))
			goto oom;
		init_plusplus(xs, ns, dim, k, centroids, d2, &rng);
	} else if (xs == sample) {
		/* the sample is already in random order */
		memcpy(centroids, xs, (size_t)k * dim * sizeof(float));
	} else {
		for (i = 0; i < n; i++)
			perm[i] = (uint32_t)i;
		for (i = 0; i < k; i++) {
			q = i + mix64(&rng) % (n - i);
			t = perm[i];
			perm[i] = perm[q];
			perm[q] = t;
			memcpy(centroids + i * dim, x + (size_t)perm[i] * dim, dim * sizeof(float));
		}
	}
	for (it = 0; it < iters; it++) {
		if ((r = kmeans_assign(centroids, k, dim, xs, ns, assign, NULL, err)))
			goto out;
		memset(count, 0, (size_t)k * sizeof(*count));
		memset(sum, 0, (size_t)k * dim * sizeof(*sum));
		for (i = 0; i < ns; i++) {
			count[assign[i]]++;
			for (t = 0; t < dim; t++)
				sum[(size_t)assign[i] * dim + t] += xs[i * dim + t];
		}
		for (j = 0; j < k; j++)
			if (count[j])
				for (t = 0; t < dim; t++)
					centroids[(size_t)j * dim + t] = (float)(sum[(size_t)j * dim + t] / count[j]);
		/* split the largest cluster into an empty one, nudging the two
		 * copies apart (as FAISS's Clustering does) */
		for (j = 0; j < k; j++) {
			if (count[j])
				continue;
			big = 0;
			for (t = 1; t < k; t++)
				if (count[t] > count[big])
					big = t;
			for (t = 0; t < dim; t++) {
				float v = centroids[(size_t)big * dim + t], e = 1.0f / 1024;

				centroids[(size_t)j * dim + t] = v * (1 + e) + ((t & 1) ? e : -e) * 1e-3f;
				centroids[(size_t)big * dim + t] = v * (1 - e) - ((t & 1) ? e : -e) * 1e-3f;
			}
			count[j] = count[big] / 2;
			count[big] -= count[j];
		}
	}
	goto out;
oom:
	r = lm_fail(err, LM_ENOMEM, "kmeans: out of memory for %zu x %u training vectors", ns, dim);
out:
	free(sample);
	free(d2);
	free(sum);
	free(assign);
	free(count);
	free(perm);
	return r;
}

/* ann_testutil.h - shared by the ANN unit tests: seeded vectors, brute
 * force ground truth in double precision, recall, and an in-memory set of
 * named sections for the serialisation callbacks of index/ann.h. */
#ifndef LMPIPE_ANN_TESTUTIL_H
#define LMPIPE_ANN_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "index/ann.h"

static uint64_t tu_state;

static inline void tu_seed(uint64_t s)
{
	tu_state = s * 2654435761u + 1;
}

/* xorshift64* (Vigna 2016) */
static inline uint64_t tu_next(void)
{
	tu_state ^= tu_state >> 12;
	tu_state ^= tu_state << 25;
	tu_state ^= tu_state >> 27;
	return tu_state * 0x2545f4914f6cdd1dULL;
}

/* uniform in [0, 1) */
static inline double tu_unif(void)
{
	return (double)(tu_next() >> 11) * 0x1.0p-53;
}

/* standard normal, Box-Muller */
static inline double tu_gauss(void)
{
	double u = tu_unif() + 1e-300, v = tu_unif();

	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* n vectors around `clusters` gaussian centres (spread 1, noise sigma) */
static inline float *tu_clustered(uint32_t n, uint32_t dim, uint32_t clusters, double sigma)
{
	float *c = malloc((size_t)clusters * dim * sizeof(float));
	float *x = malloc((size_t)n * dim * sizeof(float));
	uint32_t i, j, k;

	for (i = 0; i < clusters * dim; i++)
		c[i] = (float)tu_gauss();
	for (i = 0; i < n; i++) {
		k = (uint32_t)(tu_next() % clusters);
		for (j = 0; j < dim; j++)
			x[(size_t)i * dim + j] = c[(size_t)k * dim + j] + (float)(sigma * tu_gauss());
	}
	free(c);
	return x;
}

static inline void tu_normalise(float *x, uint32_t n, uint32_t dim)
{
	uint32_t i, j;
	double s;

	for (i = 0; i < n; i++) {
		s = 0;
		for (j = 0; j < dim; j++)
			s += (double)x[(size_t)i * dim + j] * x[(size_t)i * dim + j];
		s = sqrt(s);
		for (j = 0; j < dim; j++)
			x[(size_t)i * dim + j] = (float)(x[(size_t)i * dim + j] / s);
	}
}

/* score as ann.h defines it, in double */
static inline double tu_score(const float *a, const float *b, uint32_t dim, enum ann_metric m)
{
	double s = 0, d;
	uint32_t j;

	for (j = 0; j < dim; j++) {
		if (m == ANN_L2) {
			d = (double)a[j] - b[j];
			s -= d * d;
		} else {
			s += (double)a[j] * b[j];
		}
	}
	return s;
}

/* The true top k (by score, ties by doc) among docs passing accept; returns
 * how many were found. */
static inline uint32_t tu_exact(const float *x, uint32_t n, uint32_t dim, enum ann_metric m, const float *q, uint32_t k,
	ann_accept_fn *accept, void *arg, uint32_t *out)
{
	double *best = malloc(k * sizeof(double));
	uint32_t i, j, cnt = 0;
	double s;

	for (i = 0; i < n; i++) {
		if (accept && !accept(i, arg))
			continue;
		s = tu_score(q, x + (size_t)i * dim, dim, m);
		if (cnt == k && s <= best[k - 1])
			continue;
		j = cnt < k ? cnt++ : k - 1;
		while (j > 0 && best[j - 1] < s) {
			best[j] = best[j - 1];
			out[j] = out[j - 1];
			j--;
		}
		best[j] = s;
		out[j] = i;
	}
	free(best);
	return cnt;
}

/* |found intersect truth| */
static inline uint32_t tu_overlap(const struct ann_hit *hits, uint32_t nh, const uint32_t *truth, uint32_t nt)
{
	uint32_t i, j, c = 0;

	for (i = 0; i < nh; i++)
		for (j = 0; j < nt; j++)
			if (hits[i].doc == truth[j]) {
				c++;
				break;
			}
	return c;
}

#define TU_MAX_SECTIONS 32

struct tu_sections {
	int n;
	char name[TU_MAX_SECTIONS][32];
	void *data[TU_MAX_SECTIONS];
	size_t size[TU_MAX_SECTIONS];
};

static inline int tu_put(void *arg, const char *name, const void *data, size_t size, struct lm_error *err)
{
	struct tu_sections *s = arg;

	if (s->n == TU_MAX_SECTIONS)
		return lm_fail(err, LM_ENOMEM, "too many sections");
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
	s->data[s->n] = aligned_alloc(64, (size + 127) / 64 * 64);
	if (size)
		memcpy(s->data[s->n], data, size);
	s->size[s->n] = size;
	s->n++;
	return 0;
}

static inline int tu_get(void *arg, const char *name, const void **data, size_t *size, struct lm_error *err)
{
	struct tu_sections *s = arg;
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name)) {
			*data = s->data[i];
			*size = s->size[i];
			return 0;
		}
	return lm_fail(err, LM_EFORMAT, "section %s: missing", name);
}

static inline int tu_find(struct tu_sections *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return i;
	return -1;
}

static inline void tu_sections_free(struct tu_sections *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free(s->data[i]);
	s->n = 0;
}

#endif

#include "index/topk.h"

#include <math.h>
#include <stdlib.h>

#include "error.h"

int topk_hit_cmp(const struct topk_hit *a, const struct topk_hit *b)
{
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->doc != b->doc)
		return a->doc < b->doc ? -1 : 1;
	return 0;
}

/* Heap order: the root is the worst hit, i.e. the one that ranks last. */
static int worse(const struct topk_hit *a, const struct topk_hit *b)
{
	return topk_hit_cmp(a, b) > 0;
}

int topk_init(struct topk *t, uint32_t k)
{
	t->k = k;
	t->n = 0;
	t->hits = NULL;
	if (k && !(t->hits = malloc((size_t)k * sizeof *t->hits)))
		return LM_ENOMEM;
	return 0;
}

void topk_free(struct topk *t)
{
	free(t->hits);
	t->hits = NULL;
	t->k = t->n = 0;
}

void topk_reset(struct topk *t)
{
	t->n = 0;
}

static void sift_up(struct topk_hit *h, uint32_t i)
{
	struct topk_hit x = h[i];

	while (i) {
		uint32_t p = (i - 1) / 2;

		if (!worse(&x, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = x;
}

static void sift_down(struct topk_hit *h, uint32_t n, uint32_t i)
{
	struct topk_hit x = h[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && worse(&h[c + 1], &h[c]))
			c++;
		if (!worse(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

int topk_rejects(const struct topk *t, uint32_t doc, float score)
{
	struct topk_hit x = { doc, score };

	if (isnan(score))
		return 1;
	if (t->n < t->k)
		return 0;
	return !t->k || !worse(&t->hits[0], &x);
}

float topk_worst(const struct topk *t)
{
	if (!t->k || t->n < t->k)
		return -INFINITY;
	return t->hits[0].score;
}

int topk_push(struct topk *t, uint32_t doc, float score)
{
	if (isnan(score) || !t->k)
		return 0;
	if (t->n < t->k) {
		t->hits[t->n].doc = doc;
		t->hits[t->n].score = score;
		sift_up(t->hits, t->n++);
		return 1;
	}
	if (topk_rejects(t, doc, score))
		return 0;
	t->hits[0].doc = doc;
	t->hits[0].score = score;
	sift_down(t->hits, t->n, 0);
	return 1;
}

/* Heap sort on the min-heap: repeatedly move the worst to the end, which
 * leaves the array best first without extra memory. */
const struct topk_hit *topk_sorted(struct topk *t)
{
	uint32_t n = t->n;

	while (n > 1) {
		struct topk_hit tmp = t->hits[0];

		t->hits[0] = t->hits[n - 1];
		t->hits[n - 1] = tmp;
		sift_down(t->hits, --n, 0);
	}
	return t->hits;
}

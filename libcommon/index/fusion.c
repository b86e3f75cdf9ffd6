#include "index/fusion.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

int fusion_parse(const char *spec, struct fusion *f, struct lm_error *err)
{
	const char *colon = strchr(spec, ':');
	size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
	double v;

	if (name_len == 3 && !memcmp(spec, "rrf", 3)) {
		f->method = FUSION_RRF;
		f->rrf_k = FUSION_RRF_K;
		f->alpha = 0;
		if (!colon)
			return 0;
		if (json_parse_double(colon + 1, strlen(colon + 1), &v) || !(v >= 0) || v > 1e9)
			return lm_fail(err, LM_EINVAL,
				       "invalid RRF constant '%s' (want a number >= 0, as in rrf:60)",
				       colon + 1);
		f->rrf_k = v;
		return 0;
	}
	if (name_len == 5 && !memcmp(spec, "alpha", 5)) {
		f->method = FUSION_ALPHA;
		f->rrf_k = 0;
		if (!colon)
			return lm_fail(err, LM_EINVAL, "alpha fusion needs a weight, as in alpha:0.5");
		if (json_parse_double(colon + 1, strlen(colon + 1), &v) || !(v >= 0 && v <= 1))
			return lm_fail(err, LM_EINVAL,
				       "invalid alpha '%s' (want a number from 0 to 1)", colon + 1);
		f->alpha = v;
		return 0;
	}
	return lm_fail(err, LM_EINVAL, "unknown fusion '%s' (want rrf, rrf:K or alpha:A)", spec);
}

struct entry {
	uint32_t doc;
	uint32_t list;
	double part;      /* this list's contribution to the doc's score */
};

static int cmp_entry(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;

	if (a->doc != b->doc)
		return a->doc < b->doc ? -1 : 1;
	return (a->list > b->list) - (a->list < b->list);
}

int fusion_fuse(const struct fusion *f, const struct topk_hit *const *lists,
		const uint32_t *lens, unsigned nlists, struct topk *out, struct lm_error *err)
{
	struct entry *e = NULL;
	size_t total = 0, n = 0, i;
	unsigned l;

	if (f->method == FUSION_ALPHA && nlists != 2)
		return lm_fail(err, LM_EINVAL, "alpha fusion needs two lists (dense, bm25), got %u",
			       nlists);
	for (l = 0; l < nlists; l++)
		total += lens[l];
	if (total && !(e = malloc(total * sizeof *e)))
		return lm_fail(err, LM_ENOMEM, "out of memory fusing %zu hits", total);
	for (l = 0; l < nlists; l++) {
		const struct topk_hit *h = lists[l];
		double lo = 0, hi = 0, w = 0;
		uint32_t r;

		if (f->method == FUSION_ALPHA && lens[l]) {
			lo = hi = h[0].score;
			for (r = 1; r < lens[l]; r++) {
				if (h[r].score < lo)
					lo = h[r].score;
				if (h[r].score > hi)
					hi = h[r].score;
			}
			w = l == 0 ? f->alpha : 1 - f->alpha;
		}
		for (r = 0; r < lens[l]; r++) {
			e[n].doc = h[r].doc;
			e[n].list = l;
			if (f->method == FUSION_RRF)
				e[n].part = 1.0 / (f->rrf_k + (double)(r + 1));
			else
				e[n].part = w * (hi > lo ? ((double)h[r].score - lo) / (hi - lo) : 1.0);
			n++;
		}
	}
	/* group by doc, lists in order, so each sum is added up the same way */
	qsort(e, n, sizeof *e, cmp_entry);
	for (i = 0; i < n;) {
		uint32_t doc = e[i].doc;
		double s = 0;

		for (; i < n && e[i].doc == doc; i++)
			s += e[i].part;
		topk_push(out, doc, (float)s);
	}
	free(e);
	return 0;
}

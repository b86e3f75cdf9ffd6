/* test_fusion.c - RRF and alpha fusion on lists whose fused scores are
 * worked out by hand from the definitions in fusion.h, tie order, and the
 * --fusion argument parser. */
#include <string.h>

#include "index/fusion.h"
#include "tap.h"

static struct topk t;

static const struct topk_hit *fuse(const struct fusion *f, const struct topk_hit *a, uint32_t na,
				   const struct topk_hit *b, uint32_t nb, uint32_t k)
{
	const struct topk_hit *lists[2] = { a, b };
	uint32_t lens[2] = { na, nb };
	struct lm_error err;

	topk_free(&t);
	topk_init(&t, k);
	if (fusion_fuse(f, lists, lens, 2, &t, &err))
		return NULL;
	return topk_sorted(&t);
}

int main(void)
{
	struct fusion f;
	struct lm_error err;
	const struct topk_hit *h;
	const struct topk_hit *one[1];
	uint32_t len1;

	/* parsing */
	ok(fusion_parse("rrf", &f, &err) == 0 && f.method == FUSION_RRF && f.rrf_k == 60, "rrf: k=60");
	ok(fusion_parse("rrf:10", &f, &err) == 0 && f.rrf_k == 10, "rrf:10");
	ok(fusion_parse("alpha:0.25", &f, &err) == 0 && f.method == FUSION_ALPHA && f.alpha == 0.25,
	   "alpha:0.25");
	ok(fusion_parse("alpha", &f, &err) == LM_EINVAL, "alpha without weight: %s", err.msg);
	ok(fusion_parse("alpha:1.5", &f, &err) == LM_EINVAL, "alpha 1.5: %s", err.msg);
	ok(fusion_parse("rrf:-1", &f, &err) == LM_EINVAL, "rrf:-1: %s", err.msg);
	ok(fusion_parse("rrf:x", &f, &err) == LM_EINVAL, "rrf:x: %s", err.msg);
	ok(fusion_parse("max", &f, &err) == LM_EINVAL && strstr(err.msg, "unknown fusion 'max'"),
	   "unknown: %s", err.msg);

	/* RRF, k = 60: A = [1, 2, 3], B = [3, 1, 4]
	 * d1 = 1/61 + 1/62 = 0.0325224, d3 = 1/63 + 1/61 = 0.0322664,
	 * d2 = 1/62 = 0.0161290, d4 = 1/63 = 0.0158730 */
	{
		struct topk_hit a[] = { { 1, 0.9f }, { 2, 0.8f }, { 3, 0.1f } };
		struct topk_hit b[] = { { 3, 20 }, { 1, 10 }, { 4, 5 } };

		fusion_parse("rrf", &f, &err);
		h = fuse(&f, a, 3, b, 3, 10);
		ok(h && t.n == 4, "rrf: 4 docs");
		ok(h[0].doc == 1 && h[1].doc == 3 && h[2].doc == 2 && h[3].doc == 4, "rrf order 1 3 2 4");
		is_near(h[0].score, 1.0 / 61 + 1.0 / 62, 1e-7, "d1 score");
		is_near(h[1].score, 1.0 / 63 + 1.0 / 61, 1e-7, "d3 score");
		is_near(h[3].score, 1.0 / 63, 1e-7, "d4 score");
		h = fuse(&f, a, 3, b, 3, 2);
		ok(t.n == 2 && h[0].doc == 1 && h[1].doc == 3, "rrf, k=2: 1 3");

		/* rrf:0 is 1/rank: d1 = 1 + 1/2, d3 = 1/3 + 1, d2 = 1/2, d4 = 1/3 */
		fusion_parse("rrf:0", &f, &err);
		h = fuse(&f, a, 3, b, 3, 10);
		is_near(h[0].score, 1.5, 1e-7, "rrf:0 d1 = 1.5");
		is_near(h[1].score, 4.0 / 3, 1e-6, "rrf:0 d3 = 4/3");

		/* alpha 0.5: dense min-max over 0.9..0.1 gives d1 1, d2 0.875,
		 * d3 0; bm25 over 20..5 gives d3 1, d1 1/3, d4 0.
		 * d1 = .5 + .5/3 = 0.6667, d3 = 0.5, d2 = 0.4375, d4 = 0 */
		fusion_parse("alpha:0.5", &f, &err);
		h = fuse(&f, a, 3, b, 3, 10);
		ok(t.n == 4 && h[0].doc == 1 && h[1].doc == 3 && h[2].doc == 2 && h[3].doc == 4,
		   "alpha 0.5 order 1 3 2 4");
		is_near(h[0].score, 0.5 * 1 + 0.5 * (10.0 - 5) / 15, 1e-6, "alpha d1");
		is_near(h[2].score, 0.5 * (0.8 - 0.1) / 0.8, 1e-6, "alpha d2 = 0.4375");
		is_near(h[3].score, 0, 1e-7, "alpha d4 = 0 (bm25 minimum)");

		/* alpha 1: dense only; bm25-only doc 4 scores 0 */
		fusion_parse("alpha:1", &f, &err);
		h = fuse(&f, a, 3, b, 3, 10);
		ok(h[0].doc == 1 && h[1].doc == 2 && h[2].doc == 3 && h[3].doc == 4, "alpha 1: dense order");
		fusion_parse("alpha:0", &f, &err);
		h = fuse(&f, a, 3, b, 3, 10);
		ok(h[0].doc == 3 && h[1].doc == 1, "alpha 0: bm25 order");
	}

	/* ties: each doc first in one list -> equal scores -> lower doc first */
	{
		struct topk_hit a[] = { { 9, 1.0f } };
		struct topk_hit b[] = { { 2, 7.0f } };

		fusion_parse("rrf", &f, &err);
		h = fuse(&f, a, 1, b, 1, 10);
		ok(t.n == 2 && h[0].doc == 2 && h[1].doc == 9, "rrf tie: doc 2 before 9");
		h = fuse(&f, b, 1, a, 1, 10);
		ok(t.n == 2 && h[0].doc == 2 && h[1].doc == 9, "same with lists swapped");
		/* single-hit lists normalise to 1 */
		fusion_parse("alpha:0.5", &f, &err);
		h = fuse(&f, a, 1, b, 1, 10);
		ok(t.n == 2 && h[0].doc == 2 && h[1].doc == 9, "alpha tie: doc 2 before 9");
		is_near(h[0].score, 0.5, 1e-7, "single hit normalises to 1");
		/* an empty list */
		h = fuse(&f, a, 1, b, 0, 10);
		ok(t.n == 1 && h[0].doc == 9, "empty bm25 list");
	}

	/* alpha wants exactly two lists; rrf takes one */
	{
		struct topk_hit a[] = { { 4, 1.0f }, { 3, 0.5f } };

		one[0] = a;
		len1 = 2;
		topk_free(&t);
		topk_init(&t, 5);
		ok(fusion_fuse(&f, one, &len1, 1, &t, &err) == LM_EINVAL, "alpha, one list: %s", err.msg);
		fusion_parse("rrf", &f, &err);
		ok(fusion_fuse(&f, one, &len1, 1, &t, &err) == 0, "rrf, one list");
		h = topk_sorted(&t);
		ok(t.n == 2 && h[0].doc == 4 && h[1].doc == 3, "one list keeps its order");
	}
	topk_free(&t);
	return tap_done();
}

/* test_topk.c - the bounded heap against a full sort of the same stream
 * (the definition of "best K"), tie order, NaN, K = 0 and K > n. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "index/topk.h"
#include "tap.h"

static int cmp_ref(const void *pa, const void *pb)
{
	const struct topk_hit *a = pa, *b = pb;

	/* written out independently of topk_hit_cmp: score desc, doc asc */
	if (a->score > b->score)
		return -1;
	if (a->score < b->score)
		return 1;
	return (a->doc > b->doc) - (a->doc < b->doc);
}

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
	rng = rng * 1664525u + 1013904223u;
	return rng >> 8;
}

int main(void)
{
	struct topk t;
	const struct topk_hit *h;
	struct topk_hit all[2000];
	uint32_t round, i;
	int same = 1;

	/* a hand example: scores 0.5 1 0.5 3 2 for docs 0..4, K=3 ->
	 * doc3 (3), doc4 (2), doc1 (1) */
	ok(topk_init(&t, 3) == 0, "init k=3");
	topk_push(&t, 0, 0.5f);
	topk_push(&t, 1, 1.0f);
	topk_push(&t, 2, 0.5f);
	topk_push(&t, 3, 3.0f);
	topk_push(&t, 4, 2.0f);
	is_int(t.n, 3, "keeps k");
	is_near(topk_worst(&t), 1.0, 0, "worst is 1");
	ok(topk_rejects(&t, 9, 0.9f), "0.9 cannot make the list");
	ok(!topk_rejects(&t, 0, 1.0f), "ties: lower doc beats doc 1");
	ok(topk_rejects(&t, 2, 1.0f), "ties: higher doc loses to doc 1");
	h = topk_sorted(&t);
	ok(h[0].doc == 3 && h[1].doc == 4 && h[2].doc == 1, "sorted: 3 4 1");
	is_near(h[0].score, 3.0, 0, "best score");

	/* ties broken by doc ascending regardless of push order */
	topk_reset(&t);
	topk_push(&t, 7, 1.0f);
	topk_push(&t, 5, 1.0f);
	topk_push(&t, 9, 1.0f);
	topk_push(&t, 2, 1.0f);
	topk_push(&t, 8, 1.0f);
	h = topk_sorted(&t);
	ok(t.n == 3 && h[0].doc == 2 && h[1].doc == 5 && h[2].doc == 7, "equal scores: docs 2 5 7");

	/* NaN is ignored, infinities are ordinary */
	topk_reset(&t);
	ok(!topk_push(&t, 1, NAN), "NaN not kept");
	topk_push(&t, 2, -INFINITY);
	topk_push(&t, 3, INFINITY);
	h = topk_sorted(&t);
	ok(t.n == 2 && h[0].doc == 3 && h[1].doc == 2, "infinities ordered, NaN absent");
	ok(isinf(topk_worst(&t)) && topk_worst(&t) < 0, "not full: worst is -inf");
	topk_free(&t);

	/* K = 0 keeps nothing */
	ok(topk_init(&t, 0) == 0, "init k=0");
	ok(!topk_push(&t, 1, 1.0f) && t.n == 0, "k=0 keeps nothing");
	ok(topk_rejects(&t, 1, 1.0f), "k=0 rejects");
	topk_free(&t);

	/* random streams with many ties vs qsort of everything */
	for (round = 0; round < 200 && same; round++) {
		uint32_t n = next_rand() % 2000, k = next_rand() % 50 + (round % 7 == 0 ? 3000 : 0);
		uint32_t levels = next_rand() % 20 + 1, want;

		topk_init(&t, k);
		for (i = 0; i < n; i++) {
			all[i].doc = next_rand() % 100000;
			all[i].score = (float)(next_rand() % levels) - 5.0f;
			topk_push(&t, all[i].doc, all[i].score);
		}
		qsort(all, n, sizeof *all, cmp_ref);
		want = n < k ? n : k;
		h = topk_sorted(&t);
		if (t.n != want)
			same = 0;
		/* duplicate (doc, score) pairs may appear in the stream; both
		 * sides keep duplicates, so compare element-wise */
		for (i = 0; i < want && same; i++)
			if (h[i].doc != all[i].doc || h[i].score != all[i].score)
				same = 0;
		topk_free(&t);
	}
	ok(same, "200 random streams: topk equals the first K of a full sort");
	return tap_done();
}

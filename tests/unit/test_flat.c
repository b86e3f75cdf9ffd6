/* test_flat.c - exact search against a brute force computed here in double
 * precision (sorting all rows, not a heap), for the three metrics, one
 * query at a time (dot_f32) and batched (sgemm), with an accept filter;
 * and a round trip through an index file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/flat.h"
#include "index/idxfile.h"
#include "index/topk.h"
#include "tap.h"

#define N 2000
#define DIM 37
#define NQ 40
#define K 10

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

struct ref_hit {
	double score;
	uint32_t doc;
};

static int ref_cmp(const void *a, const void *b)
{
	const struct ref_hit *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->doc < y->doc ? -1 : x->doc > y->doc;
}

/* The metric's score in double precision, straight from its definition:
 * cosine = x.q / (|x| |q|), ip = x.q, l2 = -sum (x - q)^2. */
static double ref_score(uint32_t metric, const float *x, const float *q)
{
	double dot = 0, xx = 0, qq = 0, d2 = 0;
	int i;

	for (i = 0; i < DIM; i++) {
		dot += (double)x[i] * q[i];
		xx += (double)x[i] * x[i];
		qq += (double)q[i] * q[i];
		d2 += ((double)x[i] - q[i]) * ((double)x[i] - q[i]);
	}
	if (metric == IDXFILE_METRIC_COSINE)
		return dot / sqrt(xx * qq);
	if (metric == IDXFILE_METRIC_IP)
		return dot;
	return -d2;
}

static int odd_only(uint32_t doc, void *arg)
{
	(void)arg;
	return doc & 1;
}

/* Do the K hits of T match the reference?  Same scores within tolerance,
 * and the same docs except where the reference itself has near-ties. */
static int matches(struct topk *t, const float *x, const float *q, uint32_t metric, int filtered,
		   double *worst)
{
	static struct ref_hit ref[N];
	const struct topk_hit *h;
	uint32_t i, n = 0;
	double tol;

	for (i = 0; i < N; i++) {
		if (filtered && !(i & 1))
			continue;
		ref[n].doc = i;
		ref[n].score = ref_score(metric, x + (size_t)i * DIM, q);
		n++;
	}
	qsort(ref, n, sizeof(ref[0]), ref_cmp);
	h = topk_sorted(t);
	if (t->n != K)
		return 0;
	for (i = 0; i < K; i++) {
		double got = h[i].score, d = fabs(got - ref[i].score);

		tol = 1e-4 * (1 + fabs(ref[i].score));
		if (d > *worst)
			*worst = d;
		if (d > tol)
			return 0;
		if (h[i].doc != ref[i].doc && fabs(ref[i].score - ref[i + 1].score) > tol &&
		    (i == 0 || fabs(ref[i].score - ref[i - 1].score) > tol))
			return 0;
		if (filtered && !(h[i].doc & 1))
			return 0;
	}
	return 1;
}

int main(void)
{
	static float x[N * DIM], q[NQ * DIM];
	static const uint32_t metrics[3] = { IDXFILE_METRIC_COSINE, IDXFILE_METRIC_IP,
					     IDXFILE_METRIC_L2 };
	struct lm_error err = { 0 };
	struct flat_index fi, loaded;
	struct topk t, tb[NQ];
	char dir[] = "/tmp/test_flat.XXXXXX", path[256], cmd[300];
	int m, i, filtered;

	for (i = 0; i < N * DIM; i++)
		x[i] = (float)(uniform() * 2 - 1 + (i % DIM == 0 ? 0.5 : 0));
	for (i = 0; i < NQ * DIM; i++)
		q[i] = (float)(uniform() * 2 - 1);
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/f.idx", dir);

	is_int(flat_init(&fi, 0, IDXFILE_METRIC_IP, &err), LM_EINVAL, "dim 0 refused");
	is_int(flat_init(&fi, 4, 9, &err), LM_EINVAL, "unknown metric refused");

	for (m = 0; m < 3; m++) {
		const char *name = idxfile_metric_name(metrics[m]);
		double worst = 0;

		flat_init(&fi, DIM, metrics[m], &err);
		/* Two calls, so growth is exercised. */
		is_int(flat_add(&fi, x, 1500, &err) || flat_add(&fi, x + 1500 * DIM, N - 1500, &err),
		       0, "%s: add", name);
		for (filtered = 0; filtered < 2; filtered++) {
			int single = 1, batch = 1;

			for (i = 0; i < NQ; i++) {
				topk_init(&t, K);
				flat_search(&fi, q + (size_t)i * DIM, filtered ? odd_only : NULL, NULL,
					    &t, &err);
				single &= matches(&t, x, q + (size_t)i * DIM, metrics[m], filtered,
						  &worst);
				topk_free(&t);
			}
			ok(single, "%s%s: single queries match the double-precision reference",
			   name, filtered ? " (filtered)" : "");
			for (i = 0; i < NQ; i++)
				topk_init(&tb[i], K);
			is_int(flat_search_batch(&fi, q, NQ, filtered ? odd_only : NULL, NULL, tb,
						 &err), 0, "%s: batch", name);
			for (i = 0; i < NQ; i++) {
				batch &= matches(&tb[i], x, q + (size_t)i * DIM, metrics[m], filtered,
						 &worst);
				topk_free(&tb[i]);
			}
			ok(batch, "%s%s: batched queries (sgemm) match the reference", name,
			   filtered ? " (filtered)" : "");
		}
		diag("%s: largest score error %.3g", name, worst);

		/* Through a file. */
		{
			struct idxfile_writer *w;
			struct idxfile f;
			int rc = idxfile_writer_open(&w, path, &err);

			if (!rc)
				rc = flat_write(&fi, w, &err);
			if (!rc) {
				idxfile_writer_info(w)->doc_count = N;
				rc = idxfile_writer_commit(w, &err);
			}
			is_int(rc, 0, "%s: write: %s", name, err.msg);
			rc = idxfile_open(&f, path, &err);
			if (!rc)
				rc = flat_load(&loaded, &f, &err);
			is_int(rc, 0, "%s: load: %s", name, err.msg);
			if (!rc) {
				int same = loaded.n == N && loaded.dim == DIM &&
					   loaded.metric == metrics[m] &&
					   memcmp(loaded.vectors, fi.vectors,
						  sizeof(float) * N * DIM) == 0;

				ok(same, "%s: loaded vectors equal the built ones", name);
				topk_init(&t, K);
				flat_search(&loaded, q, NULL, NULL, &t, &err);
				ok(matches(&t, x, q, metrics[m], 0, &worst), "%s: search loaded", name);
				topk_free(&t);
				flat_free(&loaded);
				idxfile_close(&f);
			}
		}
		flat_free(&fi);
	}

	/* Cosine vectors are stored unit length; a zero vector stays zero. */
	{
		float v[3] = { 3, 0, 4 }, z[3] = { 0, 0, 0 };

		flat_init(&fi, 3, IDXFILE_METRIC_COSINE, &err);
		flat_add(&fi, v, 1, &err);
		flat_add(&fi, z, 1, &err);
		ok(fabsf(fi.vectors[0] - 0.6f) < 1e-7 && fabsf(fi.vectors[2] - 0.8f) < 1e-7,
		   "cosine vectors normalised (3,0,4) -> (0.6,0,0.8)");
		ok(fi.vectors[3] == 0 && fi.vectors[5] == 0, "zero vector stays zero");
		flat_free(&fi);
	}
	/* L2 by hand: q = (1,1), x0 = (1,1) d=0, x1 = (2,3) d=5, x2 = (-1,1) d=4. */
	{
		float xs[6] = { 1, 1, 2, 3, -1, 1 }, qq[2] = { 1, 1 };
		const struct topk_hit *h;

		flat_init(&fi, 2, IDXFILE_METRIC_L2, &err);
		flat_add(&fi, xs, 3, &err);
		topk_init(&t, 3);
		flat_search(&fi, qq, NULL, NULL, &t, &err);
		h = topk_sorted(&t);
		ok(t.n == 3 && h[0].doc == 0 && h[1].doc == 2 && h[2].doc == 1, "l2 order 0, 2, 1");
		is_near(h[0].score, 0.0, 1e-6, "l2 score 0");
		is_near(h[1].score, -4.0, 1e-6, "l2 score -4");
		is_near(h[2].score, -5.0, 1e-6, "l2 score -5");
		topk_free(&t);
		flat_free(&fi);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}

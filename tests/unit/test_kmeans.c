#include <math.h>
#include <stdlib.h>

#include "index/kmeans.h"
#include "tap.h"
#include "ann_testutil.h"

/* four tight clusters at (+-10, +-10) */
static float *four_blobs(uint32_t n, uint32_t *truth)
{
	static const float ctr[4][2] = { { 10, 10 }, { -10, 10 }, { -10, -10 }, { 10, -10 } };
	float *x = malloc((size_t)n * 2 * sizeof(float));
	uint32_t i;

	for (i = 0; i < n; i++) {
		truth[i] = i % 4;
		x[2 * i] = ctr[i % 4][0] + (float)(0.5 * tu_gauss());
		x[2 * i + 1] = ctr[i % 4][1] + (float)(0.5 * tu_gauss());
	}
	return x;
}

/* each true centre has a centroid within tol, and the labels agree with
 * the true clusters up to renaming */
static int recovered(const float *c, const float *x, const uint32_t *truth, uint32_t n, double tol)
{
	static const float ctr[4][2] = { { 10, 10 }, { -10, 10 }, { -10, -10 }, { 10, -10 } };
	uint32_t *a = malloc(n * sizeof(*a)), map[4] = { 9, 9, 9, 9 }, i, j, good = 1;

	for (i = 0; i < 4; i++) {
		double best = 1e30;

		for (j = 0; j < 4; j++) {
			double d = hypot(c[2 * j] - ctr[i][0], c[2 * j + 1] - ctr[i][1]);

			best = d < best ? d : best;
		}
		good &= best < tol;
	}
	kmeans_assign(c, 4, 2, x, n, a, NULL, NULL);
	for (i = 0; i < n; i++) {
		if (map[truth[i]] == 9)
			map[truth[i]] = a[i];
		good &= map[truth[i]] == a[i];
	}
	free(a);
	return good;
}

int main(void)
{
	struct kmeans_params p = { .iters = 10, .seed = 3 };
	struct lm_error err = { 0 };
	uint32_t truth[4000], a[4], i;
	float *x, c[8], c2[8], d[4];
	float cents[4] = { 0, 0, 10, 0 };
	float pts[8] = { 1, 1, 9, 0, 5.1f, 0, -3, 4 };
	float dup[2 * 300], c3[6];

	tu_seed(11);
	x = four_blobs(4000, truth);

	/* hand-computed: centroids (0,0) and (10,0) */
	ok(!kmeans_assign(cents, 2, 2, pts, 4, a, d, &err), "assign");
	ok(a[0] == 0 && a[1] == 1 && a[2] == 1 && a[3] == 0, "nearest centroids 0 1 1 0");
	is_near(d[0], 2.0, 1e-5, "(1,1) to (0,0): 2");
	is_near(d[1], 1.0, 1e-5, "(9,0) to (10,0): 1");
	is_near(d[2], 4.9 * 4.9, 1e-4, "(5.1,0) to (10,0): 4.9^2");
	is_near(d[3], 25.0, 1e-4, "(-3,4) to (0,0): 25");

	ok(!kmeans_train(x, 4000, 2, 4, &p, c, &err), "4 clusters trained (random init)");
	ok(recovered(c, x, truth, 4000, 0.1), "random init: centres recovered, labels match");
	p.plusplus = 1;
	ok(!kmeans_train(x, 4000, 2, 4, &p, c, &err), "k-means++ init");
	ok(recovered(c, x, truth, 4000, 0.1), "k-means++: centres recovered");
	ok(!kmeans_train(x, 4000, 2, 4, &p, c2, &err) && !memcmp(c, c2, sizeof(c)), "same seed, same centroids");
	p.plusplus = 0;
	p.max_sample = 400;
	ok(!kmeans_train(x, 4000, 2, 4, &p, c, &err), "trained on a 400-vector sample");
	ok(recovered(c, x, truth, 4000, 0.3), "sample: centres recovered");

	/* two distinct points, three clusters: an empty cluster is split, not
	 * left as garbage */
	for (i = 0; i < 300; i++) {
		dup[2 * i] = (float)(i % 2);
		dup[2 * i + 1] = 0;
	}
	p.max_sample = 0;
	ok(!kmeans_train(dup, 300, 2, 3, &p, c3, &err), "k=3 on two distinct points");
	ok(isfinite(c3[0]) && isfinite(c3[2]) && isfinite(c3[4]) && fabsf(c3[1]) < 1e-2, "centroids finite, near the points");

	ok(kmeans_train(x, 3, 2, 4, &p, c, &err) == LM_EINVAL, "fewer vectors than clusters refused: %s", err.msg);
	free(x);
	return tap_done();
}

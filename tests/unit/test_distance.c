/* test_distance - kernels/distance.h at every level this CPU has: the
 * pair kernels against a double-precision sum, the _rows kernels bit for
 * bit against the pair kernels, and the level dispatch (kernels/cpu.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "distance.h"
#include "tap.h"

#define MAXN 300
#define ROWS 40

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static float uniform(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (float)((double)(rng >> 11) * 0x1.0p-53 * 2 - 1);
}

/* the definitions, summed in double: the reference for every level */
static void reference(const float *a, const float *b, size_t n, double *l2, double *dot, double *mag)
{
	size_t i;

	*l2 = *dot = *mag = 0;
	for (i = 0; i < n; i++) {
		*l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		*dot += (double)a[i] * b[i];
		*mag += fabs((double)a[i] * b[i]) + ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	}
}

static void test_level(const struct distance_kernels *k, const float *a, const float *base)
{
	static const size_t sizes[] = { 0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100, 128, 129, 256, 300 };
	const char *name = cpu_level_name(k->level);
	uint32_t ids[ROWS];
	float out[ROWS];
	double l2, dot, mag;
	size_t s, n, i;
	int close = 1, same_l2 = 1, same_dot = 1;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		n = sizes[s];
		reference(a, base, n, &l2, &dot, &mag);
		/* recursive summation bound: n * 2^-24 * sum of |terms| */
		if (fabs(k->l2sq(a, base, n) - l2) > (n + 1) * 0x1.0p-24 * mag + 1e-30 ||
		    fabs(k->dot(a, base, n) - dot) > (n + 1) * 0x1.0p-24 * mag + 1e-30)
			close = 0;
		for (i = 0; i < ROWS; i++)
			ids[i] = (uint32_t)((i * 7 + 3) % ROWS);
		k->l2sq_rows(a, base, n, ids, ROWS, out);
		for (i = 0; i < ROWS; i++)
			same_l2 &= out[i] == k->l2sq(a, base + (size_t)ids[i] * n, n);
		k->dot_rows(a, base, n, ids, ROWS, out);
		for (i = 0; i < ROWS; i++)
			same_dot &= out[i] == k->dot(a, base + (size_t)ids[i] * n, n);
	}
	ok(close, "%s: l2sq and dot within the summation bound of the double sums", name);
	ok(same_l2, "%s: l2sq_rows equals l2sq on every row", name);
	ok(same_dot, "%s: dot_rows equals dot on every row", name);
	out[0] = 1234.5f;
	k->l2sq_rows(a, base, 16, ids, 0, out);
	ok(out[0] == 1234.5f, "%s: zero rows write nothing", name);
}

int main(void)
{
	const struct cpu_features *cpu = cpu_features();
	const struct distance_kernels *k, *best = NULL;
	float *a = malloc(MAXN * sizeof(float)), *base = malloc((size_t)ROWS * MAXN * sizeof(float));
	float x[3] = { 1, 2, 3 }, y[3] = { 4, 6, 3 };
	int level, levels = 0;
	size_t i;

	for (i = 0; i < MAXN; i++)
		a[i] = uniform();
	for (i = 0; i < (size_t)ROWS * MAXN; i++)
		base[i] = uniform();

	/* by hand: (1-4)^2 + (2-6)^2 + 0 = 25; 4 + 12 + 9 = 25 */
	is_near(distance_l2sq(x, y, 3), 25.0, 0, "l2sq of (1,2,3), (4,6,3) is 25");
	is_near(distance_dot(x, y, 3), 25.0, 0, "dot of (1,2,3), (4,6,3) is 25");

	ok(distance_kernels_at(CPU_SCALAR) != NULL, "scalar kernels always exist");
	ok(distance_kernels_at((enum cpu_level)CPU_LEVEL_COUNT) == NULL, "no kernels past the last level");
	for (level = CPU_SCALAR; level < CPU_LEVEL_COUNT; level++) {
		k = distance_kernels_at((enum cpu_level)level);
		if (level > (int)cpu->hw_level) {
			ok(k == NULL, "%s: beyond this CPU, none", cpu_level_name((enum cpu_level)level));
			continue;
		}
		if (!k)
			continue;
		is_int(k->level, level, "kernels for %s say so", cpu_level_name((enum cpu_level)level));
		if (level <= (int)cpu->level)
			best = k;
		test_level(k, a, base);
		levels++;
	}
	ok(distance_kernels() == best, "in use: %s, the best level at or below %s", cpu_level_name(best->level),
		cpu_level_name(cpu->level));
	ok(distance_kernels() == distance_kernels(), "the choice is stable");
	diag("tested %d level(s)", levels);
	free(a);
	free(base);
	return tap_done();
}

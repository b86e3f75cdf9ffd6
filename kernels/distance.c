#include "distance.h"

/* Four partial sums, as dot_f32_scalar in convert.c. */
static float l2sq_scalar(const float *a, const float *b, size_t n)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0, d;
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		d = a[i] - b[i];
		s0 += d * d;
		d = a[i + 1] - b[i + 1];
		s1 += d * d;
		d = a[i + 2] - b[i + 2];
		s2 += d * d;
		d = a[i + 3] - b[i + 3];
		s3 += d * d;
	}
	for (; i < n; i++) {
		d = a[i] - b[i];
		s0 += d * d;
	}
	return (s0 + s1) + (s2 + s3);
}

static float dot_scalar(const float *a, const float *b, size_t n)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

static float l2sq_sq8_scalar(const float *a, const uint8_t *code, const float *lo, const float *step, size_t n)
{
	float s = 0, d;
	size_t i;

	for (i = 0; i < n; i++) {
		d = a[i] - (lo[i] + (float)code[i] * step[i]);
		s += d * d;
	}
	return s;
}

static float dot_sq8_scalar(const float *a, const uint8_t *code, const float *lo, const float *step, size_t n)
{
	float s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += a[i] * (lo[i] + (float)code[i] * step[i]);
	return s;
}

static void l2sq_rows_scalar(const float *q, const float *base, size_t n, const uint32_t *ids, size_t count,
	float *out)
{
	size_t i;

	for (i = 0; i < count; i++)
		out[i] = l2sq_scalar(q, base + (size_t)ids[i] * n, n);
}

static void dot_rows_scalar(const float *q, const float *base, size_t n, const uint32_t *ids, size_t count,
	float *out)
{
	size_t i;

	for (i = 0; i < count; i++)
		out[i] = dot_scalar(q, base + (size_t)ids[i] * n, n);
}

static const struct distance_kernels kernels_scalar = {
	.level = CPU_SCALAR,
	.l2sq = l2sq_scalar,
	.dot = dot_scalar,
	.l2sq_sq8 = l2sq_sq8_scalar,
	.dot_sq8 = dot_sq8_scalar,
	.l2sq_rows = l2sq_rows_scalar,
	.dot_rows = dot_rows_scalar,
};

#if defined(__x86_64__)
extern const struct distance_kernels distance_kernels_avx2;
extern const struct distance_kernels distance_kernels_avx512;
#endif

static const void *const tables[CPU_LEVEL_COUNT] = {
	[CPU_SCALAR] = &kernels_scalar,
#if defined(__x86_64__)
	[CPU_AVX2] = &distance_kernels_avx2,
	[CPU_AVX512] = &distance_kernels_avx512,
#endif
};

static struct cpu_dispatch dispatch = CPU_DISPATCH_INIT(tables);

const struct distance_kernels *distance_kernels_at(enum cpu_level level)
{
	return cpu_table_at(tables, level);
}

const struct distance_kernels *distance_kernels(void)
{
	return cpu_dispatch(&dispatch);
}

float distance_l2sq(const float *a, const float *b, size_t n)
{
	return distance_kernels()->l2sq(a, b, n);
}

float distance_dot(const float *a, const float *b, size_t n)
{
	return distance_kernels()->dot(a, b, n);
}

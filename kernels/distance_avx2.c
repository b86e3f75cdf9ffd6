/* AVX2 + FMA kernels of distance.h (built with -mavx2 -mfma -mf16c, entered
 * only when cpu_features() reports CPU_AVX2). */
#include "distance.h"

#include <immintrin.h>

static float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline float l2sq_avx2(const float *a, const float *b, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), d0, d1;
	size_t i;
	float s;

	for (i = 0; i + 16 <= n; i += 16) {
		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		s0 = _mm256_fmadd_ps(d0, d0, s0);
		s1 = _mm256_fmadd_ps(d1, d1, s1);
	}
	for (; i + 8 <= n; i += 8) {
		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(d0, d0, s0);
	}
	s = hsum8(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		s += (a[i] - b[i]) * (a[i] - b[i]);
	return s;
}

static inline float dot_avx2(const float *a, const float *b, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	size_t i;
	float s;

	for (i = 0; i + 16 <= n; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	s = hsum8(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static __m256 sq8_decode8(const uint8_t *code, const float *lo, const float *step)
{
	__m256 c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)code)));

	return _mm256_fmadd_ps(c, _mm256_loadu_ps(step), _mm256_loadu_ps(lo));
}

static float l2sq_sq8_avx2(const float *a, const uint8_t *code, const float *lo, const float *step, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), d;
	size_t i;
	float s, x;

	for (i = 0; i + 8 <= n; i += 8) {
		d = _mm256_sub_ps(_mm256_loadu_ps(a + i), sq8_decode8(code + i, lo + i, step + i));
		s0 = _mm256_fmadd_ps(d, d, s0);
	}
	s = hsum8(s0);
	for (; i < n; i++) {
		x = a[i] - (lo[i] + (float)code[i] * step[i]);
		s += x * x;
	}
	return s;
}

static float dot_sq8_avx2(const float *a, const uint8_t *code, const float *lo, const float *step, size_t n)
{
	__m256 s0 = _mm256_setzero_ps();
	size_t i;
	float s;

	for (i = 0; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), sq8_decode8(code + i, lo + i, step + i), s0);
	s = hsum8(s0);
	for (; i < n; i++)
		s += a[i] * (lo[i] + (float)code[i] * step[i]);
	return s;
}

/* Rows a few ids ahead are pulled in whole (a 128-float row is 8 lines)
 * while the current one is scored, so the misses of a neighbour list
 * overlap instead of queueing behind each distance. */
#define ROWS_AHEAD 2

static inline void prefetch_row(const float *row, size_t n)
{
	size_t off;

	for (off = 0; off < n; off += 64 / sizeof(float))
		__builtin_prefetch(row + off);
}

static void l2sq_rows_avx2(const float *q, const float *base, size_t n, const uint32_t *ids, size_t count,
	float *out)
{
	size_t i;

	for (i = 0; i < count && i < ROWS_AHEAD; i++)
		prefetch_row(base + (size_t)ids[i] * n, n);
	for (i = 0; i < count; i++) {
		if (i + ROWS_AHEAD < count)
			prefetch_row(base + (size_t)ids[i + ROWS_AHEAD] * n, n);
		out[i] = l2sq_avx2(q, base + (size_t)ids[i] * n, n);
	}
}

static void dot_rows_avx2(const float *q, const float *base, size_t n, const uint32_t *ids, size_t count,
	float *out)
{
	size_t i;

	for (i = 0; i < count && i < ROWS_AHEAD; i++)
		prefetch_row(base + (size_t)ids[i] * n, n);
	for (i = 0; i < count; i++) {
		if (i + ROWS_AHEAD < count)
			prefetch_row(base + (size_t)ids[i + ROWS_AHEAD] * n, n);
		out[i] = dot_avx2(q, base + (size_t)ids[i] * n, n);
	}
}

const struct distance_kernels distance_kernels_avx2 = {
	.level = CPU_AVX2,
	.l2sq = l2sq_avx2,
	.dot = dot_avx2,
	.l2sq_sq8 = l2sq_sq8_avx2,
	.dot_sq8 = dot_sq8_avx2,
	.l2sq_rows = l2sq_rows_avx2,
	.dot_rows = dot_rows_avx2,
};

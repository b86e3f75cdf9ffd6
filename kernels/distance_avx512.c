/* AVX-512 kernels of distance.h (built with -mavx512f -mavx512bw
 * -mavx512vl -mavx512dq -mfma, entered only when cpu_features() reports
 * CPU_AVX512).  Tails use masked loads, so there is no scalar remainder. */
#include "distance.h"

#include <immintrin.h>

static inline float l2sq_avx512(const float *a, const float *b, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), d0, d1;
	__mmask16 m;
	size_t i;

	for (i = 0; i + 32 <= n; i += 32) {
		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		s0 = _mm512_fmadd_ps(d0, d0, s0);
		s1 = _mm512_fmadd_ps(d1, d1, s1);
	}
	for (; i + 16 <= n; i += 16) {
		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		s0 = _mm512_fmadd_ps(d0, d0, s0);
	}
	if (i < n) {
		m = (__mmask16)((1u << (n - i)) - 1);
		d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_fmadd_ps(d0, d0, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline float dot_avx512(const float *a, const float *b, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	__mmask16 m;
	size_t i;

	for (i = 0; i + 32 <= n; i += 32) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
	}
	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < n) {
		m = (__mmask16)((1u << (n - i)) - 1);
		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static __m512 sq8_decode16(__mmask16 m, const uint8_t *code, const float *lo, const float *step)
{
	__m512 c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, code)));

	return _mm512_fmadd_ps(c, _mm512_maskz_loadu_ps(m, step), _mm512_maskz_loadu_ps(m, lo));
}

static float l2sq_sq8_avx512(const float *a, const uint8_t *code, const float *lo, const float *step, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), d;
	__mmask16 m = 0xffff;
	size_t i;

	for (i = 0; i < n; i += 16) {
		if (n - i < 16)
			m = (__mmask16)((1u << (n - i)) - 1);
		d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), sq8_decode16(m, code + i, lo + i, step + i));
		s0 = _mm512_fmadd_ps(d, d, s0);
	}
	return _mm512_reduce_add_ps(s0);
}

static float dot_sq8_avx512(const float *a, const uint8_t *code, const float *lo, const float *step, size_t n)
{
	__m512 s0 = _mm512_setzero_ps();
	__mmask16 m = 0xffff;
	size_t i;

	for (i = 0; i < n; i += 16) {
		if (n - i < 16)
			m = (__mmask16)((1u << (n - i)) - 1);
		s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), sq8_decode16(m, code + i, lo + i, step + i), s0);
	}
	return _mm512_reduce_add_ps(s0);
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

static void l2sq_rows_avx512(const float *q, const float *base, size_t n, const uint32_t *ids, size_t count,
	float *out)
{
	size_t i;

	for (i = 0; i < count && i < ROWS_AHEAD; i++)
		prefetch_row(base + (size_t)ids[i] * n, n);
	for (i = 0; i < count; i++) {
		if (i + ROWS_AHEAD < count)
			prefetch_row(base + (size_t)ids[i + ROWS_AHEAD] * n, n);
		out[i] = l2sq_avx512(q, base + (size_t)ids[i] * n, n);
	}
}

static void dot_rows_avx512(const float *q, const float *base, size_t n, const uint32_t *ids, size_t count,
	float *out)
{
	size_t i;

	for (i = 0; i < count && i < ROWS_AHEAD; i++)
		prefetch_row(base + (size_t)ids[i] * n, n);
	for (i = 0; i < count; i++) {
		if (i + ROWS_AHEAD < count)
			prefetch_row(base + (size_t)ids[i + ROWS_AHEAD] * n, n);
		out[i] = dot_avx512(q, base + (size_t)ids[i] * n, n);
	}
}

const struct distance_kernels distance_kernels_avx512 = {
	.level = CPU_AVX512,
	.l2sq = l2sq_avx512,
	.dot = dot_avx512,
	.l2sq_sq8 = l2sq_sq8_avx512,
	.dot_sq8 = dot_sq8_avx512,
	.l2sq_rows = l2sq_rows_avx512,
	.dot_rows = dot_rows_avx512,
};

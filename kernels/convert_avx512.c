/* AVX-512 (F, BW, VL, DQ) kernels of convert.h, entered only when
 * cpu_features() reports CPU_AVX512.  Row tails use masked loads and
 * stores instead of a scalar loop. */
#include "convert.h"

#include <immintrin.h>

static inline __mmask16 tail_mask(size_t r)
{
	return (__mmask16)((1u << r) - 1);
}

static void f16_to_f32_avx512(const uint16_t *src, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 16 <= n; i += 16)
		_mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
	if (i < n) {
		__mmask16 m = tail_mask(n - i);

		_mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
	}
}

static void f32_to_f16_avx512(const float *src, uint16_t *dst, size_t n)
{
	size_t i;

	/* rounding immediate 0: to nearest even, whatever MXCSR says */
	for (i = 0; i + 16 <= n; i += 16)
		_mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), 0));
	if (i < n) {
		__mmask16 m = tail_mask(n - i);

		_mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), 0));
	}
}

static inline __m512 bf16_widen16(__m256i h)
{
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static void bf16_to_f32_avx512(const uint16_t *src, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 16 <= n; i += 16)
		_mm512_storeu_ps(dst + i, bf16_widen16(_mm256_loadu_si256((const __m256i *)(src + i))));
	if (i < n) {
		__mmask16 m = tail_mask(n - i);

		_mm512_mask_storeu_ps(dst + i, m, bf16_widen16(_mm256_maskz_loadu_epi16(m, src + i)));
	}
}

/* f32_to_bf16 of half.h on sixteen lanes, results in the low 16 bits. */
static inline __m512i bf16_round16(__m512i u)
{
	__m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
	__m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
	__m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
	__mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
						_mm512_set1_epi32(0x7f800000));

	return _mm512_mask_blend_epi32(nan, r, q);
}

static void f32_to_bf16_avx512(const float *src, uint16_t *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 16 <= n; i += 16)
		_mm256_storeu_si256((__m256i *)(dst + i),
				    _mm512_cvtepi32_epi16(bf16_round16(_mm512_loadu_si512(src + i))));
	if (i < n) {
		__mmask16 m = tail_mask(n - i);

		_mm512_mask_cvtepi32_storeu_epi16(dst + i, m, bf16_round16(_mm512_maskz_loadu_epi32(m, src + i)));
	}
}

static float dot_f32_avx512(const float *a, const float *b, size_t n)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	__m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
	size_t i;

	for (i = 0; i + 64 <= n; i += 64) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
	}
	for (; i + 16 <= n; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < n) {
		__mmask16 m = tail_mask(n - i);

		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

const struct convert_kernels convert_kernels_avx512 = {
	.level = CPU_AVX512,
	.f16_to_f32 = f16_to_f32_avx512,
	.f32_to_f16 = f32_to_f16_avx512,
	.bf16_to_f32 = bf16_to_f32_avx512,
	.f32_to_bf16 = f32_to_bf16_avx512,
	.dot_f32 = dot_f32_avx512,
};

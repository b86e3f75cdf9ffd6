/* AVX2 + FMA + F16C kernels of convert.h (built with -mavx2 -mfma -mf16c,
 * entered only when cpu_features() reports CPU_AVX2). */
#include "convert.h"

#include <immintrin.h>

#include "half.h"

static void f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
	for (; i < n; i++)
		dst[i] = f16_to_f32(src[i]);
}

static void f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n)
{
	size_t i;

	/* rounding immediate 0: to nearest even, whatever MXCSR says */
	for (i = 0; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), 0));
	for (; i < n; i++)
		dst[i] = f32_to_f16(src[i]);
}

static void bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		__m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));

		_mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
	}
	for (; i < n; i++)
		dst[i] = bf16_to_f32(src[i]);
}

/* f32_to_bf16 of half.h on eight lanes, results in the low 16 bits. */
static inline __m256i bf16_round8(__m256i u)
{
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
	__m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
	__m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
	__m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
					 _mm256_set1_epi32(0x7f800000));

	return _mm256_blendv_epi8(r, q, nan);
}

static void f32_to_bf16_avx2(const float *src, uint16_t *dst, size_t n)
{
	size_t i;

	for (i = 0; i + 16 <= n; i += 16) {
		__m256i a = bf16_round8(_mm256_loadu_si256((const __m256i *)(src + i)));
		__m256i b = bf16_round8(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
		/* packus works per 128-bit lane: a0-3 b0-3 | a4-7 b4-7 */
		__m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);

		_mm256_storeu_si256((__m256i *)(dst + i), p);
	}
	for (; i < n; i++)
		dst[i] = f32_to_bf16(src[i]);
}

static float hsum8(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static float dot_f32_avx2(const float *a, const float *b, size_t n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	__m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
	size_t i;
	float s;

	for (i = 0; i + 32 <= n; i += 32) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	s = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

const struct convert_kernels convert_kernels_avx2 = {
	.level = CPU_AVX2,
	.f16_to_f32 = f16_to_f32_avx2,
	.f32_to_f16 = f32_to_f16_avx2,
	.bf16_to_f32 = bf16_to_f32_avx2,
	.f32_to_bf16 = f32_to_bf16_avx2,
	.dot_f32 = dot_f32_avx2,
};

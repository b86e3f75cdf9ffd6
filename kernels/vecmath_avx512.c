/* vecmath at AVX-512: the formulas of vecmath_impl.h, 16 lanes at a time,
 * the tail of a row under a mask. */
#include <immintrin.h>

#include "vecmath.h"
#include "vecmath_impl.h"

static inline __m512 exp16(__m512 x)
{
	__mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(VM_EXP_MIN), _CMP_GE_OQ);
	__m512 n, r, p;
	__m512i bits;

	x = _mm512_min_ps(x, _mm512_set1_ps(VM_EXP_MAX));
	n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(VM_LOG2E)),
				 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(VM_LN2_HI), x);
	r = _mm512_fnmadd_ps(n, _mm512_set1_ps(VM_LN2_LO), r);
	p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 720), r, _mm512_set1_ps(1.0f / 120));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
	bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
	return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(bits));
}

static inline __mmask16 tail_mask(size_t left)
{
	return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static void softmax_avx512(float *x, size_t n)
{
	__m512 vmax = _mm512_set1_ps(-INFINITY), vsum = _mm512_setzero_ps(), vm, vinv;
	size_t i;

	for (i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);

		vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, x + i));
	}
	vm = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
	for (i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm));

		_mm512_mask_storeu_ps(x + i, m, e);
		vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
	}
	vinv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
	for (i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);

		_mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vinv));
	}
}

static void gelu_avx512(float *x, size_t n)
{
	__m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);

	for (size_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 v = _mm512_maskz_loadu_ps(m, x + i);
		__m512 z = _mm512_mul_ps(_mm512_abs_ps(v), _mm512_set1_ps(0.70710678f));
		__m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(VM_AS_P), z, one));
		__m512 q = _mm512_fmadd_ps(_mm512_set1_ps(VM_AS_A5), t, _mm512_set1_ps(VM_AS_A4));
		__mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);

		q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(VM_AS_A3));
		q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(VM_AS_A2));
		q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(VM_AS_A1));
		q = _mm512_mul_ps(_mm512_mul_ps(q, t), exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z)));
		q = _mm512_mul_ps(q, half);
		q = _mm512_mask_blend_ps(neg, _mm512_sub_ps(one, q), q);
		_mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(v, q));
	}
}

static void swiglu_avx512(float *gate, const float *up, size_t n)
{
	__m512 one = _mm512_set1_ps(1.0f);

	for (size_t i = 0; i < n; i += 16) {
		__mmask16 m = tail_mask(n - i);
		__m512 g = _mm512_maskz_loadu_ps(m, gate + i);
		__m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(g)));
		__mmask16 neg = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_LT_OQ);
		__m512 num = _mm512_mask_mul_ps(g, neg, g, e);
		__m512 s = _mm512_div_ps(num, _mm512_add_ps(one, e));

		_mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, up + i)));
	}
}

const struct vecmath_kernels vecmath_avx512 = {
	CPU_AVX512, softmax_avx512, gelu_avx512, swiglu_avx512,
};

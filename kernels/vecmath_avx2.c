/* vecmath at AVX2 + FMA: the formulas of vecmath_impl.h, 8 lanes at a time. */
#include <immintrin.h>

#include "vecmath.h"
#include "vecmath_impl.h"

static inline __m256 exp8(__m256 x)
{
	__m256 zero_mask = _mm256_cmp_ps(x, _mm256_set1_ps(VM_EXP_MIN), _CMP_LT_OQ);
	__m256 n, r, p;
	__m256i bits;

	x = _mm256_min_ps(x, _mm256_set1_ps(VM_EXP_MAX));
	n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(VM_LOG2E)),
			    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(VM_LN2_HI), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(VM_LN2_LO), r);
	p = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 720), r, _mm256_set1_ps(1.0f / 120));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	/* n >= -87*log2e rounds to >= -126: the exponent field stays >= 1 */
	bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	p = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
	return _mm256_andnot_ps(zero_mask, p);
}

static void softmax_avx2(float *x, size_t n)
{
	__m256 vmax = _mm256_set1_ps(-INFINITY), vsum = _mm256_setzero_ps(), vinv;
	float max, sum, tmp[8];
	size_t i;

	for (i = 0; i + 8 <= n; i += 8)
		vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
	_mm256_storeu_ps(tmp, vmax);
	max = tmp[0];
	for (int k = 1; k < 8; k++)
		max = tmp[k] > max ? tmp[k] : max;
	for (; i < n; i++)
		max = x[i] > max ? x[i] : max;
	for (i = 0; i + 8 <= n; i += 8) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(max)));

		_mm256_storeu_ps(x + i, e);
		vsum = _mm256_add_ps(vsum, e);
	}
	_mm256_storeu_ps(tmp, vsum);
	sum = 0.0f;
	for (int k = 0; k < 8; k++)
		sum += tmp[k];
	for (; i < n; i++) {
		x[i] = vm_exp(x[i] - max);
		sum += x[i];
	}
	vinv = _mm256_set1_ps(1.0f / sum);
	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
	for (; i < n; i++)
		x[i] *= 1.0f / sum;
}

static inline __m256 gelu8(__m256 x)
{
	__m256 absx = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
	__m256 z = _mm256_mul_ps(absx, _mm256_set1_ps(0.70710678f));
	__m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
	__m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(VM_AS_P), z, one));
	__m256 q = _mm256_fmadd_ps(_mm256_set1_ps(VM_AS_A5), t, _mm256_set1_ps(VM_AS_A4));

	q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(VM_AS_A3));
	q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(VM_AS_A2));
	q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(VM_AS_A1));
	q = _mm256_mul_ps(_mm256_mul_ps(q, t), exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), z), z)));
	q = _mm256_mul_ps(q, half);
	/* x >= 0: x (1 - q/2); x < 0: x q/2 */
	return _mm256_mul_ps(x, _mm256_blendv_ps(_mm256_sub_ps(one, q), q,
						 _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ)));
}

static void gelu_avx2(float *x, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
	for (; i < n; i++)
		x[i] = vm_gelu(x[i]);
}

static void swiglu_avx2(float *gate, const float *up, size_t n)
{
	__m256 one = _mm256_set1_ps(1.0f);
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		__m256 g = _mm256_loadu_ps(gate + i);
		__m256 e = exp8(_mm256_or_ps(g, _mm256_set1_ps(-0.0f)));   /* e^-|g| */
		__m256 num = _mm256_blendv_ps(g, _mm256_mul_ps(g, e),
					      _mm256_cmp_ps(g, _mm256_setzero_ps(), _CMP_LT_OQ));
		__m256 s = _mm256_div_ps(num, _mm256_add_ps(one, e));

		_mm256_storeu_ps(gate + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
	}
	for (; i < n; i++)
		gate[i] = vm_silu(gate[i]) * up[i];
}

const struct vecmath_kernels vecmath_avx2 = {
	CPU_AVX2, softmax_avx2, gelu_avx2, swiglu_avx2,
};

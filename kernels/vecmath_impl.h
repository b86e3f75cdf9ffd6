/* vecmath_impl.h - what the levels of vecmath share: the constants and the
 * scalar functions each level uses for the tail of a row. */
#ifndef LMPIPE_VECMATH_IMPL_H
#define LMPIPE_VECMATH_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define VM_LOG2E 1.44269504f
#define VM_LN2_HI 0.693145752f       /* ln 2 split in two for exact n*ln2 */
#define VM_LN2_LO 1.42860677e-6f
#define VM_EXP_MIN -87.0f            /* below: 0 (2^-125 is near the denormals) */
#define VM_EXP_MAX 88.0f
/* Abramowitz & Stegun 7.1.26 */
#define VM_AS_P 0.3275911f
#define VM_AS_A1 0.254829592f
#define VM_AS_A2 -0.284496736f
#define VM_AS_A3 1.421413741f
#define VM_AS_A4 -1.453152027f
#define VM_AS_A5 1.061405429f

/* e^r for |r| <= ln2/2: Taylor to degree 6 (remainder < 1.3e-7 relative) */
static inline float vm_exp_poly(float r)
{
	return 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 +
		r * (1.0f / 720))))));
}

static inline float vm_exp(float x)
{
	float n, r, s;
	int32_t bits;

	if (x < VM_EXP_MIN)
		return 0.0f;
	if (x > VM_EXP_MAX)
		x = VM_EXP_MAX;
	n = nearbyintf(x * VM_LOG2E);
	r = x - n * VM_LN2_HI;
	r = r - n * VM_LN2_LO;
	bits = ((int32_t)n + 127) << 23;
	memcpy(&s, &bits, sizeof(s));
	return vm_exp_poly(r) * s;
}

/* x * Phi(x), Phi from erfc on |x|/sqrt2 so the negative tail keeps its
 * relative accuracy */
static inline float vm_gelu(float x)
{
	float z = fabsf(x) * 0.70710678f;
	float t = 1.0f / (1.0f + VM_AS_P * z);
	float q = t * (VM_AS_A1 + t * (VM_AS_A2 + t * (VM_AS_A3 + t * (VM_AS_A4 + t * VM_AS_A5)))) *
		  vm_exp(-z * z);

	return x * (x >= 0.0f ? 1.0f - 0.5f * q : 0.5f * q);
}

/* x / (1 + e^-x) with e^-|x| so nothing overflows */
static inline float vm_silu(float x)
{
	float e = vm_exp(-fabsf(x));

	return x >= 0.0f ? x / (1.0f + e) : x * e / (1.0f + e);
}

#endif

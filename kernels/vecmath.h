/* vecmath.h - element-wise transcendental functions over float rows, at
 * the best instruction set the CPU offers (kernels/cpu.h picks, as
 * distance.h does).
 *
 * All levels evaluate the same formulas (a degree-6 polynomial for e^r on
 * |r| <= ln2/2 after range reduction; Abramowitz & Stegun 7.1.26 for erfc),
 * so they agree with each other to a few ulp and with the exact functions
 * to about 2e-7 relative (exp) and 1.5e-7 absolute in Phi (GELU).
 */
#ifndef LMPIPE_VECMATH_H
#define LMPIPE_VECMATH_H

#include <stddef.h>

#include "cpu.h"

struct vecmath_kernels {
	enum cpu_level level;
	/* x = exp(x - max x) / sum, in place */
	void (*softmax)(float *x, size_t n);
	/* x = x * Phi(x): the exact (erf) GELU */
	void (*gelu)(float *x, size_t n);
	/* gate = silu(gate) * up: SwiGLU */
	void (*swiglu)(float *gate, const float *up, size_t n);
};

const struct vecmath_kernels *vecmath_kernels(void);
/* One level's kernels; NULL when this CPU lacks it or it has none. */
const struct vecmath_kernels *vecmath_kernels_at(enum cpu_level level);

#endif

/* convert.h - row conversions between float formats, and the f32 dot
 * product, at the best instruction set the CPU offers.
 *
 * Conversions give the same bits at every level: they are exactly the
 * scalar definitions of half.h (round to nearest even, subnormals kept,
 * NaN kept and made quiet).  dot_f32 sums in a different order at each
 * level, so results agree only to rounding, within the recursive-summation
 * bound of about n * 2^-24 * sum|a[i] * b[i]|.
 *
 * Pointers need no particular alignment; source and destination must not
 * overlap.  n may be 0.
 *
 * The implementation is chosen once, on first use, from cpu_features()
 * (kernels/cpu.h); the plain functions below are what the tree calls.
 */
#ifndef LMPIPE_CONVERT_H
#define LMPIPE_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"

void convert_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void convert_f32_to_f16(const float *src, uint16_t *dst, size_t n);
void convert_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
void convert_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
float dot_f32(const float *a, const float *b, size_t n);

/* One implementation of each kernel, for tests and benchmarks that compare
 * the levels. */
struct convert_kernels {
	enum cpu_level level;
	void (*f16_to_f32)(const uint16_t *src, float *dst, size_t n);
	void (*f32_to_f16)(const float *src, uint16_t *dst, size_t n);
	void (*bf16_to_f32)(const uint16_t *src, float *dst, size_t n);
	void (*f32_to_bf16)(const float *src, uint16_t *dst, size_t n);
	float (*dot_f32)(const float *a, const float *b, size_t n);
};

/* The kernels in use (the best level allowed by cpu_features()). */
const struct convert_kernels *convert_kernels(void);
/* The kernels of a given level; NULL when this CPU lacks it or the level
 * has no implementation of its own (a NULL for avx512_vnni, say, means the
 * avx512 kernels serve it). */
const struct convert_kernels *convert_kernels_at(enum cpu_level level);

#endif

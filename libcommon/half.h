/* half.h - scalar conversions between float32 and the 16-bit float formats.
 *
 * f16 is IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits); bf16 is
 * the upper half of a binary32 (1, 8, 7).  Both are carried as uint16_t bit
 * patterns so no compiler extension is needed.
 *
 * Promises:
 *  - f16_to_f32 is exact for every finite value and infinity.
 *  - f32_to_f16 rounds to nearest, ties to even, produces subnormals and
 *    overflows to infinity, bit-identical to the x86 F16C instruction
 *    VCVTPS2PH with rounding mode 0.
 *  - NaN stays NaN in every direction and comes out quiet: the payload's
 *    top bits are kept and the quiet bit is set (what F16C and AVX-512 do,
 *    so the SIMD kernels agree with these bit for bit).
 *  - f32_to_bf16 rounds to nearest even without flushing subnormals, and
 *    NaN becomes (bits >> 16) | 0x40, as ggml's fp32_to_bf16 does, so BF16
 *    tensors we write are byte-identical to llama.cpp's.
 *
 * These are the scalar reference; kernels/convert.h converts whole rows with
 * the fastest instruction set available.
 */
#ifndef LMPIPE_HALF_H
#define LMPIPE_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t half_f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float half_bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

static inline float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;

	if (exp == 0x1f)	/* inf, or NaN made quiet (bit 22) */
		return half_bits_f32(sign | 0x7f800000 | (mant << 13) |
				     (mant ? 0x400000u : 0));
	if (exp == 0) {
		if (mant == 0)
			return half_bits_f32(sign);
		/* subnormal: mant * 2^-24; normalise so the leading one
		 * becomes the implicit bit of a binary32 */
		exp = 1;
		while (!(mant & 0x400)) {
			mant <<= 1;
			exp--;
		}
		mant &= 0x3ff;
	}
	/* binary16 bias 15, binary32 bias 127 */
	return half_bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

static inline uint16_t f32_to_f16(float f)
{
	uint32_t x = half_f32_bits(f);
	uint32_t sign = (x >> 16) & 0x8000;
	uint32_t h, rem, e;

	x &= 0x7fffffff;
	if (x > 0x7f800000)	/* NaN: keep the top payload bits, set quiet */
		return (uint16_t)(sign | 0x7e00 | ((x >> 13) & 0x3ff));
	/* 65520 = 0x477ff000 is halfway between 65504, the largest binary16,
	 * and 65536; the tie goes to the even neighbour, which is infinity */
	if (x >= 0x477ff000)
		return (uint16_t)(sign | 0x7c00);
	if (x < 0x38800000) {
		/* below 2^-14: a subnormal m * 2^-24, m = round(|f| * 2^24) */
		uint32_t m = (x & 0x7fffff) | 0x800000;
		uint32_t shift;

		e = x >> 23;
		shift = 126 - e;	/* |f| = m * 2^(e - 150) */
		if (e == 0 || shift > 24)	/* |f| < 2^-25: rounds to 0 */
			return (uint16_t)sign;
		h = m >> shift;
		rem = m & ((1u << shift) - 1);
		if (rem > (1u << (shift - 1)) || (rem == (1u << (shift - 1)) && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	e = (x >> 23) - 112;
	h = (e << 10) | ((x >> 13) & 0x3ff);
	rem = x & 0x1fff;
	/* a carry out of the mantissa correctly bumps the exponent */
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;
	return (uint16_t)(sign | h);
}

static inline float bf16_to_f32(uint16_t b)
{
	return half_bits_f32((uint32_t)b << 16);
}

static inline uint16_t f32_to_bf16(float f)
{
	uint32_t x = half_f32_bits(f);

	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);
	return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

#endif

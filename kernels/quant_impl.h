/* quant_impl.h - internals shared by the levels of quant.h: ggml's block
 * layouts (ggml-common.h) and the per-level kernel tables.  Not part of the
 * public interface. */
#ifndef LMPIPE_QUANT_IMPL_H
#define LMPIPE_QUANT_IMPL_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "half.h"
#include "quant.h"

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

/* fp16 fields are uint16_t bit patterns (half.h), as ggml_half is. */
struct block_q4_0 {
	uint16_t d;
	uint8_t qs[QK4_0 / 2];       /* element j in the low nibble of qs[j], j + 16 in the high */
};

struct block_q4_1 {
	uint16_t d;
	uint16_t m;
	uint8_t qs[QK4_1 / 2];
};

struct block_q5_0 {
	uint16_t d;
	uint8_t qh[4];               /* bit j: the fifth bit of element j */
	uint8_t qs[QK5_0 / 2];
};

struct block_q5_1 {
	uint16_t d;
	uint16_t m;
	uint8_t qh[4];
	uint8_t qs[QK5_1 / 2];
};

struct block_q8_0 {
	uint16_t d;
	int8_t qs[QK8_0];
};

struct block_q8_1 {
	uint16_t d;
	uint16_t s;                  /* d * sum(qs) */
	int8_t qs[QK8_1];
};

struct block_q2_K {
	uint8_t scales[QK_K / 16];   /* low nibble scale, high nibble min */
	uint8_t qs[QK_K / 4];
	uint16_t d;
	uint16_t dmin;
};

struct block_q3_K {
	uint8_t hmask[QK_K / 8];
	uint8_t qs[QK_K / 4];
	uint8_t scales[12];          /* 16 six-bit scales */
	uint16_t d;
};

struct block_q4_K {
	uint16_t d;
	uint16_t dmin;
	uint8_t scales[K_SCALE_SIZE]; /* 8 six-bit scales and 8 six-bit mins */
	uint8_t qs[QK_K / 2];
};

struct block_q5_K {
	uint16_t d;
	uint16_t dmin;
	uint8_t scales[K_SCALE_SIZE];
	uint8_t qh[QK_K / 8];
	uint8_t qs[QK_K / 2];
};

struct block_q6_K {
	uint8_t ql[QK_K / 2];
	uint8_t qh[QK_K / 4];
	int8_t scales[QK_K / 16];
	uint16_t d;
};

struct block_q8_K {
	float d;
	int8_t qs[QK_K];
	int16_t bsums[QK_K / 16];    /* sums of qs in groups of 16 */
};

static_assert(sizeof(struct block_q4_0) == 18, "block_q4_0 is ggml's 18 bytes");
static_assert(sizeof(struct block_q4_1) == 20, "block_q4_1 is ggml's 20 bytes");
static_assert(sizeof(struct block_q5_0) == 22, "block_q5_0 is ggml's 22 bytes");
static_assert(sizeof(struct block_q5_1) == 24, "block_q5_1 is ggml's 24 bytes");
static_assert(sizeof(struct block_q8_0) == 34, "block_q8_0 is ggml's 34 bytes");
static_assert(sizeof(struct block_q8_1) == 36, "block_q8_1 is ggml's 36 bytes");
static_assert(sizeof(struct block_q2_K) == 84, "block_q2_K is ggml's 84 bytes");
static_assert(sizeof(struct block_q3_K) == 110, "block_q3_K is ggml's 110 bytes");
static_assert(sizeof(struct block_q4_K) == 144, "block_q4_K is ggml's 144 bytes");
static_assert(sizeof(struct block_q5_K) == 176, "block_q5_K is ggml's 176 bytes");
static_assert(sizeof(struct block_q6_K) == 210, "block_q6_K is ggml's 210 bytes");
static_assert(sizeof(struct block_q8_K) == 292, "block_q8_K is ggml's 292 bytes");

/* ggml's nearest_int: adding 1.5 * 2^23 leaves the integer, rounded to
 * nearest even, in the low mantissa bits (valid for |f| <= 2^22 - 1; the
 * callers stay inside that, as in ggml). */
static inline int nearest_int(float f)
{
	float v = f + 12582912.f;
	int32_t i;

	memcpy(&i, &v, sizeof i);
	return (i & 0x007fffff) - 0x00400000;
}

/* ggml's get_scale_min_k4: scale and min J (0..7) of a Q4_K/Q5_K block,
 * six bits each, packed in 12 bytes. */
static inline void quant_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
	}
}

/* Q2_K's 4-bit group scales (low nibble) and mins (high nibble) as
 * multiples of max/15, and the block's d and dmin, as ggml writes them. */
static inline void quant_pack_scales_q2_K(struct block_q2_K *y, const float *scales, const float *mins,
					  float max_scale, float max_min)
{
	const float q4scale = 15.f;

	memset(y->scales, 0, sizeof y->scales);
	y->d = f32_to_f16(max_scale > 0 ? max_scale / q4scale : 0.f);
	if (max_scale > 0)
		for (int j = 0; j < QK_K / 16; j++)
			y->scales[j] = (uint8_t)nearest_int(q4scale / max_scale * scales[j]);
	y->dmin = f32_to_f16(max_min > 0 ? max_min / q4scale : 0.f);
	if (max_min > 0)
		for (int j = 0; j < QK_K / 16; j++)
			y->scales[j] |= (uint8_t)(nearest_int(q4scale / max_min * mins[j]) << 4);
}

/* The inverse, as ggml's Q4_K/Q5_K quantizers write it: the eight group
 * SCALES and MINS as six-bit multiples of max_scale/63 and max_min/63. */
static inline void quant_pack_scale_min_k4(uint8_t *packed, const float *scales, const float *mins,
					   float max_scale, float max_min)
{
	float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
	float inv_min = max_min > 0 ? 63.f / max_min : 0.f;

	for (int j = 0; j < QK_K / 32; j++) {
		uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
		uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);

		ls = ls < 63 ? ls : 63;
		lm = lm < 63 ? lm : 63;
		if (j < 4) {
			packed[j] = ls;
			packed[j + 4] = lm;
		} else {
			packed[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
			packed[j - 4] |= (uint8_t)((ls >> 4) << 6);
			packed[j] |= (uint8_t)((lm >> 4) << 6);
		}
	}
}

/* All 8 scales into SC and mins into M at once (the same values as
 * quant_scale_min_k4, by whole-word masks). */
static inline void quant_unpack_k4(const uint8_t *packed, uint8_t sc[8], uint8_t m[8])
{
	const uint32_t k6 = 0x3f3f3f3f, k4 = 0x0f0f0f0f, k2 = 0x03030303;
	uint32_t u[3], out[4];

	memcpy(u, packed, 12);
	out[0] = u[0] & k6;
	out[1] = (u[2] & k4) | (((u[0] >> 6) & k2) << 4);
	out[2] = u[1] & k6;
	out[3] = ((u[2] >> 4) & k4) | (((u[1] >> 6) & k2) << 4);
	memcpy(sc, out, 8);
	memcpy(m, out + 2, 8);
}

/* Signed scale J (0..15) of a Q3_K block: low four bits in scales[0..7]
 * nibbles, high two bits in scales[8..11]. */
static inline int quant_scale_q3_K(int j, const uint8_t *scales)
{
	int lo = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
	int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;

	return (lo | (hi << 4)) - 32;
}

/* The tables each level defines; entries it leaves NULL are the next lower
 * level's (quant.c merges them). */
extern const struct quant_kernels quant_kernels_scalar;
#if defined(__x86_64__)
extern const struct quant_kernels quant_kernels_avx2;
extern const struct quant_kernels quant_kernels_avx512;
extern const struct quant_kernels quant_kernels_avx512_vnni;
/* quant_ref_simd.c: reference quantisers with AVX2 (same bytes), the
 * quantize_row entries of the AVX2 level and above; NULL where none. */
extern void (*const quant_ref_simd_avx2[DTYPE_COUNT])(const float *src, void *dst, int64_t n);
#endif

#endif

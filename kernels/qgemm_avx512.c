/* qgemm_avx512.c - the AVX-512 levels of qgemm.h.
 *
 * A micro-kernel holds one 16-row panel in int32 lanes and up to MR
 * activation rows: each weight step (64 bytes: 4 elements of 16 rows, or
 * 2 as int16) is loaded once for all MR rows, and each row's 4 (or 2)
 * activation codes are broadcast to the 16 lanes.  AVX-512 F/BW multiplies
 * int16 pairs (VPMADDWD: exact, signed values); with AVX512-VNNI, VPDPBUSD
 * takes 4 byte products per lane (unsigned weight codes, signed
 * activations, the codes' offset removed by starting each block's sum at
 * -offset * sum(x)).  The Makefile's AVX-512 flags lack VNNI, so those
 * functions are given it by attribute and entered only when cpu_features()
 * reports CPU_AVX512_VNNI.
 *
 * Per block the float work is the scalar level's: (float)sumi times
 * (d_w * d_x), added to the running sum; the product is kept apart from
 * the add (ROUNDED) so that no fused multiply-add changes the rounding. */
#include "qgemm_impl.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "quant_impl.h"

#define ROUNDED(x) __asm__("" : "+v"(x))
#define UNROLL _Pragma("GCC unroll 16")
#define INLINE static inline __attribute__((always_inline))
#define VNNI __attribute__((target("avx512vnni")))

#define MR 8

static inline __m512i bcast4(const int8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return _mm512_set1_epi32(v);
}

static inline __mmask16 valid_mask(int n)
{
	return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
}

/* acc[t] += (float)s[t] * (dw * d_x[t]) for one block. */
#define BLOCK_SCALE(mr, acc, s, blk, tl, b)                                                        \
	do {                                                                                       \
		__m512 dw = _mm512_load_ps((const float *)(const void *)(blk));                   \
		UNROLL for (int t = 0; t < (mr); t++)                                              \
		{                                                                                  \
			__m512 sc = _mm512_mul_ps(dw, _mm512_set1_ps((tl)->xb[t * (tl)->nb + (b)].d)); \
			__m512 p = _mm512_mul_ps(_mm512_cvtepi32_ps(s[t]), sc);                  \
                                                                                                   \
			ROUNDED(p);                                                                \
			acc[t] = _mm512_add_ps(acc[t], p);                                         \
		}                                                                                  \
	} while (0)

INLINE void pairs_tile(const int mr, const struct qgemm_tile *tl)
{
	const size_t bb = qgemm_block_bytes(QGEMM_PAIRS);
	const int8_t *xr[MR];
	__m512 acc[MR];

	UNROLL for (int t = 0; t < mr; t++)
	{
		xr[t] = tl->xq + t * tl->xq_row;
		acc[t] = _mm512_setzero_ps();
	}
	for (int64_t b = 0; b < tl->nb; b++) {
		const uint8_t *blk = tl->panel + (size_t)b * bb;
		__m512i s[MR];

		UNROLL for (int t = 0; t < mr; t++)
			s[t] = _mm512_setzero_si512();
		UNROLL for (int k = 0; k < 16; k++)
		{
			__m512i w = _mm512_load_si512((const void *)(blk + 64 + 64 * k));

			UNROLL for (int t = 0; t < mr; t++)
				s[t] = _mm512_add_epi32(s[t], _mm512_madd_epi16(w, bcast4(xr[t] + b * tl->xq_block + 4 * k)));
		}
		BLOCK_SCALE(mr, acc, s, blk, tl, b);
	}
	UNROLL for (int t = 0; t < mr; t++)
		_mm512_mask_storeu_ps(tl->y + t * tl->ldy, valid_mask(tl->n_valid), acc[t]);
}

static void micro_pairs(int mr, const struct qgemm_tile *tl)
{
	switch (mr) {
	case 8: pairs_tile(8, tl); break;
	case 7: pairs_tile(7, tl); break;
	case 6: pairs_tile(6, tl); break;
	case 5: pairs_tile(5, tl); break;
	case 4: pairs_tile(4, tl); break;
	case 3: pairs_tile(3, tl); break;
	case 2: pairs_tile(2, tl); break;
	default: pairs_tile(1, tl); break;
	}
}

INLINE VNNI void quads_tile(const int mr, const struct qgemm_tile *tl)
{
	const size_t bb = qgemm_block_bytes(QGEMM_QUADS);
	const int8_t *xr[MR];
	__m512 acc[MR];

	UNROLL for (int t = 0; t < mr; t++)
	{
		xr[t] = tl->xq + t * tl->xq_row;
		acc[t] = _mm512_setzero_ps();
	}
	for (int64_t b = 0; b < tl->nb; b++) {
		const uint8_t *blk = tl->panel + (size_t)b * bb;
		__m512i s[MR];

		UNROLL for (int t = 0; t < mr; t++)
			s[t] = _mm512_set1_epi32(tl->xb[t * tl->nb + b].corr);
		UNROLL for (int k = 0; k < 8; k++)
		{
			__m512i w = _mm512_load_si512((const void *)(blk + 64 + 64 * k));

			UNROLL for (int t = 0; t < mr; t++)
				s[t] = _mm512_dpbusd_epi32(s[t], w, bcast4(xr[t] + b * tl->xq_block + 4 * k));
		}
		BLOCK_SCALE(mr, acc, s, blk, tl, b);
	}
	UNROLL for (int t = 0; t < mr; t++)
		_mm512_mask_storeu_ps(tl->y + t * tl->ldy, valid_mask(tl->n_valid), acc[t]);
}

static VNNI void micro_quads(int mr, const struct qgemm_tile *tl)
{
	switch (mr) {
	case 8: quads_tile(8, tl); break;
	case 7: quads_tile(7, tl); break;
	case 6: quads_tile(6, tl); break;
	case 5: quads_tile(5, tl); break;
	case 4: quads_tile(4, tl); break;
	case 3: quads_tile(3, tl); break;
	case 2: quads_tile(2, tl); break;
	default: quads_tile(1, tl); break;
	}
}

/* ---- K types: one super-block of 256 at a time ---- */

/* acc[t] += (d_x d_w) isum[t] (Q6_K), or += (d_x d_w) isum[t] - (d_x dmin_w)
 * summs[t], quant.c's expression. */
#define KBLOCK_SCALE(mr, q6, acc, isum, summs, blk, tl, b)                                              \
	do {                                                                                            \
		__m512 dw = _mm512_load_ps((const float *)(const void *)(blk));                        \
		__m512 dm = _mm512_load_ps((const float *)(const void *)((blk) + 64));                 \
		UNROLL for (int t = 0; t < (mr); t++)                                                   \
		{                                                                                       \
			__m512 dx = _mm512_set1_ps((tl)->xb[t * (tl)->nb + (b)].d);                    \
			__m512 p1 = _mm512_mul_ps(_mm512_mul_ps(dx, dw), _mm512_cvtepi32_ps(isum[t]));  \
                                                                                                        \
			ROUNDED(p1);                                                                    \
			if (q6) {                                                                       \
				acc[t] = _mm512_add_ps(acc[t], p1);                                     \
			} else {                                                                        \
				__m512 p2 = _mm512_mul_ps(_mm512_mul_ps(dx, dm), _mm512_cvtepi32_ps(summs[t])); \
                                                                                                        \
				ROUNDED(p2);                                                            \
				acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(p1, p2));                  \
			}                                                                               \
		}                                                                                       \
	} while (0)

static inline const int8_t *bsums_at(const struct qgemm_tile *tl, int t, int64_t b)
{
	return (const int8_t *)(tl->xraw + t * tl->xraw_row + b * sizeof(struct block_q8_K) +
				offsetof(struct block_q8_K, bsums));
}

INLINE void pairs_k_tile(const int mr, const int q6, const struct qgemm_tile *tl)
{
	const size_t bb = qgemm_kblock_bytes(QGEMM_PAIRS);
	const int8_t *xr[MR];
	__m512 acc[MR];

	UNROLL for (int t = 0; t < mr; t++)
	{
		xr[t] = tl->xq + t * tl->xq_row;
		acc[t] = _mm512_setzero_ps();
	}
	for (int64_t b = 0; b < tl->nb; b++) {
		const uint8_t *blk = tl->panel + (size_t)b * bb;
		__m512i isum[MR], summs[MR];

		UNROLL for (int t = 0; t < mr; t++)
			isum[t] = summs[t] = _mm512_setzero_si512();
		_Pragma("GCC unroll 4") for (int k = 0; k < QGEMM_QK_K / 2; k++)
		{
			__m512i w = _mm512_load_si512((const void *)(blk + QGEMM_K_CODES + 64 * k));

			UNROLL for (int t = 0; t < mr; t++)
				isum[t] = _mm512_add_epi32(isum[t],
							   _mm512_madd_epi16(w, bcast4(xr[t] + b * tl->xq_block + 4 * k)));
		}
		if (!q6)
			UNROLL for (int j = 0; j < 8; j++)
			{
				__m512i pw = _mm512_load_si512((const void *)(blk + 128 + 64 * j));

				UNROLL for (int t = 0; t < mr; t++)
					summs[t] = _mm512_add_epi32(summs[t], _mm512_madd_epi16(pw, bcast4(bsums_at(tl, t, b) + 4 * j)));
			}
		KBLOCK_SCALE(mr, q6, acc, isum, summs, blk, tl, b);
	}
	UNROLL for (int t = 0; t < mr; t++)
		_mm512_mask_storeu_ps(tl->y + t * tl->ldy, valid_mask(tl->n_valid), acc[t]);
}

static void micro_pairs_k(int mr, const struct qgemm_tile *tl)
{
	int q6 = tl->type == DTYPE_Q6_K;

	switch (mr) {
	case 8: q6 ? pairs_k_tile(8, 1, tl) : pairs_k_tile(8, 0, tl); break;
	case 7: q6 ? pairs_k_tile(7, 1, tl) : pairs_k_tile(7, 0, tl); break;
	case 6: q6 ? pairs_k_tile(6, 1, tl) : pairs_k_tile(6, 0, tl); break;
	case 5: q6 ? pairs_k_tile(5, 1, tl) : pairs_k_tile(5, 0, tl); break;
	case 4: q6 ? pairs_k_tile(4, 1, tl) : pairs_k_tile(4, 0, tl); break;
	case 3: q6 ? pairs_k_tile(3, 1, tl) : pairs_k_tile(3, 0, tl); break;
	case 2: q6 ? pairs_k_tile(2, 1, tl) : pairs_k_tile(2, 0, tl); break;
	default: q6 ? pairs_k_tile(1, 1, tl) : pairs_k_tile(1, 0, tl); break;
	}
}

/* VNNI: per scale group an exact byte dot product, times the group's
 * scale (VPMULLD); the bsums terms by VPDPWSSD.  Q6_K's levels are
 * stored +32, whose share, 32 * sum(scale * bsum), comes off isum. */
INLINE VNNI void quads_k_tile(const int mr, const int q6, const struct qgemm_tile *tl)
{
	const size_t bb = qgemm_kblock_bytes(QGEMM_QUADS);
	const int steps = q6 ? 4 : 8, groups = q6 ? 16 : 8;
	const int8_t *xr[MR];
	__m512 acc[MR];

	UNROLL for (int t = 0; t < mr; t++)
	{
		xr[t] = tl->xq + t * tl->xq_row;
		acc[t] = _mm512_setzero_ps();
	}
	for (int64_t b = 0; b < tl->nb; b++) {
		const uint8_t *blk = tl->panel + (size_t)b * bb;
		__m512i isum[MR], summs[MR];

		UNROLL for (int t = 0; t < mr; t++)
			isum[t] = summs[t] = _mm512_setzero_si512();
		for (int g = 0; g < groups; g++) {
			__m512i a[MR];
			__m512i sc = _mm512_load_si512((const void *)(blk + 640 + 64 * g));

			UNROLL for (int t = 0; t < mr; t++)
				a[t] = _mm512_setzero_si512();
			UNROLL for (int k = 0; k < steps; k++)
			{
				int step = g * steps + k;
				__m512i w = _mm512_load_si512((const void *)(blk + QGEMM_K_CODES + 64 * step));

				UNROLL for (int t = 0; t < mr; t++)
					a[t] = _mm512_dpbusd_epi32(a[t], w, bcast4(xr[t] + b * tl->xq_block + 4 * step));
			}
			UNROLL for (int t = 0; t < mr; t++)
				isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(a[t], sc));
		}
		UNROLL for (int j = 0; j < 8; j++)
		{
			__m512i pw = _mm512_load_si512((const void *)(blk + 128 + 64 * j));

			UNROLL for (int t = 0; t < mr; t++)
				summs[t] = _mm512_dpwssd_epi32(summs[t], pw, bcast4(bsums_at(tl, t, b) + 4 * j));
		}
		if (q6)
			UNROLL for (int t = 0; t < mr; t++)
				isum[t] = _mm512_sub_epi32(isum[t], summs[t]);
		KBLOCK_SCALE(mr, q6, acc, isum, summs, blk, tl, b);
	}
	UNROLL for (int t = 0; t < mr; t++)
		_mm512_mask_storeu_ps(tl->y + t * tl->ldy, valid_mask(tl->n_valid), acc[t]);
}

static VNNI void micro_quads_k(int mr, const struct qgemm_tile *tl)
{
	int q6 = tl->type == DTYPE_Q6_K;

	switch (mr) {
	case 8: q6 ? quads_k_tile(8, 1, tl) : quads_k_tile(8, 0, tl); break;
	case 7: q6 ? quads_k_tile(7, 1, tl) : quads_k_tile(7, 0, tl); break;
	case 6: q6 ? quads_k_tile(6, 1, tl) : quads_k_tile(6, 0, tl); break;
	case 5: q6 ? quads_k_tile(5, 1, tl) : quads_k_tile(5, 0, tl); break;
	case 4: q6 ? quads_k_tile(4, 1, tl) : quads_k_tile(4, 0, tl); break;
	case 3: q6 ? quads_k_tile(3, 1, tl) : quads_k_tile(3, 0, tl); break;
	case 2: q6 ? quads_k_tile(2, 1, tl) : quads_k_tile(2, 0, tl); break;
	default: q6 ? quads_k_tile(1, 1, tl) : quads_k_tile(1, 0, tl); break;
	}
}

static const struct qgemm_level level_avx512 = { QGEMM_PAIRS, MR, micro_pairs, micro_pairs_k };
static const struct qgemm_level level_vnni = { QGEMM_QUADS, MR, micro_quads, micro_quads_k };

#define BLOCKED(name, lvl, type)                                                                       \
	static void name(int64_t n, const void *w, size_t w_row, int64_t n_out, const void *x, size_t x_row, \
			 int64_t n_tok, float *y, size_t ldy, void *scratch)                                \
	{                                                                                              \
		qgemm_blocked_run(&(lvl), type, n, w, w_row, n_out, x, x_row, n_tok, y, ldy, scratch);     \
	}

BLOCKED(gemm_q8_0, level_avx512, DTYPE_Q8_0)
BLOCKED(gemm_q4_0, level_avx512, DTYPE_Q4_0)
BLOCKED(gemm_q5_0, level_avx512, DTYPE_Q5_0)
BLOCKED(gemm_q8_0_vnni, level_vnni, DTYPE_Q8_0)
BLOCKED(gemm_q4_0_vnni, level_vnni, DTYPE_Q4_0)
BLOCKED(gemm_q5_0_vnni, level_vnni, DTYPE_Q5_0)
BLOCKED(gemm_q4_K, level_avx512, DTYPE_Q4_K)
BLOCKED(gemm_q5_K, level_avx512, DTYPE_Q5_K)
BLOCKED(gemm_q6_K, level_avx512, DTYPE_Q6_K)
BLOCKED(gemm_q4_K_vnni, level_vnni, DTYPE_Q4_K)
BLOCKED(gemm_q5_K_vnni, level_vnni, DTYPE_Q5_K)
BLOCKED(gemm_q6_K_vnni, level_vnni, DTYPE_Q6_K)

const struct qgemm_kernels qgemm_kernels_avx512 = {
	.level = CPU_AVX512,
	.gemm = { [DTYPE_Q8_0] = gemm_q8_0, [DTYPE_Q4_0] = gemm_q4_0, [DTYPE_Q5_0] = gemm_q5_0,
		  [DTYPE_Q4_K] = gemm_q4_K, [DTYPE_Q5_K] = gemm_q5_K, [DTYPE_Q6_K] = gemm_q6_K },
};

const struct qgemm_kernels qgemm_kernels_avx512_vnni = {
	.level = CPU_AVX512_VNNI,
	.gemm = { [DTYPE_Q8_0] = gemm_q8_0_vnni, [DTYPE_Q4_0] = gemm_q4_0_vnni, [DTYPE_Q5_0] = gemm_q5_0_vnni,
		  [DTYPE_Q4_K] = gemm_q4_K_vnni, [DTYPE_Q5_K] = gemm_q5_K_vnni, [DTYPE_Q6_K] = gemm_q6_K_vnni },
};

/* qgemm_avx2.c - the AVX2 level of qgemm.h: a 16-row panel held as two
 * 256-bit halves, up to MR activation rows per weight load; Q8_0 as int16
 * pairs (VPMADDWD, exact for signed values), the types with codes of at
 * most 6 bits as bytes (VPMADDUBSW).  Per block the float work is the
 * scalar level's, the product kept apart from the add (ROUNDED) so that
 * no fused multiply-add changes the rounding. */
#include "qgemm_impl.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "quant_impl.h"

#define ROUNDED(x) __asm__("" : "+x"(x))
#define UNROLL _Pragma("GCC unroll 16")
#define INLINE static inline __attribute__((always_inline))

#define MR 4

static inline __m256i bcast4(const int8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return _mm256_set1_epi32(v);
}

INLINE void pairs_tile(const int mr, const struct qgemm_tile *tl)
{
	const size_t bb = qgemm_block_bytes(QGEMM_PAIRS);
	const int8_t *xr[MR];
	__m256 acc[MR][2];

	UNROLL for (int t = 0; t < mr; t++)
	{
		xr[t] = tl->xq + t * tl->xq_row;
		acc[t][0] = acc[t][1] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < tl->nb; b++) {
		const uint8_t *blk = tl->panel + (size_t)b * bb;
		__m256i s[MR][2];
		__m256 dw0 = _mm256_load_ps((const float *)(const void *)blk);
		__m256 dw1 = _mm256_load_ps((const float *)(const void *)(blk + 32));

		UNROLL for (int t = 0; t < mr; t++)
			s[t][0] = s[t][1] = _mm256_setzero_si256();
		UNROLL for (int k = 0; k < 16; k++)
		{
			__m256i w0 = _mm256_load_si256((const void *)(blk + 64 + 64 * k));
			__m256i w1 = _mm256_load_si256((const void *)(blk + 96 + 64 * k));

			UNROLL for (int t = 0; t < mr; t++)
			{
				__m256i xv = bcast4(xr[t] + b * tl->xq_block + 4 * k);

				s[t][0] = _mm256_add_epi32(s[t][0], _mm256_madd_epi16(w0, xv));
				s[t][1] = _mm256_add_epi32(s[t][1], _mm256_madd_epi16(w1, xv));
			}
		}
		UNROLL for (int t = 0; t < mr; t++)
		{
			__m256 dx = _mm256_set1_ps(tl->xb[t * tl->nb + b].d);
			__m256 p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(s[t][0]), _mm256_mul_ps(dw0, dx));
			__m256 p1 = _mm256_mul_ps(_mm256_cvtepi32_ps(s[t][1]), _mm256_mul_ps(dw1, dx));

			ROUNDED(p0);
			ROUNDED(p1);
			acc[t][0] = _mm256_add_ps(acc[t][0], p0);
			acc[t][1] = _mm256_add_ps(acc[t][1], p1);
		}
	}
	UNROLL for (int t = 0; t < mr; t++)
	{
		float out[16];

		_mm256_storeu_ps(out, acc[t][0]);
		_mm256_storeu_ps(out + 8, acc[t][1]);
		memcpy(tl->y + t * tl->ldy, out, (size_t)tl->n_valid * sizeof(float));
	}
}

static void micro_pairs(int mr, const struct qgemm_tile *tl)
{
	switch (mr) {
	case 4: pairs_tile(4, tl); break;
	case 3: pairs_tile(3, tl); break;
	case 2: pairs_tile(2, tl); break;
	default: pairs_tile(1, tl); break;
	}
}

/* K types: the super-block's int16 level * scale pairs and, for Q4_K and
 * Q5_K, the mins against the bsums pairs; float work as quant.c's
 * vec_dot_q4_K / q6_K: (d_x d_w) isum - (d_x dmin_w) summs. */
INLINE void pairs_k_tile(const int mr, const int q6, const struct qgemm_tile *tl)
{
	const size_t bb = qgemm_kblock_bytes(QGEMM_PAIRS);
	const int8_t *xr[MR];
	__m256 acc[MR][2];

	UNROLL for (int t = 0; t < mr; t++)
	{
		xr[t] = tl->xq + t * tl->xq_row;
		acc[t][0] = acc[t][1] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < tl->nb; b++) {
		const uint8_t *blk = tl->panel + (size_t)b * bb;
		__m256i isum[MR][2], summs[MR][2];

		UNROLL for (int t = 0; t < mr; t++)
			isum[t][0] = isum[t][1] = summs[t][0] = summs[t][1] = _mm256_setzero_si256();
		_Pragma("GCC unroll 4") for (int k = 0; k < QGEMM_QK_K / 2; k++)
		{
			__m256i w0 = _mm256_load_si256((const void *)(blk + QGEMM_K_CODES + 64 * k));
			__m256i w1 = _mm256_load_si256((const void *)(blk + QGEMM_K_CODES + 32 + 64 * k));

			UNROLL for (int t = 0; t < mr; t++)
			{
				__m256i xv = bcast4(xr[t] + b * tl->xq_block + 4 * k);

				isum[t][0] = _mm256_add_epi32(isum[t][0], _mm256_madd_epi16(w0, xv));
				isum[t][1] = _mm256_add_epi32(isum[t][1], _mm256_madd_epi16(w1, xv));
			}
		}
		if (!q6)
			UNROLL for (int j = 0; j < 8; j++)
			{
				__m256i p0 = _mm256_load_si256((const void *)(blk + 128 + 64 * j));
				__m256i p1 = _mm256_load_si256((const void *)(blk + 160 + 64 * j));

				UNROLL for (int t = 0; t < mr; t++)
				{
					__m256i bs = bcast4((const int8_t *)(tl->xraw + t * tl->xraw_row +
									   b * sizeof(struct block_q8_K) +
									   offsetof(struct block_q8_K, bsums)) + 4 * j);

					summs[t][0] = _mm256_add_epi32(summs[t][0], _mm256_madd_epi16(p0, bs));
					summs[t][1] = _mm256_add_epi32(summs[t][1], _mm256_madd_epi16(p1, bs));
				}
			}
		UNROLL for (int h = 0; h < 2; h++)
		{
			__m256 dw = _mm256_load_ps((const float *)(const void *)(blk + 32 * h));
			__m256 dm = _mm256_load_ps((const float *)(const void *)(blk + 64 + 32 * h));

			UNROLL for (int t = 0; t < mr; t++)
			{
				__m256 dx = _mm256_set1_ps(tl->xb[t * tl->nb + b].d);
				__m256 p1 = _mm256_mul_ps(_mm256_mul_ps(dx, dw), _mm256_cvtepi32_ps(isum[t][h]));

				ROUNDED(p1);
				if (q6) {
					acc[t][h] = _mm256_add_ps(acc[t][h], p1);
				} else {
					__m256 p2 = _mm256_mul_ps(_mm256_mul_ps(dx, dm), _mm256_cvtepi32_ps(summs[t][h]));

					ROUNDED(p2);
					acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_sub_ps(p1, p2));
				}
			}
		}
	}
	UNROLL for (int t = 0; t < mr; t++)
	{
		float out[16];

		_mm256_storeu_ps(out, acc[t][0]);
		_mm256_storeu_ps(out + 8, acc[t][1]);
		memcpy(tl->y + t * tl->ldy, out, (size_t)tl->n_valid * sizeof(float));
	}
}

static void micro_pairs_k(int mr, const struct qgemm_tile *tl)
{
	int q6 = tl->type == DTYPE_Q6_K;

	switch (mr) {
	case 4: q6 ? pairs_k_tile(4, 1, tl) : pairs_k_tile(4, 0, tl); break;
	case 3: q6 ? pairs_k_tile(3, 1, tl) : pairs_k_tile(3, 0, tl); break;
	case 2: q6 ? pairs_k_tile(2, 1, tl) : pairs_k_tile(2, 0, tl); break;
	default: q6 ? pairs_k_tile(1, 1, tl) : pairs_k_tile(1, 0, tl); break;
	}
}

/* ---- unsigned codes of at most 6 bits: bytes (QUADS) ----
 *
 * VPMADDUBSW multiplies the unsigned codes with the signed activations
 * into int16 pairs; with codes <= 63 and |x| <= 127 (Q8_0 and Q8_K
 * codes never reach -128) two steps' pairs add to at most
 * 2 * 2 * 63 * 127 = 32004, so they are summed in int16 before VPMADDWD
 * widens them: exact.  Q8_0 weights (codes up to 255) stay in PAIRS. */

/* One pair of steps (8 elements) of a 16-row panel against one
 * activation row, added to S (two halves, int32). */
static inline void quads_2steps(__m256i s[2], const uint8_t *codes, const int8_t *x)
{
	const __m256i ones = _mm256_set1_epi16(1);
	__m256i xa = bcast4(x), xb = bcast4(x + 4);

	UNROLL for (int h = 0; h < 2; h++)
	{
		__m256i wa = _mm256_load_si256((const void *)(codes + 32 * h));
		__m256i wb = _mm256_load_si256((const void *)(codes + 64 + 32 * h));
		__m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(wa, xa), _mm256_maddubs_epi16(wb, xb));

		s[h] = _mm256_add_epi32(s[h], _mm256_madd_epi16(p, ones));
	}
}

INLINE void quads_tile(const int mr, const struct qgemm_tile *tl)
{
	const size_t bb = qgemm_block_bytes(QGEMM_QUADS);
	const int8_t *xr[MR];
	__m256 acc[MR][2];

	UNROLL for (int t = 0; t < mr; t++)
	{
		xr[t] = tl->xq + t * tl->xq_row;
		acc[t][0] = acc[t][1] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < tl->nb; b++) {
		const uint8_t *blk = tl->panel + (size_t)b * bb;
		__m256i s[MR][2];
		__m256 dw0 = _mm256_load_ps((const float *)(const void *)blk);
		__m256 dw1 = _mm256_load_ps((const float *)(const void *)(blk + 32));

		UNROLL for (int t = 0; t < mr; t++)
			s[t][0] = s[t][1] = _mm256_set1_epi32(tl->xb[t * tl->nb + b].corr);
		UNROLL for (int k = 0; k < 8; k += 2)
			UNROLL for (int t = 0; t < mr; t++)
				quads_2steps(s[t], blk + 64 + 64 * k, xr[t] + b * tl->xq_block + 4 * k);
		UNROLL for (int t = 0; t < mr; t++)
		{
			__m256 dx = _mm256_set1_ps(tl->xb[t * tl->nb + b].d);
			__m256 p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(s[t][0]), _mm256_mul_ps(dw0, dx));
			__m256 p1 = _mm256_mul_ps(_mm256_cvtepi32_ps(s[t][1]), _mm256_mul_ps(dw1, dx));

			ROUNDED(p0);
			ROUNDED(p1);
			acc[t][0] = _mm256_add_ps(acc[t][0], p0);
			acc[t][1] = _mm256_add_ps(acc[t][1], p1);
		}
	}
	UNROLL for (int t = 0; t < mr; t++)
	{
		float out[16];

		_mm256_storeu_ps(out, acc[t][0]);
		_mm256_storeu_ps(out + 8, acc[t][1]);
		memcpy(tl->y + t * tl->ldy, out, (size_t)tl->n_valid * sizeof(float));
	}
}

static void micro_quads(int mr, const struct qgemm_tile *tl)
{
	switch (mr) {
	case 4: quads_tile(4, tl); break;
	case 3: quads_tile(3, tl); break;
	case 2: quads_tile(2, tl); break;
	default: quads_tile(1, tl); break;
	}
}

/* K types: per scale group the exact byte products, times the group's
 * scale (VPMULLD); the bsums pairs by VPMADDWD; Q6_K's +32 share off isum. */
INLINE void quads_k_tile(const int mr, const int q6, const struct qgemm_tile *tl)
{
	const size_t bb = qgemm_kblock_bytes(QGEMM_QUADS);
	const int steps = q6 ? 4 : 8, groups = q6 ? 16 : 8;
	const int8_t *xr[MR];
	__m256 acc[MR][2];

	UNROLL for (int t = 0; t < mr; t++)
	{
		xr[t] = tl->xq + t * tl->xq_row;
		acc[t][0] = acc[t][1] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < tl->nb; b++) {
		const uint8_t *blk = tl->panel + (size_t)b * bb;
		__m256i isum[MR][2], summs[MR][2];

		UNROLL for (int t = 0; t < mr; t++)
			isum[t][0] = isum[t][1] = summs[t][0] = summs[t][1] = _mm256_setzero_si256();
		for (int g = 0; g < groups; g++) {
			__m256i a[MR][2];

			UNROLL for (int t = 0; t < mr; t++)
				a[t][0] = a[t][1] = _mm256_setzero_si256();
			UNROLL for (int k = 0; k < steps; k += 2)
				UNROLL for (int t = 0; t < mr; t++)
					quads_2steps(a[t], blk + QGEMM_K_CODES + 64 * (g * steps + k),
						     xr[t] + b * tl->xq_block + 4 * (g * steps + k));
			UNROLL for (int h = 0; h < 2; h++)
			{
				__m256i sc = _mm256_load_si256((const void *)(blk + 640 + 64 * g + 32 * h));

				UNROLL for (int t = 0; t < mr; t++)
					isum[t][h] = _mm256_add_epi32(isum[t][h], _mm256_mullo_epi32(a[t][h], sc));
			}
		}
		UNROLL for (int j = 0; j < 8; j++)
		{
			__m256i p0 = _mm256_load_si256((const void *)(blk + 128 + 64 * j));
			__m256i p1 = _mm256_load_si256((const void *)(blk + 160 + 64 * j));

			UNROLL for (int t = 0; t < mr; t++)
			{
				__m256i bs = bcast4((const int8_t *)(tl->xraw + t * tl->xraw_row +
								   b * sizeof(struct block_q8_K) +
								   offsetof(struct block_q8_K, bsums)) + 4 * j);

				summs[t][0] = _mm256_add_epi32(summs[t][0], _mm256_madd_epi16(p0, bs));
				summs[t][1] = _mm256_add_epi32(summs[t][1], _mm256_madd_epi16(p1, bs));
			}
		}
		UNROLL for (int h = 0; h < 2; h++)
		{
			__m256 dw = _mm256_load_ps((const float *)(const void *)(blk + 32 * h));
			__m256 dm = _mm256_load_ps((const float *)(const void *)(blk + 64 + 32 * h));

			UNROLL for (int t = 0; t < mr; t++)
			{
				__m256 dx = _mm256_set1_ps(tl->xb[t * tl->nb + b].d);
				__m256i is = q6 ? _mm256_sub_epi32(isum[t][h], summs[t][h]) : isum[t][h];
				__m256 p1 = _mm256_mul_ps(_mm256_mul_ps(dx, dw), _mm256_cvtepi32_ps(is));

				ROUNDED(p1);
				if (q6) {
					acc[t][h] = _mm256_add_ps(acc[t][h], p1);
				} else {
					__m256 p2 = _mm256_mul_ps(_mm256_mul_ps(dx, dm), _mm256_cvtepi32_ps(summs[t][h]));

					ROUNDED(p2);
					acc[t][h] = _mm256_add_ps(acc[t][h], _mm256_sub_ps(p1, p2));
				}
			}
		}
	}
	UNROLL for (int t = 0; t < mr; t++)
	{
		float out[16];

		_mm256_storeu_ps(out, acc[t][0]);
		_mm256_storeu_ps(out + 8, acc[t][1]);
		memcpy(tl->y + t * tl->ldy, out, (size_t)tl->n_valid * sizeof(float));
	}
}

static void micro_quads_k(int mr, const struct qgemm_tile *tl)
{
	int q6 = tl->type == DTYPE_Q6_K;

	switch (mr) {
	case 4: q6 ? quads_k_tile(4, 1, tl) : quads_k_tile(4, 0, tl); break;
	case 3: q6 ? quads_k_tile(3, 1, tl) : quads_k_tile(3, 0, tl); break;
	case 2: q6 ? quads_k_tile(2, 1, tl) : quads_k_tile(2, 0, tl); break;
	default: q6 ? quads_k_tile(1, 1, tl) : quads_k_tile(1, 0, tl); break;
	}
}

/* Q8_0 in int16 pairs; the types whose codes fit 6 bits in bytes. */
static const struct qgemm_level level_pairs = { QGEMM_PAIRS, MR, micro_pairs, micro_pairs_k };
static const struct qgemm_level level_quads = { QGEMM_QUADS, MR, micro_quads, micro_quads_k };

#define BLOCKED(name, lvl, type)                                                                       \
	static void name(int64_t n, const void *w, size_t w_row, int64_t n_out, const void *x, size_t x_row, \
			 int64_t n_tok, float *y, size_t ldy, void *scratch)                                \
	{                                                                                              \
		qgemm_blocked_run(&(lvl), type, n, w, w_row, n_out, x, x_row, n_tok, y, ldy, scratch);     \
	}

BLOCKED(gemm_q8_0, level_pairs, DTYPE_Q8_0)
BLOCKED(gemm_q4_0, level_quads, DTYPE_Q4_0)
BLOCKED(gemm_q5_0, level_quads, DTYPE_Q5_0)
BLOCKED(gemm_q4_K, level_quads, DTYPE_Q4_K)
BLOCKED(gemm_q5_K, level_quads, DTYPE_Q5_K)
BLOCKED(gemm_q6_K, level_quads, DTYPE_Q6_K)

const struct qgemm_kernels qgemm_kernels_avx2 = {
	.level = CPU_AVX2,
	.gemm = { [DTYPE_Q8_0] = gemm_q8_0, [DTYPE_Q4_0] = gemm_q4_0, [DTYPE_Q5_0] = gemm_q5_0,
		  [DTYPE_Q4_K] = gemm_q4_K, [DTYPE_Q5_K] = gemm_q5_K, [DTYPE_Q6_K] = gemm_q6_K },
};

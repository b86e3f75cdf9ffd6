/* qgemm.c - the scalar level of qgemm.h, the weight packing and the driver
 * every level shares, and dispatch.
 *
 * The scalar level is the reference: for the blocked types (Q8_0, Q4_0,
 * Q5_0, Q4_K, Q5_K, Q6_K) it runs the driver with plain C micro-kernels
 * (so the packing is checked on any CPU), for the other types one scalar
 * quant vec_dot per output. */
#include "qgemm_impl.h"

#include <pthread.h>
#include <string.h>

#include "half.h"
#include "quant.h"
#include "quant_impl.h"

/* What QUADS adds to a value to make its code unsigned: the type's zero
 * level (Q4_0 8, Q5_0 16), or 128 for Q8_0's signed bytes. */
static int quad_offset(enum dtype type)
{
	return type == DTYPE_Q8_0 ? 128 : type == DTYPE_Q4_0 ? 8 : 16;
}

static size_t block_size(enum dtype type)
{
	return type == DTYPE_Q8_0 ? sizeof(struct block_q8_0) :
	       type == DTYPE_Q4_0 ? sizeof(struct block_q4_0) : sizeof(struct block_q5_0);
}

static uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Bits 0..3 of N as bit 4 of bytes 0..3 (Q5_0's fifth bits of 4 elements). */
static uint32_t spread4(uint32_t n)
{
	return (((n & 0xF) * 0x00204081u) & 0x01010101u) << 4;
}

/* The QUADS codes (value + quad_offset) of one block as 8 little-endian
 * words, word k = elements 4k..4k+3; returns the block's scale. */
static float block_quads(enum dtype type, const uint8_t *blk, uint32_t q[8])
{
	uint16_t d;
	int k;

	memcpy(&d, blk, 2);
	if (type == DTYPE_Q8_0) {
		for (k = 0; k < 8; k++)
			q[k] = load32(blk + 2 + 4 * k) ^ 0x80808080u;
	} else if (type == DTYPE_Q4_0) {
		for (k = 0; k < 4; k++) {
			uint32_t v = load32(blk + 2 + 4 * k);

			q[k] = v & 0x0F0F0F0Fu;
			q[k + 4] = (v >> 4) & 0x0F0F0F0Fu;
		}
	} else {
		uint32_t qh = load32(blk + 2);

		for (k = 0; k < 4; k++) {
			uint32_t v = load32(blk + 6 + 4 * k);

			q[k] = (v & 0x0F0F0F0Fu) | spread4(qh >> (4 * k));
			q[k + 4] = ((v >> 4) & 0x0F0F0F0Fu) | spread4(qh >> (16 + 4 * k));
		}
	}
	return f16_to_f32(d);
}

static void pack_panel(enum dtype type, enum qgemm_form form, int64_t nb, const uint8_t *w, size_t w_row,
		       int rows, uint8_t *dst)
{
	size_t bb = qgemm_block_bytes(form), bs = block_size(type);
	int off = quad_offset(type);

	for (int64_t b = 0; b < nb; b++) {
		uint8_t *blk = dst + (size_t)b * bb;
		float dw[QGEMM_NR] = { 0 };
		uint32_t q[8];

		for (int o = 0; o < QGEMM_NR; o++) {
			if (o < rows)
				dw[o] = block_quads(type, w + (size_t)o * w_row + (size_t)b * bs, q);
			else
				memset(q, 0, sizeof(q));
			if (form == QGEMM_QUADS) {
				for (int k = 0; k < 8; k++)
					memcpy(blk + 64 + 64 * k + 4 * o, &q[k], 4);
			} else {
				int16_t *p = (int16_t *)(void *)(blk + 64);

				for (int e = 0; e < QGEMM_QK; e++)
					p[((e / 2) * QGEMM_NR + o) * 2 + e % 2] =
						o < rows ? (int16_t)((int)((q[e / 4] >> (8 * (e % 4))) & 0xFF) - off) : 0;
			}
		}
		memcpy(blk, dw, sizeof(dw));
	}
}

/* One K super-block of one row: the QUADS code words (word k = elements
 * 4k..4k+3, unsigned levels), the group scales (8 of 32 elements or 16 of
 * 16), the bsums-pair weights and d, dmin; element order as quant.c's
 * vec_dot_q4_K / q5_K / q6_K unpack it. */
static void superblock_quads(enum dtype type, const uint8_t *blk, uint32_t q[64], int32_t sc[16],
			     int16_t pairs[8][2], float *d, float *dmin)
{
	if (type == DTYPE_Q6_K) {
		const struct block_q6_K *b = (const void *)blk;

		/* element 128c + 32g + l: nibble g >> 1 of ql[64c + 32(g & 1) + l],
		 * bits 2g of qh[32c + l] above it */
		for (int c = 0; c < 2; c++)
			for (int g = 0; g < 4; g++)
				for (int k = 0; k < 8; k++) {
					uint32_t lo = (load32(b->ql + 64 * c + 32 * (g & 1) + 4 * k) >> (4 * (g >> 1))) &
						      0x0F0F0F0Fu;
					uint32_t hi = (load32(b->qh + 32 * c + 4 * k) >> (2 * g)) & 0x03030303u;

					q[32 * c + 8 * g + k] = lo | hi << 4;
				}
		for (int g = 0; g < 16; g++)
			sc[g] = b->scales[g];
		for (int j = 0; j < 8; j++) {
			pairs[j][0] = (int16_t)(32 * b->scales[2 * j]);
			pairs[j][1] = (int16_t)(32 * b->scales[2 * j + 1]);
		}
		*d = f16_to_f32(b->d);
		*dmin = 0;
	} else {
		const struct block_q5_K *b5 = (const void *)blk;
		const struct block_q4_K *b4 = (const void *)blk;
		const uint8_t *qs = type == DTYPE_Q5_K ? b5->qs : b4->qs;
		uint8_t s8[8], m8[8];

		/* element 32G + l: nibble G & 1 of qs[32(G >> 1) + l], for Q5_K
		 * bit G of qh[l] worth 16 */
		for (int G = 0; G < 8; G++)
			for (int k = 0; k < 8; k++) {
				uint32_t v = (load32(qs + 32 * (G >> 1) + 4 * k) >> (4 * (G & 1))) & 0x0F0F0F0Fu;

				if (type == DTYPE_Q5_K)
					v |= ((load32(b5->qh + 4 * k) >> G) & 0x01010101u) << 4;
				q[8 * G + k] = v;
			}
		quant_unpack_k4(b4->scales, s8, m8);   /* same offset in both blocks */
		for (int g = 0; g < 8; g++) {
			sc[g] = s8[g];
			sc[g + 8] = 0;
			pairs[g][0] = pairs[g][1] = m8[g];
		}
		*d = f16_to_f32(b4->d);
		*dmin = f16_to_f32(b4->dmin);
	}
}

static size_t k_block_size(enum dtype type)
{
	return type == DTYPE_Q4_K ? sizeof(struct block_q4_K) :
	       type == DTYPE_Q5_K ? sizeof(struct block_q5_K) : sizeof(struct block_q6_K);
}

static void pack_panel_k(enum dtype type, enum qgemm_form form, int64_t nb, const uint8_t *w, size_t w_row,
			 int rows, uint8_t *dst)
{
	size_t bb = qgemm_kblock_bytes(form), bs = k_block_size(type);
	/* elements per scale group: 32 (Q4_K, Q5_K) or 16 (Q6_K) */
	int gsize = type == DTYPE_Q6_K ? 16 : 32, off = type == DTYPE_Q6_K ? 32 : 0;

	for (int64_t b = 0; b < nb; b++) {
		uint8_t *blk = dst + (size_t)b * bb;
		int16_t *pairs = (int16_t *)(void *)(blk + 128);
		int32_t *scales = (int32_t *)(void *)(blk + 640);
		float dw[QGEMM_NR] = { 0 }, dm[QGEMM_NR] = { 0 };

		for (int o = 0; o < QGEMM_NR; o++) {
			uint32_t q[64] = { 0 };
			int32_t sc[16] = { 0 };
			int16_t pr[8][2] = { { 0 } };

			if (o < rows)
				superblock_quads(type, w + (size_t)o * w_row + (size_t)b * bs, q, sc, pr, &dw[o], &dm[o]);
			for (int j = 0; j < 8; j++) {
				pairs[(j * QGEMM_NR + o) * 2] = pr[j][0];
				pairs[(j * QGEMM_NR + o) * 2 + 1] = pr[j][1];
			}
			for (int g = 0; g < 16; g++)
				scales[g * QGEMM_NR + o] = sc[g];
			if (form == QGEMM_QUADS) {
				for (int k = 0; k < 64; k++)
					memcpy(blk + QGEMM_K_CODES + 64 * k + 4 * o, &q[k], 4);
			} else {
				int16_t *p = (int16_t *)(void *)(blk + QGEMM_K_CODES);

				for (int e = 0; e < QGEMM_QK_K; e++) {
					int v = (int)((q[e / 4] >> (8 * (e % 4))) & 0xFF) - (o < rows ? off : 0);

					p[((e / 2) * QGEMM_NR + o) * 2 + e % 2] = (int16_t)(v * sc[e / gsize]);
				}
			}
		}
		memcpy(blk, dw, sizeof(dw));
		memcpy(blk + 64, dm, sizeof(dm));
	}
}

/* Scales (and QUADS corrections) of TC activation rows, and for PAIRS
 * their codes widened to int16.  OFF < 0: Q8_K rows (K types). */
static void prep_rows(const struct qgemm_level *level, int off, int64_t nb, const uint8_t *x, size_t x_row,
		      int64_t tc, struct qgemm_xblock *xb, int16_t *x16)
{
	for (int64_t t = 0; t < tc && off < 0; t++) {
		const struct block_q8_K *row = (const void *)(x + (size_t)t * x_row);

		for (int64_t b = 0; b < nb; b++) {
			xb[t * nb + b].corr = 0;
			xb[t * nb + b].d = row[b].d;
			if (level->form == QGEMM_PAIRS)
				for (int j = 0; j < QK_K; j++)
					x16[(t * nb + b) * QK_K + j] = row[b].qs[j];
		}
	}
	for (int64_t t = 0; t < tc && off >= 0; t++) {
		const struct block_q8_0 *row = (const void *)(x + (size_t)t * x_row);

		for (int64_t b = 0; b < nb; b++) {
			struct qgemm_xblock *o = &xb[t * nb + b];
			int sum = 0, j;

			for (j = 0; j < QK8_0; j++)
				sum += row[b].qs[j];
			o->corr = level->form == QGEMM_QUADS ? -off * sum : 0;
			o->d = f16_to_f32(row[b].d);
			if (level->form == QGEMM_PAIRS)
				for (j = 0; j < QK8_0; j++)
					x16[(t * nb + b) * QGEMM_QK + j] = row[b].qs[j];
		}
	}
}

void qgemm_blocked_run(const struct qgemm_level *level, enum dtype type, int64_t n, const void *w, size_t w_row,
		       int64_t n_out, const void *x, size_t x_row, int64_t n_tok, float *y, size_t ldy,
		       void *scratch)
{
	int k = qgemm_is_k(type);
	int64_t qk = k ? QGEMM_QK_K : QGEMM_QK, nb = n / qk, np = (n_out + QGEMM_NR - 1) / QGEMM_NR;
	size_t pb = (size_t)nb * (k ? qgemm_kblock_bytes(level->form) : qgemm_block_bytes(level->form));
	uint8_t *panels = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
	struct qgemm_xblock *xb = (void *)(panels + (size_t)np * pb);
	int16_t *x16 = (void *)(xb + QGEMM_TC * nb);
	struct qgemm_tile tile = { .type = type, .nb = nb, .xraw_row = x_row, .ldy = ldy };
	size_t xq_off = k ? offsetof(struct block_q8_K, qs) : offsetof(struct block_q8_0, qs);
	qgemm_micro_fn *micro = k ? level->micro_k : level->micro;

	for (int64_t p = 0; p < np; p++)
		(k ? pack_panel_k : pack_panel)(type, level->form, nb, (const uint8_t *)w + (size_t)p * QGEMM_NR * w_row,
						w_row, (int)(n_out - p * QGEMM_NR < QGEMM_NR ? n_out - p * QGEMM_NR : QGEMM_NR),
						panels + (size_t)p * pb);
	if (level->form == QGEMM_QUADS) {
		tile.xq_row = x_row;
		tile.xq_block = k ? sizeof(struct block_q8_K) : sizeof(struct block_q8_0);
	} else {
		tile.xq_row = (size_t)n * sizeof(int16_t);
		tile.xq_block = (size_t)qk * sizeof(int16_t);
	}
	for (int64_t t0 = 0; t0 < n_tok; t0 += QGEMM_TC) {
		int64_t tc = n_tok - t0 < QGEMM_TC ? n_tok - t0 : QGEMM_TC;
		const uint8_t *xc = (const uint8_t *)x + (size_t)t0 * x_row;

		prep_rows(level, k ? -1 : quad_offset(type), nb, xc, x_row, tc, xb, x16);
		for (int64_t p = 0; p < np; p++) {
			tile.panel = panels + (size_t)p * pb;
			tile.n_valid = (int)(n_out - p * QGEMM_NR < QGEMM_NR ? n_out - p * QGEMM_NR : QGEMM_NR);
			for (int64_t t = 0; t < tc; t += level->mr_max) {
				int mr = (int)(tc - t < level->mr_max ? tc - t : level->mr_max);

				if (level->form == QGEMM_QUADS)
					tile.xq = (const int8_t *)(xc + (size_t)t * x_row + xq_off);
				else
					tile.xq = (const int8_t *)(x16 + t * n);
				tile.xraw = xc + (size_t)t * x_row;
				tile.xb = xb + t * nb;
				tile.y = y + (size_t)(t0 + t) * ldy + p * QGEMM_NR;
				micro(mr, &tile);
			}
		}
	}
}

size_t qgemm_scratch_size(enum dtype type, int64_t n, int64_t n_out)
{
	int k = qgemm_is_k(type);
	int64_t nb = n / (k ? QGEMM_QK_K : QGEMM_QK), np = (n_out + QGEMM_NR - 1) / QGEMM_NR;

	return 64 + (size_t)np * (size_t)nb * (k ? qgemm_kblock_bytes(QGEMM_PAIRS) : qgemm_block_bytes(QGEMM_PAIRS)) +
	       QGEMM_TC * (size_t)nb * sizeof(struct qgemm_xblock) + QGEMM_TC * (size_t)n * sizeof(int16_t);
}

/* ---- scalar level ---- */

/* The reference order: per block, the exact integer sum, then
 * sum += (float)sumi * (d_w * d_x) as quant.c's vec_dot_q8_0 does. */
static void micro_scalar(int mr, const struct qgemm_tile *tl)
{
	size_t bb = qgemm_block_bytes(QGEMM_PAIRS);

	for (int t = 0; t < mr; t++) {
		float acc[QGEMM_NR] = { 0 };

		for (int64_t b = 0; b < tl->nb; b++) {
			const uint8_t *blk = tl->panel + (size_t)b * bb;
			const int16_t *q = (const int16_t *)(const void *)(blk + 64);
			const int16_t *xv = (const int16_t *)(const void *)(tl->xq + t * tl->xq_row + b * tl->xq_block);
			const struct qgemm_xblock *xi = &tl->xb[t * tl->nb + b];

			for (int o = 0; o < QGEMM_NR; o++) {
				int32_t s = xi->corr;
				float dw;

				memcpy(&dw, blk + o * sizeof(float), sizeof(dw));
				for (int k = 0; k < QGEMM_QK / 2; k++)
					s += q[(k * QGEMM_NR + o) * 2] * xv[2 * k] + q[(k * QGEMM_NR + o) * 2 + 1] * xv[2 * k + 1];
				acc[o] += (float)s * (dw * xi->d);
			}
		}
		memcpy(tl->y + t * tl->ldy, acc, (size_t)tl->n_valid * sizeof(float));
	}
}

/* K types, quant.c's order: per super-block the exact integer sums, then
 * sum += d_x * d_w * (float)isum - d_x * dmin_w * (float)summs (Q4_K,
 * Q5_K; the Q6_K offset's share comes off isum, exactly, instead). */
static void micro_scalar_k(int mr, const struct qgemm_tile *tl)
{
	size_t bb = qgemm_kblock_bytes(QGEMM_PAIRS);
	int q6 = tl->type == DTYPE_Q6_K;

	for (int t = 0; t < mr; t++) {
		float acc[QGEMM_NR] = { 0 };

		for (int64_t b = 0; b < tl->nb; b++) {
			const uint8_t *blk = tl->panel + (size_t)b * bb;
			const int16_t *pairs = (const int16_t *)(const void *)(blk + 128);
			const int16_t *q = (const int16_t *)(const void *)(blk + QGEMM_K_CODES);
			const int16_t *xv = (const int16_t *)(const void *)(tl->xq + t * tl->xq_row + b * tl->xq_block);
			const struct block_q8_K *xk = (const void *)(tl->xraw + t * tl->xraw_row);
			float dx = tl->xb[t * tl->nb + b].d;

			for (int o = 0; o < QGEMM_NR; o++) {
				int32_t isum = 0, summs = 0;
				float dw, dm;

				memcpy(&dw, blk + o * sizeof(float), sizeof(dw));
				memcpy(&dm, blk + 64 + o * sizeof(float), sizeof(dm));
				for (int e = 0; e < QGEMM_QK_K / 2; e++)
					isum += q[(e * QGEMM_NR + o) * 2] * xv[2 * e] + q[(e * QGEMM_NR + o) * 2 + 1] * xv[2 * e + 1];
				for (int j = 0; j < 8; j++)
					summs += pairs[(j * QGEMM_NR + o) * 2] * xk[b].bsums[2 * j] +
						 pairs[(j * QGEMM_NR + o) * 2 + 1] * xk[b].bsums[2 * j + 1];
				if (q6)
					acc[o] += dx * dw * (float)isum;
				else
					acc[o] += dx * dw * (float)isum - dx * dm * (float)summs;
			}
		}
		memcpy(tl->y + t * tl->ldy, acc, (size_t)tl->n_valid * sizeof(float));
	}
}

static const struct qgemm_level level_scalar = { QGEMM_PAIRS, 4, micro_scalar, micro_scalar_k };

#define BLOCKED(name, lvl, type)                                                                       \
	static void name(int64_t n, const void *w, size_t w_row, int64_t n_out, const void *x, size_t x_row, \
			 int64_t n_tok, float *y, size_t ldy, void *scratch)                                \
	{                                                                                              \
		qgemm_blocked_run(&(lvl), type, n, w, w_row, n_out, x, x_row, n_tok, y, ldy, scratch);     \
	}

BLOCKED(gemm_q8_0, level_scalar, DTYPE_Q8_0)
BLOCKED(gemm_q4_0, level_scalar, DTYPE_Q4_0)
BLOCKED(gemm_q5_0, level_scalar, DTYPE_Q5_0)
BLOCKED(gemm_q4_K, level_scalar, DTYPE_Q4_K)
BLOCKED(gemm_q5_K, level_scalar, DTYPE_Q5_K)
BLOCKED(gemm_q6_K, level_scalar, DTYPE_Q6_K)

/* One scalar vec_dot per output: every other quant type. */
static void rows_by_dot(enum dtype type, int64_t n, const void *w, size_t w_row, int64_t n_out, const void *x,
			size_t x_row, int64_t n_tok, float *y, size_t ldy)
{
	quant_vec_dot_fn *dot = quant_kernels_at(CPU_SCALAR)->vec_dot[type];

	for (int64_t t = 0; t < n_tok; t++)
		for (int64_t o = 0; o < n_out; o++)
			y[t * ldy + o] = dot(n, (const char *)w + o * w_row, (const char *)x + t * x_row);
}

#define BY_DOT(name, type)                                                                             \
	static void name(int64_t n, const void *w, size_t w_row, int64_t n_out, const void *x, size_t x_row, \
			 int64_t n_tok, float *y, size_t ldy, void *scratch)                                \
	{                                                                                              \
		(void)scratch;                                                                         \
		rows_by_dot(type, n, w, w_row, n_out, x, x_row, n_tok, y, ldy);                        \
	}

BY_DOT(gemm_f32, DTYPE_F32)
BY_DOT(gemm_f16, DTYPE_F16)
BY_DOT(gemm_bf16, DTYPE_BF16)
BY_DOT(gemm_q4_1, DTYPE_Q4_1)
BY_DOT(gemm_q5_1, DTYPE_Q5_1)
BY_DOT(gemm_q8_1, DTYPE_Q8_1)
BY_DOT(gemm_q2_K, DTYPE_Q2_K)
BY_DOT(gemm_q3_K, DTYPE_Q3_K)
BY_DOT(gemm_q8_K, DTYPE_Q8_K)

const struct qgemm_kernels qgemm_kernels_scalar = {
	.level = CPU_SCALAR,
	.gemm = {
		[DTYPE_F32] = gemm_f32, [DTYPE_F16] = gemm_f16, [DTYPE_BF16] = gemm_bf16,
		[DTYPE_Q4_0] = gemm_q4_0, [DTYPE_Q4_1] = gemm_q4_1, [DTYPE_Q5_0] = gemm_q5_0,
		[DTYPE_Q5_1] = gemm_q5_1, [DTYPE_Q8_0] = gemm_q8_0, [DTYPE_Q8_1] = gemm_q8_1,
		[DTYPE_Q2_K] = gemm_q2_K, [DTYPE_Q3_K] = gemm_q3_K, [DTYPE_Q4_K] = gemm_q4_K,
		[DTYPE_Q5_K] = gemm_q5_K, [DTYPE_Q6_K] = gemm_q6_K, [DTYPE_Q8_K] = gemm_q8_K,
	},
};

/* ---- dispatch ---- */

static const void *const own[CPU_LEVEL_COUNT] = {
	&qgemm_kernels_scalar,
#if defined(__x86_64__)
	&qgemm_kernels_avx2,
	&qgemm_kernels_avx512,
	&qgemm_kernels_avx512_vnni,
#endif
};
static struct qgemm_kernels merged[CPU_LEVEL_COUNT];
static const void *tables[CPU_LEVEL_COUNT];
static struct cpu_dispatch dispatch = CPU_DISPATCH_INIT(tables);
static pthread_once_t merge_once = PTHREAD_ONCE_INIT;

/* Each level's table with the gaps filled from the level below. */
static void merge_tables(void)
{
	const struct qgemm_kernels *below = NULL;

	for (int level = 0; level < CPU_LEVEL_COUNT; level++) {
		if (!own[level])
			continue;
		merged[level] = *(const struct qgemm_kernels *)own[level];
		for (int t = 0; below && t < DTYPE_COUNT; t++)
			if (!merged[level].gemm[t])
				merged[level].gemm[t] = below->gemm[t];
		tables[level] = &merged[level];
		below = &merged[level];
	}
}

const struct qgemm_kernels *qgemm_kernels_at(enum cpu_level level)
{
	return cpu_table_at(own, level);
}

const struct qgemm_kernels *qgemm_kernels(void)
{
	pthread_once(&merge_once, merge_tables);
	return cpu_dispatch(&dispatch);
}

int qgemm_blocked(enum dtype type)
{
	return type == DTYPE_Q8_0 || type == DTYPE_Q4_0 || type == DTYPE_Q5_0 || qgemm_is_k(type);
}

void qgemm(enum dtype type, int64_t n, const void *w, size_t w_row, int64_t n_out, const void *x, size_t x_row,
	   int64_t n_tok, float *y, size_t ldy, void *scratch)
{
	qgemm_kernels()->gemm[type](n, w, w_row, n_out, x, x_row, n_tok, y, ldy, scratch);
}

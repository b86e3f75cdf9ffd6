/* qgemm_impl.h - internals shared by the levels of qgemm.h: the panel
 * layout weights are re-packed into, and the driver every level runs with
 * its own micro-kernel.  Not part of the public interface.
 *
 * A panel is 16 consecutive weight rows (one 512-bit register of int32
 * lanes, two 256-bit ones), missing rows packed as zeros.  For each block
 * of 32 elements it holds the 16 rows' scales as float32 and their codes
 * in one of two forms:
 *   QGEMM_QUADS  uint8_t [8 steps][16 rows][4]: step k, row o holds the
 *                codes of elements 4k..4k+3 as value + offset (unsigned,
 *                for VPDPBUSD or VPMADDUBSW: the offset's share,
 *                offset * sum(x), is taken off per activation block);
 *   QGEMM_PAIRS  int16_t [16 steps][16 rows][2]: elements 2k, 2k+1 as
 *                signed values (for VPMADDWD against int16 activations).
 * Either way one step of one block is 64 bytes, a register's worth of 16
 * rows, and a block is its 64 bytes of scales followed by its steps.
 *
 * K types (Q4_K, Q5_K, Q6_K, against Q8_K activations) are packed per
 * super-block of 256 elements:
 *   [0, 64)      d of the 16 rows, float32
 *   [64, 128)    dmin (Q4_K, Q5_K; zeros for Q6_K)
 *   [128, 640)   int16 [8][16 rows][2], dotted with the activation's bsums
 *                pairs (bsums[2j], bsums[2j + 1]): Q4_K/Q5_K the mins
 *                (m_j, m_j) of the groups of 32, Q6_K 32 * (sc_2j, sc_2j+1)
 *                (the share of its +32 offset)
 *   [640, 1664)  int32 [16][16 rows] group scales (QUADS; Q4_K/Q5_K use 8,
 *                one per 32 elements, Q6_K 16, one per 16)
 *   [1664, ...)  codes: QUADS 64 steps of the unsigned levels (Q6_K's
 *                stored +32); PAIRS 128 steps of level * scale (signed
 *                for Q6_K), so that one VPMADDWD does both. */
#ifndef LMPIPE_QGEMM_IMPL_H
#define LMPIPE_QGEMM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "qgemm.h"

#define QGEMM_NR 16          /* rows per panel */
#define QGEMM_QK 32          /* elements per block (Q8_0, Q4_0, Q5_0) */
#define QGEMM_TC 64          /* activation rows prepared at a time */
#define QGEMM_QK_K 256       /* elements per K super-block */
#define QGEMM_K_CODES 1664   /* offset of a K super-block's codes */

enum qgemm_form { QGEMM_QUADS, QGEMM_PAIRS };

/* Per activation block: d as float32 and, for QUADS, -offset * sum(codes). */
struct qgemm_xblock {
	int32_t corr;
	float d;
};

/* One call of a micro-kernel: MR (1..mr_max) activation rows against one
 * panel of NB blocks.  Codes of row t, block b, element e are at
 * xq[t * xq_row + b * xq_block + e] (int8 for QUADS, int16 pairs for PAIRS
 * with xq_block = 64 bytes); XB holds NB blocks per row.  Writes
 * Y[t * ldy + o] for o < N_VALID. */
struct qgemm_tile {
	enum dtype type;
	int64_t nb;
	const uint8_t *panel;
	const int8_t *xq;
	size_t xq_row, xq_block;
	const struct qgemm_xblock *xb;
	const uint8_t *xraw;         /* K types: the Q8_K rows (their bsums) */
	size_t xraw_row;
	float *y;
	size_t ldy;
	int n_valid;
};

typedef void qgemm_micro_fn(int mr, const struct qgemm_tile *tile);

struct qgemm_level {
	enum qgemm_form form;
	int mr_max;
	qgemm_micro_fn *micro;       /* Q8_0, Q4_0, Q5_0 */
	qgemm_micro_fn *micro_k;     /* Q4_K, Q5_K, Q6_K */
};

/* The blocked product of qgemm_fn for TYPE (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K,
 * Q6_K) with LEVEL's micro-kernels. */
void qgemm_blocked_run(const struct qgemm_level *level, enum dtype type, int64_t n, const void *w, size_t w_row,
		       int64_t n_out, const void *x, size_t x_row, int64_t n_tok, float *y, size_t ldy,
		       void *scratch);

/* Bytes of one block of a panel, scales and codes. */
static inline size_t qgemm_block_bytes(enum qgemm_form form)
{
	return QGEMM_NR * sizeof(float) + (form == QGEMM_QUADS ? 8 : 16) * 64;
}

static inline size_t qgemm_kblock_bytes(enum qgemm_form form)
{
	return QGEMM_K_CODES + (form == QGEMM_QUADS ? 64 : 128) * 64;
}

static inline int qgemm_is_k(enum dtype type)
{
	return type == DTYPE_Q4_K || type == DTYPE_Q5_K || type == DTYPE_Q6_K;
}

/* The tables each level defines. */
extern const struct qgemm_kernels qgemm_kernels_scalar;
#if defined(__x86_64__)
extern const struct qgemm_kernels qgemm_kernels_avx2;
extern const struct qgemm_kernels qgemm_kernels_avx512;
extern const struct qgemm_kernels qgemm_kernels_avx512_vnni;
#endif

#endif

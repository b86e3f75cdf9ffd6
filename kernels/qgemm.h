/* qgemm.h - products of a quantised weight matrix with many activation
 * rows, in integer arithmetic, as llama.cpp does for a batch of tokens.
 *
 * The weights stay in their ggml type; the activation rows are converted
 * once to quant_vec_dot_type(type) (quant_from_float), and every output is
 * the dot product quant.h defines for one weight row and one activation
 * row.  Blocked kernels reuse each weight block across several tokens and
 * each activation block across 16 outputs (weights are re-laid out in the
 * caller's scratch once per call, so a call should cover many tokens).
 *
 * Results are bit for bit those of the scalar level's quant vec_dot for
 * the same row pair, at every level: the integer part of a block is exact
 * and the float part is summed block after block in the reference order
 * (Q8_0, Q4_0, Q5_0: (float)sumi * (d_w * d_x) added to the running sum;
 * Q4_K, Q5_K: d_x * d_w * (float)isum - d_x * dmin_w * (float)summs per
 * super-block; Q6_K: d_x * d_w * (float)isum), without fused
 * multiply-adds.  The SIMD quant vec_dot levels sum in other orders and
 * agree with the scalar level to rounding only, so a matrix product here
 * and a row-by-row one at a SIMD level differ by that rounding: per block
 * a few ulps of the block's term, over a row a relative error of order
 * sqrt(blocks) * 2^-24 of the sum of the terms' magnitudes.
 *
 * Types with a blocked kernel (every level): Q8_0, Q4_0, Q5_0, Q4_K,
 * Q5_K, Q6_K.  Every other quant type runs one scalar vec_dot per output,
 * which is correct but slow: callers ask qgemm_blocked() first.
 */
#ifndef LMPIPE_QGEMM_H
#define LMPIPE_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "tensor.h"

/* Y[t * ldy + o] = dot(W row o, X row t) for o < N_OUT, t < N_TOK: W rows
 * of TYPE with N elements (whole blocks), W_ROW bytes apart; X rows in
 * quant_vec_dot_type(TYPE), X_ROW bytes apart.  SCRATCH holds at least
 * qgemm_scratch_size(TYPE, N, N_OUT) bytes (any alignment). */
typedef void qgemm_fn(int64_t n, const void *w, size_t w_row, int64_t n_out, const void *x, size_t x_row,
		      int64_t n_tok, float *y, size_t ldy, void *scratch);

struct qgemm_kernels {
	enum cpu_level level;
	qgemm_fn *gemm[DTYPE_COUNT];   /* NULL where the level has no kernel */
};

/* The best level's table (entries it lacks come from the levels below, the
 * scalar level having every quant type). */
const struct qgemm_kernels *qgemm_kernels(void);
/* One level's own table, NULL when this CPU lacks the level; for tests. */
const struct qgemm_kernels *qgemm_kernels_at(enum cpu_level level);

/* 1 when the best level has a blocked kernel for TYPE (faster than
 * converting the weights to float32 for sgemm). */
int qgemm_blocked(enum dtype type);

/* Bytes of scratch qgemm needs for N_OUT rows of N elements of TYPE. */
size_t qgemm_scratch_size(enum dtype type, int64_t n, int64_t n_out);

/* qgemm_kernels()->gemm[TYPE](...); TYPE must be a quant type. */
void qgemm(enum dtype type, int64_t n, const void *w, size_t w_row, int64_t n_out, const void *x, size_t x_row,
	   int64_t n_tok, float *y, size_t ldy, void *scratch);

#endif

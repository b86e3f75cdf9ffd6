/* quant.h - ggml's weight types: dequantisation, reference quantisation and
 * dot products, at the best instruction set the CPU offers.
 *
 * Block layouts, rounding and scale choices are ggml's (ggml-common.h,
 * ggml-quants.c), so a block we write is the block llama.cpp writes for the
 * same floats and a block llama.cpp wrote decodes to the same floats here.
 *
 * Types covered ("quant types" below): F32, F16, BF16, Q4_0, Q4_1, Q5_0,
 * Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.  Row lengths N must
 * be whole blocks (dtype_block_size); callers check with dtype_row_size.
 *
 * Dot products follow ggml's scheme: a weight row of type T is multiplied
 * with an activation row already converted to quant_vec_dot_type(T) (Q8_0
 * for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K types, F16 for F16,
 * BF16 for BF16, F32 for F32), so a matrix-vector product converts the
 * vector once and reuses it for every row.  Levels sum in different orders
 * and agree to rounding; the scalar level is the reference the tests
 * compare the others with.
 */
#ifndef LMPIPE_QUANT_H
#define LMPIPE_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "tensor.h"

/* 1 for the quant types above. */
int quant_supported(enum dtype type);
/* The activation type dot products with TYPE expect; -1 if not supported. */
int quant_vec_dot_type(enum dtype type);

/* N floats from N elements of TYPE (whole blocks), as ggml's
 * dequantize_row_*.  Dispatched to the best level. */
void quant_dequantize_row(enum dtype type, const void *src, float *dst, int64_t n);

/* ggml's reference quantiser (quantize_row_*_ref, no importance matrix),
 * byte for byte: N floats (whole blocks) into blocks of TYPE at DST.
 * Always the scalar code: its output is the contract. */
void quant_quantize_row_ref(enum dtype type, const float *src, void *dst, int64_t n);
/* The same bytes as quant_quantize_row_ref, from the best level: the SIMD
 * levels repeat the reference's float operations in its order (the tests
 * compare every level with it). */
void quant_quantize_row(enum dtype type, const float *src, void *dst, int64_t n);

/* Activation conversion for dot products: N floats into DOT_TYPE (one of
 * F32, F16, BF16, Q8_0, Q8_1, Q8_K), as ggml's from_float for that type;
 * SIMD levels give the same bytes as the reference. */
void quant_from_float(enum dtype dot_type, const float *src, void *dst, int64_t n);

/* Dot product of a weight row W of TYPE with an activation row X already in
 * quant_vec_dot_type(TYPE), N elements. */
typedef float quant_vec_dot_fn(int64_t n, const void *w, const void *x);

struct quant_kernels {
	enum cpu_level level;
	quant_vec_dot_fn *vec_dot[DTYPE_COUNT];          /* NULL where unsupported */
	void (*dequantize_row[DTYPE_COUNT])(const void *src, float *dst, int64_t n);
	void (*from_float[DTYPE_COUNT])(const float *src, void *dst, int64_t n);
	/* quant_quantize_row_ref's bytes, at this level's speed */
	void (*quantize_row[DTYPE_COUNT])(const float *src, void *dst, int64_t n);
};

const struct quant_kernels *quant_kernels(void);
/* One level's kernels (NULL when this CPU lacks the level or it has none
 * of its own); tests compare each with the scalar level. */
const struct quant_kernels *quant_kernels_at(enum cpu_level level);

/* Y[r] = dot(row r of W, X) for rows [R0, R1) of a matrix of TYPE whose rows
 * of N elements are ROW_BYTES apart; X in quant_vec_dot_type(TYPE). */
void quant_gemv(enum dtype type, int64_t n, const void *w, size_t row_bytes, int64_t r0, int64_t r1,
		const void *x, float *y);

#endif

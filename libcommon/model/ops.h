/* ops.h - the CPU operators transformer forward passes are built from.
 *
 * Activations are row-major float32 matrices: a row per token, ROW floats
 * per row unless a stride is given.  Weights are GGUF tensors of any type
 * kernels/quant.h supports, laid out as ggml stores a linear layer: ne[0] =
 * inputs, ne[1] = outputs, so row o of the weight holds output o's inputs.
 *
 * ops_matmul splits the product over the thread pool: tiles of tokens x
 * outputs.  Float weights (F32, F16, BF16) and the quant types without a
 * blocked integer kernel: each tile an OpenBLAS sgemm (one BLAS thread per
 * tile: the pool owns the parallelism) on the weight rows, converted to
 * float32 first when they are stored in another type.  Q8_0, Q4_0, Q5_0,
 * Q4_K, Q5_K, Q6_K (qgemm_blocked): the activation rows are converted once
 * to the weight's dot-product type and each tile is an integer GEMM
 * (kernels/qgemm.h), whose outputs are bit for bit the scalar quant
 * vec_dot's, as llama.cpp computes a batch.
 * With few tokens every quant type uses the quantised dot products of
 * kernels/quant.h row by row (no conversion of the whole matrix for one
 * vector).
 */
#ifndef LMPIPE_OPS_H
#define LMPIPE_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tensor.h"

struct threadpool;
struct ops;

/* N_THREADS <= 0: all cores.  Sets OpenBLAS to one thread per call. */
int ops_new(struct ops **ops, int n_threads, struct lm_error *err);
void ops_free(struct ops *ops);
struct threadpool *ops_pool(struct ops *ops);
int ops_threads(const struct ops *ops);

/* Y[t][o] = sum_i X[t][i] * W[o][i] (+ B[o]) for t < N_TOK, o < W->ne[1],
 * i < W->ne[0].  X rows are LDX floats apart, Y rows LDY apart.  B is NULL
 * or a float32 vector of W->ne[1].  LM_ENOMEM when scratch cannot grow. */
int ops_matmul(struct ops *ops, const struct tensor *w, const struct tensor *b, const float *x,
	       size_t ldx, int64_t n_tok, float *y, size_t ldy, struct lm_error *err);

/* Row ID of a matrix of any supported type, as float32 (embedding lookup). */
void ops_get_row(const struct tensor *w, int64_t id, float *dst);

/* Each of N_ROWS rows of N floats (LD apart): (x - mean) / sqrt(var + eps)
 * * W + B (W, B float32 vectors of N; B may be NULL). */
void ops_layernorm(struct ops *ops, float *x, int64_t n_rows, int64_t n, size_t ld, const float *w,
		   const float *b, float eps);
/* x = x * Phi(x), the exact (erf) GELU of BERT. */
void ops_gelu(struct ops *ops, float *x, int64_t n_rows, int64_t n, size_t ld);
/* gate = silu(gate) * up, row by row (SwiGLU). */
void ops_swiglu(struct ops *ops, float *gate, const float *up, int64_t n_rows, int64_t n, size_t ld_gate,
		size_t ld_up);
/* x = exp(x - max) / sum, in place over N floats. */
void ops_softmax(float *x, int64_t n);
/* Rotary position embeddings.  ops_rope_table fills CS with N_POS rows of
 * head_dim/2 (cos, sin) pairs of theta_i = pos * base^(-2i/head_dim),
 * computed in double (exact to float rounding at every position).
 * ops_rope_neox rotates N_HEAD heads of HEAD_DIM floats at X by one row of
 * it, NeoX layout: dimension i pairs with i + head_dim/2. */
void ops_rope_table(float *cs, int64_t n_pos, int head_dim, float base);
void ops_rope_neox(float *x, int n_head, int head_dim, const float *cs);

/* A float32 view of a 1-D F32 tensor of N elements, or NULL when T is not
 * one (for norm weights and biases, which every writer keeps in F32). */
const float *ops_f32(const struct tensor *t, int64_t n);

/* RMSNorm (llama.cpp's LLM_NORM_RMS, ggml_rms_norm then a multiply): each
 * of N_ROWS rows of N floats (LD apart) becomes x / sqrt(mean(x^2) + eps)
 * * W, the mean of squares summed in double as ggml does. */
void ops_rmsnorm(struct ops *ops, float *x, int64_t n_rows, int64_t n, size_t ld, const float *w,
		 float eps);
/* Rotary position embeddings of N_HEAD heads of HEAD_DIM floats at X,
 * rotating the first N_ROT dimensions of each head (the rest pass
 * through) by CS, N_ROT/2 (cos, sin) pairs.  NEOX 0 is ggml's "normal"
 * layout (LLAMA_ROPE_TYPE_NORM: dimensions 2i and 2i+1 pair), 1 the NeoX
 * layout (dimension i pairs with i + n_rot/2). */
void ops_rope(float *x, int n_head, int head_dim, int n_rot, int neox, const float *cs);

#endif

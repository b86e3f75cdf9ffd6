/* tensor.h - element types, shapes and strides.
 *
 * A tensor is a typed view of memory with up to four dimensions, laid out
 * as in ggml: ne[0] is the innermost (fastest varying) dimension, nb[i] is
 * the distance in bytes between consecutive indices of dimension i.  Unused
 * dimensions have ne = 1.  The quantised GGUF types are opaque blocks: a
 * row of ne[0] elements is ne[0] / block_size blocks of type_size bytes, so
 * for them ne[0] must be a multiple of the block size and nb[0] is the size
 * of one block.
 *
 * A struct tensor never owns its memory by itself: tensor_new allocates
 * (release with tensor_free), tensor_alloc carves from an arena, tensor_init
 * wraps memory owned by someone else (an mmap'ed GGUF file), and views
 * share the memory of the tensor they look into.
 *
 * Functions that can fail return 0 or a negative LM_E* code and fill err;
 * every size is computed with overflow checks.
 */
#ifndef LMPIPE_TENSOR_H
#define LMPIPE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct arena;

#define TENSOR_MAX_DIMS 4

/* Numeric ids are ggml's enum ggml_type (ggml.h), which is also the type id
 * stored in GGUF tensor infos, so a GGUF type maps to a dtype directly.
 * Gaps are ids ggml has retired (4, 5: Q4_2, Q4_3; 31-33 and 36-38: the
 * repacked in-memory layouts that never appear in files). */
enum dtype {
	DTYPE_F32 = 0,
	DTYPE_F16 = 1,
	DTYPE_Q4_0 = 2,
	DTYPE_Q4_1 = 3,
	DTYPE_Q5_0 = 6,
	DTYPE_Q5_1 = 7,
	DTYPE_Q8_0 = 8,
	DTYPE_Q8_1 = 9,
	DTYPE_Q2_K = 10,
	DTYPE_Q3_K = 11,
	DTYPE_Q4_K = 12,
	DTYPE_Q5_K = 13,
	DTYPE_Q6_K = 14,
	DTYPE_Q8_K = 15,
	DTYPE_IQ2_XXS = 16,
	DTYPE_IQ2_XS = 17,
	DTYPE_IQ3_XXS = 18,
	DTYPE_IQ1_S = 19,
	DTYPE_IQ4_NL = 20,
	DTYPE_IQ3_S = 21,
	DTYPE_IQ2_S = 22,
	DTYPE_IQ4_XS = 23,
	DTYPE_I8 = 24,
	DTYPE_I16 = 25,
	DTYPE_I32 = 26,
	DTYPE_I64 = 27,
	DTYPE_F64 = 28,
	DTYPE_IQ1_M = 29,
	DTYPE_BF16 = 30,
	DTYPE_TQ1_0 = 34,
	DTYPE_TQ2_0 = 35,
	DTYPE_MXFP4 = 39,
	DTYPE_COUNT = 40
};

/* 1 if id names a type above, 0 for retired ids and anything out of range
 * (use it on untrusted ids, e.g. from a file, before casting). */
int dtype_valid(int id);
/* ggml's name ("f32", "q4_0", "q6_K", "bf16"...); NULL when not valid. */
const char *dtype_name(enum dtype type);
/* The type whose name matches, case-insensitively; -1 when none does. */
int dtype_from_name(const char *name);
/* Elements per block (1 for plain types); 0 when not valid. */
int64_t dtype_block_size(enum dtype type);
/* Bytes per block (per element for plain types); 0 when not valid. */
size_t dtype_type_size(enum dtype type);
/* 1 for the quantised block types (block size > 1). */
int dtype_is_quantized(enum dtype type);
/* Bytes in a row of n elements.  LM_EINVAL if the type is not valid, n is
 * negative or not a multiple of the block size, or the size overflows. */
int dtype_row_size(enum dtype type, int64_t n, size_t *size, struct lm_error *err);
/* Bytes of a dense tensor of shape NE (all four dimensions, innermost
 * first, unused ones 1): the row size of ne[0] times ne[1] * ne[2] * ne[3],
 * as ggml_nbytes of a contiguous tensor.  LM_EINVAL as dtype_row_size, or
 * if a dimension is negative or the size exceeds INT64_MAX. */
int dtype_nbytes(enum dtype type, const int64_t ne[TENSOR_MAX_DIMS], size_t *nbytes,
		 struct lm_error *err);

struct tensor {
	enum dtype type;
	int n_dims;                    /* 1..TENSOR_MAX_DIMS */
	int64_t ne[TENSOR_MAX_DIMS];   /* elements per dimension, innermost first */
	size_t nb[TENSOR_MAX_DIMS];    /* stride in bytes per dimension */
	void *data;
};

/* Describe a contiguous tensor of n_dims dimensions ne[0..n_dims-1] (each
 * >= 0) over DATA, which must hold tensor_nbytes bytes.  Fails if the type
 * is invalid, n_dims is outside 1..4, a block type's ne[0] is not a whole
 * number of blocks, or the total size overflows. */
int tensor_init(struct tensor *t, enum dtype type, int n_dims, const int64_t *ne,
		void *data, struct lm_error *err);
/* As tensor_init, with zeroed memory aligned to 64 bytes; free with
 * tensor_free (which then clears t).  LM_ENOMEM if allocation fails. */
int tensor_new(struct tensor *t, enum dtype type, int n_dims, const int64_t *ne,
	       struct lm_error *err);
void tensor_free(struct tensor *t);
/* As tensor_init, with uninitialised memory from the arena (64-byte
 * aligned), released by arena_reset/arena_free. */
int tensor_alloc(struct tensor *t, struct arena *arena, enum dtype type, int n_dims,
		 const int64_t *ne, struct lm_error *err);

int64_t tensor_nelements(const struct tensor *t);
/* Number of rows: ne[1] * ne[2] * ne[3]. */
int64_t tensor_nrows(const struct tensor *t);
/* Bytes from the first to one past the last byte the tensor touches, as
 * ggml_nbytes: for a contiguous tensor simply its size; 0 when empty. */
size_t tensor_nbytes(const struct tensor *t);
/* Bytes in one row (ne[0] elements). */
size_t tensor_row_bytes(const struct tensor *t);
/* 1 when the elements are densely packed in index order (nb[0] is the type
 * size, nb[i] = nb[i-1] * ne[i-1]; dimensions of size 1 never matter). */
int tensor_is_contiguous(const struct tensor *t);
/* 1 when the types, dimensions and shapes agree (strides may differ). */
int tensor_same_shape(const struct tensor *a, const struct tensor *b);

/* Start of row (i1, i2, i3).  Indices are not checked: callers loop within
 * ne, as with array indexing. */
static inline void *tensor_row(const struct tensor *t, int64_t i1, int64_t i2, int64_t i3)
{
	return (char *)t->data + (size_t)i1 * t->nb[1] + (size_t)i2 * t->nb[2] +
	       (size_t)i3 * t->nb[3];
}

/* Element (i0, i1, i2, i3) of a plain (non-block) type, unchecked. */
static inline void *tensor_at(const struct tensor *t, int64_t i0, int64_t i1, int64_t i2,
			      int64_t i3)
{
	return (char *)tensor_row(t, i1, i2, i3) + (size_t)i0 * t->nb[0];
}

/* Views share t's memory.  VIEW may be the same struct as T. */

/* Elements [start, start + count) of dimension dim.  For block types a
 * slice of dimension 0 must start and end on block boundaries. */
int tensor_slice(struct tensor *view, const struct tensor *t, int dim, int64_t start,
		 int64_t count, struct lm_error *err);
/* Exchange dimensions d0 and d1 (shape and strides), as ggml_permute of two
 * axes; ggml_transpose is (0, 1).  Block types cannot move dimension 0. */
int tensor_transpose(struct tensor *view, const struct tensor *t, int d0, int d1,
		     struct lm_error *err);
/* The same elements with another shape; t must be contiguous and the
 * element counts equal. */
int tensor_reshape(struct tensor *view, const struct tensor *t, int n_dims,
		   const int64_t *ne, struct lm_error *err);
/* A general strided view: n_dims, ne and nb as given, starting OFFSET bytes
 * into t's memory.  Fails unless every byte it can touch lies inside
 * t's [data, data + tensor_nbytes(t)). */
int tensor_view(struct tensor *view, const struct tensor *t, int n_dims, const int64_t *ne,
		const size_t *nb, size_t offset, struct lm_error *err);

/* "q4_K [4096, 32000]" into buf (always NUL-terminated); returns buf. */
char *tensor_describe(const struct tensor *t, char *buf, size_t size);

#endif

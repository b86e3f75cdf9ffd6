/* quantize.h - GGUF to GGUF weight quantization, as llama.cpp's
 * llama_model_quantize does it without an importance matrix.
 *
 * A scheme is one of llama-quantize's file types by name (Q4_K_M, Q8_0,
 * F16 ...; "Q4_K" is its alias for Q4_K_M): a default tensor type plus, for
 * the mixtures, llama.cpp's rules for which tensors get more bits
 * (llama-quant.cpp llama_tensor_get_type).  What we promise, per tensor:
 *
 *  - Only weights are quantized: tensors of two or more dimensions (ggml's
 *    n_dims, trailing 1s not counted) whose name ends in "weight", except
 *    norms, position and token-type embeddings, expert gates and the other
 *    small tensors llama.cpp lists; the rest keep their type and bytes.
 *  - Output and tied token embeddings get Q6_K in the K mixtures (Q8_0 when
 *    their rows do not fit the type's blocks), attn_v / ffn_down more bits in
 *    the _M mixtures on llama.cpp's layers, counted in llama.cpp's tensor
 *    order (layer number, then name).
 *  - Rows whose length is not a multiple of the type's block fall back as
 *    llama.cpp does (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K ->
 *    Q4_0, else F16); the report says so.
 *  - Bytes are quant_quantize_row_ref's (through quant_quantize_row, its
 *    SIMD twin), so llama.cpp's.  Input F32/F16/BF16 is converted
 *    exactly; other quantized input is
 *    dequantized first (the report flags it).  A NaN or infinite weight in
 *    a float tensor is an error naming the tensor, row and column.
 *  - Key/values are copied in order, except general.quantization_version
 *    (2) and general.file_type (llama_ftype), written last as llama.cpp
 *    does, and the split.* keys, dropped.  Tensors are written in llama.cpp's
 *    order, so for the same input our file is llama.cpp's file.
 *
 * Memory stays bounded: the input is mapped, each tensor is converted a
 * slab of rows at a time (rows split over threads, the previous slab
 * written meanwhile), and input pages that are done with are dropped from
 * the process (madvise), so the resident set is a few slabs (about 30 MB),
 * however large the model.  The output appears atomically (atomic.h) or
 * not at all.
 */
#ifndef LMPIPE_QUANTIZE_H
#define LMPIPE_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "output.h"
#include "tensor.h"

/* llama.h enum llama_ftype: the value of general.file_type. */
enum quantize_ftype {
	QUANTIZE_FTYPE_ALL_F32 = 0,
	QUANTIZE_FTYPE_F16 = 1,
	QUANTIZE_FTYPE_Q4_0 = 2,
	QUANTIZE_FTYPE_Q4_1 = 3,
	QUANTIZE_FTYPE_Q8_0 = 7,
	QUANTIZE_FTYPE_Q5_0 = 8,
	QUANTIZE_FTYPE_Q5_1 = 9,
	QUANTIZE_FTYPE_Q2_K = 10,
	QUANTIZE_FTYPE_Q3_K_S = 11,
	QUANTIZE_FTYPE_Q3_K_M = 12,
	QUANTIZE_FTYPE_Q3_K_L = 13,
	QUANTIZE_FTYPE_Q4_K_S = 14,
	QUANTIZE_FTYPE_Q4_K_M = 15,
	QUANTIZE_FTYPE_Q5_K_S = 16,
	QUANTIZE_FTYPE_Q5_K_M = 17,
	QUANTIZE_FTYPE_Q6_K = 18,
	QUANTIZE_FTYPE_BF16 = 32,
};

struct quantize_scheme {
	const char *name;         /* llama-quantize's spelling, e.g. "Q4_K_M" */
	enum quantize_ftype ftype;
	enum dtype type;          /* the default tensor type */
	const char *about;        /* one line for --help-types */
};

/* The scheme named NAME (case-insensitive); LM_EINVAL naming the known ones
 * otherwise. */
int quantize_scheme_find(const char *name, const struct quantize_scheme **scheme,
			 struct lm_error *err);
/* All schemes, in --help-types order; *N is set to their count. */
const struct quantize_scheme *quantize_schemes(size_t *n);

/* What happened to one tensor, given to the report callback in output
 * order, once the tensor is done. */
struct quantize_tensor_report {
	const char *name;
	uint32_t n_dims;
	int64_t ne[4];
	enum dtype from, to;
	enum dtype wanted;        /* the scheme's choice before the row-length fallback */
	int fallback;             /* 1: ne[0] did not fit WANTED's blocks, TO is the fallback */
	int requantized;          /* 1: FROM was quantized and had to be dequantized */
	uint64_t bytes_in, bytes_out;
	double rmse, max_err;     /* of the written values against the input's floats */
	uint64_t index, count;    /* 1-based position among COUNT tensors */
};

typedef void quantize_report_fn(const struct quantize_tensor_report *r, void *arg);

struct quantize_options {
	const struct quantize_scheme *scheme;
	int pure;                 /* every quantizable tensor to scheme->type (llama.cpp --pure) */
	int threads;              /* >= 1 */
	int dry_run;              /* convert and measure, write nothing */
	quantize_report_fn *report;   /* may be NULL */
	void *report_arg;
};

struct quantize_totals {
	uint64_t tensors, quantized, fallbacks, requantized;
	uint64_t elements;        /* all tensors */
	uint64_t bytes_in, bytes_out;
	double sq_err;            /* sum of squared errors over converted elements */
	uint64_t err_elements;    /* elements of converted tensors */
	double max_err;
};

/* Quantize IN_PATH into OUT_PATH ("-" for stdout; ignored with dry_run).
 * TOTALS (may be NULL) is filled also on failure, for what was done.  On
 * failure OUT_PATH is left as it was. */
int quantize_gguf(const char *in_path, const char *out_path, const struct quantize_options *opt,
		  struct quantize_totals *totals, struct lm_error *err);

#endif

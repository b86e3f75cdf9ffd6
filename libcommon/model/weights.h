/* weights.h - a model's tensors and hyper-parameters from its GGUF file,
 * checked on the way in: what encoder.c and decoder.c share.
 *
 * Errors are LM_EFORMAT naming the file, the tensor or key, and what was
 * wrong (missing, shape, type, range), so a misshapen model is refused
 * before any arithmetic touches it. */
#ifndef LMPIPE_WEIGHTS_H
#define LMPIPE_WEIGHTS_H

#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "tensor.h"

/* Tensor NAME of FILE as T, with shape (NE0, NE1), or (NE0) when NE1 is 0,
 * in a type kernels/quant.h supports; 1-D tensors (norms, biases) must be
 * F32.  An absent tensor that is not REQUIRED leaves T zeroed (data NULL).
 * ARCH is for messages. */
int weights_tensor(const struct gguf_file *file, const char *arch, struct tensor *t, const char *name,
		   int64_t ne0, int64_t ne1, int required, struct lm_error *err);
/* ARCH.KEY as an integer in 1 .. 2^24; absent and not REQUIRED leaves *V. */
int weights_u32(const struct gguf_file *file, const char *arch, const char *key, int *v, int required,
		struct lm_error *err);
/* ARCH.KEY as a float; absent and not REQUIRED leaves *V. */
int weights_f32(const struct gguf_file *file, const char *arch, const char *key, float *v, int required,
		struct lm_error *err);

#endif

/* safetensors.h - Hugging Face safetensors files, read-only and mapped.
 *
 * Format (huggingface/safetensors docs "Format"): an unsigned little-endian
 * 64-bit header size N, N bytes of UTF-8 JSON, then the byte buffer.  The
 * JSON is an object: each member but "__metadata__" names a tensor and is
 * {"dtype": D, "shape": [d0, d1, ...], "data_offsets": [BEGIN, END]}, the
 * offsets relative to the start of the byte buffer, row-major (C order)
 * little-endian data; "__metadata__" is an object of strings.
 *
 * What the module promises, for any input:
 *  - N is checked against the file before anything is read (at least 2,
 *    at most SAFETENSORS_MAX_HEADER and the file's size minus 8); the header
 *    must be RFC 8259 JSON (libcommon/json.h) that starts with '{'; trailing
 *    spaces are the padding the format allows.
 *  - Every tensor entry has exactly the three members, a known dtype, a
 *    shape of at most SAFETENSORS_MAX_DIMS non-negative integers, and
 *    END - BEGIN equal to the element count times the element size, with
 *    no overflow.  Tensors may not overlap and must cover the byte buffer
 *    without holes (the reference library's rule, which keeps a file from
 *    hiding other content), so the file ends with the last tensor.
 *  - Errors are LM_EFORMAT naming the file and, where one is at fault, the
 *    tensor: "model.safetensors: tensor \"x.weight\": ...".
 *
 * The mapping stays valid until safetensors_close.  A file truncated by
 * another process while mapped raises SIGBUS, as with any mmap reader.
 */
#ifndef LMPIPE_SAFETENSORS_H
#define LMPIPE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SAFETENSORS_MAX_DIMS 8
#define SAFETENSORS_MAX_HEADER (100u << 20)   /* the reference library's limit */

/* The format's dtypes (safetensors Dtype). */
enum safetensors_dtype {
	ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_I16, ST_U16, ST_F16, ST_BF16,
	ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64,
	ST_DTYPE_COUNT
};

/* "F32", "BF16" ... as the header spells them. */
const char *safetensors_dtype_name(enum safetensors_dtype t);
/* Bytes per element. */
size_t safetensors_dtype_size(enum safetensors_dtype t);

struct safetensors_tensor {
	const char *name;                      /* NUL-terminated */
	enum safetensors_dtype dtype;
	int n_dims;                            /* 0 (a scalar) .. SAFETENSORS_MAX_DIMS */
	int64_t shape[SAFETENSORS_MAX_DIMS];   /* outermost first, as in PyTorch */
	uint64_t n_elements;
	uint64_t nbytes;
	uint64_t offset;                       /* in the file */
	const void *data;                      /* in the mapping; not aligned in general */
};

struct safetensors_file {
	char *path;                            /* for messages */
	size_t n_tensors;
	struct safetensors_tensor *tensors;    /* in data order */

	/* private */
	const unsigned char *base;
	size_t size;
	int mapped;
	char *names;
	struct safetensors_tensor **sorted;    /* by name */
};

/* Map and validate PATH; free with safetensors_close. */
int safetensors_open(const char *path, struct safetensors_file **file, struct lm_error *err);
/* Validate SIZE bytes at BUF (borrowed: they must outlive the file); NAME is
 * used in messages. */
int safetensors_open_memory(const void *buf, size_t size, const char *name,
			    struct safetensors_file **file, struct lm_error *err);
void safetensors_close(struct safetensors_file *file);

/* The tensor named NAME, or NULL. */
const struct safetensors_tensor *safetensors_find(const struct safetensors_file *file,
						  const char *name);

#endif

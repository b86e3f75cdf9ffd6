/* gguf.h - GGUF model files (ggml docs/gguf.md): reader, writer, dump.
 *
 * The reader maps a file read-only and checks every count, length, offset and
 * size against the file before using it, so a damaged or hostile file gives a
 * message naming the file and the key or tensor at fault, never a crash, an
 * out-of-bounds read or an allocation larger than the file can back.  Versions
 * 2 and 3 (little-endian) are read; version 1 and big-endian files are refused.
 * Nested arrays (allowed by the spec, written by no known tool and refused by
 * llama.cpp) are refused.
 *
 * Strings in the file are not NUL-terminated: values are (pointer, length)
 * pairs into the mapping.  Keys and tensor names are copied and terminated;
 * they must be valid UTF-8 without NUL bytes.
 *
 * The writer produces version 3, little-endian, in the layout llama.cpp and
 * gguf-py write: header, key/values, tensor infos, zero padding to the
 * alignment, then each tensor's data followed by zero padding to the
 * alignment.  Reading a version 3 file in that layout and writing back its
 * key/values (gguf_writer_copy_kv) and tensors in the same order reproduces
 * it byte for byte; this holds for the llama.cpp vocabulary files.
 *
 * A mapped file that another process truncates while open raises SIGBUS, as
 * with any mmap reader; model files are not expected to change under us.
 */
#ifndef LMPIPE_GGUF_H
#define LMPIPE_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "output.h"
#include "tensor.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4      /* = TENSOR_MAX_DIMS: shapes go to tensor.h as they are */
#define GGUF_MAX_NAME 64     /* spec: tensor names are at most 64 bytes */

/* Metadata value types, numbered as in the file. */
enum gguf_value_type {
	GGUF_TYPE_UINT8 = 0,
	GGUF_TYPE_INT8 = 1,
	GGUF_TYPE_UINT16 = 2,
	GGUF_TYPE_INT16 = 3,
	GGUF_TYPE_UINT32 = 4,
	GGUF_TYPE_INT32 = 5,
	GGUF_TYPE_FLOAT32 = 6,
	GGUF_TYPE_BOOL = 7,
	GGUF_TYPE_STRING = 8,
	GGUF_TYPE_ARRAY = 9,
	GGUF_TYPE_UINT64 = 10,
	GGUF_TYPE_INT64 = 11,
	GGUF_TYPE_FLOAT64 = 12,
	GGUF_TYPE_COUNT
};

/* "uint8" ... "float64", "array"; "?" for an unknown id. */
const char *gguf_value_type_name(uint32_t type);

/* A key/value pair of an open file.  DATA points into the mapping at the
 * value's bytes, little-endian as in the file: for scalars the value, for a
 * string its bytes (LEN = COUNT), for arrays the first element. */
struct gguf_kv {
	const char *key;
	size_t key_len;
	enum gguf_value_type type;
	enum gguf_value_type elem_type;   /* arrays: element type; else TYPE */
	uint64_t count;                   /* array elements, string bytes; 1 otherwise */
	const unsigned char *data;
	const unsigned char *raw;         /* the value as serialised after the type id */
	uint64_t raw_len;
	const uint64_t *str_off;          /* string arrays: element i's length field at data + str_off[i] */
};

/* A tensor of an open file.  NE is innermost first; unused dims are 1. */
struct gguf_tensor {
	const char *name;
	size_t name_len;
	enum dtype type;                  /* the file's ggml type id, always valid */
	uint32_t n_dims;                  /* 1..4 */
	int64_t ne[GGUF_MAX_DIMS];
	uint64_t offset;                  /* relative to the data section */
	uint64_t nbytes;                  /* dtype_nbytes of the shape */
	const void *data;                 /* in the mapping, aligned as the file says */
};

/* An open file.  All fields are read-only for users. */
struct gguf_file {
	char *name;                       /* for messages: the path */
	const unsigned char *base;
	uint64_t size;
	uint32_t version;
	uint32_t alignment;               /* general.alignment, default 32 */
	uint64_t n_kv, n_tensors;
	struct gguf_kv *kvs;              /* in file order */
	struct gguf_tensor *tensors;      /* in file order */
	uint64_t info_end;                /* file offset just past the tensor infos */
	uint64_t data_offset;             /* info_end rounded up to the alignment */

	/* private */
	int mapped;
	uint64_t kv_cap;
	const struct gguf_kv **kv_sorted;
	const struct gguf_tensor **tensor_sorted;
	char *names;
};

/* Map and parse PATH.  On success *FILE is set; free it with gguf_close. */
int gguf_open(const char *path, struct gguf_file **file, struct lm_error *err);
/* Parse SIZE bytes at BUF (borrowed: they must outlive the file); NAME is
 * used in messages. */
int gguf_open_memory(const void *buf, size_t size, const char *name,
		     struct gguf_file **file, struct lm_error *err);
void gguf_close(struct gguf_file *file);

/* Lookups by exact key or name (binary search); NULL when absent. */
const struct gguf_kv *gguf_find_kv(const struct gguf_file *file, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *file, const char *name);

/* Typed getters.  A missing key or a value that does not convert is
 * LM_EFORMAT with a message naming the file and key.  Conversion rules:
 *   integer getters accept any integer type (not bool) whose value fits;
 *   gguf_get_f32/f64 accept float32, float64 and integer types (rounded to
 *   nearest); gguf_get_bool accepts only bool; gguf_get_str only string. */
int gguf_get_u32(const struct gguf_file *file, const char *key, uint32_t *v, struct lm_error *err);
int gguf_get_i32(const struct gguf_file *file, const char *key, int32_t *v, struct lm_error *err);
int gguf_get_u64(const struct gguf_file *file, const char *key, uint64_t *v, struct lm_error *err);
int gguf_get_i64(const struct gguf_file *file, const char *key, int64_t *v, struct lm_error *err);
int gguf_get_f32(const struct gguf_file *file, const char *key, float *v, struct lm_error *err);
int gguf_get_f64(const struct gguf_file *file, const char *key, double *v, struct lm_error *err);
int gguf_get_bool(const struct gguf_file *file, const char *key, int *v, struct lm_error *err);
int gguf_get_str(const struct gguf_file *file, const char *key, const char **s, uint64_t *len,
		 struct lm_error *err);
/* The array at KEY; ELEM_TYPE is checked unless it is GGUF_TYPE_COUNT. */
int gguf_get_array(const struct gguf_file *file, const char *key, enum gguf_value_type elem_type,
		   const struct gguf_kv **kv, struct lm_error *err);

/* Element I (< kv->count) of an array.  gguf_array_int accepts integer and
 * bool elements (uint64 above INT64_MAX saturates), gguf_array_float any
 * numeric element; both return 0 for other element types. */
const char *gguf_array_str(const struct gguf_kv *kv, uint64_t i, uint64_t *len);
int64_t gguf_array_int(const struct gguf_kv *kv, uint64_t i);
double gguf_array_float(const struct gguf_kv *kv, uint64_t i);

/* Stable text listing (see tests/ref/gguf_dump.py, which reads the file
 * independently and prints the same):
 *   gguf version V / alignment A / data_offset D / kv_count N / tensor_count M
 *   kv "KEY" TYPE VALUE               scalars; strings as JSON strings
 *   kv "KEY" array[TYPE] COUNT        then one "\tINDEX VALUE" line per element
 *   tensor "NAME" TYPE [NE0, NE1] offset O size S
 * A tensor's TYPE is its dtype_name in upper case, as gguf-py spells the
 * ggml types ("F32", "Q4_K", "IQ2_XXS").
 * Floats: %.9g (float32) and %.17g (float64) in the C locale; nan, inf, -inf.
 * Strings escape '"', '\\', control characters (\n \t \r \b \f, else \u00XX)
 * and DEL; bytes that are not part of valid UTF-8 are written as \xHH. */
int gguf_dump(const struct gguf_file *file, struct output *out, struct lm_error *err);

/* Writer.  Keys and values are copied when added; tensor data is not: a
 * data pointer must stay valid until gguf_writer_write returns, and a
 * callback must write exactly the tensor's byte size.  Duplicate keys or
 * tensor names, bad types and shapes are refused when added.  A
 * "general.alignment" key (uint32, a power of two) sets the alignment. */
struct gguf_writer;
typedef int (*gguf_tensor_write_fn)(void *arg, struct output *out, struct lm_error *err);

int gguf_writer_new(struct gguf_writer **w, struct lm_error *err);
void gguf_writer_free(struct gguf_writer *w);

int gguf_writer_add_u8(struct gguf_writer *w, const char *key, uint8_t v, struct lm_error *err);
int gguf_writer_add_i8(struct gguf_writer *w, const char *key, int8_t v, struct lm_error *err);
int gguf_writer_add_u16(struct gguf_writer *w, const char *key, uint16_t v, struct lm_error *err);
int gguf_writer_add_i16(struct gguf_writer *w, const char *key, int16_t v, struct lm_error *err);
int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v, struct lm_error *err);
int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v, struct lm_error *err);
int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v, struct lm_error *err);
int gguf_writer_add_bool(struct gguf_writer *w, const char *key, int v, struct lm_error *err);
int gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v, struct lm_error *err);
int gguf_writer_add_i64(struct gguf_writer *w, const char *key, int64_t v, struct lm_error *err);
int gguf_writer_add_f64(struct gguf_writer *w, const char *key, double v, struct lm_error *err);
int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *s, size_t len,
			struct lm_error *err);
/* COUNT elements of ELEM_TYPE (a numeric type or bool) from ELEMS, an array
 * of the matching C type in host order (bool: uint8_t 0 or 1). */
int gguf_writer_add_array(struct gguf_writer *w, const char *key, enum gguf_value_type elem_type,
			  const void *elems, uint64_t count, struct lm_error *err);
/* COUNT strings; LENS may be NULL for NUL-terminated strings. */
int gguf_writer_add_str_array(struct gguf_writer *w, const char *key, const char *const *strs,
			      const size_t *lens, uint64_t count, struct lm_error *err);
/* Copy a key/value of an open file as it is. */
int gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_kv *kv, struct lm_error *err);

/* Tensors, in file order: N_DIMS (1..4) dims in NE, innermost first, each
 * positive; the byte size is dtype_nbytes of the shape. */
int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, enum dtype type,
			   uint32_t n_dims, const int64_t *ne, const void *data, struct lm_error *err);
int gguf_writer_add_tensor_cb(struct gguf_writer *w, const char *name, enum dtype type,
			      uint32_t n_dims, const int64_t *ne, gguf_tensor_write_fn fn, void *arg,
			      struct lm_error *err);

/* With no tensors, gguf-py ends the file right after the key/values (the
 * default here) while llama.cpp pads to the alignment; ON selects padding. */
void gguf_writer_pad_empty(struct gguf_writer *w, int on);

/* Write the whole file to OUT (not flushed or closed). */
int gguf_writer_write(struct gguf_writer *w, struct output *out, struct lm_error *err);

#endif

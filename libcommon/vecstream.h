/* vecstream.h - the lmpipe binary tensor stream (lmpipe(7), "BINARY STREAM").
 *
 * A stream is a 16-byte header followed by records, all little-endian:
 *
 *   header   magic "\x89LMPVEC\x1a" (8) · version u16 = 1 · dtype u8 ·
 *            flags u8 · dim u32
 *   record   id_len u32 · id (UTF-8, no NUL) · vector · [meta_len u32 · meta]
 *
 * The vector is dim float32 (f32), dim binary16 (f16), an f32 scale then dim
 * int8 with value = scale * q (i8), dim sign bits packed LSB first, bit i
 * in byte i/8 at (1 << i%8), 1 meaning > 0 and unused bits zero (bit), dim
 * uint8 codes with value = offset[d] + scale[d] * q (i8-dim), or m bytes,
 * the indexes of the sub-centroids of a product quantizer (pq).  The
 * meta part is present when flags has VECSTREAM_META: a JSON object holding
 * the record's other NDJSON fields, or length 0 for none.
 *
 * The dtypes with trained parameters (i8-dim, pq) carry them in a block
 * right after the header, so a stream decodes on its own:
 *
 *   params   len u32 · len bytes
 *            i8-dim: offset f32[dim] · scale f32[dim]          (len 8*dim)
 *            pq:     m u32 · k u32 = 256 · centroids f32[m][256][dim/m]
 *                                                         (len 8 + 1024*dim)
 *
 * A stream of such a dtype with no records is a codebook file (quantize
 * --codebook).  Readers that predate these dtypes refuse them by number.
 *
 * The record count is not stored: a stream ends cleanly when input ends
 * exactly at a record boundary; input ending inside a record is LM_EFORMAT,
 * naming the record number (1-based) and byte offset.
 */
#ifndef LMPIPE_VECSTREAM_H
#define LMPIPE_VECSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "input.h"
#include "output.h"

#define VECSTREAM_MAGIC "\x89LMPVEC\x1a"
enum {
	VECSTREAM_MAGIC_LEN = 8,
	VECSTREAM_HEADER_LEN = 16,
	VECSTREAM_VERSION = 1,
	VECSTREAM_META = 1 << 0,          /* flags: records carry meta JSON */
	VECSTREAM_MAX_DIM = 1 << 20,
	VECSTREAM_MAX_ID = 1 << 16,       /* bytes */
	VECSTREAM_MAX_META = 1 << 24,     /* bytes */
	VECSTREAM_PQ_K = 256,             /* sub-centroids per sub-quantizer */
	VECSTREAM_MAX_PQ_DIM = 1 << 16,   /* keeps the pq block under 64 MiB */
};

/* Values are the dtype byte of the header. */
enum vecstream_dtype {
	VECSTREAM_F32 = 0,
	VECSTREAM_F16 = 1,
	VECSTREAM_I8 = 2,
	VECSTREAM_BIT = 3,
	VECSTREAM_I8_DIM = 4,
	VECSTREAM_PQ = 5,
};

/* "f32", "f16", "i8", "bit", "i8-dim", "pq"; NULL for an unknown value. */
const char *vecstream_dtype_name(enum vecstream_dtype dtype);
/* Parse one of those names.  LM_EINVAL (with a message) otherwise. */
int vecstream_dtype_parse(const char *name, enum vecstream_dtype *dtype, struct lm_error *err);
/* 1 for the dtypes whose vectors need trained parameters (i8-dim, pq). */
int vecstream_dtype_has_params(enum vecstream_dtype dtype);
/* Bytes of one encoded vector, the i8 scale included; 0 for pq, whose size
 * is its m (vecstream_codec_bytes). */
size_t vecstream_vector_bytes(enum vecstream_dtype dtype, uint32_t dim);

/* Encode DIM floats into vecstream_vector_bytes() bytes at DST: f16 rounds
 * to nearest even (overflow gives infinity), i8 uses scale = max|x| / 127 and
 * q = x / scale rounded to nearest even, bit stores x > 0.  Only for the
 * dtypes without parameters (the codec functions below take any). */
void vecstream_encode(enum vecstream_dtype dtype, uint32_t dim, const float *src, unsigned char *dst);
/* Decode back to floats; bit gives +1.0 / -1.0. */
void vecstream_decode(enum vecstream_dtype dtype, uint32_t dim, const unsigned char *src, float *dst);

/* A dtype with its parameters: what it takes to decode a vector. */
struct vecstream_codec {
	enum vecstream_dtype dtype;
	uint32_t dim;
	uint32_t pq_m;          /* pq: sub-quantizers, dividing dim */
	float *offset, *scale;  /* i8-dim: dim each, value = offset + scale * q */
	float *centroids;       /* pq: pq_m x 256 x dim/pq_m, sub-quantizer major */
};

/* A codec for DTYPE and DIM (PQ_M for pq, else ignored) with its parameter
 * arrays allocated and zeroed, for the caller to fill.  LM_EINVAL for a
 * bad combination, LM_ENOMEM. */
int vecstream_codec_init(struct vecstream_codec *c, enum vecstream_dtype dtype, uint32_t dim, uint32_t pq_m,
			 struct lm_error *err);
void vecstream_codec_free(struct vecstream_codec *c);
/* Bytes of one encoded vector. */
size_t vecstream_codec_bytes(const struct vecstream_codec *c);
/* LM_EINVAL unless every parameter is finite, every scale >= 0 and pq's m
 * divides dim. */
int vecstream_codec_check(const struct vecstream_codec *c, struct lm_error *err);
/* Encode c->dim floats; i8-dim takes q = (x - offset) / scale rounded to
 * nearest even and clamped to 0..255 (0 where scale is 0).  pq is encoded
 * by vecquant.h (the nearest sub-centroids); here it is a no-op. */
void vecstream_codec_encode(const struct vecstream_codec *c, const float *src, unsigned char *dst);
/* Decode one vector of any dtype to c->dim floats (pq: the concatenated
 * sub-centroids, the reconstruction). */
void vecstream_codec_decode(const struct vecstream_codec *c, const unsigned char *src, float *dst);

/* 1 if IN starts with the stream magic, 0 if not, negative on a read error.
 * Consumes nothing. */
int vecstream_sniff(struct input *in, struct lm_error *err);

struct vecstream_record {
	const char *id;              /* NUL-terminated, valid UTF-8 */
	size_t id_len;
	const unsigned char *vec;    /* vecstream_vector_bytes() bytes */
	const char *meta;            /* NUL-terminated; "" when absent */
	size_t meta_len;
	uint64_t number;             /* 1-based record number */
};

struct vecstream_reader {
	struct input *in;
	enum vecstream_dtype dtype;
	uint32_t dim;
	unsigned flags;
	size_t vec_bytes;
	uint64_t records;            /* records returned so far */
	struct vecstream_codec codec;  /* dtype, dim and the parameters read */
	char *id;
	unsigned char *vec;
	char *meta;
	size_t meta_cap;
};

/* Read and check the header (with the parameter block of i8-dim and pq).
 * LM_EFORMAT names the problem (bad magic, version, dtype, flags,
 * dimension, parameters, truncation). */
int vecstream_open_reader(struct vecstream_reader *r, struct input *in, struct lm_error *err);
/* Next record into *REC (pointers valid until the next call).  LM_EOF at a
 * clean end; LM_EFORMAT for a truncated or invalid record. */
int vecstream_next(struct vecstream_reader *r, struct vecstream_record *rec, struct lm_error *err);
/* Decode REC's vector to r->dim floats. */
void vecstream_record_floats(const struct vecstream_reader *r, const struct vecstream_record *rec, float *dst);
void vecstream_close_reader(struct vecstream_reader *r);

struct vecstream_writer {
	struct output *out;
	enum vecstream_dtype dtype;
	uint32_t dim;
	unsigned flags;
	size_t vec_bytes;
	uint64_t records;
	unsigned char *scratch;
	struct vecstream_codec codec;  /* parameter arrays borrowed */
};

/* Check the arguments and write the header.  i8-dim and pq need their
 * parameters: LM_EINVAL here, use vecstream_writer_init_codec. */
int vecstream_writer_init(struct vecstream_writer *w, struct output *out, enum vecstream_dtype dtype,
			  uint32_t dim, unsigned flags, struct lm_error *err);
/* As vecstream_writer_init for C's dtype and dimension, writing C's
 * parameters after the header.  C's arrays must outlive the writer. */
int vecstream_writer_init_codec(struct vecstream_writer *w, struct output *out, const struct vecstream_codec *c,
				unsigned flags, struct lm_error *err);
/* Write one record from w->dim floats, encoded to the stream's dtype (pq is
 * refused with LM_EINVAL: encode with vecquant.h, write raw).  META
 * (a JSON object, or NULL / length 0 for none) is written only when the
 * stream has VECSTREAM_META and refused otherwise.  The id must be UTF-8
 * without NUL bytes. */
int vecstream_write(struct vecstream_writer *w, const char *id, size_t id_len, const float *vec,
		    const char *meta, size_t meta_len, struct lm_error *err);
/* As vecstream_write with an already encoded vector (vecstream_vector_bytes
 * bytes in the stream's dtype), copied as it is. */
int vecstream_write_raw(struct vecstream_writer *w, const char *id, size_t id_len, const void *vec,
			const char *meta, size_t meta_len, struct lm_error *err);
/* Flush the output (which stays open) and release the writer. */
int vecstream_writer_close(struct vecstream_writer *w, struct lm_error *err);

#endif

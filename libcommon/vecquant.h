/* vecquant.h - quantizing a stream of embeddings (quantize --vectors).
 *
 * Reads NDJSON records with an `embedding` (other fields travel as the
 * binary stream's meta, as in vecconv.h) or a binary stream of any dtype
 * (decoded to float32), and writes a binary stream (vecstream.h) of one
 * dtype: f32, f16, i8 (a scale per vector), bit (signs), i8-dim (8-bit
 * codes with an offset and a scale per dimension) or pq (product
 * quantization, pq.h, m codes of 256 sub-centroids).  Ids and meta pass
 * through unchanged.
 *
 * Matryoshka truncation (dims): a vector keeps its first dims values; when
 * it was of unit length (|1 - ||x||| <= 1e-3, i.e. the producer normalised
 * it) the kept part is rescaled to unit length again, as embed --dims does;
 * other vectors are only cut.
 *
 * i8-dim and pq have trained parameters.  They are learnt from the first
 * train_sample records (held in memory, then written, then the rest of the
 * input streams through): i8-dim takes, per dimension, offset = min and
 * scale = (max - min) / 255 over the sample, so later values outside that
 * range are clamped; pq runs k-means (kmeans.h, k-means++ start, 20
 * iterations, on at most 65536 sampled sub-vectors) per sub-space.  The
 * parameters are written into the stream's header, and to codebook_out
 * when set; codebook_in (such a file: a stream with no records) replaces
 * training, so several streams (documents and queries, shards) share one
 * codebook.
 */
#ifndef LMPIPE_VECQUANT_H
#define LMPIPE_VECQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "input.h"
#include "vecstream.h"

enum {
	VECQUANT_TRAIN_SAMPLE = 65536,   /* default train_sample */
};

struct vecquant_options {
	enum vecstream_dtype dtype;
	uint32_t dims;              /* keep the first dims values; 0 = all */
	uint32_t pq_m;              /* pq sub-quantizers; 0 = the largest divisor of dim <= dim / 4 */
	size_t train_sample;        /* records to train on; 0 = VECQUANT_TRAIN_SAMPLE */
	uint64_t seed;              /* k-means sampling and start */
	const char *codebook_out;   /* write the trained parameters here */
	const char *codebook_in;    /* use the parameters of this codebook file */
};

struct vecquant_stats {
	uint64_t records;
	uint32_t dim_in, dim;       /* input dimension, written dimension */
	size_t bytes_in, bytes_out; /* one vector as read (f32 for NDJSON), as written */
	uint32_t pq_m;
	double sq_err, max_err;     /* reconstruction against the (truncated) input */
	uint64_t values;            /* values compared for sq_err */
};

/* Truncate X (DIM values) to its first DIMS in place, rescaling by the rule
 * above; DIMS >= DIM leaves X alone. */
void vecquant_truncate(float *x, uint32_t dim, uint32_t dims);

/* Train the parameters of DTYPE (i8-dim or pq; PQ_M as in the options) on
 * the N vectors X of DIM floats into C (vecstream_codec_init'ed here; free
 * with vecstream_codec_free).  Other dtypes need no training and just get
 * their codec.  LM_EINVAL when N is too small (i8-dim 1, pq 256). */
int vecquant_train(struct vecstream_codec *c, enum vecstream_dtype dtype, uint32_t dim, uint32_t pq_m,
		   const float *x, size_t n, uint64_t seed, struct lm_error *err);

/* Encode C->dim floats into vecstream_codec_bytes(C) bytes (pq: the nearest
 * sub-centroid of each sub-vector under L2). */
void vecquant_encode(const struct vecstream_codec *c, const float *x, unsigned char *code);

/* Read the codec of the codebook file PATH (a binary stream of i8-dim or
 * pq with no records).  LM_EFORMAT naming PATH otherwise. */
int vecquant_load_codebook(const char *path, struct vecstream_codec *c, struct lm_error *err);

/* Quantize every record of IN into OUT_PATH ("-" = standard output),
 * written through atomic.h, as is codebook_out: on failure neither exists.
 * Empty input gives empty output (no header: the dimension is unknown),
 * except that training needs records.  *ST (may be NULL) gets the counts
 * and errors.  LM_EFORMAT names the file and line or record at fault. */
int vecquant_run(struct input *in, const char *out_path, const struct vecquant_options *o,
		 struct vecquant_stats *st, struct lm_error *err);

#endif

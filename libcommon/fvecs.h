/* fvecs.h - the TEXMEX vector files of the ANN benchmarks (corpus-texmex.irisa.fr).
 *
 * Each vector is its dimension d as a little-endian int32 followed by d
 * components: float32 (.fvecs), int32 (.ivecs) or uint8 (.bvecs).  There is
 * no header, no record count and no id.  Every record of a file must have the
 * same d; the reader checks that, and that d is in 1..VECSTREAM_MAX_DIM.
 * ivecs values beyond 2^24 lose precision as they become float32.  Only
 * .fvecs is written.
 */
#ifndef LMPIPE_FVECS_H
#define LMPIPE_FVECS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "input.h"
#include "output.h"

enum fvecs_kind {
	FVECS_F32,   /* .fvecs */
	FVECS_I32,   /* .ivecs */
	FVECS_U8,    /* .bvecs */
};

/* The kind a file name's suffix (.fvecs, .ivecs, .bvecs) stands for, or -1. */
int fvecs_kind_from_name(const char *path);

struct fvecs_reader {
	struct input *in;
	enum fvecs_kind kind;
	uint32_t dim;        /* of the first record; 0 for an empty file */
	uint64_t records;    /* records returned so far */
	unsigned char *buf;
};

/* Peek at the first record's dimension (nothing is consumed). */
int fvecs_open_reader(struct fvecs_reader *r, struct input *in, enum fvecs_kind kind, struct lm_error *err);
/* Next vector as r->dim floats; LM_EOF at a clean end, LM_EFORMAT naming
 * the record (1-based) and byte offset for a truncated record or a
 * dimension that differs from the first. */
int fvecs_next(struct fvecs_reader *r, float *row, struct lm_error *err);
void fvecs_close_reader(struct fvecs_reader *r);

struct fvecs_writer {
	struct output *out;
	uint32_t dim;
	unsigned char *scratch;
};

int fvecs_writer_init(struct fvecs_writer *w, struct output *out, uint32_t dim, struct lm_error *err);
int fvecs_write(struct fvecs_writer *w, const float *row, struct lm_error *err);
/* Flush the output (which stays open) and release the writer. */
int fvecs_writer_close(struct fvecs_writer *w, struct lm_error *err);

#endif

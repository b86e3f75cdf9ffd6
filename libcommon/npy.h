/* npy.h - NumPy .npy files of vectors (numpy/lib/format.py, NEP 1).
 *
 * A file is "\x93NUMPY", a major and minor version byte, the header length
 * (u16 LE for 1.0; u32 LE for 2.0 and 3.0, where 3.0 allows UTF-8), then the
 * header: a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape':
 * (...), } padded with spaces and a final '\n', then the raw data.
 *
 * Reading accepts versions 1.0, 2.0 and 3.0, descr '<f4', '<f2', '<f8' (each
 * value narrowed to float32) and '|i1', C order only, and a shape of (n, d)
 * (n vectors of dimension d) or (d,) (one vector).  Writing produces version
 * 1.0, descr '<f4' or '<f2' and shape (n, d).  The row count is not known
 * until the end, so the writer leaves the header at a fixed 128 bytes and
 * patches the shape when it is closed: the output must be a seekable file,
 * which npy_writer_init checks before anything is written.
 *
 * .npy has no ids and no metadata: vecconv.c names rows "0", "1", ... when
 * reading and drops ids and metadata when writing.
 */
#ifndef LMPIPE_NPY_H
#define LMPIPE_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "input.h"
#include "output.h"

#define NPY_MAGIC "\x93NUMPY"
enum { NPY_MAGIC_LEN = 6, NPY_MAX_HEADER = 1 << 16 };

enum npy_dtype {
	NPY_F4,   /* '<f4' */
	NPY_F2,   /* '<f2' */
	NPY_F8,   /* '<f8' (read only) */
	NPY_I1,   /* '|i1' (read only) */
};

/* 1 if IN starts with the .npy magic, 0 if not, negative on a read error.
 * Consumes nothing. */
int npy_sniff(struct input *in, struct lm_error *err);

struct npy_reader {
	struct input *in;
	enum npy_dtype dtype;
	unsigned major, minor;       /* file format version */
	uint64_t rows;               /* from the shape */
	uint32_t dim;                /* 0 only when rows is 0 */
	uint64_t row;                /* rows returned so far */
	size_t row_bytes;
	unsigned char *buf;
};

/* Read and check the header; LM_EFORMAT says what is wrong with it. */
int npy_open_reader(struct npy_reader *r, struct input *in, struct lm_error *err);
/* Next row as r->dim floats.  LM_EOF after the last row (input must end
 * there); LM_EFORMAT, naming the row and byte offset, if it ends early. */
int npy_next(struct npy_reader *r, float *row, struct lm_error *err);
void npy_close_reader(struct npy_reader *r);

struct npy_writer {
	struct output *out;
	enum npy_dtype dtype;
	uint32_t dim;
	uint64_t rows;
	off_t base;                  /* file offset of the magic */
	unsigned char *scratch;
};

/* LM_OK if OUT can take a .npy file (a seekable descriptor without
 * O_APPEND), else LM_EINVAL saying so. */
int npy_check_output(struct output *out, struct lm_error *err);
/* DTYPE must be NPY_F4 or NPY_F2 and DIM at most VECSTREAM_MAX_DIM (0 is
 * allowed for an empty array).  LM_EINVAL if OUT is not a seekable file. */
int npy_writer_init(struct npy_writer *w, struct output *out, enum npy_dtype dtype, uint32_t dim,
		    struct lm_error *err);
int npy_write_row(struct npy_writer *w, const float *row, struct lm_error *err);
/* Flush, write the final shape into the header and release the writer (the
 * output stays open). */
int npy_writer_close(struct npy_writer *w, struct lm_error *err);

#endif

#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "half.h"
#include "vecstream.h"

/* Our header is always this long (magic to '\n'): room for any row count
 * and dimension, and a multiple of 64 as format.py asks, so the data that
 * follows is aligned. */
enum { NPY_WRITE_HEADER = 128 };

static const struct {
	const char *descr;
	enum npy_dtype dtype;
	size_t size;
} npy_descrs[] = {
	{ "<f4", NPY_F4, 4 },
	{ "<f2", NPY_F2, 2 },
	{ "<f8", NPY_F8, 8 },
	{ "|i1", NPY_I1, 1 },
	{ "<i1", NPY_I1, 1 },
};

int npy_sniff(struct input *in, struct lm_error *err)
{
	const unsigned char *p;
	long n = input_peek(in, NPY_MAGIC_LEN, &p, err);

	if (n < 0)
		return (int)n;
	return n == NPY_MAGIC_LEN && !memcmp(p, NPY_MAGIC, NPY_MAGIC_LEN);
}

/* A cursor over the header's dict literal (format.py writes it with
 * repr(), so only the few Python literal forms below ever appear). */
struct npy_lexer {
	const char *s, *end;
};

static void lex_space(struct npy_lexer *lx)
{
	while (lx->s < lx->end && *lx->s && strchr(" \t\r\n", *lx->s))
		lx->s++;
}

static int lex_char(struct npy_lexer *lx, char c)
{
	lex_space(lx);
	if (lx->s < lx->end && *lx->s == c) {
		lx->s++;
		return 1;
	}
	return 0;
}

/* A quoted string without escapes into BUF; 0 if there is none. */
static int lex_string(struct npy_lexer *lx, char *buf, size_t cap)
{
	char q;
	size_t n = 0;

	lex_space(lx);
	if (lx->s >= lx->end || (*lx->s != '\'' && *lx->s != '"'))
		return 0;
	q = *lx->s++;
	while (lx->s < lx->end && *lx->s != q) {
		if (*lx->s == '\\' || n + 1 >= cap)
			return 0;
		buf[n++] = *lx->s++;
	}
	if (lx->s >= lx->end)
		return 0;
	lx->s++;
	buf[n] = '\0';
	return 1;
}

static int lex_word(struct npy_lexer *lx, const char *w)
{
	size_t n = strlen(w);

	lex_space(lx);
	if ((size_t)(lx->end - lx->s) >= n && !memcmp(lx->s, w, n)) {
		lx->s += n;
		return 1;
	}
	return 0;
}

/* A non-negative decimal integer (Python 2 files may add an 'L'). */
static int lex_uint(struct npy_lexer *lx, uint64_t *v)
{
	const char *start;

	lex_space(lx);
	start = lx->s;
	*v = 0;
	while (lx->s < lx->end && *lx->s >= '0' && *lx->s <= '9') {
		if (*v > (UINT64_MAX - 9) / 10)
			return 0;
		*v = *v * 10 + (uint64_t)(*lx->s++ - '0');
	}
	if (lx->s == start)
		return 0;
	if (lx->s < lx->end && *lx->s == 'L')
		lx->s++;
	return 1;
}

/* '(' [int {',' int} [',']] ')' */
static int lex_shape(struct npy_lexer *lx, uint64_t *shape, int *ndim)
{
	*ndim = 0;
	if (!lex_char(lx, '('))
		return 0;
	for (;;) {
		if (lex_char(lx, ')'))
			return 1;
		if (*ndim == 3 || !lex_uint(lx, &shape[*ndim]))
			return 0;
		(*ndim)++;
		if (lex_char(lx, ','))
			continue;
		return lex_char(lx, ')');
	}
}

static int parse_header(struct npy_reader *r, const char *text, size_t len, struct lm_error *err)
{
	struct npy_lexer lx = { text, text + len };
	const char *name = r->in->name;
	char key[32], descr[32];
	uint64_t shape[3];
	int ndim = -1, fortran = -1, have_descr = 0;
	size_t i;

	if (!lex_char(&lx, '{'))
		return lm_fail(err, LM_EFORMAT, "%s: .npy header is not a dict", name);
	while (!lex_char(&lx, '}')) {
		if (!lex_string(&lx, key, sizeof key) || !lex_char(&lx, ':'))
			return lm_fail(err, LM_EFORMAT, "%s: .npy header: bad key at byte %zu", name,
				       (size_t)(lx.s - text));
		if (!strcmp(key, "descr")) {
			if (!lex_string(&lx, descr, sizeof descr))
				return lm_fail(err, LM_EFORMAT,
					       "%s: .npy header: descr is not a simple type string (structured arrays are not supported)",
					       name);
			have_descr = 1;
		} else if (!strcmp(key, "fortran_order")) {
			if (lex_word(&lx, "True"))
				fortran = 1;
			else if (lex_word(&lx, "False"))
				fortran = 0;
			else
				return lm_fail(err, LM_EFORMAT, "%s: .npy header: fortran_order is not True or False", name);
		} else if (!strcmp(key, "shape")) {
			if (!lex_shape(&lx, shape, &ndim))
				return lm_fail(err, LM_EFORMAT, "%s: .npy header: shape is not a tuple of at most 3 integers", name);
		} else {
			return lm_fail(err, LM_EFORMAT, "%s: .npy header: unexpected key '%s'", name, key);
		}
		if (!lex_char(&lx, ',')) {
			if (lex_char(&lx, '}'))
				break;
			return lm_fail(err, LM_EFORMAT, "%s: .npy header: expected ',' or '}' at byte %zu", name,
				       (size_t)(lx.s - text));
		}
	}
	if (!have_descr || fortran < 0 || ndim < 0)
		return lm_fail(err, LM_EFORMAT, "%s: .npy header lacks descr, fortran_order or shape", name);
	for (i = 0; i < sizeof npy_descrs / sizeof npy_descrs[0]; i++)
		if (!strcmp(descr, npy_descrs[i].descr))
			break;
	if (i == sizeof npy_descrs / sizeof npy_descrs[0])
		return lm_fail(err, LM_EFORMAT, "%s: .npy dtype '%s' is not supported (expected '<f4', '<f2', '<f8' or '|i1')",
			       name, descr);
	r->dtype = npy_descrs[i].dtype;
	if (fortran)
		return lm_fail(err, LM_EFORMAT, "%s: .npy array is in Fortran order; save it with C order (np.ascontiguousarray)",
			       name);
	if (ndim == 1) {
		r->rows = 1;
		shape[1] = shape[0];
	} else if (ndim == 2) {
		r->rows = shape[0];
	} else {
		return lm_fail(err, LM_EFORMAT, "%s: .npy array has %d dimensions; expected (rows, dim) or (dim,)",
			       name, ndim);
	}
	if (shape[1] > VECSTREAM_MAX_DIM || (shape[1] == 0 && r->rows > 0))
		return lm_fail(err, LM_EFORMAT, "%s: .npy dimension %" PRIu64 " out of range 1..%d",
			       name, shape[1], VECSTREAM_MAX_DIM);
	r->dim = (uint32_t)shape[1];
	r->row_bytes = npy_descrs[i].size * r->dim;
	return LM_OK;
}

int npy_open_reader(struct npy_reader *r, struct input *in, struct lm_error *err)
{
	unsigned char pre[12];
	char *text = NULL;
	size_t fixed, hlen;
	int rc;

	memset(r, 0, sizeof *r);
	r->in = in;
	rc = input_read(in, pre, 8, err);
	if (rc == LM_EOF || rc == LM_EFORMAT || (rc == LM_OK && memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN)))
		return lm_fail(err, LM_EFORMAT, "%s: not a .npy file (bad magic)", in->name);
	if (rc)
		return rc;
	r->major = pre[6];
	r->minor = pre[7];
	if (r->major < 1 || r->major > 3 || r->minor != 0)
		return lm_fail(err, LM_EFORMAT, "%s: .npy format version %u.%u is not supported (expected 1.0, 2.0 or 3.0)",
			       in->name, r->major, r->minor);
	fixed = r->major == 1 ? 2 : 4;
	rc = input_read(in, pre + 8, fixed, err);
	if (rc == LM_EOF || rc == LM_EFORMAT)
		return lm_fail(err, LM_EFORMAT, "%s: .npy header truncated", in->name);
	if (rc)
		return rc;
	hlen = pre[8] | (size_t)pre[9] << 8;
	if (fixed == 4)
		hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
	if (hlen > NPY_MAX_HEADER)
		return lm_fail(err, LM_EFORMAT, "%s: .npy header length %zu exceeds %d bytes", in->name, hlen,
			       NPY_MAX_HEADER);
	text = malloc(hlen + 1);
	if (!text)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", in->name);
	rc = input_read(in, text, hlen, err);
	if (rc == LM_EOF || rc == LM_EFORMAT) {
		rc = lm_fail(err, LM_EFORMAT, "%s: .npy header truncated (%zu bytes announced)", in->name, hlen);
		goto out;
	}
	if (rc)
		goto out;
	text[hlen] = '\0';
	rc = parse_header(r, text, hlen, err);
	if (rc)
		goto out;
	if (r->rows > 0) {
		r->buf = malloc(r->row_bytes);
		if (!r->buf)
			rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", in->name);
	}
out:
	free(text);
	return rc;
}

int npy_next(struct npy_reader *r, float *row, struct lm_error *err)
{
	const unsigned char *p = r->buf;
	const unsigned char *peek;
	uint32_t i;
	long n;
	int rc;

	if (r->row == r->rows) {
		n = input_peek(r->in, 1, &peek, err);
		if (n < 0)
			return (int)n;
		if (n > 0)
			return lm_fail(err, LM_EFORMAT, "%s: data continues after the %" PRIu64 " rows the .npy header announces (byte %llu)",
				       r->in->name, r->rows, (unsigned long long)(r->in->offset + r->in->pos));
		return LM_EOF;
	}
	rc = input_read(r->in, r->buf, r->row_bytes, err);
	if (rc == LM_EOF || rc == LM_EFORMAT)
		return lm_fail(err, LM_EFORMAT, "%s: row %" PRIu64 ": truncated at byte %llu (the header announces %" PRIu64 " rows)",
			       r->in->name, r->row + 1, (unsigned long long)(r->in->offset + r->in->pos), r->rows);
	if (rc)
		return rc;
	switch (r->dtype) {
	case NPY_F4:
		vecstream_decode(VECSTREAM_F32, r->dim, p, row);
		break;
	case NPY_F2:
		vecstream_decode(VECSTREAM_F16, r->dim, p, row);
		break;
	case NPY_F8:
		for (i = 0; i < r->dim; i++) {
			uint64_t u = 0;
			double d;
			int k;

			for (k = 7; k >= 0; k--)
				u = u << 8 | p[8 * (size_t)i + (size_t)k];
			memcpy(&d, &u, 8);
			row[i] = (float)d;
		}
		break;
	case NPY_I1:
		for (i = 0; i < r->dim; i++)
			row[i] = (float)(int8_t)p[i];
		break;
	}
	r->row++;
	return LM_OK;
}

void npy_close_reader(struct npy_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof *r);
}

/* The fixed-size version 1.0 header for ROWS rows: format.py's layout, the
 * dict padded with spaces to NPY_WRITE_HEADER bytes in all, then '\n'. */
static void build_header(const struct npy_writer *w, uint64_t rows, unsigned char *h)
{
	size_t dict_len = NPY_WRITE_HEADER - 10;
	int n;

	memcpy(h, NPY_MAGIC, NPY_MAGIC_LEN);
	h[6] = 1;
	h[7] = 0;
	h[8] = (unsigned char)dict_len;
	h[9] = (unsigned char)(dict_len >> 8);
	n = snprintf((char *)h + 10, dict_len, "{'descr': '%s', 'fortran_order': False, 'shape': (%" PRIu64 ", %lu), }",
		     w->dtype == NPY_F2 ? "<f2" : "<f4", rows, (unsigned long)w->dim);
	memset(h + 10 + n, ' ', dict_len - (size_t)n - 1);
	h[NPY_WRITE_HEADER - 1] = '\n';
}

int npy_check_output(struct output *out, struct lm_error *err)
{
	int fl = fcntl(out->fd, F_GETFL);

	if (lseek(out->fd, 0, SEEK_CUR) < 0 || fl < 0 || (fl & O_APPEND))
		return lm_fail(err, LM_EINVAL, "%s: .npy output must be a seekable file, not a pipe or an appending descriptor (the row count is written last; use -o FILE)",
			       out->name);
	return LM_OK;
}

int npy_writer_init(struct npy_writer *w, struct output *out, enum npy_dtype dtype, uint32_t dim,
		    struct lm_error *err)
{
	unsigned char h[NPY_WRITE_HEADER];
	off_t pos;
	int rc;

	memset(w, 0, sizeof *w);
	if (dtype != NPY_F4 && dtype != NPY_F2)
		return lm_fail(err, LM_EINVAL, "%s: .npy output supports f32 and f16 only", out->name);
	if (dim > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EINVAL, "%s: dimension %lu out of range", out->name, (unsigned long)dim);
	if ((rc = npy_check_output(out, err)))
		return rc;
	pos = lseek(out->fd, 0, SEEK_CUR);
	w->out = out;
	w->dtype = dtype;
	w->dim = dim;
	w->base = pos + (off_t)out->len;
	w->scratch = malloc(dim ? (size_t)dim * 4 : 1);
	if (!w->scratch)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", out->name);
	build_header(w, 0, h);
	return output_write(out, h, sizeof h, err);
}

int npy_write_row(struct npy_writer *w, const float *row, struct lm_error *err)
{
	vecstream_encode(w->dtype == NPY_F2 ? VECSTREAM_F16 : VECSTREAM_F32, w->dim, row, w->scratch);
	w->rows++;
	return output_write(w->out, w->scratch, (size_t)w->dim * (w->dtype == NPY_F2 ? 2 : 4), err);
}

int npy_writer_close(struct npy_writer *w, struct lm_error *err)
{
	unsigned char h[NPY_WRITE_HEADER];
	ssize_t n;
	int rc = LM_OK;

	if (!w->out)
		goto out;
	rc = output_flush(w->out, err);
	if (rc)
		goto out;
	build_header(w, w->rows, h);
	n = pwrite(w->out->fd, h, sizeof h, w->base);
	if (n < 0)
		rc = lm_fail_errno(err, "%s: rewriting the .npy header", w->out->name);
	else if ((size_t)n != sizeof h)
		rc = lm_fail(err, LM_EIO, "%s: short write rewriting the .npy header", w->out->name);
out:
	free(w->scratch);
	memset(w, 0, sizeof *w);
	return rc;
}

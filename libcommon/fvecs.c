#include "fvecs.h"

#include <stdlib.h>
#include <string.h>

#include "vecstream.h"

static const size_t elem_size[] = { [FVECS_F32] = 4, [FVECS_I32] = 4, [FVECS_U8] = 1 };

int fvecs_kind_from_name(const char *path)
{
	static const char *const suffix[] = { [FVECS_F32] = ".fvecs", [FVECS_I32] = ".ivecs", [FVECS_U8] = ".bvecs" };
	size_t n = path ? strlen(path) : 0;
	int k;

	for (k = 0; k < 3; k++)
		if (n > 6 && !strcmp(path + n - 6, suffix[k]))
			return k;
	return -1;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int check_dim(struct fvecs_reader *r, uint32_t d, struct lm_error *err)
{
	/* Read as int32: a negative d shows up here as a huge value. */
	if (d < 1 || d > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: dimension %ld out of range 1..%d",
			       r->in->name, (unsigned long long)r->records + 1, (long)(int32_t)d, VECSTREAM_MAX_DIM);
	return LM_OK;
}

int fvecs_open_reader(struct fvecs_reader *r, struct input *in, enum fvecs_kind kind, struct lm_error *err)
{
	const unsigned char *p;
	long n;
	int rc;

	memset(r, 0, sizeof *r);
	r->in = in;
	r->kind = kind;
	if ((unsigned)kind > FVECS_U8)
		return lm_fail(err, LM_EINVAL, "%s: unknown fvecs kind %d", in->name, (int)kind);
	n = input_peek(in, 4, &p, err);
	if (n < 0)
		return (int)n;
	if (n < 4)
		return LM_OK;   /* empty, or truncated: fvecs_next says which */
	rc = check_dim(r, get_u32(p), err);
	if (rc)
		return rc;
	r->dim = get_u32(p);
	r->buf = malloc((size_t)r->dim * elem_size[kind]);
	if (!r->buf)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", in->name);
	return LM_OK;
}

int fvecs_next(struct fvecs_reader *r, float *row, struct lm_error *err)
{
	unsigned long long num = r->records + 1;
	unsigned char b[4];
	uint32_t d, i;
	int rc;

	rc = input_read(r->in, b, 4, err);
	if (rc == LM_EOF)
		return LM_EOF;
	if (rc == LM_EFORMAT)
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: truncated in the dimension at byte %llu",
			       r->in->name, num, (unsigned long long)(r->in->offset + r->in->pos));
	if (rc)
		return rc;
	d = get_u32(b);
	if ((rc = check_dim(r, d, err)))
		return rc;
	if (d != r->dim)
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: dimension %lu differs from the first record's %lu",
			       r->in->name, num, (unsigned long)d, (unsigned long)r->dim);
	rc = input_read(r->in, r->buf, (size_t)d * elem_size[r->kind], err);
	if (rc == LM_EOF || rc == LM_EFORMAT)
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: truncated at byte %llu (%lu values expected)",
			       r->in->name, num, (unsigned long long)(r->in->offset + r->in->pos), (unsigned long)d);
	if (rc)
		return rc;
	switch (r->kind) {
	case FVECS_F32:
		vecstream_decode(VECSTREAM_F32, d, r->buf, row);
		break;
	case FVECS_I32:
		for (i = 0; i < d; i++)
			row[i] = (float)(int32_t)get_u32(r->buf + 4 * (size_t)i);
		break;
	case FVECS_U8:
		for (i = 0; i < d; i++)
			row[i] = (float)r->buf[i];
		break;
	}
	r->records++;
	return LM_OK;
}

void fvecs_close_reader(struct fvecs_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof *r);
}

int fvecs_writer_init(struct fvecs_writer *w, struct output *out, uint32_t dim, struct lm_error *err)
{
	memset(w, 0, sizeof *w);
	if (dim < 1 || dim > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EINVAL, "%s: dimension %lu out of range 1..%d", out->name,
			       (unsigned long)dim, VECSTREAM_MAX_DIM);
	w->out = out;
	w->dim = dim;
	w->scratch = malloc(4 + (size_t)dim * 4);
	if (!w->scratch)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", out->name);
	return LM_OK;
}

int fvecs_write(struct fvecs_writer *w, const float *row, struct lm_error *err)
{
	unsigned char *p = w->scratch;

	p[0] = (unsigned char)w->dim;
	p[1] = (unsigned char)(w->dim >> 8);
	p[2] = (unsigned char)(w->dim >> 16);
	p[3] = (unsigned char)(w->dim >> 24);
	vecstream_encode(VECSTREAM_F32, w->dim, row, p + 4);
	return output_write(w->out, p, 4 + (size_t)w->dim * 4, err);
}

int fvecs_writer_close(struct fvecs_writer *w, struct lm_error *err)
{
	int rc = w->out ? output_flush(w->out, err) : LM_OK;

	free(w->scratch);
	memset(w, 0, sizeof *w);
	return rc;
}

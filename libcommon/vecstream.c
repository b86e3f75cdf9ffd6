#include "vecstream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "utf8.h"

static const char *const dtype_names[] = {
	[VECSTREAM_F32] = "f32",
	[VECSTREAM_F16] = "f16",
	[VECSTREAM_I8] = "i8",
	[VECSTREAM_BIT] = "bit",
};

const char *vecstream_dtype_name(enum vecstream_dtype dtype)
{
	if ((unsigned)dtype >= sizeof dtype_names / sizeof dtype_names[0])
		return NULL;
	return dtype_names[dtype];
}

int vecstream_dtype_parse(const char *name, enum vecstream_dtype *dtype, struct lm_error *err)
{
	size_t i;

	for (i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++) {
		if (!strcmp(name, dtype_names[i])) {
			*dtype = (enum vecstream_dtype)i;
			return LM_OK;
		}
	}
	return lm_fail(err, LM_EINVAL, "unknown dtype '%s' (expected f32, f16, i8 or bit)", name);
}

size_t vecstream_vector_bytes(enum vecstream_dtype dtype, uint32_t dim)
{
	switch (dtype) {
	case VECSTREAM_F32:
		return (size_t)dim * 4;
	case VECSTREAM_F16:
		return (size_t)dim * 2;
	case VECSTREAM_I8:
		return 4 + (size_t)dim;
	case VECSTREAM_BIT:
		return ((size_t)dim + 7) / 8;
	}
	return 0;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static float get_f32(const unsigned char *p)
{
	uint32_t u = get_u32(p);
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static void put_f32(unsigned char *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	put_u32(p, u);
}

void vecstream_encode(enum vecstream_dtype dtype, uint32_t dim, const float *src, unsigned char *dst)
{
	uint32_t i;
	float maxabs = 0, scale;

	switch (dtype) {
	case VECSTREAM_F32:
		for (i = 0; i < dim; i++)
			put_f32(dst + 4 * (size_t)i, src[i]);
		break;
	case VECSTREAM_F16:
		for (i = 0; i < dim; i++) {
			uint16_t h = f32_to_f16(src[i]);

			dst[2 * (size_t)i] = (unsigned char)h;
			dst[2 * (size_t)i + 1] = (unsigned char)(h >> 8);
		}
		break;
	case VECSTREAM_I8:
		for (i = 0; i < dim; i++)
			if (fabsf(src[i]) > maxabs)
				maxabs = fabsf(src[i]);
		scale = maxabs / 127.0f;
		put_f32(dst, scale);
		for (i = 0; i < dim; i++) {
			float q = scale > 0 ? nearbyintf(src[i] / scale) : 0;

			if (q > 127)
				q = 127;
			if (q < -127)
				q = -127;
			dst[4 + (size_t)i] = (unsigned char)(int8_t)q;
		}
		break;
	case VECSTREAM_BIT:
		memset(dst, 0, vecstream_vector_bytes(dtype, dim));
		for (i = 0; i < dim; i++)
			if (src[i] > 0)
				dst[i / 8] |= (unsigned char)(1u << (i % 8));
		break;
	}
}

void vecstream_decode(enum vecstream_dtype dtype, uint32_t dim, const unsigned char *src, float *dst)
{
	uint32_t i;
	float scale;

	switch (dtype) {
	case VECSTREAM_F32:
		for (i = 0; i < dim; i++)
			dst[i] = get_f32(src + 4 * (size_t)i);
		break;
	case VECSTREAM_F16:
		for (i = 0; i < dim; i++)
			dst[i] = f16_to_f32((uint16_t)(src[2 * (size_t)i] | src[2 * (size_t)i + 1] << 8));
		break;
	case VECSTREAM_I8:
		scale = get_f32(src);
		for (i = 0; i < dim; i++)
			dst[i] = scale * (float)(int8_t)src[4 + (size_t)i];
		break;
	case VECSTREAM_BIT:
		for (i = 0; i < dim; i++)
			dst[i] = src[i / 8] >> (i % 8) & 1 ? 1.0f : -1.0f;
		break;
	}
}

/* Why an id is unusable, or NULL. */
static const char *id_problem(const char *id, size_t n)
{
	if (n > VECSTREAM_MAX_ID)
		return "id longer than 65536 bytes";
	if (memchr(id, '\0', n))
		return "id contains a NUL byte";
	if (utf8_validate(id, n) != n)
		return "id is not valid UTF-8";
	return NULL;
}

/* The meta part must look like one JSON object; its full syntax is checked
 * by whoever parses it (vecconv.c), the stream only carries it. */
static const char *meta_problem(const char *meta, size_t n)
{
	size_t a = 0, b = n;

	if (n > VECSTREAM_MAX_META)
		return "meta longer than 16 MiB";
	if (memchr(meta, '\0', n))
		return "meta contains a NUL byte";
	if (utf8_validate(meta, n) != n)
		return "meta is not valid UTF-8";
	while (a < b && strchr(" \t\r\n", meta[a]))
		a++;
	while (b > a && strchr(" \t\r\n", meta[b - 1]))
		b--;
	if (b - a < 2 || meta[a] != '{' || meta[b - 1] != '}')
		return "meta is not a JSON object";
	return NULL;
}

int vecstream_sniff(struct input *in, struct lm_error *err)
{
	const unsigned char *p;
	long n = input_peek(in, VECSTREAM_MAGIC_LEN, &p, err);

	if (n < 0)
		return (int)n;
	return n == VECSTREAM_MAGIC_LEN && !memcmp(p, VECSTREAM_MAGIC, VECSTREAM_MAGIC_LEN);
}

int vecstream_open_reader(struct vecstream_reader *r, struct input *in, struct lm_error *err)
{
	unsigned char h[VECSTREAM_HEADER_LEN];
	unsigned version;
	int rc;

	memset(r, 0, sizeof *r);
	r->in = in;
	rc = input_read(in, h, VECSTREAM_MAGIC_LEN, err);
	if (rc == LM_EOF || rc == LM_EFORMAT || (rc == LM_OK && memcmp(h, VECSTREAM_MAGIC, VECSTREAM_MAGIC_LEN)))
		return lm_fail(err, LM_EFORMAT, "%s: not an lmpipe binary stream (bad magic)", in->name);
	if (rc)
		return rc;
	rc = input_read(in, h + VECSTREAM_MAGIC_LEN, VECSTREAM_HEADER_LEN - VECSTREAM_MAGIC_LEN, err);
	if (rc == LM_EOF || rc == LM_EFORMAT)
		return lm_fail(err, LM_EFORMAT, "%s: binary stream header truncated at byte %llu",
			       in->name, (unsigned long long)(in->offset + in->pos));
	if (rc)
		return rc;
	version = h[8] | h[9] << 8;
	if (version != VECSTREAM_VERSION)
		return lm_fail(err, LM_EFORMAT, "%s: binary stream version %u is not supported (expected %d)",
			       in->name, version, VECSTREAM_VERSION);
	if (!vecstream_dtype_name(h[10]))
		return lm_fail(err, LM_EFORMAT, "%s: binary stream header: unknown dtype %u", in->name, h[10]);
	if (h[11] & ~VECSTREAM_META)
		return lm_fail(err, LM_EFORMAT, "%s: binary stream header: unknown flags 0x%02x", in->name, h[11]);
	r->dtype = h[10];
	r->flags = h[11];
	r->dim = get_u32(h + 12);
	if (r->dim < 1 || r->dim > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EFORMAT, "%s: binary stream header: dimension %lu out of range 1..%d",
			       in->name, (unsigned long)r->dim, VECSTREAM_MAX_DIM);
	r->vec_bytes = vecstream_vector_bytes(r->dtype, r->dim);
	r->id = malloc(VECSTREAM_MAX_ID + 1);
	r->vec = malloc(r->vec_bytes);
	r->meta = malloc(1);
	r->meta_cap = 1;
	if (!r->id || !r->vec || !r->meta) {
		vecstream_close_reader(r);
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", in->name);
	}
	return LM_OK;
}

/* Read one field of record r->records + 1; input ending here is truncation. */
static int read_part(struct vecstream_reader *r, void *dst, size_t n, const char *what, struct lm_error *err)
{
	int rc = input_read(r->in, dst, n, err);

	if (rc == LM_EOF || rc == LM_EFORMAT)
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: truncated in %s at byte %llu",
			       r->in->name, (unsigned long long)r->records + 1, what,
			       (unsigned long long)(r->in->offset + r->in->pos));
	return rc;
}

int vecstream_next(struct vecstream_reader *r, struct vecstream_record *rec, struct lm_error *err)
{
	unsigned long long num = r->records + 1;
	unsigned char b[4];
	const char *why;
	uint32_t id_len, meta_len = 0;
	int rc;

	rc = input_read(r->in, b, 4, err);
	if (rc == LM_EOF)
		return LM_EOF;
	if (rc == LM_EFORMAT)
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: truncated in id length at byte %llu",
			       r->in->name, num, (unsigned long long)(r->in->offset + r->in->pos));
	if (rc)
		return rc;
	id_len = get_u32(b);
	if (id_len > VECSTREAM_MAX_ID)
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: id length %lu exceeds the limit of %d bytes",
			       r->in->name, num, (unsigned long)id_len, VECSTREAM_MAX_ID);
	if ((rc = read_part(r, r->id, id_len, "id", err)))
		return rc;
	r->id[id_len] = '\0';
	if ((why = id_problem(r->id, id_len)))
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: %s", r->in->name, num, why);
	if ((rc = read_part(r, r->vec, r->vec_bytes, "vector", err)))
		return rc;
	if (r->dtype == VECSTREAM_I8 && !isfinite(get_f32(r->vec)))
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: i8 scale is not finite", r->in->name, num);
	if (r->dtype == VECSTREAM_BIT && r->dim % 8 && r->vec[r->vec_bytes - 1] >> (r->dim % 8))
		return lm_fail(err, LM_EFORMAT, "%s: record %llu: padding bits after bit %lu are not zero",
			       r->in->name, num, (unsigned long)r->dim);
	if (r->flags & VECSTREAM_META) {
		if ((rc = read_part(r, b, 4, "meta length", err)))
			return rc;
		meta_len = get_u32(b);
		if (meta_len > VECSTREAM_MAX_META)
			return lm_fail(err, LM_EFORMAT, "%s: record %llu: meta length %lu exceeds the limit of %d bytes",
				       r->in->name, num, (unsigned long)meta_len, VECSTREAM_MAX_META);
		if (meta_len + 1 > r->meta_cap) {
			char *m = realloc(r->meta, meta_len + 1);

			if (!m)
				return lm_fail(err, LM_ENOMEM, "%s: record %llu: out of memory", r->in->name, num);
			r->meta = m;
			r->meta_cap = meta_len + 1;
		}
		if ((rc = read_part(r, r->meta, meta_len, "meta", err)))
			return rc;
		if (meta_len && (why = meta_problem(r->meta, meta_len)))
			return lm_fail(err, LM_EFORMAT, "%s: record %llu: %s", r->in->name, num, why);
	}
	r->meta[meta_len] = '\0';
	r->records++;
	rec->id = r->id;
	rec->id_len = id_len;
	rec->vec = r->vec;
	rec->meta = r->meta;
	rec->meta_len = meta_len;
	rec->number = r->records;
	return LM_OK;
}

void vecstream_record_floats(const struct vecstream_reader *r, const struct vecstream_record *rec, float *dst)
{
	vecstream_decode(r->dtype, r->dim, rec->vec, dst);
}

void vecstream_close_reader(struct vecstream_reader *r)
{
	free(r->id);
	free(r->vec);
	free(r->meta);
	memset(r, 0, sizeof *r);
}

int vecstream_writer_init(struct vecstream_writer *w, struct output *out, enum vecstream_dtype dtype,
			  uint32_t dim, unsigned flags, struct lm_error *err)
{
	unsigned char h[VECSTREAM_HEADER_LEN];

	memset(w, 0, sizeof *w);
	if (!vecstream_dtype_name(dtype))
		return lm_fail(err, LM_EINVAL, "%s: unknown dtype %d", out->name, (int)dtype);
	if (dim < 1 || dim > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EINVAL, "%s: dimension %lu out of range 1..%d",
			       out->name, (unsigned long)dim, VECSTREAM_MAX_DIM);
	if (flags & ~VECSTREAM_META)
		return lm_fail(err, LM_EINVAL, "%s: unknown flags 0x%x", out->name, flags);
	w->out = out;
	w->dtype = dtype;
	w->dim = dim;
	w->flags = flags;
	w->vec_bytes = vecstream_vector_bytes(dtype, dim);
	w->scratch = malloc(w->vec_bytes);
	if (!w->scratch)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", out->name);
	memcpy(h, VECSTREAM_MAGIC, VECSTREAM_MAGIC_LEN);
	h[8] = VECSTREAM_VERSION & 0xff;
	h[9] = VECSTREAM_VERSION >> 8;
	h[10] = (unsigned char)dtype;
	h[11] = (unsigned char)flags;
	put_u32(h + 12, dim);
	return output_write(out, h, sizeof h, err);
}

int vecstream_write_raw(struct vecstream_writer *w, const char *id, size_t id_len, const void *vec,
			const char *meta, size_t meta_len, struct lm_error *err)
{
	unsigned long long num = w->records + 1;
	const unsigned char *v = vec;
	unsigned char b[4];
	const char *why;
	int rc;

	if (!meta)
		meta_len = 0;
	if ((why = id_problem(id, id_len)))
		return lm_fail(err, LM_EINVAL, "%s: record %llu: %s", w->out->name, num, why);
	if (meta_len && !(w->flags & VECSTREAM_META))
		return lm_fail(err, LM_EINVAL, "%s: record %llu: meta given but the stream has no meta",
			       w->out->name, num);
	if (meta_len && (why = meta_problem(meta, meta_len)))
		return lm_fail(err, LM_EINVAL, "%s: record %llu: %s", w->out->name, num, why);
	if (w->dtype == VECSTREAM_I8 && !isfinite(get_f32(v)))
		return lm_fail(err, LM_EINVAL, "%s: record %llu: i8 scale is not finite", w->out->name, num);
	if (w->dtype == VECSTREAM_BIT && w->dim % 8 && v[w->vec_bytes - 1] >> (w->dim % 8))
		return lm_fail(err, LM_EINVAL, "%s: record %llu: padding bits are not zero", w->out->name, num);
	put_u32(b, (uint32_t)id_len);
	if ((rc = output_write(w->out, b, 4, err)) || (rc = output_write(w->out, id, id_len, err)) ||
	    (rc = output_write(w->out, v, w->vec_bytes, err)))
		return rc;
	if (w->flags & VECSTREAM_META) {
		put_u32(b, (uint32_t)meta_len);
		if ((rc = output_write(w->out, b, 4, err)) ||
		    (meta_len && (rc = output_write(w->out, meta, meta_len, err))))
			return rc;
	}
	w->records++;
	return LM_OK;
}

int vecstream_write(struct vecstream_writer *w, const char *id, size_t id_len, const float *vec,
		    const char *meta, size_t meta_len, struct lm_error *err)
{
	uint32_t i;

	/* A NaN or infinity has no int8 code and would poison the scale. */
	if (w->dtype == VECSTREAM_I8)
		for (i = 0; i < w->dim; i++)
			if (!isfinite(vec[i]))
				return lm_fail(err, LM_EINVAL, "%s: record %llu: value %lu is not finite",
					       w->out->name, (unsigned long long)w->records + 1, (unsigned long)i);
	vecstream_encode(w->dtype, w->dim, vec, w->scratch);
	return vecstream_write_raw(w, id, id_len, w->scratch, meta, meta_len, err);
}

int vecstream_writer_close(struct vecstream_writer *w, struct lm_error *err)
{
	int rc = w->out ? output_flush(w->out, err) : LM_OK;

	free(w->scratch);
	memset(w, 0, sizeof *w);
	return rc;
}

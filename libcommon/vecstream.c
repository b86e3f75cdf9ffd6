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
	[VECSTREAM_I8_DIM] = "i8-dim",
	[VECSTREAM_PQ] = "pq",
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
	return lm_fail(err, LM_EINVAL, "unknown dtype '%s' (expected f32, f16, i8, bit, i8-dim or pq)", name);
}

int vecstream_dtype_has_params(enum vecstream_dtype dtype)
{
	return dtype == VECSTREAM_I8_DIM || dtype == VECSTREAM_PQ;
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
	case VECSTREAM_I8_DIM:
		return dim;
	case VECSTREAM_PQ:
		return 0;
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
	case VECSTREAM_I8_DIM:
	case VECSTREAM_PQ:
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
	case VECSTREAM_I8_DIM:
	case VECSTREAM_PQ:
		break;
	}
}

int vecstream_codec_init(struct vecstream_codec *c, enum vecstream_dtype dtype, uint32_t dim, uint32_t pq_m,
			 struct lm_error *err)
{
	memset(c, 0, sizeof *c);
	if (!vecstream_dtype_name(dtype))
		return lm_fail(err, LM_EINVAL, "unknown dtype %d", (int)dtype);
	if (dim < 1 || dim > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EINVAL, "dimension %lu out of range 1..%d", (unsigned long)dim,
			       VECSTREAM_MAX_DIM);
	c->dtype = dtype;
	c->dim = dim;
	if (dtype == VECSTREAM_I8_DIM) {
		c->offset = calloc(dim, sizeof *c->offset);
		c->scale = calloc(dim, sizeof *c->scale);
		if (!c->offset || !c->scale)
			goto nomem;
	} else if (dtype == VECSTREAM_PQ) {
		if (dim > VECSTREAM_MAX_PQ_DIM)
			return lm_fail(err, LM_EINVAL, "pq: dimension %lu larger than %d", (unsigned long)dim,
				       VECSTREAM_MAX_PQ_DIM);
		if (pq_m < 1 || dim % pq_m)
			return lm_fail(err, LM_EINVAL, "pq: %lu sub-quantizers do not divide dimension %lu",
				       (unsigned long)pq_m, (unsigned long)dim);
		c->pq_m = pq_m;
		c->centroids = calloc((size_t)VECSTREAM_PQ_K * dim, sizeof *c->centroids);
		if (!c->centroids)
			goto nomem;
	}
	return LM_OK;
nomem:
	vecstream_codec_free(c);
	return lm_fail(err, LM_ENOMEM, "out of memory for the %s parameters of dimension %lu",
		       vecstream_dtype_name(dtype), (unsigned long)dim);
}

void vecstream_codec_free(struct vecstream_codec *c)
{
	free(c->offset);
	free(c->scale);
	free(c->centroids);
	memset(c, 0, sizeof *c);
}

size_t vecstream_codec_bytes(const struct vecstream_codec *c)
{
	return c->dtype == VECSTREAM_PQ ? c->pq_m : vecstream_vector_bytes(c->dtype, c->dim);
}

int vecstream_codec_check(const struct vecstream_codec *c, struct lm_error *err)
{
	size_t i, n = (size_t)VECSTREAM_PQ_K * c->dim;

	if (c->dtype == VECSTREAM_I8_DIM)
		for (i = 0; i < c->dim; i++)
			if (!isfinite(c->offset[i]) || !isfinite(c->scale[i]) || c->scale[i] < 0)
				return lm_fail(err, LM_EINVAL, "i8-dim: offset %g or scale %g of dimension %zu "
					       "is not finite or negative", c->offset[i], c->scale[i], i);
	if (c->dtype == VECSTREAM_PQ && (c->pq_m < 1 || c->dim % c->pq_m))
		return lm_fail(err, LM_EINVAL, "pq: %lu sub-quantizers do not divide dimension %lu",
			       (unsigned long)c->pq_m, (unsigned long)c->dim);
	if (c->dtype == VECSTREAM_PQ)
		for (i = 0; i < n; i++)
			if (!isfinite(c->centroids[i]))
				return lm_fail(err, LM_EINVAL, "pq: centroid value %zu (sub-quantizer %zu, centroid %zu) "
					       "is not finite", i, i / ((size_t)VECSTREAM_PQ_K * (c->dim / c->pq_m)),
					       i / (c->dim / c->pq_m) % VECSTREAM_PQ_K);
	return LM_OK;
}

void vecstream_codec_encode(const struct vecstream_codec *c, const float *src, unsigned char *dst)
{
	uint32_t i;
	float q;

	if (c->dtype != VECSTREAM_I8_DIM) {
		vecstream_encode(c->dtype, c->dim, src, dst);
		return;
	}
	for (i = 0; i < c->dim; i++) {
		q = c->scale[i] > 0 ? nearbyintf((src[i] - c->offset[i]) / c->scale[i]) : 0;
		/* written so that NaN lands on 0 */
		if (!(q > 0))
			q = 0;
		if (q > 255)
			q = 255;
		dst[i] = (unsigned char)q;
	}
}

void vecstream_codec_decode(const struct vecstream_codec *c, const unsigned char *src, float *dst)
{
	uint32_t i, j, dsub;

	switch (c->dtype) {
	case VECSTREAM_I8_DIM:
		for (i = 0; i < c->dim; i++)
			dst[i] = c->offset[i] + c->scale[i] * (float)src[i];
		break;
	case VECSTREAM_PQ:
		/* pq.h's layout: sub-quantizer j's centroid q is the dsub floats
		 * at (j * 256 + q) * dsub. */
		dsub = c->dim / c->pq_m;
		for (j = 0; j < c->pq_m; j++)
			memcpy(dst + (size_t)j * dsub, c->centroids + ((size_t)j * VECSTREAM_PQ_K + src[j]) * dsub,
			       dsub * sizeof *dst);
		break;
	default:
		vecstream_decode(c->dtype, c->dim, src, dst);
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

/* Read N bytes of the parameter block of R's dtype. */
static int read_params(struct vecstream_reader *r, void *dst, size_t n, struct lm_error *err)
{
	int rc = input_read(r->in, dst, n, err);

	if (rc == LM_EOF || rc == LM_EFORMAT)
		return lm_fail(err, LM_EFORMAT, "%s: binary stream header: dtype %u (%s) parameters truncated at byte %llu",
			       r->in->name, (unsigned)r->dtype, vecstream_dtype_name(r->dtype),
			       (unsigned long long)(r->in->offset + r->in->pos));
	return rc;
}

static void get_floats(const unsigned char *p, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = get_f32(p + 4 * i);
}

/* The block after the header of i8-dim and pq (vecstream.h). */
static int open_params(struct vecstream_reader *r, struct lm_error *err)
{
	struct vecstream_codec *c = &r->codec;
	const char *name = r->in->name, *dt = vecstream_dtype_name(r->dtype);
	unsigned char b[8], *raw = NULL;
	uint32_t len, m = 1, k;
	size_t want, n;
	int rc;

	if (r->dtype == VECSTREAM_PQ && r->dim > VECSTREAM_MAX_PQ_DIM)
		return lm_fail(err, LM_EFORMAT, "%s: binary stream header: pq dimension %lu larger than %d",
			       name, (unsigned long)r->dim, VECSTREAM_MAX_PQ_DIM);
	if ((rc = read_params(r, b, 4, err)))
		return rc;
	len = get_u32(b);
	want = r->dtype == VECSTREAM_PQ ? 8 + (size_t)VECSTREAM_PQ_K * 4 * r->dim : (size_t)8 * r->dim;
	if (len != want)
		return lm_fail(err, LM_EFORMAT, "%s: binary stream header: %s parameter block of %lu bytes, "
			       "expected %zu for dimension %lu", name, dt, (unsigned long)len, want,
			       (unsigned long)r->dim);
	if (r->dtype == VECSTREAM_PQ) {
		if ((rc = read_params(r, b, 8, err)))
			return rc;
		m = get_u32(b);
		k = get_u32(b + 4);
		if (k != VECSTREAM_PQ_K)
			return lm_fail(err, LM_EFORMAT, "%s: binary stream header: pq with %lu centroids per "
				       "sub-quantizer (only %d is defined)", name, (unsigned long)k, VECSTREAM_PQ_K);
		if (m < 1 || r->dim % m)
			return lm_fail(err, LM_EFORMAT, "%s: binary stream header: pq: %lu sub-quantizers do not "
				       "divide dimension %lu", name, (unsigned long)m, (unsigned long)r->dim);
		want -= 8;
	}
	if ((rc = vecstream_codec_init(c, r->dtype, r->dim, m, err)))
		return rc == LM_ENOMEM ? lm_error_prefix(err, "%s: ", name) : rc;
	raw = malloc(want);
	if (!raw)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory for %zu bytes of %s parameters", name, want, dt);
	if ((rc = read_params(r, raw, want, err)))
		goto out;
	n = want / 4;
	if (r->dtype == VECSTREAM_PQ) {
		get_floats(raw, c->centroids, n);
	} else {
		get_floats(raw, c->offset, n / 2);
		get_floats(raw + 4 * (n / 2), c->scale, n / 2);
	}
	if ((rc = vecstream_codec_check(c, err))) {
		rc = LM_EFORMAT;
		lm_error_prefix(err, "%s: binary stream header: ", name);
		err->code = LM_EFORMAT;
	}
out:
	free(raw);
	return rc;
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
	r->codec.dtype = r->dtype;
	r->codec.dim = r->dim;
	if (vecstream_dtype_has_params(r->dtype) && (rc = open_params(r, err))) {
		vecstream_close_reader(r);
		return rc;
	}
	r->vec_bytes = vecstream_codec_bytes(&r->codec);
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
	vecstream_codec_decode(&r->codec, rec->vec, dst);
}

void vecstream_close_reader(struct vecstream_reader *r)
{
	vecstream_codec_free(&r->codec);
	free(r->id);
	free(r->vec);
	free(r->meta);
	memset(r, 0, sizeof *r);
}

int vecstream_writer_init(struct vecstream_writer *w, struct output *out, enum vecstream_dtype dtype,
			  uint32_t dim, unsigned flags, struct lm_error *err)
{
	struct vecstream_codec c = { .dtype = dtype, .dim = dim };

	memset(w, 0, sizeof *w);
	if (vecstream_dtype_has_params(dtype))
		return lm_fail(err, LM_EINVAL, "%s: dtype %s needs trained parameters (make it with quantize --vectors)",
			       out->name, vecstream_dtype_name(dtype));
	return vecstream_writer_init_codec(w, out, &c, flags, err);
}

static int write_floats(struct output *out, const float *x, size_t n, struct lm_error *err)
{
	unsigned char b[4 * 256];
	size_t i, k;
	int rc;

	for (i = 0; i < n; i += k) {
		for (k = 0; k < 256 && i + k < n; k++)
			put_f32(b + 4 * k, x[i + k]);
		if ((rc = output_write(out, b, 4 * k, err)))
			return rc;
	}
	return LM_OK;
}

static int write_params(struct output *out, const struct vecstream_codec *c, struct lm_error *err)
{
	unsigned char b[12];
	int rc;

	if (c->dtype == VECSTREAM_I8_DIM) {
		put_u32(b, 8 * c->dim);
		if ((rc = output_write(out, b, 4, err)) || (rc = write_floats(out, c->offset, c->dim, err)))
			return rc;
		return write_floats(out, c->scale, c->dim, err);
	}
	put_u32(b, 8 + (uint32_t)VECSTREAM_PQ_K * 4 * c->dim);
	put_u32(b + 4, c->pq_m);
	put_u32(b + 8, VECSTREAM_PQ_K);
	if ((rc = output_write(out, b, 12, err)))
		return rc;
	return write_floats(out, c->centroids, (size_t)VECSTREAM_PQ_K * c->dim, err);
}

int vecstream_writer_init_codec(struct vecstream_writer *w, struct output *out, const struct vecstream_codec *c,
				unsigned flags, struct lm_error *err)
{
	unsigned char h[VECSTREAM_HEADER_LEN];
	int rc;

	memset(w, 0, sizeof *w);
	if (!vecstream_dtype_name(c->dtype))
		return lm_fail(err, LM_EINVAL, "%s: unknown dtype %d", out->name, (int)c->dtype);
	if (c->dim < 1 || c->dim > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EINVAL, "%s: dimension %lu out of range 1..%d",
			       out->name, (unsigned long)c->dim, VECSTREAM_MAX_DIM);
	if (flags & ~VECSTREAM_META)
		return lm_fail(err, LM_EINVAL, "%s: unknown flags 0x%x", out->name, flags);
	if (c->dtype == VECSTREAM_PQ && (c->dim > VECSTREAM_MAX_PQ_DIM || c->pq_m < 1 || c->dim % c->pq_m))
		return lm_fail(err, LM_EINVAL, "%s: pq with %lu sub-quantizers for dimension %lu (at most %d, "
			       "divided by m)", out->name, (unsigned long)c->pq_m, (unsigned long)c->dim,
			       VECSTREAM_MAX_PQ_DIM);
	if (vecstream_dtype_has_params(c->dtype) && (rc = vecstream_codec_check(c, err)))
		return lm_error_prefix(err, "%s: ", out->name);
	w->out = out;
	w->codec = *c;
	w->dtype = c->dtype;
	w->dim = c->dim;
	w->flags = flags;
	w->vec_bytes = vecstream_codec_bytes(c);
	w->scratch = malloc(w->vec_bytes);
	if (!w->scratch)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", out->name);
	memcpy(h, VECSTREAM_MAGIC, VECSTREAM_MAGIC_LEN);
	h[8] = VECSTREAM_VERSION & 0xff;
	h[9] = VECSTREAM_VERSION >> 8;
	h[10] = (unsigned char)c->dtype;
	h[11] = (unsigned char)flags;
	put_u32(h + 12, c->dim);
	if ((rc = output_write(out, h, sizeof h, err)))
		return rc;
	return vecstream_dtype_has_params(c->dtype) ? write_params(out, c, err) : LM_OK;
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

	if (w->dtype == VECSTREAM_PQ)
		return lm_fail(err, LM_EINVAL, "%s: pq codes are chosen by vecquant.h and written raw", w->out->name);
	/* A NaN or infinity has no int8 code and would poison the scale. */
	if (w->dtype == VECSTREAM_I8 || w->dtype == VECSTREAM_I8_DIM)
		for (i = 0; i < w->dim; i++)
			if (!isfinite(vec[i]))
				return lm_fail(err, LM_EINVAL, "%s: record %llu: value %lu is not finite",
					       w->out->name, (unsigned long long)w->records + 1, (unsigned long)i);
	vecstream_codec_encode(&w->codec, vec, w->scratch);
	return vecstream_write_raw(w, id, id_len, w->scratch, meta, meta_len, err);
}

int vecstream_writer_close(struct vecstream_writer *w, struct lm_error *err)
{
	int rc = w->out ? output_flush(w->out, err) : LM_OK;

	free(w->scratch);
	memset(w, 0, sizeof *w);
	return rc;
}

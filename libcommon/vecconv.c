#include "vecconv.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fvecs.h"
#include "json.h"
#include "ndjson.h"
#include "npy.h"
#include "vecstream.h"

/* An NDJSON line may hold a 2^20-float embedding and 16 MiB of meta. */
enum { VECCONV_MAX_LINE = 64 << 20 };

static const char *const format_names[] = {
	[VECCONV_AUTO] = "auto",
	[VECCONV_NDJSON] = "ndjson",
	[VECCONV_BIN] = "bin",
	[VECCONV_NPY] = "npy",
	[VECCONV_FVECS] = "fvecs",
	[VECCONV_IVECS] = "ivecs",
	[VECCONV_BVECS] = "bvecs",
};

int vecconv_format_parse(const char *name, int allow_auto, enum vecconv_format *fmt, struct lm_error *err)
{
	size_t i;

	for (i = allow_auto ? 0 : 1; i < sizeof format_names / sizeof format_names[0]; i++) {
		if (!strcmp(name, format_names[i])) {
			*fmt = (enum vecconv_format)i;
			return LM_OK;
		}
	}
	return lm_fail(err, LM_EINVAL, "unknown format '%s' (expected %sndjson, bin, npy, fvecs, ivecs or bvecs)",
		       name, allow_auto ? "auto, " : "");
}

const char *vecconv_format_name(enum vecconv_format fmt)
{
	if ((unsigned)fmt >= sizeof format_names / sizeof format_names[0])
		return NULL;
	return format_names[fmt];
}

/* One conversion: the source's reader, the current record, the sink. */
struct vecconv {
	struct input *in;
	struct output *out;
	enum vecconv_format from, to;
	int dtype;

	struct vecstream_reader vr;
	struct npy_reader nr;
	struct fvecs_reader fr;
	struct ndjson_reader nd;
	int reader_open;
	struct json_doc *doc;

	/* The current record.  vec holds dim floats when have_vec; raw is
	 * the undecoded vector when the source is a binary stream. */
	char where[600];               /* "FILE:LINE" or "FILE: record N" */
	uint64_t number;               /* 1-based */
	char idbuf[32];
	const char *id;
	size_t id_len;
	float *vec;
	size_t vec_cap;
	uint32_t dim;
	int have_vec;
	const unsigned char *raw;
	const char *meta;              /* binary stream source: its meta text */
	size_t meta_len;
	struct json_value *obj;        /* NDJSON source: the whole record */

	int started;
	uint32_t out_dim;
	struct vecstream_writer vw;
	struct npy_writer nw;
	struct fvecs_writer fw;
	uint64_t written;
};

static int vec_reserve(struct vecconv *c, size_t n, struct lm_error *err)
{
	float *v;

	if (n <= c->vec_cap)
		return LM_OK;
	v = realloc(c->vec, n * sizeof *v);
	if (!v)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", c->where);
	c->vec = v;
	c->vec_cap = n;
	return LM_OK;
}

static int source_open(struct vecconv *c, struct lm_error *err)
{
	int rc = LM_OK, k;

	if (c->from == VECCONV_AUTO) {
		if ((rc = vecstream_sniff(c->in, err)) < 0)
			return rc;
		if (rc == 1) {
			c->from = VECCONV_BIN;
		} else {
			if ((rc = npy_sniff(c->in, err)) < 0)
				return rc;
			k = fvecs_kind_from_name(c->in->name);
			if (rc == 1)
				c->from = VECCONV_NPY;
			else if (k >= 0)
				c->from = k == FVECS_F32 ? VECCONV_FVECS : k == FVECS_I32 ? VECCONV_IVECS : VECCONV_BVECS;
			else
				c->from = VECCONV_NDJSON;
		}
	}
	switch (c->from) {
	case VECCONV_BIN:
		rc = vecstream_open_reader(&c->vr, c->in, err);
		break;
	case VECCONV_NPY:
		rc = npy_open_reader(&c->nr, c->in, err);
		break;
	case VECCONV_FVECS:
	case VECCONV_IVECS:
	case VECCONV_BVECS:
		rc = fvecs_open_reader(&c->fr, c->in,
				       c->from == VECCONV_FVECS ? FVECS_F32 : c->from == VECCONV_IVECS ? FVECS_I32 : FVECS_U8, err);
		break;
	default:
		rc = ndjson_open(&c->nd, c->in, err);
		c->nd.max_line = VECCONV_MAX_LINE;
		break;
	}
	if (rc == LM_OK)
		c->reader_open = 1;
	return rc;
}

static void source_close(struct vecconv *c)
{
	if (!c->reader_open)
		return;
	if (c->from == VECCONV_BIN)
		vecstream_close_reader(&c->vr);
	else if (c->from == VECCONV_NPY)
		npy_close_reader(&c->nr);
	else if (c->from == VECCONV_NDJSON)
		ndjson_close(&c->nd);
	else
		fvecs_close_reader(&c->fr);
	c->reader_open = 0;
}

/* A refusal from a module below, caused by this record's content: a data
 * error (LM_EFORMAT) located at WHERE. */
static int data_error(struct lm_error *err, const char *where, const char *what)
{
	if (err->code == LM_EINVAL)
		err->code = LM_EFORMAT;
	return lm_error_prefix(err, "%s: %s", where, what);
}

/* One NDJSON record (ndjson.h applies the protocol's rules: plain-text
 * lines, _id, ids from line numbers). */
static int ndjson_record(struct vecconv *c, struct lm_error *err)
{
	struct json_value *ev;
	size_t n;
	int rc;

	if ((rc = ndjson_next(&c->nd, &c->obj, err)))
		return rc;
	snprintf(c->where, sizeof c->where, "%s:%" PRIu64, c->in->name, c->nd.line);
	c->id = json_string(json_get(c->obj, "id"), &c->id_len);
	c->have_vec = 0;
	ev = json_get(c->obj, "embedding");
	if (!ev)
		return LM_OK;
	if (json_type(ev) != JSON_ARRAY)
		return lm_fail(err, LM_EFORMAT, "%s: \"embedding\" must be an array of numbers, not %s",
			       c->where, json_type_name(json_type(ev)));
	n = json_array_len(ev);
	if (n < 1 || n > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EFORMAT, "%s: \"embedding\" has %zu values, expected 1..%d",
			       c->where, n, VECSTREAM_MAX_DIM);
	if ((rc = vec_reserve(c, n, err)))
		return rc;
	if ((rc = json_get_float_array(ev, c->vec, n, &n, err)))
		return data_error(err, c->where, "\"embedding\": ");
	c->dim = (uint32_t)n;
	c->have_vec = 1;
	return LM_OK;
}

static int source_next(struct vecconv *c, struct lm_error *err)
{
	struct vecstream_record rec;
	int rc;

	c->raw = NULL;
	c->meta = NULL;
	c->meta_len = 0;
	c->obj = NULL;
	c->number++;
	if (c->from == VECCONV_NDJSON)
		return ndjson_record(c, err);
	snprintf(c->where, sizeof c->where, "%s: record %" PRIu64, c->in->name, c->number);
	/* .npy and fvecs rows are named by their 0-based row number. */
	snprintf(c->idbuf, sizeof c->idbuf, "%" PRIu64, c->number - 1);
	c->id = c->idbuf;
	c->id_len = strlen(c->idbuf);
	c->have_vec = 1;
	switch (c->from) {
	case VECCONV_BIN:
		if ((rc = vecstream_next(&c->vr, &rec, err)))
			return rc;
		c->id = rec.id;
		c->id_len = rec.id_len;
		c->raw = rec.vec;
		c->meta = rec.meta;
		c->meta_len = rec.meta_len;
		c->dim = c->vr.dim;
		if ((rc = vec_reserve(c, c->dim, err)))
			return rc;
		vecstream_record_floats(&c->vr, &rec, c->vec);
		return LM_OK;
	case VECCONV_NPY:
		c->dim = c->nr.dim;
		if ((rc = vec_reserve(c, c->dim ? c->dim : 1, err)))
			return rc;
		return npy_next(&c->nr, c->vec, err);
	default:
		if (c->fr.dim == 0) {
			/* Empty input, or shorter than one dimension field:
			 * fvecs_next says which. */
			if ((rc = vec_reserve(c, 1, err)))
				return rc;
		} else if ((rc = vec_reserve(c, c->fr.dim, err))) {
			return rc;
		}
		c->dim = c->fr.dim;
		return fvecs_next(&c->fr, c->vec, err);
	}
}

static int sink_check(struct vecconv *c, struct lm_error *err)
{
	switch (c->to) {
	case VECCONV_NDJSON:
	case VECCONV_FVECS:
		if (c->dtype >= 0 && c->dtype != VECSTREAM_F32)
			return lm_fail(err, LM_EINVAL, "%s: %s output holds f32 only, not %s", c->out->name,
				       format_names[c->to], vecstream_dtype_name(c->dtype));
		return LM_OK;
	case VECCONV_BIN:
		if (c->dtype >= 0 && !vecstream_dtype_name(c->dtype))
			return lm_fail(err, LM_EINVAL, "%s: unknown dtype %d", c->out->name, c->dtype);
		return LM_OK;
	case VECCONV_NPY:
		if (c->dtype >= 0 && c->dtype != VECSTREAM_F32 && c->dtype != VECSTREAM_F16)
			return lm_fail(err, LM_EINVAL, "%s: npy output holds f32 or f16, not %s", c->out->name,
				       vecstream_dtype_name(c->dtype));
		return LM_OK;
	default:
		return lm_fail(err, LM_EINVAL, "%s: cannot write %s (output formats: ndjson, bin, npy, fvecs)",
			       c->out->name, vecconv_format_name(c->to) ? vecconv_format_name(c->to) : "?");
	}
}

/* Open the writer for a first record of dimension DIM. */
static int sink_start(struct vecconv *c, uint32_t dim, struct lm_error *err)
{
	int dtype = c->dtype;
	unsigned flags = 0;

	c->started = 1;
	c->out_dim = dim;
	switch (c->to) {
	case VECCONV_BIN:
		if (dtype < 0)
			dtype = c->from == VECCONV_BIN ? (int)c->vr.dtype : VECSTREAM_F32;
		if (c->from == VECCONV_NDJSON || (c->from == VECCONV_BIN && (c->vr.flags & VECSTREAM_META)))
			flags = VECSTREAM_META;
		/* Same dtype as the input stream: its trained parameters (i8-dim
		 * scales, pq codebook) go along, and the codes are copied raw. */
		if (c->from == VECCONV_BIN && dtype == (int)c->vr.dtype && dim == c->vr.dim)
			return vecstream_writer_init_codec(&c->vw, c->out, &c->vr.codec, flags, err);
		return vecstream_writer_init(&c->vw, c->out, (enum vecstream_dtype)dtype, dim, flags, err);
	case VECCONV_NPY:
		return npy_writer_init(&c->nw, c->out, dtype == VECSTREAM_F16 ? NPY_F2 : NPY_F4, dim, err);
	case VECCONV_FVECS:
		return fvecs_writer_init(&c->fw, c->out, dim, err);
	default:
		return LM_OK;
	}
}

/* id, the meta members (other than id and embedding), embedding. */
static int write_ndjson(struct vecconv *c, struct lm_error *err)
{
	struct json_value *obj = c->obj, *meta = NULL, *v;
	size_t i, off;
	int rc;

	if (!obj) {
		json_doc_reset(c->doc);
		if (c->meta_len) {
			rc = json_parse_at(c->doc, c->meta, c->meta_len, &meta, &off, err);
			if (rc)
				return lm_error_prefix(err, "%s: meta byte %zu: ", c->where, off + 1);
			if (json_type(meta) != JSON_OBJECT)
				return lm_fail(err, LM_EFORMAT, "%s: meta is not a JSON object", c->where);
		}
		obj = json_new_object(c->doc);
		v = json_new_string(c->doc, c->id, c->id_len);
		if (!obj || !v || json_object_set(c->doc, obj, "id", v))
			return lm_fail(err, LM_ENOMEM, "%s: out of memory", c->where);
		for (i = 0; meta && i < json_object_len(meta); i++) {
			const char *k = json_object_key(meta, i);

			if (strcmp(k, "id") && strcmp(k, "embedding") &&
			    json_object_set(c->doc, obj, k, json_object_value(meta, i)))
				return lm_fail(err, LM_ENOMEM, "%s: out of memory", c->where);
		}
		for (i = 0; i < c->dim; i++)
			if (!isfinite(c->vec[i]))
				return lm_fail(err, LM_EFORMAT, "%s: embedding value %zu is %s, which JSON cannot represent",
					       c->where, i, isnan(c->vec[i]) ? "NaN" : "infinite");
		v = json_new_float_array(c->doc, c->vec, c->dim);
		if (!v || json_object_set(c->doc, obj, "embedding", v))
			return lm_fail(err, LM_ENOMEM, "%s: out of memory", c->where);
	}
	rc = ndjson_write(c->out, obj, err);
	return rc == LM_EINVAL ? data_error(err, c->where, "") : rc;
}

/* The NDJSON record's other fields, as the binary stream's meta text
 * (malloc'd into *META, NULL when there are none). */
static int ndjson_meta(struct vecconv *c, char **meta, size_t *len, struct lm_error *err)
{
	*meta = NULL;
	*len = 0;
	json_object_remove(c->obj, "id");
	json_object_remove(c->obj, "embedding");
	if (json_object_len(c->obj) == 0)
		return LM_OK;
	*meta = json_to_string(c->obj, len, err);
	if (!*meta)
		return data_error(err, c->where, "");
	return LM_OK;
}

static int sink_write(struct vecconv *c, struct lm_error *err)
{
	char *meta = NULL;
	size_t meta_len = 0;
	int rc;

	if (c->to == VECCONV_NDJSON)
		return write_ndjson(c, err);
	if (!c->have_vec)
		return lm_fail(err, LM_EFORMAT, "%s: record has no \"embedding\"", c->where);
	if (!c->started && (rc = sink_start(c, c->dim, err)))
		return rc;
	if (c->dim != c->out_dim)
		return lm_fail(err, LM_EFORMAT, "%s: embedding has %lu values, the first record had %lu",
			       c->where, (unsigned long)c->dim, (unsigned long)c->out_dim);
	switch (c->to) {
	case VECCONV_BIN:
		if (c->from == VECCONV_NDJSON) {
			if ((rc = ndjson_meta(c, &meta, &meta_len, err)))
				return rc;
		} else if (c->vw.flags & VECSTREAM_META) {
			meta = (char *)c->meta;
			meta_len = c->meta_len;
		}
		if (c->raw && c->vw.dtype == c->vr.dtype)
			rc = vecstream_write_raw(&c->vw, c->id, c->id_len, c->raw, meta, meta_len, err);
		else
			rc = vecstream_write(&c->vw, c->id, c->id_len, c->vec, meta, meta_len, err);
		if (c->from == VECCONV_NDJSON)
			free(meta);
		/* The writer refuses ids it cannot store (NUL, bad UTF-8). */
		return rc == LM_EINVAL ? data_error(err, c->where, "") : rc;
	case VECCONV_NPY:
		return npy_write_row(&c->nw, c->vec, err);
	default:
		return fvecs_write(&c->fw, c->vec, err);
	}
}

static int sink_finish(struct vecconv *c, struct lm_error *err)
{
	int rc = LM_OK, rc2;

	/* An empty .npy still needs its header: shape (0, 0). */
	if (!c->started && c->to == VECCONV_NPY)
		rc = sink_start(c, 0, err);
	if (!c->started)
		return rc ? rc : output_flush(c->out, err);
	switch (c->to) {
	case VECCONV_BIN:
		rc2 = vecstream_writer_close(&c->vw, err);
		break;
	case VECCONV_NPY:
		rc2 = npy_writer_close(&c->nw, err);
		break;
	case VECCONV_FVECS:
		rc2 = fvecs_writer_close(&c->fw, err);
		break;
	default:
		rc2 = output_flush(c->out, err);
		break;
	}
	c->started = 0;
	return rc ? rc : rc2;
}

/* Release a writer left open by an error (the first error is the one
 * reported). */
static void sink_abandon(struct vecconv *c)
{
	struct lm_error ignored;

	if (c->started)
		sink_finish(c, &ignored);
}

int vecconv_copy(struct input *in, enum vecconv_format from, struct output *out, enum vecconv_format to,
		 int dtype, uint64_t *records, struct lm_error *err)
{
	struct vecconv c;
	int rc;

	memset(&c, 0, sizeof c);
	c.in = in;
	c.out = out;
	c.from = from;
	c.to = to;
	c.dtype = dtype;
	if ((unsigned)from > VECCONV_BVECS) {
		rc = lm_fail(err, LM_EINVAL, "%s: unknown input format %d", in->name, (int)from);
		goto out;
	}
	if ((rc = sink_check(&c, err)))
		goto out;
	/* Find out before reading anything. */
	if (to == VECCONV_NPY && (rc = npy_check_output(out, err)))
		goto out;
	c.doc = json_doc_new();
	if (!c.doc) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = source_open(&c, err)))
		goto out;
	while ((rc = source_next(&c, err)) == LM_OK) {
		if ((rc = sink_write(&c, err)))
			goto out;
		c.written++;
	}
	if (rc != LM_EOF)
		goto out;
	rc = sink_finish(&c, err);
out:
	sink_abandon(&c);
	source_close(&c);
	if (c.doc)
		json_doc_free(c.doc);
	free(c.vec);
	if (records)
		*records = c.written;
	return rc;
}

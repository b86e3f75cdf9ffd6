#include "vecquant.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"
#include "index/kmeans.h"
#include "index/pq.h"
#include "json.h"
#include "ndjson.h"

/* An NDJSON line may hold a 2^20-float embedding and 16 MiB of meta (as
 * vecconv.c allows). */
enum { VECQUANT_MAX_LINE = 64 << 20 };

void vecquant_truncate(float *x, uint32_t dim, uint32_t dims)
{
	double all = 0, kept = 0, s;
	uint32_t i;

	if (dims >= dim)
		return;
	for (i = 0; i < dim; i++) {
		all += (double)x[i] * x[i];
		if (i < dims)
			kept += (double)x[i] * x[i];
	}
	if (fabs(sqrt(all) - 1) > 1e-3 || kept <= 0)
		return;
	s = 1 / sqrt(kept);
	for (i = 0; i < dims; i++)
		x[i] = (float)(x[i] * s);
}

/* The largest divisor of DIM not above DIM / 4: FAISS's usual sub-vectors
 * of 4 floats when 4 divides DIM. */
static uint32_t default_pq_m(uint32_t dim)
{
	uint32_t m = dim / 4 ? dim / 4 : 1;

	while (dim % m)
		m--;
	return m;
}

static int train_i8_dim(struct vecstream_codec *c, const float *x, size_t n, struct lm_error *err)
{
	uint32_t d;
	size_t i;

	if (n < 1)
		return lm_fail(err, LM_EINVAL, "i8-dim: no vectors to train on");
	for (d = 0; d < c->dim; d++) {
		float lo = x[d], hi = x[d];
		double scale;

		for (i = 1; i < n; i++) {
			float v = x[i * c->dim + d];

			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
		scale = ((double)hi - lo) / 255;
		if (!isfinite(lo) || !isfinite(scale) || !isfinite((float)scale))
			return lm_fail(err, LM_EINVAL, "i8-dim: dimension %lu spans %g..%g, beyond float range",
				       (unsigned long)d, lo, hi);
		c->offset[d] = lo;
		c->scale[d] = (float)scale;
	}
	return LM_OK;
}

int vecquant_train(struct vecstream_codec *c, enum vecstream_dtype dtype, uint32_t dim, uint32_t pq_m,
		   const float *x, size_t n, uint64_t seed, struct lm_error *err)
{
	struct kmeans_params km = { .seed = seed, .plusplus = 1 };
	struct pq_codebook pq = { 0 };
	int rc;

	if (dtype == VECSTREAM_PQ && !pq_m)
		pq_m = default_pq_m(dim);
	if ((rc = vecstream_codec_init(c, dtype, dim, pq_m, err)))
		return rc;
	if (dtype == VECSTREAM_I8_DIM) {
		rc = train_i8_dim(c, x, n, err);
	} else if (dtype == VECSTREAM_PQ) {
		if (!(rc = pq_init(&pq, dim, pq_m, err)) && !(rc = pq_train(&pq, x, n, &km, err)))
			memcpy(c->centroids, pq.centroids, (size_t)PQ_K * dim * sizeof *c->centroids);
		pq_free(&pq);
	}
	if (rc)
		vecstream_codec_free(c);
	return rc;
}

void vecquant_encode(const struct vecstream_codec *c, const float *x, unsigned char *code)
{
	struct pq_codebook pq;
	struct lm_error ignored;

	if (c->dtype != VECSTREAM_PQ) {
		vecstream_codec_encode(c, x, code);
		return;
	}
	/* vecstream_codec_init checked what pq_init checks */
	pq_init(&pq, c->dim, c->pq_m, &ignored);
	pq_borrow(&pq, c->centroids);
	pq_encode(&pq, x, code);
}

int vecquant_load_codebook(const char *path, struct vecstream_codec *c, struct lm_error *err)
{
	struct vecstream_reader r;
	struct vecstream_record rec;
	struct input in;
	int rc;

	memset(c, 0, sizeof *c);
	if ((rc = input_open(&in, path, err)))
		return rc;
	if ((rc = vecstream_open_reader(&r, &in, err)))
		goto out_in;
	if (!vecstream_dtype_has_params(r.dtype)) {
		rc = lm_fail(err, LM_EFORMAT, "%s: not a codebook: a %s stream has no trained parameters", path,
			     vecstream_dtype_name(r.dtype));
		goto out;
	}
	rc = vecstream_next(&r, &rec, err);
	if (rc == LM_OK) {
		rc = lm_fail(err, LM_EFORMAT, "%s: not a codebook: it holds records", path);
		goto out;
	}
	if (rc != LM_EOF)
		goto out;
	/* the reader's parameters become the caller's */
	*c = r.codec;
	memset(&r.codec, 0, sizeof r.codec);
	rc = LM_OK;
out:
	vecstream_close_reader(&r);
out_in:
	input_close(&in);
	return rc;
}

/* The records of the input, one at a time, as floats. */
struct source {
	struct input *in;
	int bin;
	struct vecstream_reader vr;
	struct ndjson_reader nd;
	int open;
	char where[600];              /* "FILE:LINE" or "FILE: record N" */
	uint64_t number;              /* line (NDJSON) or record number */
	const char *id;
	size_t id_len;
	const char *meta;
	size_t meta_len;
	char *meta_owned;
	float *vec;
	size_t cap;
	uint32_t dim;
};

static int source_open(struct source *s, struct input *in, struct lm_error *err)
{
	int rc;

	s->in = in;
	if ((rc = vecstream_sniff(in, err)) < 0)
		return rc;
	s->bin = rc;
	if (s->bin) {
		rc = vecstream_open_reader(&s->vr, in, err);
	} else {
		rc = ndjson_open(&s->nd, in, err);
		s->nd.max_line = VECQUANT_MAX_LINE;
	}
	s->open = rc == LM_OK;
	return rc;
}

static void source_close(struct source *s)
{
	if (s->open) {
		if (s->bin)
			vecstream_close_reader(&s->vr);
		else
			ndjson_close(&s->nd);
	}
	free(s->meta_owned);
	free(s->vec);
	memset(s, 0, sizeof *s);
}

static int source_reserve(struct source *s, size_t n, struct lm_error *err)
{
	float *v;

	if (n <= s->cap)
		return LM_OK;
	v = realloc(s->vec, n * sizeof *v);
	if (!v)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", s->where);
	s->vec = v;
	s->cap = n;
	return LM_OK;
}

static int ndjson_record(struct source *s, struct lm_error *err)
{
	struct json_value *obj, *ev;
	size_t n;
	int rc;

	if ((rc = ndjson_next(&s->nd, &obj, err)))
		return rc;
	s->number = s->nd.line;
	snprintf(s->where, sizeof s->where, "%s:%" PRIu64, s->in->name, s->number);
	s->id = json_string(json_get(obj, "id"), &s->id_len);
	ev = json_get(obj, "embedding");
	if (!ev)
		return lm_fail(err, LM_EFORMAT, "%s: record has no \"embedding\"", s->where);
	if (json_type(ev) != JSON_ARRAY)
		return lm_fail(err, LM_EFORMAT, "%s: \"embedding\" must be an array of numbers, not %s",
			       s->where, json_type_name(json_type(ev)));
	n = json_array_len(ev);
	if (n < 1 || n > VECSTREAM_MAX_DIM)
		return lm_fail(err, LM_EFORMAT, "%s: \"embedding\" has %zu values, expected 1..%d",
			       s->where, n, VECSTREAM_MAX_DIM);
	if ((rc = source_reserve(s, n, err)))
		return rc;
	if ((rc = json_get_float_array(ev, s->vec, n, &n, err))) {
		err->code = LM_EFORMAT;
		return lm_error_prefix(err, "%s: \"embedding\": ", s->where);
	}
	s->dim = (uint32_t)n;
	/* the other fields become the binary stream's meta, as in vecconv.c */
	json_object_remove(obj, "id");
	json_object_remove(obj, "embedding");
	if (json_object_len(obj)) {
		s->meta_owned = json_to_string(obj, &s->meta_len, err);
		if (!s->meta_owned)
			return lm_error_prefix(err, "%s: ", s->where);
		s->meta = s->meta_owned;
	}
	return LM_OK;
}

static int source_next(struct source *s, struct lm_error *err)
{
	struct vecstream_record rec;
	int rc;

	free(s->meta_owned);
	s->meta_owned = NULL;
	s->meta = NULL;
	s->meta_len = 0;
	if (!s->bin)
		return ndjson_record(s, err);
	if ((rc = vecstream_next(&s->vr, &rec, err)))
		return rc;
	s->number = rec.number;
	snprintf(s->where, sizeof s->where, "%s: record %" PRIu64, s->in->name, s->number);
	s->id = rec.id;
	s->id_len = rec.id_len;
	s->meta = rec.meta_len ? rec.meta : NULL;
	s->meta_len = rec.meta_len;
	s->dim = s->vr.dim;
	if ((rc = source_reserve(s, s->dim, err)))
		return rc;
	vecstream_record_floats(&s->vr, &rec, s->vec);
	return LM_OK;
}

/* Records held back for training: their vectors, and ids and meta in one
 * byte buffer. */
struct held {
	float *vec;
	struct held_rec {
		size_t id_off, id_len, meta_off, meta_len;
		uint64_t number;
	} *recs;
	char *bytes;
	size_t n, cap, used, bytes_cap;
};

static int held_add(struct held *h, const struct source *s, uint32_t dim, struct lm_error *err)
{
	size_t need = h->used + s->id_len + s->meta_len;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 1024;
		float *v = realloc(h->vec, cap * dim * sizeof *v);
		struct held_rec *r;

		if (v)
			h->vec = v;
		r = v ? realloc(h->recs, cap * sizeof *r) : NULL;
		if (!r)
			return lm_fail(err, LM_ENOMEM, "%s: out of memory holding %zu records for training",
				       s->where, cap);
		h->recs = r;
		h->cap = cap;
	}
	if (need > h->bytes_cap) {
		size_t cap = need > 2 * h->bytes_cap ? need : 2 * h->bytes_cap;
		char *b = realloc(h->bytes, cap ? cap : 1);

		if (!b)
			return lm_fail(err, LM_ENOMEM, "%s: out of memory holding records for training", s->where);
		h->bytes = b;
		h->bytes_cap = cap;
	}
	memcpy(h->vec + h->n * dim, s->vec, dim * sizeof *h->vec);
	h->recs[h->n] = (struct held_rec){ h->used, s->id_len, h->used + s->id_len, s->meta_len, s->number };
	if (s->id_len)
		memcpy(h->bytes + h->used, s->id, s->id_len);
	if (s->meta_len)
		memcpy(h->bytes + h->used + s->id_len, s->meta, s->meta_len);
	h->used = need;
	h->n++;
	return LM_OK;
}

static void held_free(struct held *h)
{
	free(h->vec);
	free(h->recs);
	free(h->bytes);
	memset(h, 0, sizeof *h);
}

struct vecquant_job {
	const struct vecquant_options *o;
	struct vecquant_stats *st;
	struct source src;
	struct vecstream_codec codec;
	int have_codec, started;
	struct atomic_file out, book;
	int out_open, book_open;
	struct vecstream_writer w;
	unsigned char *code;
	float *recon;
	struct held held;
};

/* Write the header (and the codebook file when asked) once the codec is
 * known. */
static int job_start(struct vecquant_job *j, struct lm_error *err)
{
	struct vecstream_writer bw;
	unsigned flags = 0;
	int rc;

	if (!j->have_codec) {
		j->codec.dtype = j->o->dtype;
		j->codec.dim = j->st->dim;
		j->have_codec = 1;
	}
	j->code = malloc(vecstream_codec_bytes(&j->codec));
	j->recon = malloc(j->codec.dim * sizeof *j->recon);
	if (!j->code || !j->recon)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	if (!j->src.bin || (j->src.vr.flags & VECSTREAM_META))
		flags = VECSTREAM_META;
	if (j->o->codebook_out && !j->o->codebook_in) {
		if ((rc = atomic_open(&j->book, j->o->codebook_out, err)))
			return rc;
		j->book_open = 1;
		if ((rc = vecstream_writer_init_codec(&bw, &j->book.out, &j->codec, 0, err)))
			return rc;
		if ((rc = vecstream_writer_close(&bw, err)))
			return rc;
	}
	if ((rc = vecstream_writer_init_codec(&j->w, &j->out.out, &j->codec, flags, err)))
		return rc;
	j->started = 1;
	j->st->bytes_out = vecstream_codec_bytes(&j->codec);
	j->st->pq_m = j->codec.pq_m;
	return LM_OK;
}

static int job_write(struct vecquant_job *j, const char *id, size_t id_len, const float *x, const char *meta,
		     size_t meta_len, const char *where, struct lm_error *err)
{
	uint32_t i;
	int rc;

	vecquant_encode(&j->codec, x, j->code);
	vecstream_codec_decode(&j->codec, j->code, j->recon);
	for (i = 0; i < j->codec.dim; i++) {
		double e = fabs((double)j->recon[i] - x[i]);

		j->st->sq_err += e * e;
		if (e > j->st->max_err)
			j->st->max_err = e;
	}
	j->st->values += j->codec.dim;
	rc = vecstream_write_raw(&j->w, id, id_len, j->code, meta, meta_len, err);
	if (rc == LM_EINVAL) {
		/* an id the stream cannot carry (a NUL from \u0000) */
		err->code = LM_EFORMAT;
		return lm_error_prefix(err, "%s: ", where);
	}
	if (rc == LM_OK)
		j->st->records++;
	return rc;
}

/* Train on the held records, start, and write them. */
static int job_train(struct vecquant_job *j, struct lm_error *err)
{
	struct held *h = &j->held;
	char where[640];
	size_t i;
	int rc;

	rc = vecquant_train(&j->codec, j->o->dtype, j->st->dim, j->o->pq_m, h->vec, h->n, j->o->seed, err);
	if (rc)
		return lm_error_prefix(err, "%s: training on %zu records: ", j->src.in->name, h->n);
	j->have_codec = 1;
	if ((rc = job_start(j, err)))
		return rc;
	for (i = 0; i < h->n; i++) {
		const struct held_rec *r = &h->recs[i];

		if (j->src.bin)
			snprintf(where, sizeof where, "%s: record %" PRIu64, j->src.in->name, r->number);
		else
			snprintf(where, sizeof where, "%s:%" PRIu64, j->src.in->name, r->number);
		rc = job_write(j, h->bytes + r->id_off, r->id_len, h->vec + i * j->st->dim,
			       r->meta_len ? h->bytes + r->meta_off : NULL, r->meta_len, where, err);
		if (rc)
			return rc;
	}
	held_free(h);
	return LM_OK;
}

/* The first record fixes the dimensions. */
static int job_first(struct vecquant_job *j, struct lm_error *err)
{
	const struct vecquant_options *o = j->o;
	struct vecquant_stats *st = j->st;

	st->dim_in = j->src.dim;
	st->bytes_in = j->src.bin ? j->src.vr.vec_bytes : 4 * (size_t)st->dim_in;
	if (o->dims > st->dim_in)
		return lm_fail(err, LM_EFORMAT, "%s: --dims %lu is larger than the vectors' dimension %lu",
			       j->src.where, (unsigned long)o->dims, (unsigned long)st->dim_in);
	st->dim = o->dims ? o->dims : st->dim_in;
	if (j->have_codec && j->codec.dim != st->dim)
		return lm_fail(err, LM_EFORMAT, "%s: codebook %s is for dimension %lu, the vectors have %lu%s",
			       j->src.where, o->codebook_in, (unsigned long)j->codec.dim, (unsigned long)st->dim,
			       o->dims ? " (after --dims)" : "");
	if (o->dtype == VECSTREAM_PQ && !j->have_codec) {
		uint32_t m = o->pq_m ? o->pq_m : default_pq_m(st->dim);

		if (st->dim % m)
			return lm_fail(err, LM_EFORMAT, "%s: --pq-m %lu does not divide dimension %lu",
				       j->src.where, (unsigned long)m, (unsigned long)st->dim);
		if (st->dim > VECSTREAM_MAX_PQ_DIM)
			return lm_fail(err, LM_EFORMAT, "%s: pq: dimension %lu larger than %d",
				       j->src.where, (unsigned long)st->dim, VECSTREAM_MAX_PQ_DIM);
	}
	return LM_OK;
}

static int job_record(struct vecquant_job *j, struct lm_error *err)
{
	struct source *s = &j->src;
	size_t sample = j->o->train_sample ? j->o->train_sample : VECQUANT_TRAIN_SAMPLE;
	uint32_t i;
	int rc;

	if (s->dim != j->st->dim_in)
		return lm_fail(err, LM_EFORMAT, "%s: embedding has %lu values, the first record had %lu",
			       s->where, (unsigned long)s->dim, (unsigned long)j->st->dim_in);
	for (i = 0; i < s->dim; i++)
		if (!isfinite(s->vec[i]))
			return lm_fail(err, LM_EFORMAT, "%s: embedding value %lu is not finite",
				       s->where, (unsigned long)i);
	vecquant_truncate(s->vec, s->dim, j->st->dim);
	if (j->started)
		return job_write(j, s->id, s->id_len, s->vec, s->meta, s->meta_len, s->where, err);
	if (!vecstream_dtype_has_params(j->o->dtype) || j->have_codec) {
		if ((rc = job_start(j, err)))
			return rc;
		return job_write(j, s->id, s->id_len, s->vec, s->meta, s->meta_len, s->where, err);
	}
	if ((rc = held_add(&j->held, s, j->st->dim, err)))
		return rc;
	return j->held.n >= sample ? job_train(j, err) : LM_OK;
}

int vecquant_run(struct input *in, const char *out_path, const struct vecquant_options *o,
		 struct vecquant_stats *st, struct lm_error *err)
{
	struct vecquant_stats local;
	struct vecquant_job j;
	int rc;

	memset(&j, 0, sizeof j);
	j.o = o;
	j.st = st ? st : &local;
	memset(j.st, 0, sizeof *j.st);
	if (o->codebook_in) {
		if ((rc = vecquant_load_codebook(o->codebook_in, &j.codec, err)))
			goto out;
		j.have_codec = 1;
		if (j.codec.dtype != o->dtype) {
			rc = lm_fail(err, LM_EINVAL, "%s: the codebook is for %s, not %s", o->codebook_in,
				     vecstream_dtype_name(j.codec.dtype), vecstream_dtype_name(o->dtype));
			goto out;
		}
		if (o->pq_m && o->pq_m != j.codec.pq_m) {
			rc = lm_fail(err, LM_EINVAL, "%s: the codebook has %lu sub-quantizers, not %lu",
				     o->codebook_in, (unsigned long)j.codec.pq_m, (unsigned long)o->pq_m);
			goto out;
		}
	}
	if ((rc = source_open(&j.src, in, err)))
		goto out;
	if ((rc = atomic_open(&j.out, out_path, err)))
		goto out;
	j.out_open = 1;
	while ((rc = source_next(&j.src, err)) == LM_OK) {
		if (!j.st->dim_in && (rc = job_first(&j, err)))
			goto out;
		if ((rc = job_record(&j, err)))
			goto out;
	}
	if (rc != LM_EOF)
		goto out;
	rc = LM_OK;
	if (!j.started && vecstream_dtype_has_params(o->dtype) && !j.have_codec) {
		if (!j.held.n) {
			rc = lm_fail(err, LM_EFORMAT, "%s: no vectors to train %s on", in->name,
				     vecstream_dtype_name(o->dtype));
			goto out;
		}
		if ((rc = job_train(&j, err)))
			goto out;
	}
	if (j.started && (rc = vecstream_writer_close(&j.w, err)))
		goto out;
	j.started = 0;
	if (j.book_open) {
		j.book_open = 0;
		if ((rc = atomic_commit(&j.book, err)))
			goto out;
	}
	j.out_open = 0;
	rc = atomic_commit(&j.out, err);
out:
	if (j.started) {
		struct lm_error ignored;

		vecstream_writer_close(&j.w, &ignored);
	}
	if (j.book_open)
		atomic_abort(&j.book);
	if (j.out_open)
		atomic_abort(&j.out);
	source_close(&j.src);
	vecstream_codec_free(&j.codec);
	held_free(&j.held);
	free(j.code);
	free(j.recon);
	return rc;
}

#include "index/idxbuild.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/docstore.h"
#include "index/flat.h"
#include "index/bm25.h"
#include "index/hnsw.h"
#include "index/ivf.h"
#include "json.h"
#include "ndjson.h"
#include "threadpool.h"
#include "vecstream.h"

struct idxbuild {
	int type;
	uint32_t metric;
	uint32_t dim;                  /* 0 until the first vector */
	char model_name[IDXFILE_MODEL_MAX];
	char model_hash[IDXFILE_MODEL_MAX];
	int threads;
	uint32_t hnsw_m, hnsw_ef;
	struct docstore_builder *docs;
	struct flat_index vecs;        /* rows' vectors, when dim > 0 */
	struct hnsw_index *hnsw;       /* from the file: extended on write */
	struct idxfile src;            /* the file hnsw points into */
	int src_open;
	float *vbuf;                   /* one record's embedding */
	/* bm25: every row's text, kept raw so the postings can be rebuilt */
	struct bm25_params bm25;
	char *text;
	uint64_t *text_offs;           /* rows + 1 */
	size_t text_len, text_cap, offs_cap;
	/* ivf */
	uint32_t ivf_nlist, ivf_pq_m;
	int ivf_codec;
};

static const char *const type_names[] = { "flat", "hnsw", "ivf", "bm25", "hybrid" };

/* Types whose structures this build can write; the others are refused up
 * front rather than producing a file that lacks what was asked for. */
static int type_available(int type)
{
	return type >= IDXBUILD_FLAT && type <= IDXBUILD_HYBRID;
}

static int has_dense(int type)
{
	return type != IDXBUILD_BM25;
}

static int has_bm25(int type)
{
	return type == IDXBUILD_BM25 || type == IDXBUILD_HYBRID;
}

int idxbuild_type_parse(const char *name, int *type, struct lm_error *err)
{
	int i;

	for (i = 0; i < (int)(sizeof(type_names) / sizeof(type_names[0])); i++)
		if (strcmp(name, type_names[i]) == 0) {
			if (!type_available(i))
				return lm_fail(err, LM_EINVAL,
					       "index type '%s' is not available in this build",
					       name);
			*type = i;
			return 0;
		}
	return lm_fail(err, LM_EINVAL, "unknown index type '%s' (flat, hnsw, ivf, bm25, hybrid)",
		       name);
}

const char *idxbuild_type_name(int type)
{
	return type >= 0 && type <= IDXBUILD_HYBRID ? type_names[type] : "?";
}

static int type_from_flags(uint32_t flags)
{
	if ((flags & IDXFILE_F_HNSW) && (flags & IDXFILE_F_BM25))
		return IDXBUILD_HYBRID;
	if (flags & IDXFILE_F_HNSW)
		return IDXBUILD_HNSW;
	if (flags & IDXFILE_F_IVF)
		return IDXBUILD_IVF;
	if (flags & IDXFILE_F_FLAT)
		return IDXBUILD_FLAT;
	return IDXBUILD_BM25;
}

static int add_vector(struct idxbuild *b, const float *v, uint32_t dim, const char *where,
		      struct lm_error *err);

static int build_alloc(struct idxbuild **bp, struct lm_error *err)
{
	struct idxbuild *b = calloc(1, sizeof(*b));

	*bp = NULL;
	if (!b)
		return lm_fail(err, LM_ENOMEM, "index: out of memory");
	b->vbuf = malloc(FLAT_MAX_DIM * sizeof(float));
	b->docs = docstore_builder_new(err);
	b->text_offs = malloc(1024 * sizeof(*b->text_offs));
	b->offs_cap = 1024;
	bm25_params_default(&b->bm25);
	if (!b->vbuf || !b->docs || !b->text_offs) {
		idxbuild_free(b);
		return err && err->code ? err->code : lm_fail(err, LM_ENOMEM, "index: out of memory");
	}
	b->text_offs[0] = 0;
	*bp = b;
	return 0;
}

static void apply_options(struct idxbuild *b, const struct idxbuild_options *opt)
{
	b->threads = opt->threads;
	b->hnsw_m = opt->hnsw_m;
	b->hnsw_ef = opt->hnsw_ef_construction;
	b->ivf_nlist = opt->ivf_nlist;
	b->ivf_pq_m = opt->ivf_pq_m;
	b->ivf_codec = opt->ivf_codec;
	if (opt->bm25_set) {
		b->bm25.k1 = opt->bm25_k1;
		b->bm25.b = opt->bm25_b;
		b->bm25.analyzer = opt->analyzer;
	}
}

/* Keep the text of ROW for bm25 (rows come in order: ROW is the next). */
static int keep_text(struct idxbuild *b, uint32_t row, const char *text, size_t len,
		     struct lm_error *err)
{
	void *p;

	if (!has_bm25(b->type))
		return 0;
	if (row + 1 >= b->offs_cap) {
		p = realloc(b->text_offs, b->offs_cap * 2 * sizeof(*b->text_offs));
		if (!p)
			return lm_fail(err, LM_ENOMEM, "index: out of memory");
		b->text_offs = p;
		b->offs_cap *= 2;
	}
	if (len > b->text_cap - b->text_len) {
		size_t cap = b->text_cap ? b->text_cap : 4096;

		while (len > cap - b->text_len)
			cap *= 2;
		p = realloc(b->text, cap);
		if (!p)
			return lm_fail(err, LM_ENOMEM, "index: out of memory");
		b->text = p;
		b->text_cap = cap;
	}
	if (len)
		memcpy(b->text + b->text_len, text, len);
	b->text_len += len;
	b->text_offs[row + 1] = b->text_len;
	return 0;
}

/* Row ROW of DS (and its vector in VECS, when given) as B's next row. */
static int copy_row(struct idxbuild *b, struct docstore *ds, uint32_t row,
		    const struct flat_index *vecs, struct lm_error *err)
{
	const char *text;
	size_t len;
	int rc = 0;

	if (vecs && vecs->dim)
		rc = add_vector(b, vecs->vectors + (size_t)row * vecs->dim, vecs->dim, ds->name, err);
	if (!rc)
		rc = docstore_text(ds, row, &text, &len, err);
	if (!rc)
		rc = keep_text(b, docstore_builder_count(b->docs), text, len, err);
	if (!rc && (rc = docstore_builder_add_from(b->docs, ds, row, err)))
		lm_error_prefix(err, "%s: ", ds->name);
	return rc;
}

int idxbuild_new(struct idxbuild **bp, const struct idxbuild_options *opt, struct lm_error *err)
{
	struct idxbuild *b;
	int rc;

	if (!type_available(opt->type))
		return lm_fail(err, LM_EINVAL, "index type '%s' is not available in this build",
			       idxbuild_type_name(opt->type));
	if (opt->model_name && strlen(opt->model_name) >= IDXFILE_MODEL_MAX)
		return lm_fail(err, LM_EINVAL, "model name longer than %d bytes",
			       IDXFILE_MODEL_MAX - 1);
	rc = build_alloc(&b, err);
	if (rc)
		return rc;
	b->type = opt->type;
	b->metric = has_dense(opt->type) ? (opt->metric ? opt->metric : IDXFILE_METRIC_COSINE)
					  : IDXFILE_METRIC_NONE;
	if (opt->model_name)
		strcpy(b->model_name, opt->model_name);
	apply_options(b, opt);
	*bp = b;
	return 0;
}

void idxbuild_free(struct idxbuild *b)
{
	if (!b)
		return;
	docstore_builder_free(b->docs);
	flat_free(&b->vecs);
	hnsw_free(b->hnsw);
	if (b->src_open)
		idxfile_close(&b->src);
	free(b->vbuf);
	free(b->text);
	free(b->text_offs);
	free(b);
}

uint32_t idxbuild_count(const struct idxbuild *b)
{
	return docstore_builder_count(b->docs);
}

uint32_t idxbuild_deleted(const struct idxbuild *b)
{
	return docstore_builder_deleted(b->docs);
}

static int ann_get(void *arg, const char *name, const void **data, size_t *size,
		   struct lm_error *err)
{
	uint64_t n;
	int rc = idxfile_require(arg, name, data, &n, err);

	*size = (size_t)n;
	return rc;
}

static int ann_put(void *arg, const char *name, const void *data, size_t size,
		   struct lm_error *err)
{
	return idxfile_add_section(arg, name, data, size, err);
}

/* The stored vectors of F as a flat index (flat.* sections). */
static int load_vectors(struct idxbuild *b, const struct idxfile *f, struct lm_error *err)
{
	struct flat_index src;
	int rc;

	rc = flat_load(&src, f, err);
	if (rc)
		return rc;
	if (src.n != idxbuild_count(b)) {
		flat_free(&src);
		return lm_fail(err, LM_EFORMAT, "%s: %u vectors for %u documents", f->path, src.n,
			       idxbuild_count(b));
	}
	rc = flat_init(&b->vecs, src.dim, src.metric, err);
	/* Stored cosine vectors are unit length already; normalising again
	 * changes nothing but rounding. */
	if (!rc)
		rc = flat_add(&b->vecs, src.vectors, src.n, err);
	flat_free(&src);
	if (!rc)
		b->dim = b->vecs.dim;
	return rc;
}

int idxbuild_open(struct idxbuild **bp, const char *path, const struct idxbuild_options *opt,
		  struct lm_error *err)
{
	struct idxbuild *b;
	struct docstore ds;
	uint32_t row;
	int rc;

	rc = build_alloc(&b, err);
	if (rc)
		return rc;
	memset(&ds, 0, sizeof(ds));
	rc = idxfile_open(&b->src, path, err);
	if (rc)
		goto fail;
	b->src_open = 1;
	/* Appending rewrites the whole file, so check all of it first: a
	 * corrupt section must not be copied into the new file. */
	rc = idxfile_verify(&b->src, err);
	if (rc)
		goto fail;
	b->type = type_from_flags(b->src.info.flags);
	b->metric = b->src.info.metric;
	memcpy(b->model_name, b->src.info.model_name, IDXFILE_MODEL_MAX);
	memcpy(b->model_hash, b->src.info.model_hash, IDXFILE_MODEL_MAX);
	if (opt) {
		apply_options(b, opt);
		if (opt->model_name && b->model_name[0] && strcmp(opt->model_name, b->model_name)) {
			rc = lm_fail(err, LM_EINVAL, "%s: index was built with model '%s', not '%s'",
				     path, b->model_name, opt->model_name);
			goto fail;
		}
		if (opt->model_name && !b->model_name[0])
			snprintf(b->model_name, sizeof(b->model_name), "%s", opt->model_name);
	}
	if (!type_available(b->type)) {
		rc = lm_fail(err, LM_EINVAL, "%s: index type '%s' is not available in this build",
			     path, idxbuild_type_name(b->type));
		goto fail;
	}
	if (b->src.info.flags & IDXFILE_F_BM25) {
		struct bm25_index ix;

		rc = bm25_load(&ix, &b->src, err);
		if (rc)
			goto fail;
		if (!opt || !opt->bm25_set)
			b->bm25 = ix.params;
		bm25_index_free(&ix);
	}
	rc = docstore_load(&ds, &b->src, err);
	for (row = 0; !rc && has_bm25(b->type) && row < ds.n; row++) {
		const char *text;
		size_t len;

		rc = docstore_text(&ds, row, &text, &len, err);
		if (!rc)
			rc = keep_text(b, row, text, len, err);
	}
	if (!rc)
		rc = docstore_builder_copy(b->docs, &ds, err);
	if (!rc && (b->src.info.flags & IDXFILE_F_FLAT))
		rc = load_vectors(b, &b->src, err);
	if (!rc && (b->src.info.flags & IDXFILE_F_HNSW))
		rc = hnsw_load(&b->hnsw, ann_get, &b->src, err);
	if (!rc && b->hnsw)
		rc = hnsw_check(b->hnsw, err);
	if (rc)
		goto fail;
	docstore_unload(&ds);
	*bp = b;
	return 0;
fail:
	docstore_unload(&ds);
	idxbuild_free(b);
	*bp = NULL;
	return rc;
}

/* The embedding model of a record must be the index's. */
static int check_model(struct idxbuild *b, const struct json_value *rec, const char *where,
		       struct lm_error *err)
{
	static const char *const keys[2] = { "model", "model_hash" };
	char *have[2] = { b->model_name, b->model_hash };
	const char *s;
	size_t len;
	int i;

	for (i = 0; i < 2; i++) {
		s = json_string(json_get(rec, keys[i]), &len);
		if (!s)
			continue;
		if (len >= IDXFILE_MODEL_MAX)
			return lm_fail(err, LM_EFORMAT, "%s: %s longer than %d bytes", where,
				       keys[i], IDXFILE_MODEL_MAX - 1);
		if (!have[i][0] && idxbuild_count(b) == 0) {
			memcpy(have[i], s, len);
			have[i][len] = 0;
		} else if (strlen(have[i]) != len || memcmp(have[i], s, len) != 0) {
			return lm_fail(err, LM_EFORMAT, "%s: embedding from %s '%.*s', index has '%s'",
				       where, keys[i], (int)(len > 100 ? 100 : len), s,
				       have[i][0] ? have[i] : "(none)");
		}
	}
	return 0;
}

static int add_vector(struct idxbuild *b, const float *v, uint32_t dim, const char *where,
		      struct lm_error *err)
{
	int rc;

	if (!b->dim) {
		if (idxbuild_count(b) != 0)
			return lm_fail(err, LM_EFORMAT, "%s: index has documents without vectors",
				       where);
		rc = flat_init(&b->vecs, dim, b->metric, err);
		if (rc)
			return lm_error_prefix(err, "%s: ", where);
		b->dim = dim;
	} else if (dim != b->dim) {
		return lm_fail(err, LM_EFORMAT, "%s: embedding has %u dimensions, index has %u",
			       where, dim, b->dim);
	}
	return flat_add(&b->vecs, v, 1, err);
}

/* One record: REC holds the fields other than the embedding, which is in
 * VEC (DIM floats) or, when VEC is NULL, in REC's "embedding". */
static int add_record(struct idxbuild *b, struct json_doc *doc, const struct json_value *rec,
		      const char *id, size_t id_len, const float *vec, uint32_t dim,
		      const char *where, struct lm_error *err)
{
	const struct json_value *meta, *emb;
	char *meta_text = NULL;
	const char *text;
	size_t meta_len = 0, text_len = 0, n;
	int rc;

	if (docstore_builder_find(b->docs, id, id_len) != DOCSTORE_NONE)
		return lm_fail(err, LM_EFORMAT, "%s: duplicate id", where);
	text = ndjson_record_text(doc, rec, &text_len);
	if (!text && !has_dense(b->type))
		return lm_fail(err, LM_EFORMAT, "%s: no text to index", where);
	meta = json_get(rec, "meta");
	if (meta && json_type(meta) != JSON_OBJECT && json_type(meta) != JSON_NULL)
		return lm_fail(err, LM_EFORMAT, "%s: meta is a %s, not an object", where,
			       json_type_name(json_type(meta)));
	if (has_dense(b->type)) {
		rc = check_model(b, rec, where, err);
		if (rc)
			return rc;
		if (!vec) {
			emb = json_get(rec, "embedding");
			if (!emb)
				return lm_fail(err, LM_EFORMAT, "%s: missing embedding", where);
			if (json_type(emb) != JSON_ARRAY)
				return lm_fail(err, LM_EFORMAT, "%s: embedding is not an array", where);
			rc = json_get_float_array(emb, b->vbuf, FLAT_MAX_DIM, &n, err);
			if (rc)
				return lm_error_prefix(err, "%s: embedding: ", where);
			vec = b->vbuf;
			dim = (uint32_t)n;
		}
		if (dim == 0)
			return lm_fail(err, LM_EFORMAT, "%s: empty embedding", where);
	}
	if (meta && json_type(meta) == JSON_OBJECT) {
		meta_text = json_to_string(meta, &meta_len, err);
		if (!meta_text)
			return err->code;
	}
	rc = 0;
	if (has_dense(b->type))
		rc = add_vector(b, vec, dim, where, err);
	if (!rc)
		rc = keep_text(b, docstore_builder_count(b->docs), text, text ? text_len : 0, err);
	if (!rc)
		rc = docstore_builder_add(b->docs, id, id_len, meta_text, meta_len, text,
					  text ? text_len : 0, err);
	if (rc && err->msg[0] && !strstr(err->msg, where))
		lm_error_prefix(err, "%s: ", where);
	free(meta_text);
	return rc;
}

static void record_where(char *buf, size_t cap, const char *name, const char *kind,
			 uint64_t number, const char *id, size_t id_len)
{
	snprintf(buf, cap, "%s:%s%llu: record '%.*s'", name, kind, (unsigned long long)number,
		 (int)(id_len > 100 ? 100 : id_len), id ? id : "");
}

static int read_ndjson(struct idxbuild *b, struct input *in, struct lm_error *err)
{
	struct ndjson_reader r;
	struct json_value *rec;
	const char *id;
	size_t id_len;
	char where[256];
	int rc;

	rc = ndjson_open(&r, in, err);
	if (rc)
		return rc;
	while ((rc = ndjson_next(&r, &rec, err)) == 0) {
		id = json_string(json_get(rec, "id"), &id_len);
		record_where(where, sizeof(where), in->name, "", r.line, id, id_len);
		if (!id || !id_len) {
			rc = lm_fail(err, LM_EFORMAT, "%s: empty id", where);
			break;
		}
		rc = add_record(b, r.doc, rec, id, id_len, NULL, 0, where, err);
		if (rc)
			break;
	}
	ndjson_close(&r);
	return rc == LM_EOF ? 0 : rc;
}

static int read_vecstream(struct idxbuild *b, struct input *in, struct lm_error *err)
{
	struct vecstream_reader r;
	struct vecstream_record rec;
	struct json_doc *doc = json_doc_new();
	struct json_value *fields;
	char where[256];
	int rc;

	if (!doc)
		return lm_fail(err, LM_ENOMEM, "index: out of memory");
	rc = vecstream_open_reader(&r, in, err);
	if (rc) {
		json_doc_free(doc);
		return rc;
	}
	if (r.dim > FLAT_MAX_DIM) {
		rc = lm_fail(err, LM_EFORMAT, "%s: dimension %u larger than %d", in->name, r.dim,
			     FLAT_MAX_DIM);
		goto out;
	}
	while ((rc = vecstream_next(&r, &rec, err)) == 0) {
		record_where(where, sizeof(where), in->name, " record ", rec.number, rec.id,
			     rec.id_len);
		json_doc_reset(doc);
		rc = json_parse(doc, rec.meta_len ? rec.meta : "{}", rec.meta_len ? rec.meta_len : 2,
				&fields, err);
		if (rc) {
			lm_error_prefix(err, "%s: metadata: ", where);
			break;
		}
		if (json_type(fields) != JSON_OBJECT) {
			rc = lm_fail(err, LM_EFORMAT, "%s: metadata is not an object", where);
			break;
		}
		vecstream_record_floats(&r, &rec, b->vbuf);
		rc = add_record(b, doc, fields, rec.id, rec.id_len, b->vbuf, r.dim, where, err);
		if (rc)
			break;
	}
	if (rc == LM_EOF)
		rc = 0;
out:
	vecstream_close_reader(&r);
	json_doc_free(doc);
	return rc;
}

int idxbuild_read(struct idxbuild *b, struct input *in, struct lm_error *err)
{
	int rc = vecstream_sniff(in, err);

	if (rc < 0)
		return rc;
	return rc ? read_vecstream(b, in, err) : read_ndjson(b, in, err);
}

int idxbuild_delete(struct idxbuild *b, const char *id, size_t len, struct lm_error *err)
{
	uint32_t row = docstore_builder_find(b->docs, id, len);

	if (row == DOCSTORE_NONE)
		return lm_fail(err, LM_EINVAL, "no document with id '%.*s'",
			       (int)(len > 100 ? 100 : len), id);
	docstore_builder_delete(b->docs, row);
	return 0;
}

/* Add the live rows of DS (with vectors VECS when given). */
static int add_live_rows(struct idxbuild *b, struct docstore *ds, const struct flat_index *vecs,
			 struct lm_error *err)
{
	uint32_t row;
	int rc;

	for (row = 0; row < ds->n; row++) {
		if (docstore_is_deleted(ds, row))
			continue;
		rc = copy_row(b, ds, row, vecs, err);
		if (rc)
			return rc;
	}
	return 0;
}

int idxbuild_compact(struct idxbuild *b, struct lm_error *err)
{
	struct docstore_builder *old_docs = b->docs;
	struct flat_index old_vecs = b->vecs;
	struct docstore ds;
	uint32_t row, n = docstore_builder_count(old_docs);
	int rc;

	if (docstore_builder_deleted(old_docs) == 0)
		return 0;
	/* The rows' text lives compressed in the source file's blocks; it is
	 * read back from there, so compaction comes before new records. */
	if (!b->src_open || n != b->src.info.doc_count)
		return lm_fail(err, LM_EINVAL, "compaction must come before adding documents");
	rc = docstore_load(&ds, &b->src, err);
	if (rc)
		return rc;
	b->docs = docstore_builder_new(err);
	if (!b->docs) {
		b->docs = old_docs;
		docstore_unload(&ds);
		return err->code;
	}
	memset(&b->vecs, 0, sizeof(b->vecs));
	b->dim = 0;
	b->text_len = 0;
	for (row = 0; row < n && !rc; row++)
		if (!docstore_builder_is_deleted(old_docs, row))
			rc = copy_row(b, &ds, row, &old_vecs, err);
	docstore_unload(&ds);
	docstore_builder_free(old_docs);
	flat_free(&old_vecs);
	/* Rows were renumbered: the graph is rebuilt on write. */
	hnsw_free(b->hnsw);
	b->hnsw = NULL;
	return rc;
}

int idxbuild_merge(struct idxbuild *b, const char *path, struct lm_error *err)
{
	struct idxfile f;
	struct docstore ds;
	struct flat_index vecs;
	int rc, have_vecs = 0;

	memset(&ds, 0, sizeof(ds));
	memset(&vecs, 0, sizeof(vecs));
	rc = idxfile_open(&f, path, err);
	if (rc)
		return rc;
	rc = idxfile_verify(&f, err);
	if (rc)
		goto out;
	if (has_dense(b->type)) {
		if (!(f.info.flags & IDXFILE_F_FLAT)) {
			rc = lm_fail(err, LM_EFORMAT, "%s: shard has no vectors", path);
			goto out;
		}
		if (f.info.metric != b->metric) {
			rc = lm_fail(err, LM_EFORMAT, "%s: metric %s, the merged index uses %s",
				     path, idxfile_metric_name(f.info.metric),
				     idxfile_metric_name(b->metric));
			goto out;
		}
		if (b->model_name[0] && f.info.model_name[0] &&
		    strcmp(b->model_name, f.info.model_name)) {
			rc = lm_fail(err, LM_EFORMAT, "%s: model '%s', the merged index has '%s'",
				     path, f.info.model_name, b->model_name);
			goto out;
		}
		if (!b->model_name[0] && idxbuild_count(b) == 0)
			memcpy(b->model_name, f.info.model_name, IDXFILE_MODEL_MAX);
		if (!b->model_hash[0] && idxbuild_count(b) == 0)
			memcpy(b->model_hash, f.info.model_hash, IDXFILE_MODEL_MAX);
		rc = flat_load(&vecs, &f, err);
		if (rc)
			goto out;
		have_vecs = 1;
	}
	rc = docstore_load(&ds, &f, err);
	if (!rc)
		rc = add_live_rows(b, &ds, have_vecs ? &vecs : NULL, err);
	hnsw_free(b->hnsw);
	b->hnsw = NULL;
out:
	docstore_unload(&ds);
	flat_free(&vecs);
	idxfile_close(&f);
	return rc;
}

static int write_hnsw(struct idxbuild *b, struct idxfile_writer *w, struct lm_error *err)
{
	struct hnsw_params params = { 0 };
	struct threadpool *pool = NULL;
	uint32_t have;
	int rc;

	if (!b->hnsw) {
		params.M = b->hnsw_m;
		params.ef_construction = b->hnsw_ef;
		b->hnsw = hnsw_new(b->dim, b->metric == IDXFILE_METRIC_L2 ? ANN_L2 : ANN_IP,
				   &params, err);
		if (!b->hnsw)
			return err->code;
	}
	have = hnsw_count(b->hnsw);
	if (have < b->vecs.n) {
		pool = threadpool_new(b->threads > 0 ? b->threads : threadpool_default_threads(),
				      err);
		if (!pool)
			return err->code;
		rc = hnsw_add(b->hnsw, b->vecs.vectors + (size_t)have * b->dim, b->vecs.n - have,
			      pool, err);
		threadpool_free(pool);
		if (rc)
			return rc;
	}
	rc = hnsw_write(b->hnsw, ann_put, w, err);
	if (!rc)
		idxfile_writer_info(w)->flags |= IDXFILE_F_HNSW;
	return rc;
}

static int write_bm25(struct idxbuild *b, struct idxfile_writer *w, struct lm_error *err)
{
	struct bm25_builder *bb;
	uint32_t row, n = idxbuild_count(b);
	int rc;

	rc = bm25_builder_new(&bb, &b->bm25, err);
	if (rc)
		return rc;
	for (row = 0; !rc && row < n; row++)
		rc = bm25_builder_add(bb, row, b->text + b->text_offs[row],
				      b->text_offs[row + 1] - b->text_offs[row], err);
	if (!rc)
		rc = bm25_write(bb, w, err);
	bm25_builder_free(bb);
	return rc;
}

/* IVF is trained afresh on every write: the centroids should describe all
 * the vectors, not the first batch. */
static int write_ivf(struct idxbuild *b, struct idxfile_writer *w, struct lm_error *err)
{
	struct ivf_params params = { 0 };
	struct ivf_index *ivf;
	uint32_t n = b->vecs.n;
	int rc;

	params.codec = (enum ivf_codec)b->ivf_codec;
	params.pq_m = b->ivf_pq_m;
	/* FAISS's rule of thumb: at least 39 training points per centroid. */
	params.nlist = b->ivf_nlist ? b->ivf_nlist : n / 39 < 1 ? 1 : n / 39 > 256 ? 256 : n / 39;
	params.kmeans.plusplus = 1;
	if (n < params.nlist)
		return lm_fail(err, LM_EINVAL, "ivf: %u lists need at least as many vectors, have %u",
			       params.nlist, n);
	ivf = ivf_new(b->dim, b->metric == IDXFILE_METRIC_L2 ? ANN_L2 : ANN_IP, &params, err);
	if (!ivf)
		return err->code;
	rc = ivf_train(ivf, b->vecs.vectors, n, err);
	if (!rc)
		rc = ivf_add(ivf, b->vecs.vectors, n, err);
	if (!rc)
		rc = ivf_write(ivf, ann_put, w, err);
	if (!rc)
		idxfile_writer_info(w)->flags |= IDXFILE_F_IVF;
	ivf_free(ivf);
	return rc;
}

int idxbuild_write(struct idxbuild *b, const char *path, struct lm_error *err)
{
	struct idxfile_writer *w;
	struct idxfile_info *info;
	int rc;

	if (has_dense(b->type) && idxbuild_count(b) && !b->dim)
		return lm_fail(err, LM_EINVAL, "%s: no vectors", path);
	rc = idxfile_writer_open(&w, path, err);
	if (rc)
		return rc;
	info = idxfile_writer_info(w);
	rc = docstore_write(b->docs, w, err);
	if (!rc && b->dim)
		rc = flat_write(&b->vecs, w, err);
	if (!rc && (b->type == IDXBUILD_HNSW || b->type == IDXBUILD_HYBRID) && b->dim)
		rc = write_hnsw(b, w, err);
	if (!rc && b->type == IDXBUILD_IVF && b->dim)
		rc = write_ivf(b, w, err);
	if (!rc && has_bm25(b->type))
		rc = write_bm25(b, w, err);
	if (rc) {
		idxfile_writer_abort(w);
		return rc;
	}
	info->metric = b->dim ? b->metric : IDXFILE_METRIC_NONE;
	info->dim = b->dim;
	memcpy(info->model_name, b->model_name, IDXFILE_MODEL_MAX);
	memcpy(info->model_hash, b->model_hash, IDXFILE_MODEL_MAX);
	return idxfile_writer_commit(w, err);
}

/* Load every structure the header announces, as search would: after
 * idxfile_verify this checks what checksums cannot (offsets, counts and
 * graph links that are consistent bytes but wrong). */
static int load_all(struct idxfile *f, struct docstore *ds, struct lm_error *err)
{
	struct flat_index fi;
	struct hnsw_index *h = NULL;
	int rc;

	rc = docstore_load(ds, f, err);
	if (!rc)
		rc = docstore_check(ds, err);
	if (!rc && (f->info.flags & IDXFILE_F_FLAT)) {
		rc = flat_load(&fi, f, err);
		flat_free(&fi);
	}
	if (!rc && (f->info.flags & IDXFILE_F_HNSW)) {
		rc = hnsw_load(&h, ann_get, f, err);
		if (!rc)
			rc = hnsw_check(h, err);
		if (rc)
			lm_error_prefix(err, "%s: ", f->path);
		hnsw_free(h);
	}
	return rc;
}

int idxbuild_verify(const char *path, struct lm_error *err)
{
	struct idxfile f;
	struct docstore ds;
	int rc;

	memset(&ds, 0, sizeof(ds));
	rc = idxfile_open(&f, path, err);
	if (rc)
		return rc;
	rc = idxfile_verify(&f, err);
	if (!rc)
		rc = load_all(&f, &ds, err);
	docstore_unload(&ds);
	idxfile_close(&f);
	return rc;
}

static int info_json(const struct idxfile *f, const struct docstore *ds, uint64_t size,
		     struct output *out, struct lm_error *err)
{
	struct json_doc *doc = json_doc_new();
	struct json_value *o, *secs, *s;
	char crc[16];
	uint32_t i;
	int rc;

	if (!doc)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	o = json_new_object(doc);
	secs = json_new_array(doc);
	rc = json_object_set(doc, o, "file", json_new_string(doc, f->path, strlen(f->path)));
	rc = rc ? rc : json_object_set(doc, o, "version", json_new_int(doc, f->info.version));
	rc = rc ? rc : json_object_set(doc, o, "type", json_new_string(doc,
				idxbuild_type_name(type_from_flags(f->info.flags)),
				strlen(idxbuild_type_name(type_from_flags(f->info.flags)))));
	rc = rc ? rc : json_object_set(doc, o, "documents", json_new_int(doc, ds->n - ds->deleted));
	rc = rc ? rc : json_object_set(doc, o, "deleted", json_new_int(doc, ds->deleted));
	rc = rc ? rc : json_object_set(doc, o, "dim", json_new_int(doc, f->info.dim));
	rc = rc ? rc : json_object_set(doc, o, "metric", json_new_string(doc,
				idxfile_metric_name(f->info.metric),
				strlen(idxfile_metric_name(f->info.metric))));
	rc = rc ? rc : json_object_set(doc, o, "model", json_new_string(doc, f->info.model_name,
				strlen(f->info.model_name)));
	rc = rc ? rc : json_object_set(doc, o, "model_hash", json_new_string(doc,
				f->info.model_hash, strlen(f->info.model_hash)));
	rc = rc ? rc : json_object_set(doc, o, "bytes", json_new_int(doc, (int64_t)size));
	for (i = 0; !rc && i < f->nsections; i++) {
		s = json_new_object(doc);
		snprintf(crc, sizeof(crc), "%08x", f->sections[i].crc);
		rc = json_object_set(doc, s, "name", json_new_string(doc, f->sections[i].name,
					strlen(f->sections[i].name)));
		rc = rc ? rc : json_object_set(doc, s, "bytes",
					      json_new_int(doc, (int64_t)f->sections[i].size));
		rc = rc ? rc : json_object_set(doc, s, "crc32c", json_new_string(doc, crc, 8));
		rc = rc ? rc : json_array_append(doc, secs, s);
	}
	rc = rc ? rc : json_object_set(doc, o, "sections", secs);
	if (rc)
		rc = lm_fail(err, LM_ENOMEM, "%s: cannot describe the index (out of memory or "
			     "invalid UTF-8 in the model name)", f->path);
	else
		rc = ndjson_write(out, o, err);
	json_doc_free(doc);
	return rc;
}

static int info_text(const struct idxfile *f, const struct docstore *ds, uint64_t size,
		     struct output *out, struct lm_error *err)
{
	uint32_t i;
	int rc;

	rc = output_printf(out, err,
			   "file:       %s\n"
			   "format:     lmpipe index, version %u\n"
			   "type:       %s\n"
			   "documents:  %u (%u deleted)\n",
			   f->path, f->info.version, idxbuild_type_name(type_from_flags(f->info.flags)),
			   ds->n - ds->deleted, ds->deleted);
	if (!rc && f->info.dim)
		rc = output_printf(out, err, "vectors:    %u dimensions, metric %s\n", f->info.dim,
				   idxfile_metric_name(f->info.metric));
	if (!rc && (f->info.model_name[0] || f->info.model_hash[0]))
		rc = output_printf(out, err, "model:      %s%s%s\n",
				   f->info.model_name[0] ? f->info.model_name : "(unnamed)",
				   f->info.model_hash[0] ? " " : "", f->info.model_hash);
	if (!rc)
		rc = output_printf(out, err, "size:       %llu bytes in %u sections\n",
				   (unsigned long long)size, f->nsections);
	for (i = 0; !rc && i < f->nsections; i++)
		rc = output_printf(out, err, "  %-20s %12llu  crc32c %08x\n", f->sections[i].name,
				   (unsigned long long)f->sections[i].size, f->sections[i].crc);
	return rc;
}

int idxbuild_info(const char *path, struct output *out, int json, struct lm_error *err)
{
	struct idxfile f;
	struct docstore ds;
	int rc;

	memset(&ds, 0, sizeof(ds));
	rc = idxfile_open(&f, path, err);
	if (rc)
		return rc;
	rc = docstore_load(&ds, &f, err);
	if (!rc)
		rc = json ? info_json(&f, &ds, f.size, out, err) : info_text(&f, &ds, f.size, out, err);
	docstore_unload(&ds);
	idxfile_close(&f);
	return rc;
}

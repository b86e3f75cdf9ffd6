#include "index/search.h"

#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "index/bm25.h"
#include "index/docstore.h"
#include "index/flat.h"
#include "index/hnsw.h"
#include "index/idxfile.h"
#include "index/ivf.h"

struct shard {
	struct idxfile file;
	int file_open;
	struct docstore docs;
	int docs_loaded;
	struct flat_index flat;
	int has_flat;
	struct hnsw_index *hnsw;
	struct ivf_index *ivf;
	struct bm25_index bm25;
	struct bm25_searcher *bm25_searcher;
	int has_bm25;
	uint32_t base;              /* global number of row 0 */
	uint32_t n;
	struct filter_bitmap ok;    /* live and passing the filter */
	int accept_all;             /* no tombstones, no filter: skip the bitmap */
};

struct search_index {
	struct shard *shard;
	unsigned nshards;
	uint64_t total;
	uint32_t dim, metric;
	int has_bm25;
	struct hnsw_scratch *scratch;
	struct ann_hit *hits;       /* HNSW results, K of them */
	uint32_t hits_cap;
	float *qbuf;                /* normalised queries */
	size_t qbuf_cap;
	struct topk *tmp;           /* per-query lists of one shard (batches) */
	uint32_t tmp_n, tmp_k;
};

/* ann.h's section reader over an idxfile. */
static int get_section(void *arg, const char *name, const void **data, size_t *size,
		       struct lm_error *err)
{
	const struct idxfile *f = arg;
	uint64_t sz;
	int rc = idxfile_require(f, name, data, &sz, err);

	if (rc)
		return rc;
	if (sz > SIZE_MAX)
		return lm_fail(err, LM_EFORMAT, "%s: section %s too large", f->path, name);
	*size = (size_t)sz;
	return 0;
}

static int shard_accepts(uint32_t doc, void *arg)
{
	return filter_bitmap_test(arg, doc);
}

/* The callback and argument a shard's searches get. */
static void shard_filter(struct shard *sh, flat_accept_fn **fn, void **arg)
{
	*fn = sh->accept_all ? NULL : shard_accepts;
	*arg = sh->accept_all ? NULL : &sh->ok;
}

static int open_shard(struct search_index *s, struct shard *sh, const char *path,
		      struct lm_error *err)
{
	const struct idxfile_info *info;
	int rc;

	if ((rc = idxfile_open(&sh->file, path, err)))
		return rc;
	sh->file_open = 1;
	info = &sh->file.info;
	if ((rc = docstore_load(&sh->docs, &sh->file, err)))
		return rc;
	sh->docs_loaded = 1;
	sh->n = sh->docs.n;
	if (info->flags & IDXFILE_F_FLAT) {
		if ((rc = flat_load(&sh->flat, &sh->file, err)))
			return rc;
		sh->has_flat = 1;
	}
	if (info->flags & IDXFILE_F_HNSW) {
		if ((rc = hnsw_load(&sh->hnsw, get_section, &sh->file, err)))
			return lm_error_prefix(err, "%s: ", path);
		if (hnsw_count(sh->hnsw) != sh->n || hnsw_dim(sh->hnsw) != info->dim)
			return lm_fail(err, LM_EFORMAT,
				       "%s: HNSW graph has %u vectors of dimension %u, the file %u of %u",
				       path, hnsw_count(sh->hnsw), hnsw_dim(sh->hnsw), sh->n, info->dim);
	}
	if (info->flags & IDXFILE_F_IVF) {
		if ((rc = ivf_load(&sh->ivf, get_section, &sh->file, err)))
			return lm_error_prefix(err, "%s: ", path);
		if (ivf_count(sh->ivf) != sh->n)
			return lm_fail(err, LM_EFORMAT, "%s: IVF lists hold %u vectors, the file %u",
				       path, ivf_count(sh->ivf), sh->n);
	}
	if (info->flags & IDXFILE_F_BM25) {
		if ((rc = bm25_load(&sh->bm25, &sh->file, err)))
			return rc;
		sh->has_bm25 = 1;
		if ((rc = bm25_searcher_new(&sh->bm25_searcher, &sh->bm25, err)))
			return rc;
		if (sh->bm25.n_docs > sh->n)
			return lm_fail(err, LM_EFORMAT, "%s: BM25 section has %u documents, the file %u",
				       path, sh->bm25.n_docs, sh->n);
		s->has_bm25 = 1;
	}
	return 0;
}

int search_open(struct search_index **out, const char *const *paths, unsigned npaths,
		struct lm_error *err)
{
	struct search_index *s;
	unsigned i;
	int rc;

	*out = NULL;
	if (!npaths)
		return lm_fail(err, LM_EINVAL, "no index given");
	if (!(s = calloc(1, sizeof *s)) || !(s->shard = calloc(npaths, sizeof *s->shard))) {
		free(s);
		return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	s->nshards = npaths;
	for (i = 0; i < npaths; i++) {
		struct shard *sh = &s->shard[i];
		const struct idxfile_info *a, *b;

		if ((rc = open_shard(s, sh, paths[i], err)))
			goto fail;
		if (s->total + sh->n > UINT32_MAX) {
			rc = lm_fail(err, LM_EINVAL, "%s: more than %u documents in all shards",
				     paths[i], UINT32_MAX);
			goto fail;
		}
		sh->base = (uint32_t)s->total;
		s->total += sh->n;
		if (!i)
			continue;
		a = &s->shard[0].file.info;
		b = &sh->file.info;
		if (a->dim != b->dim || (a->dim && a->metric != b->metric)) {
			rc = lm_fail(err, LM_EINVAL,
				     "%s: dimension %u, metric %s; %s has dimension %u, metric %s",
				     paths[i], b->dim, idxfile_metric_name(b->metric), paths[0],
				     a->dim, idxfile_metric_name(a->metric));
			goto fail;
		}
		if (strcmp(a->model_name, b->model_name) || strcmp(a->model_hash, b->model_hash)) {
			rc = lm_fail(err, LM_EINVAL, "%s: model '%s' differs from %s's '%s'",
				     paths[i], b->model_name, paths[0], a->model_name);
			goto fail;
		}
	}
	s->dim = s->shard[0].file.info.dim;
	s->metric = s->shard[0].file.info.metric;
	if (s->dim && !(s->scratch = hnsw_scratch_new())) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = search_set_filter(s, NULL, err)))
		goto fail;
	*out = s;
	return 0;
fail:
	search_close(s);
	return rc;
}

void search_close(struct search_index *s)
{
	unsigned i;

	if (!s)
		return;
	for (i = 0; i < s->nshards; i++) {
		struct shard *sh = &s->shard[i];

		filter_bitmap_free(&sh->ok);
		bm25_searcher_free(sh->bm25_searcher);
		if (sh->has_bm25)
			bm25_index_free(&sh->bm25);
		hnsw_free(sh->hnsw);
		ivf_free(sh->ivf);
		if (sh->has_flat)
			flat_free(&sh->flat);
		if (sh->docs_loaded)
			docstore_unload(&sh->docs);
		if (sh->file_open)
			idxfile_close(&sh->file);
	}
	for (i = 0; i < s->tmp_n; i++)
		topk_free(&s->tmp[i]);
	free(s->tmp);
	hnsw_scratch_free(s->scratch);
	free(s->hits);
	free(s->qbuf);
	free(s->shard);
	free(s);
}

uint32_t search_dim(const struct search_index *s)
{
	return s->dim;
}

uint32_t search_metric(const struct search_index *s)
{
	return s->metric;
}

int search_has_bm25(const struct search_index *s)
{
	return s->has_bm25;
}

const char *search_model_name(const struct search_index *s)
{
	return s->shard[0].file.info.model_name;
}

const char *search_model_hash(const struct search_index *s)
{
	return s->shard[0].file.info.model_hash;
}

uint64_t search_doc_count(const struct search_index *s)
{
	return s->total;
}

int search_set_filter(struct search_index *s, struct filter *f, struct lm_error *err)
{
	const char *unknown;
	unsigned i;
	uint32_t r;
	int rc;

	for (i = 0; i < s->nshards; i++) {
		struct shard *sh = &s->shard[i];

		filter_bitmap_free(&sh->ok);
		sh->accept_all = !f && !sh->docs.deleted;
		if (sh->accept_all)
			continue;
		if (filter_bitmap_init(&sh->ok, sh->n))
			return lm_fail(err, LM_ENOMEM, "out of memory");
		for (r = 0; r < sh->n; r++) {
			const char *meta;
			size_t len;

			if (docstore_is_deleted(&sh->docs, r))
				continue;
			if (f) {
				meta = docstore_meta(&sh->docs, r, &len);
				rc = filter_match_text(f, meta, len, err);
				if (rc < 0) {
					const char *id = docstore_id(&sh->docs, r, &len);

					return lm_error_prefix(err, "%s: document '%.*s': ",
							       sh->file.path, (int)len, id);
				}
				if (!rc)
					continue;
			}
			filter_bitmap_set(&sh->ok, r);
		}
	}
	if (f && (unknown = filter_unknown_field(f)))
		return lm_fail(err, LM_EINVAL, "unknown filter field '%s' (no document's meta has it)",
			       unknown);
	return 0;
}

/* The query as the index compares it: normalised for cosine. */
static const float *prepare(struct search_index *s, const float *q, uint32_t nq,
			    struct lm_error *err)
{
	size_t need = (size_t)nq * s->dim;
	uint32_t i;

	if (s->metric != IDXFILE_METRIC_COSINE)
		return q;
	if (need > s->qbuf_cap) {
		float *b = realloc(s->qbuf, need * sizeof *b);

		if (!b) {
			lm_fail(err, LM_ENOMEM, "out of memory");
			return NULL;
		}
		s->qbuf = b;
		s->qbuf_cap = need;
	}
	memcpy(s->qbuf, q, need * sizeof *q);
	for (i = 0; i < nq; i++)
		flat_normalize(s->qbuf + (size_t)i * s->dim, s->dim);
	return s->qbuf;
}

/* Score every accepted row of a shard that keeps its vectors only inside
 * the HNSW graph (--exact without a flat section). */
static void brute_force_hnsw(struct search_index *s, struct shard *sh, const float *q,
			     struct topk *out)
{
	uint32_t r;
	double qq = 0;

	if (s->metric == IDXFILE_METRIC_L2)
		qq = dot_f32(q, q, s->dim);
	for (r = 0; r < sh->n; r++) {
		const float *x;
		float score;

		if (!sh->accept_all && !filter_bitmap_test(&sh->ok, r))
			continue;
		x = hnsw_vector(sh->hnsw, r);
		if (s->metric == IDXFILE_METRIC_L2)
			score = (float)-(qq - 2.0 * dot_f32(q, x, s->dim) + dot_f32(x, x, s->dim));
		else
			score = dot_f32(q, x, s->dim);
		topk_push(out, sh->base + r, score);
	}
}

static int need_vectors(const struct search_index *s, struct lm_error *err)
{
	if (!s->dim)
		return lm_fail(err, LM_EINVAL, "%s has no vectors: dense search needs an index "
			       "built from embeddings (use --mode bm25)", s->shard[0].file.path);
	return 0;
}

static int grow_tmp(struct search_index *s, uint32_t nq, uint32_t k, struct lm_error *err)
{
	uint32_t i;

	if (nq <= s->tmp_n && k == s->tmp_k)
		return 0;
	for (i = 0; i < s->tmp_n; i++)
		topk_free(&s->tmp[i]);
	free(s->tmp);
	s->tmp_n = 0;
	if (!(s->tmp = calloc(nq, sizeof *s->tmp)))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	for (; s->tmp_n < nq; s->tmp_n++)
		if (topk_init(&s->tmp[s->tmp_n], k))
			return lm_fail(err, LM_ENOMEM, "out of memory");
	s->tmp_k = k;
	return 0;
}

/* Merge a shard's per-query lists (local rows) into the global ones. */
static void merge_tmp(struct search_index *s, const struct shard *sh, uint32_t nq,
		      struct topk *out)
{
	uint32_t i, j;

	for (i = 0; i < nq; i++) {
		for (j = 0; j < s->tmp[i].n; j++)
			topk_push(&out[i], sh->base + s->tmp[i].hits[j].doc, s->tmp[i].hits[j].score);
		topk_reset(&s->tmp[i]);
	}
}

/* One query on a shard's HNSW graph or IVF lists. */
static int search_shard_ann(struct search_index *s, const struct search_options *o,
			    struct shard *sh, const float *q, uint32_t k, struct topk *out,
			    struct lm_error *err)
{
	flat_accept_fn *fn;
	void *arg;
	uint32_t ef = o->ef ? o->ef : (k > SEARCH_DEFAULT_EF ? k : SEARCH_DEFAULT_EF);
	int n, i;

	if (k > s->hits_cap) {
		struct ann_hit *h = realloc(s->hits, k * sizeof *h);

		if (!h)
			return lm_fail(err, LM_ENOMEM, "out of memory");
		s->hits = h;
		s->hits_cap = k;
	}
	shard_filter(sh, &fn, &arg);
	if (sh->hnsw)
		n = hnsw_search(sh->hnsw, s->scratch, q, k, ef, fn, arg, s->hits);
	else
		n = ivf_search(sh->ivf, q, k, o->nprobe ? o->nprobe : SEARCH_DEFAULT_NPROBE, fn,
			       arg, s->hits);
	if (n == LM_EFORMAT && sh->hnsw)
		return lm_fail(err, n, "%s: %s: the file is corrupt", sh->file.path,
			       hnsw_scratch_problem(s->scratch));
	if (n < 0)
		return lm_fail(err, n, "%s: out of memory searching", sh->file.path);
	for (i = 0; i < n; i++)
		topk_push(out, sh->base + s->hits[i].doc, s->hits[i].score);
	return 0;
}

/* Dense search to depth K for NQ prepared queries. */
static int dense_k(struct search_index *s, const struct search_options *o, const float *q,
		   uint32_t nq, uint32_t k, struct topk *out, struct lm_error *err)
{
	unsigned i;
	uint32_t j;
	int rc;

	for (i = 0; i < s->nshards; i++) {
		struct shard *sh = &s->shard[i];
		flat_accept_fn *fn;
		void *arg;

		shard_filter(sh, &fn, &arg);
		if (sh->has_flat && (o->exact || (!sh->hnsw && !sh->ivf))) {
			if ((rc = grow_tmp(s, nq, k, err)))
				return rc;
			if (nq == 1)
				rc = flat_search(&sh->flat, q, fn, arg, &s->tmp[0], err);
			else
				rc = flat_search_batch(&sh->flat, q, nq, fn, arg, s->tmp, err);
			if (rc)
				return lm_error_prefix(err, "%s: ", sh->file.path);
			merge_tmp(s, sh, nq, out);
		} else if (sh->hnsw && o->exact) {
			for (j = 0; j < nq; j++)
				brute_force_hnsw(s, sh, q + (size_t)j * s->dim, &out[j]);
		} else if (o->exact) {
			return lm_fail(err, LM_EINVAL, "%s: --exact needs the raw vectors, and this "
				       "index keeps only IVF codes", sh->file.path);
		} else if (sh->hnsw || sh->ivf) {
			for (j = 0; j < nq; j++)
				if ((rc = search_shard_ann(s, o, sh, q + (size_t)j * s->dim, k,
							   &out[j], err)))
					return rc;
		} else {
			return lm_fail(err, LM_EFORMAT, "%s: no vector structure to search",
				       sh->file.path);
		}
	}
	return 0;
}

int search_dense_batch(struct search_index *s, const struct search_options *o,
		       const float *queries, uint32_t nq, struct topk *out, struct lm_error *err)
{
	const float *q;
	int rc;

	if ((rc = need_vectors(s, err)))
		return rc;
	if (!nq)
		return 0;
	if (!(q = prepare(s, queries, nq, err)))
		return err->code;
	return dense_k(s, o, q, nq, o->k, out, err);
}

int search_dense(struct search_index *s, const struct search_options *o, const float *query,
		 struct topk *out, struct lm_error *err)
{
	return search_dense_batch(s, o, query, 1, out, err);
}

int search_bm25(struct search_index *s, const struct search_options *o, const char *text,
		size_t len, struct topk *out, struct lm_error *err)
{
	unsigned i;
	int rc;

	if (!s->has_bm25)
		return lm_fail(err, LM_EINVAL, "%s has no BM25 section", s->shard[0].file.path);
	if ((rc = grow_tmp(s, 1, out->k, err)))
		return rc;
	for (i = 0; i < s->nshards; i++) {
		struct shard *sh = &s->shard[i];
		flat_accept_fn *fn;
		void *arg;

		if (!sh->has_bm25)
			return lm_fail(err, LM_EINVAL, "%s has no BM25 section, %s has",
				       sh->file.path, s->shard[0].file.path);
		shard_filter(sh, &fn, &arg);
		if ((rc = bm25_search(sh->bm25_searcher, text, len, fn, arg, &s->tmp[0], err)))
			return lm_error_prefix(err, "%s: ", sh->file.path);
		merge_tmp(s, sh, 1, out);
	}
	(void)o;
	return 0;
}

int search_hybrid(struct search_index *s, const struct search_options *o, const float *query,
		  const char *text, size_t len, struct topk *out, struct lm_error *err)
{
	uint32_t depth = o->k > SEARCH_FUSION_DEPTH ? o->k : SEARCH_FUSION_DEPTH;
	struct topk lists[2] = { { 0 }, { 0 } };
	const struct topk_hit *l[2];
	uint32_t lens[2];
	const float *q;
	int rc;

	if ((rc = need_vectors(s, err)))
		return rc;
	if (topk_init(&lists[0], depth) || topk_init(&lists[1], depth)) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	if (!(q = prepare(s, query, 1, err))) {
		rc = err->code;
		goto out;
	}
	if ((rc = dense_k(s, o, q, 1, depth, &lists[0], err)) ||
	    (rc = search_bm25(s, o, text, len, &lists[1], err)))
		goto out;
	l[0] = topk_sorted(&lists[0]);
	l[1] = topk_sorted(&lists[1]);
	lens[0] = lists[0].n;
	lens[1] = lists[1].n;
	rc = fusion_fuse(&o->fusion, l, lens, 2, out, err);
out:
	topk_free(&lists[0]);
	topk_free(&lists[1]);
	return rc;
}

void search_doc(const struct search_index *s, uint32_t doc, const char **id, size_t *id_len,
		const char **meta, size_t *meta_len)
{
	unsigned lo = 0, hi = s->nshards;
	const struct shard *sh;

	/* the last shard whose base is <= doc */
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (s->shard[mid].base <= doc)
			lo = mid;
		else
			hi = mid;
	}
	sh = &s->shard[lo];
	*id = docstore_id(&sh->docs, doc - sh->base, id_len);
	*meta = docstore_meta(&sh->docs, doc - sh->base, meta_len);
}

int search_doc_text(struct search_index *s, uint32_t doc, const char **text, size_t *len,
		    struct lm_error *err)
{
	unsigned lo = 0, hi = s->nshards;
	struct shard *sh;

	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (s->shard[mid].base <= doc)
			lo = mid;
		else
			hi = mid;
	}
	sh = &s->shard[lo];
	return docstore_text(&sh->docs, doc - sh->base, text, len, err);
}

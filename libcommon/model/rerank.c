/* rerank.c - per-query re-ranking of hit streams; see rerank.h for the
 * steps and formulas. */
#include "model/rerank.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/topk.h"
#include "json.h"
#include "ndjson.h"

enum { DEFAULT_BATCH_TOKENS = 8192 };

/* A string -> index map (open addressing, FNV-1a).  Keys are copied when
 * OWN is set, else they must outlive the map. */
struct strmap {
	struct strmap_slot {
		const char *key;
		size_t len;
		uint32_t val;
	} *slot;
	size_t cap, n;
	int own;
};

static uint64_t str_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static void strmap_clear(struct strmap *m)
{
	size_t i;

	if (m->own)
		for (i = 0; i < m->cap; i++)
			free((char *)m->slot[i].key);
	if (m->cap)
		memset(m->slot, 0, m->cap * sizeof *m->slot);
	m->n = 0;
}

static void strmap_free(struct strmap *m)
{
	strmap_clear(m);
	free(m->slot);
	m->slot = NULL;
	m->cap = 0;
}

static struct strmap_slot *strmap_find(const struct strmap *m, const char *key, size_t len)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = str_hash(key, len) & (m->cap - 1); m->slot[i].key; i = (i + 1) & (m->cap - 1))
		if (m->slot[i].len == len && !memcmp(m->slot[i].key, key, len))
			return &m->slot[i];
	return NULL;
}

/* Add KEY -> VAL (KEY not yet in the map).  0 or LM_ENOMEM. */
static int strmap_add(struct strmap *m, const char *key, size_t len, uint32_t val)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64, j;
		struct strmap_slot *s = calloc(cap, sizeof *s);

		if (!s)
			return LM_ENOMEM;
		for (j = 0; j < m->cap; j++) {
			if (!m->slot[j].key)
				continue;
			for (i = str_hash(m->slot[j].key, m->slot[j].len) & (cap - 1); s[i].key;
			     i = (i + 1) & (cap - 1))
				;
			s[i] = m->slot[j];
		}
		free(m->slot);
		m->slot = s;
		m->cap = cap;
	}
	for (i = str_hash(key, len) & (m->cap - 1); m->slot[i].key; i = (i + 1) & (m->cap - 1))
		;
	if (m->own) {
		char *k = malloc(len + 1);

		if (!k)
			return LM_ENOMEM;
		memcpy(k, key, len);
		k[len] = 0;
		key = k;
	}
	m->slot[i].key = key;
	m->slot[i].len = len;
	m->slot[i].val = val;
	m->n++;
	return 0;
}

struct hit {
	struct json_value *rec;
	const char *qid, *id;
	size_t qid_len, id_len;
	double score;           /* what orders the hit (step 3) */
	int has_score;          /* the record came with a numeric score */
	unsigned file;          /* index into names, for messages */
	uint64_t line;
	uint32_t group;         /* fusing: the query it belongs to */
	size_t seq;             /* fusing: read order */
	size_t tok_off;         /* its pair in tokens/types */
	uint32_t n_tok;
	float raw;              /* the scorer's output 0 */
};

struct group {
	size_t first, n;        /* hits[first .. first + n) */
};

/* A query of the fused streams. */
struct fuse_query {
	unsigned last_file;     /* the last stream that gave it hits */
};

struct reranker {
	struct rerank_options opt;
	struct rerank_scorer sc;
	int has_scorer;
	struct rerank_frame frame;
	struct output *out;
	struct rerank_stats st;
	char **names;
	unsigned n_names;

	/* Queries read and not yet written. */
	struct json_doc *pdoc;  /* their records (unfused) */
	struct hit *hits;
	size_t n_hits, cap_hits;
	struct group *groups;
	size_t n_groups, cap_groups;
	int open;               /* the last group may still grow */
	struct tok_ids tokens, types;
	size_t pending_tokens;
	struct strmap seen;     /* unfused: qids already written or pending */

	/* Fusing: every hit of every stream. */
	struct json_doc *fdoc;
	struct hit *all;
	size_t n_all, cap_all;
	struct fuse_query *fq;
	size_t n_fq, cap_fq;
	struct strmap qids;     /* qid -> fq index; keys live in fdoc */

	/* Tokenizing: the last query's ids are reused for its next hit. */
	char *last_q;
	size_t last_q_len;
	int have_last_q;
	struct tok_ids qtok, dtok;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (!(q = realloc(*p, c * size)))
		return LM_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* --- building blocks ------------------------------------------------- */

int rerank_frame_probe(const struct tokenizer *tok, struct rerank_frame *f, struct lm_error *err)
{
	static const char probe[] = "a";
	struct tok_ids plain = { 0 }, framed = { 0 };
	size_t i, start = SIZE_MAX;
	int rc;

	memset(f, 0, sizeof *f);
	if ((rc = tokenizer_encode(tok, probe, 1, 0, &plain, err)) ||
	    (rc = tokenizer_encode(tok, probe, 1, TOK_ADD_SPECIAL, &framed, err)))
		goto out;
	for (i = 0; plain.n && i + plain.n <= framed.n; i++)
		if (!memcmp(framed.ids + i, plain.ids, plain.n * sizeof *plain.ids)) {
			start = i;
			break;
		}
	if (start == SIZE_MAX || start > 8 || framed.n - start - plain.n > 8) {
		rc = lm_fail(err, LM_EINVAL, "tokenizer %s: cannot tell which special tokens it "
			     "adds around a text", tokenizer_name(tok));
		goto out;
	}
	f->n_prefix = (int)start;
	memcpy(f->prefix, framed.ids, start * sizeof *f->prefix);
	f->n_suffix = (int)(framed.n - start - plain.n);
	memcpy(f->suffix, framed.ids + start + plain.n, (size_t)f->n_suffix * sizeof *f->suffix);
	if (!f->n_suffix) {
		/* llama.cpp's format_prompt_rerank: "EOS, or SEP when there
		 * is no EOS" between and after the two texts */
		int32_t sep = tokenizer_special(tok, TOK_EOS);

		if (sep < 0)
			sep = tokenizer_special(tok, TOK_SEP);
		if (sep < 0) {
			rc = lm_fail(err, LM_EINVAL, "tokenizer %s has neither EOS nor SEP to "
				     "separate a query from a document", tokenizer_name(tok));
			goto out;
		}
		f->suffix[0] = sep;
		f->n_suffix = 1;
	}
out:
	tok_ids_free(&plain);
	tok_ids_free(&framed);
	return rc;
}

static int push_ids(struct tok_ids *tokens, struct tok_ids *types, const int32_t *ids, size_t n,
		    int32_t type, struct lm_error *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tok_ids_push(tokens, ids[i], err) || tok_ids_push(types, type, err))
			return lm_fail(err, LM_ENOMEM, "out of memory");
	return 0;
}

int rerank_pair(const struct rerank_frame *f, const int32_t *q, size_t nq, const int32_t *d,
		size_t nd, int n_ctx, int n_types, struct tok_ids *tokens, struct tok_ids *types,
		int *truncated, struct lm_error *err)
{
	size_t fixed = (size_t)f->n_prefix + 2 * (size_t)f->n_suffix;
	int32_t b = n_types >= 2 ? 1 : 0;
	int rc;

	*truncated = 0;
	if (n_ctx <= 0 || fixed > (size_t)n_ctx)
		return lm_fail(err, LM_EINVAL, "a context of %d tokens cannot hold a query-document "
			       "pair's %zu special tokens", n_ctx, fixed);
	if (fixed + nq + nd > (size_t)n_ctx) {
		*truncated = 1;
		if (fixed + nq > (size_t)n_ctx) {
			nq = (size_t)n_ctx - fixed;
			nd = 0;
		} else {
			nd = (size_t)n_ctx - fixed - nq;
		}
	}
	if ((rc = push_ids(tokens, types, f->prefix, (size_t)f->n_prefix, 0, err)) ||
	    (rc = push_ids(tokens, types, q, nq, 0, err)) ||
	    (rc = push_ids(tokens, types, f->suffix, (size_t)f->n_suffix, 0, err)) ||
	    (rc = push_ids(tokens, types, d, nd, b, err)) ||
	    (rc = push_ids(tokens, types, f->suffix, (size_t)f->n_suffix, b, err)))
		return rc;
	return 0;
}

static int cmp_order(const void *pa, const void *pb, void *arg)
{
	const double *score = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	if (score[a] != score[b])
		return score[a] > score[b] ? -1 : 1;
	return (a > b) - (a < b);
}

void rerank_sort(const double *score, size_t n, uint32_t *order)
{
	size_t i;

	for (i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	/* the index breaks ties, so qsort's instability cannot show */
	qsort_r(order, n, sizeof *order, cmp_order, (void *)score);
}

int rerank_mmr(const double *score, const float *emb, size_t dim, size_t n, double lambda,
	       size_t k, uint32_t *order, struct lm_error *err)
{
	double *norm = NULL, *maxsim = NULL, lo, hi;
	unsigned char *picked = NULL;
	uint32_t *in = NULL;
	size_t i, j, t;
	int rc = 0;

	if (!k || k > n)
		k = n;
	if (!n)
		return 0;
	if (!(norm = malloc(n * sizeof *norm)) || !(maxsim = malloc(n * sizeof *maxsim)) ||
	    !(picked = calloc(n, 1)) || !(in = malloc(n * sizeof *in))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(in, order, n * sizeof *in);
	lo = hi = score[0];
	for (i = 0; i < n; i++) {
		double s = 0;

		for (j = 0; j < dim; j++)
			s += (double)emb[i * dim + j] * emb[i * dim + j];
		norm[i] = sqrt(s);
		maxsim[i] = 0;
		if (score[i] < lo)
			lo = score[i];
		if (score[i] > hi)
			hi = score[i];
	}
	for (t = 0; t < k; t++) {
		double best = -INFINITY;
		size_t bi = SIZE_MAX;

		/* candidates in step 3's order, so the earlier wins a tie */
		for (j = 0; j < n; j++) {
			uint32_t c = in[j];
			double rel = hi > lo ? (score[c] - lo) / (hi - lo) : 1.0;
			double v = lambda * rel - (t ? (1 - lambda) * maxsim[c] : 0.0);

			if (!picked[c] && (bi == SIZE_MAX || v > best)) {
				best = v;
				bi = c;
			}
		}
		picked[bi] = 1;
		order[t] = (uint32_t)bi;
		for (i = 0; i < n; i++) {
			double dot = 0, sim;

			if (picked[i])
				continue;
			for (j = 0; j < dim; j++)
				dot += (double)emb[i * dim + j] * emb[bi * dim + j];
			sim = norm[i] > 0 && norm[bi] > 0 ? dot / (norm[i] * norm[bi]) : 0.0;
			if (t == 0 || sim > maxsim[i])
				maxsim[i] = sim;
		}
	}
out:
	free(norm);
	free(maxsim);
	free(picked);
	free(in);
	return rc;
}

void rerank_edges(const uint32_t *in, size_t n, uint32_t *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i % 2 == 0)
			out[i / 2] = in[i];
		else
			out[n - 1 - i / 2] = in[i];
	}
}

/* --- the stream -------------------------------------------------------- */

int rerank_new(struct reranker **rrp, const struct rerank_options *opt,
	       const struct rerank_scorer *scorer, struct output *out, struct lm_error *err)
{
	struct reranker *rr;
	int rc = 0;

	*rrp = NULL;
	if (!(rr = calloc(1, sizeof *rr)))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rr->opt = *opt;
	if (!rr->opt.batch_tokens)
		rr->opt.batch_tokens = DEFAULT_BATCH_TOKENS;
	rr->out = out;
	rr->seen.own = 1;
	if (opt->mmr && !(opt->mmr_lambda >= 0 && opt->mmr_lambda <= 1)) {
		rc = lm_fail(err, LM_EINVAL, "MMR lambda %g is not between 0 and 1",
			     opt->mmr_lambda);
		goto out;
	}
	if (scorer) {
		rr->sc = *scorer;
		rr->has_scorer = 1;
		if (scorer->n_out < 1 || scorer->n_types < 1 || !scorer->run || !scorer->tok) {
			rc = lm_fail(err, LM_EINVAL, "a reranker needs a model with an output");
			goto out;
		}
		if ((rc = rerank_frame_probe(scorer->tok, &rr->frame, err)))
			goto out;
	}
	if (!(rr->pdoc = json_doc_new()) || (opt->fuse && !(rr->fdoc = json_doc_new())))
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
out:
	if (rc)
		rerank_free(rr);
	else
		*rrp = rr;
	return rc;
}

void rerank_free(struct reranker *rr)
{
	unsigned i;

	if (!rr)
		return;
	for (i = 0; i < rr->n_names; i++)
		free(rr->names[i]);
	free(rr->names);
	json_doc_free(rr->pdoc);
	json_doc_free(rr->fdoc);
	free(rr->hits);
	free(rr->groups);
	tok_ids_free(&rr->tokens);
	tok_ids_free(&rr->types);
	strmap_free(&rr->seen);
	strmap_free(&rr->qids);
	free(rr->all);
	free(rr->fq);
	free(rr->last_q);
	tok_ids_free(&rr->qtok);
	tok_ids_free(&rr->dtok);
	free(rr);
}

const struct rerank_stats *rerank_get_stats(const struct reranker *rr)
{
	return &rr->st;
}

/* "FILE:LINE: " before a message about hit H. */
static int hit_fail(struct reranker *rr, const struct hit *h, struct lm_error *err, int code,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int hit_fail(struct reranker *rr, const struct hit *h, struct lm_error *err, int code,
		    const char *fmt, ...)
{
	char msg[sizeof err->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return lm_fail(err, code, "%s:%llu: %s", rr->names[h->file], (unsigned long long)h->line,
		       msg);
}

/* Fill H from REC, checking that it has what the steps need. */
static int check_hit(struct reranker *rr, struct json_doc *doc, struct json_value *rec,
		     struct hit *h, struct lm_error *err)
{
	struct json_value *v;

	h->rec = rec;
	h->id = json_string(json_get(rec, "id"), &h->id_len);
	if (!h->id) {
		h->id = "";
		h->id_len = 0;
	}
	if (!(h->qid = json_string(json_get(rec, "qid"), &h->qid_len)))
		return hit_fail(rr, h, err, LM_EINVAL, "hit '%.*s' has no \"qid\" string (the query "
				"it answers)", (int)h->id_len, h->id);
	v = json_get(rec, "score");
	h->has_score = json_type(v) == JSON_NUMBER;
	h->score = h->has_score ? json_number_double(v) : 0;
	if (!h->has_score && ((!rr->has_scorer && !rr->opt.fuse) ||
			      (rr->opt.fuse && rr->opt.fusion.method == FUSION_ALPHA)))
		return hit_fail(rr, h, err, LM_EINVAL, "hit '%.*s' of query '%.*s' has no numeric "
				"\"score\" to order by", (int)h->id_len, h->id, (int)h->qid_len,
				h->qid);
	/* alpha fusion normalises the scores in float: an infinity would
	 * make NaNs, which topk drops */
	if (rr->opt.fuse && rr->opt.fusion.method == FUSION_ALPHA && !isfinite((float)h->score))
		return hit_fail(rr, h, err, LM_EINVAL, "hit '%.*s' of query '%.*s': score out of "
				"range for fusion", (int)h->id_len, h->id, (int)h->qid_len, h->qid);
	if (rr->has_scorer) {
		size_t len;

		if (json_type(json_get(rec, "query")) != JSON_STRING)
			return hit_fail(rr, h, err, LM_EINVAL, "hit '%.*s' of query '%.*s' has no "
					"\"query\" string (the text to score it against)",
					(int)h->id_len, h->id, (int)h->qid_len, h->qid);
		if (!ndjson_record_text(doc, rec, &len))
			return hit_fail(rr, h, err, LM_EINVAL, "hit '%.*s' of query '%.*s' has no "
					"\"text\"", (int)h->id_len, h->id, (int)h->qid_len, h->qid);
	}
	if (rr->opt.mmr && json_type(json_get(rec, "embedding")) != JSON_ARRAY)
		return hit_fail(rr, h, err, LM_EINVAL, "hit '%.*s' of query '%.*s' has no "
				"\"embedding\" array (MMR compares the hits' embeddings)",
				(int)h->id_len, h->id, (int)h->qid_len, h->qid);
	return 0;
}

/* Tokenize H's pair into tokens/types (step 2). */
static int add_pair(struct reranker *rr, struct json_doc *doc, struct hit *h,
		    struct lm_error *err)
{
	const char *q, *d;
	size_t q_len, d_len;
	int truncated, rc;

	q = json_string(json_get(h->rec, "query"), &q_len);
	d = ndjson_record_text(doc, h->rec, &d_len);
	if (!rr->have_last_q || q_len != rr->last_q_len || memcmp(q, rr->last_q, q_len)) {
		char *copy = malloc(q_len + 1);

		if (!copy)
			return lm_fail(err, LM_ENOMEM, "out of memory");
		memcpy(copy, q, q_len);
		free(rr->last_q);
		rr->last_q = copy;
		rr->last_q_len = q_len;
		rr->have_last_q = 0;
		rr->qtok.n = 0;
		if ((rc = tokenizer_encode(rr->sc.tok, q, q_len, 0, &rr->qtok, err)))
			return hit_fail(rr, h, err, rc, "query '%.*s': %s", (int)h->qid_len, h->qid,
					err->msg);
		rr->have_last_q = 1;
	}
	rr->dtok.n = 0;
	if ((rc = tokenizer_encode(rr->sc.tok, d, d_len, 0, &rr->dtok, err)))
		return hit_fail(rr, h, err, rc, "hit '%.*s': %s", (int)h->id_len, h->id, err->msg);
	h->tok_off = rr->tokens.n;
	if ((rc = rerank_pair(&rr->frame, rr->qtok.ids, rr->qtok.n, rr->dtok.ids, rr->dtok.n,
			      rr->sc.n_ctx, rr->sc.n_types, &rr->tokens, &rr->types, &truncated,
			      err)))
		return rc;
	h->n_tok = (uint32_t)(rr->tokens.n - h->tok_off);
	rr->pending_tokens += h->n_tok;
	rr->st.truncated += (uint64_t)truncated;
	return 0;
}

/* Run the scorer over every pending pair, in calls of at most batch_tokens
 * tokens (a longer pair goes alone). */
static int score_pending(struct reranker *rr, struct lm_error *err)
{
	struct encoder_seq *seqs = NULL;
	float *out = NULL;
	size_t i = 0, j, n, tokens;
	int rc = 0;

	if (!rr->n_hits)
		return 0;
	if (!(seqs = malloc(rr->n_hits * sizeof *seqs)) ||
	    !(out = malloc(rr->n_hits * (size_t)rr->sc.n_out * sizeof *out))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	while (i < rr->n_hits) {
		for (n = 0, tokens = 0; i + n < rr->n_hits; n++) {
			const struct hit *h = &rr->hits[i + n];

			if (n && tokens + h->n_tok > rr->opt.batch_tokens)
				break;
			seqs[n].tokens = rr->tokens.ids + h->tok_off;
			seqs[n].types = rr->sc.n_types >= 2 ? rr->types.ids + h->tok_off : NULL;
			seqs[n].n_tokens = (int)h->n_tok;
			tokens += h->n_tok;
		}
		if ((rc = rr->sc.run(rr->sc.arg, seqs, (int)n, out, err)))
			goto out;
		rr->st.scorer_calls++;
		for (j = 0; j < n; j++)
			rr->hits[i + j].raw = out[j * (size_t)rr->sc.n_out];
		rr->st.pairs += n;
		i += n;
	}
out:
	free(seqs);
	free(out);
	return rc;
}

/* Replace the score of H's record by S, keeping the old one (steps 1, 2). */
static int set_score(struct json_doc *doc, struct hit *h, struct json_value *s,
		     struct lm_error *err)
{
	struct json_value *rec = h->rec, *old = json_get(rec, "score");
	size_t i, n = json_object_len(rec);
	int rc = 0;

	if (old && !json_get(rec, "retrieval_score")) {
		for (i = 0; i < n && strcmp(json_object_key(rec, i), "score"); i++)
			;
		rc = json_object_insert(doc, rec, i + 1, "retrieval_score", json_copy(doc, old));
	}
	if (rc || (rc = json_object_set(doc, rec, "score", s)))
		return lm_fail(err, rc, "out of memory");
	return 0;
}

/* Steps 2 (scores) to 6 for one query, and write it. */
static int finish_group(struct reranker *rr, struct json_doc *doc, const struct group *g,
			struct lm_error *err)
{
	struct hit *h = rr->hits + g->first;
	size_t n = g->n, keep, i, dim = 0;
	double *score = NULL;
	uint32_t *order = NULL, *placed = NULL;
	float *emb = NULL;
	int rc = 0;

	if (!(score = malloc(n * sizeof *score)) || !(order = malloc(n * sizeof *order)) ||
	    !(placed = malloc(n * sizeof *placed))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (rr->has_scorer) {
			double s = h[i].raw;

			if (!isfinite(s)) {
				rc = hit_fail(rr, &h[i], err, LM_EINVAL, "hit '%.*s' of query '%.*s': "
					      "the model's score is not a finite number",
					      (int)h[i].id_len, h[i].id, (int)h[i].qid_len, h[i].qid);
				goto out;
			}
			if (rr->opt.sigmoid)
				s = 1 / (1 + exp(-s));
			h[i].score = (float)s;
			if ((rc = set_score(doc, &h[i], json_new_float(doc, (float)s), err)))
				goto out;
		} else if (rr->opt.fuse) {
			if ((rc = set_score(doc, &h[i], json_new_float(doc, (float)h[i].score), err)))
				goto out;
		}
		score[i] = h[i].score;
	}
	rerank_sort(score, n, order);
	keep = rr->opt.k && rr->opt.k < n ? rr->opt.k : n;
	if (rr->opt.mmr) {
		dim = json_array_len(json_get(h[0].rec, "embedding"));
		if (!(emb = malloc((n * dim + 1) * sizeof *emb))) {
			rc = lm_fail(err, LM_ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < n; i++) {
			struct json_value *e = json_get(h[i].rec, "embedding");
			size_t got;

			if (json_array_len(e) != dim) {
				rc = hit_fail(rr, &h[i], err, LM_EINVAL, "hit '%.*s' of query '%.*s': "
					      "embedding has %zu dimensions, the query's first hit %zu",
					      (int)h[i].id_len, h[i].id, (int)h[i].qid_len, h[i].qid,
					      json_array_len(e), dim);
				goto out;
			}
			if ((rc = json_get_float_array(e, emb + i * dim, dim, &got, err))) {
				rc = hit_fail(rr, &h[i], err, rc, "hit '%.*s': embedding: %s",
					      (int)h[i].id_len, h[i].id, err->msg);
				goto out;
			}
		}
		if ((rc = rerank_mmr(score, emb, dim, n, rr->opt.mmr_lambda, keep, order, err)))
			goto out;
	}
	for (i = 0; i < keep; i++)
		if ((rc = json_object_set(doc, h[order[i]].rec, "rank", json_new_int(doc, (int64_t)i + 1)))) {
			rc = lm_fail(err, rc, "out of memory");
			goto out;
		}
	if (rr->opt.order_edges)
		rerank_edges(order, keep, placed);
	else
		memcpy(placed, order, keep * sizeof *placed);
	for (i = 0; i < keep; i++)
		if ((rc = ndjson_write(rr->out, h[placed[i]].rec, err)))
			goto out;
	rr->st.queries++;
	rr->st.hits += keep;
out:
	free(score);
	free(order);
	free(placed);
	free(emb);
	return rc;
}

/* Score and write every pending query; the pending list is empty after. */
static int flush(struct reranker *rr, struct lm_error *err)
{
	struct json_doc *doc = rr->opt.fuse ? rr->fdoc : rr->pdoc;
	size_t i;
	int rc = 0;

	if (rr->has_scorer)
		rc = score_pending(rr, err);
	for (i = 0; i < rr->n_groups && !rc; i++)
		rc = finish_group(rr, doc, &rr->groups[i], err);
	rr->n_hits = rr->n_groups = 0;
	rr->tokens.n = rr->types.n = 0;
	rr->pending_tokens = 0;
	rr->open = 0;
	if (!rr->opt.fuse)
		json_doc_reset(rr->pdoc);
	return rc;
}

/* The last group is complete: write now, or once enough pairs wait. */
static int close_group(struct reranker *rr, struct lm_error *err)
{
	rr->open = 0;
	if (!rr->has_scorer || rr->pending_tokens >= rr->opt.batch_tokens)
		return flush(rr, err);
	return 0;
}

static int add_name(struct reranker *rr, const char *name, struct lm_error *err)
{
	char **names = realloc(rr->names, (rr->n_names + 1) * sizeof *names);

	if (!names)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rr->names = names;
	if (!(names[rr->n_names] = strdup(name)))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rr->n_names++;
	return 0;
}

/* An unfused hit: group it with the hits before it, or start a query. */
static int take_hit(struct reranker *rr, struct hit *h, struct json_doc *rdoc,
		    struct lm_error *err)
{
	struct group *g = rr->open ? &rr->groups[rr->n_groups - 1] : NULL;
	const struct hit *first = g ? &rr->hits[g->first] : NULL;
	struct hit *nh;
	int rc;

	if (!g || first->qid_len != h->qid_len || memcmp(first->qid, h->qid, h->qid_len)) {
		if (strmap_find(&rr->seen, h->qid, h->qid_len))
			return hit_fail(rr, h, err, LM_EINVAL, "query '%.*s' again after other "
					"queries' hits: a query's hits must be consecutive (to "
					"merge runs, fuse them)", (int)h->qid_len, h->qid);
		if (g && (rc = close_group(rr, err)))
			return rc;
		if (strmap_add(&rr->seen, h->qid, h->qid_len, 0) ||
		    grow((void **)&rr->groups, &rr->cap_groups, rr->n_groups + 1, sizeof *rr->groups))
			return lm_fail(err, LM_ENOMEM, "out of memory");
		g = &rr->groups[rr->n_groups++];
		g->first = rr->n_hits;
		g->n = 0;
		rr->open = 1;
	}
	if (grow((void **)&rr->hits, &rr->cap_hits, rr->n_hits + 1, sizeof *rr->hits))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	nh = &rr->hits[rr->n_hits];
	*nh = *h;
	if (rr->has_scorer && (rc = add_pair(rr, rdoc, nh, err)))
		return rc;
	/* the record moves to the pending doc: the reader's is reused */
	if (!(nh->rec = json_copy(rr->pdoc, h->rec)))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	nh->id = json_string(json_get(nh->rec, "id"), NULL);
	nh->qid = json_string(json_get(nh->rec, "qid"), NULL);
	if (!nh->id)
		nh->id = "";
	rr->n_hits++;
	g->n++;
	return 0;
}

/* A hit of a fused stream: kept until rerank_finish. */
static int keep_hit(struct reranker *rr, struct hit *h, uint32_t *cur, struct lm_error *err)
{
	struct strmap_slot *s = strmap_find(&rr->qids, h->qid, h->qid_len);
	unsigned file = rr->n_names - 1;
	struct hit *nh;
	uint32_t q;

	if (!(h->rec = json_copy(rr->fdoc, h->rec)))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	h->id = json_string(json_get(h->rec, "id"), NULL);
	h->qid = json_string(json_get(h->rec, "qid"), NULL);
	if (!h->id)
		h->id = "";
	if (s) {
		q = s->val;
	} else {
		if (grow((void **)&rr->fq, &rr->cap_fq, rr->n_fq + 1, sizeof *rr->fq) ||
		    strmap_add(&rr->qids, h->qid, h->qid_len, (uint32_t)rr->n_fq))
			return lm_fail(err, LM_ENOMEM, "out of memory");
		q = (uint32_t)rr->n_fq++;
		rr->fq[q].last_file = UINT_MAX;
	}
	if (q != *cur) {
		if (rr->fq[q].last_file == file)
			return hit_fail(rr, h, err, LM_EINVAL, "query '%.*s' again after other "
					"queries' hits: a query's hits must be consecutive",
					(int)h->qid_len, h->qid);
		rr->fq[q].last_file = file;
		*cur = q;
	}
	if (grow((void **)&rr->all, &rr->cap_all, rr->n_all + 1, sizeof *rr->all))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	nh = &rr->all[rr->n_all];
	*nh = *h;
	nh->group = q;
	nh->seq = rr->n_all++;
	return 0;
}

/* Report a bad record and go on (skip_bad), or stop. */
static int bad_record(struct reranker *rr, int rc, struct lm_error *err)
{
	if (!rr->opt.skip_bad || (rc != LM_EINVAL && rc != LM_EFORMAT))
		return rc;
	if (rr->opt.report)
		rr->opt.report(err, rr->opt.report_arg);
	rr->st.bad++;
	return 0;
}

int rerank_read(struct reranker *rr, struct input *in, struct lm_error *err)
{
	struct ndjson_reader nr;
	struct json_value *rec;
	uint32_t cur = UINT32_MAX;
	int rc;

	if ((rc = add_name(rr, in->name, err)) || (rc = ndjson_open(&nr, in, err)))
		return rc;
	while ((rc = ndjson_next(&nr, &rec, err)) != LM_EOF) {
		struct hit h = { 0 };

		h.file = rr->n_names - 1;
		h.line = nr.line;
		if (!rc)
			rc = check_hit(rr, nr.doc, rec, &h, err);
		if (!rc)
			rc = rr->opt.fuse ? keep_hit(rr, &h, &cur, err) : take_hit(rr, &h, nr.doc, err);
		if (rc && (rc = bad_record(rr, rc, err)))
			break;
	}
	ndjson_close(&nr);
	return rc == LM_EOF ? 0 : rc;
}

static int cmp_fused(const void *pa, const void *pb)
{
	const struct hit *a = pa, *b = pb;

	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	if (a->file != b->file)
		return a->file < b->file ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Step 1 for the query whose hits (stream by stream) are ALL[0..N): push
 * the fused list as a pending group. */
static int fuse_query(struct reranker *rr, struct hit *all, size_t n, struct lm_error *err)
{
	struct strmap ids = { 0 };
	struct topk_hit *lists = NULL;
	const struct topk_hit **lp = NULL;
	unsigned nlists = rr->n_names, l;
	size_t *start = NULL;
	uint32_t *lens = NULL, *first = NULL, *last_file = NULL, ndocs = 0;
	struct topk fused = { 0 };
	const struct topk_hit *best;
	struct group *g;
	size_t i;
	int rc = 0;

	/* one list per stream, in stream order (alpha weighs the first), empty
	 * for a stream without this query */
	if (!(lists = malloc(n * sizeof *lists)) || !(lp = malloc(nlists * sizeof *lp)) ||
	    !(start = calloc(nlists, sizeof *start)) || !(lens = calloc(nlists, sizeof *lens)) ||
	    !(first = malloc(n * sizeof *first)) || !(last_file = malloc(n * sizeof *last_file)))
		goto nomem;
	/* documents numbered in the order first seen, so that topk's tie
	 * rule (lower number first) puts the first seen first */
	for (i = 0; i < n; i++) {
		struct strmap_slot *s = strmap_find(&ids, all[i].id, all[i].id_len);
		unsigned file = all[i].file;
		uint32_t doc;

		if (i == 0 || file != all[i - 1].file)
			start[file] = i;
		if (s) {
			doc = s->val;
			if (last_file[doc] == file) {
				rc = hit_fail(rr, &all[i], err, LM_EINVAL, "document '%.*s' twice in "
					      "query '%.*s' of this stream", (int)all[i].id_len,
					      all[i].id, (int)all[i].qid_len, all[i].qid);
				if ((rc = bad_record(rr, rc, err)))
					goto out;
				continue;
			}
		} else {
			doc = ndocs++;
			if (strmap_add(&ids, all[i].id, all[i].id_len, doc))
				goto nomem;
			first[doc] = (uint32_t)i;
		}
		last_file[doc] = file;
		/* packed: a skipped duplicate leaves no gap in its list */
		lists[start[file] + lens[file]++] =
			(struct topk_hit){ .doc = doc, .score = (float)all[i].score };
	}
	for (l = 0; l < nlists; l++)
		lp[l] = lists + start[l];
	if (topk_init(&fused, ndocs))
		goto nomem;
	if ((rc = fusion_fuse(&rr->opt.fusion, lp, lens, nlists, &fused, err)))
		goto out;
	best = topk_sorted(&fused);
	if (grow((void **)&rr->groups, &rr->cap_groups, rr->n_groups + 1, sizeof *rr->groups) ||
	    grow((void **)&rr->hits, &rr->cap_hits, rr->n_hits + fused.n, sizeof *rr->hits))
		goto nomem;
	g = &rr->groups[rr->n_groups++];
	g->first = rr->n_hits;
	g->n = 0;
	for (i = 0; i < fused.n; i++) {
		struct hit *h = &rr->hits[rr->n_hits];

		*h = all[first[best[i].doc]];
		h->score = best[i].score;
		rr->n_hits++;
		g->n++;
		if (rr->has_scorer && (rc = add_pair(rr, rr->fdoc, h, err)))
			goto out;
	}
	rc = close_group(rr, err);
	goto out;
nomem:
	rc = lm_fail(err, LM_ENOMEM, "out of memory");
out:
	strmap_free(&ids);
	topk_free(&fused);
	free(lists);
	free(lp);
	free(start);
	free(lens);
	free(first);
	free(last_file);
	return rc;
}

int rerank_finish(struct reranker *rr, struct lm_error *err)
{
	size_t i, j;
	int rc = 0;

	if (rr->opt.fuse) {
		qsort(rr->all, rr->n_all, sizeof *rr->all, cmp_fused);
		for (i = 0; i < rr->n_all && !rc; i = j) {
			for (j = i; j < rr->n_all && rr->all[j].group == rr->all[i].group; j++)
				;
			rc = fuse_query(rr, rr->all + i, j - i, err);
		}
	}
	if (!rc)
		rc = flush(rr, err);
	return rc;
}

/* search - query index files with NDJSON queries or a binary vector stream;
 * print ranked hits as NDJSON or TREC run lines.  The work is in
 * libcommon/index/search.c (shards, filters, dense/BM25/hybrid), filter.c
 * and fusion.c; this file reads queries in batches, checks them against
 * the index and writes the hits. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "index/idxfile.h"
#include "index/search.h"
#include "input.h"
#include "json.h"
#include "model/embedrun.h"
#include "model/encoder.h"
#include "ndjson.h"
#include "opt.h"
#include "output.h"
#include "vecstream.h"

static const char usage[] =
	"Usage: search [OPTION]... -i INDEX [QUERIES]...\n"
	"Search INDEX (several -i: shards, merged) for each query record read from\n"
	"QUERIES (NDJSON with id, text and/or embedding, or a binary vector stream;\n"
	"standard input by default) and print the hits.\n"
	"\n"
	"  -i, --index FILE     index file to search (repeat for shards)\n"
	"  -k N                 hits per query (default 10)\n"
	"      --mode MODE      dense, bm25 or hybrid (default: dense when the index\n"
	"                       has vectors and the query an embedding, else bm25)\n"
	"      --fusion F       hybrid fusion: rrf, rrf:K (default rrf:60) or alpha:A\n"
	"      --filter EXPR    only documents whose meta passes EXPR (see search(1))\n"
	"      --exact          brute-force dense search (ground truth for HNSW/IVF)\n"
	"      --ef N           HNSW candidate list size (default max(k, 64))\n"
	"      --nprobe N       IVF lists to probe (default 8)\n"
	"  -f, --format FMT     ndjson (default) or trec\n"
	"      --tag TAG        run tag of trec lines (default lmpipe)\n"
	"      --no-text        leave text and meta out of NDJSON hits\n"
	"      --skip-bad       report bad query records and go on\n"
	"  -m, --model FILE     embed the text of queries without an embedding with\n"
	"                       this GGUF encoder (the index's model)\n"
	"      --prefix STR     prepend STR to query text before embedding it\n"
	OPT_HELP_THREADS
	OPT_HELP_COMMON;

enum { OPT_MODE = OPT_LONG, OPT_FUSION, OPT_FILTER, OPT_EXACT, OPT_EF, OPT_NPROBE, OPT_TAG,
       OPT_NO_TEXT, OPT_SKIP_BAD, OPT_PREFIX };

static const struct option longopts[] = {
	{ "index", required_argument, NULL, 'i' },
	{ "model", required_argument, NULL, 'm' },
	{ "format", required_argument, NULL, 'f' },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "fusion", required_argument, NULL, OPT_FUSION },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "exact", no_argument, NULL, OPT_EXACT },
	{ "ef", required_argument, NULL, OPT_EF },
	{ "nprobe", required_argument, NULL, OPT_NPROBE },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "no-text", no_argument, NULL, OPT_NO_TEXT },
	{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ NULL, 0, NULL, 0 },
};

enum { BATCH = 256 };     /* queries per flat-search matrix product */

struct query {
	char *qid;
	char *text;               /* NULL when the record has none */
	size_t text_len;
	int has_vec;              /* its vector is batch.vecs[i * dim] */
	enum search_mode mode;
};

struct run {
	struct search_index *idx;
	struct search_options opt;
	enum search_mode mode;
	int trec, no_text, skip_bad;
	const char *tag;
	uint32_t dim;
	struct query q[BATCH];
	float *vecs;              /* BATCH * dim */
	struct topk out[BATCH];
	unsigned nq;
	uint64_t bad;
	struct json_doc *hit_doc;
	struct output *w;
	struct encoder *enc;      /* -m: embeds query text */
	const char *prefix;
};

static void free_queries(struct run *r)
{
	unsigned i;

	for (i = 0; i < r->nq; i++) {
		free(r->q[i].qid);
		free(r->q[i].text);
	}
	r->nq = 0;
}

static int write_hit(struct run *r, const struct query *q, const struct topk_hit *h,
		     unsigned rank, struct lm_error *err)
{
	struct json_doc *d = r->hit_doc;
	struct json_value *o, *mv;
	const char *id, *meta, *text;
	size_t id_len, meta_len, text_len;
	char num[32];
	int rc;

	search_doc(r->idx, h->doc, &id, &id_len, &meta, &meta_len);
	if (r->trec) {
		if (strpbrk(q->qid, " \t\n") || memchr(id, ' ', id_len) || memchr(id, '\t', id_len))
			return lm_fail(err, LM_EINVAL, "query '%s', document '%.*s': an id with "
				       "spaces cannot be written as a trec run line", q->qid,
				       (int)id_len, id);
		json_format_float(h->score, num);
		return output_printf(r->w, err, "%s Q0 %.*s %u %s %s\n", q->qid, (int)id_len, id,
				     rank, num, r->tag);
	}
	json_doc_reset(d);
	o = json_new_object(d);
	if ((rc = json_object_set(d, o, "qid", json_new_string(d, q->qid, strlen(q->qid)))) ||
	    (rc = json_object_set(d, o, "id", json_new_string(d, id, id_len))) ||
	    (rc = json_object_set(d, o, "rank", json_new_int(d, rank))) ||
	    (rc = json_object_set(d, o, "score", json_new_float(d, h->score))))
		return lm_fail(err, rc, "out of memory");
	if (q->text && (rc = json_object_set(d, o, "query", json_new_string(d, q->text, q->text_len))))
		return lm_fail(err, rc, "out of memory");
	if (!r->no_text) {
		if ((rc = search_doc_text(r->idx, h->doc, &text, &text_len, err)))
			return rc;
		if ((rc = json_object_set(d, o, "text", json_new_string(d, text, text_len))))
			return lm_fail(err, rc, "document '%.*s': text is not valid UTF-8",
				       (int)id_len, id);
		if (meta_len) {
			if ((rc = json_parse(d, meta, meta_len, &mv, err)))
				return lm_error_prefix(err, "document '%.*s': meta: ", (int)id_len, id);
			if ((rc = json_object_set(d, o, "meta", mv)))
				return lm_fail(err, rc, "out of memory");
		}
	}
	return ndjson_write(r->w, o, err);
}

/* Search the batch, dense queries together, and print it in input order. */
static int flush_batch(struct run *r, struct lm_error *err)
{
	unsigned i, j, nd = 0;
	const struct topk_hit *h;
	int rc = 0;

	for (i = 0; i < r->nq; i++)
		topk_reset(&r->out[i]);
	for (i = 0; i < r->nq; i++)
		if (r->q[i].mode == SEARCH_DENSE)
			nd++;
	if (nd) {
		struct topk dense_out[BATCH];

		for (i = 0, j = 0; i < r->nq; i++)
			if (r->q[i].mode == SEARCH_DENSE)
				dense_out[j++] = r->out[i];
		rc = search_dense_batch(r->idx, &r->opt, r->vecs, nd, dense_out, err);
		for (i = 0, j = 0; i < r->nq; i++)
			if (r->q[i].mode == SEARCH_DENSE)
				r->out[i] = dense_out[j++];
		if (rc)
			goto out;
	}
	for (i = 0, j = 0; i < r->nq; i++) {
		struct query *q = &r->q[i];

		if (q->mode == SEARCH_DENSE)
			j++;
		else if (q->mode == SEARCH_BM25)
			rc = search_bm25(r->idx, &r->opt, q->text, q->text_len, &r->out[i], err);
		else
			rc = search_hybrid(r->idx, &r->opt, r->vecs + (size_t)(j++) * r->dim,
					   q->text, q->text_len, &r->out[i], err);
		if (rc)
			goto out;
	}
	for (i = 0; i < r->nq; i++) {
		h = topk_sorted(&r->out[i]);
		for (j = 0; j < r->out[i].n; j++)
			if ((rc = write_hit(r, &r->q[i], &h[j], j + 1, err)))
				goto out;
	}
out:
	free_queries(r);
	return rc;
}

/* Check a query and add it to the batch.  LM_EINVAL for a bad query (the
 * caller may skip it), with ERR naming it. */
static int add_query(struct run *r, const char *qid, size_t qid_len, const char *text,
		     size_t text_len, const float *vec, size_t vec_dim, const char *model,
		     const char *model_hash, struct lm_error *err)
{
	struct query *q = &r->q[r->nq];
	const char *imodel = search_model_name(r->idx), *ihash = search_model_hash(r->idx);
	enum search_mode mode = r->mode;
	unsigned i, slot = 0;

	/* an embedding is used only where the index has vectors to compare */
	if (!r->dim || mode == SEARCH_BM25)
		vec = NULL;
	if (vec && vec_dim != r->dim)
		return lm_fail(err, LM_EINVAL, "query '%.*s': embedding has %zu dimensions, the "
			       "index %u", (int)qid_len, qid, vec_dim, r->dim);
	if (vec && model && *imodel && strcmp(model, imodel))
		return lm_fail(err, LM_EINVAL, "query '%.*s': embedding from model '%s', the index "
			       "was built with '%s'", (int)qid_len, qid, model, imodel);
	if (vec && model_hash && *ihash && strcmp(model_hash, ihash))
		return lm_fail(err, LM_EINVAL, "query '%.*s': embedding from model hash '%s', the "
			       "index has '%s'", (int)qid_len, qid, model_hash, ihash);
	if (mode == SEARCH_AUTO)
		mode = vec && r->dim ? SEARCH_DENSE : SEARCH_BM25;
	if (mode != SEARCH_BM25 && !vec)
		return lm_fail(err, LM_EINVAL, "query '%.*s': no embedding for %s search (give "
			       "queries an \"embedding\" field, or text and -m MODEL)", (int)qid_len,
			       qid, mode == SEARCH_DENSE ? "dense" : "hybrid");
	if (mode != SEARCH_DENSE && !text)
		return lm_fail(err, LM_EINVAL, "query '%.*s': no text for %s search", (int)qid_len,
			       qid, mode == SEARCH_BM25 ? "BM25" : "hybrid");
	if (mode == SEARCH_BM25 && !search_has_bm25(r->idx))
		return lm_fail(err, LM_EINVAL, "query '%.*s': no embedding, and the index has no "
			       "BM25 section to search the text with", (int)qid_len, qid);
	for (i = 0; i < r->nq; i++)
		slot += r->q[i].has_vec;
	memset(q, 0, sizeof *q);
	q->mode = mode;
	if (!(q->qid = strndup(qid, qid_len)) || (text && !(q->text = strndup(text, text_len))))
		goto nomem;
	q->text_len = text_len;
	if (mode != SEARCH_BM25) {
		/* one mode per run has vectors (dense or hybrid), so the vectors of
		 * a batch are those of its dense (or hybrid) queries in order */
		q->has_vec = 1;
		memcpy(r->vecs + (size_t)slot * r->dim, vec, r->dim * sizeof *vec);
	}
	r->nq++;
	return r->nq == BATCH ? flush_batch(r, err) : 0;
nomem:
	free(q->qid);
	free(q->text);
	return lm_fail(err, LM_ENOMEM, "out of memory");
}

static int read_ndjson(struct run *r, struct input *in, float *vec, struct lm_error *err)
{
	struct ndjson_reader nr;
	struct json_value *rec, *emb;
	const char *qid, *text, *model, *hash;
	size_t qid_len, text_len, n;
	int rc;

	if ((rc = ndjson_open(&nr, in, err)))
		return rc;
	while ((rc = ndjson_next(&nr, &rec, err)) != LM_EOF) {
		if (rc == LM_EFORMAT && r->skip_bad) {
			diag_lm_error(err);
			r->bad++;
			continue;
		}
		if (rc)
			break;
		qid = json_string(json_get(rec, "id"), &qid_len);
		text = ndjson_record_text(nr.doc, rec, &text_len);
		model = json_string(json_get(rec, "model"), NULL);
		hash = json_string(json_get(rec, "model_hash"), NULL);
		emb = json_get(rec, "embedding");
		n = 0;
		rc = 0;
		if (emb && json_type(emb) != JSON_ARRAY)
			rc = lm_fail(err, LM_EINVAL, "query '%.*s': embedding is not an array",
				     (int)qid_len, qid);
		else if (emb && json_array_len(emb) != r->dim)
			n = json_array_len(emb);  /* add_query reports the dimension */
		else if (emb)
			rc = json_get_float_array(emb, vec, r->dim, &n, err);
		if (!rc && !emb && text && r->enc && r->dim && r->mode != SEARCH_BM25) {
			/* the index may hold Matryoshka-cut vectors: keep its dimensions */
			rc = embedrun_text(r->enc, r->prefix, text, text_len, (int)r->dim, 1, vec, err);
			model = encoder_name(r->enc);
			hash = encoder_hash(r->enc);
			n = r->dim;
		}
		if (!rc)
			rc = add_query(r, qid, qid_len, text, text_len, emb || r->enc ? vec : NULL, n,
				       model, hash, err);
		if (rc == LM_EINVAL) {
			lm_error_prefix(err, "%s:%llu: ", in->name, (unsigned long long)nr.line);
			if (!r->skip_bad)
				break;
			diag_lm_error(err);
			r->bad++;
			rc = 0;
		}
		if (rc)
			break;
	}
	ndjson_close(&nr);
	return rc == LM_EOF ? 0 : rc;
}

static int read_vectors(struct run *r, struct input *in, float *vec, struct lm_error *err)
{
	struct vecstream_reader vr;
	struct vecstream_record rec;
	struct json_doc *d = json_doc_new();
	struct json_value *meta;
	const char *text, *model, *hash;
	size_t text_len;
	int rc;

	if (!d)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	if ((rc = vecstream_open_reader(&vr, in, err))) {
		json_doc_free(d);
		return rc;
	}
	if (vr.dim != r->dim) {
		rc = lm_fail(err, LM_EINVAL, "%s: query vectors have %u dimensions, the index %u",
			     in->name, vr.dim, r->dim);
		goto out;
	}
	while ((rc = vecstream_next(&vr, &rec, err)) == 0) {
		text = model = hash = NULL;
		text_len = 0;
		json_doc_reset(d);
		/* the record's other NDJSON fields travel in its meta */
		if (rec.meta_len) {
			if ((rc = json_parse(d, rec.meta, rec.meta_len, &meta, err))) {
				lm_error_prefix(err, "%s: record %llu: meta: ", in->name,
						(unsigned long long)rec.number);
				break;
			}
			text = ndjson_record_text(d, meta, &text_len);
			model = json_string(json_get(meta, "model"), NULL);
			hash = json_string(json_get(meta, "model_hash"), NULL);
		}
		vecstream_record_floats(&vr, &rec, vec);
		rc = add_query(r, rec.id, rec.id_len, text, text_len, vec, vr.dim, model, hash, err);
		if (rc == LM_EINVAL) {
			lm_error_prefix(err, "%s: record %llu: ", in->name,
					(unsigned long long)rec.number);
			if (!r->skip_bad)
				break;
			diag_lm_error(err);
			r->bad++;
			rc = 0;
		}
		if (rc)
			break;
	}
	if (rc == LM_EOF)
		rc = 0;
out:
	vecstream_close_reader(&vr);
	json_doc_free(d);
	return rc;
}

static int search_file(struct run *r, const char *path, float *vec, struct lm_error *err)
{
	struct input in;
	int rc;

	if (!strcmp(path, "-"))
		rc = input_from_fd(&in, STDIN_FILENO, "<stdin>", err);
	else
		rc = input_open(&in, path, err);
	if (rc)
		return rc;
	rc = vecstream_sniff(&in, err);
	if (rc == 1 && !r->dim)
		rc = lm_fail(err, LM_EINVAL, "%s: a vector stream, but the index has no vectors",
			     path);
	else if (rc == 1)
		rc = read_vectors(r, &in, vec, err);
	else if (rc == 0)
		rc = read_ndjson(r, &in, vec, err);
	input_close(&in);
	return rc;
}

int main(int argc, char **argv)
{
	static struct run r;
	struct opt_parser op;
	struct lm_error err = { 0 };
	struct output w;
	struct filter *filter = NULL;
	const char **paths = NULL;
	const char *filter_expr = NULL, *model = NULL, *stdin_only[] = { "-" };
	float *vec = NULL;
	unsigned npaths = 0, i;
	int c, rc = 0, nfiles;
	char **files;

	r.opt.k = 10;
	r.tag = "lmpipe";
	fusion_parse("rrf", &r.opt.fusion, &err);
	opt_init(&op, argc, argv, usage, OPT_THREADS);
	if (!(paths = calloc((size_t)argc, sizeof *paths)))
		diag_die(EXIT_DATA, "out of memory");
	while ((c = opt_next(&op, "i:k:m:f:", longopts)) != -1) {
		switch (c) {
		case 'i':
			paths[npaths++] = optarg;
			break;
		case 'k':
			r.opt.k = (uint32_t)opt_int("-k", optarg, 1, 1 << 24);
			break;
		case 'm':
			model = optarg;
			break;
		case OPT_PREFIX:
			r.prefix = optarg;
			break;
		case 'f': {
			static const char *const fmts[] = { "ndjson", "trec", NULL };

			r.trec = opt_choice("-f", optarg, fmts) == 1;
			break;
		}
		case OPT_MODE: {
			static const char *const modes[] = { "dense", "bm25", "hybrid", NULL };

			r.mode = (enum search_mode)(SEARCH_DENSE + opt_choice("--mode", optarg, modes));
			break;
		}
		case OPT_FUSION:
			if (fusion_parse(optarg, &r.opt.fusion, &err))
				opt_usage_error("--fusion: %s", err.msg);
			break;
		case OPT_FILTER:
			filter_expr = optarg;
			break;
		case OPT_EXACT:
			r.opt.exact = 1;
			break;
		case OPT_EF:
			r.opt.ef = (uint32_t)opt_int("--ef", optarg, 1, 1 << 24);
			break;
		case OPT_NPROBE:
			r.opt.nprobe = (uint32_t)opt_int("--nprobe", optarg, 1, 1 << 24);
			break;
		case OPT_TAG:
			if (!*optarg || strpbrk(optarg, " \t\n"))
				opt_usage_error("--tag: a run tag is one word");
			r.tag = optarg;
			break;
		case OPT_NO_TEXT:
			r.no_text = 1;
			break;
		case OPT_SKIP_BAD:
			r.skip_bad = 1;
			break;
		}
	}
	if (!npaths)
		opt_usage_error("missing -i INDEX");
	if (filter_expr && filter_compile(filter_expr, &filter, &err))
		opt_usage_error("--filter: %s", err.msg);

	if ((rc = search_open(&r.idx, paths, npaths, &err)) ||
	    (rc = search_set_filter(r.idx, filter, &err)))
		goto out;
	r.dim = search_dim(r.idx);
	if ((r.mode == SEARCH_DENSE || r.mode == SEARCH_HYBRID) && !r.dim) {
		rc = lm_fail(&err, LM_EINVAL, "%s has no vectors for --mode %s", paths[0],
			     r.mode == SEARCH_DENSE ? "dense" : "hybrid");
		goto out;
	}
	if ((r.mode == SEARCH_BM25 || r.mode == SEARCH_HYBRID) && !search_has_bm25(r.idx)) {
		rc = lm_fail(&err, LM_EINVAL, "%s has no BM25 section for --mode %s", paths[0],
			     r.mode == SEARCH_BM25 ? "bm25" : "hybrid");
		goto out;
	}
	if (model) {
		struct encoder_params ep = { .n_threads = op.threads, .pooling = -1 };

		if ((rc = encoder_open(&r.enc, model, &ep, &err)))
			goto out;
		if (r.dim && (uint32_t)encoder_n_out(r.enc) < r.dim) {
			rc = lm_fail(&err, LM_EINVAL, "%s makes %d-dimensional vectors, the index holds %u",
				     model, encoder_n_out(r.enc), r.dim);
			goto out;
		}
	}
	if (!(r.hit_doc = json_doc_new()) ||
	    !(r.vecs = malloc(((size_t)BATCH * r.dim + 1) * sizeof *r.vecs)) ||
	    !(vec = malloc(((size_t)r.dim + 1) * sizeof *vec))) {
		rc = lm_fail(&err, LM_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < BATCH; i++)
		if (topk_init(&r.out[i], r.opt.k)) {
			rc = lm_fail(&err, LM_ENOMEM, "out of memory");
			goto out;
		}
	if ((rc = output_from_fd(&w, STDOUT_FILENO, "<stdout>", &err)))
		goto out;
	r.w = &w;
	files = optind < argc ? argv + optind : (char **)stdin_only;
	nfiles = optind < argc ? argc - optind : 1;
	for (c = 0; c < nfiles && !rc; c++)
		rc = search_file(&r, files[c], vec, &err);
	if (!rc)
		rc = flush_batch(&r, &err);
	/* hits written before an error still go out */
	c = output_close(&w, rc ? NULL : &err);
	if (!rc)
		rc = c;
	if (r.bad)
		diag_warn("%llu bad query record%s skipped", (unsigned long long)r.bad,
			  r.bad == 1 ? "" : "s");
out:
	free_queries(&r);
	for (i = 0; i < BATCH; i++)
		topk_free(&r.out[i]);
	json_doc_free(r.hit_doc);
	free(r.vecs);
	free(vec);
	filter_free(filter);
	encoder_close(r.enc);
	search_close(r.idx);
	free(paths);
	if (rc)
		diag_fail(&err);
	diag_close_stdout();
	return EXIT_OK;
}

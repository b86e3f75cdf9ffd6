/* rerank - re-rank search hits per query with a cross-encoder, MMR,
 * reciprocal rank fusion of several runs, or edge ordering.  The work is
 * in libcommon/model/rerank.c; the model in libcommon/model/encoder.c. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "gguf.h"
#include "index/fusion.h"
#include "input.h"
#include "model/encoder.h"
#include "model/rerank.h"
#include "opt.h"
#include "output.h"

static const char usage[] =
	"Usage: rerank [OPTION]... [HITS]...\n"
	"Re-rank the hits of each query (NDJSON from search: qid, id, score, query,\n"
	"text) and print them best first, rank renumbered.  With no HITS, or when\n"
	"HITS is -, read standard input; several HITS read as one stream, or are\n"
	"merged per query with --fuse.\n"
	"\n"
	"  -m, --model FILE       cross-encoder GGUF (a classification head) that\n"
	"                         scores each (query, text) pair\n"
	"  -k N                   keep the best N hits per query (default: all)\n"
	"      --sigmoid          scores through 1 / (1 + exp(-logit))\n"
	"      --mmr LAMBDA       maximal marginal relevance over the hits'\n"
	"                         embeddings, LAMBDA in [0, 1] (1: relevance only)\n"
	"      --fuse F           merge the HITS streams per query: rrf, rrf:K\n"
	"                         (default K 60) or alpha:A (two streams)\n"
	"      --order ORDER      ranked (default) or edges: best first, second\n"
	"                         best last, third second... (rank keeps the ranking)\n"
	"      --batch-tokens N   tokens per model call (default 8192)\n"
	"      --skip-bad         report bad hit records and go on\n"
	OPT_HELP_THREADS OPT_HELP_COMMON;

enum { OPT_SIGMOID = OPT_LONG, OPT_MMR, OPT_FUSE, OPT_ORDER, OPT_BATCH_TOKENS, OPT_SKIP_BAD };

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "sigmoid", no_argument, NULL, OPT_SIGMOID },
	{ "mmr", required_argument, NULL, OPT_MMR },
	{ "fuse", required_argument, NULL, OPT_FUSE },
	{ "order", required_argument, NULL, OPT_ORDER },
	{ "batch-tokens", required_argument, NULL, OPT_BATCH_TOKENS },
	{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
	{ NULL, 0, NULL, 0 },
};

static int run_encoder(void *arg, const struct encoder_seq *seqs, int n_seq, float *out,
		       struct lm_error *err)
{
	return encoder_run(arg, seqs, n_seq, out, err);
}

/* llama.cpp's rank pooling reads cls.output (LLM_TENSOR_CLS_OUT): a model
 * without it embeds, it does not score pairs. */
static int open_model(struct encoder **enc, const char *path, int threads, struct lm_error *err)
{
	struct encoder_params p = { .n_threads = threads, .pooling = ENCODER_POOL_RANK };
	struct gguf_file *f;
	int head, rc;

	if ((rc = gguf_open(path, &f, err)))
		return rc;
	head = gguf_find_tensor(f, "cls.output.weight") != NULL;
	gguf_close(f);
	if (!head)
		return lm_fail(err, LM_EINVAL, "%s: no classification head (tensor "
			       "cls.output.weight): an embedding model, not a reranker; use "
			       "embed with it", path);
	if ((rc = encoder_open(enc, path, &p, err)))
		return rc;
	if (encoder_pooling(*enc) != ENCODER_POOL_RANK || encoder_n_out(*enc) < 1) {
		encoder_close(*enc);
		*enc = NULL;
		return lm_fail(err, LM_EINVAL, "%s: the model does not score with rank pooling: "
			       "not a reranker", path);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opt_parser op;
	struct rerank_options opt = { .report = diag_skipped };
	struct rerank_scorer sc = { 0 };
	struct lm_error err = { 0 };
	struct encoder *enc = NULL;
	struct reranker *rr = NULL;
	const struct rerank_stats *st;
	struct output out;
	const char *model = NULL;
	int c, i, rc, nfiles, have_out = 0;

	opt_init(&op, argc, argv, usage, OPT_THREADS);
	while ((c = opt_next(&op, "m:k:", longopts)) != -1) {
		switch (c) {
		case 'm':
			model = optarg;
			break;
		case 'k':
			opt.k = (size_t)opt_int("-k", optarg, 1, INT_MAX);
			break;
		case OPT_SIGMOID:
			opt.sigmoid = 1;
			break;
		case OPT_MMR:
			opt.mmr = 1;
			opt.mmr_lambda = opt_float("--mmr", optarg, 0, 1);
			break;
		case OPT_FUSE:
			if (fusion_parse(optarg, &opt.fusion, &err))
				opt_usage_error("--fuse: %s", err.msg);
			opt.fuse = 1;
			break;
		case OPT_ORDER: {
			static const char *const orders[] = { "ranked", "edges", NULL };

			opt.order_edges = opt_choice("--order", optarg, orders) == 1;
			break;
		}
		case OPT_BATCH_TOKENS:
			opt.batch_tokens = (size_t)opt_int("--batch-tokens", optarg, 1, INT_MAX);
			break;
		case OPT_SKIP_BAD:
			opt.skip_bad = 1;
			break;
		}
	}
	nfiles = argc - optind;
	if (opt.sigmoid && !model)
		opt_usage_error("--sigmoid needs -m MODEL");
	if (opt.fuse && opt.fusion.method == FUSION_ALPHA && nfiles != 2)
		opt_usage_error("--fuse alpha:A merges two hit streams, got %d", nfiles);

	if (model) {
		if ((rc = open_model(&enc, model, op.threads, &err)))
			goto out;
		sc = (struct rerank_scorer){
			.tok = encoder_tokenizer(enc),
			.n_ctx = encoder_n_ctx(enc),
			.n_types = encoder_n_token_types(enc),
			.n_out = encoder_n_out(enc),
			.run = run_encoder,
			.arg = enc,
		};
	}
	if ((rc = output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err)))
		goto out;
	have_out = 1;
	if ((rc = rerank_new(&rr, &opt, model ? &sc : NULL, &out, &err)))
		goto out;
	for (i = optind; i < argc || i == optind; i++) {
		struct input in;

		if ((rc = input_open(&in, i < argc ? argv[i] : "-", &err)))
			goto out;
		rc = rerank_read(rr, &in, &err);
		input_close(&in);
		if (rc)
			goto out;
	}
	rc = rerank_finish(rr, &err);
out:
	/* queries written before an error still go out */
	if (have_out) {
		c = output_close(&out, rc ? NULL : &err);
		if (!rc)
			rc = c;
	}
	if (rr) {
		st = rerank_get_stats(rr);
		if (st->truncated)
			diag_warn("%llu pair%s longer than the model's %d tokens: text cut",
				  (unsigned long long)st->truncated, st->truncated == 1 ? "" : "s",
				  encoder_n_ctx(enc));
		diag_info("%llu quer%s, %llu hits written, %llu pairs scored in %llu model calls",
			  (unsigned long long)st->queries, st->queries == 1 ? "y" : "ies",
			  (unsigned long long)st->hits,
			  (unsigned long long)st->pairs, (unsigned long long)st->scorer_calls);
		if (st->bad)
			diag_warn("%llu bad hit record%s skipped", (unsigned long long)st->bad,
				  st->bad == 1 ? "" : "s");
	}
	rerank_free(rr);
	if (enc)
		encoder_close(enc);
	if (rc)
		diag_fail(&err);
	diag_close_stdout();
	return EXIT_OK;
}

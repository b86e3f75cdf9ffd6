/* embed - sentence embeddings from GGUF encoder models (BERT family).
 * The model runs in libcommon/model/encoder.c, the record loop in
 * embedrun.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "input.h"
#include "model/embedrun.h"
#include "model/encoder.h"
#include "opt.h"
#include "output.h"
#include "tokenize/tokenizer.h"

static const char usage[] =
	"Usage: embed [OPTION]... -m MODEL [FILE]...\n"
	"Add an \"embedding\" to each record (NDJSON or plain text lines), computed by\n"
	"the GGUF encoder MODEL from the record's text or tokens.  With no FILE, or\n"
	"when FILE is -, read standard input.\n"
	"\n"
	"  -m, --model FILE       GGUF encoder (bert, nomic-bert)\n"
	"      --pooling P        mean, cls or last (default: the model's)\n"
	"      --no-normalize     do not scale vectors to unit length\n"
	"      --dims N           keep the first N dimensions (Matryoshka), then normalise\n"
	"      --prefix STR       prepend STR to every text (e.g. \"query: \")\n"
	"  -f, --format F         json (default) or bin (the binary vector stream)\n"
	"      --dtype T          element type of -f bin: f32 (default) or f16\n"
	"      --batch-tokens N   tokens per model batch (default 8192)\n"
	"      --skip-bad         report bad records and go on (exit status 1 at the end)\n"
	"      --dump-layers DIR  write every layer's output as DIR/rI_lNN.npy (debugging)\n"
	OPT_HELP_THREADS OPT_HELP_COMMON;

enum {
	OPT_POOLING = OPT_LONG,
	OPT_NO_NORMALIZE,
	OPT_DIMS,
	OPT_PREFIX,
	OPT_DTYPE,
	OPT_BATCH_TOKENS,
	OPT_SKIP_BAD,
	OPT_DUMP_LAYERS,
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "pooling", required_argument, NULL, OPT_POOLING },
	{ "no-normalize", no_argument, NULL, OPT_NO_NORMALIZE },
	{ "dims", required_argument, NULL, OPT_DIMS },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "format", required_argument, NULL, 'f' },
	{ "dtype", required_argument, NULL, OPT_DTYPE },
	{ "batch-tokens", required_argument, NULL, OPT_BATCH_TOKENS },
	{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
	{ "dump-layers", required_argument, NULL, OPT_DUMP_LAYERS },
	{ NULL, 0, NULL, 0 },
};

static const char *const pooling_names[] = { "none", "mean", "cls", "last", NULL };
static const char *const format_names[] = { "json", "bin", NULL };
static const char *const dtype_names[] = { "f32", "f16", NULL };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	struct opt_parser op;
	struct encoder_params params = { .pooling = -1 };
	struct embedrun_config cfg = { .normalize = 1, .batch_tokens = 8192, .dtype = VECSTREAM_F32,
				       .report_bad = diag_skipped };
	struct embedrun_stats st = { 0 };
	struct lm_error err = { 0 };
	struct encoder *enc = NULL;
	struct output out;
	const char *model = NULL;
	int c, n_ctx, rc = LM_OK;
	double t0, secs;

	opt_init(&op, argc, argv, usage, OPT_THREADS);
	while ((c = opt_next(&op, "m:f:", longopts)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'f': cfg.binary = opt_choice("--format", optarg, format_names); break;
		case OPT_POOLING: params.pooling = opt_choice("--pooling", optarg, pooling_names); break;
		case OPT_NO_NORMALIZE: cfg.normalize = 0; break;
		case OPT_DIMS: cfg.dims = (int)opt_int("--dims", optarg, 1, INT_MAX); break;
		case OPT_PREFIX: cfg.prefix = optarg; break;
		case OPT_DTYPE:
			cfg.dtype = opt_choice("--dtype", optarg, dtype_names) ? VECSTREAM_F16 : VECSTREAM_F32;
			break;
		case OPT_BATCH_TOKENS:
			cfg.batch_tokens = (size_t)opt_int("--batch-tokens", optarg, 1, 1 << 24);
			break;
		case OPT_SKIP_BAD: cfg.skip_bad = 1; break;
		case OPT_DUMP_LAYERS: params.dump_dir = optarg; break;
		}
	}
	if (!model)
		opt_usage_error("missing -m MODEL");
	params.n_threads = op.threads;

	t0 = now();
	if (encoder_open(&enc, model, &params, &err))
		diag_fail(&err);
	if (encoder_pooling(enc) == ENCODER_POOL_RANK) {
		encoder_close(enc);
		opt_usage_error("%s is a reranker (rank pooling): use rerank, or --pooling cls|mean", model);
	}
	if (cfg.dims > encoder_n_out(enc))
		opt_usage_error("--dims %d is more than the model's %d dimensions", cfg.dims,
				encoder_n_out(enc));
	diag_verbose("loaded %s in %.1f ms: %s %s, %d dims, context %d", model, (now() - t0) * 1e3,
		     encoder_name(enc), encoder_hash(enc), encoder_n_embd(enc), encoder_n_ctx(enc));
	n_ctx = encoder_n_ctx(enc);
	if (output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err))
		diag_fail(&err);

	t0 = now();
	for (int i = optind; i < argc || i == optind; i++) {
		struct input in;

		if ((rc = input_open(&in, i < argc ? argv[i] : "-", &err)))
			break;
		rc = embedrun_run(enc, &cfg, &in, &out, &st, &err);
		input_close(&in);
		if (rc)
			break;
	}
	if (!rc)
		rc = output_flush(&out, &err);
	secs = now() - t0;
	output_close(&out, NULL);
	encoder_close(enc);
	if (rc)
		diag_fail(&err);
	diag_info("%llu records, %llu tokens in %.2f s (%.0f tokens/s)", (unsigned long long)st.records,
		  (unsigned long long)st.tokens, secs, secs > 0 ? st.tokens / secs : 0.0);
	if (st.truncated)
		diag_warn("%llu of %llu records were longer than the model's context and were cut to "
			  "%d tokens", (unsigned long long)st.truncated, (unsigned long long)st.records,
			  n_ctx);
	if (st.bad)
		diag_error("%llu bad record%s skipped", (unsigned long long)st.bad, st.bad == 1 ? "" : "s");
	diag_close_stdout();
	return st.bad ? EXIT_DATA : EXIT_OK;
}

/* tok - text to token ids and back, for GGUF vocabularies, Hugging Face
 * tokenizer.json files and tiktoken rank files.  The tokenizers are in
 * libcommon/tokenize/ (tokenizer.h), the record loop in tokrun.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "input.h"
#include "opt.h"
#include "output.h"
#include "threadpool.h"
#include "tokenize/tokenizer.h"
#include "tokenize/tokrun.h"

static const char usage[] =
	"Usage: tok [OPTION]... -m MODEL [FILE]...\n"
	"Turn the text of each record (NDJSON or plain text lines) into token ids,\n"
	"count them, cut texts into chunks, or turn ids back into text.  With no\n"
	"FILE, or when FILE is -, read standard input.\n"
	"\n"
	"  -m, --model FILE      tokenizer: GGUF, tokenizer.json or .tiktoken\n"
	"  -c, --count           add only \"n_tokens\"\n"
	"  -d, --decode          read \"tokens\", add \"text\"\n"
	"      --chunk N         split texts into chunks of at most N tokens\n"
	"      --overlap M       chunks share M tokens with the one before (default 0)\n"
	"      --raw             the whole input is one text (with --decode: ids\n"
	"                        separated by white space in, text out)\n"
	"      --no-special      do not add BOS/EOS/CLS/SEP\n"
	"      --parse-special   turn special-token text such as <|endoftext|> into\n"
	"                        its id (else it is encoded as plain text)\n"
	"      --skip-bad        report bad records and go on (exit status 1 at the end)\n"
	OPT_HELP_THREADS OPT_HELP_COMMON;

enum {
	OPT_CHUNK = OPT_LONG,
	OPT_OVERLAP,
	OPT_RAW,
	OPT_NO_SPECIAL,
	OPT_PARSE_SPECIAL,
	OPT_SKIP_BAD,
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "count", no_argument, NULL, 'c' },
	{ "decode", no_argument, NULL, 'd' },
	{ "chunk", required_argument, NULL, OPT_CHUNK },
	{ "overlap", required_argument, NULL, OPT_OVERLAP },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "no-special", no_argument, NULL, OPT_NO_SPECIAL },
	{ "parse-special", no_argument, NULL, OPT_PARSE_SPECIAL },
	{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
	{ NULL, 0, NULL, 0 },
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	struct opt_parser op;
	struct tokrun_config cfg = { .mode = TOKRUN_ENCODE, .flags = TOK_ADD_SPECIAL,
				     .report_bad = diag_skipped };
	struct tokrun_stats st = { 0 };
	struct lm_error err = { 0 };
	struct tokenizer *tok = NULL;
	struct threadpool *pool = NULL;
	struct output out;
	const char *model = NULL;
	int modes = 0, have_overlap = 0, i, c, rc;
	double t0, secs;

	opt_init(&op, argc, argv, usage, OPT_THREADS);
	while ((c = opt_next(&op, "m:cd", longopts)) != -1) {
		switch (c) {
		case 'm':
			model = optarg;
			break;
		case 'c':
			cfg.mode = TOKRUN_COUNT;
			modes++;
			break;
		case 'd':
			cfg.mode = TOKRUN_DECODE;
			modes++;
			break;
		case OPT_CHUNK:
			cfg.mode = TOKRUN_CHUNK;
			cfg.chunk_tokens = (size_t)opt_int("--chunk", optarg, 1, INT_MAX);
			modes++;
			break;
		case OPT_OVERLAP:
			cfg.chunk_overlap = (size_t)opt_int("--overlap", optarg, 0, INT_MAX);
			have_overlap = 1;
			break;
		case OPT_RAW:
			cfg.raw = 1;
			break;
		case OPT_NO_SPECIAL:
			cfg.flags &= ~(unsigned)TOK_ADD_SPECIAL;
			break;
		case OPT_PARSE_SPECIAL:
			cfg.flags |= TOK_PARSE_SPECIAL;
			break;
		case OPT_SKIP_BAD:
			cfg.skip_bad = 1;
			break;
		}
	}
	if (!model)
		opt_usage_error("missing -m MODEL");
	if (modes > 1)
		opt_usage_error("--count, --decode and --chunk exclude each other");
	if (have_overlap && cfg.mode != TOKRUN_CHUNK)
		opt_usage_error("--overlap needs --chunk N");
	if (cfg.mode == TOKRUN_CHUNK && cfg.chunk_overlap >= cfg.chunk_tokens)
		opt_usage_error("--overlap %zu must be smaller than --chunk %zu", cfg.chunk_overlap,
				cfg.chunk_tokens);

	t0 = now();
	if (tokenizer_load(&tok, model, &err))
		diag_fail(&err);
	diag_verbose("loaded %s in %.1f ms: %s", model, (now() - t0) * 1e3, tokenizer_name(tok));
	if (op.threads > 1 && !cfg.raw && !(pool = threadpool_new(op.threads, &err)))
		diag_fail(&err);
	if (output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err))
		diag_fail(&err);

	t0 = now();
	rc = LM_OK;
	for (i = optind; i < argc || i == optind; i++) {
		const char *path = i < argc ? argv[i] : "-";
		struct input in;

		if ((rc = input_open(&in, path, &err)))
			break;
		rc = tokrun_run(tok, &cfg, pool, &in, &out, &st, &err);
		input_close(&in);
		if (rc)
			break;
	}
	if (!rc)
		rc = output_flush(&out, &err);
	secs = now() - t0;
	if (rc) {
		output_close(&out, NULL);
		threadpool_free(pool);
		tokenizer_free(tok);
		diag_fail(&err);
	}
	output_close(&out, NULL);
	diag_info("%llu records, %llu %s, %llu tokens, %.1f MB of text in %.2f s (%.1f MB/s)",
		  (unsigned long long)st.records, (unsigned long long)st.outputs,
		  cfg.mode == TOKRUN_CHUNK ? "chunks" : "written", (unsigned long long)st.tokens,
		  st.bytes / 1e6, secs, secs > 0 ? st.bytes / 1e6 / secs : 0.0);
	if (st.bad)
		diag_error("%llu bad record%s skipped", (unsigned long long)st.bad,
			   st.bad == 1 ? "" : "s");
	threadpool_free(pool);
	tokenizer_free(tok);
	diag_close_stdout();
	return st.bad ? EXIT_DATA : EXIT_OK;
}

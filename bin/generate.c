/* generate - text generation from GGUF decoder models (llama, qwen2,
 * qwen3).  The model runs in libcommon/model/decoder.c, sampling in
 * sample.c, the record loop in genrun.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "input.h"
#include "model/decoder.h"
#include "model/genrun.h"
#include "opt.h"
#include "output.h"

static const char usage[] =
	"Usage: generate [OPTION]... -m MODEL [-p PROMPT | FILE...]\n"
	"Continue PROMPT, or the \"prompt\" (or \"tokens\", or text) of each record of the\n"
	"FILEs (NDJSON or plain text lines; standard input when none or -), with the\n"
	"GGUF decoder MODEL.  On a terminal the text is streamed; otherwise each record\n"
	"is written back with \"text\", \"finish_reason\", \"usage\" and \"timings\".\n"
	"\n"
	"  -m, --model FILE          GGUF decoder (llama, qwen2, qwen3)\n"
	"  -p, --prompt TEXT         generate for this one prompt\n"
	"  -n, --max-tokens N        tokens to generate at most (default 256; -1: until\n"
	"                            the context is full)\n"
	"      --temp T              temperature (default 0.8; 0: greedy)\n"
	"      --top-k K             keep the K most likely tokens (default 40; 0: off)\n"
	"      --top-p P             keep the most likely tokens up to probability P\n"
	"                            (default 0.95; 1: off)\n"
	"      --min-p P             drop tokens less likely than P times the best\n"
	"                            (default 0.05; 0: off)\n"
	"      --repeat-penalty X    penalise recent tokens (default 1: off)\n"
	"      --repeat-last-n N     tokens the penalty looks back over (default 64)\n"
	"      --seed S              sampling seed (default: random)\n"
	"      --stop STR            stop when STR is generated (repeatable)\n"
	"  -c, --ctx-size N          context length (default: the model's, at most 4096)\n"
	"      --batch-size N        prompt tokens per forward pass (default 512)\n"
	"      --kv-type T           KV cache type: f16 (default) or f32\n"
	"  -f, --format F            text (stream; default on a terminal) or json\n"
	"      --ids                 add \"completion_ids\", the generated token ids\n"
	"      --skip-bad            report bad records and go on (exit status 1 at the end)\n"
	"      --dump-logits DIR     write each prompt's logits as DIR/rI_logits.npy\n"
	OPT_HELP_THREADS OPT_HELP_COMMON;

enum {
	OPT_TEMP = OPT_LONG,
	OPT_TOP_K,
	OPT_TOP_P,
	OPT_MIN_P,
	OPT_REPEAT_PENALTY,
	OPT_REPEAT_LAST_N,
	OPT_SEED,
	OPT_STOP,
	OPT_BATCH,
	OPT_KV_TYPE,
	OPT_IDS,
	OPT_SKIP_BAD,
	OPT_DUMP_LOGITS,
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "prompt", required_argument, NULL, 'p' },
	{ "max-tokens", required_argument, NULL, 'n' },
	{ "temp", required_argument, NULL, OPT_TEMP },
	{ "top-k", required_argument, NULL, OPT_TOP_K },
	{ "top-p", required_argument, NULL, OPT_TOP_P },
	{ "min-p", required_argument, NULL, OPT_MIN_P },
	{ "repeat-penalty", required_argument, NULL, OPT_REPEAT_PENALTY },
	{ "repeat-last-n", required_argument, NULL, OPT_REPEAT_LAST_N },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "stop", required_argument, NULL, OPT_STOP },
	{ "ctx-size", required_argument, NULL, 'c' },
	{ "batch-size", required_argument, NULL, OPT_BATCH },
	{ "kv-type", required_argument, NULL, OPT_KV_TYPE },
	{ "format", required_argument, NULL, 'f' },
	{ "ids", no_argument, NULL, OPT_IDS },
	{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
	{ "dump-logits", required_argument, NULL, OPT_DUMP_LOGITS },
	{ NULL, 0, NULL, 0 },
};

static const char *const format_names[] = { "text", "json", NULL };
static const char *const kv_names[] = { "f16", "f32", NULL };

enum { MAX_STOPS = 64 };

static void report_bad(const struct lm_error *err, void *arg)
{
	(void)arg;
	diag_error("%s (skipped)", err->msg);
}

int main(int argc, char **argv)
{
	struct opt_parser op;
	struct decoder_params params = { 0 };
	struct genrun_config cfg = { .n_predict = 256, .report_bad = report_bad };
	struct genrun_stats st = { 0 };
	struct lm_error err = { 0 };
	struct decoder *dec = NULL;
	struct output out;
	const char *model = NULL, *prompt = NULL, *stops[MAX_STOPS];
	int c, format = -1, seeded = 0, rc = LM_OK;

	sample_params_default(&cfg.sample);
	cfg.stops = stops;
	opt_init(&op, argc, argv, usage, OPT_THREADS);
	while ((c = opt_next(&op, "m:p:n:c:f:", longopts)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'p': prompt = optarg; break;
		case 'n': cfg.n_predict = (int)opt_int("-n", optarg, -1, INT_MAX); break;
		case 'c': params.n_ctx = (int)opt_int("-c", optarg, 1, 1 << 24); break;
		case 'f': format = opt_choice("--format", optarg, format_names); break;
		case OPT_TEMP: cfg.sample.temp = (float)opt_float("--temp", optarg, 0, 1e6); break;
		case OPT_TOP_K: cfg.sample.top_k = (int)opt_int("--top-k", optarg, 0, INT_MAX); break;
		case OPT_TOP_P: cfg.sample.top_p = (float)opt_float("--top-p", optarg, 0, 1); break;
		case OPT_MIN_P: cfg.sample.min_p = (float)opt_float("--min-p", optarg, 0, 1); break;
		case OPT_REPEAT_PENALTY:
			cfg.sample.repeat_penalty = (float)opt_float("--repeat-penalty", optarg, 1e-6, 1e6);
			break;
		case OPT_REPEAT_LAST_N:
			cfg.sample.repeat_last_n = (int)opt_int("--repeat-last-n", optarg, 0, 1 << 20);
			break;
		case OPT_SEED:
			cfg.sample.seed = (uint64_t)opt_int("--seed", optarg, 0, LLONG_MAX);
			seeded = 1;
			break;
		case OPT_STOP:
			if (cfg.n_stops == MAX_STOPS)
				opt_usage_error("at most %d --stop strings", MAX_STOPS);
			if (!*optarg)
				opt_usage_error("--stop needs a non-empty string");
			stops[cfg.n_stops++] = optarg;
			break;
		case OPT_BATCH: params.n_batch = (int)opt_int("--batch-size", optarg, 1, 1 << 16); break;
		case OPT_KV_TYPE: params.kv_f32 = opt_choice("--kv-type", optarg, kv_names); break;
		case OPT_IDS: cfg.ids = 1; break;
		case OPT_SKIP_BAD: cfg.skip_bad = 1; break;
		case OPT_DUMP_LOGITS: cfg.dump_logits = optarg; break;
		}
	}
	if (!model)
		opt_usage_error("missing -m MODEL");
	if (prompt && optind < argc)
		opt_usage_error("give -p PROMPT or input files, not both");
	params.n_threads = op.threads;
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cfg.sample.seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
				  ((uint64_t)getpid() << 32);
	}
	cfg.stream = format < 0 ? isatty(STDOUT_FILENO) : format == 0;

	if (decoder_open(&dec, model, &params, &err))
		diag_fail(&err);
	diag_info("%s: %s, context %d, KV cache %.1f MiB (%s)", model, decoder_arch(dec), decoder_n_ctx(dec),
		  (double)decoder_kv_bytes(dec) / (1 << 20), params.kv_f32 ? "f32" : "f16");
	if (output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err))
		diag_fail(&err);
	if (prompt) {
		rc = genrun_prompt(dec, &cfg, prompt, &out, &st, &err);
	} else {
		for (int i = optind; i < argc || i == optind; i++) {
			struct input in;

			if ((rc = input_open(&in, i < argc ? argv[i] : "-", &err)))
				break;
			rc = genrun_run(dec, &cfg, &in, &out, &st, &err);
			input_close(&in);
			if (rc)
				break;
		}
	}
	if (!rc)
		rc = output_flush(&out, &err);
	output_close(&out, NULL);
	decoder_close(dec);
	if (rc)
		diag_fail(&err);
	diag_info("%llu records: %llu prompt tokens (%llu from the cache) in %.2f s, %llu generated in %.2f s",
		  (unsigned long long)st.records, (unsigned long long)st.prompt_tokens,
		  (unsigned long long)st.reused_tokens, st.prefill_s, (unsigned long long)st.completion_tokens,
		  st.decode_s);
	if (st.bad)
		diag_error("%llu bad record%s skipped", (unsigned long long)st.bad, st.bad == 1 ? "" : "s");
	diag_close_stdout();
	return st.bad ? EXIT_DATA : EXIT_OK;
}

/* generate - text generation from GGUF decoder models (llama, qwen2,
 * qwen3).  The model runs in libcommon/model/decoder.c, sampling in
 * sample.c, the record loop in genrun.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "gguf.h"
#include "input.h"
#include "model/chat.h"
#include "model/decoder.h"
#include "model/genrun.h"
#include "model/grammar.h"
#include "model/jsonschema.h"
#include "opt.h"
#include "output.h"

static const char usage[] =
	"Usage: generate [OPTION]... -m MODEL [-p PROMPT | FILE...]\n"
	"Continue PROMPT, or the chat \"messages\" (or \"prompt\", \"tokens\", text) of\n"
	"each record of the FILEs (NDJSON or plain text lines; standard input when none\n"
	"or -), with the GGUF decoder MODEL.  On a terminal the text is streamed;\n"
	"otherwise each record is written back with \"text\", \"finish_reason\",\n"
	"\"usage\" and \"timings\".  With --rag the input is search hits, and each query\n"
	"is answered from its hits as numbered passages.\n"
	"\n"
	"  -m, --model FILE          GGUF decoder (llama, qwen2, qwen3)\n"
	"  -p, --prompt TEXT         generate for this one prompt\n"
	"      --chat                apply the chat template: a prompt or text is a\n"
	"                            user message (\"messages\" always are a chat)\n"
	"      --chat-template NAME  a built-in template instead of the model's\n"
	"                            tokenizer.chat_template (llama2, llama3, chatml,\n"
	"                            qwen, mistral, phi3, gemma); implies --chat\n"
	"      --system TEXT         system message put first; implies --chat\n"
	"      --rag                 answer the queries of search/rerank hits (grouped\n"
	"                            by qid) from their passages, with citations\n"
	"      --rag-budget N        tokens of passages at most (default: what the\n"
	"                            context leaves after the answer and the question)\n"
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
	"      --grammar FILE        constrain the text to a GBNF grammar (root rule\n"
	"                            \"root\")\n"
	"      --json-schema FILE    constrain the text to JSON valid under the schema\n"
	"  -c, --ctx-size N          context length (default: the model's, at most 4096)\n"
	"      --batch-size N        prompt tokens per forward pass (default 512)\n"
	"      --kv-type T           KV cache type: f16 (default) or f32\n"
	"  -f, --format F            text (stream; default on a terminal) or json\n"
	"      --ids                 add \"prompt_ids\" and \"completion_ids\"\n"
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
	OPT_CHAT,
	OPT_CHAT_TEMPLATE,
	OPT_SYSTEM,
	OPT_RAG,
	OPT_RAG_BUDGET,
	OPT_GRAMMAR,
	OPT_JSON_SCHEMA,
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
	{ "chat", no_argument, NULL, OPT_CHAT },
	{ "chat-template", required_argument, NULL, OPT_CHAT_TEMPLATE },
	{ "system", required_argument, NULL, OPT_SYSTEM },
	{ "rag", no_argument, NULL, OPT_RAG },
	{ "rag-budget", required_argument, NULL, OPT_RAG_BUDGET },
	{ "grammar", required_argument, NULL, OPT_GRAMMAR },
	{ "json-schema", required_argument, NULL, OPT_JSON_SCHEMA },
	{ NULL, 0, NULL, 0 },
};

static const char *const format_names[] = { "text", "json", NULL };
static const char *const kv_names[] = { "f16", "f32", NULL };

enum { MAX_STOPS = 64 };

/* The template: the built-in NAME, else the model's tokenizer.chat_template. */
static int load_template(struct chat_template **t, const char *model, const char *name, struct lm_error *err)
{
	struct gguf_file *gf = NULL;
	const char *src;
	uint64_t len;
	char *copy = NULL;
	int rc;

	if (name)
		return chat_template_builtin(t, name, err);
	rc = gguf_open(model, &gf, err);
	if (rc)
		return rc;
	if (!gguf_find_kv(gf, "tokenizer.chat_template")) {
		rc = lm_fail(err, LM_EINVAL, "%s has no chat template (tokenizer.chat_template); name a built-in "
			     "one with --chat-template", model);
		goto out;
	}
	rc = gguf_get_str(gf, "tokenizer.chat_template", &src, &len, err);
	if (rc)
		goto out;
	if (!(copy = strndup(src, len))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	rc = chat_template_new(t, copy, err);
	if (rc)
		lm_error_prefix(err, "%s: tokenizer.chat_template: ", model);
out:
	free(copy);
	gguf_close(gf);
	return rc;
}

/* The grammar of --grammar PATH (GBNF) or --json-schema PATH. */
static int load_grammar(struct grammar **g, const char *path, int schema, struct lm_error *err)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = LM_OK;

	if (!f)
		return lm_fail_errno(err, "%s", path);
	for (;;) {
		size_t got;

		if (len == cap) {
			char *p = realloc(text, cap = cap ? 2 * cap : 4096);

			if (!p) {
				rc = lm_fail(err, LM_ENOMEM, "out of memory");
				goto out;
			}
			text = p;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = lm_fail_errno(err, "%s", path);
		goto out;
	}
	rc = schema ? jsonschema_grammar(text, len, path, g, err) : grammar_parse(g, text, len, path, err);
out:
	free(text);
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	struct opt_parser op;
	struct decoder_params params = { 0 };
	struct genrun_config cfg = { .n_predict = 256, .report_bad = diag_skipped };
	struct genrun_stats st = { 0 };
	struct lm_error err = { 0 };
	struct decoder *dec = NULL;
	struct output out;
	struct chat_template *chat = NULL;
	struct lm_error chat_err = { 0 };
	const char *model = NULL, *prompt = NULL, *stops[MAX_STOPS], *template_name = NULL;
	const char *grammar_path = NULL, *schema_path = NULL;
	struct grammar *grammar = NULL;
	int c, format = -1, seeded = 0, rag = 0, rc = LM_OK;
	long long rag_budget = 0;

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
		case OPT_CHAT: cfg.chat_prompts = 1; break;
		case OPT_CHAT_TEMPLATE: template_name = optarg; cfg.chat_prompts = 1; break;
		case OPT_SYSTEM: cfg.system = optarg; cfg.chat_prompts = 1; break;
		case OPT_RAG: rag = 1; break;
		case OPT_RAG_BUDGET: rag_budget = opt_int("--rag-budget", optarg, 1, INT_MAX); break;
		case OPT_GRAMMAR: grammar_path = optarg; break;
		case OPT_JSON_SCHEMA: schema_path = optarg; break;
		}
	}
	if (!model)
		opt_usage_error("missing -m MODEL");
	if (prompt && optind < argc)
		opt_usage_error("give -p PROMPT or input files, not both");
	if (rag && prompt)
		opt_usage_error("--rag reads hits, not -p PROMPT");
	if (rag_budget && !rag)
		opt_usage_error("--rag-budget needs --rag");
	if (rag && cfg.dump_logits)
		opt_usage_error("--dump-logits is not for --rag");
	if (grammar_path && schema_path)
		opt_usage_error("give --grammar or --json-schema, not both");
	cfg.rag_budget = (size_t)rag_budget;
	params.n_threads = op.threads;
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cfg.sample.seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
				  ((uint64_t)getpid() << 32);
	}
	cfg.stream = format < 0 ? isatty(STDOUT_FILENO) : format == 0;

	if ((grammar_path || schema_path) &&
	    load_grammar(&grammar, grammar_path ? grammar_path : schema_path, schema_path != NULL, &err))
		diag_fail(&err);
	cfg.grammar = grammar;
	if (decoder_open(&dec, model, &params, &err)) {
		grammar_free(grammar);
		diag_fail(&err);
	}
	/* "messages" need a template even without --chat: the model's own
	 * when it has a usable one, else they are refused with the reason */
	if (load_template(&chat, model, template_name, cfg.chat_prompts ? &err : &chat_err)) {
		if (cfg.chat_prompts) {
			decoder_close(dec);
			grammar_free(grammar);
			diag_fail(&err);
		}
		cfg.no_chat = chat_err.msg;
	}
	cfg.chat = chat;
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
			rc = rag ? genrun_rag(dec, &cfg, &in, &out, &st, &err) :
				   genrun_run(dec, &cfg, &in, &out, &st, &err);
			input_close(&in);
			if (rc)
				break;
		}
	}
	if (!rc)
		rc = output_flush(&out, &err);
	output_close(&out, NULL);
	decoder_close(dec);
	chat_template_free(chat);
	grammar_free(grammar);
	if (rc)
		diag_fail(&err);
	diag_info("%llu records: %llu prompt tokens (%llu from the cache) in %.2f s, %llu generated in %.2f s",
		  (unsigned long long)st.records, (unsigned long long)st.prompt_tokens,
		  (unsigned long long)st.reused_tokens, st.prefill_s, (unsigned long long)st.completion_tokens,
		  st.decode_s);
	if (st.mask_steps)
		diag_info("grammar: %llu masking steps, %.3f ms of CPU each", (unsigned long long)st.mask_steps,
			  st.mask_s * 1e3 / (double)st.mask_steps);
	if (st.bad)
		diag_error("%llu bad record%s skipped", (unsigned long long)st.bad, st.bad == 1 ? "" : "s");
	diag_close_stdout();
	return st.bad ? EXIT_DATA : EXIT_OK;
}

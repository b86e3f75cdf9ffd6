/* eval (installed also as evaluate) - trec_eval-compatible evaluation of a
 * ranked run against relevance judgements.  The work is in libcommon/trec.c
 * (reading qrels and runs) and libcommon/metrics.c (the measures). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "metrics.h"
#include "model/decoder.h"
#include "model/perplexity.h"
#include "opt.h"
#include "output.h"
#include "trec.h"

static const char usage[] =
	"Usage: evaluate [OPTION]... QRELS RUN\n"
	"   or: evaluate ppl -m MODEL [-c CTX] [--kv-type f16|f32] [-t N] [FILE]\n"
	"Evaluate a ranked RUN against relevance judgements QRELS, as trec_eval does.\n"
	"QRELS: TREC qrels or BEIR qrels TSV; RUN: TREC run or NDJSON search hits.\n"
	"\n"
	"  -m, --measure M      measure to print (repeatable): map gm_map Rprec bpref\n"
	"                       recip_rank ndcg num_q num_ret num_rel num_rel_ret runid,\n"
	"                       with cutoffs P.K,.. recall.K,.. ndcg_cut.K,.. success.K,..\n"
	"                       iprec_at_recall.L,..; 'official' (the default set)\n"
	"  -q                   print per-query values before the summary\n"
	"  -c, --complete       average over every query in QRELS (missing ones score 0)\n"
	"  -l, --level-for-rel N  judgements >= N are relevant (default 1)\n"
	"  -n, --nosummary      do not print the summary ('all') lines\n"
	"  -M, --max-retrieved N  evaluate only the top N documents per query\n"
	"      --baseline FILE  compare the summary with FILE (eval output); exit 1 when\n"
	"                       a measure dropped by more than --max-drop\n"
	"      --max-drop X     allowed drop against --baseline (default 0)\n"
	"\n"
	"evaluate ppl: perplexity of the GGUF decoder MODEL over the text of FILE\n"
	"(standard input by default), as llama-perplexity computes it: chunks of CTX\n"
	"tokens (default 512), the second half of each scored.\n"
	"      --quiet          print errors only\n"
	"  -v, --verbose        print more\n"
	"  -h, --help           print this help and exit\n"
	"      --version        print the version and exit\n";

enum { OPT_BASELINE = OPT_LONG, OPT_MAX_DROP };

static const struct option longopts[] = {
	{ "measure", required_argument, NULL, 'm' },
	{ "complete", no_argument, NULL, 'c' },
	{ "level-for-rel", required_argument, NULL, 'l' },
	{ "nosummary", no_argument, NULL, 'n' },
	{ "max-retrieved", required_argument, NULL, 'M' },
	{ "baseline", required_argument, NULL, OPT_BASELINE },
	{ "max-drop", required_argument, NULL, OPT_MAX_DROP },
	{ NULL, 0, NULL, 0 },
};

/* SPEC names these subcommands; this build has ppl but not gen or stats. */
static void refuse_subcommand(const char *arg)
{
	static const char *const sub[] = { "gen", "stats" };
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof sub / sizeof sub[0]; i++)
		if (!strcmp(arg, sub[i]) && stat(arg, &st) != 0)
			opt_usage_error("'%s' is not available in this version; retrieval "
					"evaluation (QRELS RUN) and ppl are", arg);
}

static char *read_all(const char *path, size_t *len, struct lm_error *err)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *buf = NULL, *p;
	size_t cap = 0, n;

	*len = 0;
	if (!f) {
		lm_fail_errno(err, "%s", path);
		return NULL;
	}
	do {
		if (*len == cap) {
			cap = cap ? 2 * cap : 1 << 20;
			if (!(p = realloc(buf, cap))) {
				lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
				goto fail;
			}
			buf = p;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (n > 0);
	if (ferror(f)) {
		lm_fail_errno(err, "%s", path);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

static void ppl_progress(int chunk, int n_chunks, double ppl, void *arg)
{
	(void)arg;
	diag_verbose("[%d/%d] %.4f", chunk, n_chunks, ppl);
}

/* evaluate ppl: printed as the retrieval measures are, "name<TAB>all<TAB>value" */
static int ppl_main(int argc, char **argv)
{
	static const struct option ppl_opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "ctx-size", required_argument, NULL, 'c' },
		{ "kv-type", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	struct opt_parser op;
	struct decoder_params dp = { 0 };
	struct perplexity_result res;
	struct lm_error err = { 0 };
	struct decoder *dec = NULL;
	const char *model = NULL;
	char *text;
	size_t len;
	int c, n_ctx = 512, rc;

	opt_init(&op, argc, argv, usage, OPT_THREADS);
	while ((c = opt_next(&op, "m:c:", ppl_opts)) != -1) {
		static const char *const kv_names[] = { "f16", "f32", NULL };

		if (c == 'm')
			model = optarg;
		else if (c == 'c')
			n_ctx = (int)opt_int("-c", optarg, 4, 1 << 20);
		else if (c == 'K')
			dp.kv_f32 = opt_choice("--kv-type", optarg, kv_names);
	}
	if (!model)
		opt_usage_error("ppl: missing -m MODEL");
	if (argc - optind > 1)
		opt_usage_error("ppl: one text FILE at most");
	if (!(text = read_all(optind < argc ? argv[optind] : "-", &len, &err)))
		diag_fail(&err);
	dp.n_threads = op.threads;
	dp.n_ctx = n_ctx;
	dp.n_batch = n_ctx;
	if ((rc = decoder_open(&dec, model, &dp, &err)) ||
	    (rc = perplexity_run(dec, text, len, n_ctx, &res, ppl_progress, NULL, &err))) {
		decoder_close(dec);
		free(text);
		diag_fail(&err);
	}
	printf("%-22s\tall\t%.4f\n%-22s\tall\t%.5f\n%-22s\tall\t%llu\n%-22s\tall\t%d\n",
	       "ppl", res.ppl, "ppl_stderr", res.err, "tokens_scored", (unsigned long long)res.count,
	       "chunks", res.n_chunks);
	decoder_close(dec);
	free(text);
	diag_close_stdout();
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct opt_parser op;
	struct eval_config cfg;
	struct eval_report rep;
	struct trec_qrels qrels;
	struct trec_run run;
	struct lm_error err = { 0 };
	struct output out;
	struct eval_regression *regs = NULL;
	const char *baseline = NULL;
	double max_drop = 0.0;
	int per_query = 0, summary = 1, have_max_drop = 0, rc;
	size_t n_regs = 0, i;
	int c;

	if (argc > 1 && !strcmp(argv[1], "ppl")) {
		struct stat st;

		/* a file named ppl in the current directory is still a QRELS */
		if (stat(argv[1], &st) != 0)
			return ppl_main(argc - 1, argv + 1);
	}
	eval_config_init(&cfg);
	opt_init(&op, argc, argv, usage, 0);
	if (argc > 1)
		refuse_subcommand(argv[1]);
	while ((c = opt_next(&op, "m:qcl:nM:", longopts)) != -1) {
		switch (c) {
		case 'm':
			if (eval_config_add(&cfg, optarg, &err))
				opt_usage_error("%s", err.msg);
			break;
		case 'q':
			per_query = 1;
			break;
		case 'c':
			cfg.complete = 1;
			break;
		case 'l':
			cfg.relevance_level = (long)opt_int("-l", optarg, -1000000, 1000000);
			break;
		case 'n':
			summary = 0;
			break;
		case 'M':
			cfg.max_docs = (long)opt_int("-M", optarg, 1, 1L << 40);
			break;
		case OPT_BASELINE:
			baseline = optarg;
			break;
		case OPT_MAX_DROP:
			max_drop = opt_float("--max-drop", optarg, 0.0, 1e300);
			have_max_drop = 1;
			break;
		}
	}
	if (argc - optind != 2)
		opt_usage_error("expected QRELS and RUN, got %d operand(s)", argc - optind);
	if (!strcmp(argv[optind], "-") && !strcmp(argv[optind + 1], "-"))
		opt_usage_error("QRELS and RUN cannot both be standard input");
	if (have_max_drop && !baseline)
		opt_usage_error("--max-drop needs --baseline FILE");

	if ((rc = trec_qrels_load(&qrels, argv[optind], &err)))
		diag_fail(&err);
	if ((rc = trec_run_load(&run, argv[optind + 1], &err)))
		diag_fail(&err);
	if ((rc = eval_run(&rep, &cfg, &qrels, &run, &err)))
		diag_fail(&err);
	if (baseline && (rc = eval_check_baseline(&rep, baseline, max_drop, &regs, &n_regs, &err)))
		diag_fail(&err);

	if ((rc = output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err)))
		diag_fail(&err);
	rc = eval_report_write(&rep, &out, per_query, summary, &err);
	if (!rc)
		rc = output_close(&out, &err);
	else
		output_close(&out, NULL);
	if (rc)
		diag_fail(&err);

	for (i = 0; i < n_regs; i++) {
		if (regs[i].missing)
			diag_error("regression: %s is in %s but was not evaluated", regs[i].name,
				   baseline);
		else
			diag_error("regression: %s dropped from %.4f to %.4f (by %.4f > %g)",
				   regs[i].name, regs[i].baseline, regs[i].current,
				   regs[i].baseline - regs[i].current, max_drop);
	}
	free(regs);
	eval_report_free(&rep);
	trec_run_free(&run);
	trec_qrels_free(&qrels);
	eval_config_free(&cfg);
	diag_close_stdout();
	return n_regs ? EXIT_DATA : EXIT_OK;
}

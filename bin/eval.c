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
#include "opt.h"
#include "output.h"
#include "trec.h"

static const char usage[] =
	"Usage: evaluate [OPTION]... QRELS RUN\n"
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

/* SPEC names these subcommands; this build evaluates retrieval runs only. */
static void refuse_subcommand(const char *arg)
{
	static const char *const sub[] = { "ppl", "gen", "stats" };
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof sub / sizeof sub[0]; i++)
		if (!strcmp(arg, sub[i]) && stat(arg, &st) != 0)
			opt_usage_error("'%s' is not available in this version; "
					"only retrieval evaluation (QRELS RUN) is", arg);
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

/* metrics.h - trec_eval-compatible retrieval measures.
 *
 * Evaluates a ranked run (trec.h) against relevance judgements and produces
 * the numbers trec_eval 9 prints, in its order and its format, for these
 * measures: runid num_q num_ret num_rel num_rel_ret map gm_map Rprec bpref
 * recip_rank iprec_at_recall P recall ndcg ndcg_cut success, and the
 * nickname "official" (trec_eval's default set).
 *
 * Semantics follow trec_eval (m_*.c, form_res_rels.c, trec_eval.c):
 *  - a document is relevant when its judgement is >= the relevance level
 *    (-l, default 1); documents absent from the qrels, or judged < 0, are
 *    nonrelevant; ndcg and ndcg_cut use the judgement itself as the gain and
 *    ignore the relevance level;
 *  - the queries evaluated are those in both the qrels and the run, in qid
 *    (strcmp) order; with "complete" (-c) every qrels query is evaluated, a
 *    query missing from the run scoring 0 (trec_eval's one bogus
 *    nonrelevant document, with num_ret reset to 0);
 *  - the summary ("all") is the arithmetic mean over the evaluated queries,
 *    except num_ret/num_rel/num_rel_ret (sums), num_q (count) and gm_map
 *    (geometric mean of max(AP, 0.00001)).
 */
#ifndef LMPIPE_METRICS_H
#define LMPIPE_METRICS_H

#include <stddef.h>

#include "error.h"
#include "output.h"
#include "trec.h"

/* In trec_eval's print order (measures.c). */
enum eval_measure {
	EVAL_RUNID,
	EVAL_NUM_Q,
	EVAL_NUM_RET,
	EVAL_NUM_REL,
	EVAL_NUM_REL_RET,
	EVAL_MAP,
	EVAL_GM_MAP,
	EVAL_RPREC,
	EVAL_BPREF,
	EVAL_RECIP_RANK,
	EVAL_IPREC_AT_RECALL,
	EVAL_P,
	EVAL_RECALL,
	EVAL_NDCG,
	EVAL_NDCG_CUT,
	EVAL_SUCCESS,
	EVAL_N_MEASURES
};

struct eval_config {
	unsigned char wanted[EVAL_N_MEASURES];
	/* Cutoffs given on the command line (ranks, or recall levels for
	 * iprec_at_recall), ascending and unique; NULL means the defaults. */
	double *params[EVAL_N_MEASURES];
	size_t n_params[EVAL_N_MEASURES];
	long relevance_level;   /* -l (default 1) */
	int complete;           /* -c: average over every qrels query */
	long max_docs;          /* -M: ranks evaluated per query, 0 = all */
};

void eval_config_init(struct eval_config *cfg);
/* Add a -m argument: "map", "P.5,10", "ndcg_cut.10", "official", ...
 * Repeated measures merge their cutoffs.  LM_EINVAL names what is wrong. */
int eval_config_add(struct eval_config *cfg, const char *spec, struct lm_error *err);
void eval_config_free(struct eval_config *cfg);

enum eval_kind {
	EVAL_KIND_REAL,    /* printed "%6.4f" */
	EVAL_KIND_COUNT,   /* printed "%ld" */
	EVAL_KIND_TEXT,    /* runid */
};

struct eval_column {
	char name[48];     /* as trec_eval prints it: "map", "P_10", "iprec_at_recall_0.10" */
	enum eval_measure measure;
	enum eval_kind kind;
	int per_query;     /* printed on per-query (-q) lines */
};

struct eval_report {
	struct eval_column *cols;
	size_t n_cols;
	char **qids;       /* evaluated queries, in output order */
	size_t n_queries;
	double *values;    /* n_queries x n_cols, row-major */
	double *summary;   /* n_cols: the "all" line */
	char *runid;
};

/* Evaluate RUN against QRELS.  Fails (LM_EFORMAT) when no query is in both,
 * as trec_eval does. */
int eval_run(struct eval_report *rep, const struct eval_config *cfg,
	     const struct trec_qrels *qrels, const struct trec_run *run, struct lm_error *err);
/* Per-query lines (when PER_QUERY), then the summary (when SUMMARY), in
 * trec_eval's "%-22s\t%s\t%6.4f" layout. */
int eval_report_write(const struct eval_report *rep, struct output *out, int per_query,
		      int summary, struct lm_error *err);
void eval_report_free(struct eval_report *rep);

/* The summary value of the column named NAME, or NULL. */
const double *eval_report_summary(const struct eval_report *rep, const char *name);

struct eval_regression {
	char name[48];
	double baseline;
	double current;    /* as printed (4 decimals) */
	int missing;       /* measure in the baseline but not evaluated now */
};

/* Compare the summary with the "all" lines of PATH (eval's own output
 * format, or trec_eval's).  Measures printed with a decimal point are
 * compared; counts and runid are not.  Each measure whose printed value is
 * more than MAX_DROP below the baseline, or that is missing now, is
 * returned in *REGS (free() it); *N_REGS == 0 means no regression. */
int eval_check_baseline(const struct eval_report *rep, const char *path, double max_drop,
			struct eval_regression **regs, size_t *n_regs, struct lm_error *err);

#endif

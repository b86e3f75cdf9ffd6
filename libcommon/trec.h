/* trec.h - relevance judgements (qrels) and ranked runs, as trec_eval reads them.
 *
 * Qrels come as TREC qrels ("qid iter docno rel", whitespace separated) or as
 * BEIR qrels TSV ("query-id<TAB>corpus-id<TAB>score", with or without that
 * header line); the format is recognised from the first data line.  Runs come
 * as TREC runs ("qid Q0 docno rank score tag") or as NDJSON search hits
 * ({"qid","id","score",...} per line, as search(1) writes them).  Lines
 * starting with '#' and blank lines are skipped.
 *
 * What the module promises, after a successful load:
 *  - queries are sorted by qid (strcmp), and no qid appears twice;
 *  - a qrels query's judgements are sorted by docno (strcmp), no duplicates;
 *  - a run query's documents are in trec_eval's ranking: score descending,
 *    ties broken by docno in DESCENDING strcmp order (trec_eval
 *    form_res_rels.c comp_sim_docno); the run's rank column is ignored, as in
 *    trec_eval;
 *  - a document twice in one query (qrels or run) is an error naming the
 *    file and both lines, as trec_eval refuses duplicates too.
 * Errors name the file and line ("FILE:LINE: message").
 */
#ifndef LMPIPE_TREC_H
#define LMPIPE_TREC_H

#include <stddef.h>

#include "error.h"

struct arena;

struct trec_judgement {
	const char *docno;
	long rel;               /* < 0: in the pool but unjudged (trec_eval) */
};

struct trec_qrels_query {
	const char *qid;
	struct trec_judgement *judged;  /* sorted by docno */
	size_t n_judged;
};

struct trec_qrels {
	struct trec_qrels_query *queries;  /* sorted by qid */
	size_t n_queries;
	struct trec_judgement *all_judged;
	struct arena *arena;
};

struct trec_ranked_doc {
	const char *docno;
	double score;
};

struct trec_run_query {
	const char *qid;
	struct trec_ranked_doc *docs;   /* in trec_eval's rank order */
	size_t n_docs;
};

struct trec_run {
	struct trec_run_query *queries;    /* sorted by qid */
	size_t n_queries;
	const char *runid;   /* tag of the last line (trec_eval), or the file's
			      * base name for NDJSON hits */
	struct trec_ranked_doc *all_docs;
	struct arena *arena;
};

/* Load judgements from PATH ("-" = standard input). */
int trec_qrels_load(struct trec_qrels *qrels, const char *path, struct lm_error *err);
void trec_qrels_free(struct trec_qrels *qrels);

/* Load a ranked run from PATH ("-" = standard input). */
int trec_run_load(struct trec_run *run, const char *path, struct lm_error *err);
void trec_run_free(struct trec_run *run);

/* The query with this qid, or NULL (binary search). */
const struct trec_qrels_query *trec_qrels_find(const struct trec_qrels *qrels, const char *qid);
const struct trec_run_query *trec_run_find(const struct trec_run *run, const char *qid);

#endif

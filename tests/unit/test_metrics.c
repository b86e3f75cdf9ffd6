/* test_metrics.c - trec_eval measures on hand-made rankings with answers
 * worked out from the definitions (trec_eval m_*.c). */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "tap.h"

/* One judged query and its ranking, built in memory.  RANKED lists docnos
 * best first; scores are assigned decreasing so the order is kept. */
struct fixture {
	struct trec_judgement judged[16];
	struct trec_qrels_query qq[2];
	struct trec_qrels qrels;
	struct trec_ranked_doc docs[32];
	struct trec_run_query rq[2];
	struct trec_run run;
};

static int cmp_judgement(const void *a, const void *b)
{
	return strcmp(((const struct trec_judgement *)a)->docno,
		      ((const struct trec_judgement *)b)->docno);
}

/* JUDGED: "doc:rel" strings, NULL-terminated; RANKED: docnos, NULL-terminated.
 * A second judged query "zz" with one relevant document and no results is
 * added when WITH_MISSING (for -c). */
static void fixture_build(struct fixture *f, const char *const *judged, const char *const *ranked,
			  int with_missing)
{
	size_t n = 0, i;

	memset(f, 0, sizeof *f);
	for (; judged[n]; n++) {
		const char *colon = strchr(judged[n], ':');

		f->judged[n].docno = strndup(judged[n], (size_t)(colon - judged[n]));
		f->judged[n].rel = atol(colon + 1);
	}
	qsort(f->judged, n, sizeof f->judged[0], cmp_judgement);
	f->qq[0].qid = "q";
	f->qq[0].judged = f->judged;
	f->qq[0].n_judged = n;
	f->qrels.queries = f->qq;
	f->qrels.n_queries = 1;
	if (with_missing) {
		f->judged[n].docno = "m";
		f->judged[n].rel = 1;
		f->qq[1].qid = "zz";
		f->qq[1].judged = &f->judged[n];
		f->qq[1].n_judged = 1;
		f->qrels.n_queries = 2;
	}
	for (i = 0; ranked[i]; i++) {
		f->docs[i].docno = ranked[i];
		f->docs[i].score = 100.0 - (double)i;
	}
	f->rq[0].qid = "q";
	f->rq[0].docs = f->docs;
	f->rq[0].n_docs = i;
	f->run.queries = f->rq;
	f->run.n_queries = 1;
	f->run.runid = "test";
}

static void fixture_free(struct fixture *f)
{
	size_t i;

	for (i = 0; i < f->qq[0].n_judged; i++)
		free((char *)f->judged[i].docno);
}

/* Evaluate with the -m arguments in SPECS (NULL-terminated). */
static int evaluate(struct eval_report *rep, struct fixture *f, const char *const *specs,
		    long level, int complete)
{
	struct eval_config cfg;
	struct lm_error err = { 0 };
	int rc = LM_OK;

	eval_config_init(&cfg);
	cfg.relevance_level = level;
	cfg.complete = complete;
	for (; *specs && !rc; specs++)
		rc = eval_config_add(&cfg, *specs, &err);
	if (!rc)
		rc = eval_run(rep, &cfg, &f->qrels, &f->run, &err);
	if (rc)
		diag("%s", err.msg);
	eval_config_free(&cfg);
	return rc;
}

static double value(const struct eval_report *rep, const char *name)
{
	const double *v = eval_report_summary(rep, name);

	if (!v) {
		diag("no column %s", name);
		return NAN;
	}
	return *v;
}

#define EPS 1e-12

/* Binary judgements: relevant r1 r2 r3, nonrelevant n1 n2; retrieved
 *   1 n1  2 r1  3 x (not judged)  4 r2  5 n2
 * R = 3, N = 2.  AP = (1/2 + 2/4)/3 = 1/3.  P_2 = 1/2, P_10 = 2/10 (cutoff
 * beyond the 5 retrieved still divides by 10).  Rprec: top 3 hold 1 -> 1/3.
 * recip_rank 1/2.  recall_4 = 2/3.  success_1 = 0, success_2 = 1.
 * bpref = 1/3 * [(1 - min(1,3)/min(2,3)) + (1 - 1/2)] = 1/3.
 * ndcg: DCG = 1/log2(3) + 1/log2(5); ideal 1 + 1/log2(3) + 1/log2(4).
 * ndcg_cut_2: (1/log2 3) / (1 + 1/log2 3).
 * iprec_at_recall: 0.00 -> best precision anywhere = 1/2; 0.5 -> c = (long)
 * (1.5 + 0.9) = 2 -> best from rank 4 on = 2/4; 1.0 -> c = 3 > 2: 0. */
static void test_binary(void)
{
	static const char *const judged[] = { "r1:1", "r2:1", "r3:1", "n1:0", "n2:0", NULL };
	static const char *const ranked[] = { "n1", "r1", "x", "r2", "n2", NULL };
	static const char *const specs[] = {
		"map", "gm_map", "P.2,10", "Rprec", "recip_rank", "recall.4", "success.1,2",
		"bpref", "ndcg", "ndcg_cut.2", "iprec_at_recall.0,0.5,1", "num_ret", "num_rel",
		"num_rel_ret", "num_q", NULL,
	};
	struct fixture f;
	struct eval_report rep;

	fixture_build(&f, judged, ranked, 0);
	if (!ok(evaluate(&rep, &f, specs, 1, 0) == LM_OK, "binary case evaluates"))
		return;
	is_near(value(&rep, "map"), 1.0 / 3, EPS, "map");
	is_near(value(&rep, "gm_map"), 1.0 / 3, EPS, "gm_map of one query is its AP");
	is_near(value(&rep, "P_2"), 0.5, EPS, "P_2");
	is_near(value(&rep, "P_10"), 0.2, EPS, "P_10 divides by the cutoff");
	is_near(value(&rep, "Rprec"), 1.0 / 3, EPS, "Rprec");
	is_near(value(&rep, "recip_rank"), 0.5, EPS, "recip_rank");
	is_near(value(&rep, "recall_4"), 2.0 / 3, EPS, "recall_4");
	is_near(value(&rep, "success_1"), 0.0, EPS, "success_1");
	is_near(value(&rep, "success_2"), 1.0, EPS, "success_2");
	is_near(value(&rep, "bpref"), 1.0 / 3, EPS, "bpref");
	is_near(value(&rep, "ndcg"), (1 / log2(3) + 1 / log2(5)) / (1 + 1 / log2(3) + 0.5), EPS, "ndcg");
	is_near(value(&rep, "ndcg_cut_2"), (1 / log2(3)) / (1 + 1 / log2(3)), EPS, "ndcg_cut_2");
	is_near(value(&rep, "iprec_at_recall_0.00"), 0.5, EPS, "iprec 0");
	is_near(value(&rep, "iprec_at_recall_0.50"), 0.5, EPS, "iprec 0.5");
	is_near(value(&rep, "iprec_at_recall_1.00"), 0.0, EPS, "iprec 1: not all retrieved");
	is_near(value(&rep, "num_ret"), 5, 0, "num_ret");
	is_near(value(&rep, "num_rel"), 3, 0, "num_rel");
	is_near(value(&rep, "num_rel_ret"), 2, 0, "num_rel_ret");
	is_near(value(&rep, "num_q"), 1, 0, "num_q");
	eval_report_free(&rep);
	fixture_free(&f);
}

/* Graded judgements a:3 b:2 c:1 z:0, retrieved 1 a  2 z  3 b  4 q (not
 * judged).  ndcg: DCG = 3 + 2/log2(4) = 4; ideal 3 + 2/log2(3) + 1/2.
 * ndcg ignores the relevance level: the same with -l 3.  With -l 2:
 * relevant a, b (R = 2): AP = (1 + 2/3)/2; bpref: nonrelevant judged c, z
 * (N = 2), z above b: (1 + 1 - min(1,2)/min(2,2))/2 = 3/4. */
static void test_graded(void)
{
	static const char *const judged[] = { "a:3", "b:2", "c:1", "z:0", NULL };
	static const char *const ranked[] = { "a", "z", "b", "q", NULL };
	static const char *const specs[] = { "ndcg", "ndcg_cut.1,3", "map", "bpref", NULL };
	double ideal = 3 + 2 / log2(3) + 0.5;
	struct fixture f;
	struct eval_report rep;

	fixture_build(&f, judged, ranked, 0);
	if (!ok(evaluate(&rep, &f, specs, 2, 0) == LM_OK, "graded case evaluates"))
		return;
	is_near(value(&rep, "ndcg"), 4 / ideal, EPS, "graded ndcg uses rel as gain");
	is_near(value(&rep, "ndcg_cut_1"), 1.0, EPS, "ndcg_cut_1: best doc first");
	is_near(value(&rep, "ndcg_cut_3"), 4 / (3 + 2 / log2(3) + 1 / log2(4)), EPS, "ndcg_cut_3");
	is_near(value(&rep, "map"), (1 + 2.0 / 3) / 2, EPS, "map at level 2");
	is_near(value(&rep, "bpref"), 0.75, EPS, "bpref at level 2");
	eval_report_free(&rep);
	if (ok(evaluate(&rep, &f, specs, 3, 0) == LM_OK, "level 3"))
		is_near(value(&rep, "ndcg"), 4 / ideal, EPS, "ndcg independent of -l");
	eval_report_free(&rep);
	fixture_free(&f);
}

/* bpref caps both counts at R (trec_eval m_bpref.c): R = 1, N = 3;
 * retrieved n1 n2 r: 1 - min(2,1)/min(3,1) = 0. */
static void test_bpref_cap(void)
{
	static const char *const judged[] = { "r:1", "n1:0", "n2:0", "n3:0", NULL };
	static const char *const ranked[] = { "n1", "n2", "r", NULL };
	static const char *const specs[] = { "bpref", NULL };
	struct fixture f;
	struct eval_report rep;

	fixture_build(&f, judged, ranked, 0);
	if (ok(evaluate(&rep, &f, specs, 1, 0) == LM_OK, "bpref cap evaluates"))
		is_near(value(&rep, "bpref"), 0.0, EPS, "bpref with N > R");
	eval_report_free(&rep);
	fixture_free(&f);
}

/* -c: the judged query "zz" without results counts as 0 (num_ret 0), and
 * gm_map takes 0.00001 for it.  Query q: retrieved r1 first of R = 1:
 * AP 1.  map = (1 + 0)/2; gm_map = exp((log 1 + log 1e-5)/2). */
static void test_complete(void)
{
	static const char *const judged[] = { "r1:1", NULL };
	static const char *const ranked[] = { "r1", "x", NULL };
	static const char *const specs[] = { "map", "gm_map", "num_q", "num_ret", "num_rel", NULL };
	struct fixture f;
	struct eval_report rep;

	fixture_build(&f, judged, ranked, 1);
	if (ok(evaluate(&rep, &f, specs, 1, 0) == LM_OK, "without -c")) {
		is_int(rep.n_queries, 1, "missing query skipped");
		is_near(value(&rep, "map"), 1.0, EPS, "map over q only");
	}
	eval_report_free(&rep);
	if (ok(evaluate(&rep, &f, specs, 1, 1) == LM_OK, "with -c")) {
		is_int(rep.n_queries, 2, "missing query evaluated");
		is_str(rep.qids[1], "zz", "in qrels order");
		is_near(value(&rep, "map"), 0.5, EPS, "map halves");
		is_near(value(&rep, "gm_map"), exp(log(0.00001) / 2), EPS, "gm_map floor");
		is_near(value(&rep, "num_q"), 2, 0, "num_q");
		is_near(value(&rep, "num_ret"), 2, 0, "missing query retrieves 0");
		is_near(value(&rep, "num_rel"), 2, 0, "its relevant doc counts");
	}
	eval_report_free(&rep);
	fixture_free(&f);
}

static void test_config(void)
{
	struct eval_config cfg;
	struct eval_report rep;
	struct lm_error err = { 0 };
	struct fixture f;
	static const char *const judged[] = { "a:1", NULL };
	static const char *const ranked[] = { "a", NULL };
	static const char *const bad[] = {
		"P.0", "P.5,5", "P.", "P.5x", "map.1", "nosuch", "official.1",
		"iprec_at_recall.0.5,abc", "recall.-3", NULL,
	};
	size_t i;

	for (i = 0; bad[i]; i++) {
		eval_config_init(&cfg);
		is_int(eval_config_add(&cfg, bad[i], &err), LM_EINVAL, "-m %s refused", bad[i]);
		ok(strstr(err.msg, bad[i]) || strstr(err.msg, "official"), "message names %s", bad[i]);
		eval_config_free(&cfg);
	}

	fixture_build(&f, judged, ranked, 0);
	eval_config_init(&cfg);
	ok(!eval_config_add(&cfg, "P.10,5", &err) && !eval_config_add(&cfg, "P.20,5", &err) &&
	   !eval_config_add(&cfg, "map", &err) && !eval_config_add(&cfg, "iprec_at_recall.0.25", &err),
	   "repeated -m merge");
	if (ok(eval_run(&rep, &cfg, &f.qrels, &f.run, &err) == LM_OK, "merged config runs")) {
		static const char *const want[] = {
			"map", "iprec_at_recall_0.25", "P_5", "P_10", "P_20",
		};

		is_int(rep.n_cols, 5, "five columns");
		for (i = 0; i < rep.n_cols && i < 5; i++)
			is_str(rep.cols[i].name, want[i], "column %zu in trec_eval order", i);
	}
	eval_report_free(&rep);
	eval_config_free(&cfg);

	/* No -m: trec_eval's official set, 30 lines. */
	eval_config_init(&cfg);
	if (ok(eval_run(&rep, &cfg, &f.qrels, &f.run, &err) == LM_OK, "default measures")) {
		is_int(rep.n_cols, 30, "official: 10 single + 11 iprec + 9 P");
		is_str(rep.cols[0].name, "runid", "runid first");
		is_str(rep.cols[29].name, "P_1000", "P_1000 last");
	}
	eval_report_free(&rep);

	/* No query in common. */
	f.rq[0].qid = "other";
	is_int(eval_run(&rep, &cfg, &f.qrels, &f.run, &err), LM_EFORMAT, "no common query");
	ok(strstr(err.msg, "no queries") != NULL, "message says so");
	eval_config_free(&cfg);
	fixture_free(&f);
}

static void test_write_and_baseline(void)
{
	static const char *const judged[] = { "a:1", "b:1", NULL };
	static const char *const ranked[] = { "x", "a", NULL };
	static const char *const specs[] = { "runid", "num_ret", "map", "P.1", NULL };
	char name[] = "/tmp/test_metrics.XXXXXX", buf[512];
	struct eval_regression *regs = NULL;
	struct lm_error err = { 0 };
	struct eval_report rep;
	struct output out;
	struct fixture f;
	size_t n_regs = 0;
	ssize_t got;
	int fd;

	fixture_build(&f, judged, ranked, 0);
	if (!ok(evaluate(&rep, &f, specs, 1, 0) == LM_OK, "evaluates"))
		return;
	fd = mkstemp(name);
	ok(fd >= 0 && output_from_fd(&out, fd, name, &err) == LM_OK, "output");
	ok(eval_report_write(&rep, &out, 1, 1, &err) == LM_OK && output_close(&out, &err) == LM_OK,
	   "write report");
	got = pread(fd, buf, sizeof buf - 1, 0);
	buf[got > 0 ? got : 0] = '\0';
	/* AP = (1/2) / 2 = 0.25; P_1 = 0; per-query lines skip runid. */
	is_str(buf,
	       "num_ret               \tq\t2\n"
	       "map                   \tq\t0.2500\n"
	       "P_1                   \tq\t0.0000\n"
	       "runid                 \tall\ttest\n"
	       "num_ret               \tall\t2\n"
	       "map                   \tall\t0.2500\n"
	       "P_1                   \tall\t0.0000\n", "trec_eval layout");
	close(fd);

	/* A baseline claiming map 0.3000 and P_1 0.0001: map dropped by 0.05. */
	fd = open(name, O_WRONLY | O_TRUNC);
	dprintf(fd, "runid\tall\told\nnum_ret\tall\t9\nmap\tq\t0.9000\nmap\tall\t0.3000\n"
		"P_1\tall\t0.0001\n");
	close(fd);
	is_int(eval_check_baseline(&rep, name, 0.0, &regs, &n_regs, &err), LM_OK, "baseline read");
	is_int(n_regs, 2, "two regressions at max-drop 0");
	if (n_regs == 2) {
		is_str(regs[0].name, "map", "map regressed");
		is_near(regs[0].baseline, 0.3, EPS, "baseline value");
		is_near(regs[0].current, 0.25, EPS, "current value");
		is_str(regs[1].name, "P_1", "P_1 regressed");
	}
	free(regs);
	is_int(eval_check_baseline(&rep, name, 0.05, &regs, &n_regs, &err), LM_OK, "max-drop 0.05");
	is_int(n_regs, 0, "a drop of exactly max-drop passes");
	free(regs);

	fd = open(name, O_WRONLY | O_TRUNC);
	dprintf(fd, "ndcg\tall\t0.5000\nbroken line\n");
	close(fd);
	is_int(eval_check_baseline(&rep, name, 0.0, &regs, &n_regs, &err), LM_EFORMAT, "malformed");
	ok(strstr(err.msg, ":2:") != NULL, "names the line: %s", err.msg);
	fd = open(name, O_WRONLY | O_TRUNC);
	dprintf(fd, "ndcg\tall\t0.5000\n");
	close(fd);
	is_int(eval_check_baseline(&rep, name, 0.0, &regs, &n_regs, &err), LM_OK, "missing measure");
	ok(n_regs == 1 && regs[0].missing, "missing measure is a regression");
	free(regs);
	fd = open(name, O_WRONLY | O_TRUNC);
	dprintf(fd, "num_q\tall\t3\n");
	close(fd);
	is_int(eval_check_baseline(&rep, name, 0.0, &regs, &n_regs, &err), LM_EFORMAT,
	       "nothing comparable");
	unlink(name);
	eval_report_free(&rep);
	fixture_free(&f);
}

int main(void)
{
	test_binary();
	test_graded();
	test_bpref_cap();
	test_complete();
	test_config();
	test_write_and_baseline();
	return tap_done();
}

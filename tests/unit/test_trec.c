/* test_trec.c - reading qrels (TREC, BEIR TSV) and runs (TREC, NDJSON). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "trec.h"

static char path[64];

/* Write N bytes to a fresh temporary file; its name is in PATH. */
static const char *tmpfile_with(const char *data, size_t n)
{
	int fd;

	if (path[0])
		unlink(path);
	strcpy(path, "/tmp/test_trec.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n) {
		perror("tmpfile");
		exit(1);
	}
	close(fd);
	return path;
}

static const char *tmp(const char *s)
{
	return tmpfile_with(s, strlen(s));
}

/* The error message must start with "PATH:LINE: " and contain WHAT. */
static void is_error_at(const struct lm_error *err, int line, const char *what, const char *desc)
{
	char want[128];

	snprintf(want, sizeof want, "%s:%d:", path, line);
	if (!ok(!strncmp(err->msg, want, strlen(want)) && strstr(err->msg, what), "%s", desc))
		diag("got \"%s\", want \"%s ... %s\"", err->msg, want, what);
}

static void test_qrels_trec(void)
{
	struct trec_qrels q;
	struct lm_error err = { 0 };
	const struct trec_qrels_query *qq;

	is_int(trec_qrels_load(&q, tmp("# comment\n"
				       "10 0 b 1\r\n"
				       "\n"
				       "9 0 z 0\n"
				       "10 0 a 2\n"
				       "  10\t0 c -1  \n"), &err), LM_OK, "TREC qrels load");
	is_int(q.n_queries, 2, "two queries");
	is_str(q.queries[0].qid, "10", "queries sorted by strcmp: \"10\" < \"9\"");
	is_str(q.queries[1].qid, "9", "second query");
	is_int(q.queries[0].n_judged, 3, "three judgements for 10");
	is_str(q.queries[0].judged[0].docno, "a", "judgements sorted by docno");
	is_int(q.queries[0].judged[0].rel, 2, "rel of a");
	is_str(q.queries[0].judged[1].docno, "b", "CRLF stripped from b's line");
	is_int(q.queries[0].judged[1].rel, 1, "rel of b");
	is_int(q.queries[0].judged[2].rel, -1, "negative rel kept (unjudged)");
	qq = trec_qrels_find(&q, "9");
	ok(qq == &q.queries[1], "find 9");
	ok(trec_qrels_find(&q, "11") == NULL, "find missing");
	trec_qrels_free(&q);
}

static void test_qrels_tsv(void)
{
	struct trec_qrels q;
	struct lm_error err = { 0 };

	is_int(trec_qrels_load(&q, tmp("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td0\t0\n2\tx\t2\n"),
			       &err), LM_OK, "BEIR TSV with header");
	is_int(q.n_queries, 2, "two queries");
	is_int(q.queries[0].n_judged, 2, "header not taken as a judgement");
	is_str(q.queries[0].judged[0].docno, "d0", "sorted");
	is_int(q.queries[1].judged[0].rel, 2, "graded score");
	trec_qrels_free(&q);

	is_int(trec_qrels_load(&q, tmp("1\td1\t1\n"), &err), LM_OK, "BEIR TSV without header");
	is_int(q.n_queries, 1, "one query");
	trec_qrels_free(&q);

	is_int(trec_qrels_load(&q, tmp("1\td1\t1\nq\td\tscore\n"), &err), LM_EFORMAT,
	       "a header after line 1 is an error");
	is_error_at(&err, 2, "not an integer", "names the line");
}

static void test_qrels_errors(void)
{
	struct trec_qrels q;
	struct lm_error err = { 0 };
	static const char nul[] = "1 0 a 1\n1 0 b\0 1\n";

	is_int(trec_qrels_load(&q, tmp("1 0 a 1\n1 0 b 1\n1 0 a 0\n"), &err), LM_EFORMAT, "duplicate");
	is_error_at(&err, 3, "duplicate judgement for query '1', document 'a' (first at line 1)",
		    "duplicate names both lines");
	is_int(trec_qrels_load(&q, tmp("1 0 a 1\n1 0 b 1 9\n"), &err), LM_EFORMAT, "5 fields");
	is_error_at(&err, 2, "expected 4 fields", "field count");
	is_int(trec_qrels_load(&q, tmp("1 0 a 1 2 3\n"), &err), LM_EFORMAT, "6 fields");
	is_error_at(&err, 1, "expected 'qid iter docno rel'", "unknown layout");
	is_int(trec_qrels_load(&q, tmp("1 0 a 1.5\n"), &err), LM_EFORMAT, "fractional rel");
	is_error_at(&err, 1, "'1.5' is not an integer", "rel parse");
	is_int(trec_qrels_load(&q, tmp("1 0 a 99999999\n"), &err), LM_EFORMAT, "huge rel");
	is_error_at(&err, 1, "out of range", "rel range");
	is_int(trec_qrels_load(&q, tmpfile_with(nul, sizeof nul - 1), &err), LM_EFORMAT, "NUL byte");
	is_error_at(&err, 2, "NUL byte", "NUL named");
	is_int(trec_qrels_load(&q, "/nonexistent/qrels", &err), LM_EIO, "missing file");
	ok(strstr(err.msg, "/nonexistent/qrels") != NULL, "missing file named");
}

static void test_run_trec(void)
{
	struct trec_run r;
	struct lm_error err = { 0 };
	const struct trec_run_query *rq;

	/* Ties at 0.5: trec_eval puts the greater docno first (b2 > b10 >
	 * a by strcmp); the rank column (1..) says otherwise and is ignored. */
	is_int(trec_run_load(&r, tmp("q1 Q0 a 1 0.5 first\n"
				     "q1 Q0 b10 2 0.5 first extra fields\n"
				     "# comment\n"
				     "q1 Q0 top 3 2e0 first\n"
				     "q0 Q0 x 1 -1 mid\n"
				     "q1 Q0 b2 4 0.50 last\n"), &err), LM_OK, "TREC run load");
	is_str(r.runid, "last", "runid is the last line's tag");
	is_int(r.n_queries, 2, "two queries");
	rq = trec_run_find(&r, "q1");
	ok(rq != NULL && rq->n_docs == 4, "q1 has 4 docs");
	if (rq && rq->n_docs == 4) {
		is_str(rq->docs[0].docno, "top", "highest score first");
		is_str(rq->docs[1].docno, "b2", "tie: greatest docno first");
		is_str(rq->docs[2].docno, "b10", "tie: then b10");
		is_str(rq->docs[3].docno, "a", "tie: then a");
		is_near(rq->docs[0].score, 2.0, 0, "score parsed");
	}
	ok(trec_run_find(&r, "q2") == NULL, "find missing");
	trec_run_free(&r);

	is_int(trec_run_load(&r, tmp("1 Q0 a 1 1 t\n1 Q0 b 2 0.5 t\n1 Q0 a 3 0.2 t\n"), &err),
	       LM_EFORMAT, "duplicate doc");
	is_error_at(&err, 3, "duplicate document for query '1', document 'a' (first at line 1)",
		    "duplicate names both lines");
	is_int(trec_run_load(&r, tmp("1 Q0 a 1 1\n"), &err), LM_EFORMAT, "5 fields");
	is_error_at(&err, 1, "expected 'qid Q0 docno rank score tag'", "field count");
	is_int(trec_run_load(&r, tmp("1 Q0 a 1 1 t\n1 Q0 b 1 nan t\n"), &err), LM_EFORMAT, "NaN");
	is_error_at(&err, 2, "score 'nan' is not a number", "NaN refused");
	is_int(trec_run_load(&r, tmp("1 Q0 a 1 0x t\n"), &err), LM_EFORMAT, "junk score");
	is_error_at(&err, 1, "not a number", "junk refused");

	is_int(trec_run_load(&r, tmp(""), &err), LM_OK, "empty run loads");
	is_int(r.n_queries, 0, "no queries");
	trec_run_free(&r);
}

static void test_run_ndjson(void)
{
	struct trec_run r;
	struct lm_error err = { 0 };
	const struct trec_run_query *rq;

	is_int(trec_run_load(&r, tmp("\n  {\"qid\":\"q\",\"id\":\"a\",\"rank\":2,\"score\":0.25,\"text\":\"x\"}\n"
				     "{\"qid\":\"q\",\"_id\":\"b\",\"score\":1.5}\n"
				     "{\"qid\":7,\"id\":12,\"score\":3}\n"), &err), LM_OK, "NDJSON hits");
	ok(r.runid && !strcmp(r.runid, strrchr(path, '/') + 1), "runid is the file's base name");
	rq = trec_run_find(&r, "q");
	ok(rq && rq->n_docs == 2 && !strcmp(rq->docs[0].docno, "b"), "_id accepted, score orders");
	rq = trec_run_find(&r, "7");
	ok(rq && rq->n_docs == 1 && !strcmp(rq->docs[0].docno, "12"), "numeric qid and id");
	trec_run_free(&r);

	is_int(trec_run_load(&r, tmp("{\"qid\":\"q\",\"id\":\"a\",\"rank\":2}\n"
				     "{\"qid\":\"q\",\"id\":\"b\",\"rank\":1}\n"), &err), LM_OK, "ranks only");
	rq = trec_run_find(&r, "q");
	ok(rq && rq->n_docs == 2 && !strcmp(rq->docs[0].docno, "b"), "rank orders without score");
	trec_run_free(&r);

	is_int(trec_run_load(&r, tmp("{\"qid\":\"q\",\"id\":\"a\",\"score\":1}\n{\"qid\":\"q\",\"id\":\"b\",\"score\":}\n"),
			       &err), LM_EFORMAT, "bad JSON");
	is_error_at(&err, 2, "", "bad JSON names the line");
	is_int(trec_run_load(&r, tmp("{\"qid\":\"q\",\"score\":1}\n"), &err), LM_EFORMAT, "no id");
	is_error_at(&err, 1, "\"qid\" and \"id\"", "missing id named");
	is_int(trec_run_load(&r, tmp("{\"qid\":\"q\",\"id\":\"a\",\"score\":\"1\"}\n"), &err),
	       LM_EFORMAT, "string score");
	is_error_at(&err, 1, "numeric \"score\"", "score type named");
	is_int(trec_run_load(&r, tmp("{\"qid\":\"q\",\"id\":\"a\",\"score\":1}\n[1]\n"), &err),
	       LM_EFORMAT, "not an object");
	is_error_at(&err, 2, "expected a JSON object", "array refused");
	is_int(trec_run_load(&r, tmp("{\"qid\":\"q\",\"id\":\"a\",\"score\":1}\n{\"qid\":\"q\",\"id\":\"a\",\"score\":2}\n"),
			       &err), LM_EFORMAT, "duplicate hit");
	is_error_at(&err, 2, "duplicate document", "duplicate hit named");
}

int main(void)
{
	test_qrels_trec();
	test_qrels_tsv();
	test_qrels_errors();
	test_run_trec();
	test_run_ndjson();
	if (path[0])
		unlink(path);
	return tap_done();
}

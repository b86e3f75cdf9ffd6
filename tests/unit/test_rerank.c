/* test_rerank - per-query re-ranking (libcommon/model/rerank.c) without a
 * model: sorting with ties, -k, MMR, RRF, edge order and pair framing, and
 * the whole stream with a scoring function standing in for the encoder.
 * Expected orders and scores are worked out by hand in the comments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "model/rerank.h"
#include "tap.h"

/* Run a reranker over the streams TEXTS[0..N) (each written to a file of
 * its own), capture its output in *OUT (malloc'd). */
static int run_streams(const struct rerank_options *opt, const struct rerank_scorer *sc,
		       const char *const *texts, int n, char **out, struct rerank_stats *st,
		       struct lm_error *err)
{
	struct reranker *rr = NULL;
	struct output w;
	FILE *cap = tmpfile();
	char path[64];
	long len;
	int i, rc;

	*out = NULL;
	if (!cap)
		return lm_fail(err, LM_EIO, "tmpfile");
	if ((rc = output_from_fd(&w, fileno(cap), "<capture>", err)))
		goto out;
	if ((rc = rerank_new(&rr, opt, sc, &w, err)))
		goto close;
	for (i = 0; i < n && !rc; i++) {
		struct input in;
		FILE *f;

		snprintf(path, sizeof path, "/tmp/test_rerank.%d.run%d", (int)getpid(), i + 1);
		if (!(f = fopen(path, "w")) || fputs(texts[i], f) < 0 || fclose(f)) {
			rc = lm_fail(err, LM_EIO, "%s", path);
			break;
		}
		if (!(rc = input_open(&in, path, err))) {
			rc = rerank_read(rr, &in, err);
			input_close(&in);
		}
		unlink(path);
	}
	if (!rc)
		rc = rerank_finish(rr, err);
	if (st)
		*st = *rerank_get_stats(rr);
close:
	output_close(&w, NULL);
	fflush(cap);
	len = ftell(cap);
	if ((*out = malloc((size_t)len + 1))) {
		rewind(cap);
		(*out)[fread(*out, 1, (size_t)len, cap)] = 0;
	}
out:
	rerank_free(rr);
	fclose(cap);
	return rc;
}

static void test_sort(void)
{
	/* 3 at 1, 2, 4 (index order), then 2 at 3, then 1 at 0 */
	double s[] = { 1, 3, 3, 2, 3 };
	uint32_t o[5], want[] = { 1, 2, 4, 3, 0 };

	rerank_sort(s, 5, o);
	is_mem(o, want, sizeof want, "sort: highest first, ties in input order");
}

static void test_edges(void)
{
	uint32_t in5[] = { 10, 11, 12, 13, 14 }, want5[] = { 10, 12, 14, 13, 11 }, out5[5];
	uint32_t in4[] = { 1, 2, 3, 4 }, want4[] = { 1, 3, 4, 2 }, out4[4];
	uint32_t in1[] = { 7 }, out1[1];

	rerank_edges(in5, 5, out5);
	is_mem(out5, want5, sizeof want5, "edges of 5: 1st, 3rd, 5th, 4th, 2nd");
	rerank_edges(in4, 4, out4);
	is_mem(out4, want4, sizeof want4, "edges of 4: 1st, 3rd, 4th, 2nd");
	rerank_edges(in1, 1, out1);
	is_int(out1[0], 7, "edges of 1");
}

/* Four hits, by score A 1.0, B 0.9, C 0.5, D 0.0 (rel = 1, .9, .5, 0);
 * A and B point the same way, C is orthogonal, D halfway (cos 1/sqrt 2).
 * Stored out of order (index: D 0, C 1, B 2, A 3) so the test sees that
 * ORDER, not the index, decides ties and the first pick.
 *
 * lambda .5: pick A (.5); then B .45 - .5 = -.05, C .25 - 0 = .25,
 * D 0 - .3536: C; then B -.05 against D -.3536: B; then D.
 * lambda 0: all 0 first, A comes first in ORDER; then B -1, C 0,
 * D -.7071: C; then D -.7071 beats B -1; then B.
 * lambda 1: relevance only: A B C D. */
static void test_mmr(void)
{
	const double score[] = { 0.0, 0.5, 0.9, 1.0 };
	const float emb[] = { 1, 1, 0, 1, 1, 0, 1, 0 };
	uint32_t o[4];
	struct lm_error err = { 0 };
	uint32_t w05[] = { 3, 1, 2, 0 }, w0[] = { 3, 1, 0, 2 }, w1[] = { 3, 2, 1, 0 };

	rerank_sort(score, 4, o);
	is_mem(o, w1, sizeof w1, "mmr input: score order A B C D");
	is_int(rerank_mmr(score, emb, 2, 4, 0.5, 0, o, &err), 0, "mmr 0.5");
	is_mem(o, w05, sizeof w05, "mmr 0.5: A C B D");
	rerank_sort(score, 4, o);
	rerank_mmr(score, emb, 2, 4, 0.5, 2, o, &err);
	is_mem(o, w05, 2 * sizeof *o, "mmr 0.5, k 2: A C");
	rerank_sort(score, 4, o);
	rerank_mmr(score, emb, 2, 4, 0.0, 0, o, &err);
	is_mem(o, w0, sizeof w0, "mmr 0: A C D B");
	rerank_sort(score, 4, o);
	rerank_mmr(score, emb, 2, 4, 1.0, 0, o, &err);
	is_mem(o, w1, sizeof w1, "mmr 1: relevance order");
}

static void test_pair(void)
{
	struct rerank_frame f = { .prefix = { 101 }, .n_prefix = 1, .suffix = { 102 },
				  .n_suffix = 1 };
	struct tok_ids t = { 0 }, ty = { 0 };
	struct lm_error err = { 0 };
	const int32_t q[] = { 1, 2 }, d[] = { 3, 4, 5 };
	const int32_t w1[] = { 101, 1, 2, 102, 3, 4, 5, 102 }, wt1[] = { 0, 0, 0, 0, 1, 1, 1, 1 };
	const int32_t wt0[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	const int32_t w6[] = { 101, 1, 2, 102, 3, 102 }, w4[] = { 101, 1, 102, 102 };
	int trunc = -1;

	is_int(rerank_pair(&f, q, 2, d, 3, 512, 2, &t, &ty, &trunc, &err), 0, "pair");
	ok(t.n == 8 && !memcmp(t.ids, w1, sizeof w1), "pair: [CLS] q [SEP] d [SEP]");
	ok(ty.n == 8 && !memcmp(ty.ids, wt1, sizeof wt1), "pair: segment 0 then 1");
	is_int(trunc, 0, "pair fits");
	t.n = ty.n = 0;
	rerank_pair(&f, q, 2, d, 3, 512, 1, &t, &ty, &trunc, &err);
	ok(ty.n == 8 && !memcmp(ty.ids, wt0, sizeof wt0), "one token type: all segment 0");
	t.n = ty.n = 0;
	rerank_pair(&f, q, 2, d, 3, 6, 2, &t, &ty, &trunc, &err);
	ok(t.n == 6 && !memcmp(t.ids, w6, sizeof w6) && trunc == 1, "n_ctx 6: document cut to 1");
	t.n = ty.n = 0;
	rerank_pair(&f, q, 2, d, 3, 4, 2, &t, &ty, &trunc, &err);
	ok(t.n == 4 && !memcmp(t.ids, w4, sizeof w4) && trunc == 1,
	   "n_ctx 4: no document, query cut to 1");
	is_int(rerank_pair(&f, q, 2, d, 3, 2, 2, &t, &ty, &trunc, &err), LM_EINVAL,
	       "n_ctx 2 cannot hold the special tokens");
	tok_ids_free(&t);
	tok_ids_free(&ty);
}

static void test_group_sort_k(void)
{
	static const char *in[] = {
		"{\"qid\":\"q1\",\"id\":\"a\",\"rank\":1,\"score\":1}\n"
		"{\"qid\":\"q1\",\"id\":\"b\",\"rank\":2,\"score\":3,\"meta\":{\"x\":[1,2]}}\n"
		"\n"
		"{\"qid\":\"q1\",\"id\":\"c\",\"rank\":3,\"score\":3}\n"
		"{\"qid\":\"q1\",\"id\":\"d\",\"score\":2,\"extra\":null}\n"
		"{\"qid\":\"q2\",\"id\":\"x\",\"rank\":9,\"score\":0.5}\n"
	};
	struct rerank_options opt = { .k = 3 };
	struct lm_error err = { 0 };
	char *out;

	is_int(run_streams(&opt, NULL, in, 1, &out, NULL, &err), 0, "group/sort/k: %s", err.msg);
	/* q1: b 3 and c 3 tie (b first in input), then d 2, a 1 cut by k 3 */
	is_str(out,
	       "{\"qid\":\"q1\",\"id\":\"b\",\"rank\":1,\"score\":3,\"meta\":{\"x\":[1,2]}}\n"
	       "{\"qid\":\"q1\",\"id\":\"c\",\"rank\":2,\"score\":3}\n"
	       "{\"qid\":\"q1\",\"id\":\"d\",\"score\":2,\"extra\":null,\"rank\":3}\n"
	       "{\"qid\":\"q2\",\"id\":\"x\",\"rank\":1,\"score\":0.5}\n",
	       "per-query sort, ties in input order, k 3, fields untouched");
	free(out);
}

static void test_bad(void)
{
	static const char *again[] = {
		"{\"qid\":\"q1\",\"id\":\"a\",\"score\":1}\n"
		"{\"qid\":\"q2\",\"id\":\"b\",\"score\":1}\n"
		"{\"qid\":\"q1\",\"id\":\"c\",\"score\":1}\n"
	};
	static const char *broken[] = {
		"{\"qid\":\"q1\",\"id\":\"a\",\"score\":1}\n"
		"{\"qid\":\"q1\",\"id\":\"b\",\"score\":1\n"
		"{\"qid\":\"q1\",\"id\":\"c\",\"score\":2}\n"
	};
	static const char *noscore[] = { "{\"qid\":\"q1\",\"id\":\"a\"}\n" };
	static const char *noemb[] = {
		"{\"qid\":\"q1\",\"id\":\"a\",\"score\":1,\"embedding\":[1]}\n"
		"{\"qid\":\"q1\",\"id\":\"b\",\"score\":1}\n"
	};
	struct rerank_options opt = { 0 };
	struct rerank_stats st;
	struct lm_error err = { 0 };
	char *out;

	is_int(run_streams(&opt, NULL, again, 1, &out, NULL, &err), LM_EINVAL,
	       "a query again after another is an error");
	ok(strstr(err.msg, ".run1:3: query 'q1' again") != NULL, "... naming file and line: %s",
	   err.msg);
	is_str(out, "{\"qid\":\"q1\",\"id\":\"a\",\"score\":1,\"rank\":1}\n",
	       "... after writing the queries before it");
	free(out);
	is_int(run_streams(&opt, NULL, broken, 1, &out, NULL, &err), LM_EFORMAT,
	       "malformed JSON is an error");
	ok(strstr(err.msg, ".run1:2:") != NULL, "... naming the line: %s", err.msg);
	free(out);
	opt.skip_bad = 1;
	is_int(run_streams(&opt, NULL, broken, 1, &out, &st, &err), 0, "skip_bad goes on");
	is_int(st.bad, 1, "... counting the bad line");
	is_str(out,
	       "{\"qid\":\"q1\",\"id\":\"c\",\"score\":2,\"rank\":1}\n"
	       "{\"qid\":\"q1\",\"id\":\"a\",\"score\":1,\"rank\":2}\n", "... and sorts the rest");
	free(out);
	opt.skip_bad = 0;
	is_int(run_streams(&opt, NULL, noscore, 1, &out, NULL, &err), LM_EINVAL,
	       "no score to sort by");
	ok(strstr(err.msg, ".run1:1: hit 'a' of query 'q1' has no numeric \"score\""),
	   "... named: %s", err.msg);
	free(out);
	opt.mmr = 1;
	opt.mmr_lambda = 0.5;
	is_int(run_streams(&opt, NULL, noemb, 1, &out, NULL, &err), LM_EINVAL,
	       "mmr without an embedding");
	ok(strstr(err.msg, ".run1:2: hit 'b' of query 'q1' has no \"embedding\""), "... named: %s",
	   err.msg);
	free(out);
}

static double field(const char *line, const char *name)
{
	char key[32];
	const char *p;

	snprintf(key, sizeof key, "\"%s\":", name);
	p = strstr(line, key);
	return p ? strtod(p + strlen(key), NULL) : NAN;
}

static void test_rrf(void)
{
	/* run 1 has q1: a b c; run 2 has q2: y, then q1: c d.
	 * rrf:60: a 1/61, b 1/62, c 1/63 + 1/61, d 1/62: c a b d (b before
	 * d: seen first).  q1 comes first (first seen in run 1). */
	static const char *in[] = {
		"{\"qid\":\"q1\",\"id\":\"a\",\"rank\":1,\"score\":0.75}\n"
		"{\"qid\":\"q1\",\"id\":\"b\",\"rank\":2,\"score\":0.5}\n"
		"{\"qid\":\"q1\",\"id\":\"c\",\"rank\":3,\"score\":0.25}\n",
		"{\"qid\":\"q2\",\"id\":\"y\",\"rank\":1,\"score\":12}\n"
		"{\"qid\":\"q1\",\"id\":\"c\",\"rank\":1,\"score\":11}\n"
		"{\"qid\":\"q1\",\"id\":\"d\",\"rank\":2,\"score\":10}\n",
	};
	static const char *dup[] = {
		"{\"qid\":\"q1\",\"id\":\"a\"}\n{\"qid\":\"q1\",\"id\":\"a\"}\n",
	};
	const char *ids = "cabdy";
	const char *want0 = "{\"qid\":\"q1\",\"id\":\"c\",\"rank\":1,\"score\":1.3333334,"
			    "\"retrieval_score\":0.25}\n";
	const double want[] = { 1.0 / 63 + 1.0 / 61, 1.0 / 61, 1.0 / 62, 1.0 / 62, 1.0 / 61 };
	struct rerank_options opt = { .fuse = 1 };
	struct lm_error err = { 0 };
	char *out, *line, *save = NULL;
	int i = 0, okay = 1;

	fusion_parse("rrf", &opt.fusion, &err);
	is_int(run_streams(&opt, NULL, in, 2, &out, NULL, &err), 0, "rrf: %s", err.msg);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		char idkey[16];

		snprintf(idkey, sizeof idkey, "\"id\":\"%c\"", ids[i < 5 ? i : 0]);
		if (i >= 5 || !strstr(line, idkey) || field(line, "rank") != (i < 4 ? i + 1 : 1) ||
		    fabs(field(line, "score") - want[i]) > 1e-7 * want[i]) {
			diag("line %d: %s", i + 1, line);
			okay = 0;
		}
	}
	ok(okay && i == 5, "rrf:60 over two runs: c a b d, then q2's y; sums of 1/(60+rank)");
	free(out);

	/* rrf:0: c 1/3 + 1 = 4/3 exactly representable as float text 1.3333334 */
	fusion_parse("rrf:0", &opt.fusion, &err);
	is_int(run_streams(&opt, NULL, in, 2, &out, NULL, &err), 0, "rrf:0");
	ok(!strncmp(out, want0, strlen(want0)),
	   "rrf:0: c first, 1/3 + 1/1, its run-1 record with retrieval_score");
	free(out);

	is_int(run_streams(&opt, NULL, dup, 1, &out, NULL, &err), LM_EINVAL,
	       "a document twice in one run's list is an error");
	ok(strstr(err.msg, ".run1:2: document 'a' twice") != NULL, "... naming it: %s", err.msg);
	free(out);

	/* alpha:0.25 over run1 (a .75, b .5, c .25 -> 1, .5, 0) and run2 q1
	 * (c 11, d 10 -> 1, 0): a .25, b .125, c .75, d 0: c a b d */
	fusion_parse("alpha:0.25", &opt.fusion, &err);
	is_int(run_streams(&opt, NULL, in, 2, &out, NULL, &err), 0, "alpha: %s", err.msg);
	ok(strstr(out, "\"id\":\"c\",\"rank\":1,\"score\":0.75,") &&
	   strstr(out, "\"id\":\"a\",\"rank\":2,\"score\":0.25,") &&
	   strstr(out, "\"id\":\"b\",\"rank\":3,\"score\":0.125,") &&
	   strstr(out, "\"id\":\"d\",\"rank\":4,\"score\":0,"), "alpha:0.25: c .75, a .25, b .125, d 0");
	free(out);
}

static void test_edges_stream(void)
{
	static const char *in[] = {
		"{\"qid\":\"q\",\"id\":\"e2\",\"score\":2}\n{\"qid\":\"q\",\"id\":\"e5\",\"score\":5}\n"
		"{\"qid\":\"q\",\"id\":\"e1\",\"score\":1}\n{\"qid\":\"q\",\"id\":\"e4\",\"score\":4}\n"
		"{\"qid\":\"q\",\"id\":\"e3\",\"score\":3}\n"
	};
	struct rerank_options opt = { .order_edges = 1 };
	struct lm_error err = { 0 };
	char *out;

	is_int(run_streams(&opt, NULL, in, 1, &out, NULL, &err), 0, "edges");
	is_str(out,
	       "{\"qid\":\"q\",\"id\":\"e5\",\"score\":5,\"rank\":1}\n"
	       "{\"qid\":\"q\",\"id\":\"e3\",\"score\":3,\"rank\":3}\n"
	       "{\"qid\":\"q\",\"id\":\"e1\",\"score\":1,\"rank\":5}\n"
	       "{\"qid\":\"q\",\"id\":\"e2\",\"score\":2,\"rank\":4}\n"
	       "{\"qid\":\"q\",\"id\":\"e4\",\"score\":4,\"rank\":2}\n",
	       "edges: best first, second best last; rank keeps the ranking");
	free(out);
	opt.k = 3;
	is_int(run_streams(&opt, NULL, in, 1, &out, NULL, &err), 0, "edges k 3");
	is_str(out,
	       "{\"qid\":\"q\",\"id\":\"e5\",\"score\":5,\"rank\":1}\n"
	       "{\"qid\":\"q\",\"id\":\"e3\",\"score\":3,\"rank\":3}\n"
	       "{\"qid\":\"q\",\"id\":\"e4\",\"score\":4,\"rank\":2}\n",
	       "edges after k 3");
	free(out);
}

static void test_mmr_stream(void)
{
	/* test_mmr's four hits as records, in score order A B C D */
	static const char *in[] = {
		"{\"qid\":\"q\",\"id\":\"D\",\"score\":0,\"embedding\":[1,1]}\n"
		"{\"qid\":\"q\",\"id\":\"C\",\"score\":0.5,\"embedding\":[0,1]}\n"
		"{\"qid\":\"q\",\"id\":\"B\",\"score\":0.9,\"embedding\":[2,0]}\n"
		"{\"qid\":\"q\",\"id\":\"A\",\"score\":1,\"embedding\":[1,0]}\n"
	};
	struct rerank_options opt = { .mmr = 1, .mmr_lambda = 0.5 };
	struct lm_error err = { 0 };
	char *out;
	const char *a, *b, *c, *d;

	is_int(run_streams(&opt, NULL, in, 1, &out, NULL, &err), 0, "mmr stream: %s", err.msg);
	a = strstr(out, "\"A\"");
	b = strstr(out, "\"B\"");
	c = strstr(out, "\"C\"");
	d = strstr(out, "\"D\"");
	ok(a && b && c && d && a < c && c < b && b < d, "mmr 0.5 over records: A C B D");
	ok(strstr(out, "\"id\":\"C\",\"score\":0.5,\"embedding\":[0,1],\"rank\":2") != NULL,
	   "... ranks follow the MMR order");
	free(out);
}

/* A stand-in for the cross-encoder: the score of a pair is the number of
 * its segment-1 tokens (document + final separator), and it checks the
 * framing [CLS] ... [SEP] ... [SEP] with BERT's ids 101 and 102. */
static int fake_calls, fake_bad_frame, fake_max_tokens;

static int fake_run(void *arg, const struct encoder_seq *seqs, int n_seq, float *out,
		    struct lm_error *err)
{
	int i, j, seps, batch = 0;

	(void)arg;
	(void)err;
	fake_calls++;
	for (i = 0; i < n_seq; i++) {
		int n1 = 0;

		for (j = 0, seps = 0; j < seqs[i].n_tokens; j++) {
			seps += seqs[i].tokens[j] == 102;
			n1 += seqs[i].types[j] == 1;
			if (seqs[i].types[j] != (seps >= 1 && !(seps == 1 && seqs[i].tokens[j] == 102)))
				fake_bad_frame++;
		}
		if (seqs[i].tokens[0] != 101 || seqs[i].tokens[seqs[i].n_tokens - 1] != 102 ||
		    seps != 2)
			fake_bad_frame++;
		out[2 * i] = (float)n1;
		out[2 * i + 1] = -100;  /* label 1 is not the score */
		batch += seqs[i].n_tokens;
	}
	if (batch > fake_max_tokens)
		fake_max_tokens = batch;
	return 0;
}

static void test_scorer(void)
{
	static const char *in[] = {
		"{\"qid\":\"q1\",\"id\":\"s\",\"rank\":1,\"score\":9,\"query\":\"cat\",\"text\":\"one\"}\n"
		"{\"qid\":\"q1\",\"id\":\"l\",\"rank\":2,\"score\":8,\"query\":\"cat\","
		"\"text\":\"one two three\"}\n"
		"{\"qid\":\"q1\",\"id\":\"m\",\"rank\":3,\"query\":\"cat\",\"title\":\"one\","
		"\"text\":\"two\"}\n"
		"{\"qid\":\"q2\",\"id\":\"x\",\"rank\":1,\"score\":1,\"query\":\"dog\",\"text\":\"one\","
		"\"retrieval_score\":42}\n"
	};
	static const char *noquery[] = {
		"{\"qid\":\"q1\",\"id\":\"s\",\"query\":\"cat\",\"text\":\"one\"}\n"
		"{\"qid\":\"q1\",\"id\":\"t\",\"text\":\"one\"}\n"
	};
	char path[512];
	const char *dir = getenv("SHARED") ? getenv("SHARED") : "../shared";
	struct tokenizer *tok = NULL;
	struct rerank_frame f;
	struct rerank_options opt = { 0 };
	struct rerank_scorer sc = { .n_ctx = 512, .n_types = 2, .n_out = 2, .run = fake_run };
	struct rerank_stats st;
	struct lm_error err = { 0 };
	char *out;

	snprintf(path, sizeof path, "%s/tokenizers/llama.cpp-vocab/ggml-vocab-bert-bge.gguf", dir);
	if (access(path, R_OK) || tokenizer_load(&tok, path, &err)) {
		diag("skipping the scorer tests: no %s", path);
		return;
	}
	/* ggml-vocab-bert-bge.gguf: cls_token_id 101, seperator_token_id 102 */
	is_int(rerank_frame_probe(tok, &f, &err), 0, "frame probe");
	ok(f.n_prefix == 1 && f.prefix[0] == 101 && f.n_suffix == 1 && f.suffix[0] == 102,
	   "BERT frame: [CLS] ... [SEP]");
	sc.tok = tok;

	/* [CLS] cat [SEP] one [SEP]: 2 segment-1 tokens; "one two three" 4;
	 * "one two" (title + text) 3; all one-piece words in BERT's vocab. */
	is_int(run_streams(&opt, &sc, in, 1, &out, &st, &err), 0, "scored: %s", err.msg);
	is_str(out,
	       "{\"qid\":\"q1\",\"id\":\"l\",\"rank\":1,\"score\":4,\"retrieval_score\":8,"
	       "\"query\":\"cat\",\"text\":\"one two three\"}\n"
	       "{\"qid\":\"q1\",\"id\":\"m\",\"rank\":2,\"query\":\"cat\",\"title\":\"one\","
	       "\"text\":\"two\",\"score\":3}\n"
	       "{\"qid\":\"q1\",\"id\":\"s\",\"rank\":3,\"score\":2,\"retrieval_score\":9,"
	       "\"query\":\"cat\",\"text\":\"one\"}\n"
	       "{\"qid\":\"q2\",\"id\":\"x\",\"rank\":1,\"score\":2,\"query\":\"dog\",\"text\":\"one\","
	       "\"retrieval_score\":42}\n",
	       "scores replace score, old score kept as retrieval_score (an earlier one wins)");
	is_int(fake_bad_frame, 0, "every pair framed [CLS] q [SEP] d [SEP], segments 0 then 1");
	is_int(fake_calls, 1, "four pairs in one call");
	is_int(st.pairs, 4, "four pairs scored");
	free(out);

	/* batches of at most 8 tokens: pairs are 5, 7, 6, 5 tokens long */
	opt.batch_tokens = 8;
	fake_calls = fake_max_tokens = 0;
	is_int(run_streams(&opt, &sc, in, 1, &out, &st, &err), 0, "small batches");
	is_int(fake_calls, 4, "... one pair per call");
	ok(fake_max_tokens <= 8, "... none over the budget");
	ok(strstr(out, "\"id\":\"l\",\"rank\":1,\"score\":4,") != NULL, "... same result");
	opt.batch_tokens = 0;
	free(out);

	opt.sigmoid = 1;
	opt.k = 1;
	is_int(run_streams(&opt, &sc, in, 1, &out, &st, &err), 0, "sigmoid");
	/* 1 / (1 + e^-4) = 0.98201379..., 1 / (1 + e^-2) = 0.88079708... */
	ok(fabs(field(out, "score") - 0.9820137900379085) < 1e-6, "sigmoid(4) for the best");
	ok(strstr(out, "\"id\":\"l\"") && strstr(out, "\"id\":\"x\"") && !strstr(out, "\"id\":\"m\""),
	   "k 1 per query");
	free(out);
	opt.sigmoid = 0;
	opt.k = 0;

	sc.n_ctx = 5;
	fake_bad_frame = 0;
	is_int(run_streams(&opt, &sc, in, 1, &out, &st, &err), 0, "short context");
	is_int(st.truncated, 2, "two of four pairs cut to 5 tokens ([CLS] cat [SEP] one [SEP] fits)");
	is_int(fake_bad_frame, 0, "... still framed");
	free(out);
	sc.n_ctx = 512;

	is_int(run_streams(&opt, &sc, noquery, 1, &out, &st, &err), LM_EINVAL, "hit without query");
	ok(strstr(err.msg, ".run1:2: hit 't' of query 'q1' has no \"query\"") != NULL,
	   "... named: %s", err.msg);
	free(out);
	tokenizer_free(tok);
}

int main(void)
{
	test_sort();
	test_edges();
	test_mmr();
	test_pair();
	test_group_sort_k();
	test_bad();
	test_rrf();
	test_edges_stream();
	test_mmr_stream();
	test_scorer();
	return tap_done();
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/hnsw.h"
#include "index/idxfile.h"
#include "tap.h"
#include "ann_testutil.h"

#define N 3000
#define DIM 32
#define NQ 100
#define K 10

static int reject_even(uint32_t doc, void *arg)
{
	(void)arg;
	return doc & 1;
}

static int every_100th(uint32_t doc, void *arg)
{
	(void)arg;
	return doc % 100 == 0;
}

static int below_5(uint32_t doc, void *arg)
{
	(void)arg;
	return doc < 5;
}

/* mean recall@K of the index over the queries, against tu_exact */
static double recall(const struct hnsw_index *h, const float *x, uint32_t n, const float *q, uint32_t ef,
	enum ann_metric m, ann_accept_fn *accept, int *short_answers)
{
	struct hnsw_scratch *s = hnsw_scratch_new();
	struct ann_hit hits[K];
	uint32_t truth[K], i, nt, found = 0, total = 0;
	int got;

	*short_answers = 0;
	for (i = 0; i < NQ; i++) {
		got = hnsw_search(h, s, q + (size_t)i * DIM, K, ef, accept, NULL, hits);
		nt = tu_exact(x, n, DIM, m, q + (size_t)i * DIM, K, accept, NULL, truth);
		if (got != (int)nt)
			(*short_answers)++;
		if (got > 0)
			found += tu_overlap(hits, (uint32_t)got, truth, nt);
		total += nt;
	}
	hnsw_scratch_free(s);
	return (double)found / total;
}

static int same_answers(const struct hnsw_index *a, const struct hnsw_index *b, const float *q, uint32_t ef)
{
	struct hnsw_scratch *s = hnsw_scratch_new();
	struct ann_hit ha[K], hb[K];
	int i, na, nb, same = 1;

	for (i = 0; i < NQ && same; i++) {
		na = hnsw_search(a, s, q + (size_t)i * DIM, K, ef, NULL, NULL, ha);
		nb = hnsw_search(b, s, q + (size_t)i * DIM, K, ef, NULL, NULL, hb);
		same = na == nb && !memcmp(ha, hb, (size_t)na * sizeof(*ha));
	}
	hnsw_scratch_free(s);
	return same;
}

static struct hnsw_index *build(const float *x, uint32_t n, enum ann_metric m, struct threadpool *pool)
{
	struct hnsw_params p = { .M = 12, .ef_construction = 100, .seed = 7 };
	struct lm_error err = { 0 };
	struct hnsw_index *h = hnsw_new(DIM, m, &p, &err);

	if (h && hnsw_add(h, x, n, pool, &err)) {
		diag("%s", err.msg);
		hnsw_free(h);
		h = NULL;
	}
	return h;
}

static void test_recall(const float *x, const float *q)
{
	struct hnsw_index *h = build(x, N, ANN_L2, NULL);
	struct hnsw_scratch *s = hnsw_scratch_new();
	struct ann_hit hits[K];
	double r;
	int shorts, got;

	ok(h != NULL, "l2: 3000 x 16 built with M=12 efC=100");
	r = recall(h, x, N, q, 64, ANN_L2, NULL, &shorts);
	diag("l2 recall@10 at ef=64: %.4f", r);
	ok(r >= 0.95, "l2: recall@10 %.3f >= 0.95 at ef=64", r);
	is_int(shorts, 0, "l2: every query gets 10 hits");
	r = recall(h, x, N, q, 10, ANN_L2, NULL, &shorts);
	ok(r >= 0.80, "l2: recall@10 %.3f >= 0.80 at ef=10", r);

	got = hnsw_search(h, s, q, K, 64, NULL, NULL, hits);
	is_int(got, K, "search returns k hits");
	is_near(hits[0].score, tu_score(q, x + (size_t)hits[0].doc * DIM, DIM, ANN_L2), 1e-4,
		"l2 score is minus the squared distance");
	ok(hits[0].score >= hits[1].score && hits[8].score >= hits[9].score, "hits best first");

	/* a stored vector finds itself at distance 0 */
	got = hnsw_search(h, s, x + 1234 * DIM, 1, 32, NULL, NULL, hits);
	ok(got == 1 && hits[0].doc == 1234 && hits[0].score == 0, "vector 1234 finds itself");
	is_int(hnsw_search(h, s, q, 0, 64, NULL, NULL, hits), 0, "k = 0 gives no hits");
	ok(hnsw_memory(h) / N < (size_t)(DIM * 4 + (1 + 24) * 4 + 5 + 16), "memory per vector %zu bytes",
		hnsw_memory(h) / N);
	hnsw_scratch_free(s);
	hnsw_free(h);
}

static void test_ip(float *x, float *q)
{
	struct hnsw_index *h;
	double r;
	int shorts;

	tu_normalise(x, N, DIM);
	tu_normalise(q, NQ, DIM);
	h = build(x, N, ANN_IP, NULL);
	ok(h != NULL, "ip (cosine on unit vectors) built");
	r = recall(h, x, N, q, 64, ANN_IP, NULL, &shorts);
	ok(r >= 0.95, "ip: recall@10 %.3f >= 0.95 at ef=64", r);
	hnsw_free(h);
}

static void test_filters(const float *x, const float *q)
{
	struct hnsw_index *h = build(x, N, ANN_L2, NULL);
	struct hnsw_scratch *s = hnsw_scratch_new();
	struct ann_hit hits[K];
	int shorts, got, i, bad = 0;
	double r;

	r = recall(h, x, N, q, 64, ANN_L2, reject_even, &shorts);
	ok(r >= 0.95, "tombstones (even docs): recall@10 %.3f among live docs", r);
	is_int(shorts, 0, "tombstones: 10 hits per query");
	for (i = 0; i < NQ; i++) {
		got = hnsw_search(h, s, q + (size_t)i * DIM, K, 64, reject_even, NULL, hits);
		while (got-- > 0)
			bad += !(hits[got].doc & 1);
	}
	is_int(bad, 0, "no tombstoned doc returned");

	/* 30 docs pass; the walk must not stop at ef candidates */
	r = recall(h, x, N, q, 16, ANN_L2, every_100th, &shorts);
	is_int(shorts, 0, "selective filter (1%%): still 10 hits per query at ef=16");
	ok(r >= 0.95, "selective filter: recall@10 %.3f", r);

	got = hnsw_search(h, s, q, K, 64, below_5, NULL, hits);
	is_int(got, 5, "only 5 docs pass: 5 hits");
	hnsw_scratch_free(s);
	hnsw_free(h);
}

static void test_incremental(const float *x, const float *q)
{
	struct hnsw_params p = { .M = 12, .ef_construction = 100, .seed = 7 };
	struct hnsw_index *one = build(x, N, ANN_L2, NULL), *two;
	struct lm_error err = { 0 };
	double r;
	int shorts;

	two = hnsw_new(DIM, ANN_L2, &p, &err);
	ok(!hnsw_add(two, x, 1000, NULL, &err) && !hnsw_add(two, x + 1000 * DIM, 1, NULL, &err) &&
		!hnsw_add(two, x + 1001 * DIM, N - 1001, NULL, &err), "built in three batches");
	is_int(hnsw_count(two), N, "count after batches");
	ok(same_answers(one, two, q, 64), "batched build answers as the one-batch build");
	r = recall(two, x, N, q, 64, ANN_L2, NULL, &shorts);
	ok(r >= 0.95, "batched: recall@10 %.3f", r);
	hnsw_free(one);
	hnsw_free(two);
}

static void test_threads(const float *x, const float *q)
{
	struct lm_error err = { 0 };
	struct threadpool *pool = threadpool_new(4, &err);
	struct hnsw_index *h = build(x, N, ANN_L2, pool);
	double r;
	int shorts;

	ok(h != NULL, "built with 4 threads");
	r = recall(h, x, N, q, 64, ANN_L2, NULL, &shorts);
	ok(r >= 0.95, "4 threads: recall@10 %.3f", r);
	hnsw_free(h);
	threadpool_free(pool);
}

/* What a corruption does to a loaded index: load's result; when it loads,
 * hnsw_check's (into *check), a search for node probe's own vector (its
 * result into *search, the problem it reports into problem) and an append
 * (into *add).  Each search explores from the entry point towards probe, so
 * it reads probe's lists on every layer probe is on. */
struct corruption {
	int load, check, search, add;
	char problem[160];
};

static void corrupt_and_load(struct tu_sections *sec, const char *name, size_t word, uint32_t value, int truncate,
	uint32_t probe, const float *x, struct corruption *c, struct lm_error *err)
{
	struct tu_sections copy = *sec;
	struct hnsw_index *h = NULL;
	struct hnsw_scratch *s = hnsw_scratch_new();
	struct ann_hit hits[K];
	struct lm_error e2 = { 0 };
	int i = tu_find(sec, name);
	void *saved;

	memset(c, 0, sizeof(*c));
	saved = malloc(sec->size[i] + 1);
	memcpy(saved, sec->data[i], sec->size[i]);
	if (truncate)
		copy.size[i]--;
	else
		((uint32_t *)copy.data[i])[word] = value;
	c->load = hnsw_load(&h, tu_get, &copy, err);
	if (!c->load) {
		c->search = hnsw_search(h, s, x + (size_t)probe * DIM, K, 64, NULL, NULL, hits);
		snprintf(c->problem, sizeof(c->problem), "%s", hnsw_scratch_problem(s));
		c->check = hnsw_check(h, err);
		c->add = hnsw_add(h, x + (size_t)2500 * DIM, 1, NULL, &e2);
	}
	memcpy(sec->data[i], saved, sec->size[i]);
	free(saved);
	hnsw_scratch_free(s);
	hnsw_free(h);
}

static void test_serialise(const float *x, const float *q)
{
	struct tu_sections sec = { 0 };
	struct lm_error err = { 0 };
	struct hnsw_index *h = build(x, 2000, ANN_L2, NULL), *l = NULL, *full;
	const uint32_t M0 = 24;
	int r, shorts;

	ok(!hnsw_write(h, tu_put, &sec, &err), "written to sections");
	ok(!hnsw_load(&l, tu_get, &sec, &err), "loaded in place: %s", err.msg);
	ok(l && same_answers(h, l, q, 64), "loaded index answers as the built one");
	ok(l && hnsw_vector(l, 5) == (const float *)sec.data[tu_find(&sec, "hnsw.vec")] + 5 * DIM,
		"vectors used in place (zero copy)");
	ok(l && !hnsw_add(l, x + 2000 * DIM, N - 2000, NULL, &err), "append to a loaded index");
	full = build(x, N, ANN_L2, NULL);
	ok(l && same_answers(full, l, q, 64), "loaded + appended answers as a one-batch build");
	r = l ? (int)(100 * recall(l, x, N, q, 64, ANN_L2, NULL, &shorts)) : 0;
	ok(r >= 95, "appended: recall %d%%", r);
	hnsw_free(full);
	hnsw_free(l);

	/* Lists are not read at load (O(1) open); a bad one is found by the
	 * search that reads it, by hnsw_check, and before an append. */
	{
		struct corruption c;

		/* node 7's first layer-0 neighbour points past the end */
		corrupt_and_load(&sec, "hnsw.l0", 7 * (1 + M0) + 1, 2000, 0, 7, x, &c, &err);
		ok(c.load == 0, "bad neighbour id: the load does not read the lists");
		ok(c.check == LM_EFORMAT && strstr(err.msg, "hnsw.l0") && strstr(err.msg, "node 7") &&
			strstr(err.msg, "links to 2000"), "hnsw_check refuses a neighbour id >= n: %s", err.msg);
		ok(c.search == LM_EFORMAT && strstr(c.problem, "hnsw.l0: node 7 layer 0 links to 2000, only 2000 nodes"),
			"a search reading the list reports it: %s", c.problem);
		is_int(c.add, LM_EFORMAT, "append to the corrupt index refused");

		corrupt_and_load(&sec, "hnsw.l0", 9 * (1 + M0), M0 + 1, 0, 9, x, &c, &err);
		ok(c.load == 0 && c.check == LM_EFORMAT && strstr(err.msg, "at most 24"),
			"neighbour count > M0: hnsw_check refuses it: %s", err.msg);
		ok(c.search == LM_EFORMAT && strstr(c.problem, "node 9 layer 0 has 25 neighbours, at most 24"),
			"a search reading it reports it: %s", c.problem);

		/* every id wrong in one list: the search still ends, without them */
		corrupt_and_load(&sec, "hnsw.l0", 11 * (1 + M0) + 1, 0xffffffffu, 0, 11, x, &c, &err);
		ok(c.search == LM_EFORMAT && c.check == LM_EFORMAT, "id 2^32-1: search and check report it");
	}
	{
		struct corruption c;

		corrupt_and_load(&sec, "hnsw.vec", 0, 0, 1, 0, x, &c, &err);
		ok(c.load == LM_EFORMAT && strstr(err.msg, "hnsw.vec"), "truncated vectors refused: %s", err.msg);
		corrupt_and_load(&sec, "hnsw.hdr", 0, 0x41414141, 0, 0, x, &c, &err);
		ok(c.load == LM_EFORMAT && strstr(err.msg, "hnsw.hdr"), "bad magic refused: %s", err.msg);
		corrupt_and_load(&sec, "hnsw.hdr", 9, 2000, 0, 0, x, &c, &err);   /* entry = n */
		ok(c.load == LM_EFORMAT, "entry point out of range refused: %s", err.msg);
	}
	{
		struct corruption c;
		uint32_t i, top = 0, entry = ((const uint32_t *)sec.data[tu_find(&sec, "hnsw.hdr")])[9];
		const uint8_t *lvl = sec.data[tu_find(&sec, "hnsw.lvl")];

		for (i = 0; i < 2000; i++)
			if (lvl[i] && i != entry) {
				top = i;
				break;
			}
		corrupt_and_load(&sec, "hnsw.uoff", top, 0xfffffff0u, 0, top, x, &c, &err);
		ok(c.load == 0 && c.check == LM_EFORMAT && strstr(err.msg, "hnsw.uoff"),
			"upper offset past the end: hnsw_check refuses it: %s", err.msg);
		ok(c.search == LM_EFORMAT && strstr(c.problem, "hnsw.uoff"), "a search reaching node %u on layer 1 "
			"reports it: %s", top, c.problem);
		/* the entry point's lists are the first every search reads */
		corrupt_and_load(&sec, "hnsw.uoff", entry, 0xfffffff0u, 0, top, x, &c, &err);
		ok(c.search == LM_EFORMAT && strstr(c.problem, "hnsw.uoff") && c.check == LM_EFORMAT,
			"entry point's upper offset past the end: reported: %s", c.problem);
		/* node 0 (level 0) named as a layer-1 neighbour of the entry point */
		if (lvl[0] == 0) {
			const uint32_t *uoff = sec.data[tu_find(&sec, "hnsw.uoff")];

			corrupt_and_load(&sec, "hnsw.up", uoff[entry] + (lvl[entry] - 1) * (1 + M0 / 2) + 1, 0, 0,
				0, x, &c, &err);
			ok(c.load == 0 && c.check == LM_EFORMAT && strstr(err.msg, "level 0"),
				"a layer-%d link to a level-0 node: hnsw_check refuses it: %s", lvl[entry], err.msg);
			ok(c.search >= 0 || strstr(c.problem, "hnsw.lvl: node 0 is linked on layer"),
				"a search that follows it reports it, never reads past node 0's lists: %s", c.problem);
			is_int(c.add, LM_EFORMAT, "and an append, which would write into its lists, is refused");
		}
	}
	sec.n--;
	l = NULL;
	r = hnsw_load(&l, tu_get, &sec, &err);
	ok(r == LM_EFORMAT && strstr(err.msg, "hnsw.up"), "missing section refused: %s", err.msg);
	sec.n++;
	tu_sections_free(&sec);
	hnsw_free(h);
}

/* through the real container: written with idxfile, mapped, used in place */
static void test_idxfile(const float *x, const float *q)
{
	char path[] = "/tmp/test_hnsw.XXXXXX";
	struct idxfile_writer *w = NULL;
	struct idxfile f;
	struct lm_error err = { 0 };
	struct hnsw_index *h = build(x, 1000, ANN_L2, NULL), *l = NULL;
	int fd = mkstemp(path), r;

	close(fd);
	r = idxfile_writer_open(&w, path, &err);
	if (!r)
		r = hnsw_write(h, ann_idxfile_put, w, &err);
	if (!r)
		r = idxfile_writer_commit(w, &err);
	else
		idxfile_writer_abort(w);
	ok(!r, "written to an index file: %s", err.msg);
	ok(!idxfile_open(&f, path, &err), "index file opened");
	ok(!hnsw_load(&l, ann_idxfile_get, &f, &err), "hnsw loaded from the mapping: %s", err.msg);
	ok(l && same_answers(h, l, q, 32), "mapped index answers as the built one");
	hnsw_free(l);
	idxfile_close(&f);
	unlink(path);
	hnsw_free(h);
}

static void test_edges(void)
{
	struct lm_error err = { 0 };
	struct hnsw_params p = { .M = 1 };
	struct hnsw_index *h = hnsw_new(4, ANN_L2, NULL, &err);
	struct hnsw_scratch *s = hnsw_scratch_new();
	struct ann_hit hits[4];
	float v[3 * 4] = { 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0 };

	is_int(hnsw_search(h, s, v, 3, 10, NULL, NULL, hits), 0, "empty index: no hits");
	ok(!hnsw_add(h, v, 3, NULL, &err), "three vectors added");
	is_int(hnsw_search(h, s, v + 4, 4, 10, NULL, NULL, hits), 3, "k > n returns n hits");
	ok(hits[0].doc == 1 && hits[1].doc == 0 && hits[2].doc == 2, "order by distance from (1,0,0,0)");
	is_near(hits[2].score, -5.0, 1e-6, "score -(1^2 + 2^2)");
	ok(hnsw_new(4, ANN_L2, &p, &err) == NULL && err.code == LM_EINVAL, "M=1 refused: %s", err.msg);
	ok(hnsw_new(0, ANN_L2, NULL, &err) == NULL, "dim 0 refused");
	hnsw_scratch_free(s);
	hnsw_free(h);
}

int main(void)
{
	float *x, *q;

	tu_seed(42);
	/* queries from the same clusters as the data */
	x = tu_clustered(N + NQ, DIM, 20, 1.0);
	q = x + (size_t)N * DIM;
	test_edges();
	test_recall(x, q);
	test_filters(x, q);
	test_incremental(x, q);
	test_threads(x, q);
	test_serialise(x, q);
	test_idxfile(x, q);
	test_ip(x, q);
	free(x);
	return tap_done();
}

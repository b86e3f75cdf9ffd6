/* test_bm25.c - BM25 scores against a hand computation, the index format
 * round trip (in memory and through the index container), filters, and
 * refusal of corrupt sections. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/analyzer.h"
#include "index/bm25.h"
#include "index/idxfile.h"
#include "tap.h"

/* The three documents of the hand computation, analyzed with no stop words
 * and no stemming:
 *   0 "apple banana apple"        dl 3: apple 2, banana 1
 *   1 "banana cherry"             dl 2: banana 1, cherry 1
 *   2 "cherry cherry cherry date" dl 4: cherry 3, date 1
 * N = 3, avgdl = 9 / 3 = 3; df: apple 1, banana 2, cherry 2, date 1.
 * idf(df = 1) = ln(1 + 2.5 / 1.5) = ln(8/3); idf(df = 2) = ln(1 + 1.5 / 2.5)
 * = ln(1.6).  With k1 = 0.9, b = 0.4 the length part k1 (1 - b + b dl/avgdl)
 * is 0.9 (doc 0), 0.9 * (0.6 + 0.8/3) = 0.78 (doc 1), 0.9 * (0.6 + 1.6/3) =
 * 1.02 (doc 2). */
static const char *const docs[] = {
	"apple banana apple",
	"banana cherry",
	"cherry cherry cherry date",
};

#define IDF1 log(8.0 / 3.0)
#define IDF2 log(1.6)

static struct bm25_builder *build3(unsigned analyzer)
{
	struct bm25_params p;
	struct bm25_builder *b;
	struct lm_error err = { 0 };

	bm25_params_default(&p);
	p.analyzer = analyzer;
	if (bm25_builder_new(&b, &p, &err))
		return NULL;
	for (uint32_t i = 0; i < 3; i++)
		if (bm25_builder_add(b, i, docs[i], strlen(docs[i]), &err)) {
			bm25_builder_free(b);
			return NULL;
		}
	return b;
}

/* Run QUERY, return the hits sorted in HITS (up to K). */
static int run(struct bm25_searcher *s, const char *query, uint32_t k,
	       int (*accept)(uint32_t, void *), struct topk_hit *hits, struct lm_error *err)
{
	struct topk top;
	int rc;

	if (topk_init(&top, k))
		return -100;
	rc = bm25_search(s, query, strlen(query), accept, NULL, &top, err);
	if (rc == 0) {
		const struct topk_hit *h = topk_sorted(&top);

		memcpy(hits, h, top.n * sizeof *h);
		rc = (int)top.n;
	}
	topk_free(&top);
	return rc;
}

static int odd_only(uint32_t doc, void *arg)
{
	(void)arg;
	return doc & 1;
}

static void check_scores(struct bm25_index *ix, const char *how)
{
	struct bm25_searcher *s;
	struct topk_hit h[8];
	struct lm_error err = { 0 };
	int n;

	if (!ok(bm25_searcher_new(&s, ix, &err) == 0, "%s: searcher", how))
		return;
	n = run(s, "banana", 10, NULL, h, &err);
	is_int(n, 2, "%s: banana matches two documents", how);
	if (n == 2) {
		is_int(h[0].doc, 1, "%s: the shorter document ranks first", how);
		is_near(h[0].score, IDF2 * 1 / (1 + 0.78), 1e-6, "%s: banana in doc 1", how);
		is_int(h[1].doc, 0, "%s: then doc 0", how);
		is_near(h[1].score, IDF2 * 1 / (1 + 0.9), 1e-6, "%s: banana in doc 0", how);
	}
	n = run(s, "Apple, CHERRY!", 10, NULL, h, &err);
	is_int(n, 3, "%s: apple cherry matches all three", how);
	if (n == 3) {
		is_int(h[0].doc, 0, "%s: rank 1", how);
		is_near(h[0].score, IDF1 * 2 / (2 + 0.9), 1e-6, "%s: apple tf 2 in doc 0", how);
		is_int(h[1].doc, 2, "%s: rank 2", how);
		is_near(h[1].score, IDF2 * 3 / (3 + 1.02), 1e-6, "%s: cherry tf 3 in doc 2", how);
		is_int(h[2].doc, 1, "%s: rank 3", how);
		is_near(h[2].score, IDF2 * 1 / (1 + 0.78), 1e-6, "%s: cherry tf 1 in doc 1", how);
	}
	/* a repeated query term counts twice (Pyserini's bag of words) */
	n = run(s, "banana banana", 10, NULL, h, &err);
	ok(n == 2 && fabs(h[0].score - 2 * IDF2 / (1 + 0.78)) < 1e-6, "%s: query tf weights", how);
	/* a sum over two terms */
	n = run(s, "banana date", 10, NULL, h, &err);
	ok(n == 3 && h[0].doc == 2 && fabs(h[0].score - IDF1 * 1 / (1 + 1.02)) < 1e-6,
	   "%s: date alone in doc 2", how);
	/* k smaller than the matches keeps the best */
	n = run(s, "apple cherry", 1, NULL, h, &err);
	ok(n == 1 && h[0].doc == 0, "%s: k = 1", how);
	/* the filter runs during the search: k results among accepted docs */
	n = run(s, "apple cherry", 1, odd_only, h, &err);
	ok(n == 1 && h[0].doc == 1, "%s: accept() filters", how);
	is_int(run(s, "kiwi", 10, NULL, h, &err), 0, "%s: unknown term, no hits", how);
	is_int(run(s, "", 10, NULL, h, &err), 0, "%s: empty query", how);
	/* the accumulator is clean between queries */
	n = run(s, "banana", 10, NULL, h, &err);
	ok(n == 2 && fabs(h[0].score - IDF2 / (1 + 0.78)) < 1e-6, "%s: repeatable", how);
	bm25_searcher_free(s);
}

static void test_hand_computation(void)
{
	struct bm25_builder *b = build3(0);
	struct bm25_index ix;
	struct lm_error err = { 0 };
	void *data = NULL;
	size_t size = 0;

	if (!ok(b != NULL, "build the three documents"))
		return;
	is_int(bm25_builder_docs(b), 3, "three documents");
	is_int(bm25_builder_terms(b), 4, "four terms");
	is_near(bm25_idf(3, 1), log(8.0 / 3.0), 1e-7, "idf, df = 1 of 3");
	is_near(bm25_idf(3, 2), log(1.6), 1e-7, "idf, df = 2 of 3");
	is_near(bm25_idf(3, 3), log(1 + 0.5 / 3.5), 1e-7, "idf stays positive when df = N");
	ok(bm25_encode(b, &data, &size, &err) == 0, "encode");
	if (ok(bm25_open_mem(&ix, data, size, "mem", &err) == 0, "load: %s", err.msg)) {
		is_int(ix.n_docs, 3, "N");
		is_int(ix.n_terms, 4, "terms");
		is_near(ix.avgdl, 3.0, 1e-7, "avgdl = 9 / 3");
		is_int(bm25_term_find(&ix, "apple", 5), 0, "terms sorted: apple first");
		is_int(bm25_term_find(&ix, "date", 4), 3, "date last");
		is_int(bm25_term_find(&ix, "dat", 3), -1, "prefix is not a term");
		is_int(bm25_term_find(&ix, "dates", 5), -1, "extension is not a term");
		check_scores(&ix, "memory");
		/* b = 0: no length normalisation, the length part is k1 */
		ok(bm25_index_set_params(&ix, 0.9f, 0.0f, &err) == 0, "set b = 0");
		{
			struct bm25_searcher *s;
			struct topk_hit h[4];

			if (bm25_searcher_new(&s, &ix, &err) == 0) {
				int n = run(s, "banana", 10, NULL, h, &err);

				ok(n == 2 && fabs(h[0].score - IDF2 / 1.9) < 1e-6 &&
				   h[0].score == h[1].score && h[0].doc == 0,
				   "b = 0 ties, broken by doc number");
				bm25_searcher_free(s);
			}
		}
		ok(bm25_index_set_params(&ix, -1, 0.5f, &err) == LM_EINVAL, "k1 < 0 refused");
		ok(bm25_index_set_params(&ix, 1, 1.5f, &err) == LM_EINVAL, "b > 1 refused");
		bm25_index_free(&ix);
	}
	free(data);
	bm25_builder_free(b);
}

static void test_container(void)
{
	struct bm25_builder *b = build3(0);
	struct idxfile_writer *w;
	struct idxfile f;
	struct bm25_index ix;
	struct lm_error err = { 0 };
	char path[] = "/tmp/test_bm25_XXXXXX";
	int fd = mkstemp(path);

	if (!ok(b && fd >= 0, "temporary file"))
		return;
	close(fd);
	ok(idxfile_writer_open(&w, path, &err) == 0, "writer");
	idxfile_writer_info(w)->doc_count = 3;
	ok(bm25_write(b, w, &err) == 0, "bm25_write");
	ok(idxfile_writer_info(w)->flags & IDXFILE_F_BM25, "flag set");
	ok(idxfile_writer_commit(w, &err) == 0, "commit: %s", err.msg);
	if (ok(idxfile_open(&f, path, &err) == 0, "open: %s", err.msg)) {
		if (ok(bm25_load(&ix, &f, &err) == 0, "bm25_load: %s", err.msg)) {
			check_scores(&ix, "file");
			bm25_index_free(&ix);
		}
		/* more bm25 rows than the file has rows */
		f.info.doc_count = 2;
		ok(bm25_load(&ix, &f, &err) == LM_EFORMAT && strstr(err.msg, path),
		   "more documents than rows refused: %s", err.msg);
		idxfile_close(&f);
	}
	unlink(path);
	bm25_builder_free(b);
}

static void test_analyzer_and_gaps(void)
{
	struct bm25_params p;
	struct bm25_builder *b;
	struct bm25_index ix;
	struct bm25_searcher *s;
	struct topk_hit h[4];
	struct lm_error err = { 0 };
	void *data;
	size_t size;

	bm25_params_default(&p);
	ok(bm25_builder_new(&b, &p, &err) == 0, "default builder");
	/* rows 1..4 never added: empty documents */
	ok(bm25_builder_add(b, 0, "The cats and the dogs", 21, &err) == 0, "add row 0");
	ok(bm25_builder_add(b, 5, "A cat's toy", 11, &err) == 0, "add row 5");
	ok(bm25_builder_add(b, 5, "again", 5, &err) == LM_EINVAL, "row 5 twice refused");
	ok(bm25_builder_add(b, 3, "back", 4, &err) == LM_EINVAL && strstr(err.msg, "document 3"),
	   "rows out of order refused: %s", err.msg);
	is_int(bm25_builder_docs(b), 6, "rows 0..5");
	if (bm25_encode(b, &data, &size, &err) == 0 && bm25_open_mem(&ix, data, size, "m", &err) == 0) {
		is_int(ix.n_docs, 6, "six rows");
		is_int(ix.n_with_terms, 2, "two with terms (Lucene's docCount)");
		/* dl: cat dog = 2; cat toy = 2 */
		is_near(ix.avgdl, 2.0, 1e-7, "stop words do not count in dl");
		is_int(ix.params.analyzer, ANALYZER_DEFAULT, "analyzer recorded");
		ok(bm25_term_find(&ix, "cat", 3) >= 0 && bm25_term_find(&ix, "the", 3) < 0,
		   "terms are stemmed, stop words gone");
		if (bm25_searcher_new(&s, &ix, &err) == 0) {
			/* query analyzed as documents: "CATS" -> cat */
			int n = run(s, "CATS", 10, NULL, h, &err);

			ok(n == 2 && fabs(h[0].score - log(1 + 0.5 / 2.5) / (1 + 0.9)) < 1e-6,
			   "query analyzed with the index's analyzer");
			bm25_searcher_free(s);
		}
		bm25_index_free(&ix);
		free(data);
	}
	bm25_builder_free(b);

	p.k1 = -0.5f;
	ok(bm25_builder_new(&b, &p, &err) == LM_EINVAL && b == NULL, "k1 < 0: %s", err.msg);
	p.k1 = 0.9f;
	p.b = NAN;
	ok(bm25_builder_new(&b, &p, &err) == LM_EINVAL, "b NaN: %s", err.msg);
	p.b = 0.4f;
	p.analyzer = 0x10;
	ok(bm25_builder_new(&b, &p, &err) == LM_EINVAL, "unknown analyzer flag: %s", err.msg);
}

/* Postings with gaps and frequencies above 127 (multi-byte varints). */
static void test_big_postings(void)
{
	struct bm25_params p;
	struct bm25_builder *b;
	struct bm25_index ix;
	struct bm25_searcher *s;
	struct topk_hit h[4];
	struct lm_error err = { 0 };
	static char text[2000];
	void *data;
	size_t size;
	int fine = 1;

	bm25_params_default(&p);
	p.analyzer = 0;
	bm25_builder_new(&b, &p, &err);
	for (uint32_t d = 0; d < 1000; d++) {
		size_t n = 0;

		if (d == 0 || d == 300 || d == 999) {
			int reps = d == 300 ? 200 : 1;

			for (int i = 0; i < reps; i++)
				n += (size_t)snprintf(text + n, sizeof text - n, "rare ");
		} else
			n = (size_t)snprintf(text, sizeof text, "filler%u common", d % 7);
		fine &= bm25_builder_add(b, d, text, n, &err) == 0;
	}
	ok(fine, "1000 documents added");
	if (bm25_encode(b, &data, &size, &err) == 0 && bm25_open_mem(&ix, data, size, "m", &err) == 0) {
		double idf = log(1 + (1000 - 3 + 0.5) / 3.5);
		double avgdl = (997 * 2 + 2 + 200) / 1000.0;
		/* dl = 200 is stored as Lucene's norm: 24 + ((176 >> 4) << 4) = 200;
		 * dl = 1 exact. */
		double n300 = 0.9 * (0.6 + 0.4 * 200 / avgdl);
		double n0 = 0.9 * (0.6 + 0.4 * 1 / avgdl);
		int n;

		if (bm25_searcher_new(&s, &ix, &err) == 0) {
			n = run(s, "rare", 10, NULL, h, &err);
			ok(n == 3, "three documents hold 'rare'");
			ok(n == 3 && h[0].doc == 300 && fabs(h[0].score - idf * 200 / (200 + n300)) < 1e-5,
			   "tf 200 in doc 300");
			ok(n == 3 && h[1].doc == 0 && h[2].doc == 999 &&
			   fabs(h[1].score - idf / (1 + n0)) < 1e-5, "docs 0 and 999");
			n = run(s, "common", 4, NULL, h, &err);
			is_int(n, 4, "k caps the hits (4 of 997)");
			bm25_searcher_free(s);
		}
		bm25_index_free(&ix);
		free(data);
	}
	bm25_builder_free(b);
}

/* Lucene's length norm: dl exact below 24, then 4 significant bits,
 * rounded down.  dl = 40: 24 + 16 = 40 exact; dl = 41: 24 + 17, 17 =
 * 0b10001 -> 0b10000 = 16 -> 40.  So docs of 40 and 41 terms with the same
 * tf score the same. */
static void test_length_norm(void)
{
	struct bm25_params p;
	struct bm25_builder *b;
	struct bm25_index ix;
	struct bm25_searcher *s;
	struct topk_hit h[4];
	struct lm_error err = { 0 };
	char text[400];
	void *data;
	size_t size;

	bm25_params_default(&p);
	p.analyzer = 0;
	bm25_builder_new(&b, &p, &err);
	for (uint32_t d = 0; d < 3; d++) {
		size_t n = (size_t)snprintf(text, sizeof text, "key");
		uint32_t dl = d == 0 ? 40 : d == 1 ? 41 : 23;

		for (uint32_t i = 1; i < dl; i++)
			n += (size_t)snprintf(text + n, sizeof text - n, " w%u", i);
		bm25_builder_add(b, d, text, n, &err);
	}
	if (bm25_encode(b, &data, &size, &err) == 0 && bm25_open_mem(&ix, data, size, "m", &err) == 0) {
		if (bm25_searcher_new(&s, &ix, &err) == 0) {
			double avgdl = (40 + 41 + 23) / 3.0, idf = log(1 + 0.5 / 3.5);
			int n = run(s, "key", 10, NULL, h, &err);

			ok(n == 3 && h[0].doc == 2 &&
			   fabs(h[0].score - idf / (1 + 0.9 * (0.6 + 0.4 * 23 / avgdl))) < 1e-6,
			   "dl 23 exact");
			ok(n == 3 && h[1].doc == 0 && h[2].doc == 1 && h[1].score == h[2].score &&
			   fabs(h[1].score - idf / (1 + 0.9 * (0.6 + 0.4 * 40 / avgdl))) < 1e-6,
			   "dl 41 scored as 40");
			bm25_searcher_free(s);
		}
		bm25_index_free(&ix);
		free(data);
	}
	bm25_builder_free(b);
}

static int load_copy(const void *src, size_t size, void (*edit)(unsigned char *, size_t),
		     struct lm_error *err)
{
	uint64_t *buf = malloc(size + 8);
	struct bm25_index ix;
	int rc;

	memcpy(buf, src, size);
	if (edit)
		edit((unsigned char *)buf, size);
	rc = bm25_open_mem(&ix, buf, size, "bad.idx", err);
	if (rc == 0)
		bm25_index_free(&ix);
	free(buf);
	return rc;
}

static void bad_magic(unsigned char *p, size_t n) { (void)n; p[0] = 'X'; }
static void bad_version(unsigned char *p, size_t n) { (void)n; p[8] = 9; }
static void bad_analyzer_version(unsigned char *p, size_t n) { (void)n; p[16] = 77; }
static void bad_k1(unsigned char *p, size_t n) { (void)n; float v = NAN; memcpy(p + 20, &v, 4); }
static void bad_terms(unsigned char *p, size_t n) { (void)n; p[33] = 0x10; }
static void bad_total(unsigned char *p, size_t n) { (void)n; p[40] ^= 1; }
static void bad_doclen(unsigned char *p, size_t n) { (void)n; p[64] ^= 1; }
/* doc lengths of 3 docs: 12 bytes + 4 padding; df of 4 terms at 80 */
static void bad_df(unsigned char *p, size_t n) { (void)n; p[80] = 9; }
/* name_off[1] (at 96 + 4): make term 0 longer than term 1 ends */
static void bad_name_off(unsigned char *p, size_t n) { (void)n; p[100] = 200; }
/* name offsets increasing but past the names (found by fuzz_bm25) */
static void bad_name_past(unsigned char *p, size_t n) { (void)n; p[100] = 42; p[104] = 43; }
/* names at 120 + 40 = 160: "applebananacherrydate"; swap a and b */
static void bad_order(unsigned char *p, size_t n) { (void)n; p[160] = 'c'; }

static void test_corrupt(void)
{
	struct bm25_builder *b = build3(0);
	struct lm_error err = { 0 };
	void *data;
	size_t size;

	if (!b || bm25_encode(b, &data, &size, &err))
		return;
	ok(memcmp((char *)data + 160, "applebananacherrydate", 21) == 0,
	   "layout as documented (names at 160)");
	is_int(load_copy(data, size, NULL, &err), 0, "the intact copy loads");
	is_int(load_copy(data, size - 1, NULL, &err), LM_EFORMAT, "truncated: %s", err.msg);
	ok(strstr(err.msg, "bad.idx") != NULL, "error names the file");
	is_int(load_copy(data, 40, NULL, &err), LM_EFORMAT, "shorter than the header");
	is_int(load_copy(data, size, bad_magic, &err), LM_EFORMAT, "magic: %s", err.msg);
	is_int(load_copy(data, size, bad_version, &err), LM_EFORMAT, "version: %s", err.msg);
	is_int(load_copy(data, size, bad_analyzer_version, &err), LM_EFORMAT,
	       "analyzer version: %s", err.msg);
	is_int(load_copy(data, size, bad_k1, &err), LM_EFORMAT, "k1 NaN: %s", err.msg);
	is_int(load_copy(data, size, bad_terms, &err), LM_EFORMAT, "term count: %s", err.msg);
	is_int(load_copy(data, size, bad_total, &err), LM_EFORMAT, "total length: %s", err.msg);
	is_int(load_copy(data, size, bad_doclen, &err), LM_EFORMAT, "doc length: %s", err.msg);
	is_int(load_copy(data, size, bad_df, &err), LM_EFORMAT, "df > N: %s", err.msg);
	is_int(load_copy(data, size, bad_name_off, &err), LM_EFORMAT, "name offsets: %s", err.msg);
	is_int(load_copy(data, size, bad_name_past, &err), LM_EFORMAT, "names past the end: %s",
	       err.msg);
	is_int(load_copy(data, size, bad_order, &err), LM_EFORMAT, "term order: %s", err.msg);
	{
		struct bm25_index ix;
		char *odd = malloc(size + 1);

		memcpy(odd + 1, data, size);
		is_int(bm25_open_mem(&ix, odd + 1, size, "odd", &err), LM_EINVAL, "misaligned bytes");
		free(odd);
	}
	/* Postings are checked as they are read: date's postings are the last
	 * two bytes (doc 2, tf 1); doc 5 of 3 is refused naming the term. */
	{
		uint64_t *buf = malloc(size);
		struct bm25_index ix;
		struct bm25_searcher *s;
		struct topk_hit h[4];

		memcpy(buf, data, size);
		((unsigned char *)buf)[size - 2] = 5;
		if (ok(bm25_open_mem(&ix, buf, size, "bad.idx", &err) == 0, "loads") &&
		    bm25_searcher_new(&s, &ix, &err) == 0) {
			is_int(run(s, "date", 10, NULL, h, &err), LM_EFORMAT, "bad posting: %s", err.msg);
			ok(strstr(err.msg, "'date'") != NULL, "error names the term");
			is_int(run(s, "apple", 10, NULL, h, &err), 1, "other terms still work");
			((unsigned char *)buf)[size - 2] = 2;
			((unsigned char *)buf)[size - 1] = 0x80;
			is_int(run(s, "date", 10, NULL, h, &err), LM_EFORMAT, "truncated varint");
			((unsigned char *)buf)[size - 1] = 0;
			is_int(run(s, "date", 10, NULL, h, &err), LM_EFORMAT, "tf 0");
			bm25_searcher_free(s);
			bm25_index_free(&ix);
		}
		free(buf);
	}
	/* Every single-byte corruption either is refused or searches without
	 * reading out of bounds (run under ASan). */
	{
		uint64_t *buf = malloc(size);
		static const char *const queries[] = { "apple", "banana cherry", "date", "zzz" };
		int refused = 0, loaded = 0;

		for (size_t i = 0; i < size; i++) {
			for (int x = 1; x < 256; x <<= 1) {
				struct bm25_index ix;
				struct bm25_searcher *s;
				struct topk_hit h[4];

				memcpy(buf, data, size);
				((unsigned char *)buf)[i] ^= (unsigned char)x;
				if (bm25_open_mem(&ix, buf, size, "fuzz", &err)) {
					refused++;
					continue;
				}
				loaded++;
				if (bm25_searcher_new(&s, &ix, &err) == 0) {
					for (size_t q = 0; q < 4; q++)
						run(s, queries[q], 3, NULL, h, &err);
					bm25_searcher_free(s);
				}
				bm25_index_free(&ix);
			}
		}
		ok(refused > 0 && refused + loaded == (int)size * 8,
		   "bit flips: %d refused, %d loaded and searched safely", refused, loaded);
		free(buf);
	}
	free(data);
	bm25_builder_free(b);
}

int main(void)
{
	test_hand_computation();
	test_container();
	test_analyzer_and_gaps();
	test_big_postings();
	test_length_norm();
	test_corrupt();
	return tap_done();
}

/* bm25.h - an inverted index over document text, ranked by Okapi BM25.
 *
 * Scoring is Lucene's BM25Similarity (Lucene 8 and later):
 *
 *   score(q, d) = sum over query terms t of
 *                 qtf(t) * idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl))
 *   idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))
 *
 * with tf the term's frequency in d, dl the number of terms d has after
 * analysis (stop words removed), avgdl = sum(dl) / N, N the number of
 * documents holding at least one term (Lucene's docCount; tombstoned rows
 * count, as Lucene counts deleted docs until a merge), df the number of
 * documents holding t, and qtf the number
 * of times t occurs in the query (Pyserini weights repeated query terms
 * this way).  Lucene 8 dropped the constant (k1 + 1) factor of the classic
 * formula; rankings are the same.  dl is scored as Lucene stores it, in a
 * one-byte norm (SmallFloat.intToByte4: exact below 24, above that rounded
 * down to 4 significant bits), so rankings match Lucene's and Pyserini's;
 * avgdl is exact, as in Lucene.  Defaults k1 = 0.9, b = 0.4 (Pyserini's
 * BEIR baselines).
 *
 * Documents are the rows 0..N-1 of the index file; text is analyzed with
 * analyzer.h under the flags recorded in the index, so queries are analyzed
 * the same way.
 *
 * Storage: one section, BM25_SECTION, loaded in place from the mapped file:
 *
 *   header        64 bytes: magic "LMPBM25\0", version, analyzer flags and
 *                 version, k1, b, N, term count, sum of lengths, postings size
 *   doc_len       u32[N]          terms per document
 *   df            u32[T]          documents per term
 *   name_off      u32[T + 1]      term i is names[name_off[i] .. name_off[i+1])
 *   post_off      u64[T + 1]      its postings are postings[post_off[i] ..)
 *   names         bytes, terms in increasing byte order (binary search)
 *   postings      per term, df pairs of LEB128 varints: doc delta (the
 *                 first doc itself, then the gap to the previous one), tf
 *
 * each array starting at a multiple of 8 bytes, all integers little-endian.
 * Loading checks every count, offset and order against the section size;
 * postings are checked as they are decoded, so a corrupt file gives an
 * error (naming the term), never a read out of bounds.
 */
#ifndef LMPIPE_INDEX_BM25_H
#define LMPIPE_INDEX_BM25_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "index/idxfile.h"
#include "index/topk.h"

#define BM25_SECTION "bm25"
#define BM25_K1_DEFAULT 0.9f
#define BM25_B_DEFAULT 0.4f

struct bm25_params {
	float k1;           /* term frequency saturation, >= 0 */
	float b;            /* length normalisation, 0..1 */
	unsigned analyzer;  /* ANALYZER_* flags */
};

/* k1 = 0.9, b = 0.4, stop words and stemming on. */
void bm25_params_default(struct bm25_params *p);
/* LM_EINVAL with a message for k1 < 0, b outside [0, 1], NaN, or unknown
 * analyzer flags. */
int bm25_params_check(const struct bm25_params *p, struct lm_error *err);

/* ---- building --------------------------------------------------------- */

struct bm25_builder;

int bm25_builder_new(struct bm25_builder **b, const struct bm25_params *p, struct lm_error *err);
void bm25_builder_free(struct bm25_builder *b);

/* Index TEXT[0..LEN) (UTF-8) as document DOC.  Documents are added in
 * increasing order; a row that is never added is an empty document.  Add
 * every row, empty ones included, so N counts them: N = last DOC + 1.
 * LM_EINVAL for a DOC not above the previous one, LM_ENOMEM. */
int bm25_builder_add(struct bm25_builder *b, uint32_t doc, const char *text, size_t len,
		     struct lm_error *err);

/* Documents (N) and distinct terms so far. */
uint32_t bm25_builder_docs(const struct bm25_builder *b);
uint32_t bm25_builder_terms(const struct bm25_builder *b);

/* Write the index as section BM25_SECTION of W and set IDXFILE_F_BM25 in
 * its info.  The builder is left as it was. */
int bm25_write(const struct bm25_builder *b, struct idxfile_writer *w, struct lm_error *err);

/* Or as bytes in memory (malloc'd, 8-byte aligned; the caller frees). */
int bm25_encode(const struct bm25_builder *b, void **data, size_t *size, struct lm_error *err);

/* ---- searching -------------------------------------------------------- */

/* A loaded index: points into the section bytes (which must stay mapped),
 * plus one float per document (its length normalisation).  Read-only once
 * loaded, so one index serves any number of threads, each with its own
 * bm25_searcher. */
struct bm25_index {
	struct bm25_params params;  /* as built; see bm25_index_set_params */
	uint32_t n_docs, n_terms;   /* rows, distinct terms */
	uint32_t n_with_terms;      /* N: rows holding at least one term */
	uint64_t total_len;
	float avgdl;
	char name[128];             /* file or section, for messages */
	/* private */
	const uint32_t *doc_len, *df, *name_off;
	const uint64_t *post_off;
	const unsigned char *names, *postings;
	float *norm;                /* k1 * (1 - b + b * dl / avgdl) */
};

/* Load from section BM25_SECTION of F (a missing section is an error). */
int bm25_load(struct bm25_index *ix, const struct idxfile *f, struct lm_error *err);
/* Load from bytes (8-byte aligned; they must outlive IX).  NAME is used in
 * messages. */
int bm25_open_mem(struct bm25_index *ix, const void *data, size_t size, const char *name,
		  struct lm_error *err);
void bm25_index_free(struct bm25_index *ix);

/* Score with other k1 and b than the index was built with (the analyzer
 * cannot change: the terms are what they are).  LM_EINVAL as
 * bm25_params_check. */
int bm25_index_set_params(struct bm25_index *ix, float k1, float b, struct lm_error *err);

/* idf of a term by its document frequency, as defined above. */
float bm25_idf(uint32_t n_docs, uint32_t df);

/* Look a term (already analyzed) up: its number, or -1. */
int64_t bm25_term_find(const struct bm25_index *ix, const char *term, size_t len);

/* Per-thread search state: a score per document, reused across queries. */
struct bm25_searcher;

int bm25_searcher_new(struct bm25_searcher **s, const struct bm25_index *ix, struct lm_error *err);
void bm25_searcher_free(struct bm25_searcher *s);

/* Score the documents matching at least one term of QUERY[0..LEN) (UTF-8,
 * analyzed as the index's documents were) and offer those ACCEPT lets
 * through (NULL accepts all) to TOP, which the caller set up with
 * topk_init (and resets between queries).  Documents without any query
 * term are never offered.  LM_EFORMAT when a posting list read is corrupt. */
int bm25_search(struct bm25_searcher *s, const char *query, size_t len,
		int (*accept)(uint32_t doc, void *arg), void *arg, struct topk *top,
		struct lm_error *err);

#endif

/* search.h - querying one or more index files (shards) as one collection.
 *
 * What search(1) does between reading a query and printing its hits:
 *  - Shards are numbered in the order given and their documents get global
 *    numbers: shard s's row r is base[s] + r, base[0] = 0 and base[s+1] =
 *    base[s] + rows of shard s.  Each shard returns its own best K and the
 *    lists are merged with topk, so with exact search the merged hits equal
 *    those of one index holding the shards' documents in that order (ties
 *    go to the lower global number, as in one index).
 *  - Tombstoned rows and rows the filter rejects never come back: both are
 *    folded into one bitmap of acceptable rows per shard, computed once
 *    (search_set_filter) and tested by the accept callback of every search
 *    structure, so HNSW and IVF keep exploring until they hold K acceptable
 *    documents.
 *  - Dense search uses, per shard: flat vectors when --exact or when the
 *    shard has no ANN structure, else HNSW, else IVF.  --exact on a shard
 *    with HNSW vectors but no flat section scores the HNSW copy of the
 *    vectors by brute force.
 *  - BM25 scores use each shard's own statistics (document count, average
 *    length, document frequencies), as a search engine does per shard by
 *    default: shards of similar make-up score close to the single index,
 *    but not exactly as it would.
 *  - Hybrid runs dense and BM25 to a depth of max(K, SEARCH_FUSION_DEPTH)
 *    and fuses the two lists (fusion.h).
 * All shards must agree on dimension, metric and model identity.
 */
#ifndef LMPIPE_INDEX_SEARCH_H
#define LMPIPE_INDEX_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "index/filter.h"
#include "index/fusion.h"
#include "index/topk.h"

#define SEARCH_FUSION_DEPTH 100
#define SEARCH_DEFAULT_EF 64
#define SEARCH_DEFAULT_NPROBE 8

enum search_mode {
	SEARCH_AUTO,      /* dense when the index and query allow, else bm25 */
	SEARCH_DENSE,
	SEARCH_BM25,
	SEARCH_HYBRID,
};

struct search_options {
	uint32_t k;
	uint32_t ef;          /* HNSW candidate list; 0 = max(K, SEARCH_DEFAULT_EF) */
	uint32_t nprobe;      /* IVF lists probed; 0 = SEARCH_DEFAULT_NPROBE */
	int exact;            /* brute force over the raw vectors */
	struct fusion fusion; /* hybrid */
};

struct search_index;

/* Open NPATHS index files as one collection.  Errors name the file. */
int search_open(struct search_index **out, const char *const *paths, unsigned npaths,
		struct lm_error *err);
void search_close(struct search_index *s);

uint32_t search_dim(const struct search_index *s);        /* 0: no vectors */
uint32_t search_metric(const struct search_index *s);     /* enum idxfile_metric */
int search_has_bm25(const struct search_index *s);
const char *search_model_name(const struct search_index *s);  /* "" unknown */
const char *search_model_hash(const struct search_index *s);
uint64_t search_doc_count(const struct search_index *s);  /* rows, deleted included */

/* Accept only live documents passing F (NULL: every live document).  The
 * filter is evaluated over every shard now; a field that no document of
 * any shard has is LM_EINVAL "unknown filter field 'NAME'". */
int search_set_filter(struct search_index *s, struct filter *f, struct lm_error *err);

/* Dense search of one query (search_dim floats; normalised here for cosine),
 * the best O->k global documents pushed into OUT (topk_init'ed by the
 * caller, at least O->k). */
int search_dense(struct search_index *s, const struct search_options *o, const float *query,
		 struct topk *out, struct lm_error *err);
/* NQ queries at once into OUT[0..nq).  Flat shards (and --exact) score the
 * whole batch with one matrix product per block of rows. */
int search_dense_batch(struct search_index *s, const struct search_options *o,
		       const float *queries, uint32_t nq, struct topk *out, struct lm_error *err);
/* BM25 search of TEXT[0..LEN). */
int search_bm25(struct search_index *s, const struct search_options *o, const char *text,
		size_t len, struct topk *out, struct lm_error *err);
/* Dense and BM25 fused by O->fusion. */
int search_hybrid(struct search_index *s, const struct search_options *o, const float *query,
		  const char *text, size_t len, struct topk *out, struct lm_error *err);

/* A global document's id and meta JSON text ("" when none); they point into
 * the mapped file. */
void search_doc(const struct search_index *s, uint32_t doc, const char **id, size_t *id_len,
		const char **meta, size_t *meta_len);
/* Its text, valid until the next call. */
int search_doc_text(struct search_index *s, uint32_t doc, const char **text, size_t *len,
		    struct lm_error *err);

#endif

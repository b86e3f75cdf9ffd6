/* hnsw.h - hierarchical navigable small world graphs (Malkov & Yashunin,
 * "Efficient and robust approximate nearest neighbor search using
 * Hierarchical Navigable Small World graphs", TPAMI 2018, arXiv:1603.09320).
 *
 * Each vector is a node with a level drawn as floor(-ln(U) * mL), mL =
 * 1/ln(M); it is linked to at most M neighbours on each layer above 0 and
 * M0 = 2M on layer 0, chosen by the paper's heuristic (algorithm 4: a
 * candidate is kept only when it is closer to the new node than to every
 * neighbour already kept).  Inserts are incremental: hnsw_add may be called
 * any number of times, on a new or a loaded index; documents are numbered
 * 0, 1, 2, ... in the order they were added.  The level of document i
 * depends only on the seed and i, so a single-threaded build gives the same
 * graph whether the vectors arrive in one batch or several.
 *
 * Deletion is the caller's: search takes an accept callback (ann.h) that
 * rejects tombstones and filtered-out documents, and keeps walking the
 * graph until it holds k accepted results, so rejected nodes still serve
 * as stepping stones and a selective filter still returns k hits when k
 * documents pass.
 *
 * Memory: per vector, dim floats, 1 + M0 uint32 on layer 0 (one block for
 * all nodes), one level byte and one uint32 offset, plus 1 + M uint32 per
 * upper layer of the node (about 1/M of nodes have one).
 *
 * Searching is thread-safe given one hnsw_scratch per thread; adding is
 * not safe against concurrent searches.
 */
#ifndef LMPIPE_HNSW_H
#define LMPIPE_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "index/ann.h"
#include "threadpool.h"

#define HNSW_DEFAULT_M 16
#define HNSW_DEFAULT_EF_CONSTRUCTION 200
#define HNSW_MAX_M 512
#define HNSW_MAX_DIM 65536

struct hnsw_params {
	uint32_t M;                /* 2..HNSW_MAX_M; 0 = HNSW_DEFAULT_M */
	uint32_t ef_construction;  /* 0 = HNSW_DEFAULT_EF_CONSTRUCTION */
	uint64_t seed;             /* level generation */
};

struct hnsw_index;
struct hnsw_scratch;

/* An empty index; params NULL for the defaults.  NULL with err filled for
 * an unusable dim/metric/M. */
struct hnsw_index *hnsw_new(uint32_t dim, enum ann_metric metric, const struct hnsw_params *params,
	struct lm_error *err);
void hnsw_free(struct hnsw_index *h);

/* Adds count vectors (count * dim floats, copied) as documents n..n+count-1.
 * With a pool of more than one thread the links are built in parallel,
 * under per-node (striped) locks; the graph then depends on scheduling. */
int hnsw_add(struct hnsw_index *h, const float *x, uint32_t count, struct threadpool *pool,
	struct lm_error *err);

uint32_t hnsw_count(const struct hnsw_index *h);
uint32_t hnsw_dim(const struct hnsw_index *h);
enum ann_metric hnsw_metric(const struct hnsw_index *h);
const float *hnsw_vector(const struct hnsw_index *h, uint32_t doc);
/* Bytes the vectors and the graph occupy (not the per-thread scratch). */
size_t hnsw_memory(const struct hnsw_index *h);

/* Per-thread search state: a generation-stamped visited array (never
 * cleared between queries) and the two heaps.  May be reused across
 * indexes. */
struct hnsw_scratch *hnsw_scratch_new(void);
void hnsw_scratch_free(struct hnsw_scratch *s);

/* The k best accepted documents for query (dim floats), best first (ties
 * by doc), exploring with a list of max(ef, k) candidates.  Returns the
 * number of hits (< k only when fewer than k reachable documents are
 * accepted), LM_ENOMEM, or LM_EFORMAT when the search met a corrupt list
 * of a loaded index (hnsw_scratch_problem says which; the bad links were
 * not followed). */
int hnsw_search(const struct hnsw_index *h, struct hnsw_scratch *s, const float *query, uint32_t k,
	uint32_t ef, ann_accept_fn *accept, void *arg, struct ann_hit *hits);

/* After hnsw_search returned LM_EFORMAT: the section, node and layer at
 * fault, as a message ("" otherwise).  Valid until the next search. */
const char *hnsw_scratch_problem(const struct hnsw_scratch *s);

/* Sections hnsw.hdr, hnsw.vec, hnsw.l0, hnsw.lvl, hnsw.uoff, hnsw.up. */
int hnsw_write(const struct hnsw_index *h, ann_put_fn *put, void *arg, struct lm_error *err);
/* Loads in place from the sections get returns (which must outlive the
 * index; vectors must be 4-byte aligned).  Loading costs O(1), not O(n M):
 * it checks the header, every section's size and the entry point, while
 * each neighbour list (its count, ids, and an upper layer's place in
 * hnsw.up) is checked by the search that reads it, so a corrupt list
 * makes hnsw_search return LM_EFORMAT, never a wild read.  hnsw_check
 * checks every list now (`index --verify`).  A loaded index accepts
 * hnsw_add (it runs hnsw_check, then copies itself into memory). */
int hnsw_load(struct hnsw_index **out, ann_get_fn *get, void *arg, struct lm_error *err);

/* Every level, upper-layer offset, neighbour count and neighbour id in
 * bounds: O(n M).  LM_EFORMAT naming the section, node and layer. */
int hnsw_check(struct hnsw_index *h, struct lm_error *err);

#endif

/* idxbuild.h - building and maintaining an index file (what index(1) does).
 *
 * A build holds every row in memory: the document store (docstore.h), the
 * vectors (flat.h, always stored when there are vectors: they are the
 * ground truth for `search --exact` and what compaction and merging
 * rebuild from) and the structures of the index type, which are built or
 * extended when the file is written:
 *   flat     exact search over the vectors
 *   hnsw     + an HNSW graph (hnsw.h), extended incrementally on append
 *   ivf      + an inverted file (ivf.h), retrained on every write
 *   bm25     BM25 over the text, no vectors
 *   hybrid   hnsw + bm25 in one file
 *
 * Records (NDJSON or the binary vector stream, told apart by
 * vecstream_sniff): `id`, `embedding`, `text` (with `title` prepended,
 * ndjson_record_text), `meta` (an object, stored as JSON text), `model` and
 * `model_hash` (the embedding model's identity: every record and the
 * existing file must agree).  Binary stream records carry these fields,
 * except id and embedding, in their JSON metadata.  Bad records are errors
 * naming the input, line (or record number) and id: duplicate id, missing
 * or wrong-dimension embedding, embedding from another model, meta that is
 * not an object, missing text for bm25.
 *
 * Nothing touches the output file until idxbuild_write, which goes
 * through atomic.h: on any failure the old file is intact.
 */
#ifndef LMPIPE_INDEX_IDXBUILD_H
#define LMPIPE_INDEX_IDXBUILD_H

#include <stdint.h>

#include "error.h"
#include "input.h"
#include "output.h"
#include "index/idxfile.h"

enum idxbuild_type {
	IDXBUILD_FLAT,
	IDXBUILD_HNSW,
	IDXBUILD_IVF,
	IDXBUILD_BM25,
	IDXBUILD_HYBRID,
};

struct idxbuild_options {
	int type;                  /* enum idxbuild_type */
	uint32_t metric;           /* enum idxfile_metric; 0 = cosine */
	const char *model_name;    /* required identity, NULL = from records */
	uint32_t hnsw_m;           /* 0 = default */
	uint32_t hnsw_ef_construction;
	uint32_t ivf_nlist;        /* 0 = n/39, at most 256 */
	int ivf_codec;             /* enum ivf_codec */
	uint32_t ivf_pq_m;         /* 0 = dim / 4 */
	int bm25_set;              /* use the three below (else defaults, or the file's) */
	float bm25_k1, bm25_b;
	unsigned analyzer;         /* ANALYZER_* flags */
	int threads;               /* 0 = all cores */
};

struct idxbuild;

/* "flat", "hnsw", ... -> enum idxbuild_type; LM_EINVAL naming the
 * alternatives, or saying the type is not available in this build. */
int idxbuild_type_parse(const char *name, int *type, struct lm_error *err);
const char *idxbuild_type_name(int type);

/* A new, empty index. */
int idxbuild_new(struct idxbuild **b, const struct idxbuild_options *opt, struct lm_error *err);

/* Everything in the index file PATH (rows, tombstones, settings), to
 * append to, delete from or compact.  OPT may be NULL; its model_name, if
 * set, must match the file's. */
int idxbuild_open(struct idxbuild **b, const char *path, const struct idxbuild_options *opt,
		  struct lm_error *err);

void idxbuild_free(struct idxbuild *b);

/* Add every record of IN (named in messages by in's name). */
int idxbuild_read(struct idxbuild *b, struct input *in, struct lm_error *err);

/* Tombstone the live document ID; LM_EINVAL if there is none. */
int idxbuild_delete(struct idxbuild *b, const char *id, size_t len, struct lm_error *err);

/* Drop tombstoned rows (renumbering the rest in order). */
int idxbuild_compact(struct idxbuild *b, struct lm_error *err);

/* Add the live rows of the index file PATH (a shard): same dimension,
 * metric and model; ids must stay unique. */
int idxbuild_merge(struct idxbuild *b, const char *path, struct lm_error *err);

uint32_t idxbuild_count(const struct idxbuild *b);
uint32_t idxbuild_deleted(const struct idxbuild *b);

/* Build the index structures and write PATH atomically. */
int idxbuild_write(struct idxbuild *b, const char *path, struct lm_error *err);

/* Check every checksum of PATH and load every structure it holds. */
int idxbuild_verify(const char *path, struct lm_error *err);

/* Describe PATH (header, document counts, sections) on OUT: text for
 * people, or one JSON object line when JSON is set. */
int idxbuild_info(const char *path, struct output *out, int json, struct lm_error *err);

#endif

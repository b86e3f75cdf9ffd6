/* docstore.h - the documents of an index: ids, meta, text, tombstones.
 *
 * Rows are the internal doc numbers 0..n-1 shared by every structure in
 * the file.  Sections (idxfile.h):
 *   docs.id_offs    uint64[n+1]  id i is id_data[id_offs[i], id_offs[i+1])
 *   docs.id_data    bytes
 *   docs.id_sorted  uint32[n]    rows ordered by id bytes (memcmp, then
 *                                length): binary search for id -> row
 *   docs.meta_offs  uint64[n+1]  meta JSON text per row ("" = none)
 *   docs.meta_data  bytes
 *   docs.text_offs  uint64[B+1]  block b is text_data[text_offs[b], ..[b+1])
 *   docs.text_first uint32[B+1]  block b holds rows text_first[b]..[b+1]-1;
 *                                text_first[B] == n
 *   docs.text_data  zstd frames (zblock.h); a block decompresses to
 *                   uint32 length per row, then the texts back to back
 *   docs.tombstones uint64[(n+63)/64]  bit r set: row r is deleted
 * Text is compressed in blocks of about DOCSTORE_BLOCK bytes so that one
 * document costs one small decompression, not the whole corpus.
 *
 * A loaded store points into the mapping.  Loading checks section sizes
 * and the block table (O(blocks)), not the per-row offsets: reading those
 * is O(rows), 16 ms for a million, a third of the open-to-first-result
 * budget.  Accessors check the offsets they read instead (a bad one gives
 * an empty id or meta, a bad text block an error), and docstore_check
 * checks them all (index --verify).  An id may occur on
 * several rows only if all but one are deleted (delete, then append the
 * new version).
 */
#ifndef LMPIPE_INDEX_DOCSTORE_H
#define LMPIPE_INDEX_DOCSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "index/idxfile.h"

#define DOCSTORE_BLOCK (64u << 10)          /* text block target size */
#define DOCSTORE_TEXT_MAX (256u << 20)      /* one document's text */
#define DOCSTORE_NONE UINT32_MAX

struct zblock;

struct docstore {
	uint32_t n;          /* rows, deleted included */
	uint32_t deleted;    /* rows with the tombstone bit */
	uint32_t nblocks;
	const uint64_t *id_offs;
	const char *id_data;
	const uint32_t *id_sorted;     /* NULL while building */
	const uint64_t *meta_offs;
	const char *meta_data;
	const uint64_t *text_offs;
	const uint32_t *text_first;
	const unsigned char *text_data;
	uint64_t text_size;
	uint64_t id_size, meta_size;
	const uint64_t *tombstones;
	const char *name;              /* file name for messages */
	/* private: text cache */
	struct zblock *zb;
	uint32_t cached_block;
	unsigned char *cache;
	size_t cache_len;
};

/* Point DS at F's docs.* sections (nothing is copied). */
int docstore_load(struct docstore *ds, const struct idxfile *f, struct lm_error *err);
void docstore_unload(struct docstore *ds);

/* Check every per-row offset and the id index (O(rows)). */
int docstore_check(const struct docstore *ds, struct lm_error *err);

static inline int docstore_is_deleted(const struct docstore *ds, uint32_t row)
{
	return (ds->tombstones[row >> 6] >> (row & 63)) & 1;
}

const char *docstore_id(const struct docstore *ds, uint32_t row, size_t *len);
/* "" with *len 0 when the row has no meta. */
const char *docstore_meta(const struct docstore *ds, uint32_t row, size_t *len);
/* The live row with this id, or DOCSTORE_NONE. */
uint32_t docstore_find(const struct docstore *ds, const char *id, size_t len);
/* The row's text, valid until the next docstore_text call on DS (one
 * decompressed block is cached; use one docstore per thread). */
int docstore_text(struct docstore *ds, uint32_t row, const char **text, size_t *len,
		  struct lm_error *err);

/* ---- building --------------------------------------------------------- */

struct docstore_builder;

struct docstore_builder *docstore_builder_new(struct lm_error *err);
void docstore_builder_free(struct docstore_builder *b);

/* Start from everything in SRC, tombstones included, copying its text
 * blocks as they are (append without recompressing).  B must be empty. */
int docstore_builder_copy(struct docstore_builder *b, const struct docstore *src,
			  struct lm_error *err);

/* Add a row; its number is the builder's row count before the call.
 * An id already live in B is an LM_EINVAL error naming it.  META is JSON
 * text or NULL; TEXT may be NULL. */
int docstore_builder_add(struct docstore_builder *b, const char *id, size_t id_len,
			 const char *meta, size_t meta_len, const char *text, size_t text_len,
			 struct lm_error *err);
/* Add row ROW of SRC (id, meta, text) as a new row of B. */
int docstore_builder_add_from(struct docstore_builder *b, struct docstore *src, uint32_t row,
			      struct lm_error *err);

uint32_t docstore_builder_count(const struct docstore_builder *b);
/* The live row with this id, or DOCSTORE_NONE. */
uint32_t docstore_builder_find(const struct docstore_builder *b, const char *id, size_t len);
/* Tombstone a row (idempotent). */
void docstore_builder_delete(struct docstore_builder *b, uint32_t row);
int docstore_builder_is_deleted(const struct docstore_builder *b, uint32_t row);
uint32_t docstore_builder_deleted(const struct docstore_builder *b);

/* Write the docs.* sections and set IDXFILE_F_DOCS and doc_count in the
 * writer's info. */
int docstore_write(struct docstore_builder *b, struct idxfile_writer *w, struct lm_error *err);

#endif

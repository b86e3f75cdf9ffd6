/* idxfile.h - the index container: one mmap-able file of named sections.
 *
 * Every index structure (docstore, flat, hnsw, ivf, bm25) serialises into
 * named sections of one file and loads from the mapped bytes without
 * copying.  Layout (all integers little-endian, every section 64-byte
 * aligned so a mapped section can be read as float or uint64 arrays):
 *
 *   offset 0        prologue, 64 bytes: magic "LMPIDX\r\n", format version
 *   offset 64       section data, each padded to a multiple of 64 bytes
 *   ...             section table: one 64-byte entry per section (name,
 *                   offset, size, crc32c of the section bytes)
 *   size - 576      trailer, 576 bytes: magic, version, the header fields of
 *                   struct idxfile_info, table offset/count, file size, the
 *                   table's crc32c and the trailer's own crc32c
 *
 * The trailer sits at the end because sections are streamed through
 * atomic.h (an append-only output) before their sizes are known; a reader
 * finds it at a fixed distance from the end, as zip and Parquet do.  A
 * truncated file loses its trailer and is refused before anything else is
 * looked at.
 *
 * Checksums are CRC-32C (Castagnoli, RFC 3720 appendix B.4), computed with
 * the SSE4.2 crc32 instruction when the CPU has it and a slicing-by-8
 * table otherwise.  When they are checked:
 *   - idxfile_open always checks the prologue, trailer and table checksums
 *     and every offset/size against the file size, and checks the checksum
 *     of every section up to IDXFILE_EAGER_MAX bytes;
 *   - larger sections (vectors, graphs, postings: hundreds of MB for a 1M
 *     vector index) are checked by idxfile_verify / idxfile_verify_section
 *     (`index --verify`).  Reading 512 MB of vectors at even 10 GB/s costs
 *     50 ms plus the page faults of touching every page, which is the
 *     whole open-to-first-result budget (< 50 ms); mmap's point is that a
 *     query touches only the pages it needs.
 * Loaders must therefore validate every offset and count they read from a
 * section against that section's size: an unverified section is untrusted
 * bytes, and a corrupt one may give wrong results but never a crash.
 */
#ifndef LMPIPE_INDEX_IDXFILE_H
#define LMPIPE_INDEX_IDXFILE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define IDXFILE_VERSION 1
#define IDXFILE_ALIGN 64
#define IDXFILE_NAME_MAX 32          /* section name incl. NUL: 31 chars */
#define IDXFILE_MODEL_MAX 256        /* model name / hash incl. NUL */
#define IDXFILE_EAGER_MAX (1u << 20) /* sections checked at open */
#define IDXFILE_SECTIONS_MAX 4096

enum idxfile_metric {
	IDXFILE_METRIC_NONE = 0,   /* no dense vectors (bm25 only) */
	IDXFILE_METRIC_COSINE = 1, /* vectors L2-normalised at insert; dot */
	IDXFILE_METRIC_IP = 2,     /* inner product */
	IDXFILE_METRIC_L2 = 3,     /* score = -||q - x||^2 */
};

/* Structures present in the file (idxfile_info.flags).  Each writer ORs its
 * own bit into the writer's info. */
enum idxfile_flag {
	IDXFILE_F_DOCS = 1u << 0,  /* docstore: ids, meta, text, tombstones */
	IDXFILE_F_FLAT = 1u << 1,  /* raw f32 vectors */
	IDXFILE_F_HNSW = 1u << 2,
	IDXFILE_F_IVF = 1u << 3,
	IDXFILE_F_BM25 = 1u << 4,
};

/* The header: what a reader needs before looking at any section. */
struct idxfile_info {
	uint32_t version;    /* format version (set by the writer) */
	uint32_t flags;      /* IDXFILE_F_* */
	uint32_t metric;     /* enum idxfile_metric */
	uint32_t dim;        /* vector dimension, 0 without vectors */
	uint64_t doc_count;  /* rows 0..doc_count-1, tombstoned included */
	char model_name[IDXFILE_MODEL_MAX]; /* embedding model, "" unknown */
	char model_hash[IDXFILE_MODEL_MAX]; /* its hash string, "" unknown */
};

/* Section names are "module.part" ("docs.ids", "flat.vectors",
 * "hnsw.links"), 1..31 bytes of [A-Za-z0-9._-], unique within a file. */

/* ---- writing ---------------------------------------------------------- */

struct idxfile_writer;

/* Start writing PATH through atomic.h ("-" is standard output).  PATH keeps
 * its old content until idxfile_writer_commit. */
int idxfile_writer_open(struct idxfile_writer **w, const char *path, struct lm_error *err);

/* The header to be written: fill it any time before commit.  version is
 * set by the writer. */
struct idxfile_info *idxfile_writer_info(struct idxfile_writer *w);

/* Add a whole section. */
int idxfile_add_section(struct idxfile_writer *w, const char *name, const void *data,
			size_t size, struct lm_error *err);

/* Or stream one: begin, any number of writes, end.  One section at a time. */
int idxfile_section_begin(struct idxfile_writer *w, const char *name, struct lm_error *err);
int idxfile_section_write(struct idxfile_writer *w, const void *data, size_t size,
			  struct lm_error *err);
int idxfile_section_end(struct idxfile_writer *w, struct lm_error *err);

/* Write table and trailer and rename into place.  Releases W, also on
 * failure (the temporary is then removed and PATH is untouched). */
int idxfile_writer_commit(struct idxfile_writer *w, struct lm_error *err);

/* Drop everything written; PATH is untouched.  Releases W (NULL is fine). */
void idxfile_writer_abort(struct idxfile_writer *w);

/* ---- reading ---------------------------------------------------------- */

struct idxfile_section {
	char name[IDXFILE_NAME_MAX];
	const void *data;   /* 64-byte aligned, inside the mapping */
	uint64_t size;
	uint32_t crc;       /* stored CRC-32C */
	int verified;       /* checksum checked (at open or by verify) */
};

struct idxfile {
	char *path;                         /* for messages */
	struct idxfile_info info;
	uint32_t nsections;
	struct idxfile_section *sections;   /* in file order */
	/* private */
	const unsigned char *base;
	size_t size;
	int mapped;
};

/* Map PATH and validate it as described above.  Errors name the file and,
 * where one is at fault, the section. */
int idxfile_open(struct idxfile *f, const char *path, struct lm_error *err);

/* The same over bytes in memory (tests, fuzzing); DATA must stay valid and
 * 64-byte aligned until idxfile_close.  NAME is used in messages. */
int idxfile_open_mem(struct idxfile *f, const void *data, size_t size, const char *name,
		     struct lm_error *err);

void idxfile_close(struct idxfile *f);

/* Find a section: 0 with *data and *size set, or LM_EOF when there is none. */
int idxfile_section(const struct idxfile *f, const char *name, const void **data,
		    uint64_t *size);

/* As idxfile_section, but a missing section is an LM_EFORMAT error naming
 * the file and section. */
int idxfile_require(const struct idxfile *f, const char *name, const void **data,
		    uint64_t *size, struct lm_error *err);

/* Check the checksum of one section / of every section not yet checked. */
int idxfile_verify_section(struct idxfile *f, const char *name, struct lm_error *err);
int idxfile_verify(struct idxfile *f, struct lm_error *err);

/* CRC-32C of P, continuing from CRC (0 to start). */
uint32_t idxfile_crc32c(uint32_t crc, const void *p, size_t n);

const char *idxfile_metric_name(uint32_t metric);
/* "cosine", "ip", "l2" -> enum idxfile_metric; LM_EINVAL otherwise. */
int idxfile_metric_parse(const char *name, uint32_t *metric, struct lm_error *err);

#endif

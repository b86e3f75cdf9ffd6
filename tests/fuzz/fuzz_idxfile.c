/* libFuzzer target: arbitrary bytes as an index file.  idxfile_open_mem
 * must refuse or accept them cleanly; an accepted file then goes through
 * verify and the docstore and flat loaders, and everything they expose is
 * read (ids, meta, text of every row, id lookups, one exact search, and
 * for an HNSW graph a search before and after hnsw_check: hnsw_load
 * leaves the lists to the search that reads them), so a bad offset inside
 * an otherwise valid container is caught too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/docstore.h"
#include "index/flat.h"
#include "index/hnsw.h"
#include "index/idxfile.h"
#include "index/topk.h"

/* Layout constants of idxfile.h's format (trailer at the end). */
#define TRAILER 576
#define ENTRY 64

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* Recompute every checksum the format has, where the table can be found,
 * so that mutated section contents get past the container and into the
 * loaders (which must survive any bytes with valid checksums). */
static void fix_checksums(unsigned char *b, size_t size)
{
	unsigned char *tr, *e;
	uint64_t table, off, len;
	uint32_t n, i, crc = 0;

	if (size < 64 + TRAILER)
		return;
	tr = b + size - TRAILER;
	table = rd64(tr + 32);
	n = rd32(tr + 40);
	if (n > 4096 || table > size - TRAILER || (uint64_t)n * ENTRY != size - TRAILER - table)
		return;
	for (i = 0; i < n; i++) {
		e = b + table + (uint64_t)i * ENTRY;
		off = rd64(e + 32);
		len = rd64(e + 40);
		if (off <= table && len <= table - off)
			wr32(e + 48, idxfile_crc32c(0, b + off, len));
		crc = idxfile_crc32c(crc, e, ENTRY);
	}
	wr32(tr + 44, crc);
	wr32(tr + 568, idxfile_crc32c(0, tr, 568));
}

static void walk_docs(const struct idxfile *f)
{
	struct lm_error err = { 0 };
	struct docstore ds;
	const char *s, *text;
	size_t len, tlen;
	uint32_t row;
	volatile unsigned char sink = 0;

	if (docstore_load(&ds, f, &err) == 0) {
		(void)docstore_check(&ds, &err);
		for (row = 0; row < ds.n && row < 4096; row++) {
			s = docstore_id(&ds, row, &len);
			if (len)
				sink ^= (unsigned char)s[len - 1];
			(void)docstore_find(&ds, s, len);
			s = docstore_meta(&ds, row, &len);
			if (len)
				sink ^= (unsigned char)s[len - 1];
			if (docstore_text(&ds, row, &text, &tlen, &err) == 0 && tlen)
				sink ^= (unsigned char)text[tlen - 1];
		}
		(void)docstore_find(&ds, "x", 1);
	}
	docstore_unload(&ds);
	(void)sink;
}

static void search_flat(const struct idxfile *f)
{
	struct lm_error err = { 0 };
	struct flat_index fi;
	struct topk t;
	float *q;

	if (flat_load(&fi, f, &err) == 0 && fi.dim <= 1024 && topk_init(&t, 3) == 0) {
		q = calloc(fi.dim, sizeof(*q));
		if (q) {
			q[0] = 1;
			flat_search(&fi, q, NULL, NULL, &t, &err);
			free(q);
		}
		topk_free(&t);
	}
	flat_free(&fi);
}

static int accept_odd(uint32_t doc, void *arg)
{
	(void)arg;
	return doc & 1;
}

/* Searches walk the graph from the entry point; every list they read must
 * be bounds-checked as it is read (LM_EFORMAT, never a wild read). */
static void search_hnsw(const struct idxfile *f)
{
	struct lm_error err = { 0 };
	struct hnsw_index *h = NULL;
	struct hnsw_scratch *s;
	struct ann_hit hits[4];
	uint32_t dim;
	float *q;

	if (hnsw_load(&h, ann_idxfile_get, (void *)f, &err) || (dim = hnsw_dim(h)) > 1024 ||
	    !(s = hnsw_scratch_new())) {
		hnsw_free(h);
		return;
	}
	q = calloc(dim, sizeof(*q));
	if (q) {
		q[0] = 1;
		hnsw_search(h, s, q, 4, 16, NULL, NULL, hits);
		if (hnsw_count(h))
			hnsw_search(h, s, hnsw_vector(h, hnsw_count(h) - 1), 2, 8, accept_odd, NULL, hits);
		if (hnsw_check(h, &err) == 0)
			hnsw_search(h, s, q, 4, 16, NULL, NULL, hits);
		free(q);
	}
	hnsw_scratch_free(s);
	hnsw_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_error err = { 0 };
	struct idxfile f;
	unsigned char *buf;

	/* Sections are read in place as float and uint64 arrays: the
	 * container promises 64-byte alignment relative to its start. */
	buf = aligned_alloc(64, (size + 64) / 64 * 64);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	/* Half the inputs as they are (the container's checks), half with
	 * their checksums repaired (the loaders' checks). */
	if (size && (data[size - 1] & 1))
		fix_checksums(buf, size);
	if (idxfile_open_mem(&f, buf, size, "fuzz.idx", &err) == 0) {
		idxfile_verify(&f, &err);
		walk_docs(&f);
		search_flat(&f);
		search_hnsw(&f);
		idxfile_close(&f);
	}
	free(buf);
	return 0;
}

/* test_docstore.c - ids, meta, text and tombstones through a real index
 * file: lookups by id (sorted table) against a linear scan, text of every
 * row across many compressed blocks, delete and re-add, copy for append,
 * duplicate ids, and damaged sections refused at load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/docstore.h"
#include "index/idxfile.h"
#include "tap.h"

#define N 3000

static char dir[] = "/tmp/test_docstore.XXXXXX";

/* Document i: id "doc-<i*7919 mod 10007>" (not in row order), text of a
 * length that varies from 0 to ~1000 bytes so blocks hold many rows or few,
 * meta on every third row. */
static void make_doc(int i, char *id, char *text, size_t *text_len, char *meta)
{
	size_t len = (size_t)(i * 37) % 1001, k;

	sprintf(id, "doc-%d", (i * 7919) % 10007);
	for (k = 0; k < len; k++)
		text[k] = (char)('a' + (i + k) % 26);
	*text_len = len;
	if (i % 3 == 0)
		sprintf(meta, "{\"n\":%d}", i);
	else
		meta[0] = 0;
}

static int write_store(struct docstore_builder *b, const char *path)
{
	struct lm_error err = { 0 };
	struct idxfile_writer *w;
	int rc = idxfile_writer_open(&w, path, &err);

	if (!rc && (rc = docstore_write(b, w, &err)))
		idxfile_writer_abort(w);
	else if (!rc)
		rc = idxfile_writer_commit(w, &err);
	if (rc)
		diag("%s", err.msg);
	return rc;
}

static void check_rows(struct docstore *ds, int n, const char *what)
{
	struct lm_error err = { 0 };
	char id[64], text[1100], meta[64];
	const char *s;
	size_t len, text_len;
	int i, good_id = 1, good_text = 1, good_meta = 1, good_find = 1;

	/* Read in a scattered order so the block cache is exercised. */
	for (i = 0; i < n; i++) {
		int r = (int)(((long)i * 1237) % n);

		make_doc(r, id, text, &text_len, meta);
		s = docstore_id(ds, (uint32_t)r, &len);
		good_id &= len == strlen(id) && memcmp(s, id, len) == 0;
		s = docstore_meta(ds, (uint32_t)r, &len);
		good_meta &= len == strlen(meta) && memcmp(s, meta, len) == 0;
		if (docstore_text(ds, (uint32_t)r, &s, &len, &err)) {
			diag("%s", err.msg);
			good_text = 0;
		} else {
			good_text &= len == text_len && memcmp(s, text, len) == 0;
		}
		good_find &= docstore_find(ds, id, strlen(id)) == (uint32_t)r ||
			     docstore_is_deleted(ds, (uint32_t)r);
	}
	ok(good_id, "%s: ids", what);
	ok(good_meta, "%s: meta", what);
	ok(good_text, "%s: text", what);
	ok(good_find, "%s: find by id", what);
}

int main(void)
{
	struct lm_error err = { 0 };
	struct docstore_builder *b, *b2;
	struct idxfile f, f2;
	struct docstore ds, ds2;
	char path[256], path2[256], id[64], text[1100], meta[64], cmd[300];
	size_t text_len;
	const char *s;
	size_t len;
	int i, rc;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/a.idx", dir);
	snprintf(path2, sizeof(path2), "%s/b.idx", dir);

	b = docstore_builder_new(&err);
	rc = 0;
	for (i = 0; i < N && !rc; i++) {
		make_doc(i, id, text, &text_len, meta);
		rc = docstore_builder_add(b, id, strlen(id), meta[0] ? meta : NULL, strlen(meta),
					  text, text_len, &err);
	}
	is_int(rc, 0, "add %d documents", N);
	is_int(docstore_builder_count(b), N, "count");
	make_doc(5, id, text, &text_len, meta);
	is_int(docstore_builder_add(b, id, strlen(id), NULL, 0, NULL, 0, &err), LM_EINVAL,
	       "duplicate id refused");
	ok(strstr(err.msg, id) != NULL, "message names the id: %s", err.msg);
	is_int(docstore_builder_add(b, "", 0, NULL, 0, NULL, 0, &err), LM_EINVAL, "empty id refused");
	is_int(docstore_builder_find(b, id, strlen(id)), 5, "builder find");
	docstore_builder_delete(b, 5);
	docstore_builder_delete(b, 5);
	is_int(docstore_builder_deleted(b), 1, "delete is idempotent");
	is_int(docstore_builder_find(b, id, strlen(id)), DOCSTORE_NONE, "deleted id not found");
	/* The same id again: the new version of a deleted document. */
	is_int(docstore_builder_add(b, id, strlen(id), NULL, 0, "v2", 2, &err), 0,
	       "re-add a deleted id");
	is_int(write_store(b, path), 0, "write");
	docstore_builder_free(b);

	if (idxfile_open(&f, path, &err) || docstore_load(&ds, &f, &err)) {
		ok(0, "load: %s", err.msg);
		return tap_done();
	}
	is_int(f.info.doc_count, N + 1, "doc_count in header");
	ok(f.info.flags & IDXFILE_F_DOCS, "docs flag");
	ok(ds.nblocks > 10, "text spans many blocks (%u)", ds.nblocks);
	is_int(ds.deleted, 1, "one tombstone");
	ok(docstore_is_deleted(&ds, 5) && !docstore_is_deleted(&ds, 6), "tombstone bit of row 5");
	check_rows(&ds, N, "loaded");
	is_int(docstore_find(&ds, id, strlen(id)), N, "find returns the live duplicate");
	ok(docstore_text(&ds, N, &s, &len, &err) == 0 && len == 2 && memcmp(s, "v2", 2) == 0,
	   "its text");
	is_int(docstore_find(&ds, "doc-x", 5), DOCSTORE_NONE, "absent id");
	is_int(docstore_find(&ds, "doc", 3), DOCSTORE_NONE, "a prefix is not a match");
	is_int(docstore_text(&ds, N + 1, &s, &len, &err), LM_EINVAL, "row out of range");

	/* Append: copy verbatim, add one, write, reload. */
	b2 = docstore_builder_new(&err);
	is_int(docstore_builder_copy(b2, &ds, &err), 0, "copy");
	is_int(docstore_builder_add(b2, "new", 3, "{}", 2, "fresh text", 10, &err), 0,
	       "add after copy");
	is_int(docstore_builder_add(b2, "doc-0", 5, NULL, 0, NULL, 0, &err), LM_EINVAL,
	       "copied ids are known to the duplicate check");
	is_int(docstore_builder_add_from(b2, &ds, 7, &err), LM_EINVAL,
	       "add_from of an existing row is a duplicate");
	is_int(write_store(b2, path2), 0, "write appended");
	docstore_builder_free(b2);
	if (idxfile_open(&f2, path2, &err) || docstore_load(&ds2, &f2, &err)) {
		ok(0, "load appended: %s", err.msg);
		return tap_done();
	}
	check_rows(&ds2, N, "appended");
	is_int(ds2.deleted, 1, "tombstone kept");
	is_int(docstore_find(&ds2, "new", 3), N + 1, "new row");
	ok(docstore_text(&ds2, N + 1, &s, &len, &err) == 0 && len == 10 &&
	   memcmp(s, "fresh text", 10) == 0, "new row's text");
	docstore_unload(&ds2);
	idxfile_close(&f2);
	docstore_unload(&ds);
	idxfile_close(&f);

	/* Damage inside a section that passes the container's checks: a
	 * decreasing id offset, rewritten with a valid checksum. */
	{
		struct idxfile_writer *w;
		uint64_t offs[3] = { 0, 5, 3 };
		uint32_t first[2] = { 0, 2 };
		uint64_t toffs[2] = { 0, 0 }, tomb = 0;
		uint32_t sorted[2] = { 0, 1 };

		rc = idxfile_writer_open(&w, path2, &err);
		idxfile_writer_info(w)->flags = IDXFILE_F_DOCS;
		idxfile_writer_info(w)->doc_count = 2;
		rc = rc || idxfile_add_section(w, "docs.id_offs", offs, sizeof(offs), &err) ||
		     idxfile_add_section(w, "docs.id_data", "abcde", 5, &err) ||
		     idxfile_add_section(w, "docs.id_sorted", sorted, sizeof(sorted), &err) ||
		     idxfile_add_section(w, "docs.meta_offs", (uint64_t[3]){ 0, 0, 0 }, 24, &err) ||
		     idxfile_add_section(w, "docs.meta_data", NULL, 0, &err) ||
		     idxfile_add_section(w, "docs.text_offs", toffs, 16, &err) ||
		     idxfile_add_section(w, "docs.text_first", first, 8, &err) ||
		     idxfile_add_section(w, "docs.text_data", NULL, 0, &err) ||
		     idxfile_add_section(w, "docs.tombstones", &tomb, 8, &err) ||
		     idxfile_writer_commit(w, &err);
		is_int(rc, 0, "write a crafted store");
		if (idxfile_open(&f, path2, &err) == 0) {
			is_int(docstore_load(&ds, &f, &err), 0, "per-row offsets are not read at load");
			rc = docstore_check(&ds, &err);
			ok(rc == LM_EFORMAT && strstr(err.msg, "docs.id_offs"),
			   "docstore_check refuses decreasing offsets: %s", err.msg);
			s = docstore_id(&ds, 1, &len);
			ok(len == 0, "the bad row reads as an empty id");
			s = docstore_id(&ds, 0, &len);
			ok(len == 5 && memcmp(s, "abcde", 5) == 0, "a good row reads as usual");
			b2 = docstore_builder_new(&err);
			is_int(docstore_builder_copy(b2, &ds, &err), LM_EFORMAT,
			       "copying a store with bad offsets is refused");
			docstore_builder_free(b2);
			docstore_unload(&ds);
			idxfile_close(&f);
		}
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}

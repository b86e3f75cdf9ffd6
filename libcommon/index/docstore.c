#include "index/docstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zblock.h"

/* ---- growable arrays (builder) ---------------------------------------- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	unsigned char *p;

	if (b->cap - b->len >= more)
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		return LM_ENOMEM;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return LM_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n))
		return LM_ENOMEM;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int buf_u64(struct buf *b, uint64_t v)
{
	return buf_add(b, &v, sizeof(v));
}

static int buf_u32(struct buf *b, uint32_t v)
{
	return buf_add(b, &v, sizeof(v));
}

struct docstore_builder {
	uint32_t n, deleted;
	struct buf id_offs, id_data, meta_offs, meta_data;
	struct buf text_offs, text_first, text_data;   /* finished blocks */
	struct buf pend_lens, pend_text;               /* the open block */
	uint32_t pend_first;
	struct buf tomb;                               /* uint64 words */
	uint32_t *slots;                               /* id hash: row + 1, 0 free */
	uint32_t nslots;
	struct zblock *zb;
};

static uint64_t id_hash(const char *s, size_t n)
{
	/* FNV-1a, 64 bit (Fowler, Noll, Vo). */
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static const char *builder_id(const struct docstore_builder *b, uint32_t row, size_t *len)
{
	const uint64_t *offs = (const uint64_t *)b->id_offs.p;

	*len = offs[row + 1] - offs[row];
	return (const char *)b->id_data.p + offs[row];
}

int docstore_builder_is_deleted(const struct docstore_builder *b, uint32_t row)
{
	const uint64_t *t = (const uint64_t *)b->tomb.p;

	return (t[row >> 6] >> (row & 63)) & 1;
}

static void hash_insert(struct docstore_builder *b, uint32_t row)
{
	size_t len;
	const char *id = builder_id(b, row, &len);
	uint32_t i = (uint32_t)id_hash(id, len) & (b->nslots - 1);

	while (b->slots[i])
		i = (i + 1) & (b->nslots - 1);
	b->slots[i] = row + 1;
}

/* Rehash into a table at least twice the rows (load factor <= 1/2). */
static int hash_grow(struct docstore_builder *b)
{
	uint64_t want = ((uint64_t)b->n + 1) * 2;
	uint32_t nslots = 1024, row;

	while (nslots < want && nslots <= (1u << 30))
		nslots *= 2;
	if (nslots < want)
		return LM_ENOMEM;
	free(b->slots);
	b->slots = calloc(nslots, sizeof(*b->slots));
	if (!b->slots) {
		b->nslots = 0;
		return LM_ENOMEM;
	}
	b->nslots = nslots;
	for (row = 0; row < b->n; row++)
		hash_insert(b, row);
	return 0;
}

uint32_t docstore_builder_find(const struct docstore_builder *b, const char *id, size_t len)
{
	uint32_t i, row;
	size_t l;
	const char *s;

	if (!b->nslots)
		return DOCSTORE_NONE;
	for (i = (uint32_t)id_hash(id, len) & (b->nslots - 1); b->slots[i];
	     i = (i + 1) & (b->nslots - 1)) {
		row = b->slots[i] - 1;
		s = builder_id(b, row, &l);
		if (l == len && memcmp(s, id, len) == 0 && !docstore_builder_is_deleted(b, row))
			return row;
	}
	return DOCSTORE_NONE;
}

struct docstore_builder *docstore_builder_new(struct lm_error *err)
{
	struct docstore_builder *b = calloc(1, sizeof(*b));

	if (!b || buf_u64(&b->id_offs, 0) || buf_u64(&b->meta_offs, 0) ||
	    buf_u64(&b->text_offs, 0)) {
		docstore_builder_free(b);
		lm_fail(err, LM_ENOMEM, "document store: out of memory");
		return NULL;
	}
	b->zb = zblock_new(3, err);
	if (!b->zb) {
		docstore_builder_free(b);
		return NULL;
	}
	return b;
}

void docstore_builder_free(struct docstore_builder *b)
{
	struct buf *bufs[11];
	int i;

	if (!b)
		return;
	bufs[0] = &b->id_offs; bufs[1] = &b->id_data; bufs[2] = &b->meta_offs;
	bufs[3] = &b->meta_data; bufs[4] = &b->text_offs; bufs[5] = &b->text_first;
	bufs[6] = &b->text_data; bufs[7] = &b->pend_lens; bufs[8] = &b->pend_text;
	bufs[9] = &b->tomb; bufs[10] = NULL;
	for (i = 0; bufs[i]; i++)
		free(bufs[i]->p);
	free(b->slots);
	zblock_free(b->zb);
	free(b);
}

uint32_t docstore_builder_count(const struct docstore_builder *b)
{
	return b->n;
}

uint32_t docstore_builder_deleted(const struct docstore_builder *b)
{
	return b->deleted;
}

void docstore_builder_delete(struct docstore_builder *b, uint32_t row)
{
	uint64_t *t = (uint64_t *)b->tomb.p;

	if (row >= b->n || docstore_builder_is_deleted(b, row))
		return;
	t[row >> 6] |= 1ull << (row & 63);
	b->deleted++;
}

/* Compress the open block and move it to the finished ones. */
static int flush_block(struct docstore_builder *b, struct lm_error *err)
{
	uint32_t ndocs = b->n - b->pend_first;
	size_t len;
	int rc;

	if (ndocs == 0)
		return 0;
	if (buf_add(&b->pend_lens, b->pend_text.p, b->pend_text.len) ||
	    buf_reserve(&b->text_data, zblock_bound(b->pend_lens.len)))
		return lm_fail(err, LM_ENOMEM, "document store: out of memory");
	rc = zblock_compress_into(b->zb, b->text_data.p + b->text_data.len,
				  b->text_data.cap - b->text_data.len, &len, b->pend_lens.p,
				  b->pend_lens.len, "document text block", err);
	if (rc)
		return rc;
	b->text_data.len += len;
	if (buf_u64(&b->text_offs, b->text_data.len) || buf_u32(&b->text_first, b->pend_first))
		return lm_fail(err, LM_ENOMEM, "document store: out of memory");
	b->pend_first = b->n;
	b->pend_lens.len = 0;
	b->pend_text.len = 0;
	return 0;
}

int docstore_builder_add(struct docstore_builder *b, const char *id, size_t id_len,
			 const char *meta, size_t meta_len, const char *text, size_t text_len,
			 struct lm_error *err)
{
	if (b->n == UINT32_MAX - 1)
		return lm_fail(err, LM_EINVAL, "document store: too many documents");
	if (id_len == 0)
		return lm_fail(err, LM_EINVAL, "empty document id");
	if (text_len > DOCSTORE_TEXT_MAX)
		return lm_fail(err, LM_EINVAL, "document '%.*s': text longer than %u bytes",
			       (int)(id_len > 200 ? 200 : id_len), id, DOCSTORE_TEXT_MAX);
	if (docstore_builder_find(b, id, id_len) != DOCSTORE_NONE)
		return lm_fail(err, LM_EINVAL, "duplicate document id '%.*s'",
			       (int)(id_len > 200 ? 200 : id_len), id);
	if ((uint64_t)(b->n + 1) * 2 > b->nslots && hash_grow(b))
		return lm_fail(err, LM_ENOMEM, "document store: out of memory");
	if (b->n % 64 == 0 && buf_u64(&b->tomb, 0))
		return lm_fail(err, LM_ENOMEM, "document store: out of memory");
	if (buf_add(&b->id_data, id, id_len) || buf_u64(&b->id_offs, b->id_data.len) ||
	    buf_add(&b->meta_data, meta, meta ? meta_len : 0) ||
	    buf_u64(&b->meta_offs, b->meta_data.len) ||
	    buf_u32(&b->pend_lens, (uint32_t)text_len) ||
	    buf_add(&b->pend_text, text, text ? text_len : 0))
		return lm_fail(err, LM_ENOMEM, "document store: out of memory");
	b->n++;
	hash_insert(b, b->n - 1);
	if (b->pend_lens.len + b->pend_text.len >= DOCSTORE_BLOCK)
		return flush_block(b, err);
	return 0;
}

int docstore_builder_add_from(struct docstore_builder *b, struct docstore *src, uint32_t row,
			      struct lm_error *err)
{
	const char *id, *meta, *text;
	size_t id_len, meta_len, text_len;
	int rc;

	id = docstore_id(src, row, &id_len);
	meta = docstore_meta(src, row, &meta_len);
	rc = docstore_text(src, row, &text, &text_len, err);
	if (rc)
		return rc;
	return docstore_builder_add(b, id, id_len, meta, meta_len, text, text_len, err);
}

int docstore_builder_copy(struct docstore_builder *b, const struct docstore *src,
			  struct lm_error *err)
{
	uint64_t base;
	uint32_t i;

	int rc;

	if (b->n)
		return lm_fail(err, LM_EINVAL, "document store: copy into a non-empty builder");
	/* The arrays are copied wholesale, so every offset must be sound. */
	rc = docstore_check(src, err);
	if (rc)
		return rc;
	b->id_offs.len = b->meta_offs.len = b->text_offs.len = 0;
	if (buf_add(&b->id_offs, src->id_offs, (src->n + 1) * sizeof(uint64_t)) ||
	    buf_add(&b->id_data, src->id_data, src->id_offs[src->n]) ||
	    buf_add(&b->meta_offs, src->meta_offs, (src->n + 1) * sizeof(uint64_t)) ||
	    buf_add(&b->meta_data, src->meta_data, src->meta_offs[src->n]) ||
	    buf_add(&b->text_offs, src->text_offs, (src->nblocks + 1) * sizeof(uint64_t)) ||
	    buf_add(&b->text_first, src->text_first, src->nblocks * sizeof(uint32_t)) ||
	    buf_add(&b->text_data, src->text_data, src->text_offs[src->nblocks]) ||
	    buf_add(&b->tomb, src->tombstones, ((src->n + 63) / 64) * sizeof(uint64_t)))
		return lm_fail(err, LM_ENOMEM, "document store: out of memory");
	/* text_offs are relative to the first block's offset in the source. */
	base = src->text_offs[0];
	for (i = 0; i <= src->nblocks; i++)
		((uint64_t *)b->text_offs.p)[i] -= base;
	b->n = src->n;
	b->deleted = src->deleted;
	b->pend_first = b->n;
	if (hash_grow(b))
		return lm_fail(err, LM_ENOMEM, "document store: out of memory");
	return 0;
}

static int sorted_cmp(const void *pa, const void *pb, void *arg)
{
	const struct docstore_builder *b = arg;
	uint32_t ra = *(const uint32_t *)pa, rb = *(const uint32_t *)pb;
	size_t la, lb;
	const char *a = builder_id(b, ra, &la), *s = builder_id(b, rb, &lb);
	int c = memcmp(a, s, la < lb ? la : lb);

	if (c)
		return c;
	if (la != lb)
		return la < lb ? -1 : 1;
	return ra < rb ? -1 : ra > rb;
}

int docstore_write(struct docstore_builder *b, struct idxfile_writer *w, struct lm_error *err)
{
	struct idxfile_info *info = idxfile_writer_info(w);
	uint32_t *sorted = NULL, i, end = b->n;
	int rc;

	rc = flush_block(b, err);
	if (rc)
		return rc;
	sorted = malloc((b->n ? b->n : 1) * sizeof(*sorted));
	if (!sorted)
		return lm_fail(err, LM_ENOMEM, "document store: out of memory");
	for (i = 0; i < b->n; i++)
		sorted[i] = i;
	qsort_r(sorted, b->n, sizeof(*sorted), sorted_cmp, b);
	if ((rc = idxfile_add_section(w, "docs.id_offs", b->id_offs.p, b->id_offs.len, err)) ||
	    (rc = idxfile_add_section(w, "docs.id_data", b->id_data.p, b->id_data.len, err)) ||
	    (rc = idxfile_add_section(w, "docs.id_sorted", sorted, b->n * sizeof(*sorted), err)) ||
	    (rc = idxfile_add_section(w, "docs.meta_offs", b->meta_offs.p, b->meta_offs.len, err)) ||
	    (rc = idxfile_add_section(w, "docs.meta_data", b->meta_data.p, b->meta_data.len, err)) ||
	    (rc = idxfile_add_section(w, "docs.text_offs", b->text_offs.p, b->text_offs.len, err)) ||
	    (rc = idxfile_section_begin(w, "docs.text_first", err)) ||
	    (rc = idxfile_section_write(w, b->text_first.p, b->text_first.len, err)) ||
	    (rc = idxfile_section_write(w, &end, sizeof(end), err)) ||
	    (rc = idxfile_section_end(w, err)) ||
	    (rc = idxfile_add_section(w, "docs.text_data", b->text_data.p, b->text_data.len, err)) ||
	    (rc = idxfile_add_section(w, "docs.tombstones", b->tomb.p, b->tomb.len, err)))
		goto out;
	info->flags |= IDXFILE_F_DOCS;
	info->doc_count = b->n;
out:
	free(sorted);
	return rc;
}

/* ---- loaded store ----------------------------------------------------- */

static int load_array(const struct idxfile *f, const char *name, uint64_t count, size_t elem,
		      const void **p, struct lm_error *err)
{
	uint64_t size;
	int rc = idxfile_require(f, name, p, &size, err);

	if (rc)
		return rc;
	if (size != count * elem)
		return lm_fail(err, LM_EFORMAT, "%s: section %s: %llu bytes, expected %llu",
			       f->path, name, (unsigned long long)size,
			       (unsigned long long)(count * elem));
	return 0;
}

/* OFFS[0..count] must start at 0 (or BASE), never decrease and end within
 * DATA_SIZE. */
static int check_offsets(const struct idxfile *f, const char *name, const uint64_t *offs,
			 uint64_t count, uint64_t data_size, struct lm_error *err)
{
	uint64_t i;

	if (offs[0] != 0)
		return lm_fail(err, LM_EFORMAT, "%s: section %s: first offset is not 0", f->path,
			       name);
	for (i = 0; i < count; i++)
		if (offs[i + 1] < offs[i])
			return lm_fail(err, LM_EFORMAT, "%s: section %s: offset %llu decreases",
				       f->path, name, (unsigned long long)i + 1);
	if (offs[count] != data_size)
		return lm_fail(err, LM_EFORMAT, "%s: section %s: ends at %llu, data is %llu bytes",
			       f->path, name, (unsigned long long)offs[count],
			       (unsigned long long)data_size);
	return 0;
}

int docstore_load(struct docstore *ds, const struct idxfile *f, struct lm_error *err)
{
	const void *p;
	uint64_t size, n = f->info.doc_count, i, id_size, meta_size;
	uint32_t b;
	int rc;

	memset(ds, 0, sizeof(*ds));
	ds->name = f->path;
	ds->cached_block = UINT32_MAX;
	if (!(f->info.flags & IDXFILE_F_DOCS))
		return lm_fail(err, LM_EFORMAT, "%s: no document store", f->path);
	ds->n = (uint32_t)n;
	if ((rc = idxfile_require(f, "docs.id_data", &p, &id_size, err)))
		return rc;
	ds->id_data = p;
	if ((rc = idxfile_require(f, "docs.meta_data", &p, &meta_size, err)))
		return rc;
	ds->meta_data = p;
	if ((rc = idxfile_require(f, "docs.text_data", &p, &ds->text_size, err)))
		return rc;
	ds->text_data = p;
	if ((rc = load_array(f, "docs.id_offs", n + 1, 8, &p, err)))
		return rc;
	ds->id_offs = p;
	if ((rc = load_array(f, "docs.id_sorted", n, 4, &p, err)))
		return rc;
	ds->id_sorted = p;
	if ((rc = load_array(f, "docs.meta_offs", n + 1, 8, &p, err)))
		return rc;
	ds->meta_offs = p;
	if ((rc = load_array(f, "docs.tombstones", (n + 63) / 64, 8, &p, err)))
		return rc;
	ds->tombstones = p;
	if ((rc = idxfile_require(f, "docs.text_offs", &p, &size, err)))
		return rc;
	if (size % 8 || size < 8 || size / 8 - 1 > UINT32_MAX - 1)
		return lm_fail(err, LM_EFORMAT, "%s: section docs.text_offs: bad size %llu",
			       f->path, (unsigned long long)size);
	ds->text_offs = p;
	ds->nblocks = (uint32_t)(size / 8 - 1);
	if ((rc = load_array(f, "docs.text_first", (uint64_t)ds->nblocks + 1, 4, &p, err)))
		return rc;
	ds->text_first = p;
	/* Only what costs O(blocks): the per-row offsets are checked where
	 * they are read, and in full by docstore_check, so opening a large
	 * index stays fast. */
	if ((rc = check_offsets(f, "docs.text_offs", ds->text_offs, ds->nblocks, ds->text_size,
				err)))
		return rc;
	ds->id_size = id_size;
	ds->meta_size = meta_size;
	/* Blocks cover rows 0..n-1 in order, each at least one row. */
	if (ds->text_first[0] != 0 || ds->text_first[ds->nblocks] != n)
		return lm_fail(err, LM_EFORMAT, "%s: section docs.text_first: blocks do not "
			       "cover the %llu rows", f->path, (unsigned long long)n);
	for (b = 0; b < ds->nblocks; b++)
		if (ds->text_first[b + 1] <= ds->text_first[b])
			return lm_fail(err, LM_EFORMAT, "%s: section docs.text_first: block %u "
				       "is empty or out of order", f->path, b);
	for (i = 0; i < (n + 63) / 64; i++)
		ds->deleted += (uint32_t)__builtin_popcountll(ds->tombstones[i]);

	if (n % 64 && (ds->tombstones[n / 64] >> (n % 64)))
		return lm_fail(err, LM_EFORMAT, "%s: section docs.tombstones: bits set past the "
			       "last row", f->path);
	return 0;
}

int docstore_check(const struct docstore *ds, struct lm_error *err)
{
	struct idxfile f = { .path = (char *)ds->name };
	uint64_t i;
	int rc;

	if ((rc = check_offsets(&f, "docs.id_offs", ds->id_offs, ds->n, ds->id_size, err)) ||
	    (rc = check_offsets(&f, "docs.meta_offs", ds->meta_offs, ds->n, ds->meta_size, err)))
		return rc;
	for (i = 0; i < ds->n; i++) {
		if (ds->id_offs[i + 1] == ds->id_offs[i])
			return lm_fail(err, LM_EFORMAT, "%s: section docs.id_offs: row %llu has an "
				       "empty id", ds->name, (unsigned long long)i);
		if (ds->id_sorted[i] >= ds->n)
			return lm_fail(err, LM_EFORMAT, "%s: section docs.id_sorted: entry %llu out "
				       "of range", ds->name, (unsigned long long)i);
	}
	return 0;
}

void docstore_unload(struct docstore *ds)
{
	zblock_free(ds->zb);
	free(ds->cache);
	memset(ds, 0, sizeof(*ds));
}

/* Offsets are read unchecked at load: one that is out of order or past the
 * data gives an empty string (docstore_check reports it). */
static const char *string_at(const uint64_t *offs, const char *data, uint64_t size,
			     uint32_t row, size_t *len)
{
	uint64_t a = offs[row], b = offs[row + 1];

	if (a > b || b > size) {
		*len = 0;
		return "";
	}
	*len = (size_t)(b - a);
	return data + a;
}

const char *docstore_id(const struct docstore *ds, uint32_t row, size_t *len)
{
	return string_at(ds->id_offs, ds->id_data, ds->id_size, row, len);
}

const char *docstore_meta(const struct docstore *ds, uint32_t row, size_t *len)
{
	return string_at(ds->meta_offs, ds->meta_data, ds->meta_size, row, len);
}

static int id_cmp(const char *a, size_t la, const char *b, size_t lb)
{
	int c = memcmp(a, b, la < lb ? la : lb);

	if (c)
		return c;
	return la < lb ? -1 : la > lb;
}

uint32_t docstore_find(const struct docstore *ds, const char *id, size_t len)
{
	uint32_t lo = 0, hi = ds->n, mid, row;
	const char *s;
	size_t l;

	/* First position whose id is >= ID, then the live one among equals.
	 * Rows read from id_sorted are untrusted: out of range means absent. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		row = ds->id_sorted[mid];
		if (row >= ds->n)
			return DOCSTORE_NONE;
		s = docstore_id(ds, row, &l);
		if (id_cmp(s, l, id, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ds->n; lo++) {
		row = ds->id_sorted[lo];
		if (row >= ds->n)
			return DOCSTORE_NONE;
		s = docstore_id(ds, row, &l);
		if (id_cmp(s, l, id, len) != 0)
			break;
		if (!docstore_is_deleted(ds, row))
			return row;
	}
	return DOCSTORE_NONE;
}

static int load_block(struct docstore *ds, uint32_t b, struct lm_error *err)
{
	char what[96];
	void *out;
	size_t len;
	uint64_t ndocs, i, sum;
	const unsigned char *p;
	int rc;

	if (ds->cached_block == b)
		return 0;
	snprintf(what, sizeof(what), "%s: text block %u", ds->name, b);
	if (!ds->zb && !(ds->zb = zblock_new(0, err)))
		return LM_ENOMEM;
	rc = zblock_decompress(ds->zb, ds->text_data + ds->text_offs[b],
			       ds->text_offs[b + 1] - ds->text_offs[b],
			       DOCSTORE_TEXT_MAX + DOCSTORE_BLOCK * 2, &out, &len, what, err);
	if (rc)
		return rc;
	ndocs = ds->text_first[b + 1] - ds->text_first[b];
	sum = ndocs * 4;
	p = out;
	for (i = 0; i < ndocs && sum <= len; i++) {
		uint32_t l;

		memcpy(&l, p + i * 4, 4);
		sum += l;
	}
	if (sum != len) {
		free(out);
		return lm_fail(err, LM_EFORMAT, "%s: lengths do not match the block's size", what);
	}
	free(ds->cache);
	ds->cache = out;
	ds->cache_len = len;
	ds->cached_block = b;
	return 0;
}

int docstore_text(struct docstore *ds, uint32_t row, const char **text, size_t *len,
		  struct lm_error *err)
{
	uint32_t lo = 0, hi = ds->nblocks, mid, b, i, l;
	uint64_t off;
	int rc;

	if (row >= ds->n)
		return lm_fail(err, LM_EINVAL, "%s: row %u out of range", ds->name, row);
	/* The last block whose first row is <= ROW. */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (ds->text_first[mid] <= row)
			lo = mid;
		else
			hi = mid;
	}
	b = lo;
	rc = load_block(ds, b, err);
	if (rc)
		return rc;
	off = (uint64_t)(ds->text_first[b + 1] - ds->text_first[b]) * 4;
	for (i = ds->text_first[b]; i <= row; i++) {
		memcpy(&l, ds->cache + (i - ds->text_first[b]) * 4, 4);
		if (i == row) {
			*text = (const char *)ds->cache + off;
			*len = l;
			return 0;
		}
		off += l;
	}
	return lm_fail(err, LM_EINVAL, "%s: row %u out of range", ds->name, row);
}

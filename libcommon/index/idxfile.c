#include "index/idxfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "crc32c.h"

/* The on-disk layout is described in idxfile.h; offsets here are bytes. */
static const unsigned char prologue_magic[8] = { 'L', 'M', 'P', 'I', 'D', 'X', '\r', '\n' };
static const unsigned char trailer_magic[8] = { 'L', 'M', 'P', 'I', 'D', 'X', 'E', 'N' };

#define PROLOGUE_SIZE 64
#define ENTRY_SIZE 64
#define TRAILER_SIZE 576

/* Trailer fields. */
#define T_MAGIC 0
#define T_VERSION 8
#define T_FLAGS 12
#define T_METRIC 16
#define T_DIM 20
#define T_DOCS 24
#define T_TABLE_OFF 32
#define T_NSECTIONS 40
#define T_TABLE_CRC 44
#define T_FILE_SIZE 48
#define T_MODEL 56
#define T_HASH (T_MODEL + IDXFILE_MODEL_MAX)
#define T_CRC (T_HASH + IDXFILE_MODEL_MAX)   /* crc of bytes [0, T_CRC) */

/* Table entry fields. */
#define E_NAME 0
#define E_OFFSET 32
#define E_SIZE 40
#define E_CRC 48

struct writer_entry {
	char name[IDXFILE_NAME_MAX];
	uint64_t offset, size;
	uint32_t crc;
};

struct idxfile_writer {
	struct atomic_file af;
	struct idxfile_info info;
	uint64_t off;                 /* bytes written so far */
	struct writer_entry *entries;
	uint32_t n, cap;
	int in_section;
	int failed;                   /* sticky: only abort may follow */
};

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

uint32_t idxfile_crc32c(uint32_t crc, const void *p, size_t n)
{
	return crc32c(crc, p, n);
}

static int name_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len >= IDXFILE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int writer_bytes(struct idxfile_writer *w, const void *p, size_t n, struct lm_error *err)
{
	int rc = output_write(&w->af.out, p, n, err);

	if (rc) {
		w->failed = 1;
		return rc;
	}
	w->off += n;
	return 0;
}

static int writer_pad(struct idxfile_writer *w, struct lm_error *err)
{
	static const unsigned char zeros[IDXFILE_ALIGN];
	size_t pad = (IDXFILE_ALIGN - w->off % IDXFILE_ALIGN) % IDXFILE_ALIGN;

	return pad ? writer_bytes(w, zeros, pad, err) : 0;
}

int idxfile_writer_open(struct idxfile_writer **wp, const char *path, struct lm_error *err)
{
	unsigned char pro[PROLOGUE_SIZE] = { 0 };
	struct idxfile_writer *w;
	int rc;

	*wp = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
	rc = atomic_open(&w->af, path, err);
	if (rc) {
		free(w);
		return rc;
	}
	w->info.version = IDXFILE_VERSION;
	memcpy(pro, prologue_magic, sizeof(prologue_magic));
	put_u32(pro + 8, IDXFILE_VERSION);
	rc = writer_bytes(w, pro, sizeof(pro), err);
	if (rc) {
		idxfile_writer_abort(w);
		return rc;
	}
	*wp = w;
	return 0;
}

struct idxfile_info *idxfile_writer_info(struct idxfile_writer *w)
{
	return &w->info;
}

int idxfile_section_begin(struct idxfile_writer *w, const char *name, struct lm_error *err)
{
	struct writer_entry *e;
	size_t len = strlen(name);
	uint32_t i;

	if (w->failed)
		return lm_fail(err, LM_EINVAL, "%s: index writer already failed", w->af.out.name);
	if (w->in_section)
		return lm_fail(err, LM_EINVAL, "%s: section %s: previous section not ended",
			       w->af.out.name, name);
	if (!name_valid(name, len))
		return lm_fail(err, LM_EINVAL, "%s: invalid section name '%s'", w->af.out.name, name);
	for (i = 0; i < w->n; i++)
		if (strcmp(w->entries[i].name, name) == 0)
			return lm_fail(err, LM_EINVAL, "%s: duplicate section %s", w->af.out.name, name);
	if (w->n == IDXFILE_SECTIONS_MAX)
		return lm_fail(err, LM_EINVAL, "%s: more than %d sections", w->af.out.name,
			       IDXFILE_SECTIONS_MAX);
	if (w->n == w->cap) {
		uint32_t cap = w->cap ? w->cap * 2 : 16;

		e = realloc(w->entries, cap * sizeof(*e));
		if (!e) {
			w->failed = 1;
			return lm_fail(err, LM_ENOMEM, "%s: out of memory", w->af.out.name);
		}
		w->entries = e;
		w->cap = cap;
	}
	e = &w->entries[w->n];
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, len);
	e->offset = w->off;
	w->in_section = 1;
	return 0;
}

int idxfile_section_write(struct idxfile_writer *w, const void *data, size_t size,
			  struct lm_error *err)
{
	struct writer_entry *e = &w->entries[w->n];
	int rc;

	if (w->failed || !w->in_section)
		return lm_fail(err, LM_EINVAL, "%s: section write outside a section",
			       w->af.out.name);
	if (size == 0)
		return 0;
	rc = writer_bytes(w, data, size, err);
	if (rc)
		return rc;
	e->crc = crc32c(e->crc, data, size);
	e->size += size;
	return 0;
}

int idxfile_section_end(struct idxfile_writer *w, struct lm_error *err)
{
	int rc;

	if (w->failed || !w->in_section)
		return lm_fail(err, LM_EINVAL, "%s: section end outside a section", w->af.out.name);
	rc = writer_pad(w, err);
	if (rc)
		return rc;
	w->in_section = 0;
	w->n++;
	return 0;
}

int idxfile_add_section(struct idxfile_writer *w, const char *name, const void *data,
			size_t size, struct lm_error *err)
{
	int rc = idxfile_section_begin(w, name, err);

	if (!rc)
		rc = idxfile_section_write(w, data, size, err);
	if (!rc)
		rc = idxfile_section_end(w, err);
	return rc;
}

int idxfile_writer_commit(struct idxfile_writer *w, struct lm_error *err)
{
	unsigned char ent[ENTRY_SIZE], tr[TRAILER_SIZE] = { 0 };
	uint64_t table_off = w->off;
	uint32_t table_crc = 0, i;
	size_t len;
	int rc;

	if (w->failed || w->in_section) {
		rc = lm_fail(err, LM_EINVAL, "%s: commit of an unfinished index",
			     w->af.out.name);
		goto fail;
	}
	if (w->info.metric > IDXFILE_METRIC_L2) {
		rc = lm_fail(err, LM_EINVAL, "%s: unknown metric %u", w->af.out.name,
			     w->info.metric);
		goto fail;
	}
	for (i = 0; i < w->n; i++) {
		const struct writer_entry *e = &w->entries[i];

		memset(ent, 0, sizeof(ent));
		memcpy(ent + E_NAME, e->name, strlen(e->name));
		put_u64(ent + E_OFFSET, e->offset);
		put_u64(ent + E_SIZE, e->size);
		put_u32(ent + E_CRC, e->crc);
		table_crc = crc32c(table_crc, ent, sizeof(ent));
		rc = writer_bytes(w, ent, sizeof(ent), err);
		if (rc)
			goto fail;
	}
	memcpy(tr + T_MAGIC, trailer_magic, sizeof(trailer_magic));
	put_u32(tr + T_VERSION, IDXFILE_VERSION);
	put_u32(tr + T_FLAGS, w->info.flags);
	put_u32(tr + T_METRIC, w->info.metric);
	put_u32(tr + T_DIM, w->info.dim);
	put_u64(tr + T_DOCS, w->info.doc_count);
	put_u64(tr + T_TABLE_OFF, table_off);
	put_u32(tr + T_NSECTIONS, w->n);
	put_u32(tr + T_TABLE_CRC, table_crc);
	put_u64(tr + T_FILE_SIZE, w->off + TRAILER_SIZE);
	len = strnlen(w->info.model_name, IDXFILE_MODEL_MAX - 1);
	memcpy(tr + T_MODEL, w->info.model_name, len);
	len = strnlen(w->info.model_hash, IDXFILE_MODEL_MAX - 1);
	memcpy(tr + T_HASH, w->info.model_hash, len);
	put_u32(tr + T_CRC, crc32c(0, tr, T_CRC));
	rc = writer_bytes(w, tr, sizeof(tr), err);
	if (rc)
		goto fail;
	rc = atomic_commit(&w->af, err);
	free(w->entries);
	free(w);
	return rc;
fail:
	idxfile_writer_abort(w);
	return rc;
}

void idxfile_writer_abort(struct idxfile_writer *w)
{
	if (!w)
		return;
	atomic_abort(&w->af);
	free(w->entries);
	free(w);
}

/* ---- reading ---------------------------------------------------------- */

static int section_name_cmp(const void *a, const void *b)
{
	const struct idxfile_section *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int check_unique(struct idxfile *f, struct lm_error *err)
{
	const struct idxfile_section **by_name;
	uint32_t i;
	int rc = 0;

	if (f->nsections < 2)
		return 0;
	by_name = malloc(f->nsections * sizeof(*by_name));
	if (!by_name)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", f->path);
	for (i = 0; i < f->nsections; i++)
		by_name[i] = &f->sections[i];
	qsort(by_name, f->nsections, sizeof(*by_name), section_name_cmp);
	for (i = 1; i < f->nsections; i++)
		if (strcmp(by_name[i - 1]->name, by_name[i]->name) == 0) {
			rc = lm_fail(err, LM_EFORMAT, "%s: duplicate section %s", f->path,
				     by_name[i]->name);
			break;
		}
	free(by_name);
	return rc;
}

static int verify_one(struct idxfile *f, struct idxfile_section *s, struct lm_error *err)
{
	uint32_t crc;

	if (s->verified)
		return 0;
	crc = crc32c(0, s->data, s->size);
	if (crc != s->crc)
		return lm_fail(err, LM_EFORMAT,
			       "%s: section %s: checksum mismatch (stored %08x, computed %08x): "
			       "the file is corrupt", f->path, s->name, s->crc, crc);
	s->verified = 1;
	return 0;
}

static int read_string(struct idxfile *f, const unsigned char *p, char *dst, const char *what,
		       struct lm_error *err)
{
	if (!memchr(p, 0, IDXFILE_MODEL_MAX))
		return lm_fail(err, LM_EFORMAT, "%s: %s is not terminated", f->path, what);
	memcpy(dst, p, IDXFILE_MODEL_MAX);
	return 0;
}

/* Validate the bytes f->base[0..f->size) and fill F.  Every offset and size
 * is checked before use: the file is untrusted. */
static int parse(struct idxfile *f, struct lm_error *err)
{
	const unsigned char *b = f->base, *tr, *ent;
	uint64_t table_off, file_size, prev_end = PROLOGUE_SIZE;
	uint32_t n, i, crc;
	int rc;

	if (f->size < PROLOGUE_SIZE + TRAILER_SIZE || memcmp(b, prologue_magic, 8) != 0) {
		if (f->size >= 8 && memcmp(b, prologue_magic, 8) == 0)
			return lm_fail(err, LM_EFORMAT, "%s: truncated index file (%zu bytes)",
				       f->path, f->size);
		return lm_fail(err, LM_EFORMAT, "%s: not an lmpipe index file", f->path);
	}
	if (get_u32(b + 8) != IDXFILE_VERSION)
		return lm_fail(err, LM_EFORMAT, "%s: index format version %u, this build reads %d",
			       f->path, get_u32(b + 8), IDXFILE_VERSION);
	tr = b + f->size - TRAILER_SIZE;
	if (memcmp(tr + T_MAGIC, trailer_magic, 8) != 0)
		return lm_fail(err, LM_EFORMAT, "%s: truncated index file (no trailer at the end)",
			       f->path);
	crc = crc32c(0, tr, T_CRC);
	if (crc != get_u32(tr + T_CRC))
		return lm_fail(err, LM_EFORMAT, "%s: header checksum mismatch: the file is corrupt",
			       f->path);
	file_size = get_u64(tr + T_FILE_SIZE);
	if (file_size != f->size)
		return lm_fail(err, LM_EFORMAT, "%s: file is %zu bytes, header says %llu",
			       f->path, f->size, (unsigned long long)file_size);
	if (get_u32(tr + T_VERSION) != IDXFILE_VERSION)
		return lm_fail(err, LM_EFORMAT, "%s: header version %u, this build reads %d",
			       f->path, get_u32(tr + T_VERSION), IDXFILE_VERSION);
	f->info.version = IDXFILE_VERSION;
	f->info.flags = get_u32(tr + T_FLAGS);
	f->info.metric = get_u32(tr + T_METRIC);
	f->info.dim = get_u32(tr + T_DIM);
	f->info.doc_count = get_u64(tr + T_DOCS);
	if (f->info.metric > IDXFILE_METRIC_L2)
		return lm_fail(err, LM_EFORMAT, "%s: unknown metric %u", f->path, f->info.metric);
	if (f->info.doc_count > UINT32_MAX)
		return lm_fail(err, LM_EFORMAT, "%s: document count %llu out of range", f->path,
			       (unsigned long long)f->info.doc_count);
	rc = read_string(f, tr + T_MODEL, f->info.model_name, "model name", err);
	if (!rc)
		rc = read_string(f, tr + T_HASH, f->info.model_hash, "model hash", err);
	if (rc)
		return rc;

	table_off = get_u64(tr + T_TABLE_OFF);
	n = get_u32(tr + T_NSECTIONS);
	if (n > IDXFILE_SECTIONS_MAX || table_off % IDXFILE_ALIGN || table_off < PROLOGUE_SIZE ||
	    table_off + (uint64_t)n * ENTRY_SIZE != f->size - TRAILER_SIZE)
		return lm_fail(err, LM_EFORMAT, "%s: section table out of bounds", f->path);
	if (crc32c(0, b + table_off, (size_t)n * ENTRY_SIZE) != get_u32(tr + T_TABLE_CRC))
		return lm_fail(err, LM_EFORMAT,
			       "%s: section table checksum mismatch: the file is corrupt", f->path);
	f->sections = calloc(n ? n : 1, sizeof(*f->sections));
	if (!f->sections)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", f->path);
	f->nsections = n;
	for (i = 0; i < n; i++) {
		struct idxfile_section *s = &f->sections[i];
		uint64_t off, size;

		ent = b + table_off + (uint64_t)i * ENTRY_SIZE;
		if (!memchr(ent + E_NAME, 0, IDXFILE_NAME_MAX) ||
		    !name_valid((const char *)ent + E_NAME, strlen((const char *)ent + E_NAME)))
			return lm_fail(err, LM_EFORMAT, "%s: section %u has an invalid name",
				       f->path, i);
		memcpy(s->name, ent + E_NAME, IDXFILE_NAME_MAX);
		off = get_u64(ent + E_OFFSET);
		size = get_u64(ent + E_SIZE);
		if (off % IDXFILE_ALIGN || off < prev_end || off > table_off ||
		    size > table_off - off)
			return lm_fail(err, LM_EFORMAT, "%s: section %s: offset %llu size %llu "
				       "out of bounds", f->path, s->name,
				       (unsigned long long)off, (unsigned long long)size);
		prev_end = off + size;
		s->data = b + off;
		s->size = size;
		s->crc = get_u32(ent + E_CRC);
	}
	rc = check_unique(f, err);
	if (rc)
		return rc;
	for (i = 0; i < n; i++) {
		if (f->sections[i].size > IDXFILE_EAGER_MAX)
			continue;
		rc = verify_one(f, &f->sections[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static int open_common(struct idxfile *f, const char *name, struct lm_error *err)
{
	int rc;

	f->path = strdup(name);
	if (!f->path)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", name);
	rc = parse(f, err);
	if (rc)
		idxfile_close(f);
	return rc;
}

int idxfile_open_mem(struct idxfile *f, const void *data, size_t size, const char *name,
		     struct lm_error *err)
{
	memset(f, 0, sizeof(*f));
	f->base = data;
	f->size = size;
	return open_common(f, name, err);
}

int idxfile_open(struct idxfile *f, const char *path, struct lm_error *err)
{
	struct stat st;
	void *map;
	int fd;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno(err, "%s", path);
	if (fstat(fd, &st) < 0) {
		lm_fail_errno(err, "%s", path);
		close(fd);
		return LM_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return lm_fail(err, LM_EFORMAT, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size < PROLOGUE_SIZE + TRAILER_SIZE || (uint64_t)st.st_size > SIZE_MAX) {
		/* Too short to map meaningfully; parse() explains why. */
		static const unsigned char empty[1];
		unsigned char head[8];
		ssize_t got = pread(fd, head, sizeof(head), 0);

		close(fd);
		if (got < 0)
			return lm_fail_errno(err, "%s", path);
		return idxfile_open_mem(f, got > 0 ? head : empty, got > 0 ? (size_t)got : 0, path,
					err);
	}
	/* MAP_PRIVATE and PROT_READ: writers replace the file by rename, so the
	 * inode we map never changes under us, and an old reader keeps its
	 * old file. */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return lm_fail_errno(err, "%s: mmap", path);
	f->base = map;
	f->size = (size_t)st.st_size;
	f->mapped = 1;
	return open_common(f, path, err);
}

void idxfile_close(struct idxfile *f)
{
	if (f->mapped && f->base)
		munmap((void *)f->base, f->size);
	free(f->sections);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

static struct idxfile_section *find(const struct idxfile *f, const char *name)
{
	uint32_t i;

	for (i = 0; i < f->nsections; i++)
		if (strcmp(f->sections[i].name, name) == 0)
			return &f->sections[i];
	return NULL;
}

int idxfile_section(const struct idxfile *f, const char *name, const void **data,
		    uint64_t *size)
{
	const struct idxfile_section *s = find(f, name);

	if (!s)
		return LM_EOF;
	*data = s->data;
	*size = s->size;
	return 0;
}

int idxfile_require(const struct idxfile *f, const char *name, const void **data,
		    uint64_t *size, struct lm_error *err)
{
	if (idxfile_section(f, name, data, size))
		return lm_fail(err, LM_EFORMAT, "%s: missing section %s", f->path, name);
	return 0;
}

int idxfile_verify_section(struct idxfile *f, const char *name, struct lm_error *err)
{
	struct idxfile_section *s = find(f, name);

	if (!s)
		return lm_fail(err, LM_EFORMAT, "%s: missing section %s", f->path, name);
	return verify_one(f, s, err);
}

int idxfile_verify(struct idxfile *f, struct lm_error *err)
{
	uint32_t i;
	int rc;

	for (i = 0; i < f->nsections; i++) {
		rc = verify_one(f, &f->sections[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static const char *const metric_names[] = { "none", "cosine", "ip", "l2" };

const char *idxfile_metric_name(uint32_t metric)
{
	return metric <= IDXFILE_METRIC_L2 ? metric_names[metric] : "?";
}

int idxfile_metric_parse(const char *name, uint32_t *metric, struct lm_error *err)
{
	uint32_t i;

	for (i = IDXFILE_METRIC_COSINE; i <= IDXFILE_METRIC_L2; i++)
		if (strcmp(name, metric_names[i]) == 0) {
			*metric = i;
			return 0;
		}
	return lm_fail(err, LM_EINVAL, "unknown metric '%s' (cosine, ip, l2)", name);
}

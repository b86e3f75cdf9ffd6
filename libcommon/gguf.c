/* gguf.c - GGUF reader and typed getters (ggml docs/gguf.md). */
#include "gguf.h"
#include "gguf_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Shapes are handed to tensor.h as read. */
_Static_assert(GGUF_MAX_DIMS == TENSOR_MAX_DIMS, "GGUF and tensor.h shapes differ");

static const char *const value_type_names[GGUF_TYPE_COUNT] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64",
};

const char *gguf_value_type_name(uint32_t type)
{
	return type < GGUF_TYPE_COUNT ? value_type_names[type] : "?";
}

/* ---- parsing ---- */

struct gguf_parser {
	struct gguf_file *file;
	const unsigned char *p;
	uint64_t size, pos;
	struct lm_error *err;
	char where[160];     /* "kv 3 (tokenizer.ggml.tokens)", prefixed to messages */
};

static int bad(struct gguf_parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct gguf_parser *ps, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return lm_fail(ps->err, LM_EFORMAT, "%s: %s%s%s", ps->file->name, ps->where,
		       ps->where[0] ? ": " : "", msg);
}

/* Name bytes for messages: at most 80 bytes, so a long key cannot push the
 * rest of the message out of the buffer. */
static void set_where(struct gguf_parser *ps, const char *what, uint64_t i,
		      const unsigned char *name, uint64_t len)
{
	if (name)
		snprintf(ps->where, sizeof ps->where, "%s %llu (%.*s%s)", what,
			 (unsigned long long)i, (int)(len > 80 ? 80 : len), (const char *)name,
			 len > 80 ? "..." : "");
	else
		snprintf(ps->where, sizeof ps->where, "%s %llu", what, (unsigned long long)i);
}

static int need(struct gguf_parser *ps, uint64_t n, const char *what)
{
	if (n > ps->size - ps->pos)
		return bad(ps, "truncated: %s needs %llu bytes at offset %llu, file has %llu",
			   what, (unsigned long long)n, (unsigned long long)ps->pos,
			   (unsigned long long)ps->size);
	return LM_OK;
}

static int read_u32(struct gguf_parser *ps, uint32_t *v, const char *what)
{
	int rc = need(ps, 4, what);

	if (rc)
		return rc;
	*v = gguf_le32(ps->p + ps->pos);
	ps->pos += 4;
	return LM_OK;
}

static int read_u64(struct gguf_parser *ps, uint64_t *v, const char *what)
{
	int rc = need(ps, 8, what);

	if (rc)
		return rc;
	*v = gguf_le64(ps->p + ps->pos);
	ps->pos += 8;
	return LM_OK;
}

/* A gguf_string_t: uint64 length, then that many bytes. */
static int read_string(struct gguf_parser *ps, const unsigned char **s, uint64_t *len,
		       const char *what)
{
	int rc = read_u64(ps, len, what);

	if (rc)
		return rc;
	if (*len > ps->size - ps->pos)
		return bad(ps, "truncated: %s of %llu bytes at offset %llu, file has %llu",
			   what, (unsigned long long)*len, (unsigned long long)ps->pos,
			   (unsigned long long)ps->size);
	*s = ps->p + ps->pos;
	ps->pos += *len;
	return LM_OK;
}

static int parse_array(struct gguf_parser *ps, struct gguf_kv *kv)
{
	uint32_t et;
	uint64_t count, *off;
	unsigned esize;
	int rc;

	if ((rc = read_u32(ps, &et, "array element type")))
		return rc;
	if (et == GGUF_TYPE_ARRAY)
		return bad(ps, "nested arrays are not supported");
	if (et >= GGUF_TYPE_COUNT)
		return bad(ps, "unknown array element type %u", et);
	if ((rc = read_u64(ps, &count, "array count")))
		return rc;
	kv->elem_type = et;
	kv->count = count;
	kv->data = ps->p + ps->pos;
	esize = gguf_value_size(et);
	if (esize) {
		if (count > (ps->size - ps->pos) / esize)
			return bad(ps, "truncated: array of %llu %s at offset %llu does not fit in the file (%llu bytes)",
				   (unsigned long long)count, value_type_names[et],
				   (unsigned long long)ps->pos, (unsigned long long)ps->size);
		if (et == GGUF_TYPE_BOOL)
			for (uint64_t i = 0; i < count; i++)
				if (kv->data[i] > 1)
					return bad(ps, "bool element %llu is %u, not 0 or 1",
						   (unsigned long long)i, kv->data[i]);
		ps->pos += count * esize;
		return LM_OK;
	}
	/* Strings: every element needs at least its 8-byte length, which bounds
	 * the offset table by the file size. */
	if (count > (ps->size - ps->pos) / 8)
		return bad(ps, "truncated: array of %llu strings at offset %llu cannot fit in %llu bytes",
			   (unsigned long long)count, (unsigned long long)ps->pos,
			   (unsigned long long)ps->size);
	off = malloc(count ? count * sizeof *off : 1);
	if (!off)
		return lm_fail(ps->err, LM_ENOMEM, "%s: out of memory", ps->file->name);
	kv->str_off = off;
	for (uint64_t i = 0; i < count; i++) {
		const unsigned char *s;
		uint64_t len;
		char what[64];

		off[i] = (uint64_t)(ps->p + ps->pos - kv->data);
		snprintf(what, sizeof what, "string element %llu", (unsigned long long)i);
		if ((rc = read_string(ps, &s, &len, what)))
			return rc;
	}
	return LM_OK;
}

static int parse_kv(struct gguf_parser *ps, uint64_t i, struct gguf_kv *kv)
{
	const unsigned char *key;
	uint64_t key_len, start;
	uint32_t type;
	int rc;

	set_where(ps, "kv", i, NULL, 0);
	if ((rc = read_string(ps, &key, &key_len, "key")))
		return rc;
	if (key_len == 0)
		return bad(ps, "empty key");
	if (!gguf_valid_name(key, key_len))
		return bad(ps, "key is not valid UTF-8 (or contains NUL)");
	set_where(ps, "kv", i, key, key_len);
	kv->key = (const char *)key;     /* re-pointed to a terminated copy later */
	kv->key_len = key_len;
	if ((rc = read_u32(ps, &type, "value type")))
		return rc;
	if (type >= GGUF_TYPE_COUNT)
		return bad(ps, "unknown value type %u", type);
	kv->type = kv->elem_type = type;
	kv->count = 1;
	start = ps->pos;
	kv->raw = ps->p + start;
	if (type == GGUF_TYPE_ARRAY) {
		if ((rc = parse_array(ps, kv)))
			return rc;
	} else if (type == GGUF_TYPE_STRING) {
		if ((rc = read_string(ps, &kv->data, &kv->count, "string value")))
			return rc;
	} else {
		if ((rc = need(ps, gguf_value_size(type), "value")))
			return rc;
		kv->data = ps->p + ps->pos;
		if (type == GGUF_TYPE_BOOL && kv->data[0] > 1)
			return bad(ps, "bool value is %u, not 0 or 1", kv->data[0]);
		ps->pos += gguf_value_size(type);
	}
	kv->raw_len = ps->pos - start;
	return LM_OK;
}

static int parse_tensor_info(struct gguf_parser *ps, uint64_t i, struct gguf_tensor *t)
{
	const unsigned char *name;
	uint64_t name_len, d, total;
	uint32_t type;
	struct lm_error size_err;
	size_t nbytes;
	int rc;

	set_where(ps, "tensor", i, NULL, 0);
	if ((rc = read_string(ps, &name, &name_len, "tensor name")))
		return rc;
	if (name_len == 0)
		return bad(ps, "empty name");
	if (name_len > GGUF_MAX_NAME)
		return bad(ps, "name is %llu bytes, more than %d", (unsigned long long)name_len,
			   GGUF_MAX_NAME);
	if (!gguf_valid_name(name, name_len))
		return bad(ps, "name is not valid UTF-8 (or contains NUL)");
	set_where(ps, "tensor", i, name, name_len);
	t->name = (const char *)name;     /* re-pointed to a terminated copy later */
	t->name_len = name_len;
	if ((rc = read_u32(ps, &t->n_dims, "n_dims")))
		return rc;
	if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
		return bad(ps, "n_dims is %u, must be 1 to %d", t->n_dims, GGUF_MAX_DIMS);
	total = 1;
	for (uint32_t j = 0; j < GGUF_MAX_DIMS; j++) {
		t->ne[j] = 1;
		if (j >= t->n_dims)
			continue;
		if ((rc = read_u64(ps, &d, "dimension")))
			return rc;
		if (d == 0 || d > INT64_MAX)
			return bad(ps, "dimension %u is %llu", j, (unsigned long long)d);
		/* llama.cpp gguf.cpp: the element count must be below INT64_MAX. */
		if (total > (uint64_t)INT64_MAX / d)
			return bad(ps, "number of elements overflows 64 bits");
		total *= d;
		t->ne[j] = (int64_t)d;
	}
	if ((rc = read_u32(ps, &type, "tensor type")))
		return rc;
	if (type >= DTYPE_COUNT || !dtype_valid((int)type))
		return bad(ps, "unknown ggml type %u", type);
	t->type = (enum dtype)type;
	if (dtype_nbytes(t->type, t->ne, &nbytes, &size_err))
		return bad(ps, "%s", size_err.msg);
	t->nbytes = nbytes;
	return read_u64(ps, &t->offset, "tensor offset");
}

static int cmp_kv(const void *a, const void *b)
{
	const struct gguf_kv *x = *(const struct gguf_kv *const *)a;
	const struct gguf_kv *y = *(const struct gguf_kv *const *)b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x < y ? -1 : x > y);
}

static int cmp_tensor(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x < y ? -1 : x > y);
}

/* Copy keys and names into one NUL-terminated pool, sort for lookups and
 * reject duplicates. */
static int index_names(struct gguf_parser *ps)
{
	struct gguf_file *f = ps->file;
	size_t total = 0, at = 0;

	for (uint64_t i = 0; i < f->n_kv; i++)
		total += f->kvs[i].key_len + 1;
	for (uint64_t i = 0; i < f->n_tensors; i++)
		total += f->tensors[i].name_len + 1;
	f->names = malloc(total ? total : 1);
	f->kv_sorted = malloc((f->n_kv ? f->n_kv : 1) * sizeof *f->kv_sorted);
	f->tensor_sorted = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *f->tensor_sorted);
	if (!f->names || !f->kv_sorted || !f->tensor_sorted)
		return lm_fail(ps->err, LM_ENOMEM, "%s: out of memory", f->name);
	for (uint64_t i = 0; i < f->n_kv; i++) {
		memcpy(f->names + at, f->kvs[i].key, f->kvs[i].key_len);
		f->names[at + f->kvs[i].key_len] = '\0';
		f->kvs[i].key = f->names + at;
		at += f->kvs[i].key_len + 1;
		f->kv_sorted[i] = &f->kvs[i];
	}
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		size_t n = f->tensors[i].name_len;

		memcpy(f->names + at, f->tensors[i].name, n);
		f->names[at + n] = '\0';
		f->tensors[i].name = f->names + at;
		at += n + 1;
		f->tensor_sorted[i] = &f->tensors[i];
	}
	ps->where[0] = '\0';
	qsort(f->kv_sorted, f->n_kv, sizeof *f->kv_sorted, cmp_kv);
	for (uint64_t i = 1; i < f->n_kv; i++)
		if (!strcmp(f->kv_sorted[i - 1]->key, f->kv_sorted[i]->key))
			return bad(ps, "duplicate key '%.80s' (kv %llu and kv %llu)", f->kv_sorted[i]->key,
				   (unsigned long long)(f->kv_sorted[i - 1] - f->kvs),
				   (unsigned long long)(f->kv_sorted[i] - f->kvs));
	qsort(f->tensor_sorted, f->n_tensors, sizeof *f->tensor_sorted, cmp_tensor);
	for (uint64_t i = 1; i < f->n_tensors; i++)
		if (!strcmp(f->tensor_sorted[i - 1]->name, f->tensor_sorted[i]->name))
			return bad(ps, "duplicate tensor name '%s' (tensor %llu and tensor %llu)",
				   f->tensor_sorted[i]->name,
				   (unsigned long long)(f->tensor_sorted[i - 1] - f->tensors),
				   (unsigned long long)(f->tensor_sorted[i] - f->tensors));
	return LM_OK;
}

/* Smallest serialised key/value: 8-byte key length, a 1-byte key, 4-byte
 * type, 1-byte value.  Smallest tensor info: 8-byte name length, 1-byte
 * name, n_dims, one dimension, type, offset. */
enum { MIN_KV_BYTES = 8 + 1 + 4 + 1, MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8 };

static int parse(struct gguf_parser *ps)
{
	struct gguf_file *f = ps->file;
	const struct gguf_kv *akv;
	uint64_t n_tensors, n_kv;
	uint32_t magic_ver;
	int rc;

	if (ps->size < 4 || memcmp(ps->p, "GGUF", 4))
		return bad(ps, "not a GGUF file (no \"GGUF\" magic)");
	ps->pos = 4;
	if ((rc = read_u32(ps, &f->version, "version")))
		return rc;
	magic_ver = f->version;
	if (magic_ver == 1)
		return bad(ps, "GGUF version 1 is not supported (only versions 2 and 3)");
	if (magic_ver == 0x02000000 || magic_ver == 0x03000000)
		return bad(ps, "big-endian GGUF files are not supported");
	if (magic_ver != 2 && magic_ver != 3)
		return bad(ps, "unsupported GGUF version %u (only versions 2 and 3)", magic_ver);
	if ((rc = read_u64(ps, &n_tensors, "tensor count")) || (rc = read_u64(ps, &n_kv, "kv count")))
		return rc;
	if (n_kv > (ps->size - ps->pos) / MIN_KV_BYTES)
		return bad(ps, "truncated or corrupt: header claims %llu key/values, only %llu bytes follow",
			   (unsigned long long)n_kv, (unsigned long long)(ps->size - ps->pos));
	f->kvs = calloc(n_kv ? n_kv : 1, sizeof *f->kvs);
	if (!f->kvs)
		return lm_fail(ps->err, LM_ENOMEM, "%s: out of memory", f->name);
	f->kv_cap = n_kv;
	for (uint64_t i = 0; i < n_kv; i++) {
		if ((rc = parse_kv(ps, i, &f->kvs[i])))
			return rc;
		f->n_kv = i + 1;
	}
	ps->where[0] = '\0';
	if (n_tensors > (ps->size - ps->pos) / MIN_TENSOR_INFO_BYTES)
		return bad(ps, "truncated or corrupt: header claims %llu tensors, only %llu bytes follow the key/values",
			   (unsigned long long)n_tensors, (unsigned long long)(ps->size - ps->pos));
	f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
	if (!f->tensors)
		return lm_fail(ps->err, LM_ENOMEM, "%s: out of memory", f->name);
	for (uint64_t i = 0; i < n_tensors; i++) {
		if ((rc = parse_tensor_info(ps, i, &f->tensors[i])))
			return rc;
		f->n_tensors = i + 1;
	}
	if ((rc = index_names(ps)))
		return rc;

	f->alignment = GGUF_DEFAULT_ALIGNMENT;
	akv = gguf_find_kv(f, "general.alignment");
	if (akv) {
		if (akv->type != GGUF_TYPE_UINT32)
			return bad(ps, "general.alignment is %s, must be uint32",
				   value_type_names[akv->type]);
		f->alignment = gguf_le32(akv->data);
		if (f->alignment == 0 || (f->alignment & (f->alignment - 1)))
			return bad(ps, "general.alignment %u is not a power of two", f->alignment);
	}
	f->info_end = ps->pos;
	/* pos <= size < 2^63 and alignment < 2^32: no overflow. */
	f->data_offset = (ps->pos + f->alignment - 1) / f->alignment * f->alignment;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		struct gguf_tensor *t = &f->tensors[i];

		set_where(ps, "tensor", i, (const unsigned char *)t->name, t->name_len);
		if (t->offset % f->alignment)
			return bad(ps, "offset %llu is not a multiple of the alignment %u",
				   (unsigned long long)t->offset, f->alignment);
		if (f->data_offset > ps->size || t->offset > ps->size - f->data_offset ||
		    t->nbytes > ps->size - f->data_offset - t->offset)
			return bad(ps, "data extends past end of file (offset %llu, size %llu, file %llu)",
				   (unsigned long long)f->data_offset + (t->offset > ps->size ? 0 : t->offset),
				   (unsigned long long)t->nbytes, (unsigned long long)ps->size);
		t->data = ps->p + f->data_offset + t->offset;
	}
	return LM_OK;
}

void gguf_close(struct gguf_file *f)
{
	if (!f)
		return;
	/* kv_cap, not n_kv: the entry that failed to parse may own a table. */
	for (uint64_t i = 0; f->kvs && i < f->kv_cap; i++)
		free((void *)f->kvs[i].str_off);
	if (f->mapped)
		munmap((void *)f->base, f->size);
	free(f->kvs);
	free(f->tensors);
	free(f->kv_sorted);
	free(f->tensor_sorted);
	free(f->names);
	free(f->name);
	free(f);
}

static int open_common(const unsigned char *base, uint64_t size, int mapped, const char *name,
		       struct gguf_file **file, struct lm_error *err)
{
	struct gguf_parser ps;
	struct gguf_file *f;
	int rc;

	*file = NULL;
	f = calloc(1, sizeof *f);
	if (!f || !(f->name = strdup(name))) {
		free(f);
		if (mapped)
			munmap((void *)base, size);
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", name);
	}
	f->base = base;
	f->size = size;
	f->mapped = mapped;
	memset(&ps, 0, sizeof ps);
	ps.file = f;
	ps.p = base;
	ps.size = size;
	ps.err = err;
	rc = parse(&ps);
	if (rc) {
		gguf_close(f);
		return rc;
	}
	*file = f;
	return LM_OK;
}

int gguf_open_memory(const void *buf, size_t size, const char *name, struct gguf_file **file,
		     struct lm_error *err)
{
	static const unsigned char empty[1];

	return open_common(size ? buf : empty, size, 0, name, file, err);
}

int gguf_open(const char *path, struct gguf_file **file, struct lm_error *err)
{
	static const unsigned char empty[1];
	const unsigned char *base = empty;
	struct stat st;
	int fd, mapped = 0;

	*file = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno(err, "%s", path);
	if (fstat(fd, &st) != 0) {
		int rc = lm_fail_errno(err, "%s: stat", path);

		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return lm_fail(err, LM_EINVAL, "%s: not a regular file (GGUF files are mapped)", path);
	}
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (m == MAP_FAILED) {
			int rc = lm_fail_errno(err, "%s: mmap", path);

			close(fd);
			return rc;
		}
		base = m;
		mapped = 1;
	}
	close(fd);
	return open_common(base, (uint64_t)st.st_size, mapped, path, file, err);
}

/* ---- lookups ---- */

const struct gguf_kv *gguf_find_kv(const struct gguf_file *f, const char *key)
{
	uint64_t lo = 0, hi = f->n_kv;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->kv_sorted[mid]->key, key);

		if (!c)
			return f->kv_sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
	uint64_t lo = 0, hi = f->n_tensors;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->tensor_sorted[mid]->name, name);

		if (!c)
			return f->tensor_sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* An integer value at P: *NEG says whether it is negative; *S holds it as
 * int64 (saturated at INT64_MAX), *U as uint64 when not negative.  Returns 0
 * for non-integer types. */
static int int_at(uint32_t type, const unsigned char *p, int64_t *s, uint64_t *u, int *neg)
{
	*neg = 0;
	switch (type) {
	case GGUF_TYPE_UINT8: *u = p[0]; break;
	case GGUF_TYPE_UINT16: *u = gguf_le16(p); break;
	case GGUF_TYPE_UINT32: *u = gguf_le32(p); break;
	case GGUF_TYPE_UINT64: *u = gguf_le64(p); break;
	case GGUF_TYPE_INT8: *s = (int8_t)p[0]; break;
	case GGUF_TYPE_INT16: *s = (int16_t)gguf_le16(p); break;
	case GGUF_TYPE_INT32: *s = (int32_t)gguf_le32(p); break;
	case GGUF_TYPE_INT64: *s = (int64_t)gguf_le64(p); break;
	default: return 0;
	}
	switch (type) {
	case GGUF_TYPE_INT8: case GGUF_TYPE_INT16: case GGUF_TYPE_INT32: case GGUF_TYPE_INT64:
		*neg = *s < 0;
		*u = *neg ? 0 : (uint64_t)*s;
		break;
	default:
		*s = *u > INT64_MAX ? INT64_MAX : (int64_t)*u;
	}
	return 1;
}

static int float_at(uint32_t type, const unsigned char *p, double *v)
{
	int64_t s;
	uint64_t u;
	int neg;

	if (type == GGUF_TYPE_FLOAT32) {
		uint32_t b = gguf_le32(p);
		float x;

		memcpy(&x, &b, 4);
		*v = x;
		return 1;
	}
	if (type == GGUF_TYPE_FLOAT64) {
		uint64_t b = gguf_le64(p);

		memcpy(v, &b, 8);
		return 1;
	}
	if (!int_at(type, p, &s, &u, &neg))
		return 0;
	*v = neg ? (double)s : (double)u;
	return 1;
}

static int find_scalar(const struct gguf_file *f, const char *key, const struct gguf_kv **kv,
		       struct lm_error *err)
{
	*kv = gguf_find_kv(f, key);
	if (!*kv)
		return lm_fail(err, LM_EFORMAT, "%s: key '%s' not found", f->name, key);
	return LM_OK;
}

static int wrong_type(const struct gguf_file *f, const struct gguf_kv *kv, const char *want,
		      struct lm_error *err)
{
	return lm_fail(err, LM_EFORMAT, "%s: key '%s' is %s%s%s, expected %s", f->name, kv->key,
		       value_type_names[kv->type], kv->type == GGUF_TYPE_ARRAY ? " of " : "",
		       kv->type == GGUF_TYPE_ARRAY ? value_type_names[kv->elem_type] : "", want);
}

static int get_int(const struct gguf_file *f, const char *key, int64_t min, uint64_t max,
		   int64_t *sv, uint64_t *uv, int *neg, const char *want, struct lm_error *err)
{
	const struct gguf_kv *kv;
	int rc = find_scalar(f, key, &kv, err);

	if (rc)
		return rc;
	if (kv->type == GGUF_TYPE_ARRAY || !int_at(kv->type, kv->data, sv, uv, neg))
		return wrong_type(f, kv, want, err);
	if ((*neg && *sv < min) || (!*neg && *uv > max))
		return lm_fail(err, LM_EFORMAT, "%s: key '%s' value %s%llu is out of range for %s",
			       f->name, key, *neg ? "-" : "",
			       *neg ? (unsigned long long)(-(*sv + 1)) + 1ULL : (unsigned long long)*uv,
			       want);
	return LM_OK;
}

int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *v, struct lm_error *err)
{
	int64_t s;
	uint64_t u;
	int neg, rc = get_int(f, key, 0, UINT32_MAX, &s, &u, &neg, "uint32", err);

	if (!rc)
		*v = (uint32_t)u;
	return rc;
}

int gguf_get_i32(const struct gguf_file *f, const char *key, int32_t *v, struct lm_error *err)
{
	int64_t s;
	uint64_t u;
	int neg, rc = get_int(f, key, INT32_MIN, INT32_MAX, &s, &u, &neg, "int32", err);

	if (!rc)
		*v = (int32_t)s;
	return rc;
}

int gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *v, struct lm_error *err)
{
	int64_t s;
	uint64_t u;
	int neg, rc = get_int(f, key, 0, UINT64_MAX, &s, &u, &neg, "uint64", err);

	if (!rc)
		*v = u;
	return rc;
}

int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *v, struct lm_error *err)
{
	int64_t s;
	uint64_t u;
	int neg, rc = get_int(f, key, INT64_MIN, INT64_MAX, &s, &u, &neg, "int64", err);

	if (!rc)
		*v = s;
	return rc;
}

int gguf_get_f64(const struct gguf_file *f, const char *key, double *v, struct lm_error *err)
{
	const struct gguf_kv *kv;
	int rc = find_scalar(f, key, &kv, err);

	if (rc)
		return rc;
	if (kv->type == GGUF_TYPE_ARRAY || !float_at(kv->type, kv->data, v))
		return wrong_type(f, kv, "a number", err);
	return LM_OK;
}

int gguf_get_f32(const struct gguf_file *f, const char *key, float *v, struct lm_error *err)
{
	double d;
	int rc = gguf_get_f64(f, key, &d, err);

	if (!rc)
		*v = (float)d;
	return rc;
}

int gguf_get_bool(const struct gguf_file *f, const char *key, int *v, struct lm_error *err)
{
	const struct gguf_kv *kv;
	int rc = find_scalar(f, key, &kv, err);

	if (rc)
		return rc;
	if (kv->type != GGUF_TYPE_BOOL)
		return wrong_type(f, kv, "bool", err);
	*v = kv->data[0];
	return LM_OK;
}

int gguf_get_str(const struct gguf_file *f, const char *key, const char **s, uint64_t *len,
		 struct lm_error *err)
{
	const struct gguf_kv *kv;
	int rc = find_scalar(f, key, &kv, err);

	if (rc)
		return rc;
	if (kv->type != GGUF_TYPE_STRING)
		return wrong_type(f, kv, "string", err);
	*s = (const char *)kv->data;
	*len = kv->count;
	return LM_OK;
}

int gguf_get_array(const struct gguf_file *f, const char *key, enum gguf_value_type elem_type,
		   const struct gguf_kv **kv, struct lm_error *err)
{
	char want[32];
	int rc = find_scalar(f, key, kv, err);

	if (rc)
		return rc;
	snprintf(want, sizeof want, "array of %s",
		 elem_type == GGUF_TYPE_COUNT ? "anything" : gguf_value_type_name(elem_type));
	if ((*kv)->type != GGUF_TYPE_ARRAY ||
	    (elem_type != GGUF_TYPE_COUNT && (*kv)->elem_type != elem_type))
		return wrong_type(f, *kv, want, err);
	return LM_OK;
}

const char *gguf_array_str(const struct gguf_kv *kv, uint64_t i, uint64_t *len)
{
	const unsigned char *p;

	if (kv->type != GGUF_TYPE_ARRAY || kv->elem_type != GGUF_TYPE_STRING || i >= kv->count) {
		*len = 0;
		return NULL;
	}
	p = kv->data + kv->str_off[i];
	*len = gguf_le64(p);
	return (const char *)p + 8;
}

int64_t gguf_array_int(const struct gguf_kv *kv, uint64_t i)
{
	unsigned esize = gguf_value_size(kv->elem_type);
	int64_t s;
	uint64_t u;
	int neg;

	if (kv->type != GGUF_TYPE_ARRAY || i >= kv->count || !esize)
		return 0;
	if (kv->elem_type == GGUF_TYPE_BOOL)
		return kv->data[i];
	if (!int_at(kv->elem_type, kv->data + i * esize, &s, &u, &neg))
		return 0;
	return s;
}

double gguf_array_float(const struct gguf_kv *kv, uint64_t i)
{
	unsigned esize = gguf_value_size(kv->elem_type);
	double v;

	if (kv->type != GGUF_TYPE_ARRAY || i >= kv->count || !esize ||
	    !float_at(kv->elem_type, kv->data + i * esize, &v))
		return 0;
	return v;
}

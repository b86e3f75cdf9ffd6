/* safetensors.c - safetensors reader (see safetensors.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "model/safetensors.h"

static const struct {
	const char *name;
	size_t size;
} dtypes[ST_DTYPE_COUNT] = {
	[ST_BOOL] = { "BOOL", 1 },       [ST_U8] = { "U8", 1 },         [ST_I8] = { "I8", 1 },
	[ST_F8_E5M2] = { "F8_E5M2", 1 }, [ST_F8_E4M3] = { "F8_E4M3", 1 }, [ST_I16] = { "I16", 2 },
	[ST_U16] = { "U16", 2 },         [ST_F16] = { "F16", 2 },       [ST_BF16] = { "BF16", 2 },
	[ST_I32] = { "I32", 4 },         [ST_U32] = { "U32", 4 },       [ST_F32] = { "F32", 4 },
	[ST_F64] = { "F64", 8 },         [ST_I64] = { "I64", 8 },       [ST_U64] = { "U64", 8 },
};

const char *safetensors_dtype_name(enum safetensors_dtype t)
{
	return (unsigned)t < ST_DTYPE_COUNT ? dtypes[t].name : "?";
}

size_t safetensors_dtype_size(enum safetensors_dtype t)
{
	return (unsigned)t < ST_DTYPE_COUNT ? dtypes[t].size : 0;
}

static int cmp_offset(const void *a, const void *b)
{
	const struct safetensors_tensor *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_name(const void *a, const void *b)
{
	const struct safetensors_tensor *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* One header member NAME = V into T; the name is copied to *NAMES. */
static int parse_entry(const char *file, const char *name, const struct json_value *v,
		       struct safetensors_tensor *t, uint64_t buf_size, struct lm_error *err)
{
	const struct json_value *dt, *shape, *offs;
	const char *s;
	size_t len;
	int64_t begin, end, d;
	uint64_t n = 1, nbytes;

	if (json_type(v) != JSON_OBJECT)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": entry is a %s, not an object", file, name,
			       json_type_name(json_type(v)));
	for (size_t i = 0; i < json_object_len(v); i++) {
		const char *k = json_object_key(v, i);
		if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
			return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": unknown member \"%s\"", file, name, k);
	}
	dt = json_get(v, "dtype");
	shape = json_get(v, "shape");
	offs = json_get(v, "data_offsets");
	if (!dt || !shape || !offs)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": missing \"%s\"", file, name,
			       !dt ? "dtype" : !shape ? "shape" : "data_offsets");
	if (json_type(dt) != JSON_STRING)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": dtype is not a string", file, name);
	s = json_string(dt, &len);
	t->dtype = ST_DTYPE_COUNT;
	for (int i = 0; i < ST_DTYPE_COUNT; i++)
		if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, s, len) == 0)
			t->dtype = (enum safetensors_dtype)i;
	if (t->dtype == ST_DTYPE_COUNT)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": unknown dtype \"%.*s\"", file, name,
			       len > 16 ? 16 : (int)len, s);
	if (json_type(shape) != JSON_ARRAY || json_array_len(shape) > SAFETENSORS_MAX_DIMS)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": shape is not an array of at most %d "
			       "dimensions", file, name, SAFETENSORS_MAX_DIMS);
	t->n_dims = (int)json_array_len(shape);
	for (int i = 0; i < t->n_dims; i++) {
		if (json_number_int64(json_array_get(shape, (size_t)i), &d) || d < 0)
			return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": shape[%d] is not a non-negative "
				       "integer", file, name, i);
		t->shape[i] = d;
		if (d && n > UINT64_MAX / (uint64_t)d)
			return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": shape overflows", file, name);
		n *= (uint64_t)d;
	}
	if (n > UINT64_MAX / dtypes[t->dtype].size)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": shape overflows", file, name);
	nbytes = n * dtypes[t->dtype].size;
	if (json_type(offs) != JSON_ARRAY || json_array_len(offs) != 2 ||
	    json_number_int64(json_array_get(offs, 0), &begin) ||
	    json_number_int64(json_array_get(offs, 1), &end) || begin < 0 || end < begin)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": data_offsets is not [BEGIN, END] with "
			       "0 <= BEGIN <= END", file, name);
	if ((uint64_t)end > buf_size)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": data_offsets [%lld, %lld] run past the "
			       "end of the data (%llu bytes): truncated file?", file, name, (long long)begin,
			       (long long)end, (unsigned long long)buf_size);
	if ((uint64_t)(end - begin) != nbytes)
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": data_offsets [%lld, %lld] hold %llu "
			       "bytes, the shape and dtype %s need %llu", file, name, (long long)begin,
			       (long long)end, (unsigned long long)(end - begin), dtypes[t->dtype].name,
			       (unsigned long long)nbytes);
	t->n_elements = n;
	t->nbytes = nbytes;
	t->offset = (uint64_t)begin;
	return LM_OK;
}

static int parse(struct safetensors_file *f, struct lm_error *err)
{
	struct json_doc *doc = NULL;
	struct json_value *root;
	uint64_t hsize, buf_size, expect;
	size_t n = 0, names_len = 0, k;
	char *np;
	int rc;

	if (f->size < 8)
		return lm_fail(err, LM_EFORMAT, "%s: %zu bytes is too short for a safetensors file", f->path,
			       f->size);
	hsize = 0;
	for (int i = 7; i >= 0; i--)
		hsize = hsize << 8 | f->base[i];
	if (hsize < 2 || hsize > SAFETENSORS_MAX_HEADER || hsize > f->size - 8)
		return lm_fail(err, LM_EFORMAT, "%s: header size %llu is impossible for a file of %zu bytes "
			       "(not safetensors, or truncated)", f->path, (unsigned long long)hsize, f->size);
	if (f->base[8] != '{')
		return lm_fail(err, LM_EFORMAT, "%s: the header does not start with '{'", f->path);
	if (!(doc = json_doc_new()))
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", f->path);
	if ((rc = json_parse(doc, (const char *)f->base + 8, (size_t)hsize, &root, err))) {
		lm_error_prefix(err, "%s: header: ", f->path);
		goto out;
	}
	buf_size = f->size - 8 - hsize;
	for (size_t i = 0; i < json_object_len(root); i++) {
		const char *name = json_object_key(root, i);
		if (strcmp(name, "__metadata__") == 0) {
			const struct json_value *m = json_object_value(root, i);
			if (json_type(m) != JSON_OBJECT) {
				rc = lm_fail(err, LM_EFORMAT, "%s: __metadata__ is not an object", f->path);
				goto out;
			}
			for (size_t j = 0; j < json_object_len(m); j++)
				if (json_type(json_object_value(m, j)) != JSON_STRING) {
					rc = lm_fail(err, LM_EFORMAT, "%s: __metadata__ \"%s\" is not a string",
						     f->path, json_object_key(m, j));
					goto out;
				}
			continue;
		}
		n++;
		names_len += strlen(name) + 1;
	}
	f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
	f->sorted = calloc(n ? n : 1, sizeof *f->sorted);
	f->names = malloc(names_len ? names_len : 1);
	if (!f->tensors || !f->sorted || !f->names) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory for %zu tensors", f->path, n);
		goto out;
	}
	np = f->names;
	k = 0;
	for (size_t i = 0; i < json_object_len(root); i++) {
		const char *name = json_object_key(root, i);
		struct safetensors_tensor *t = &f->tensors[k];
		size_t len = strlen(name);

		if (strcmp(name, "__metadata__") == 0)
			continue;
		if (len == 0) {
			rc = lm_fail(err, LM_EFORMAT, "%s: a tensor has an empty name", f->path);
			goto out;
		}
		if ((rc = parse_entry(f->path, name, json_object_value(root, i), t, buf_size, err)))
			goto out;
		memcpy(np, name, len + 1);
		t->name = np;
		np += len + 1;
		k++;
	}
	/* JSON names are unique (json.h refuses duplicates); a name holding
	 * \u0000 would be cut here, and compare equal to another: refuse it. */
	f->n_tensors = n;
	qsort(f->tensors, n, sizeof *f->tensors, cmp_offset);
	expect = 0;
	for (size_t i = 0; i < n; i++) {
		struct safetensors_tensor *t = &f->tensors[i];
		if (t->offset != expect) {
			rc = lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\": data_offsets begin at %llu, where %s",
				     f->path, t->name, (unsigned long long)t->offset,
				     t->offset < expect ? "it overlaps the tensor before it" :
				     "the data has a hole (bytes no tensor owns)");
			goto out;
		}
		expect = t->offset + t->nbytes;
		t->offset += 8 + hsize;
		t->data = f->base + t->offset;
		f->sorted[i] = t;
	}
	if (expect != buf_size) {
		rc = lm_fail(err, LM_EFORMAT, "%s: %llu bytes after the last tensor (the data is %llu bytes, "
			     "the tensors %llu)", f->path, (unsigned long long)(buf_size - expect),
			     (unsigned long long)buf_size, (unsigned long long)expect);
		goto out;
	}
	qsort(f->sorted, n, sizeof *f->sorted, cmp_name);
	for (size_t i = 1; i < n; i++)
		if (strcmp(f->sorted[i - 1]->name, f->sorted[i]->name) == 0) {
			rc = lm_fail(err, LM_EFORMAT, "%s: tensor name \"%s\" twice (a NUL in a name?)", f->path,
				     f->sorted[i]->name);
			goto out;
		}
	rc = LM_OK;
out:
	json_doc_free(doc);
	return rc;
}

static int open_common(const void *buf, size_t size, const char *name, int mapped,
		       struct safetensors_file **file, struct lm_error *err)
{
	struct safetensors_file *f;
	int rc;

	*file = NULL;
	if (!(f = calloc(1, sizeof *f)) || !(f->path = strdup(name))) {
		if (mapped)
			munmap((void *)buf, size);
		free(f);
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", name);
	}
	f->base = buf;
	f->size = size;
	f->mapped = mapped;
	if ((rc = parse(f, err))) {
		safetensors_close(f);
		return rc;
	}
	*file = f;
	return LM_OK;
}

int safetensors_open_memory(const void *buf, size_t size, const char *name,
			    struct safetensors_file **file, struct lm_error *err)
{
	return open_common(buf, size, name, 0, file, err);
}

int safetensors_open(const char *path, struct safetensors_file **file, struct lm_error *err)
{
	struct stat st;
	void *map;
	int fd;

	*file = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno(err, "%s", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return lm_fail_errno(err, "%s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return lm_fail(err, LM_EFORMAT, "%s: not a regular file", path);
	}
	if (st.st_size < 8) {
		close(fd);
		return lm_fail(err, LM_EFORMAT, "%s: %lld bytes is too short for a safetensors file", path,
			       (long long)st.st_size);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return lm_fail_errno(err, "%s: mmap", path);
	return open_common(map, (size_t)st.st_size, path, 1, file, err);
}

void safetensors_close(struct safetensors_file *f)
{
	if (!f)
		return;
	if (f->mapped)
		munmap((void *)f->base, f->size);
	free(f->tensors);
	free(f->sorted);
	free(f->names);
	free(f->path);
	free(f);
}

const struct safetensors_tensor *safetensors_find(const struct safetensors_file *f, const char *name)
{
	size_t lo = 0, hi = f->n_tensors;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->sorted[mid]->name, name);
		if (c == 0)
			return f->sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* gguf_write.c - GGUF v3 writer (ggml docs/gguf.md, layout as llama.cpp's
 * gguf_write_to_buf and gguf-py's GGUFWriter). */
#include "gguf.h"
#include "gguf_impl.h"

#include <stdlib.h>
#include <string.h>

struct writer_kv {
	char *key;
	size_t key_len;
	uint32_t type;
	unsigned char *val;   /* serialised value, as it follows the type id */
	size_t val_len;
};

struct writer_tensor {
	char *name;
	size_t name_len;
	uint32_t type, n_dims;
	int64_t ne[GGUF_MAX_DIMS];
	uint64_t nbytes;
	const void *data;
	gguf_tensor_write_fn fn;
	void *arg;
};

struct gguf_writer {
	struct writer_kv *kvs;
	size_t n_kv, cap_kv;
	struct writer_tensor *tensors;
	size_t n_tensors, cap_tensors;
	uint32_t alignment;
	int pad_empty;
};

int gguf_writer_new(struct gguf_writer **w, struct lm_error *err)
{
	*w = calloc(1, sizeof **w);
	if (!*w)
		return lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
	(*w)->alignment = GGUF_DEFAULT_ALIGNMENT;
	return LM_OK;
}

void gguf_writer_free(struct gguf_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_kv; i++) {
		free(w->kvs[i].key);
		free(w->kvs[i].val);
	}
	for (size_t i = 0; i < w->n_tensors; i++)
		free(w->tensors[i].name);
	free(w->kvs);
	free(w->tensors);
	free(w);
}

void gguf_writer_pad_empty(struct gguf_writer *w, int on)
{
	w->pad_empty = !!on;
}

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
	void *q;
	size_t c;

	if (n < *cap)
		return LM_OK;
	c = *cap ? *cap * 2 : 16;
	q = realloc(*p, c * elem);
	if (!q)
		return LM_ENOMEM;
	*p = q;
	*cap = c;
	return LM_OK;
}

/* Takes ownership of VAL (freed on failure). */
static int add_kv(struct gguf_writer *w, const char *key, uint32_t type, unsigned char *val,
		  size_t val_len, struct lm_error *err)
{
	size_t key_len = strlen(key);
	struct writer_kv *kv;
	int rc = LM_OK;

	if (!key_len || !gguf_valid_name((const unsigned char *)key, key_len)) {
		rc = lm_fail(err, LM_EINVAL, "gguf writer: key '%.80s' is empty or not valid UTF-8", key);
		goto out;
	}
	for (size_t i = 0; i < w->n_kv; i++)
		if (!strcmp(w->kvs[i].key, key)) {
			rc = lm_fail(err, LM_EINVAL, "gguf writer: duplicate key '%.80s'", key);
			goto out;
		}
	if (!strcmp(key, "general.alignment")) {
		uint32_t a = type == GGUF_TYPE_UINT32 ? gguf_le32(val) : 0;

		if (type != GGUF_TYPE_UINT32 || a == 0 || (a & (a - 1))) {
			rc = lm_fail(err, LM_EINVAL,
				     "gguf writer: general.alignment must be a uint32 power of two");
			goto out;
		}
		w->alignment = a;
	}
	if (grow((void **)&w->kvs, &w->cap_kv, w->n_kv, sizeof *w->kvs)) {
		rc = lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
		goto out;
	}
	kv = &w->kvs[w->n_kv];
	kv->key = strdup(key);
	if (!kv->key) {
		rc = lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
		goto out;
	}
	kv->key_len = key_len;
	kv->type = type;
	kv->val = val;
	kv->val_len = val_len;
	w->n_kv++;
	val = NULL;
out:
	free(val);
	return rc;
}

static int add_scalar(struct gguf_writer *w, const char *key, uint32_t type, uint64_t bits,
		      struct lm_error *err)
{
	unsigned n = gguf_value_size(type);
	unsigned char *val = malloc(n);

	if (!val)
		return lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
	gguf_put_le(val, bits, (int)n);
	return add_kv(w, key, type, val, n, err);
}

int gguf_writer_add_u8(struct gguf_writer *w, const char *key, uint8_t v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_UINT8, v, err);
}

int gguf_writer_add_i8(struct gguf_writer *w, const char *key, int8_t v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_INT8, (uint8_t)v, err);
}

int gguf_writer_add_u16(struct gguf_writer *w, const char *key, uint16_t v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_UINT16, v, err);
}

int gguf_writer_add_i16(struct gguf_writer *w, const char *key, int16_t v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_INT16, (uint16_t)v, err);
}

int gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_UINT32, v, err);
}

int gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_INT32, (uint32_t)v, err);
}

int gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v, struct lm_error *err)
{
	uint32_t b;

	memcpy(&b, &v, 4);
	return add_scalar(w, key, GGUF_TYPE_FLOAT32, b, err);
}

int gguf_writer_add_bool(struct gguf_writer *w, const char *key, int v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_BOOL, v ? 1 : 0, err);
}

int gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_UINT64, v, err);
}

int gguf_writer_add_i64(struct gguf_writer *w, const char *key, int64_t v, struct lm_error *err)
{
	return add_scalar(w, key, GGUF_TYPE_INT64, (uint64_t)v, err);
}

int gguf_writer_add_f64(struct gguf_writer *w, const char *key, double v, struct lm_error *err)
{
	uint64_t b;

	memcpy(&b, &v, 8);
	return add_scalar(w, key, GGUF_TYPE_FLOAT64, b, err);
}

int gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *s, size_t len,
			struct lm_error *err)
{
	unsigned char *val = malloc(8 + len);

	if (!val)
		return lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
	gguf_put_le(val, len, 8);
	memcpy(val + 8, s, len);
	return add_kv(w, key, GGUF_TYPE_STRING, val, 8 + len, err);
}

int gguf_writer_add_array(struct gguf_writer *w, const char *key, enum gguf_value_type elem_type,
			  const void *elems, uint64_t count, struct lm_error *err)
{
	unsigned esize = gguf_value_size(elem_type);
	const unsigned char *src = elems;
	unsigned char *val;

	if (!esize)
		return lm_fail(err, LM_EINVAL, "gguf writer: key '%.80s': gguf_writer_add_array takes "
			       "numeric or bool elements, not %s", key, gguf_value_type_name(elem_type));
	if (count > (SIZE_MAX - 12) / esize)
		return lm_fail(err, LM_ENOMEM, "gguf writer: key '%.80s': array too large", key);
	val = malloc(12 + count * esize);
	if (!val)
		return lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
	gguf_put_le(val, elem_type, 4);
	gguf_put_le(val + 4, count, 8);
	for (uint64_t i = 0; i < count; i++) {
		const unsigned char *e = src + i * esize;
		unsigned char *d = val + 12 + i * esize;
		uint64_t u64;
		uint32_t u32;
		uint16_t u16;

		switch (esize) {
		case 1:
			if (elem_type == GGUF_TYPE_BOOL && e[0] > 1) {
				free(val);
				return lm_fail(err, LM_EINVAL, "gguf writer: key '%.80s': bool element "
					       "%llu is %u, not 0 or 1", key, (unsigned long long)i, e[0]);
			}
			d[0] = e[0];
			break;
		case 2: memcpy(&u16, e, 2); gguf_put_le(d, u16, 2); break;
		case 4: memcpy(&u32, e, 4); gguf_put_le(d, u32, 4); break;
		default: memcpy(&u64, e, 8); gguf_put_le(d, u64, 8); break;
		}
	}
	return add_kv(w, key, GGUF_TYPE_ARRAY, val, 12 + count * esize, err);
}

int gguf_writer_add_str_array(struct gguf_writer *w, const char *key, const char *const *strs,
			      const size_t *lens, uint64_t count, struct lm_error *err)
{
	size_t total = 12, at;
	unsigned char *val;

	for (uint64_t i = 0; i < count; i++) {
		size_t n = lens ? lens[i] : strlen(strs[i]);

		if (n > SIZE_MAX - 8 - total)
			return lm_fail(err, LM_ENOMEM, "gguf writer: key '%.80s': array too large", key);
		total += 8 + n;
	}
	val = malloc(total);
	if (!val)
		return lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
	gguf_put_le(val, GGUF_TYPE_STRING, 4);
	gguf_put_le(val + 4, count, 8);
	at = 12;
	for (uint64_t i = 0; i < count; i++) {
		size_t n = lens ? lens[i] : strlen(strs[i]);

		gguf_put_le(val + at, n, 8);
		memcpy(val + at + 8, strs[i], n);
		at += 8 + n;
	}
	return add_kv(w, key, GGUF_TYPE_ARRAY, val, total, err);
}

int gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_kv *kv, struct lm_error *err)
{
	unsigned char *val = malloc(kv->raw_len ? kv->raw_len : 1);

	if (!val)
		return lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
	memcpy(val, kv->raw, kv->raw_len);
	return add_kv(w, kv->key, kv->type, val, kv->raw_len, err);
}

static int add_tensor(struct gguf_writer *w, const char *name, enum dtype type, uint32_t n_dims,
		      const int64_t *ne, const void *data, gguf_tensor_write_fn fn, void *arg,
		      struct lm_error *err)
{
	size_t name_len = strlen(name);
	struct writer_tensor *t;
	int64_t shape[GGUF_MAX_DIMS] = { 1, 1, 1, 1 };
	size_t nbytes;
	int rc;

	if (!name_len || name_len > GGUF_MAX_NAME ||
	    !gguf_valid_name((const unsigned char *)name, name_len))
		return lm_fail(err, LM_EINVAL, "gguf writer: tensor name '%.80s' is empty, longer "
			       "than %d bytes or not valid UTF-8", name, GGUF_MAX_NAME);
	if (!data && !fn)
		return lm_fail(err, LM_EINVAL, "gguf writer: tensor '%s': no data", name);
	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
		return lm_fail(err, LM_EINVAL, "gguf writer: tensor '%s': n_dims %u is not 1 to %d",
			       name, n_dims, GGUF_MAX_DIMS);
	memcpy(shape, ne, n_dims * sizeof *ne);
	/* gguf.md: dimensions are uint64 and readers (ours, llama.cpp) refuse 0. */
	for (uint32_t d = 0; d < n_dims; d++)
		if (shape[d] <= 0)
			return lm_fail(err, LM_EINVAL, "gguf writer: tensor '%s': dimension %u is %lld",
				       name, d, (long long)shape[d]);
	rc = dtype_nbytes(type, shape, &nbytes, err);
	if (rc) {
		lm_error_prefix(err, "gguf writer: tensor '%s': ", name);
		return rc;
	}
	for (size_t i = 0; i < w->n_tensors; i++)
		if (!strcmp(w->tensors[i].name, name))
			return lm_fail(err, LM_EINVAL, "gguf writer: duplicate tensor name '%s'", name);
	if (grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors))
		return lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
	t = &w->tensors[w->n_tensors];
	memset(t, 0, sizeof *t);
	t->name = strdup(name);
	if (!t->name)
		return lm_fail(err, LM_ENOMEM, "gguf writer: out of memory");
	t->name_len = name_len;
	t->type = type;
	t->n_dims = n_dims;
	memcpy(t->ne, shape, sizeof shape);
	t->nbytes = nbytes;
	t->data = data;
	t->fn = fn;
	t->arg = arg;
	w->n_tensors++;
	return LM_OK;
}

int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, enum dtype type,
			   uint32_t n_dims, const int64_t *ne, const void *data, struct lm_error *err)
{
	return add_tensor(w, name, type, n_dims, ne, data, NULL, NULL, err);
}

int gguf_writer_add_tensor_cb(struct gguf_writer *w, const char *name, enum dtype type,
			      uint32_t n_dims, const int64_t *ne, gguf_tensor_write_fn fn, void *arg,
			      struct lm_error *err)
{
	return add_tensor(w, name, type, n_dims, ne, NULL, fn, arg, err);
}

/* Sequential writes that count the position, for padding. */
struct sink {
	struct output *out;
	uint64_t pos;
	struct lm_error *err;
};

static int put(struct sink *s, const void *p, size_t n)
{
	s->pos += n;
	return output_write(s->out, p, n, s->err);
}

static int put_le(struct sink *s, uint64_t v, int n)
{
	unsigned char b[8];

	gguf_put_le(b, v, n);
	return put(s, b, (size_t)n);
}

static int pad(struct sink *s, uint32_t alignment)
{
	static const unsigned char zeros[256];
	uint64_t n = (alignment - s->pos % alignment) % alignment;
	int rc = LM_OK;

	while (n > 0 && !rc) {
		size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;

		rc = put(s, zeros, k);
		n -= k;
	}
	return rc;
}

static uint64_t padded(uint64_t n, uint32_t alignment)
{
	return (n + alignment - 1) / alignment * alignment;
}

int gguf_writer_write(struct gguf_writer *w, struct output *out, struct lm_error *err)
{
	struct sink s = { out, 0, err };
	uint64_t offset = 0;
	int rc;

	/* Offsets are checked before the first byte goes out. */
	for (size_t i = 0; i < w->n_tensors; i++) {
		if (w->tensors[i].nbytes > UINT64_MAX - w->alignment - offset)
			return lm_fail(err, LM_EINVAL, "%s: tensor data exceeds 64-bit offsets", out->name);
		offset += padded(w->tensors[i].nbytes, w->alignment);
	}
	if ((rc = put(&s, "GGUF", 4)) || (rc = put_le(&s, 3, 4)) ||
	    (rc = put_le(&s, w->n_tensors, 8)) || (rc = put_le(&s, w->n_kv, 8)))
		return rc;
	for (size_t i = 0; i < w->n_kv; i++) {
		const struct writer_kv *kv = &w->kvs[i];

		if ((rc = put_le(&s, kv->key_len, 8)) || (rc = put(&s, kv->key, kv->key_len)) ||
		    (rc = put_le(&s, kv->type, 4)) || (rc = put(&s, kv->val, kv->val_len)))
			return rc;
	}
	offset = 0;
	for (size_t i = 0; i < w->n_tensors; i++) {
		const struct writer_tensor *t = &w->tensors[i];

		if ((rc = put_le(&s, t->name_len, 8)) || (rc = put(&s, t->name, t->name_len)) ||
		    (rc = put_le(&s, t->n_dims, 4)))
			return rc;
		for (uint32_t d = 0; d < t->n_dims; d++)
			if ((rc = put_le(&s, (uint64_t)t->ne[d], 8)))
				return rc;
		if ((rc = put_le(&s, t->type, 4)) || (rc = put_le(&s, offset, 8)))
			return rc;
		offset += padded(t->nbytes, w->alignment);
	}
	if ((w->n_tensors || w->pad_empty) && (rc = pad(&s, w->alignment)))
		return rc;
	for (size_t i = 0; i < w->n_tensors; i++) {
		const struct writer_tensor *t = &w->tensors[i];

		if (t->fn) {
			uint64_t before = out->written + out->len, wrote;

			if ((rc = t->fn(t->arg, out, err)))
				return rc;
			wrote = out->written + out->len - before;
			if (wrote != t->nbytes)
				return lm_fail(err, LM_EINVAL, "%s: tensor '%s': callback wrote %llu bytes, "
					       "expected %llu", out->name, t->name,
					       (unsigned long long)wrote, (unsigned long long)t->nbytes);
			s.pos += wrote;
		} else if ((rc = put(&s, t->data, t->nbytes))) {
			return rc;
		}
		if ((rc = pad(&s, w->alignment)))
			return rc;
	}
	return LM_OK;
}

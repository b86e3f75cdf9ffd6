#include "tensor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "arena.h"

enum { TENSOR_ALIGN = 64 };

struct dtype_info {
	const char *name;
	int64_t block_size;
	size_t type_size;
};

/* Block layouts of ggml-common.h: QK4_0 = QK8_0 = 32 and QK_K = 256 values
 * per block; the byte sizes are the packed block structs, e.g. block_q4_0 =
 * f16 d + 16 bytes of nibbles = 18, block_q6_K = ql[128] + qh[64] +
 * scales[16] + f16 d = 210, block_tq1_0 = qs[48] + qh[4] + f16 d = 54,
 * block_mxfp4 = e8m0 exponent + 16 bytes = 17. */
static const struct dtype_info dtype_table[DTYPE_COUNT] = {
	[DTYPE_F32] = { "f32", 1, 4 },
	[DTYPE_F16] = { "f16", 1, 2 },
	[DTYPE_Q4_0] = { "q4_0", 32, 18 },
	[DTYPE_Q4_1] = { "q4_1", 32, 20 },
	[DTYPE_Q5_0] = { "q5_0", 32, 22 },
	[DTYPE_Q5_1] = { "q5_1", 32, 24 },
	[DTYPE_Q8_0] = { "q8_0", 32, 34 },
	[DTYPE_Q8_1] = { "q8_1", 32, 36 },
	[DTYPE_Q2_K] = { "q2_K", 256, 84 },
	[DTYPE_Q3_K] = { "q3_K", 256, 110 },
	[DTYPE_Q4_K] = { "q4_K", 256, 144 },
	[DTYPE_Q5_K] = { "q5_K", 256, 176 },
	[DTYPE_Q6_K] = { "q6_K", 256, 210 },
	[DTYPE_Q8_K] = { "q8_K", 256, 292 },
	[DTYPE_IQ2_XXS] = { "iq2_xxs", 256, 66 },
	[DTYPE_IQ2_XS] = { "iq2_xs", 256, 74 },
	[DTYPE_IQ3_XXS] = { "iq3_xxs", 256, 98 },
	[DTYPE_IQ1_S] = { "iq1_s", 256, 50 },
	[DTYPE_IQ4_NL] = { "iq4_nl", 32, 18 },
	[DTYPE_IQ3_S] = { "iq3_s", 256, 110 },
	[DTYPE_IQ2_S] = { "iq2_s", 256, 82 },
	[DTYPE_IQ4_XS] = { "iq4_xs", 256, 136 },
	[DTYPE_I8] = { "i8", 1, 1 },
	[DTYPE_I16] = { "i16", 1, 2 },
	[DTYPE_I32] = { "i32", 1, 4 },
	[DTYPE_I64] = { "i64", 1, 8 },
	[DTYPE_F64] = { "f64", 1, 8 },
	[DTYPE_IQ1_M] = { "iq1_m", 256, 56 },
	[DTYPE_BF16] = { "bf16", 1, 2 },
	[DTYPE_TQ1_0] = { "tq1_0", 256, 54 },
	[DTYPE_TQ2_0] = { "tq2_0", 256, 66 },
	[DTYPE_MXFP4] = { "mxfp4", 32, 17 },
};

int dtype_valid(int id)
{
	return id >= 0 && id < DTYPE_COUNT && dtype_table[id].name != NULL;
}

const char *dtype_name(enum dtype type)
{
	return dtype_valid((int)type) ? dtype_table[type].name : NULL;
}

int dtype_from_name(const char *name)
{
	int i;

	if (!name)
		return -1;
	for (i = 0; i < DTYPE_COUNT; i++)
		if (dtype_table[i].name && !strcasecmp(dtype_table[i].name, name))
			return i;
	return -1;
}

int64_t dtype_block_size(enum dtype type)
{
	return dtype_valid((int)type) ? dtype_table[type].block_size : 0;
}

size_t dtype_type_size(enum dtype type)
{
	return dtype_valid((int)type) ? dtype_table[type].type_size : 0;
}

int dtype_is_quantized(enum dtype type)
{
	return dtype_block_size(type) > 1;
}

int dtype_row_size(enum dtype type, int64_t n, size_t *size, struct lm_error *err)
{
	int64_t blk = dtype_block_size(type);
	size_t bytes;

	if (!blk)
		return lm_fail(err, LM_EINVAL, "unknown tensor type %d", (int)type);
	if (n < 0 || n % blk)
		return lm_fail(err, LM_EINVAL, "%s row of %" PRId64 " elements is not a whole number of %" PRId64 "-element blocks",
			       dtype_table[type].name, n, blk);
	if (__builtin_mul_overflow((uint64_t)(n / blk), dtype_table[type].type_size, &bytes) ||
	    bytes > (size_t)INT64_MAX)
		return lm_fail(err, LM_EINVAL, "%s row of %" PRId64 " elements overflows", dtype_table[type].name, n);
	*size = bytes;
	return LM_OK;
}

int dtype_nbytes(enum dtype type, const int64_t ne[TENSOR_MAX_DIMS], size_t *nbytes,
		 struct lm_error *err)
{
	size_t bytes;
	int i, rc;

	for (i = 0; i < TENSOR_MAX_DIMS; i++)
		if (ne[i] < 0)
			return lm_fail(err, LM_EINVAL, "tensor dimension %d is negative (%" PRId64 ")", i, ne[i]);
	rc = dtype_row_size(type, ne[0], &bytes, err);
	if (rc)
		return rc;
	for (i = 1; i < TENSOR_MAX_DIMS; i++)
		if (__builtin_mul_overflow(bytes, (size_t)ne[i], &bytes) || bytes > (size_t)INT64_MAX)
			return lm_fail(err, LM_EINVAL, "tensor byte size overflows at dimension %d", i);
	*nbytes = bytes;
	return LM_OK;
}

/* Check type, dimension count and the innermost-dimension block rule, and
 * that the element count and the byte size (with empty dimensions counted
 * as 1, so later arithmetic on any sub-shape is safe) fit in int64. */
static int shape_check(enum dtype type, int n_dims, const int64_t *ne, size_t *row, struct lm_error *err)
{
	int64_t count = 1, nonempty[TENSOR_MAX_DIMS] = { 1, 1, 1, 1 };
	size_t bytes;
	int i, rc;

	if (!dtype_valid((int)type))
		return lm_fail(err, LM_EINVAL, "unknown tensor type %d", (int)type);
	if (n_dims < 1 || n_dims > TENSOR_MAX_DIMS)
		return lm_fail(err, LM_EINVAL, "tensor has %d dimensions (1 to %d allowed)", n_dims, TENSOR_MAX_DIMS);
	for (i = 0; i < n_dims; i++) {
		if (ne[i] < 0)
			return lm_fail(err, LM_EINVAL, "tensor dimension %d is negative (%" PRId64 ")", i, ne[i]);
		if (ne[i] && __builtin_mul_overflow(count, ne[i], &count))
			return lm_fail(err, LM_EINVAL, "tensor element count overflows at dimension %d", i);
		nonempty[i] = ne[i] ? ne[i] : 1;
	}
	rc = dtype_row_size(type, ne[0], row, err);
	if (rc)
		return rc;
	if (!ne[0])
		nonempty[0] = dtype_block_size(type);
	return dtype_nbytes(type, nonempty, &bytes, err);
}

int tensor_init(struct tensor *t, enum dtype type, int n_dims, const int64_t *ne,
		void *data, struct lm_error *err)
{
	size_t row;
	int i, rc;

	rc = shape_check(type, n_dims, ne, &row, err);
	if (rc)
		return rc;
	memset(t, 0, sizeof *t);
	t->type = type;
	t->n_dims = n_dims;
	t->data = data;
	for (i = 0; i < TENSOR_MAX_DIMS; i++)
		t->ne[i] = i < n_dims ? ne[i] : 1;
	t->nb[0] = dtype_table[type].type_size;
	t->nb[1] = row;
	for (i = 2; i < TENSOR_MAX_DIMS; i++)
		t->nb[i] = t->nb[i - 1] * (size_t)t->ne[i - 1];
	return LM_OK;
}

int tensor_new(struct tensor *t, enum dtype type, int n_dims, const int64_t *ne,
	       struct lm_error *err)
{
	size_t n, padded;
	void *p;
	int rc;

	rc = tensor_init(t, type, n_dims, ne, NULL, err);
	if (rc)
		return rc;
	n = tensor_nbytes(t);
	/* aligned_alloc wants a multiple of the alignment; n <= INT64_MAX */
	padded = (n + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
	if (!padded)
		padded = TENSOR_ALIGN;
	p = aligned_alloc(TENSOR_ALIGN, padded);
	if (!p) {
		char desc[128];

		return lm_fail(err, LM_ENOMEM, "out of memory allocating %zu bytes for tensor %s",
			       padded, tensor_describe(t, desc, sizeof desc));
	}
	memset(p, 0, padded);
	t->data = p;
	return LM_OK;
}

void tensor_free(struct tensor *t)
{
	if (!t)
		return;
	free(t->data);
	memset(t, 0, sizeof *t);
}

int tensor_alloc(struct tensor *t, struct arena *arena, enum dtype type, int n_dims,
		 const int64_t *ne, struct lm_error *err)
{
	size_t n;
	void *p;
	int rc;

	rc = tensor_init(t, type, n_dims, ne, NULL, err);
	if (rc)
		return rc;
	n = tensor_nbytes(t);
	p = arena_alloc(arena, n, TENSOR_ALIGN);
	if (!p) {
		char desc[128];

		return lm_fail(err, LM_ENOMEM, "out of memory allocating %zu bytes for tensor %s",
			       n, tensor_describe(t, desc, sizeof desc));
	}
	t->data = p;
	return LM_OK;
}

int64_t tensor_nelements(const struct tensor *t)
{
	return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

int64_t tensor_nrows(const struct tensor *t)
{
	return t->ne[1] * t->ne[2] * t->ne[3];
}

size_t tensor_row_bytes(const struct tensor *t)
{
	int64_t blk = dtype_block_size(t->type);

	if (!blk || t->ne[0] <= 0)
		return 0;
	return (size_t)(t->ne[0] / blk) * dtype_type_size(t->type);
}

/* ggml_nbytes: one element (for block types one packed row), plus the
 * distance to the last index along every other dimension. */
size_t tensor_nbytes(const struct tensor *t)
{
	size_t n;
	int i;

	for (i = 0; i < TENSOR_MAX_DIMS; i++)
		if (t->ne[i] <= 0)
			return 0;
	if (dtype_is_quantized(t->type)) {
		n = tensor_row_bytes(t);
		i = 1;
	} else {
		n = dtype_type_size(t->type);
		i = 0;
	}
	for (; i < TENSOR_MAX_DIMS; i++)
		n += (size_t)(t->ne[i] - 1) * t->nb[i];
	return n;
}

int tensor_is_contiguous(const struct tensor *t)
{
	int64_t blk = dtype_block_size(t->type);
	size_t expect;
	int i;

	if (tensor_nelements(t) == 0)
		return 1;
	if (t->ne[0] > blk && t->nb[0] != dtype_type_size(t->type))
		return 0;
	expect = tensor_row_bytes(t);
	for (i = 1; i < TENSOR_MAX_DIMS; i++) {
		if (t->ne[i] != 1 && t->nb[i] != expect)
			return 0;
		expect *= (size_t)t->ne[i];
	}
	return 1;
}

int tensor_same_shape(const struct tensor *a, const struct tensor *b)
{
	int i;

	if (a->type != b->type)
		return 0;
	for (i = 0; i < TENSOR_MAX_DIMS; i++)
		if (a->ne[i] != b->ne[i])
			return 0;
	return 1;
}

static void *offset_ptr(void *data, size_t off)
{
	return data ? (char *)data + off : NULL;
}

int tensor_slice(struct tensor *view, const struct tensor *t, int dim, int64_t start,
		 int64_t count, struct lm_error *err)
{
	int64_t blk = dtype_block_size(t->type);
	size_t off;

	if (dim < 0 || dim >= TENSOR_MAX_DIMS)
		return lm_fail(err, LM_EINVAL, "slice of dimension %d (0 to %d allowed)", dim, TENSOR_MAX_DIMS - 1);
	if (start < 0 || count < 0 || start > t->ne[dim] || count > t->ne[dim] - start)
		return lm_fail(err, LM_EINVAL, "slice [%" PRId64 ", %" PRId64 ") of dimension %d outside 0..%" PRId64,
			       start, start + count, dim, t->ne[dim]);
	if (dim == 0) {
		if (start % blk || count % blk)
			return lm_fail(err, LM_EINVAL, "slice [%" PRId64 ", %" PRId64 ") of a %s row is not on %" PRId64 "-element block boundaries",
				       start, start + count, dtype_name(t->type), blk);
		off = (size_t)(start / blk) * t->nb[0];
	} else {
		off = (size_t)start * t->nb[dim];
	}
	if (view != t)
		*view = *t;
	view->data = offset_ptr(t->data, off);
	view->ne[dim] = count;
	if (dim >= view->n_dims)
		view->n_dims = dim + 1;
	return LM_OK;
}

int tensor_transpose(struct tensor *view, const struct tensor *t, int d0, int d1,
		     struct lm_error *err)
{
	int64_t ne;
	size_t nb;

	if (d0 < 0 || d0 >= TENSOR_MAX_DIMS || d1 < 0 || d1 >= TENSOR_MAX_DIMS)
		return lm_fail(err, LM_EINVAL, "transpose of dimensions %d and %d (0 to %d allowed)",
			       d0, d1, TENSOR_MAX_DIMS - 1);
	if (d0 != d1 && (d0 == 0 || d1 == 0) && dtype_is_quantized(t->type))
		return lm_fail(err, LM_EINVAL, "cannot transpose the block dimension of a %s tensor",
			       dtype_name(t->type));
	if (view != t)
		*view = *t;
	ne = view->ne[d0];
	nb = view->nb[d0];
	view->ne[d0] = view->ne[d1];
	view->nb[d0] = view->nb[d1];
	view->ne[d1] = ne;
	view->nb[d1] = nb;
	if (d0 >= view->n_dims)
		view->n_dims = d0 + 1;
	if (d1 >= view->n_dims)
		view->n_dims = d1 + 1;
	return LM_OK;
}

int tensor_reshape(struct tensor *view, const struct tensor *t, int n_dims,
		   const int64_t *ne, struct lm_error *err)
{
	struct tensor r;
	int rc;

	if (!tensor_is_contiguous(t))
		return lm_fail(err, LM_EINVAL, "cannot reshape a non-contiguous tensor");
	rc = tensor_init(&r, t->type, n_dims, ne, t->data, err);
	if (rc)
		return rc;
	if (tensor_nelements(&r) != tensor_nelements(t))
		return lm_fail(err, LM_EINVAL, "reshape from %" PRId64 " to %" PRId64 " elements",
			       tensor_nelements(t), tensor_nelements(&r));
	*view = r;
	return LM_OK;
}

int tensor_view(struct tensor *view, const struct tensor *t, int n_dims, const int64_t *ne,
		const size_t *nb, size_t offset, struct lm_error *err)
{
	size_t row, span, end, limit = tensor_nbytes(t);
	struct tensor v;
	int i, rc, empty = 0;

	rc = shape_check(t->type, n_dims, ne, &row, err);
	if (rc)
		return rc;
	if (dtype_is_quantized(t->type) && ne[0] > dtype_block_size(t->type) &&
	    nb[0] != dtype_type_size(t->type))
		return lm_fail(err, LM_EINVAL, "view of a %s tensor must keep its blocks packed (nb[0] = %zu)",
			       dtype_name(t->type), dtype_type_size(t->type));
	memset(&v, 0, sizeof v);
	v.type = t->type;
	v.n_dims = n_dims;
	for (i = 0; i < n_dims; i++) {
		v.ne[i] = ne[i];
		v.nb[i] = nb[i];
		if (!ne[i])
			empty = 1;
	}
	if (dtype_is_quantized(t->type))
		v.nb[0] = dtype_type_size(t->type);
	for (i = n_dims; i < TENSOR_MAX_DIMS; i++) {
		v.ne[i] = 1;
		if (__builtin_mul_overflow(v.nb[i - 1], (size_t)v.ne[i - 1], &v.nb[i]))
			v.nb[i] = 0;
	}
	span = 0;
	if (!empty) {
		if (dtype_is_quantized(t->type)) {
			span = row;
			i = 1;
		} else {
			span = dtype_type_size(t->type);
			i = 0;
		}
		for (; i < n_dims; i++) {
			size_t step;

			if (__builtin_mul_overflow((size_t)(ne[i] - 1), nb[i], &step) ||
			    __builtin_add_overflow(span, step, &span))
				goto outside;
		}
	}
	if (__builtin_add_overflow(offset, span, &end) || end > limit)
		goto outside;
	v.data = offset_ptr(t->data, offset);
	*view = v;
	return LM_OK;
outside:
	return lm_fail(err, LM_EINVAL, "view at offset %zu reaches past the %zu bytes of its tensor",
		       offset, limit);
}

char *tensor_describe(const struct tensor *t, char *buf, size_t size)
{
	const char *name = dtype_name(t->type);
	size_t n;
	int i, w;

	if (!size)
		return buf;
	if (name)
		w = snprintf(buf, size, "%s [", name);
	else
		w = snprintf(buf, size, "type#%d [", (int)t->type);
	n = w < 0 ? 0 : (size_t)w;
	for (i = 0; i < t->n_dims && i < TENSOR_MAX_DIMS && n < size; i++) {
		w = snprintf(buf + n, size - n, "%s%" PRId64, i ? ", " : "", t->ne[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (n < size)
		snprintf(buf + n, size - n, "]");
	return buf;
}

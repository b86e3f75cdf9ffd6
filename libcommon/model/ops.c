#include "model/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "qgemm.h"
#include "quant.h"
#include "threadpool.h"
#include "vecmath.h"

/* Tiles of a matrix product: out_tile weight rows against tok_tile tokens.
 * Each sgemm call packs its activation rows again, so tiles are as wide
 * as the threads allow (each thread one share of the outputs), up to
 * TILE_OUT_MAX rows: 512 rows of a 1024-wide float32 weight is 2 MiB,
 * about what one core's L2 holds. */
#define TILE_OUT_MAX 512
#define TILE_OUT_MIN 64
/* At most this many tokens use the quantised dot products row by row:
 * converting (or re-packing, for qgemm) the weight tile costs about as
 * much as a few dot products per row. */
#define GEMV_MAX_TOK 4
/* Activation rows converted per task when many are. */
#define XQ_ROWS_PER_TASK 16

struct ops_scratch {
	float *buf;                    /* bytes: converted or re-packed weight tiles */
	size_t cap;
};

struct ops {
	struct threadpool *pool;
	int n_threads;
	struct ops_scratch *scratch;   /* one per thread: converted weight tiles */
	void *xq;                      /* activations in the dot-product type */
	size_t xq_cap;
};

int ops_new(struct ops **out, int n_threads, struct lm_error *err)
{
	struct ops *ops = calloc(1, sizeof(*ops));
	int rc = LM_OK;

	*out = NULL;
	if (!ops)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	if (n_threads <= 0)
		n_threads = threadpool_default_threads();
	ops->n_threads = n_threads;
	ops->pool = threadpool_new(n_threads, err);
	ops->scratch = calloc((size_t)n_threads, sizeof(*ops->scratch));
	if (!ops->pool) {
		rc = err->code;
		goto out;
	}
	if (!ops->scratch) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	rc = blas_open(err);
	if (rc)
		goto out;
	*out = ops;
out:
	if (rc)
		ops_free(ops);
	return rc;
}

void ops_free(struct ops *ops)
{
	if (!ops)
		return;
	if (ops->scratch)
		for (int i = 0; i < ops->n_threads; i++)
			free(ops->scratch[i].buf);
	free(ops->scratch);
	free(ops->xq);
	threadpool_free(ops->pool);
	free(ops);
}

struct threadpool *ops_pool(struct ops *ops)
{
	return ops->pool;
}

int ops_threads(const struct ops *ops)
{
	return ops->n_threads;
}

const float *ops_f32(const struct tensor *t, int64_t n)
{
	if (!t || !t->data || t->type != DTYPE_F32 || tensor_nelements(t) != n)
		return NULL;
	return t->data;
}

void ops_get_row(const struct tensor *w, int64_t id, float *dst)
{
	quant_dequantize_row(w->type, tensor_row(w, id, 0, 0), dst, w->ne[0]);
}

/* ---- matrix products ---------------------------------------------------- */

struct matmul_job {
	struct ops *ops;
	const struct tensor *w;
	const float *bias;
	const float *x;
	size_t ldx;
	int64_t n_tok, tok_tile, n_tok_tiles;
	int64_t out_tile;
	float *y;
	size_t ldy;
	size_t xq_row;               /* bytes per converted activation row */
};

static void add_bias(float *y, const float *bias, int64_t o0, int64_t o1)
{
	for (int64_t o = o0; o < o1; o++)
		y[o] += bias[o];
}

static void matmul_tile(int64_t task, int thread, void *arg)
{
	struct matmul_job *j = arg;
	const struct tensor *w = j->w;
	int64_t in = w->ne[0];
	int64_t o0 = task / j->n_tok_tiles * j->out_tile;
	int64_t o1 = o0 + j->out_tile < w->ne[1] ? o0 + j->out_tile : w->ne[1];
	int64_t t0 = task % j->n_tok_tiles * j->tok_tile;
	int64_t t1 = t0 + j->tok_tile < j->n_tok ? t0 + j->tok_tile : j->n_tok;
	const float *wf;

	if (w->type == DTYPE_F32) {
		wf = tensor_row(w, o0, 0, 0);
	} else {
		float *buf = j->ops->scratch[thread].buf;

		for (int64_t o = o0; o < o1; o++)
			quant_dequantize_row(w->type, tensor_row(w, o, 0, 0), buf + (o - o0) * in, in);
		wf = buf;
	}
	/* the bias is C's starting value (beta = 1): one pass over Y, not two */
	if (j->bias)
		for (int64_t t = t0; t < t1; t++)
			memcpy(j->y + t * j->ldy + o0, j->bias + o0, (size_t)(o1 - o0) * sizeof(float));
	blas_sgemm(0, 1, (int)(t1 - t0), (int)(o1 - o0), (int)in,
		    1.0f, j->x + t0 * j->ldx, (int)j->ldx, wf, (int)(w->type == DTYPE_F32 ?
		    w->nb[1] / sizeof(float) : (size_t)in), j->bias ? 1.0f : 0.0f,
		    j->y + t0 * j->ldy + o0, (int)j->ldy);
}

/* Integer products of a weight tile with a token tile (kernels/qgemm.h),
 * the activations already in the weight's dot-product type. */
static void qgemm_tile(int64_t task, int thread, void *arg)
{
	struct matmul_job *j = arg;
	const struct tensor *w = j->w;
	int64_t o0 = task / j->n_tok_tiles * j->out_tile;
	int64_t o1 = o0 + j->out_tile < w->ne[1] ? o0 + j->out_tile : w->ne[1];
	int64_t t0 = task % j->n_tok_tiles * j->tok_tile;
	int64_t t1 = t0 + j->tok_tile < j->n_tok ? t0 + j->tok_tile : j->n_tok;

	qgemm(w->type, w->ne[0], tensor_row(w, o0, 0, 0), w->nb[1], o1 - o0,
	      (const char *)j->ops->xq + (size_t)t0 * j->xq_row, j->xq_row, t1 - t0, j->y + t0 * j->ldy + o0,
	      j->ldy, j->ops->scratch[thread].buf);
	if (j->bias)
		for (int64_t t = t0; t < t1; t++)
			add_bias(j->y + t * j->ldy, j->bias, o0, o1);
}

static void convert_rows(int64_t task, int thread, void *arg)
{
	struct matmul_job *j = arg;
	enum dtype dot = (enum dtype)quant_vec_dot_type(j->w->type);
	int64_t t1 = (task + 1) * XQ_ROWS_PER_TASK < j->n_tok ? (task + 1) * XQ_ROWS_PER_TASK : j->n_tok;

	(void)thread;
	for (int64_t t = task * XQ_ROWS_PER_TASK; t < t1; t++)
		quant_from_float(dot, j->x + t * j->ldx, (char *)j->ops->xq + (size_t)t * j->xq_row, j->w->ne[0]);
}

static void gemv_tile(int64_t task, int thread, void *arg)
{
	struct matmul_job *j = arg;
	const struct tensor *w = j->w;
	int64_t o0 = task * j->out_tile;
	int64_t o1 = o0 + j->out_tile < w->ne[1] ? o0 + j->out_tile : w->ne[1];

	(void)thread;
	for (int64_t t = 0; t < j->n_tok; t++) {
		float *y = j->y + t * j->ldy;

		quant_gemv(w->type, w->ne[0], w->data, w->nb[1], o0, o1,
			   (const char *)j->ops->xq + t * j->xq_row, y);
		if (j->bias)
			add_bias(y, j->bias, o0, o1);
	}
}

static int grow(void **buf, size_t *cap, size_t need, struct lm_error *err)
{
	void *p;

	if (need <= *cap)
		return LM_OK;
	p = realloc(*buf, need);
	if (!p)
		return lm_fail(err, LM_ENOMEM, "out of memory (%zu bytes of scratch)", need);
	*buf = p;
	*cap = need;
	return LM_OK;
}

int ops_matmul(struct ops *ops, const struct tensor *w, const struct tensor *b, const float *x,
	       size_t ldx, int64_t n_tok, float *y, size_t ldy, struct lm_error *err)
{
	struct matmul_job j = { .ops = ops, .w = w, .bias = ops_f32(b, w->ne[1]), .x = x, .ldx = ldx,
				.n_tok = n_tok, .y = y, .ldy = ldy };
	int64_t n_out_tiles;
	int rc;

	j.out_tile = (w->ne[1] + ops->n_threads - 1) / ops->n_threads;
	j.out_tile = (j.out_tile + 15) / 16 * 16;
	j.out_tile = j.out_tile < TILE_OUT_MIN ? TILE_OUT_MIN : j.out_tile;
	j.out_tile = j.out_tile > TILE_OUT_MAX ? TILE_OUT_MAX : j.out_tile;
	n_out_tiles = (w->ne[1] + j.out_tile - 1) / j.out_tile;
	if (n_tok <= 0)
		return LM_OK;
	if (w->type != DTYPE_F32 && (n_tok <= GEMV_MAX_TOK || qgemm_blocked(w->type))) {
		enum dtype dot = (enum dtype)quant_vec_dot_type(w->type);

		rc = dtype_row_size(dot, w->ne[0], &j.xq_row, err);
		rc = rc ? rc : grow(&ops->xq, &ops->xq_cap, j.xq_row * (size_t)n_tok, err);
		if (rc)
			return rc;
		if (n_tok <= GEMV_MAX_TOK) {
			for (int64_t t = 0; t < n_tok; t++)
				quant_from_float(dot, x + t * ldx, (char *)ops->xq + t * j.xq_row, w->ne[0]);
			threadpool_run(ops->pool, n_out_tiles, gemv_tile, &j);
			return LM_OK;
		}
		threadpool_run(ops->pool, (n_tok + XQ_ROWS_PER_TASK - 1) / XQ_ROWS_PER_TASK, convert_rows, &j);
	}
	if (w->type != DTYPE_F32) {
		size_t need = qgemm_blocked(w->type) ? qgemm_scratch_size(w->type, w->ne[0], j.out_tile) :
			      (size_t)j.out_tile * (size_t)w->ne[0] * sizeof(float);

		for (int i = 0; i < ops->n_threads; i++) {
			rc = grow((void **)&ops->scratch[i].buf, &ops->scratch[i].cap, need, err);
			if (rc)
				return rc;
		}
	}
	/* Enough tiles for every thread to have several (load balance), each
	 * at least 64 tokens tall so sgemm stays efficient. */
	j.tok_tile = n_tok;
	while (n_out_tiles * ((n_tok + j.tok_tile - 1) / j.tok_tile) < 2 * ops->n_threads &&
	       j.tok_tile > 64)
		j.tok_tile = (j.tok_tile + 1) / 2;
	j.n_tok_tiles = (n_tok + j.tok_tile - 1) / j.tok_tile;
	if (qgemm_blocked(w->type)) {
		threadpool_run(ops->pool, n_out_tiles * j.n_tok_tiles, qgemm_tile, &j);
		return LM_OK;
	}
	blas_set_threads(1);      /* the pool's threads each run one sgemm */
	threadpool_run(ops->pool, n_out_tiles * j.n_tok_tiles, matmul_tile, &j);
	return LM_OK;
}

/* ---- element-wise and row operators ----------------------------------- */

void ops_softmax(float *x, int64_t n)
{
	vecmath_kernels()->softmax(x, (size_t)n);
}

struct rows_job {
	float *x;
	const float *y, *w, *b;
	int64_t n_rows, n, rows_per_task;
	size_t ld, ld2;
	float eps;
	const struct vecmath_kernels *vm;
};

static void layernorm_task(int64_t task, int thread, void *arg)
{
	struct rows_job *j = arg;
	int64_t r1 = (task + 1) * j->rows_per_task < j->n_rows ? (task + 1) * j->rows_per_task : j->n_rows;

	(void)thread;
	for (int64_t r = task * j->rows_per_task; r < r1; r++) {
		float *x = j->x + r * j->ld;
		double mean = 0, var = 0;
		float m, inv;

		for (int64_t i = 0; i < j->n; i++)
			mean += x[i];
		mean /= (double)j->n;
		for (int64_t i = 0; i < j->n; i++)
			var += ((double)x[i] - mean) * ((double)x[i] - mean);
		var /= (double)j->n;
		m = (float)mean;
		inv = (float)(1.0 / sqrt(var + j->eps));
		for (int64_t i = 0; i < j->n; i++)
			x[i] = (x[i] - m) * inv * j->w[i] + (j->b ? j->b[i] : 0.0f);
	}
}

static void gelu_task(int64_t task, int thread, void *arg)
{
	struct rows_job *j = arg;
	int64_t r1 = (task + 1) * j->rows_per_task < j->n_rows ? (task + 1) * j->rows_per_task : j->n_rows;

	(void)thread;
	for (int64_t r = task * j->rows_per_task; r < r1; r++) {
		float *x = j->x + r * j->ld;

		j->vm->gelu(x, (size_t)j->n);
	}
}

static void swiglu_task(int64_t task, int thread, void *arg)
{
	struct rows_job *j = arg;
	int64_t r1 = (task + 1) * j->rows_per_task < j->n_rows ? (task + 1) * j->rows_per_task : j->n_rows;

	(void)thread;
	for (int64_t r = task * j->rows_per_task; r < r1; r++) {
		float *g = j->x + r * j->ld;
		const float *u = j->y + r * j->ld2;

		j->vm->swiglu(g, u, (size_t)j->n);
	}
}

static void run_rows(struct ops *ops, threadpool_fn *fn, struct rows_job *j)
{
	/* about 64k elements per task: small enough to balance, large enough
	 * that the pool's hand-off is noise */
	j->rows_per_task = j->n > 0 ? 65536 / j->n + 1 : j->n_rows;
	j->vm = vecmath_kernels();
	threadpool_run(ops->pool, (j->n_rows + j->rows_per_task - 1) / j->rows_per_task, fn, j);
}

void ops_layernorm(struct ops *ops, float *x, int64_t n_rows, int64_t n, size_t ld, const float *w,
		   const float *b, float eps)
{
	struct rows_job j = { .x = x, .w = w, .b = b, .n_rows = n_rows, .n = n, .ld = ld, .eps = eps };

	run_rows(ops, layernorm_task, &j);
}

void ops_gelu(struct ops *ops, float *x, int64_t n_rows, int64_t n, size_t ld)
{
	struct rows_job j = { .x = x, .n_rows = n_rows, .n = n, .ld = ld };

	run_rows(ops, gelu_task, &j);
}

void ops_swiglu(struct ops *ops, float *gate, const float *up, int64_t n_rows, int64_t n, size_t ld_gate,
		size_t ld_up)
{
	struct rows_job j = { .x = gate, .y = up, .n_rows = n_rows, .n = n, .ld = ld_gate, .ld2 = ld_up };

	run_rows(ops, swiglu_task, &j);
}

void ops_rope_table(float *cs, int64_t n_pos, int head_dim, float base)
{
	int half = head_dim / 2;

	for (int64_t p = 0; p < n_pos; p++)
		for (int i = 0; i < half; i++) {
			double theta = (double)p * pow((double)base, -2.0 * i / head_dim);

			cs[(p * half + i) * 2] = (float)cos(theta);
			cs[(p * half + i) * 2 + 1] = (float)sin(theta);
		}
}

void ops_rope_neox(float *x, int n_head, int head_dim, const float *cs)
{
	int half = head_dim / 2;

	for (int h = 0; h < n_head; h++) {
		float *v = x + (size_t)h * head_dim;

		for (int i = 0; i < half; i++) {
			float a = v[i], b = v[i + half], c = cs[2 * i], s = cs[2 * i + 1];

			v[i] = a * c - b * s;
			v[i + half] = a * s + b * c;
		}
	}
}

static void rmsnorm_task(int64_t task, int thread, void *arg)
{
	struct rows_job *j = arg;
	int64_t r1 = (task + 1) * j->rows_per_task < j->n_rows ? (task + 1) * j->rows_per_task : j->n_rows;

	(void)thread;
	for (int64_t r = task * j->rows_per_task; r < r1; r++) {
		float *x = j->x + r * j->ld;
		double sum = 0;
		float scale;

		for (int64_t i = 0; i < j->n; i++)
			sum += (double)x[i] * x[i];
		scale = 1.0f / sqrtf((float)(sum / (double)j->n) + j->eps);
		for (int64_t i = 0; i < j->n; i++)
			x[i] = x[i] * scale * j->w[i];
	}
}

void ops_rmsnorm(struct ops *ops, float *x, int64_t n_rows, int64_t n, size_t ld, const float *w,
		 float eps)
{
	struct rows_job j = { .x = x, .w = w, .n_rows = n_rows, .n = n, .ld = ld, .eps = eps };

	run_rows(ops, rmsnorm_task, &j);
}

void ops_rope(float *x, int n_head, int head_dim, int n_rot, int neox, const float *cs)
{
	int half = n_rot / 2;

	for (int h = 0; h < n_head; h++) {
		float *v = x + (size_t)h * head_dim;

		for (int i = 0; i < half; i++) {
			int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
			float a = v[i0], b = v[i1], c = cs[2 * i], s = cs[2 * i + 1];

			v[i0] = a * c - b * s;
			v[i1] = a * s + b * c;
		}
	}
}

/* test_qgemm - every level's quantised GEMM against the scalar quant
 * vec_dot of each (weight row, activation row) pair, bit for bit, on odd
 * shapes (token counts and output counts that are not multiples of the
 * blocking, more tokens than one prepared chunk, padded strides), and the
 * products against the float dot products of the unquantised rows. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/ops.h"
#include "qgemm.h"
#include "quant.h"
#include "tap.h"

static uint32_t rng = 12345;

static float frand(void)
{
	rng = rng * 1664525u + 1013904223u;
	return (float)((rng >> 8) / 16777216.0 - 0.5);
}

struct shape {
	int64_t n, n_out, n_tok;
};

/* Y from KERNEL against the scalar vec_dot; 1 when all equal exactly and
 * the columns past n_out were left alone. */
static int check(qgemm_fn *kernel, enum dtype type, const struct shape *s, const char *what)
{
	enum dtype dot = (enum dtype)quant_vec_dot_type(type);
	quant_vec_dot_fn *ref = quant_kernels_at(CPU_SCALAR)->vec_dot[type];
	struct lm_error err = { 0 };
	size_t wrow, xrow, ldy = (size_t)s->n_out + 3;
	float *wf = malloc((size_t)(s->n * s->n_out) * sizeof(float));
	float *xf = malloc((size_t)(s->n * s->n_tok) * sizeof(float));
	float *y = malloc(ldy * (size_t)s->n_tok * sizeof(float));
	char *w, *x, *scratch;
	double worst = 0;
	int bad = 0, fails;

	if (dtype_row_size(type, s->n, &wrow, &err) || dtype_row_size(dot, s->n, &xrow, &err))
		return ok(0, "%s: %s", what, err.msg);
	wrow += 16;               /* strides wider than the rows */
	xrow += 8;
	w = calloc((size_t)s->n_out, wrow);
	x = calloc((size_t)s->n_tok, xrow);
	scratch = malloc(qgemm_scratch_size(type, s->n, s->n_out) + 1);
	for (int64_t i = 0; i < s->n * s->n_out; i++)
		wf[i] = frand();
	for (int64_t i = 0; i < s->n * s->n_tok; i++)
		xf[i] = frand() * 4;
	for (int64_t o = 0; o < s->n_out; o++)
		quant_quantize_row_ref(type, wf + o * s->n, w + o * wrow, s->n);
	for (int64_t t = 0; t < s->n_tok; t++)
		quant_from_float(dot, xf + t * s->n, x + t * xrow, s->n);
	for (size_t i = 0; i < ldy * (size_t)s->n_tok; i++)
		y[i] = -7.0f;
	/* scratch + 1: the kernel must not rely on the caller's alignment */
	kernel(s->n, w, wrow, s->n_out, x, xrow, s->n_tok, y, ldy, scratch + 1);
	for (int64_t t = 0; t < s->n_tok; t++) {
		for (int64_t o = 0; o < s->n_out; o++) {
			float want = ref(s->n, w + o * wrow, x + t * xrow), got = y[t * ldy + o];
			double exact = 0, mag = 0;

			if (memcmp(&want, &got, sizeof(float)) != 0 && bad++ < 3)
				diag("%s: y[%lld][%lld] = %.9g, vec_dot %.9g", what, (long long)t, (long long)o,
				     got, want);
			for (int64_t i = 0; i < s->n; i++) {
				exact += (double)wf[o * s->n + i] * xf[t * s->n + i];
				mag += fabs((double)wf[o * s->n + i] * xf[t * s->n + i]);
			}
			if (fabs(got - exact) / (mag + 1e-9) > worst)
				worst = fabs(got - exact) / (mag + 1e-9);
		}
		for (size_t o = (size_t)s->n_out; o < ldy; o++)
			if (y[t * ldy + o] != -7.0f && bad++ < 3)
				diag("%s: y[%lld][%zu] past the outputs was written", what, (long long)t, o);
	}
	fails = bad;
	ok(!fails, "%s: %lld x %lld x %lld equals vec_dot", what, (long long)s->n_tok, (long long)s->n,
	   (long long)s->n_out);
	/* quantisation error of the products, relative to sum |w x|: Q4 has
	 * 16 levels, so a few percent; a wrong element or scale is far more */
	ok(worst < (type == DTYPE_Q8_0 || type == DTYPE_Q6_K ? 0.02 : 0.15), "%s: within quantisation error of the float product (%.4f)",
	   what, worst);
	free(wf);
	free(xf);
	free(y);
	free(w);
	free(x);
	free(scratch);
	return !fails;
}

/* ops_matmul on a blocked type: tiles over 2 threads, the activation
 * rows converted by the pool, the bias added; each output must be the
 * scalar vec_dot of its row pair plus the bias, exactly. */
static void check_ops(enum dtype type, int64_t n, int64_t n_out, int64_t n_tok)
{
	enum dtype dot = (enum dtype)quant_vec_dot_type(type);
	quant_vec_dot_fn *ref = quant_kernels_at(CPU_SCALAR)->vec_dot[type];
	struct lm_error err = { 0 };
	int64_t ne[2] = { n, n_out }, nb1 = n_out;
	size_t ldx = (size_t)n + 5, ldy = (size_t)n_out + 2, wrow = 0, xrow = 0;
	float *wf = malloc((size_t)(n * n_out) * sizeof(float)), *x = malloc(ldx * (size_t)n_tok * sizeof(float));
	float *y = malloc(ldy * (size_t)n_tok * sizeof(float)), *bias = malloc((size_t)n_out * sizeof(float));
	char *xq = NULL;
	struct tensor w = { 0 }, b = { 0 };
	struct ops *ops = NULL;
	int bad = 0;

	if (dtype_row_size(type, n, &wrow, &err) || dtype_row_size(dot, n, &xrow, &err) ||
	    tensor_new(&w, type, 2, ne, &err) || tensor_init(&b, DTYPE_F32, 1, &nb1, bias, &err) ||
	    ops_new(&ops, 2, &err)) {
		ok(0, "ops %s: %s", dtype_name(type), err.msg);
		goto out;
	}
	xq = malloc(xrow);
	for (int64_t i = 0; i < n * n_out; i++)
		wf[i] = frand();
	for (int64_t o = 0; o < n_out; o++) {
		quant_quantize_row_ref(type, wf + o * n, (char *)w.data + (size_t)o * wrow, n);
		bias[o] = frand();
	}
	for (size_t i = 0; i < ldx * (size_t)n_tok; i++)
		x[i] = frand() * 3;
	if (ops_matmul(ops, &w, &b, x, ldx, n_tok, y, ldy, &err)) {
		ok(0, "ops %s: %s", dtype_name(type), err.msg);
		goto out;
	}
	for (int64_t t = 0; t < n_tok; t++) {
		quant_from_float(dot, x + t * ldx, xq, n);
		for (int64_t o = 0; o < n_out; o++) {
			float want = ref(n, (char *)w.data + (size_t)o * wrow, xq) + bias[o];

			if (want != y[t * ldy + o] && bad++ < 3)
				diag("ops %s: y[%lld][%lld] = %.9g, vec_dot + bias %.9g", dtype_name(type),
				     (long long)t, (long long)o, y[t * ldy + o], want);
		}
	}
	ok(!bad, "ops_matmul %s, %lld tokens x %lld -> %lld: vec_dot + bias exactly", dtype_name(type),
	   (long long)n_tok, (long long)n, (long long)n_out);
out:
	ops_free(ops);
	tensor_free(&w);
	free(wf);
	free(x);
	free(y);
	free(bias);
	free(xq);
}

int main(void)
{
	static const struct shape shapes[] = {
		{ 32, 1, 1 }, { 64, 17, 9 }, { 96, 16, 8 }, { 256, 33, 13 }, { 384, 40, 70 }, { 512, 5, 131 },
	};
	static const struct shape kshapes[] = {
		{ 256, 1, 1 }, { 512, 17, 9 }, { 768, 33, 70 }, { 256, 16, 8 },
	};
	static const enum dtype blocked[] = { DTYPE_Q8_0, DTYPE_Q4_0, DTYPE_Q5_0, DTYPE_Q4_K, DTYPE_Q5_K, DTYPE_Q6_K };
	static const enum dtype by_dot[] = { DTYPE_Q4_1, DTYPE_Q5_1, DTYPE_Q3_K };
	char what[128];

	for (int level = CPU_SCALAR; level < CPU_LEVEL_COUNT; level++) {
		const struct qgemm_kernels *k = qgemm_kernels_at((enum cpu_level)level);

		if (!k) {
			diag("level %s: not on this CPU", cpu_level_name((enum cpu_level)level));
			continue;
		}
		for (size_t t = 0; t < sizeof(blocked) / sizeof(blocked[0]); t++) {
			ok(k->gemm[blocked[t]] != NULL, "%s has a %s kernel", cpu_level_name((enum cpu_level)level),
			   dtype_name(blocked[t]));
			if (!k->gemm[blocked[t]])
				continue;
			snprintf(what, sizeof(what), "%s %s", cpu_level_name((enum cpu_level)level),
				 dtype_name(blocked[t]));
			if (blocked[t] == DTYPE_Q4_K || blocked[t] == DTYPE_Q5_K || blocked[t] == DTYPE_Q6_K)
				for (size_t s = 0; s < sizeof(kshapes) / sizeof(kshapes[0]); s++)
					check(k->gemm[blocked[t]], blocked[t], &kshapes[s], what);
			else
				for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
					check(k->gemm[blocked[t]], blocked[t], &shapes[s], what);
		}
	}
	/* the scalar level covers the other types one vec_dot at a time */
	for (size_t t = 0; t < sizeof(by_dot) / sizeof(by_dot[0]); t++) {
		struct shape s = { 512, 7, 5 };

		snprintf(what, sizeof(what), "scalar %s", dtype_name(by_dot[t]));
		check(qgemm_kernels_at(CPU_SCALAR)->gemm[by_dot[t]], by_dot[t], &s, what);
	}
	for (size_t t = 0; t < sizeof(blocked) / sizeof(blocked[0]); t++) {
		ok(qgemm_blocked(blocked[t]), "%s is blocked", dtype_name(blocked[t]));
		snprintf(what, sizeof(what), "dispatched %s", dtype_name(blocked[t]));
		check(qgemm_kernels()->gemm[blocked[t]], blocked[t], &kshapes[2], what);
	}
	check_ops(DTYPE_Q8_0, 384, 200, 37);
	check_ops(DTYPE_Q4_0, 96, 1000, 150);
	check_ops(DTYPE_Q6_K, 512, 70, 9);
	ok(!qgemm_blocked(DTYPE_F16) && !qgemm_blocked(DTYPE_Q4_1) && !qgemm_blocked(DTYPE_Q3_K),
	   "F16, Q4_1 and Q3_K are not blocked");
	return tap_done();
}

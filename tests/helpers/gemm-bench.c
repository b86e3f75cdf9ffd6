/* gemm-bench - how close ops_matmul (the encoder's linear layers) comes to
 * the float32 peak of OpenBLAS sgemm on this machine.
 *
 *   gemm-bench [THREADS] [TOKENS]
 *
 * Peak: the best of several square 2048^3 sgemm calls with OpenBLAS's own
 * threads.  Layers: Y[TOKENS x out] = X W^T + b for the MiniLM-L6 shapes
 * (384 -> 384, 384 -> 1536, 1536 -> 384) with weights in F32, F16, Q8_0
 * and Q4_0, through ops_matmul on THREADS threads (Q8_0 and Q4_0 run the
 * integer GEMM of kernels/qgemm.h; their GFLOP/s count the equivalent
 * float operations).  Then the integer GEMM alone on one thread at each
 * instruction-set level, against one-thread sgemm on the same shape with
 * float32 weights.  GFLOP/s = 2 * M * N * K / time. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "blas.h"
#include "model/ops.h"
#include "qgemm.h"
#include "quant.h"
#include "tensor.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const struct lm_error *err)
{
	fprintf(stderr, "gemm-bench: %s\n", err->msg);
	exit(1);
}

static float *random_floats(size_t n, unsigned seed)
{
	float *x = malloc(n * sizeof(float));

	srand(seed);
	for (size_t i = 0; x && i < n; i++)
		x[i] = (float)((double)rand() / RAND_MAX - 0.5);
	return x;
}

static double peak(int threads)
{
	const int n = 2048;
	float *a = random_floats((size_t)n * n, 1), *b = random_floats((size_t)n * n, 2);
	float *c = malloc((size_t)n * n * sizeof(float));
	double best = 0;

	blas_set_threads(threads);
	for (int rep = 0; rep < 4; rep++) {
		double t0 = now(), t;

		blas_sgemm(0, 1, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
		t = now() - t0;
		if (2.0 * n * n * n / t > best)
			best = 2.0 * n * n * n / t;
	}
	free(a);
	free(b);
	free(c);
	return best / 1e9;
}

static double layer(struct ops *ops, enum dtype type, int64_t in, int64_t out, int64_t tokens)
{
	struct lm_error err = { 0 };
	float *wf = random_floats((size_t)(in * out), 3), *x = random_floats((size_t)(in * tokens), 4);
	float *bias = random_floats((size_t)out, 5), *y = malloc((size_t)(out * tokens) * sizeof(float));
	int64_t ne[2] = { in, out }, nb1 = out;
	struct tensor w, b;
	size_t row;
	double best = 0;

	if (dtype_row_size(type, in, &row, &err) || tensor_new(&w, type, 2, ne, &err) ||
	    tensor_init(&b, DTYPE_F32, 1, &nb1, bias, &err))
		die(&err);
	for (int64_t o = 0; o < out; o++)
		quant_quantize_row_ref(type, wf + o * in, (char *)w.data + (size_t)o * row, in);
	for (int rep = 0; rep < 4; rep++) {
		double t0 = now(), t;

		if (ops_matmul(ops, &w, &b, x, (size_t)in, tokens, y, (size_t)out, &err))
			die(&err);
		t = now() - t0;
		if (2.0 * tokens * in * out / t > best)
			best = 2.0 * tokens * in * out / t;
	}
	tensor_free(&w);
	free(wf);
	free(x);
	free(bias);
	free(y);
	return best / 1e9;
}

/* One thread: sgemm on float32 weights, then each level's qgemm kernel
 * for TYPE (activations converted beforehand, as ops_matmul does once). */
static void kernels_alone(enum dtype type, int64_t in, int64_t out, int64_t tokens)
{
	struct lm_error err = { 0 };
	enum dtype dot = (enum dtype)quant_vec_dot_type(type);
	float *wf = random_floats((size_t)(in * out), 3), *x = random_floats((size_t)(in * tokens), 4);
	float *y = malloc((size_t)(out * tokens) * sizeof(float));
	size_t wrow = 0, xrow = 0;
	char *w, *xq, *scratch;
	double best = 0;

	if (dtype_row_size(type, in, &wrow, &err) || dtype_row_size(dot, in, &xrow, &err))
		die(&err);
	w = malloc(wrow * (size_t)out);
	xq = malloc(xrow * (size_t)tokens);
	scratch = malloc(qgemm_scratch_size(type, in, out));
	for (int64_t o = 0; o < out; o++)
		quant_quantize_row_ref(type, wf + o * in, w + (size_t)o * wrow, in);
	for (int64_t t = 0; t < tokens; t++)
		quant_from_float(dot, x + t * in, xq + (size_t)t * xrow, in);
	blas_set_threads(1);
	for (int rep = 0; rep < 4; rep++) {
		double t0 = now(), t;

		blas_sgemm(0, 1, (int)tokens, (int)out, (int)in, 1.0f, x, (int)in, wf, (int)in, 0.0f, y, (int)out);
		t = now() - t0;
		if (2.0 * tokens * in * out / t > best)
			best = 2.0 * tokens * in * out / t;
	}
	printf("1 thread %4lld x %4lld -> %4lld: sgemm f32 %6.1f GFLOP/s", (long long)tokens, (long long)in,
	       (long long)out, best / 1e9);
	for (int level = CPU_SCALAR + 1; level < CPU_LEVEL_COUNT; level++) {
		const struct qgemm_kernels *k = qgemm_kernels_at((enum cpu_level)level);

		if (!k || !k->gemm[type])
			continue;
		best = 0;
		for (int rep = 0; rep < 4; rep++) {
			double t0 = now(), t;

			k->gemm[type](in, w, wrow, out, xq, xrow, tokens, y, (size_t)out, scratch);
			t = now() - t0;
			if (2.0 * tokens * in * out / t > best)
				best = 2.0 * tokens * in * out / t;
		}
		printf(", qgemm %s %s %6.1f", dtype_name(type), cpu_level_name((enum cpu_level)level), best / 1e9);
	}
	printf("\n");
	free(wf);
	free(x);
	free(y);
	free(w);
	free(xq);
	free(scratch);
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	int64_t tokens = argc > 2 ? atoll(argv[2]) : 4096;
	static const enum dtype types[] = { DTYPE_F32, DTYPE_F16, DTYPE_Q8_0, DTYPE_Q4_0 };
	static const int64_t shapes[][2] = { { 384, 384 }, { 384, 1536 }, { 1536, 384 } };
	struct lm_error err = { 0 };
	struct ops *ops;
	double p;

	if (blas_open(&err) || ops_new(&ops, threads, &err))
		die(&err);
	p = peak(threads);
	printf("OpenBLAS sgemm 2048^3, %d threads: %.1f GFLOP/s\n", threads, p);
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			double g = layer(ops, types[t], shapes[s][0], shapes[s][1], tokens);

			printf("ops_matmul %4lld x %4lld -> %4lld %-5s %7.1f GFLOP/s  %3.0f%% of peak\n",
			       (long long)tokens, (long long)shapes[s][0], (long long)shapes[s][1],
			       dtype_name(types[t]), g, 100 * g / p);
		}
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		kernels_alone(DTYPE_Q8_0, shapes[s][0], shapes[s][1], tokens);
		kernels_alone(DTYPE_Q4_0, shapes[s][0], shapes[s][1], tokens);
	}
	ops_free(ops);
	return 0;
}

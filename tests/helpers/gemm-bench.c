/* gemm-bench - how close ops_matmul (the encoder's linear layers) comes to
 * the float32 peak of OpenBLAS sgemm on this machine.
 *
 *   gemm-bench [THREADS] [TOKENS]
 *
 * Peak: the best of several square 2048^3 sgemm calls with OpenBLAS's own
 * threads.  Layers: Y[TOKENS x out] = X W^T + b for the MiniLM-L6 shapes
 * (384 -> 384, 384 -> 1536, 1536 -> 384) with weights in F32, F16 and Q8_0,
 * through ops_matmul on THREADS threads.  GFLOP/s = 2 * M * N * K / time. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "blas.h"
#include "model/ops.h"
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

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	int64_t tokens = argc > 2 ? atoll(argv[2]) : 4096;
	static const enum dtype types[] = { DTYPE_F32, DTYPE_F16, DTYPE_Q8_0 };
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
	ops_free(ops);
	return 0;
}

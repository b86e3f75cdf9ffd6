/* quant-bench - speed of quant.h's kernels at each instruction-set level.
 *
 *   quant-bench [N [ROWS [REPEAT]]]
 *
 * For each weight type: ROWS rows (default 256) of N elements (default
 * 4096) against one activation row, REPEAT passes (default 50); prints
 * ns per row and the weight bytes read per second for vec_dot (through
 * quant_gemv), and ns per row for dequantize_row, at every level this CPU
 * has (the best of 5 trials).  The matrix is small enough to stay in cache: this measures the
 * kernels, not memory. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "quant.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	static const enum dtype types[] = {
		DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_Q8_0, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q5_0, DTYPE_Q5_1,
		DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_K, DTYPE_Q5_K, DTYPE_Q6_K,
	};
	int64_t n = argc > 1 ? atoll(argv[1]) : 4096, rows = argc > 2 ? atoll(argv[2]) : 256;
	int repeat = argc > 3 ? atoi(argv[3]) : 50, level, rep;
	float *w, *x, *y, *deq;
	struct lm_error err;
	size_t t, rb, xb;
	int64_t i, r;
	char *wq, *xq;
	volatile float sink = 0;

	if (n <= 0 || n % 256 || rows <= 0 || repeat <= 0) {
		fprintf(stderr, "quant-bench: N must be a positive multiple of 256, ROWS and REPEAT positive\n");
		return 2;
	}
	w = malloc((size_t)(n * rows) * sizeof *w);
	x = malloc((size_t)n * sizeof *x);
	y = malloc((size_t)rows * sizeof *y);
	deq = malloc((size_t)n * sizeof *deq);
	wq = malloc((size_t)(n * rows) * 4);
	xq = malloc((size_t)n * 4);
	if (!w || !x || !y || !deq || !wq || !xq) {
		fprintf(stderr, "quant-bench: out of memory\n");
		return 1;
	}
	srand(1);
	for (i = 0; i < n * rows; i++)
		w[i] = (float)((double)rand() / RAND_MAX - 0.5);
	for (i = 0; i < n; i++)
		x[i] = (float)((double)rand() / RAND_MAX - 0.5);
	printf("%-6s %-12s %12s %10s %14s\n", "type", "level", "dot ns/row", "dot GB/s", "dequant ns/row");
	for (t = 0; t < sizeof types / sizeof types[0]; t++) {
		enum dtype type = types[t], dt = (enum dtype)quant_vec_dot_type(types[t]);

		if (dtype_row_size(type, n, &rb, &err) < 0 || dtype_row_size(dt, n, &xb, &err) < 0)
			return 1;
		for (r = 0; r < rows; r++)
			quant_quantize_row_ref(type, w + r * n, wq + r * rb, n);
		for (level = 0; level < CPU_LEVEL_COUNT; level++) {
			const struct quant_kernels *k = quant_kernels_at((enum cpu_level)level);
			double t0, t1, dot_s, deq_s;
			int trial;

			if (!k)
				continue;
			k->from_float[dt](x, xq, n);
			/* the best of 5 trials, against other load on the machine */
			dot_s = deq_s = 1e30;
			for (trial = 0; trial < 5; trial++) {
				t0 = now();
				for (rep = 0; rep < repeat; rep++)
					for (r = 0; r < rows; r++)
						y[r] = k->vec_dot[type](n, wq + r * rb, xq);
				t1 = now() - t0;
				dot_s = t1 < dot_s ? t1 : dot_s;
				sink += y[0];
				t0 = now();
				for (rep = 0; rep < repeat; rep++)
					for (r = 0; r < rows; r++)
						k->dequantize_row[type](wq + r * rb, deq, n);
				t1 = now() - t0;
				deq_s = t1 < deq_s ? t1 : deq_s;
				sink += deq[0];
			}
			printf("%-6s %-12s %12.0f %10.2f %14.0f\n", dtype_name(type), cpu_level_name((enum cpu_level)level),
			       dot_s * 1e9 / (repeat * rows), (double)rb * rows * repeat / dot_s / 1e9,
			       deq_s * 1e9 / (repeat * rows));
		}
	}
	free(w);
	free(x);
	free(y);
	free(deq);
	free(wq);
	free(xq);
	return sink == 12345.0f;
}

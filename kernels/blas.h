/* blas.h - OpenBLAS's single-precision matrix product, loaded on first use.
 *
 * OpenBLAS is opened with dlopen instead of being linked, for two reasons.
 * Programs and queries that never multiply matrices (tok, evaluate, BM25
 * search) do not pay for its start-up, which probes the CPU and starts
 * threads.  And the kernels can be chosen before it starts: OpenBLAS
 * 0.3.21 (Debian 12) detects AMD Zen 4 as Cooperlake, whose sgemm ran no
 * faster than the AVX2 one on our encoder; on AVX-512 CPUs blas_open sets
 * OPENBLAS_CORETYPE=SkylakeX, whose AVX-512 sgemm did run it faster (not
 * yet measured by a script: BENCHMARKS.md).  A user's OPENBLAS_CORETYPE is left
 * alone (some machines set it on purpose, e.g. to Haswell, for
 * reproducible numbers).
 *
 * Threads: OpenBLAS has one process-wide thread count.  Code that runs its
 * own threads (libcommon/model/ops.c) asks for 1; code that lets BLAS
 * parallelise a large product (flat search) asks for the default
 * (blas_set_threads(0): OPENBLAS_NUM_THREADS, else every core).  Callers
 * set it before their products; the two never run at the same time.
 */
#ifndef LMPIPE_BLAS_H
#define LMPIPE_BLAS_H

#include "error.h"

/* Open the library (once; safe from any thread).  LM_EIO naming the library
 * when it cannot be loaded. */
int blas_open(struct lm_error *err);

/* Row-major C = alpha * op(A) op(B) + beta * C, as cblas_sgemm with
 * CblasRowMajor; TRANS_A / TRANS_B are 0 or 1.  blas_open must have
 * succeeded. */
void blas_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
		const float *b, int ldb, float beta, float *c, int ldc);

/* OpenBLAS's thread count: N >= 1, or 0 for its default. */
void blas_set_threads(int n);

#endif

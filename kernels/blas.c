#include "blas.h"

#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu.h"

static __typeof__(&cblas_sgemm) sgemm_fn;
static __typeof__(&openblas_set_num_threads) set_threads_fn;
static __typeof__(&openblas_get_num_threads) get_threads_fn;
static int default_threads, current_threads;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
	static const char *const names[] = { "libopenblas.so.0", "libopenblas.so" };
	const char *why = "not found";
	void *lib = NULL;

	if (!getenv("OPENBLAS_CORETYPE") && cpu_features()->hw_level >= CPU_AVX512)
		setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !lib; i++)
		if (!(lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL)))
			why = dlerror();
	if (lib) {
		sgemm_fn = (__typeof__(sgemm_fn))dlsym(lib, "cblas_sgemm");
		set_threads_fn = (__typeof__(set_threads_fn))dlsym(lib, "openblas_set_num_threads");
		get_threads_fn = (__typeof__(get_threads_fn))dlsym(lib, "openblas_get_num_threads");
		why = "it lacks cblas_sgemm or openblas_set_num_threads";
	}
	if (!sgemm_fn || !set_threads_fn || !get_threads_fn) {
		sgemm_fn = NULL;
		snprintf(load_error, sizeof(load_error), "cannot load OpenBLAS (libopenblas.so.0): %s", why);
		return;
	}
	default_threads = current_threads = get_threads_fn();
}

int blas_open(struct lm_error *err)
{
	pthread_once(&once, load);
	return sgemm_fn ? LM_OK : lm_fail(err, LM_EIO, "%s", load_error);
}

void blas_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
		const float *b, int ldb, float beta, float *c, int ldc)
{
	sgemm_fn(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
		 m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void blas_set_threads(int n)
{
	if (n <= 0)
		n = default_threads;
	if (n != current_threads) {
		set_threads_fn(n);
		current_threads = n;
	}
}

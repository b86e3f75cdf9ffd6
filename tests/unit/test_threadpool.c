/* test_threadpool.c - every task runs exactly once, results are visible
 * after threadpool_run, thread indices stay in range, repeated runs, one
 * thread and more threads than CPUs. */
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "threadpool.h"

enum { MAX_THREADS = 16 };

struct job {
	int64_t n;
	int n_threads;
	int64_t *out;               /* out[i] written by task i only */
	atomic_int *hits;           /* times task i ran */
	int64_t partial[MAX_THREADS][8];  /* per thread, padded to a cache line */
	atomic_int bad_thread;
};

static void task(int64_t i, int thread, void *arg)
{
	struct job *j = arg;

	if (thread < 0 || thread >= j->n_threads) {
		atomic_store(&j->bad_thread, 1);
		return;
	}
	j->out[i] = i * i;
	atomic_fetch_add_explicit(&j->hits[i], 1, memory_order_relaxed);
	j->partial[thread][0] += i;
}

static int run_once(struct threadpool *pool, int64_t n)
{
	struct job j;
	int64_t i, sum = 0;
	int good = 1, t;

	memset(&j, 0, sizeof j);
	j.n = n;
	j.n_threads = threadpool_threads(pool);
	j.out = calloc((size_t)n + 1, sizeof *j.out);
	j.hits = calloc((size_t)n + 1, sizeof *j.hits);
	if (!j.out || !j.hits) {
		free(j.out);
		free(j.hits);
		return 0;
	}
	atomic_init(&j.bad_thread, 0);
	threadpool_run(pool, n, task, &j);
	for (i = 0; i < n; i++)
		if (j.out[i] != i * i || atomic_load(&j.hits[i]) != 1)
			good = 0;
	for (t = 0; t < MAX_THREADS; t++)
		sum += j.partial[t][0];
	if (sum != n * (n - 1) / 2 || atomic_load(&j.bad_thread))
		good = 0;
	free(j.out);
	free(j.hits);
	return good;
}

static void order_task(int64_t i, int thread, void *arg)
{
	int64_t *log = arg;

	log[log[0] + 1] = i * 10 + thread;
	log[0]++;
}

int main(void)
{
	static const int counts[] = { 1, 2, 3, 8, MAX_THREADS };
	struct lm_error err = { 0 };
	struct threadpool *pool;
	size_t c;
	int d = threadpool_default_threads();
	cpu_set_t set;

	ok(d >= 1, "default thread count %d", d);
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		is_int(d, CPU_COUNT(&set), "default is the affinity mask's CPU count");
	ok(d <= sysconf(_SC_NPROCESSORS_CONF), "no more than configured CPUs");

	pool = threadpool_new(0, &err);
	ok(pool == NULL && err.code == LM_EINVAL, "0 threads rejected: %s", err.msg);

	for (c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		int n = counts[c], good = 1, r;

		pool = threadpool_new(n, &err);
		if (!ok(pool != NULL, "pool of %d threads", n)) {
			diag("%s", err.msg);
			continue;
		}
		is_int(threadpool_threads(pool), n, "reports %d threads", n);
		ok(run_once(pool, 100000), "%d threads: 100000 tasks each once, sums right", n);
		for (r = 0; r < 2000 && good; r++)
			good = run_once(pool, r % 37 + 1);
		ok(good, "%d threads: 2000 consecutive small runs", n);
		ok(run_once(pool, 1), "%d threads: a single task", n);
		threadpool_run(pool, 0, task, NULL);
		threadpool_run(pool, -5, task, NULL);
		ok(1, "%d threads: zero and negative task counts do nothing", n);
		threadpool_free(pool);
	}

	/* one thread: inline, in order, thread index 0 */
	{
		int64_t log[6] = { 0 };

		pool = threadpool_new(1, &err);
		threadpool_run(pool, 5, order_task, log);
		ok(log[0] == 5 && log[1] == 0 && log[2] == 10 && log[3] == 20 && log[4] == 30 && log[5] == 40,
		   "one thread runs tasks inline in order");
		threadpool_free(pool);
	}
	threadpool_free(NULL);
	return tap_done();
}

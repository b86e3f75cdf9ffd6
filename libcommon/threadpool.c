#include "threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a worker waiting for the next job, and the caller waiting for
 * the workers, poll before sleeping on the condition variable.  A
 * transformer layer hands the pool a dozen small jobs with a little serial
 * work between them; a futex sleep and wake-up for each costs more than
 * the job.  Bounded, so an idle pool or a loaded machine loses at most this
 * much CPU per wait (llama.cpp's workers spin without bound, which is what
 * makes them collapse when the cores are shared). */
#define THREADPOOL_SPIN_NS 50000

struct threadpool {
	int n_threads;
	pthread_t *workers;          /* n_threads - 1 of them */
	int n_started;

	pthread_mutex_t lock;
	pthread_cond_t wake;         /* workers: a new job or stop */
	pthread_cond_t done;         /* caller: the last worker left the job */
	atomic_uint_fast64_t generation;   /* bumped once per job, under lock */
	atomic_int busy;             /* workers not yet finished with the job */
	atomic_int stop;

	threadpool_fn *fn;           /* the current job, set under lock */
	void *arg;
	int64_t n_tasks;
	atomic_int_fast64_t next;    /* next task index to hand out */
};

struct worker_start {
	struct threadpool *pool;
	int thread;
};

static void run_tasks(struct threadpool *pool, threadpool_fn *fn, void *arg, int64_t n_tasks,
		      int thread)
{
	int64_t i;

	while ((i = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed)) < n_tasks)
		fn(i, thread, arg);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Poll until *GEN differs from SEEN or *STOP is set (with GEN NULL: until
 * *COUNT is 0), for at most THREADPOOL_SPIN_NS.  1 when it happened. */
static int spin_until(const atomic_uint_fast64_t *gen, uint64_t seen, const atomic_int *count,
		      const atomic_int *stop)
{
	int64_t deadline = 0;

	for (int i = 0;; i++) {
		if (gen ? atomic_load(gen) != seen || atomic_load(stop) : atomic_load(count) == 0)
			return 1;
		cpu_relax();
		if ((i & 63) == 63) {
			int64_t t = now_ns();

			if (!deadline)
				deadline = t + THREADPOOL_SPIN_NS;
			else if (t > deadline)
				return 0;
		}
	}
}

static void *worker_main(void *p)
{
	struct threadpool *pool = ((struct worker_start *)p)->pool;
	int thread = ((struct worker_start *)p)->thread;
	uint64_t seen = 0;

	free(p);
	for (;;) {
		threadpool_fn *fn;
		void *arg;
		int64_t n;

		spin_until(&pool->generation, seen, NULL, &pool->stop);
		/* the lock orders the reads of the job after the caller's writes */
		pthread_mutex_lock(&pool->lock);
		while (!atomic_load(&pool->stop) && atomic_load(&pool->generation) == seen)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (atomic_load(&pool->stop)) {
			pthread_mutex_unlock(&pool->lock);
			return NULL;
		}
		seen = atomic_load(&pool->generation);
		fn = pool->fn;
		arg = pool->arg;
		n = pool->n_tasks;
		pthread_mutex_unlock(&pool->lock);

		run_tasks(pool, fn, arg, n, thread);

		/* the decrement publishes this thread's writes to the caller (seq_cst);
		 * the signal is sent under the lock, so a caller that saw busy > 0
		 * under the lock is already waiting for it */
		if (atomic_fetch_sub(&pool->busy, 1) == 1) {
			pthread_mutex_lock(&pool->lock);
			pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->lock);
		}
	}
}

struct threadpool *threadpool_new(int n_threads, struct lm_error *err)
{
	struct threadpool *pool;
	int i, rc;

	if (n_threads < 1) {
		lm_fail(err, LM_EINVAL, "thread count must be at least 1 (got %d)", n_threads);
		return NULL;
	}
	pool = calloc(1, sizeof *pool);
	if (!pool)
		goto nomem;
	pool->n_threads = n_threads;
	atomic_init(&pool->next, 0);
	atomic_init(&pool->generation, 0);
	atomic_init(&pool->busy, 0);
	atomic_init(&pool->stop, 0);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done, NULL);
	if (n_threads == 1)
		return pool;
	pool->workers = calloc((size_t)n_threads - 1, sizeof *pool->workers);
	if (!pool->workers)
		goto nomem;
	for (i = 1; i < n_threads; i++) {
		struct worker_start *ws = malloc(sizeof *ws);

		if (!ws)
			goto nomem;
		ws->pool = pool;
		ws->thread = i;
		rc = pthread_create(&pool->workers[i - 1], NULL, worker_main, ws);
		if (rc) {
			free(ws);
			errno = rc;
			lm_fail_errno(err, "cannot start thread %d of %d", i + 1, n_threads);
			threadpool_free(pool);
			return NULL;
		}
		pool->n_started++;
	}
	return pool;
nomem:
	lm_fail(err, LM_ENOMEM, "out of memory creating a pool of %d threads", n_threads);
	threadpool_free(pool);
	return NULL;
}

void threadpool_free(struct threadpool *pool)
{
	int i;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	atomic_store(&pool->stop, 1);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->n_started; i++)
		pthread_join(pool->workers[i], NULL);
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
	free(pool->workers);
	free(pool);
}

int threadpool_threads(const struct threadpool *pool)
{
	return pool->n_threads;
}

void threadpool_run(struct threadpool *pool, int64_t n_tasks, threadpool_fn *fn, void *arg)
{
	int64_t i;

	if (n_tasks <= 0)
		return;
	if (pool->n_threads == 1 || n_tasks == 1) {
		for (i = 0; i < n_tasks; i++)
			fn(i, 0, arg);
		return;
	}
	pthread_mutex_lock(&pool->lock);
	pool->fn = fn;
	pool->arg = arg;
	pool->n_tasks = n_tasks;
	atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
	atomic_store(&pool->busy, pool->n_threads - 1);
	atomic_fetch_add(&pool->generation, 1);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);

	run_tasks(pool, fn, arg, n_tasks, 0);

	if (!spin_until(NULL, 0, &pool->busy, NULL)) {
		pthread_mutex_lock(&pool->lock);
		while (atomic_load(&pool->busy))
			pthread_cond_wait(&pool->done, &pool->lock);
		pthread_mutex_unlock(&pool->lock);
	}
}

int threadpool_default_threads(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		n = CPU_COUNT(&set);
		if (n > 0)
			return (int)n;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

#include "threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct threadpool {
	int n_threads;
	pthread_t *workers;          /* n_threads - 1 of them */
	int n_started;

	pthread_mutex_t lock;
	pthread_cond_t wake;         /* workers: a new job or stop */
	pthread_cond_t done;         /* caller: the last worker left the job */
	uint64_t generation;         /* bumped once per job */
	int busy;                    /* workers not yet finished with the job */
	int stop;

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

		pthread_mutex_lock(&pool->lock);
		while (!pool->stop && pool->generation == seen)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stop) {
			pthread_mutex_unlock(&pool->lock);
			return NULL;
		}
		seen = pool->generation;
		fn = pool->fn;
		arg = pool->arg;
		n = pool->n_tasks;
		pthread_mutex_unlock(&pool->lock);

		run_tasks(pool, fn, arg, n, thread);

		/* the unlock publishes this thread's writes to the caller */
		pthread_mutex_lock(&pool->lock);
		if (--pool->busy == 0)
			pthread_cond_signal(&pool->done);
		pthread_mutex_unlock(&pool->lock);
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
	pool->stop = 1;
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
	pool->busy = pool->n_threads - 1;
	pool->generation++;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);

	run_tasks(pool, fn, arg, n_tasks, 0);

	pthread_mutex_lock(&pool->lock);
	while (pool->busy)
		pthread_cond_wait(&pool->done, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
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

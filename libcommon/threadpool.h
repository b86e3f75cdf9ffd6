/* threadpool.h - a fixed set of worker threads for parallel loops.
 *
 * threadpool_run(pool, n, fn, arg) calls fn(i, thread, arg) once for every
 * task index i in [0, n) and returns when all calls have returned.  Tasks
 * are handed out one at a time from a shared counter, so uneven tasks
 * balance themselves; make each task big enough (a row block, a batch of
 * records) that taking the counter is cheap in comparison.  The calling
 * thread works too, as thread 0; workers are 1..n_threads-1, so per-thread
 * scratch can be an array indexed by thread.  Everything a task wrote is
 * visible to the caller when threadpool_run returns.
 *
 * One threadpool_run at a time per pool, and never from inside a task.
 * With one thread no thread is started and tasks run inline, in order.
 */
#ifndef LMPIPE_THREADPOOL_H
#define LMPIPE_THREADPOOL_H

#include <stdint.h>

#include "error.h"

struct threadpool;

typedef void threadpool_fn(int64_t task, int thread, void *arg);

/* A pool of n_threads (>= 1) threads, the caller included; NULL with err
 * filled when threads or memory cannot be had. */
struct threadpool *threadpool_new(int n_threads, struct lm_error *err);
/* Stops and joins the workers. */
void threadpool_free(struct threadpool *pool);
int threadpool_threads(const struct threadpool *pool);
void threadpool_run(struct threadpool *pool, int64_t n_tasks, threadpool_fn *fn, void *arg);

/* CPUs this process may run on (sched_getaffinity, so taskset and cgroup
 * cpusets are honoured); at least 1.  The default for `-t`. */
int threadpool_default_threads(void);

#endif

/* membw - sustained memory read bandwidth, the ceiling of single-token
 * decode (every weight is read once per token), for scripts/bench-generate.
 *
 *   membw [MIB] [THREADS] [REPS]
 *
 * Allocates MIB MiB (default 1024, far beyond any cache), writes it once
 * so that every page is resident, then REPS times (default 5) has THREADS
 * threads (default 2) each sum their contiguous share as 64-bit words with
 * eight independent 16-byte accumulators, so the loop is bound by loads, not by
 * the adds.  Prints the best pass: "membw THREADS threads MIB MiB: X GB/s"
 * (GB = 1e9 bytes), and the checksum on stderr so the sums cannot be
 * optimised away. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slice {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 16-byte vectors: plain x86-64 (SSE2) already loads faster than memory
 * delivers, so the helper needs no instruction-set flags. */
typedef uint64_t u64x2 __attribute__((vector_size(16)));

static void *read_slice(void *arg)
{
	struct slice *s = arg;
	const u64x2 *v = (const u64x2 *)s->p;
	u64x2 a[8] = { { 0, 0 } };
	size_t nv = s->n / 2, i;
	uint64_t sum = 0;

	for (i = 0; i + 8 <= nv; i += 8)
		for (int k = 0; k < 8; k++)
			a[k] += v[i + k];
	for (; i < nv; i++)
		a[0] += v[i];
	for (int k = 0; k < 8; k++)
		sum += a[k][0] + a[k][1];
	for (size_t j = nv * 2; j < s->n; j++)
		sum += s->p[j];
	s->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
	int threads = argc > 2 ? atoi(argv[2]) : 2, reps = argc > 3 ? atoi(argv[3]) : 5;
	size_t words, per;
	uint64_t *buf, check = 0;
	pthread_t *tid;
	struct slice *sl;
	double best = 0;

	if (mib == 0 || threads < 1 || threads > 256 || reps < 1) {
		fprintf(stderr, "usage: membw [MIB] [THREADS] [REPS]\n");
		return 2;
	}
	words = mib * (1u << 20) / sizeof(uint64_t);
	buf = malloc(words * sizeof(uint64_t));
	tid = calloc((size_t)threads, sizeof(*tid));
	sl = calloc((size_t)threads, sizeof(*sl));
	if (!buf || !tid || !sl) {
		fprintf(stderr, "membw: out of memory for %zu MiB\n", mib);
		return 1;
	}
	for (size_t i = 0; i < words; i++)
		buf[i] = i * 0x9e3779b97f4a7c15ull;
	per = words / (size_t)threads & ~(size_t)1;
	for (int r = 0; r < reps; r++) {
		double t0 = now(), dt;

		for (int t = 0; t < threads; t++) {
			sl[t].p = buf + (size_t)t * per;
			sl[t].n = t == threads - 1 ? words - (size_t)t * per : per;
			if (pthread_create(&tid[t], NULL, read_slice, &sl[t])) {
				fprintf(stderr, "membw: cannot start a thread\n");
				return 1;
			}
		}
		for (int t = 0; t < threads; t++) {
			pthread_join(tid[t], NULL);
			check += sl[t].sum;
		}
		dt = now() - t0;
		if ((double)(words * sizeof(uint64_t)) / dt > best)
			best = (double)(words * sizeof(uint64_t)) / dt;
	}
	printf("membw %d threads %zu MiB: %.2f GB/s\n", threads, mib, best / 1e9);
	fprintf(stderr, "membw: checksum %016llx\n", (unsigned long long)check);
	free(buf);
	free(tid);
	free(sl);
	return 0;
}

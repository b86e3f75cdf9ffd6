/* ann-bench - drives index/hnsw.h and index/ivf.h directly, for
 * scripts/ann-recall and scripts/bench-ann (not installed).
 *
 *   ann-bench [--base X.fvecs --query Q.fvecs [--gt G.ivecs]]
 *             [--synthetic N,DIM,NQ] [--metric l2|ip] [-k K] [-t THREADS]
 *             [--hnsw M,EFC] [--ef E1,E2,...]
 *             [--ivf NLIST,flat|sq8|pq[,M]] [--nprobe P1,P2,...]
 *
 * Without --gt the exact top k come from brute force (BLAS).  Synthetic
 * vectors are gaussian clusters (N / 100 centres, seed 1).  Prints one line
 * per setting:
 *   build hnsw M=16 efc=200 seconds=... cpu_seconds=... bytes_per_vector=...
 *   search hnsw ef=64 recall@10=0.9876 qps=... cpu_qps=...
 * (cpu_ figures use this process's CPU time, which a busy machine
 * disturbs far less than wall time.)  Queries run one at a time on one
 * thread; -t sets build threads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "fvecs.h"
#include "index/hnsw.h"
#include "index/ivf.h"
#include "input.h"
#include "threadpool.h"

struct set {
	float *x;
	uint32_t n, dim;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *msg)
{
	fprintf(stderr, "ann-bench: %s\n", msg);
	exit(1);
}

static int read_vecs(const char *path, struct set *s, struct lm_error *err)
{
	struct input in;
	struct fvecs_reader r;
	size_t cap = 1024;
	int kind = fvecs_kind_from_name(path), rc;

	memset(s, 0, sizeof(*s));
	if (kind < 0)
		return lm_fail(err, LM_EINVAL, "%s: not .fvecs/.ivecs", path);
	if ((rc = input_open(&in, path, err)))
		return rc;
	if ((rc = fvecs_open_reader(&r, &in, (enum fvecs_kind)kind, err)))
		goto out;
	s->dim = r.dim;
	s->x = malloc(cap * s->dim * sizeof(float));
	for (;;) {
		if (s->n == cap) {
			cap *= 2;
			s->x = realloc(s->x, cap * s->dim * sizeof(float));
		}
		rc = fvecs_next(&r, s->x + (size_t)s->n * s->dim, err);
		if (rc == LM_EOF) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		s->n++;
	}
	fvecs_close_reader(&r);
out:
	input_close(&in);
	return rc;
}

static uint64_t rng = 88172645463325252ULL;

static double gauss(void)
{
	double u, v;

	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	u = ((rng >> 11) + 0.5) * 0x1.0p-53;
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	v = (rng >> 11) * 0x1.0p-53;
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

static void synthetic(uint32_t n, uint32_t dim, uint32_t nq, struct set *base, struct set *q)
{
	uint32_t nc = n / 100 ? n / 100 : 1, i, j, c;
	float *ctr = malloc((size_t)nc * dim * sizeof(float));

	for (i = 0; i < nc * dim; i++)
		ctr[i] = (float)gauss();
	base->n = n;
	q->n = nq;
	base->dim = q->dim = dim;
	base->x = malloc((size_t)n * dim * sizeof(float));
	q->x = malloc((size_t)nq * dim * sizeof(float));
	for (i = 0; i < n + nq; i++) {
		float *row = i < n ? base->x + (size_t)i * dim : q->x + (size_t)(i - n) * dim;

		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		c = (uint32_t)(rng % nc);
		for (j = 0; j < dim; j++)
			row[j] = ctr[(size_t)c * dim + j] + (float)(0.35 * gauss());
	}
	free(ctr);
}

/* exact top k by brute force: sgemm blocks of queries x base */
static uint32_t *exact(const struct set *b, const struct set *q, uint32_t k, enum ann_metric m)
{
	uint32_t *gt = malloc((size_t)q->n * k * sizeof(uint32_t)), i, j, t, qb = 64;
	float *g = malloc((size_t)qb * b->n * sizeof(float)), *bn = malloc((size_t)b->n * sizeof(float));
	float *best = malloc(k * sizeof(float));

	for (j = 0; j < b->n; j++) {
		float s = 0;

		for (t = 0; t < b->dim; t++)
			s += b->x[(size_t)j * b->dim + t] * b->x[(size_t)j * b->dim + t];
		bn[j] = s;
	}
	for (i = 0; i < q->n; i += qb) {
		uint32_t rows = q->n - i < qb ? q->n - i : qb, r;

		blas_sgemm(0, 1, (int)rows, (int)b->n, (int)b->dim, 1.0f,
			q->x + (size_t)i * q->dim, (int)q->dim, b->x, (int)b->dim, 0.0f, g, (int)b->n);
		for (r = 0; r < rows; r++) {
			uint32_t *out = gt + (size_t)(i + r) * k, cnt = 0;

			for (j = 0; j < b->n; j++) {
				float s = m == ANN_IP ? g[(size_t)r * b->n + j] : 2 * g[(size_t)r * b->n + j] - bn[j];

				if (cnt == k && s <= best[k - 1])
					continue;
				t = cnt < k ? cnt++ : k - 1;
				while (t > 0 && best[t - 1] < s) {
					best[t] = best[t - 1];
					out[t] = out[t - 1];
					t--;
				}
				best[t] = s;
				out[t] = j;
			}
		}
	}
	free(g);
	free(bn);
	free(best);
	return gt;
}

static double recall_of(const struct ann_hit *hits, const int *got, const uint32_t *gt, uint32_t gt_k,
	uint32_t nq, uint32_t k)
{
	uint64_t found = 0;
	uint32_t i, j, t;

	for (i = 0; i < nq; i++)
		for (j = 0; j < (uint32_t)got[i]; j++)
			for (t = 0; t < k; t++)
				if (hits[(size_t)i * k + j].doc == gt[(size_t)i * gt_k + t]) {
					found++;
					break;
				}
	return (double)found / ((double)nq * k);
}

static int parse_list(const char *s, uint32_t *v, int max)
{
	int n = 0;
	char *end;

	while (*s && n < max) {
		v[n++] = (uint32_t)strtoul(s, &end, 10);
		if (end == s)
			die("bad number list");
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

int main(int argc, char **argv)
{
	const char *base_path = NULL, *query_path = NULL, *gt_path = NULL, *hnsw_arg = NULL, *ivf_arg = NULL;
	uint32_t k = 10, efs[64], nprobes[64], syn[3] = { 20000, 64, 200 }, *gt, gt_k, i, j;
	int n_ef = 0, n_np = 0, threads = 1, a, *got;
	enum ann_metric metric = ANN_L2;
	struct set base = { 0 }, q = { 0 }, gts = { 0 };
	struct lm_error err = { 0 };
	struct ann_hit *hits;
	double t0, t, c0, c;

	if (blas_open(&err))
		die(err.msg);
	for (a = 1; a < argc; a++) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (!v)
			die("option needs a value");
		a++;
		if (!strcmp(o, "--base"))
			base_path = v;
		else if (!strcmp(o, "--query"))
			query_path = v;
		else if (!strcmp(o, "--gt"))
			gt_path = v;
		else if (!strcmp(o, "--synthetic"))
			parse_list(v, syn, 3);
		else if (!strcmp(o, "--metric"))
			metric = !strcmp(v, "ip") ? ANN_IP : ANN_L2;
		else if (!strcmp(o, "-k"))
			k = (uint32_t)atoi(v);
		else if (!strcmp(o, "-t"))
			threads = atoi(v);
		else if (!strcmp(o, "--hnsw"))
			hnsw_arg = v;
		else if (!strcmp(o, "--ef"))
			n_ef = parse_list(v, efs, 64);
		else if (!strcmp(o, "--ivf"))
			ivf_arg = v;
		else if (!strcmp(o, "--nprobe"))
			n_np = parse_list(v, nprobes, 64);
		else
			die("unknown option (see the comment at the top of ann-bench.c)");
	}
	if (base_path) {
		if (!query_path)
			die("--base needs --query");
		if (read_vecs(base_path, &base, &err) || read_vecs(query_path, &q, &err))
			die(err.msg);
		if (q.dim != base.dim)
			die("query and base dimensions differ");
	} else {
		synthetic(syn[0], syn[1], syn[2], &base, &q);
	}
	if (gt_path) {
		if (read_vecs(gt_path, &gts, &err))
			die(err.msg);
		if (gts.n != q.n || gts.dim < k)
			die("ground truth does not match the queries");
		gt_k = gts.dim;
		gt = malloc((size_t)gts.n * gt_k * sizeof(uint32_t));
		for (i = 0; i < gts.n * gt_k; i++)
			gt[i] = (uint32_t)gts.x[i];
	} else {
		gt_k = k;
		gt = exact(&base, &q, k, metric);
	}
	printf("data n=%u dim=%u queries=%u k=%u metric=%s\n", base.n, base.dim, q.n, k,
		metric == ANN_IP ? "ip" : "l2");
	hits = malloc((size_t)q.n * k * sizeof(*hits));
	got = malloc(q.n * sizeof(int));

	if (hnsw_arg) {
		struct hnsw_params p = { 0 };
		uint32_t v[2] = { 16, 200 };
		struct threadpool *pool = threads > 1 ? threadpool_new(threads, &err) : NULL;
		struct hnsw_index *h;
		struct hnsw_scratch *s = hnsw_scratch_new();

		parse_list(hnsw_arg, v, 2);
		p.M = v[0];
		p.ef_construction = v[1];
		if (!(h = hnsw_new(base.dim, metric, &p, &err)))
			die(err.msg);
		t0 = now();
		c0 = cpu_now();
		if (hnsw_add(h, base.x, base.n, pool, &err))
			die(err.msg);
		t = now() - t0;
		c = cpu_now() - c0;
		printf("build hnsw M=%u efc=%u threads=%d seconds=%.3f cpu_seconds=%.3f bytes_per_vector=%.1f\n", p.M,
			p.ef_construction, threads, t, c, (double)hnsw_memory(h) / base.n);
		fflush(stdout);
		for (j = 0; j < (uint32_t)n_ef; j++) {
			t0 = now();
			c0 = cpu_now();
			for (i = 0; i < q.n; i++)
				got[i] = hnsw_search(h, s, q.x + (size_t)i * q.dim, k, efs[j], NULL, NULL,
					hits + (size_t)i * k);
			t = now() - t0;
			c = cpu_now() - c0;
			printf("search hnsw M=%u efc=%u ef=%u recall@%u=%.4f qps=%.0f cpu_qps=%.0f\n", p.M,
				p.ef_construction, efs[j], k, recall_of(hits, got, gt, gt_k, q.n, k), q.n / t, q.n / c);
			fflush(stdout);
		}
		hnsw_scratch_free(s);
		hnsw_free(h);
		if (pool)
			threadpool_free(pool);
	}
	if (ivf_arg) {
		struct ivf_params p = { .kmeans = { .iters = 10, .seed = 1 } };
		struct ivf_index *ivf = NULL;
		char codec[16] = "flat";
		unsigned nlist = 256, m = 0;

		if (sscanf(ivf_arg, "%u,%15[a-z0-9],%u", &nlist, codec, &m) < 1)
			die("bad --ivf");
		p.nlist = nlist;
		p.pq_m = m;
		if (ivf_codec_parse(codec, &p.codec, &err) || !(ivf = ivf_new(base.dim, metric, &p, &err)))
			die(err.msg);
		t0 = now();
		c0 = cpu_now();
		if (ivf_train(ivf, base.x, base.n, &err) || ivf_add(ivf, base.x, base.n, &err))
			die(err.msg);
		t = now() - t0;
		c = cpu_now() - c0;
		printf("build ivf nlist=%u code=%s m=%u seconds=%.3f cpu_seconds=%.3f bytes_per_vector=%.1f\n", nlist,
			codec, m, t, c, (double)ivf_memory(ivf) / base.n);
		fflush(stdout);
		for (j = 0; j < (uint32_t)n_np; j++) {
			t0 = now();
			c0 = cpu_now();
			for (i = 0; i < q.n; i++)
				got[i] = ivf_search(ivf, q.x + (size_t)i * q.dim, k, nprobes[j], NULL, NULL,
					hits + (size_t)i * k);
			t = now() - t0;
			c = cpu_now() - c0;
			printf("search ivf nlist=%u code=%s nprobe=%u recall@%u=%.4f qps=%.0f cpu_qps=%.0f\n", nlist,
				codec, nprobes[j], k, recall_of(hits, got, gt, gt_k, q.n, k), q.n / t, q.n / c);
			fflush(stdout);
		}
		ivf_free(ivf);
	}
	free(hits);
	free(got);
	free(gt);
	free(base.x);
	free(q.x);
	free(gts.x);
	return 0;
}

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/ivf.h"
#include "tap.h"
#include "ann_testutil.h"

#define N 3000
#define DIM 32
#define NQ 50
#define K 10
#define NLIST 32

static int reject_even(uint32_t doc, void *arg)
{
	(void)arg;
	return doc & 1;
}

static int every_100th(uint32_t doc, void *arg)
{
	(void)arg;
	return doc % 100 == 0;
}

static double recall(const struct ivf_index *ivf, const float *x, const float *q, uint32_t nprobe,
	enum ann_metric m, ann_accept_fn *accept, int *shorts)
{
	struct ann_hit hits[K];
	uint32_t truth[K], i, nt, found = 0, total = 0;
	int got;

	*shorts = 0;
	for (i = 0; i < NQ; i++) {
		got = ivf_search(ivf, q + (size_t)i * DIM, K, nprobe, accept, NULL, hits);
		nt = tu_exact(x, N, DIM, m, q + (size_t)i * DIM, K, accept, NULL, truth);
		*shorts += got != (int)nt;
		if (got > 0)
			found += tu_overlap(hits, (uint32_t)got, truth, nt);
		total += nt;
	}
	return (double)found / total;
}

static struct ivf_index *build(const float *x, enum ann_metric m, enum ivf_codec codec, uint32_t pq_m)
{
	struct ivf_params p = { .nlist = NLIST, .codec = codec, .pq_m = pq_m, .kmeans = { .iters = 6, .seed = 1 } };
	struct lm_error err = { 0 };
	struct ivf_index *ivf = ivf_new(DIM, m, &p, &err);

	if (!ivf || ivf_train(ivf, x, N, &err) || ivf_add(ivf, x, N, &err)) {
		diag("build: %s", err.msg);
		ivf_free(ivf);
		return NULL;
	}
	return ivf;
}

static int same_answers(const struct ivf_index *a, const struct ivf_index *b, const float *q)
{
	struct ann_hit ha[K], hb[K];
	int i, na, nb;

	for (i = 0; i < NQ; i++) {
		na = ivf_search(a, q + (size_t)i * DIM, K, 4, NULL, NULL, ha);
		nb = ivf_search(b, q + (size_t)i * DIM, K, 4, NULL, NULL, hb);
		if (na != nb || memcmp(ha, hb, (size_t)na * sizeof(*ha)))
			return 0;
	}
	return 1;
}

static void test_codecs(const float *x, const float *q)
{
	struct lm_error err = { 0 };
	struct ivf_index *ivf;
	float dec[DIM], step, maxerr = 0;
	double r;
	int shorts, i, j, within = 1;

	ivf = build(x, ANN_L2, IVF_FLAT, 0);
	ok(ivf != NULL, "flat: trained and filled");
	r = recall(ivf, x, q, NLIST, ANN_L2, NULL, &shorts);
	is_near(r, 1.0, 1e-9, "flat, every list probed: exact (recall %.3f)", r);
	r = recall(ivf, x, q, 8, ANN_L2, NULL, &shorts);
	ok(r >= 0.95, "flat: recall@10 %.3f >= 0.95 at nprobe=8", r);
	is_int(shorts, 0, "flat: 10 hits per query");
	ivf_free(ivf);

	ivf = build(x, ANN_L2, IVF_SQ8, 0);
	r = recall(ivf, x, q, 8, ANN_L2, NULL, &shorts);
	ok(r >= 0.90, "sq8: recall@10 %.3f >= 0.90 at nprobe=8", r);
	/* per-dimension range of the whole set (the training sample here) */
	for (j = 0; j < DIM; j++) {
		float lo = 1e30f, hi = -1e30f;

		for (i = 0; i < N; i++) {
			lo = fminf(lo, x[i * DIM + j]);
			hi = fmaxf(hi, x[i * DIM + j]);
		}
		step = (hi - lo) / 255;
		for (i = 0; i < 200; i++) {
			float e;

			ivf_reconstruct(ivf, (uint32_t)i, dec, &err);
			e = fabsf(dec[j] - x[i * DIM + j]);
			maxerr = fmaxf(maxerr, e / step);
			within &= e <= step / 2 * (1 + 1e-3f) + 1e-6f;
		}
	}
	ok(within, "sq8: decode error <= step/2 per dimension (worst %.3f step)", maxerr);
	ivf_free(ivf);

	ivf = build(x, ANN_L2, IVF_PQ, 16);
	ok(ivf && ivf_code_size(ivf) == 16, "pq: 16 bytes per vector");
	r = recall(ivf, x, q, 8, ANN_L2, NULL, &shorts);
	diag("pq m=16 recall@10 at nprobe=8: %.3f", r);
	ok(r >= 0.70, "pq m=16: recall@10 %.3f >= 0.70 at nprobe=8", r);
	/* the score of a PQ hit is minus the squared distance to its decoded
	 * vector (centroid + decoded residual), however the tables split it */
	for (i = 0; i < 20 && ivf; i++) {
		struct ann_hit hits[K];
		int got = ivf_search(ivf, q + (size_t)i * DIM, K, 8, NULL, NULL, hits), h;

		for (h = 0; h < got; h++) {
			double d = 0;

			ivf_reconstruct(ivf, hits[h].doc, dec, &err);
			for (j = 0; j < DIM; j++)
				d += ((double)q[i * DIM + j] - dec[j]) * ((double)q[i * DIM + j] - dec[j]);
			if (fabs(-d - hits[h].score) > 1e-4 * (1 + d))
				within = 0;
		}
	}
	ok(within, "pq: scores are minus the squared distance to the decoded vectors");
	ivf_free(ivf);
}

static void test_ip(float *x, float *q)
{
	struct ivf_index *ivf;
	double r;
	int shorts;

	tu_normalise(x, N, DIM);
	tu_normalise(q, NQ, DIM);
	ivf = build(x, ANN_IP, IVF_FLAT, 0);
	r = recall(ivf, x, q, 8, ANN_IP, NULL, &shorts);
	ok(r >= 0.95, "ip flat: recall@10 %.3f", r);
	ivf_free(ivf);
	ivf = build(x, ANN_IP, IVF_PQ, 16);
	r = recall(ivf, x, q, 8, ANN_IP, NULL, &shorts);
	ok(r >= 0.70, "ip pq: recall@10 %.3f", r);
	ivf_free(ivf);
}

static void test_filters(const float *x, const float *q)
{
	struct ivf_index *ivf = build(x, ANN_L2, IVF_SQ8, 0);
	struct ann_hit hits[K];
	int shorts, i, got, bad = 0;
	double r;

	r = recall(ivf, x, q, 8, ANN_L2, reject_even, &shorts);
	ok(r >= 0.90, "tombstones: recall@10 %.3f among live docs", r);
	is_int(shorts, 0, "tombstones: 10 hits per query");
	for (i = 0; i < NQ; i++) {
		got = ivf_search(ivf, q + (size_t)i * DIM, K, 8, reject_even, NULL, hits);
		while (got-- > 0)
			bad += !(hits[got].doc & 1);
	}
	is_int(bad, 0, "no tombstoned doc returned");
	recall(ivf, x, q, 1, ANN_L2, every_100th, &shorts);
	is_int(shorts, 0, "1%% filter at nprobe=1: still 10 hits (more lists scanned)");
	ivf_free(ivf);
}

static int load_corrupted(struct tu_sections *sec, const char *name, size_t word, uint32_t value, int truncate,
	struct lm_error *err)
{
	struct tu_sections copy = *sec;
	struct ivf_index *ivf = NULL;
	int i = tu_find(sec, name), r;
	uint32_t saved = 0;

	if (truncate) {
		copy.size[i]--;
	} else {
		saved = ((uint32_t *)sec->data[i])[word];
		((uint32_t *)sec->data[i])[word] = value;
	}
	r = ivf_load(&ivf, tu_get, &copy, err);
	if (!truncate)
		((uint32_t *)sec->data[i])[word] = saved;
	ivf_free(ivf);
	return r;
}

static void test_serialise(const float *x, const float *q)
{
	struct ivf_params p = { .nlist = NLIST, .codec = IVF_PQ, .pq_m = 8, .kmeans = { .iters = 6, .seed = 1 } };
	struct tu_sections sec = { 0 };
	struct lm_error err = { 0 };
	struct ivf_index *a = ivf_new(DIM, ANN_L2, &p, &err), *l = NULL, *full;
	int r;

	ok(a && !ivf_train(a, x, N, &err) && !ivf_add(a, x, 2000, &err), "pq index of 2000");
	ok(!ivf_write(a, tu_put, &sec, &err), "written");
	ok(!ivf_load(&l, tu_get, &sec, &err), "loaded in place");
	ok(l && same_answers(a, l, q), "loaded answers as built");
	ok(l && !ivf_add(l, x + 2000 * DIM, N - 2000, &err) && ivf_count(l) == N, "append to loaded index");
	full = ivf_new(DIM, ANN_L2, &p, &err);
	ivf_train(full, x, N, &err);
	ivf_add(full, x, 1000, &err);
	ivf_add(full, x + 1000 * DIM, N - 1000, &err);
	ok(same_answers(full, l, q), "appended index answers as one trained the same way");
	ivf_free(full);
	ivf_free(l);

	r = load_corrupted(&sec, "ivf.ids", 17, 2000, 0, &err);
	ok(r == LM_EFORMAT && strstr(err.msg, "ivf.ids"), "doc id >= n refused: %s", err.msg);
	r = load_corrupted(&sec, "ivf.off", 5, 3000, 0, &err);
	ok(r == LM_EFORMAT && strstr(err.msg, "ivf.off"), "list offsets out of order refused: %s", err.msg);
	r = load_corrupted(&sec, "ivf.off", NLIST, 1999, 0, &err);
	ok(r == LM_EFORMAT && strstr(err.msg, "ivf.off"), "lists not covering n refused: %s", err.msg);
	r = load_corrupted(&sec, "ivf.codes", 0, 0, 1, &err);
	ok(r == LM_EFORMAT && strstr(err.msg, "ivf.codes"), "truncated codes refused: %s", err.msg);
	r = load_corrupted(&sec, "ivf.hdr", 7, 7, 0, &err);   /* pq_m 7 */
	ok(r == LM_EFORMAT && strstr(err.msg, "ivf.hdr"), "inconsistent header refused: %s", err.msg);
	r = load_corrupted(&sec, "ivf.hdr", 0, 0, 0, &err);
	ok(r == LM_EFORMAT && strstr(err.msg, "ivf.hdr"), "bad magic refused: %s", err.msg);
	r = load_corrupted(&sec, "ivf.pq", 0, 0, 1, &err);
	ok(r == LM_EFORMAT && strstr(err.msg, "ivf.pq"), "truncated codebook refused: %s", err.msg);
	tu_sections_free(&sec);
	ivf_free(a);
}

static void test_errors(const float *x)
{
	struct ivf_params p = { .nlist = 8, .codec = IVF_PQ, .pq_m = 5 };
	struct lm_error err = { 0 };
	struct ivf_index *ivf;
	enum ivf_codec c;
	struct ann_hit hits[2];

	ok(ivf_new(DIM, ANN_L2, &p, &err) == NULL, "pq m=5 with dim 32 refused: %s", err.msg);
	p.codec = IVF_FLAT;
	ivf = ivf_new(DIM, ANN_L2, &p, &err);
	is_int(ivf_search(ivf, x, 2, 1, NULL, NULL, hits), 0, "empty index: no hits");
	ok(ivf_add(ivf, x, 10, &err) == LM_EINVAL, "add before train refused: %s", err.msg);
	ok(ivf_train(ivf, x, 5, &err) == LM_EINVAL, "5 vectors for 8 lists refused: %s", err.msg);
	ok(!ivf_codec_parse("sq8", &c, &err) && c == IVF_SQ8 && ivf_codec_parse("lz4", &c, &err) == LM_EINVAL,
		"codec names");
	ivf_free(ivf);
}

int main(void)
{
	float *x, *q;

	tu_seed(77);
	x = tu_clustered(N + NQ, DIM, 30, 1.0);
	q = x + (size_t)N * DIM;
	test_errors(x);
	test_codecs(x, q);
	test_filters(x, q);
	test_serialise(x, q);
	test_ip(x, q);
	free(x);
	return tap_done();
}

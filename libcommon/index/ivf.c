#include "index/ivf.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"
#include "index/pq.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ivf sections are little-endian in place");

#define HDR_MAGIC "LMIVF01"
#define MAX_NLIST (1u << 20)
#define MAX_DIM 65536
/* Largest table of query-independent PQ terms (see term_table) kept per
 * index; past it each probed list gets its table computed directly. */
#define TERM_TABLE_MAX ((size_t)256 << 20)

struct ivf_index {
	uint32_t dim, nlist, pq_m, code_size, n;
	enum ivf_codec codec;
	enum ann_metric metric;
	int trained;
	const float *cent;       /* nlist x dim */
	const float *sq;         /* lo[dim], then step[dim] */
	struct pq_codebook pq;
	const uint32_t *off;     /* nlist + 1 */
	const uint32_t *ids;     /* n, grouped by list */
	const uint8_t *codes;    /* n x code_size, same order */
	/* what this index allocated (NULL when borrowed from sections) */
	float *cent_own, *sq_own;
	uint32_t *off_own, *ids_own;
	uint8_t *codes_own;
	struct kmeans_params km;
	const struct distance_kernels *dk;
	/* L2 with PQ: the query-independent terms, built on first search */
	float *_Atomic terms;
	pthread_mutex_t terms_lock;
};

const char *ivf_codec_name(enum ivf_codec codec)
{
	switch (codec) {
	case IVF_FLAT:
		return "flat";
	case IVF_SQ8:
		return "sq8";
	case IVF_PQ:
		return "pq";
	}
	return "?";
}

int ivf_codec_parse(const char *name, enum ivf_codec *codec, struct lm_error *err)
{
	if (!strcmp(name, "flat"))
		*codec = IVF_FLAT;
	else if (!strcmp(name, "sq8"))
		*codec = IVF_SQ8;
	else if (!strcmp(name, "pq"))
		*codec = IVF_PQ;
	else
		return lm_fail(err, LM_EINVAL, "unknown IVF code '%s' (flat, sq8, pq)", name);
	return 0;
}

static uint32_t code_size(enum ivf_codec codec, uint32_t dim, uint32_t pq_m)
{
	return codec == IVF_FLAT ? dim * (uint32_t)sizeof(float) : codec == IVF_SQ8 ? dim : pq_m;
}

static int check_shape(uint32_t dim, enum ann_metric metric, uint32_t nlist, enum ivf_codec codec, uint32_t pq_m,
	struct lm_error *err)
{
	if (dim < 1 || dim > MAX_DIM)
		return lm_fail(err, LM_EINVAL, "ivf: dimension %u out of range 1..%u", dim, MAX_DIM);
	if (metric != ANN_L2 && metric != ANN_IP)
		return lm_fail(err, LM_EINVAL, "ivf: unknown metric %d", (int)metric);
	if (nlist < 1 || nlist > MAX_NLIST)
		return lm_fail(err, LM_EINVAL, "ivf: %u lists, allowed 1..%u", nlist, MAX_NLIST);
	if (codec != IVF_FLAT && codec != IVF_SQ8 && codec != IVF_PQ)
		return lm_fail(err, LM_EINVAL, "ivf: unknown code %d", (int)codec);
	if (codec == IVF_PQ && (!pq_m || dim % pq_m))
		return lm_fail(err, LM_EINVAL, "ivf: pq m=%u does not divide dimension %u", pq_m, dim);
	return 0;
}

struct ivf_index *ivf_new(uint32_t dim, enum ann_metric metric, const struct ivf_params *params,
	struct lm_error *err)
{
	struct ivf_index *ivf;
	uint32_t nlist = params && params->nlist ? params->nlist : 256;
	enum ivf_codec codec = params ? params->codec : IVF_FLAT;
	uint32_t pq_m = params && params->pq_m ? params->pq_m : (dim / 4 ? dim / 4 : 1);

	if (check_shape(dim, metric, nlist, codec, pq_m, err))
		return NULL;
	if (!(ivf = calloc(1, sizeof(*ivf))) || !(ivf->off_own = calloc((size_t)nlist + 1, sizeof(uint32_t)))) {
		free(ivf);
		lm_fail(err, LM_ENOMEM, "ivf: out of memory");
		return NULL;
	}
	ivf->dim = dim;
	ivf->metric = metric;
	ivf->nlist = nlist;
	ivf->codec = codec;
	ivf->pq_m = codec == IVF_PQ ? pq_m : 0;
	ivf->code_size = code_size(codec, dim, pq_m);
	ivf->off = ivf->off_own;
	if (params)
		ivf->km = params->kmeans;
	ivf->dk = distance_kernels();
	pthread_mutex_init(&ivf->terms_lock, NULL);
	if (codec == IVF_PQ)
		pq_init(&ivf->pq, dim, pq_m, NULL);
	return ivf;
}

void ivf_free(struct ivf_index *ivf)
{
	if (!ivf)
		return;
	free(ivf->cent_own);
	free(ivf->sq_own);
	free(ivf->off_own);
	free(ivf->ids_own);
	free(ivf->codes_own);
	free(atomic_load(&ivf->terms));
	pthread_mutex_destroy(&ivf->terms_lock);
	pq_free(&ivf->pq);
	free(ivf);
}

uint32_t ivf_count(const struct ivf_index *ivf)
{
	return ivf->n;
}

uint32_t ivf_nlist(const struct ivf_index *ivf)
{
	return ivf->nlist;
}

uint32_t ivf_code_size(const struct ivf_index *ivf)
{
	return ivf->code_size;
}

/* Per-dimension min and max of the sample give lo and step. */
static int train_sq(struct ivf_index *ivf, const float *x, size_t n, struct lm_error *err)
{
	float *sq = malloc(2 * (size_t)ivf->dim * sizeof(float)), *lo, *step;
	uint32_t j;
	size_t i;
	float hi;

	if (!sq)
		return lm_fail(err, LM_ENOMEM, "ivf: out of memory");
	lo = sq;
	step = sq + ivf->dim;
	for (j = 0; j < ivf->dim; j++) {
		lo[j] = FLT_MAX;
		hi = -FLT_MAX;
		for (i = 0; i < n; i++) {
			float v = x[i * ivf->dim + j];

			lo[j] = v < lo[j] ? v : lo[j];
			hi = v > hi ? v : hi;
		}
		step[j] = (hi - lo[j]) / 255.0f;
	}
	free(ivf->sq_own);
	ivf->sq = ivf->sq_own = sq;
	return 0;
}

static void sq_encode(const float *sq, uint32_t dim, const float *x, uint8_t *code)
{
	const float *lo = sq, *step = sq + dim;
	uint32_t j;
	float v;

	for (j = 0; j < dim; j++) {
		v = step[j] > 0 ? (x[j] - lo[j]) / step[j] : 0;
		v = v < 0 ? 0 : v > 255 ? 255 : v;
		code[j] = (uint8_t)lrintf(v);
	}
}

static size_t term_table_bytes(const struct ivf_index *ivf)
{
	return (size_t)ivf->nlist * ivf->pq.m * PQ_K * sizeof(float);
}

/* For L2 with PQ (Jegou et al. 2011 section IV.A; FAISS's "precomputed
 * tables"), the distance to a code y = c + r in list c splits as
 *   ||q - c - r||^2 = ||q - c||^2 + sum_j (||r_j||^2 + 2 <c_j, r_j>)
 *                     - 2 sum_j <q_j, r_j>
 * where j runs over the sub-quantizers and r_j is a sub-centroid.  The
 * middle sum does not depend on the query: terms[l][j][k] holds
 * ||r_jk||^2 + 2 <c_lj, r_jk> for every list, so a probed list's ADC table
 * is terms[l] plus the per-query -2 <q_j, r_jk>, an addition instead of
 * m * 256 sub-distances.  Built once, on the first search that needs it;
 * NULL when it would exceed TERM_TABLE_MAX or memory is short. */
static const float *term_table(const struct ivf_index *ivf)
{
	struct ivf_index *mut = (struct ivf_index *)ivf;
	uint32_t l, j, k, t, dsub = ivf->pq.dsub;
	float *terms = atomic_load_explicit(&mut->terms, memory_order_acquire), *row;
	const float *c, *r;
	float nr, cr;

	if (terms || term_table_bytes(ivf) > TERM_TABLE_MAX)
		return terms;
	pthread_mutex_lock(&mut->terms_lock);
	terms = atomic_load_explicit(&mut->terms, memory_order_acquire);
	if (terms || !(terms = malloc(term_table_bytes(ivf))))
		goto out;
	for (l = 0; l < ivf->nlist; l++)
		for (j = 0; j < ivf->pq.m; j++) {
			c = ivf->cent + (size_t)l * ivf->dim + (size_t)j * dsub;
			row = terms + ((size_t)l * ivf->pq.m + j) * PQ_K;
			for (k = 0; k < PQ_K; k++) {
				r = ivf->pq.centroids + ((size_t)j * PQ_K + k) * dsub;
				nr = cr = 0;
				for (t = 0; t < dsub; t++) {
					nr += r[t] * r[t];
					cr += c[t] * r[t];
				}
				row[k] = nr + 2 * cr;
			}
		}
	atomic_store_explicit(&mut->terms, terms, memory_order_release);
out:
	pthread_mutex_unlock(&mut->terms_lock);
	return terms;
}

size_t ivf_memory(const struct ivf_index *ivf)
{
	size_t m = sizeof(*ivf) + (size_t)ivf->nlist * ivf->dim * sizeof(float) + ((size_t)ivf->nlist + 1) * 4 +
		(size_t)ivf->n * (4 + ivf->code_size);

	if (ivf->codec == IVF_SQ8)
		m += 2 * (size_t)ivf->dim * sizeof(float);
	if (ivf->codec == IVF_PQ)
		m += (size_t)ivf->dim * PQ_K * sizeof(float);
	if (ivf->codec == IVF_PQ && ivf->metric == ANN_L2 && term_table_bytes(ivf) <= TERM_TABLE_MAX)
		m += term_table_bytes(ivf);
	return m;
}

int ivf_train(struct ivf_index *ivf, const float *x, size_t n, struct lm_error *err)
{
	float *cent = malloc((size_t)ivf->nlist * ivf->dim * sizeof(float)), *res = NULL;
	uint32_t *assign = NULL, j;
	size_t i, ns;
	int r;

	if (!cent)
		return lm_fail(err, LM_ENOMEM, "ivf: out of memory for %u centroids", ivf->nlist);
	if (ivf->n) {
		r = lm_fail(err, LM_EINVAL, "ivf: already holds vectors; train before adding");
		goto out;
	}
	if ((r = kmeans_train(x, n, ivf->dim, ivf->nlist, &ivf->km, cent, err))) {
		lm_error_prefix(err, "ivf centroids: ");
		goto out;
	}
	if (ivf->codec == IVF_SQ8 && (r = train_sq(ivf, x, n, err)))
		goto out;
	if (ivf->codec == IVF_PQ) {
		/* codebooks learn the residuals of at most 64k vectors */
		ns = n < 65536 ? n : 65536;
		res = malloc(ns * ivf->dim * sizeof(float));
		assign = malloc(ns * sizeof(*assign));
		if (!res || !assign) {
			r = lm_fail(err, LM_ENOMEM, "ivf: out of memory for PQ training");
			goto out;
		}
		if ((r = kmeans_assign(cent, ivf->nlist, ivf->dim, x, ns, assign, NULL, err)))
			goto out;
		for (i = 0; i < ns; i++)
			for (j = 0; j < ivf->dim; j++)
				res[i * ivf->dim + j] = x[i * ivf->dim + j] - cent[(size_t)assign[i] * ivf->dim + j];
		if ((r = pq_train(&ivf->pq, res, ns, &ivf->km, err))) {
			lm_error_prefix(err, "ivf: ");
			goto out;
		}
	}
	free(ivf->cent_own);
	ivf->cent = ivf->cent_own = cent;
	cent = NULL;
	free(atomic_exchange(&ivf->terms, NULL));
	ivf->trained = 1;
	/* built now, as part of training, rather than by the first search; a
	 * loaded index builds it on first use instead, keeping opening cheap */
	if (ivf->codec == IVF_PQ && ivf->metric == ANN_L2)
		term_table(ivf);
out:
	free(cent);
	free(res);
	free(assign);
	return r;
}

static void encode(const struct ivf_index *ivf, const float *x, uint32_t list, float *tmp, uint8_t *code)
{
	const float *c = ivf->cent + (size_t)list * ivf->dim;
	uint32_t j;

	switch (ivf->codec) {
	case IVF_FLAT:
		memcpy(code, x, ivf->code_size);
		break;
	case IVF_SQ8:
		sq_encode(ivf->sq, ivf->dim, x, code);
		break;
	case IVF_PQ:
		for (j = 0; j < ivf->dim; j++)
			tmp[j] = x[j] - c[j];
		pq_encode(&ivf->pq, tmp, code);
		break;
	}
}

int ivf_add(struct ivf_index *ivf, const float *x, uint32_t count, struct lm_error *err)
{
	uint32_t n = ivf->n + count, *assign = NULL, *off = NULL, *ids = NULL, *fill = NULL, l, i, p;
	uint8_t *codes = NULL;
	float *tmp = NULL;
	size_t cs = ivf->code_size;
	int r = 0;

	if (!count)
		return 0;
	if (!ivf->trained)
		return lm_fail(err, LM_EINVAL, "ivf: not trained");
	if ((uint64_t)ivf->n + count >= UINT32_MAX)
		return lm_fail(err, LM_EINVAL, "ivf: more than %u vectors", UINT32_MAX - 1);
	assign = malloc((size_t)count * sizeof(*assign));
	off = calloc((size_t)ivf->nlist + 1, sizeof(*off));
	fill = malloc((size_t)ivf->nlist * sizeof(*fill));
	ids = malloc((size_t)n * sizeof(*ids));
	codes = malloc((size_t)n * cs);
	tmp = malloc((size_t)ivf->dim * sizeof(float));
	if (!assign || !off || !fill || !ids || !codes || !tmp) {
		r = lm_fail(err, LM_ENOMEM, "ivf: out of memory for %u vectors", n);
		goto out;
	}
	if ((r = kmeans_assign(ivf->cent, ivf->nlist, ivf->dim, x, count, assign, NULL, err)))
		goto out;
	/* counting sort: old entries of each list first, then the new ones */
	for (l = 0; l < ivf->nlist; l++)
		off[l + 1] = ivf->off[l + 1] - ivf->off[l];
	for (i = 0; i < count; i++)
		off[assign[i] + 1]++;
	for (l = 0; l < ivf->nlist; l++)
		off[l + 1] += off[l];
	for (l = 0; l < ivf->nlist; l++) {
		uint32_t len = ivf->off[l + 1] - ivf->off[l];

		if (len) {
			memcpy(ids + off[l], ivf->ids + ivf->off[l], (size_t)len * sizeof(*ids));
			memcpy(codes + (size_t)off[l] * cs, ivf->codes + (size_t)ivf->off[l] * cs, (size_t)len * cs);
		}
		fill[l] = off[l] + len;
	}
	for (i = 0; i < count; i++) {
		p = fill[assign[i]]++;
		ids[p] = ivf->n + i;
		encode(ivf, x + (size_t)i * ivf->dim, assign[i], tmp, codes + (size_t)p * cs);
	}
	free(ivf->off_own);
	free(ivf->ids_own);
	free(ivf->codes_own);
	ivf->off = ivf->off_own = off;
	ivf->ids = ivf->ids_own = ids;
	ivf->codes = ivf->codes_own = codes;
	ivf->n = n;
	off = ids = NULL;
	codes = NULL;
out:
	free(assign);
	free(off);
	free(fill);
	free(ids);
	free(codes);
	free(tmp);
	return r;
}

int ivf_reconstruct(const struct ivf_index *ivf, uint32_t doc, float *out, struct lm_error *err)
{
	uint32_t i, l, j;
	const uint8_t *code;

	if (doc >= ivf->n)
		return lm_fail(err, LM_EINVAL, "ivf: no document %u (%u stored)", doc, ivf->n);
	for (i = 0; ivf->ids[i] != doc; i++)
		;
	for (l = 0; ivf->off[l + 1] <= i; l++)
		;
	code = ivf->codes + (size_t)i * ivf->code_size;
	switch (ivf->codec) {
	case IVF_FLAT:
		memcpy(out, code, ivf->code_size);
		break;
	case IVF_SQ8:
		for (j = 0; j < ivf->dim; j++)
			out[j] = ivf->sq[j] + (float)code[j] * ivf->sq[ivf->dim + j];
		break;
	case IVF_PQ:
		pq_decode(&ivf->pq, code, out);
		for (j = 0; j < ivf->dim; j++)
			out[j] += ivf->cent[(size_t)l * ivf->dim + j];
		break;
	}
	return 0;
}

/* A bounded min-heap on (score, then -doc): the root is the worst hit. */
static int worse(const struct ann_hit *a, const struct ann_hit *b)
{
	return a->score < b->score || (a->score == b->score && a->doc > b->doc);
}

static void top_push(struct ann_hit *h, uint32_t *n, uint32_t k, uint32_t doc, float score)
{
	struct ann_hit x = { doc, score };
	uint32_t i, c;

	if (*n < k) {
		i = (*n)++;
		while (i > 0 && worse(&x, &h[(i - 1) / 2])) {
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = x;
		return;
	}
	if (!worse(&h[0], &x))
		return;
	i = 0;
	for (;;) {
		c = 2 * i + 1;
		if (c >= k)
			break;
		if (c + 1 < k && worse(&h[c + 1], &h[c]))
			c++;
		if (!worse(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

struct probe {
	float d;
	uint32_t list;
};

static inline int probe_before(const struct probe *a, const struct probe *b)
{
	return a->d < b->d || (a->d == b->d && a->list < b->list);
}

static int probe_cmp(const void *pa, const void *pb)
{
	const struct probe *a = pa, *b = pb;

	return probe_before(a, b) ? -1 : probe_before(b, a);
}

/* Moves the want lists that come first in probe order to pr[0..want),
 * sorted, and leaves the rest behind them in some order: a bounded
 * max-heap over the prefix, O(n log want) instead of sorting all n. */
static void select_probes(struct probe *pr, uint32_t n, uint32_t want)
{
	uint32_t i, j, c;
	struct probe x;

	for (i = 1; i < want; i++) {
		x = pr[i];
		for (j = i; j > 0 && probe_before(&pr[(j - 1) / 2], &x); j = (j - 1) / 2)
			pr[j] = pr[(j - 1) / 2];
		pr[j] = x;
	}
	for (i = want; i < n; i++) {
		if (!probe_before(&pr[i], &pr[0]))
			continue;
		x = pr[i];
		pr[i] = pr[0];
		for (j = 0;; j = c) {
			c = 2 * j + 1;
			if (c >= want)
				break;
			if (c + 1 < want && probe_before(&pr[c], &pr[c + 1]))
				c++;
			if (!probe_before(&x, &pr[c]))
				break;
			pr[j] = pr[c];
		}
		pr[j] = x;
	}
	qsort(pr, want, sizeof(*pr), probe_cmp);
}

/* table[j][k] = terms[j][k] + qt[j][k], both m * PQ_K; the inner trip
 * count is fixed so the compiler vectorises it. */
static void add_tables(const float *terms, const float *qt, float *table, uint32_t m)
{
	uint32_t j, k;

	for (j = 0; j < m; j++)
		for (k = 0; k < PQ_K; k++)
			table[j * PQ_K + k] = terms[j * PQ_K + k] + qt[j * PQ_K + k];
}

int ivf_search(const struct ivf_index *ivf, const float *query, uint32_t k, uint32_t nprobe,
	ann_accept_fn *accept, void *arg, struct ann_hit *hits)
{
	const struct distance_kernels *dk = ivf->dk;
	const float *terms = NULL;
	struct probe *pr = NULL;
	float *table = NULL, *qt = NULL, *qr = NULL, base = 0, s;
	uint32_t nh = 0, l, p, i, j, cs = ivf->code_size, m = ivf->pq.m;
	int ip = ivf->metric == ANN_IP, pq = ivf->codec == IVF_PQ, r = 0;

	if (!k || !ivf->n)
		return 0;
	if (nprobe < 1)
		nprobe = 1;
	if (nprobe > ivf->nlist)
		nprobe = ivf->nlist;
	if (pq && !ip)
		terms = term_table(ivf);
	pr = malloc((size_t)ivf->nlist * sizeof(*pr));
	if (pq) {
		table = malloc((size_t)m * PQ_K * sizeof(float));
		qt = malloc((size_t)m * PQ_K * sizeof(float));
		qr = malloc((size_t)ivf->dim * sizeof(float));
	}
	if (!pr || (pq && (!table || !qt || !qr))) {
		r = LM_ENOMEM;
		goto out;
	}
	/* lists ranked by the metric: nearest centroid for l2, largest
	 * inner product for ip */
	for (l = 0; l < ivf->nlist; l++) {
		const float *c = ivf->cent + (size_t)l * ivf->dim;

		pr[l].d = ip ? -dk->dot(query, c, ivf->dim) : dk->l2sq(query, c, ivf->dim);
		pr[l].list = l;
	}
	select_probes(pr, ivf->nlist, nprobe);
	if (pq && ip)
		pq_table_ip(&ivf->pq, query, table);
	if (terms) {
		/* -2 <q_j, r_jk>, the query's part of every list's table */
		pq_table_ip(&ivf->pq, query, qt);
		for (i = 0; i < m * PQ_K; i++)
			qt[i] *= -2;
	}
	for (p = 0; p < ivf->nlist; p++) {
		if (p >= nprobe && nh == k)
			break;
		/* a filter left fewer than k hits: the other lists, in order */
		if (p == nprobe)
			qsort(pr + p, ivf->nlist - p, sizeof(*pr), probe_cmp);
		l = pr[p].list;
		if (ivf->off[l] == ivf->off[l + 1])
			continue;
		if (pq && ip) {
			base = -pr[p].d;
		} else if (terms) {
			add_tables(terms + (size_t)l * m * PQ_K, qt, table, m);
			base = pr[p].d;
		} else if (pq) {
			const float *c = ivf->cent + (size_t)l * ivf->dim;

			for (j = 0; j < ivf->dim; j++)
				qr[j] = query[j] - c[j];
			pq_table_l2(&ivf->pq, qr, table);
			base = 0;
		}
		for (i = ivf->off[l]; i < ivf->off[l + 1]; i++) {
			const uint8_t *code = ivf->codes + (size_t)i * cs;

			switch (ivf->codec) {
			case IVF_FLAT:
				s = ip ? dk->dot(query, (const float *)code, ivf->dim) :
					-dk->l2sq(query, (const float *)code, ivf->dim);
				break;
			case IVF_SQ8:
				s = ip ? dk->dot_sq8(query, code, ivf->sq, ivf->sq + ivf->dim, ivf->dim) :
					-dk->l2sq_sq8(query, code, ivf->sq, ivf->sq + ivf->dim, ivf->dim);
				break;
			default:
				s = ip ? base + pq_adc(table, code, m) : -(base + pq_adc(table, code, m));
				break;
			}
			if (nh == k && (s < hits[0].score || (s == hits[0].score && ivf->ids[i] > hits[0].doc)))
				continue;
			if (accept && !accept(ivf->ids[i], arg))
				continue;
			top_push(hits, &nh, k, ivf->ids[i], s);
		}
	}
	ann_sort_hits(hits, nh);
	r = (int)nh;
out:
	free(pr);
	free(table);
	free(qt);
	free(qr);
	return r;
}

/* The ivf.hdr section, little-endian in place. */
struct ivf_disk_header {
	char magic[8];
	uint32_t version, dim, metric, codec, nlist, pq_m, code_size, n;
};

int ivf_write(const struct ivf_index *ivf, ann_put_fn *put, void *arg, struct lm_error *err)
{
	struct ivf_disk_header hd;
	int r;

	if (!ivf->trained)
		return lm_fail(err, LM_EINVAL, "ivf: not trained, nothing to write");
	memset(&hd, 0, sizeof(hd));
	memcpy(hd.magic, HDR_MAGIC, sizeof(HDR_MAGIC));
	hd.version = 1;
	hd.dim = ivf->dim;
	hd.metric = ivf->metric;
	hd.codec = ivf->codec;
	hd.nlist = ivf->nlist;
	hd.pq_m = ivf->pq_m;
	hd.code_size = ivf->code_size;
	hd.n = ivf->n;
	if ((r = put(arg, "ivf.hdr", &hd, sizeof(hd), err)) ||
	    (r = put(arg, "ivf.cent", ivf->cent, (size_t)ivf->nlist * ivf->dim * sizeof(float), err)) ||
	    (r = put(arg, "ivf.off", ivf->off, ((size_t)ivf->nlist + 1) * sizeof(uint32_t), err)) ||
	    (r = put(arg, "ivf.ids", ivf->ids, (size_t)ivf->n * sizeof(uint32_t), err)) ||
	    (r = put(arg, "ivf.codes", ivf->codes, (size_t)ivf->n * ivf->code_size, err)))
		return r;
	if (ivf->codec == IVF_SQ8)
		return put(arg, "ivf.sq", ivf->sq, 2 * (size_t)ivf->dim * sizeof(float), err);
	if (ivf->codec == IVF_PQ)
		return put(arg, "ivf.pq", ivf->pq.centroids, (size_t)ivf->dim * PQ_K * sizeof(float), err);
	return 0;
}

static int get_exact(ann_get_fn *get, void *arg, const char *name, const void **data, size_t want, size_t align,
	struct lm_error *err)
{
	size_t size = 0;
	int r;

	if ((r = get(arg, name, data, &size, err)))
		return r;
	if (size != want)
		return lm_fail(err, LM_EFORMAT, "section %s: %zu bytes, expected %zu", name, size, want);
	if (want && (uintptr_t)*data % align)
		return lm_fail(err, LM_EFORMAT, "section %s: not %zu-byte aligned", name, align);
	return 0;
}

int ivf_load(struct ivf_index **out, ann_get_fn *get, void *arg, struct lm_error *err)
{
	const struct ivf_disk_header *hd;
	struct ivf_params p = { 0 };
	struct ivf_index *ivf = NULL;
	const void *data;
	uint32_t l, i;
	int r;

	*out = NULL;
	if ((r = get_exact(get, arg, "ivf.hdr", &data, sizeof(*hd), 4, err)))
		return r;
	hd = data;
	if (memcmp(hd->magic, HDR_MAGIC, sizeof(HDR_MAGIC)) || hd->version != 1)
		return lm_fail(err, LM_EFORMAT, "section ivf.hdr: not an IVF version 1 header");
	if (check_shape(hd->dim, hd->metric, hd->nlist, hd->codec, hd->pq_m, err) ||
	    hd->code_size != code_size(hd->codec, hd->dim, hd->pq_m) || hd->n >= UINT32_MAX)
		return lm_fail(err, LM_EFORMAT, "section ivf.hdr: inconsistent shape (dim %u, %u lists, code %u, m %u)",
			hd->dim, hd->nlist, hd->codec, hd->pq_m);
	p.nlist = hd->nlist;
	p.codec = hd->codec;
	p.pq_m = hd->pq_m;
	if (!(ivf = ivf_new(hd->dim, hd->metric, &p, err)))
		return LM_ENOMEM;
	if ((r = get_exact(get, arg, "ivf.cent", &data, (size_t)hd->nlist * hd->dim * sizeof(float), 4, err)))
		goto out;
	ivf->cent = data;
	if ((r = get_exact(get, arg, "ivf.off", &data, ((size_t)hd->nlist + 1) * sizeof(uint32_t), 4, err)))
		goto out;
	ivf->off = data;
	if ((r = get_exact(get, arg, "ivf.ids", &data, (size_t)hd->n * sizeof(uint32_t), 4, err)))
		goto out;
	ivf->ids = data;
	if ((r = get_exact(get, arg, "ivf.codes", &data, (size_t)hd->n * hd->code_size, 4, err)))
		goto out;
	ivf->codes = data;
	if (hd->codec == IVF_SQ8) {
		if ((r = get_exact(get, arg, "ivf.sq", &data, 2 * (size_t)hd->dim * sizeof(float), 4, err)))
			goto out;
		ivf->sq = data;
	}
	if (hd->codec == IVF_PQ) {
		if ((r = get_exact(get, arg, "ivf.pq", &data, (size_t)hd->dim * PQ_K * sizeof(float), 4, err)))
			goto out;
		pq_borrow(&ivf->pq, data);
	}
	if (ivf->off[0] != 0 || ivf->off[hd->nlist] != hd->n) {
		r = lm_fail(err, LM_EFORMAT, "section ivf.off: lists cover %u..%u, expected 0..%u", ivf->off[0],
			ivf->off[hd->nlist], hd->n);
		goto out;
	}
	for (l = 0; l < hd->nlist; l++)
		if (ivf->off[l + 1] < ivf->off[l]) {
			r = lm_fail(err, LM_EFORMAT, "section ivf.off: list %u ends before it starts", l);
			goto out;
		}
	for (i = 0; i < hd->n; i++)
		if (ivf->ids[i] >= hd->n) {
			r = lm_fail(err, LM_EFORMAT, "section ivf.ids: entry %u is doc %u, only %u docs", i, ivf->ids[i],
				hd->n);
			goto out;
		}
	ivf->n = hd->n;
	ivf->trained = 1;
	*out = ivf;
	ivf = NULL;
out:
	ivf_free(ivf);
	return r;
}

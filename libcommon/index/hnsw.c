#include "index/hnsw.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "hnsw sections are little-endian in place");

/* Levels above this are clamped; with M >= 2 the chance of reaching it is
 * below 2^-31 per node. */
#define MAX_LEVEL 31
#define LOCK_STRIPES 4096
#define HDR_MAGIC "LMHNSW1"

struct hnsw_index {
	uint32_t dim, M, M0, efc;
	enum ann_metric metric;
	uint64_t seed;
	double mult;             /* mL = 1 / ln(M), paper section 4.1 */
	uint32_t n, cap;
	int max_level;           /* -1 while empty */
	uint32_t entry;
	float *vec;              /* n * dim */
	uint32_t *l0;            /* n * (1 + M0): count, then neighbour ids */
	uint8_t *lvl;            /* top layer of each node */
	uint32_t *uoff;          /* node's first word in up (levels > 0 only) */
	uint32_t *up;            /* per node, lvl blocks of 1 + M words */
	uint64_t up_len, up_cap;
	int borrowed;            /* arrays point into loaded sections */
	int checked;             /* every list known to be in bounds */
	distance_fn *dfn;
	distance_rows_fn *drows; /* dfn over a list of ids */
	float dsign;             /* distance = dsign * dfn: l2sq, or -dot */
	pthread_mutex_t *locks;  /* striped node locks during a parallel add */
	pthread_mutex_t glock;   /* entry point and max_level, same */
};

struct cand {
	float d;
	uint32_t id;
};

/* A binary max-heap on d; the candidate queue stores -d to pop nearest
 * first. */
struct heap {
	struct cand *v;
	uint32_t n, cap;
};

/* Visited marks are 16-bit generation stamps, as in hnswlib's visited
 * lists: half the cache footprint of 32-bit ones, at the price of a clear
 * every 65535 searches. */
typedef uint16_t stamp_t;
#define STAMP_MAX UINT16_MAX

struct hnsw_scratch {
	stamp_t *stamp;
	size_t stamp_cap;
	stamp_t gen;
	struct heap cand, res;
	uint32_t *nbuf;          /* a neighbour list copied under its lock */
	uint32_t *fresh;         /* the unvisited ids of one list ... */
	float *fresh_d;          /* ... and their distances */
	struct cand *sel, *tmp;
	uint32_t nbuf_cap, sel_cap;
	char problem[160];       /* the first corrupt list met, "" if none */
};

static inline const float *vec(const struct hnsw_index *h, uint32_t id)
{
	return h->vec + (size_t)id * h->dim;
}

static inline float dist(const struct hnsw_index *h, const float *a, const float *b)
{
	return h->dsign * h->dfn(a, b, h->dim);
}

static inline uint32_t *links(const struct hnsw_index *h, uint32_t id, int lc)
{
	if (lc == 0)
		return h->l0 + (size_t)id * (1 + h->M0);
	return h->up + h->uoff[id] + (size_t)(lc - 1) * (1 + h->M);
}

static int heap_push(struct heap *hp, float d, uint32_t id)
{
	uint32_t i, p;

	if (hp->n == hp->cap) {
		uint32_t cap = hp->cap ? hp->cap * 2 : 256;
		struct cand *v = realloc(hp->v, (size_t)cap * sizeof(*v));

		if (!v)
			return LM_ENOMEM;
		hp->v = v;
		hp->cap = cap;
	}
	i = hp->n++;
	while (i > 0) {
		p = (i - 1) / 2;
		if (hp->v[p].d >= d)
			break;
		hp->v[i] = hp->v[p];
		i = p;
	}
	hp->v[i].d = d;
	hp->v[i].id = id;
	return 0;
}

static void heap_pop(struct heap *hp)
{
	struct cand last;
	uint32_t i = 0, c;

	if (!hp->n)
		return;
	last = hp->v[--hp->n];
	for (;;) {
		c = 2 * i + 1;
		if (c >= hp->n)
			break;
		if (c + 1 < hp->n && hp->v[c + 1].d > hp->v[c].d)
			c++;
		if (hp->v[c].d <= last.d)
			break;
		hp->v[i] = hp->v[c];
		i = c;
	}
	if (hp->n)
		hp->v[i] = last;
}

/* A per-node stream of random bits: splitmix64 (Steele et al. 2014) of the
 * seed and the node number. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int node_level(const struct hnsw_index *h, uint32_t id)
{
	uint64_t r = mix64(h->seed + 0x9e3779b97f4a7c15ULL * ((uint64_t)id + 1));
	double u = ((double)(r >> 11) + 0.5) * 0x1.0p-53;   /* in (0, 1) */
	double l = floor(-log(u) * h->mult);

	return l > MAX_LEVEL ? MAX_LEVEL : (int)l;
}

static int set_metric(struct hnsw_index *h, enum ann_metric metric)
{
	const struct distance_kernels *k = distance_kernels();

	h->metric = metric;
	switch (metric) {
	case ANN_L2:
		h->dfn = k->l2sq;
		h->drows = k->l2sq_rows;
		h->dsign = 1;
		return 0;
	case ANN_IP:
		h->dfn = k->dot;
		h->drows = k->dot_rows;
		h->dsign = -1;
		return 0;
	}
	return LM_EINVAL;
}

struct hnsw_index *hnsw_new(uint32_t dim, enum ann_metric metric, const struct hnsw_params *params,
	struct lm_error *err)
{
	struct hnsw_index *h;
	uint32_t M = params && params->M ? params->M : HNSW_DEFAULT_M;
	uint32_t efc = params && params->ef_construction ? params->ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;

	if (dim < 1 || dim > HNSW_MAX_DIM) {
		lm_fail(err, LM_EINVAL, "hnsw: dimension %u out of range 1..%u", dim, HNSW_MAX_DIM);
		return NULL;
	}
	if (M < 2 || M > HNSW_MAX_M) {
		lm_fail(err, LM_EINVAL, "hnsw: M %u out of range 2..%u", M, HNSW_MAX_M);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		lm_fail(err, LM_ENOMEM, "hnsw: out of memory");
		return NULL;
	}
	if (set_metric(h, metric)) {
		free(h);
		lm_fail(err, LM_EINVAL, "hnsw: unknown metric %d", (int)metric);
		return NULL;
	}
	h->dim = dim;
	h->M = M;
	h->M0 = 2 * M;
	h->efc = efc;
	h->seed = params ? params->seed : 0;
	h->mult = 1.0 / log((double)M);
	h->max_level = -1;
	h->checked = 1;
	pthread_mutex_init(&h->glock, NULL);
	return h;
}

static void free_arrays(struct hnsw_index *h)
{
	if (h->borrowed)
		return;
	free(h->vec);
	free(h->l0);
	free(h->lvl);
	free(h->uoff);
	free(h->up);
}

void hnsw_free(struct hnsw_index *h)
{
	if (!h)
		return;
	free_arrays(h);
	pthread_mutex_destroy(&h->glock);
	free(h);
}

uint32_t hnsw_count(const struct hnsw_index *h)
{
	return h->n;
}

uint32_t hnsw_dim(const struct hnsw_index *h)
{
	return h->dim;
}

enum ann_metric hnsw_metric(const struct hnsw_index *h)
{
	return h->metric;
}

const float *hnsw_vector(const struct hnsw_index *h, uint32_t doc)
{
	return doc < h->n ? vec(h, doc) : NULL;
}

size_t hnsw_memory(const struct hnsw_index *h)
{
	size_t per = (size_t)h->dim * sizeof(float) + (1 + (size_t)h->M0) * sizeof(uint32_t) + 1 + sizeof(uint32_t);

	return sizeof(*h) + (size_t)h->cap * per + (size_t)h->up_cap * sizeof(uint32_t);
}

/* Grows (or, for a loaded index, copies out) the arrays for cap nodes and
 * up_cap upper-layer words. */
static int reserve(struct hnsw_index *h, uint32_t cap, uint64_t up_cap)
{
	float *v = h->vec;
	uint32_t *l0 = h->l0, *uoff = h->uoff, *up = h->up;
	uint8_t *lvl = h->lvl;

	if (h->borrowed) {
		v = malloc((size_t)cap * h->dim * sizeof(float));
		l0 = malloc((size_t)cap * (1 + h->M0) * sizeof(uint32_t));
		lvl = malloc(cap ? cap : 1);
		uoff = malloc((size_t)cap * sizeof(uint32_t));
		up = malloc((up_cap ? up_cap : 1) * sizeof(uint32_t));
		if (!v || !l0 || !lvl || !uoff || !up) {
			free(v);
			free(l0);
			free(lvl);
			free(uoff);
			free(up);
			return LM_ENOMEM;
		}
		memcpy(v, h->vec, (size_t)h->n * h->dim * sizeof(float));
		memcpy(l0, h->l0, (size_t)h->n * (1 + h->M0) * sizeof(uint32_t));
		memcpy(lvl, h->lvl, h->n);
		memcpy(uoff, h->uoff, (size_t)h->n * sizeof(uint32_t));
		memcpy(up, h->up, h->up_len * sizeof(uint32_t));
		h->vec = v;
		h->l0 = l0;
		h->lvl = lvl;
		h->uoff = uoff;
		h->up = up;
		h->cap = cap;
		h->up_cap = up_cap;
		h->borrowed = 0;
		return 0;
	}
	if (cap > h->cap) {
		if (!(v = realloc(h->vec, (size_t)cap * h->dim * sizeof(float))))
			return LM_ENOMEM;
		h->vec = v;
		if (!(l0 = realloc(h->l0, (size_t)cap * (1 + h->M0) * sizeof(uint32_t))))
			return LM_ENOMEM;
		h->l0 = l0;
		if (!(lvl = realloc(h->lvl, cap)))
			return LM_ENOMEM;
		h->lvl = lvl;
		if (!(uoff = realloc(h->uoff, (size_t)cap * sizeof(uint32_t))))
			return LM_ENOMEM;
		h->uoff = uoff;
		h->cap = cap;
	}
	if (up_cap > h->up_cap) {
		if (!(up = realloc(h->up, up_cap * sizeof(uint32_t))))
			return LM_ENOMEM;
		h->up = up;
		h->up_cap = up_cap;
	}
	return 0;
}

struct hnsw_scratch *hnsw_scratch_new(void)
{
	return calloc(1, sizeof(struct hnsw_scratch));
}

void hnsw_scratch_free(struct hnsw_scratch *s)
{
	if (!s)
		return;
	free(s->stamp);
	free(s->cand.v);
	free(s->res.v);
	free(s->nbuf);
	free(s->fresh);
	free(s->fresh_d);
	free(s->sel);
	free(s->tmp);
	free(s);
}

/* Room to visit n nodes and to hold lists of the index's sizes. */
static int scratch_fit(struct hnsw_scratch *s, const struct hnsw_index *h, size_t n, uint32_t ef)
{
	/* 64-bit: ef comes from the caller or a loaded header */
	uint64_t sel = (uint64_t)(ef > h->M0 ? ef : h->M0) + 2;

	if (n > s->stamp_cap) {
		/* A first search over a loaded index touches a few thousand
		 * stamps of n: calloc's fresh zero pages are only faulted in
		 * where touched, where memset would fault in all of them (2 MB,
		 * 4 ms of a 20 ms open-to-first-result at n = 1M). */
		stamp_t *st = s->stamp_cap ? realloc(s->stamp, n * sizeof(*st)) : calloc(n, sizeof(*st));

		if (!st)
			return LM_ENOMEM;
		if (s->stamp_cap)
			memset(st + s->stamp_cap, 0, (n - s->stamp_cap) * sizeof(*st));
		s->stamp = st;
		s->stamp_cap = n;
	}
	if (h->M0 + 1 > s->nbuf_cap) {
		uint32_t *nb = realloc(s->nbuf, (h->M0 + 1) * sizeof(*nb)), *fr;
		float *fd;

		if (!nb)
			return LM_ENOMEM;
		s->nbuf = nb;
		if (!(fr = realloc(s->fresh, (h->M0 + 1) * sizeof(*fr))))
			return LM_ENOMEM;
		s->fresh = fr;
		if (!(fd = realloc(s->fresh_d, (h->M0 + 1) * sizeof(*fd))))
			return LM_ENOMEM;
		s->fresh_d = fd;
		s->nbuf_cap = h->M0 + 1;
	}
	if (sel > UINT32_MAX)
		return LM_ENOMEM;
	if (sel > s->sel_cap) {
		struct cand *a = realloc(s->sel, sel * sizeof(*a)), *b;

		if (!a)
			return LM_ENOMEM;
		s->sel = a;
		b = realloc(s->tmp, sel * sizeof(*b));
		if (!b)
			return LM_ENOMEM;
		s->tmp = b;
		s->sel_cap = sel;
	}
	return 0;
}

static stamp_t next_gen(struct hnsw_scratch *s)
{
	if (s->gen == STAMP_MAX) {
		memset(s->stamp, 0, s->stamp_cap * sizeof(*s->stamp));
		s->gen = 0;
	}
	if (++s->gen == 0) {
		memset(s->stamp, 0, s->stamp_cap * sizeof(*s->stamp));
		s->gen = 1;
	}
	return s->gen;
}

static inline void node_lock(const struct hnsw_index *h, uint32_t id)
{
	if (h->locks)
		pthread_mutex_lock(&h->locks[id % LOCK_STRIPES]);
}

static inline void node_unlock(const struct hnsw_index *h, uint32_t id)
{
	if (h->locks)
		pthread_mutex_unlock(&h->locks[id % LOCK_STRIPES]);
}

/* Records the first corrupt list a search meets; the search goes on
 * without it and hnsw_search then reports LM_EFORMAT. */
static void corrupt(struct hnsw_scratch *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void corrupt(struct hnsw_scratch *s, const char *fmt, ...)
{
	va_list ap;

	if (s->problem[0])
		return;
	va_start(ap, fmt);
	vsnprintf(s->problem, sizeof(s->problem), fmt, ap);
	va_end(ap);
}

/* A node's list on layer lc: in place when nothing is being built
 * concurrently, else a copy taken under the node's lock.  A loaded index's
 * lists are checked here, as they are read, rather than all of them at
 * load (hnsw_check): id is below n (the entry point, or an id that passed
 * score_list), so only an upper layer's place in hnsw.up can be wrong. */
static const uint32_t *read_links(const struct hnsw_index *h, struct hnsw_scratch *s, uint32_t id, int lc)
{
	static const uint32_t empty[1];
	const uint32_t *lk;

	if (lc > 0 && h->lvl[id] < lc) {
		corrupt(s, "section hnsw.lvl: node %u is linked on layer %d, its level is %d", id, lc, h->lvl[id]);
		return empty;
	}
	if (lc > 0 && (uint64_t)h->uoff[id] + (uint64_t)lc * (1 + h->M) > h->up_len) {
		corrupt(s, "section hnsw.uoff: node %u lists run past hnsw.up", id);
		return empty;
	}
	lk = links(h, id, lc);
	if (!h->locks)
		return lk;
	node_lock(h, id);
	memcpy(s->nbuf, lk, (1 + (size_t)lk[0]) * sizeof(uint32_t));
	node_unlock(h, id);
	return s->nbuf;
}

/* Distances from q to the nodes of a list, into s->fresh_d, one kernel
 * call per list; with stamp, only the nodes not yet visited are scored
 * (and marked).  Returns how many went into s->fresh. */
static uint32_t score_list(const struct hnsw_index *h, struct hnsw_scratch *s, const float *q,
	const uint32_t *lk, uint32_t node, int lc, stamp_t *stamp, stamp_t gen)
{
	uint32_t j, e, cnt = lk[0], n = 0, max = lc ? h->M : h->M0;

	/* a loaded list is untrusted: a count past its slots or an id past
	 * the last node is skipped (and reported), never followed */
	if (cnt > max) {
		corrupt(s, "section %s: node %u layer %d has %u neighbours, at most %u", lc ? "hnsw.up" : "hnsw.l0",
			node, lc, cnt, max);
		cnt = max;
	}
	for (j = 1; j <= cnt; j++) {
		e = lk[j];
		if (e >= h->n) {
			corrupt(s, "section %s: node %u layer %d links to %u, only %u nodes", lc ? "hnsw.up" : "hnsw.l0",
				node, lc, e, h->n);
			continue;
		}
		if (stamp) {
			if (j < cnt && lk[j + 1] < h->n)
				__builtin_prefetch(&stamp[lk[j + 1]]);
			if (stamp[e] == gen)
				continue;
			stamp[e] = gen;
		}
		s->fresh[n++] = e;
	}
	h->drows(q, h->vec, h->dim, s->fresh, n, s->fresh_d);
	if (h->dsign < 0)
		for (j = 0; j < n; j++)
			s->fresh_d[j] = -s->fresh_d[j];
	return n;
}

/* Greedy descent on an upper layer (the paper's search with ef = 1). */
static void greedy(const struct hnsw_index *h, struct hnsw_scratch *s, const float *q, uint32_t *ep,
	float *ep_d, int lc)
{
	uint32_t j, n, best;
	int changed = 1;

	while (changed) {
		changed = 0;
		n = score_list(h, s, q, read_links(h, s, *ep, lc), *ep, lc, NULL, 0);
		best = *ep;
		for (j = 0; j < n; j++)
			if (s->fresh_d[j] < *ep_d) {
				*ep_d = s->fresh_d[j];
				best = s->fresh[j];
				changed = 1;
			}
		*ep = best;
	}
}

/* Algorithm 2 (SEARCH-LAYER) from one entry point, leaving up to ef
 * results in s->res.  Only accepted nodes enter the results, all nodes
 * enter the candidates; while fewer than ef results are held the search
 * does not stop on distance, so filtering never truncates the answer. */
static int search_layer(const struct hnsw_index *h, struct hnsw_scratch *s, const float *q, uint32_t ep,
	float ep_d, int lc, uint32_t ef, ann_accept_fn *accept, void *arg)
{
	struct heap *cand = &s->cand, *res = &s->res;
	stamp_t gen = next_gen(s), *stamp = s->stamp;
	uint32_t j, e, n;
	float lower, d;
	int r;

	cand->n = res->n = 0;
	stamp[ep] = gen;
	if ((r = heap_push(cand, -ep_d, ep)))
		return r;
	if (!accept || accept(ep, arg))
		if ((r = heap_push(res, ep_d, ep)))
			return r;
	lower = res->n ? res->v[0].d : INFINITY;
	while (cand->n) {
		struct cand c = cand->v[0];

		if (-c.d > lower && (res->n >= ef || !accept))
			break;
		heap_pop(cand);
		n = score_list(h, s, q, read_links(h, s, c.id, lc), c.id, lc, stamp, gen);
		for (j = 0; j < n; j++) {
			e = s->fresh[j];
			d = s->fresh_d[j];
			if (res->n < ef || d < lower) {
				if ((r = heap_push(cand, -d, e)))
					return r;
				if (!accept || accept(e, arg)) {
					if ((r = heap_push(res, d, e)))
						return r;
					if (res->n > ef)
						heap_pop(res);
				}
				if (res->n)
					lower = res->v[0].d;
			}
		}
		/* the next node to expand: its list is needed first */
		if (cand->n && !h->locks)
			__builtin_prefetch(links(h, cand->v[0].id, lc));
	}
	return 0;
}

/* Empties s->res into out, nearest first. */
static uint32_t drain_sorted(struct hnsw_scratch *s, struct cand *out)
{
	uint32_t n = s->res.n, i = n;

	while (i > 0) {
		out[--i] = s->res.v[0];
		heap_pop(&s->res);
	}
	return n;
}

/* Algorithm 4 (SELECT-NEIGHBORS-HEURISTIC) without the optional extension
 * and pruned-connection steps: c[0..n) sorted nearest first; keeps, in
 * place, each candidate closer to the base than to all kept so far. */
static uint32_t select_heuristic(const struct hnsw_index *h, struct cand *c, uint32_t n, uint32_t m)
{
	uint32_t i, j, out = 0;

	for (i = 0; i < n && out < m; i++) {
		const float *x = vec(h, c[i].id);

		for (j = 0; j < out; j++)
			if (dist(h, x, vec(h, c[j].id)) < c[i].d)
				break;
		if (j == out)
			c[out++] = c[i];
	}
	return out;
}

static void sort_cands(struct cand *c, uint32_t n)
{
	uint32_t i, j;
	struct cand t;

	for (i = 1; i < n; i++) {
		t = c[i];
		for (j = i; j > 0 && (c[j - 1].d > t.d || (c[j - 1].d == t.d && c[j - 1].id > t.id)); j--)
			c[j] = c[j - 1];
		c[j] = t;
	}
}

/* Adds the link e -> id on layer lc, shrinking e's list with the heuristic
 * when it is full (algorithm 1, lines 11-16). */
static void connect(const struct hnsw_index *h, struct hnsw_scratch *s, uint32_t e, uint32_t id, int lc, float d)
{
	uint32_t mmax = lc ? h->M : h->M0, *lk, cnt, j, m;
	const float *x = vec(h, e);

	node_lock(h, e);
	lk = links(h, e, lc);
	cnt = lk[0];
	for (j = 1; j <= cnt; j++)
		if (lk[j] == id)
			goto out;
	if (cnt < mmax) {
		lk[1 + cnt] = id;
		lk[0] = cnt + 1;
		goto out;
	}
	h->drows(x, h->vec, h->dim, lk + 1, cnt, s->fresh_d);
	for (j = 0; j < cnt; j++) {
		s->tmp[j].id = lk[1 + j];
		s->tmp[j].d = h->dsign * s->fresh_d[j];
	}
	s->tmp[cnt].id = id;
	s->tmp[cnt].d = d;
	sort_cands(s->tmp, cnt + 1);
	m = select_heuristic(h, s->tmp, cnt + 1, mmax);
	for (j = 0; j < m; j++)
		lk[1 + j] = s->tmp[j].id;
	lk[0] = m;
out:
	node_unlock(h, e);
}

/* Algorithm 1 (INSERT) for a node whose vector, level and (empty) lists
 * are already in place. */
static int insert(struct hnsw_index *h, struct hnsw_scratch *s, uint32_t id)
{
	const float *q = vec(h, id);
	int L = h->lvl[id], maxL, lc, held = 0, r = 0;
	uint32_t ep, m, j, *lk;
	float ep_d;

	if (h->locks)
		pthread_mutex_lock(&h->glock);
	maxL = h->max_level;
	ep = h->entry;
	if (maxL < 0) {
		h->entry = id;
		h->max_level = L;
		goto out_glock;
	}
	if (L > maxL)
		held = 1;
	else if (h->locks)
		pthread_mutex_unlock(&h->glock);

	ep_d = dist(h, q, vec(h, ep));
	for (lc = maxL; lc > L; lc--)
		greedy(h, s, q, &ep, &ep_d, lc);
	for (lc = L < maxL ? L : maxL; lc >= 0; lc--) {
		if ((r = search_layer(h, s, q, ep, ep_d, lc, h->efc, NULL, NULL)))
			goto out;
		m = drain_sorted(s, s->sel);
		for (j = 0; j < m; j++)
			if (s->sel[j].id == id)
				break;
		if (j < m) {
			memmove(s->sel + j, s->sel + j + 1, (m - j - 1) * sizeof(*s->sel));
			m--;
		}
		if (!m)
			continue;
		ep = s->sel[0].id;
		ep_d = s->sel[0].d;
		m = select_heuristic(h, s->sel, m, h->M);
		node_lock(h, id);
		lk = links(h, id, lc);
		for (j = 0; j < m; j++)
			lk[1 + j] = s->sel[j].id;
		lk[0] = m;
		node_unlock(h, id);
		for (j = 0; j < m; j++)
			connect(h, s, s->sel[j].id, id, lc, s->sel[j].d);
	}
out:
	if (held) {
		if (L > h->max_level) {
			h->entry = id;
			h->max_level = L;
		}
		goto out_glock;
	}
	return r;
out_glock:
	if (h->locks)
		pthread_mutex_unlock(&h->glock);
	return r;
}

struct add_job {
	struct hnsw_index *h;
	uint32_t first;
	struct hnsw_scratch **scratch;
	atomic_int status;
};

static void add_task(int64_t task, int thread, void *arg)
{
	struct add_job *job = arg;
	int r;

	if (atomic_load(&job->status))
		return;
	r = insert(job->h, job->scratch[thread], job->first + (uint32_t)task);
	if (r)
		atomic_store(&job->status, r);
}

int hnsw_add(struct hnsw_index *h, const float *x, uint32_t count, struct threadpool *pool,
	struct lm_error *err)
{
	struct add_job job = { .h = h };
	uint32_t first = h->n, i, cap, threads = pool ? (uint32_t)threadpool_threads(pool) : 1, t;
	uint64_t up_need = h->up_len, up_cap;
	int r = 0, L;

	if (!count)
		return 0;
	/* inserting follows and rewrites lists, so a loaded graph is checked
	 * whole first (a search only checks the lists it reads) */
	if (!h->checked && (r = hnsw_check(h, err)))
		return r;
	if ((uint64_t)first + count >= UINT32_MAX)
		return lm_fail(err, LM_EINVAL, "hnsw: more than %u vectors", UINT32_MAX - 1);
	for (i = 0; i < count; i++)
		up_need += (uint64_t)node_level(h, first + i) * (1 + h->M);
	if (up_need > UINT32_MAX)
		return lm_fail(err, LM_ENOMEM, "hnsw: upper layers exceed 2^32 words");
	cap = h->cap;
	if ((uint64_t)first + count > cap)
		cap = (uint64_t)first + count > (uint64_t)cap + cap / 2 || (uint64_t)cap + cap / 2 >= UINT32_MAX ?
			first + count : cap + cap / 2;
	up_cap = h->up_cap;
	if (up_need > up_cap)
		up_cap = up_need > up_cap + up_cap / 2 ? up_need : up_cap + up_cap / 2;
	if (reserve(h, cap, up_cap))
		return lm_fail(err, LM_ENOMEM, "hnsw: out of memory for %u vectors", first + count);

	memcpy(h->vec + (size_t)first * h->dim, x, (size_t)count * h->dim * sizeof(float));
	for (i = first; i < first + count; i++) {
		L = node_level(h, i);
		h->lvl[i] = (uint8_t)L;
		h->l0[(size_t)i * (1 + h->M0)] = 0;
		h->uoff[i] = (uint32_t)h->up_len;
		for (t = 0; t < (uint32_t)L; t++)
			h->up[h->up_len + (uint64_t)t * (1 + h->M)] = 0;
		h->up_len += (uint64_t)L * (1 + h->M);
	}
	h->n = first + count;

	if (threads > count)
		threads = count;
	job.first = first;
	job.scratch = calloc(threads, sizeof(*job.scratch));
	if (!job.scratch) {
		r = lm_fail(err, LM_ENOMEM, "hnsw: out of memory");
		goto out;
	}
	for (t = 0; t < threads; t++)
		if (!(job.scratch[t] = hnsw_scratch_new()) || scratch_fit(job.scratch[t], h, h->n, h->efc)) {
			r = lm_fail(err, LM_ENOMEM, "hnsw: out of memory for search scratch");
			goto out;
		}
	if (threads == 1) {
		for (i = first; i < h->n && !r; i++)
			r = insert(h, job.scratch[0], i);
	} else {
		/* the first node of an empty graph becomes the entry point
		 * before the others start searching from it */
		if (h->max_level < 0)
			r = insert(h, job.scratch[0], job.first++);
		h->locks = malloc(LOCK_STRIPES * sizeof(*h->locks));
		if (!h->locks) {
			r = lm_fail(err, LM_ENOMEM, "hnsw: out of memory");
			goto out;
		}
		for (i = 0; i < LOCK_STRIPES; i++)
			pthread_mutex_init(&h->locks[i], NULL);
		atomic_init(&job.status, 0);
		if (!r) {
			threadpool_run(pool, h->n - job.first, add_task, &job);
			r = atomic_load(&job.status);
		}
		for (i = 0; i < LOCK_STRIPES; i++)
			pthread_mutex_destroy(&h->locks[i]);
		free(h->locks);
		h->locks = NULL;
	}
	if (r)
		r = lm_fail(err, r, "hnsw: out of memory while linking");
out:
	if (job.scratch)
		for (t = 0; t < threads; t++)
			hnsw_scratch_free(job.scratch[t]);
	free(job.scratch);
	return r;
}

int hnsw_search(const struct hnsw_index *h, struct hnsw_scratch *s, const float *query, uint32_t k,
	uint32_t ef, ann_accept_fn *accept, void *arg, struct ann_hit *hits)
{
	uint32_t ep, i, n;
	float ep_d;
	int lc, r;

	if (!h->n || !k || h->max_level < 0)
		return 0;
	if (ef < k)
		ef = k;
	if ((r = scratch_fit(s, h, h->n, ef)))
		return r;
	s->problem[0] = 0;
	ep = h->entry;
	ep_d = dist(h, query, vec(h, ep));
	for (lc = h->max_level; lc > 0; lc--)
		greedy(h, s, query, &ep, &ep_d, lc);
	if ((r = search_layer(h, s, query, ep, ep_d, 0, ef, accept, arg)))
		return r;
	if (s->problem[0])
		return LM_EFORMAT;
	while (s->res.n > k)
		heap_pop(&s->res);
	n = s->res.n;
	for (i = n; i > 0; i--) {
		hits[i - 1].doc = s->res.v[0].id;
		hits[i - 1].score = -s->res.v[0].d;
		heap_pop(&s->res);
	}
	ann_sort_hits(hits, n);
	return (int)n;
}

/* The hnsw.hdr section, little-endian in place. */
struct hnsw_disk_header {
	char magic[8];
	uint32_t version, dim, metric, M, M0, ef_construction, n, entry;
	int32_t max_level;
	uint32_t reserved;
	uint64_t up_len, seed;
};

int hnsw_write(const struct hnsw_index *h, ann_put_fn *put, void *arg, struct lm_error *err)
{
	struct hnsw_disk_header hd;
	int r;

	memset(&hd, 0, sizeof(hd));
	memcpy(hd.magic, HDR_MAGIC, sizeof(HDR_MAGIC));
	hd.version = 1;
	hd.dim = h->dim;
	hd.metric = h->metric;
	hd.M = h->M;
	hd.M0 = h->M0;
	hd.ef_construction = h->efc;
	hd.n = h->n;
	hd.entry = h->entry;
	hd.max_level = h->max_level;
	hd.up_len = h->up_len;
	hd.seed = h->seed;
	if ((r = put(arg, "hnsw.hdr", &hd, sizeof(hd), err)) ||
	    (r = put(arg, "hnsw.vec", h->vec, (size_t)h->n * h->dim * sizeof(float), err)) ||
	    (r = put(arg, "hnsw.l0", h->l0, (size_t)h->n * (1 + h->M0) * sizeof(uint32_t), err)) ||
	    (r = put(arg, "hnsw.lvl", h->lvl, h->n, err)) ||
	    (r = put(arg, "hnsw.uoff", h->uoff, (size_t)h->n * sizeof(uint32_t), err)) ||
	    (r = put(arg, "hnsw.up", h->up, h->up_len * sizeof(uint32_t), err)))
		return r;
	return 0;
}

static int get_section(ann_get_fn *get, void *arg, const char *name, const void **data, size_t want,
	size_t align, struct lm_error *err)
{
	size_t size = 0;
	int r;

	if ((r = get(arg, name, data, &size, err)))
		return r;
	if (size != want)
		return lm_fail(err, LM_EFORMAT, "section %s: %zu bytes, expected %zu", name, size, want);
	if (want && ((uintptr_t)*data % align))
		return lm_fail(err, LM_EFORMAT, "section %s: not %zu-byte aligned", name, align);
	return 0;
}

/* Every count within its layer's maximum, every id below n, and on an
 * upper layer every neighbour on that layer (else inserting would write
 * into a list the neighbour does not have). */
static int check_list(const struct hnsw_index *h, uint32_t node, int lc, struct lm_error *err)
{
	const uint32_t *lk = links(h, node, lc);
	const char *sec = lc ? "hnsw.up" : "hnsw.l0";
	uint32_t j, max = lc ? h->M : h->M0;

	if (lk[0] > max)
		return lm_fail(err, LM_EFORMAT, "section %s: node %u layer %d has %u neighbours, at most %u",
			sec, node, lc, lk[0], max);
	for (j = 1; j <= lk[0]; j++) {
		if (lk[j] >= h->n)
			return lm_fail(err, LM_EFORMAT, "section %s: node %u layer %d links to %u, only %u nodes",
				sec, node, lc, lk[j], h->n);
		if (lc && h->lvl[lk[j]] < lc)
			return lm_fail(err, LM_EFORMAT, "section %s: node %u layer %d links to node %u of level %d",
				sec, node, lc, lk[j], h->lvl[lk[j]]);
	}
	return 0;
}

int hnsw_check(struct hnsw_index *h, struct lm_error *err)
{
	uint32_t i;
	int r, lc, L;

	for (i = 0; i < h->n; i++) {
		L = h->lvl[i];
		if (L > h->max_level)
			return lm_fail(err, LM_EFORMAT, "section hnsw.lvl: node %u level %d above the top %d",
				i, L, h->max_level);
		if (L && (uint64_t)h->uoff[i] + (uint64_t)L * (1 + h->M) > h->up_len)
			return lm_fail(err, LM_EFORMAT, "section hnsw.uoff: node %u lists run past hnsw.up", i);
		for (lc = 0; lc <= L; lc++)
			if ((r = check_list(h, i, lc, err)))
				return r;
	}
	h->checked = 1;
	return 0;
}

const char *hnsw_scratch_problem(const struct hnsw_scratch *s)
{
	return s->problem;
}

int hnsw_load(struct hnsw_index **out, ann_get_fn *get, void *arg, struct lm_error *err)
{
	const struct hnsw_disk_header *hd;
	struct hnsw_index *h = NULL;
	struct hnsw_params p;
	const void *data;
	uint32_t n;
	int r;

	*out = NULL;
	if ((r = get_section(get, arg, "hnsw.hdr", &data, sizeof(*hd), 8, err)))
		return r;
	hd = data;
	if (memcmp(hd->magic, HDR_MAGIC, sizeof(HDR_MAGIC)) || hd->version != 1)
		return lm_fail(err, LM_EFORMAT, "section hnsw.hdr: not an HNSW version 1 header");
	if (hd->metric != ANN_L2 && hd->metric != ANN_IP)
		return lm_fail(err, LM_EFORMAT, "section hnsw.hdr: unknown metric %u", hd->metric);
	if (hd->M0 != 2 * hd->M)
		return lm_fail(err, LM_EFORMAT, "section hnsw.hdr: M0 %u is not 2M (M %u)", hd->M0, hd->M);
	n = hd->n;
	if (n >= UINT32_MAX || (n && (hd->entry >= n || hd->max_level < 0 || hd->max_level > MAX_LEVEL)) ||
	    (!n && (hd->max_level != -1 || hd->up_len)) || hd->up_len > UINT32_MAX)
		return lm_fail(err, LM_EFORMAT, "section hnsw.hdr: inconsistent node count, entry or levels");
	p.M = hd->M;
	p.ef_construction = hd->ef_construction;
	p.seed = hd->seed;
	if (!hd->M || !hd->ef_construction || !(h = hnsw_new(hd->dim, hd->metric, &p, err))) {
		r = lm_fail(err, LM_EFORMAT, "section hnsw.hdr: bad dimension %u or M %u", hd->dim, hd->M);
		goto out;
	}
	h->borrowed = 1;
	h->n = h->cap = n;
	h->max_level = hd->max_level;
	h->entry = hd->entry;
	h->up_len = h->up_cap = hd->up_len;
	if ((r = get_section(get, arg, "hnsw.vec", &data, (size_t)n * h->dim * sizeof(float), 4, err)))
		goto out;
	h->vec = (float *)data;
	if ((r = get_section(get, arg, "hnsw.l0", &data, (size_t)n * (1 + h->M0) * sizeof(uint32_t), 4, err)))
		goto out;
	h->l0 = (uint32_t *)data;
	if ((r = get_section(get, arg, "hnsw.lvl", &data, n, 1, err)))
		goto out;
	h->lvl = (uint8_t *)data;
	if ((r = get_section(get, arg, "hnsw.uoff", &data, (size_t)n * sizeof(uint32_t), 4, err)))
		goto out;
	h->uoff = (uint32_t *)data;
	if ((r = get_section(get, arg, "hnsw.up", &data, h->up_len * sizeof(uint32_t), 4, err)))
		goto out;
	h->up = (uint32_t *)data;

	/* O(1) here; the lists are checked as searches read them, or all at
	 * once by hnsw_check */
	if (n && h->lvl[h->entry] != h->max_level) {
		r = lm_fail(err, LM_EFORMAT, "section hnsw.lvl: entry point %u is not on the top layer", h->entry);
		goto out;
	}
	h->checked = !n;
	*out = h;
	h = NULL;
out:
	hnsw_free(h);
	return r;
}

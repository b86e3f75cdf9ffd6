#include "model/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sampler {
	struct sample_params p;
	int n_vocab;
	struct sample_cand *cand;
	int32_t *hist;              /* ring of the last repeat_last_n accepted ids */
	size_t hist_n, hist_pos;
	uint32_t *stamp;            /* per id: the call that last penalised it */
	uint32_t call;
	uint64_t rng[4];
	const uint8_t *mask;        /* NULL, or the ids allowed */
};

void sample_params_default(struct sample_params *p)
{
	*p = (struct sample_params){ .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
				     .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 0 };
}

/* splitmix64 (Steele, Lea, Flood 2014) expands the seed into xoshiro's state. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman, Vigna). */
static uint64_t next_u64(struct sampler *s)
{
	uint64_t *r = s->rng, out = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;

	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = rotl(r[3], 45);
	return out;
}

int sampler_new(struct sampler **out, const struct sample_params *params, int n_vocab, struct lm_error *err)
{
	struct sampler *s = calloc(1, sizeof(*s));
	size_t nh;

	*out = NULL;
	if (!s)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	s->p = *params;
	if (s->p.repeat_last_n < 0)
		s->p.repeat_last_n = 0;
	s->n_vocab = n_vocab;
	nh = (size_t)s->p.repeat_last_n;
	s->cand = malloc((size_t)n_vocab * sizeof(*s->cand));
	s->stamp = calloc((size_t)n_vocab, sizeof(*s->stamp));
	s->hist = malloc((nh ? nh : 1) * sizeof(*s->hist));
	if (!s->cand || !s->stamp || !s->hist) {
		sampler_free(s);
		return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	sampler_reset(s);
	*out = s;
	return LM_OK;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s->stamp);
	free(s->hist);
	free(s);
}

void sampler_reset(struct sampler *s)
{
	uint64_t x = s->p.seed;

	s->hist_n = s->hist_pos = 0;
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix64(&x);
}

void sampler_accept(struct sampler *s, int32_t id)
{
	size_t nh = (size_t)s->p.repeat_last_n;

	if (!nh)
		return;
	s->hist[s->hist_pos] = id;
	s->hist_pos = (s->hist_pos + 1) % nh;
	if (s->hist_n < nh)
		s->hist_n++;
}

/* Higher logit first, then lower id: a total order, so results never
 * depend on the sort's stability. */
static int cand_before(const struct sample_cand *a, const struct sample_cand *b)
{
	return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cand_cmp(const void *pa, const void *pb)
{
	const struct sample_cand *a = pa, *b = pb;

	return cand_before(a, b) ? -1 : cand_before(b, a) ? 1 : 0;
}

/* Move the K best of C[0..N) to the front, sorted: a min-heap of the best K
 * seen so far, O(N log K). */
static void select_top_k(struct sample_cand *c, size_t n, size_t k)
{
	/* heap order: the root is the worst of the kept */
	for (size_t i = 0; i < n; i++) {
		struct sample_cand x = c[i];
		size_t j;

		if (i < k) {
			j = i;
			while (j > 0 && cand_before(&c[(j - 1) / 2], &x)) {
				c[j] = c[(j - 1) / 2];
				j = (j - 1) / 2;
			}
			c[j] = x;
			continue;
		}
		if (!cand_before(&x, &c[0]))
			continue;
		c[i] = c[0];
		j = 0;
		for (;;) {
			size_t l = 2 * j + 1, r = l + 1, m = j;
			const struct sample_cand *worst = &x;

			if (l < k && cand_before(worst, &c[l]))
				m = l, worst = &c[l];
			if (r < k && cand_before(worst, &c[r]))
				m = r;
			if (m == j)
				break;
			c[j] = c[m];
			j = m;
		}
		c[j] = x;
	}
	qsort(c, k, sizeof(*c), cand_cmp);
}

/* p = softmax(logit / temp) over C[0..N), C sorted (C[0] the largest). */
static void softmax(struct sample_cand *c, size_t n, float temp)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++) {
		c[i].p = expf((c[i].logit - c[0].logit) / temp);
		sum += c[i].p;
	}
	for (size_t i = 0; i < n; i++)
		c[i].p = (float)(c[i].p / sum);
}

const struct sample_cand *sampler_candidates(struct sampler *s, const float *logits, size_t *n_out)
{
	struct sample_cand *c = s->cand;
	size_t n = (size_t)s->n_vocab, k;
	const struct sample_params *p = &s->p;

	for (size_t i = 0; i < n; i++)
		c[i] = (struct sample_cand){ (int32_t)i, logits[i], 0.0f };
	if (p->repeat_penalty != 1.0f && s->hist_n) {
		/* each distinct id once (llama.cpp counts occurrences but the
		 * repeat penalty applies once per id) */
		if (++s->call == 0) {
			memset(s->stamp, 0, (size_t)s->n_vocab * sizeof(*s->stamp));
			s->call = 1;
		}
		for (size_t i = 0; i < s->hist_n; i++) {
			int32_t id = s->hist[i];

			if (id < 0 || id >= s->n_vocab || s->stamp[id] == s->call)
				continue;
			s->stamp[id] = s->call;
			if (c[id].logit <= 0)
				c[id].logit *= p->repeat_penalty;
			else
				c[id].logit /= p->repeat_penalty;
		}
	}
	if (s->mask) {
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			if (s->mask[i])
				c[m++] = c[i];
		n = m ? m : 1;  /* the caller promises one; never an empty set */
	}
	if (p->temp <= 0) {
		size_t best = 0;

		for (size_t i = 1; i < n; i++)
			if (c[i].logit > c[best].logit)
				best = i;
		c[0] = c[best];
		c[0].p = 1.0f;
		*n_out = 1;
		return c;
	}
	k = p->top_k > 0 && (size_t)p->top_k < n ? (size_t)p->top_k : n;
	if (k < n)
		select_top_k(c, n, k);
	else
		qsort(c, n, sizeof(*c), cand_cmp);
	n = k;
	if (p->top_p < 1.0f) {
		double cum = 0;
		size_t keep = n;

		softmax(c, n, 1.0f);
		for (size_t i = 0; i < n; i++) {
			cum += c[i].p;
			if (cum >= p->top_p) {
				keep = i + 1;
				break;
			}
		}
		n = keep;
	}
	if (p->min_p > 0) {
		float min_logit = c[0].logit + logf(p->min_p);
		size_t keep = 1;

		while (keep < n && c[keep].logit >= min_logit)
			keep++;
		n = keep;
	}
	softmax(c, n, p->temp);
	*n_out = n;
	return c;
}

void sampler_set_mask(struct sampler *s, const uint8_t *allowed)
{
	s->mask = allowed;
}

int32_t sampler_sample(struct sampler *s, const float *logits)
{
	size_t n;
	const struct sample_cand *c = sampler_candidates(s, logits, &n);
	double u, cum = 0;

	if (s->p.temp <= 0)
		return c[0].id;
	/* 53 random bits: a uniform double in [0, 1) */
	u = (double)(next_u64(s) >> 11) * 0x1.0p-53;
	for (size_t i = 0; i < n; i++) {
		cum += c[i].p;
		if (u < cum)
			return c[i].id;
	}
	return c[n - 1].id;
}

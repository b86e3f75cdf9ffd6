/* test_sample - the sampling chain keeps exactly the intended sets.
 * Expected sets are worked out by hand from the logits below (written as
 * logs of chosen probabilities, so the softmax is known exactly). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/sample.h"
#include "tap.h"

static struct sample_params plain(void)
{
	struct sample_params p;

	sample_params_default(&p);
	p.temp = 1.0f;
	p.top_k = 0;
	p.top_p = 1.0f;
	p.min_p = 0.0f;
	return p;
}

/* The candidate ids, in order, as "a,b,c". */
static const char *ids(struct sampler *s, const float *logits)
{
	static char buf[256];
	size_t n, len = 0;
	const struct sample_cand *c = sampler_candidates(s, logits, &n);

	buf[0] = 0;
	for (size_t i = 0; i < n && len < sizeof(buf) - 16; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%d", i ? "," : "", c[i].id);
	return buf;
}

static struct sampler *make(const struct sample_params *p, int n_vocab)
{
	struct sampler *s = NULL;
	struct lm_error err = { 0 };

	if (sampler_new(&s, p, n_vocab, &err)) {
		printf("Bail out! %s\n", err.msg);
		exit(1);
	}
	return s;
}

int main(void)
{
	/* probabilities 0.5, 0.25, 0.15, 0.1 */
	const float probs4[4] = { logf(0.5f), logf(0.25f), logf(0.15f), logf(0.1f) };
	/* the same, shuffled over ids: id 3 is 0.5, id 0 0.25, id 2 0.15, id 1 0.1 */
	const float shuf[4] = { logf(0.25f), logf(0.1f), logf(0.15f), logf(0.5f) };
	struct sample_params p;
	struct sampler *s;
	size_t n;
	const struct sample_cand *c;

	/* top-k: the k highest logits, ties to the lower id */
	{
		const float lg[6] = { 1, 5, 3, 5, 2, 0 };

		p = plain();
		p.top_k = 3;
		s = make(&p, 6);
		is_str(ids(s, lg), "1,3,2", "top-k 3 keeps the three best, tie by id");
		sampler_free(s);
		p.top_k = 1;
		s = make(&p, 6);
		is_str(ids(s, lg), "1", "top-k 1 keeps the best (lower id on a tie)");
		sampler_free(s);
		p.top_k = 0;
		s = make(&p, 6);
		is_str(ids(s, lg), "1,3,2,4,0,5", "top-k 0 keeps everything, sorted");
		sampler_free(s);
	}

	/* top-p: shortest prefix with cumulative probability >= p */
	p = plain();
	p.top_p = 0.7f;
	s = make(&p, 4);
	is_str(ids(s, shuf), "3,0", "top-p 0.7: 0.5 + 0.25");
	c = sampler_candidates(s, shuf, &n);
	is_near(c[0].p, 0.5 / 0.75, 1e-6, "renormalised over what is kept");
	sampler_free(s);
	p.top_p = 0.8f;
	s = make(&p, 4);
	is_str(ids(s, shuf), "3,0,2", "top-p 0.8: 0.5 + 0.25 + 0.15");
	sampler_free(s);
	p.top_p = 0.4f;
	s = make(&p, 4);
	is_str(ids(s, shuf), "3", "top-p 0.4: the best alone");
	sampler_free(s);

	/* min-p: p >= min_p * p_max */
	p = plain();
	p.min_p = 0.29f;
	s = make(&p, 4);
	is_str(ids(s, probs4), "0,1,2", "min-p 0.29: 0.15 >= 0.145 kept, 0.1 dropped");
	sampler_free(s);
	p.min_p = 0.31f;
	s = make(&p, 4);
	is_str(ids(s, probs4), "0,1", "min-p 0.31: 0.15 < 0.155 dropped");
	sampler_free(s);
	p.min_p = 0.9f;
	s = make(&p, 4);
	is_str(ids(s, probs4), "0", "min-p 0.9: the best alone");
	sampler_free(s);

	/* the chain in order: top-k 3, then top-p over the renormalised three
	 * (0.5, 0.25, 0.15)/0.9: cumulative 0.556, 0.833, 1 */
	p = plain();
	p.top_k = 3;
	p.top_p = 0.8f;
	s = make(&p, 4);
	is_str(ids(s, probs4), "0,1", "top-k then top-p on the renormalised set");
	sampler_free(s);

	/* temperature: softmax(logits / T) */
	{
		const float lg[2] = { 0.0f, logf(4.0f) };

		p = plain();
		p.temp = 2.0f;
		s = make(&p, 2);
		c = sampler_candidates(s, lg, &n);
		is_int(n, 2, "temperature keeps both");
		is_int(c[0].id, 1, "best first");
		is_near(c[0].p, 2.0 / 3.0, 1e-6, "T = 2: p = 2/3");
		is_near(c[1].p, 1.0 / 3.0, 1e-6, "T = 2: p = 1/3");
		sampler_free(s);
	}

	/* repeat penalty: positive logits divided, negative multiplied, each
	 * distinct id once, only the last N */
	{
		const float lg[4] = { 2.0f, -2.0f, 1.0f, 0.5f };

		p = plain();
		p.repeat_penalty = 2.0f;
		p.repeat_last_n = 3;
		s = make(&p, 4);
		sampler_accept(s, 3);
		sampler_accept(s, 0);
		sampler_accept(s, 1);
		sampler_accept(s, 0);     /* pushes the 3 out of the window */
		c = sampler_candidates(s, lg, &n);
		is_str(ids(s, lg), "0,2,3,1", "penalised order");
		c = sampler_candidates(s, lg, &n);
		is_near(c[0].logit, 1.0, 0, "2 / 2");
		is_near(c[3].logit, -4.0, 0, "-2 * 2");
		is_near(c[2].logit, 0.5, 0, "id 3 left the window");
		sampler_free(s);
		p.temp = 0;
		s = make(&p, 4);
		sampler_accept(s, 0);
		is_int(sampler_sample(s, lg), 0, "greedy: tie 1 = 1 goes to the lower id");
		sampler_free(s);
		p.repeat_penalty = 5.0f;
		s = make(&p, 4);
		sampler_accept(s, 0);
		sampler_accept(s, 2);
		/* 2/5 = 0.4, 1/5 = 0.2 < 0.5 */
		is_int(sampler_sample(s, lg), 3, "greedy after penalising 0 and 2 by 5");
		sampler_free(s);
	}

	/* greedy ignores top-k/p and the generator */
	p = plain();
	p.temp = 0;
	p.top_k = 2;
	s = make(&p, 4);
	is_int(sampler_sample(s, shuf), 3, "greedy picks the arg max");
	sampler_free(s);

	/* seed: repeatable, and draws follow the distribution */
	{
		int32_t a[200], b[200], d[200];
		int counts[4] = { 0 }, same = 1, differ = 0;
		const int n_draw = 40000;

		p = plain();
		p.seed = 1234;
		s = make(&p, 4);
		for (int i = 0; i < 200; i++)
			a[i] = sampler_sample(s, probs4);
		sampler_reset(s);
		for (int i = 0; i < 200; i++)
			b[i] = sampler_sample(s, probs4);
		sampler_free(s);
		p.seed = 1235;
		s = make(&p, 4);
		for (int i = 0; i < 200; i++)
			d[i] = sampler_sample(s, probs4);
		for (int i = 0; i < 200; i++) {
			same &= a[i] == b[i];
			differ += a[i] != d[i];
		}
		ok(same, "same seed, same draws");
		ok(differ > 20, "another seed, other draws (%d of 200 differ)", differ);
		for (int i = 0; i < n_draw; i++)
			counts[sampler_sample(s, probs4)]++;
		sampler_free(s);
		/* 4 standard deviations of a binomial at n = 40000: < 0.01 */
		is_near(counts[0] / (double)n_draw, 0.5, 0.01, "frequency of p = 0.5");
		is_near(counts[1] / (double)n_draw, 0.25, 0.01, "frequency of p = 0.25");
		is_near(counts[2] / (double)n_draw, 0.15, 0.01, "frequency of p = 0.15");
		is_near(counts[3] / (double)n_draw, 0.10, 0.01, "frequency of p = 0.1");
	}

	/* top-k's heap selection against a plain sort on a large vocabulary
	 * with many ties */
	{
		enum { V = 5000, K = 57 };
		float *lg = malloc(V * sizeof(float));
		int32_t *order = malloc(V * sizeof(int32_t));
		int good = 1;

		srand(7);
		for (int i = 0; i < V; i++)
			lg[i] = (float)(rand() % 300) / 10.0f;
		for (int i = 0; i < V; i++)
			order[i] = i;
		/* selection sort of the first K by (logit desc, id asc) */
		for (int i = 0; i < K; i++) {
			int m = i;

			for (int j = i + 1; j < V; j++)
				if (lg[order[j]] > lg[order[m]] ||
				    (lg[order[j]] == lg[order[m]] && order[j] < order[m]))
					m = j;
			int32_t t = order[i];
			order[i] = order[m];
			order[m] = t;
		}
		p = plain();
		p.top_k = K;
		s = make(&p, V);
		c = sampler_candidates(s, lg, &n);
		is_int(n, K, "top-k %d of %d", K, V);
		for (int i = 0; i < K && i < (int)n; i++)
			good &= c[i].id == order[i];
		ok(good, "the heap keeps the same ids in the same order as a sort");
		sampler_free(s);
		free(lg);
		free(order);
	}
	return tap_done();
}

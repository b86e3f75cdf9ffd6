/* sample.h - choosing the next token from a model's logits.
 *
 * The chain is llama.cpp's common sampler in its default order
 * (common/sampling.cpp): repetition penalty, top-k, top-p, min-p,
 * temperature, then a draw from the remaining distribution.  With
 * temperature <= 0 the draw is the arg max after the penalty (greedy).
 *
 *   repeat penalty  every distinct token among the last repeat_last_n
 *                   accepted tokens has its logit divided by the penalty
 *                   when positive, multiplied when negative (1 = off)
 *   top-k           the k tokens of highest logit (k <= 0: all); ties at
 *                   the boundary go to the lower id
 *   top-p           the shortest run of most probable tokens whose
 *                   probabilities sum to at least p (p >= 1: off)
 *   min-p           tokens whose probability is at least min_p times the
 *                   most probable one's (min_p <= 0: off)
 *   temperature     logits divided by temp before the final softmax
 *
 * At least one token always survives.  Probabilities for top-p and min-p
 * are the softmax of the candidates left by the previous steps (as
 * llama.cpp computes them).  The draw uses a xoshiro256** generator
 * seeded from the seed by splitmix64: the same seed, logits and history
 * give the same token on every machine.
 */
#ifndef LMPIPE_SAMPLE_H
#define LMPIPE_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct sample_params {
	float temp;                 /* <= 0: greedy */
	int top_k;                  /* <= 0: off */
	float top_p;                /* >= 1: off */
	float min_p;                /* <= 0: off */
	float repeat_penalty;       /* 1: off */
	int repeat_last_n;          /* history length for the penalty */
	uint64_t seed;
};

/* llama.cpp's defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * repeat penalty 1 (off) over the last 64 tokens, seed 0. */
void sample_params_default(struct sample_params *p);

/* A token still in the running, with its probability among those left. */
struct sample_cand {
	int32_t id;
	float logit;
	float p;
};

struct sampler;

int sampler_new(struct sampler **s, const struct sample_params *params, int n_vocab, struct lm_error *err);
void sampler_free(struct sampler *s);
/* Forget the history and restart the generator from the seed. */
void sampler_reset(struct sampler *s);
/* Record ID as emitted (or part of the prompt), for the repeat penalty. */
void sampler_accept(struct sampler *s, int32_t id);
/* Restrict the next draws to the ids with ALLOWED[id] != 0 (NULL: every
 * id), e.g. those a grammar accepts.  The same as setting the other
 * logits to -inf before the chain, as llama.cpp's grammar sampler does:
 * they never become candidates.  At least one id must be allowed.  The
 * array is read by each call until the mask is changed. */
void sampler_set_mask(struct sampler *s, const uint8_t *allowed);
/* Run the chain (without the draw) on LOGITS (n_vocab floats, not
 * modified): the surviving candidates, most probable first (ties by id),
 * with probabilities after temperature that sum to 1.  Valid until the
 * next call. */
const struct sample_cand *sampler_candidates(struct sampler *s, const float *logits, size_t *n);
/* The next token: the chain and the draw. */
int32_t sampler_sample(struct sampler *s, const float *logits);

#endif

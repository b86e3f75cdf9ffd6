/* perplexity.h - perplexity of a decoder model over a text, as
 * llama-perplexity computes it (llama.cpp tools/perplexity).
 *
 * The text is tokenized once with the model's special tokens (BOS when the
 * vocabulary adds it) and cut into non-overlapping chunks of N_CTX tokens
 * (a tail shorter than N_CTX is dropped).  Each chunk is evaluated on its
 * own, from an empty cache, with its first token replaced by BOS when the
 * vocabulary adds one; the log-probabilities of the tokens of its second
 * half are scored: positions first = N_CTX/2 .. N_CTX-2 predict tokens
 * first+1 .. N_CTX-1.  The estimate is exp(mean NLL) and its uncertainty
 * ppl * sqrt(var(NLL) / (count - 1)), both as llama-perplexity prints them.
 */
#ifndef LMPIPE_PERPLEXITY_H
#define LMPIPE_PERPLEXITY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct decoder;

struct perplexity_result {
	double ppl;          /* exp(mean negative log-likelihood) */
	double err;          /* its standard error */
	uint64_t count;      /* tokens scored */
	int n_chunks;
	size_t n_tokens;     /* tokens of the whole text */
};

/* Called after each chunk with the running estimate. */
typedef void perplexity_progress_fn(int chunk, int n_chunks, double ppl, void *arg);

/* LM_EINVAL when the text has fewer than 2 * N_CTX tokens (llama-perplexity
 * refuses those too) or N_CTX exceeds the decoder's cache. */
int perplexity_run(struct decoder *dec, const char *text, size_t len, int n_ctx,
		   struct perplexity_result *res, perplexity_progress_fn *progress, void *arg,
		   struct lm_error *err);

#endif

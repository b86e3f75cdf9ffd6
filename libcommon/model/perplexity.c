#include "model/perplexity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/decoder.h"
#include "tokenize/tokenizer.h"

/* log p(tok) under softmax(logits): in double around the max, as
 * llama-perplexity's log_softmax. */
static double log_prob(const float *logits, int n_vocab, int32_t tok)
{
	float max = logits[0];
	double sum = 0.0;

	for (int i = 1; i < n_vocab; i++)
		max = logits[i] > max ? logits[i] : max;
	for (int i = 0; i < n_vocab; i++)
		sum += expf(logits[i] - max);
	return (double)(logits[tok] - max) - log(sum);
}

int perplexity_run(struct decoder *dec, const char *text, size_t len, int n_ctx,
		   struct perplexity_result *res, perplexity_progress_fn *progress, void *arg,
		   struct lm_error *err)
{
	const struct tokenizer *tok = decoder_tokenizer(dec);
	struct tok_ids ids = { 0 }, probe = { 0 };
	int n_vocab = decoder_n_vocab(dec), first = n_ctx / 2, add_bos;
	int32_t bos = tokenizer_special(tok, TOK_BOS), *chunk = NULL;
	float *logits = NULL;
	double nll = 0.0, nll2 = 0.0;
	int rc;

	memset(res, 0, sizeof(*res));
	/* llama-perplexity reads its text with -f, which drops one trailing
	 * newline (common/arg.cpp); the same text must give the same tokens */
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (n_ctx < 4 || n_ctx > decoder_n_ctx(dec))
		return lm_fail(err, LM_EINVAL, "a context of %d tokens: it must be 4 .. %d (the "
			       "model's cache)", n_ctx, decoder_n_ctx(dec));
	/* does the vocabulary add BOS?  Encode nothing and look. */
	rc = tokenizer_encode(tok, "", 0, TOK_ADD_SPECIAL, &probe, err);
	if (rc)
		goto out;
	add_bos = bos >= 0 && probe.n > 0 && probe.ids[0] == bos;
	rc = tokenizer_encode(tok, text, len, TOK_ADD_SPECIAL, &ids, err);
	if (rc)
		goto out;
	res->n_tokens = ids.n;
	if (ids.n < 2 * (size_t)n_ctx) {
		rc = lm_fail(err, LM_EINVAL, "the text has %zu tokens; perplexity with a context of %d "
			     "needs at least %d", ids.n, n_ctx, 2 * n_ctx);
		goto out;
	}
	res->n_chunks = (int)(ids.n / (size_t)n_ctx);
	chunk = malloc((size_t)n_ctx * sizeof(*chunk));
	logits = malloc((size_t)n_ctx * (size_t)n_vocab * sizeof(*logits));
	if (!chunk || !logits) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory for %d x %d logits", n_ctx, n_vocab);
		goto out;
	}
	for (int c = 0; c < res->n_chunks; c++) {
		memcpy(chunk, ids.ids + (size_t)c * n_ctx, (size_t)n_ctx * sizeof(*chunk));
		if (add_bos)
			chunk[0] = bos;
		decoder_reset(dec);
		rc = decoder_eval(dec, chunk, n_ctx, logits, 1, err);
		if (rc)
			goto out;
		for (int j = first; j < n_ctx - 1; j++) {
			double lp = log_prob(logits + (size_t)j * n_vocab, n_vocab,
					     ids.ids[(size_t)c * n_ctx + j + 1]);

			nll -= lp;
			nll2 += lp * lp;
		}
		res->count += (uint64_t)(n_ctx - 1 - first);
		if (progress)
			progress(c + 1, res->n_chunks, exp(nll / (double)res->count), arg);
	}
	nll /= (double)res->count;
	nll2 /= (double)res->count;
	res->ppl = exp(nll);
	nll2 -= nll * nll;
	res->err = nll2 > 0 && res->count > 1 ? sqrt(nll2 / (double)(res->count - 1)) * res->ppl : 0.0;
out:
	decoder_reset(dec);
	free(chunk);
	free(logits);
	tok_ids_free(&ids);
	tok_ids_free(&probe);
	return rc;
}

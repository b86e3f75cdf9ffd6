/* fuzz_grammar.c - libFuzzer target for the GBNF parser and matcher: a
 * --grammar file is untrusted text, and so is what a model generates.
 *
 * Input: a grammar, then optionally a NUL byte and a text.  The grammar
 * must compile or fail with a message.  A compiled grammar is run over the
 * text in pieces (so characters split between pieces are exercised), with
 * the vocabulary mask of a small fixed vocabulary taken before each piece;
 * the mask must agree with feeding each allowed token on a fresh state
 * that has seen the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/grammar.h"

static const char *const vocab[] = {
	"a", "b", "ab", " ", "\n", "{", "}", "\"", "0", "12", "\xc3", "\xa9", "\xc3\xa9", "\xe2\x82\xac",
	"\xf0\x9f", "\x98\x80", "-", "(", ")", "[", "]", ",", ":", "true", "null", "\xff",
};
enum { N_VOCAB = sizeof(vocab) / sizeof(vocab[0]), MAX_PIECES = 32, CHECKED_PIECES = 4 };

/* A state that has accepted TEXT[0..N) in the same pieces, or NULL. */
static struct grammar_state *replay(const struct grammar *g, const char *text, const size_t *cut, size_t n_cut)
{
	struct grammar_state *s = NULL;
	struct lm_error err = { 0 };
	size_t at = 0;

	if (grammar_state_new(&s, g, &err))
		return NULL;
	for (size_t i = 0; i < n_cut; i++) {
		if (grammar_accept(s, text + at, cut[i] - at) != 1)
			abort();  /* it was accepted before */
		at = cut[i];
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src = (const char *)data, *text;
	size_t src_len = strnlen(src, size), text_len, len[N_VOCAB], cut[MAX_PIECES], n_cut = 0, at = 0;
	struct lm_error err = { 0 };
	struct grammar *g = NULL;
	struct grammar_state *s = NULL;
	struct grammar_vocab *v = NULL;
	uint8_t allowed[N_VOCAB];

	text = src_len < size ? src + src_len + 1 : src + size;
	text_len = (size_t)(src + size - text);
	if (grammar_parse(&g, src, src_len, "fuzz", &err)) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < N_VOCAB; i++)
		len[i] = strlen(vocab[i]);
	if (grammar_vocab_new(&v, vocab, len, N_VOCAB, &err) || grammar_state_new(&s, g, &err))
		goto out;
	while (at < text_len && n_cut < MAX_PIECES) {
		/* piece lengths 1, 2, 3, 1, 2, 3, ... */
		size_t piece = 1 + n_cut % 3;
		long n_allowed;
		int r;

		if (piece > text_len - at)
			piece = text_len - at;
		n_allowed = grammar_vocab_allowed(v, s, allowed);
		if (n_allowed < 0)
			goto out;
		for (size_t t = 0; t < N_VOCAB && n_cut < CHECKED_PIECES; t++) {
			struct grammar_state *fresh = replay(g, text, cut, n_cut);

			if (!fresh)
				goto out;
			r = grammar_accept(fresh, vocab[t], len[t]);
			grammar_state_free(fresh);
			if (r >= 0 && r != allowed[t])
				abort();
		}
		r = grammar_accept(s, text + at, piece);
		if (r < 0)
			goto out;
		if (!r)
			break;
		at += piece;
		cut[n_cut++] = at;
		if (grammar_done(s) && !grammar_can_end(s))
			abort();
	}
out:
	grammar_state_free(s);
	grammar_vocab_free(v);
	grammar_free(g);
	return 0;
}

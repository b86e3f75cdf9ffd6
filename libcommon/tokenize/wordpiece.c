/* wordpiece.c - greedy longest-match-first WordPiece (see wordpiece.h). */
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokcache.h"
#include "tokenize/tokenizer_impl.h"
#include "tokenize/wordpiece.h"
#include "utf8.h"

/* The entries are looked up by the piece's own bytes, without its prefix:
 * PIECES[0] finds the word starts, PIECES[1] the continuations, each the
 * vocabulary itself when its prefix is empty, else a table of the entries
 * that carry the prefix, keyed by the text after it (OWNED). */
struct wordpiece {
	const struct vocab *vocab;
	char *word_prefix, *cont_prefix;
	size_t word_prefix_len, cont_prefix_len;
	int32_t unk_id;
	size_t max_chars;
	uint64_t cache_owner;     /* tokcache */
	const struct vocab *pieces[2];
	struct vocab *owned[2];
};

/* The findable entries of V that start with PREFIX, by the rest of their
 * text. */
static int prefixed_table(struct vocab **out, const struct vocab *v, const char *prefix, size_t plen,
			  struct lm_error *err)
{
	struct vocab *t;
	size_t bytes = 0, n = vocab_size(v);
	int rc;

	if ((rc = vocab_new(&t, err)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		size_t len;

		if (vocab_text(v, (int32_t)i, &len))
			bytes += len + 1;
	}
	if ((rc = vocab_reserve(t, n, bytes, err))) {
		vocab_free(t);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *text = vocab_text(v, (int32_t)i, &len);

		if (!text || len <= plen || memcmp(text, prefix, plen) != 0 ||
		    vocab_find(v, text, len) != (int32_t)i)
			continue;
		if ((rc = vocab_set(t, (int32_t)i, text + plen, len - plen, 0, vocab_token_type(v, (int32_t)i),
				    err))) {
			vocab_free(t);
			return rc;
		}
	}
	*out = t;
	return 0;
}

int wordpiece_new(struct wordpiece **wp, const struct vocab *vocab, const char *word_prefix,
		  const char *cont_prefix, int32_t unk_id, size_t max_chars, struct lm_error *err)
{
	struct wordpiece *w = calloc(1, sizeof *w);

	*wp = NULL;
	if (!w || !(w->word_prefix = strdup(word_prefix ? word_prefix : "")) ||
	    !(w->cont_prefix = strdup(cont_prefix ? cont_prefix : ""))) {
		wordpiece_free(w);
		return lm_fail(err, LM_ENOMEM, "wordpiece: out of memory");
	}
	w->vocab = vocab;
	w->word_prefix_len = strlen(w->word_prefix);
	w->cont_prefix_len = strlen(w->cont_prefix);
	w->unk_id = unk_id;
	w->max_chars = max_chars;
	w->cache_owner = tokcache_owner();
	for (int k = 0; k < 2; k++) {
		const char *pre = k ? w->cont_prefix : w->word_prefix;
		size_t plen = k ? w->cont_prefix_len : w->word_prefix_len;
		int rc;

		w->pieces[k] = vocab;
		if (plen && (rc = prefixed_table(&w->owned[k], vocab, pre, plen, err))) {
			wordpiece_free(w);
			return rc;
		}
		if (plen)
			w->pieces[k] = w->owned[k];
	}
	*wp = w;
	return 0;
}

void wordpiece_free(struct wordpiece *w)
{
	if (!w)
		return;
	free(w->word_prefix);
	free(w->cont_prefix);
	vocab_free(w->owned[0]);
	vocab_free(w->owned[1]);
	free(w);
}

static size_t char_len(const char *s, size_t n)
{
	uint32_t cp;
	int k = utf8_decode(s, n, &cp);

	return k ? (size_t)k : 1;
}

static int push_unk(const struct wordpiece *w, struct tok_ids *out, struct lm_error *err)
{
	if (w->unk_id < 0)
		return lm_fail(err, LM_EINVAL, "wordpiece: word has no pieces and there is no unknown token");
	return tok_ids_push(out, w->unk_id, err);
}

/* WHOLE_MISSED: the whole word is known not to be a word-start entry. */
static int encode_word(const struct wordpiece *w, const char *word, size_t len, int whole_missed,
		       struct tok_ids *out, struct lm_error *err)
{
	size_t chars = 0, n0 = out->n, bstack[130], *bound = bstack;
	int rc = 0;

	if (!len)
		return 0;
	for (size_t i = 0; i < len; i += char_len(word + i, len - i))
		chars++;
	if (chars > w->max_chars)
		return push_unk(w, out, err);
	if (chars + 1 > sizeof bstack / sizeof *bstack && !(bound = malloc((chars + 1) * sizeof *bound))) {
		rc = lm_fail(err, LM_ENOMEM, "wordpiece: out of memory");
		goto out;
	}
	chars = 0;
	for (size_t i = 0; i < len; i += char_len(word + i, len - i))
		bound[chars++] = i;
	bound[chars] = len;
	for (size_t s = 0, e; s < chars; s = e) {
		const struct vocab *v = w->pieces[s != 0];
		size_t longest = vocab_longest(v);
		int32_t id = -1;

		e = s == 0 && whole_missed ? chars - 1 : chars;
		/* Longer than every entry: no match, skip the lookups. */
		for (; e > s && bound[e] - bound[s] > longest; e--)
			;
		for (; e > s; e--) {
			id = vocab_find(v, word + bound[s], bound[e] - bound[s]);
			if (id >= 0)
				break;
		}
		if (id < 0) {
			/* models/wordpiece: one unusable position makes the whole word unknown. */
			out->n = n0;
			rc = push_unk(w, out, err);
			goto out;
		}
		if ((rc = tok_ids_push(out, id, err)))
			goto out;
	}
out:
	if (bound != bstack)
		free(bound);
	if (rc)
		out->n = n0;
	return rc;
}

/* Most words of most text are one vocabulary entry: looking the whole
 * word up first settles them with one lookup, and leaves the piece cache
 * to the words that take work. */
int wordpiece_encode(const struct wordpiece *w, const char *word, size_t len, struct tok_ids *out,
		     struct lm_error *err)
{
	struct tokcache *c = NULL;
	const int32_t *ids;
	size_t n, n0 = out->n;
	int rc, whole_missed = 0;

	if (!len)
		return 0;
	if (len <= w->max_chars && len <= vocab_longest(w->pieces[0])) {
		int32_t id = vocab_find(w->pieces[0], word, len);

		if (id >= 0)
			return tok_ids_push(out, id, err);
		whole_missed = 1;
	}
	if (len <= TOKCACHE_PIECE_MAX && (c = tokcache_get(w->cache_owner)) &&
	    (ids = tokcache_find(c, word, len, &n))) {
		for (size_t k = 0; k < n; k++)
			if ((rc = tok_ids_push(out, ids[k], err))) {
				out->n = n0;
				return rc;
			}
		return 0;
	}
	if ((rc = encode_word(w, word, len, whole_missed, out, err)))
		return rc;
	if (c && out->ids)
		tokcache_put(c, word, len, out->ids + n0, out->n - n0);
	return 0;
}

static int wordpiece_run(const void *state, const char *piece, size_t len, struct tok_ids *out,
			 struct lm_error *err)
{
	return wordpiece_encode(state, piece, len, out, err);
}

static void wordpiece_release(void *state)
{
	wordpiece_free(state);
}

void wordpiece_attach(struct tokenizer *tok, struct wordpiece *w)
{
	tok->model.run = wordpiece_run;
	tok->model.free = wordpiece_release;
	tok->model.state = w;
}

/* wordpiece.c - greedy longest-match-first WordPiece (see wordpiece.h). */
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokcache.h"
#include "tokenize/tokenizer_impl.h"
#include "tokenize/wordpiece.h"
#include "utf8.h"

struct wordpiece {
	const struct vocab *vocab;
	char *word_prefix, *cont_prefix;
	size_t word_prefix_len, cont_prefix_len;
	int32_t unk_id;
	size_t max_chars;
	uint64_t cache_owner;     /* tokcache */
};

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
	*wp = w;
	return 0;
}

void wordpiece_free(struct wordpiece *w)
{
	if (!w)
		return;
	free(w->word_prefix);
	free(w->cont_prefix);
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

static int encode_word(const struct wordpiece *w, const char *word, size_t len, struct tok_ids *out,
		       struct lm_error *err)
{
	size_t chars = 0, plen, n0 = out->n, bstack[130], *bound = bstack;
	char stack[512], *buf = stack;
	int rc = 0;

	if (!len)
		return 0;
	for (size_t i = 0; i < len; i += char_len(word + i, len - i))
		chars++;
	if (chars > w->max_chars)
		return push_unk(w, out, err);
	plen = w->word_prefix_len > w->cont_prefix_len ? w->word_prefix_len : w->cont_prefix_len;
	if (chars + 1 > sizeof bstack / sizeof *bstack && !(bound = malloc((chars + 1) * sizeof *bound))) {
		rc = lm_fail(err, LM_ENOMEM, "wordpiece: out of memory");
		goto out;
	}
	if (len + plen > sizeof stack && !(buf = malloc(len + plen))) {
		rc = lm_fail(err, LM_ENOMEM, "wordpiece: out of memory");
		goto out;
	}
	chars = 0;
	for (size_t i = 0; i < len; i += char_len(word + i, len - i))
		bound[chars++] = i;
	bound[chars] = len;
	for (size_t s = 0, e; s < chars; s = e) {
		const char *pre = s ? w->cont_prefix : w->word_prefix;
		size_t pre_len = s ? w->cont_prefix_len : w->word_prefix_len;
		int32_t id = -1;

		memcpy(buf, pre, pre_len);
		memcpy(buf + pre_len, word + bound[s], len - bound[s]);
		/* Longer than every entry: no match, skip the lookups. */
		for (e = chars; e > s && pre_len + bound[e] - bound[s] > vocab_longest(w->vocab); e--)
			;
		for (; e > s; e--) {
			id = vocab_find(w->vocab, buf, pre_len + bound[e] - bound[s]);
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
	if (buf != stack)
		free(buf);
	if (bound != bstack)
		free(bound);
	if (rc)
		out->n = n0;
	return rc;
}

int wordpiece_encode(const struct wordpiece *w, const char *word, size_t len, struct tok_ids *out,
		     struct lm_error *err)
{
	struct tokcache *c = NULL;
	const int32_t *ids;
	size_t n, n0 = out->n;
	int rc;

	if (len <= TOKCACHE_PIECE_MAX && (c = tokcache_get(w->cache_owner)) &&
	    (ids = tokcache_find(c, word, len, &n))) {
		for (size_t k = 0; k < n; k++)
			if ((rc = tok_ids_push(out, ids[k], err))) {
				out->n = n0;
				return rc;
			}
		return 0;
	}
	if ((rc = encode_word(w, word, len, out, err)))
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

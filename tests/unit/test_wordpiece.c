/* test_wordpiece.c - greedy longest-match-first WordPiece (wordpiece.h).
 * Expected splits worked out by hand on the toy vocabularies below. */
#include <string.h>

#include "tap.h"
#include "tokenize/vocab.h"
#include "tokenize/wordpiece.h"

static struct vocab *make_vocab(const char *const *toks)
{
	struct vocab *v;

	vocab_new(&v, NULL);
	for (int i = 0; toks[i]; i++)
		vocab_set(v, i, toks[i], strlen(toks[i]), 0, VOCAB_NORMAL, NULL);
	return v;
}

static int enc(const struct wordpiece *w, const char *word, const int32_t *want, size_t n)
{
	struct lm_error err = { 0 };
	struct tok_ids ids = { 0 };
	int ok;

	if (wordpiece_encode(w, word, strlen(word), &ids, &err)) {
		diag("error: %s", err.msg);
		return 0;
	}
	ok = ids.n == n && (!n || !memcmp(ids.ids, want, n * sizeof *want));
	if (!ok)
		for (size_t i = 0; i < ids.n; i++)
			diag("got[%zu] = %d", i, ids.ids[i]);
	tok_ids_free(&ids);
	return ok;
}

int main(void)
{
	static const char *const hf[] = {
		"[UNK]", "un", "##aff", "##able", "u", "##n", "##a", "##ff", "aff",
		"\xc3\xa9", "##\xc3\xa9", "una", NULL,
	};
	static const char *const gg[] = { "[UNK]", "\xe2\x96\x81" "un", "aff", "able", "\xe2\x96\x81" "a", NULL };
	struct vocab *v = make_vocab(hf), *g = make_vocab(gg);
	struct wordpiece *w, *wg, *wshort, *wnounk;
	struct lm_error err = { 0 };
	struct tok_ids ids = { 0 };

	ok(!wordpiece_new(&w, v, "", "##", 0, 100, &err), "new (tokenizer.json layout)");
	ok(!wordpiece_new(&wg, g, "\xe2\x96\x81", "", 0, 100, &err), "new (GGUF layout)");
	ok(!wordpiece_new(&wshort, v, "", "##", 0, 5, &err), "new with max 5 chars");
	ok(!wordpiece_new(&wnounk, v, "", "##", -1, 100, &err), "new without unk");

	/* "unaffable": longest first entry is "una" (11), then from "ffable":
	 * "##ff" (7), then "##able" (3). */
	ok(enc(w, "unaffable", (const int32_t[]){ 11, 7, 3 }, 3), "unaffable -> una ##ff ##able");
	ok(enc(w, "affable", (const int32_t[]){ 8, 3 }, 2), "affable -> aff ##able");
	ok(enc(w, "unx", (const int32_t[]){ 0 }, 1), "an unmatched position makes the word [UNK]");
	ok(enc(w, "un", (const int32_t[]){ 1 }, 1), "a whole-word entry");
	ok(enc(w, "\xc3\xa9\xc3\xa9\xc3\xa9", (const int32_t[]){ 9, 10, 10 }, 3),
	   "UTF-8 characters are never split");
	ok(enc(wshort, "unaff", (const int32_t[]){ 11, 7 }, 2), "5 characters: split");
	ok(enc(wshort, "unaffa", (const int32_t[]){ 0 }, 1), "6 characters > max: [UNK]");
	ok(enc(wshort, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", (const int32_t[]){ 9, 10, 10, 10, 10 }, 5),
	   "max counts characters, not bytes");
	ok(enc(wg, "unaffable", (const int32_t[]){ 1, 2, 3 }, 3), "GGUF: \xe2\x96\x81un aff able");
	ok(enc(wg, "ab", (const int32_t[]){ 0 }, 1), "GGUF: no piece for b -> [UNK]");
	ok(enc(w, "", NULL, 0), "empty word: nothing");
	is_int(wordpiece_encode(wnounk, "zz", 2, &ids, &err), LM_EINVAL, "no unk token: error");
	is_int(ids.n, 0, "and nothing appended");

	wordpiece_free(w);
	wordpiece_free(wg);
	wordpiece_free(wshort);
	wordpiece_free(wnounk);
	vocab_free(v);
	vocab_free(g);
	tok_ids_free(&ids);
	return tap_done();
}

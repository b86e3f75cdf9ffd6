/* test_spm.c - SentencePiece-style BPE by scores and by merges (spm.h).
 * Expected merges worked out by hand on the toy vocabularies below. */
#include <string.h>

#include "tap.h"
#include "tokenize/spm.h"
#include "tokenize/vocab.h"

struct piece {
	const char *text;
	float score;
};

static struct vocab *make_vocab(const struct piece *p)
{
	struct vocab *v;

	vocab_new(&v, NULL);
	for (int i = 0; p[i].text; i++)
		vocab_set(v, i, p[i].text, strlen(p[i].text), p[i].score,
			  p[i].text[0] == '<' && strlen(p[i].text) == 6 ? VOCAB_BYTE : VOCAB_NORMAL, NULL);
	return v;
}

static int enc(const struct spm *s, const char *text, const int32_t *want, size_t n)
{
	struct lm_error err = { 0 };
	struct tok_ids ids = { 0 };
	int ok;

	if (spm_encode(s, text, strlen(text), &ids, &err)) {
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
	static const struct piece sp[] = {
		{ "<unk>", 0 }, { "a", -1 }, { "b", -1 }, { "c", -1 }, { "ab", -3 }, { "bc", -1 },
		{ "abc", -5 }, { "aa", -2 }, { "<0x64>", 0 }, { "<0xC3>", 0 }, { "<0xA9>", 0 },
		{ "\xe2\x96\x81" "a", -0.5f }, { "\xe2\x96\x81", -4 }, { NULL, 0 },
	};
	struct vocab *v = make_vocab(sp), *m;
	struct spm_config c = { .mode = SPM_BY_SCORE, .unk_id = 0 };
	struct lm_error err = { 0 };
	struct spm *s, *ms, *mfuse, *mnofuse, *mignore, *maff;

	ok(!spm_new(&s, v, &c, &err), "new by score");
	/* abc: bigrams ab (-3), bc (-1): bc first, then a+bc = abc (-5). */
	ok(enc(s, "abc", (const int32_t[]){ 6 }, 1), "abc: bc merges first, then abc");
	/* abd: ab merges, d is no piece -> its byte token <0x64>. */
	ok(enc(s, "abd", (const int32_t[]){ 4, 8 }, 2), "abd: ab + byte fallback <0x64>");
	/* aaa: two equal bigrams aa: the left one merges. */
	ok(enc(s, "aaa", (const int32_t[]){ 7, 1 }, 2), "aaa: ties go to the leftmost pair");
	ok(enc(s, "\xc3\xa9", (const int32_t[]){ 9, 10 }, 2), "e-acute: two byte tokens");
	ok(enc(s, "\xe2\x96\x81" "a\xe2\x96\x81", (const int32_t[]){ 11, 12 }, 2), "U+2581 pieces");
	ok(enc(s, "z", (const int32_t[]){ 0 }, 1), "no byte token: unk");
	ok(enc(s, "", NULL, 0), "empty: nothing");
	/* No entry holds U+2581 after another character, so words go one by
	 * one: ▁a = 11 (-0.5) each time; ▁abc: ▁a (-0.5), then bc (-1). */
	ok(enc(s, "\xe2\x96\x81" "a\xe2\x96\x81" "a\xe2\x96\x81" "abc",
	       (const int32_t[]){ 11, 11, 11, 5 }, 4), "words: ▁a ▁a ▁a+bc");
	ok(enc(s, "\xe2\x96\x81" "a\xe2\x96\x81" "a\xe2\x96\x81" "abc",
	       (const int32_t[]){ 11, 11, 11, 5 }, 4), "words again (cached): same ids");
	{
		/* "a▁" joins words: ▁ a ▁ b -> a▁ (-0.5) merges across the word
		 * start, before ▁b (-2) could; then nothing: ▁, a▁, b. */
		static const struct piece jp[] = {
			{ "<unk>", 0 }, { "a", -1 }, { "b", -1 }, { "\xe2\x96\x81", -4 },
			{ "a\xe2\x96\x81", -0.5f }, { "\xe2\x96\x81" "b", -2 }, { NULL, 0 },
		};
		struct vocab *jv = make_vocab(jp);
		struct spm *js;

		ok(!spm_new(&js, jv, &c, &err), "new by score, an entry joins words");
		ok(enc(js, "\xe2\x96\x81" "a\xe2\x96\x81" "b", (const int32_t[]){ 3, 4, 2 }, 3),
		   "a merge across words when an entry spans them");
		spm_free(js);
		vocab_free(jv);
	}

	/* By merges (HF BPE): ranks b+c 0, a+bc 1, a+b 2. */
	static const struct piece mp[] = {
		{ "<unk>", 0 }, { "a", 0 }, { "b", 0 }, { "c", 0 }, { "ab", 0 }, { "bc", 0 }, { "abc", 0 },
		{ "<0xC3>", 0 }, { "<0xA9>", 0 }, { "##b", 0 }, { "a##b", 0 }, { NULL, 0 },
	};
	m = make_vocab(mp);
	vocab_add_merge(m, 2, 3, 5, 0, NULL);
	vocab_add_merge(m, 1, 5, 6, 1, NULL);
	vocab_add_merge(m, 1, 2, 4, 2, NULL);
	vocab_add_merge(m, 1, 9, 10, 3, NULL);
	c = (struct spm_config){ .mode = SPM_BY_MERGES, .unk_id = 0, .byte_fallback = 1, .fuse_unk = 1 };
	ok(!spm_new(&ms, m, &c, &err), "new by merges, byte_fallback");
	c.byte_fallback = 0;
	ok(!spm_new(&mfuse, m, &c, &err), "new by merges, fuse_unk");
	c.fuse_unk = 0;
	ok(!spm_new(&mnofuse, m, &c, &err), "new by merges, no fuse");
	c.ignore_merges = 1;
	ok(!spm_new(&mignore, m, &c, &err), "new by merges, ignore_merges");
	c = (struct spm_config){ .mode = SPM_BY_MERGES, .unk_id = 0, .cont_prefix = "##" };
	ok(!spm_new(&maff, m, &c, &err), "new by merges, continuing_subword_prefix");
	ok(enc(ms, "abc", (const int32_t[]){ 6 }, 1), "abc: b+c (rank 0) then a+bc");
	ok(enc(ms, "ab", (const int32_t[]){ 4 }, 1), "ab: rank 2");
	ok(enc(ms, "ab\xc3\xa9", (const int32_t[]){ 4, 7, 8 }, 3), "unknown char -> <0xNN> bytes");
	ok(enc(mfuse, "axyb", (const int32_t[]){ 1, 0, 2 }, 3), "fuse_unk: one unk for xy");
	ok(enc(mnofuse, "axyb", (const int32_t[]){ 1, 0, 0, 2 }, 4), "no fuse: one unk each");
	ok(enc(mignore, "bc", (const int32_t[]){ 5 }, 1), "ignore_merges: a whole-piece entry");
	ok(enc(maff, "ab", (const int32_t[]){ 10 }, 1), "##-prefixed continuation merges a+##b");

	spm_free(s);
	spm_free(ms);
	spm_free(mfuse);
	spm_free(mnofuse);
	spm_free(mignore);
	spm_free(maff);
	vocab_free(v);
	vocab_free(m);
	return tap_done();
}

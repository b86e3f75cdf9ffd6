/* test_unigram.c - Viterbi segmentation (unigram.h), paths scored by hand. */
#include <string.h>

#include "tap.h"
#include "tokenize/unigram.h"
#include "tokenize/vocab.h"

static const char *const toks[] = {
	"<unk>", "a", "b", "ab", "c", "abc", "bc", "d", "<0x78>", "<0x79>", "e", "de", NULL,
};
static const double scores[] = { 0, -1, -2, -2.5, -3, -7, -4, -3, -1, -1, -1, -2 };

static int enc(const struct unigram *u, const char *text, const int32_t *want, size_t n)
{
	struct lm_error err = { 0 };
	struct tok_ids ids = { 0 };
	int ok;

	if (unigram_encode(u, text, strlen(text), &ids, &err)) {
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
	struct lm_error err = { 0 };
	struct unigram *u, *ub, *unf, *bad;
	struct vocab *v;
	size_t n = sizeof scores / sizeof *scores;

	vocab_new(&v, NULL);
	for (size_t i = 0; i < n; i++)
		vocab_set(v, (int32_t)i, toks[i], strlen(toks[i]), (float)scores[i], VOCAB_NORMAL, NULL);
	ok(!unigram_new(&u, v, scores, n, 0, 0, 1, &err), "new");
	ok(!unigram_new(&ub, v, scores, n, 0, 1, 1, &err), "new with byte_fallback");
	ok(!unigram_new(&unf, v, scores, n, 0, 0, 0, &err), "new without fuse_unk");
	is_int(unigram_new(&bad, v, scores, n, 99, 0, 1, &err), LM_EINVAL, "unk id outside: refused");

	/* abc: a+b+c = -6, ab+c = -5.5, a+bc = -5, abc = -7: a+bc wins. */
	ok(enc(u, "abc", (const int32_t[]){ 1, 6 }, 2), "abc -> a bc (-5)");
	/* ab: ab = -2.5 beats a+b = -3. */
	ok(enc(u, "ab", (const int32_t[]){ 3 }, 1), "ab -> ab (-2.5)");
	/* de: de = -2 vs d+e = -4. */
	ok(enc(u, "de", (const int32_t[]){ 11 }, 1), "de -> de");
	/* x, z are unknown: unk score = min(-7) - 10 = -17 each; fused. */
	ok(enc(u, "abzz", (const int32_t[]){ 3, 0 }, 2), "ab + one fused unk for zz");
	ok(enc(unf, "abzz", (const int32_t[]){ 3, 0, 0 }, 3), "without fuse_unk: one unk per char");
	ok(enc(u, "z\xc3\xa9" "a", (const int32_t[]){ 0, 1 }, 2), "a multi-byte char is one unk");
	ok(enc(ub, "xy", (const int32_t[]){ 8, 9 }, 2), "byte_fallback: fused xy -> <0x78> <0x79>");
	ok(enc(ub, "xz", (const int32_t[]){ 0 }, 1), "byte_fallback without <0x7A>: unk");
	ok(enc(u, "", NULL, 0), "empty: nothing");
	unigram_free(u);
	unigram_free(ub);
	unigram_free(unf);

	/* A tie: ab = -3 and a + b = -3; the first candidate found (ab, from
	 * position 0) is kept. */
	{
		static const double tie[] = { 0, -1, -2, -3 };

		ok(!unigram_new(&u, v, tie, 4, 0, 0, 1, &err), "new (tie)");
		ok(enc(u, "ab", (const int32_t[]){ 3 }, 1), "tie keeps the earlier candidate");
		unigram_free(u);
	}
	vocab_free(v);
	return tap_done();
}

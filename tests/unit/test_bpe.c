/* test_bpe.c - byte-level BPE merge loop and the GPT-2 byte mapping. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tokenize/bpe.h"

static int32_t add(struct vocab *v, int32_t id, const char *s)
{
	struct lm_error err;

	if (vocab_set(v, id, s, strlen(s), 0.0f, VOCAB_NORMAL, &err))
		diag("vocab_set: %s", err.msg);
	return id;
}

static void merge(struct vocab *v, const char *l, const char *r, uint32_t rank)
{
	char buf[256];
	struct lm_error err;

	snprintf(buf, sizeof(buf), "%s%s", l, r);
	if (vocab_add_merge(v, vocab_find(v, l, strlen(l)), vocab_find(v, r, strlen(r)),
			    vocab_find(v, buf, strlen(buf)), rank, &err))
		diag("vocab_add_merge: %s", err.msg);
}

/* Encode S and compare with the ids WANT (terminated by -1). */
static void check(const struct bpe *b, const char *s, const int32_t *want, const char *what)
{
	struct tok_ids ids = {0};
	struct lm_error err;
	size_t n = 0;

	while (want[n] >= 0)
		n++;
	int rc = bpe_encode(b, s, strlen(s), &ids, &err);
	ok(rc == 0 && ids.n == n && (n == 0 || memcmp(ids.ids, want, n * sizeof(*want)) == 0),
	   "%s", what);
	if (ids.n != n)
		diag("got %zu ids, want %zu", ids.n, n);
	tok_ids_free(&ids);
}

/* Reference for the random test: symbols as strings, repeatedly merge the
 * leftmost pair with the lowest rank, rescanning everything each round. */
static size_t naive(const struct vocab *v, const char *s, size_t n, int32_t *out)
{
	char **sym = malloc(n * sizeof(*sym));
	size_t k = n;

	for (size_t i = 0; i < n; i++) {
		sym[i] = malloc(n + 1);
		sym[i][0] = s[i];
		sym[i][1] = 0;
	}
	for (;;) {
		uint32_t best = UINT32_MAX, rank;
		size_t bi = 0;
		int32_t res;
		for (size_t i = 0; i + 1 < k; i++) {
			int32_t l = vocab_find(v, sym[i], strlen(sym[i]));
			int32_t r = vocab_find(v, sym[i + 1], strlen(sym[i + 1]));
			if (vocab_merge(v, l, r, &rank, &res) && rank < best) {
				best = rank;
				bi = i;
			}
		}
		if (best == UINT32_MAX)
			break;
		strcat(sym[bi], sym[bi + 1]);
		free(sym[bi + 1]);
		memmove(&sym[bi + 1], &sym[bi + 2], (k - bi - 2) * sizeof(*sym));
		k--;
	}
	for (size_t i = 0; i < k; i++) {
		out[i] = vocab_find(v, sym[i], strlen(sym[i]));
		free(sym[i]);
	}
	free(sym);
	return k;
}

static void random_test(void)
{
	struct vocab *v;
	struct bpe *b;
	struct lm_error err;
	char tok[64][64];
	int nt = 0, bad = 0;
	unsigned seed = 12345;

	vocab_new(&v, &err);
	for (int c = 0; c < 4; c++) {
		tok[nt][0] = (char)('a' + c);
		tok[nt][1] = 0;
		add(v, nt, tok[nt]);
		nt++;
	}
	/* grow a merges list the way training does: each merge joins two
	 * existing tokens into a new one */
	for (uint32_t rank = 0; nt < 64; ) {
		seed = seed * 1103515245u + 12345u;
		int l = (int)((seed >> 16) % (unsigned)nt);
		seed = seed * 1103515245u + 12345u;
		int r = (int)((seed >> 16) % (unsigned)nt);
		char cat[128];
		snprintf(cat, sizeof(cat), "%s%s", tok[l], tok[r]);
		if (strlen(cat) >= 64 || vocab_find(v, cat, strlen(cat)) >= 0)
			continue;
		strcpy(tok[nt], cat);
		add(v, nt, cat);
		merge(v, tok[l], tok[r], rank++);
		nt++;
	}
	bpe_new(&b, v, 0, -1, &err);
	for (int t = 0; t < 200; t++) {
		char s[400];
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 16) % 399;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			s[i] = (char)('a' + (seed >> 16) % 4);
		}
		s[n] = 0;
		int32_t want[400];
		size_t k = naive(v, s, n, want);
		struct tok_ids ids = {0};
		/* twice: the second answer comes from the cache */
		for (int rep = 0; rep < 2; rep++) {
			ids.n = 0;
			if (bpe_encode(b, s, n, &ids, &err) || ids.n != k ||
			    memcmp(ids.ids, want, k * sizeof(*want)) != 0) {
				if (bad++ < 3)
					diag("mismatch on %zu-byte input %.40s...", n, s);
			}
		}
		tok_ids_free(&ids);
	}
	ok(bad == 0, "random merges lists: heap and scan agree with a naive merge loop (200 strings up to 399 bytes)");
	bpe_free(b);
	vocab_free(v);
}

int main(void)
{
	struct vocab *v;
	struct bpe *b;
	struct lm_error err;

	/* GPT-2 encoder.py bytes_to_unicode: '!' stays, ' ' (the 33rd
	 * non-printable byte: 0..32) is U+0120 'Ġ', '\n' (11th) U+010A,
	 * 0xAD (the 68th and last) U+0143. */
	is_int(bpe_byte_to_unicode('!'), 0x21, "'!' maps to itself");
	is_int(bpe_byte_to_unicode(' '), 0x120, "space maps to U+0120");
	is_int(bpe_byte_to_unicode('\n'), 0x10a, "newline maps to U+010A");
	is_int(bpe_byte_to_unicode(0x7f), 0x121, "DEL maps to U+0121");
	is_int(bpe_byte_to_unicode(0xad), 0x143, "soft hyphen maps to U+0143");
	is_int(bpe_byte_to_unicode(0xff), 0xff, "0xFF maps to itself");
	int roundtrip = 1;
	for (int i = 0; i < 256; i++)
		roundtrip &= bpe_unicode_to_byte(bpe_byte_to_unicode((uint8_t)i)) == i;
	ok(roundtrip, "mapping inverts for all 256 bytes");
	is_int(bpe_unicode_to_byte(0x144), -1, "U+0144 is outside the mapping");
	is_int(bpe_unicode_to_byte(' '), -1, "a raw space is outside the mapping");
	char out[16];
	is_int(bpe_unmap("\xc4\xa0hi\xc4\x8a", 6, out), 4, "unmap \"Ġhi\\u010a\" is 4 bytes");
	is_mem(out, " hi\n", 4, "unmap gives \" hi\\n\"");
	is_int(bpe_unmap("a b", 3, out), -1, "unmap refuses a raw space");
	is_int(bpe_unmap("\xc4", 1, out), -1, "unmap refuses truncated UTF-8");

	/* Toy vocabulary: a b c d, and merges
	 *   0: b c -> bc    1: a b -> ab    2: a bc -> abc    3: c d -> cd
	 *   4: a a -> aa */
	vocab_new(&v, &err);
	add(v, 0, "a");
	add(v, 1, "b");
	add(v, 2, "c");
	add(v, 3, "d");
	add(v, 4, "ab");
	add(v, 5, "bc");
	add(v, 6, "abc");
	add(v, 7, "cd");
	add(v, 8, "aa");
	add(v, 9, "x");
	merge(v, "b", "c", 0);
	merge(v, "a", "b", 1);
	merge(v, "a", "bc", 2);
	merge(v, "c", "d", 3);
	merge(v, "a", "a", 4);
	bpe_new(&b, v, 0, -1, &err);

	/* abcd: pairs ab(1) bc(0) cd(3): bc first -> a bc d; a+bc (2) -> abc d */
	check(b, "abcd", (int32_t[]){ 6, 3, -1 }, "abcd -> abc d (lowest rank first, not leftmost)");
	/* abab: ab(1) at 0 and 2, ba none: leftmost, then the other */
	check(b, "abab", (int32_t[]){ 4, 4, -1 }, "abab -> ab ab");
	/* aaa: a+a at 0 and 1 tie: the leftmost merges, leaving aa a */
	check(b, "aaa", (int32_t[]){ 8, 0, -1 }, "aaa -> aa a (ties go to the leftmost pair)");
	/* cdab: cd(3), da none, ab(1): ab first, then cd */
	check(b, "cdab", (int32_t[]){ 7, 4, -1 }, "cdab -> cd ab");
	check(b, "d", (int32_t[]){ 3, -1 }, "one byte");
	check(b, "", (int32_t[]){ -1 }, "empty piece gives nothing");
	/* 'z' has no token and there is no unk: dropped, as HF BPE does */
	check(b, "azb", (int32_t[]){ 0, 1, -1 }, "unknown byte dropped without unk");
	bpe_free(b);
	bpe_new(&b, v, 0, 9, &err);
	check(b, "azb", (int32_t[]){ 0, 9, 1, -1 }, "unknown byte becomes unk");
	bpe_free(b);

	/* "dab" is a token no merge produces: BPE_IGNORE_MERGES takes a
	 * piece that is itself a token as it is. */
	add(v, 10, "dab");
	bpe_new(&b, v, 0, -1, &err);
	check(b, "dab", (int32_t[]){ 3, 4, -1 }, "dab by merges -> d ab");
	bpe_free(b);
	bpe_new(&b, v, BPE_IGNORE_MERGES, -1, &err);
	check(b, "dab", (int32_t[]){ 10, -1 }, "dab with ignore_merges -> dab");
	bpe_free(b);

	/* tiktoken ranks: no merges list; two symbols merge when their
	 * concatenation is a token, lowest id first.  In "abcd" ab (4) <
	 * bc (5) < cd (7): ab c d, then ab+c = abc (6), abc+d is no token. */
	bpe_new(&b, v, BPE_RANKS, -1, &err);
	check(b, "abcd", (int32_t[]){ 6, 3, -1 }, "ranks: abcd -> ab c d -> abc d");
	/* "bcd": bc (5) < cd (7): bc d; bcd is not a token */
	check(b, "bcd", (int32_t[]){ 5, 3, -1 }, "ranks: bcd -> bc d");
	/* "daba": da none, ab (4), ba none: d ab a; dab (10) vs aba none: dab a */
	check(b, "daba", (int32_t[]){ 10, 0, -1 }, "ranks: daba -> d ab a -> dab a");
	bpe_free(b);

	/* A long piece goes through the heap: "ab" * 100 -> 100 x ab */
	bpe_new(&b, v, 0, -1, &err);
	{
		char s[201];
		for (int i = 0; i < 100; i++)
			memcpy(s + 2 * i, "ab", 2);
		s[200] = 0;
		struct tok_ids ids = {0};
		int all = bpe_encode(b, s, 200, &ids, &err) == 0 && ids.n == 100;
		for (size_t i = 0; all && i < ids.n; i++)
			all = ids.ids[i] == 4;
		ok(all, "200-byte piece (heap path): 100 x ab");
		tok_ids_free(&ids);
	}
	bpe_free(b);
	vocab_free(v);

	random_test();
	return tap_done();
}

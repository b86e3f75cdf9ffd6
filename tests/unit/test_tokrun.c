/* test_tokrun.c - chunking (tokrun_chunk_spans) against fake tokenizers
 * whose counts are known by hand: one token per word (maximal run of
 * non-space bytes, a word cut in two counting once on each side) or one
 * token per byte, plus BASE tokens for BOS/EOS-like specials. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tokenize/tokrun.h"

struct fake {
	int per_byte;
	size_t base;
	size_t calls;
};

static int sp(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static int fake_count(void *arg, const char *text, size_t len, size_t *n, struct lm_error *err)
{
	struct fake *f = arg;
	size_t i, k = 0;

	(void)err;
	f->calls++;
	if (f->per_byte) {
		*n = f->base + len;
		return LM_OK;
	}
	for (i = 0; i < len; i++)
		if (!sp(text[i]) && (i == 0 || sp(text[i - 1])))
			k++;
	*n = f->base + k;
	return LM_OK;
}

/* Compare the spans of TEXT with EXPECT (pairs start,end; N pairs). */
static void check_spans(const char *name, const char *text, size_t max, size_t overlap,
			struct fake *f, const size_t *expect, size_t n)
{
	struct tokrun_span *spans = NULL;
	struct lm_error err = { 0 };
	size_t got = 0, i;
	int rc, same;

	rc = tokrun_chunk_spans(text, strlen(text), max, overlap, fake_count, f, &spans, &got, &err);
	is_int(rc, LM_OK, "%s: ok", name);
	same = got == n;
	for (i = 0; same && i < n; i++)
		same = spans[i].start == expect[2 * i] && spans[i].end == expect[2 * i + 1];
	ok(same, "%s: spans as expected", name);
	if (!same)
		for (i = 0; i < got; i++)
			diag("  got [%zu, %zu) '%.*s'", spans[i].start, spans[i].end,
			     (int)(spans[i].end - spans[i].start), text + spans[i].start);
	free(spans);
}

static unsigned long long rng_state = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

/* Invariants on random texts: every span within budget, spans in order,
 * starting and ending on character boundaries, covering every non-space
 * byte, cuts not ending in white space, and without overlap nothing but
 * white space between neighbours. */
static void random_texts(void)
{
	static const char *const pieces[] = {
		"word", "a", "longerword", "é", "日本", "x.", "end!", "q?\"", " ", " ", "  ",
		"\n", "\n\n", "\t", "。", "(paren.)",
	};
	char text[2048];
	int round, bad = 0;

	for (round = 0; round < 400 && !bad; round++) {
		struct fake f = { .per_byte = round % 3 == 2, .base = (size_t)(round % 2) * 2 };
		struct tokrun_span *spans = NULL;
		struct lm_error err = { 0 };
		size_t len = 0, n = 0, i, max, overlap, cover = 0, tok;
		int rc;

		while (len < 1000) {
			const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];

			memcpy(text + len, p, strlen(p));
			len += strlen(p);
		}
		text[len] = 0;
		max = f.base + 4 + rnd(40);
		overlap = round % 4 == 0 ? 0 : rnd((unsigned)(max - f.base));
		rc = tokrun_chunk_spans(text, len, max, overlap, fake_count, &f, &spans, &n, &err);
		if (rc) {
			diag("round %d: %s", round, err.msg);
			bad = 1;
			break;
		}
		for (i = 0; i < n && !bad; i++) {
			size_t s = spans[i].start, e = spans[i].end, j;

			fake_count(&f, text + s, e - s, &tok, NULL);
			if (tok > max || s >= e || (text[s] & 0xc0) == 0x80 ||
			    (e < len && (text[e] & 0xc0) == 0x80) ||
			    (i + 1 < n && sp(text[e - 1])) || (i == 0 && s != 0) ||
			    (i > 0 && (s <= spans[i - 1].start || e <= spans[i - 1].end))) {
				diag("round %d span %zu/%zu [%zu,%zu) tokens %zu max %zu ov %zu prev [%zu,%zu) last %02x", round, i, n, s, e, tok, max, overlap, i ? spans[i-1].start : 0, i ? spans[i-1].end : 0, (unsigned char)text[e-1]);
				bad = 1;
			}
			/* Between the covered end and this start: only spaces. */
			for (j = cover; j < s && !bad; j++)
				if (!sp(text[j])) {
					diag("round %d: byte %zu not covered", round, j);
					bad = 1;
				}
			if (!overlap && i > 0 && s < spans[i - 1].end) {
				diag("round %d: spans %zu and %zu overlap", round, i - 1, i);
				bad = 1;
			}
			if (e > cover)
				cover = e;
		}
		for (i = cover; i < len && !bad; i++)
			if (!sp(text[i])) {
				diag("round %d: byte %zu after the last span", round, i);
				bad = 1;
			}
		free(spans);
	}
	ok(!bad, "random texts: spans within budget, ordered, covering, on boundaries");
}

int main(void)
{
	struct fake words = { 0 }, words2 = { .base = 2 }, bytes = { .per_byte = 1 };
	struct tokrun_span *spans = NULL;
	struct lm_error err = { 0 };
	size_t n = 0;

	{
		static const size_t e[] = { 0, 13 };
		check_spans("fits", "one two three", 10, 0, &words, e, 1);
	}
	{
		/* 8 words reach "i" (byte 18); the paragraph break at 12 is past
		 * half of that and wins over the spaces after it. */
		static const size_t e[] = { 0, 12, 14, 23 };
		check_spans("paragraph", "a b c d e f.\n\ng h i j k", 8, 0, &words, e, 2);
	}
	{
		/* Reach is "gg" (20): the sentence end after "ee." (16) wins over
		 * the space after "ff" (19); the one after "bb." is too early. */
		static const size_t e[] = { 0, 16, 17, 31 };
		check_spans("sentence", "aa bb. cc dd ee. ff gg hh ii jj", 6, 0, &words, e, 2);
	}
	{
		/* A paragraph break before half the reach is not taken: the last
		 * space is. */
		static const size_t e[] = { 0, 17, 18, 21 };
		check_spans("half rule", "a b c d.\n\ne f g h i j", 8, 0, &words, e, 2);
	}
	{
		/* Reach is "four" (17); the sentence end before the closing
		 * quote (10) is past half of it. */
		static const size_t e[] = { 0, 10, 11, 27, 28, 39 };
		check_spans("closing quote", "one \"two.\" three four \"five six.\" seven", 3, 0,
			    &words, e, 3);
	}
	{
		/* No spaces: cuts fall on character boundaries (é is 2 bytes). */
		static const size_t e[] = { 0, 2, 2, 4, 4, 6, 6, 8, 8, 10 };
		check_spans("utf-8 boundaries", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 3, 0, &bytes,
			    e, 5);
	}
	{
		/* Ideographic full stops end sentences without a space. */
		static const size_t e[] = { 0, 6, 6, 12 };
		check_spans("cjk sentence", "\xe6\x97\xa5\xe3\x80\x82\xe6\x9c\xac\xe3\x80\x82", 7, 0,
			    &bytes, e, 2);
	}
	{
		/* Overlap 2: each chunk starts two words before the previous end. */
		static const size_t e[] = { 0, 11, 6, 17, 12, 23, 18, 30 };
		check_spans("overlap", "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10", 4, 2, &words, e, 4);
	}
	{
		/* Two special tokens count toward N but not toward the overlap. */
		static const size_t e[] = { 0, 11, 6, 17, 12, 23, 18, 30 };
		check_spans("overlap with specials", "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10", 6, 2, &words2, e,
			    4);
	}
	{
		static const size_t e[] = { 0, 0 };
		check_spans("empty text", "", 4, 0, &words, e, 1);
	}
	is_int(tokrun_chunk_spans("abc def", 7, 2, 0, fake_count, &words2, &spans, &n, &err),
	       LM_EINVAL, "no room beside the special tokens: LM_EINVAL");
	ok(strstr(err.msg, "too small") != NULL, "  and says so: %s", err.msg);
	ok(spans == NULL && n == 0, "  and returns no spans");
	random_texts();
	return tap_done();
}

/* test_normalize.c - Hugging Face normalizers (normalize.h).  Expected
 * strings are worked out by hand from UnicodeData.txt and bert.rs. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tokenize/normalize.h"
#include "tokenize/pretok.h"
#include "tokenize/tokenizer_impl.h"
#include "utf8.h"

static struct normalize_buf buf;

/* Apply N to IN and compare with WANT (NUL-terminated, no NUL inside). */
static int check_n(struct normalizer *n, const char *in, size_t len, const char *want)
{
	struct lm_error err = { 0 };
	char *got;
	int ok;

	if (normalizer_apply(n, in, len, &buf, &err))
		return 0;
	got = strndup(buf.text ? buf.text : "", buf.len);
	ok = buf.len == strlen(want) && !memcmp(buf.text, want, buf.len);
	if (!ok)
		diag("got \"%s\", want \"%s\"", got, want);
	free(got);
	normalizer_free(n);
	return ok;
}

static int check(struct normalizer *n, const char *in, const char *want)
{
	return check_n(n, in, strlen(in), want);
}

static struct normalizer *one(int which)
{
	struct normalizer *n = normalizer_new();

	switch (which) {
	case 0: normalizer_add_form(n, NORMALIZE_NFC, NULL); break;
	case 1: normalizer_add_form(n, NORMALIZE_NFD, NULL); break;
	case 2: normalizer_add_form(n, NORMALIZE_NFKC, NULL); break;
	case 3: normalizer_add_form(n, NORMALIZE_NFKD, NULL); break;
	case 4: normalizer_add_lowercase(n, NULL); break;
	case 5: normalizer_add_strip_accents(n, NULL); break;
	}
	return n;
}

/* Pieces joined by '|'. */
struct pieces {
	char *s;
	size_t len, cap;
};

static int add_piece(void *arg, const char *piece, size_t len)
{
	struct pieces *p = arg;

	if (p->len + len + 2 > p->cap) {
		p->cap = 2 * (p->len + len + 2);
		if (!(p->s = realloc(p->s, p->cap)))
			return -1;
	}
	memcpy(p->s + p->len, piece, len);
	p->len += len;
	p->s[p->len++] = '|';
	p->s[p->len] = 0;
	return 0;
}

/* llama.cpp's BERT preprocessing then a white space split, two ways: the
 * normalizer and pretok.h's "whitespace-split" one after the other (A),
 * and the one-pass splitter of normalizer_attach_wpm_split (B). */
struct wpm_pair {
	struct normalizer *norm;
	struct pretok *split;
	struct tokenizer *tok;
	struct pieces a, b;
};

static int wpm_pair_new(struct wpm_pair *w, int strip_accents, int lowercase)
{
	struct lm_error err = { 0 };
	struct normalizer *fused = normalizer_new();

	memset(w, 0, sizeof *w);
	w->norm = normalizer_new();
	if (!w->norm || !fused || normalizer_add_wpm_llamacpp(w->norm, strip_accents, lowercase, &err) ||
	    normalizer_add_wpm_llamacpp(fused, strip_accents, lowercase, &err) ||
	    pretok_new(&w->split, "whitespace-split", &err) || tok_new(&w->tok, &err) ||
	    normalizer_attach_wpm_split(w->tok, fused, &err)) {
		diag("setup: %s", err.msg);
		return -1;
	}
	return 0;
}

static void wpm_pair_free(struct wpm_pair *w)
{
	normalizer_free(w->norm);
	pretok_free(w->split);
	tokenizer_free(w->tok);
	free(w->a.s);
	free(w->b.s);
}

/* Run both on IN; B's pieces are left in w->b.s. */
static int wpm_same(struct wpm_pair *w, const char *in, size_t len)
{
	struct lm_error err = { 0 };

	w->a.len = w->b.len = 0;
	add_piece(&w->a, "", 0);
	add_piece(&w->b, "", 0);
	if (normalizer_apply(w->norm, in, len, &buf, &err) ||
	    pretok_split(w->split, buf.text, buf.len, add_piece, &w->a) ||
	    w->tok->splitter.run(w->tok->splitter.state, in, len, add_piece, &w->b))
		return 0;
	return w->a.len == w->b.len && !memcmp(w->a.s, w->b.s, w->a.len);
}

#define WPM_SAME(w, lit) wpm_same(w, lit, sizeof(lit) - 1)

static void test_wpm(void)
{
	struct wpm_pair w;
	struct lm_error err = { 0 };
	struct normalizer *n;
	struct tokenizer *t;
	char text[64];
	size_t bad = 0, first_bad = 0;
	int same;

	/* llama-vocab.cpp preprocess: U+00E9 -> 'e' (first code point of its
	 * NFD), punctuation and U+4E2D set apart, \t and U+3000 white space,
	 * U+0001 (Cc) and U+200B (Cf) dropped, simple lowercase. */
	n = normalizer_new();
	normalizer_add_wpm_llamacpp(n, 1, 1, NULL);
	ok(check(n, "H\xc3\xa9llo,\tWORLD!\x01\xe3\x80\x80" "a\xe2\x80\x8b" "b\xe4\xb8\xad" "c",
		 "hello ,  world !  ab \xe4\xb8\xad c"), "llama.cpp BERT preprocessing, uncased");
	n = normalizer_new();
	normalizer_add_wpm_llamacpp(n, 0, 0, NULL);
	ok(check(n, "Caf\xc3\xa9\xff$x", "Caf\xc3\xa9 $ x"), "cased: accents kept, bad byte dropped, "
	   "ASCII symbol set apart");

	if (wpm_pair_new(&w, 1, 1)) {
		ok(0, "one-pass BERT preprocessing and split");
		wpm_pair_free(&w);
		return;
	}
	same = WPM_SAME(&w, "H\xc3\xa9llo,\tWORLD!\x01\xe3\x80\x80" "a\xe2\x80\x8b" "b\xe4\xb8\xad" "c");
	ok(same && !strcmp(w.b.s, "|hello|,|world|!|ab|\xe4\xb8\xad|c|"), "one pass: the words, by hand: %s",
	   w.b.s);
	/* Every code point between letters, doubled, and at the ends. */
	for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
		char c[4];
		int k;

		if (cp >= 0xD800 && cp <= 0xDFFF)
			continue;
		k = utf8_encode(cp, c);
		memcpy(text, c, (size_t)k);
		text[k] = 'A';
		memcpy(text + k + 1, c, (size_t)k);
		memcpy(text + 2 * k + 1, c, (size_t)k);
		text[3 * k + 1] = 'b';
		memcpy(text + 3 * k + 2, c, (size_t)k);
		if (!wpm_same(&w, text, (size_t)(4 * k + 2)) && !bad++)
			first_bad = cp;
	}
	ok(!bad, "one pass = normalizer + whitespace-split for every code point (%zu differ, first U+%04zX)",
	   bad, first_bad);
	ok(WPM_SAME(&w, "\xff" "a\xc3 b\xe4\xb8 \xed\xa0\x80" "c\xf4\x90\x80\x80!") &&
	   WPM_SAME(&w, "   ") && WPM_SAME(&w, "") && WPM_SAME(&w, "x"),
	   "one pass = two passes on bad bytes, blanks, empty text");
	wpm_pair_free(&w);
	if (!wpm_pair_new(&w, 0, 0)) {
		ok(WPM_SAME(&w, "Caf\xc3\xa9 \xc3\x89T\xc3\x89, \xcc\x81x"), "one pass, cased");
	} else {
		ok(0, "one pass, cased");
	}
	wpm_pair_free(&w);
	n = normalizer_new();
	normalizer_add_lowercase(n, NULL);
	tok_new(&t, &err);
	is_int(normalizer_attach_wpm_split(t, n, &err), LM_EINVAL, "one pass refuses another normalizer");
	normalizer_free(n);
	tokenizer_free(t);
}

int main(void)
{
	struct lm_error err = { 0 };
	struct normalizer *n;

	/* U+00E9 = U+0065 U+0301 (canonical); U+FB01 ligature fi (compat);
	 * U+2460 circled one (compat: 1); U+212B angstrom -> U+00C5. */
	ok(check(one(1), "caf\xc3\xa9", "cafe\xcc\x81"), "NFD decomposes e-acute");
	ok(check(one(0), "cafe\xcc\x81", "caf\xc3\xa9"), "NFC composes it back");
	ok(check(one(0), "\xe2\x84\xab", "\xc3\x85"), "NFC maps the angstrom sign to A-ring");
	ok(check(one(2), "\xef\xac\x81x\xe2\x91\xa0", "fix1"), "NFKC folds ligature and circled digit");
	ok(check(one(3), "\xc3\xa9\xe2\x91\xa0", "e\xcc\x81" "1"), "NFKD decomposes both");
	ok(check(one(0), "plain ascii", "plain ascii"), "ASCII is unchanged");
	ok(check(one(4), "\xc3\x80" "B \xc4\xb0Z", "\xc3\xa0" "b i\xcc\x87z"),
	   "lowercase: A-grave, and U+0130 to i + U+0307 (full mapping)");
	ok(check(one(4), "\xce\xa3\xce\xa3", "\xcf\x83\xcf\x83"), "lowercase: no final-sigma rule");
	ok(check(one(5), "e\xcc\x81" "a\xe0\xa4\x83", "ea"), "StripAccents drops Mn and Mc");
	ok(check(one(5), "\xc3\xa9", "\xc3\xa9"), "StripAccents does not decompose");
	ok(check(one(4), "\xff" "A\xc3", "\xff" "a\xc3"), "stray bytes pass through");

	/* bert.rs: \x01 (Cc) dropped, \t and U+00A0 -> ' ', U+200B (Cf)
	 * dropped, CJK spaced, accents stripped after NFD, lowercase. */
	n = normalizer_new();
	normalizer_add_bert(n, 1, 1, 1, 1, NULL);
	ok(check(n, "\x01H\xc3\xa9llo\tWorld\xc2\xa0\xe4\xb8\xadx\xe2\x80\x8b" "y",
		 "hello world  \xe4\xb8\xad xy"), "BertNormalizer uncased");
	n = normalizer_new();
	normalizer_add_bert(n, 1, 1, 0, 0, NULL);
	ok(check_n(n, "Caf\xc3\xa9\r\n\xef\xbf\xbd\x00" "A", 12, "Caf\xc3\xa9  A"),
	   "BertNormalizer cased keeps accents, drops U+FFFD and NUL");
	n = normalizer_new();
	normalizer_add_bert(n, 0, 0, 1, 0, NULL);
	ok(check(n, "\xc3\x89" "cole\x01", "Ecole\x01"), "strip_accents alone: NFD then drop Mn");
	ok(normalize_is_chinese_char(0x2B920) && !normalize_is_chinese_char(0x2B820) &&
	   normalize_is_chinese_char(0xF900) && !normalize_is_chinese_char(0x3000),
	   "CJK ranges as bert.rs");

	n = normalizer_new();
	normalizer_add_prepend(n, "\xe2\x96\x81", 3, NULL);
	normalizer_add_replace(n, " ", 1, 0, "\xe2\x96\x81", 3, NULL);
	ok(check(n, "a b", "\xe2\x96\x81" "a\xe2\x96\x81" "b"), "Llama-2: Prepend + Replace");
	n = normalizer_new();
	normalizer_add_prepend(n, "\xe2\x96\x81", 3, NULL);
	ok(check(n, "", ""), "Prepend leaves empty text empty");
	n = normalizer_new();
	ok(!normalizer_add_replace(n, "\\s+", 3, 1, "_", 1, &err), "regex Replace compiles");
	ok(check(n, "a  \t b\xe3\x80\x80" "c", "a_b_c"), "regex Replace (UCP \\s includes U+3000)");
	n = normalizer_new();
	normalizer_add_replace(n, "aa", 2, 0, "b", 1, NULL);
	ok(check(n, "aaaaa", "bba"), "literal Replace is left to right, non-overlapping");
	n = normalizer_new();
	normalizer_add_strip(n, 1, 1, NULL);
	ok(check(n, " \xe3\x80\x80" "a b \n", "a b"), "Strip both sides (White_Space)");
	n = normalizer_new();
	normalizer_add_strip(n, 0, 1, NULL);
	ok(check(n, "  a  ", "  a"), "Strip right only");
	n = normalizer_new();
	normalizer_add_form(n, NORMALIZE_NFD, NULL);
	normalizer_add_strip_accents(n, NULL);
	normalizer_add_lowercase(n, NULL);
	ok(check(n, "H\xc3\xa9LL\xc3\x96", "hello"), "Sequence NFD, StripAccents, Lowercase");
	ok(check(normalizer_new(), "as is", "as is"), "empty sequence is the identity");

	n = normalizer_new();
	is_int(normalizer_add_replace(n, "(", 1, 1, "", 0, &err), LM_EINVAL, "bad regex refused");
	ok(strstr(err.msg, "offset") != NULL, "message has the offset: %s", err.msg);
	is_int(normalizer_add_replace(n, "", 0, 0, "x", 1, &err), LM_EINVAL, "empty literal refused");
	normalizer_free(n);
	test_wpm();
	normalize_buf_free(&buf);
	return tap_done();
}

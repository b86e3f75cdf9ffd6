/* test_pretok.c - pre-tokenizer pipelines.
 *
 * Expected pieces for hand-picked inputs are worked out from the regex
 * definitions by hand.  For every pattern that has a hand scanner, PCRE2 on
 * the same pattern is the oracle: random and adversarial Unicode text,
 * wikitext-2 and SciFact (when ../shared is there) must give identical
 * pieces.  PRETOK_SOAK=N runs N times more random text. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tap.h"
#include "tokenize/pretok.h"

struct pieces {
	const char *base;
	size_t n, cap;
	size_t *off, *len;
	int bad; /* a piece outside the text or empty */
};

static int collect(void *arg, const char *piece, size_t len)
{
	struct pieces *ps = arg;

	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 64;
		ps->off = realloc(ps->off, ps->cap * sizeof *ps->off);
		ps->len = realloc(ps->len, ps->cap * sizeof *ps->len);
		if (!ps->off || !ps->len)
			abort();
	}
	if (!len || piece < ps->base)
		ps->bad = 1;
	ps->off[ps->n] = (size_t)(piece - ps->base);
	ps->len[ps->n++] = len;
	return 0;
}

static void pieces_free(struct pieces *ps)
{
	free(ps->off);
	free(ps->len);
	memset(ps, 0, sizeof *ps);
}

/* Split a private copy of exactly LEN bytes, so ASan sees any read past the
 * end. */
static int split_exact(const struct pretok *p, const char *text, size_t len, struct pieces *ps)
{
	char *copy = malloc(len ? len : 1);
	int r;

	memcpy(copy, text, len);
	memset(ps, 0, sizeof *ps);
	ps->base = copy;
	r = pretok_split(p, copy, len, collect, ps);
	for (size_t i = 0; i < ps->n; i++)
		if (ps->off[i] + ps->len[i] > len)
			ps->bad = 1;
	free(copy);
	return r;
}

/* Pieces joined with '|' (for readable expectations). */
static char *joined(const struct pieces *ps, const char *text)
{
	size_t total = 1;
	char *out, *o;

	for (size_t i = 0; i < ps->n; i++)
		total += ps->len[i] + 1;
	o = out = malloc(total);
	for (size_t i = 0; i < ps->n; i++) {
		if (i)
			*o++ = '|';
		memcpy(o, text + ps->off[i], ps->len[i]);
		o += ps->len[i];
	}
	*o = 0;
	return out;
}

/* TEXT with control and non-ASCII bytes as \xNN, for one-line TAP output. */
static const char *printable(const char *text)
{
	static char buf[256];
	size_t o = 0;

	for (; *text && o + 5 < sizeof buf; text++) {
		unsigned char c = (unsigned char)*text;

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = 0;
	return buf;
}

static void expect(const char *spec, const char *text, const char *want)
{
	struct lm_error err = { 0 };
	struct pretok *p;
	struct pieces ps;
	char *got;

	if (pretok_new(&p, spec, &err)) {
		ok(0, "pretok_new %s: %s", spec, err.msg);
		return;
	}
	split_exact(p, text, strlen(text), &ps);
	got = joined(&ps, text);
	is_str(got, want, "%.40s: \"%s\"", spec, printable(text));
	free(got);
	pieces_free(&ps);
	pretok_free(p);
}

static void expect_behavior(const char *regex, enum pretok_behavior b, unsigned flags,
			    const char *text, const char *want)
{
	struct lm_error err = { 0 };
	struct pretok *p;
	struct pieces ps;
	char *got;

	pretok_new(&p, NULL, &err);
	if (pretok_add_regex(p, regex, b, flags, &err)) {
		ok(0, "add %s: %s", regex, err.msg);
		pretok_free(p);
		return;
	}
	split_exact(p, text, strlen(text), &ps);
	got = joined(&ps, text);
	is_str(got, want, "behaviour %d flags %u on \"%s\"", (int)b, flags, printable(text));
	free(got);
	pieces_free(&ps);
	pretok_free(p);
}

/* The same pipeline with every stage through PCRE2. */
static struct pretok *pcre_twin(const struct pretok *p)
{
	struct lm_error err = { 0 };
	struct pretok *t;
	enum pretok_behavior b;
	unsigned flags;
	const char *pat;

	if (pretok_new(&t, NULL, &err))
		return NULL;
	for (size_t i = 0; (pat = pretok_stage(p, i, &b, &flags)); i++) {
		if (pretok_add_regex(t, pat, b, flags | PRETOK_FORCE_PCRE, &err)) {
			diag("%s", err.msg);
			pretok_free(t);
			return NULL;
		}
	}
	return t;
}

/* Identical pieces from P and its PCRE2 twin T; on a difference, print the
 * first one. */
static int same_split(const struct pretok *p, const struct pretok *t, const char *text,
		      size_t len, const char *what)
{
	struct pieces a, b;
	int same;

	split_exact(p, text, len, &a);
	split_exact(t, text, len, &b);
	same = !a.bad && !b.bad && a.n == b.n &&
	       (!a.n || (!memcmp(a.off, b.off, a.n * sizeof *a.off) &&
			 !memcmp(a.len, b.len, a.n * sizeof *a.len)));
	if (!same) {
		size_t i = 0;

		while (i < a.n && i < b.n && a.off[i] == b.off[i] && a.len[i] == b.len[i])
			i++;
		diag("%s: scanner and PCRE2 differ at piece %zu (scanner %zu pieces, pcre %zu)",
		     what, i, a.n, b.n);
		if (i < a.n)
			diag("scanner: off %zu len %zu \"%.*s\"", a.off[i], a.len[i],
			     (int)(a.len[i] > 60 ? 60 : a.len[i]), text + a.off[i]);
		if (i < b.n)
			diag("pcre:    off %zu len %zu \"%.*s\"", b.off[i], b.len[i],
			     (int)(b.len[i] > 60 ? 60 : b.len[i]), text + b.off[i]);
		{
			size_t from = i < a.n ? a.off[i] : (i < b.n ? b.off[i] : 0);
			size_t to = from + 24 < len ? from + 24 : len;

			from = from > 8 ? from - 8 : 0;
			fprintf(stdout, "# context bytes:");
			for (size_t j = from; j < to; j++)
				fprintf(stdout, " %02x", (unsigned char)text[j]);
			fprintf(stdout, "\n");
		}
	}
	pieces_free(&a);
	pieces_free(&b);
	return same;
}

/* ---- random text ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static uint32_t *pool;
static size_t npool;

/* Code points from many scripts and categories.  A code point whose
 * classes differ between PCRE2 (Unicode 14) and utf8proc (Unicode 15), and
 * U+180E (in PCRE2's \s, not in White_Space), are left out: there the
 * scanners follow the references, not PCRE2. */
static void build_pool(void)
{
	static const uint32_t ranges[][2] = {
		{ 0x20, 0x7e }, { 0x85, 0x85 }, { 0xa0, 0x24f }, { 0x250, 0x2ff }, { 0x300, 0x36f },
		{ 0x370, 0x52f }, { 0x591, 0x6ff }, { 0x7f0, 0x810 }, { 0x900, 0x97f },
		{ 0xe00, 0xe7f }, { 0x10a0, 0x10ff }, { 0x13a0, 0x13ff }, { 0x1680, 0x1680 },
		{ 0x1800, 0x18af }, { 0x1c80, 0x1cbf }, { 0x1d00, 0x1dff }, { 0x1e00, 0x1fff },
		{ 0x2000, 0x215f }, { 0x2160, 0x218f }, { 0x2190, 0x21ff }, { 0x2460, 0x24ff },
		{ 0x2580, 0x2582 }, { 0x2c00, 0x2cff }, { 0x3000, 0x30ff }, { 0x4dff, 0x4e40 },
		{ 0x9f90, 0x9fff }, { 0xa640, 0xa6ff }, { 0xa720, 0xa7ff }, { 0xab70, 0xabbf },
		{ 0xac00, 0xac20 }, { 0xd7a0, 0xd7ff }, { 0xe000, 0xe004 }, { 0xfb00, 0xfb4f },
		{ 0xfe00, 0xfe0f }, { 0xfe30, 0xfe4f }, { 0xff00, 0xffef }, { 0xfffd, 0xfffd },
		{ 0x10400, 0x1044f }, { 0x104b0, 0x104ff }, { 0x10c80, 0x10cff },
		{ 0x118a0, 0x118ff }, { 0x1d400, 0x1d4ff }, { 0x1d7ce, 0x1d7ff },
		{ 0x1e900, 0x1e95f }, { 0x1f1e6, 0x1f1ff }, { 0x1f300, 0x1f64f },
		{ 0xe0020, 0xe007f }, { 0x20000, 0x20010 },
	};
	static const char *const props[] = {
		"\\p{L}", "\\p{Lu}", "\\p{Ll}", "\\p{Lt}", "\\p{Lm}", "\\p{Lo}", "\\p{M}",
		"\\p{N}", "\\p{Nd}", "\\p{P}", "\\p{S}", "\\s",
	};
	enum { NPROP = sizeof props / sizeof props[0] };
	pcre2_code *re[NPROP];
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	size_t cap = 0;
	int ecode;
	PCRE2_SIZE eoff;

	for (int k = 0; k < NPROP; k++)
		re[k] = pcre2_compile((PCRE2_SPTR)props[k], PCRE2_ZERO_TERMINATED,
				      PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &ecode, &eoff, NULL);
	for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
		cap += ranges[r][1] - ranges[r][0] + 1;
	pool = malloc(cap * sizeof *pool);
	for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
		for (uint32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
			utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
			int want[NPROP] = {
				c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO,
				c == UTF8PROC_CATEGORY_LU, c == UTF8PROC_CATEGORY_LL,
				c == UTF8PROC_CATEGORY_LT, c == UTF8PROC_CATEGORY_LM,
				c == UTF8PROC_CATEGORY_LO,
				c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME,
				c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO,
				c == UTF8PROC_CATEGORY_ND,
				c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO,
				c >= UTF8PROC_CATEGORY_SM && c <= UTF8PROC_CATEGORY_SO,
				-1,
			};
			unsigned char b[4];
			int len = (int)utf8proc_encode_char((utf8proc_int32_t)cp, b), keep = 1;

			if (cp == 0x180e)
				continue;
			for (int k = 0; k < NPROP && keep; k++) {
				int got = pcre2_match(re[k], b, (size_t)len, 0, 0, md, NULL) >= 0;

				if (want[k] >= 0 && got != want[k])
					keep = 0;
			}
			if (keep)
				pool[npool++] = cp;
		}
	}
	for (int k = 0; k < NPROP; k++)
		pcre2_code_free(re[k]);
	pcre2_match_data_free(md);
}

static size_t put_cp(char *out, uint32_t cp)
{
	return (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
}

/* Text built from fragments that exercise the alternatives: words in mixed
 * case, contractions, digit runs, whitespace of all kinds (CR LF, NBSP,
 * thin and ideographic spaces), punctuation and slashes, characters from
 * the pool, bytes that are not UTF-8. */
static size_t random_text(char *out, size_t max)
{
	static const char *const frags[] = {
		"'s", "'S", "'t", "'re", "'RE", "'Re", "'ve", "'m", "'M", "'ll", "'lL", "'d", "'D",
		"'", "''", "'x", "\xc5\xbf", "'\xc5\xbf", " ", "  ", "   ", "\t", "\n", "\r\n",
		"\n\n", "\r", " \n", "\xc2\xa0", "\xe2\x80\x89", "\xe3\x80\x80", "\xc2\x85",
		"\xe2\x80\xa8", "\x0b", "\x0c", "/", "//", "/\n", ".", ",", "!!", "?", "...",
		"\xe2\x80\xa6", "\xe3\x80\x82", "(", ")", "|", "$", "+", "<=>", "^", "~", "`", "_",
		"-", "\"", "#", "@", "\xe2\x96\x81", "\xff", "\x80", "\xc3", "\xe2\x82",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "0", "7", "42", "123", "2024",
		"1234567", "\xd9\xa3\xd9\xa4", "\xef\xbc\x91", "\xc2\xb2", "\xe2\x85\xa0",
		"\xcc\x81", "e\xcc\x81", "\xe4\xb8\x80", "\xe9\xbe\xa5", "\xe9\xbe\xa6", "\xea\xb0\x80",
		"\xed\x9f\xbf", "\xe0\xa0\x80", "\xdf\xbf", "\xf0\x9f\x98\x80", "\xc7\x85",
		"\xca\xb0", "\xc2\xb5", "\xe2\x84\xaa",
	};
	size_t n = 0;
	char buf[64];

	while (n + 64 < max) {
		size_t k = 0;
		unsigned r = rnd(100);

		if (r < 25) {
			unsigned len = 1 + rnd(8), upper = rnd(4);

			for (unsigned j = 0; j < len; j++) {
				char c = (char)('a' + rnd(26));

				if (upper == 0 || (upper == 1 && j == 0) || (upper == 2 && rnd(2)))
					c = (char)(c - 'a' + 'A');
				buf[k++] = c;
			}
		} else if (r < 60) {
			const char *f = frags[rnd(sizeof frags / sizeof frags[0])];

			k = strlen(f);
			memcpy(buf, f, k);
		} else if (r < 90) {
			unsigned m = 1 + rnd(4);

			for (unsigned j = 0; j < m; j++)
				k += put_cp(buf + k, pool[rnd((uint32_t)npool)]);
		} else {
			buf[k++] = (char)(0x20 + rnd(95));
		}
		memcpy(out + n, buf, k);
		n += k;
		if (rnd(40) == 0)
			break;
	}
	return n;
}

/* ---- tests ---- */

static const char *const scanner_patterns[] = {
	PRETOK_PAT_GPT2, PRETOK_PAT_R50K, PRETOK_PAT_CL100K, PRETOK_PAT_LLAMA3_LLAMACPP,
	PRETOK_PAT_QWEN2, PRETOK_PAT_QWEN2_LLAMACPP, PRETOK_PAT_O200K, PRETOK_PAT_TEKKEN,
	("'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]++"
	 "[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"),
};

/* llama.cpp names and HF pre-tokenizers whose stages all have scanners. */
static const char *const scanned_names[] = {
	"gpt-2", "r50k_base", "llama-bpe", "cl100k_base", "qwen2", "o200k_base", "tekken",
	"starcoder", "falcon", "default", "deepseek-llm", "deepseek-coder", "bloom", "viking",
	"bert", "whitespace-split", "digits", "digits-individual", "punctuation", "metaspace",
};

static void test_hand(void)
{
	/* GPT-2: a lone space before a word joins it; other spaces stay
	 * apart; a tab before a letter matches no alternative (a gap). */
	expect("gpt-2", "Hello world", "Hello| world");
	expect("gpt-2", "  hi", " | hi");
	expect("gpt-2", "a\tb", "a|\t|b");
	expect("gpt-2", "I'm I'M", "I|'m| I|'|M");
	expect("gpt-2", "123 4567", "123| 4567");
	expect("gpt-2", "end  ", "end|  ");
	expect("r50k_base", "a\tb", "a|\t|b");
	/* cl100k: three digits at most, case-insensitive contractions, spaces
	 * up to the last newline together */
	expect("cl100k_base", "12345", "123|45");
	expect("cl100k_base", "I'M", "I|'M");
	expect("cl100k_base", "  \n\n  x", "  \n\n| | x");
	expect("cl100k_base", "x//\n", "x|//\n");
	expect("cl100k_base", "'\xc5\xbfx", "'\xc5\xbf|x");
	expect(PRETOK_PAT_LLAMA3_LLAMACPP, "'\xc5\xbfx", "'\xc5\xbfx");
	expect("cl100k_base", "a\xff" "b", "a|\xff" "b");
	expect("cl100k_base", "\xe2\x82", "\xe2\x82");
	expect("qwen2", "12345", "1|2|3|4|5");
	/* o200k: case changes split words; a contraction stays on its word */
	expect("o200k_base", "HelloWorld", "Hello|World");
	expect("o200k_base", "helloWORLD", "hello|WORLD");
	expect("o200k_base", "HELLOworld", "HELLOworld");
	expect("o200k_base", "don't", "don't");
	expect("o200k_base", "x//\n/y", "x|//\n/|y");
	expect("tekken", "don't", "don|'t");
	/* llama.cpp lists applied in sequence */
	expect("falcon", "Hello, world!!", "Hello|,| world|!!");
	expect("falcon", "12345", "123|45");
	expect("starcoder", "ab 123", "ab| |1|2|3");
	expect("deepseek-coder", "ab,\ncd", "ab|,|\n|cd");
	expect("\\s+$", "ab  ", "ab|  ");
	expect("\\s+$", "a b", "a b");
	expect("[ ]+$", "ab  \n", "ab|  |\n");
	/* Hugging Face pre-tokenizers */
	expect("bert", "Hello,  world!", "Hello|,|world|!");
	expect("whitespace-split", " a  b\t", "a|b");
	expect("metaspace", "\xe2\x96\x81Hello\xe2\x96\x81world",
	       "\xe2\x96\x81Hello|\xe2\x96\x81world");
	expect("metaspace", "a\xe2\x96\x81\xe2\x96\x81" "b", "a|\xe2\x96\x81|\xe2\x96\x81" "b");
	expect("digits", "a1234b5", "a|1234|b|5");
	/* Split behaviours (tokenizers normalizer.rs tests: "The-final--countdown") */
	expect_behavior("-", PRETOK_ISOLATED, 0, "The-final--countdown",
			"The|-|final|-|-|countdown");
	expect_behavior("-", PRETOK_REMOVED, 0, "The-final--countdown", "The|final|countdown");
	expect_behavior("-", PRETOK_MERGED_WITH_PREVIOUS, 0, "The-final--countdown",
			"The-|final-|-|countdown");
	expect_behavior("-", PRETOK_MERGED_WITH_NEXT, 0, "The-final--countdown",
			"The|-final|-|-countdown");
	expect_behavior("-", PRETOK_CONTIGUOUS, 0, "The-final--countdown",
			"The|-|final|--|countdown");
	expect_behavior("-", PRETOK_REMOVED, PRETOK_INVERT, "The-final--countdown", "-|-|-");
	expect_behavior("-", PRETOK_MERGED_WITH_NEXT, PRETOK_FORCE_PCRE, "-a-", "-a|-");
	expect_behavior("-", PRETOK_MERGED_WITH_PREVIOUS, PRETOK_FORCE_PCRE, "-a-", "-|a-");
	/* an empty match still separates the text around it */
	expect_behavior("(?=b)", PRETOK_ISOLATED, 0, "abab", "a|ba|b");
}

static void test_errors(void)
{
	struct lm_error err = { 0 };
	struct pretok *p;
	struct pieces ps;

	is_int(pretok_new(&p, "(", &err), LM_EINVAL, "bad regex");
	ok(p == NULL && strstr(err.msg, "offset"), "message gives the offset: %s", err.msg);
	pretok_new(&p, NULL, &err);
	is_int(pretok_add_named(p, "no-such-pre", &err), LM_EINVAL, "unknown name");
	ok(strstr(err.msg, "no-such-pre") != NULL, "message names it: %s", err.msg);
	is_int((int)pretok_stages(p), 0, "nothing added");
	split_exact(p, "ab c", 4, &ps);
	ok(ps.n == 1 && ps.len[0] == 4, "empty pipeline: the whole text is one piece");
	pieces_free(&ps);
	split_exact(p, "", 0, &ps);
	is_int((int)ps.n, 0, "empty text: no pieces");
	pieces_free(&ps);
	pretok_free(p);
	ok(pretok_name_known("deepseek-llm") && !pretok_name_known("deepseek"), "names");
}

static int stop_at_two(void *arg, const char *piece, size_t len)
{
	int *count = arg;

	(void)piece;
	(void)len;
	return ++*count == 2 ? 7 : 0;
}

static void test_stop(void)
{
	struct lm_error err = { 0 };
	struct pretok *p;
	int count = 0;

	pretok_new(&p, "cl100k_base", &err);
	is_int(pretok_split(p, "a b c d", 7, stop_at_two, &count), 7, "callback return stops");
	is_int(count, 2, "after two pieces");
	pretok_free(p);
}

static void test_kinds(void)
{
	struct lm_error err = { 0 };
	struct pretok *p;

	for (size_t i = 0; i < sizeof scanned_names / sizeof scanned_names[0]; i++) {
		pretok_new(&p, scanned_names[i], &err);
		ok(p && pretok_pcre_stages(p) == 0, "%s: all %zu stages scanned", scanned_names[i],
		   p ? pretok_stages(p) : 0);
		pretok_free(p);
	}
	pretok_new(&p, "deepseek-v3", &err);
	ok(p && pretok_pcre_stages(p) == 1 && pretok_stages(p) == 3, "deepseek-v3: one PCRE2 stage");
	pretok_free(p);
}

static void compare_all(const char *text, size_t len, const char *what, int *fails)
{
	struct lm_error err = { 0 };
	struct pretok *p, *t;
	char label[128];

	for (size_t i = 0; i < sizeof scanner_patterns / sizeof scanner_patterns[0]; i++) {
		pretok_new(&p, scanner_patterns[i], &err);
		t = pcre_twin(p);
		snprintf(label, sizeof label, "%s pattern %zu", what, i);
		if (!same_split(p, t, text, len, label))
			(*fails)++;
		pretok_free(p);
		pretok_free(t);
	}
	for (size_t i = 0; i < sizeof scanned_names / sizeof scanned_names[0]; i++) {
		pretok_new(&p, scanned_names[i], &err);
		t = pcre_twin(p);
		snprintf(label, sizeof label, "%s %s", what, scanned_names[i]);
		if (!same_split(p, t, text, len, label))
			(*fails)++;
		pretok_free(p);
		pretok_free(t);
	}
}

static void test_random(int soak)
{
	struct lm_error err = { 0 };
	struct pretok *p[32], *t[32];
	size_t np = 0, iters = 1000 * (size_t)soak, fails = 0, bytes = 0;
	char *text = malloc(4096);

	for (size_t i = 0; i < sizeof scanner_patterns / sizeof scanner_patterns[0]; i++) {
		pretok_new(&p[np], scanner_patterns[i], &err);
		t[np] = pcre_twin(p[np]);
		np++;
	}
	for (size_t i = 0; i < sizeof scanned_names / sizeof scanned_names[0]; i++) {
		pretok_new(&p[np], scanned_names[i], &err);
		t[np] = pcre_twin(p[np]);
		np++;
	}
	for (size_t it = 0; it < iters; it++) {
		size_t len = random_text(text, 4096);

		bytes += len;
		for (size_t k = 0; k < np; k++) {
			char label[64];

			snprintf(label, sizeof label, "random %zu pipeline %zu", it, k);
			if (!same_split(p[k], t[k], text, len, label) && ++fails > 5)
				goto out;
		}
	}
out:
	ok(fails == 0, "random text: %zu strings (%zu bytes) x %zu pipelines agree with PCRE2",
	   iters, bytes, np);
	for (size_t k = 0; k < np; k++) {
		pretok_free(p[k]);
		pretok_free(t[k]);
	}
	free(text);
}

static char *slurp(const char *path, size_t max, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	char *buf;

	if (!fp)
		return NULL;
	buf = malloc(max);
	*n = fread(buf, 1, max, fp);
	fclose(fp);
	return buf;
}

static void test_corpora(int soak)
{
	const char *shared = getenv("LMPIPE_SHARED") ? getenv("LMPIPE_SHARED") : "../shared";
	const char *files[] = { "data/wikitext-2/wiki.test.raw", "data/scifact/corpus.jsonl" };
	char path[1024];

	for (size_t f = 0; f < 2; f++) {
		size_t n, max = soak > 1 ? (size_t)64 << 20 : (size_t)128 << 10;
		char *text;
		int fails = 0;

		snprintf(path, sizeof path, "%s/%s", shared, files[f]);
		text = slurp(path, max, &n);
		if (!text) {
			ok(1, "# SKIP %s not found", path);
			continue;
		}
		compare_all(text, n, files[f], &fails);
		ok(fails == 0, "%s (%zu bytes): every pipeline agrees with PCRE2", files[f], n);
		free(text);
	}
}

int main(void)
{
	const char *s = getenv("PRETOK_SOAK");
	int soak = s ? atoi(s) : 1;

	if (soak < 1)
		soak = 1;
	build_pool();
	test_hand();
	test_errors();
	test_stop();
	test_kinds();
	test_random(soak);
	test_corpora(soak);
	free(pool);
	return tap_done();
}

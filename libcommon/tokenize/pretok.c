/* pretok.c - pre-tokenizer pipelines: hand scanners for the common
 * tokenizer regexes, PCRE2 for the rest (see pretok.h for the contract). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenize/pretok.h"
#include "utf8.h"

/* Character properties, one bit per class a scanner asks about.  Letters,
 * marks, numbers, punctuation and symbols by Unicode General_Category
 * (UnicodeData.txt through utf8proc); F_WS is the White_Space property of
 * PropList.txt, which is what \s means in Rust regex and Oniguruma. */
enum {
	F_LU = 1 << 0,
	F_LL = 1 << 1,
	F_LT = 1 << 2,
	F_LM = 1 << 3,
	F_LO = 1 << 4,
	F_M = 1 << 5,   /* Mn Mc Me */
	F_ND = 1 << 6,
	F_NX = 1 << 7,  /* Nl No */
	F_P = 1 << 8,   /* Pc Pd Ps Pe Pi Pf Po */
	F_S = 1 << 9,   /* Sm Sc Sk So; also a byte that is not UTF-8 (U+FFFD) */
	F_WS = 1 << 10,
	F_CRLF = 1 << 11,
};
#define F_L (F_LU | F_LL | F_LT | F_LM | F_LO)
#define F_N (F_ND | F_NX)
/* tiktoken o200k: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
#define F_UPPER (F_LU | F_LT | F_LM | F_LO | F_M)
#define F_LOWER (F_LL | F_LM | F_LO | F_M)

static uint16_t bmp_flags[0x10000];
static pthread_once_t flags_once = PTHREAD_ONCE_INIT;

static int is_white_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static unsigned cp_props(uint32_t cp)
{
	unsigned f = 0;

	switch (utf8proc_category((utf8proc_int32_t)cp)) {
	case UTF8PROC_CATEGORY_LU: f = F_LU; break;
	case UTF8PROC_CATEGORY_LL: f = F_LL; break;
	case UTF8PROC_CATEGORY_LT: f = F_LT; break;
	case UTF8PROC_CATEGORY_LM: f = F_LM; break;
	case UTF8PROC_CATEGORY_LO: f = F_LO; break;
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME: f = F_M; break;
	case UTF8PROC_CATEGORY_ND: f = F_ND; break;
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO: f = F_NX; break;
	case UTF8PROC_CATEGORY_PC:
	case UTF8PROC_CATEGORY_PD:
	case UTF8PROC_CATEGORY_PS:
	case UTF8PROC_CATEGORY_PE:
	case UTF8PROC_CATEGORY_PI:
	case UTF8PROC_CATEGORY_PF:
	case UTF8PROC_CATEGORY_PO: f = F_P; break;
	case UTF8PROC_CATEGORY_SM:
	case UTF8PROC_CATEGORY_SC:
	case UTF8PROC_CATEGORY_SK:
	case UTF8PROC_CATEGORY_SO: f = F_S; break;
	default: break;
	}
	if (is_white_space(cp))
		f |= F_WS;
	if (cp == '\r' || cp == '\n')
		f |= F_CRLF;
	return f;
}

static void init_flags(void)
{
	for (uint32_t cp = 0; cp < 0x10000; cp++)
		bmp_flags[cp] = (uint16_t)cp_props(cp);
}

/* Decode the character at S[I] (I < N).  Returns its length; a byte that
 * does not begin a well-formed sequence (RFC 3629) is a character of
 * length 1 that reads as U+FFFD. */
static inline unsigned char_at(const unsigned char *s, size_t n, size_t i, uint32_t *cp,
			       unsigned *fl)
{
	unsigned c = s[i], c1, c2, c3, lo = 0x80, hi = 0xbf;

	if (c < 0x80) {
		*cp = c;
		*fl = bmp_flags[c];
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		if (i + 1 < n && (s[i + 1] & 0xc0) == 0x80) {
			*cp = ((c & 0x1f) << 6) | (s[i + 1] & 0x3f);
			*fl = bmp_flags[*cp];
			return 2;
		}
	} else if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		if (i + 2 < n) {
			c1 = s[i + 1];
			c2 = s[i + 2];
			if (c1 >= lo && c1 <= hi && (c2 & 0xc0) == 0x80) {
				*cp = ((c & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f);
				*fl = bmp_flags[*cp];
				return 3;
			}
		}
	} else if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (i + 3 < n) {
			c1 = s[i + 1];
			c2 = s[i + 2];
			c3 = s[i + 3];
			if (c1 >= lo && c1 <= hi && (c2 & 0xc0) == 0x80 && (c3 & 0xc0) == 0x80) {
				*cp = ((c & 0x07) << 18) | ((c1 & 0x3f) << 12) |
				      ((c2 & 0x3f) << 6) | (c3 & 0x3f);
				*fl = cp_props(*cp);
				return 4;
			}
		}
	}
	*cp = 0xfffd;
	*fl = F_S;
	return 1;
}

/* Properties of the character at I, 0 at the end of the text. */
static inline unsigned props_at(const unsigned char *s, size_t n, size_t i, unsigned *len)
{
	uint32_t cp;
	unsigned fl;

	if (i >= n) {
		*len = 0;
		return 0;
	}
	*len = char_at(s, n, i, &cp, &fl);
	return fl;
}

/* End of the run of characters having any of MASK, from I. */
static inline size_t run_any(const unsigned char *s, size_t n, size_t i, unsigned mask)
{
	unsigned len;

	while (i < n) {
		if (s[i] < 0x80) {
			if (!(bmp_flags[s[i]] & mask))
				break;
			i++;
			continue;
		}
		if (!(props_at(s, n, i, &len) & mask))
			break;
		i += len;
	}
	return i;
}

/* End of the run of characters having none of MASK, from I. */
static inline size_t run_none(const unsigned char *s, size_t n, size_t i, unsigned mask)
{
	unsigned len;

	while (i < n) {
		if (s[i] < 0x80) {
			if (bmp_flags[s[i]] & mask)
				break;
			i++;
			continue;
		}
		if (props_at(s, n, i, &len) & mask)
			break;
		i += len;
	}
	return i;
}

static inline size_t run_bytes(const unsigned char *s, size_t n, size_t i, int a, int b, int c)
{
	while (i < n && (s[i] == a || s[i] == b || s[i] == c))
		i++;
	return i;
}

/* 's 't 're 've 'm 'll 'd at I (S[I] is the apostrophe): the end, or I.
 * ICASE 0: as written; 1: llama.cpp's '[sS]|'[tT]|...; 2: (?i:...), which
 * also folds U+017F LATIN SMALL LETTER LONG S to s (CaseFolding.txt:
 * 017F; C; 0073), as PCRE2, Rust regex and Oniguruma do. */
static size_t contraction(const unsigned char *s, size_t n, size_t i, int icase)
{
	unsigned c, d;

	if (i + 1 >= n)
		return i;
	c = s[i + 1];
	if (icase && c >= 'A' && c <= 'Z')
		c += 'a' - 'A';
	switch (c) {
	case 's': case 't': case 'm': case 'd':
		return i + 2;
	case 'r': case 'v': case 'l':
		if (i + 2 >= n)
			return i;
		d = s[i + 2];
		if (icase && d >= 'A' && d <= 'Z')
			d += 'a' - 'A';
		if ((c == 'l' && d == 'l') || (c != 'l' && d == 'e'))
			return i + 3;
		return i;
	case 0xc5:
		if (icase == 2 && i + 2 < n && s[i + 2] == 0xbf)
			return i + 3;
		return i;
	}
	return i;
}

/* \s+(?!\S) and then, if ANY, \s+ at I (a space character): the end, or I. */
static size_t space_run(const unsigned char *s, size_t n, size_t i, int any)
{
	size_t last = i, e = i;
	unsigned len;

	while (e < n && (props_at(s, n, e, &len) & F_WS)) {
		last = e;
		e += len;
	}
	if (e == n || last > i || any)
		return e == n ? e : (last > i ? last : e);
	return i;
}

/* \s*[\r\n]+ at I: end after the last CR or LF of the space run, or I. */
static size_t space_newlines(const unsigned char *s, size_t n, size_t i)
{
	size_t end = i;
	unsigned len, fl;

	while (i < n && ((fl = props_at(s, n, i, &len)) & F_WS)) {
		i += len;
		if (fl & F_CRLF)
			end = i;
	}
	return end;
}

struct stage;
typedef size_t (*scan_fn)(const struct stage *st, const unsigned char *s, size_t n, size_t i);

/* A character class of a simple pattern: any of FLAGS or within a range,
 * complemented when NEG. */
struct char_class {
	unsigned flags;
	int neg;
	size_t nrange;
	uint32_t (*range)[2];
	uint8_t ascii[128]; /* membership of U+0000..U+007F, for speed */
};

enum stage_kind { STAGE_SCAN, STAGE_DOLLAR, STAGE_PCRE };

struct stage {
	enum stage_kind kind;
	enum pretok_behavior behavior;
	int invert;
	scan_fn scan;
	/* scanner parameters */
	int digits;           /* \p{N}{1,DIGITS} */
	int icase;            /* contractions: see contraction() */
	int contraction_tail; /* o200k: letters then an optional contraction */
	int space_any;        /* tiktoken r50k: a final |\s+ */
	/* simple patterns: PREFIX? BODY{MIN,MAX} (MAX 0: unbounded), BODY+$ */
	int has_prefix;
	struct char_class prefix, body;
	unsigned min, max;
	pcre2_code *code;
	char *pattern;
};

struct pretok {
	size_t n, cap;
	struct stage *stage;
};

/* GPT-2 (openai/gpt-2 encoder.py):
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
 * The alternatives are tried in order at I; the first that matches wins. */
static size_t scan_gpt2(const struct stage *st, const unsigned char *s, size_t n, size_t i)
{
	unsigned len, fl, nfl, nlen;
	size_t e, q = i;

	if (s[i] == '\'' && (e = contraction(s, n, i, 0)) > i)
		return e;
	fl = props_at(s, n, i, &len);
	if (s[i] == ' ') {
		nfl = props_at(s, n, i + 1, &nlen);
		if (nlen) {
			q = i + 1;
			fl = nfl;
		}
	}
	if (q > i || !(fl & F_WS)) {
		if (fl & F_L)
			return run_any(s, n, q, F_L);
		if (fl & F_N)
			return run_any(s, n, q, F_N);
		if (!(fl & F_WS))
			return run_none(s, n, q, F_WS | F_L | F_N);
	}
	return space_run(s, n, i, st->space_any);
}

/* cl100k_base / Llama-3 and Qwen2 (DIGITS 3 or 1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t scan_cl100k(const struct stage *st, const unsigned char *s, size_t n, size_t i)
{
	unsigned len, fl, nfl, nlen;
	size_t e;
	int k;

	if (s[i] == '\'' && (e = contraction(s, n, i, st->icase)) > i)
		return e;
	fl = props_at(s, n, i, &len);
	if (fl & F_L)
		return run_any(s, n, i, F_L);
	nfl = props_at(s, n, i + len, &nlen);
	if (!(fl & (F_CRLF | F_N)) && (nfl & F_L))
		return run_any(s, n, i + len, F_L);
	if (fl & F_N) {
		e = i + len;
		for (k = 1; k < st->digits && (props_at(s, n, e, &nlen) & F_N); k++)
			e += nlen;
		return e;
	}
	if (s[i] == ' ' && nlen && !(nfl & (F_WS | F_L | F_N)))
		return run_bytes(s, n, run_none(s, n, i + 1, F_WS | F_L | F_N), '\r', '\n', '\r');
	if (!(fl & F_WS))
		return run_bytes(s, n, run_none(s, n, i, F_WS | F_L | F_N), '\r', '\n', '\r');
	if ((e = space_newlines(s, n, i)) > i)
		return e;
	return space_run(s, n, i, 1);
}

/* [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ at I: the end,
 * or I.  The greedy upper run gives back characters only when no lower-class
 * character follows it; then the match ends after the last character of the
 * run that is in both classes (Lm, Lo, M). */
static size_t upper_lower(const unsigned char *s, size_t n, size_t i)
{
	size_t both = i;
	unsigned len, fl;

	while (i < n && ((fl = props_at(s, n, i, &len)) & F_UPPER)) {
		i += len;
		if (fl & F_LOWER)
			both = i;
	}
	if (props_at(s, n, i, &len) & F_LOWER)
		return run_any(s, n, i, F_LOWER);
	return both;
}

/* o200k_base (DIGITS 3, contractions) and Tekken (DIGITS 1, none):
 * [^\r\n\p{L}\p{N}]?[UPPER]*[LOWER]+(?i:'s|...)?|
 * [^\r\n\p{L}\p{N}]?[UPPER]+[LOWER]*(?i:'s|...)?|\p{N}{1,3}|
 *  ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t scan_o200k(const struct stage *st, const unsigned char *s, size_t n, size_t i)
{
	unsigned len, fl, nfl, nlen;
	size_t e = i, c;
	int k, pre;

	fl = props_at(s, n, i, &len);
	pre = !(fl & (F_L | F_N | F_CRLF));
	if (pre && (e = upper_lower(s, n, i + len)) > i + len)
		goto letters;
	if ((e = upper_lower(s, n, i)) > i)
		goto letters;
	if (pre && (e = run_any(s, n, i + len, F_UPPER)) > i + len) {
		e = run_any(s, n, e, F_LOWER);
		goto letters;
	}
	if ((e = run_any(s, n, i, F_UPPER)) > i) {
		e = run_any(s, n, e, F_LOWER);
		goto letters;
	}
	if (fl & F_N) {
		e = i + len;
		for (k = 1; k < st->digits && (props_at(s, n, e, &nlen) & F_N); k++)
			e += nlen;
		return e;
	}
	nfl = props_at(s, n, i + len, &nlen);
	if (s[i] == ' ' && nlen && !(nfl & (F_WS | F_L | F_N)))
		return run_bytes(s, n, run_none(s, n, i + 1, F_WS | F_L | F_N), '\r', '\n', '/');
	if (!(fl & F_WS))
		return run_bytes(s, n, run_none(s, n, i, F_WS | F_L | F_N), '\r', '\n', '/');
	if ((e = space_newlines(s, n, i)) > i)
		return e;
	return space_run(s, n, i, 1);
letters:
	if (st->contraction_tail && e < n && s[e] == '\'' && (c = contraction(s, n, e, 2)) > e)
		return c;
	return e;
}

static int class_has(const struct char_class *cc, uint32_t cp, unsigned fl)
{
	int in = (fl & cc->flags) != 0;
	size_t lo = 0, hi = cc->nrange;

	while (!in && lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cp < cc->range[mid][0])
			hi = mid;
		else if (cp > cc->range[mid][1])
			lo = mid + 1;
		else
			in = 1;
	}
	return in != cc->neg;
}

static inline int class_at(const struct char_class *cc, const unsigned char *s, size_t n,
			   size_t i, unsigned *len)
{
	uint32_t cp;
	unsigned fl;

	if (s[i] < 0x80) {
		*len = 1;
		return cc->ascii[s[i]];
	}
	*len = char_at(s, n, i, &cp, &fl);
	return class_has(cc, cp, fl);
}

/* Up to MAX (0: any number) characters of BODY from I: the end; *COUNT
 * characters. */
static size_t body_run(const struct stage *st, const unsigned char *s, size_t n, size_t i,
		       unsigned *count)
{
	unsigned len;

	*count = 0;
	while (i < n && (!st->max || *count < st->max) && class_at(&st->body, s, n, i, &len)) {
		i += len;
		(*count)++;
	}
	return i;
}

/* PREFIX?BODY{MIN,MAX}: greedy, so the prefix is given back only when the
 * body cannot follow it. */
static size_t scan_simple(const struct stage *st, const unsigned char *s, size_t n, size_t i)
{
	unsigned len, count;
	size_t e;

	if (st->has_prefix && class_at(&st->prefix, s, n, i, &len)) {
		e = body_run(st, s, n, i + len, &count);
		if (count >= st->min && count > 0)
			return e;
	}
	e = body_run(st, s, n, i, &count);
	return count >= st->min && count > 0 ? e : i;
}

/* Matches and gaps of one stage become pieces by the stage's behaviour
 * (tokenizers normalizer.rs NormalizedString::split); pieces go on to the
 * next stage. */
struct run_ctx {
	const struct pretok *p;
	pretok_piece_fn fn;
	void *arg;
	pcre2_match_data *md;
};

struct sink {
	struct run_ctx *rc;
	size_t next;          /* stage the pieces go to */
	const char *base;
	enum pretok_behavior behavior;
	int invert;
	int has_pending, pending_match, prev_match;
	size_t pa, pb;
};

static int split_from(struct run_ctx *rc, size_t k, const char *s, size_t n);

static int emit(struct sink *k, size_t a, size_t b)
{
	if (a == b)
		return 0;
	if (k->next == k->rc->p->n)  /* the last stage: straight to the caller */
		return k->rc->fn(k->rc->arg, k->base + a, b - a);
	return split_from(k->rc, k->next, k->base + a, b - a);
}

static int flush(struct sink *k)
{
	int r = 0;

	if (k->has_pending)
		r = emit(k, k->pa, k->pb);
	k->has_pending = 0;
	return r;
}

static int pend(struct sink *k, size_t a, size_t b, int m)
{
	int r = flush(k);

	k->has_pending = 1;
	k->pending_match = m;
	k->pa = a;
	k->pb = b;
	return r;
}

static int elem(struct sink *k, size_t a, size_t b, int m)
{
	int r = 0;

	m = m != k->invert;
	switch (k->behavior) {
	case PRETOK_ISOLATED:
		r = emit(k, a, b);
		break;
	case PRETOK_REMOVED:
		if (!m)
			r = emit(k, a, b);
		break;
	case PRETOK_MERGED_WITH_PREVIOUS:
		if (m && k->has_pending && !k->prev_match)
			k->pb = b;
		else
			r = pend(k, a, b, m);
		break;
	case PRETOK_MERGED_WITH_NEXT:
		if (k->has_pending && k->pending_match && !m) {
			k->pb = b;
			r = flush(k);
		} else if (m) {
			r = pend(k, a, b, m);
		} else {
			r = flush(k);
			if (!r)
				r = emit(k, a, b);
		}
		break;
	case PRETOK_CONTIGUOUS:
		if (k->has_pending && m == k->prev_match)
			k->pb = b;
		else
			r = pend(k, a, b, m);
		break;
	}
	k->prev_match = m;
	return r;
}

static int scan_stage(struct sink *k, const struct stage *st, const unsigned char *s, size_t n)
{
	size_t i = 0, gap = 0, e;
	uint32_t cp;
	unsigned fl;
	int r;

	while (i < n) {
		/* scan_simple cannot match at an ASCII character that is in
		 * neither its prefix nor its body class: step over those here
		 * rather than one call each (most of the text between the
		 * white space of a white space split). */
		if (st->scan == scan_simple) {
			while (i < n && s[i] < 0x80 && !st->body.ascii[s[i]] &&
			       !(st->has_prefix && st->prefix.ascii[s[i]]))
				i++;
			if (i == n)
				break;
		}
		e = st->scan(st, s, n, i);
		if (e > i) {
			if (gap < i && (r = elem(k, gap, i, 0)))
				return r;
			if ((r = elem(k, i, e, 1)))
				return r;
			i = gap = e;
		} else {
			i += char_at(s, n, i, &cp, &fl);
		}
	}
	if (gap < n)
		return elem(k, gap, n, 0);
	return 0;
}

/* BODY+$: PCRE2's $ matches at the end and before a final newline, so the
 * one match is the run of BODY that reaches the end, or that reaches a
 * final "\n" outside BODY. */
static int dollar_stage(struct sink *k, const struct stage *st, const unsigned char *s, size_t n)
{
	size_t i = 0, start = 0, end_nl = (size_t)-1, start_nl = 0;
	uint32_t cp;
	unsigned fl, len;
	int r;

	while (i < n) {
		len = char_at(s, n, i, &cp, &fl);
		if (!class_has(&st->body, cp, fl)) {
			if (i + 1 == n && s[i] == '\n' && start < i) {
				start_nl = start;
				end_nl = i;
			}
			start = i + len;
		}
		i += len;
	}
	if (start < n) {
		if (start > 0 && (r = elem(k, 0, start, 0)))
			return r;
		return elem(k, start, n, 1);
	}
	if (end_nl != (size_t)-1) {
		if (start_nl > 0 && (r = elem(k, 0, start_nl, 0)))
			return r;
		if ((r = elem(k, start_nl, end_nl, 1)))
			return r;
		return elem(k, end_nl, n, 0);
	}
	return n ? elem(k, 0, n, 0) : 0;
}

/* Copy of S with each byte that is not UTF-8 replaced by U+FFFD, and for
 * every offset of the copy the offset in S. */
static int replace_bad(const unsigned char *s, size_t n, unsigned char **out, size_t *outn,
		       size_t **map)
{
	size_t i = 0, j = 0;
	uint32_t cp;
	unsigned fl, len;

	*out = malloc(3 * n + 1);
	*map = malloc((3 * n + 1) * sizeof **map);
	if (!*out || !*map) {
		free(*out);
		free(*map);
		return LM_ENOMEM;
	}
	while (i < n) {
		len = char_at(s, n, i, &cp, &fl);
		if (cp == 0xfffd && len == 1) {
			memcpy(*out + j, "\xef\xbf\xbd", 3);
			(*map)[j] = (*map)[j + 1] = (*map)[j + 2] = i;
			j += 3;
		} else {
			for (unsigned b = 0; b < len; b++) {
				(*out)[j] = s[i + b];
				(*map)[j++] = i + b;
			}
		}
		i += len;
	}
	(*map)[j] = n;
	*outn = j;
	return 0;
}

/* Leftmost-first matches of the stage's regex, iterated as pcre2demo.c
 * does: after an empty match the next try must be non-empty at the same
 * place, else it moves one character on. */
static int pcre_stage(struct sink *k, const struct stage *st, const unsigned char *s0, size_t n0)
{
	const unsigned char *s = s0;
	unsigned char *copy = NULL;
	size_t *map = NULL, n = n0, start = 0, prev = 0, a, b, ms, me;
	uint32_t opts = 0;
	PCRE2_SIZE *ov;
	int rc, r = 0;

	if (utf8_validate(s0, n0) < n0) {
		if ((r = replace_bad(s0, n0, &copy, &n, &map)))
			return r;
		s = copy;
	}
	ov = pcre2_get_ovector_pointer(k->rc->md);
	while (start <= n) {
		rc = pcre2_match(st->code, s, n, start, opts | PCRE2_NO_UTF_CHECK, k->rc->md, NULL);
		if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
			rc = pcre2_match(st->code, s, n, start,
					 opts | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, k->rc->md, NULL);
		if (rc == PCRE2_ERROR_NOMATCH) {
			if (!opts)
				break;
			opts = 0;
			if (start == n)
				break;
			start++;
			while (start < n && (s[start] & 0xc0) == 0x80)
				start++;
			continue;
		}
		if (rc < 0) {
			/* match or depth limit: a resource limit */
			r = LM_ENOMEM;
			goto out;
		}
		/* the next stage reuses the match data: read it first */
		ms = ov[0];
		me = ov[1];
		a = map ? map[ms] : ms;
		b = map ? map[me] : me;
		opts = ms == me ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
		start = me;
		if (prev < a && (r = elem(k, prev, a, 0)))
			goto out;
		if ((r = elem(k, a, b, 1)))
			goto out;
		prev = b;
	}
	if (prev < n0)
		r = elem(k, prev, n0, 0);
out:
	free(copy);
	free(map);
	return r;
}

/* The last stage is C+ (a scan_simple class run, no prefix, no bound)
 * whose matches are removed, as a white space split is: the gaps go
 * straight to the caller, as elem and split_from would pass them,
 * without the sink, and ASCII is classified inline. */
static int removed_last_stage(struct run_ctx *rc, const struct stage *st, const unsigned char *s,
			      size_t n)
{
	const struct char_class *cc = &st->body;
	size_t i = 0, gap = 0;
	unsigned len;
	int r;

	while (i < n) {
		if (s[i] < 0x80) {
			if (!cc->ascii[s[i]]) {
				i++;
				continue;
			}
			len = 1;
		} else if (!class_at(cc, s, n, i, &len)) {
			i += len;
			continue;
		}
		if (gap < i && (r = rc->fn(rc->arg, (const char *)s + gap, i - gap)))
			return r;
		for (i += len; i < n; i += len) {
			if (s[i] < 0x80) {
				if (!cc->ascii[s[i]])
					break;
				len = 1;
			} else if (!class_at(cc, s, n, i, &len)) {
				break;
			}
		}
		gap = i;
	}
	return gap < n ? rc->fn(rc->arg, (const char *)s + gap, n - gap) : 0;
}

static int split_from(struct run_ctx *rc, size_t idx, const char *s, size_t n)
{
	const struct stage *st;
	struct sink k;
	int r;

	if (idx == rc->p->n)
		return rc->fn(rc->arg, s, n);
	st = &rc->p->stage[idx];
	if (idx + 1 == rc->p->n && st->kind == STAGE_SCAN && st->scan == scan_simple &&
	    st->behavior == PRETOK_REMOVED && !st->invert && !st->has_prefix && st->min <= 1 &&
	    st->max == 0)
		return removed_last_stage(rc, st, (const unsigned char *)s, n);
	memset(&k, 0, sizeof k);
	k.rc = rc;
	k.next = idx + 1;
	k.base = s;
	k.behavior = st->behavior;
	k.invert = st->invert;
	switch (st->kind) {
	case STAGE_SCAN:
		r = scan_stage(&k, st, (const unsigned char *)s, n);
		break;
	case STAGE_DOLLAR:
		r = dollar_stage(&k, st, (const unsigned char *)s, n);
		break;
	default:
		r = pcre_stage(&k, st, (const unsigned char *)s, n);
		break;
	}
	if (!r)
		r = flush(&k);
	return r;
}

int pretok_split(const struct pretok *p, const char *text, size_t len, pretok_piece_fn fn,
		 void *arg)
{
	struct run_ctx rc = { p, fn, arg, NULL };
	int r;

	if (!len)
		return 0;
	if (pretok_pcre_stages(p)) {
		/* one pair: only the whole match is read, rc 0 still means a match */
		rc.md = pcre2_match_data_create(1, NULL);
		if (!rc.md)
			return LM_ENOMEM;
	}
	r = split_from(&rc, 0, text, len);
	pcre2_match_data_free(rc.md);
	return r;
}

/* ---- recognising patterns ---- */

static const struct scanner_pattern {
	const char *pattern;
	scan_fn scan;
	int digits, icase, contraction_tail, space_any;
} scanner_patterns[] = {
	{ PRETOK_PAT_GPT2, scan_gpt2, 0, 0, 0, 0 },
	{ PRETOK_PAT_R50K, scan_gpt2, 0, 0, 0, 1 },
	{ PRETOK_PAT_CL100K, scan_cl100k, 3, 2, 0, 0 },
	/* tiktoken >= 0.7 spells cl100k with possessive quantifiers and
	 * \s*[\r\n]; the matches are the same */
	{ "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]++"
	  "[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+", scan_cl100k, 3, 2, 0, 0 },
	{ PRETOK_PAT_LLAMA3_LLAMACPP, scan_cl100k, 3, 1, 0, 0 },
	{ PRETOK_PAT_QWEN2, scan_cl100k, 1, 2, 0, 0 },
	{ PRETOK_PAT_QWEN2_LLAMACPP, scan_cl100k, 1, 1, 0, 0 },
	{ PRETOK_PAT_O200K, scan_o200k, 3, 2, 1, 0 },
	{ PRETOK_PAT_TEKKEN, scan_o200k, 1, 0, 0, 0 },
};

struct parse {
	const unsigned char *s;
	size_t i, n;
};

static int add_range(struct char_class *cc, uint32_t lo, uint32_t hi)
{
	uint32_t (*r)[2];

	if (lo > hi)
		return -1;
	r = realloc(cc->range, (cc->nrange + 1) * sizeof *r);
	if (!r)
		return -1;
	r[cc->nrange][0] = lo;
	r[cc->nrange][1] = hi;
	cc->range = r;
	cc->nrange++;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Sort and merge overlapping ranges for the binary search in class_has. */
static void normalize_ranges(struct char_class *cc)
{
	size_t i, j = 0;

	if (!cc->nrange)
		return;
	qsort(cc->range, cc->nrange, sizeof *cc->range, range_cmp);
	for (i = 1; i < cc->nrange; i++) {
		if (cc->range[i][0] <= cc->range[j][1] + 1) {
			if (cc->range[i][1] > cc->range[j][1])
				cc->range[j][1] = cc->range[i][1];
		} else {
			j++;
			cc->range[j][0] = cc->range[i][0];
			cc->range[j][1] = cc->range[i][1];
		}
	}
	cc->nrange = j + 1;
}

static void fill_ascii(struct char_class *cc)
{
	for (uint32_t c = 0; c < 128; c++)
		cc->ascii[c] = (uint8_t)class_has(cc, c, bmp_flags[c]);
}

/* \p{NAME}: the flags of the supported general categories, 0 otherwise. */
static unsigned prop_flags(const char *name, size_t len)
{
	static const struct { const char *name; unsigned flags; } props[] = {
		{ "L", F_L }, { "Lu", F_LU }, { "Ll", F_LL }, { "Lt", F_LT },
		{ "Lm", F_LM }, { "Lo", F_LO }, { "M", F_M }, { "N", F_N },
		{ "Nd", F_ND }, { "P", F_P }, { "S", F_S },
	};

	for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
		if (strlen(props[i].name) == len && !memcmp(props[i].name, name, len))
			return props[i].flags;
	return 0;
}

/* One character of a pattern outside \ escapes (UTF-8 decoded), or -1. */
static int64_t lit_char(struct parse *ps)
{
	uint32_t cp;
	int len = utf8_decode(ps->s + ps->i, ps->n - ps->i, &cp);

	if (len <= 0)
		return -1;
	ps->i += (size_t)len;
	return cp;
}

/* An escape after '\': a single character (>= 0), a class added to CC
 * (-2), or unsupported (-1). */
static int64_t escape(struct parse *ps, struct char_class *cc)
{
	unsigned c, f;
	const char *close;

	if (ps->i >= ps->n)
		return -1;
	c = ps->s[ps->i++];
	switch (c) {
	case 'r': return '\r';
	case 'n': return '\n';
	case 't': return '\t';
	case 'f': return '\f';
	case 'v': return -1; /* PCRE2 \v is a class */
	case 's': cc->flags |= F_WS; return -2;
	case 'd': cc->flags |= F_ND; return -2;
	case 'p':
		if (ps->i >= ps->n || ps->s[ps->i] != '{')
			return -1;
		close = memchr(ps->s + ps->i, '}', ps->n - ps->i);
		if (!close)
			return -1;
		f = prop_flags((const char *)ps->s + ps->i + 1,
			       (size_t)(close - (const char *)ps->s) - ps->i - 1);
		if (!f)
			return -1;
		cc->flags |= f;
		ps->i = (size_t)(close - (const char *)ps->s) + 1;
		return -2;
	}
	if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
		return c;
	return -1;
}

/* One atom: [class], \escape or a literal character. */
static int parse_atom(struct parse *ps, struct char_class *cc)
{
	int64_t c, hi;

	memset(cc, 0, sizeof *cc);
	if (ps->i >= ps->n)
		return -1;
	c = ps->s[ps->i];
	if (c == '\\') {
		ps->i++;
		c = escape(ps, cc);
		if (c == -1)
			return -1;
		if (c >= 0 && add_range(cc, (uint32_t)c, (uint32_t)c))
			return -1;
		fill_ascii(cc);
		return 0;
	}
	if (c != '[') {
		if (strchr(".^$|()?*+{}]", (int)c))
			return -1;
		c = lit_char(ps);
		if (c < 0 || add_range(cc, (uint32_t)c, (uint32_t)c))
			return -1;
		fill_ascii(cc);
		return 0;
	}
	ps->i++;
	if (ps->i < ps->n && ps->s[ps->i] == '^') {
		cc->neg = 1;
		ps->i++;
	}
	if (ps->i < ps->n && ps->s[ps->i] == ']')
		return -1;
	while (ps->i < ps->n && ps->s[ps->i] != ']') {
		if (ps->s[ps->i] == '[' && ps->i + 1 < ps->n && strchr(":.=", ps->s[ps->i + 1]))
			return -1;
		if (ps->s[ps->i] == '\\') {
			ps->i++;
			c = escape(ps, cc);
		} else {
			c = lit_char(ps);
		}
		if (c == -1)
			return -1;
		if (c == -2)
			continue;
		if (ps->i + 1 < ps->n && ps->s[ps->i] == '-' && ps->s[ps->i + 1] != ']') {
			ps->i++;
			if (ps->s[ps->i] == '\\') {
				ps->i++;
				hi = escape(ps, cc);
			} else {
				hi = lit_char(ps);
			}
			if (hi < 0)
				return -1;
			if (add_range(cc, (uint32_t)c, (uint32_t)hi))
				return -1;
			continue;
		}
		if (add_range(cc, (uint32_t)c, (uint32_t)c))
			return -1;
	}
	if (ps->i >= ps->n)
		return -1;
	ps->i++;
	normalize_ranges(cc);
	fill_ascii(cc);
	return 0;
}

/* Quantifier after an atom: '?' (MIN 0 MAX 1), '+', '{m}', '{m,n}', none. */
static int parse_quant(struct parse *ps, unsigned *min, unsigned *max)
{
	unsigned a = 0, b;

	*min = *max = 1;
	if (ps->i >= ps->n)
		return 0;
	switch (ps->s[ps->i]) {
	case '?': ps->i++; *min = 0; *max = 1; break;
	case '+': ps->i++; *min = 1; *max = 0; break;
	case '*': return -1;
	case '{':
		ps->i++;
		while (ps->i < ps->n && ps->s[ps->i] >= '0' && ps->s[ps->i] <= '9' && a < 1000)
			a = a * 10 + (ps->s[ps->i++] - '0');
		b = a;
		if (ps->i < ps->n && ps->s[ps->i] == ',') {
			ps->i++;
			b = 0;
			while (ps->i < ps->n && ps->s[ps->i] >= '0' && ps->s[ps->i] <= '9' && b < 1000)
				b = b * 10 + (ps->s[ps->i++] - '0');
			if (b == 0 || b < a)
				return -1;
		}
		if (ps->i >= ps->n || ps->s[ps->i] != '}' || a == 0)
			return -1;
		ps->i++;
		*min = a;
		*max = b;
		break;
	}
	if (ps->i < ps->n && (ps->s[ps->i] == '?' || ps->s[ps->i] == '+'))
		return -1; /* lazy or possessive */
	return 0;
}

static int class_equal(const struct char_class *a, const struct char_class *b)
{
	return a->flags == b->flags && a->neg == b->neg && a->nrange == b->nrange &&
	       !memcmp(a->range, b->range, a->nrange * sizeof *a->range);
}

static void class_free(struct char_class *cc)
{
	free(cc->range);
	cc->range = NULL;
	cc->nrange = 0;
}

/* Simple patterns get a class scanner: C{m,n}, C+, P?C{m,n}, P?C+, C C C
 * (repeated single atoms), C+$.  Anything else returns -1. */
static int parse_simple(const char *pattern, struct stage *st)
{
	struct parse ps = { (const unsigned char *)pattern, 0, strlen(pattern) };
	struct char_class a, b;
	unsigned min, max, min2, max2, reps;

	if (parse_atom(&ps, &a) || parse_quant(&ps, &min, &max))
		goto fail_a;
	if (ps.i == ps.n) {
		st->body = a;
		st->min = min;
		st->max = max;
		st->scan = scan_simple;
		return min ? 0 : (class_free(&st->body), -1);
	}
	if (min == 1 && max == 0 && ps.i + 1 == ps.n && ps.s[ps.i] == '$') {
		st->body = a;
		st->kind = STAGE_DOLLAR;
		return 0;
	}
	if (min == 0 && max == 1) {
		if (parse_atom(&ps, &b) || parse_quant(&ps, &min2, &max2) || ps.i != ps.n ||
		    min2 == 0) {
			class_free(&b);
			goto fail_a;
		}
		st->has_prefix = 1;
		st->prefix = a;
		st->body = b;
		st->min = min2;
		st->max = max2;
		st->scan = scan_simple;
		return 0;
	}
	if (min == 1 && max == 1) {
		reps = 1;
		while (ps.i < ps.n) {
			if (parse_atom(&ps, &b) || parse_quant(&ps, &min2, &max2) ||
			    min2 != 1 || max2 != 1 || !class_equal(&a, &b)) {
				class_free(&b);
				goto fail_a;
			}
			class_free(&b);
			reps++;
		}
		st->body = a;
		st->min = st->max = reps;
		st->scan = scan_simple;
		return 0;
	}
fail_a:
	class_free(&a);
	return -1;
}

static void stage_free(struct stage *st)
{
	class_free(&st->prefix);
	class_free(&st->body);
	pcre2_code_free(st->code);
	free(st->pattern);
}

static int push_stage(struct pretok *p, struct stage *st, const char *pattern,
		      struct lm_error *err)
{
	struct stage *ns;

	st->pattern = strdup(pattern);
	if (!st->pattern) {
		stage_free(st);
		return lm_fail(err, LM_ENOMEM, "pretok: out of memory");
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 4;

		ns = realloc(p->stage, cap * sizeof *ns);
		if (!ns) {
			stage_free(st);
			return lm_fail(err, LM_ENOMEM, "pretok: out of memory");
		}
		p->stage = ns;
		p->cap = cap;
	}
	p->stage[p->n++] = *st;
	return 0;
}

int pretok_add_regex(struct pretok *p, const char *regex, enum pretok_behavior behavior,
		     unsigned flags, struct lm_error *err)
{
	struct stage st;
	PCRE2_SIZE eoff;
	int ecode;
	size_t i;

	memset(&st, 0, sizeof st);
	st.behavior = behavior;
	st.invert = !!(flags & PRETOK_INVERT);
	if (behavior > PRETOK_CONTIGUOUS)
		return lm_fail(err, LM_EINVAL, "pretok: unknown split behaviour %d", (int)behavior);
	if (!(flags & PRETOK_FORCE_PCRE)) {
		for (i = 0; i < sizeof scanner_patterns / sizeof scanner_patterns[0]; i++) {
			const struct scanner_pattern *sp = &scanner_patterns[i];

			if (strcmp(sp->pattern, regex))
				continue;
			st.kind = STAGE_SCAN;
			st.scan = sp->scan;
			st.digits = sp->digits;
			st.icase = sp->icase;
			st.contraction_tail = sp->contraction_tail;
			st.space_any = sp->space_any;
			return push_stage(p, &st, regex, err);
		}
		memset(&st, 0, sizeof st);
		st.behavior = behavior;
		st.invert = !!(flags & PRETOK_INVERT);
		if (!parse_simple(regex, &st))
			return push_stage(p, &st, regex, err);
		memset(&st, 0, sizeof st);
		st.behavior = behavior;
		st.invert = !!(flags & PRETOK_INVERT);
	}
	st.kind = STAGE_PCRE;
	st.code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
				&ecode, &eoff, NULL);
	if (!st.code) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(ecode, msg, sizeof msg);
		return lm_fail(err, LM_EINVAL, "pretok: regex \"%.200s\": %s at offset %zu",
			       regex, (const char *)msg, (size_t)eoff);
	}
	pcre2_jit_compile(st.code, PCRE2_JIT_COMPLETE); /* interpreted when JIT is missing */
	return push_stage(p, &st, regex, err);
}

/* ---- names ---- */

#define PAT_FALCON_PUNCT "[\\p{P}\\$\\+<=>\\^~\\|`]+"
#define PAT_DEFAULT_PUNCT "[\\p{P}\\$\\+<=>\\^~\\|]+"
/* llama.cpp runs regexes without \p{..} through std::wregex after
 * replacing every non-ASCII White_Space character of the text by U+000B
 * (unicode_regex_split), so literal classes never match those characters
 * (\s still does).  Its lists are written here with the White_Space code
 * points taken out of their ranges: "[一-龥ࠀ-一가-퟿]+" less U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F and U+3000. */
#define PAT_CJK_HANGUL "[一-龥ࠀ-\u167F\u1681-\u1FFF\u200B-\u2027\u202A-\u202E\u2030-\u205E" \
	"\u2060-\u2FFF\u3001-一가-퟿]+"
#define PAT_BLOOM " ?[^(\\s|.,!?…。，、।۔،)]+"
/* Rust char::is_ascii_punctuation and Unicode P*: tokenizers
 * pre_tokenizers/punctuation.rs is_punc, bert.rs is_bert_punc */
#define PAT_HF_PUNCT "[\\p{P}!-/:-@\\[-`{-~]"

static const char *const list_gpt2[] = { PRETOK_PAT_GPT2, NULL };
static const char *const list_r50k[] = { PRETOK_PAT_R50K, NULL };
static const char *const list_cl100k[] = { PRETOK_PAT_CL100K, NULL };
static const char *const list_qwen2[] = { PRETOK_PAT_QWEN2, NULL };
static const char *const list_o200k[] = { PRETOK_PAT_O200K, NULL };
static const char *const list_tekken[] = { PRETOK_PAT_TEKKEN, NULL };
static const char *const list_starcoder[] = { "\\p{N}", PRETOK_PAT_GPT2, NULL };
static const char *const list_falcon[] = {
	PAT_FALCON_PUNCT, PRETOK_PAT_GPT2, "[0-9][0-9][0-9]", NULL
};
static const char *const list_default[] = {
	PAT_DEFAULT_PUNCT, PRETOK_PAT_GPT2, "\\p{N}+", "[0-9][0-9][0-9]", NULL
};
/* Code points with canonical singleton decompositions (U+1F7D, U+1FBE,
 * U+1FD3, U+1FDB, U+2126, U+212A) are escaped so that no editor or tool
 * normalizes them into other code points. */
static const char *const list_deepseek_llm[] = {
	"[\r\n]",
	"\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚ"
	"Ḁ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄ"
	"Ⰰ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
	"\\s?[!-/:-~！-／：-～‘-‟\u3001-。]+",   /* "　-。" less U+3000: see PAT_CJK_HANGUL */
	"\\s+$",
	PAT_CJK_HANGUL,
	"\\p{N}+",
	NULL
};
static const char *const list_deepseek_coder[] = {
	"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", PAT_CJK_HANGUL, "\\p{N}", NULL
};
static const char *const list_deepseek_v3[] = {
	"\\p{N}{1,3}",
	"[一-龥぀-ゟ゠-ヿ]+",
	"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
	" ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
	NULL
};
static const char *const list_bloom[] = { PAT_BLOOM, NULL };
static const char *const list_viking[] = { PAT_BLOOM, "\\p{N}", NULL };
static const char *const list_seed_coder[] = {
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
	"\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
	NULL
};
static const char *const list_bailingmoe[] = {
	"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"
	" ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
	NULL
};
static const char *const list_chameleon[] = {
	"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
	"\\p{N}", "[\\p{P}!-/:-@\\[-`{-~]", PRETOK_PAT_GPT2, NULL
};
static const char *const list_digits[] = { "\\p{N}+", NULL };
static const char *const list_digits1[] = { "\\p{N}", NULL };
static const char *const list_punct[] = { PAT_HF_PUNCT, NULL };

static const struct named_list {
	const char *names; /* space separated */
	const char *const *list;
} named_lists[] = {
	{ "gpt-2 phi-2 jina-es jina-de jina-v1-en jina-v2-es jina-v2-de jina-v2-code "
	  "roberta-bpe gigachat a.x-4.0 mellum exaone4 mpt olmo jais trillion "
	  "granite-docling gpt-neox", list_gpt2 },
	{ "r50k_base p50k_base p50k_edit gpt2", list_r50k },
	{ "llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2 dbrx "
	  "smaug-bpe chatglm-bpe glm4 cl100k_base", list_cl100k },
	{ "qwen2 deepseek-r1-qwen kormo megrez stablelm2 hunyuan grok-2", list_qwen2 },
	{ "gpt-4o llama4 minimax-m2 o200k_base", list_o200k },
	{ "tekken", list_tekken },
	{ "starcoder refact command-r smollm codeshell exaone minerva-7b", list_starcoder },
	{ "falcon", list_falcon },
	{ "default", list_default },
	{ "deepseek-llm", list_deepseek_llm },
	{ "deepseek-coder", list_deepseek_coder },
	{ "deepseek-v3 hunyuan-dense", list_deepseek_v3 },
	{ "bloom poro-chat gpt3-finnish", list_bloom },
	{ "viking", list_viking },
	{ "seed-coder", list_seed_coder },
	{ "bailingmoe bailingmoe2 llada-moe", list_bailingmoe },
	{ "chameleon", list_chameleon },
	{ "digits", list_digits },
	{ "digits-individual", list_digits1 },
	{ "punctuation", list_punct },
};

static const struct named_list *find_list(const char *name)
{
	size_t len = strlen(name);

	if (!len)
		return NULL;
	for (size_t i = 0; i < sizeof named_lists / sizeof named_lists[0]; i++) {
		const char *w = named_lists[i].names;

		while (*w) {
			size_t wl = strcspn(w, " ");

			if (wl == len && !memcmp(w, name, len))
				return &named_lists[i];
			w += wl;
			w += strspn(w, " ");
		}
	}
	return NULL;
}

static int is_hf_name(const char *name)
{
	return !strcmp(name, "bert") || !strcmp(name, "whitespace-split") ||
	       !strcmp(name, "metaspace");
}

int pretok_name_known(const char *name)
{
	return name && (find_list(name) || is_hf_name(name));
}

int pretok_add_punctuation(struct pretok *p, enum pretok_behavior behavior, struct lm_error *err)
{
	return pretok_add_regex(p, PAT_HF_PUNCT, behavior, 0, err);
}

int pretok_add_named(struct pretok *p, const char *name, struct lm_error *err)
{
	const struct named_list *nl = find_list(name);
	int r = 0;

	if (nl) {
		for (size_t i = 0; nl->list[i] && !r; i++)
			r = pretok_add_regex(p, nl->list[i], PRETOK_ISOLATED, 0, err);
		return r;
	}
	/* tokenizers bert.rs: split(char::is_whitespace, Removed), then
	 * split(is_bert_punc, Isolated) */
	if (!strcmp(name, "bert")) {
		r = pretok_add_regex(p, "\\s+", PRETOK_REMOVED, 0, err);
		return r ? r : pretok_add_regex(p, PAT_HF_PUNCT, PRETOK_ISOLATED, 0, err);
	}
	if (!strcmp(name, "whitespace-split"))
		return pretok_add_regex(p, "\\s+", PRETOK_REMOVED, 0, err);
	/* tokenizers metaspace.rs: split(replacement, MergedWithNext) */
	if (!strcmp(name, "metaspace"))
		return pretok_add_regex(p, "\xe2\x96\x81", PRETOK_MERGED_WITH_NEXT, 0, err);
	return lm_fail(err, LM_EINVAL, "pretok: unknown pre-tokenizer \"%.200s\"", name);
}

int pretok_new(struct pretok **pp, const char *spec, struct lm_error *err)
{
	struct pretok *p;
	int r = 0;

	*pp = NULL;
	pthread_once(&flags_once, init_flags);
	p = calloc(1, sizeof *p);
	if (!p)
		return lm_fail(err, LM_ENOMEM, "pretok: out of memory");
	if (spec && *spec) {
		if (pretok_name_known(spec))
			r = pretok_add_named(p, spec, err);
		else
			r = pretok_add_regex(p, spec, PRETOK_ISOLATED, 0, err);
	}
	if (r) {
		pretok_free(p);
		return r;
	}
	*pp = p;
	return 0;
}

void pretok_free(struct pretok *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		stage_free(&p->stage[i]);
	free(p->stage);
	free(p);
}

size_t pretok_stages(const struct pretok *p)
{
	return p->n;
}

size_t pretok_pcre_stages(const struct pretok *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++)
		k += p->stage[i].kind == STAGE_PCRE;
	return k;
}

const char *pretok_stage(const struct pretok *p, size_t i, enum pretok_behavior *behavior,
			 unsigned *flags)
{
	if (i >= p->n)
		return NULL;
	if (behavior)
		*behavior = p->stage[i].behavior;
	if (flags)
		*flags = p->stage[i].invert ? PRETOK_INVERT : 0;
	return p->stage[i].pattern;
}

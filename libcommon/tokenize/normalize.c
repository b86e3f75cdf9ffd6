/* normalize.c - Hugging Face normalizers over UTF-8 text (see normalize.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenize/normalize.h"
#include "tokenize/tokenizer_impl.h"
#include "utf8.h"

enum step_kind {
	STEP_FORM, STEP_LOWER, STEP_STRIP_ACCENTS, STEP_BERT, STEP_WPM_LLAMACPP, STEP_REPLACE,
	STEP_PREPEND, STEP_STRIP
};

struct norm_step {
	enum step_kind kind;
	enum normalize_form form;
	int clean_text, chinese, strip_accents, lowercase;   /* STEP_BERT, STEP_WPM_LLAMACPP */
	unsigned char wpm_act[128];                          /* STEP_WPM_LLAMACPP: wpm_class of */
	char wpm_low[128];                                   /* each ASCII byte, precomputed */
	signed char wpm_keep[256];                           /* its wpm_low where WPM_KEEP, else -1 */
	int left, right;                                     /* STEP_STRIP */
	char *pattern, *content;                             /* STEP_REPLACE, STEP_PREPEND (content) */
	size_t pattern_len, content_len;
	pcre2_code *re;
};

struct normalizer {
	struct norm_step *steps;
	size_t n, cap;
};

/* The output of one step: a growable buffer borrowed from struct normalize_buf. */
struct sink {
	char *p;
	size_t len, cap;
};

#define NOT_UTF8 0xFFFFFFFFu

static int sink_reserve(struct sink *s, size_t more)
{
	size_t want = s->len + more, cap = s->cap ? s->cap : 64;
	char *p;

	if (want <= s->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	p = realloc(s->p, cap);
	if (!p)
		return -1;
	s->p = p;
	s->cap = cap;
	return 0;
}

static int sink_put(struct sink *s, const char *b, size_t n)
{
	if (n == 0)  /* s->p may still be NULL: no pointer arithmetic on it */
		return 0;
	if (sink_reserve(s, n))
		return -1;
	memcpy(s->p + s->len, b, n);
	s->len += n;
	return 0;
}

static int sink_cp(struct sink *s, unsigned cp)
{
	char b[4];
	int n;

	if (sink_reserve(s, 4))
		return -1;
	if (cp < 0x80) {
		s->p[s->len++] = (char)cp;
		return 0;
	}
	n = utf8_encode(cp, b);
	memcpy(s->p + s->len, b, (size_t)n);
	s->len += (size_t)n;
	return 0;
}

/* Length of the unit at S[I]: a well-formed sequence (*CP its value) or a
 * single stray byte (*CP = NOT_UTF8). */
static size_t next_unit(const char *s, size_t n, size_t i, unsigned *cp)
{
	uint32_t c;
	int k;

	if ((unsigned char)s[i] < 0x80) {
		*cp = (unsigned char)s[i];
		return 1;
	}
	k = utf8_decode(s + i, n - i, &c);
	if (!k) {
		*cp = NOT_UTF8;
		return 1;
	}
	*cp = c;
	return (size_t)k;
}

int normalize_is_whitespace(unsigned cp)
{
	switch (cp) {
	case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
	case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202F: case 0x205F: case 0x3000:
		return 1;
	default:
		return cp >= 0x2000 && cp <= 0x200A;
	}
}

int normalize_is_chinese_char(unsigned cp)
{
	/* tokenizers normalizers/bert.rs is_chinese_char; note 0x2B920 where
	 * BERT's original tokenization.py has 0x2B820. */
	return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
	       (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
	       (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
	       (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* unicode_categories' is_other: Cc, Cf, Cn, Co, Cs. */
static int is_other(unsigned cp)
{
	switch (utf8proc_category((utf8proc_int32_t)cp)) {
	case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CN:
	case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CS:
		return 1;
	default:
		return 0;
	}
}

static int is_mark(unsigned cp, int nonspacing_only)
{
	utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);

	if (nonspacing_only)
		return c == UTF8PROC_CATEGORY_MN;
	return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

/* Rust char::to_lowercase: the full mapping.  U+0130 is the one character
 * whose unconditional lowercase (SpecialCasing.txt) is two characters. */
static int sink_lower(struct sink *s, unsigned cp)
{
	if (cp < 0x80)
		return sink_cp(s, cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
	if (cp == 0x130)
		return sink_cp(s, 'i') || sink_cp(s, 0x307);
	return sink_cp(s, (unsigned)utf8proc_tolower((utf8proc_int32_t)cp));
}

static int grow_cps(struct normalize_buf *buf, size_t n)
{
	unsigned *p;

	if (n <= buf->cps_cap)
		return 0;
	p = realloc(buf->cps, n * sizeof *p);
	if (!p)
		return -1;
	buf->cps = p;
	buf->cps_cap = n;
	return 0;
}

/* One Unicode normalization form over a well-formed run. */
static int form_run(struct normalize_buf *buf, struct sink *out, const char *s, size_t n,
		    enum normalize_form form)
{
	int opts = UTF8PROC_STABLE;
	utf8proc_ssize_t m;
	size_t i;

	for (i = 0; i < n && (unsigned char)s[i] < 0x80; i++)
		;
	if (i == n)
		return sink_put(out, s, n);
	opts |= form == NORMALIZE_NFC || form == NORMALIZE_NFKC ? UTF8PROC_COMPOSE : UTF8PROC_DECOMPOSE;
	if (form == NORMALIZE_NFKC || form == NORMALIZE_NFKD)
		opts |= UTF8PROC_COMPAT;
	if (grow_cps(buf, n + 16))
		return -1;
	for (;;) {
		m = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
				       (utf8proc_int32_t *)buf->cps, (utf8proc_ssize_t)buf->cps_cap,
				       (utf8proc_option_t)opts);
		if (m < 0)
			return -1;
		if ((size_t)m <= buf->cps_cap)
			break;
		if (grow_cps(buf, (size_t)m))
			return -1;
	}
	if (opts & UTF8PROC_COMPOSE) {
		m = utf8proc_normalize_utf32((utf8proc_int32_t *)buf->cps, m, (utf8proc_option_t)opts);
		if (m < 0)
			return -1;
	}
	for (utf8proc_ssize_t j = 0; j < m; j++)
		if (sink_cp(out, buf->cps[j]))
			return -1;
	return 0;
}

static int apply_form(struct normalize_buf *buf, struct sink *out, const char *s, size_t n,
		      enum normalize_form form)
{
	size_t i = 0, ok;

	while (i < n) {
		ok = utf8_validate(s + i, n - i);
		if (ok && form_run(buf, out, s + i, ok, form))
			return -1;
		i += ok;
		if (i < n) {
			if (sink_put(out, s + i, 1))
				return -1;
			i++;
		}
	}
	return 0;
}

/* Per-character filter/map passes.  MODE: lowercase, strip marks (Mark or
 * only Mn), or both, in that order per character. */
enum { PASS_LOWER = 1, PASS_STRIP_MARK = 2, PASS_STRIP_MN = 4 };

static int apply_pass(struct sink *out, const char *s, size_t n, int mode)
{
	unsigned cp;
	size_t k;

	for (size_t i = 0; i < n; i += k) {
		k = next_unit(s, n, i, &cp);
		if (cp == NOT_UTF8) {
			if (sink_put(out, s + i, k))
				return -1;
			continue;
		}
		if ((mode & (PASS_STRIP_MARK | PASS_STRIP_MN)) && cp >= 0x300 &&
		    is_mark(cp, !(mode & PASS_STRIP_MARK)))
			continue;
		if ((mode & PASS_LOWER) ? sink_lower(out, cp) : sink_cp(out, cp))
			return -1;
	}
	return 0;
}

/* BertNormalizer clean_text + handle_chinese_chars (+ lowercase when no
 * accent stripping follows). */
static int apply_bert_clean(struct sink *out, const char *s, size_t n, const struct norm_step *st,
			    int lower)
{
	unsigned cp;
	size_t k;

	for (size_t i = 0; i < n; i += k) {
		k = next_unit(s, n, i, &cp);
		if (cp == NOT_UTF8) {
			if (sink_put(out, s + i, k))
				return -1;
			continue;
		}
		if (st->clean_text) {
			if (cp == 0 || cp == 0xFFFD)
				continue;
			if (cp != '\t' && cp != '\n' && cp != '\r' && is_other(cp))
				continue;
			if (normalize_is_whitespace(cp))
				cp = ' ';
		}
		if (st->chinese && cp >= 0x3400 && normalize_is_chinese_char(cp)) {
			if (sink_cp(out, ' ') || sink_cp(out, cp) || sink_cp(out, ' '))
				return -1;
			continue;
		}
		if (lower ? sink_lower(out, cp) : sink_cp(out, cp))
			return -1;
	}
	return 0;
}

/* llama.cpp's own reading of BERT's basic tokenizer
 * (llm_tokenizer_wpm_session::preprocess in llama-vocab.cpp, tables from
 * scripts/gen-unicode-data.py), which a GGUF "bert" vocabulary is
 * tokenized with.  It differs from bert.rs: its "NFD" replaces each code
 * point by the FIRST code point of its canonical decomposition (so a Hangul
 * syllable becomes its leading jamo alone), accent stripping drops all of
 * General_Category M, "control" is Cc Cf Co Cs but not unassigned code
 * points, lowercase is the simple (one code point) mapping, and bad UTF-8
 * bytes are U+FFFD, which is dropped.  Words come out separated by single
 * spaces, punctuation (P, ASCII S) and CJK ideographs as words of their
 * own, for a white space split to take apart. */
static unsigned nfd_first(unsigned cp)
{
	utf8proc_int32_t d[16];
	int boundclass = 0;
	utf8proc_ssize_t n;

	if (cp < 0xC0)
		return cp;
	n = utf8proc_decompose_char((utf8proc_int32_t)cp, d, 16, UTF8PROC_DECOMPOSE, &boundclass);
	return n > 0 ? (unsigned)d[0] : cp;
}

enum wpm_act { WPM_DROP, WPM_SPACE, WPM_KEEP, WPM_ALONE };

/* What preprocess does with code point CP: drop it, make it a space, or
 * keep *LOW (its lowercase when lowercasing), alone between spaces or
 * not. */
static enum wpm_act wpm_class(const struct norm_step *st, unsigned cp, unsigned *low)
{
	utf8proc_category_t c;

	if (st->strip_accents)
		cp = nfd_first(cp);
	if (normalize_is_whitespace(cp))
		return WPM_SPACE;
	c = utf8proc_category((utf8proc_int32_t)cp);
	if (cp == 0 || cp == 0xFFFD || c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
	    c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CS)
		return WPM_DROP;
	if (st->strip_accents && (c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC ||
				  c == UTF8PROC_CATEGORY_ME))
		return WPM_DROP;
	*low = st->lowercase ? (unsigned)utf8proc_tolower((utf8proc_int32_t)cp) : cp;
	if ((c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO) ||
	    (cp < 0x7F && c >= UTF8PROC_CATEGORY_SM && c <= UTF8PROC_CATEGORY_SO) ||
	    normalize_is_chinese_char(cp))
		return WPM_ALONE;
	return WPM_KEEP;
}

/* The ASCII bytes, which are most of most text, go through the table
 * made from wpm_class when the step was added; the rest through
 * wpm_class.  No character writes more than three bytes per byte it
 * takes (an ASCII character set apart: " c "; a longer one at most
 * " " + 4 + " "), so room for 3 bytes per input byte left is kept and
 * the ASCII path writes without checking. */
static int apply_wpm_llamacpp(struct sink *out, const char *s, size_t n, const struct norm_step *st)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned cp, low = 0;
	size_t i = 0, k;
	char *p;

	if (sink_reserve(out, 3 * n))
		return -1;
	p = out->p + out->len;
	while (i < n) {
		unsigned char c = u[i];

		if (c < 0x80) {
			switch (st->wpm_act[c]) {
			case WPM_KEEP:
				*p++ = st->wpm_low[c];
				break;
			case WPM_SPACE:
				*p++ = ' ';
				break;
			case WPM_ALONE:
				p[0] = ' ';
				p[1] = st->wpm_low[c];
				p[2] = ' ';
				p += 3;
				break;
			}
			i++;
			continue;
		}
		out->len = (size_t)(p - out->p);
		k = next_unit(s, n, i, &cp);
		i += k;
		if (cp != NOT_UTF8) {
			switch (wpm_class(st, cp, &low)) {
			case WPM_DROP:
				break;
			case WPM_SPACE:
				if (sink_cp(out, ' '))
					return -1;
				break;
			case WPM_KEEP:
				if (sink_cp(out, low))
					return -1;
				break;
			case WPM_ALONE:
				if (sink_cp(out, ' ') || sink_cp(out, low) || sink_cp(out, ' '))
					return -1;
				break;
			}
		}
		if (sink_reserve(out, 3 * (n - i)))
			return -1;
		p = out->p + out->len;
	}
	out->len = (size_t)(p - out->p);
	return 0;
}

static int apply_replace(struct sink *out, const char *s, size_t n, const struct norm_step *st)
{
	pcre2_match_data *md;
	PCRE2_SIZE *ov, at = 0, last = 0;
	int rc = 0, r;

	if (!st->re && st->pattern_len == 1) {
		/* One byte to replace (Llama's ' ' -> U+2581): one pass, with
		 * room for the longest result made first. */
		size_t grow = st->content_len > 1 ? st->content_len : 1;
		char c0 = st->pattern[0], *p;

		if (n > SIZE_MAX / grow || sink_reserve(out, n * grow))
			return -1;
		p = out->p + out->len;
		for (size_t i = 0; i < n; i++) {
			if (s[i] != c0) {
				*p++ = s[i];
				continue;
			}
			memcpy(p, st->content, st->content_len);
			p += st->content_len;
		}
		out->len = (size_t)(p - out->p);
		return 0;
	}
	if (!st->re) {
		const char *p = s, *end = s + n, *hit;

		while ((hit = memmem(p, (size_t)(end - p), st->pattern, st->pattern_len))) {
			if (sink_put(out, p, (size_t)(hit - p)) ||
			    sink_put(out, st->content, st->content_len))
				return -1;
			p = hit + st->pattern_len;
		}
		return sink_put(out, p, (size_t)(end - p));
	}
	md = pcre2_match_data_create_from_pattern(st->re, NULL);
	if (!md)
		return -1;
	ov = pcre2_get_ovector_pointer(md);
	while (at <= n) {
		r = pcre2_match(st->re, (PCRE2_SPTR)s, n, at, 0, md, NULL);
		if (r < 0)
			break;
		if (sink_put(out, s + last, ov[0] - last) || sink_put(out, st->content, st->content_len)) {
			rc = -1;
			goto out;
		}
		last = ov[1];
		if (ov[1] > ov[0]) {
			at = ov[1];
			continue;
		}
		/* An empty match: step over one character so the scan advances. */
		if (ov[1] >= n)
			break;
		{
			unsigned cp;
			size_t k = next_unit(s, n, ov[1], &cp);

			if (sink_put(out, s + ov[1], k)) {
				rc = -1;
				goto out;
			}
			at = last = ov[1] + k;
		}
	}
	if (sink_put(out, s + last, n - last))
		rc = -1;
out:
	pcre2_match_data_free(md);
	return rc;
}

static int apply_strip(struct sink *out, const char *s, size_t n, const struct norm_step *st)
{
	size_t b = 0, e = n, k;
	unsigned cp;

	if (st->left)
		while (b < e && (k = next_unit(s, e, b, &cp)) && cp != NOT_UTF8 && normalize_is_whitespace(cp))
			b += k;
	if (st->right)
		while (e > b) {
			size_t j = e - 1;

			while (j > b && ((unsigned char)s[j] & 0xC0) == 0x80 && e - j < 4)
				j--;
			k = next_unit(s, e, j, &cp);
			if (j + k != e || cp == NOT_UTF8 || !normalize_is_whitespace(cp))
				break;
			e = j;
		}
	return sink_put(out, s + b, e - b);
}

static int apply_step(struct normalize_buf *buf, struct sink *out, const char *s, size_t n,
		      const struct norm_step *st)
{
	struct sink mid = { 0 };
	int rc;

	switch (st->kind) {
	case STEP_FORM:
		return apply_form(buf, out, s, n, st->form);
	case STEP_LOWER:
		return apply_pass(out, s, n, PASS_LOWER);
	case STEP_STRIP_ACCENTS:
		return apply_pass(out, s, n, PASS_STRIP_MARK);
	case STEP_REPLACE:
		return apply_replace(out, s, n, st);
	case STEP_PREPEND:
		if (n && sink_put(out, st->content, st->content_len))
			return -1;
		return sink_put(out, s, n);
	case STEP_STRIP:
		return apply_strip(out, s, n, st);
	case STEP_WPM_LLAMACPP:
		return apply_wpm_llamacpp(out, s, n, st);
	case STEP_BERT:
		if (!st->strip_accents)
			return apply_bert_clean(out, s, n, st, st->lowercase);
		/* bert.rs: clean, chinese chars, then NFD + drop Mn, then lowercase. */
		rc = apply_bert_clean(out, s, n, st, 0);
		if (!rc) {
			rc = apply_form(buf, &mid, out->p, out->len, NORMALIZE_NFD);
			out->len = 0;
		}
		if (!rc)
			rc = apply_pass(out, mid.p, mid.len, PASS_STRIP_MN | (st->lowercase ? PASS_LOWER : 0));
		free(mid.p);
		return rc;
	}
	return 0;
}

int normalizer_apply(const struct normalizer *nz, const char *text, size_t len,
		     struct normalize_buf *buf, struct lm_error *err)
{
	struct sink out;
	const char *src = text;
	size_t n = len;
	char *swap_p;
	size_t swap_cap;

	for (size_t i = 0; i < nz->n; i++) {
		out.p = buf->tmp;
		out.cap = buf->tmp_cap;
		out.len = 0;
		if (apply_step(buf, &out, src, n, &nz->steps[i])) {
			buf->tmp = out.p;
			buf->tmp_cap = out.cap;
			return lm_fail(err, LM_ENOMEM, "normalizer: out of memory");
		}
		/* The step's output becomes buf->text, the old text the scratch. */
		swap_p = buf->text;
		swap_cap = buf->cap;
		buf->text = out.p;
		buf->cap = out.cap;
		buf->len = out.len;
		buf->tmp = swap_p;
		buf->tmp_cap = swap_cap;
		src = buf->text;
		n = buf->len;
	}
	if (!nz->n) {
		out.p = buf->text;
		out.cap = buf->cap;
		out.len = 0;
		if (sink_put(&out, text, len)) {
			buf->text = out.p;
			buf->cap = out.cap;
			return lm_fail(err, LM_ENOMEM, "normalizer: out of memory");
		}
		buf->text = out.p;
		buf->cap = out.cap;
		buf->len = len;
	}
	return 0;
}

void normalize_buf_free(struct normalize_buf *buf)
{
	free(buf->text);
	free(buf->tmp);
	free(buf->cps);
	memset(buf, 0, sizeof *buf);
}

struct normalizer *normalizer_new(void)
{
	return calloc(1, sizeof(struct normalizer));
}

void normalizer_free(struct normalizer *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		free(n->steps[i].pattern);
		free(n->steps[i].content);
		pcre2_code_free(n->steps[i].re);
	}
	free(n->steps);
	free(n);
}

size_t normalizer_steps(const struct normalizer *n)
{
	return n ? n->n : 0;
}

static struct norm_step *add_step(struct normalizer *n, enum step_kind kind, struct lm_error *err)
{
	struct norm_step *p;

	if (n->n == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 4;

		p = realloc(n->steps, cap * sizeof *p);
		if (!p) {
			lm_fail(err, LM_ENOMEM, "normalizer: out of memory");
			return NULL;
		}
		n->steps = p;
		n->cap = cap;
	}
	p = &n->steps[n->n++];
	memset(p, 0, sizeof *p);
	p->kind = kind;
	return p;
}

int normalizer_add_form(struct normalizer *n, enum normalize_form form, struct lm_error *err)
{
	struct norm_step *st = add_step(n, STEP_FORM, err);

	if (!st)
		return LM_ENOMEM;
	st->form = form;
	return 0;
}

int normalizer_add_lowercase(struct normalizer *n, struct lm_error *err)
{
	return add_step(n, STEP_LOWER, err) ? 0 : LM_ENOMEM;
}

int normalizer_add_strip_accents(struct normalizer *n, struct lm_error *err)
{
	return add_step(n, STEP_STRIP_ACCENTS, err) ? 0 : LM_ENOMEM;
}

int normalizer_add_bert(struct normalizer *n, int clean_text, int handle_chinese_chars,
			int strip_accents, int lowercase, struct lm_error *err)
{
	struct norm_step *st = add_step(n, STEP_BERT, err);

	if (!st)
		return LM_ENOMEM;
	st->clean_text = clean_text;
	st->chinese = handle_chinese_chars;
	st->strip_accents = strip_accents;
	st->lowercase = lowercase;
	return 0;
}

int normalizer_add_wpm_llamacpp(struct normalizer *n, int strip_accents, int lowercase,
				struct lm_error *err)
{
	struct norm_step *st = add_step(n, STEP_WPM_LLAMACPP, err);

	if (!st)
		return LM_ENOMEM;
	st->strip_accents = strip_accents;
	st->lowercase = lowercase;
	for (unsigned c = 0; c < 128; c++) {
		unsigned low = c;

		st->wpm_act[c] = (unsigned char)wpm_class(st, c, &low);
		/* Simple lowercase keeps ASCII in ASCII: one byte out. */
		st->wpm_low[c] = (char)(low < 0x80 ? low : c);
	}
	for (unsigned c = 0; c < 256; c++)
		st->wpm_keep[c] = (signed char)(c < 0x80 && st->wpm_act[c] == WPM_KEEP ? st->wpm_low[c] : -1);
	return 0;
}

static char *dup_mem(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

int normalizer_add_replace(struct normalizer *n, const char *pattern, size_t pattern_len,
			   int is_regex, const char *content, size_t content_len,
			   struct lm_error *err)
{
	struct norm_step *st;
	PCRE2_SIZE off;
	int code;

	if (!pattern_len && !is_regex)
		return lm_fail(err, LM_EINVAL, "Replace: empty pattern");
	st = add_step(n, STEP_REPLACE, err);
	if (!st)
		return LM_ENOMEM;
	st->pattern = dup_mem(pattern, pattern_len);
	st->content = dup_mem(content, content_len);
	st->pattern_len = pattern_len;
	st->content_len = content_len;
	if (!st->pattern || !st->content) {
		n->n--;
		free(st->pattern);
		free(st->content);
		return lm_fail(err, LM_ENOMEM, "normalizer: out of memory");
	}
	if (is_regex) {
		st->re = pcre2_compile((PCRE2_SPTR)pattern, pattern_len,
				       PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &off, NULL);
		if (!st->re) {
			PCRE2_UCHAR msg[256];

			pcre2_get_error_message(code, msg, sizeof msg);
			n->n--;
			free(st->pattern);
			free(st->content);
			return lm_fail(err, LM_EINVAL, "bad regex at offset %zu: %s", (size_t)off,
				       (const char *)msg);
		}
	}
	return 0;
}

int normalizer_add_prepend(struct normalizer *n, const char *s, size_t len, struct lm_error *err)
{
	struct norm_step *st = add_step(n, STEP_PREPEND, err);

	if (!st)
		return LM_ENOMEM;
	st->content = dup_mem(s, len);
	st->content_len = len;
	if (!st->content) {
		n->n--;
		return lm_fail(err, LM_ENOMEM, "normalizer: out of memory");
	}
	return 0;
}

int normalizer_add_strip(struct normalizer *n, int left, int right, struct lm_error *err)
{
	struct norm_step *st = add_step(n, STEP_STRIP, err);

	if (!st)
		return LM_ENOMEM;
	st->left = left;
	st->right = right;
	return 0;
}

/* Each thread's scratch for normalizer_run: a run allocates nothing once
 * its thread has seen text as long. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_release(void *p)
{
	normalize_buf_free(p);
	free(p);
}

static void scratch_key_init(void)
{
	scratch_key_ok = pthread_key_create(&scratch_key, scratch_release) == 0;
}

static struct normalize_buf *thread_scratch(void)
{
	struct normalize_buf *b;

	pthread_once(&scratch_once, scratch_key_init);
	if (!scratch_key_ok)
		return NULL;
	if ((b = pthread_getspecific(scratch_key)))
		return b;
	if (!(b = calloc(1, sizeof *b)))
		return NULL;
	if (pthread_setspecific(scratch_key, b)) {
		free(b);
		return NULL;
	}
	return b;
}

static int normalizer_run(const void *state, const char *text, size_t len, struct tok_buf *out,
			  struct lm_error *err)
{
	const struct normalizer *nz = state;
	struct normalize_buf local = { 0 }, *buf = thread_scratch();
	int rc;

	if (!buf)
		buf = &local;
	if (nz->n == 1 && out->len == 0) {
		/* One step (the usual case) writes straight into OUT. */
		struct sink s = { out->data, 0, out->cap };

		rc = apply_step(buf, &s, text, len, &nz->steps[0]) || sink_reserve(&s, 1) ? -1 : 0;
		out->data = s.p;
		out->cap = s.cap;
		out->len = 0;
		if (rc) {
			rc = lm_fail(err, LM_ENOMEM, "normalizer: out of memory");
		} else {
			out->len = s.len;
			out->data[s.len] = 0;
		}
	} else {
		rc = normalizer_apply(nz, text, len, buf, err);
		if (!rc)
			rc = tok_buf_append(out, buf->text, buf->len, err);
	}
	normalize_buf_free(&local);
	return rc;
}

static void normalizer_release(void *state)
{
	normalizer_free(state);
}

/* llama.cpp's BERT preprocessing followed by a white space split, in one
 * pass (normalizer_attach_wpm_split): the words of apply_wpm_llamacpp's
 * output are the runs between its spaces, a character set apart is a
 * word of its own, and nothing it keeps is white space (no lowercase
 * mapping makes white space), so each word goes to FN as it ends without
 * the spaces ever being written or scanned again. */
static int wpm_split_run(const void *state, const char *text, size_t n, tok_piece_fn fn, void *arg)
{
	const struct norm_step *st = &((const struct normalizer *)state)->steps[0];
	const unsigned char *u = (const unsigned char *)text;
	struct normalize_buf local = { 0 }, *buf = thread_scratch();
	struct sink out;
	size_t i = 0, k, word = 0;
	unsigned cp, low = 0;
	char *p;
	int r = 0;

	if (!buf)
		buf = &local;
	out.p = buf->text;
	out.cap = buf->cap;
	out.len = 0;
	if (sink_reserve(&out, 3 * n + 1)) {
		r = LM_ENOMEM;
		goto out;
	}
	p = out.p;
	while (i < n) {
		unsigned char c;
		enum wpm_act act;
		signed char v;

		/* the run of ASCII characters that are kept (most of a word) */
		while ((v = st->wpm_keep[u[i]]) >= 0) {
			*p++ = v;
			if (++i == n)
				goto last;
		}
		c = u[i];
		if (c < 0x80) {
			act = st->wpm_act[c];
			low = (unsigned char)st->wpm_low[c];
			i++;
		} else {
			k = next_unit(text, n, i, &cp);
			i += k;
			act = cp == NOT_UTF8 ? WPM_DROP : wpm_class(st, cp, &low);
		}
		if (act == WPM_DROP)
			continue;
		if (act == WPM_KEEP) {
			if (low < 0x80) {
				*p++ = (char)low;
			} else {
				out.len = (size_t)(p - out.p);
				if (sink_cp(&out, low) || sink_reserve(&out, 3 * (n - i) + 1)) {
					r = LM_ENOMEM;
					goto out;
				}
				p = out.p + out.len;
			}
			continue;
		}
		/* a space or a character alone: the word so far ends */
		if (p > out.p + word && (r = fn(arg, out.p + word, (size_t)(p - out.p) - word)))
			goto out;
		word = (size_t)(p - out.p);
		if (act == WPM_SPACE)
			continue;
		out.len = word;
		if (sink_cp(&out, low) || sink_reserve(&out, 3 * (n - i) + 1)) {
			r = LM_ENOMEM;
			goto out;
		}
		if ((r = fn(arg, out.p + word, out.len - word)))
			goto out;
		word = out.len;
		p = out.p + out.len;
	}
last:
	if (p > out.p + word)
		r = fn(arg, out.p + word, (size_t)(p - out.p) - word);
out:
	/* the buffer stays with the thread for its next text */
	buf->text = out.p;
	buf->cap = out.cap;
	buf->len = 0;
	normalize_buf_free(&local);
	return r;
}

int normalizer_attach_wpm_split(struct tokenizer *tok, struct normalizer *n, struct lm_error *err)
{
	if (n->n != 1 || n->steps[0].kind != STEP_WPM_LLAMACPP)
		return lm_fail(err, LM_EINVAL, "normalizer: not llama.cpp's BERT preprocessing alone");
	tok->splitter.run = wpm_split_run;
	tok->splitter.free = normalizer_release;
	tok->splitter.state = n;
	return 0;
}

void normalizer_attach(struct tokenizer *tok, struct normalizer *n)
{
	tok->normalizer.run = normalizer_run;
	tok->normalizer.free = normalizer_release;
	tok->normalizer.state = n;
}

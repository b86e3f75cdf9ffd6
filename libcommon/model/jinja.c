/* jinja.c - lexer, parser and tree-walking renderer for the Jinja subset of
 * chat templates.  Semantics follow @huggingface/jinja (the engine of
 * transformers.js), which mirrors Jinja2 with trim_blocks/lstrip_blocks;
 * see jinja.h for the promised subset.
 */
#include "jinja.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "arena.h"
#include "utf8.h"

enum { MAX_NEST = 200, MAX_CALL_DEPTH = 100 };

/* ---------------------------------------------------------------- values */

enum jv_type { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_ARRAY, JV_OBJECT,
	       JV_NS, JV_FUNC };

enum builtin_fn { FN_MACRO, FN_RANGE, FN_NAMESPACE, FN_RAISE, FN_STRFTIME };

struct jarr;
struct jobj;
struct node;

struct jv {
	enum jv_type t;
	union {
		int b;
		int64_t i;
		double f;
		struct { const char *p; size_t n; } s;
		struct jarr *a;
		struct jobj *o;
		struct { const struct node *macro; enum builtin_fn id; } fn;
	} u;
};

struct jarr { size_t n, cap; struct jv *v; };
struct jobj { size_t n, cap; const char **k; struct jv *v; };

/* ------------------------------------------------------------------ tree */

enum node_kind {
	N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_MACRO, N_BREAK, N_CONTINUE, N_COMMENT,
	E_INT, E_FLOAT, E_STR, E_IDENT, E_LIST, E_TUPLE, E_DICT, E_MEMBER, E_INDEX, E_SLICE,
	E_CALL, E_UNARY, E_BIN, E_FILTER, E_TEST, E_TERNARY, E_SELECT, E_KWARG,
};

enum op { OP_NONE, OP_OR, OP_AND, OP_NOT, OP_EQ, OP_NE, OP_LT, OP_GT, OP_LE, OP_GE, OP_IN,
	  OP_NOTIN, OP_ADD, OP_SUB, OP_CAT, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW };

struct nlist { struct node **v; size_t n, cap; };

struct node {
	enum node_kind kind;
	enum op op;
	size_t pos;             /* byte offset in the original source */
	const char *s;          /* text, string literal, identifier, filter/test name */
	size_t slen;
	int64_t i;
	double f;
	int flag;               /* test negation, filter with arguments */
	struct node *a, *b, *c, *d;
	struct nlist kids, kids2;
};

struct jinja_template {
	struct arena *arena;
	char *src;              /* original text, for line/column of errors */
	size_t srclen;
	struct nlist body;
};

static void where(const char *src, size_t len, size_t pos, int *line, int *col)
{
	int l = 1, c = 1;
	for (size_t i = 0; i < pos && i < len; i++) {
		if (src[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static int fail_pos(struct lm_error *err, const char *src, size_t len, size_t pos,
		    const char *fmt, va_list ap)
{
	char msg[400];
	int line, col;
	vsnprintf(msg, sizeof msg, fmt, ap);
	where(src, len, pos, &line, &col);
	return lm_fail(err, LM_EFORMAT, "template line %d, column %d: %s", line, col, msg);
}

/* JavaScript's \s and String.prototype.trim set (ECMA-262 WhiteSpace and
 * LineTerminator), which the reference engine strips with. */
static int js_space(uint32_t c)
{
	return (c >= 9 && c <= 13) || c == ' ' || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000 || c == 0xfeff;
}

/* Length of the UTF-8 sequence at S (1 for invalid bytes), its code point
 * in *CP. */
static size_t cp_at(const char *s, size_t n, uint32_t *cp)
{
	int k = utf8_decode(s, n, cp);
	if (k <= 0) {
		*cp = (unsigned char)s[0];
		return 1;
	}
	return (size_t)k;
}

/* Bytes of whitespace at the start of S. */
static size_t space_prefix(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t c;
		size_t k = cp_at(s + i, n - i, &c);
		if (!js_space(c))
			break;
		i += k;
	}
	return i;
}

/* Length of S with trailing whitespace removed. */
static size_t trim_end_len(const char *s, size_t n)
{
	size_t end = n;
	while (end > 0) {
		size_t st = end - 1;
		while (st > 0 && ((unsigned char)s[st] & 0xc0) == 0x80 && end - st < 4)
			st--;
		uint32_t c;
		size_t k = cp_at(s + st, end - st, &c);
		if (st + k != end || !js_space(c))
			break;
		end = st;
	}
	return end;
}

/* ----------------------------------------------------------------- lexer */

enum tok_type {
	TK_TEXT, TK_COMMENT, TK_OPEN_STMT, TK_CLOSE_STMT, TK_OPEN_EXPR, TK_CLOSE_EXPR,
	TK_NUM, TK_STR, TK_IDENT, TK_LPAREN, TK_RPAREN, TK_LBRACE, TK_RBRACE, TK_LBRACKET,
	TK_RBRACKET, TK_COMMA, TK_DOT, TK_COLON, TK_PIPE, TK_CMP, TK_ADD, TK_MUL, TK_POW,
	TK_UNARY, TK_EQUALS, TK_EOF,
};

struct tok {
	enum tok_type type;
	size_t pos;
	char *s;                /* text, literal value or operator spelling */
	size_t n;
	int is_float;
	int64_t i;
	double f;
};

struct lexer {
	struct arena *arena;
	const char *orig;
	size_t origlen;
	char *s;                /* preprocessed text */
	size_t n;
	size_t *map;            /* offset in s -> offset in orig */
	struct tok *t;
	size_t nt, cap;
	struct lm_error *err;
};

static int lex_fail(struct lexer *lx, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int lex_fail(struct lexer *lx, size_t at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = fail_pos(lx->err, lx->orig, lx->origlen, at < lx->n ? lx->map[at] : lx->origlen,
			  fmt, ap);
	va_end(ap);
	return rc;
}

/* The transformers configuration, as @huggingface/jinja applies it to the
 * source text: drop one trailing newline; lstrip_blocks removes spaces and
 * tabs from a line start up to "{%", "{#" or "{-"; then trim_blocks removes
 * the newline right after "%}", "#}" or "-}". */
static int preprocess(struct lexer *lx)
{
	size_t n = lx->origlen;
	if (n > 0 && lx->orig[n - 1] == '\n')
		n--;
	char *a = malloc(n + 1), *b = malloc(n + 1);
	size_t *ma = malloc((n + 1) * sizeof *ma), *mb = malloc((n + 1) * sizeof *mb);
	int rc = LM_OK;
	if (!a || !b || !ma || !mb) {
		rc = lm_fail(lx->err, LM_ENOMEM, "out of memory");
		goto out;
	}
	size_t na = 0;
	for (size_t i = 0; i < n;) {
		int line_start = i == 0 || lx->orig[i - 1] == '\n' || lx->orig[i - 1] == '\r';
		if (line_start) {
			size_t j = i;
			while (j < n && (lx->orig[j] == ' ' || lx->orig[j] == '\t'))
				j++;
			if (j > i && j + 1 < n && lx->orig[j] == '{' &&
			    (lx->orig[j + 1] == '#' || lx->orig[j + 1] == '%' || lx->orig[j + 1] == '-'))
				i = j;
		}
		ma[na] = i;
		a[na++] = lx->orig[i++];
	}
	size_t nb = 0;
	for (size_t i = 0; i < na; i++) {
		mb[nb] = ma[i];
		b[nb++] = a[i];
		if (a[i] == '}' && i > 0 && (a[i - 1] == '#' || a[i - 1] == '%' || a[i - 1] == '-') &&
		    i + 1 < na && a[i + 1] == '\n')
			i++;
	}
	/* transformers' {% generation %} / {% endgeneration %} marks assistant
	 * text for training masks; the reference removes the tags, with the
	 * whitespace around them where "-" asks for it */
	na = 0;
	for (size_t i = 0; i < nb;) {
		size_t j = i + space_prefix(b + i, nb - i), k = j, tag_end = 0;
		int lstrip = 0, rstrip = 0;
		if (k + 1 < nb && b[k] == '{' && b[k + 1] == '%') {
			k += 2;
			if (k < nb && b[k] == '-') {
				lstrip = 1;
				k++;
			}
			k += space_prefix(b + k, nb - k);
			if (k + 3 <= nb && memcmp(b + k, "end", 3) == 0)
				k += 3;
			if (k + 10 <= nb && memcmp(b + k, "generation", 10) == 0) {
				k += 10;
				k += space_prefix(b + k, nb - k);
				if (k < nb && b[k] == '-') {
					rstrip = 1;
					k++;
				}
				if (k + 1 < nb && b[k] == '%' && b[k + 1] == '}')
					tag_end = k + 2;
			}
		}
		if (!tag_end) {
			size_t stop = j > i ? j : i + 1;
			for (; i < stop; i++) {
				ma[na] = mb[i];
				a[na++] = b[i];
			}
			continue;
		}
		for (; !lstrip && i < j; i++) {
			ma[na] = mb[i];
			a[na++] = b[i];
		}
		size_t after = tag_end + space_prefix(b + tag_end, nb - tag_end);
		for (i = tag_end; !rstrip && i < after; i++) {
			ma[na] = mb[i];
			a[na++] = b[i];
		}
		i = after;
	}
	a[na] = 0;
	ma[na] = lx->origlen;
	lx->s = a;
	lx->n = na;
	lx->map = ma;
	a = NULL;
	ma = NULL;
out:
	free(a);
	free(b);
	free(ma);
	free(mb);
	return rc;
}

static struct tok *push_tok(struct lexer *lx, enum tok_type type, size_t at)
{
	if (lx->nt == lx->cap) {
		size_t cap = lx->cap ? lx->cap * 2 : 256;
		struct tok *t = realloc(lx->t, cap * sizeof *t);
		if (!t)
			return NULL;
		lx->t = t;
		lx->cap = cap;
	}
	struct tok *t = &lx->t[lx->nt++];
	memset(t, 0, sizeof *t);
	t->type = type;
	t->pos = at < lx->n ? lx->map[at] : lx->origlen;
	return t;
}

static char *adup(struct arena *ar, const char *s, size_t n)
{
	char *p = arena_alloc(ar, n + 1, 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A quoted string starting at *I (the quote); escapes as in the reference
 * lexer: \n \t \r \b \f \v \' \" \\ \xHH \uHHHH. */
static int lex_string(struct lexer *lx, size_t *ip)
{
	size_t i = *ip, start = i;
	char q = lx->s[i++];
	char *buf = arena_alloc(lx->arena, lx->n - i + 1, 1);
	size_t n = 0;
	if (!buf)
		return lm_fail(lx->err, LM_ENOMEM, "out of memory");
	for (;;) {
		if (i >= lx->n)
			return lex_fail(lx, start, "unterminated string literal");
		char c = lx->s[i];
		if (c == q)
			break;
		if (c != '\\') {
			buf[n++] = c;
			i++;
			continue;
		}
		if (++i >= lx->n)
			return lex_fail(lx, start, "unterminated string literal");
		char e = lx->s[i++];
		switch (e) {
		case 'n': buf[n++] = '\n'; break;
		case 't': buf[n++] = '\t'; break;
		case 'r': buf[n++] = '\r'; break;
		case 'b': buf[n++] = '\b'; break;
		case 'f': buf[n++] = '\f'; break;
		case 'v': buf[n++] = '\v'; break;
		case '\'': case '"': case '\\': buf[n++] = e; break;
		case 'x': case 'u': {
			int len = e == 'x' ? 2 : 4;
			uint32_t cp = 0;
			for (int k = 0; k < len; k++) {
				int h = i + k < lx->n ? hexval((unsigned char)lx->s[i + k]) : -1;
				if (h < 0)
					return lex_fail(lx, i - 2, "invalid \\%c escape", e);
				cp = cp * 16 + (uint32_t)h;
			}
			i += (size_t)len;
			if (cp >= 0xd800 && cp < 0xe000)
				return lex_fail(lx, i - 6, "surrogate escape \\u%04" PRIx32 " is not supported", cp);
			n += (size_t)utf8_encode(cp, buf + n);
			break;
		}
		default:
			return lex_fail(lx, i - 2, "unknown escape '\\%c' in string literal", e);
		}
	}
	struct tok *t = push_tok(lx, TK_STR, start);
	if (!t)
		return lm_fail(lx->err, LM_ENOMEM, "out of memory");
	buf[n] = 0;
	t->s = buf;
	t->n = n;
	*ip = i + 1;
	return LM_OK;
}

static int is_word(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Digits (and a fraction) at *I, optionally negated; TOK gets the value. */
static int lex_number(struct lexer *lx, size_t *ip, size_t start, int neg, int allow_frac)
{
	size_t i = *ip, d0 = i;
	while (i < lx->n && is_digit((unsigned char)lx->s[i]))
		i++;
	int is_float = 0;
	if (allow_frac && i + 1 < lx->n && lx->s[i] == '.' && is_digit((unsigned char)lx->s[i + 1])) {
		is_float = 1;
		i++;
		while (i < lx->n && is_digit((unsigned char)lx->s[i]))
			i++;
	}
	struct tok *t = push_tok(lx, TK_NUM, start);
	if (!t)
		return lm_fail(lx->err, LM_ENOMEM, "out of memory");
	char tmp[64];
	size_t len = i - d0 < sizeof tmp - 2 ? i - d0 : sizeof tmp - 2;
	tmp[0] = '-';
	memcpy(tmp + 1, lx->s + d0, len);
	tmp[len + 1] = 0;
	const char *txt = neg ? tmp : tmp + 1;
	t->is_float = is_float;
	if (is_float) {
		t->f = strtod(txt, NULL);
	} else {
		errno = 0;
		t->i = strtoll(txt, NULL, 10);
		if (errno == ERANGE)
			return lex_fail(lx, start, "integer literal out of range");
	}
	*ip = i;
	return LM_OK;
}

static void strip_last_text(struct lexer *lx)
{
	if (lx->nt == 0 || lx->t[lx->nt - 1].type != TK_TEXT)
		return;
	struct tok *t = &lx->t[lx->nt - 1];
	t->n = trim_end_len(t->s, t->n);
	if (t->n == 0)
		lx->nt--;
}

static const struct { const char *s; enum tok_type type; } punct[] = {
	{ "{%", TK_OPEN_STMT }, { "%}", TK_CLOSE_STMT }, { "{{", TK_OPEN_EXPR },
	{ "}}", TK_CLOSE_EXPR }, { "(", TK_LPAREN }, { ")", TK_RPAREN }, { "{", TK_LBRACE },
	{ "}", TK_RBRACE }, { "[", TK_LBRACKET }, { "]", TK_RBRACKET }, { ",", TK_COMMA },
	{ ".", TK_DOT }, { ":", TK_COLON }, { "|", TK_PIPE }, { "<=", TK_CMP }, { ">=", TK_CMP },
	{ "==", TK_CMP }, { "!=", TK_CMP }, { "<", TK_CMP }, { ">", TK_CMP }, { "+", TK_ADD },
	{ "-", TK_ADD }, { "~", TK_ADD }, { "**", TK_POW }, { "*", TK_MUL }, { "//", TK_MUL },
	{ "/", TK_MUL }, { "%", TK_MUL }, { "=", TK_EQUALS },
};

static int tokenize(struct lexer *lx)
{
	size_t i = 0;
	int depth = 0;  /* curly brackets open inside {{ }}: "}}" may close a dict */
	while (i < lx->n) {
		enum tok_type last = lx->nt ? lx->t[lx->nt - 1].type : TK_EOF;
		const char *s = lx->s;
		if (last == TK_EOF || last == TK_CLOSE_STMT || last == TK_CLOSE_EXPR ||
		    last == TK_COMMENT) {
			size_t j = i;
			while (j < lx->n && !(s[j] == '{' && j + 1 < lx->n &&
					      (s[j + 1] == '%' || s[j + 1] == '{' || s[j + 1] == '#')))
				j++;
			if (j > i) {
				struct tok *t = push_tok(lx, TK_TEXT, i);
				if (!t)
					return lm_fail(lx->err, LM_ENOMEM, "out of memory");
				t->s = adup(lx->arena, s + i, j - i);
				if (!t->s)
					return lm_fail(lx->err, LM_ENOMEM, "out of memory");
				t->n = j - i;
				i = j;
				continue;
			}
		}
		if (s[i] == '{' && i + 1 < lx->n && s[i + 1] == '#') {
			size_t start = i;
			i += 2;
			int strip_before = i < lx->n && s[i] == '-';
			if (strip_before)
				i++;
			size_t c0 = i;
			while (!(i + 1 < lx->n && s[i] == '#' && s[i + 1] == '}')) {
				if (i + 2 >= lx->n)
					return lex_fail(lx, start, "comment is not closed with '#}'");
				i++;
			}
			int strip_after = i > c0 && s[i - 1] == '-';
			if (strip_before)
				strip_last_text(lx);
			if (!push_tok(lx, TK_COMMENT, start))
				return lm_fail(lx->err, LM_ENOMEM, "out of memory");
			i += 2;
			if (strip_after)
				i += space_prefix(s + i, lx->n - i);
			continue;
		}
		if (i + 2 < lx->n && s[i] == '{' && (s[i + 1] == '%' || s[i + 1] == '{') &&
		    s[i + 2] == '-') {
			strip_last_text(lx);
			if (!push_tok(lx, s[i + 1] == '%' ? TK_OPEN_STMT : TK_OPEN_EXPR, i))
				return lm_fail(lx->err, LM_ENOMEM, "out of memory");
			if (s[i + 1] == '{')
				depth = 0;
			i += 3;
			continue;
		}
		i += space_prefix(s + i, lx->n - i);
		if (i >= lx->n)
			break;
		if (i + 2 < lx->n && s[i] == '-' && (s[i + 1] == '%' || s[i + 1] == '}') &&
		    s[i + 2] == '}') {
			if (!push_tok(lx, s[i + 1] == '%' ? TK_CLOSE_STMT : TK_CLOSE_EXPR, i))
				return lm_fail(lx->err, LM_ENOMEM, "out of memory");
			i += 3;
			i += space_prefix(s + i, lx->n - i);
			continue;
		}
		char c = s[i];
		if (c == '-' || c == '+') {
			if (last == TK_TEXT || last == TK_EOF)
				return lex_fail(lx, i, "unexpected '%c'", c);
			if (!(last == TK_IDENT || last == TK_NUM || last == TK_STR || last == TK_RPAREN ||
			      last == TK_RBRACKET)) {
				size_t start = i++;
				if (i < lx->n && is_digit((unsigned char)s[i])) {
					int rc = lex_number(lx, &i, start, c == '-', 1);
					if (rc)
						return rc;
				} else {
					struct tok *t = push_tok(lx, TK_UNARY, start);
					if (!t)
						return lm_fail(lx->err, LM_ENOMEM, "out of memory");
					t->s = c == '-' ? "-" : "+";
					t->n = 1;
				}
				continue;
			}
		}
		int matched = 0;
		for (size_t k = 0; k < sizeof punct / sizeof punct[0]; k++) {
			size_t len = strlen(punct[k].s);
			if (punct[k].type == TK_CLOSE_EXPR && depth > 0)
				continue;
			if (i + len <= lx->n && memcmp(s + i, punct[k].s, len) == 0) {
				struct tok *t = push_tok(lx, punct[k].type, i);
				if (!t)
					return lm_fail(lx->err, LM_ENOMEM, "out of memory");
				t->s = (char *)punct[k].s;
				t->n = len;
				if (punct[k].type == TK_OPEN_EXPR)
					depth = 0;
				else if (punct[k].type == TK_LBRACE)
					depth++;
				else if (punct[k].type == TK_RBRACE)
					depth--;
				i += len;
				matched = 1;
				break;
			}
		}
		if (matched)
			continue;
		if (c == '\'' || c == '"') {
			int rc = lex_string(lx, &i);
			if (rc)
				return rc;
			continue;
		}
		if (is_digit((unsigned char)c)) {
			int rc = lex_number(lx, &i, i, 0, last != TK_DOT);
			if (rc)
				return rc;
			continue;
		}
		if (is_word((unsigned char)c)) {
			size_t j = i;
			while (j < lx->n && is_word((unsigned char)s[j]))
				j++;
			struct tok *t = push_tok(lx, TK_IDENT, i);
			if (!t || !(t->s = adup(lx->arena, s + i, j - i)))
				return lm_fail(lx->err, LM_ENOMEM, "out of memory");
			t->n = j - i;
			i = j;
			continue;
		}
		return lex_fail(lx, i, "unexpected character '%c'", c);
	}
	if (!push_tok(lx, TK_EOF, lx->n))
		return lm_fail(lx->err, LM_ENOMEM, "out of memory");
	return LM_OK;
}

/* ---------------------------------------------------------------- parser */

struct parser {
	struct arena *arena;
	struct tok *t;
	size_t nt, cur;
	const char *src;
	size_t srclen;
	int depth;
	struct lm_error *err;
};

static int perr(struct parser *p, const struct tok *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, const struct tok *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = fail_pos(p->err, p->src, p->srclen, t->pos, fmt, ap);
	va_end(ap);
	return rc;
}

static const char *tok_desc(const struct tok *t, char buf[48])
{
	switch (t->type) {
	case TK_EOF: return "end of template";
	case TK_TEXT: return "text";
	case TK_COMMENT: return "comment";
	case TK_NUM: return "number";
	case TK_STR: return "string";
	case TK_IDENT: snprintf(buf, 48, "'%.40s'", t->s); return buf;
	default: snprintf(buf, 48, "'%.*s'", (int)t->n, t->s); return buf;
	}
}

static struct node *new_node(struct parser *p, enum node_kind kind, size_t pos)
{
	struct node *n = arena_alloc(p->arena, sizeof *n, 0);
	if (n) {
		memset(n, 0, sizeof *n);
		n->kind = kind;
		n->pos = pos;
	}
	return n;
}

static int nl_push(struct arena *ar, struct nlist *l, struct node *n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct node **v = arena_alloc(ar, cap * sizeof *v, 0);
		if (!v)
			return LM_ENOMEM;
		if (l->n)
			memcpy(v, l->v, l->n * sizeof *v);
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = n;
	return LM_OK;
}

#define OOM(p) lm_fail((p)->err, LM_ENOMEM, "out of memory")

static struct tok *peek(struct parser *p)
{
	return &p->t[p->cur];
}

static int is_ident(struct parser *p, size_t off, const char *name)
{
	size_t k = p->cur + off;
	return k < p->nt && p->t[k].type == TK_IDENT && strcmp(p->t[k].s, name) == 0;
}

static int is_stmt(struct parser *p, const char *const *names)
{
	if (p->t[p->cur].type != TK_OPEN_STMT || p->cur + 1 >= p->nt ||
	    p->t[p->cur + 1].type != TK_IDENT)
		return 0;
	for (; *names; names++)
		if (strcmp(p->t[p->cur + 1].s, *names) == 0)
			return 1;
	return 0;
}

static int expect(struct parser *p, enum tok_type type, const char *what)
{
	struct tok *t = peek(p);
	char buf[48];
	if (t->type != type)
		return perr(p, t, "expected %s, found %s", what, tok_desc(t, buf));
	p->cur++;
	return LM_OK;
}

static int expect_ident(struct parser *p, const char *name)
{
	struct tok *t = peek(p);
	char buf[48];
	if (!is_ident(p, 0, name))
		return perr(p, t, "expected '%s', found %s", name, tok_desc(t, buf));
	p->cur++;
	return LM_OK;
}

static int parse_expr(struct parser *p, struct node **out);
static int parse_primary(struct parser *p, struct node **out);
static int parse_block(struct parser *p, struct nlist *body, const char *const *ends);

static int parse_seq(struct parser *p, int primary, struct node **out)
{
	struct node *first;
	size_t pos = peek(p)->pos;
	int rc = primary ? parse_primary(p, &first) : parse_expr(p, &first);
	if (rc)
		return rc;
	if (peek(p)->type != TK_COMMA) {
		*out = first;
		return LM_OK;
	}
	struct node *tup = new_node(p, E_TUPLE, pos);
	if (!tup || nl_push(p->arena, &tup->kids, first))
		return OOM(p);
	while (peek(p)->type == TK_COMMA) {
		p->cur++;
		struct node *e;
		if ((rc = primary ? parse_primary(p, &e) : parse_expr(p, &e)))
			return rc;
		if (nl_push(p->arena, &tup->kids, e))
			return OOM(p);
	}
	*out = tup;
	return LM_OK;
}

/* Arguments of a call, filter or macro definition: ( a, b, k=v ). */
static int parse_args(struct parser *p, struct nlist *args, int params)
{
	int rc = expect(p, TK_LPAREN, "'('");
	int saw_kw = 0;
	if (rc)
		return rc;
	while (peek(p)->type != TK_RPAREN) {
		struct tok *at = peek(p);
		struct node *a;
		if (at->type == TK_MUL || at->type == TK_POW)
			return perr(p, at, "argument unpacking is not supported");
		if ((rc = parse_expr(p, &a)))
			return rc;
		if (peek(p)->type == TK_EQUALS) {
			p->cur++;
			if (a->kind != E_IDENT)
				return perr(p, at, "expected a name before '='");
			struct node *kw = new_node(p, E_KWARG, a->pos);
			if (!kw)
				return OOM(p);
			kw->s = a->s;
			if ((rc = parse_expr(p, &kw->a)))
				return rc;
			a = kw;
			saw_kw = 1;
		} else if (saw_kw) {
			return perr(p, at, params ? "non-default argument follows default argument"
					     : "positional argument follows keyword argument");
		}
		if (params && a->kind != E_IDENT && a->kind != E_KWARG)
			return perr(p, at, "expected a parameter name");
		if (nl_push(p->arena, args, a))
			return OOM(p);
		if (peek(p)->type == TK_COMMA)
			p->cur++;
		else if (peek(p)->type != TK_RPAREN) {
			char buf[48];
			return perr(p, peek(p), "expected ',' or ')', found %s", tok_desc(peek(p), buf));
		}
	}
	p->cur++;
	return LM_OK;
}

static int parse_member(struct parser *p, struct node **obj)
{
	int rc;
	while (peek(p)->type == TK_DOT || peek(p)->type == TK_LBRACKET) {
		struct tok *op = &p->t[p->cur++];
		if (op->type == TK_DOT) {
			struct tok *name = peek(p);
			if (name->type != TK_IDENT && !(name->type == TK_NUM && !name->is_float)) {
				char buf[48];
				return perr(p, name, "expected a name after '.', found %s",
					    tok_desc(name, buf));
			}
			p->cur++;
			struct node *m = new_node(p, name->type == TK_IDENT ? E_MEMBER : E_INDEX, op->pos);
			if (!m)
				return OOM(p);
			m->a = *obj;
			if (name->type == TK_IDENT) {
				m->s = name->s;
				m->slen = name->n;
			} else {
				if (!(m->b = new_node(p, E_INT, name->pos)))
					return OOM(p);
				m->b->i = name->i;
			}
			*obj = m;
			continue;
		}
		/* [expr] or a slice [a:b:c] with any part left out */
		struct node *parts[3] = { NULL, NULL, NULL };
		int nparts = 0, slice = 0;
		while (peek(p)->type != TK_RBRACKET) {
			if (nparts >= 3)
				return perr(p, peek(p), "a slice takes at most 3 parts");
			if (peek(p)->type == TK_COLON) {
				nparts++;
				p->cur++;
				slice = 1;
				continue;
			}
			if ((rc = parse_expr(p, &parts[nparts])))
				return rc;
			nparts++;
			if (peek(p)->type == TK_COLON) {
				p->cur++;
				slice = 1;
			} else if (peek(p)->type != TK_RBRACKET) {
				char buf[48];
				return perr(p, peek(p), "expected ']', found %s", tok_desc(peek(p), buf));
			}
		}
		if (nparts == 0 && !slice)
			return perr(p, op, "empty subscript '[]'");
		p->cur++;
		struct node *m = new_node(p, slice ? E_SLICE : E_INDEX, op->pos);
		if (!m)
			return OOM(p);
		m->a = *obj;
		if (slice) {
			m->b = parts[0];
			m->c = parts[1];
			m->d = parts[2];
		} else {
			m->b = parts[0];
		}
		*obj = m;
	}
	return LM_OK;
}

static int parse_call_member(struct parser *p, struct node **out)
{
	struct node *e;
	int rc = parse_primary(p, &e);
	if (rc || (rc = parse_member(p, &e)))
		return rc;
	while (peek(p)->type == TK_LPAREN) {
		struct node *c = new_node(p, E_CALL, peek(p)->pos);
		if (!c)
			return OOM(p);
		c->a = e;
		if ((rc = parse_args(p, &c->kids, 0)))
			return rc;
		e = c;
		if ((rc = parse_member(p, &e)))
			return rc;
	}
	*out = e;
	return LM_OK;
}

static int parse_unary_sign(struct parser *p, struct node **out)
{
	struct tok *t = peek(p);
	if ((t->type == TK_UNARY || t->type == TK_ADD) && (t->s[0] == '-' || t->s[0] == '+') &&
	    t->n == 1) {
		p->cur++;
		struct node *u = new_node(p, E_UNARY, t->pos);
		if (!u)
			return OOM(p);
		u->op = t->s[0] == '-' ? OP_SUB : OP_ADD;
		if (++p->depth > MAX_NEST)
			return perr(p, t, "expression nested too deeply");
		int rc = parse_unary_sign(p, &u->a);
		p->depth--;
		*out = u;
		return rc;
	}
	return parse_call_member(p, out);
}

static int parse_filter(struct parser *p, struct node **out)
{
	struct node *e;
	int rc = parse_unary_sign(p, &e);
	if (rc)
		return rc;
	while (peek(p)->type == TK_PIPE) {
		p->cur++;
		struct tok *name = peek(p);
		if (name->type != TK_IDENT) {
			char buf[48];
			return perr(p, name, "expected a filter name after '|', found %s",
				    tok_desc(name, buf));
		}
		p->cur++;
		struct node *f = new_node(p, E_FILTER, name->pos);
		if (!f)
			return OOM(p);
		f->a = e;
		f->s = name->s;
		if (peek(p)->type == TK_LPAREN) {
			f->flag = 1;
			if ((rc = parse_args(p, &f->kids, 0)))
				return rc;
		}
		e = f;
	}
	*out = e;
	return LM_OK;
}

static int parse_test(struct parser *p, struct node **out)
{
	struct node *e = NULL;
	int rc = parse_filter(p, &e);
	if (rc)
		return rc;
	while (is_ident(p, 0, "is")) {
		p->cur++;
		int neg = 0;
		if (is_ident(p, 0, "not")) {
			neg = 1;
			p->cur++;
		}
		struct tok *name = peek(p);
		if (name->type != TK_IDENT) {
			char buf[48];
			return perr(p, name, "expected a test name after 'is', found %s",
				    tok_desc(name, buf));
		}
		p->cur++;
		struct node *t = new_node(p, E_TEST, name->pos);
		if (!t)
			return OOM(p);
		t->a = e;
		t->s = name->s;
		t->flag = neg;
		if (peek(p)->type == TK_LPAREN)
			return perr(p, peek(p), "tests with arguments are not supported");
		e = t;
	}
	*out = e;
	return LM_OK;
}

static int binop_of(const struct tok *t)
{
	if (t->type == TK_CMP) {
		if (!strcmp(t->s, "==")) return OP_EQ;
		if (!strcmp(t->s, "!=")) return OP_NE;
		if (!strcmp(t->s, "<")) return OP_LT;
		if (!strcmp(t->s, ">")) return OP_GT;
		if (!strcmp(t->s, "<=")) return OP_LE;
		return OP_GE;
	}
	if (t->type == TK_ADD)
		return t->s[0] == '+' ? OP_ADD : t->s[0] == '-' ? OP_SUB : OP_CAT;
	if (t->type == TK_MUL) {
		if (!strcmp(t->s, "*")) return OP_MUL;
		if (!strcmp(t->s, "/")) return OP_DIV;
		if (!strcmp(t->s, "//")) return OP_FLOORDIV;
		return OP_MOD;
	}
	return OP_POW;
}

static int mk_bin(struct parser *p, const struct tok *at, int op, struct node *l, struct node *r,
		  struct node **out)
{
	struct node *b = new_node(p, E_BIN, at->pos);
	if (!b)
		return OOM(p);
	b->op = op;
	b->a = l;
	b->b = r;
	*out = b;
	return LM_OK;
}

/* Precedence, loosest first, as in the reference parser: ternary, or, and,
 * not, comparison/in, + - ~, * / // %, **, is, |, unary sign, call/member. */
static int parse_pow(struct parser *p, struct node **out)
{
	int rc = parse_test(p, out);
	while (!rc && peek(p)->type == TK_POW) {
		struct tok *op = &p->t[p->cur++];
		struct node *r;
		if ((rc = parse_test(p, &r)))
			break;
		rc = mk_bin(p, op, OP_POW, *out, r, out);
	}
	return rc;
}

static int parse_mul(struct parser *p, struct node **out)
{
	int rc = parse_pow(p, out);
	while (!rc && peek(p)->type == TK_MUL) {
		struct tok *op = &p->t[p->cur++];
		struct node *r;
		if ((rc = parse_pow(p, &r)))
			break;
		rc = mk_bin(p, op, binop_of(op), *out, r, out);
	}
	return rc;
}

static int parse_add(struct parser *p, struct node **out)
{
	int rc = parse_mul(p, out);
	while (!rc && peek(p)->type == TK_ADD) {
		struct tok *op = &p->t[p->cur++];
		struct node *r;
		if ((rc = parse_mul(p, &r)))
			break;
		rc = mk_bin(p, op, binop_of(op), *out, r, out);
	}
	return rc;
}

static int parse_cmp(struct parser *p, struct node **out)
{
	int rc = parse_add(p, out);
	while (!rc) {
		struct tok *at = peek(p);
		int op;
		if (is_ident(p, 0, "not") && is_ident(p, 1, "in")) {
			op = OP_NOTIN;
			p->cur += 2;
		} else if (is_ident(p, 0, "in")) {
			op = OP_IN;
			p->cur++;
		} else if (at->type == TK_CMP) {
			op = binop_of(at);
			p->cur++;
		} else {
			break;
		}
		struct node *r;
		if ((rc = parse_add(p, &r)))
			break;
		rc = mk_bin(p, at, op, *out, r, out);
	}
	return rc;
}

static int parse_not(struct parser *p, struct node **out)
{
	if (is_ident(p, 0, "not")) {
		struct tok *at = &p->t[p->cur++];
		struct node *u = new_node(p, E_UNARY, at->pos);
		if (!u)
			return OOM(p);
		u->op = OP_NOT;
		if (++p->depth > MAX_NEST)
			return perr(p, at, "expression nested too deeply");
		int rc = parse_not(p, &u->a);
		p->depth--;
		*out = u;
		return rc;
	}
	return parse_cmp(p, out);
}

static int parse_and(struct parser *p, struct node **out)
{
	int rc = parse_not(p, out);
	while (!rc && is_ident(p, 0, "and")) {
		struct tok *op = &p->t[p->cur++];
		struct node *r;
		if ((rc = parse_not(p, &r)))
			break;
		rc = mk_bin(p, op, OP_AND, *out, r, out);
	}
	return rc;
}

static int parse_or(struct parser *p, struct node **out)
{
	int rc = parse_and(p, out);
	while (!rc && is_ident(p, 0, "or")) {
		struct tok *op = &p->t[p->cur++];
		struct node *r;
		if ((rc = parse_and(p, &r)))
			break;
		rc = mk_bin(p, op, OP_OR, *out, r, out);
	}
	return rc;
}

static int parse_expr(struct parser *p, struct node **out)
{
	struct tok *at = peek(p);
	if (++p->depth > MAX_NEST)
		return perr(p, at, "expression nested too deeply");
	int rc = parse_or(p, out);
	if (!rc && is_ident(p, 0, "if")) {
		p->cur++;
		struct node *test;
		if ((rc = parse_or(p, &test)))
			goto out;
		if (is_ident(p, 0, "else")) {
			p->cur++;
			struct node *t = new_node(p, E_TERNARY, at->pos);
			if (!t) {
				rc = OOM(p);
				goto out;
			}
			t->a = test;
			t->b = *out;
			if ((rc = parse_expr(p, &t->c)))
				goto out;
			*out = t;
		} else {
			struct node *s = new_node(p, E_SELECT, at->pos);
			if (!s) {
				rc = OOM(p);
				goto out;
			}
			s->a = *out;
			s->b = test;
			*out = s;
		}
	}
out:
	p->depth--;
	return rc;
}

static int parse_primary(struct parser *p, struct node **out)
{
	struct tok *t = &p->t[p->cur];
	char buf[48];
	struct node *n;
	int rc;
	if (t->type == TK_EOF)
		return perr(p, t, "unexpected end of template");
	p->cur++;
	switch (t->type) {
	case TK_NUM:
		if (!(n = new_node(p, t->is_float ? E_FLOAT : E_INT, t->pos)))
			return OOM(p);
		n->i = t->i;
		n->f = t->f;
		break;
	case TK_STR: {
		/* adjacent literals concatenate: "a" "b" */
		size_t len = t->n, k = p->cur;
		while (p->t[k].type == TK_STR)
			len += p->t[k++].n;
		if (!(n = new_node(p, E_STR, t->pos)))
			return OOM(p);
		char *s = arena_alloc(p->arena, len + 1, 1);
		if (!s)
			return OOM(p);
		memcpy(s, t->s, t->n);
		len = t->n;
		while (p->t[p->cur].type == TK_STR) {
			memcpy(s + len, p->t[p->cur].s, p->t[p->cur].n);
			len += p->t[p->cur++].n;
		}
		s[len] = 0;
		n->s = s;
		n->slen = len;
		break;
	}
	case TK_IDENT:
		if (!(n = new_node(p, E_IDENT, t->pos)))
			return OOM(p);
		n->s = t->s;
		n->slen = t->n;
		break;
	case TK_LPAREN:
		if ((rc = parse_seq(p, 0, &n)) || (rc = expect(p, TK_RPAREN, "')'")))
			return rc;
		break;
	case TK_LBRACKET:
		if (!(n = new_node(p, E_LIST, t->pos)))
			return OOM(p);
		while (peek(p)->type != TK_RBRACKET) {
			struct node *e;
			if ((rc = parse_expr(p, &e)))
				return rc;
			if (nl_push(p->arena, &n->kids, e))
				return OOM(p);
			if (peek(p)->type == TK_COMMA)
				p->cur++;
			else if (peek(p)->type != TK_RBRACKET)
				return perr(p, peek(p), "expected ',' or ']', found %s",
					    tok_desc(peek(p), buf));
		}
		p->cur++;
		break;
	case TK_LBRACE:
		if (!(n = new_node(p, E_DICT, t->pos)))
			return OOM(p);
		while (peek(p)->type != TK_RBRACE) {
			struct node *k, *v;
			if ((rc = parse_expr(p, &k)) || (rc = expect(p, TK_COLON, "':'")) ||
			    (rc = parse_expr(p, &v)))
				return rc;
			if (nl_push(p->arena, &n->kids, k) || nl_push(p->arena, &n->kids2, v))
				return OOM(p);
			if (peek(p)->type == TK_COMMA)
				p->cur++;
			else if (peek(p)->type != TK_RBRACE)
				return perr(p, peek(p), "expected ',' or '}', found %s",
					    tok_desc(peek(p), buf));
		}
		p->cur++;
		break;
	default:
		return perr(p, t, "unexpected %s", tok_desc(t, buf));
	}
	*out = n;
	return LM_OK;
}

static const char *const END_IF[] = { "elif", "else", "endif", NULL };
static const char *const END_ENDIF[] = { "endif", NULL };
static const char *const END_FOR[] = { "endfor", "else", NULL };
static const char *const END_ENDFOR[] = { "endfor", NULL };
static const char *const END_SET[] = { "endset", NULL };
static const char *const END_MACRO[] = { "endmacro", NULL };

/* {% if %}: the tokens after "if" up to the matching endif (not consumed). */
static int parse_if(struct parser *p, struct node *n)
{
	int rc;
	if ((rc = parse_expr(p, &n->a)) || (rc = expect(p, TK_CLOSE_STMT, "'%}'")) ||
	    (rc = parse_block(p, &n->kids, END_IF)))
		return rc;
	if (is_stmt(p, (const char *const[]){ "elif", NULL })) {
		struct node *e = new_node(p, N_IF, p->t[p->cur + 1].pos);
		if (!e || nl_push(p->arena, &n->kids2, e))
			return OOM(p);
		p->cur += 2;
		return parse_if(p, e);
	}
	if (is_stmt(p, (const char *const[]){ "else", NULL })) {
		p->cur += 2;
		if ((rc = expect(p, TK_CLOSE_STMT, "'%}'")) ||
		    (rc = parse_block(p, &n->kids2, END_ENDIF)))
			return rc;
	}
	return LM_OK;
}

static int parse_end(struct parser *p, const char *name)
{
	int rc;
	if ((rc = expect(p, TK_OPEN_STMT, "'{%'")) || (rc = expect_ident(p, name)))
		return rc;
	return expect(p, TK_CLOSE_STMT, "'%}'");
}

static int parse_statement(struct parser *p, struct node **out)
{
	struct tok *open = &p->t[p->cur++];
	struct tok *kw = peek(p);
	char buf[48];
	int rc;
	if (kw->type != TK_IDENT)
		return perr(p, kw, "expected a statement name, found %s", tok_desc(kw, buf));
	const char *name = kw->s;
	p->cur++;
	struct node *n;
	if (!strcmp(name, "if")) {
		if (!(n = new_node(p, N_IF, kw->pos)))
			return OOM(p);
		if ((rc = parse_if(p, n)) || (rc = parse_end(p, "endif")))
			return rc;
	} else if (!strcmp(name, "for")) {
		if (!(n = new_node(p, N_FOR, kw->pos)))
			return OOM(p);
		struct tok *vt = peek(p);
		if ((rc = parse_seq(p, 1, &n->a)))
			return rc;
		if (n->a->kind != E_IDENT && n->a->kind != E_TUPLE)
			return perr(p, vt, "expected a loop variable");
		for (size_t k = 0; n->a->kind == E_TUPLE && k < n->a->kids.n; k++)
			if (n->a->kids.v[k]->kind != E_IDENT)
				return perr(p, vt, "expected a loop variable");
		if ((rc = expect_ident(p, "in")) || (rc = parse_expr(p, &n->b)) ||
		    (rc = expect(p, TK_CLOSE_STMT, "'%}'")) ||
		    (rc = parse_block(p, &n->kids, END_FOR)))
			return rc;
		if (is_stmt(p, (const char *const[]){ "else", NULL })) {
			p->cur += 2;
			if ((rc = expect(p, TK_CLOSE_STMT, "'%}'")) ||
			    (rc = parse_block(p, &n->kids2, END_ENDFOR)))
				return rc;
		}
		if ((rc = parse_end(p, "endfor")))
			return rc;
	} else if (!strcmp(name, "set")) {
		if (!(n = new_node(p, N_SET, kw->pos)))
			return OOM(p);
		struct tok *lt = peek(p);
		if ((rc = parse_seq(p, 0, &n->a)))
			return rc;
		int ok = n->a->kind == E_IDENT || n->a->kind == E_MEMBER;
		if (n->a->kind == E_TUPLE) {
			ok = 1;
			for (size_t k = 0; k < n->a->kids.n; k++)
				ok &= n->a->kids.v[k]->kind == E_IDENT;
		}
		if (!ok)
			return perr(p, lt, "cannot assign to this expression");
		if (peek(p)->type == TK_EQUALS) {
			p->cur++;
			if ((rc = parse_seq(p, 0, &n->b)) || (rc = expect(p, TK_CLOSE_STMT, "'%}'")))
				return rc;
		} else {
			if ((rc = expect(p, TK_CLOSE_STMT, "'=' or '%}'")) ||
			    (rc = parse_block(p, &n->kids, END_SET)) || (rc = parse_end(p, "endset")))
				return rc;
		}
	} else if (!strcmp(name, "macro")) {
		if (!(n = new_node(p, N_MACRO, kw->pos)))
			return OOM(p);
		struct tok *nt = peek(p);
		if (nt->type != TK_IDENT)
			return perr(p, nt, "expected a macro name, found %s", tok_desc(nt, buf));
		p->cur++;
		n->s = nt->s;
		if ((rc = parse_args(p, &n->kids2, 1)) || (rc = expect(p, TK_CLOSE_STMT, "'%}'")) ||
		    (rc = parse_block(p, &n->kids, END_MACRO)) || (rc = parse_end(p, "endmacro")))
			return rc;
	} else if (!strcmp(name, "break") || !strcmp(name, "continue")) {
		if (!(n = new_node(p, name[0] == 'b' ? N_BREAK : N_CONTINUE, kw->pos)))
			return OOM(p);
		if ((rc = expect(p, TK_CLOSE_STMT, "'%}'")))
			return rc;
	} else {
		(void)open;
		return perr(p, kw, "unknown or unsupported statement '%s'", name);
	}
	*out = n;
	return LM_OK;
}

static int parse_any(struct parser *p, struct node **out)
{
	struct tok *t = peek(p);
	char buf[48];
	int rc;
	switch (t->type) {
	case TK_TEXT:
		p->cur++;
		if (!(*out = new_node(p, N_TEXT, t->pos)))
			return OOM(p);
		(*out)->s = t->s;
		(*out)->slen = t->n;
		return LM_OK;
	case TK_COMMENT:
		p->cur++;
		*out = NULL;
		return LM_OK;
	case TK_OPEN_EXPR: {
		p->cur++;
		struct node *n = new_node(p, N_OUTPUT, t->pos);
		if (!n)
			return OOM(p);
		if ((rc = parse_expr(p, &n->a)) || (rc = expect(p, TK_CLOSE_EXPR, "'}}'")))
			return rc;
		*out = n;
		return LM_OK;
	}
	case TK_OPEN_STMT:
		if (++p->depth > MAX_NEST)
			return perr(p, t, "statements nested too deeply");
		rc = parse_statement(p, out);
		p->depth--;
		return rc;
	default:
		return perr(p, t, "unexpected %s", tok_desc(t, buf));
	}
}

/* Statements until one of ENDS (NULL: end of template). */
static int parse_block(struct parser *p, struct nlist *body, const char *const *ends)
{
	for (;;) {
		if (peek(p)->type == TK_EOF) {
			if (!ends)
				return LM_OK;
			return perr(p, peek(p), "unexpected end of template, expected {%% %s %%}",
				    ends[0]);
		}
		if (ends && is_stmt(p, ends))
			return LM_OK;
		if (p->t[p->cur].type == TK_OPEN_STMT && p->cur + 1 < p->nt &&
		    p->t[p->cur + 1].type == TK_IDENT) {
			const char *kw = p->t[p->cur + 1].s;
			static const char *const closers[] = { "elif", "else", "endif", "endfor",
							       "endset", "endmacro", NULL };
			for (const char *const *c = closers; *c; c++)
				if (!strcmp(kw, *c))
					return perr(p, &p->t[p->cur + 1], "unexpected {%% %s %%}", kw);
		}
		struct node *n = NULL;
		int rc = parse_any(p, &n);
		if (rc)
			return rc;
		if (n && nl_push(p->arena, body, n))
			return OOM(p);
	}
}

int jinja_template_new(struct jinja_template **out, const char *src, size_t len,
		       struct lm_error *err)
{
	struct jinja_template *t = calloc(1, sizeof *t);
	struct lexer lx = { 0 };
	int rc = LM_OK;
	*out = NULL;
	if (!t || !(t->arena = arena_new(64 << 10)) || !(t->src = malloc(len + 1))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(t->src, src, len);
	t->src[len] = 0;
	t->srclen = len;
	lx.arena = t->arena;
	lx.orig = t->src;
	lx.origlen = len;
	lx.err = err;
	if ((rc = preprocess(&lx)) || (rc = tokenize(&lx)))
		goto out;
	struct parser p = { .arena = t->arena, .t = lx.t, .nt = lx.nt, .src = t->src,
			    .srclen = len, .err = err };
	if ((rc = parse_block(&p, &t->body, NULL)))
		goto out;
	*out = t;
	t = NULL;
out:
	free(lx.s);
	free(lx.map);
	free(lx.t);
	jinja_template_free(t);
	return rc;
}

void jinja_template_free(struct jinja_template *t)
{
	if (!t)
		return;
	arena_free(t->arena);
	free(t->src);
	free(t);
}

/* -------------------------------------------------------------- renderer */

struct sbuf { char *p; size_t n, cap; };

static int sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return LM_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return LM_OK;
}

static int sb_str(struct sbuf *b, const char *s)
{
	return sb_add(b, s, strlen(s));
}

struct scope {
	struct scope *parent;
	size_t n, cap;
	const char **k;
	struct jv *v;
};

enum { CTL_NONE, CTL_BREAK, CTL_CONTINUE };

struct render {
	struct arena *ar;
	const struct jinja_template *t;
	struct lm_error *err;
	int ctl;
	int depth;
};

static int rfail(struct render *r, const struct node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int rfail(struct render *r, const struct node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = fail_pos(r->err, r->t->src, r->t->srclen, n ? n->pos : 0, fmt, ap);
	va_end(ap);
	return rc;
}

#define ROOM(r) lm_fail((r)->err, LM_ENOMEM, "out of memory")

static const struct jv UNDEF = { .t = JV_UNDEF };

static struct jv mk_bool(int b) { struct jv v = { .t = JV_BOOL }; v.u.b = !!b; return v; }
static struct jv mk_int(int64_t i) { struct jv v = { .t = JV_INT }; v.u.i = i; return v; }
static struct jv mk_float(double f) { struct jv v = { .t = JV_FLOAT }; v.u.f = f; return v; }
static struct jv mk_str(const char *p, size_t n)
{
	struct jv v = { .t = JV_STR };
	v.u.s.p = p;
	v.u.s.n = n;
	return v;
}

static const char *type_name(const struct jv *v)
{
	static const char *const names[] = { "undefined", "none", "boolean", "integer", "float",
					     "string", "list", "dict", "namespace", "function" };
	return names[v->t];
}

static struct jarr *arr_new(struct render *r, size_t cap)
{
	struct jarr *a = arena_alloc(r->ar, sizeof *a, 0);
	if (!a)
		return NULL;
	a->n = 0;
	a->cap = cap ? cap : 4;
	a->v = arena_alloc(r->ar, a->cap * sizeof *a->v, 0);
	return a->v ? a : NULL;
}

static int arr_push(struct render *r, struct jarr *a, struct jv v)
{
	if (a->n == a->cap) {
		size_t cap = a->cap * 2;
		struct jv *nv = arena_alloc(r->ar, cap * sizeof *nv, 0);
		if (!nv)
			return LM_ENOMEM;
		memcpy(nv, a->v, a->n * sizeof *nv);
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = v;
	return LM_OK;
}

static struct jobj *obj_new(struct render *r)
{
	struct jobj *o = arena_alloc(r->ar, sizeof *o, 0);
	if (o)
		memset(o, 0, sizeof *o);
	return o;
}

static struct jv *obj_get(const struct jobj *o, const char *k)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->k[i], k) == 0)
			return &o->v[i];
	return NULL;
}

/* Set K (copied when COPY) keeping insertion order, as Python dicts and
 * JavaScript Maps do. */
static int obj_set(struct render *r, struct jobj *o, const char *k, struct jv v)
{
	struct jv *old = obj_get(o, k);
	if (old) {
		*old = v;
		return LM_OK;
	}
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 8;
		const char **nk = arena_alloc(r->ar, cap * sizeof *nk, 0);
		struct jv *nv = arena_alloc(r->ar, cap * sizeof *nv, 0);
		if (!nk || !nv)
			return LM_ENOMEM;
		if (o->n) {
			memcpy(nk, o->k, o->n * sizeof *nk);
			memcpy(nv, o->v, o->n * sizeof *nv);
		}
		o->k = nk;
		o->v = nv;
		o->cap = cap;
	}
	o->k[o->n] = k;
	o->v[o->n++] = v;
	return LM_OK;
}

static struct jv *scope_find(struct scope *s, const char *name)
{
	for (; s; s = s->parent)
		for (size_t i = 0; i < s->n; i++)
			if (strcmp(s->k[i], name) == 0)
				return &s->v[i];
	return NULL;
}

static int scope_set(struct render *r, struct scope *s, const char *name, struct jv v)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->k[i], name) == 0) {
			s->v[i] = v;
			return LM_OK;
		}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		const char **nk = arena_alloc(r->ar, cap * sizeof *nk, 0);
		struct jv *nv = arena_alloc(r->ar, cap * sizeof *nv, 0);
		if (!nk || !nv)
			return ROOM(r);
		if (s->n) {
			memcpy(nk, s->k, s->n * sizeof *nk);
			memcpy(nv, s->v, s->n * sizeof *nv);
		}
		s->k = nk;
		s->v = nv;
		s->cap = cap;
	}
	s->k[s->n] = name;
	s->v[s->n++] = v;
	return LM_OK;
}

static int truthy(const struct jv *v)
{
	switch (v->t) {
	case JV_UNDEF: case JV_NONE: return 0;
	case JV_BOOL: return v->u.b;
	case JV_INT: return v->u.i != 0;
	case JV_FLOAT: return v->u.f != 0 && !isnan(v->u.f);
	case JV_STR: return v->u.s.n > 0;
	case JV_ARRAY: return v->u.a->n > 0;
	case JV_OBJECT: return v->u.o->n > 0;
	default: return 1;
	}
}

/* JSON.stringify's spelling of a number: integers plainly, other doubles
 * shortest round-trip ("0.1", "1e-7", "1.5e+21"). */
static void js_number(double f, char buf[40])
{
	if (isnan(f) || isinf(f)) {
		strcpy(buf, "null");
		return;
	}
	if (f == floor(f) && fabs(f) < 1e21) {
		snprintf(buf, 40, "%.0f", f);
		if (strcmp(buf, "-0") == 0)
			strcpy(buf, "0");
		return;
	}
	char tmp[32];
	json_format_double(f, tmp);
	/* json_format_double may write 1e-07 style exponents; JavaScript
	 * writes e-7 / e+21 */
	char *e = strchr(tmp, 'e');
	if (!e) {
		strcpy(buf, tmp);
		return;
	}
	size_t m = (size_t)(e - tmp);
	memcpy(buf, tmp, m);
	const char *x = e + 1;
	int neg = *x == '-';
	if (*x == '-' || *x == '+')
		x++;
	while (*x == '0' && x[1])
		x++;
	snprintf(buf + m, 40 - m, "e%c%s", neg ? '-' : '+', x);
}

struct json_opts {
	int indent;             /* 0: one line */
	int ascii;
	const char *item_sep, *key_sep;
	int undef_null;
};

static int json_str(struct sbuf *b, const char *s, size_t n, int ascii)
{
	int rc = sb_add(b, "\"", 1);
	for (size_t i = 0; i < n && !rc;) {
		unsigned char c = (unsigned char)s[i];
		char esc[16];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			rc = sb_add(b, esc, 2);
			i++;
		} else if (c < 0x20) {
			const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" :
					c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
			if (e) {
				rc = sb_str(b, e);
			} else {
				snprintf(esc, sizeof esc, "\\u%04x", c);
				rc = sb_str(b, esc);
			}
			i++;
		} else if (ascii && c >= 0x7f) {
			uint32_t cp;
			size_t k = cp_at(s + i, n - i, &cp);
			if (cp >= 0x10000) {
				uint32_t v = cp - 0x10000;
				snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xd800 + (v >> 10),
					 0xdc00 + (v & 0x3ff));
			} else {
				snprintf(esc, sizeof esc, "\\u%04x", cp);
			}
			rc = sb_str(b, esc);
			i += k;
		} else {
			rc = sb_add(b, s + i, 1);
			i++;
		}
	}
	return rc ? rc : sb_add(b, "\"", 1);
}

static int pad(struct sbuf *b, const struct json_opts *o, int depth)
{
	int rc = sb_add(b, "\n", 1);
	for (int i = 0; i < depth * o->indent && !rc; i++)
		rc = sb_add(b, " ", 1);
	return rc;
}

/* The reference engine's toJSON: Python json.dumps separators (", ", ": ";
 * "," between items when indenting), members in insertion order. */
static int to_json(struct render *r, const struct node *at, struct sbuf *b, const struct jv *v,
		   const struct json_opts *o, int depth)
{
	char num[40];
	int rc = LM_OK;
	if (depth > 512)
		return rfail(r, at, "tojson: value nested too deeply");
	switch (v->t) {
	case JV_UNDEF: return sb_str(b, o->undef_null ? "null" : "undefined") ? ROOM(r) : 0;
	case JV_NONE: return sb_str(b, "null") ? ROOM(r) : 0;
	case JV_BOOL: return sb_str(b, v->u.b ? "true" : "false") ? ROOM(r) : 0;
	case JV_INT:
		snprintf(num, sizeof num, "%" PRId64, v->u.i);
		return sb_str(b, num) ? ROOM(r) : 0;
	case JV_FLOAT:
		js_number(v->u.f, num);
		return sb_str(b, num) ? ROOM(r) : 0;
	case JV_STR: return json_str(b, v->u.s.p, v->u.s.n, o->ascii) ? ROOM(r) : 0;
	case JV_ARRAY: {
		const struct jarr *a = v->u.a;
		if (sb_add(b, "[", 1))
			return ROOM(r);
		for (size_t i = 0; i < a->n && !rc; i++) {
			if (i && sb_str(b, o->item_sep))
				return ROOM(r);
			if (o->indent && pad(b, o, depth + 1))
				return ROOM(r);
			rc = to_json(r, at, b, &a->v[i], o, depth + 1);
		}
		if (!rc && o->indent && a->n && pad(b, o, depth))
			return ROOM(r);
		return rc ? rc : sb_add(b, "]", 1) ? ROOM(r) : 0;
	}
	case JV_OBJECT: case JV_NS: {
		const struct jobj *ob = v->u.o;
		if (sb_add(b, "{", 1))
			return ROOM(r);
		for (size_t i = 0; i < ob->n && !rc; i++) {
			if (i && sb_str(b, o->item_sep))
				return ROOM(r);
			if (o->indent && pad(b, o, depth + 1))
				return ROOM(r);
			if (json_str(b, ob->k[i], strlen(ob->k[i]), o->ascii) || sb_str(b, o->key_sep))
				return ROOM(r);
			rc = to_json(r, at, b, &ob->v[i], o, depth + 1);
		}
		if (!rc && o->indent && ob->n && pad(b, o, depth))
			return ROOM(r);
		return rc ? rc : sb_add(b, "}", 1) ? ROOM(r) : 0;
	}
	default:
		return rfail(r, at, "cannot convert a %s to JSON", type_name(v));
	}
}

static int sb_to_str(struct render *r, struct sbuf *b, struct jv *out)
{
	char *p = adup(r->ar, b->p ? b->p : "", b->n);
	free(b->p);
	b->p = NULL;
	if (!p)
		return ROOM(r);
	*out = mk_str(p, b->n);
	return LM_OK;
}

/* A value as text, as the reference engine's toString: true/false,
 * None as "null", floats with a ".0" when integral, containers as JSON. */
static int stringify(struct render *r, const struct node *at, const struct jv *v, struct jv *out)
{
	char num[48];
	switch (v->t) {
	case JV_STR: *out = *v; return LM_OK;
	case JV_UNDEF: *out = mk_str("undefined", 9); return LM_OK;
	case JV_NONE: *out = mk_str("null", 4); return LM_OK;
	case JV_BOOL: *out = v->u.b ? mk_str("true", 4) : mk_str("false", 5); return LM_OK;
	case JV_INT: snprintf(num, sizeof num, "%" PRId64, v->u.i); break;
	case JV_FLOAT:
		if (v->u.f == 0 && signbit(v->u.f))
			strcpy(num, "-0.0");
		else if (isfinite(v->u.f) && v->u.f == floor(v->u.f) && fabs(v->u.f) < 1e21)
			snprintf(num, sizeof num, "%.1f", v->u.f);
		else if (isnan(v->u.f))
			strcpy(num, "NaN");
		else if (isinf(v->u.f))
			strcpy(num, v->u.f > 0 ? "Infinity" : "-Infinity");
		else
			js_number(v->u.f, num);
		break;
	case JV_FUNC: *out = mk_str("<function>", 10); return LM_OK;
	default: {
		struct sbuf b = { 0 };
		struct json_opts o = { 0, 0, ", ", ": ", 0 };
		int rc = to_json(r, at, &b, v, &o, 0);
		if (rc) {
			free(b.p);
			return rc;
		}
		return sb_to_str(r, &b, out);
	}
	}
	char *p = adup(r->ar, num, strlen(num));
	if (!p)
		return ROOM(r);
	*out = mk_str(p, strlen(p));
	return LM_OK;
}

static int from_json(struct render *r, const struct json_value *j, struct jv *out)
{
	switch (json_type(j)) {
	case JSON_NULL: *out = (struct jv){ .t = JV_NONE }; return LM_OK;
	case JSON_BOOL: *out = mk_bool(json_bool(j)); return LM_OK;
	case JSON_NUMBER: {
		/* JavaScript numbers: an integral value is an integer */
		double d = json_number_double(j);
		int64_t i;
		if (json_number_int64(j, &i) == LM_OK)
			*out = mk_int(i);
		else if (d == floor(d) && fabs(d) < 9007199254740992.0)
			*out = mk_int((int64_t)d);
		else
			*out = mk_float(d);
		return LM_OK;
	}
	case JSON_STRING: {
		size_t n;
		const char *s = json_string(j, &n);
		*out = mk_str(s, n);
		return LM_OK;
	}
	case JSON_ARRAY: {
		size_t n = json_array_len(j);
		struct jarr *a = arr_new(r, n);
		if (!a)
			return ROOM(r);
		for (size_t i = 0; i < n; i++) {
			struct jv e;
			int rc = from_json(r, json_array_get(j, i), &e);
			if (rc)
				return rc;
			if (arr_push(r, a, e))
				return ROOM(r);
		}
		out->t = JV_ARRAY;
		out->u.a = a;
		return LM_OK;
	}
	case JSON_OBJECT: {
		struct jobj *o = obj_new(r);
		if (!o)
			return ROOM(r);
		for (size_t i = 0; i < json_object_len(j); i++) {
			struct jv e;
			int rc = from_json(r, json_object_value(j, i), &e);
			if (rc)
				return rc;
			if (obj_set(r, o, json_object_key(j, i), e))
				return ROOM(r);
		}
		out->t = JV_OBJECT;
		out->u.o = o;
		return LM_OK;
	}
	}
	return LM_OK;
}

/* Code point boundaries of a string, for indexing and slicing. */
static int cp_offsets(struct render *r, const struct jv *s, size_t **offs, size_t *n)
{
	size_t cnt = 0;
	for (size_t i = 0; i < s->u.s.n;) {
		uint32_t c;
		i += cp_at(s->u.s.p + i, s->u.s.n - i, &c);
		cnt++;
	}
	size_t *o = arena_alloc(r->ar, (cnt + 1) * sizeof *o, 0);
	if (!o)
		return ROOM(r);
	cnt = 0;
	for (size_t i = 0; i < s->u.s.n;) {
		uint32_t c;
		o[cnt++] = i;
		i += cp_at(s->u.s.p + i, s->u.s.n - i, &c);
	}
	o[cnt] = s->u.s.n;
	*offs = o;
	*n = cnt;
	return LM_OK;
}

static int eval(struct render *r, struct scope *sc, const struct node *n, struct jv *out);
static int exec_block(struct render *r, struct scope *sc, const struct nlist *body,
		      struct sbuf *b);

/* ECMA-262 StringToNumber: surrounding whitespace ignored, "" is 0, a
 * decimal literal or Infinity is its value, anything else NaN. */
static double js_string_number(const struct jv *s)
{
	size_t b = space_prefix(s->u.s.p, s->u.s.n);
	size_t e = b + trim_end_len(s->u.s.p + b, s->u.s.n - b);
	char tmp[64];
	if (e == b)
		return 0;
	if (e - b >= sizeof tmp)
		return NAN;
	memcpy(tmp, s->u.s.p + b, e - b);
	tmp[e - b] = 0;
	const char *t = tmp + (tmp[0] == '+' || tmp[0] == '-');
	if (!strcmp(t, "Infinity"))
		return tmp[0] == '-' ? -INFINITY : INFINITY;
	for (const char *c = t; *c; c++)
		if (!is_digit((unsigned char)*c) && *c != '.' && *c != 'e' && *c != 'E' &&
		    *c != '+' && *c != '-')
			return NAN;
	char *end;
	double d = strtod(tmp, &end);
	return *end ? NAN : d;
}

/* Strict equality of the reference's `in` (JavaScript ===), and the loose
 * equality of its == (JavaScript ==): booleans and numeric strings compare
 * as numbers ("" == false), none equals undefined, containers by identity. */
static int values_equal(const struct jv *a, const struct jv *b, int loose)
{
	int an = a->t == JV_INT || a->t == JV_FLOAT, bn = b->t == JV_INT || b->t == JV_FLOAT;
	if (loose) {
		if ((a->t == JV_NONE || a->t == JV_UNDEF) && (b->t == JV_NONE || b->t == JV_UNDEF))
			return 1;
		int as = a->t == JV_STR, bs = b->t == JV_STR;
		an |= a->t == JV_BOOL;
		bn |= b->t == JV_BOOL;
		if ((an && bs) || (as && bn)) {
			double x = as ? js_string_number(a) : a->t == JV_INT ? (double)a->u.i :
				   a->t == JV_FLOAT ? a->u.f : a->u.b;
			double y = bs ? js_string_number(b) : b->t == JV_INT ? (double)b->u.i :
				   b->t == JV_FLOAT ? b->u.f : b->u.b;
			return x == y;
		}
	}
	if (an && bn) {
		double x = a->t == JV_INT ? (double)a->u.i : a->t == JV_FLOAT ? a->u.f : a->u.b;
		double y = b->t == JV_INT ? (double)b->u.i : b->t == JV_FLOAT ? b->u.f : b->u.b;
		if (a->t == JV_INT && b->t == JV_INT)
			return a->u.i == b->u.i;
		return x == y;
	}
	if (a->t != b->t)
		return 0;
	switch (a->t) {
	case JV_UNDEF: case JV_NONE: return 1;
	case JV_BOOL: return a->u.b == b->u.b;
	case JV_STR: return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
	case JV_ARRAY: return a->u.a == b->u.a;
	case JV_OBJECT: case JV_NS: return a->u.o == b->u.o;
	case JV_FUNC: return a->u.fn.macro == b->u.fn.macro && a->u.fn.id == b->u.fn.id;
	default: return 0;
	}
}

static int concat(struct render *r, const struct jv *a, const struct jv *b, struct jv *out)
{
	char *p = arena_alloc(r->ar, a->u.s.n + b->u.s.n + 1, 1);
	if (!p)
		return ROOM(r);
	memcpy(p, a->u.s.p, a->u.s.n);
	memcpy(p + a->u.s.n, b->u.s.p, b->u.s.n);
	p[a->u.s.n + b->u.s.n] = 0;
	*out = mk_str(p, a->u.s.n + b->u.s.n);
	return LM_OK;
}

static int str_find(const struct jv *hay, const struct jv *needle)
{
	if (needle->u.s.n == 0)
		return 1;
	return memmem(hay->u.s.p, hay->u.s.n, needle->u.s.p, needle->u.s.n) != NULL;
}

static int eval_binary(struct render *r, struct scope *sc, const struct node *n, struct jv *out)
{
	struct jv a, b;
	int rc = eval(r, sc, n->a, &a);
	if (rc)
		return rc;
	if (n->op == OP_AND || n->op == OP_OR) {
		if (truthy(&a) == (n->op == OP_OR)) {
			*out = a;
			return LM_OK;
		}
		return eval(r, sc, n->b, out);
	}
	if ((rc = eval(r, sc, n->b, &b)))
		return rc;
	if (n->op == OP_EQ || n->op == OP_NE) {
		*out = mk_bool(values_equal(&a, &b, 1) == (n->op == OP_EQ));
		return LM_OK;
	}
	if (a.t == JV_UNDEF || b.t == JV_UNDEF) {
		if (b.t == JV_UNDEF && (n->op == OP_IN || n->op == OP_NOTIN)) {
			*out = mk_bool(n->op == OP_NOTIN);
			return LM_OK;
		}
		return rfail(r, n, "cannot apply an operator to an undefined value");
	}
	if (a.t == JV_NONE || b.t == JV_NONE)
		return rfail(r, n, "cannot apply an operator to none");
	if (n->op == OP_CAT) {
		struct jv sa, sb;
		if ((rc = stringify(r, n, &a, &sa)) || (rc = stringify(r, n, &b, &sb)))
			return rc;
		return concat(r, &sa, &sb, out);
	}
	int an = a.t == JV_INT || a.t == JV_FLOAT, bn = b.t == JV_INT || b.t == JV_FLOAT;
	if (n->op == OP_POW && (an || a.t == JV_BOOL) && (bn || b.t == JV_BOOL)) {
		double x = a.t == JV_INT ? (double)a.u.i : a.t == JV_FLOAT ? a.u.f : a.u.b;
		double y = b.t == JV_INT ? (double)b.u.i : b.t == JV_FLOAT ? b.u.f : b.u.b;
		if (x == 0 && y < 0)
			return rfail(r, n, "0 cannot be raised to a negative power");
		double z = pow(x, y);
		if (!isfinite(z))
			return rfail(r, n, "result of ** is not a finite number");
		*out = a.t == JV_FLOAT || b.t == JV_FLOAT || y < 0 ? mk_float(z) : mk_int((int64_t)z);
		return LM_OK;
	}
	if (an && bn) {
		int fl = a.t == JV_FLOAT || b.t == JV_FLOAT;
		double x = a.t == JV_INT ? (double)a.u.i : a.u.f;
		double y = b.t == JV_INT ? (double)b.u.i : b.u.f;
		int64_t i = a.t == JV_INT ? a.u.i : 0, j = b.t == JV_INT ? b.u.i : 0;
		switch (n->op) {
		case OP_ADD: *out = fl ? mk_float(x + y) : mk_int((int64_t)((uint64_t)i + (uint64_t)j)); return LM_OK;
		case OP_SUB: *out = fl ? mk_float(x - y) : mk_int((int64_t)((uint64_t)i - (uint64_t)j)); return LM_OK;
		case OP_MUL: *out = fl ? mk_float(x * y) : mk_int((int64_t)((uint64_t)i * (uint64_t)j)); return LM_OK;
		case OP_DIV:
			if (y == 0)
				return rfail(r, n, "division by zero");
			*out = mk_float(x / y);
			return LM_OK;
		case OP_FLOORDIV:
			if (y == 0)
				return rfail(r, n, "division by zero");
			if (fl)
				*out = mk_float(floor(x / y));
			else
				*out = mk_int(i / j - ((i % j != 0) && ((i < 0) != (j < 0))));
			return LM_OK;
		case OP_MOD:
			if (y == 0)
				return rfail(r, n, "modulo by zero");
			/* JavaScript %: the sign of the dividend */
			*out = fl ? mk_float(fmod(x, y)) : mk_int(j == -1 ? 0 : i % j);
			return LM_OK;
		case OP_LT: *out = mk_bool(x < y); return LM_OK;
		case OP_GT: *out = mk_bool(x > y); return LM_OK;
		case OP_LE: *out = mk_bool(x <= y); return LM_OK;
		case OP_GE: *out = mk_bool(x >= y); return LM_OK;
		default: break;
		}
	} else if (a.t == JV_ARRAY && b.t == JV_ARRAY) {
		if (n->op == OP_ADD) {
			struct jarr *c = arr_new(r, a.u.a->n + b.u.a->n + 1);
			if (!c)
				return ROOM(r);
			for (size_t k = 0; k < a.u.a->n; k++)
				c->v[c->n++] = a.u.a->v[k];
			for (size_t k = 0; k < b.u.a->n; k++)
				c->v[c->n++] = b.u.a->v[k];
			out->t = JV_ARRAY;
			out->u.a = c;
			return LM_OK;
		}
	} else if (b.t == JV_ARRAY && (n->op == OP_IN || n->op == OP_NOTIN)) {
		int found = 0;
		for (size_t k = 0; k < b.u.a->n && !found; k++)
			found = values_equal(&a, &b.u.a->v[k], 0);
		*out = mk_bool(found == (n->op == OP_IN));
		return LM_OK;
	}
	if (n->op == OP_ADD && (a.t == JV_STR || b.t == JV_STR)) {
		struct jv sa, sb;
		if ((rc = stringify(r, n, &a, &sa)) || (rc = stringify(r, n, &b, &sb)))
			return rc;
		return concat(r, &sa, &sb, out);
	}
	if ((n->op == OP_IN || n->op == OP_NOTIN) && a.t == JV_STR && b.t == JV_STR) {
		*out = mk_bool(str_find(&b, &a) == (n->op == OP_IN));
		return LM_OK;
	}
	if ((n->op == OP_IN || n->op == OP_NOTIN) && a.t == JV_STR && b.t == JV_OBJECT) {
		int has = 0;
		for (size_t k = 0; k < b.u.o->n && !has; k++)
			has = strlen(b.u.o->k[k]) == a.u.s.n && memcmp(b.u.o->k[k], a.u.s.p, a.u.s.n) == 0;
		*out = mk_bool(has == (n->op == OP_IN));
		return LM_OK;
	}
	static const char *const opname[] = { "", "or", "and", "not", "==", "!=", "<", ">", "<=",
					       ">=", "in", "not in", "+", "-", "~", "*", "/", "//",
					       "%", "**" };
	return rfail(r, n, "operator '%s' is not defined between %s and %s", opname[n->op],
		     type_name(&a), type_name(&b));
}

/* ---- attribute access */

static int get_member(struct render *r, const struct node *at, const struct jv *obj,
		      const struct jv *key, struct jv *out)
{
	*out = UNDEF;
	if (obj->t == JV_OBJECT || obj->t == JV_NS) {
		if (key->t != JV_STR)
			return rfail(r, at, "cannot index a %s with a %s", type_name(obj),
				     type_name(key));
		for (size_t i = 0; i < obj->u.o->n; i++)
			if (strlen(obj->u.o->k[i]) == key->u.s.n &&
			    memcmp(obj->u.o->k[i], key->u.s.p, key->u.s.n) == 0) {
				*out = obj->u.o->v[i];
				break;
			}
		return LM_OK;
	}
	if (obj->t == JV_ARRAY || obj->t == JV_STR) {
		if (key->t == JV_INT) {
			size_t n = obj->t == JV_ARRAY ? obj->u.a->n : 0, *offs = NULL;
			int rc;
			if (obj->t == JV_STR && (rc = cp_offsets(r, obj, &offs, &n)))
				return rc;
			int64_t i = key->u.i < 0 ? key->u.i + (int64_t)n : key->u.i;
			if (i < 0 || (uint64_t)i >= n)
				return LM_OK;
			if (obj->t == JV_ARRAY)
				*out = obj->u.a->v[i];
			else
				*out = mk_str(obj->u.s.p + offs[i], offs[i + 1] - offs[i]);
			return LM_OK;
		}
		if (key->t == JV_STR) {
			if (key->u.s.n == 6 && memcmp(key->u.s.p, "length", 6) == 0) {
				size_t n = obj->t == JV_ARRAY ? obj->u.a->n : 0, *offs;
				int rc;
				if (obj->t == JV_STR && (rc = cp_offsets(r, obj, &offs, &n)))
					return rc;
				*out = mk_int((int64_t)n);
			}
			return LM_OK;
		}
		return rfail(r, at, "cannot index a %s with a %s", type_name(obj), type_name(key));
	}
	if (key->t != JV_STR)
		return rfail(r, at, "cannot index a %s with a %s", type_name(obj), type_name(key));
	return LM_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Python slicing as the reference implements it (utils.ts slice). */
static int eval_slice(struct render *r, struct scope *sc, const struct node *n, struct jv *out)
{
	struct jv obj, part[3];
	const struct node *pn[3] = { n->b, n->c, n->d };
	int rc = eval(r, sc, n->a, &obj);
	if (rc)
		return rc;
	if (obj.t != JV_ARRAY && obj.t != JV_STR)
		return rfail(r, n, "cannot slice a %s", type_name(&obj));
	for (int k = 0; k < 3; k++) {
		part[k] = UNDEF;
		if (pn[k] && (rc = eval(r, sc, pn[k], &part[k])))
			return rc;
		if (part[k].t != JV_INT && part[k].t != JV_UNDEF)
			return rfail(r, pn[k], "slice indices must be integers");
	}
	size_t len = obj.t == JV_ARRAY ? obj.u.a->n : 0, *offs = NULL;
	if (obj.t == JV_STR && (rc = cp_offsets(r, &obj, &offs, &len)))
		return rc;
	int64_t L = (int64_t)len;
	int64_t step = part[2].t == JV_INT ? part[2].u.i : 1;
	if (step == 0)
		return rfail(r, n, "slice step cannot be zero");
	int64_t start, stop;
	if (step > 0) {
		start = part[0].t == JV_INT ? part[0].u.i : 0;
		stop = part[1].t == JV_INT ? part[1].u.i : L;
		start = start < 0 ? (start + L > 0 ? start + L : 0) : (start < L ? start : L);
		stop = stop < 0 ? (stop + L > 0 ? stop + L : 0) : (stop < L ? stop : L);
	} else {
		start = part[0].t == JV_INT ? part[0].u.i : L - 1;
		stop = part[1].t == JV_INT ? part[1].u.i : -1;
		start = start < 0 ? clamp64(start + L, -1, L) : (start < L - 1 ? start : L - 1);
		stop = stop < -1 ? clamp64(stop + L, -1, L) : (stop < L - 1 ? stop : L - 1);
	}
	if (obj.t == JV_ARRAY) {
		struct jarr *a = arr_new(r, 0);
		if (!a)
			return ROOM(r);
		for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
			if (arr_push(r, a, obj.u.a->v[i]))
				return ROOM(r);
		out->t = JV_ARRAY;
		out->u.a = a;
		return LM_OK;
	}
	struct sbuf b = { 0 };
	for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
		if (sb_add(&b, obj.u.s.p + offs[i], offs[i + 1] - offs[i])) {
			free(b.p);
			return ROOM(r);
		}
	return sb_to_str(r, &b, out);
}

/* ---- arguments */

struct args {
	struct jv pos[8];
	size_t npos;
	const char *kwname[8];
	struct jv kw[8];
	size_t nkw;
};

static int eval_args(struct render *r, struct scope *sc, const struct nlist *l, struct args *a)
{
	a->npos = a->nkw = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct node *e = l->v[i];
		int rc;
		if (e->kind == E_KWARG) {
			if (a->nkw == 8)
				return rfail(r, e, "too many keyword arguments");
			for (size_t k = 0; k < a->nkw; k++)
				if (!strcmp(a->kwname[k], e->s))
					return rfail(r, e, "keyword argument '%s' given twice", e->s);
			a->kwname[a->nkw] = e->s;
			if ((rc = eval(r, sc, e->a, &a->kw[a->nkw])))
				return rc;
			a->nkw++;
		} else {
			if (a->npos == 8)
				return rfail(r, e, "too many arguments");
			if ((rc = eval(r, sc, e, &a->pos[a->npos])))
				return rc;
			a->npos++;
		}
	}
	return LM_OK;
}

/* Positional argument I, else keyword NAME, else NULL. */
static const struct jv *kwarg(const struct args *a, const char *name)
{
	for (size_t k = 0; k < a->nkw; k++)
		if (!strcmp(a->kwname[k], name))
			return &a->kw[k];
	return NULL;
}

static const struct jv *arg(const struct args *a, size_t i, const char *name)
{
	if (i < a->npos)
		return &a->pos[i];
	for (size_t k = 0; name && k < a->nkw; k++)
		if (!strcmp(a->kwname[k], name))
			return &a->kw[k];
	return NULL;
}

/* ---- string helpers */

static int map_case(struct render *r, const struct jv *s, int upper, struct jv *out)
{
	struct sbuf b = { 0 };
	for (size_t i = 0; i < s->u.s.n;) {
		uint32_t c;
		size_t k = cp_at(s->u.s.p + i, s->u.s.n - i, &c);
		char enc[4];
		utf8proc_int32_t m = upper ? utf8proc_toupper((utf8proc_int32_t)c)
					   : utf8proc_tolower((utf8proc_int32_t)c);
		int e = utf8_encode((uint32_t)m, enc);
		if (e <= 0 || sb_add(&b, enc, (size_t)e)) {
			free(b.p);
			return ROOM(r);
		}
		i += k;
	}
	return sb_to_str(r, &b, out);
}

static int in_chars(uint32_t c, const struct jv *chars)
{
	for (size_t i = 0; i < chars->u.s.n;) {
		uint32_t d;
		i += cp_at(chars->u.s.p + i, chars->u.s.n - i, &d);
		if (c == d)
			return 1;
	}
	return 0;
}

/* strip/lstrip/rstrip: whitespace, or the characters of CHARS as Python's
 * str.strip(chars) does. */
static struct jv strip(const struct jv *s, const struct jv *chars, int left, int right)
{
	size_t b = 0, e = s->u.s.n;
	const char *p = s->u.s.p;
	if (!chars) {
		if (left)
			b = space_prefix(p, e);
		if (right)
			e = b + trim_end_len(p + b, e - b);
		return mk_str(p + b, e - b);
	}
	while (left && b < e) {
		uint32_t c;
		size_t k = cp_at(p + b, e - b, &c);
		if (!in_chars(c, chars))
			break;
		b += k;
	}
	while (right && e > b) {
		size_t st = e - 1;
		while (st > b && ((unsigned char)p[st] & 0xc0) == 0x80)
			st--;
		uint32_t c;
		cp_at(p + st, e - st, &c);
		if (!in_chars(c, chars))
			break;
		e = st;
	}
	return mk_str(p + b, e - b);
}

static int str_replace(struct render *r, const struct jv *s, const struct jv *old,
		       const struct jv *new, int64_t count, struct jv *out)
{
	struct sbuf b = { 0 };
	int rc = 0;
	size_t i = 0;
	if (count == 0) {
		*out = *s;
		return LM_OK;
	}
	if (old->u.s.n == 0) {
		/* an empty pattern matches before every character and at the end */
		for (;;) {
			if (count != 0) {
				rc |= sb_add(&b, new->u.s.p, new->u.s.n);
				if (count > 0)
					count--;
			}
			if (i >= s->u.s.n)
				break;
			uint32_t c;
			size_t k = cp_at(s->u.s.p + i, s->u.s.n - i, &c);
			rc |= sb_add(&b, s->u.s.p + i, k);
			i += k;
		}
	} else {
		while (i < s->u.s.n) {
			const char *hit = count != 0 ? memmem(s->u.s.p + i, s->u.s.n - i, old->u.s.p,
							      old->u.s.n) : NULL;
			if (!hit) {
				rc |= sb_add(&b, s->u.s.p + i, s->u.s.n - i);
				break;
			}
			rc |= sb_add(&b, s->u.s.p + i, (size_t)(hit - (s->u.s.p + i)));
			rc |= sb_add(&b, new->u.s.p, new->u.s.n);
			i = (size_t)(hit - s->u.s.p) + old->u.s.n;
			if (count > 0)
				count--;
		}
	}
	if (rc) {
		free(b.p);
		return ROOM(r);
	}
	return sb_to_str(r, &b, out);
}

static int str_split(struct render *r, const struct node *at, const struct jv *s,
		     const struct jv *sep, int64_t maxsplit, struct jv *out)
{
	struct jarr *a = arr_new(r, 0);
	const char *p = s->u.s.p;
	size_t n = s->u.s.n, i = 0;
	if (!a)
		return ROOM(r);
	out->t = JV_ARRAY;
	out->u.a = a;
	if (!sep || sep->t == JV_NONE) {
		/* runs of whitespace separate; none at the ends */
		i = space_prefix(p, n);
		while (i < n) {
			if (maxsplit >= 0 && (int64_t)a->n >= maxsplit) {
				if (arr_push(r, a, mk_str(p + i, n - i)))
					return ROOM(r);
				return LM_OK;
			}
			size_t j = i;
			while (j < n) {
				uint32_t c;
				size_t k = cp_at(p + j, n - j, &c);
				if (js_space(c))
					break;
				j += k;
			}
			if (arr_push(r, a, mk_str(p + i, j - i)))
				return ROOM(r);
			i = j + space_prefix(p + j, n - j);
		}
		return LM_OK;
	}
	if (sep->t != JV_STR)
		return rfail(r, at, "split: separator must be a string or none");
	if (sep->u.s.n == 0)
		return rfail(r, at, "split: empty separator");
	for (;;) {
		const char *hit = maxsplit < 0 || (int64_t)a->n < maxsplit
					  ? memmem(p + i, n - i, sep->u.s.p, sep->u.s.n) : NULL;
		if (!hit) {
			if (arr_push(r, a, mk_str(p + i, n - i)))
				return ROOM(r);
			return LM_OK;
		}
		if (arr_push(r, a, mk_str(p + i, (size_t)(hit - (p + i)))))
			return ROOM(r);
		i = (size_t)(hit - p) + sep->u.s.n;
	}
}

static int affix_test(struct render *r, const struct node *at, const struct jv *s,
		      const struct jv *pat, int end, struct jv *out)
{
	const struct jv *list = pat->t == JV_ARRAY ? pat->u.a->v : pat;
	size_t cnt = pat->t == JV_ARRAY ? pat->u.a->n : 1;
	if (pat->t != JV_ARRAY && pat->t != JV_STR)
		return rfail(r, at, "%s: argument must be a string or a tuple of strings",
			     end ? "endswith" : "startswith");
	for (size_t i = 0; i < cnt; i++) {
		const struct jv *x = &list[i];
		if (x->t != JV_STR)
			return rfail(r, at, "%s: tuple elements must be strings",
				     end ? "endswith" : "startswith");
		if (x->u.s.n <= s->u.s.n &&
		    memcmp(s->u.s.p + (end ? s->u.s.n - x->u.s.n : 0), x->u.s.p, x->u.s.n) == 0) {
			*out = mk_bool(1);
			return LM_OK;
		}
	}
	*out = mk_bool(0);
	return LM_OK;
}

static int title_case(struct render *r, const struct jv *s, int capitalize_only,
		      struct jv *out)
{
	char *p = adup(r->ar, s->u.s.p, s->u.s.n);
	if (!p)
		return ROOM(r);
	if (capitalize_only) {
		struct jv first, up, rest;
		if (s->u.s.n == 0) {
			*out = *s;
			return LM_OK;
		}
		uint32_t c;
		size_t k = cp_at(s->u.s.p, s->u.s.n, &c);
		first = mk_str(s->u.s.p, k);
		rest = mk_str(s->u.s.p + k, s->u.s.n - k);
		int rc = map_case(r, &first, 1, &up);
		return rc ? rc : concat(r, &up, &rest, out);
	}
	/* JavaScript /\b\w/g: an ASCII word character after a non-word one */
	for (size_t i = 0; i < s->u.s.n; i++)
		if (is_word((unsigned char)p[i]) && (i == 0 || !is_word((unsigned char)p[i - 1])) &&
		    p[i] >= 'a' && p[i] <= 'z')
			p[i] = (char)(p[i] - 'a' + 'A');
	*out = mk_str(p, s->u.s.n);
	return LM_OK;
}

static int cp_count(const struct jv *s)
{
	int cnt = 0;
	for (size_t i = 0; i < s->u.s.n;) {
		uint32_t c;
		i += cp_at(s->u.s.p + i, s->u.s.n - i, &c);
		cnt++;
	}
	return cnt;
}

/* ---- methods: x.name(args) */

static int call_method(struct render *r, const struct node *at, const struct jv *obj,
		       const char *name, const struct args *a, struct jv *out)
{
	if (obj->t == JV_STR) {
		const struct jv *a0 = arg(a, 0, NULL), *a1 = arg(a, 1, NULL);
		if (!strcmp(name, "upper") || !strcmp(name, "lower"))
			return map_case(r, obj, name[0] == 'u', out);
		if (!strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip")) {
			if (a0 && a0->t != JV_STR && a0->t != JV_NONE)
				return rfail(r, at, "%s: argument must be a string", name);
			*out = strip(obj, a0 && a0->t == JV_STR ? a0 : NULL, name[0] != 'r',
				     name[0] != 'l');
			return LM_OK;
		}
		if (!strcmp(name, "title") || !strcmp(name, "capitalize"))
			return title_case(r, obj, name[0] == 'c', out);
		if (!strcmp(name, "startswith") || !strcmp(name, "endswith")) {
			if (!a0)
				return rfail(r, at, "%s() requires an argument", name);
			return affix_test(r, at, obj, a0, name[0] == 'e', out);
		}
		if (!strcmp(name, "split")) {
			const struct jv *ms = arg(a, 1, "maxsplit");
			if (ms && ms->t != JV_INT)
				return rfail(r, at, "split: maxsplit must be an integer");
			return str_split(r, at, obj, arg(a, 0, "sep"), ms ? ms->u.i : -1, out);
		}
		if (!strcmp(name, "replace")) {
			const struct jv *cnt = arg(a, 2, "count");
			if (!a0 || !a1 || a0->t != JV_STR || a1->t != JV_STR)
				return rfail(r, at, "replace() requires two string arguments");
			if (cnt && cnt->t != JV_INT && cnt->t != JV_NONE)
				return rfail(r, at, "replace: count must be an integer");
			return str_replace(r, obj, a0, a1, cnt && cnt->t == JV_INT ? cnt->u.i : -1, out);
		}
	} else if (obj->t == JV_OBJECT) {
		if (!strcmp(name, "get")) {
			const struct jv *k = arg(a, 0, NULL), *d = arg(a, 1, NULL);
			if (!k || k->t != JV_STR)
				return rfail(r, at, "get: key must be a string");
			int rc = get_member(r, at, obj, k, out);
			if (!rc && out->t == JV_UNDEF)
				*out = d ? *d : (struct jv){ .t = JV_NONE };
			return rc;
		}
		if (!strcmp(name, "items") || !strcmp(name, "keys") || !strcmp(name, "values")) {
			struct jarr *l = arr_new(r, obj->u.o->n + 1);
			if (!l)
				return ROOM(r);
			for (size_t i = 0; i < obj->u.o->n; i++) {
				struct jv key = mk_str(obj->u.o->k[i], strlen(obj->u.o->k[i]));
				if (name[0] == 'k') {
					l->v[l->n++] = key;
				} else if (name[0] == 'v') {
					l->v[l->n++] = obj->u.o->v[i];
				} else {
					struct jarr *pair = arr_new(r, 2);
					if (!pair)
						return ROOM(r);
					pair->v[0] = key;
					pair->v[1] = obj->u.o->v[i];
					pair->n = 2;
					l->v[l->n].t = JV_ARRAY;
					l->v[l->n++].u.a = pair;
				}
			}
			out->t = JV_ARRAY;
			out->u.a = l;
			return LM_OK;
		}
	}
	return rfail(r, at, "%s has no method '%s'", type_name(obj), name);
}

/* ---- functions and macros */

static int call_value(struct render *r, struct scope *sc, const struct node *at,
		      const struct jv *fn, const struct args *a, struct jv *out);

static int call_macro(struct render *r, struct scope *sc, const struct node *at,
		      const struct node *m, const struct args *a, struct jv *out)
{
	/* the reference engine scopes a macro body under the caller's scope */
	struct scope ms = { .parent = sc };
	const struct nlist *params = &m->kids2;
	int rc;
	if (a->npos > params->n)
		return rfail(r, at, "macro '%s' takes at most %zu argument(s)", m->s, params->n);
	for (size_t k = 0; k < a->nkw; k++) {
		int known = 0;
		for (size_t i = 0; i < params->n; i++)
			known |= !strcmp(params->v[i]->s, a->kwname[k]);
		if (!known)
			return rfail(r, at, "macro '%s' has no argument '%s'", m->s, a->kwname[k]);
	}
	for (size_t i = 0; i < params->n; i++) {
		const struct jv *v = arg(a, i, params->v[i]->s);
		if ((rc = scope_set(r, &ms, params->v[i]->s, v ? *v : UNDEF)))
			return rc;
	}
	for (size_t i = 0; i < params->n; i++) {
		const struct node *pn = params->v[i];
		if (pn->kind == E_KWARG && !arg(a, i, pn->s)) {
			struct jv d;
			if ((rc = eval(r, &ms, pn->a, &d)) || (rc = scope_set(r, &ms, pn->s, d)))
				return rc;
		}
	}
	if (++r->depth > MAX_CALL_DEPTH)
		return rfail(r, at, "macro calls nested too deeply");
	struct sbuf b = { 0 };
	rc = exec_block(r, &ms, &m->kids, &b);
	r->depth--;
	r->ctl = CTL_NONE;
	if (rc) {
		free(b.p);
		return rc;
	}
	return sb_to_str(r, &b, out);
}

static int fn_range(struct render *r, const struct node *at, const struct args *a,
		    struct jv *out)
{
	int64_t v[3] = { 0, 0, 1 };
	if (a->npos < 1 || a->npos > 3 || a->nkw)
		return rfail(r, at, "range() takes 1 to 3 integer arguments");
	for (size_t i = 0; i < a->npos; i++) {
		if (a->pos[i].t != JV_INT)
			return rfail(r, at, "range() arguments must be integers");
	}
	if (a->npos == 1) {
		v[1] = a->pos[0].u.i;
	} else {
		v[0] = a->pos[0].u.i;
		v[1] = a->pos[1].u.i;
		if (a->npos == 3)
			v[2] = a->pos[2].u.i;
	}
	if (v[2] == 0)
		return rfail(r, at, "range() step must not be zero");
	struct jarr *l = arr_new(r, 0);
	if (!l)
		return ROOM(r);
	for (int64_t i = v[0]; v[2] > 0 ? i < v[1] : i > v[1]; i += v[2]) {
		if (l->n >= 1000000)
			return rfail(r, at, "range() too long");
		if (arr_push(r, l, mk_int(i)))
			return ROOM(r);
	}
	out->t = JV_ARRAY;
	out->u.a = l;
	return LM_OK;
}

static int fn_namespace(struct render *r, const struct node *at, const struct args *a,
			struct jv *out)
{
	struct jobj *o = obj_new(r);
	if (!o)
		return ROOM(r);
	if (a->npos > 1)
		return rfail(r, at, "namespace() takes at most 1 positional argument");
	if (a->npos == 1) {
		if (a->pos[0].t != JV_OBJECT)
			return rfail(r, at, "namespace() argument must be a dict");
		for (size_t i = 0; i < a->pos[0].u.o->n; i++)
			if (obj_set(r, o, a->pos[0].u.o->k[i], a->pos[0].u.o->v[i]))
				return ROOM(r);
	}
	for (size_t k = 0; k < a->nkw; k++)
		if (obj_set(r, o, a->kwname[k], a->kw[k]))
			return ROOM(r);
	out->t = JV_NS;
	out->u.o = o;
	return LM_OK;
}

static int fn_strftime(struct render *r, const struct node *at, const struct args *a,
		       struct jv *out)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
					   "Aug", "Sep", "Oct", "Nov", "Dec" };
	static const char *const month[] = { "January", "February", "March", "April", "May",
					     "June", "July", "August", "September", "October",
					     "November", "December" };
	if (a->npos != 1 || a->pos[0].t != JV_STR)
		return rfail(r, at, "strftime_now() takes one format string");
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	struct sbuf b = { 0 };
	const struct jv *f = &a->pos[0];
	int rc = 0;
	/* the directives the reference supports: %Y %m %d %b %B %H %M %% */
	for (size_t i = 0; i < f->u.s.n; i++) {
		char tmp[16];
		if (f->u.s.p[i] != '%' || i + 1 == f->u.s.n) {
			rc |= sb_add(&b, f->u.s.p + i, 1);
			continue;
		}
		char d = f->u.s.p[++i];
		switch (d) {
		case 'Y': snprintf(tmp, sizeof tmp, "%d", tm.tm_year + 1900); break;
		case 'm': snprintf(tmp, sizeof tmp, "%02d", tm.tm_mon + 1); break;
		case 'd': snprintf(tmp, sizeof tmp, "%02d", tm.tm_mday); break;
		case 'H': snprintf(tmp, sizeof tmp, "%02d", tm.tm_hour); break;
		case 'M': snprintf(tmp, sizeof tmp, "%02d", tm.tm_min); break;
		case 'b': snprintf(tmp, sizeof tmp, "%s", mon[tm.tm_mon]); break;
		case 'B': snprintf(tmp, sizeof tmp, "%s", month[tm.tm_mon]); break;
		case '%': snprintf(tmp, sizeof tmp, "%%"); break;
		default: snprintf(tmp, sizeof tmp, "%%%c", d); break;
		}
		rc |= sb_str(&b, tmp);
	}
	if (rc) {
		free(b.p);
		return ROOM(r);
	}
	return sb_to_str(r, &b, out);
}

static int call_value(struct render *r, struct scope *sc, const struct node *at,
		      const struct jv *fn, const struct args *a, struct jv *out)
{
	if (fn->t != JV_FUNC)
		return rfail(r, at, "cannot call a %s", type_name(fn));
	switch (fn->u.fn.id) {
	case FN_MACRO: return call_macro(r, sc, at, fn->u.fn.macro, a, out);
	case FN_RANGE: return fn_range(r, at, a, out);
	case FN_NAMESPACE: return fn_namespace(r, at, a, out);
	case FN_STRFTIME: return fn_strftime(r, at, a, out);
	case FN_RAISE: {
		struct jv msg = mk_str("", 0);
		int rc;
		if (a->npos && (rc = stringify(r, at, &a->pos[0], &msg)))
			return rc;
		return rfail(r, at, "raise_exception: %.*s", (int)(msg.u.s.n > 300 ? 300 : msg.u.s.n),
			     msg.u.s.p);
	}
	}
	return rfail(r, at, "cannot call this value");
}

static int eval_call(struct render *r, struct scope *sc, const struct node *n, struct jv *out)
{
	struct args a;
	int rc;
	const struct node *callee = n->a;
	if (callee->kind == E_MEMBER) {
		struct jv obj;
		if ((rc = eval(r, sc, callee->a, &obj)) || (rc = eval_args(r, sc, &n->kids, &a)))
			return rc;
		if (obj.t == JV_OBJECT || obj.t == JV_NS) {
			struct jv *own = obj_get(obj.u.o, callee->s);
			if (own)
				return call_value(r, sc, n, own, &a, out);
		}
		return call_method(r, n, &obj, callee->s, &a, out);
	}
	struct jv fn;
	if ((rc = eval(r, sc, callee, &fn)) || (rc = eval_args(r, sc, &n->kids, &a)))
		return rc;
	return call_value(r, sc, n, &fn, &a, out);
}

/* ---- filters and tests */

static int run_test(struct render *r, const struct node *at, const char *name,
		    const struct jv *v, const struct jv *arg1, int *res)
{
	if (!strcmp(name, "defined")) *res = v->t != JV_UNDEF;
	else if (!strcmp(name, "undefined")) *res = v->t == JV_UNDEF;
	else if (!strcmp(name, "none")) *res = v->t == JV_NONE;
	else if (!strcmp(name, "string")) *res = v->t == JV_STR;
	else if (!strcmp(name, "number")) *res = v->t == JV_INT || v->t == JV_FLOAT;
	else if (!strcmp(name, "integer")) *res = v->t == JV_INT;
	else if (!strcmp(name, "boolean")) *res = v->t == JV_BOOL;
	else if (!strcmp(name, "true")) *res = v->t == JV_BOOL && v->u.b;
	else if (!strcmp(name, "false")) *res = v->t == JV_BOOL && !v->u.b;
	else if (!strcmp(name, "mapping")) *res = v->t == JV_OBJECT;
	else if (!strcmp(name, "iterable")) *res = v->t == JV_ARRAY || v->t == JV_STR;
	else if (!strcmp(name, "sequence")) *res = v->t == JV_ARRAY || v->t == JV_OBJECT || v->t == JV_STR;
	else if (!strcmp(name, "callable")) *res = v->t == JV_FUNC;
	else if (!strcmp(name, "odd") || !strcmp(name, "even")) {
		if (v->t != JV_INT)
			return rfail(r, at, "test '%s' needs an integer, got %s", name, type_name(v));
		*res = (v->u.i % 2 != 0) == (name[0] == 'o');
	} else if (!strcmp(name, "lower") || !strcmp(name, "upper")) {
		struct jv m;
		int rc;
		if (v->t != JV_STR) {
			*res = 0;
			return LM_OK;
		}
		if ((rc = map_case(r, v, name[0] == 'u', &m)))
			return rc;
		*res = values_equal(v, &m, 0);
	} else if (!strcmp(name, "equalto") || !strcmp(name, "eq")) {
		*res = arg1 && values_equal(v, arg1, 0);
	} else {
		return rfail(r, at, "unknown test '%s'", name);
	}
	return LM_OK;
}

static const char *const known_filters[] = {
	"safe", "tojson", "list", "first", "last", "length", "count", "reverse", "join", "string",
	"unique", "upper", "lower", "title", "capitalize", "trim", "indent", "int", "float", "abs",
	"items", "bool", "default", "d", "replace", "selectattr", "rejectattr", "map", NULL
};

static int filter_tojson(struct render *r, const struct node *at, const struct jv *v,
			 const struct args *a, struct jv *out)
{
	struct json_opts o = { 0, 0, ", ", ": ", 1 };
	const struct jv *ind = kwarg(a, "indent"), *asc = kwarg(a, "ensure_ascii"),
			*sep = kwarg(a, "separators"), *sk = kwarg(a, "sort_keys");
	if (ind && ind->t != JV_NONE) {
		if (ind->t != JV_INT || ind->u.i < 0 || ind->u.i > 64)
			return rfail(r, at, "tojson: indent must be a small integer");
		o.indent = (int)ind->u.i;
		o.item_sep = o.indent ? "," : ", ";
	}
	if (asc) {
		if (asc->t != JV_BOOL)
			return rfail(r, at, "tojson: ensure_ascii must be a boolean");
		o.ascii = asc->u.b;
	}
	if (sk && truthy(sk))
		return rfail(r, at, "tojson: sort_keys is not supported");
	if (sep && sep->t != JV_NONE) {
		if (sep->t != JV_ARRAY || sep->u.a->n != 2 || sep->u.a->v[0].t != JV_STR ||
		    sep->u.a->v[1].t != JV_STR)
			return rfail(r, at, "tojson: separators must be two strings");
		o.item_sep = adup(r->ar, sep->u.a->v[0].u.s.p, sep->u.a->v[0].u.s.n);
		o.key_sep = adup(r->ar, sep->u.a->v[1].u.s.p, sep->u.a->v[1].u.s.n);
		if (!o.item_sep || !o.key_sep)
			return ROOM(r);
	}
	struct sbuf b = { 0 };
	int rc = to_json(r, at, &b, v, &o, 0);
	if (rc) {
		free(b.p);
		return rc;
	}
	return sb_to_str(r, &b, out);
}

static int filter_join(struct render *r, const struct node *at, const struct jv *v,
		       const struct args *a, struct jv *out)
{
	const struct jv *sep = arg(a, 0, "d");
	struct sbuf b = { 0 };
	int rc = 0;
	if (sep && sep->t != JV_STR)
		return rfail(r, at, "join: separator must be a string");
	if (v->t == JV_STR) {
		size_t *offs, n;
		if ((rc = cp_offsets(r, v, &offs, &n)))
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (i && sep)
				rc |= sb_add(&b, sep->u.s.p, sep->u.s.n);
			rc |= sb_add(&b, v->u.s.p + offs[i], offs[i + 1] - offs[i]);
		}
	} else if (v->t == JV_ARRAY) {
		for (size_t i = 0; i < v->u.a->n; i++) {
			const struct jv *e = &v->u.a->v[i];
			if (i && sep)
				rc |= sb_add(&b, sep->u.s.p, sep->u.s.n);
			/* Array.prototype.join: null and undefined become "" */
			if (e->t == JV_NONE || e->t == JV_UNDEF)
				continue;
			struct jv s;
			int rc2 = stringify(r, at, e, &s);
			if (rc2) {
				free(b.p);
				return rc2;
			}
			rc |= sb_add(&b, s.u.s.p, s.u.s.n);
		}
	} else {
		return rfail(r, at, "filter 'join' cannot be applied to a %s", type_name(v));
	}
	if (rc) {
		free(b.p);
		return ROOM(r);
	}
	return sb_to_str(r, &b, out);
}

static int indent_text(struct render *r, const struct jv *v, const struct args *a,
		       const struct node *at, struct jv *out)
{
	const struct jv *w = arg(a, 0, "width"), *first = arg(a, 1, "first"),
			*blank = arg(a, 2, "blank");
	if (w && w->t != JV_INT)
		return rfail(r, at, "indent: width must be an integer");
	int64_t width = w ? w->u.i : 4;
	struct sbuf b = { 0 };
	int rc = 0;
	size_t i = 0, line = 0;
	for (;;) {
		const char *nl = memchr(v->u.s.p + i, '\n', v->u.s.n - i);
		size_t end = nl ? (size_t)(nl - v->u.s.p) : v->u.s.n;
		int skip = (line == 0 && !(first && truthy(first))) ||
			   (end == i && !(blank && truthy(blank)));
		for (int64_t k = 0; !skip && k < width; k++)
			rc |= sb_add(&b, " ", 1);
		rc |= sb_add(&b, v->u.s.p + i, end - i);
		if (!nl)
			break;
		rc |= sb_add(&b, "\n", 1);
		i = end + 1;
		line++;
	}
	if (rc) {
		free(b.p);
		return ROOM(r);
	}
	return sb_to_str(r, &b, out);
}

static int to_number(struct render *r, const struct jv *v, int want_int, const struct jv *dflt,
		     struct jv *out)
{
	(void)r;
	if (v->t == JV_INT || v->t == JV_FLOAT) {
		*out = want_int && v->t == JV_FLOAT ? mk_int((int64_t)floor(v->u.f)) : *v;
		if (!want_int && v->t == JV_INT)
			*out = mk_float((double)v->u.i);
		return LM_OK;
	}
	if (v->t == JV_BOOL) {
		*out = want_int ? mk_int(v->u.b) : mk_float(v->u.b);
		return LM_OK;
	}
	char tmp[64];
	size_t n = v->u.s.n < sizeof tmp - 1 ? v->u.s.n : sizeof tmp - 1;
	memcpy(tmp, v->u.s.p, n);
	tmp[n] = 0;
	char *end;
	const char *s = tmp + space_prefix(tmp, n);
	if (want_int) {
		long long x = strtoll(s, &end, 10);
		if (end == s)
			*out = dflt ? *dflt : mk_int(0);
		else
			*out = mk_int(x);
	} else {
		double x = strtod(s, &end);
		if (end == s)
			*out = dflt ? *dflt : mk_float(0);
		else
			*out = mk_float(x);
	}
	return LM_OK;
}

/* selectattr / rejectattr (attribute, [test, [value]]) and map(attribute=) */
static int filter_attr(struct render *r, const struct node *at, const char *name,
		       const struct jv *v, const struct args *a, struct jv *out)
{
	if (v->t != JV_ARRAY)
		return rfail(r, at, "filter '%s' cannot be applied to a %s", name, type_name(v));
	struct jarr *l = arr_new(r, v->u.a->n + 1);
	if (!l)
		return ROOM(r);
	if (!strcmp(name, "map")) {
		const struct jv *attr = kwarg(a, "attribute"), *dflt = kwarg(a, "default");
		if (!attr || attr->t != JV_STR)
			return rfail(r, at, "map: only map(attribute='name') is supported");
		for (size_t i = 0; i < v->u.a->n; i++) {
			const struct jv *e = &v->u.a->v[i];
			struct jv x;
			int rc;
			if (e->t != JV_OBJECT && e->t != JV_NS)
				return rfail(r, at, "map: items must be dicts");
			if ((rc = get_member(r, at, e, attr, &x)))
				return rc;
			l->v[l->n++] = x.t == JV_UNDEF && dflt ? *dflt : x;
		}
	} else {
		int select = name[0] == 's';
		const struct jv *attr = arg(a, 0, NULL), *test = arg(a, 1, NULL),
				*val = arg(a, 2, NULL);
		if (!attr || attr->t != JV_STR || (test && test->t != JV_STR))
			return rfail(r, at, "%s: arguments must be strings", name);
		char tname[64];
		if (test)
			snprintf(tname, sizeof tname, "%.*s", (int)test->u.s.n, test->u.s.p);
		for (size_t i = 0; i < v->u.a->n; i++) {
			const struct jv *e = &v->u.a->v[i];
			struct jv x;
			int rc, res;
			if (e->t != JV_OBJECT && e->t != JV_NS)
				return rfail(r, at, "%s: items must be dicts", name);
			if ((rc = get_member(r, at, e, attr, &x)))
				return rc;
			if (x.t == JV_UNDEF)
				res = 0;
			else if (test) {
				if ((rc = run_test(r, at, tname, &x, val, &res)))
					return rc;
			} else {
				res = truthy(&x);
			}
			if (res == select)
				l->v[l->n++] = *e;
		}
	}
	out->t = JV_ARRAY;
	out->u.a = l;
	return LM_OK;
}

static int apply_filter(struct render *r, struct scope *sc, const struct node *f,
			const struct jv *v, struct jv *out)
{
	const char *name = f->s;
	struct args a = { 0 };
	int rc, known = 0;
	for (const char *const *k = known_filters; *k; k++)
		known |= !strcmp(*k, name);
	if (!known)
		return rfail(r, f, "unknown filter '%s'", name);
	if (f->flag && (rc = eval_args(r, sc, &f->kids, &a)))
		return rc;
	if (!strcmp(name, "safe")) {
		*out = *v;
		return LM_OK;
	}
	if (!strcmp(name, "tojson"))
		return filter_tojson(r, f, v, &a, out);
	if (!strcmp(name, "default") || !strcmp(name, "d")) {
		const struct jv *d = arg(&a, 0, "default_value"), *b = arg(&a, 1, "boolean");
		if (b && b->t != JV_BOOL)
			return rfail(r, f, "default: the boolean flag must be a boolean");
		if (v->t == JV_UNDEF || (b && b->u.b && !truthy(v)))
			*out = d ? *d : mk_str("", 0);
		else
			*out = *v;
		return LM_OK;
	}
	if (!strcmp(name, "join"))
		return filter_join(r, f, v, &a, out);
	if (!strcmp(name, "selectattr") || !strcmp(name, "rejectattr") || !strcmp(name, "map"))
		return filter_attr(r, f, name, v, &a, out);
	switch (v->t) {
	case JV_ARRAY: {
		const struct jarr *l = v->u.a;
		if (!strcmp(name, "list")) {
			*out = *v;
			return LM_OK;
		}
		if (!strcmp(name, "first") || !strcmp(name, "last")) {
			*out = l->n ? l->v[name[0] == 'f' ? 0 : l->n - 1] : UNDEF;
			return LM_OK;
		}
		if (!strcmp(name, "length") || !strcmp(name, "count")) {
			*out = mk_int((int64_t)l->n);
			return LM_OK;
		}
		if (!strcmp(name, "string"))
			return stringify(r, f, v, out);
		if (!strcmp(name, "reverse") || !strcmp(name, "unique")) {
			struct jarr *c = arr_new(r, l->n + 1);
			if (!c)
				return ROOM(r);
			for (size_t i = 0; i < l->n; i++) {
				if (name[0] == 'r') {
					c->v[c->n++] = l->v[l->n - 1 - i];
					continue;
				}
				int seen = 0;
				for (size_t k = 0; k < c->n && !seen; k++)
					seen = values_equal(&c->v[k], &l->v[i], 0);
				if (!seen)
					c->v[c->n++] = l->v[i];
			}
			out->t = JV_ARRAY;
			out->u.a = c;
			return LM_OK;
		}
		break;
	}
	case JV_STR:
		if (!strcmp(name, "length") || !strcmp(name, "count")) {
			*out = mk_int(cp_count(v));
			return LM_OK;
		}
		if (!strcmp(name, "upper") || !strcmp(name, "lower"))
			return map_case(r, v, name[0] == 'u', out);
		if (!strcmp(name, "title") || !strcmp(name, "capitalize"))
			return title_case(r, v, name[0] == 'c', out);
		if (!strcmp(name, "trim")) {
			*out = strip(v, NULL, 1, 1);
			return LM_OK;
		}
		if (!strcmp(name, "string")) {
			*out = *v;
			return LM_OK;
		}
		if (!strcmp(name, "indent"))
			return indent_text(r, v, &a, f, out);
		if (!strcmp(name, "int") || !strcmp(name, "float"))
			return to_number(r, v, name[0] == 'i', arg(&a, 0, "default"), out);
		if (!strcmp(name, "replace")) {
			const struct jv *o = arg(&a, 0, NULL), *nw = arg(&a, 1, NULL),
					*cnt = arg(&a, 2, "count");
			if (!o || !nw || o->t != JV_STR || nw->t != JV_STR)
				return rfail(r, f, "replace: needs two string arguments");
			if (cnt && cnt->t != JV_INT && cnt->t != JV_NONE)
				return rfail(r, f, "replace: count must be an integer");
			return str_replace(r, v, o, nw, cnt && cnt->t == JV_INT ? cnt->u.i : -1, out);
		}
		break;
	case JV_INT: case JV_FLOAT:
		if (!strcmp(name, "abs")) {
			*out = v->t == JV_INT ? mk_int(v->u.i < 0 ? -v->u.i : v->u.i) : mk_float(fabs(v->u.f));
			return LM_OK;
		}
		if (!strcmp(name, "int") || !strcmp(name, "float"))
			return to_number(r, v, name[0] == 'i', NULL, out);
		if (!strcmp(name, "string"))
			return stringify(r, f, v, out);
		break;
	case JV_BOOL:
		if (!strcmp(name, "bool")) {
			*out = *v;
			return LM_OK;
		}
		if (!strcmp(name, "int") || !strcmp(name, "float"))
			return to_number(r, v, name[0] == 'i', NULL, out);
		if (!strcmp(name, "string"))
			return stringify(r, f, v, out);
		break;
	case JV_OBJECT:
		if (!strcmp(name, "length") || !strcmp(name, "count")) {
			*out = mk_int((int64_t)v->u.o->n);
			return LM_OK;
		}
		if (!strcmp(name, "items"))
			return call_method(r, f, v, "items", &a, out);
		break;
	default:
		break;
	}
	return rfail(r, f, "filter '%s' cannot be applied to a %s", name, type_name(v));
}

/* ---- expressions */

static int eval(struct render *r, struct scope *sc, const struct node *n, struct jv *out)
{
	int rc;
	switch (n->kind) {
	case E_INT: *out = mk_int(n->i); return LM_OK;
	case E_FLOAT: *out = mk_float(n->f); return LM_OK;
	case E_STR: *out = mk_str(n->s, n->slen); return LM_OK;
	case E_IDENT: {
		struct jv *v = scope_find(sc, n->s);
		*out = v ? *v : UNDEF;
		return LM_OK;
	}
	case E_LIST: case E_TUPLE: {
		struct jarr *a = arr_new(r, n->kids.n + 1);
		if (!a)
			return ROOM(r);
		for (size_t i = 0; i < n->kids.n; i++)
			if ((rc = eval(r, sc, n->kids.v[i], &a->v[a->n++])))
				return rc;
		out->t = JV_ARRAY;
		out->u.a = a;
		return LM_OK;
	}
	case E_DICT: {
		struct jobj *o = obj_new(r);
		if (!o)
			return ROOM(r);
		for (size_t i = 0; i < n->kids.n; i++) {
			struct jv k, v;
			if ((rc = eval(r, sc, n->kids.v[i], &k)))
				return rc;
			if (k.t != JV_STR)
				return rfail(r, n->kids.v[i], "dict keys must be strings, got %s",
					     type_name(&k));
			if ((rc = eval(r, sc, n->kids2.v[i], &v)))
				return rc;
			const char *key = adup(r->ar, k.u.s.p, k.u.s.n);
			if (!key || obj_set(r, o, key, v))
				return ROOM(r);
		}
		out->t = JV_OBJECT;
		out->u.o = o;
		return LM_OK;
	}
	case E_MEMBER: {
		struct jv obj;
		if ((rc = eval(r, sc, n->a, &obj)))
			return rc;
		struct jv key = mk_str(n->s, n->slen);
		return get_member(r, n, &obj, &key, out);
	}
	case E_INDEX: {
		struct jv obj, key;
		if ((rc = eval(r, sc, n->a, &obj)) || (rc = eval(r, sc, n->b, &key)))
			return rc;
		return get_member(r, n, &obj, &key, out);
	}
	case E_SLICE:
		return eval_slice(r, sc, n, out);
	case E_CALL:
		return eval_call(r, sc, n, out);
	case E_UNARY: {
		struct jv v;
		if ((rc = eval(r, sc, n->a, &v)))
			return rc;
		if (n->op == OP_NOT) {
			*out = mk_bool(!truthy(&v));
			return LM_OK;
		}
		int neg = n->op == OP_SUB;
		if (v.t == JV_INT || v.t == JV_BOOL) {
			int64_t x = v.t == JV_INT ? v.u.i : v.u.b;
			*out = mk_int(neg ? (int64_t)(0 - (uint64_t)x) : x);
		} else if (v.t == JV_FLOAT) {
			*out = mk_float(neg ? -v.u.f : v.u.f);
		} else {
			return rfail(r, n, "unary '%c' is not defined for a %s", neg ? '-' : '+',
				     type_name(&v));
		}
		return LM_OK;
	}
	case E_BIN:
		return eval_binary(r, sc, n, out);
	case E_FILTER: {
		struct jv v;
		if ((rc = eval(r, sc, n->a, &v)))
			return rc;
		return apply_filter(r, sc, n, &v, out);
	}
	case E_TEST: {
		struct jv v;
		int res;
		if ((rc = eval(r, sc, n->a, &v)) || (rc = run_test(r, n, n->s, &v, NULL, &res)))
			return rc;
		*out = mk_bool(res != n->flag);
		return LM_OK;
	}
	case E_TERNARY: {
		struct jv c;
		if ((rc = eval(r, sc, n->a, &c)))
			return rc;
		return eval(r, sc, truthy(&c) ? n->b : n->c, out);
	}
	case E_SELECT: {
		struct jv c;
		if ((rc = eval(r, sc, n->b, &c)))
			return rc;
		if (!truthy(&c)) {
			*out = UNDEF;
			return LM_OK;
		}
		return eval(r, sc, n->a, out);
	}
	default:
		return rfail(r, n, "keyword argument outside a call");
	}
}

/* ---- statements */

static int assign(struct render *r, struct scope *sc, const struct node *target,
		  const struct jv *v)
{
	int rc;
	if (target->kind == E_IDENT)
		return scope_set(r, sc, target->s, *v);
	if (target->kind == E_TUPLE) {
		if (v->t != JV_ARRAY)
			return rfail(r, target, "cannot unpack a %s", type_name(v));
		if (v->u.a->n != target->kids.n)
			return rfail(r, target, "too %s values to unpack (expected %zu, got %zu)",
				     v->u.a->n < target->kids.n ? "few" : "many", target->kids.n,
				     v->u.a->n);
		for (size_t i = 0; i < target->kids.n; i++)
			if ((rc = scope_set(r, sc, target->kids.v[i]->s, v->u.a->v[i])))
				return rc;
		return LM_OK;
	}
	struct jv obj;
	if ((rc = eval(r, sc, target->a, &obj)))
		return rc;
	if (obj.t != JV_NS)
		return rfail(r, target, "cannot set an attribute of a %s (only of a namespace)",
			     type_name(&obj));
	return obj_set(r, obj.u.o, target->s, *v) ? ROOM(r) : LM_OK;
}

static int exec_for(struct render *r, struct scope *sc, const struct node *n, struct sbuf *b)
{
	struct scope fs = { .parent = sc };
	const struct node *it = n->b, *cond = NULL;
	struct jv seq;
	int rc;
	if (it->kind == E_SELECT) {
		cond = it->b;
		it = it->a;
	}
	if ((rc = eval(r, &fs, it, &seq)))
		return rc;
	if (seq.t == JV_OBJECT) {
		struct args none = { 0 };
		if ((rc = call_method(r, n, &seq, "keys", &none, &seq)))
			return rc;
	}
	if (seq.t != JV_ARRAY)
		return rfail(r, n->b, "cannot iterate over a %s", type_name(&seq));
	const struct jarr *src = seq.u.a;
	struct jarr *items = arr_new(r, src->n + 1);
	if (!items)
		return ROOM(r);
	for (size_t i = 0; i < src->n; i++) {
		if (cond) {
			struct scope ts = { .parent = &fs };
			struct jv c;
			if ((rc = assign(r, &ts, n->a, &src->v[i])) || (rc = eval(r, &ts, cond, &c)))
				return rc;
			if (!truthy(&c))
				continue;
		}
		items->v[items->n++] = src->v[i];
	}
	int ran = 0;
	for (size_t i = 0; i < items->n; i++) {
		struct jobj *loop = obj_new(r);
		int64_t len = (int64_t)items->n, k = (int64_t)i;
		if (!loop)
			return ROOM(r);
		struct jv lv = { .t = JV_OBJECT };
		lv.u.o = loop;
		if (obj_set(r, loop, "index", mk_int(k + 1)) || obj_set(r, loop, "index0", mk_int(k)) ||
		    obj_set(r, loop, "revindex", mk_int(len - k)) ||
		    obj_set(r, loop, "revindex0", mk_int(len - k - 1)) ||
		    obj_set(r, loop, "first", mk_bool(i == 0)) ||
		    obj_set(r, loop, "last", mk_bool(k == len - 1)) ||
		    obj_set(r, loop, "length", mk_int(len)) ||
		    obj_set(r, loop, "previtem", i > 0 ? items->v[i - 1] : UNDEF) ||
		    obj_set(r, loop, "nextitem", k < len - 1 ? items->v[i + 1] : UNDEF))
			return ROOM(r);
		if ((rc = scope_set(r, &fs, "loop", lv)) || (rc = assign(r, &fs, n->a, &items->v[i])))
			return rc;
		if ((rc = exec_block(r, &fs, &n->kids, b)))
			return rc;
		int ctl = r->ctl;
		r->ctl = CTL_NONE;
		if (ctl == CTL_CONTINUE)
			continue;
		if (ctl == CTL_BREAK)
			break;
		ran = 1;
	}
	/* as the reference: the else block runs when no iteration completed */
	if (!ran)
		return exec_block(r, &fs, &n->kids2, b);
	return LM_OK;
}

static int exec_stmt(struct render *r, struct scope *sc, const struct node *n, struct sbuf *b)
{
	int rc;
	switch (n->kind) {
	case N_TEXT:
		return sb_add(b, n->s, n->slen) ? ROOM(r) : LM_OK;
	case N_OUTPUT: {
		struct jv v, s;
		if ((rc = eval(r, sc, n->a, &v)))
			return rc;
		if (v.t == JV_UNDEF || v.t == JV_NONE)
			return LM_OK;
		if ((rc = stringify(r, n->a, &v, &s)))
			return rc;
		return sb_add(b, s.u.s.p, s.u.s.n) ? ROOM(r) : LM_OK;
	}
	case N_IF: {
		struct jv c;
		if ((rc = eval(r, sc, n->a, &c)))
			return rc;
		return exec_block(r, sc, truthy(&c) ? &n->kids : &n->kids2, b);
	}
	case N_FOR:
		return exec_for(r, sc, n, b);
	case N_SET: {
		struct jv v;
		if (n->b) {
			if ((rc = eval(r, sc, n->b, &v)))
				return rc;
		} else {
			struct sbuf tmp = { 0 };
			if ((rc = exec_block(r, sc, &n->kids, &tmp))) {
				free(tmp.p);
				return rc;
			}
			if ((rc = sb_to_str(r, &tmp, &v)))
				return rc;
		}
		return assign(r, sc, n->a, &v);
	}
	case N_MACRO: {
		struct jv f = { .t = JV_FUNC };
		f.u.fn.macro = n;
		f.u.fn.id = FN_MACRO;
		return scope_set(r, sc, n->s, f);
	}
	case N_BREAK:
		r->ctl = CTL_BREAK;
		return LM_OK;
	case N_CONTINUE:
		r->ctl = CTL_CONTINUE;
		return LM_OK;
	default:
		return LM_OK;
	}
}

static int exec_block(struct render *r, struct scope *sc, const struct nlist *body,
		      struct sbuf *b)
{
	for (size_t i = 0; i < body->n && r->ctl == CTL_NONE; i++) {
		int rc = exec_stmt(r, sc, body->v[i], b);
		if (rc)
			return rc;
	}
	return LM_OK;
}

int jinja_render(const struct jinja_template *t, const struct json_value *vars, char **out,
		 size_t *out_len, struct lm_error *err)
{
	struct render r = { .t = t, .err = err };
	struct scope globals = { 0 };
	struct sbuf b = { 0 };
	int rc = LM_OK;
	*out = NULL;
	if (!(r.ar = arena_new(256 << 10))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	static const struct { const char *name; enum builtin_fn id; } fns[] = {
		{ "range", FN_RANGE }, { "namespace", FN_NAMESPACE },
		{ "raise_exception", FN_RAISE }, { "strftime_now", FN_STRFTIME },
	};
	for (size_t i = 0; i < sizeof fns / sizeof fns[0] && !rc; i++) {
		struct jv f = { .t = JV_FUNC };
		f.u.fn.id = fns[i].id;
		rc = scope_set(&r, &globals, fns[i].name, f);
	}
	static const char *const consts[] = { "true", "false", "none", "True", "False", "None" };
	for (size_t i = 0; i < 6 && !rc; i++) {
		struct jv c = i % 3 == 2 ? (struct jv){ .t = JV_NONE } : mk_bool(i % 3 == 0);
		rc = scope_set(&r, &globals, consts[i], c);
	}
	if (rc)
		goto out;
	if (vars && json_type(vars) != JSON_OBJECT) {
		rc = lm_fail(err, LM_EINVAL, "template variables must be a JSON object");
		goto out;
	}
	for (size_t i = 0; vars && i < json_object_len(vars); i++) {
		struct jv v;
		if ((rc = from_json(&r, json_object_value(vars, i), &v)) ||
		    (rc = scope_set(&r, &globals, json_object_key(vars, i), v)))
			goto out;
	}
	if ((rc = exec_block(&r, &globals, &t->body, &b)))
		goto out;
	if (!b.p && sb_add(&b, "", 0)) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	*out = b.p;
	if (out_len)
		*out_len = b.n;
	b.p = NULL;
out:
	free(b.p);
	arena_free(r.ar);
	return rc;
}

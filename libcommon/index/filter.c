#include "index/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the compiled form ---- */

enum fvalue_type { FV_NULL, FV_BOOL, FV_NUMBER, FV_STRING };

struct fvalue {
	enum fvalue_type type;
	int b;
	double num;
	char *str;
	size_t len;
};

enum finsn_op {
	OP_CMP,     /* field CMP value */
	OP_SET,     /* field in [values val .. val+nval) */
	OP_RANGE,   /* field in values[val] .. values[val+1] */
	OP_HAS,     /* field exists */
	OP_AND,
	OP_OR,
	OP_NOT,
};

enum fcmp { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

struct finsn {
	uint8_t op, cmp;
	uint32_t field, val, nval;
};

struct ffield {
	char *name;                 /* as first written, for messages */
	char **seg;                 /* path inside meta */
	size_t nseg;
	int seen;                   /* some document had it */
};

struct filter {
	struct finsn *insn;
	size_t ninsn, insn_cap;
	struct fvalue *val;
	size_t nval, val_cap;
	struct ffield *field;
	size_t nfield, field_cap;
	const struct json_value **cur;  /* per field, for the document at hand */
	unsigned char *stack;
	size_t stack_max;
	uint64_t docs;                  /* documents matched so far */
	struct json_doc *scratch;       /* meta text parsed here */
};

/* ---- lexer ---- */

enum tok_kind {
	T_END, T_NAME, T_STRING, T_NUMBER, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK,
	T_COMMA, T_DOTDOT, T_CMP, T_NE, T_AND, T_OR, T_NOT, T_IN, T_HAS, T_TRUE,
	T_FALSE, T_NULL, T_BAD,
};

struct token {
	enum tok_kind kind;
	size_t pos, len;
	enum fcmp cmp;
};

struct parser {
	const char *s;
	size_t n, pos;
	struct token tok;
	struct filter *f;
	int depth;
	size_t sp;                      /* stack depth while emitting */
	struct lm_error *err;
};

static int is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const struct { const char *word; enum tok_kind kind; } keywords[] = {
	{ "and", T_AND }, { "or", T_OR }, { "not", T_NOT }, { "in", T_IN },
	{ "has", T_HAS }, { "true", T_TRUE }, { "false", T_FALSE }, { "null", T_NULL },
};

static void lex(struct parser *p)
{
	const char *s = p->s;
	size_t i = p->pos, n = p->n, k;
	struct token *t = &p->tok;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	t->pos = i;
	t->len = 1;
	if (i >= n) {
		t->kind = T_END;
		t->len = 0;
		p->pos = i;
		return;
	}
	switch (s[i]) {
	case '(': t->kind = T_LPAREN; break;
	case ')': t->kind = T_RPAREN; break;
	case '[': t->kind = T_LBRACK; break;
	case ']': t->kind = T_RBRACK; break;
	case ',': t->kind = T_COMMA; break;
	case '=':
		t->kind = T_CMP;
		t->cmp = CMP_EQ;
		if (i + 1 < n && s[i + 1] == '=')
			t->len = 2;
		break;
	case '!':
		t->kind = T_BAD;
		if (i + 1 < n && s[i + 1] == '=') {
			t->kind = T_NE;
			t->len = 2;
		}
		break;
	case '<':
	case '>':
		t->kind = T_CMP;
		t->cmp = s[i] == '<' ? CMP_LT : CMP_GT;
		if (i + 1 < n && s[i + 1] == '=') {
			t->cmp = s[i] == '<' ? CMP_LE : CMP_GE;
			t->len = 2;
		}
		break;
	case '.':
		t->kind = T_BAD;
		if (i + 1 < n && s[i + 1] == '.') {
			t->kind = T_DOTDOT;
			t->len = 2;
		}
		break;
	case '"':
	case '\'':
		t->kind = T_STRING;
		for (k = i + 1; k < n && s[k] != s[i]; k++)
			if (s[i] == '"' && s[k] == '\\' && k + 1 < n)
				k++;
		if (k >= n)
			t->kind = T_BAD;  /* unterminated: reported by the parser */
		t->len = (k < n ? k + 1 : n) - i;
		break;
	default:
		if (is_digit(s[i]) || (s[i] == '-' && i + 1 < n && is_digit(s[i + 1]))) {
			/* JSON number syntax; "2010..2020" stops before the "..". */
			k = i + 1;
			while (k < n && is_digit(s[k]))
				k++;
			if (k + 1 < n && s[k] == '.' && is_digit(s[k + 1]))
				for (k++; k < n && is_digit(s[k]); k++)
					;
			if (k < n && (s[k] == 'e' || s[k] == 'E')) {
				size_t e = k + 1;

				if (e < n && (s[e] == '+' || s[e] == '-'))
					e++;
				if (e < n && is_digit(s[e])) {
					while (e < n && is_digit(s[e]))
						e++;
					k = e;
				}
			}
			t->kind = T_NUMBER;
			t->len = k - i;
		} else if (is_name_start(s[i])) {
			k = i + 1;
			for (;;) {
				while (k < n && is_name_char(s[k]))
					k++;
				if (k + 1 < n && s[k] == '.' && is_name_start(s[k + 1]))
					k++;
				else
					break;
			}
			t->kind = T_NAME;
			t->len = k - i;
			for (size_t w = 0; w < sizeof keywords / sizeof *keywords; w++)
				if (strlen(keywords[w].word) == t->len &&
				    !memcmp(keywords[w].word, s + i, t->len))
					t->kind = keywords[w].kind;
		} else {
			t->kind = T_BAD;
			/* a whole UTF-8 sequence, so the message shows a character */
			while (i + t->len < n && ((unsigned char)s[i + t->len] & 0xc0) == 0x80)
				t->len++;
		}
	}
	p->pos = i + t->len;
}

/* "'year'", "end of expression" */
static const char *tok_desc(const struct parser *p, char *buf, size_t size)
{
	if (p->tok.kind == T_END)
		return "end of expression";
	if (p->tok.len > 24)
		snprintf(buf, size, "'%.21s...'", p->s + p->tok.pos);
	else
		snprintf(buf, size, "'%.*s'", (int)p->tok.len, p->s + p->tok.pos);
	return buf;
}

static int syntax(struct parser *p, const char *what)
{
	char buf[40];
	char q = p->s[p->tok.pos];

	if (p->tok.kind == T_BAD && (q == '"' || q == '\''))
		return lm_fail(p->err, LM_EINVAL, "unterminated string at column %zu",
			       p->tok.pos + 1);
	return lm_fail(p->err, LM_EINVAL, "expected %s, found %s at column %zu", what,
		       tok_desc(p, buf, sizeof buf), p->tok.pos + 1);
}

/* ---- building the program ---- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	void *q;
	size_t c;

	if (need <= *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	while (c < need)
		c *= 2;
	if (!(q = realloc(*arr, c * elem)))
		return LM_ENOMEM;
	*arr = q;
	*cap = c;
	return 0;
}

static int emit(struct parser *p, enum finsn_op op, enum fcmp cmp, uint32_t field, uint32_t val,
		uint32_t nval)
{
	struct filter *f = p->f;
	struct finsn *in;

	if (grow((void **)&f->insn, &f->insn_cap, f->ninsn + 1, sizeof *f->insn))
		return lm_fail(p->err, LM_ENOMEM, "out of memory");
	in = &f->insn[f->ninsn++];
	in->op = (uint8_t)op;
	in->cmp = (uint8_t)cmp;
	in->field = field;
	in->val = val;
	in->nval = nval;
	if (op == OP_AND || op == OP_OR)
		p->sp--;
	else if (op != OP_NOT && ++p->sp > f->stack_max)
		f->stack_max = p->sp;
	return 0;
}

/* The field named by the current T_NAME token, registered once per path. */
static int add_field(struct parser *p, uint32_t *id)
{
	struct filter *f = p->f;
	const char *s = p->s + p->tok.pos, *end = s + p->tok.len, *dot;
	struct ffield nf = { 0 };
	size_t i, j;
	int rc = LM_ENOMEM;

	/* "meta.x" and "x" are the same field; a bare "meta" is a key */
	if (p->tok.len > 5 && !memcmp(s, "meta.", 5))
		s += 5;
	for (const char *c = s; c <= end; c = dot + 1) {
		dot = memchr(c, '.', (size_t)(end - c));
		if (!dot)
			dot = end;
		nf.nseg++;
	}
	if (!(nf.name = strndup(p->s + p->tok.pos, p->tok.len)) ||
	    !(nf.seg = calloc(nf.nseg, sizeof *nf.seg)))
		goto fail;
	for (i = 0; s <= end; s = dot + 1, i++) {
		dot = memchr(s, '.', (size_t)(end - s));
		if (!dot)
			dot = end;
		if (!(nf.seg[i] = strndup(s, (size_t)(dot - s))))
			goto fail;
	}
	for (i = 0; i < f->nfield; i++) {
		if (f->field[i].nseg != nf.nseg)
			continue;
		for (j = 0; j < nf.nseg && !strcmp(f->field[i].seg[j], nf.seg[j]); j++)
			;
		if (j == nf.nseg) {
			*id = (uint32_t)i;
			rc = 0;
			goto fail;  /* already known: drop the copy */
		}
	}
	if (grow((void **)&f->field, &f->field_cap, f->nfield + 1, sizeof *f->field))
		goto fail;
	*id = (uint32_t)f->nfield;
	f->field[f->nfield++] = nf;
	return 0;
fail:
	for (i = 0; nf.seg && i < nf.nseg; i++)
		free(nf.seg[i]);
	free(nf.seg);
	free(nf.name);
	if (rc)
		return lm_fail(p->err, rc, "out of memory");
	return 0;
}

/* value = string | number | true | false | null; appended to f->val. */
static int parse_value(struct parser *p, const char *after)
{
	struct filter *f = p->f;
	struct fvalue v = { 0 };
	const char *s = p->s + p->tok.pos;
	char what[64];

	switch (p->tok.kind) {
	case T_NUMBER:
		v.type = FV_NUMBER;
		if (json_parse_double(s, p->tok.len, &v.num))
			return lm_fail(p->err, LM_EINVAL, "invalid number '%.*s' at column %zu",
				       (int)p->tok.len, s, p->tok.pos + 1);
		break;
	case T_STRING:
		v.type = FV_STRING;
		if (*s == '\'') {
			v.len = p->tok.len - 2;
			v.str = strndup(s + 1, v.len);
		} else {
			struct json_value *jv;
			struct lm_error jerr;
			size_t off = 0;
			const char *js;

			json_doc_reset(f->scratch);
			if (json_parse_at(f->scratch, s, p->tok.len, &jv, &off, &jerr))
				return lm_fail(p->err, LM_EINVAL, "invalid string: %s at column %zu",
					       jerr.msg, p->tok.pos + off + 1);
			js = json_string(jv, &v.len);
			v.str = malloc(v.len + 1);
			if (v.str)
				memcpy(v.str, js, v.len + 1);
		}
		if (!v.str)
			return lm_fail(p->err, LM_ENOMEM, "out of memory");
		break;
	case T_TRUE:
	case T_FALSE:
		v.type = FV_BOOL;
		v.b = p->tok.kind == T_TRUE;
		break;
	case T_NULL:
		v.type = FV_NULL;
		break;
	default:
		snprintf(what, sizeof what, "a value (string, number, true, false, null) %s", after);
		return syntax(p, what);
	}
	if (grow((void **)&f->val, &f->val_cap, f->nval + 1, sizeof *f->val)) {
		free(v.str);
		return lm_fail(p->err, LM_ENOMEM, "out of memory");
	}
	f->val[f->nval++] = v;
	lex(p);
	return 0;
}

static int parse_or(struct parser *p);

/* field ["not"] "in" (range | set), the field and "in" consumed already. */
static int parse_in(struct parser *p, uint32_t field)
{
	uint32_t first = (uint32_t)p->f->nval, n = 0;
	int rc;

	if (p->tok.kind == T_LBRACK) {
		lex(p);
		for (;;) {
			if ((rc = parse_value(p, n ? "after ','" : "after '['")))
				return rc;
			n++;
			if (p->tok.kind == T_RBRACK)
				break;
			if (p->tok.kind != T_COMMA)
				return syntax(p, "',' or ']' in the set");
			lex(p);
		}
		lex(p);
		return emit(p, OP_SET, CMP_EQ, field, first, n);
	}
	if (p->tok.kind != T_NUMBER && p->tok.kind != T_STRING)
		return syntax(p, "a range (LOW..HIGH) or a set ([A, B, ...]) after 'in'");
	if ((rc = parse_value(p, "")))
		return rc;
	if (p->tok.kind != T_DOTDOT)
		return syntax(p, "'..' in the range");
	lex(p);
	if (p->tok.kind != T_NUMBER && p->tok.kind != T_STRING)
		return syntax(p, "the end of the range after '..'");
	if ((rc = parse_value(p, "")))
		return rc;
	if (p->f->val[first].type != p->f->val[first + 1].type)
		return lm_fail(p->err, LM_EINVAL,
			       "a range needs two numbers or two strings at column %zu",
			       p->tok.pos + 1);
	return emit(p, OP_RANGE, CMP_EQ, field, first, 2);
}

static int parse_test(struct parser *p)
{
	uint32_t field;
	size_t name_pos = p->tok.pos, name_len = p->tok.len;
	char what[96];
	int rc, negate = 0;

	if (p->tok.kind != T_NAME)
		return syntax(p, "a field name, 'not', 'has' or '('");
	if ((rc = add_field(p, &field)))
		return rc;
	lex(p);
	if (p->tok.kind == T_NOT) {
		negate = 1;
		lex(p);
		if (p->tok.kind != T_IN)
			return syntax(p, "'in' after 'not'");
	}
	if (p->tok.kind == T_IN) {
		lex(p);
		if ((rc = parse_in(p, field)))
			return rc;
		return negate ? emit(p, OP_NOT, CMP_EQ, 0, 0, 0) : 0;
	}
	if (p->tok.kind == T_CMP || p->tok.kind == T_NE) {
		int ne = p->tok.kind == T_NE;
		enum fcmp cmp = ne ? CMP_EQ : p->tok.cmp;
		char op[4];

		snprintf(op, sizeof op, "%.*s", (int)p->tok.len, p->s + p->tok.pos);
		lex(p);
		snprintf(what, sizeof what, "after '%s'", op);
		if ((rc = parse_value(p, what)) ||
		    (rc = emit(p, OP_CMP, cmp, field, (uint32_t)p->f->nval - 1, 1)))
			return rc;
		return ne ? emit(p, OP_NOT, CMP_EQ, 0, 0, 0) : 0;
	}
	snprintf(what, sizeof what, "a comparison (=, !=, <, <=, >, >=, in) after '%.*s'",
		 name_len > 40 ? 40 : (int)name_len, p->s + name_pos);
	return syntax(p, what);
}

static int parse_unary(struct parser *p)
{
	int rc;

	if (++p->depth > FILTER_MAX_DEPTH)
		return lm_fail(p->err, LM_EINVAL, "expression nested deeper than %d at column %zu",
			       FILTER_MAX_DEPTH, p->tok.pos + 1);
	switch (p->tok.kind) {
	case T_NOT:
		lex(p);
		if (!(rc = parse_unary(p)))
			rc = emit(p, OP_NOT, CMP_EQ, 0, 0, 0);
		break;
	case T_LPAREN:
		lex(p);
		if ((rc = parse_or(p)))
			break;
		if (p->tok.kind != T_RPAREN) {
			rc = syntax(p, "')'");
			break;
		}
		lex(p);
		break;
	case T_HAS: {
		uint32_t field;

		lex(p);
		if (p->tok.kind != T_NAME) {
			rc = syntax(p, "a field name after 'has'");
			break;
		}
		if (!(rc = add_field(p, &field))) {
			lex(p);
			rc = emit(p, OP_HAS, CMP_EQ, field, 0, 0);
		}
		break;
	}
	default:
		rc = parse_test(p);
	}
	p->depth--;
	return rc;
}

static int parse_and(struct parser *p)
{
	int rc = parse_unary(p);

	while (!rc && p->tok.kind == T_AND) {
		lex(p);
		if (!(rc = parse_unary(p)))
			rc = emit(p, OP_AND, CMP_EQ, 0, 0, 0);
	}
	return rc;
}

static int parse_or(struct parser *p)
{
	int rc = parse_and(p);

	while (!rc && p->tok.kind == T_OR) {
		lex(p);
		if (!(rc = parse_and(p)))
			rc = emit(p, OP_OR, CMP_EQ, 0, 0, 0);
	}
	return rc;
}

void filter_free(struct filter *f)
{
	size_t i, j;

	if (!f)
		return;
	for (i = 0; i < f->nval; i++)
		free(f->val[i].str);
	for (i = 0; i < f->nfield; i++) {
		for (j = 0; j < f->field[i].nseg; j++)
			free(f->field[i].seg[j]);
		free(f->field[i].seg);
		free(f->field[i].name);
	}
	json_doc_free(f->scratch);
	free(f->val);
	free(f->field);
	free(f->insn);
	free(f->cur);
	free(f->stack);
	free(f);
}

int filter_compile(const char *expr, struct filter **out, struct lm_error *err)
{
	struct parser p = { 0 };
	struct filter *f;
	int rc;

	*out = NULL;
	p.n = strlen(expr);
	if (p.n > FILTER_MAX_LEN)
		return lm_fail(err, LM_EINVAL, "filter expression longer than %d bytes",
			       FILTER_MAX_LEN);
	if (!(f = calloc(1, sizeof *f)) || !(f->scratch = json_doc_new())) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	p.s = expr;
	p.f = f;
	p.err = err;
	lex(&p);
	if (p.tok.kind == T_END) {
		rc = lm_fail(err, LM_EINVAL, "empty filter expression");
		goto out;
	}
	if ((rc = parse_or(&p)))
		goto out;
	if (p.tok.kind != T_END) {
		rc = syntax(&p, "'and', 'or' or the end of the expression");
		goto out;
	}
	f->cur = calloc(f->nfield, sizeof *f->cur);
	f->stack = malloc(f->stack_max);
	if (!f->cur || !f->stack) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	*out = f;
	f = NULL;
out:
	filter_free(f);
	return rc;
}

/* ---- evaluation ---- */

static int cmp_str(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return (alen > blen) - (alen < blen);
}

/* Order of document value V against constant C: -1, 0, 1; 2 when they are
 * of different types (no relation). */
static int order(const struct json_value *v, const struct fvalue *c)
{
	const char *s;
	size_t len;
	double d;

	switch (json_type(v)) {
	case JSON_NUMBER:
		if (c->type != FV_NUMBER)
			return 2;
		d = json_number_double(v);
		return (d > c->num) - (d < c->num);
	case JSON_STRING:
		if (c->type != FV_STRING)
			return 2;
		s = json_string(v, &len);
		d = cmp_str(s, len, c->str, c->len);
		return (d > 0) - (d < 0);
	case JSON_BOOL:
		return c->type == FV_BOOL && !json_bool(v) == !c->b ? 0 : 2;
	case JSON_NULL:
		return c->type == FV_NULL ? 0 : 2;
	default:
		return 2;
	}
}

static int is_orderable(const struct json_value *v)
{
	return json_type(v) == JSON_NUMBER || json_type(v) == JSON_STRING;
}

static int test_scalar(const struct filter *f, const struct finsn *in, const struct json_value *v)
{
	const struct fvalue *c = &f->val[in->val];
	uint32_t i;
	int o;

	switch (in->op) {
	case OP_CMP:
		o = order(v, c);
		if (o == 2)
			return 0;
		if (in->cmp != CMP_EQ && !is_orderable(v))
			return 0;
		switch (in->cmp) {
		case CMP_EQ: return o == 0;
		case CMP_LT: return o < 0;
		case CMP_LE: return o <= 0;
		case CMP_GT: return o > 0;
		default: return o >= 0;
		}
	case OP_SET:
		for (i = 0; i < in->nval; i++)
			if (order(v, &c[i]) == 0)
				return 1;
		return 0;
	case OP_RANGE:
		if (!is_orderable(v))
			return 0;
		o = order(v, &c[0]);
		if (o == 2 || o < 0)
			return 0;
		o = order(v, &c[1]);
		return o != 2 && o <= 0;
	}
	return 0;
}

static int test(const struct filter *f, const struct finsn *in)
{
	const struct json_value *v = f->cur[in->field];
	size_t i, n;

	if (!v)
		return 0;
	if (in->op == OP_HAS)
		return 1;
	if (json_type(v) != JSON_ARRAY)
		return test_scalar(f, in, v);
	/* an array field passes when one of its elements does */
	n = json_array_len(v);
	for (i = 0; i < n; i++)
		if (test_scalar(f, in, json_array_get(v, i)))
			return 1;
	return 0;
}

int filter_match(struct filter *f, const struct json_value *meta)
{
	size_t i, j, sp = 0;

	f->docs++;
	for (i = 0; i < f->nfield; i++) {
		const struct json_value *v = json_type(meta) == JSON_OBJECT ? meta : NULL;

		for (j = 0; j < f->field[i].nseg && v; j++)
			v = json_get(v, f->field[i].seg[j]);
		f->cur[i] = v;
		if (v)
			f->field[i].seen = 1;
	}
	for (i = 0; i < f->ninsn; i++) {
		const struct finsn *in = &f->insn[i];

		switch (in->op) {
		case OP_AND:
			sp--;
			f->stack[sp - 1] &= f->stack[sp];
			break;
		case OP_OR:
			sp--;
			f->stack[sp - 1] |= f->stack[sp];
			break;
		case OP_NOT:
			f->stack[sp - 1] ^= 1;
			break;
		default:
			f->stack[sp++] = (unsigned char)test(f, in);
		}
	}
	return f->stack[0];
}

int filter_match_text(struct filter *f, const char *meta, size_t len, struct lm_error *err)
{
	struct json_value *v;
	struct lm_error jerr;
	size_t off = 0;

	if (!len)
		return filter_match(f, NULL);
	json_doc_reset(f->scratch);
	if (json_parse_at(f->scratch, meta, len, &v, &off, &jerr))
		return lm_fail(err, LM_EFORMAT, "meta is not valid JSON: %s at byte %zu", jerr.msg,
			       off + 1);
	if (json_type(v) != JSON_OBJECT)
		return lm_fail(err, LM_EFORMAT, "meta is a JSON %s, not an object",
			       json_type_name(json_type(v)));
	return filter_match(f, v);
}

const char *filter_unknown_field(const struct filter *f)
{
	size_t i;

	if (!f->docs)
		return NULL;
	for (i = 0; i < f->nfield; i++)
		if (!f->field[i].seen)
			return f->field[i].name;
	return NULL;
}

int filter_bitmap_init(struct filter_bitmap *b, uint32_t n)
{
	b->n = n;
	b->count = 0;
	b->words = calloc(((size_t)n + 63) / 64 + 1, sizeof *b->words);
	return b->words ? 0 : LM_ENOMEM;
}

void filter_bitmap_free(struct filter_bitmap *b)
{
	free(b->words);
	b->words = NULL;
	b->n = b->count = 0;
}

int filter_bitmap_accept(uint32_t doc, void *arg)
{
	return filter_bitmap_test(arg, doc);
}

/* grammar.c - GBNF parser, stack-set matcher and vocabulary trie (grammar.h).
 *
 * Compiled form: every rule is a list of alternatives, each a sequence of
 * symbols ended by SYM_END; a symbol is a character class or a reference to
 * a rule.  Groups and repetitions become generated rules (X* is
 * R ::= X R | "", X{m,n} is m copies of X and n - m nested optionals), so
 * the matcher only ever sees classes, references and ends.  A stack holds
 * symbol positions, bottom first: the top is what to match next, the
 * entries below it where to continue when the rule above ends. */
#include "model/grammar.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

enum { SYM_END, SYM_CLASS, SYM_REF };

/* Expansion steps one advance may take: ambiguous grammars (nested
 * optionals of terms that match "") can have exponentially many paths. */
enum { EXPAND_BUDGET = 1 << 15 };

struct gsym {
	uint32_t kind;
	uint32_t arg;               /* class or rule index */
};

struct grange {
	uint32_t lo, hi;
};

struct gclass {
	uint32_t first, n;          /* ranges, sorted and merged */
	int negate;
	uint32_t ascii[4];          /* membership of U+0000..U+007F, negation applied */
};

struct grule {
	char *name;
	size_t off;                 /* source offset: where defined (or first referenced) */
	int defined, generated_star;
	struct gsym *sym;           /* while parsing: the rule's own symbols */
	size_t n_sym, cap_sym;
	uint32_t first_alt, n_alts; /* compiled: into grammar.alt */
};

struct grammar {
	struct gsym *sym;
	size_t n_sym;
	struct grule *rule;
	size_t n_rule;
	uint32_t *alt;              /* alternatives' first symbol positions */
	struct gclass *cls;
	size_t n_cls, cap_cls;
	struct grange *rng;
	size_t n_rng, cap_rng;
	uint32_t root_pos;          /* a symbol REF root followed by END */
};

/* --- parser ---------------------------------------------------------- */

struct parser {
	struct grammar *g;
	size_t cap_rule;
	const char *src, *end, *p;
	const char *name;
	size_t total_sym;
	struct lm_error *err;
};

static void position(const struct parser *ps, const char *at, uint32_t *line, uint32_t *col)
{
	const char *bol = ps->src;

	*line = 1;
	for (const char *c = ps->src; c < at; c++)
		if (*c == '\n') {
			(*line)++;
			bol = c + 1;
		}
	*col = (uint32_t)(at - bol) + 1;
}

__attribute__((format(printf, 3, 4)))
static int fail_at(struct parser *ps, const char *at, const char *fmt, ...)
{
	char msg[400];
	uint32_t line, col;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	position(ps, at, &line, &col);
	return lm_fail(ps->err, LM_EINVAL, "%s:%u:%u: %s", ps->name, line, col, msg);
}

/* The character at AT for a message: 'x', or "end of file". */
static const char *show(const struct parser *ps, const char *at, char buf[16])
{
	if (at >= ps->end)
		return "end of file";
	if (*at == '\n' || *at == '\r')
		return "end of line";
	if ((unsigned char)*at < 0x20 || (unsigned char)*at >= 0x7f)
		snprintf(buf, 16, "byte 0x%02x", (unsigned char)*at);
	else
		snprintf(buf, 16, "'%c'", *at);
	return buf;
}

static int is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Spaces, tabs and comments; line breaks too when NEWLINE_OK. */
static void skip_space(struct parser *ps, int newline_ok)
{
	while (ps->p < ps->end) {
		char c = *ps->p;

		if (c == ' ' || c == '\t') {
			ps->p++;
		} else if (c == '#') {
			while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r')
				ps->p++;
		} else if (newline_ok && (c == '\n' || c == '\r')) {
			ps->p++;
		} else {
			break;
		}
	}
}

static int new_rule(struct parser *ps, const char *name, size_t len, const char *at, uint32_t *idx)
{
	struct grammar *g = ps->g;
	struct grule *r;

	if (g->n_rule == ps->cap_rule) {
		size_t cap = ps->cap_rule ? 2 * ps->cap_rule : 32;
		void *p = realloc(g->rule, cap * sizeof(*g->rule));

		if (!p)
			return lm_fail(ps->err, LM_ENOMEM, "out of memory");
		g->rule = p;
		ps->cap_rule = cap;
	}
	r = &g->rule[g->n_rule];
	memset(r, 0, sizeof(*r));
	if (!(r->name = strndup(name, len)))
		return lm_fail(ps->err, LM_ENOMEM, "out of memory");
	r->off = (size_t)(at - ps->src);
	*idx = (uint32_t)g->n_rule++;
	return LM_OK;
}

/* A generated rule named after PARENT: "parent-N". */
static int gen_rule(struct parser *ps, uint32_t parent, const char *at, uint32_t *idx)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "%.100s-%zu", ps->g->rule[parent].name, ps->g->n_rule);
	int rc = new_rule(ps, buf, (size_t)n, at, idx);

	if (!rc)
		ps->g->rule[*idx].defined = 1;
	return rc;
}

static int find_rule(struct parser *ps, const char *name, size_t len, const char *at, uint32_t *idx)
{
	for (size_t i = 0; i < ps->g->n_rule; i++) {
		const char *n = ps->g->rule[i].name;

		if (strlen(n) == len && !memcmp(n, name, len)) {
			*idx = (uint32_t)i;
			return LM_OK;
		}
	}
	return new_rule(ps, name, len, at, idx);
}

static int push_sym(struct parser *ps, uint32_t rule, uint32_t kind, uint32_t arg, const char *at)
{
	struct grule *r = &ps->g->rule[rule];

	if (++ps->total_sym > GRAMMAR_MAX_SYMBOLS)
		return fail_at(ps, at, "the grammar expands to more than %d symbols", GRAMMAR_MAX_SYMBOLS);
	if (r->n_sym == r->cap_sym) {
		size_t cap = r->cap_sym ? 2 * r->cap_sym : 8;
		void *p = realloc(r->sym, cap * sizeof(*r->sym));

		if (!p)
			return lm_fail(ps->err, LM_ENOMEM, "out of memory");
		r->sym = p;
		r->cap_sym = cap;
	}
	r->sym[r->n_sym++] = (struct gsym){ kind, arg };
	return LM_OK;
}

static int push_range(struct parser *ps, uint32_t lo, uint32_t hi)
{
	struct grammar *g = ps->g;

	if (g->n_rng == g->cap_rng) {
		size_t cap = g->cap_rng ? 2 * g->cap_rng : 64;
		void *p = realloc(g->rng, cap * sizeof(*g->rng));

		if (!p)
			return lm_fail(ps->err, LM_ENOMEM, "out of memory");
		g->rng = p;
		g->cap_rng = cap;
	}
	g->rng[g->n_rng++] = (struct grange){ lo, hi };
	g->cls[g->n_cls - 1].n++;
	return LM_OK;
}

static int open_class(struct parser *ps, int negate)
{
	struct grammar *g = ps->g;

	if (g->n_cls == g->cap_cls) {
		size_t cap = g->cap_cls ? 2 * g->cap_cls : 64;
		void *p = realloc(g->cls, cap * sizeof(*g->cls));

		if (!p)
			return lm_fail(ps->err, LM_ENOMEM, "out of memory");
		g->cls = p;
		g->cap_cls = cap;
	}
	/* an empty class ([^] is "any") still points into rng */
	if (!g->rng) {
		if (!(g->rng = malloc(64 * sizeof(*g->rng))))
			return lm_fail(ps->err, LM_ENOMEM, "out of memory");
		g->cap_rng = 64;
	}
	g->cls[g->n_cls++] = (struct gclass){ .first = (uint32_t)g->n_rng, .negate = negate };
	return LM_OK;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One character of a literal or class at ps->p (an escape or a UTF-8
 * sequence) into *CP. */
static int parse_char(struct parser *ps, uint32_t *cp)
{
	const char *at = ps->p;
	int l, digits = 0;

	if (*at != '\\') {
		l = utf8_decode(at, (size_t)(ps->end - at), cp);
		if (l <= 0)
			return fail_at(ps, at, "invalid UTF-8");
		ps->p += l;
		return LM_OK;
	}
	if (at + 1 >= ps->end)
		return fail_at(ps, at, "unfinished escape at end of file");
	switch (at[1]) {
	case 'n': *cp = '\n'; break;
	case 'r': *cp = '\r'; break;
	case 't': *cp = '\t'; break;
	case '\\': case '"': case '\'': case '[': case ']': case '-': case '^': case '/':
		*cp = (unsigned char)at[1];
		break;
	case 'x': digits = 2; break;
	case 'u': digits = 4; break;
	case 'U': digits = 8; break;
	default:
		return fail_at(ps, at, "unknown escape '\\%c'", at[1]);
	}
	ps->p += 2;
	if (digits) {
		uint64_t v = 0;

		for (int i = 0; i < digits; i++) {
			int h = ps->p < ps->end ? hex_value(*ps->p) : -1;

			if (h < 0)
				return fail_at(ps, at, "'\\%c' needs %d hexadecimal digits", at[1], digits);
			v = v * 16 + (uint64_t)h;
			ps->p++;
		}
		if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return fail_at(ps, at, "U+%llX is not a Unicode scalar value", (unsigned long long)v);
		*cp = (uint32_t)v;
	}
	return LM_OK;
}

static int parse_literal(struct parser *ps, uint32_t rule)
{
	const char *start = ps->p;
	int rc;

	ps->p++;
	while (ps->p < ps->end && *ps->p != '"') {
		uint32_t cp;

		if (*ps->p == '\n' || *ps->p == '\r')
			break;
		if ((rc = parse_char(ps, &cp)) || (rc = open_class(ps, 0)) || (rc = push_range(ps, cp, cp)) ||
		    (rc = push_sym(ps, rule, SYM_CLASS, (uint32_t)ps->g->n_cls - 1, start)))
			return rc;
	}
	if (ps->p >= ps->end || *ps->p != '"')
		return fail_at(ps, start, "unterminated string literal");
	ps->p++;
	return LM_OK;
}

static int parse_class(struct parser *ps, uint32_t rule)
{
	const char *start = ps->p;
	int rc, negate = 0;

	ps->p++;
	if (ps->p < ps->end && *ps->p == '^') {
		negate = 1;
		ps->p++;
	}
	if ((rc = open_class(ps, negate)))
		return rc;
	while (ps->p < ps->end && *ps->p != ']') {
		const char *at = ps->p;
		uint32_t lo, hi;

		if (*ps->p == '\n' || *ps->p == '\r')
			break;
		if ((rc = parse_char(ps, &lo)))
			return rc;
		hi = lo;
		if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']' && ps->p[1] != '\n' &&
		    ps->p[1] != '\r') {
			ps->p++;
			if ((rc = parse_char(ps, &hi)))
				return rc;
			if (hi < lo)
				return fail_at(ps, at, "range U+%04X-U+%04X is empty (reversed)", lo, hi);
		}
		if ((rc = push_range(ps, lo, hi)))
			return rc;
	}
	if (ps->p >= ps->end || *ps->p != ']')
		return fail_at(ps, start, "unterminated character class");
	ps->p++;
	return push_sym(ps, rule, SYM_CLASS, (uint32_t)ps->g->n_cls - 1, start);
}

static int parse_count(struct parser *ps, long *v)
{
	const char *at = ps->p;

	*v = 0;
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		*v = *v * 10 + (*ps->p - '0');
		if (*v > GRAMMAR_MAX_REPEAT)
			return fail_at(ps, at, "repetition count above %d", GRAMMAR_MAX_REPEAT);
		ps->p++;
	}
	return LM_OK;
}

/* Replace the term RULE.sym[START..) by itself repeated MIN to MAX times
 * (MAX < 0: unbounded). */
static int repeat(struct parser *ps, uint32_t rule, size_t start, long min, long max, const char *at)
{
	struct grule *r = &ps->g->rule[rule];
	struct gsym x;
	uint32_t sub, next = 0;
	int rc;

	if (r->n_sym == start)  /* "" repeated is still "" */
		return LM_OK;
	if (r->n_sym - start == 1) {
		x = r->sym[start];
	} else {
		/* a multi-symbol term (a literal) becomes a rule of its own */
		if ((rc = gen_rule(ps, rule, at, &sub)))
			return rc;
		r = &ps->g->rule[rule];
		for (size_t i = start; i < r->n_sym; i++)
			if ((rc = push_sym(ps, sub, r->sym[i].kind, r->sym[i].arg, at)))
				return rc;
		if ((rc = push_sym(ps, sub, SYM_END, 0, at)))
			return rc;
		x = (struct gsym){ SYM_REF, sub };
	}
	ps->g->rule[rule].n_sym = start;
	for (long i = 0; i < min; i++)
		if ((rc = push_sym(ps, rule, x.kind, x.arg, at)))
			return rc;
	if (max < 0) {
		/* R ::= X R | "" */
		if ((rc = gen_rule(ps, rule, at, &sub)))
			return rc;
		ps->g->rule[sub].generated_star = 1;
		if ((rc = push_sym(ps, sub, x.kind, x.arg, at)) || (rc = push_sym(ps, sub, SYM_REF, sub, at)) ||
		    (rc = push_sym(ps, sub, SYM_END, 0, at)) || (rc = push_sym(ps, sub, SYM_END, 0, at)))
			return rc;
		return push_sym(ps, rule, SYM_REF, sub, at);
	}
	/* innermost first: R_k ::= X R_k+1 | "", the last R ::= X | "" */
	for (long k = max - min; k > 0; k--) {
		if ((rc = gen_rule(ps, rule, at, &sub)) || (rc = push_sym(ps, sub, x.kind, x.arg, at)))
			return rc;
		if (k < max - min && (rc = push_sym(ps, sub, SYM_REF, next, at)))
			return rc;
		if ((rc = push_sym(ps, sub, SYM_END, 0, at)) || (rc = push_sym(ps, sub, SYM_END, 0, at)))
			return rc;
		next = sub;
	}
	return max > min ? push_sym(ps, rule, SYM_REF, next, at) : LM_OK;
}

static int parse_alternates(struct parser *ps, uint32_t rule, int nested);

static int parse_sequence(struct parser *ps, uint32_t rule, int nested)
{
	size_t term = (size_t)-1;       /* where the last term's symbols begin */
	char buf[16];
	int rc;

	for (;;) {
		const char *at;
		char c;

		skip_space(ps, nested);
		if (ps->p >= ps->end)
			return LM_OK;
		at = ps->p;
		c = *at;
		if (c == '"') {
			term = ps->g->rule[rule].n_sym;
			rc = parse_literal(ps, rule);
		} else if (c == '[') {
			term = ps->g->rule[rule].n_sym;
			rc = parse_class(ps, rule);
		} else if (c == '.') {
			term = ps->g->rule[rule].n_sym;
			ps->p++;
			rc = open_class(ps, 1);
			rc = rc ? rc : push_sym(ps, rule, SYM_CLASS, (uint32_t)ps->g->n_cls - 1, at);
		} else if (is_name_char(c)) {
			uint32_t ref;

			while (ps->p < ps->end && is_name_char(*ps->p))
				ps->p++;
			term = ps->g->rule[rule].n_sym;
			rc = find_rule(ps, at, (size_t)(ps->p - at), at, &ref);
			rc = rc ? rc : push_sym(ps, rule, SYM_REF, ref, at);
		} else if (c == '(') {
			uint32_t sub;

			ps->p++;
			rc = gen_rule(ps, rule, at, &sub);
			rc = rc ? rc : parse_alternates(ps, sub, 1);
			if (rc)
				return rc;
			skip_space(ps, 1);
			if (ps->p >= ps->end || *ps->p != ')') {
				uint32_t line, col;

				position(ps, at, &line, &col);
				return fail_at(ps, ps->p, "expected ')' for the '(' at %u:%u, found %s", line, col,
					       show(ps, ps->p, buf));
			}
			ps->p++;
			term = ps->g->rule[rule].n_sym;
			rc = push_sym(ps, rule, SYM_REF, sub, at);
		} else if (c == '*' || c == '+' || c == '?' || c == '{') {
			long min = 0, max = -1;
			int have_min = 0;

			if (term == (size_t)-1)
				return fail_at(ps, at, "'%c' repeats nothing", c);
			ps->p++;
			if (c == '+')
				min = 1;
			else if (c == '?')
				max = 1;
			else if (c == '{') {
				const char *digits;

				skip_space(ps, 0);
				digits = ps->p;
				if ((rc = parse_count(ps, &min)))
					return rc;
				have_min = ps->p > digits;
				skip_space(ps, 0);
				if (ps->p < ps->end && *ps->p == ',') {
					ps->p++;
					skip_space(ps, 0);
					if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9' &&
					    (rc = parse_count(ps, &max)))
						return rc;
					skip_space(ps, 0);
				} else if (have_min) {
					max = min;
				} else {
					return fail_at(ps, at, "expected a count in '{m}', '{m,}', '{m,n}' or '{,n}'");
				}
				if (ps->p >= ps->end || *ps->p != '}')
					return fail_at(ps, ps->p, "expected '}', found %s", show(ps, ps->p, buf));
				ps->p++;
				if (max >= 0 && max < min)
					return fail_at(ps, at, "repetition {%ld,%ld}: the maximum is below the minimum",
						       min, max);
			}
			rc = repeat(ps, rule, term, min, max, at);
		} else if (c == '<' || (c == '!' && ps->p + 1 < ps->end && ps->p[1] == '<')) {
			return fail_at(ps, at, "token references (<...>) are not supported");
		} else {
			return LM_OK;
		}
		if (rc)
			return rc;
	}
}

static int parse_alternates(struct parser *ps, uint32_t rule, int nested)
{
	int rc;

	for (;;) {
		if ((rc = parse_sequence(ps, rule, nested)) || (rc = push_sym(ps, rule, SYM_END, 0, ps->p)))
			return rc;
		if (ps->p >= ps->end || *ps->p != '|')
			return LM_OK;
		ps->p++;
		skip_space(ps, 1);
	}
}

static int parse_rule(struct parser *ps)
{
	const char *at = ps->p;
	struct grule *r;
	uint32_t idx;
	char buf[16];
	int rc;

	while (ps->p < ps->end && is_name_char(*ps->p))
		ps->p++;
	if (ps->p == at)
		return fail_at(ps, at, "expected a rule name, found %s", show(ps, at, buf));
	if ((rc = find_rule(ps, at, (size_t)(ps->p - at), at, &idx)))
		return rc;
	r = &ps->g->rule[idx];
	if (r->defined) {
		uint32_t line, col;

		position(ps, ps->src + r->off, &line, &col);
		return fail_at(ps, at, "rule '%s' is defined twice (first at line %u)", r->name, line);
	}
	r->defined = 1;
	r->off = (size_t)(at - ps->src);
	skip_space(ps, 0);
	if (ps->end - ps->p < 3 || memcmp(ps->p, "::=", 3))
		return fail_at(ps, ps->p, "expected '::=' after rule name '%s', found %s", r->name,
			       show(ps, ps->p, buf));
	ps->p += 3;
	skip_space(ps, 1);
	if ((rc = parse_alternates(ps, idx, 0)))
		return rc;
	if (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r')
		return fail_at(ps, ps->p, "unexpected %s in rule '%s'", show(ps, ps->p, buf), ps->g->rule[idx].name);
	return LM_OK;
}

/* --- checks and finishing ---------------------------------------------- */

static int class_cmp(const void *a, const void *b)
{
	const struct grange *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int class_has(const struct grammar *g, const struct gclass *c, uint32_t cp)
{
	const struct grange *r = g->rng + c->first;

	if (cp < 128)
		return (c->ascii[cp >> 5] >> (cp & 31)) & 1;
	for (uint32_t i = 0; i < c->n; i++)
		if (cp >= r[i].lo && cp <= r[i].hi)
			return !c->negate;
	return c->negate;
}

/* Whether C admits some code point in [LO, HI]. */
static int class_meets(const struct grammar *g, const struct gclass *c, uint32_t lo, uint32_t hi)
{
	const struct grange *r = g->rng + c->first;
	uint32_t cur = lo;

	if (!c->negate) {
		for (uint32_t i = 0; i < c->n; i++)
			if (r[i].lo <= hi && r[i].hi >= lo)
				return 1;
		return 0;
	}
	for (uint32_t i = 0; i < c->n; i++) {
		if (r[i].hi < cur)
			continue;
		if (r[i].lo > cur)
			return 1;
		if (r[i].hi >= hi)
			return 0;
		cur = r[i].hi + 1;
	}
	return cur <= hi;
}

static void finish_classes(struct grammar *g)
{
	for (size_t k = 0; k < g->n_cls; k++) {
		struct gclass *c = &g->cls[k];
		struct grange *r = g->rng + c->first;
		uint32_t n = 0;

		if (c->n)
			qsort(r, c->n, sizeof(*r), class_cmp);
		for (uint32_t i = 0; i < c->n; i++) {
			if (n && r[i].lo <= r[n - 1].hi + 1) {
				if (r[i].hi > r[n - 1].hi)
					r[n - 1].hi = r[i].hi;
			} else {
				r[n++] = r[i];
			}
		}
		c->n = n;
		memset(c->ascii, 0, sizeof(c->ascii));
		for (uint32_t cp = 0; cp < 128; cp++) {
			int in = c->negate;

			for (uint32_t i = 0; i < n; i++)
				if (cp >= r[i].lo && cp <= r[i].hi)
					in = !c->negate;
			if (in)
				c->ascii[cp >> 5] |= 1u << (cp & 31);
		}
	}
}

/* Nullable rules (those that can match ""), by fixed point. */
static void nullable_rules(const struct grammar *g, uint8_t *nullable)
{
	int changed = 1;

	memset(nullable, 0, g->n_rule);
	while (changed) {
		changed = 0;
		for (size_t i = 0; i < g->n_rule; i++) {
			const struct grule *r = &g->rule[i];
			int ok = 1;

			if (nullable[i])
				continue;
			for (size_t k = 0; k < r->n_sym; k++) {
				const struct gsym *s = &r->sym[k];

				if (s->kind == SYM_END) {
					if (ok) {
						nullable[i] = 1;
						changed = 1;
						break;
					}
					ok = 1;
				} else if (s->kind == SYM_CLASS || !nullable[s->arg]) {
					ok = 0;
				}
			}
		}
	}
}

/* Left recursion: a cycle of rules each referenced at a position that
 * only nullable symbols precede.  Iterative depth-first search. */
static int check_left_recursion(struct parser *ps)
{
	const struct grammar *g = ps->g;
	size_t n = g->n_rule;
	uint8_t *nullable = malloc(n ? n : 1), *color = calloc(n ? n : 1, 1);
	struct frame { uint32_t rule; size_t k; int live; } *st = malloc((n ? n : 1) * sizeof(*st));
	int rc = LM_OK;

	if (!nullable || !color || !st) {
		rc = lm_fail(ps->err, LM_ENOMEM, "out of memory");
		goto out;
	}
	nullable_rules(g, nullable);
	for (size_t s0 = 0; s0 < n && !rc; s0++) {
		size_t top = 0;

		if (color[s0])
			continue;
		st[top++] = (struct frame){ (uint32_t)s0, 0, 1 };
		color[s0] = 1;
		while (top && !rc) {
			struct frame *f = &st[top - 1];
			const struct grule *r = &g->rule[f->rule];
			int pushed = 0;

			while (f->k < r->n_sym) {
				const struct gsym *s = &r->sym[f->k++];
				int live = f->live;

				if (s->kind == SYM_END) {
					f->live = 1;
					continue;
				}
				f->live = live && s->kind == SYM_REF && nullable[s->arg];
				if (!live || s->kind != SYM_REF)
					continue;
				if (color[s->arg] == 1) {
					const struct grule *x = &g->rule[s->arg];

					rc = x->generated_star ?
					     fail_at(ps, ps->src + x->off, "a repeated term can match the empty string") :
					     fail_at(ps, ps->src + x->off, "rule '%s' is left-recursive (it can reach "
						     "itself without matching a character)", x->name);
					break;
				}
				if (!color[s->arg]) {
					color[s->arg] = 1;
					st[top++] = (struct frame){ s->arg, 0, 1 };
					pushed = 1;
					break;
				}
			}
			if (!pushed && !rc) {
				color[f->rule] = 2;
				top--;
			}
		}
	}
out:
	free(nullable);
	free(color);
	free(st);
	return rc;
}

static int compile(struct parser *ps)
{
	struct grammar *g = ps->g;
	size_t n_sym = 2, n_alt = 0, pos = 0, a = 0;
	uint32_t root = UINT32_MAX;

	for (size_t i = 0; i < g->n_rule; i++) {
		const struct grule *r = &g->rule[i];

		if (!r->defined)
			return fail_at(ps, ps->src + r->off, "rule '%s' is not defined", r->name);
		if (!strcmp(r->name, "root"))
			root = (uint32_t)i;
		n_sym += r->n_sym;
		for (size_t k = 0; k < r->n_sym; k++)
			n_alt += r->sym[k].kind == SYM_END;
	}
	if (root == UINT32_MAX)
		return lm_fail(ps->err, LM_EINVAL, "%s: no rule named 'root'", ps->name);
	int rc = check_left_recursion(ps);
	if (rc)
		return rc;
	g->sym = malloc(n_sym * sizeof(*g->sym));
	g->alt = malloc((n_alt ? n_alt : 1) * sizeof(*g->alt));
	if (!g->sym || !g->alt)
		return lm_fail(ps->err, LM_ENOMEM, "out of memory");
	for (size_t i = 0; i < g->n_rule; i++) {
		struct grule *r = &g->rule[i];

		r->first_alt = (uint32_t)a;
		for (size_t k = 0; k < r->n_sym; k++) {
			if (k == 0 || r->sym[k - 1].kind == SYM_END)
				g->alt[a++] = (uint32_t)(pos + k);
			g->sym[pos + k] = r->sym[k];
		}
		r->n_alts = (uint32_t)(a - r->first_alt);
		pos += r->n_sym;
		free(r->sym);
		r->sym = NULL;
	}
	g->root_pos = (uint32_t)pos;
	g->sym[pos] = (struct gsym){ SYM_REF, root };
	g->sym[pos + 1] = (struct gsym){ SYM_END, 0 };
	g->n_sym = pos + 2;
	finish_classes(g);
	return LM_OK;
}

int grammar_parse(struct grammar **out, const char *src, size_t len, const char *name, struct lm_error *err)
{
	struct parser ps = { .src = src, .end = src + len, .p = src, .name = name, .err = err };
	int rc = LM_OK;

	*out = NULL;
	if (!(ps.g = calloc(1, sizeof(*ps.g))))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	skip_space(&ps, 1);
	while (ps.p < ps.end) {
		if ((rc = parse_rule(&ps)))
			goto out;
		skip_space(&ps, 1);
	}
	if (!ps.g->n_rule) {
		rc = lm_fail(err, LM_EINVAL, "%s: the grammar has no rules", name);
		goto out;
	}
	rc = compile(&ps);
out:
	if (rc)
		grammar_free(ps.g);
	else
		*out = ps.g;
	return rc;
}

void grammar_free(struct grammar *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_rule; i++) {
		free(g->rule[i].name);
		free(g->rule[i].sym);
	}
	free(g->rule);
	free(g->sym);
	free(g->alt);
	free(g->cls);
	free(g->rng);
	free(g);
}

/* --- matcher ----------------------------------------------------------- */

/* A set of stacks, each stack a run of symbol positions (bottom first). */
struct gset {
	uint32_t *pos;
	size_t len, cap;
	size_t *off;                /* stack i is pos[off[i] .. off[i + 1]) */
	uint32_t *hash;
	size_t n, ncap;
	uint32_t *tab;              /* open addressing over stack index + 1, once n >= TAB_FROM */
	size_t tcap;
	int tab_live;
};

enum { TAB_FROM = 8 };

/* A partial UTF-8 character: the bits so far, continuation bytes still
 * needed, and the bounds of the next byte (RFC 3629 section 4). */
struct utf8_part {
	uint32_t v;
	uint8_t need, lo, hi;
	uint8_t first;              /* the lead byte, for the range of a partial */
	uint8_t nbytes;
};

/* The stacks a code point leads to depend only on which stacks admit it
 * (advance copies those and expands them, whatever the code point), so
 * the children of one trie node share the result of each such "signature"
 * (a bit per stack): most bytes of a vocabulary give only a few.  A node
 * whose stacks are those of its parent (inside a free string, say) starts
 * with its parent's results. */
enum { LEVEL_SLOTS = 4 };

struct level_cache {
	uint64_t sig[LEVEL_SLOTS];
	const struct gset *res[LEVEL_SLOTS];  /* set[k], or a parent's */
	struct gset set[LEVEL_SLOTS];
	int n, next;
};

static int gset_equal(const struct gset *a, const struct gset *b)
{
	/* an empty set may have no arrays yet */
	return a == b || (a->n == b->n && a->len == b->len &&
			  (a->n == 0 || !memcmp(a->off, b->off, (a->n + 1) * sizeof(*a->off))) &&
			  (a->len == 0 || !memcmp(a->pos, b->pos, a->len * sizeof(*a->pos))));
}

struct grammar_state {
	const struct grammar *g;
	struct gset cur;
	struct utf8_part part;
	struct gset a, b;           /* scratch for accept */
	struct gset seen;           /* stacks expanded in this step (expand) */
	struct level_cache *level;  /* per trie depth, for masking */
	size_t n_level;
	uint32_t *scr;              /* expansion frames */
	size_t scr_top, scr_cap;
	long budget;
};

static void gset_clear(struct gset *s)
{
	s->len = s->n = 0;
	s->tab_live = 0;
}

static void gset_free(struct gset *s)
{
	free(s->pos);
	free(s->off);
	free(s->hash);
	free(s->tab);
}

static uint32_t stack_hash(const uint32_t *p, size_t l)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < l; i++)
		h = (h ^ p[i]) * 16777619u;
	return h ^ (uint32_t)l;
}

static int same_stack(const struct gset *s, size_t i, uint32_t h, const uint32_t *p, size_t l)
{
	return s->hash[i] == h && s->off[i + 1] - s->off[i] == l &&
	       (l == 0 || !memcmp(s->pos + s->off[i], p, l * sizeof(*p)));
}

static void tab_insert(struct gset *s, size_t i)
{
	size_t mask = s->tcap - 1, k = s->hash[i] & mask;

	while (s->tab[k])
		k = (k + 1) & mask;
	s->tab[k] = (uint32_t)(i + 1);
}

/* The hash table over S's stacks, big enough for one more (a linear scan
 * serves small sets). */
static int tab_grow(struct gset *s)
{
	if (s->tab_live && 2 * (s->n + 1) <= s->tcap)
		return LM_OK;
	if (2 * (s->n + 1) > s->tcap) {
		size_t cap = s->tcap ? s->tcap : 64;
		void *t;

		while (2 * (s->n + 1) > cap)
			cap *= 2;
		if (!(t = realloc(s->tab, cap * sizeof(*s->tab))))
			return LM_ENOMEM;
		s->tab = t;
		s->tcap = cap;
	}
	memset(s->tab, 0, s->tcap * sizeof(*s->tab));
	for (size_t i = 0; i < s->n; i++)
		tab_insert(s, i);
	s->tab_live = 1;
	return LM_OK;
}

/* Add stack P[0..L) unless S holds it already; *ADDED (may be NULL) says
 * which. */
static int gset_add_new(struct gset *s, const uint32_t *p, size_t l, int *added)
{
	uint32_t h = stack_hash(p, l);

	if (added)
		*added = 0;
	if (s->n >= TAB_FROM) {
		size_t mask;

		if (tab_grow(s))
			return LM_ENOMEM;
		mask = s->tcap - 1;
		for (size_t k = h & mask; s->tab[k]; k = (k + 1) & mask)
			if (same_stack(s, s->tab[k] - 1, h, p, l))
				return LM_OK;
	} else {
		for (size_t i = 0; i < s->n; i++)
			if (same_stack(s, i, h, p, l))
				return LM_OK;
	}
	if (s->n + 2 > s->ncap) {
		size_t cap = s->ncap ? 2 * s->ncap : 16;
		void *o = realloc(s->off, cap * sizeof(*s->off)), *hh;

		if (!o)
			return LM_ENOMEM;
		s->off = o;
		if (!(hh = realloc(s->hash, cap * sizeof(*s->hash))))
			return LM_ENOMEM;
		s->hash = hh;
		s->ncap = cap;
	}
	if (s->len + l > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *q;

		while (cap < s->len + l)
			cap *= 2;
		if (!(q = realloc(s->pos, cap * sizeof(*s->pos))))
			return LM_ENOMEM;
		s->pos = q;
		s->cap = cap;
	}
	if (s->n == 0)
		s->off[0] = 0;
	if (l)
		memcpy(s->pos + s->len, p, l * sizeof(*p));
	s->len += l;
	s->hash[s->n] = h;
	s->off[++s->n] = s->len;
	if (s->tab_live)
		tab_insert(s, s->n - 1);
	if (added)
		*added = 1;
	return LM_OK;
}

static int gset_add(struct gset *s, const uint32_t *p, size_t l)
{
	return gset_add_new(s, p, l, NULL);
}

static int scr_reserve(struct grammar_state *m, size_t n)
{
	if (m->scr_top + n > m->scr_cap) {
		size_t cap = m->scr_cap ? 2 * m->scr_cap : 256;
		void *p;

		while (cap < m->scr_top + n)
			cap *= 2;
		if (!(p = realloc(m->scr, cap * sizeof(*m->scr))))
			return LM_ENOMEM;
		m->scr = p;
		m->scr_cap = cap;
	}
	return LM_OK;
}

/* Add to OUT every stack the stack scr[BASE .. BASE + L) becomes once its
 * top is a class (or it is empty): ends pop, references push each of
 * their alternatives.  A reference last in its alternative is replaced
 * rather than kept below (a tail call), so right recursion such as
 * R ::= X R does not grow the stack.  A stack whose references were
 * expanded already in this step yields nothing new: ambiguous grammars
 * reach the same stack along many paths. */
static int expand(struct grammar_state *m, struct gset *out, size_t base, size_t l)
{
	const struct grammar *g = m->g;

	for (;;) {
		uint32_t pos;
		const struct gsym *sy;
		const struct grule *r;

		if (--m->budget < 0)
			return LM_OK;
		if (l == 0)
			return gset_add(out, NULL, 0);
		if (l > GRAMMAR_MAX_DEPTH)
			return LM_OK;
		pos = m->scr[base + l - 1];
		sy = &g->sym[pos];
		if (sy->kind == SYM_END) {
			l--;
			continue;
		}
		if (sy->kind == SYM_CLASS)
			return gset_add(out, m->scr + base, l);
		{
			int added, rc = gset_add_new(&m->seen, m->scr + base, l, &added);

			if (rc || !added)
				return rc;
		}
		r = &g->rule[sy->arg];
		if (g->sym[pos + 1].kind == SYM_END)
			l--;
		else
			m->scr[base + l - 1] = pos + 1;
		for (uint32_t a = 0; a < r->n_alts; a++) {
			size_t nb = m->scr_top;
			int rc = scr_reserve(m, l + 1);

			if (rc)
				return rc;
			memcpy(m->scr + nb, m->scr + base, l * sizeof(*m->scr));
			m->scr[nb + l] = g->alt[r->first_alt + a];
			m->scr_top = nb + l + 1;
			rc = expand(m, out, nb, l + 1);
			m->scr_top = nb;
			if (rc)
				return rc;
		}
		return LM_OK;
	}
}

/* OUT = the stacks of IN after code point CP. */
static int advance(struct grammar_state *m, const struct gset *in, uint32_t cp, struct gset *out)
{
	const struct grammar *g = m->g;

	gset_clear(out);
	gset_clear(&m->seen);
	m->budget = EXPAND_BUDGET;
	for (size_t i = 0; i < in->n; i++) {
		size_t l = in->off[i + 1] - in->off[i];
		const uint32_t *st;
		int rc;

		if (!l)
			continue;  /* a finished stack; pos may still be NULL */
		st = in->pos + in->off[i];
		if (!class_has(g, &g->cls[g->sym[st[l - 1]].arg], cp))
			continue;
		m->scr_top = 0;
		if ((rc = scr_reserve(m, l)))
			return rc;
		memcpy(m->scr, st, l * sizeof(*st));
		m->scr[l - 1]++;
		m->scr_top = l;
		if ((rc = expand(m, out, 0, l)))
			return rc;
	}
	return LM_OK;
}

/* Whether some stack of S admits a code point the partial character P
 * can still become. */
static int partial_ok(const struct grammar_state *m, const struct gset *s, const struct utf8_part *p)
{
	const struct grammar *g = m->g;
	uint32_t lo = p->v << (6 * p->need), hi = lo | ((1u << (6 * p->need)) - 1);

	/* the lead byte's own limits (RFC 3629: no overlongs, surrogates or
	 * values above U+10FFFF) */
	if (p->nbytes == 1) {
		if (p->first == 0xe0)
			lo = 0x800;
		else if (p->first == 0xed)
			hi = 0xd7ff;
		else if (p->first == 0xf0)
			lo = 0x10000;
		else if (p->first == 0xf4)
			hi = 0x10ffff;
	}
	for (size_t i = 0; i < s->n; i++) {
		size_t l = s->off[i + 1] - s->off[i];

		if (l && class_meets(g, &g->cls[g->sym[s->pos[s->off[i] + l - 1]].arg], lo, hi))
			return 1;
	}
	return 0;
}

/* Feed byte B to the partial character P.  Returns -1 for an ill-formed
 * sequence, 1 when a code point is complete (in *CP), 0 when more bytes
 * are needed. */
static int utf8_step(struct utf8_part *p, uint8_t b, uint32_t *cp)
{
	if (!p->need) {
		if (b < 0x80) {
			*cp = b;
			return 1;
		}
		p->first = b;
		p->nbytes = 1;
		p->lo = 0x80;
		p->hi = 0xbf;
		if (b >= 0xc2 && b <= 0xdf) {
			p->need = 1;
			p->v = b & 0x1f;
		} else if (b >= 0xe0 && b <= 0xef) {
			p->need = 2;
			p->v = b & 0x0f;
			if (b == 0xe0)
				p->lo = 0xa0;
			else if (b == 0xed)
				p->hi = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			p->need = 3;
			p->v = b & 0x07;
			if (b == 0xf0)
				p->lo = 0x90;
			else if (b == 0xf4)
				p->hi = 0x8f;
		} else {
			return -1;
		}
		return 0;
	}
	if (b < p->lo || b > p->hi)
		return -1;
	p->v = (p->v << 6) | (b & 0x3f);
	p->lo = 0x80;
	p->hi = 0xbf;
	p->nbytes++;
	if (--p->need)
		return 0;
	*cp = p->v;
	return 1;
}

int grammar_state_new(struct grammar_state **out, const struct grammar *g, struct lm_error *err)
{
	struct grammar_state *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	s->g = g;
	if (grammar_state_reset(s)) {
		grammar_state_free(s);
		return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	*out = s;
	return LM_OK;
}

int grammar_state_reset(struct grammar_state *s)
{
	gset_clear(&s->cur);
	memset(&s->part, 0, sizeof(s->part));
	s->scr_top = 0;
	if (scr_reserve(s, 1))
		return LM_ENOMEM;
	s->scr[0] = s->g->root_pos;
	s->scr_top = 1;
	s->budget = EXPAND_BUDGET;
	gset_clear(&s->seen);
	return expand(s, &s->cur, 0, 1);
}

void grammar_state_free(struct grammar_state *s)
{
	if (!s)
		return;
	gset_free(&s->cur);
	gset_free(&s->a);
	gset_free(&s->b);
	gset_free(&s->seen);
	for (size_t i = 0; i < s->n_level; i++)
		for (int k = 0; k < LEVEL_SLOTS; k++)
			gset_free(&s->level[i].set[k]);
	free(s->level);
	free(s->scr);
	free(s);
}

int grammar_accept(struct grammar_state *s, const char *bytes, size_t n)
{
	struct utf8_part part = s->part;
	const struct gset *in = &s->cur;
	struct gset *out = &s->a;
	int rc;

	for (size_t i = 0; i < n; i++) {
		uint32_t cp;
		int st = utf8_step(&part, (uint8_t)bytes[i], &cp);

		if (st < 0)
			return 0;
		if (st == 0)
			continue;
		if ((rc = advance(s, in, cp, out)))
			return rc;
		if (!out->n)
			return 0;
		in = out;
		out = out == &s->a ? &s->b : &s->a;
	}
	if (part.need && !partial_ok(s, in, &part))
		return 0;
	if (in != &s->cur) {
		struct gset t = s->cur;

		s->cur = *(struct gset *)in;
		*(struct gset *)in = t;
	}
	s->part = part;
	return 1;
}

int grammar_can_end(const struct grammar_state *s)
{
	if (s->part.need)
		return 0;
	for (size_t i = 0; i < s->cur.n; i++)
		if (s->cur.off[i + 1] == s->cur.off[i])
			return 1;
	return 0;
}

int grammar_done(const struct grammar_state *s)
{
	return grammar_can_end(s) && s->cur.n == 1;
}

/* --- vocabulary trie --------------------------------------------------- */

struct trie_node {
	uint32_t child, sibling;    /* 0: none (node 0 is the root) */
	int32_t token;              /* first token ending here, or -1 */
	uint8_t byte;
};

/* The finished trie in depth-first order, so that a walk reads memory
 * forwards: a node's subtree is node + 1 .. end - 1, its first child is
 * node + 1 and the next sibling of C is C's end. */
struct flat_node {
	uint32_t end;
	int32_t token;
	uint8_t byte;
};

struct grammar_vocab {
	struct trie_node *node;     /* while building */
	size_t n_node, cap_node;
	struct flat_node *flat;
	int32_t *next_token;        /* further tokens with the same text */
	size_t n_token;
	size_t max_len;
};

static int trie_child(struct grammar_vocab *v, uint32_t parent, uint8_t b, uint32_t *out)
{
	uint32_t c;

	for (c = v->node[parent].child; c; c = v->node[c].sibling)
		if (v->node[c].byte == b) {
			*out = c;
			return LM_OK;
		}
	if (v->n_node == v->cap_node) {
		size_t cap = 2 * v->cap_node;
		void *p = realloc(v->node, cap * sizeof(*v->node));

		if (!p)
			return LM_ENOMEM;
		v->node = p;
		v->cap_node = cap;
	}
	c = (uint32_t)v->n_node++;
	v->node[c] = (struct trie_node){ 0, v->node[parent].child, -1, b };
	v->node[parent].child = c;
	*out = c;
	return LM_OK;
}

static void flatten(const struct trie_node *old, uint32_t o, struct flat_node *flat, uint32_t *next)
{
	uint32_t me = (*next)++;

	flat[me].byte = old[o].byte;
	flat[me].token = old[o].token;
	for (uint32_t c = old[o].child; c; c = old[c].sibling)
		flatten(old, c, flat, next);
	flat[me].end = *next;
}

int grammar_vocab_new(struct grammar_vocab **out, const char *const *text, const size_t *len, size_t n,
		      struct lm_error *err)
{
	struct grammar_vocab *v = calloc(1, sizeof(*v));
	int rc = LM_OK;

	*out = NULL;
	if (!v)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	v->cap_node = 1024;
	v->node = malloc(v->cap_node * sizeof(*v->node));
	v->next_token = malloc((n ? n : 1) * sizeof(*v->next_token));
	if (!v->node || !v->next_token) {
		rc = LM_ENOMEM;
		goto out;
	}
	v->n_token = n;
	v->node[0] = (struct trie_node){ 0, 0, -1, 0 };
	v->n_node = 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t at = 0;

		v->next_token[i] = -1;
		if (!text[i] || !len[i])
			continue;
		for (size_t k = 0; k < len[i] && !rc; k++)
			rc = trie_child(v, at, (uint8_t)text[i][k], &at);
		if (rc)
			goto out;
		v->next_token[i] = v->node[at].token;
		v->node[at].token = (int32_t)i;
		if (len[i] > v->max_len)
			v->max_len = len[i];
	}
	if (!(v->flat = malloc(v->n_node * sizeof(*v->flat)))) {
		rc = LM_ENOMEM;
		goto out;
	}
	{
		uint32_t next = 0;

		flatten(v->node, 0, v->flat, &next);
	}
	free(v->node);
	v->node = NULL;
out:
	if (rc) {
		grammar_vocab_free(v);
		return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	*out = v;
	return LM_OK;
}

void grammar_vocab_free(struct grammar_vocab *v)
{
	if (!v)
		return;
	free(v->node);
	free(v->flat);
	free(v->next_token);
	free(v);
}

/* Mark the tokens below NODE, reached with stacks IN and partial
 * character PART at depth DEPTH. */
static long walk(const struct grammar_vocab *v, struct grammar_state *s, uint32_t node, const struct gset *in,
		 struct utf8_part part, size_t depth, const struct level_cache *inherit, uint8_t *allowed)
{
	struct level_cache *lc = &s->level[depth];
	long count = 0;

	/* the cache holds results for IN only */
	lc->n = lc->next = 0;
	if (inherit && in->n <= 64) {
		lc->n = inherit->n;
		memcpy(lc->sig, inherit->sig, sizeof(lc->sig));
		memcpy(lc->res, inherit->res, sizeof(lc->res));
	}
	for (uint32_t c = node + 1; c < v->flat[node].end; c = v->flat[c].end) {
		struct utf8_part p = part;
		const struct gset *next = in;
		uint32_t cp;
		int st = utf8_step(&p, v->flat[c].byte, &cp);
		long sub;

		if (st < 0)
			continue;
		if (st == 1) {
			uint64_t sig = 0;
			int k = -1;

			if (in->n <= 64) {
				const struct grammar *g = s->g;

				for (size_t i = 0; i < in->n; i++) {
					size_t l = in->off[i + 1] - in->off[i];

					if (l && class_has(g, &g->cls[g->sym[in->pos[in->off[i] + l - 1]].arg], cp))
						sig |= 1ull << i;
				}
				if (!sig)
					continue;
				for (int j = 0; j < lc->n && k < 0; j++)
					if (lc->sig[j] == sig)
						k = j;
			}
			if (k < 0) {
				k = lc->n < LEVEL_SLOTS ? lc->n++ : lc->next++ % LEVEL_SLOTS;
				if (advance(s, in, cp, &lc->set[k]))
					return LM_ENOMEM;
				/* without a signature the result is not reusable */
				lc->sig[k] = in->n <= 64 ? sig : 0;
				lc->res[k] = &lc->set[k];
			}
			if (!lc->res[k]->n)
				continue;
			next = lc->res[k];
		} else if (!partial_ok(s, in, &p)) {
			continue;
		}
		for (int32_t t = v->flat[c].token; t >= 0; t = v->next_token[t]) {
			allowed[t] = 1;
			count++;
		}
		if (v->flat[c].end > c + 1) {
			if ((sub = walk(v, s, c, next, p, depth + 1, gset_equal(next, in) ? lc : NULL, allowed)) < 0)
				return sub;
			count += sub;
		}
	}
	return count;
}

long grammar_vocab_allowed(const struct grammar_vocab *v, struct grammar_state *s, uint8_t *allowed)
{
	memset(allowed, 0, v->n_token);
	if (s->n_level < v->max_len) {
		void *p = realloc(s->level, v->max_len * sizeof(*s->level));

		if (!p)
			return LM_ENOMEM;
		s->level = p;
		memset(s->level + s->n_level, 0, (v->max_len - s->n_level) * sizeof(*s->level));
		s->n_level = v->max_len;
	}
	return walk(v, s, 0, &s->cur, s->part, 0, NULL, allowed);
}

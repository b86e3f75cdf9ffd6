#include "json.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* ---- the arena ---------------------------------------------------------
 *
 * A doc allocates from a chain of blocks by bumping a pointer.  Reset keeps
 * one block as large as everything the last record used, so a stream of
 * similar records settles at one malloc-free block per doc.
 */

struct json_pool_block {
	struct json_pool_block *next;
	size_t cap, used;
	max_align_t data[];
};

struct json_pool {
	struct json_pool_block *head;
	size_t total;           /* capacity of all blocks in the chain */
};

enum { JSON_POOL_MIN = 16 << 10 };

static void *json_pool_alloc(struct json_pool *pool, size_t n)
{
	struct json_pool_block *b = pool->head;
	size_t cap;

	n = (n + 15) & ~(size_t)15;
	if (b && b->cap - b->used >= n) {
		void *p = (char *)b->data + b->used;

		b->used += n;
		return p;
	}
	cap = b ? b->cap * 2 : JSON_POOL_MIN;
	while (cap < n)
		cap *= 2;
	b = malloc(sizeof *b + cap);
	if (!b)
		return NULL;
	b->cap = cap;
	b->used = n;
	b->next = pool->head;
	pool->head = b;
	pool->total += cap;
	return b->data;
}

static void json_pool_release(struct json_pool *pool)
{
	struct json_pool_block *b = pool->head, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	pool->head = NULL;
	pool->total = 0;
}

static void json_pool_reset(struct json_pool *pool)
{
	size_t total = pool->total;

	if (pool->head && !pool->head->next) {
		pool->head->used = 0;
		return;
	}
	json_pool_release(pool);
	if (total) {
		pool->head = malloc(sizeof *pool->head + total);
		if (pool->head) {
			pool->head->next = NULL;
			pool->head->cap = total;
			pool->head->used = 0;
			pool->total = total;
		}
	}
}

/* ---- values ------------------------------------------------------------ */

/* Internal representation; json_type() maps it to the RFC 8259 types. */
enum json_kind {
	K_NULL,
	K_BOOL,
	K_NUM_TEXT,     /* number as written: s/len */
	K_NUM_INT,
	K_NUM_DOUBLE,
	K_NUM_FLOAT,
	K_STRING,
	K_ARRAY,
	K_F32_ARRAY,    /* packed: floats/len */
	K_I32_ARRAY,    /* packed: ints/len */
	K_OBJECT,
};

struct json_member {
	const char *key;
	size_t key_len;
	struct json_value *value;
};

struct json_value {
	enum json_kind kind;
	size_t len, cap;
	union {
		int b;
		int64_t i;
		double d;
		float f;
		const char *s;
		struct json_value **items;
		struct json_member *members;
		float *floats;
		int32_t *ints;
	} u;
	/* Packed arrays turn into plain ones on first element access. */
	struct json_doc *doc;
};

struct json_doc {
	struct json_pool pool;
	/* Parse scratch: elements and members of the containers being parsed,
	 * copied into the arena when each container closes. */
	struct json_value **items;
	size_t items_len, items_cap;
	struct json_member *members;
	size_t members_len, members_cap;
};

struct json_doc *json_doc_new(void)
{
	return calloc(1, sizeof(struct json_doc));
}

void json_doc_reset(struct json_doc *doc)
{
	json_pool_reset(&doc->pool);
	doc->items_len = 0;
	doc->members_len = 0;
}

void json_doc_free(struct json_doc *doc)
{
	if (!doc)
		return;
	json_pool_release(&doc->pool);
	free(doc->items);
	free(doc->members);
	free(doc);
}

static struct json_value *json_alloc_value(struct json_doc *doc, enum json_kind kind)
{
	struct json_value *v = json_pool_alloc(&doc->pool, sizeof *v);

	if (v) {
		memset(v, 0, sizeof *v);
		v->kind = kind;
	}
	return v;
}

static char *json_strdup(struct json_doc *doc, const char *s, size_t len)
{
	char *p = json_pool_alloc(&doc->pool, len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* ---- locale-independent number conversion ------------------------------ */

static pthread_once_t json_locale_once = PTHREAD_ONCE_INIT;
static locale_t json_c_locale;

static void json_locale_init(void)
{
	json_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t json_locale(void)
{
	pthread_once(&json_locale_once, json_locale_init);
	return json_c_locale;
}

/* Exact powers of ten as doubles: 10^0..10^22 are exactly representable
 * (5^22 < 2^53), the basis of Clinger's fast path. */
static const double json_exact_p10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Length of the RFC 8259 `number` at P (section 6), 0 if there is none.
 * On failure *WHY says what was expected and *AT where. */
static size_t json_scan_number(const char *p, const char *end, const char **why, const char **at)
{
	const char *q = p;

	if (q < end && *q == '-')
		q++;
	if (q >= end || *q < '0' || *q > '9') {
		*why = "expected a digit";
		*at = q;
		return 0;
	}
	if (*q == '0') {
		q++;
		if (q < end && *q >= '0' && *q <= '9') {
			*why = "leading zero in number";
			*at = q - 1;
			return 0;
		}
	} else {
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < end && *q == '.') {
		q++;
		if (q >= end || *q < '0' || *q > '9') {
			*why = "expected a digit after '.'";
			*at = q;
			return 0;
		}
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || *q < '0' || *q > '9') {
			*why = "expected a digit in exponent";
			*at = q;
			return 0;
		}
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	}
	return (size_t)(q - p);
}

/* Decimal significand and exponent of a scanned number when it has at most
 * 19 significant digits: value = (neg ? -1 : 1) * m * 10^e10.  Returns 0
 * when digits had to be dropped (the caller then uses strtod). */
static int json_decimal(const char *p, size_t len, int *neg, uint64_t *m, long *e10)
{
	const char *end = p + len;
	uint64_t mant = 0;
	long exp10 = 0, e = 0;
	int nd = 0, eneg = 0;

	*neg = 0;
	if (p < end && *p == '-') {
		*neg = 1;
		p++;
	}
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (mant == 0 && *p == '0')
			continue;
		if (nd == 19)
			return 0;
		mant = mant * 10 + (uint64_t)(*p - '0');
		nd++;
	}
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			if (mant == 0 && *p == '0') {
				exp10--;
				continue;
			}
			if (nd == 19)
				return 0;
			mant = mant * 10 + (uint64_t)(*p - '0');
			nd++;
			exp10--;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		for (; p < end; p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
	}
	*m = mant;
	*e10 = exp10 + (eneg ? -e : e);
	return 1;
}

/* Clinger's fast path: m * 10^e10 correctly rounded in one IEEE operation
 * when both factors are exact doubles. */
static int json_fast_double(uint64_t m, long e10, double *out)
{
	if (m > (1ull << 53) || e10 < -22 || e10 > 22)
		return 0;
	*out = e10 < 0 ? (double)m / json_exact_p10[-e10] : (double)m * json_exact_p10[e10];
	return 1;
}

static int json_slow_convert(const char *text, size_t len, double *d, float *f)
{
	char small[128], *buf = small;
	locale_t loc = json_locale();

	if (len >= sizeof small) {
		buf = malloc(len + 1);
		if (!buf)
			return LM_ENOMEM;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (d)
		*d = loc ? strtod_l(buf, NULL, loc) : strtod(buf, NULL);
	if (f)
		*f = loc ? strtof_l(buf, NULL, loc) : strtof(buf, NULL);
	if (buf != small)
		free(buf);
	return LM_OK;
}

int json_parse_double(const char *text, size_t len, double *out)
{
	const char *why, *at;
	uint64_t m;
	long e10;
	int neg;

	if (json_scan_number(text, text + len, &why, &at) != len || len == 0)
		return LM_EINVAL;
	if (json_decimal(text, len, &neg, &m, &e10)) {
		if (m == 0) {
			*out = neg ? -0.0 : 0.0;
			return LM_OK;
		}
		if (json_fast_double(m, e10, out)) {
			if (neg)
				*out = -*out;
			return LM_OK;
		}
	}
	return json_slow_convert(text, len, out, NULL);
}

/* json_parse_float on text already known to be a JSON number. */
static int json_text_to_float(const char *text, size_t len, float *out)
{
	uint64_t m, bits;
	long e10;
	int neg;
	double d;

	if (json_decimal(text, len, &neg, &m, &e10)) {
		if (m == 0) {
			*out = neg ? -0.0f : 0.0f;
			return LM_OK;
		}
		if (json_fast_double(m, e10, &d)) {
			/* d is the correctly rounded double; rounding it again to
			 * float gives the correctly rounded float unless d sits
			 * exactly halfway between two floats (double rounding).
			 * In the normal float range a midpoint is a double whose
			 * 29 significand bits below float precision are 1000...0;
			 * below FLT_MIN take the exact path. */
			memcpy(&bits, &d, sizeof bits);
			if (d < FLT_MIN || (bits & 0x1fffffff) == 0x10000000)
				goto slow;
			*out = neg ? -(float)d : (float)d;
			return LM_OK;
		}
	}
slow:
	return json_slow_convert(text, len, NULL, out);
}

int json_parse_float(const char *text, size_t len, float *out)
{
	const char *why, *at;

	if (len == 0 || json_scan_number(text, text + len, &why, &at) != len)
		return LM_EINVAL;
	return json_text_to_float(text, len, out);
}

/* ---- shortest round-trip formatting ------------------------------------ */

/* Write DIGITS (K of them, no trailing zeros) with the decimal point after
 * position N (value = 0.DIGITS * 10^N), the way ECMAScript's
 * Number::toString lays numbers out (ECMA-262, 6.1.6.1.20): plain notation
 * for 1e-6 <= |x| < 1e21, exponent notation otherwise. */
static int json_layout(int neg, const char *digits, int k, int n, char *buf)
{
	char *p = buf;
	int i;

	if (neg)
		*p++ = '-';
	if (k <= n && n <= 21) {
		memcpy(p, digits, (size_t)k);
		p += k;
		for (i = k; i < n; i++)
			*p++ = '0';
	} else if (0 < n && n <= 21) {
		memcpy(p, digits, (size_t)n);
		p += n;
		*p++ = '.';
		memcpy(p, digits + n, (size_t)(k - n));
		p += k - n;
	} else if (-6 < n && n <= 0) {
		*p++ = '0';
		*p++ = '.';
		for (i = n; i < 0; i++)
			*p++ = '0';
		memcpy(p, digits, (size_t)k);
		p += k;
	} else {
		int e = n - 1;

		*p++ = digits[0];
		if (k > 1) {
			*p++ = '.';
			memcpy(p, digits + 1, (size_t)(k - 1));
			p += k - 1;
		}
		*p++ = 'e';
		*p++ = e < 0 ? '-' : '+';
		if (e < 0)
			e = -e;
		if (e >= 100)
			*p++ = (char)('0' + e / 100);
		if (e >= 10)
			*p++ = (char)('0' + e / 10 % 10);
		*p++ = (char)('0' + e % 10);
	}
	*p = '\0';
	return (int)(p - buf);
}

static int json_special(double x, char *buf)
{
	const char *s = isnan(x) ? "NaN" : x < 0 ? "-Infinity" : "Infinity";

	strcpy(buf, s);
	return (int)strlen(s);
}

/* Reference method: the first precision P whose correctly rounded %.*e text
 * reads back as X.  glibc's printf is exact; uselocale pins the decimal
 * point to '.'. */
static int json_format_slow(double x, int is_float, char *buf)
{
	char tmp[48], digits[24];
	locale_t loc = json_locale(), old = (locale_t)0;
	int p, k = 0, n, neg = signbit(x) != 0;
	const char *q;

	if (loc)
		old = uselocale(loc);
	for (p = 1; p <= (is_float ? 9 : 17); p++) {
		snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
		if (is_float ? strtof(tmp, NULL) == (float)x : strtod(tmp, NULL) == x)
			break;
	}
	if (loc)
		uselocale(old);
	q = tmp + neg;
	for (; *q && *q != 'e'; q++)
		if (*q >= '0' && *q <= '9')
			digits[k++] = *q;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	n = atoi(q + 1) + 1;
	return json_layout(neg, digits, k, n, buf);
}

/* 10^0..10^60 as the nearest doubles (C literals are correctly rounded). */
static const double json_pow10[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23,
	1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35,
	1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47,
	1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59,
	1e60,
};

static const double json_inv_pow10[] = {
	1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11,
};

static double json_scale(double x, int s)
{
	return s >= 0 ? x * json_pow10[s] : x / json_pow10[-s];
}

/* Is there a multiple of 10^J strictly inside (LS, HS)?  1 yes (the
 * smallest goes to *Q), 0 no, -1 too close to an end to call. */
static inline int json_grid_point(double ls, double hs, double tol, int j, double *q)
{
	/* Multiplying by 10^-j adds one rounding error, well inside tol; a
	 * wrong ceiling can only follow from t within that error of an
	 * integer, and then q lands within tol of ls. */
	double g = json_pow10[j], t = ls * json_inv_pow10[j];
	int64_t c = (int64_t)t;

	if ((double)c < t)
		c++;
	*q = (double)c * g;
	if (fabs(*q - ls) <= tol || fabs(*q - hs) <= tol)
		return -1;
	return *q < hs;
}

int json_format_float(float x, char buf[32])
{
	double d, lo, hi, xs, ls, hs, tol, q, r, g, best_q = 0;
	uint32_t u, un;
	float prev, next;
	int s, e2, neg, j, best = -1, nd = 0, n;
	char digits[24], rev[24];
	uint64_t v;

	if (isnan(x) || isinf(x))
		return json_special(x, buf);
	neg = signbit(x) != 0;
	if (x == 0)
		return json_layout(neg, "0", 1, 1, buf);
	/* Every decimal strictly inside (lo, hi) reads back as x; lo and hi
	 * are the midpoints to the neighbouring floats, exact in double. */
	d = fabsf(x);
	memcpy(&u, &x, sizeof u);
	u &= 0x7fffffff;
	un = u - 1;
	memcpy(&prev, &un, sizeof prev);
	un = u + 1;
	memcpy(&next, &un, sizeof next);
	lo = (d + prev) / 2;
	hi = isinf(next) ? d + (d - prev) / 2 : (d + next) / 2;
	/* Scale so that x has at least 9 digits before the point (float
	 * never needs more, IEEE 754 5.12.2): with 10^k <= x < 10^(k+2) for
	 * k = floor((e2 - 1) log10 2), x * 10^(9 - k) lies in [1e9, 1e11). */
	if (u >> 23)
		e2 = (int)(u >> 23) - 126;
	else
		frexp(d, &e2);
	/* (e * 1233) >> 12 is floor(e log10 2) for |e| < 160 (checked
	 * exhaustively over that range), without libm. */
	s = 9 - (((e2 - 1) * 1233) >> 12);
	xs = json_scale(d, s);
	ls = json_scale(lo, s);
	hs = json_scale(hi, s);
	/* The scaled values are off by a few 2^-53 relative: a grid point
	 * within tol of an end is too close to call and goes to the exact
	 * reference method, as do ends that are themselves grid points
	 * (where round-half-even decides). */
	tol = hs * 0x1p-45;
	/* The coarsest grid 10^j with a point inside (ls, hs) gives the
	 * fewest digits.  A grid no coarser than the interval is wide has
	 * one; a point of grid j+1 is one of grid j, so climb from there. */
	j = 0;
	while (j < 11 && json_pow10[j + 1] <= hs - ls)
		j++;
	for (; j <= 11; j++) {
		int in = json_grid_point(ls, hs, tol, j, &q);

		if (in < 0)
			goto slow;
		if (!in)
			break;
		best = j;
		best_q = q;
	}
	if (best < 0)
		goto slow;
	/* On that grid take the point nearest x. */
	g = json_pow10[best];
	r = (double)(int64_t)(xs * json_inv_pow10[best] + 0.5) * g;
	if (r < best_q)
		r = best_q;
	if (fabs(r - hs) <= tol)
		goto slow;
	if (r > hs)
		r -= g;
	for (v = (uint64_t)(r / g); v; v /= 10)
		rev[nd++] = (char)('0' + v % 10);
	for (int i = 0; i < nd; i++)
		digits[i] = rev[nd - 1 - i];
	/* value = digits * 10^(best - s) = 0.digits * 10^(nd + best - s) */
	n = nd + best - s;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	return json_layout(neg, digits, nd, n, buf);
slow:
	return json_format_slow(x, 1, buf);
}

int json_format_double(double x, char buf[32])
{
	if (isnan(x) || isinf(x))
		return json_special(x, buf);
	if (x == 0)
		return json_layout(signbit(x) != 0, "0", 1, 1, buf);
	return json_format_slow(x, 0, buf);
}

static int json_format_int(int64_t i, char buf[32])
{
	char rev[24];
	uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
	int n = 0, len = 0;

	do {
		rev[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = rev[--n];
	buf[len] = '\0';
	return len;
}

/* ---- parser ------------------------------------------------------------ */

struct json_parser {
	struct json_doc *doc;
	char *base, *p, *end;   /* the doc's NUL-terminated copy of the text */
	int depth;
	const char *why;        /* first error, with its position */
	const char *at;
	char whybuf[96];
};

/* Bytes that may appear unescaped in a string and need no further check. */
static unsigned char json_plain[256];
static pthread_once_t json_plain_once = PTHREAD_ONCE_INIT;

static void json_plain_init(void)
{
	for (int c = 0x20; c < 0x80; c++)
		json_plain[c] = c != '"' && c != '\\';
}

static int json_fail(struct json_parser *ps, const char *at, const char *why)
{
	if (!ps->why) {
		ps->why = why;
		ps->at = at;
	}
	return -1;
}

/* "unexpected X, expected WANT", naming the byte found. */
static int json_unexpected(struct json_parser *ps, const char *at, const char *want)
{
	unsigned char c = (unsigned char)*at;

	if (at >= ps->end)
		snprintf(ps->whybuf, sizeof ps->whybuf, "unexpected end of input, expected %s", want);
	else if (c == 0)
		snprintf(ps->whybuf, sizeof ps->whybuf, "unexpected NUL byte, expected %s", want);
	else if (c < 0x20 || c >= 0x7f)
		snprintf(ps->whybuf, sizeof ps->whybuf, "unexpected byte 0x%02X, expected %s", c, want);
	else
		snprintf(ps->whybuf, sizeof ps->whybuf, "unexpected '%c', expected %s", c, want);
	return json_fail(ps, at, ps->whybuf);
}

static void json_skip_ws(struct json_parser *ps)
{
	char *p = ps->p;

	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	ps->p = p;
}

static int json_hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Decode the string whose opening quote is at ps->p, in place: escapes only
 * shrink text, so the decoded bytes never overtake the reader.  RFC 8259 7. */
static int json_parse_string(struct json_parser *ps, const char **out, size_t *len)
{
	char *r = ps->p + 1, *w = r, *start = r;

	for (;;) {
		char *run = r;
		unsigned char c;

		while (json_plain[(unsigned char)*r])
			r++;
		if (w != run)
			memmove(w, run, (size_t)(r - run));
		w += r - run;
		c = (unsigned char)*r;
		if (c == '"')
			break;
		if (c == '\\') {
			uint32_t cp, lo;

			switch (r[1]) {
			case '"': *w++ = '"'; break;
			case '\\': *w++ = '\\'; break;
			case '/': *w++ = '/'; break;
			case 'b': *w++ = '\b'; break;
			case 'f': *w++ = '\f'; break;
			case 'n': *w++ = '\n'; break;
			case 'r': *w++ = '\r'; break;
			case 't': *w++ = '\t'; break;
			case 'u':
				if (json_hex4(r + 2, &cp))
					return json_fail(ps, r, "bad \\u escape: expected 4 hex digits");
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return json_fail(ps, r, "lone low surrogate in \\u escape");
				if (cp >= 0xd800 && cp <= 0xdbff) {
					/* RFC 8259 7: a character outside the BMP is
					 * a UTF-16 surrogate pair of two escapes. */
					if (r[6] != '\\' || r[7] != 'u' || json_hex4(r + 8, &lo) ||
					    lo < 0xdc00 || lo > 0xdfff)
						return json_fail(ps, r, "lone high surrogate in \\u escape");
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					r += 6;
				}
				w += utf8_encode(cp, w);
				r += 4;
				break;
			default:
				if (r + 1 >= ps->end)
					return json_fail(ps, r + 1, "unterminated string");
				return json_fail(ps, r, "bad escape in string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
			}
			r += 2;
			continue;
		}
		if (c < 0x20) {
			if (r >= ps->end)
				return json_fail(ps, ps->p, "unterminated string");
			if (c == 0)
				return json_fail(ps, r, "NUL byte in string");
			snprintf(ps->whybuf, sizeof ps->whybuf,
				 "unescaped control character U+%04X in string", c);
			return json_fail(ps, r, ps->whybuf);
		}
		{
			uint32_t cp;
			int n = utf8_decode(r, (size_t)(ps->end - r), &cp);

			if (!n)
				return json_fail(ps, r, "invalid UTF-8 in string");
			if (w != r)
				memmove(w, r, (size_t)n);
			w += n;
			r += n;
		}
	}
	*w = '\0';
	*out = start;
	*len = (size_t)(w - start);
	ps->p = r + 1;
	return 0;
}

static int json_parse_value(struct json_parser *ps, struct json_value **out);

static int json_push_item(struct json_doc *doc, struct json_value *v)
{
	if (doc->items_len == doc->items_cap) {
		size_t cap = doc->items_cap ? doc->items_cap * 2 : 256;
		struct json_value **n = realloc(doc->items, cap * sizeof *n);

		if (!n)
			return -1;
		doc->items = n;
		doc->items_cap = cap;
	}
	doc->items[doc->items_len++] = v;
	return 0;
}

static int json_push_member(struct json_doc *doc, const char *key, size_t key_len)
{
	if (doc->members_len == doc->members_cap) {
		size_t cap = doc->members_cap ? doc->members_cap * 2 : 64;
		struct json_member *n = realloc(doc->members, cap * sizeof *n);

		if (!n)
			return -1;
		doc->members = n;
		doc->members_cap = cap;
	}
	doc->members[doc->members_len].key = key;
	doc->members[doc->members_len].key_len = key_len;
	doc->members[doc->members_len].value = NULL;
	doc->members_len++;
	return 0;
}

static int json_enter(struct json_parser *ps)
{
	if (++ps->depth > JSON_MAX_DEPTH)
		return json_fail(ps, ps->p, "nesting deeper than 512 levels");
	return 0;
}

static int json_parse_array(struct json_parser *ps, struct json_value **out)
{
	struct json_doc *doc = ps->doc;
	size_t base = doc->items_len, n;
	struct json_value *arr, *v;

	if (json_enter(ps))
		return -1;
	ps->p++;
	json_skip_ws(ps);
	if (*ps->p != ']') {
		for (;;) {
			if (json_parse_value(ps, &v))
				return -1;
			if (json_push_item(doc, v))
				return json_fail(ps, ps->p, "out of memory");
			json_skip_ws(ps);
			if (*ps->p == ']')
				break;
			if (*ps->p != ',')
				return json_unexpected(ps, ps->p, "',' or ']'");
			ps->p++;
			json_skip_ws(ps);
			if (*ps->p == ']')
				return json_fail(ps, ps->p, "trailing comma before ']'");
		}
	}
	ps->p++;
	ps->depth--;
	n = doc->items_len - base;
	arr = json_alloc_value(doc, K_ARRAY);
	if (!arr)
		return json_fail(ps, ps->p, "out of memory");
	if (n) {
		arr->u.items = json_pool_alloc(&doc->pool, n * sizeof *arr->u.items);
		if (!arr->u.items)
			return json_fail(ps, ps->p, "out of memory");
		memcpy(arr->u.items, doc->items + base, n * sizeof *arr->u.items);
	}
	arr->len = arr->cap = n;
	doc->items_len = base;
	*out = arr;
	return 0;
}

static int json_key_cmp(const void *a, const void *b)
{
	const struct json_member *x = *(const struct json_member *const *)a;
	const struct json_member *y = *(const struct json_member *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int json_same_key(const struct json_member *a, const struct json_member *b)
{
	return a->key_len == b->key_len && !memcmp(a->key, b->key, a->key_len);
}

/* RFC 8259 4 leaves duplicate names to the implementation; we refuse them.
 * Small objects compare pairwise, large ones sort a list of pointers (in
 * member order on ties, so the error names the later occurrence). */
static int json_check_duplicates(struct json_parser *ps, struct json_member *m, size_t n)
{
	const struct json_member *dup = NULL;

	if (n <= 16) {
		for (size_t i = 1; i < n && !dup; i++)
			for (size_t j = 0; j < i; j++)
				if (json_same_key(&m[i], &m[j])) {
					dup = &m[i];
					break;
				}
	} else {
		const struct json_member **order = malloc(n * sizeof *order);

		if (!order)
			return json_fail(ps, ps->p, "out of memory");
		for (size_t i = 0; i < n; i++)
			order[i] = &m[i];
		qsort(order, n, sizeof *order, json_key_cmp);
		for (size_t i = 1; i < n; i++)
			if (json_same_key(order[i - 1], order[i]) && (!dup || order[i] < dup))
				dup = order[i];
		free(order);
	}
	if (dup) {
		snprintf(ps->whybuf, sizeof ps->whybuf, "duplicate member name \"%.*s\"",
			 dup->key_len > 40 ? 40 : (int)dup->key_len, dup->key);
		/* The key was decoded in place just after its opening quote. */
		return json_fail(ps, dup->key - 1, ps->whybuf);
	}
	return 0;
}

static int json_parse_object(struct json_parser *ps, struct json_value **out)
{
	struct json_doc *doc = ps->doc;
	size_t base = doc->members_len, n;
	struct json_value *obj, *v;
	const char *key;
	size_t key_len;

	if (json_enter(ps))
		return -1;
	ps->p++;
	json_skip_ws(ps);
	if (*ps->p != '}') {
		for (;;) {
			if (*ps->p != '"')
				return json_unexpected(ps, ps->p, base == doc->members_len ?
						       "'\"' (a member name) or '}'" : "'\"' (a member name)");
			if (json_parse_string(ps, &key, &key_len))
				return -1;
			if (json_push_member(doc, key, key_len))
				return json_fail(ps, ps->p, "out of memory");
			json_skip_ws(ps);
			if (*ps->p != ':')
				return json_unexpected(ps, ps->p, "':'");
			ps->p++;
			if (json_parse_value(ps, &v))
				return -1;
			/* The scratch may have moved while parsing v. */
			doc->members[doc->members_len - 1].value = v;
			json_skip_ws(ps);
			if (*ps->p == '}')
				break;
			if (*ps->p != ',')
				return json_unexpected(ps, ps->p, "',' or '}'");
			ps->p++;
			json_skip_ws(ps);
			if (*ps->p == '}')
				return json_fail(ps, ps->p, "trailing comma before '}'");
		}
	}
	ps->p++;
	ps->depth--;
	n = doc->members_len - base;
	if (n && json_check_duplicates(ps, doc->members + base, n))
		return -1;
	obj = json_alloc_value(doc, K_OBJECT);
	if (!obj)
		return json_fail(ps, ps->p, "out of memory");
	if (n) {
		obj->u.members = json_pool_alloc(&doc->pool, n * sizeof *obj->u.members);
		if (!obj->u.members)
			return json_fail(ps, ps->p, "out of memory");
		memcpy(obj->u.members, doc->members + base, n * sizeof *obj->u.members);
	}
	obj->len = obj->cap = n;
	doc->members_len = base;
	*out = obj;
	return 0;
}

static int json_parse_literal(struct json_parser *ps, const char *word, enum json_kind kind,
			      int b, struct json_value **out)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return json_fail(ps, ps->p, "invalid literal (expected true, false or null)");
	*out = json_alloc_value(ps->doc, kind);
	if (!*out)
		return json_fail(ps, ps->p, "out of memory");
	(*out)->u.b = b;
	ps->p += n;
	return 0;
}

static int json_parse_value(struct json_parser *ps, struct json_value **out)
{
	struct json_value *v;
	const char *why, *at;
	size_t n;

	json_skip_ws(ps);
	switch (*ps->p) {
	case '{':
		return json_parse_object(ps, out);
	case '[':
		return json_parse_array(ps, out);
	case '"':
		v = json_alloc_value(ps->doc, K_STRING);
		if (!v)
			return json_fail(ps, ps->p, "out of memory");
		if (json_parse_string(ps, &v->u.s, &v->len))
			return -1;
		*out = v;
		return 0;
	case 't':
		return json_parse_literal(ps, "true", K_BOOL, 1, out);
	case 'f':
		return json_parse_literal(ps, "false", K_BOOL, 0, out);
	case 'n':
		return json_parse_literal(ps, "null", K_NULL, 0, out);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		n = json_scan_number(ps->p, ps->end, &why, &at);
		if (!n)
			return json_fail(ps, at, why);
		v = json_alloc_value(ps->doc, K_NUM_TEXT);
		if (!v)
			return json_fail(ps, ps->p, "out of memory");
		v->u.s = ps->p;
		v->len = n;
		ps->p += n;
		*out = v;
		return 0;
	default:
		return json_unexpected(ps, ps->p, "a value");
	}
}

int json_parse_at(struct json_doc *doc, const char *text, size_t len,
		  struct json_value **out, size_t *err_offset, struct lm_error *err)
{
	struct json_parser ps;
	struct json_value *v = NULL;

	pthread_once(&json_plain_once, json_plain_init);
	memset(&ps, 0, sizeof ps);
	ps.doc = doc;
	ps.base = json_strdup(doc, text, len);
	if (!ps.base)
		return lm_fail(err, LM_ENOMEM, "out of memory parsing %zu bytes of JSON", len);
	ps.p = ps.base;
	ps.end = ps.base + len;
	doc->items_len = 0;
	doc->members_len = 0;
	if (json_parse_value(&ps, &v) == 0) {
		json_skip_ws(&ps);
		if (ps.p == ps.end) {
			*out = v;
			return LM_OK;
		}
		json_unexpected(&ps, ps.p, "end of input after the value");
	}
	if (err_offset)
		*err_offset = (size_t)(ps.at - ps.base);
	return lm_fail(err, strcmp(ps.why, "out of memory") ? LM_EFORMAT : LM_ENOMEM, "%s", ps.why);
}

int json_parse(struct json_doc *doc, const char *text, size_t len,
	       struct json_value **out, struct lm_error *err)
{
	size_t off = 0, line = 1, col_start = 0;
	int rc = json_parse_at(doc, text, len, out, &off, err);

	if (rc != LM_EFORMAT)
		return rc;
	for (size_t i = 0; i < off; i++)
		if (text[i] == '\n') {
			line++;
			col_start = i + 1;
		}
	if (!err)
		return rc;
	{
		char msg[sizeof err->msg + 64];

		if (line > 1 || memchr(text + off, '\n', len - off))
			snprintf(msg, sizeof msg, "%s at line %zu, column %zu", err->msg, line,
				 off - col_start + 1);
		else
			snprintf(msg, sizeof msg, "%s at column %zu", err->msg, off + 1);
		return lm_fail(err, rc, "%s", msg);
	}
}

/* ---- inspecting -------------------------------------------------------- */

enum json_type json_type(const struct json_value *v)
{
	if (!v)
		return JSON_NULL;
	switch (v->kind) {
	case K_NULL:
		return JSON_NULL;
	case K_BOOL:
		return JSON_BOOL;
	case K_NUM_TEXT: case K_NUM_INT: case K_NUM_DOUBLE: case K_NUM_FLOAT:
		return JSON_NUMBER;
	case K_STRING:
		return JSON_STRING;
	case K_ARRAY: case K_F32_ARRAY: case K_I32_ARRAY:
		return JSON_ARRAY;
	case K_OBJECT:
		break;
	}
	return JSON_OBJECT;
}

const char *json_type_name(enum json_type t)
{
	static const char *const names[] = { "null", "boolean", "number", "string", "array", "object" };

	return (unsigned)t < 6 ? names[t] : "?";
}

int json_bool(const struct json_value *v)
{
	return v && v->kind == K_BOOL && v->u.b;
}

const char *json_string(const struct json_value *v, size_t *len)
{
	if (!v || v->kind != K_STRING) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = v->len;
	return v->u.s;
}

const char *json_number_text(const struct json_value *v, size_t *len, char buf[32])
{
	size_t n;

	switch (v ? v->kind : K_NULL) {
	case K_NUM_TEXT:
		if (len)
			*len = v->len;
		return v->u.s;
	case K_NUM_INT:
		n = (size_t)json_format_int(v->u.i, buf);
		break;
	case K_NUM_DOUBLE:
		n = (size_t)json_format_double(v->u.d, buf);
		break;
	case K_NUM_FLOAT:
		n = (size_t)json_format_float(v->u.f, buf);
		break;
	default:
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = n;
	return buf;
}

double json_number_double(const struct json_value *v)
{
	double d = 0;

	switch (v ? v->kind : K_NULL) {
	case K_NUM_TEXT:
		json_parse_double(v->u.s, v->len, &d);
		return d;
	case K_NUM_INT:
		return (double)v->u.i;
	case K_NUM_DOUBLE:
		return v->u.d;
	case K_NUM_FLOAT:
		return v->u.f;
	default:
		return 0;
	}
}

static int json_text_int64(const char *s, size_t len, int64_t *out)
{
	uint64_t u = 0, limit;
	size_t i = 0;
	int neg = 0;

	if (len && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == len)
		return LM_EINVAL;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		unsigned dgt;

		if (s[i] < '0' || s[i] > '9')
			return LM_EINVAL;
		dgt = (unsigned)(s[i] - '0');
		if (u > (limit - dgt) / 10)
			return LM_EINVAL;
		u = u * 10 + dgt;
	}
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return LM_OK;
}

int json_number_int64(const struct json_value *v, int64_t *out)
{
	char buf[32];
	const char *t;
	size_t len;

	if (v && v->kind == K_NUM_INT) {
		*out = v->u.i;
		return LM_OK;
	}
	t = json_number_text(v, &len, buf);
	if (!t)
		return LM_EINVAL;
	return json_text_int64(t, len, out);
}

size_t json_array_len(const struct json_value *v)
{
	switch (v ? v->kind : K_NULL) {
	case K_ARRAY: case K_F32_ARRAY: case K_I32_ARRAY:
		return v->len;
	default:
		return 0;
	}
}

/* Give a packed array one value per element, once, from its doc. */
static int json_unpack(struct json_value *v)
{
	struct json_value **items;
	struct json_doc *doc = v->doc;

	if (v->kind == K_ARRAY)
		return 0;
	items = json_pool_alloc(&doc->pool, (v->len ? v->len : 1) * sizeof *items);
	if (!items)
		return -1;
	for (size_t i = 0; i < v->len; i++) {
		struct json_value *e;

		if (v->kind == K_F32_ARRAY) {
			e = json_alloc_value(doc, K_NUM_FLOAT);
			if (e)
				e->u.f = v->u.floats[i];
		} else {
			e = json_alloc_value(doc, K_NUM_INT);
			if (e)
				e->u.i = v->u.ints[i];
		}
		if (!e)
			return -1;
		items[i] = e;
	}
	v->kind = K_ARRAY;
	v->u.items = items;
	v->cap = v->len;
	return 0;
}

struct json_value *json_array_get(const struct json_value *v, size_t i)
{
	if (json_type(v) != JSON_ARRAY || i >= v->len)
		return NULL;
	if (v->kind != K_ARRAY && json_unpack((struct json_value *)v))
		return NULL;
	return v->u.items[i];
}

size_t json_object_len(const struct json_value *v)
{
	return v && v->kind == K_OBJECT ? v->len : 0;
}

const char *json_object_key(const struct json_value *v, size_t i)
{
	return v && v->kind == K_OBJECT && i < v->len ? v->u.members[i].key : NULL;
}

struct json_value *json_object_value(const struct json_value *v, size_t i)
{
	return v && v->kind == K_OBJECT && i < v->len ? v->u.members[i].value : NULL;
}

static struct json_member *json_find(const struct json_value *obj, const char *key)
{
	size_t n = strlen(key);

	if (!obj || obj->kind != K_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->len; i++) {
		struct json_member *m = &obj->u.members[i];

		if (m->key_len == n && !memcmp(m->key, key, n))
			return m;
	}
	return NULL;
}

struct json_value *json_get(const struct json_value *obj, const char *key)
{
	struct json_member *m = json_find(obj, key);

	return m ? m->value : NULL;
}

int json_get_float_array(const struct json_value *v, float *dst, size_t cap, size_t *n,
			 struct lm_error *err)
{
	if (json_type(v) != JSON_ARRAY)
		return lm_fail(err, LM_EINVAL, "expected an array of numbers, got %s",
			       json_type_name(json_type(v)));
	*n = v->len;
	if (v->len > cap)
		return lm_fail(err, LM_ENOMEM, "array of %zu numbers, room for %zu", v->len, cap);
	if (v->kind == K_F32_ARRAY) {
		memcpy(dst, v->u.floats, v->len * sizeof *dst);
		return LM_OK;
	}
	if (v->kind == K_I32_ARRAY) {
		for (size_t i = 0; i < v->len; i++)
			dst[i] = (float)v->u.ints[i];
		return LM_OK;
	}
	for (size_t i = 0; i < v->len; i++) {
		const struct json_value *e = v->u.items[i];

		switch (e->kind) {
		case K_NUM_TEXT:
			if (json_text_to_float(e->u.s, e->len, &dst[i]))
				return lm_fail(err, LM_ENOMEM, "out of memory");
			break;
		case K_NUM_FLOAT:
			dst[i] = e->u.f;
			break;
		case K_NUM_INT: case K_NUM_DOUBLE:
			dst[i] = (float)json_number_double(e);
			break;
		default:
			return lm_fail(err, LM_EINVAL, "element %zu is %s, not a number", i,
				       json_type_name(json_type(e)));
		}
	}
	return LM_OK;
}

int json_get_int_array(const struct json_value *v, int32_t *dst, size_t cap, size_t *n,
		       struct lm_error *err)
{
	if (json_type(v) != JSON_ARRAY)
		return lm_fail(err, LM_EINVAL, "expected an array of integers, got %s",
			       json_type_name(json_type(v)));
	*n = v->len;
	if (v->len > cap)
		return lm_fail(err, LM_ENOMEM, "array of %zu integers, room for %zu", v->len, cap);
	if (v->kind == K_I32_ARRAY) {
		memcpy(dst, v->u.ints, v->len * sizeof *dst);
		return LM_OK;
	}
	for (size_t i = 0; i < v->len; i++) {
		struct json_value *e = json_array_get(v, i);
		int64_t x;

		if (!e)
			return lm_fail(err, LM_ENOMEM, "out of memory");
		if (json_type(e) != JSON_NUMBER)
			return lm_fail(err, LM_EINVAL, "element %zu is %s, not an integer", i,
				       json_type_name(json_type(e)));
		if (json_number_int64(e, &x) || x < INT32_MIN || x > INT32_MAX) {
			char buf[32];
			size_t len;
			const char *t = json_number_text(e, &len, buf);

			return lm_fail(err, LM_EINVAL, "element %zu (%.*s) is not a 32-bit integer",
				       i, len > 40 ? 40 : (int)len, t);
		}
		dst[i] = (int32_t)x;
	}
	return LM_OK;
}

/* ---- building ---------------------------------------------------------- */

struct json_value *json_new_null(struct json_doc *doc)
{
	return json_alloc_value(doc, K_NULL);
}

struct json_value *json_new_bool(struct json_doc *doc, int b)
{
	struct json_value *v = json_alloc_value(doc, K_BOOL);

	if (v)
		v->u.b = !!b;
	return v;
}

struct json_value *json_new_int(struct json_doc *doc, int64_t i)
{
	struct json_value *v = json_alloc_value(doc, K_NUM_INT);

	if (v)
		v->u.i = i;
	return v;
}

struct json_value *json_new_double(struct json_doc *doc, double d)
{
	struct json_value *v = json_alloc_value(doc, K_NUM_DOUBLE);

	if (v)
		v->u.d = d;
	return v;
}

struct json_value *json_new_float(struct json_doc *doc, float f)
{
	struct json_value *v = json_alloc_value(doc, K_NUM_FLOAT);

	if (v)
		v->u.f = f;
	return v;
}

struct json_value *json_new_number_text(struct json_doc *doc, const char *text, size_t len)
{
	const char *why, *at;
	struct json_value *v;

	if (!len || json_scan_number(text, text + len, &why, &at) != len)
		return NULL;
	v = json_alloc_value(doc, K_NUM_TEXT);
	if (!v)
		return NULL;
	v->u.s = json_strdup(doc, text, len);
	v->len = len;
	return v->u.s ? v : NULL;
}

struct json_value *json_new_string(struct json_doc *doc, const char *s, size_t len)
{
	struct json_value *v;

	if (utf8_validate(s, len) != len)
		return NULL;
	v = json_alloc_value(doc, K_STRING);
	if (!v)
		return NULL;
	v->u.s = json_strdup(doc, s, len);
	v->len = len;
	return v->u.s ? v : NULL;
}

struct json_value *json_new_array(struct json_doc *doc)
{
	return json_alloc_value(doc, K_ARRAY);
}

struct json_value *json_new_object(struct json_doc *doc)
{
	return json_alloc_value(doc, K_OBJECT);
}

static struct json_value *json_new_packed(struct json_doc *doc, enum json_kind kind,
					  const void *src, size_t n, size_t size)
{
	struct json_value *v = json_alloc_value(doc, kind);
	void *data;

	if (!v)
		return NULL;
	data = json_pool_alloc(&doc->pool, n ? n * size : 1);
	if (!data)
		return NULL;
	if (n)
		memcpy(data, src, n * size);
	if (kind == K_F32_ARRAY)
		v->u.floats = data;
	else
		v->u.ints = data;
	v->len = v->cap = n;
	v->doc = doc;
	return v;
}

struct json_value *json_new_float_array(struct json_doc *doc, const float *f, size_t n)
{
	return json_new_packed(doc, K_F32_ARRAY, f, n, sizeof *f);
}

struct json_value *json_new_int_array(struct json_doc *doc, const int32_t *v, size_t n)
{
	return json_new_packed(doc, K_I32_ARRAY, v, n, sizeof *v);
}

static int json_copy_rec(struct json_doc *doc, const struct json_value *v, struct json_value **out,
			 int depth);

struct json_value *json_copy(struct json_doc *doc, const struct json_value *v)
{
	struct json_value *c = NULL;

	return json_copy_rec(doc, v, &c, 0) ? NULL : c;
}

static int json_copy_rec(struct json_doc *doc, const struct json_value *v, struct json_value **out,
			 int depth)
{
	struct json_value *c;

	if (depth > JSON_MAX_DEPTH)
		return -1;
	switch (v->kind) {
	case K_F32_ARRAY:
		c = json_new_float_array(doc, v->u.floats, v->len);
		break;
	case K_I32_ARRAY:
		c = json_new_int_array(doc, v->u.ints, v->len);
		break;
	default:
		c = json_alloc_value(doc, v->kind);
		if (!c)
			return -1;
		c->u = v->u;
		c->len = v->len;
		c->cap = v->len;
		if (v->kind == K_NUM_TEXT || v->kind == K_STRING) {
			c->u.s = json_strdup(doc, v->u.s, v->len);
			if (!c->u.s)
				return -1;
		} else if (v->kind == K_ARRAY && v->len) {
			c->u.items = json_pool_alloc(&doc->pool, v->len * sizeof *c->u.items);
			if (!c->u.items)
				return -1;
			for (size_t i = 0; i < v->len; i++)
				if (json_copy_rec(doc, v->u.items[i], &c->u.items[i], depth + 1))
					return -1;
		} else if (v->kind == K_OBJECT && v->len) {
			c->u.members = json_pool_alloc(&doc->pool, v->len * sizeof *c->u.members);
			if (!c->u.members)
				return -1;
			for (size_t i = 0; i < v->len; i++) {
				struct json_member *m = &c->u.members[i];

				m->key_len = v->u.members[i].key_len;
				m->key = json_strdup(doc, v->u.members[i].key, m->key_len);
				if (!m->key || json_copy_rec(doc, v->u.members[i].value, &m->value, depth + 1))
					return -1;
			}
		}
	}
	if (!c)
		return -1;
	*out = c;
	return 0;
}

/* Make room for one more element or member, doubling in the arena (the old
 * array is left to the arena). */
static int json_grow(struct json_doc *doc, struct json_value *v, size_t size)
{
	size_t cap;
	void *n, *old = v->kind == K_OBJECT ? (void *)v->u.members : (void *)v->u.items;

	if (v->len < v->cap)
		return 0;
	cap = v->cap ? v->cap * 2 : 8;
	n = json_pool_alloc(&doc->pool, cap * size);
	if (!n)
		return -1;
	if (v->len)
		memcpy(n, old, v->len * size);
	if (v->kind == K_OBJECT)
		v->u.members = n;
	else
		v->u.items = n;
	v->cap = cap;
	return 0;
}

int json_array_append(struct json_doc *doc, struct json_value *arr, struct json_value *v)
{
	if (!v)
		return LM_ENOMEM;
	if (json_type(arr) != JSON_ARRAY)
		return LM_EINVAL;
	if (arr->kind != K_ARRAY) {
		arr->doc = doc;
		if (json_unpack(arr))
			return LM_ENOMEM;
	}
	if (json_grow(doc, arr, sizeof *arr->u.items))
		return LM_ENOMEM;
	arr->u.items[arr->len++] = v;
	return LM_OK;
}

int json_object_insert(struct json_doc *doc, struct json_value *obj, size_t pos,
		       const char *key, struct json_value *v)
{
	struct json_member *m;
	size_t klen = strlen(key);

	if (!v)
		return LM_ENOMEM;
	if (obj->kind != K_OBJECT || json_find(obj, key))
		return LM_EINVAL;
	if (json_grow(doc, obj, sizeof *obj->u.members))
		return LM_ENOMEM;
	if (pos > obj->len)
		pos = obj->len;
	m = obj->u.members;
	memmove(m + pos + 1, m + pos, (obj->len - pos) * sizeof *m);
	m[pos].key = json_strdup(doc, key, klen);
	if (!m[pos].key) {
		memmove(m + pos, m + pos + 1, (obj->len - pos) * sizeof *m);
		return LM_ENOMEM;
	}
	m[pos].key_len = klen;
	m[pos].value = v;
	obj->len++;
	return LM_OK;
}

int json_object_set(struct json_doc *doc, struct json_value *obj, const char *key,
		    struct json_value *v)
{
	struct json_member *m;

	if (!v)
		return LM_ENOMEM;
	if (obj->kind != K_OBJECT)
		return LM_EINVAL;
	m = json_find(obj, key);
	if (m) {
		m->value = v;
		return LM_OK;
	}
	return json_object_insert(doc, obj, obj->len, key, v);
}

int json_object_rename(struct json_doc *doc, struct json_value *obj, const char *from,
		       const char *to)
{
	struct json_member *m = json_find(obj, from);
	const char *k;

	if (!m || json_find(obj, to))
		return LM_EINVAL;
	k = json_strdup(doc, to, strlen(to));
	if (!k)
		return LM_ENOMEM;
	m->key = k;
	m->key_len = strlen(to);
	return LM_OK;
}

int json_object_remove(struct json_value *obj, const char *key)
{
	struct json_member *m = json_find(obj, key);
	size_t i;

	if (!m)
		return 0;
	i = (size_t)(m - obj->u.members);
	memmove(m, m + 1, (obj->len - i - 1) * sizeof *m);
	obj->len--;
	return 1;
}

static int json_equal_rec(const struct json_value *a, const struct json_value *b, int depth)
{
	enum json_type t = json_type(a);

	if (t != json_type(b) || depth > JSON_MAX_DEPTH)
		return 0;
	switch (t) {
	case JSON_NULL:
		return 1;
	case JSON_BOOL:
		return a->u.b == b->u.b;
	case JSON_NUMBER: {
		char ba[32], bb[32];
		size_t la, lb;
		const char *ta = json_number_text(a, &la, ba), *tb = json_number_text(b, &lb, bb);
		int64_t ia, ib;

		if (la == lb && !memcmp(ta, tb, la))
			return 1;
		if (!json_number_int64(a, &ia) && !json_number_int64(b, &ib))
			return ia == ib;
		return json_number_double(a) == json_number_double(b);
	}
	case JSON_STRING:
		return a->len == b->len && !memcmp(a->u.s, b->u.s, a->len);
	case JSON_ARRAY:
		if (a->len != b->len)
			return 0;
		for (size_t i = 0; i < a->len; i++) {
			const struct json_value *x = json_array_get(a, i), *y = json_array_get(b, i);

			if (!x || !y || !json_equal_rec(x, y, depth + 1))
				return 0;
		}
		return 1;
	case JSON_OBJECT:
		if (a->len != b->len)
			return 0;
		for (size_t i = 0; i < a->len; i++) {
			const struct json_member *x = &a->u.members[i], *y = &b->u.members[i];

			if (!json_same_key(x, y) || !json_equal_rec(x->value, y->value, depth + 1))
				return 0;
		}
		return 1;
	}
	return 0;
}

int json_equal(const struct json_value *a, const struct json_value *b)
{
	return json_equal_rec(a, b, 0);
}

/* ---- writing ----------------------------------------------------------- */

/* Output goes either to a struct output or to a growing heap string. */
struct json_sink {
	struct output *out;
	char *buf;
	size_t len, cap;
	struct lm_error *err;
};

static int json_put(struct json_sink *s, const void *p, size_t n)
{
	if (s->out)
		return output_write(s->out, p, n, s->err);
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		char *nb;

		while (cap < s->len + n + 1)
			cap *= 2;
		nb = realloc(s->buf, cap);
		if (!nb)
			return lm_fail(s->err, LM_ENOMEM, "out of memory writing JSON");
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return LM_OK;
}

/* RFC 8259 7: '"', '\\' and U+0000..U+001F must be escaped; everything
 * else may appear as is, so UTF-8 passes through untouched. */
static int json_put_string(struct json_sink *s, const char *str, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;
	int rc;

	if ((rc = json_put(s, "\"", 1)))
		return rc;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		char esc[6];
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (i > run && (rc = json_put(s, str + run, i - run)))
			return rc;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		if ((rc = json_put(s, esc, n)))
			return rc;
		run = i + 1;
	}
	if (len > run && (rc = json_put(s, str + run, len - run)))
		return rc;
	return json_put(s, "\"", 1);
}

static int json_not_finite(struct json_sink *s, const char *key, double x)
{
	char name[32];

	json_special(x, name);
	if (key)
		return lm_fail(s->err, LM_EINVAL, "member \"%.64s\": %s is not a JSON number", key, name);
	return lm_fail(s->err, LM_EINVAL, "%s is not a JSON number", name);
}

static int json_put_value(struct json_sink *s, const struct json_value *v, const char *key, int depth)
{
	char buf[48];
	size_t n;
	int rc = LM_OK;

	if (depth > JSON_MAX_DEPTH)
		return lm_fail(s->err, LM_EINVAL, "value nested deeper than %d levels", JSON_MAX_DEPTH);
	switch (v->kind) {
	case K_NULL:
		return json_put(s, "null", 4);
	case K_BOOL:
		return v->u.b ? json_put(s, "true", 4) : json_put(s, "false", 5);
	case K_NUM_TEXT:
		return json_put(s, v->u.s, v->len);
	case K_NUM_INT:
		n = (size_t)json_format_int(v->u.i, buf);
		return json_put(s, buf, n);
	case K_NUM_DOUBLE:
		if (!isfinite(v->u.d))
			return json_not_finite(s, key, v->u.d);
		n = (size_t)json_format_double(v->u.d, buf);
		return json_put(s, buf, n);
	case K_NUM_FLOAT:
		if (!isfinite(v->u.f))
			return json_not_finite(s, key, v->u.f);
		n = (size_t)json_format_float(v->u.f, buf);
		return json_put(s, buf, n);
	case K_STRING:
		return json_put_string(s, v->u.s, v->len);
	case K_F32_ARRAY:
	case K_I32_ARRAY:
		if ((rc = json_put(s, "[", 1)))
			return rc;
		for (size_t i = 0; i < v->len; i++) {
			if (v->kind == K_F32_ARRAY) {
				if (!isfinite(v->u.floats[i]))
					return json_not_finite(s, key, v->u.floats[i]);
				n = (size_t)json_format_float(v->u.floats[i], buf + 1);
			} else {
				n = (size_t)json_format_int(v->u.ints[i], buf + 1);
			}
			buf[0] = ',';
			if ((rc = i ? json_put(s, buf, n + 1) : json_put(s, buf + 1, n)))
				return rc;
		}
		return json_put(s, "]", 1);
	case K_ARRAY:
		if ((rc = json_put(s, "[", 1)))
			return rc;
		for (size_t i = 0; i < v->len; i++) {
			if (i && (rc = json_put(s, ",", 1)))
				return rc;
			if ((rc = json_put_value(s, v->u.items[i], key, depth + 1)))
				return rc;
		}
		return json_put(s, "]", 1);
	case K_OBJECT:
		if ((rc = json_put(s, "{", 1)))
			return rc;
		for (size_t i = 0; i < v->len; i++) {
			const struct json_member *m = &v->u.members[i];

			if (i && (rc = json_put(s, ",", 1)))
				return rc;
			if ((rc = json_put_string(s, m->key, m->key_len)) ||
			    (rc = json_put(s, ":", 1)) ||
			    (rc = json_put_value(s, m->value, m->key, depth + 1)))
				return rc;
		}
		return json_put(s, "}", 1);
	}
	return rc;
}

int json_write(struct output *out, const struct json_value *v, struct lm_error *err)
{
	struct json_sink s = { .out = out, .err = err };

	return json_put_value(&s, v, NULL, 0);
}

char *json_to_string(const struct json_value *v, size_t *len, struct lm_error *err)
{
	struct json_sink s = { .err = err };

	if (json_put_value(&s, v, NULL, 0) || json_put(&s, "", 0)) {
		free(s.buf);
		return NULL;
	}
	s.buf[s.len] = '\0';
	if (len)
		*len = s.len;
	return s.buf;
}

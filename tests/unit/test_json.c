/* test_json.c - json.c against RFC 8259 cases written by hand, and float
 * formatting against the C library's exact printf/strtof as the reference. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "tap.h"

static struct json_doc *doc;

/* Parse TEXT and write it back; "ERR: message" on failure. */
static char *roundtrip(const char *text, size_t len)
{
	static char out[4096];
	struct lm_error err = { 0 };
	struct json_value *v;
	char *s;

	json_doc_reset(doc);
	if (json_parse(doc, text, len, &v, &err)) {
		snprintf(out, sizeof out, "ERR: %s", err.msg);
		return out;
	}
	s = json_to_string(v, NULL, &err);
	snprintf(out, sizeof out, "%s", s ? s : "WRITE FAILED");
	free(s);
	return out;
}

#define RT(text, want) is_str(roundtrip(text, sizeof(text) - 1), want, "%s", #text)

static void test_valid(void)
{
	struct json_doc *fresh = json_doc_new();
	struct json_value *v;
	struct lm_error err = { 0 };

	/* Found by fuzz_ndjson: an empty object first in a new doc. */
	ok(!json_parse(fresh, "{}", 2, &v, &err) && json_object_len(v) == 0, "{} in a fresh doc");
	json_doc_free(fresh);
	RT("  {\"a\" : [1, 2.5e3 ,-0, 0.1000, 1e400, 1E-7, true,false,null] } ",
	   "{\"a\":[1,2.5e3,-0,0.1000,1e400,1E-7,true,false,null]}");
	RT("[]", "[]");
	RT("{}", "{}");
	RT("[[],{},[{}]]", "[[],{},[{}]]");
	RT("0", "0");
	RT("-0.0e+0", "-0.0e+0");
	RT("\"\"", "\"\"");
	RT("\r\n\t 7 \n", "7");
	RT("123456789012345678901234567890", "123456789012345678901234567890");
	RT("\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\"", "\"\xc3\xa9\xf0\x9f\x98\x80\\n\\t\\\"\\\\/\"");
	RT("\"\\u0000\"", "\"\\u0000\"");
	RT("\"\\u001f\\b\\f\\r\"", "\"\\u001f\\b\\f\\r\"");
	RT("\"\\u007f\\u20ac\"", "\"\x7f\xe2\x82\xac\"");
	RT("\"\\uD834\\uDD1E\"", "\"\xf0\x9d\x84\x9e\"");
	RT("\"\xe2\x80\xa8 \xf4\x8f\xbf\xbf\"", "\"\xe2\x80\xa8 \xf4\x8f\xbf\xbf\"");
	RT("{\"\":1,\"a\\u0062\":{\"c\":[\"d\"]}}", "{\"\":1,\"ab\":{\"c\":[\"d\"]}}");
}

static void test_invalid(void)
{
	RT("{\"a\":1,}", "ERR: trailing comma before '}' at column 8");
	RT("[1,]", "ERR: trailing comma before ']' at column 4");
	RT("[01]", "ERR: leading zero in number at column 2");
	RT("[-01]", "ERR: leading zero in number at column 3");
	RT("[1.]", "ERR: expected a digit after '.' at column 4");
	RT("[.5]", "ERR: unexpected '.', expected a value at column 2");
	RT("[-]", "ERR: expected a digit at column 3");
	RT("-", "ERR: expected a digit at column 2");
	RT("[1e]", "ERR: expected a digit in exponent at column 4");
	RT("[1e+]", "ERR: expected a digit in exponent at column 5");
	RT("+1", "ERR: unexpected '+', expected a value at column 1");
	RT("0x10", "ERR: unexpected 'x', expected end of input after the value at column 2");
	RT("NaN", "ERR: unexpected 'N', expected a value at column 1");
	RT("[Infinity]", "ERR: unexpected 'I', expected a value at column 2");
	RT("{\"a\" 1}", "ERR: unexpected '1', expected ':' at column 6");
	RT("{\"a\":1 \"b\":2}", "ERR: unexpected '\"', expected ',' or '}' at column 8");
	RT("{1:2}", "ERR: unexpected '1', expected '\"' (a member name) or '}' at column 2");
	RT("{\"a\":1,2}", "ERR: unexpected '2', expected '\"' (a member name) at column 8");
	RT("{'a':1}", "ERR: unexpected ''', expected '\"' (a member name) or '}' at column 2");
	RT("[1 2]", "ERR: unexpected '2', expected ',' or ']' at column 4");
	RT("{\"a\":1,\"a\":2}", "ERR: duplicate member name \"a\" at column 8");
	RT("[\"\\ud800\"]", "ERR: lone high surrogate in \\u escape at column 3");
	RT("[\"\\ud800\\u0041\"]", "ERR: lone high surrogate in \\u escape at column 3");
	RT("[\"\\udc00\"]", "ERR: lone low surrogate in \\u escape at column 3");
	RT("[\"\\x\"]", "ERR: bad escape in string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) at column 3");
	RT("[\"\\u12\"]", "ERR: bad \\u escape: expected 4 hex digits at column 3");
	RT("[\"\\u12G4\"]", "ERR: bad \\u escape: expected 4 hex digits at column 3");
	RT("[\"a\tb\"]", "ERR: unescaped control character U+0009 in string at column 4");
	RT("[\"a\nb\"]", "ERR: unescaped control character U+000A in string at line 1, column 4");
	RT("[\"a", "ERR: unterminated string at column 2");
	RT("[\"a\\", "ERR: unterminated string at column 5");
	RT("[\"a\0b\"]", "ERR: NUL byte in string at column 4");
	RT("[1,\0]", "ERR: unexpected NUL byte, expected a value at column 4");
	RT("[\"\xc3\x28\"]", "ERR: invalid UTF-8 in string at column 3");
	RT("[\"\xed\xa0\x80\"]", "ERR: invalid UTF-8 in string at column 3");
	RT("[\"\xc0\xaf\"]", "ERR: invalid UTF-8 in string at column 3");
	RT("[\"\xe2\x82\"]", "ERR: invalid UTF-8 in string at column 3");
	RT("[1] x", "ERR: unexpected 'x', expected end of input after the value at column 5");
	RT("[1][2]", "ERR: unexpected '[', expected end of input after the value at column 4");
	RT("", "ERR: unexpected end of input, expected a value at column 1");
	RT("   ", "ERR: unexpected end of input, expected a value at column 4");
	RT("[1,2", "ERR: unexpected end of input, expected ',' or ']' at column 5");
	RT("{\"a\":", "ERR: unexpected end of input, expected a value at column 6");
	RT("tru", "ERR: invalid literal (expected true, false or null) at column 1");
	RT("[nul]", "ERR: invalid literal (expected true, false or null) at column 2");
	RT("True", "ERR: unexpected 'T', expected a value at column 1");
	RT("/* c */ 1", "ERR: unexpected '/', expected a value at column 1");
	RT("\xef\xbb\xbf[]", "ERR: unexpected byte 0xEF, expected a value at column 1");
	RT("[1,\n 2,\n x]", "ERR: unexpected 'x', expected a value at line 3, column 2");
	RT("[\v1]", "ERR: unexpected byte 0x0B, expected a value at column 2");
}

static void test_limits(void)
{
	enum { N = 100000 };
	char *deep = malloc(2 * N + 1);
	struct lm_error err = { 0 };
	struct json_value *v;
	char text[2048], want[128];
	size_t n = 0;

	/* JSON_MAX_DEPTH levels parse; one more is refused at its bracket. */
	memset(deep, '[', 512);
	memset(deep + 512, ']', 512);
	json_doc_reset(doc);
	is_int(json_parse(doc, deep, 1024, &v, &err), LM_OK, "512 nested arrays parse");
	memset(deep, '[', 513);
	memset(deep + 513, ']', 513);
	is_str(roundtrip(deep, 1026), "ERR: nesting deeper than 512 levels at column 513",
	       "513 nested arrays are refused");
	for (size_t i = 0; i < N; i++)
		memcpy(deep + 2 * i, "{\"", 2);
	is_int(json_parse(doc, deep, 2 * N, &v, &err), LM_EFORMAT,
	       "100000 nested objects are refused without exhausting the stack");
	free(deep);

	/* Objects above 16 members check duplicates by sorting. */
	n += (size_t)sprintf(text + n, "{");
	for (int i = 0; i < 40; i++)
		n += (size_t)sprintf(text + n, "\"k%d\":%d,", i, i);
	n += (size_t)sprintf(text + n, "\"k5\":0,\"k7\":0}");
	snprintf(want, sizeof want, "ERR: duplicate member name \"k5\" at column %zu",
		 n - strlen("\"k5\":0,\"k7\":0}") + 1);
	is_str(roundtrip(text, n), want, "duplicate in a 42-member object (first one named)");
	text[n - strlen("\"k5\":0,\"k7\":0}") + 2] = 'x';
	text[n - strlen("\"k7\":0}") + 2] = 'y';
	ok(strncmp(roundtrip(text, n), "ERR", 3) != 0, "42 distinct members parse");
}

static void test_numbers(void)
{
	struct lm_error err = { 0 };
	struct json_value *v;
	int64_t i;
	double d;
	float f;
	locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);

	json_doc_reset(doc);
	static const char nums[] = "[0.1, 1e400, -0, 9223372036854775807, 9223372036854775808,"
		" -9223372036854775808, 1.0, 1e2, 123456789012345678901234567890]";

	ok(!json_parse(doc, nums, sizeof nums - 1, &v, &err),
	   "number array parses");
	is_int(json_array_len(v), 9, "9 elements");
	ok(json_number_double(json_array_get(v, 0)) == 0.1, "0.1 as double");
	ok(isinf(json_number_double(json_array_get(v, 1))), "1e400 as double is inf");
	ok(signbit(json_number_double(json_array_get(v, 2))), "-0 keeps its sign");
	ok(!json_number_int64(json_array_get(v, 3), &i) && i == INT64_MAX, "INT64_MAX");
	is_int(json_number_int64(json_array_get(v, 4), &i), LM_EINVAL, "INT64_MAX + 1 refused");
	ok(!json_number_int64(json_array_get(v, 5), &i) && i == INT64_MIN, "INT64_MIN");
	is_int(json_number_int64(json_array_get(v, 6), &i), LM_EINVAL, "1.0 is not an int64");
	is_int(json_number_int64(json_array_get(v, 7), &i), LM_EINVAL, "1e2 is not an int64");
	ok(json_number_double(json_array_get(v, 8)) == strtod_l("123456789012345678901234567890", NULL, c),
	   "30-digit integer as double");

	/* Correct rounding against strtof/strtod in the C locale, including
	 * inputs that take the exact fast path next to float midpoints:
	 * 16777217 lies halfway between floats 16777216 and 16777218. */
	static const char *const cases[] = {
		"16777217", "16777217.00000001", "16777216.99999999", "16777219",
		"0.1", "0.3", "3.4028235e38", "3.4028236e38", "1e39", "1.17549435e-38",
		"1e-45", "7e-46", "1.4e-45", "0.7006492321624085e-45", "2.5e-3", "-1.5",
		"9007199254740993", "1e23", "8.589973e9", "1.00000005960464477539062500",
		"0.000000000000000000000000000000000000000000001", "4.9406564584124654e-324",
		"2.2250738585072011e-308", "1.7976931348623157e308", "1.7976931348623159e308",
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		const char *s = cases[k];
		float want_f = strtof_l(s, NULL, c);
		double want_d = strtod_l(s, NULL, c);

		ok(!json_parse_float(s, strlen(s), &f) && !memcmp(&f, &want_f, sizeof f),
		   "json_parse_float(%s) == strtof", s);
		ok(!json_parse_double(s, strlen(s), &d) && !memcmp(&d, &want_d, sizeof d),
		   "json_parse_double(%s) == strtod", s);
	}
	{
		/* Random short decimals, the shape embeddings are written in. */
		unsigned seed = 12345, bad_f = 0, bad_d = 0;

		for (int k = 0; k < 200000; k++) {
			char s[64];
			float wf;
			double wd;

			seed = seed * 1103515245u + 12345u;
			snprintf(s, sizeof s, "%s%u.%0*ue%d", (seed >> 3) & 1 ? "-" : "",
				 (seed >> 8) % 1000, (int)(seed >> 4) % 9 + 1, seed % 1000000000u,
				 (int)((seed >> 12) % 90) - 50);
			wf = strtof_l(s, NULL, c);
			wd = strtod_l(s, NULL, c);
			if (json_parse_float(s, strlen(s), &f) || memcmp(&f, &wf, sizeof f))
				bad_f++;
			if (json_parse_double(s, strlen(s), &d) || memcmp(&d, &wd, sizeof d))
				bad_d++;
		}
		is_int(bad_f, 0, "200000 random decimals: json_parse_float == strtof");
		is_int(bad_d, 0, "200000 random decimals: json_parse_double == strtod");
	}
	is_int(json_parse_double("1.", 2, &d), LM_EINVAL, "json_parse_double refuses 1.");
	is_int(json_parse_float(" 1", 2, &f), LM_EINVAL, "json_parse_float refuses leading space");
	is_int(json_parse_float("", 0, &f), LM_EINVAL, "json_parse_float refuses empty");
	freelocale(c);
}

static const char *ffmt(float x)
{
	static char buf[32];

	json_format_float(x, buf);
	return buf;
}

static const char *dfmt(double x)
{
	static char buf[32];

	json_format_double(x, buf);
	return buf;
}

/* Significant digits in a formatted number. */
static int sig_digits(const char *s)
{
	int n = 0, started = 0;

	for (; *s && *s != 'e'; s++) {
		if (*s >= '1' && *s <= '9')
			started = 1;
		if (started && *s >= '0' && *s <= '9')
			n++;
	}
	return n;
}

/* X round-trips through its text, and P-1 digits (P its digit count) do not:
 * the reference is glibc's exact %.*e and strtof. */
static int check_float(float x, locale_t c)
{
	char buf[32], ref[64];
	float back;
	int p;
	const char *q;

	json_format_float(x, buf);
	back = strtof_l(buf, NULL, c);
	if (memcmp(&back, &x, sizeof x))
		return 0;
	p = sig_digits(buf);
	/* An integer like "100" has trailing zeros that are not needed. */
	q = strchr(buf, '.');
	if (!q && !strchr(buf, 'e'))
		for (const char *e = buf + strlen(buf) - 1; p > 1 && *e == '0'; e--)
			p--;
	if (p > 1) {
		locale_t old = uselocale(c);

		snprintf(ref, sizeof ref, "%.*e", p - 2, (double)x);
		uselocale(old);
		back = strtof_l(ref, NULL, c);
		if (back == x)
			return 0;
	}
	return 1;
}

static int check_double(double x, locale_t c)
{
	char buf[32], ref[64];
	double back;
	int p;

	json_format_double(x, buf);
	back = strtod_l(buf, NULL, c);
	if (memcmp(&back, &x, sizeof x))
		return 0;
	p = sig_digits(buf);
	if (!strchr(buf, '.') && !strchr(buf, 'e'))
		for (const char *e = buf + strlen(buf) - 1; p > 1 && *e == '0'; e--)
			p--;
	if (p > 1) {
		locale_t old = uselocale(c);

		snprintf(ref, sizeof ref, "%.*e", p - 2, x);
		uselocale(old);
		if (strtod_l(ref, NULL, c) == x)
			return 0;
	}
	return 1;
}

static void test_format(void)
{
	locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	unsigned bad = 0, seed = 99;
	uint32_t bits;
	float x;

	is_str(ffmt(0.1f), "0.1", "0.1f");
	is_str(ffmt(1.0f), "1", "1.0f");
	is_str(ffmt(0.0f), "0", "0.0f");
	is_str(ffmt(-0.0f), "-0", "-0.0f");
	is_str(ffmt(-2.5f), "-2.5", "-2.5f");
	is_str(ffmt(100.0f), "100", "100.0f");
	is_str(ffmt(0.3f), "0.3", "0.3f");
	is_str(ffmt(123456.7f), "123456.7", "123456.7f");
	is_str(ffmt(16777216.0f), "16777216", "2^24");
	is_str(ffmt(FLT_MAX), "3.4028235e+38", "FLT_MAX");
	is_str(ffmt(FLT_MIN), "1.1754944e-38", "FLT_MIN");
	is_str(ffmt(1e-45f), "1e-45", "smallest denormal");
	is_str(ffmt(1e-6f), "0.000001", "1e-6 plain");
	is_str(ffmt(1e-7f), "1e-7", "1e-7 in exponent form");
	is_str(ffmt(1e20f), "100000000000000000000", "1e20 plain");
	is_str(ffmt(1e21f), "1e+21", "1e21 in exponent form");
	is_str(ffmt(0.333333343f), "0.33333334", "1/3f needs 8 digits");
	is_str(ffmt(NAN), "NaN", "NaN text (refused by the writer)");
	is_str(ffmt(-INFINITY), "-Infinity", "-inf text");

	is_str(dfmt(0.1), "0.1", "0.1");
	is_str(dfmt(1.0 / 3), "0.3333333333333333", "1/3");
	is_str(dfmt(1e300), "1e+300", "1e300");
	is_str(dfmt(5e-324), "5e-324", "smallest double denormal");
	is_str(dfmt(DBL_MAX), "1.7976931348623157e+308", "DBL_MAX");
	is_str(dfmt(9007199254740992.0), "9007199254740992", "2^53");
	is_str(dfmt(123e-20), "1.23e-18", "1.23e-18");
	is_str(dfmt(-0.0), "-0", "-0.0");
	is_str(dfmt(0.1 + 0.2), "0.30000000000000004", "0.1 + 0.2");

	static const float edges[] = {
		FLT_MAX, FLT_MIN, 1e-45f, 0.1f, -0.0f, 0.0f, 3e-45f, 1.1754942e-38f,
		16777215.0f, 16777217.0f, 33554430.0f, 8388608.5f, 1e10f, 1e-10f, 0.5f, 65504.0f,
		2.0f, 4.0f, 8.0f, 1024.0f, 0.125f, 9.999999e-5f, 1e-5f, 3.3554432e7f,
	};
	for (size_t k = 0; k < sizeof edges / sizeof *edges; k++)
		ok(check_float(edges[k], c) && check_float(-edges[k], c),
		   "edge float %a round-trips with the fewest digits (%s)", edges[k], ffmt(edges[k]));

	/* Random bit patterns cover every binade, denormals included. */
	for (int k = 0; k < 300000; k++) {
		seed = seed * 1664525u + 1013904223u;
		bits = seed;
		memcpy(&x, &bits, sizeof x);
		if (!isfinite(x))
			continue;
		if (!check_float(x, c) && bad++ < 5)
			diag("float %a -> %s", x, ffmt(x));
	}
	/* Powers of two: the rounding interval is lopsided there. */
	for (int e = -149; e <= 127; e++) {
		x = ldexpf(1.0f, e);
		if (!check_float(x, c) && bad++ < 5)
			diag("float %a -> %s", x, ffmt(x));
	}
	/* Typical embedding values: uniform in (-1, 1). */
	for (int k = 0; k < 200000; k++) {
		seed = seed * 1664525u + 1013904223u;
		x = (float)((double)seed / 4294967296.0 * 2 - 1);
		if (!check_float(x, c) && bad++ < 5)
			diag("float %a -> %s", x, ffmt(x));
	}
	is_int(bad, 0, "500000+ floats: parse(format(x)) == x bit-exactly and fewest digits");

	bad = 0;
	for (int k = 0; k < 20000; k++) {
		uint64_t b64;
		double d;

		seed = seed * 1664525u + 1013904223u;
		b64 = (uint64_t)seed << 32;
		seed = seed * 1664525u + 1013904223u;
		b64 |= seed;
		memcpy(&d, &b64, sizeof d);
		if (isfinite(d) && !check_double(d, c) && bad++ < 5)
			diag("double %a -> %s", d, dfmt(d));
	}
	is_int(bad, 0, "20000 random doubles round-trip with the fewest digits");
	freelocale(c);
}

static void test_build(void)
{
	struct lm_error err = { 0 };
	struct json_value *o, *a, *v;
	static const float emb[] = { 0.1f, -2.5f, 1e-45f, 0.333333343f };
	static const int32_t toks[] = { 1, -2, 2147483647 };
	float back[4];
	int32_t ib[3];
	size_t n;
	char *s;

	json_doc_reset(doc);
	o = json_new_object(doc);
	ok(!json_object_set(doc, o, "b", json_new_int(doc, 1)), "set b");
	ok(!json_object_set(doc, o, "a", json_new_string(doc, "x\"y\\\n\x01\xc3\xa9", 8)), "set a");
	ok(!json_object_set(doc, o, "c", json_new_bool(doc, 1)), "set c");
	ok(!json_object_set(doc, o, "b", json_new_null(doc)), "replace b");
	s = json_to_string(o, NULL, &err);
	is_str(s, "{\"b\":null,\"a\":\"x\\\"y\\\\\\n\\u0001\xc3\xa9\",\"c\":true}",
	       "replacing keeps the position; escapes per RFC 8259 7");
	free(s);
	is_int(json_object_remove(o, "a"), 1, "remove a");
	is_int(json_object_remove(o, "a"), 0, "remove a again");
	ok(!json_object_insert(doc, o, 0, "first", json_new_int(doc, INT64_MIN)), "insert at 0");
	is_int(json_object_insert(doc, o, 0, "c", json_new_null(doc)), LM_EINVAL, "insert existing key refused");
	ok(!json_object_rename(doc, o, "c", "d"), "rename c to d");
	is_int(json_object_rename(doc, o, "zz", "y"), LM_EINVAL, "rename missing key refused");
	is_int(json_object_set(doc, o, "x", NULL), LM_ENOMEM, "a failed constructor passed in is LM_ENOMEM");
	is_int(json_object_set(doc, json_new_array(doc), "x", json_new_null(doc)), LM_EINVAL,
	       "setting a member of an array is LM_EINVAL");
	is_int(json_object_rename(doc, o, "d", "b"), LM_EINVAL, "rename onto existing key refused");
	s = json_to_string(o, NULL, &err);
	is_str(s, "{\"first\":-9223372036854775808,\"b\":null,\"d\":true}", "after insert, remove, rename");
	free(s);
	ok(json_get(o, "d") && json_bool(json_get(o, "d")), "get d");
	ok(!json_get(o, "a"), "get removed member gives NULL");
	is_str(json_object_key(o, 1), "b", "member order");

	ok(!json_object_set(doc, o, "embedding", json_new_float_array(doc, emb, 4)), "set float array");
	ok(!json_object_set(doc, o, "tokens", json_new_int_array(doc, toks, 3)), "set int array");
	ok(!json_object_set(doc, o, "score", json_new_double(doc, 0.75)), "set double");
	ok(!json_object_set(doc, o, "f", json_new_float(doc, 0.1f)), "set float");
	ok(!json_object_set(doc, o, "t", json_new_number_text(doc, "1.50", 4)), "set number text");
	ok(!json_new_number_text(doc, "1.", 2), "number text must be JSON");
	ok(!json_new_string(doc, "\xc3", 1), "strings must be UTF-8");
	s = json_to_string(o, NULL, &err);
	is_str(s, "{\"first\":-9223372036854775808,\"b\":null,\"d\":true,"
	       "\"embedding\":[0.1,-2.5,1e-45,0.33333334],\"tokens\":[1,-2,2147483647],"
	       "\"score\":0.75,\"f\":0.1,\"t\":1.50}", "packed arrays and created numbers");
	free(s);
	ok(!json_get_float_array(json_get(o, "embedding"), back, 4, &n, &err) && n == 4 &&
	   !memcmp(back, emb, sizeof emb), "float array back bit-exactly");
	ok(!json_get_int_array(json_get(o, "tokens"), ib, 3, &n, &err) && n == 3 &&
	   !memcmp(ib, toks, sizeof toks), "int array back");
	v = json_array_get(json_get(o, "embedding"), 1);
	ok(v && json_number_double(v) == -2.5, "element of a packed array");
	a = json_get(o, "tokens");
	ok(!json_array_append(doc, a, json_new_string(doc, "x", 1)), "append to a packed array");
	is_int(json_array_len(a), 4, "4 elements after append");
	is_int(json_get_int_array(a, ib, 3, &n, &err), LM_ENOMEM, "int array longer than room");

	{
		struct json_value *copy = json_copy(doc, o);

		ok(copy && json_equal(copy, o), "copy equals original");
		json_object_set(doc, copy, "t", json_new_number_text(doc, "1.5", 3));
		ok(json_equal(copy, o), "1.5 equals 1.50 by value");
		json_object_set(doc, copy, "t", json_new_number_text(doc, "1.6", 3));
		ok(!json_equal(copy, o), "1.6 differs");
	}

	{
		static const float bad[] = { 1, NAN };

		json_object_set(doc, o, "embedding", json_new_float_array(doc, bad, 2));
		s = json_to_string(o, NULL, &err);
		ok(!s && err.code == LM_EINVAL, "NaN in a float array refused");
		is_str(err.msg, "member \"embedding\": NaN is not a JSON number", "NaN message");
		json_object_set(doc, o, "embedding", json_new_null(doc));
		json_object_set(doc, o, "score", json_new_double(doc, -INFINITY));
		s = json_to_string(o, NULL, &err);
		ok(!s, "infinite double refused");
		is_str(err.msg, "member \"score\": -Infinity is not a JSON number", "inf message");
	}

	json_doc_reset(doc);
	ok(!json_parse(doc, "[0.1, 1, -2.5e-3, \"x\"]", 22, &a, &err), "parse mixed array");
	is_int(json_get_float_array(a, back, 4, &n, &err), LM_EINVAL, "string in a float array");
	is_str(err.msg, "element 3 is string, not a number", "its message");
	json_doc_reset(doc);
	ok(!json_parse(doc, "[0.1, 1, -2.5e-3]", 17, &a, &err), "parse float array");
	ok(!json_get_float_array(a, back, 4, &n, &err) && n == 3 && back[0] == 0.1f &&
	   back[1] == 1.0f && back[2] == -2.5e-3f, "parsed float array values");
	ok(!json_parse(doc, "[1, 2.5]", 8, &a, &err), "parse");
	is_int(json_get_int_array(a, ib, 3, &n, &err), LM_EINVAL, "2.5 in an int array");
	is_str(err.msg, "element 1 (2.5) is not a 32-bit integer", "its message");
	ok(!json_parse(doc, "[2147483648]", 12, &a, &err), "parse");
	is_int(json_get_int_array(a, ib, 3, &n, &err), LM_EINVAL, "2^31 in an int array");
}

static void test_passthrough(void)
{
	static const char line[] =
		"{\"id\":\"x\",\"weird\":1e400,\"z\":0.1000,\"n\":-0,\"big\":123456789012345678901234567890,"
		"\"e\":1E+2,\"nested\":{\"k\":[0.10,2e-0]}}";
	struct lm_error err = { 0 };
	struct json_value *v;
	struct output out;
	char got[512];
	FILE *f = tmpfile();
	size_t n;

	json_doc_reset(doc);
	ok(!json_parse(doc, line, sizeof line - 1, &v, &err), "parse unknown fields");
	ok(!json_object_set(doc, v, "score", json_new_float(doc, 0.5f)), "add a field");
	ok(!output_from_fd(&out, fileno(f), "tmp", &err), "output to a temp file");
	ok(!json_write(&out, v, &err) && !output_close(&out, &err), "json_write");
	n = (size_t)pread(fileno(f), got, sizeof got - 1, 0);
	got[n] = '\0';
	is_str(got, "{\"id\":\"x\",\"weird\":1e400,\"z\":0.1000,\"n\":-0,\"big\":123456789012345678901234567890,"
	       "\"e\":1E+2,\"nested\":{\"k\":[0.10,2e-0]},\"score\":0.5}",
	       "unknown numbers are written back byte for byte");
	fclose(f);
}

/* SPEC.md: floats are printed locale-independently.  Use a comma-decimal
 * locale if installed, else build one with localedef into a temp dir. */
static void test_locale(void)
{
	static const char *const names[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE.utf8", "fr_FR.utf8" };
	char dir[] = "/tmp/test_json_locXXXXXX", cmd[256], buf[32];
	struct json_value *v;
	struct lm_error err = { 0 };
	int have = 0, made = 0;
	char *s;
	float f;
	double d;

	for (size_t k = 0; k < 4 && !have; k++)
		have = setlocale(LC_ALL, names[k]) != NULL;
	if (!have && mkdtemp(dir)) {
		made = 1;
		snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
		if (system(cmd) == 0) {
			setenv("LOCPATH", dir, 1);
			have = setlocale(LC_ALL, "de_DE.UTF-8") != NULL;
		}
	}
	if (!have || strcmp(localeconv()->decimal_point, ",") != 0) {
		ok(1, "# SKIP no comma-decimal locale available");
	} else {
		snprintf(buf, sizeof buf, "%.1f", 0.5);
		is_str(buf, "0,5", "the locale is active (printf writes 0,5)");
		is_str(ffmt(0.5f), "0.5", "float formatting ignores the locale");
		is_str(ffmt(1.17549435e-38f), "1.1754944e-38", "float exponent form ignores the locale");
		is_str(dfmt(1.25), "1.25", "double formatting ignores the locale");
		ok(!json_parse_double("1.25", 4, &d) && d == 1.25, "double parsing ignores the locale");
		ok(!json_parse_double("0.1000000000000000055511151231257827", 36, &d) && d == 0.1,
		   "slow-path double parsing ignores the locale");
		ok(!json_parse_float("0.10000000149011611938476562500", 31, &f) && f == 0.1f,
		   "slow-path float parsing ignores the locale");
		json_doc_reset(doc);
		ok(!json_parse(doc, "{\"x\":2.5}", 9, &v, &err), "parse under the locale");
		json_object_set(doc, v, "y", json_new_double(doc, 0.125));
		s = json_to_string(v, NULL, &err);
		is_str(s, "{\"x\":2.5,\"y\":0.125}", "writing under the locale");
		ok(json_number_double(json_get(v, "x")) == 2.5, "accessor under the locale");
		free(s);
	}
	setlocale(LC_ALL, "C");
	if (made) {
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
}

int main(void)
{
	doc = json_doc_new();
	test_valid();
	test_invalid();
	test_limits();
	test_numbers();
	test_format();
	test_build();
	test_passthrough();
	test_locale();
	json_doc_free(doc);
	return tap_done();
}

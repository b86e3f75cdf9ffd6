/* test_filter.c - the --filter language: each expression against a small
 * set of meta objects whose answers are worked out by hand from the rules in
 * filter.h, the error messages (with columns), unknown fields and the
 * bitmap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/filter.h"
#include "tap.h"

static const char *docs[] = {
	/* 0 */ "{\"lang\":\"en\",\"year\":2020,\"tags\":[\"a\",\"b\"],\"src\":{\"site\":\"x\",\"n\":1}}",
	/* 1 */ "{\"lang\":\"de\",\"year\":2019,\"tags\":[\"b\"],\"draft\":true}",
	/* 2 */ "{\"lang\":\"fr\",\"year\":2010.0,\"src\":{\"site\":\"y\"},\"draft\":false}",
	/* 3 */ "{\"lang\":\"en\",\"year\":\"2021\",\"tag\":null}",
	/* 4 */ "",
	/* 5 */ "{\"lang\":\"EN\",\"year\":2025,\"meta\":{\"k\":1}}",
};
enum { NDOCS = sizeof docs / sizeof *docs };

/* The docs EXPR matches as a string of digits, "" for none, or "E:" and the
 * error message. */
static char *run(const char *expr)
{
	static char buf[600];
	struct filter *f;
	struct lm_error err;
	size_t i, n = 0;
	int r;

	if (filter_compile(expr, &f, &err)) {
		snprintf(buf, sizeof buf, "E:%s", err.msg);
		return buf;
	}
	for (i = 0; i < NDOCS; i++) {
		r = filter_match_text(f, docs[i], strlen(docs[i]), &err);
		if (r < 0) {
			snprintf(buf, sizeof buf, "E:%s", err.msg);
			filter_free(f);
			return buf;
		}
		if (r)
			buf[n++] = (char)('0' + i);
	}
	buf[n] = 0;
	filter_free(f);
	return buf;
}

static const struct { const char *expr, *want; } cases[] = {
	{ "lang = \"en\"", "03" },
	{ "lang == 'en'", "03" },
	{ "meta.lang = \"en\"", "03" },
	{ "lang != \"en\"", "1245" },          /* missing field: != holds */
	{ "year = 2020", "0" },
	{ "year = 2010", "2" },                /* 2010.0 = 2010 numerically */
	{ "year = \"2021\"", "3" },            /* no coercion either way */
	{ "year = 2021", "" },
	{ "year >= 2019", "015" },
	{ "year > 2019", "05" },
	{ "year < 2019", "2" },
	{ "year <= 2019", "12" },
	{ "year in 2010..2020", "012" },
	{ "year in 2011..2019", "1" },
	{ "year not in 2010..2020", "345" },
	{ "lang in [\"en\",\"de\"]", "013" },
	{ "lang in ['fr']", "2" },
	{ "lang not in [\"en\", \"de\"]", "245" },
	{ "lang in \"a\"..\"e\"", "1" },      /* strings by bytes: "de" */
	{ "lang > \"e\"", "023" },             /* "en","fr","en"; "EN" < "e" */
	{ "tags = \"b\"", "01" },              /* any element */
	{ "tags = \"a\"", "0" },
	{ "tags in [\"a\", \"z\"]", "0" },
	{ "has tags", "01" },
	{ "has tag", "3" },                    /* null value still exists */
	{ "not has tags", "2345" },
	{ "tag = null", "3" },
	{ "draft = true", "1" },
	{ "draft = false", "2" },
	{ "draft != true", "02345" },
	{ "src.site = \"x\"", "0" },
	{ "meta.src.site = \"y\"", "2" },
	{ "src.n >= 1", "0" },
	{ "meta.meta.k = 1", "5" },             /* a key named meta */
	{ "lang = \"en\" and year >= 2020", "0" },
	{ "lang = \"en\" or lang = \"de\"", "013" },
	{ "lang = \"en\" or lang = \"de\" and year = 2020", "03" },  /* and binds tighter */
	{ "(lang = \"en\" or lang = \"de\") and year = 2020", "0" },
	{ "not lang = \"en\"", "1245" },
	{ "not not lang = \"en\"", "03" },
	{ "not (lang = \"en\" or has draft)", "45" },
	{ "year > 2000 and not (year in 2015..2020)", "25" },
	{ "lang = \"e\\u006e\"", "03" },       /* JSON escapes in double quotes */
	{ "year = 2.02e3", "0" },
	{ "year >= -1", "0125" },
	/* errors */
	{ "", "E:empty filter expression" },
	{ "lang =", "E:expected a value (string, number, true, false, null) after '=', found end of expression at column 7" },
	{ "year >= en", "E:expected a value (string, number, true, false, null) after '>=', found 'en' at column 9" },
	{ "lang \"en\"", "E:expected a comparison (=, !=, <, <=, >, >=, in) after 'lang', found '\"en\"' at column 6" },
	{ "lang = \"en", "E:unterminated string at column 8" },
	{ "(lang = 'en'", "E:expected ')', found end of expression at column 13" },
	{ "lang = 'en')", "E:expected 'and', 'or' or the end of the expression, found ')' at column 12" },
	{ "year in 2010...2020", "E:expected the end of the range after '..', found '.' at column 15" },
	{ "year in [1, 2", "E:expected ',' or ']' in the set, found end of expression at column 14" },
	{ "year in 1..'b'", "E:a range needs two numbers or two strings at column 15" },
	{ "year in foo", "E:expected a range (LOW..HIGH) or a set ([A, B, ...]) after 'in', found 'foo' at column 9" },
	{ "year = 007", "E:invalid number '007' at column 8" },
	{ "= 1", "E:expected a field name, 'not', 'has' or '(', found '=' at column 1" },
	{ "has 3", "E:expected a field name after 'has', found '3' at column 5" },
	{ "a = 1 and", "E:expected a field name, 'not', 'has' or '(', found end of expression at column 10" },
	{ "a ! b", "E:expected a comparison (=, !=, <, <=, >, >=, in) after 'a', found '!' at column 3" },
	{ "lang = \"\\x\"", "E:invalid string: bad escape in string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) at column 9" },
	{ "a not = 1", "E:expected 'in' after 'not', found '=' at column 7" },
};

int main(void)
{
	struct filter *f;
	struct filter_bitmap bm;
	struct lm_error err;
	char deep[300];
	size_t i;
	uint32_t d;

	for (i = 0; i < sizeof cases / sizeof *cases; i++)
		is_str(run(cases[i].expr), cases[i].want, "%s", cases[i].expr);

	/* nesting is bounded (the parser recurses) */
	memset(deep, '(', 200);
	strcpy(deep + 200, "a = 1");
	ok(filter_compile(deep, &f, &err) == LM_EINVAL && strstr(err.msg, "nested deeper than 64"),
	   "200 parentheses refused: %s", err.msg);
	memset(deep, '(', 60);
	strcpy(deep + 60, "a = 1");
	memset(deep + 65, ')', 60);
	deep[125] = 0;
	ok(filter_compile(deep, &f, &err) == 0, "60 parentheses accepted");
	ok(filter_match_text(f, "{\"a\":1}", 7, &err) == 1, "and evaluated");
	filter_free(f);

	/* unknown fields: reported only when no document had them */
	ok(filter_compile("lang = 'en' or langg = 'en' or has src.site", &f, &err) == 0, "compile");
	ok(filter_unknown_field(f) == NULL, "no verdict before any document");
	for (i = 0; i < NDOCS; i++)
		filter_match_text(f, docs[i], strlen(docs[i]), &err);
	is_str(filter_unknown_field(f), "langg", "langg is unknown");
	filter_free(f);
	ok(filter_compile("src.site = 'q'", &f, &err) == 0, "compile");
	filter_match_text(f, docs[2], strlen(docs[2]), &err);
	ok(filter_unknown_field(f) == NULL, "a field present but never matching is known");
	filter_free(f);

	/* bad meta text */
	ok(filter_compile("a = 1", &f, &err) == 0, "compile");
	ok(filter_match_text(f, "[1]", 3, &err) == LM_EFORMAT && !strcmp(err.msg, "meta is a JSON array, not an object"),
	   "meta array refused: %s", err.msg);
	ok(filter_match_text(f, "{\"a\":", 5, &err) == LM_EFORMAT && strstr(err.msg, "meta is not valid JSON"),
	   "meta truncated refused: %s", err.msg);
	filter_free(f);

	/* bitmap */
	ok(filter_bitmap_init(&bm, 130) == 0, "bitmap init");
	filter_bitmap_set(&bm, 0);
	filter_bitmap_set(&bm, 64);
	filter_bitmap_set(&bm, 129);
	filter_bitmap_set(&bm, 129);
	filter_bitmap_set(&bm, 500);
	is_int(bm.count, 3, "count 3 (duplicates and out of range ignored)");
	for (d = 0, i = 0; d < 200; d++)
		i += (size_t)filter_bitmap_accept(d, &bm);
	is_int(i, 3, "accept: 3 of 200");
	ok(filter_bitmap_test(&bm, 64) && !filter_bitmap_test(&bm, 63), "bits 64 set, 63 not");
	filter_bitmap_free(&bm);
	return tap_done();
}

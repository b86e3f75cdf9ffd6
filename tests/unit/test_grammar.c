/* test_grammar - GBNF parsing, matching and vocabulary masking.
 * Every expected answer is worked out by hand from the grammar's meaning
 * (grammars/README.md of llama.cpp describes the language). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "model/grammar.h"
#include "model/sample.h"
#include "tap.h"

static struct grammar *compile(const char *src)
{
	struct grammar *g = NULL;
	struct lm_error err = { 0 };

	if (grammar_parse(&g, src, strlen(src), "t.gbnf", &err))
		diag("unexpected error: %s", err.msg);
	return g;
}

/* 1: TEXT is a complete sentence; 0: rejected somewhere; 2: an accepted
 * prefix that cannot end there.  Fed in pieces of STEP bytes (0: whole). */
static int match_step(const char *src, const char *text, size_t step)
{
	struct grammar *g = compile(src);
	struct grammar_state *s = NULL;
	struct lm_error err = { 0 };
	size_t n = strlen(text);
	int r = -1;

	if (!g || grammar_state_new(&s, g, &err))
		goto out;
	if (!step)
		step = n ? n : 1;
	r = 1;
	for (size_t i = 0; i < n && r; i += step)
		r = grammar_accept(s, text + i, i + step <= n ? step : n - i) == 1;
	if (r && !grammar_can_end(s))
		r = 2;
out:
	grammar_state_free(s);
	grammar_free(g);
	return r;
}

static int match(const char *src, const char *text)
{
	int whole = match_step(src, text, 0), bytes = match_step(src, text, 1);

	if (whole != bytes)
		diag("'%s' fed whole: %d, byte by byte: %d", text, whole, bytes);
	return whole == bytes ? whole : -1;
}

/* The error message of compiling SRC ("" when it compiles). */
static const char *error_of(const char *src)
{
	static struct lm_error err;
	struct grammar *g = NULL;

	memset(&err, 0, sizeof(err));
	if (!grammar_parse(&g, src, strlen(src), "t.gbnf", &err)) {
		grammar_free(g);
		return "";
	}
	return err.msg;
}

static void bad(const char *src, const char *want)
{
	const char *msg = error_of(src);
	char shown[128];
	size_t k = 0;

	/* one line per TAP result: line breaks shown as \n */
	for (const char *c = src; *c && k + 3 < sizeof(shown); c++) {
		if (*c == '\n') {
			shown[k++] = '\\';
			shown[k++] = 'n';
		} else {
			shown[k++] = *c;
		}
	}
	shown[k] = 0;
	ok(strstr(msg, want) != NULL, "refused: \"%s\" -> \"%s\" (want \"%s\")", shown, msg, want);
}

static void test_basic(void)
{
	is_int(match("root ::= \"ab\"", "ab"), 1, "literal");
	is_int(match("root ::= \"ab\"", "a"), 2, "literal prefix");
	is_int(match("root ::= \"ab\"", "abc"), 0, "literal too long");
	is_int(match("root ::= \"ab\"", "b"), 0, "literal mismatch");
	is_int(match("root ::= \"a\" | \"b\" | \"\"", ""), 1, "empty alternative");
	is_int(match("root ::= \"a\" | \"b\"", "b"), 1, "alternation");
	is_int(match("root ::= x y\nx ::= \"1\"\ny ::= \"2\"  # comment\n", "12"), 1, "rule references");
	is_int(match("root ::= (\"a\" | \"b\") \"c\"", "bc"), 1, "group");
	is_int(match("root ::= (\n  \"a\"\n  | \"b\"\n)", "b"), 1, "group over lines");
	is_int(match("root ::=\n  \"a\" |\n  \"b\"", "b"), 1, "line break after ::= and |");
	is_int(match("root ::= [a-c]+", "abcab"), 1, "class +");
	is_int(match("root ::= [a-c]+", ""), 2, "+ needs one");
	is_int(match("root ::= [a-c]+", "abd"), 0, "class rejects d");
	is_int(match("root ::= [^a-c]", "d"), 1, "negated class");
	is_int(match("root ::= [^a-c]", "b"), 0, "negated class rejects b");
	is_int(match("root ::= [^\\n]*", "x y\tz"), 1, "negated escape");
	is_int(match("root ::= [^\\n]*", "x\n"), 0, "negated escape rejects newline");
	is_int(match("root ::= [a\\-z]", "-"), 1, "escaped - in a class");
	is_int(match("root ::= [a-]", "-"), 1, "trailing - is literal");
	is_int(match("root ::= .", "\xe2\x82\xac"), 1, "dot matches a 3-byte character");
	is_int(match("root ::= . .", "\xe2\x82\xac"), 2, "one code point, not three bytes");
	is_int(match("root ::= \"a\"? \"b\"", "b"), 1, "? absent");
	is_int(match("root ::= \"a\"? \"b\"", "ab"), 1, "? present");
	is_int(match("root ::= \"a\"? \"b\"", "aab"), 0, "? at most one");
	is_int(match("root ::= \"ab\"*", "ababab"), 1, "multi-character literal repeated");
	is_int(match("root ::= \"ab\"*", "aba"), 2, "repeated literal, partial");
	is_int(match("root ::= [ \\t]* \"x\"", "  \t x"), 1, "\\t in a class");
}

static void test_repetition(void)
{
	const char *exact = "root ::= [0-9]{3}";
	const char *range = "root ::= [0-9]{2,4}";
	const char *atleast = "root ::= \"a\"{2,} \"b\"";
	const char *atmost = "root ::= \"a\"{,2} \"b\"";

	is_int(match(exact, "12"), 2, "{3}: two is short");
	is_int(match(exact, "123"), 1, "{3}: three");
	is_int(match(exact, "1234"), 0, "{3}: four is too many");
	is_int(match(range, "1"), 2, "{2,4}: one is short");
	is_int(match(range, "12"), 1, "{2,4}: two");
	is_int(match(range, "1234"), 1, "{2,4}: four");
	is_int(match(range, "12345"), 0, "{2,4}: five");
	is_int(match(atleast, "ab"), 0, "{2,}: one is too few");
	is_int(match(atleast, "aab"), 1, "{2,}: two");
	is_int(match(atleast, "aaaaaaab"), 1, "{2,}: seven");
	is_int(match(atmost, "b"), 1, "{,2}: none");
	is_int(match(atmost, "aab"), 1, "{,2}: two");
	is_int(match(atmost, "aaab"), 0, "{,2}: three");
	is_int(match("root ::= (\"x\" [0-9]){1,2}", "x1x2"), 1, "group repeated");
	is_int(match("root ::= (\"x\" [0-9]){1,2}", "x1x2x3"), 0, "group repeated too often");
	is_int(match("root ::= \"a\"{0} \"b\"", "b"), 1, "{0} removes the term");
	is_int(match("root ::= [0-9]{ 2 , 3 }", "123"), 1, "spaces in braces");
}

static void test_unicode(void)
{
	is_int(match("root ::= \"\\u00e9\" \"\\x41\" \"\\U0001F600\"", "\xc3\xa9" "A" "\xf0\x9f\x98\x80"), 1,
	       "\\u \\x \\U escapes");
	is_int(match("root ::= [\\u0400-\\u04FF]+", "\xd0\x96\xd1\x8f"), 1, "Cyrillic range");
	is_int(match("root ::= [\\u0400-\\u04FF]+", "\xc3\xa9"), 0, "Latin-1 outside the range");
	is_int(match("root ::= \"\xc3\xa9t\xc3\xa9\"", "\xc3\xa9t\xc3\xa9"), 1, "raw UTF-8 literal");
	is_int(match("root ::= [^a]", "\xff"), 0, "invalid UTF-8 refused");
	is_int(match("root ::= [^a]", "\xc0\x80"), 0, "overlong NUL refused");
	is_int(match("root ::= [^a]", "\xed\xa0\x80"), 0, "encoded surrogate refused");
}

/* A character split across two feeds (two tokens): the first half is
 * accepted only when some allowed character starts with it. */
static void test_partial(void)
{
	struct grammar *g = compile("root ::= \"\\u00e9\" | \"x\"");
	struct grammar_state *s = NULL;
	struct lm_error err = { 0 };

	if (!g || grammar_state_new(&s, g, &err)) {
		ok(0, "setup");
		return;
	}
	is_int(grammar_accept(s, "\xc3", 1), 1, "lead byte of U+00E9 accepted");
	ok(!grammar_can_end(s), "a partial character cannot end");
	is_int(grammar_accept(s, "\xa8", 1), 0, "U+00E8 refused (only U+00E9 allowed)");
	is_int(grammar_accept(s, "\xa9", 1), 1, "U+00E9 completed");
	ok(grammar_can_end(s) && grammar_done(s), "complete and done");
	grammar_state_reset(s);
	is_int(grammar_accept(s, "\xc4", 1), 0, "lead byte of U+0100..U+013F refused");
	is_int(grammar_accept(s, "\xe2", 1), 0, "lead byte of a 3-byte character refused");
	is_int(grammar_accept(s, "x", 1), 1, "state unchanged by the refusals");
	grammar_state_free(s);
	grammar_free(g);
	g = compile("root ::= [^\\u0800-\\uFFFF]");
	if (!g || grammar_state_new(&s, g, &err)) {
		ok(0, "setup");
		return;
	}
	is_int(grammar_accept(s, "\xe1", 1), 0, "every 3-byte character excluded");
	is_int(grammar_accept(s, "\xf0", 1), 1, "4-byte characters remain");
	grammar_state_free(s);
	grammar_free(g);
}

static void test_json_like(void)
{
	const char *arith =
		"root ::= expr\n"
		"expr ::= term ((\"+\" | \"-\") term)*\n"
		"term ::= factor ((\"*\" | \"/\") factor)*\n"
		"factor ::= [0-9]+ | \"(\" expr \")\"\n";

	is_int(match(arith, "1+2*(3-4)/5"), 1, "arithmetic");
	is_int(match(arith, "((1))"), 1, "nested parentheses");
	is_int(match(arith, "(1+2"), 2, "open parenthesis: prefix");
	is_int(match(arith, "1+*2"), 0, "operator twice");
	is_int(match(arith, "1+2)"), 0, "unbalanced )");
}

static void test_errors(void)
{
	bad("root ::= \"a", "t.gbnf:1:10: unterminated string literal");
	bad("root ::= [a-", "t.gbnf:1:10: unterminated character class");
	bad("root ::= [a-\n]", "t.gbnf:1:10: unterminated character class");
	bad("root ::= x", "t.gbnf:1:10: rule 'x' is not defined");
	bad("a ::= \"x\"", "t.gbnf: no rule named 'root'");
	bad("root ::= \"a\"\nroot ::= \"b\"", "t.gbnf:2:1: rule 'root' is defined twice");
	bad("root ::= \"a\"\n  \"b\"", "t.gbnf:2:3: expected a rule name, found '\"'");
	bad("root \"a\"", "t.gbnf:1:6: expected '::=' after rule name 'root'");
	bad("root ::= (\"a\"", "t.gbnf:1:14: expected ')'");
	bad("root ::= \"a\" )", "t.gbnf:1:14: unexpected ')'");
	bad("root ::= * \"a\"", "t.gbnf:1:10: '*' repeats nothing");
	bad("root ::= \"a\"{3,2}", "the maximum is below the minimum");
	bad("root ::= \"a\"{99999}", "repetition count above 10000");
	bad("root ::= \"\\q\"", "t.gbnf:1:11: unknown escape '\\q'");
	bad("root ::= \"\\x4\"", "needs 2 hexadecimal digits");
	bad("root ::= \"\\uD800\"", "U+D800 is not a Unicode scalar value");
	bad("root ::= [z-a]", "is empty (reversed)");
	bad("root ::= root \"a\" | \"b\"", "t.gbnf:1:1: rule 'root' is left-recursive");
	bad("root ::= x\nx ::= \"\"? root", "left-recursive");
	bad("root ::= (\"a\"?)*", "t.gbnf:1:16: a repeated term can match the empty string");
	bad("root ::= <[1000]>", "token references");
	bad("root ::= \"a\"{2", "expected '}'");
	bad("", "t.gbnf: the grammar has no rules");
	bad("::= \"a\"", "t.gbnf:1:1: expected a rule name");
	is_str(error_of("root ::= \"a\" # ok\n\n# trailing comment\n"), "", "comments and blank lines");
}

/* Masking: the tokens a state allows, by hand. */
static void test_vocab(void)
{
	static const char *const tok[] = {
		"{", "}", "\"", "a", "ab", "\"a", "{\"", "\xc3", "\xa9", "\xc3\xa9", "", NULL, "b\"}", "x",
	};
	size_t n = sizeof(tok) / sizeof(*tok), len[sizeof(tok) / sizeof(*tok)];
	struct grammar *g = compile("root ::= \"{\" \"\\\"\" [a-b\\u00e9]* \"\\\"\" \"}\"");
	struct grammar_vocab *v = NULL;
	struct grammar_state *s = NULL;
	struct lm_error err = { 0 };
	uint8_t allowed[sizeof(tok) / sizeof(*tok)];
	char got[64];

	for (size_t i = 0; i < n; i++)
		len[i] = tok[i] ? strlen(tok[i]) : 0;
	if (!g || grammar_vocab_new(&v, tok, len, n, &err) || grammar_state_new(&s, g, &err)) {
		ok(0, "setup: %s", err.msg);
		goto out;
	}
#define ALLOWED() do { \
		size_t k = 0; \
		long c = grammar_vocab_allowed(v, s, allowed), m = 0; \
		for (size_t i = 0; i < n; i++) \
			if (allowed[i]) { \
				k += (size_t)snprintf(got + k, sizeof(got) - k, "%zu,", i); \
				m++; \
			} \
		got[k] = 0; \
		is_int(c, m, "the count returned is the number marked"); \
	} while (0)
	ALLOWED();
	is_str(got, "0,6,", "start: '{' and '{\"'");
	grammar_accept(s, "{", 1);
	ALLOWED();
	is_str(got, "2,5,", "after '{': '\"' and '\"a'");
	grammar_accept(s, "\"", 1);
	ALLOWED();
	is_str(got, "2,3,4,7,9,12,", "in the string: quote, a, ab, lead byte, e-acute, b\"}");
	grammar_accept(s, "\xc3", 1);
	ALLOWED();
	is_str(got, "8,", "after a lead byte: only its continuation");
	grammar_accept(s, "\xa9", 1);
	grammar_accept(s, "b\"}", 3);
	ALLOWED();
	is_str(got, "", "complete: nothing more");
	ok(grammar_done(s), "done");
#undef ALLOWED
out:
	grammar_state_free(s);
	grammar_vocab_free(v);
	grammar_free(g);
}

/* The trie walk (with its shared per-signature results) marks exactly the
 * tokens that feeding each token to the state would accept, at every
 * step of a text: checked against that brute force on a JSON-like grammar
 * and a vocabulary of single characters, pairs and split UTF-8. */
static void test_vocab_brute(void)
{
	const char *src =
		"root ::= \"{\" ws (kv (\",\" ws kv){0,3})? \"}\"\n"
		"kv ::= \"\\\"\" [a-z\\u00e0-\\u00ff]{1,4} \"\\\"\" ws \":\" ws (num | str | \"true\")\n"
		"num ::= \"-\"? [0-9]{1,3}\n"
		"str ::= \"\\\"\" [^\"\\\\]{0,5} \"\\\"\"\n"
		"ws ::= \" \"?\n";
	const char *text = "{\"ab\": 12, \"\xc3\xa9t\xc3\xa9\":\"x \xe2\x82\xac\", \"z\": true}";
	char pool[512][4];
	const char *tok[512];
	size_t len[512], n = 0, mismatches = 0, steps = 0;
	struct grammar *g = compile(src);
	struct grammar_vocab *v = NULL;
	struct grammar_state *s = NULL;
	struct lm_error err = { 0 };
	static uint8_t allowed[512];

	for (int c = 0x20; c < 0x7f; c++) {
		pool[n][0] = (char)c;
		pool[n][1] = 0;
		n++;
	}
	for (const char *pair = "{\"\":\", 12aba\"}tr"; pair[1]; pair++) {
		memcpy(pool[n], pair, 2);
		pool[n++][2] = 0;
	}
	memcpy(pool[n++], "\xc3", 2);
	memcpy(pool[n++], "\xa9", 2);
	memcpy(pool[n++], "\xc3\xa9", 3);
	memcpy(pool[n++], "\xe2\x82", 3);
	memcpy(pool[n++], "\xac", 2);
	memcpy(pool[n++], "\xe2", 2);
	memcpy(pool[n++], "\x82\xac", 3);
	for (size_t i = 0; i < n; i++) {
		tok[i] = pool[i];
		len[i] = strlen(pool[i]);
	}
	if (!g || grammar_vocab_new(&v, tok, len, n, &err) || grammar_state_new(&s, g, &err)) {
		ok(0, "setup: %s", err.msg);
		goto out;
	}
	for (size_t at = 0; at <= strlen(text); at++) {
		if (grammar_vocab_allowed(v, s, allowed) < 0)
			break;
		for (size_t t = 0; t < n; t++) {
			struct grammar_state *f = NULL;
			int r;

			if (grammar_state_new(&f, g, &err))
				break;
			r = grammar_accept(f, text, at) == 1 && grammar_accept(f, tok[t], len[t]) == 1;
			if (r != allowed[t] && mismatches++ < 5)
				diag("after %zu bytes, token %zu (%s): mask %d, accept %d", at, t, tok[t], allowed[t], r);
			grammar_state_free(f);
		}
		steps++;
		if (at < strlen(text) && grammar_accept(s, text + at, 1) != 1) {
			ok(0, "the text itself is refused at byte %zu", at);
			break;
		}
	}
	ok(grammar_can_end(s), "the text is complete");
	is_int((long)mismatches, 0, "mask = brute force over %zu steps of %zu tokens", steps, n);
out:
	grammar_state_free(s);
	grammar_vocab_free(v);
	grammar_free(g);
}

/* The mask reaches the sampler: masked ids never become candidates, and
 * the others' probabilities are renormalised as if the masked logits were
 * -inf (0.3 and 0.2 of the 0.5 left: 0.6 and 0.4). */
static void test_sampler_mask(void)
{
	float logits[4] = { logf(0.5f), logf(0.3f), logf(0.2f), -1e30f };
	uint8_t allowed[4] = { 0, 1, 1, 0 };
	struct sample_params p;
	struct sampler *s = NULL;
	struct lm_error err = { 0 };
	const struct sample_cand *c;
	size_t n;
	int drawn_bad = 0;

	sample_params_default(&p);
	p.temp = 1.0f;
	p.top_k = 0;
	p.top_p = 1.0f;
	p.min_p = 0.0f;
	p.seed = 7;
	if (sampler_new(&s, &p, 4, &err)) {
		ok(0, "sampler_new: %s", err.msg);
		return;
	}
	sampler_set_mask(s, allowed);
	c = sampler_candidates(s, logits, &n);
	ok(n == 2 && c[0].id == 1 && c[1].id == 2, "candidates are the allowed ids, best first");
	is_near(c[0].p, 0.6, 1e-6, "renormalised p of id 1");
	is_near(c[1].p, 0.4, 1e-6, "renormalised p of id 2");
	for (int i = 0; i < 1000; i++) {
		int32_t id = sampler_sample(s, logits);

		drawn_bad += id != 1 && id != 2;
	}
	is_int(drawn_bad, 0, "1000 draws: never a masked id");
	sampler_free(s);
	p.temp = 0;
	if (sampler_new(&s, &p, 4, &err))
		return;
	sampler_set_mask(s, allowed);
	is_int(sampler_sample(s, logits), 1, "greedy: the best allowed id");
	sampler_set_mask(s, NULL);
	is_int(sampler_sample(s, logits), 0, "mask cleared: the best id");
	sampler_free(s);
}

int main(void)
{
	test_basic();
	test_repetition();
	test_unicode();
	test_partial();
	test_json_like();
	test_errors();
	test_vocab();
	test_vocab_brute();
	test_sampler_mask();
	return tap_done();
}

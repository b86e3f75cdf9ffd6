/* test_chat.c - the Jinja subset (jinja.h) and chat templates (chat.h) on
 * hand-written templates whose outputs are worked out by hand from the
 * Jinja2 rules (trim_blocks/lstrip_blocks as transformers configures them),
 * and their error paths. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "model/chat.h"
#include "model/jinja.h"
#include "tap.h"

/* Render SRC with VARS (JSON text, may be NULL); returns malloc'd output or
 * NULL with the error in *ERR. */
static char *render(const char *src, const char *vars, struct lm_error *err)
{
	struct jinja_template *t = NULL;
	struct json_doc *doc = json_doc_new();
	struct json_value *v = NULL;
	char *out = NULL;
	memset(err, 0, sizeof *err);
	if (vars && json_parse(doc, vars, strlen(vars), &v, err))
		goto done;
	if (jinja_template_new(&t, src, strlen(src), err))
		goto done;
	jinja_render(t, v, &out, NULL, err);
done:
	jinja_template_free(t);
	json_doc_free(doc);
	return out;
}

static void check(const char *src, const char *vars, const char *want, const char *what)
{
	struct lm_error err;
	char *got = render(src, vars, &err);
	if (!got) {
		ok(0, "%s", what);
		diag("error: %s", err.msg);
		return;
	}
	is_str(got, want, "%s", what);
	free(got);
}

static void check_err(const char *src, const char *vars, const char *want_sub, const char *what)
{
	struct lm_error err;
	char *got = render(src, vars, &err);
	ok(!got && err.code == LM_EFORMAT && strstr(err.msg, want_sub), "%s", what);
	if (got || !strstr(err.msg, want_sub))
		diag("got output %s, error '%s', wanted '%s'", got ? got : "(none)", err.msg, want_sub);
	free(got);
}

static void test_expressions(void)
{
	check("a{{ 1 + 2 * 3 }}b", NULL, "a7b", "precedence of * over +");
	check("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}", NULL,
	      "3 -4 1 3.5 1024", "integer arithmetic");
	check("{{ 'a' ~ 1 ~ true }}", NULL, "a1true", "~ stringifies (booleans as true/false)");
	check("{{ 'x' + 'y' }}{{ [1] + [2] }}", NULL, "xy[1, 2]", "+ on strings and lists");
	check("{{ 1 < 2 and 2 <= 2 and not 3 > 4 }}", NULL, "true", "comparisons and logic");
	check("{{ none }}|{{ undefined_var }}|{{ 0 or 'd' }}|{{ '' and 'x' }}", NULL, "||d|",
	      "none/undefined print nothing; and/or return operands");
	check("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }}",
	      NULL, "true true true true", "in / not in");
	check("{{ '' == false }}{{ '1' == 1 }}{{ none == x }}{{ 'a' == true }}{{ 1 == 1.0 }}", NULL,
	      "truetruetruefalsetrue", "== compares as JavaScript's ==, as the reference does");
	check("{{ 'yes' if x else 'no' }}", "{\"x\": 0}", "no", "ternary");
	check("{{ 1.0 }} {{ 2.5 }} {{ 3 * 1.0 }}", NULL, "1.0 2.5 3.0", "floats print like Python");
	check("{{ d.a.b }}{{ d['a']['b'] }}{{ l[-1] }}{{ l[5] }}", "{\"d\":{\"a\":{\"b\":\"x\"}},\"l\":[1,2,3]}",
	      "xx3", "attribute, subscript, negative index, out of range");
	check("{{ s[1:] }}|{{ s[::-1] }}|{{ s[:2] }}|{{ l[1:3] }}|{{ s[-2:] }}",
	      "{\"s\":\"héllo\",\"l\":[1,2,3,4]}", "éllo|olléh|hé|[2, 3]|lo",
	      "slices count code points");
	check("{{ {'a': [1, 'x', none, true]} }}", NULL, "{\"a\": [1, \"x\", null, true]}",
	      "containers print as JSON");
	check("{{ \"it's\" 'ok' }}", NULL, "it'sok", "adjacent literals concatenate");
	check("{{ '\\u00e9\\n\\t' | length }}", NULL, "3", "escapes in literals");
}

static void test_filters(void)
{
	check("{{ '  hi \\n' | trim }}|{{ 'Ab' | upper }}{{ 'Ab' | lower }}|{{ 'hello world' | title }}|{{ 'hello' | capitalize }}",
	      NULL, "hi|ABab|Hello World|Hello", "string case filters");
	check("{{ 'añb' | length }} {{ [1,2,3] | length }} {{ {'a':1} | length }}", NULL, "3 3 1",
	      "length of string (code points), list, dict");
	check("{{ [3,1,2] | first }}{{ [3,1,2] | last }}{{ [1,2] | reverse | join('-') }}", NULL,
	      "322-1", "first, last, reverse, join");
	check("{{ x | default('dflt') }}|{{ '' | default('e') }}|{{ '' | default('e', true) }}",
	      NULL, "dflt||e", "default");
	check("{{ 'aXbXc' | replace('X', '-') }}{{ 'aaa' | replace('a', 'b', 2) }}", NULL, "a-b-cbba",
	      "replace with count");
	check("{% for k, v in d | items %}{{ k }}={{ v }};{% endfor %}", "{\"d\":{\"z\":1,\"a\":2}}",
	      "z=1;a=2;", "items keeps insertion order");
	check("{{ 5 | string ~ 'x' }}{{ '42' | int + 1 }}{{ 'x' | int }}", NULL, "5x430",
	      "string and int conversions");
	check("{{ d | tojson }}", "{\"d\":{\"s\":\"q\\\"\\n\",\"n\":[1,2.5,null],\"b\":false}}",
	      "{\"s\": \"q\\\"\\n\", \"n\": [1, 2.5, null], \"b\": false}", "tojson separators");
	check("{{ d | tojson(indent=2) }}", "{\"d\":{\"a\":[1,2],\"e\":{}}}",
	      "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"e\": {}\n}", "tojson indent");
	check("{{ 'é' | tojson }}{{ 'é' | tojson(ensure_ascii=true) }}", NULL,
	      "\"é\"\"\\u00e9\"", "tojson ensure_ascii");
	check("{{ (l | selectattr('role', 'equalto', 'user') | list | length) }}{{ l | map(attribute='role') | join(',') }}",
	      "{\"l\":[{\"role\":\"user\"},{\"role\":\"bot\"},{\"role\":\"user\"}]}", "2user,bot,user",
	      "selectattr and map");
	check("{{ 'a\\nb' | indent(2) }}", NULL, "a\n  b", "indent skips the first line");
}

static void test_tests_and_methods(void)
{
	check("{{ x is defined }}{{ y is defined }}{{ n is none }}{{ s is string }}{{ s is not string }}",
	      "{\"x\":1,\"n\":null,\"s\":\"t\"}", "truefalsetruetruefalse", "tests");
	check("{{ 1 is odd }}{{ d is mapping }}{{ l is iterable }}{{ b is false }}",
	      "{\"d\":{},\"l\":[],\"b\":false}", "truetruetruetrue", "more tests");
	check("{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'bc')) }}", NULL, "truetrue",
	      "startswith / endswith with a tuple");
	check("{{ '\\n x \\n'.strip() }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ 'xab'.rstrip('ba') }}|{{ '  x'.lstrip() }}",
	      NULL, "x|x\n|x|x", "strip family, with characters as in Python");
	check("{{ 'a</think>b'.split('</think>')[-1] }}{{ ' a  b '.split() | length }}{{ 'a,b,c'.split(',', 1)[1] }}",
	      NULL, "b2b,c", "split");
	check("{{ 'aXa'.replace('a', 'b') }}{{ 'ab'.upper() }}", NULL, "bXbAB", "replace, upper");
	check("{{ d.get('a') }}{{ d.get('z', 'none') }}{% for k in d.keys() %}{{ k }}{% endfor %}",
	      "{\"d\":{\"a\":\"A\",\"b\":\"B\"}}", "Anoneab", "dict methods");
}

static void test_statements(void)
{
	check("{% for m in l %}{{ loop.index0 }}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
	      "{\"l\":[\"a\",\"b\"]}", "01truefalse2;12falsetrue2;", "loop variables");
	check("{% for m in l if m != 'b' %}{{ m }}{% else %}empty{% endfor %}|{% for m in [] %}x{% else %}empty{% endfor %}",
	      "{\"l\":[\"a\",\"b\",\"c\"]}", "ac|empty", "loop filter and else");
	check("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
	      NULL, "02", "break and continue");
	check("{% set x = 1 %}{% for i in [1,2] %}{% set x = x + i %}{% endfor %}{{ x }}", NULL, "1",
	      "set inside a loop does not leak");
	check("{% set ns = namespace(t=0) %}{% for i in [1,2,3] %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}",
	      NULL, "6", "namespace carries state out of a loop");
	check("{% set a, b = [1, 2] %}{{ b }}{{ a }}", NULL, "21", "tuple assignment");
	check("{% set blk %}in{{ 1 }}{% endset %}[{{ blk }}]", NULL, "[in1]", "block set");
	check("{% if x == 1 %}one{% elif x == 2 %}two{% else %}other{% endif %}", "{\"x\":2}", "two",
	      "elif");
	check("{% macro g(name, p='!') %}hi {{ name }}{{ p }}{% endmacro %}{{ g('a') }} {{ g('b', p='?') }}",
	      NULL, "hi a! hi b?", "macro with default and keyword arguments");
	check("{# comment #}x{{ 1 }}{# c2 #}", NULL, "x1", "comments render nothing");
}

static void test_whitespace(void)
{
	/* trim_blocks: the newline after a block tag goes; lstrip_blocks: the
	 * indentation before a block tag goes; "-" strips all whitespace. */
	check("{% if true %}\n  yes\n{% endif %}\nend\n", NULL, "  yes\nend",
	      "trim_blocks, lstrip_blocks and the dropped final newline");
	check("a   {%- if true -%}   b   {%- endif %}", NULL, "ab", "- strips both sides");
	check("a \n {{- 'b' -}} \n c", NULL, "abc", "{{- -}} strip whitespace");
	check("x\n    {{ 'y' }}\n", NULL, "x\n    y", "expressions keep their indentation");
	check("a\n{#- c -#}\nb", NULL, "ab", "comment whitespace control");
}

static void test_errors(void)
{
	check_err("ab\n  {{ x | nosuch }}", NULL, "line 2, column 10: unknown filter 'nosuch'",
		  "unknown filter names its line and column");
	check_err("{% if x %}\nno end", NULL, "line 2, column 7: unexpected end of template",
		  "missing endif");
	check_err("{{ 1 + }}", NULL, "line 1, column 8:", "bad expression");
	check_err("{% frobnicate %}", NULL, "line 1, column 4: unknown or unsupported statement",
		  "unknown statement");
	check_err("{{ 'abc }}", NULL, "line 1, column 4: unterminated string", "unterminated string");
	check_err("{{ x is nosuch }}", NULL, "unknown test 'nosuch'", "unknown test");
	check_err("\n{{ raise_exception('bad roles') }}", NULL, "line 2, column 19: raise_exception: bad roles",
		  "raise_exception");
	check_err("{{ x + 'a' }}", NULL, "undefined", "operator on undefined");
	check_err("{% endfor %}", NULL, "unexpected {% endfor %}", "stray end tag");
	check_err("{{ 1 / 0 }}", NULL, "division by zero", "division by zero");
	check_err("{% set s = 'x' %}{% set s.a = 1 %}", NULL, "only of a namespace",
		  "attribute assignment needs a namespace");
	check_err("{{ '\\q' }}", NULL, "unknown escape", "bad escape");
	check_err("{{ (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1 }}",
		  NULL, "nested too deeply", "deep nesting is refused, not a stack overflow");
	check_err("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", NULL, "nested too deeply",
		  "runaway macro recursion is refused");
}

static char *apply(const char *name, const char *msgs_json, int gen, struct lm_error *err)
{
	struct chat_template *t = NULL;
	struct json_doc *doc = json_doc_new();
	struct json_value *v = NULL;
	char *out = NULL;
	memset(err, 0, sizeof *err);
	if (!json_parse(doc, msgs_json, strlen(msgs_json), &v, err) &&
	    !chat_template_builtin(&t, name, err))
		chat_apply_json(t, v, NULL, gen, "<s>", "</s>", &out, NULL, err);
	chat_template_free(t);
	json_doc_free(doc);
	return out;
}

static void check_chat(const char *name, const char *msgs, int gen, const char *want)
{
	struct lm_error err;
	char *got = apply(name, msgs, gen, &err);
	if (!got) {
		ok(0, "builtin %s", name);
		diag("error: %s", err.msg);
		return;
	}
	is_str(got, want, "builtin %s%s", name, gen ? " with generation prompt" : "");
	free(got);
}

static void test_builtins(void)
{
	const char *conv = "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
			   "{\"role\":\"user\",\"content\":\"Hi\"},"
			   "{\"role\":\"assistant\",\"content\":\"Hello.\"},"
			   "{\"role\":\"user\",\"content\":\"Bye\"}]";
	/* the layouts as each model family documents them */
	check_chat("chatml", conv, 1,
		   "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
		   "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
		   "<|im_start|>assistant\n");
	check_chat("llama3", conv, 1,
		   "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
		   "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
		   "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
		   "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
		   "<|start_header_id|>assistant<|end_header_id|>\n\n");
	check_chat("llama2", conv, 0,
		   "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]");
	check_chat("mistral", conv, 0, "<s>[INST] Be brief.\n\nHi [/INST]Hello.</s>[INST] Bye [/INST]");
	check_chat("phi3", conv, 1,
		   "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n"
		   "<|user|>\nBye<|end|>\n<|assistant|>\n");
	check_chat("gemma", conv, 1,
		   "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
		   "<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n");
	check_chat("QWEN", "[{\"role\":\"user\",\"content\":\"x\"}]", 0,
		   "<|im_start|>user\nx<|im_end|>\n");

	struct lm_error err;
	char *out = apply("llama2", "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]",
			  0, &err);
	ok(!out && strstr(err.msg, "roles must alternate"), "llama2 refuses two user turns in a row");
	free(out);
	out = apply("vicuna", "[]", 0, &err);
	ok(!out && err.code == LM_EINVAL && strstr(err.msg, "unknown chat template 'vicuna'"),
	   "unknown built-in name");
	free(out);
}

static void test_messages(void)
{
	struct json_doc *doc = json_doc_new();
	struct json_value *v;
	struct lm_error err = { 0 };
	struct chat_message *m = NULL;
	size_t n = 0;
	const char *good = "[{\"role\":\"user\",\"content\":\"hé\"}]";
	json_parse(doc, good, strlen(good), &v, &err);
	ok(chat_messages_from_json(v, &m, &n, &err) == LM_OK && n == 1 &&
	   !strcmp(m[0].role, "user") && !strcmp(m[0].content, "hé"), "messages from JSON");
	free(m);

	const char *bad[][2] = {
		{ "{\"role\":\"user\"}", "messages: expected an array" },
		{ "[]", "messages: empty array" },
		{ "[{\"role\":\"user\",\"content\":\"a\"}, 3]", "messages[1]: expected an object" },
		{ "[{\"content\":\"a\"}]", "messages[0]: \"role\" is missing" },
		{ "[{\"role\":\"user\",\"content\":7}]", "messages[0]: \"content\" is number" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_doc_reset(doc);
		json_parse(doc, bad[i][0], strlen(bad[i][0]), &v, &err);
		int rc = chat_messages_from_json(v, &m, &n, &err);
		ok(rc == LM_EFORMAT && strstr(err.msg, bad[i][1]), "bad messages: %s", bad[i][1]);
		if (rc != LM_EFORMAT || !strstr(err.msg, bad[i][1]))
			diag("got '%s'", err.msg);
	}

	struct chat_template *t = NULL;
	struct chat_message two[] = { { "user", "q" }, { "assistant", "a" } };
	char *out = NULL;
	size_t len = 0;
	ok(chat_template_new(&t, "{% for m in messages %}{{ m.role[0] }}:{{ m.content }} {% endfor %}"
			     "{{ bos_token }}{{ eos_token }}{{ add_generation_prompt }}", &err) == LM_OK &&
	   chat_apply(t, two, 2, 1, "B", "E", &out, &len, &err) == LM_OK && out &&
	   !strcmp(out, "u:q a:a BEtrue") && len == strlen("u:q a:a BEtrue"),
	   "chat_apply passes messages, BOS, EOS and add_generation_prompt");
	free(out);
	chat_template_free(t);

	ok(chat_template_new(&t, "{% for %}", &err) == LM_EFORMAT &&
	   strstr(err.msg, "chat template: template line 1, column 8"), "chat template syntax error");
	json_doc_free(doc);
}

int main(void)
{
	test_expressions();
	test_filters();
	test_tests_and_methods();
	test_statements();
	test_whitespace();
	test_errors();
	test_builtins();
	test_messages();
	return tap_done();
}

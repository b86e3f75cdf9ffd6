/* test_jsonschema - JSON Schema to grammar: which JSON texts the grammar of
 * a schema accepts (by hand from JSON Schema's meaning and the white-space
 * policy in jsonschema.h), and the refusals with their JSON pointers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/grammar.h"
#include "model/jsonschema.h"
#include "tap.h"

/* 1: TEXT is accepted and complete; 2: a prefix only; 0: rejected;
 * -1: the schema did not compile. */
static int accepts(const char *schema, const char *text)
{
	struct grammar *g = NULL;
	struct grammar_state *s = NULL;
	struct lm_error err = { 0 };
	int r = -1;

	if (jsonschema_grammar(schema, strlen(schema), "s.json", &g, &err)) {
		diag("schema error: %s", err.msg);
		return -1;
	}
	if (!grammar_state_new(&s, g, &err)) {
		r = grammar_accept(s, text, strlen(text)) == 1;
		if (r && !grammar_can_end(s))
			r = 2;
	}
	grammar_state_free(s);
	grammar_free(g);
	return r;
}

static void refused(const char *schema, const char *want)
{
	struct grammar *g = NULL;
	struct lm_error err = { 0 };
	int rc = jsonschema_grammar(schema, strlen(schema), "s.json", &g, &err);

	grammar_free(g);
	ok((rc == LM_EINVAL || rc == LM_EFORMAT) && strstr(err.msg, want), "refused %s -> \"%s\" (want \"%s\")", schema, err.msg, want);
}

static void test_scalars(void)
{
	const char *str = "{\"type\": \"string\"}";
	const char *num = "{\"type\": \"number\"}";
	const char *integer = "{\"type\": \"integer\"}";

	is_int(accepts(str, "\"hi\""), 1, "string");
	is_int(accepts(str, "\"a\\\"b\\\\c\\n\\u00e9\""), 1, "string escapes");
	is_int(accepts(str, "\"a\nb\""), 0, "raw control character refused");
	is_int(accepts(str, "\"\\ud800\""), 0, "surrogate escape refused");
	is_int(accepts(str, "\"\\x\""), 0, "unknown escape refused");
	is_int(accepts(str, "\"\xc3\xa9\""), 1, "UTF-8 in a string");
	is_int(accepts(str, "hi"), 0, "unquoted refused");
	is_int(accepts(num, "-12.5e+3"), 1, "number with fraction and exponent");
	is_int(accepts(num, "0"), 1, "zero");
	is_int(accepts(num, "01"), 0, "leading zero refused");
	is_int(accepts(num, "1."), 2, "a fraction needs digits");
	is_int(accepts(num, "12345678901234567"), 0, "17 integer digits refused (16 at most)");
	is_int(accepts(integer, "-42"), 1, "integer");
	is_int(accepts(integer, "4.5"), 0, "integer refuses a fraction");
	is_int(accepts(integer, "4e2"), 0, "integer refuses an exponent");
	is_int(accepts("{\"type\": \"boolean\"}", "false"), 1, "boolean");
	is_int(accepts("{\"type\": \"null\"}", "null"), 1, "null");
	is_int(accepts("{\"type\": [\"string\", \"null\"]}", "null"), 1, "type list: null");
	is_int(accepts("{\"type\": [\"string\", \"null\"]}", "\"x\""), 1, "type list: string");
	is_int(accepts("{\"type\": [\"string\", \"null\"]}", "1"), 0, "type list: number refused");
	is_int(accepts("{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}", "\"a\""), 0,
	       "minLength 2: one character refused");
	is_int(accepts("{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}", "\"\xc3\xa9\\n\""), 1,
	       "two characters: one UTF-8, one escape");
	is_int(accepts("{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}", "\"abcd\""), 0,
	       "maxLength 3: four refused");
	is_int(accepts("{}", "[1, {\"a\": null}, \"x\"]"), 1, "empty schema: any value");
	is_int(accepts("true", "{\"b\": [true]}"), 1, "schema true: any value");
}

static void test_objects(void)
{
	const char *person = "{\"type\": \"object\", \"properties\": {"
			     "\"name\": {\"type\": \"string\"}, \"age\": {\"type\": \"integer\"},"
			     "\"tags\": {\"type\": \"array\", \"items\": {\"enum\": [\"a\", \"b\"]}, \"maxItems\": 2}},"
			     "\"required\": [\"name\"]}";

	is_int(accepts(person, "{\"name\": \"x\"}"), 1, "required only");
	is_int(accepts(person, "{\"name\":\"x\",\"age\":3,\"tags\":[\"a\",\"b\"]}"), 1, "all, compact");
	is_int(accepts(person, "{\n  \"name\": \"x\",\n  \"tags\": []\n}"), 1, "line breaks and indentation");
	is_int(accepts(person, "{\"age\": 3}"), 0, "missing required name");
	is_int(accepts(person, "{\"name\": \"x\", \"other\": 1}"), 0, "additional property refused");
	is_int(accepts(person, "{\"name\": \"x\", \"tags\": [\"a\", \"b\", \"a\"]}"), 0, "maxItems 2");
	is_int(accepts(person, "{\"name\": \"x\", \"tags\": [\"c\"]}"), 0, "enum refuses c");
	is_int(accepts(person, "{\"name\": \"x\",}"), 0, "trailing comma refused");
	is_int(accepts(person, "{\"name\":  \"x\"}"), 0, "two spaces refused (white-space policy)");
	is_int(accepts("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"null\"}}}", "{}"), 1,
	       "all optional: empty object");
	is_int(accepts("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"null\"}, "
		       "\"b\": {\"type\": \"null\"}}}", "{\"b\": null}"), 1, "first optional skipped");
	is_int(accepts("{\"type\": \"object\", \"additionalProperties\": false}", "{}"), 1,
	       "no properties allowed: {}");
	is_int(accepts("{\"type\": \"object\", \"additionalProperties\": false}", "{\"a\": 1}"), 0,
	       "no properties allowed: a refused");
	is_int(accepts("{\"type\": \"object\"}", "{\"a\": [1]}"), 1, "any object");
	is_int(accepts("{\"properties\": {\"k\\\"/\": {\"const\": 1}}, \"required\": [\"k\\\"/\"]}",
		       "{\"k\\\"/\": 1}"), 1, "a key that needs escaping; object without type");
}

static void test_arrays_and_more(void)
{
	const char *arr = "{\"type\": \"array\", \"items\": {\"type\": \"integer\"}, \"minItems\": 2, \"maxItems\": 3}";
	const char *tree = "{\"$ref\": \"#/$defs/node\", \"$defs\": {\"node\": {\"type\": \"object\", "
			   "\"properties\": {\"v\": {\"type\": \"integer\"}, \"kids\": {\"type\": \"array\", "
			   "\"items\": {\"$ref\": \"#/$defs/node\"}}}, \"required\": [\"v\"]}}}";

	is_int(accepts(arr, "[1]"), 0, "minItems 2: one refused");
	is_int(accepts(arr, "[1, 2]"), 1, "two");
	is_int(accepts(arr, "[1,2,3]"), 1, "three");
	is_int(accepts(arr, "[1, 2, 3, 4]"), 0, "maxItems 3: four refused");
	is_int(accepts("{\"type\": \"array\", \"maxItems\": 0}", "[]"), 1, "maxItems 0");
	is_int(accepts(tree, "{\"v\": 1, \"kids\": [{\"v\": 2}, {\"v\": 3, \"kids\": []}]}"), 1, "recursive $ref");
	is_int(accepts(tree, "{\"kids\": []}"), 0, "recursive: v required");
	is_int(accepts("{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"string\", \"maxLength\": 1}]}",
		       "\"a\""), 1, "anyOf second branch");
	is_int(accepts("{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"boolean\"}]}", "true"), 1, "oneOf");
	is_int(accepts("{\"enum\": [1, \"two\", null, [3], {\"a\": 4}]}", "[3]"), 1, "enum of mixed values");
	is_int(accepts("{\"enum\": [1, \"two\", null]}", "\"three\""), 0, "enum refuses others");
	is_int(accepts("{\"type\": \"string\", \"enum\": [1, \"two\"]}", "1"), 0, "enum filtered by type");
	is_int(accepts("{\"const\": {\"a\": [true]}}", "{\"a\":[true]}"), 1, "const");
	is_int(accepts("{\"const\": {\"a\": [true]}}", "{\"a\": [true]}"), 0, "const is written compactly");
	is_int(accepts("{\"definitions\": {\"x\": {\"type\": \"null\"}}, \"$ref\": \"#/definitions/x\"}", "null"), 1,
	       "definitions");
}

static void test_refusals(void)
{
	refused("{\"type\": \"integer\", \"minimum\": 0}", "s.json: #/minimum: \"minimum\" is not supported");
	refused("{\"properties\": {\"a\": {\"type\": \"string\", \"pattern\": \"x\"}}}",
		"s.json: #/properties/a/pattern: \"pattern\" is not supported");
	refused("{\"type\": \"object\", \"properties\": {\"a\": {}}, \"required\": [\"b\"]}",
		"#/required: \"b\" is not in \"properties\"");
	refused("{\"type\": \"objekt\"}", "#/type: unknown type \"objekt\"");
	refused("{\"type\": \"string\", \"items\": {}}", "#/items: does not apply to the schema's type");
	refused("{\"$ref\": \"#/$defs/missing\"}", "#/$ref: \"#/$defs/missing\" names no schema");
	refused("{\"$ref\": \"other.json#/x\"}", "is not supported");
	refused("{\"type\": \"object\", \"properties\": {\"a\": {}}, \"additionalProperties\": true}",
		"#/additionalProperties: true beside \"properties\" is not supported");
	refused("{\"type\": \"array\", \"items\": [{}, {}]}", "#/items: an array of schemas (a tuple)");
	refused("{\"anyOf\": [{\"type\": \"string\", \"format\": \"date\"}]}",
		"#/anyOf/0/format: \"format\" is not supported");
	refused("{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}", "#/maxItems: is below minItems");
	refused("{\"allOf\": [{}]}", "#/allOf: \"allOf\" is not supported");
	refused("false", "s.json: #: the schema false matches nothing");
	refused("{\"type\": \"string\", \"maxLength\": -1}", "#/maxLength: must be a non-negative integer");
	refused("{\"properties\": {\"a/b~\": {\"not\": {}}}}", "#/properties/a~1b~0/not:");
	refused("{\"type\": \"string\",}", "s.json: trailing comma");
	refused("{\"$defs\": {\"d\": {\"uniqueItems\": true}}, \"$ref\": \"#/$defs/d\"}",
		"#/$defs/d/uniqueItems: only false is supported");
}

int main(void)
{
	test_scalars();
	test_objects();
	test_arrays_and_more();
	test_refusals();
	return tap_done();
}

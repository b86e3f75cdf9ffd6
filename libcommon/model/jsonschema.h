/* jsonschema.h - JSON Schema to GBNF (grammar.h), for generate --json-schema.
 *
 * The grammar accepts only JSON texts that validate against the schema, for
 * the subset of JSON Schema below; every other keyword is refused with its
 * JSON pointer ("schema.json: /properties/age/minimum: \"minimum\" is not
 * supported") rather than ignored, so that whatever is generated validates.
 *
 *   type         "object" "array" "string" "number" "integer" "boolean"
 *                "null", or an array of them (any of them)
 *   object       properties, required (names among the properties),
 *                additionalProperties false or absent: only the listed
 *                properties, in the schema's order, optional ones may be
 *                left out (as llama.cpp's json-schema-to-grammar does).  An
 *                object with no properties (and additionalProperties absent
 *                or true) is any JSON object.
 *   array        items (one schema; absent: any value), minItems, maxItems
 *   string       minLength, maxLength (in code points; an escape counts
 *                as the one character it stands for)
 *   enum, const  any JSON values, written compactly (a value that does not
 *                have the schema's type is left out)
 *   anyOf, oneOf alternatives; oneOf is generated as anyOf, so it is exact
 *                only when no value matches two branches
 *   $ref         "#", "#/definitions/NAME", "#/$defs/NAME" (recursion is
 *                fine)
 *   annotations  $schema $id $comment title description default examples
 *                deprecated readOnly writeOnly, definitions, $defs
 *   true, {}     any JSON value
 *
 * Refused: pattern, format, minimum/maximum and the other numeric bounds,
 * multipleOf, allOf, not, if/then/else, prefixItems, tuple "items",
 * uniqueItems true, contains, min/maxProperties, patternProperties,
 * additionalProperties true or a schema beside properties,
 * propertyNames, dependent*, unevaluated*, false schemas, and keywords
 * that apply to none of the schema's types.  A schema without "type" is an
 * object when it has object keywords, an array when it has array
 * keywords, a string when it has string keywords, else any value.
 *
 * White space (llama.cpp's policy): after every value, "{", "[", ",", ":"
 * at most one of: nothing, a space, or a line break followed by up to 20
 * spaces or tabs.  Numbers are bounded so that a generator always ends
 * them: up to 16 integer digits, up to 16 fraction digits, an exponent of
 * up to 3 digits; integers have no fraction or exponent.  Strings never
 * hold control characters or \u escapes of surrogates.
 */
#ifndef LMPIPE_JSONSCHEMA_H
#define LMPIPE_JSONSCHEMA_H

#include <stddef.h>

#include "error.h"
#include "json.h"

struct grammar;

/* GBNF text for SCHEMA into a malloc'd *GBNF (NUL-terminated, *LEN bytes).
 * NAME (the schema's file) starts error messages. */
int jsonschema_to_gbnf(const struct json_value *schema, const char *name, char **gbnf, size_t *len,
		       struct lm_error *err);
/* Parse the schema TEXT[0..LEN) (JSON) and compile its grammar. */
int jsonschema_grammar(const char *text, size_t len, const char *name, struct grammar **g,
		       struct lm_error *err);

#endif

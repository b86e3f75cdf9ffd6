/* jsonschema.c - JSON Schema subset to GBNF (jsonschema.h).
 *
 * Each schema becomes a rule rN whose body is built while its subschemas
 * write their own rules; a rule text is appended to the output once its
 * body is whole.  Every value rule ends with the white-space rule, as in
 * llama.cpp's json-schema-to-grammar, so separators need only allow white
 * space after themselves. */
#include "model/jsonschema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/grammar.h"

/* The fixed rules: JSON (RFC 8259) tokens, with llama.cpp's white space. */
static const char base_rules[] =
	"ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n"
	"jchar ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | "
	"[dD] [0-7] [0-9a-fA-F]{2}))\n"
	"jstring ::= \"\\\"\" jchar* \"\\\"\" ws\n"
	"jint ::= \"-\"? (\"0\" | [1-9] [0-9]{0,15})\n"
	"jinteger ::= jint ws\n"
	"jnumber ::= jint (\".\" [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? ws\n"
	"jboolean ::= (\"true\" | \"false\") ws\n"
	"jnull ::= \"null\" ws\n"
	"jvalue ::= jobject | jarray | jstring | jnumber | jboolean | jnull\n"
	"jobject ::= \"{\" ws (jstring \":\" ws jvalue (\",\" ws jstring \":\" ws jvalue)*)? \"}\" ws\n"
	"jarray ::= \"[\" ws (jvalue (\",\" ws jvalue)*)? \"]\" ws\n";

enum {
	T_OBJECT = 1, T_ARRAY = 2, T_STRING = 4, T_NUMBER = 8, T_INTEGER = 16, T_BOOLEAN = 32, T_NULL = 64,
};

static const char *const type_names[] = { "object", "array", "string", "number", "integer", "boolean", "null" };

enum kw_group { K_ANNOT, K_OBJECT, K_ARRAY, K_STRING, K_TYPE, K_ENUM, K_CONST, K_ANYOF, K_ONEOF, K_REF, K_BAD };

static const struct { const char *name; enum kw_group group; } keywords[] = {
	{ "$schema", K_ANNOT }, { "$id", K_ANNOT }, { "$comment", K_ANNOT }, { "title", K_ANNOT },
	{ "description", K_ANNOT }, { "default", K_ANNOT }, { "examples", K_ANNOT }, { "deprecated", K_ANNOT },
	{ "readOnly", K_ANNOT }, { "writeOnly", K_ANNOT }, { "definitions", K_ANNOT }, { "$defs", K_ANNOT },
	{ "properties", K_OBJECT }, { "required", K_OBJECT }, { "additionalProperties", K_OBJECT },
	{ "items", K_ARRAY }, { "minItems", K_ARRAY }, { "maxItems", K_ARRAY }, { "uniqueItems", K_ARRAY },
	{ "minLength", K_STRING }, { "maxLength", K_STRING },
	{ "type", K_TYPE }, { "enum", K_ENUM }, { "const", K_CONST }, { "anyOf", K_ANYOF }, { "oneOf", K_ONEOF },
	{ "$ref", K_REF },
};

struct sbuf {
	char *s;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->s, cap))) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sb_add(b, buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

struct ref {
	char *ref;
	char name[24];
};

struct conv {
	const struct json_value *root;
	const char *file;
	struct sbuf out;
	struct sbuf path;           /* JSON pointer of the schema being read */
	struct ref *refs;
	size_t n_refs;
	unsigned next;
	struct lm_error *err;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct conv *c, const char *keyword, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->path.oom)
		return lm_fail(c->err, LM_ENOMEM, "out of memory");
	return lm_fail(c->err, LM_EINVAL, "%s: #%.200s%s%.60s: %s", c->file, c->path.s ? c->path.s : "",
		       keyword ? "/" : "", keyword ? keyword : "", msg);
}

/* Append /TOKEN to the pointer (RFC 6901 escapes ~0 ~1); returns the old
 * length, for path_pop. */
static size_t path_push(struct conv *c, const char *token)
{
	size_t old = c->path.len;

	sb_add(&c->path, "/", 1);
	for (const char *p = token; *p; p++)
		sb_str(&c->path, *p == '~' ? "~0" : *p == '/' ? "~1" : (char[2]){ *p, 0 });
	return old;
}

static void path_pop(struct conv *c, size_t old)
{
	c->path.len = old;
	if (c->path.s)
		c->path.s[old] = 0;
}

static void new_name(struct conv *c, char name[24])
{
	snprintf(name, 24, "r%u", ++c->next);
}

/* Emit NAME ::= BODY. */
static int emit_rule(struct conv *c, const char *name, struct sbuf *body)
{
	sb_str(&c->out, name);
	sb_str(&c->out, " ::= ");
	sb_add(&c->out, body->s ? body->s : "", body->len);
	sb_str(&c->out, "\n");
	return c->out.oom || body->oom ? lm_fail(c->err, LM_ENOMEM, "out of memory") : LM_OK;
}

/* A GBNF literal for the bytes S[0..N): quotes and backslashes escaped
 * (JSON text has no raw control characters). */
static void sb_literal(struct sbuf *b, const char *s, size_t n)
{
	sb_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			sb_add(b, "\\", 1);
		sb_add(b, s + i, 1);
	}
	sb_add(b, "\"", 1);
}

/* A JSON value written compactly, as a literal. */
static int sb_value(struct conv *c, struct sbuf *b, const struct json_value *v)
{
	size_t n;
	char *t = json_to_string(v, &n, c->err);

	if (!t)
		return c->err->code ? c->err->code : lm_fail(c->err, LM_ENOMEM, "out of memory");
	sb_literal(b, t, n);
	free(t);
	return LM_OK;
}

static enum kw_group group_of(const char *key)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(*keywords); i++)
		if (!strcmp(keywords[i].name, key))
			return keywords[i].group;
	return K_BAD;
}

static int visit(struct conv *c, const struct json_value *s, char name[24]);

/* A count keyword: a non-negative integer up to GRAMMAR_MAX_REPEAT. */
static int count_kw(struct conv *c, const struct json_value *s, const char *key, long *out)
{
	const struct json_value *v = json_get(s, key);
	int64_t i;

	if (!v)
		return LM_OK;
	if (json_type(v) != JSON_NUMBER || json_number_int64(v, &i) || i < 0)
		return fail(c, key, "must be a non-negative integer");
	if (i > GRAMMAR_MAX_REPEAT)
		return fail(c, key, "above %d is not supported", GRAMMAR_MAX_REPEAT);
	*out = (long)i;
	return LM_OK;
}

/* {MIN,MAX} after a term (MAX < 0: unbounded). */
static void sb_repeat(struct sbuf *b, long min, long max)
{
	if (max < 0)
		sb_printf(b, "{%ld,}", min);
	else
		sb_printf(b, "{%ld,%ld}", min, max);
}

static int resolve_ref(struct conv *c, const struct json_value *s, char name[24])
{
	const char *ref = json_string(json_get(s, "$ref"), NULL);
	const struct json_value *target = NULL;
	const char *key = NULL;
	char *decoded = NULL;
	struct ref *r;
	int rc;

	if (!ref)
		return fail(c, "$ref", "must be a string");
	for (size_t i = 0; i < c->n_refs; i++)
		if (!strcmp(c->refs[i].ref, ref)) {
			memcpy(name, c->refs[i].name, 24);
			return LM_OK;
		}
	if (!strcmp(ref, "#")) {
		target = c->root;
	} else {
		const char *defs = !strncmp(ref, "#/definitions/", 14) ? "definitions" :
				   !strncmp(ref, "#/$defs/", 8) ? "$defs" : NULL;

		if (defs) {
			const char *p = ref + (defs[0] == 'd' ? 14 : 8);
			size_t k = 0;

			if (!(decoded = malloc(strlen(p) + 1)))
				return lm_fail(c->err, LM_ENOMEM, "out of memory");
			for (; *p && *p != '/'; p++) {
				if (*p == '~' && (p[1] == '0' || p[1] == '1')) {
					decoded[k++] = p[1] == '0' ? '~' : '/';
					p++;
				} else {
					decoded[k++] = *p;
				}
			}
			decoded[k] = 0;
			key = decoded;
			if (!*p)
				target = json_get(json_get(c->root, defs), key);
		}
		if (!defs || (key && strchr(ref + (defs[0] == 'd' ? 14 : 8), '/'))) {
			free(decoded);
			return fail(c, "$ref", "\"%.100s\" is not supported (only \"#\", \"#/definitions/NAME\" and "
				    "\"#/$defs/NAME\")", ref);
		}
		if (!target) {
			rc = fail(c, "$ref", "\"%.100s\" names no schema", ref);
			free(decoded);
			return rc;
		}
	}
	free(decoded);
	r = realloc(c->refs, (c->n_refs + 1) * sizeof(*c->refs));
	if (!r)
		return lm_fail(c->err, LM_ENOMEM, "out of memory");
	c->refs = r;
	r = &c->refs[c->n_refs];
	if (!(r->ref = strdup(ref)))
		return lm_fail(c->err, LM_ENOMEM, "out of memory");
	new_name(c, r->name);
	c->n_refs++;
	memcpy(name, r->name, 24);
	{
		/* the definition is read at its own pointer */
		struct sbuf saved = c->path, body = { 0 };
		char tname[24];
		const char *ptr = ref + 1;

		c->path = (struct sbuf){ 0 };
		sb_str(&c->path, ptr);
		rc = visit(c, target, tname);
		if (!rc && !c->path.oom) {
			sb_str(&body, tname);
			rc = emit_rule(c, name, &body);
		}
		free(body.s);
		free(c->path.s);
		c->path = saved;
	}
	return rc;
}

/* The object rule body for schema S into B. */
static int object_body(struct conv *c, const struct json_value *s, struct sbuf *b)
{
	const struct json_value *props = json_get(s, "properties"), *req = json_get(s, "required");
	const struct json_value *addl = json_get(s, "additionalProperties");
	size_t n = json_object_len(props), old;
	char (*kv)[24] = NULL, (*rn)[24] = NULL, (*sn)[24] = NULL;
	uint8_t *required = NULL;
	int rc = LM_OK;

	if (props && json_type(props) != JSON_OBJECT)
		return fail(c, "properties", "must be an object");
	if (addl && json_type(addl) != JSON_BOOL)
		return fail(c, "additionalProperties", "only true or false is supported");
	if (!n && (!addl || json_bool(addl))) {
		if (req && json_array_len(req))
			return fail(c, "required", "names properties that \"properties\" does not define");
		sb_str(b, "jobject");
		return LM_OK;
	}
	if (addl && json_bool(addl))
		return fail(c, "additionalProperties", "true beside \"properties\" is not supported");
	kv = calloc(n + 1, sizeof(*kv));
	rn = calloc(n + 1, sizeof(*rn));
	sn = calloc(n + 1, sizeof(*sn));
	required = calloc(n + 1, 1);
	if (!kv || !rn || !sn || !required) {
		rc = lm_fail(c->err, LM_ENOMEM, "out of memory");
		goto out;
	}
	if (req && json_type(req) != JSON_ARRAY) {
		rc = fail(c, "required", "must be an array of property names");
		goto out;
	}
	for (size_t i = 0; i < json_array_len(req); i++) {
		const char *want = json_string(json_array_get(req, i), NULL);
		size_t k;

		if (json_type(json_array_get(req, i)) != JSON_STRING) {
			rc = fail(c, "required", "must be an array of property names");
			goto out;
		}
		for (k = 0; k < n && strcmp(json_object_key(props, k), want); k++)
			;
		if (k == n) {
			rc = fail(c, "required", "\"%.100s\" is not in \"properties\"", want);
			goto out;
		}
		required[k] = 1;
	}
	/* the key-value rules, in the schema's order */
	old = path_push(c, "properties");
	for (size_t i = 0; i < n && !rc; i++) {
		struct sbuf body = { 0 };
		char vname[24];
		size_t o2 = path_push(c, json_object_key(props, i));

		rc = visit(c, json_object_value(props, i), vname);
		path_pop(c, o2);
		if (rc)
			break;
		{
			/* the key as JSON text: quotes and escapes as JSON writes them */
			struct json_doc *doc = json_doc_new();
			struct json_value *kval = doc ? json_new_string(doc, json_object_key(props, i),
								       strlen(json_object_key(props, i))) : NULL;

			rc = kval ? sb_value(c, &body, kval) : lm_fail(c->err, LM_ENOMEM, "out of memory");
			json_doc_free(doc);
		}
		sb_str(&body, " ws \":\" ws ");
		sb_str(&body, vname);
		new_name(c, kv[i]);
		rc = rc ? rc : emit_rule(c, kv[i], &body);
		free(body.s);
	}
	path_pop(c, old);
	if (rc)
		goto out;
	/* S_i: members from i on, none written yet; R_i: the same after a
	 * member (so each starts with a comma); optional members may be
	 * skipped */
	for (size_t i = n; i-- > 0 && !rc; ) {
		struct sbuf rb = { 0 }, sbody = { 0 };
		const char *rnext = i + 1 < n ? rn[i + 1] : "\"\"", *snext = i + 1 < n ? sn[i + 1] : "\"\"";

		sb_printf(&rb, "\",\" ws %s %s", kv[i], rnext);
		if (!required[i])
			sb_printf(&rb, " | %s", rnext);
		sb_printf(&sbody, "%s %s", kv[i], rnext);
		if (!required[i])
			sb_printf(&sbody, " | %s", snext);
		new_name(c, rn[i]);
		new_name(c, sn[i]);
		rc = emit_rule(c, rn[i], &rb);
		rc = rc ? rc : emit_rule(c, sn[i], &sbody);
		free(rb.s);
		free(sbody.s);
	}
	if (!rc)
		sb_printf(b, "\"{\" ws %s \"}\" ws", n ? sn[0] : "");
out:
	free(kv);
	free(rn);
	free(sn);
	free(required);
	return rc;
}

static int array_body(struct conv *c, const struct json_value *s, struct sbuf *b)
{
	const struct json_value *items = json_get(s, "items"), *uniq = json_get(s, "uniqueItems");
	long min = 0, max = -1;
	char item[24] = "jvalue";
	int rc;

	if ((rc = count_kw(c, s, "minItems", &min)) || (rc = count_kw(c, s, "maxItems", &max)))
		return rc;
	if (max >= 0 && max < min)
		return fail(c, "maxItems", "is below minItems");
	if (uniq && (json_type(uniq) != JSON_BOOL || json_bool(uniq)))
		return fail(c, "uniqueItems", "only false is supported");
	if (items) {
		size_t old;

		if (json_type(items) == JSON_ARRAY)
			return fail(c, "items", "an array of schemas (a tuple) is not supported");
		old = path_push(c, "items");
		rc = visit(c, items, item);
		path_pop(c, old);
		if (rc)
			return rc;
	}
	if (max == 0) {
		sb_str(b, "\"[\" ws \"]\" ws");
		return LM_OK;
	}
	sb_printf(b, "\"[\" ws (%s (\",\" ws %s)", item, item);
	sb_repeat(b, min > 0 ? min - 1 : 0, max < 0 ? -1 : max - 1);
	sb_printf(b, ")%s \"]\" ws", min == 0 ? "?" : "");
	return LM_OK;
}

static int string_body(struct conv *c, const struct json_value *s, struct sbuf *b)
{
	long min = 0, max = -1;
	int rc;

	if ((rc = count_kw(c, s, "minLength", &min)) || (rc = count_kw(c, s, "maxLength", &max)))
		return rc;
	if (max >= 0 && max < min)
		return fail(c, "maxLength", "is below minLength");
	if (min == 0 && max < 0) {
		sb_str(b, "jstring");
		return LM_OK;
	}
	sb_str(b, "\"\\\"\" jchar");
	sb_repeat(b, min, max);
	sb_str(b, " \"\\\"\" ws");
	return LM_OK;
}

static int value_has_type(const struct json_value *v, unsigned types)
{
	int64_t i;

	switch (json_type(v)) {
	case JSON_OBJECT: return types & T_OBJECT;
	case JSON_ARRAY: return types & T_ARRAY;
	case JSON_STRING: return types & T_STRING;
	case JSON_BOOL: return types & T_BOOLEAN;
	case JSON_NULL: return types & T_NULL;
	case JSON_NUMBER:
		return (types & T_NUMBER) || ((types & T_INTEGER) && !json_number_int64(v, &i));
	}
	return 0;
}

static int parse_types(struct conv *c, const struct json_value *t, unsigned *types)
{
	size_t n = json_type(t) == JSON_ARRAY ? json_array_len(t) : 1;

	*types = 0;
	if (json_type(t) == JSON_ARRAY && !n)
		return fail(c, "type", "an empty list of types matches nothing");
	for (size_t i = 0; i < n; i++) {
		const struct json_value *v = json_type(t) == JSON_ARRAY ? json_array_get(t, i) : t;
		const char *name = json_string(v, NULL);
		size_t k;

		if (json_type(v) != JSON_STRING)
			return fail(c, "type", "must be a type name or an array of them");
		for (k = 0; k < 7 && strcmp(type_names[k], name); k++)
			;
		if (k == 7)
			return fail(c, "type", "unknown type \"%.60s\"", name);
		*types |= 1u << k;
	}
	return LM_OK;
}

static int visit(struct conv *c, const struct json_value *s, char name[24])
{
	unsigned present = 0, types = 0;
	const char *group_key[K_BAD] = { 0 };
	struct sbuf body = { 0 };
	int rc = LM_OK, alts = 0;

	if (json_type(s) == JSON_BOOL) {
		if (!json_bool(s))
			return fail(c, NULL, "the schema false matches nothing");
		strcpy(name, "jvalue");
		return LM_OK;
	}
	if (json_type(s) != JSON_OBJECT)
		return fail(c, NULL, "a schema must be an object or a boolean, not a %s",
			    json_type_name(json_type(s)));
	for (size_t i = 0; i < json_object_len(s); i++) {
		const char *key = json_object_key(s, i);
		enum kw_group g = group_of(key);

		if (g == K_BAD)
			return fail(c, key, "\"%.60s\" is not supported", key);
		present |= 1u << g;
		if (!group_key[g])
			group_key[g] = key;
	}
	present &= ~(1u << K_ANNOT);
	if (present & (1u << K_REF)) {
		if (present != 1u << K_REF)
			return fail(c, NULL, "keywords beside \"$ref\" are not supported");
		return resolve_ref(c, s, name);
	}
	new_name(c, name);
	if (present & ((1u << K_ANYOF) | (1u << K_ONEOF))) {
		const char *key = present & (1u << K_ANYOF) ? "anyOf" : "oneOf";
		const struct json_value *list = json_get(s, key);
		size_t old;

		if (present & ~((1u << K_ANYOF) | (1u << K_ONEOF)) || (present & (1u << K_ANYOF) &&
								     present & (1u << K_ONEOF)))
			return fail(c, NULL, "keywords beside \"%s\" are not supported", key);
		if (json_type(list) != JSON_ARRAY || !json_array_len(list))
			return fail(c, key, "must be a non-empty array of schemas");
		old = path_push(c, key);
		for (size_t i = 0; i < json_array_len(list) && !rc; i++) {
			char sub[24], idx[24];
			size_t o2;

			snprintf(idx, sizeof(idx), "%zu", i);
			o2 = path_push(c, idx);
			rc = visit(c, json_array_get(list, i), sub);
			path_pop(c, o2);
			if (!rc)
				sb_printf(&body, "%s%s", i ? " | " : "", sub);
		}
		path_pop(c, old);
		goto emit;
	}
	if (present & (1u << K_TYPE)) {
		if ((rc = parse_types(c, json_get(s, "type"), &types)))
			goto out;
	}
	if (present & ((1u << K_ENUM) | (1u << K_CONST))) {
		const char *key = present & (1u << K_ENUM) ? "enum" : "const";
		const struct json_value *list = json_get(s, key);
		size_t n = !strcmp(key, "enum") ? json_array_len(list) : 1;

		if (present & ~((1u << K_ENUM) | (1u << K_CONST) | (1u << K_TYPE)) ||
		    ((present & (1u << K_ENUM)) && (present & (1u << K_CONST)))) {
			rc = fail(c, NULL, "keywords beside \"%s\" (other than \"type\") are not supported", key);
			goto out;
		}
		if (!strcmp(key, "enum") && (json_type(list) != JSON_ARRAY || !n)) {
			rc = fail(c, key, "must be a non-empty array");
			goto out;
		}
		for (size_t i = 0; i < n && !rc; i++) {
			const struct json_value *v = !strcmp(key, "enum") ? json_array_get(list, i) : list;

			if (types && !value_has_type(v, types))
				continue;
			sb_str(&body, alts++ ? " | " : "(");
			rc = sb_value(c, &body, v);
		}
		if (!rc && !alts)
			rc = fail(c, key, "no value has the schema's type");
		if (!rc)
			sb_str(&body, ") ws");
		goto emit;
	}
	if (!types) {
		types = present & (1u << K_OBJECT) ? T_OBJECT : present & (1u << K_ARRAY) ? T_ARRAY :
			present & (1u << K_STRING) ? T_STRING : 0;
		if (!types) {
			sb_str(&body, "jvalue");
			goto emit;
		}
	}
	{
		static const struct { enum kw_group g; unsigned t; } apply[] = {
			{ K_OBJECT, T_OBJECT }, { K_ARRAY, T_ARRAY }, { K_STRING, T_STRING },
		};

		for (size_t i = 0; i < 3; i++)
			if ((present & (1u << apply[i].g)) && !(types & apply[i].t)) {
				rc = fail(c, group_key[apply[i].g], "does not apply to the schema's type");
				goto out;
			}
	}
	for (unsigned k = 0; k < 7 && !rc; k++) {
		if (!(types & (1u << k)))
			continue;
		if (alts++)
			sb_str(&body, " | ");
		switch (1u << k) {
		case T_OBJECT: rc = object_body(c, s, &body); break;
		case T_ARRAY: rc = array_body(c, s, &body); break;
		case T_STRING: rc = string_body(c, s, &body); break;
		case T_NUMBER: sb_str(&body, "jnumber"); break;
		case T_INTEGER: sb_str(&body, "jinteger"); break;
		case T_BOOLEAN: sb_str(&body, "jboolean"); break;
		case T_NULL: sb_str(&body, "jnull"); break;
		}
	}
emit:
	if (!rc)
		rc = emit_rule(c, name, &body);
out:
	free(body.s);
	return rc;
}

int jsonschema_to_gbnf(const struct json_value *schema, const char *name, char **gbnf, size_t *len,
		       struct lm_error *err)
{
	struct conv c = { .root = schema, .file = name, .err = err };
	char top[24];
	int rc;

	*gbnf = NULL;
	sb_str(&c.path, "");
	rc = visit(&c, schema, top);
	if (!rc) {
		sb_printf(&c.out, "root ::= %s\n", top);
		sb_str(&c.out, base_rules);
		if (c.out.oom)
			rc = lm_fail(err, LM_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < c.n_refs; i++)
		free(c.refs[i].ref);
	free(c.refs);
	free(c.path.s);
	if (rc) {
		free(c.out.s);
		return rc;
	}
	*gbnf = c.out.s;
	*len = c.out.len;
	return LM_OK;
}

int jsonschema_grammar(const char *text, size_t len, const char *name, struct grammar **g, struct lm_error *err)
{
	struct json_doc *doc = json_doc_new();
	struct json_value *schema;
	char *gbnf = NULL;
	size_t n;
	int rc;

	*g = NULL;
	if (!doc)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = json_parse(doc, text, len, &schema, err);
	if (rc) {
		lm_error_prefix(err, "%s: ", name);
		goto out;
	}
	rc = jsonschema_to_gbnf(schema, name, &gbnf, &n, err);
	if (!rc) {
		rc = grammar_parse(g, gbnf, n, name, err);
		if (rc)  /* a grammar we wrote ourselves: a limit was reached */
			lm_error_prefix(err, "the grammar made from the schema: ");
	}
out:
	free(gbnf);
	json_doc_free(doc);
	return rc;
}

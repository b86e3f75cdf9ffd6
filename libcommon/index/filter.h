/* filter.h - search's --filter: a small expression language over `meta`.
 *
 * Grammar (search(1), FILTERS; keywords are lower case):
 *
 *   expr     = and-expr { "or" and-expr }
 *   and-expr = unary { "and" unary }
 *   unary    = "not" unary | "(" expr ")" | "has" field | test
 *   test     = field cmp value
 *            | field ["not"] "in" ( value ".." value | "[" value { "," value } "]" )
 *   cmp      = "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
 *   field    = name { "." name }     name: [A-Za-z_][A-Za-z0-9_-]*
 *   value    = "string" | 'string' | number | true | false | null
 *
 * A field is a path of object members inside the record's meta; a leading
 * "meta." is optional (meta.lang and lang are the same field).  Double-quoted
 * strings take JSON escapes; single-quoted ones are taken as written.
 *
 * Meaning, for a field's value V in a document:
 *  - No coercion: a number equals a number of the same value (compared as
 *    doubles, so 2020 = 2020.0), a string the same bytes, true/false/null
 *    themselves; a test between different types is false.
 *  - <, <=, >, >= and ranges order numbers numerically and strings by bytes
 *    (UTF-8 code point order); on other types they are false.  A range
 *    a..b includes both ends.
 *  - When V is an array, a test holds when it holds for some element
 *    (tags = "x" asks whether "x" is among the tags).
 *  - A missing field fails every test; "a != v" is exactly "not (a = v)",
 *    and "a not in S" is "not (a in S)", so both hold for a missing field.
 *  - "has a" holds when the field exists, whatever its value (null too).
 *
 * The expression is compiled once into a postfix program; each document's
 * meta is then parsed once and each distinct field looked up once.
 */
#ifndef LMPIPE_INDEX_FILTER_H
#define LMPIPE_INDEX_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "json.h"

enum {
	FILTER_MAX_LEN = 1 << 16,     /* bytes of expression text */
	FILTER_MAX_DEPTH = 64,        /* nesting of parentheses and "not" */
};

struct filter;

/* Compile EXPR (NUL-terminated).  Syntax errors are LM_EINVAL with the
 * problem and its 1-based column: "expected a value after '>=' at column
 * 8". */
int filter_compile(const char *expr, struct filter **out, struct lm_error *err);
void filter_free(struct filter *f);

/* Does the document whose meta is META (an object, or NULL when the record
 * has none) pass?  1 or 0. */
int filter_match(struct filter *f, const struct json_value *meta);
/* The same from meta's JSON text (LEN 0 = no meta).  LM_EFORMAT when the
 * text is not a JSON object. */
int filter_match_text(struct filter *f, const char *meta, size_t len, struct lm_error *err);

/* SPEC "unknown filter fields are a clear error": after matching documents,
 * the first field of the expression that none of them had, or NULL when
 * every field was seen somewhere (or no document was matched yet, since an
 * empty index says nothing about field names).  The caller reports it as
 * "unknown filter field 'NAME'" once all shards were evaluated. */
const char *filter_unknown_field(const struct filter *f);

/* A filter evaluated over every document of an index, once per query set,
 * so that searching only tests a bit (which also makes HNSW and IVF exact
 * about what they may return). */
struct filter_bitmap {
	uint64_t *words;
	uint32_t n;             /* documents */
	uint32_t count;         /* documents set */
};

int filter_bitmap_init(struct filter_bitmap *b, uint32_t n);
void filter_bitmap_free(struct filter_bitmap *b);
static inline int filter_bitmap_test(const struct filter_bitmap *b, uint32_t doc)
{
	return doc < b->n && (b->words[doc >> 6] >> (doc & 63) & 1);
}
static inline void filter_bitmap_set(struct filter_bitmap *b, uint32_t doc)
{
	uint64_t bit = (uint64_t)1 << (doc & 63);

	if (doc < b->n && !(b->words[doc >> 6] & bit)) {
		b->words[doc >> 6] |= bit;
		b->count++;
	}
}
/* An accept callback (the search functions' contract) over a bitmap ARG. */
int filter_bitmap_accept(uint32_t doc, void *arg);

#endif

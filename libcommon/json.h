/* json.h - JSON values (RFC 8259): strict parser, builder, compact writer.
 *
 * Every value lives in a struct json_doc, an arena: parsing and building
 * allocate from it, and json_doc_reset/json_doc_free release everything at
 * once, so a record costs no per-value frees.  Values from one doc may only
 * be put into containers of the same doc.
 *
 * What the module promises:
 *  - The parser accepts exactly RFC 8259 `JSON-text` (section 2): no
 *    comments, no trailing commas, no leading zeros, no NaN/Infinity, no
 *    raw control characters or invalid UTF-8 in strings (NUL included), no
 *    lone surrogate escapes, nesting at most JSON_MAX_DEPTH.  Errors say
 *    what was found, what was expected and where:
 *    "unexpected ']', expected ',' or '}' at column 17".
 *  - Objects keep their members in input order.  A duplicate member name is
 *    an error (RFC 8259 4: names SHOULD be unique; we refuse rather than
 *    guess which one the producer meant).
 *  - Numbers keep their original text: a parsed number is written back byte
 *    for byte (1e400, 0.1000, -0 stay as they are).  Accessors convert to
 *    double, float or int64 on demand, independently of the C locale.
 *  - Writing is compact, one line, members in order; strings escape '"',
 *    '\\' and control characters (as \n, \t, ... or \u00XX) and keep other
 *    UTF-8 as is (so an escape such as \u00e9 in the input comes back as
 *    the character itself: same string, canonical spelling).
 *  - Floats and doubles created by the builder are printed with the fewest
 *    digits that read back to the same value ("0.1", not "0.100000001"),
 *    never with a locale's decimal comma.  NaN and infinity are refused
 *    with LM_EINVAL.
 *
 * Pointers to values stay valid until the doc is reset or freed; adding to
 * an array or object does not move existing values.  A doc belongs to one
 * thread at a time; separate docs may be used from separate threads.
 */
#ifndef LMPIPE_JSON_H
#define LMPIPE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "output.h"

enum { JSON_MAX_DEPTH = 512 };

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_doc;
struct json_value;

struct json_doc *json_doc_new(void);
/* Release every value of the doc; the doc itself stays usable. */
void json_doc_reset(struct json_doc *doc);
void json_doc_free(struct json_doc *doc);

/* Parse TEXT[0..LEN) (one JSON-text; surrounding whitespace allowed) into
 * DOC.  TEXT is copied, it need not outlive the call nor be NUL-terminated.
 * On error returns LM_EFORMAT with "MESSAGE at column C" (or "at line L,
 * column C" when TEXT spans lines; columns are 1-based byte offsets). */
int json_parse(struct json_doc *doc, const char *text, size_t len,
	       struct json_value **out, struct lm_error *err);
/* As json_parse, but the message carries no position: the 0-based byte
 * offset of the fault goes to *ERR_OFFSET instead (for callers such as
 * ndjson.c that print "FILE:LINE:COL: message"). */
int json_parse_at(struct json_doc *doc, const char *text, size_t len,
		  struct json_value **out, size_t *err_offset, struct lm_error *err);

/* Inspecting.  Accessors given a value of another type, or NULL (so that
 * json_get(json_get(rec, "meta"), "lang") is safe), return the neutral
 * answer (0, NULL, false, JSON_NULL); check json_type first when it
 * matters. */
enum json_type json_type(const struct json_value *v);
const char *json_type_name(enum json_type t);
int json_bool(const struct json_value *v);
/* A string's bytes, NUL-terminated, and its length in *LEN (may be NULL).
 * A string holds U+0000 only where the text wrote \u0000: use *LEN. */
const char *json_string(const struct json_value *v, size_t *len);
/* The number as written (parsed text, or the text the writer will print). */
const char *json_number_text(const struct json_value *v, size_t *len, char buf[32]);
double json_number_double(const struct json_value *v);
/* LM_OK if the number is an integer in int64 range (no fraction or
 * exponent in its text, or an int64 given to the builder), else LM_EINVAL. */
int json_number_int64(const struct json_value *v, int64_t *out);

size_t json_array_len(const struct json_value *v);
/* Element I, or NULL when out of range. */
struct json_value *json_array_get(const struct json_value *v, size_t i);

size_t json_object_len(const struct json_value *v);
/* Member I's name and value (in order), or NULL when out of range. */
const char *json_object_key(const struct json_value *v, size_t i);
struct json_value *json_object_value(const struct json_value *v, size_t i);
/* The member named KEY, or NULL. */
struct json_value *json_get(const struct json_value *obj, const char *key);

/* Copy a numeric array into DST (CAP elements).  *N gets the array length.
 * Fails with LM_EINVAL naming the element when one is not a number (or, for
 * ints, not an integer in int32 range), or with LM_ENOMEM when it has more
 * than CAP elements.  Numbers convert with correct rounding. */
int json_get_float_array(const struct json_value *v, float *dst, size_t cap, size_t *n,
			 struct lm_error *err);
int json_get_int_array(const struct json_value *v, int32_t *dst, size_t cap, size_t *n,
		       struct lm_error *err);

/* Building.  Constructors return NULL when out of memory.  Strings are
 * copied and must be valid UTF-8 (else NULL: check with utf8_validate first
 * when unsure). */
struct json_value *json_new_null(struct json_doc *doc);
struct json_value *json_new_bool(struct json_doc *doc, int b);
struct json_value *json_new_int(struct json_doc *doc, int64_t i);
struct json_value *json_new_double(struct json_doc *doc, double d);
struct json_value *json_new_float(struct json_doc *doc, float f);
/* A number from its JSON text (NULL when TEXT is not an RFC 8259 number). */
struct json_value *json_new_number_text(struct json_doc *doc, const char *text, size_t len);
struct json_value *json_new_string(struct json_doc *doc, const char *s, size_t len);
struct json_value *json_new_array(struct json_doc *doc);
struct json_value *json_new_object(struct json_doc *doc);
/* Packed numeric arrays: stored as N floats/ints, written without building
 * a value per element (embeddings, token ids). */
struct json_value *json_new_float_array(struct json_doc *doc, const float *f, size_t n);
struct json_value *json_new_int_array(struct json_doc *doc, const int32_t *v, size_t n);
/* A deep copy of V (from any doc) into DOC. */
struct json_value *json_copy(struct json_doc *doc, const struct json_value *v);

/* These return LM_OK, LM_EINVAL (ARR/OBJ is not an array/object) or
 * LM_ENOMEM, also for a NULL V, so that a constructor's failure can be
 * passed straight in: json_object_set(doc, o, "n", json_new_int(doc, 3)).
 * json_object_set replaces an existing member's value in place,
 * keeping its position, or appends a new member. */
int json_array_append(struct json_doc *doc, struct json_value *arr, struct json_value *v);
int json_object_set(struct json_doc *doc, struct json_value *obj, const char *key,
		    struct json_value *v);
/* Insert a new member at position POS (0 = first; past the end appends);
 * LM_EINVAL if KEY already exists. */
int json_object_insert(struct json_doc *doc, struct json_value *obj, size_t pos,
		       const char *key, struct json_value *v);
/* Rename member FROM to TO keeping its position (LM_EINVAL if FROM is
 * missing or TO already exists). */
int json_object_rename(struct json_doc *doc, struct json_value *obj, const char *from,
		       const char *to);
/* Remove member KEY; returns 1 if it was there, 0 if not. */
int json_object_remove(struct json_value *obj, const char *key);

/* Same type and content; object members compared in order.  Numbers are
 * equal when their texts are, or else when their values are. */
int json_equal(const struct json_value *a, const struct json_value *b);

/* Writing: compact JSON on one line, no newline added. */
int json_write(struct output *out, const struct json_value *v, struct lm_error *err);
/* The same into a malloc'd NUL-terminated string (free it); *LEN may be NULL. */
char *json_to_string(const struct json_value *v, size_t *len, struct lm_error *err);

/* Shortest decimal text that reads back (strtof / strtod, round to nearest)
 * as exactly X: "0.1", "-0", "1e-45", "3.4028235e+38".  Locale-independent.
 * Returns the length; NaN and infinities give "NaN", "Infinity", "-Infinity"
 * (not JSON: the writer refuses them). */
int json_format_float(float x, char buf[32]);
int json_format_double(double x, char buf[32]);

/* Locale-independent strtof/strtod on RFC 8259 number text (correctly
 * rounded); LM_EINVAL when TEXT[0..LEN) is not a JSON number. */
int json_parse_float(const char *text, size_t len, float *out);
int json_parse_double(const char *text, size_t len, double *out);

#endif

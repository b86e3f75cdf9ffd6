/* ndjson.h - the lmpipe record stream: one JSON object per line.
 *
 * Implements the stream protocol of SPEC.md ("The stream protocol") and
 * lmpipe(7).  Reading, line by line with one line in memory at a time:
 *
 *  - A line that is empty or only spaces, tabs and a CR is skipped.
 *  - A trailing CR is dropped (CRLF files), as is a UTF-8 byte order mark
 *    at the start of the first line.
 *  - Every line must be valid UTF-8 without NUL bytes; else LM_EFORMAT
 *    "FILE:LINE:COL: invalid UTF-8" (COL is the 1-based byte column).
 *  - A line whose first character other than space or tab is '{' is a JSON
 *    object (json.h: strict RFC 8259, nothing may follow it).  Malformed
 *    JSON there is an error, "FILE:LINE:COL: expected ',' or '}'", never
 *    quietly taken as text.
 *  - Any other line is plain text: the record {"id": "LINE", "text": TEXT}
 *    with LINE the line number (1-based, counting skipped lines, so ids
 *    name lines of the file) and TEXT the line as is, minus CR.
 *  - The id: a member "_id" is renamed "id" when there is no "id" (BEIR
 *    files); a numeric id becomes the string of its digits as written
 *    ({"id": 7} reads as {"id": "7"}); an id of another type is an error;
 *    a record without one gets "id": "LINE" as its first member.
 *
 * After LM_EFORMAT the offending line has been consumed, so a caller that
 * skips bad records (--skip-bad) just calls ndjson_next again.  Other
 * errors (LM_EIO, LM_ENOMEM) end the stream.
 */
#ifndef LMPIPE_NDJSON_H
#define LMPIPE_NDJSON_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "input.h"
#include "json.h"
#include "output.h"

struct ndjson_reader {
	struct input *in;
	struct json_doc *doc;   /* holds the record ndjson_next returned */
	size_t max_line;        /* longest line accepted, 0 = no limit */
	uint64_t line;          /* line number of the last record read */
	uint64_t records;       /* records returned so far */
};

/* Read records from IN (not closed by ndjson_close). */
int ndjson_open(struct ndjson_reader *r, struct input *in, struct lm_error *err);
void ndjson_close(struct ndjson_reader *r);

/* The next record, an object, valid until the next call.  Returns LM_OK,
 * LM_EOF at the end of input, or an error naming FILE:LINE[:COL]. */
int ndjson_next(struct ndjson_reader *r, struct json_value **rec, struct lm_error *err);
/* As ndjson_next, but the record is built in DOC (which the caller resets
 * or frees), so several records can be held at once, e.g. for batching. */
int ndjson_next_into(struct ndjson_reader *r, struct json_doc *doc, struct json_value **rec,
		     struct lm_error *err);

/* The text a program reads from REC (SPEC.md: "title is prepended to
 * text"): "TITLE TEXT" when both are non-empty strings (a space between,
 * as BEIR's reference retrieval code joins them), else whichever is a
 * non-empty string, else "" if "text" is present as a string, else NULL.
 * The result lives in DOC when it had to be joined. */
const char *ndjson_record_text(struct json_doc *doc, const struct json_value *rec, size_t *len);

/* Write the object REC as one line: compact JSON and '\n'.  LM_EINVAL if
 * REC is not an object or holds NaN/infinity; write errors as output.h. */
int ndjson_write(struct output *out, const struct json_value *rec, struct lm_error *err);

#endif

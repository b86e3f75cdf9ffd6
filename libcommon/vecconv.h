/* vecconv.h - copy vector records between NDJSON, the binary stream, .npy
 * and fvecs (the engine of `lmpipe cat`; formats in lmpipe(7)).
 *
 * What crosses each format:
 *  - NDJSON records give `id` (or `_id`; a number's text; the 1-based line
 *    number when absent) and `embedding`; every other field travels in the
 *    binary stream's meta JSON and comes back when converting back to
 *    NDJSON.  A line that does not start with '{' is the record
 *    {"text": LINE, "id": "LINENO"}; blank lines are skipped.
 *  - The binary stream carries id, vector and meta as they are.
 *  - .npy and fvecs carry only vectors: rows read from them get the ids
 *    "0", "1", ... (0-based row numbers); writing them drops ids and meta.
 *  - NDJSON to NDJSON copies each record (normalised as above) without
 *    needing an embedding; every other direction needs one per record, all
 *    of the same dimension.
 */
#ifndef LMPIPE_VECCONV_H
#define LMPIPE_VECCONV_H

#include <stdint.h>

#include "error.h"
#include "input.h"
#include "output.h"

enum vecconv_format {
	VECCONV_AUTO,     /* input only: sniffed, see vecconv_copy */
	VECCONV_NDJSON,
	VECCONV_BIN,
	VECCONV_NPY,
	VECCONV_FVECS,
	VECCONV_IVECS,    /* input only */
	VECCONV_BVECS,    /* input only */
};

/* "ndjson", "bin", "npy", "fvecs", "ivecs", "bvecs" (and "auto" when
 * ALLOW_AUTO); LM_EINVAL with a message otherwise. */
int vecconv_format_parse(const char *name, int allow_auto, enum vecconv_format *fmt, struct lm_error *err);
const char *vecconv_format_name(enum vecconv_format fmt);

/* Read every record of IN (format FROM; VECCONV_AUTO sniffs the binary
 * stream magic, then the .npy magic, then takes .fvecs/.ivecs/.bvecs from
 * in->name, else NDJSON) and write them to OUT in format TO.  DTYPE is an
 * enum vecstream_dtype for bin and npy output, or -1 for the default: the
 * input's own dtype when copying bin to bin, else f32.  npy accepts f32 and
 * f16, fvecs and NDJSON only f32 (or -1).  *RECORDS (may be NULL) gets the
 * number of records written.  Returns LM_EINVAL for an impossible request
 * (a format or dtype the output cannot take, npy to a pipe) before reading
 * anything, LM_EFORMAT for bad input (the message names file and record or
 * line), LM_EIO / LM_EPIPE for write failures.  OUT is flushed, not closed. */
int vecconv_copy(struct input *in, enum vecconv_format from, struct output *out, enum vecconv_format to,
		 int dtype, uint64_t *records, struct lm_error *err);

#endif

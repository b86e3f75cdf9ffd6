/* error.h - error values returned by every libcommon function.
 *
 * Library code never prints and never exits: it returns 0 on success or a
 * negative LM_E* code, and fills a struct lm_error whose message names the
 * file, record or tensor at fault.  Programs decide what to print (diag.h).
 */
#ifndef LMPIPE_ERROR_H
#define LMPIPE_ERROR_H

enum lm_status {
	LM_OK = 0,
	LM_EIO = -1,      /* read/write/open failed (errno-based) */
	LM_EFORMAT = -2,  /* input is malformed, truncated or contradictory */
	LM_ENOMEM = -3,   /* allocation failed or a size limit was exceeded */
	LM_EINVAL = -4,   /* caller passed something unusable */
	LM_EPIPE = -5,    /* the reader of our output went away */
	LM_EOF = -6,      /* clean end of input (not an error for loops) */
};

struct lm_error {
	int code;
	char msg[512];
};

/* Record an error and return its code, so callers can `return lm_fail(...)`.
 * A NULL err is allowed and records nothing. */
int lm_fail(struct lm_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As lm_fail, with ": strerror(errno)" appended; EPIPE maps to LM_EPIPE. */
int lm_fail_errno(struct lm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix an existing message, e.g. with the file name: "FILE: " + msg. */
int lm_error_prefix(struct lm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif

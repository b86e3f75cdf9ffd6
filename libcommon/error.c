#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lm_fail(struct lm_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return code;
}

int lm_fail_errno(struct lm_error *err, const char *fmt, ...)
{
	int saved = errno;
	int code = saved == EPIPE ? LM_EPIPE : LM_EIO;
	va_list ap;
	size_t n;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
	return code;
}

int lm_error_prefix(struct lm_error *err, const char *fmt, ...)
{
	char old[sizeof err->msg];
	size_t n, keep;
	va_list ap;

	if (!err)
		return LM_OK;
	memcpy(old, err->msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	keep = strnlen(old, sizeof err->msg - 1 - n);
	memcpy(err->msg + n, old, keep);
	err->msg[n + keep] = '\0';
	return err->code;
}

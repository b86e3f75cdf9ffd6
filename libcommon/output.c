#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OUTPUT_BUF = 1 << 16 };

int output_from_fd(struct output *out, int fd, const char *name, struct lm_error *err)
{
	memset(out, 0, sizeof *out);
	out->fd = fd;
	out->cap = OUTPUT_BUF;
	out->buf = malloc(out->cap);
	out->name = strdup(name);
	if (!out->buf || !out->name) {
		free(out->buf);
		free(out->name);
		out->buf = NULL;
		out->name = NULL;
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", name);
	}
	return LM_OK;
}

int output_open(struct output *out, const char *path, struct lm_error *err)
{
	int fd, rc;

	if (!path || !strcmp(path, "-"))
		return output_from_fd(out, 1, "<stdout>", err);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return lm_fail_errno(err, "%s", path);
	rc = output_from_fd(out, fd, path, err);
	if (rc)
		close(fd);
	else
		out->owns_fd = 1;
	return rc;
}

static int output_drain(struct output *out, const unsigned char *p, size_t n, struct lm_error *err)
{
	while (n > 0) {
		ssize_t w = write(out->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			out->failed = 1;
			return lm_fail_errno(err, "%s: write", out->name);
		}
		p += w;
		n -= (size_t)w;
		out->written += (uint64_t)w;
	}
	return LM_OK;
}

int output_flush(struct output *out, struct lm_error *err)
{
	int rc;

	if (out->failed)
		return lm_fail(err, LM_EIO, "%s: earlier write failed", out->name);
	rc = output_drain(out, out->buf, out->len, err);
	out->len = 0;
	return rc;
}

int output_write(struct output *out, const void *p, size_t n, struct lm_error *err)
{
	int rc;

	if (out->failed)
		return lm_fail(err, LM_EIO, "%s: earlier write failed", out->name);
	if (out->len + n <= out->cap) {
		memcpy(out->buf + out->len, p, n);
		out->len += n;
		return LM_OK;
	}
	rc = output_flush(out, err);
	if (rc)
		return rc;
	if (n >= out->cap)
		return output_drain(out, p, n, err);
	memcpy(out->buf, p, n);
	out->len = n;
	return LM_OK;
}

int output_str(struct output *out, const char *s, struct lm_error *err)
{
	return output_write(out, s, strlen(s), err);
}

int output_byte(struct output *out, int c, struct lm_error *err)
{
	unsigned char b = (unsigned char)c;

	if (out->len < out->cap && !out->failed) {
		out->buf[out->len++] = b;
		return LM_OK;
	}
	return output_write(out, &b, 1, err);
}

int output_printf(struct output *out, struct lm_error *err, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return lm_fail(err, LM_EINVAL, "%s: bad format", out->name);
	if ((size_t)n < sizeof small)
		return output_write(out, small, (size_t)n, err);
	big = malloc((size_t)n + 1);
	if (!big)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", out->name);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = output_write(out, big, (size_t)n, err);
	free(big);
	return rc;
}

int output_close(struct output *out, struct lm_error *err)
{
	int rc = LM_OK;

	if (out->buf)
		rc = output_flush(out, err);
	if (out->owns_fd && out->fd >= 0 && close(out->fd) != 0 && rc == LM_OK)
		rc = lm_fail_errno(err, "%s: close", out->name);
	free(out->buf);
	free(out->name);
	memset(out, 0, sizeof *out);
	out->fd = -1;
	return rc;
}

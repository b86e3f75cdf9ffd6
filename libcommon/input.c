#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { INPUT_CHUNK = 1 << 16 };

static int input_init(struct input *in, int fd, int owns, const char *name, struct lm_error *err)
{
	memset(in, 0, sizeof *in);
	in->fd = fd;
	in->owns_fd = owns;
	in->name = strdup(name);
	in->cap = INPUT_CHUNK;
	in->buf = malloc(in->cap + 1);
	if (!in->name || !in->buf) {
		free(in->name);
		free(in->buf);
		in->name = NULL;
		in->buf = NULL;
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", name);
	}
	return LM_OK;
}

int input_open(struct input *in, const char *path, struct lm_error *err)
{
	int fd, rc;

	if (!path || !strcmp(path, "-"))
		return input_from_fd(in, 0, "<stdin>", err);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno(err, "%s", path);
	rc = input_init(in, fd, 1, path, err);
	if (rc)
		close(fd);
	return rc;
}

int input_from_fd(struct input *in, int fd, const char *name, struct lm_error *err)
{
	return input_init(in, fd, 0, name, err);
}

void input_close(struct input *in)
{
	if (in->owns_fd && in->fd >= 0)
		close(in->fd);
	free(in->buf);
	free(in->name);
	memset(in, 0, sizeof *in);
	in->fd = -1;
}

/* Ensure buf[pos..] holds at least N bytes unless input ends first. */
static int input_fill(struct input *in, size_t n, struct lm_error *err)
{
	while (in->len - in->pos < n && !in->eof) {
		ssize_t got;

		if (in->pos > 0) {
			memmove(in->buf, in->buf + in->pos, in->len - in->pos);
			in->offset += in->pos;
			in->len -= in->pos;
			in->pos = 0;
		}
		if (in->cap - in->len < INPUT_CHUNK / 2 || in->cap < n) {
			size_t cap = in->cap * 2;
			unsigned char *nb;

			while (cap < n)
				cap *= 2;
			nb = realloc(in->buf, cap + 1);
			if (!nb)
				return lm_fail(err, LM_ENOMEM, "%s: out of memory", in->name);
			in->buf = nb;
			in->cap = cap;
		}
		got = read(in->fd, in->buf + in->len, in->cap - in->len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return lm_fail_errno(err, "%s: read", in->name);
		}
		if (got == 0)
			in->eof = 1;
		in->len += (size_t)got;
	}
	return LM_OK;
}

long input_peek(struct input *in, size_t n, const unsigned char **p, struct lm_error *err)
{
	int rc = input_fill(in, n, err);
	size_t have;

	if (rc)
		return rc;
	have = in->len - in->pos;
	*p = in->buf + in->pos;
	return (long)(have < n ? have : n);
}

int input_read(struct input *in, void *dst, size_t n, struct lm_error *err)
{
	unsigned char *out = dst;
	size_t done = 0;

	while (done < n) {
		size_t want = n - done, have;
		int rc = input_fill(in, want < INPUT_CHUNK ? want : INPUT_CHUNK, err);

		if (rc)
			return rc;
		have = in->len - in->pos;
		if (have == 0) {
			if (done == 0)
				return LM_EOF;
			return lm_fail(err, LM_EFORMAT, "%s: unexpected end of input at byte %llu (wanted %zu more bytes)",
				       in->name, (unsigned long long)(in->offset + in->pos), n - done);
		}
		if (have > want)
			have = want;
		memcpy(out + done, in->buf + in->pos, have);
		in->pos += have;
		done += have;
	}
	return LM_OK;
}

int input_line(struct input *in, char **line, size_t *len, size_t max, struct lm_error *err)
{
	size_t scanned = 0;

	for (;;) {
		unsigned char *start = in->buf + in->pos;
		size_t have = in->len - in->pos;
		unsigned char *nl = memchr(start + scanned, '\n', have - scanned);
		int rc;

		if (nl || (in->eof && have > 0)) {
			size_t n = nl ? (size_t)(nl - start) : have;

			if (max && n > max)
				goto too_long;
			start[n] = '\0';  /* buf has one spare byte past cap */
			*line = (char *)start;
			*len = n;
			in->pos += nl ? n + 1 : n;
			in->line++;
			return LM_OK;
		}
		if (in->eof)
			return LM_EOF;
		scanned = have;
		if (max && scanned > max)
			goto too_long;
		rc = input_fill(in, have + 1, err);
		if (rc)
			return rc;
		/* input_fill may have moved the data to the start of buf. */
	}
too_long:
	return lm_fail(err, LM_ENOMEM, "%s:%llu: line longer than %zu bytes",
		       in->name, (unsigned long long)in->line + 1, max);
}

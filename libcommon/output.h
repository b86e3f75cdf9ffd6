/* output.h - buffered, checked output to a file descriptor.
 *
 * Every byte a program writes goes through one of these, so a full disk or a
 * closed pipe is always noticed: each call returns LM_OK, LM_EIO (the message
 * names the output) or LM_EPIPE (the reader went away: programs then stop
 * quietly, as a well-behaved filter does).
 */
#ifndef LMPIPE_OUTPUT_H
#define LMPIPE_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct output {
	int fd;
	int owns_fd;
	char *name;          /* for messages: the path, or "<stdout>" */
	unsigned char *buf;
	size_t cap, len;
	uint64_t written;    /* bytes handed to write(2) so far */
	int failed;          /* sticky: after an error every call fails */
};

/* Create/truncate PATH (mode 0666 & ~umask), or stdout when PATH is NULL or
 * "-".  For files that must appear atomically use atomic.h instead. */
int output_open(struct output *out, const char *path, struct lm_error *err);
/* Wrap an already open descriptor (not closed by output_close). */
int output_from_fd(struct output *out, int fd, const char *name, struct lm_error *err);

int output_write(struct output *out, const void *p, size_t n, struct lm_error *err);
int output_str(struct output *out, const char *s, struct lm_error *err);
int output_byte(struct output *out, int c, struct lm_error *err);
int output_printf(struct output *out, struct lm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int output_flush(struct output *out, struct lm_error *err);

/* Flush, then close the descriptor if we own it (a close error, e.g. a
 * delayed NFS write failure, is reported).  Always releases memory. */
int output_close(struct output *out, struct lm_error *err);

#endif

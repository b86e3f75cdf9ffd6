/* input.h - buffered input from a file descriptor, with peek and lines.
 *
 * Every stream reader (ndjson.c, vecstream.c) reads through one of these so a
 * program can sniff the first bytes (binary-stream magic versus '{') before
 * choosing a parser, and so both parsers see the same byte and line counts.
 * Memory is bounded by the longest line the caller asks for, never by the
 * size of the input.
 */
#ifndef LMPIPE_INPUT_H
#define LMPIPE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct input {
	int fd;
	int owns_fd;
	char *name;        /* for messages: the path, or "<stdin>" */
	unsigned char *buf;
	size_t cap, pos, len;
	int eof;
	uint64_t offset;   /* bytes consumed before buf[pos] */
	uint64_t line;     /* lines returned so far by input_line */
};

/* Open PATH, or standard input when PATH is NULL or "-". */
int input_open(struct input *in, const char *path, struct lm_error *err);
/* Wrap an already open descriptor (not closed by input_close). */
int input_from_fd(struct input *in, int fd, const char *name, struct lm_error *err);
void input_close(struct input *in);

/* Make at least N bytes available at *P without consuming them.  Returns the
 * number available (less than N only at end of input) or a negative code. */
long input_peek(struct input *in, size_t n, const unsigned char **p, struct lm_error *err);

/* Read exactly N bytes into DST.  LM_EOF if input ended before the first
 * byte, LM_EFORMAT (naming the offset) if it ended in the middle. */
int input_read(struct input *in, void *dst, size_t n, struct lm_error *err);

/* Next line without its '\n' (a '\r' before it is kept), NUL-terminated in
 * an internal buffer valid until the next call.  *LEN gets its length; lines
 * may contain NUL bytes.  Returns LM_OK, LM_EOF, or LM_ENOMEM when a line is
 * longer than MAX bytes (0 = no limit). */
int input_line(struct input *in, char **line, size_t *len, size_t max, struct lm_error *err);

#endif

/* test_io.c - input.c (peek, exact reads, lines) and output.c (checked writes). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "input.h"
#include "output.h"
#include "tap.h"

/* An input reading BYTES from an in-memory file. */
static int input_of(struct input *in, const void *bytes, size_t n)
{
	int fd = memfd_create("test_io", 0);
	struct lm_error err;

	if (fd < 0 || write(fd, bytes, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	if (input_from_fd(in, fd, "mem", &err))
		return -1;
	return fd;
}

static void test_lines(void)
{
	static const char text[] = "one\r\ntwo\n\nno newline at end";
	struct input in;
	struct lm_error err = { 0 };
	char *line;
	size_t len;
	int fd = input_of(&in, text, sizeof text - 1);

	ok(fd >= 0, "memfd input");
	is_int(input_line(&in, &line, &len, 0, &err), LM_OK, "line 1");
	is_str(line, "one\r", "a CR before LF is kept");
	is_int(input_line(&in, &line, &len, 0, &err), LM_OK, "line 2");
	is_str(line, "two", "line 2 text");
	is_int(input_line(&in, &line, &len, 0, &err), LM_OK, "empty line");
	is_int(len, 0, "empty line has length 0");
	is_int(input_line(&in, &line, &len, 0, &err), LM_OK, "last line without newline");
	is_str(line, "no newline at end", "last line text");
	is_int(in.line, 4, "line counter");
	is_int(input_line(&in, &line, &len, 0, &err), LM_EOF, "then EOF");
	input_close(&in);
	close(fd);
}

static void test_long_line_and_nul(void)
{
	size_t n = 3 * 65536 + 17, len;
	char *big = malloc(n + 1), *line;
	struct input in;
	struct lm_error err = { 0 };
	int fd;

	memset(big, 'x', n);
	big[100] = '\0';  /* lines may hold NUL bytes; the length says where they end */
	big[n] = '\n';
	fd = input_of(&in, big, n + 1);
	is_int(input_line(&in, &line, &len, 0, &err), LM_OK, "line longer than the buffer");
	is_int(len, n, "its full length");
	ok(line[100] == '\0' && line[101] == 'x' && line[n - 1] == 'x', "NUL inside a line is kept");
	input_close(&in);
	close(fd);

	fd = input_of(&in, big, n + 1);
	is_int(input_line(&in, &line, &len, 1000, &err), LM_ENOMEM, "line over the limit is refused");
	ok(strstr(err.msg, "mem:1:") && strstr(err.msg, "longer than 1000"), "message names file and line: %s", err.msg);
	input_close(&in);
	close(fd);
	free(big);
}

static void test_peek_read(void)
{
	static const unsigned char bytes[] = { 1, 2, 3, 4, 5, 6, 7 };
	const unsigned char *p;
	unsigned char got[8];
	struct input in;
	struct lm_error err = { 0 };
	int fd = input_of(&in, bytes, sizeof bytes);

	is_int(input_peek(&in, 4, &p, &err), 4, "peek 4 bytes");
	ok(p[0] == 1 && p[3] == 4, "peeked bytes");
	is_int(input_read(&in, got, 2, &err), LM_OK, "peek consumed nothing: read 2");
	ok(got[0] == 1 && got[1] == 2, "read bytes");
	is_int(input_peek(&in, 100, &p, &err), 5, "peek past the end gives what is left");
	is_int(input_read(&in, got, 8, &err), LM_EFORMAT, "reading past the end mid-record");
	ok(strstr(err.msg, "unexpected end of input at byte 7 (wanted 3 more bytes)"), "message names the offset: %s", err.msg);
	input_close(&in);
	close(fd);

	fd = input_of(&in, bytes, sizeof bytes);
	is_int(input_read(&in, got, 7, &err), LM_OK, "exact read of everything");
	is_int(input_read(&in, got, 1, &err), LM_EOF, "clean EOF at a boundary");
	input_close(&in);
	close(fd);
}

static void test_open_missing(void)
{
	struct input in;
	struct lm_error err = { 0 };

	is_int(input_open(&in, "/nonexistent/x.jsonl", &err), LM_EIO, "missing file");
	ok(strstr(err.msg, "/nonexistent/x.jsonl") && strstr(err.msg, "No such file"), "message: %s", err.msg);
}

static void test_output_errors(void)
{
	struct output out;
	struct lm_error err = { 0 };
	char block[4096];
	int fds[2], rc = LM_OK, i;

	memset(block, 'y', sizeof block);
	/* A full disk: /dev/full fails every write with ENOSPC. */
	is_int(output_open(&out, "/dev/full", &err), LM_OK, "open /dev/full");
	is_int(output_str(&out, "buffered", &err), LM_OK, "small writes are buffered");
	is_int(output_close(&out, &err), LM_EIO, "close reports the failed flush");
	ok(strstr(err.msg, "/dev/full") && strstr(err.msg, "No space"), "message: %s", err.msg);

	/* A reader that went away: EPIPE (SIGPIPE ignored here) is LM_EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe(fds) != 0)
		return;
	close(fds[0]);
	output_from_fd(&out, fds[1], "<pipe>", &err);
	for (i = 0; i < 100 && rc == LM_OK; i++)
		rc = output_write(&out, block, sizeof block, &err);
	is_int(rc, LM_EPIPE, "closed pipe gives LM_EPIPE");
	is_int(output_byte(&out, 'z', &err), LM_EIO, "errors are sticky");
	output_close(&out, NULL);
	close(fds[1]);
	signal(SIGPIPE, SIG_DFL);
}

static void test_output_content(void)
{
	char path[] = "/tmp/test_io.XXXXXX", buf[200000];
	struct output out;
	struct lm_error err = { 0 };
	static char big[150000];
	int fd = mkstemp(path);
	ssize_t n;

	memset(big, 'b', sizeof big);
	close(fd);
	is_int(output_open(&out, path, &err), LM_OK, "open a file");
	output_printf(&out, &err, "%s=%d;", "x", 42);
	output_byte(&out, '[', &err);
	output_write(&out, big, sizeof big, &err);  /* larger than the buffer */
	output_str(&out, "]", &err);
	is_int(output_close(&out, &err), LM_OK, "close");
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof buf);
	close(fd);
	unlink(path);
	is_int(n, 5 + 1 + sizeof big + 1, "every byte arrived");
	ok(!memcmp(buf, "x=42;[", 6) && buf[n - 1] == ']' && buf[6 + 1000] == 'b', "in order");
}

int main(void)
{
	test_lines();
	test_long_line_and_nul();
	test_peek_read();
	test_open_missing();
	test_output_errors();
	test_output_content();
	return tap_done();
}

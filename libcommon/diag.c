#include "diag.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COLOR_ERROR "\033[1;31m"
#define COLOR_WARN "\033[1;33m"
#define COLOR_RESET "\033[0m"

static const char *prog_name = "lmpipe";
static int level = DIAG_NORMAL;
static int color = -1;
static volatile int status_line;
static int atexit_registered;
static int die_by_sigpipe;

/* A reader that went away is not something to complain about, but it is not
 * a success either (SPEC: a closed pipe is "never a silent success").  A
 * filter such as cat(1) is killed by SIGPIPE: quiet, and the shell sees
 * 128+13, so `set -o pipefail` and make still notice.  git does the same
 * when it meets EPIPE with SIGPIPE ignored (write_or_die.c check_pipe).  We
 * die by the real signal, but only after exit() has run the atexit handlers,
 * so temporary files (atomic.h) are removed first: this handler is
 * registered by diag_init before any other, and atexit handlers run in
 * reverse order, so it runs last. */
static void diag_atexit(void)
{
	if (!die_by_sigpipe)
		return;
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
}

void diag_init(const char *argv0)
{
	const char *slash;

	prog_name = "lmpipe";
	if (argv0 && *argv0) {
		slash = strrchr(argv0, '/');
		prog_name = slash && slash[1] ? slash + 1 : argv0;
	}
	level = DIAG_NORMAL;
	color = -1;
	if (!atexit_registered && atexit(diag_atexit) == 0)
		atexit_registered = 1;
}

const char *diag_prog(void)
{
	return prog_name;
}

void diag_set_level(int l)
{
	level = l < DIAG_QUIET ? DIAG_QUIET : l > DIAG_VERBOSE ? DIAG_VERBOSE : l;
}

int diag_level(void)
{
	return level;
}

int diag_use_color(void)
{
	const char *no_color, *term;

	if (color < 0) {
		no_color = getenv("NO_COLOR");
		term = getenv("TERM");
		color = isatty(2) && !(no_color && *no_color) &&
			!(term && !strcmp(term, "dumb"));
	}
	return color;
}

void diag_status_line(int shown)
{
	status_line = shown;
}

/* Format "prog: [label]message\n" into one buffer and write it at once.  A
 * message longer than the buffer is cut, keeping the newline. */
static void diag_emit(const char *color_on, const char *label, const char *fmt, va_list ap)
{
	char buf[4096];
	size_t n = 0, cap = sizeof buf - 1;
	int saved = errno, c = color_on && diag_use_color();
	const char *p;
	int w;

	if (status_line) {
		w = snprintf(buf, cap, "\r\033[K");
		n += (size_t)w;
		status_line = 0;
	}
	if (c && !label)
		w = snprintf(buf + n, cap - n, "%s%s:%s ", color_on, prog_name, COLOR_RESET);
	else
		w = snprintf(buf + n, cap - n, "%s: ", prog_name);
	n += w > 0 ? (size_t)w : 0;
	if (label && n < cap) {
		if (c)
			w = snprintf(buf + n, cap - n, "%s%s%s ", color_on, label, COLOR_RESET);
		else
			w = snprintf(buf + n, cap - n, "%s ", label);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n < cap) {
		w = vsnprintf(buf + n, cap - n, fmt, ap);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n > cap - 1)
		n = cap - 1;
	buf[n++] = '\n';
	for (p = buf; n > 0;) {
		ssize_t r = write(2, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		p += r;
		n -= (size_t)r;
	}
	errno = saved;
}

void diag_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_emit(COLOR_ERROR, NULL, fmt, ap);
	va_end(ap);
}

void diag_warn(const char *fmt, ...)
{
	va_list ap;

	if (level < DIAG_NORMAL)
		return;
	va_start(ap, fmt);
	diag_emit(COLOR_WARN, "warning:", fmt, ap);
	va_end(ap);
}

void diag_info(const char *fmt, ...)
{
	va_list ap;

	if (level < DIAG_INFO)
		return;
	va_start(ap, fmt);
	diag_emit(NULL, NULL, fmt, ap);
	va_end(ap);
}

void diag_verbose(const char *fmt, ...)
{
	va_list ap;

	if (level < DIAG_VERBOSE)
		return;
	va_start(ap, fmt);
	diag_emit(NULL, NULL, fmt, ap);
	va_end(ap);
}

_Noreturn void diag_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_emit(COLOR_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(status);
}

void diag_lm_error(const struct lm_error *err)
{
	if (err->code == LM_EPIPE)
		return;
	diag_error("%s", err->msg[0] ? err->msg : "unknown error");
}

_Noreturn void diag_exit_for(int lm_code)
{
	if (lm_code == LM_OK)
		exit(EXIT_OK);
	if (lm_code != LM_EPIPE)
		exit(EXIT_DATA);
	if (atexit_registered) {
		die_by_sigpipe = 1;
		exit(EXIT_DATA);
	}
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	exit(EXIT_DATA);
}

_Noreturn void diag_fail(const struct lm_error *err)
{
	diag_lm_error(err);
	diag_exit_for(err->code);
}

/* gnulib close_stream: an error is a failed earlier write, or a failed
 * fclose unless stdout was already closed (EBADF) with nothing pending. */
void diag_close_stdout(void)
{
	int prev_fail = ferror(stdout) != 0;
	int pending = __fpending(stdout) != 0;
	int fail = fclose(stdout) != 0;
	int e = fail ? errno : 0;

	if (!prev_fail && !(fail && (pending || e != EBADF)))
		return;
	if (e == EPIPE)
		diag_exit_for(LM_EPIPE);
	if (e)
		diag_error("write error: %s", strerror(e));
	else
		diag_error("write error");
	exit(EXIT_DATA);
}

void diag_skipped(const struct lm_error *err, void *arg)
{
	(void)arg;
	diag_error("%s (skipped)", err->msg);
}

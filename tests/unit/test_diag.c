/* test_diag.c - messages, levels, colour and exit statuses of diag.h.
 *
 * Each case runs in a child (diag_child.h) so exits and signals can be
 * observed; expected texts are the formats SPEC "Command-line conventions"
 * and diag.h promise, written out by hand. */
#include "diag.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag_child.h"
#include "tap.h"

struct case_arg {
	const char *argv0;
	int level;
	const char *no_color;   /* NULL: unset */
	const char *term;
	int code;
};

static void setup(const struct case_arg *a)
{
	if (a->no_color)
		setenv("NO_COLOR", a->no_color, 1);
	else
		unsetenv("NO_COLOR");
	setenv("TERM", a->term ? a->term : "xterm", 1);
	diag_init(a->argv0);
	diag_set_level(a->level);
}

static void all_levels(void *p)
{
	setup(p);
	diag_error("bad thing %d", 42);
	diag_warn("careful");
	diag_info("for your information");
	diag_verbose("details");
}

static void die_usage(void *p)
{
	setup(p);
	diag_die(EXIT_USAGE, "missing %s", "operand");
}

static void lm_error_then_exit(void *p)
{
	const struct case_arg *a = p;
	struct lm_error err;

	setup(p);
	lm_fail(&err, a->code, "docs.jsonl:3: expected '}'");
	diag_fail(&err);
}

static void print_marker(void)
{
	fputs("atexit ran\n", stdout);
	fflush(stdout);
}

static void epipe_runs_atexit(void *p)
{
	setup(p);
	atexit(print_marker);
	diag_exit_for(LM_EPIPE);
}

static void status_line_cleared(void *p)
{
	setup(p);
	diag_status_line(1);
	diag_error("oops");
	diag_error("again");
}

static void long_message(void *p)
{
	static char big[10000];

	setup(p);
	memset(big, 'x', sizeof big - 1);
	diag_error("%s", big);
}

static void write_to_dev_full(void *p)
{
	int fd = open("/dev/full", O_WRONLY);

	setup(p);
	dup2(fd, 1);
	close(fd);
	fputs("some output\n", stdout);
	diag_close_stdout();
	fputs("not reached\n", stderr);
}

static void write_to_closed_pipe(void *p)
{
	int fds[2];

	setup(p);
	/* As when a parent ignores SIGPIPE: the write fails with EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe(fds) != 0)
		exit(99);
	close(fds[0]);
	dup2(fds[1], 1);
	close(fds[1]);
	fputs("some output\n", stdout);
	diag_close_stdout();
	exit(7);
}

static void close_stdout_ok(void *p)
{
	setup(p);
	fputs("all of it\n", stdout);
	diag_close_stdout();
}

static void stdout_already_closed(void *p)
{
	setup(p);
	close(1);
	diag_close_stdout();
}

static void prog_name(void *p)
{
	setup(p);
	printf("%s\n", diag_prog());
}

int main(void)
{
	struct case_arg a = { .argv0 = "/usr/local/bin/tok", .level = DIAG_NORMAL };
	struct child_result r;

	run_child(all_levels, &a, 0, &r);
	is_int(child_exit_code(&r), 0, "messages alone do not exit");
	is_str(r.err, "tok: bad thing 42\ntok: warning: careful\n",
	       "default level: error and warning as 'prog: message', basename of argv[0]");
	is_str(r.out, "", "nothing on stdout");

	a.level = DIAG_QUIET;
	run_child(all_levels, &a, 0, &r);
	is_str(r.err, "tok: bad thing 42\n", "-q: errors still printed, warning silenced");

	a.level = DIAG_INFO;
	run_child(all_levels, &a, 0, &r);
	is_str(r.err, "tok: bad thing 42\ntok: warning: careful\ntok: for your information\n",
	       "-v: info printed, verbose not");

	a.level = DIAG_VERBOSE;
	run_child(all_levels, &a, 0, &r);
	is_str(r.err, "tok: bad thing 42\ntok: warning: careful\ntok: for your information\n"
		      "tok: details\n", "-vv: everything");

	a.level = 17;
	run_child(all_levels, &a, 0, &r);
	ok(strstr(r.err, "tok: details\n") != NULL, "levels above verbose are clamped to verbose");

	a.level = DIAG_NORMAL;
	run_child(die_usage, &a, 0, &r);
	is_int(child_exit_code(&r), EXIT_USAGE, "diag_die exits with the status given");
	is_str(r.err, "tok: missing operand\n", "diag_die prints its message");

	a.code = LM_EFORMAT;
	run_child(lm_error_then_exit, &a, 0, &r);
	is_int(child_exit_code(&r), EXIT_DATA, "data error exits 1");
	is_str(r.err, "tok: docs.jsonl:3: expected '}'\n", "library message printed after prog:");

	a.code = LM_EINVAL;
	run_child(lm_error_then_exit, &a, 0, &r);
	is_int(child_exit_code(&r), EXIT_DATA, "LM_EINVAL from a library is a runtime error (1)");

	a.code = LM_EIO;
	run_child(lm_error_then_exit, &a, 0, &r);
	is_int(child_exit_code(&r), EXIT_DATA, "I/O error exits 1");

	a.code = LM_OK;
	run_child(lm_error_then_exit, &a, 0, &r);
	is_int(child_exit_code(&r), EXIT_OK, "diag_exit_for(LM_OK) exits 0");

	a.code = LM_EPIPE;
	run_child(lm_error_then_exit, &a, 0, &r);
	is_int(child_signal(&r), SIGPIPE, "EPIPE: ends as if killed by SIGPIPE (shell status 141)");
	is_str(r.err, "", "EPIPE: nothing on stderr");

	run_child(epipe_runs_atexit, &a, 0, &r);
	is_int(child_signal(&r), SIGPIPE, "EPIPE with an atexit handler: still SIGPIPE");
	is_str(r.out, "atexit ran\n", "EPIPE: atexit handlers (temp file cleanup) ran first");

	run_child(status_line_cleared, &a, 0, &r);
	is_str(r.err, "\r\033[Ktok: oops\ntok: again\n",
	       "a progress line on screen is cleared once before a message");

	run_child(long_message, &a, 0, &r);
	ok(r.err_len > 1000 && r.err_len <= 4096 && !strncmp(r.err, "tok: xxx", 8) &&
	   r.err[r.err_len - 1] == '\n', "an overlong message is cut but keeps its newline (%zu bytes)",
	   r.err_len);

	run_child(write_to_dev_full, &a, 0, &r);
	is_int(child_exit_code(&r), EXIT_DATA, "full disk at close: exit 1");
	is_str(r.err, "tok: write error: No space left on device\n", "full disk is reported");

	run_child(write_to_closed_pipe, &a, 0, &r);
	is_int(child_signal(&r), SIGPIPE, "closed pipe at close: quiet SIGPIPE end");
	is_str(r.err, "", "closed pipe: no message");

	run_child(close_stdout_ok, &a, 0, &r);
	is_int(child_exit_code(&r), 0, "successful close returns");
	is_str(r.out, "all of it\n", "buffered stdout was flushed");
	is_str(r.err, "", "no message on success");

	run_child(stdout_already_closed, &a, 0, &r);
	is_int(child_exit_code(&r), 0, "stdout closed with nothing written is not an error");

	a.argv0 = NULL;
	run_child(prog_name, &a, 0, &r);
	is_str(r.out, "lmpipe\n", "no argv[0]: 'lmpipe'");
	a.argv0 = "evaluate";
	run_child(prog_name, &a, 0, &r);
	is_str(r.out, "evaluate\n", "argv[0] without a slash is used as is");
	a.argv0 = "/usr/local/bin/tok";

	/* Colour: only on a terminal, NO_COLOR unset or empty, TERM not dumb. */
	run_child(all_levels, &a, CHILD_TTY, &r);
	is_str(r.err, "\033[1;31mtok:\033[0m bad thing 42\ntok: \033[1;33mwarning:\033[0m careful\n",
	       "terminal: red prog: on errors, yellow warning: label");

	a.no_color = "1";
	run_child(all_levels, &a, CHILD_TTY, &r);
	is_str(r.err, "tok: bad thing 42\ntok: warning: careful\n", "NO_COLOR=1: no colour on a terminal");

	a.no_color = "";
	run_child(all_levels, &a, CHILD_TTY, &r);
	ok(strstr(r.err, "\033[") != NULL, "NO_COLOR empty does not disable colour (no-color.org)");

	a.no_color = NULL;
	a.term = "dumb";
	run_child(all_levels, &a, CHILD_TTY, &r);
	ok(strchr(r.err, '\033') == NULL, "TERM=dumb: no colour");
	a.term = NULL;

	run_child(all_levels, &a, 0, &r);
	ok(strchr(r.err, '\033') == NULL, "a pipe never gets colour");

	return tap_done();
}

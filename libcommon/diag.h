/* diag.h - what a program says on stderr, and how it exits.
 *
 * Program side only: library code returns an lm_error and never prints
 * (error.h); main() turns that into "prog: message" and an exit status with
 * these functions.  SPEC "Command-line conventions":
 *
 *   exit 0  success
 *   exit 1  runtime or data error (anything a library reports)
 *   exit 2  usage error (only the option parser knows the command line is
 *           wrong, so only opt.h and the program itself use it)
 *
 * Display levels follow zstd's idea of one number that -q lowers and -v
 * raises:
 *
 *   0  -q       errors only (an error is always printed: a non-zero status
 *               without a reason wastes the user's time; 2>/dev/null exists)
 *   1  default  + warnings, + progress bars on a terminal (progress.h)
 *   2  -v       + information, e.g. the summary line a progress bar leaves
 *   3  -vv      + verbose detail
 *
 * Messages are built in one buffer and written with one write(2), so lines
 * from several threads never interleave.  Colour (only the "prog:" prefix of
 * errors and the "warning:" label) is used only when stderr is a terminal,
 * NO_COLOR is unset or empty (https://no-color.org) and TERM is not "dumb".
 */
#ifndef LMPIPE_DIAG_H
#define LMPIPE_DIAG_H

#include "error.h"

enum {
	EXIT_OK = 0,
	EXIT_DATA = 1,
	EXIT_USAGE = 2,
};

enum diag_level {
	DIAG_QUIET = 0,
	DIAG_NORMAL = 1,
	DIAG_INFO = 2,
	DIAG_VERBOSE = 3,
};

/* Name the program after basename(ARGV0) ("lmpipe" when empty) and reset the
 * level to DIAG_NORMAL.  Call first thing in main() (opt_init does): it
 * registers the exit handler that must run after all others, such as
 * atomic.h's removal of temporaries (see diag_exit_for). */
void diag_init(const char *argv0);
const char *diag_prog(void);

void diag_set_level(int level);
int diag_level(void);

/* 1 when messages on stderr may carry ANSI colour (decided once). */
int diag_use_color(void);

/* "prog: message\n" at any level. */
void diag_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: warning: message\n" at level >= 1. */
void diag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: message\n" at level >= 2 and >= 3. */
void diag_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* diag_error, then exit(STATUS). */
_Noreturn void diag_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print ERR's message as an error; nothing for LM_EPIPE, whose whole point
 * is to stop quietly. */
void diag_lm_error(const struct lm_error *err);
/* "prog: MESSAGE (skipped)": the report_bad callback of the record loops
 * (tokrun, embedrun, genrun, rerank) under --skip-bad; ARG is unused. */
void diag_skipped(const struct lm_error *err, void *arg);

/* End the program for a libcommon return code: LM_OK exits 0, LM_EPIPE ends
 * quietly as if killed by SIGPIPE (see diag.c for why), anything else exits
 * 1.  atexit handlers (atomic.h cleanup) run in every case. */
_Noreturn void diag_exit_for(int lm_code);
/* diag_lm_error(ERR) then diag_exit_for(ERR->code). */
_Noreturn void diag_fail(const struct lm_error *err);

/* Flush and close stdout; on failure print "prog: write error: REASON" and
 * exit 1 (EPIPE: end quietly as above).  Call at the end of main() so a
 * full disk is never a silent success (gnulib close_stdout, git
 * write_or_die). */
void diag_close_stdout(void);

/* progress.h tells diag whether a status line is on the terminal, so a
 * message first clears it instead of being glued to its end. */
void diag_status_line(int shown);

#endif

/* test_progress.c - when and what progress.h draws.
 *
 * stderr is a pseudo-terminal (diag_child.h CHILD_TTY) or a pipe.  The
 * expected figures are worked by hand: 1000 of 4000 records is 25%;
 * 2097152 bytes is 2.0 MiB. */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "diag.h"
#include "diag_child.h"
#include "tap.h"

struct case_arg {
	int level;
	int force;
	int width;           /* terminal columns to set, 0: leave */
	uint64_t total, total_bytes;
};

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static double seconds_since(double t0)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 - t0;
}

static void setup(const struct case_arg *a)
{
	unsetenv("NO_COLOR");
	setenv("TERM", "xterm", 1);
	diag_init("embed");
	diag_set_level(a->level);
	progress_force(a->force);
	if (a->width) {
		struct winsize ws = { .ws_row = 24, .ws_col = (unsigned short)a->width };

		ioctl(2, TIOCSWINSZ, &ws);
	}
}

/* Two draws: 1000 and then 2000 records. */
static void two_updates(void *p)
{
	const struct case_arg *a = p;
	struct progress pr;

	setup(a);
	progress_start(&pr, "embed", a->total);
	pr.total_bytes = a->total_bytes;
	progress_update(&pr, 500, 1000);
	nap(150);
	progress_update(&pr, 1000, 2097152);
	nap(150);
	progress_update(&pr, 2000, 4194304);
	progress_end(&pr);
}

static void rate_limited(void *p)
{
	struct progress pr;
	int i;

	setup(p);
	progress_start(&pr, "embed", 0);
	for (i = 1; i <= 100000; i++)
		progress_update(&pr, (uint64_t)i, (uint64_t)i * 100);
	/* How long the loop took, so a slow machine is not a failure. */
	printf("%.3f\n", seconds_since(pr.start));
	nap(120);
	for (i = 1; i <= 1000; i++)
		progress_update(&pr, 100000 + (uint64_t)i, 0);
	progress_end(&pr);
}

static void message_during_progress(void *p)
{
	struct progress pr;

	setup(p);
	progress_start(&pr, "embed", 0);
	nap(120);
	progress_update(&pr, 7, 70);
	diag_warn("docs.jsonl:7: skipped");
	progress_end(&pr);
}

static void forced_to_log(void *p)
{
	struct progress pr;

	setup(p);
	progress_start(&pr, "index", 0);
	nap(150);
	progress_update(&pr, 10, 0);
	nap(1050);
	progress_update(&pr, 20, 0);
	progress_update(&pr, 30, 0);
	progress_end(&pr);
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)); s += strlen(needle))
		n++;
	return n;
}

int main(void)
{
	struct case_arg a = { .level = DIAG_NORMAL, .total = 4000 };
	struct child_result r;
	const char *line;

	run_child(two_updates, &a, CHILD_TTY, &r);
	is_int(child_exit_code(&r), 0, "terminal: runs");
	ok(strstr(r.err, "\rembed: 1000 records, 2.0 MiB, ") != NULL, "terminal: line redrawn with \\r: records, MiB");
	line = strstr(r.err, "\rembed: 1000 records");
	ok(line && strstr(line, " rec/s, ") && strstr(line, " MiB/s, 25%, ETA "),
	   "terminal: rates, 25%% of 4000 records and an ETA");
	ok(strstr(r.err, "\rembed: 2000 records, 4.0 MiB, ") && strstr(r.err, "50%, ETA "),
	   "terminal: second draw, 50%%");
	is_int(count(r.err, "\033[K"), 3, "each draw and the end clear to end of line");
	ok(r.err_len >= 4 && !strcmp(r.err + r.err_len - 4, "\r\033[K"), "progress_end clears the line");
	ok(!strstr(r.err, "500 records"), "no draw before 0.1 s");
	ok(!strstr(r.err, "\033[0m") && !strstr(r.err, "\033[1;"), "no colour codes");

	a.total = 0;
	a.total_bytes = 8388608;
	run_child(two_updates, &a, CHILD_TTY, &r);
	ok(strstr(r.err, "\rembed: 1000 records, 2.0 MiB, ") && strstr(r.err, "MiB/s, 25%, ETA "),
	   "total_bytes: percentage follows bytes (2 of 8 MiB)");
	a.total_bytes = 0;
	run_child(two_updates, &a, CHILD_TTY, &r);
	ok(strstr(r.err, "\rembed: 1000 records") && !strchr(r.err, '%'), "no total: no percentage");

	run_child(two_updates, &a, 0, &r);
	is_str(r.err, "", "pipe: nothing at all");

	a.level = DIAG_QUIET;
	run_child(two_updates, &a, CHILD_TTY, &r);
	is_str(r.err, "", "-q: nothing on a terminal");
	a.force = 1;
	run_child(two_updates, &a, CHILD_TTY, &r);
	is_str(r.err, "", "-q wins over --progress");
	a.force = 0;

	a.level = DIAG_INFO;
	run_child(two_updates, &a, 0, &r);
	ok(!strncmp(r.err, "embed: embed: 2000 records, 4.0 MiB in 0.", 41) && strstr(r.err, " s (") &&
	   strstr(r.err, " rec/s, ") && r.err[r.err_len - 1] == '\n' && count(r.err, "\n") == 1,
	   "-v on a pipe: only the summary line");
	a.level = DIAG_NORMAL;

	run_child(rate_limited, &a, CHILD_TTY, &r);
	{
		double loop = atof(r.out);
		int draws = count(r.err, "\rembed:");

		ok(draws >= 1 && draws <= 1 + (int)(loop / 0.1), "100000 updates in %.3f s drew %d time(s): "
		   "at most once per 0.1 s", loop, draws);
	}
	ok(strstr(r.err, "\rembed: 100001 records") != NULL, "the draw shows the latest counts");

	a.width = 30;
	run_child(two_updates, &a, CHILD_TTY, &r);
	line = strstr(r.err, "\rembed: 1000");
	ok(line && strstr(line, "\033[K") && strstr(line, "\033[K") - line == 30,
	   "a line longer than the terminal is cut to its width");
	a.width = 0;

	run_child(message_during_progress, &a, CHILD_TTY, &r);
	ok(strstr(r.err, "\033[K\r\033[Kembed: \033[1;33mwarning:\033[0m docs.jsonl:7: skipped\n") != NULL,
	   "a warning first clears the progress line");

	a.force = 1;
	run_child(forced_to_log, &a, 0, &r);
	ok(!strncmp(r.err, "index: 20 records, 0.0 MiB, ", 28), "--progress on a pipe: plain lines");
	is_int(count(r.err, "\n"), 1, "--progress on a pipe: at most one line a second, none in the first");
	ok(!strchr(r.err, '\r') && !strchr(r.err, '\033'), "--progress on a pipe: no control codes");

	return tap_done();
}

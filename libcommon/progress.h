/* progress.h - a progress line on stderr for long runs.
 *
 * SPEC: progress and rates on stderr only when stderr is a terminal,
 * --progress forces them, -q silences them (diag level 0 wins over
 * --progress).  On a terminal one line is redrawn in place ("\r", "\033[K")
 * at most 10 times a second; when forced onto a file or pipe, plain lines are
 * written at most once a second, with no control codes.  No colour is ever
 * used, so NO_COLOR holds trivially.
 *
 *   struct progress p;
 *   progress_start(&p, "embed", 0);
 *   while (...) { ...; progress_update(&p, n_records, n_bytes); }
 *   progress_end(&p);
 *
 * The line shows records, MiB, both rates, and with a known total the
 * percentage and the time left.  progress_end clears the line and leaves a
 * summary at diag level >= 2 (-v).  One struct progress per loop, driven by
 * one thread.
 */
#ifndef LMPIPE_PROGRESS_H
#define LMPIPE_PROGRESS_H

#include <stdint.h>

struct progress {
	const char *label;
	uint64_t total;        /* expected records, 0 when unknown */
	uint64_t total_bytes;  /* expected bytes (e.g. st_size), 0 when unknown */
	uint64_t records, bytes;
	double start, last_draw;
	int enabled;           /* drawing at all */
	int tty;               /* redraw in place */
	int drawn;             /* a line is on the terminal now */
};

/* --progress: draw even when stderr is not a terminal. */
void progress_force(int on);

/* Begin timing.  TOTAL is the expected number of records or 0; a caller
 * that knows the input size instead sets p->total_bytes afterwards (a
 * percentage then follows bytes). */
void progress_start(struct progress *p, const char *label, uint64_t total);
/* Report the counts so far (running totals, not increments).  Cheap enough
 * to call per record: it only draws when the last draw is old enough. */
void progress_update(struct progress *p, uint64_t records, uint64_t bytes);
/* Clear the line and print the summary at info level. */
void progress_end(struct progress *p);

#endif

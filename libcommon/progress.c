#include "progress.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"

/* Redraw intervals: 10 per second is smooth to the eye and costs nothing;
 * a log file gets one line a second. */
#define TTY_INTERVAL 0.1
#define LOG_INTERVAL 1.0
#define MIB (1024.0 * 1024.0)

static int forced;

void progress_force(int on)
{
	forced = on;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(2, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Columns of the terminal, so a long line is cut instead of wrapped (a
 * wrapped line cannot be redrawn with "\r"). */
static size_t term_width(void)
{
	struct winsize ws;

	if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void format_eta(char *buf, size_t cap, double s)
{
	unsigned long t = (unsigned long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

static void draw(struct progress *p, double t)
{
	char line[512], eta[32];
	double elapsed = t - p->start, frac = -1;
	size_t n = 0, cap = sizeof line - 8, width;
	int w;

	if (p->total)
		frac = (double)p->records / (double)p->total;
	else if (p->total_bytes)
		frac = (double)p->bytes / (double)p->total_bytes;
	if (frac > 1)
		frac = 1;
	if (p->tty)
		line[n++] = '\r';
	w = snprintf(line + n, cap - n, "%s: %llu records, %.1f MiB, %.0f rec/s, %.1f MiB/s",
		     p->label, (unsigned long long)p->records, (double)p->bytes / MIB,
		     elapsed > 0 ? (double)p->records / elapsed : 0,
		     elapsed > 0 ? (double)p->bytes / MIB / elapsed : 0);
	n += w > 0 ? (size_t)w : 0;
	if (frac >= 0 && n < cap) {
		if (frac > 0)
			format_eta(eta, sizeof eta, elapsed * (1 - frac) / frac);
		else
			snprintf(eta, sizeof eta, "?");
		w = snprintf(line + n, cap - n, ", %.0f%%, ETA %s", frac * 100, eta);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n > cap - 1)
		n = cap - 1;
	if (p->tty) {
		width = term_width();
		if (n > width)
			n = width;
		memcpy(line + n, "\033[K", 3);
		n += 3;
		diag_status_line(1);
		p->drawn = 1;
	} else {
		line[n++] = '\n';
	}
	write_all(line, n);
	p->last_draw = t;
}

void progress_start(struct progress *p, const char *label, uint64_t total)
{
	memset(p, 0, sizeof *p);
	p->label = label;
	p->total = total;
	p->tty = isatty(2);
	p->enabled = diag_level() >= DIAG_NORMAL && (forced || p->tty);
	p->start = now();
	p->last_draw = p->start;
}

void progress_update(struct progress *p, uint64_t records, uint64_t bytes)
{
	double t;

	p->records = records;
	p->bytes = bytes;
	if (!p->enabled)
		return;
	t = now();
	if (t - p->last_draw >= (p->tty ? TTY_INTERVAL : LOG_INTERVAL))
		draw(p, t);
}

void progress_end(struct progress *p)
{
	double elapsed = now() - p->start;

	if (p->drawn) {
		write_all("\r\033[K", 4);
		diag_status_line(0);
		p->drawn = 0;
	}
	diag_info("%s: %llu records, %.1f MiB in %.2f s (%.0f rec/s, %.1f MiB/s)",
		  p->label, (unsigned long long)p->records, (double)p->bytes / MIB, elapsed,
		  elapsed > 0 ? (double)p->records / elapsed : 0,
		  elapsed > 0 ? (double)p->bytes / MIB / elapsed : 0);
}

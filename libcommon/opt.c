#include "opt.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "diag.h"
#include "progress.h"

/* Values of the common long options: far above any program's OPT_LONG + n. */
enum {
	COMMON_HELP = 0x10000,
	COMMON_VERSION,
	COMMON_QUIET,
	COMMON_VERBOSE,
	COMMON_PROGRESS,
	COMMON_THREADS,
	COMMON_DEVICE,
};

/* No machine we build for has more; a larger -t is a typo. */
enum { MAX_THREADS = 4096 };

static const char *const device_names[] = { "cpu", "cuda", NULL };

/* The CPUs this process may run on (taskset, cgroup cpusets), which is what
 * "all cores" means to a user; sysconf as a fallback. */
static int usable_cpus(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
}

void opt_init(struct opt_parser *op, int argc, char **argv, const char *usage, unsigned flags)
{
	memset(op, 0, sizeof *op);
	op->argc = argc;
	op->argv = argv;
	op->usage = usage;
	op->flags = flags;
	op->threads = usable_cpus();
	op->device = OPT_DEVICE_CPU;
	diag_init(argc > 0 ? argv[0] : NULL);
	/* getopt_long prints its own messages ("unrecognized option '--x'")
	 * prefixed with argv[0]; make that the same "prog:" as ours. */
	if (argc > 0)
		argv[0] = (char *)diag_prog();
	optind = 1;
	opterr = 1;
}

static _Noreturn void try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", diag_prog());
	exit(EXIT_USAGE);
}

_Noreturn void opt_usage_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_error("%s", msg);
	try_help();
}

static _Noreturn void invalid(const char *name, const char *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static _Noreturn void invalid(const char *name, const char *arg, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	opt_usage_error("invalid value '%s' for %s: %s", arg, name, why);
}

static int has_long(const struct option *longopts, const char *name)
{
	for (; longopts && longopts->name; longopts++)
		if (!strcmp(longopts->name, name))
			return 1;
	return 0;
}

static void add_long(struct opt_parser *op, size_t *n, const char *name, int has_arg, int val,
		     const struct option *prog)
{
	if (has_long(prog, name))
		return;
	if (*n + 1 >= OPT_MAX_LONG)
		diag_die(EXIT_DATA, "internal error: more than %d long options", OPT_MAX_LONG - 1);
	op->longopts[(*n)++] = (struct option){ name, has_arg, NULL, val };
}

static void add_short(struct opt_parser *op, size_t *n, size_t *nc, char c, const char *shortopts)
{
	if (strchr(shortopts, c))
		return;
	if (*n + 3 >= OPT_MAX_SHORT)
		diag_die(EXIT_DATA, "internal error: option string too long");
	op->shortopts[(*n)++] = c;
	if (c == 't')
		op->shortopts[(*n)++] = ':';
	op->common_short[(*nc)++] = c;
}

/* Merge the program's options with the common ones it does not override. */
static void build(struct opt_parser *op, const char *shortopts, const struct option *longopts)
{
	size_t n = strlen(shortopts), nl = 0, nc = 0;

	if (n + 1 >= OPT_MAX_SHORT)
		diag_die(EXIT_DATA, "internal error: option string too long");
	memcpy(op->shortopts, shortopts, n);
	add_short(op, &n, &nc, 'h', shortopts);
	add_short(op, &n, &nc, 'q', shortopts);
	add_short(op, &n, &nc, 'v', shortopts);
	if (op->flags & OPT_THREADS)
		add_short(op, &n, &nc, 't', shortopts);
	op->shortopts[n] = '\0';
	op->common_short[nc] = '\0';

	for (; longopts && longopts[nl].name; nl++) {
		if (nl + 1 >= OPT_MAX_LONG)
			diag_die(EXIT_DATA, "internal error: more than %d long options", OPT_MAX_LONG - 1);
		op->longopts[nl] = longopts[nl];
	}
	add_long(op, &nl, "help", no_argument, COMMON_HELP, longopts);
	add_long(op, &nl, "version", no_argument, COMMON_VERSION, longopts);
	add_long(op, &nl, "quiet", no_argument, COMMON_QUIET, longopts);
	add_long(op, &nl, "verbose", no_argument, COMMON_VERBOSE, longopts);
	if (op->flags & OPT_PROGRESS)
		add_long(op, &nl, "progress", no_argument, COMMON_PROGRESS, longopts);
	if (op->flags & OPT_THREADS)
		add_long(op, &nl, "threads", required_argument, COMMON_THREADS, longopts);
	if (op->flags & OPT_DEVICE)
		add_long(op, &nl, "device", required_argument, COMMON_DEVICE, longopts);
	op->longopts[nl] = (struct option){ NULL, 0, NULL, 0 };
	op->built = 1;
}

/* A short option letter that stands for a common option here. */
static int common_letter(const struct opt_parser *op, int c)
{
	if (c <= 0 || c > 127 || !strchr(op->common_short, c))
		return 0;
	switch (c) {
	case 'h': return COMMON_HELP;
	case 'q': return COMMON_QUIET;
	case 'v': return COMMON_VERBOSE;
	case 't': return COMMON_THREADS;
	}
	return 0;
}

static void set_device(struct opt_parser *op, const char *arg)
{
	op->device = (enum opt_device)opt_choice("--device", arg, device_names);
#ifndef LMPIPE_HAVE_CUDA
	if (op->device == OPT_DEVICE_CUDA)
		diag_die(EXIT_USAGE, "--device cuda: this build has no CUDA support");
#endif
}

int opt_next(struct opt_parser *op, const char *shortopts, const struct option *longopts)
{
	int c, common;

	if (!op->built)
		build(op, shortopts ? shortopts : "", longopts);
	for (;;) {
		c = getopt_long(op->argc, op->argv, op->shortopts, op->longopts, NULL);
		if (c == -1)
			return -1;
		if (c == '?' || c == ':')
			try_help();
		common = c >= COMMON_HELP ? c : common_letter(op, c);
		switch (common) {
		case 0:
			return c;
		case COMMON_HELP:
			fputs(op->usage ? op->usage : "", stdout);
			diag_close_stdout();
			exit(EXIT_OK);
		case COMMON_VERSION:
			printf("%s (lmpipe) %s\n", diag_prog(), LMPIPE_VERSION);
			diag_close_stdout();
			exit(EXIT_OK);
		case COMMON_QUIET:
			diag_set_level(DIAG_QUIET);
			break;
		case COMMON_VERBOSE:
			diag_set_level(diag_level() + 1);
			break;
		case COMMON_PROGRESS:
			progress_force(1);
			break;
		case COMMON_THREADS:
			op->threads = (int)opt_int("--threads", optarg, 1, MAX_THREADS);
			break;
		case COMMON_DEVICE:
			set_device(op, optarg);
			break;
		default:
			return c;
		}
	}
}

/* strto* skip leading white space and accept an empty string as 0; a
 * command-line value must be exactly the number. */
static int starts_like_number(const char *arg)
{
	return *arg && !isspace((unsigned char)*arg);
}

long long opt_int(const char *name, const char *arg, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = starts_like_number(arg) ? strtoll(arg, &end, 10) : 0;
	if (!starts_like_number(arg) || *end)
		invalid(name, arg, "not an integer");
	if (errno == ERANGE || v < min || v > max) {
		if (max == LLONG_MAX)
			invalid(name, arg, "must be at least %lld", min);
		invalid(name, arg, "must be between %lld and %lld", min, max);
	}
	return v;
}

/* strtod follows LC_NUMERIC; programs never set it, so "." is the decimal
 * point as in every example of the man pages. */
double opt_float(const char *name, const char *arg, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = starts_like_number(arg) ? strtod(arg, &end) : 0;
	if (!starts_like_number(arg) || *end)
		invalid(name, arg, "not a number");
	if (errno == ERANGE && fabs(v) > 1)
		invalid(name, arg, "out of range");
	if (!isfinite(v))
		invalid(name, arg, "not a finite number");
	if (v < min || v > max)
		invalid(name, arg, "must be between %g and %g", min, max);
	return v;
}

uint64_t opt_size(const char *name, const char *arg)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
		{ "", 0 },
		{ "k", 10 }, { "K", 10 }, { "KB", 10 }, { "KiB", 10 },
		{ "M", 20 }, { "MB", 20 }, { "MiB", 20 },
		{ "G", 30 }, { "GB", 30 }, { "GiB", 30 },
		{ "T", 40 }, { "TB", 40 }, { "TiB", 40 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)*arg))
		invalid(name, arg, "not a size (e.g. 512, 64K, 2M, 1G)");
	errno = 0;
	v = strtoull(arg, &end, 10);
	for (i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcmp(end, units[i].suffix))
			break;
	if (i == sizeof units / sizeof units[0])
		invalid(name, arg, "not a size (e.g. 512, 64K, 2M, 1G)");
	if (errno == ERANGE || (units[i].shift && v > (UINT64_MAX >> units[i].shift)))
		invalid(name, arg, "too large");
	return (uint64_t)v << units[i].shift;
}

int opt_choice(const char *name, const char *arg, const char *const *choices)
{
	char list[512];
	size_t n = 0;
	int i;

	for (i = 0; choices[i]; i++)
		if (!strcasecmp(arg, choices[i]))
			return i;
	list[0] = '\0';
	for (i = 0; choices[i] && n < sizeof list; i++) {
		int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", choices[i]);

		n += w > 0 ? (size_t)w : 0;
	}
	invalid(name, arg, "expected one of %s", list);
}

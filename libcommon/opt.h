/* opt.h - command-line parsing shared by every program in bin/.
 *
 * A thin layer over getopt_long(3) that adds the options SPEC "Command-line
 * conventions" gives every program, so each main() lists only its own:
 *
 *   -h, --help        the program's usage text on stdout, exit 0
 *       --version     "PROG (lmpipe) X.Y.Z" on stdout, exit 0
 *   -q, --quiet       errors only (diag level 0)
 *   -v, --verbose     one more diag level each time (diag.h)
 *       --progress    progress on stderr even when it is not a terminal  [OPT_PROGRESS]
 *   -t, --threads N   worker threads, N >= 1, default: the usable CPUs    [OPT_THREADS]
 *       --device D    cpu or cuda (cuda needs a CUDA build)              [OPT_DEVICE]
 *
 * A program's own option wins over a common one with the same letter or
 * name: evaluate's -q (per query, as trec_eval) leaves only --quiet, and
 * quantize's -t TYPE leaves only --threads.  Long-only options of a program
 * use values from OPT_LONG up.  Every usage error prints "prog: ..." and
 * "Try 'prog --help' for more information." and exits 2.
 *
 *   static const char usage[] =
 *   	"Usage: tok [OPTION]... -m MODEL\n"
 *   	"  -m, --model FILE  tokenizer\n"
 *   	"      --chunk N     split texts into chunks of at most N tokens\n"
 *   	OPT_HELP_COMMON OPT_HELP_THREADS;
 *   enum { OPT_CHUNK = OPT_LONG };
 *   static const struct option longopts[] = {
 *   	{ "model", required_argument, NULL, 'm' },
 *   	{ "chunk", required_argument, NULL, OPT_CHUNK },
 *   	{ NULL, 0, NULL, 0 },
 *   };
 *
 *   int main(int argc, char **argv)
 *   {
 *   	struct opt_parser op;
 *   	const char *model = NULL;
 *   	long long chunk = 0;
 *   	int c;
 *
 *   	opt_init(&op, argc, argv, usage, OPT_THREADS);
 *   	while ((c = opt_next(&op, "m:", longopts)) != -1) {
 *   		switch (c) {
 *   		case 'm': model = optarg; break;
 *   		case OPT_CHUNK: chunk = opt_int("--chunk", optarg, 1, INT_MAX); break;
 *   		}
 *   	}
 *   	if (!model)
 *   		opt_usage_error("missing -m MODEL");
 *   	... work with op.threads, argv[optind..argc-1] ...
 *   	diag_close_stdout();
 *   	return EXIT_OK;
 *   }
 */
#ifndef LMPIPE_OPT_H
#define LMPIPE_OPT_H

#include <getopt.h>
#include <stdint.h>

#ifndef LMPIPE_VERSION
#define LMPIPE_VERSION "0.1.0"
#endif

enum opt_flags {
	OPT_PROGRESS = 1 << 0,
	OPT_THREADS = 1 << 1,
	OPT_DEVICE = 1 << 2,
	OPT_ALL = OPT_PROGRESS | OPT_THREADS | OPT_DEVICE,
};

/* First value for a program's long-only options (above every char). */
#define OPT_LONG 256

enum opt_device {
	OPT_DEVICE_CPU,
	OPT_DEVICE_CUDA,
};

/* Help text for the common options, to end a program's usage text with. */
#define OPT_HELP_COMMON \
	"  -q, --quiet         print errors only\n" \
	"  -v, --verbose       print more (repeat for more detail)\n" \
	"  -h, --help          print this help and exit\n" \
	"      --version       print the version and exit\n"
#define OPT_HELP_PROGRESS \
	"      --progress      show progress even when stderr is not a terminal\n"
#define OPT_HELP_THREADS \
	"  -t, --threads N     use N threads (default: all cores)\n"
#define OPT_HELP_DEVICE \
	"      --device DEV    cpu or cuda (default: cpu)\n"

enum { OPT_MAX_LONG = 96, OPT_MAX_SHORT = 128 };

struct opt_parser {
	/* Results of the common options, final once opt_next returned -1. */
	int threads;
	enum opt_device device;

	/* Private to opt.c. */
	int argc;
	char **argv;
	const char *usage;
	unsigned flags;
	int built;
	char common_short[8];
	char shortopts[OPT_MAX_SHORT];
	struct option longopts[OPT_MAX_LONG];
};

/* Start parsing: diag_init(argv[0]), defaults for the results.  USAGE is
 * the full --help text; FLAGS the OPT_* options this program accepts on top
 * of help, version, quiet and verbose. */
void opt_init(struct opt_parser *op, int argc, char **argv, const char *usage, unsigned flags);

/* The next option of the program's own, as getopt_long returns it (optarg
 * set), or -1 when the options are over (optind is then the first operand;
 * GNU order, so options may follow operands).  Common options are handled
 * inside; SHORTOPTS and LONGOPTS (NULL-terminated, may be NULL) must be the
 * same on every call. */
int opt_next(struct opt_parser *op, const char *shortopts, const struct option *longopts);

/* "prog: MESSAGE", the --help hint, exit 2. */
_Noreturn void opt_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict value parsers: the whole of ARG must be the value and lie in
 * [MIN, MAX], else "prog: invalid value 'ARG' for NAME: WHY" and exit 2.
 * NAME is the option as the user knows it ("-k", "--top-p"). */
long long opt_int(const char *name, const char *arg, long long min, long long max);
double opt_float(const char *name, const char *arg, double min, double max);
/* A byte count with an optional suffix k/K/KB/KiB, M/MB/MiB, G/GB/GiB,
 * T/TB/TiB, all powers of 1024 as in zstd's --memory. */
uint64_t opt_size(const char *name, const char *arg);
/* Index of ARG in CHOICES (NULL-terminated), compared ignoring case (SPEC:
 * quantize type names are case-insensitive). */
int opt_choice(const char *name, const char *arg, const char *const *choices);

#endif

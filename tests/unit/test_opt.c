/* test_opt.c - common options, usage errors and strict value parsing.
 *
 * The message texts are glibc getopt's and the formats opt.h promises; the
 * numbers are worked out by hand (64K = 64 * 1024 = 65536 ...). */
#include "opt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "diag_child.h"
#include "tap.h"

static const char usage[] =
	"Usage: tok [OPTION]... [FILE]...\n"
	"  -m, --model FILE  tokenizer\n"
	"      --chunk N     chunk size\n"
	OPT_HELP_COMMON OPT_HELP_THREADS;

enum { OPT_CHUNK = OPT_LONG, OPT_RAW };

static const struct option tok_longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "chunk", required_argument, NULL, OPT_CHUNK },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ NULL, 0, NULL, 0 },
};

struct parse_case {
	const char *args[16];   /* argv[1..], NULL-terminated */
	const char *shortopts;
	const struct option *longopts;
	unsigned flags;
};

/* Parse like a program would and print what it saw, one item a line. */
static void parse(void *p)
{
	const struct parse_case *pc = p;
	char *argv[18];
	struct opt_parser op;
	int argc = 1, c;

	argv[0] = "/usr/bin/tok";
	while (pc->args[argc - 1]) {
		argv[argc] = (char *)pc->args[argc - 1];
		argc++;
	}
	argv[argc] = NULL;
	opt_init(&op, argc, argv, usage, pc->flags);
	while ((c = opt_next(&op, pc->shortopts, pc->longopts)) != -1) {
		switch (c) {
		case 'm':
			printf("model=%s\n", optarg);
			break;
		case OPT_CHUNK:
			printf("chunk=%lld\n", opt_int("--chunk", optarg, 1, INT_MAX));
			break;
		case OPT_RAW:
			printf("raw\n");
			break;
		case 'q':
			printf("per-query\n");
			break;
		case 't':
			printf("type=%s\n", optarg);
			break;
		default:
			printf("unexpected %d\n", c);
			break;
		}
	}
	for (; optind < argc; optind++)
		printf("operand=%s\n", argv[optind]);
	printf("threads=%d device=%s level=%d\n", op.threads,
	       op.device == OPT_DEVICE_CUDA ? "cuda" : "cpu", diag_level());
	diag_close_stdout();
}

static struct child_result r;

static int starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void run(const struct parse_case *pc)
{
	run_child(parse, (void *)pc, 0, &r);
}

#define TOK(...) { .args = { __VA_ARGS__, NULL }, .shortopts = "m:", .longopts = tok_longopts, .flags = OPT_ALL }

static void check_common(void)
{
	char line[128];

	run(&(struct parse_case)TOK("--help"));
	is_int(child_exit_code(&r), 0, "--help exits 0");
	is_str(r.out, usage, "--help prints the usage text on stdout");
	is_str(r.err, "", "--help: nothing on stderr");

	run(&(struct parse_case)TOK("-m", "x", "-h", "--bogus"));
	ok(starts_with(r.out, "model=x\nUsage: tok") && strlen(r.out) == 8 + strlen(usage),
	   "-h prints help when reached and stops there (no complaint about --bogus)");

	run(&(struct parse_case)TOK("--version"));
	is_int(child_exit_code(&r), 0, "--version exits 0");
	snprintf(line, sizeof line, "tok (lmpipe) %s\n", LMPIPE_VERSION);
	is_str(r.out, line, "--version prints 'tok (lmpipe) VERSION'");
	{
		unsigned x, y, z;
		char tail;

		ok(sscanf(LMPIPE_VERSION, "%u.%u.%u%c", &x, &y, &z, &tail) == 3,
		   "version is X.Y.Z (%s)", LMPIPE_VERSION);
	}

	run(&(struct parse_case)TOK("--bogus"));
	is_int(child_exit_code(&r), EXIT_USAGE, "unknown long option exits 2");
	is_str(r.err, "tok: unrecognized option '--bogus'\nTry 'tok --help' for more information.\n",
	       "unknown long option: message and hint");
	is_str(r.out, "", "unknown option: nothing on stdout");

	run(&(struct parse_case)TOK("-Z"));
	is_int(child_exit_code(&r), EXIT_USAGE, "unknown short option exits 2");
	is_str(r.err, "tok: invalid option -- 'Z'\nTry 'tok --help' for more information.\n",
	       "unknown short option: message and hint");

	run(&(struct parse_case)TOK("-m"));
	is_int(child_exit_code(&r), EXIT_USAGE, "missing argument exits 2");
	is_str(r.err, "tok: option requires an argument -- 'm'\nTry 'tok --help' for more information.\n",
	       "missing argument: message and hint");

	run(&(struct parse_case)TOK("--raw=yes"));
	is_int(child_exit_code(&r), EXIT_USAGE, "argument to a flag exits 2");
}

static void check_program_options(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int threads;

	run(&(struct parse_case)TOK("a.txt", "-m", "vocab.gguf", "--chunk=256", "--raw", "b.txt", "--", "-c.txt"));
	is_int(child_exit_code(&r), 0, "program options parse");
	ok(starts_with(r.out, "model=vocab.gguf\nchunk=256\nraw\noperand=a.txt\noperand=b.txt\n"
			      "operand=-c.txt\nthreads="),
	   "own options returned in order, operands permuted GNU-style, '--' ends options");
	threads = -1;
	if (strstr(r.out, "threads="))
		sscanf(strstr(r.out, "threads="), "threads=%d", &threads);
	ok(threads >= 1 && threads <= n, "default threads is within 1..online CPUs (%d of %ld)", threads, n);
	ok(strstr(r.out, "device=cpu level=1\n") != NULL, "defaults: cpu, normal level");

	run(&(struct parse_case)TOK("--chunk", "0"));
	is_int(child_exit_code(&r), EXIT_USAGE, "--chunk 0 exits 2");
	is_str(r.err, "tok: invalid value '0' for --chunk: must be between 1 and 2147483647\n"
		      "Try 'tok --help' for more information.\n", "range error names option and bounds");

	run(&(struct parse_case)TOK("--mod", "m.gguf", "--chu", "8"));
	ok(starts_with(r.out, "model=m.gguf\nchunk=8\nthreads="), "unambiguous prefixes of long options work");
}

static void check_threads_device_levels(void)
{
	run(&(struct parse_case)TOK("-t", "4"));
	ok(strstr(r.out, "threads=4 ") != NULL, "-t 4");
	run(&(struct parse_case)TOK("--threads=12"));
	ok(strstr(r.out, "threads=12 ") != NULL, "--threads=12");
	run(&(struct parse_case)TOK("-t3"));
	ok(strstr(r.out, "threads=3 ") != NULL, "-t3");

	run(&(struct parse_case)TOK("-t", "0"));
	is_int(child_exit_code(&r), EXIT_USAGE, "-t 0 exits 2");
	is_str(r.err, "tok: invalid value '0' for --threads: must be between 1 and 4096\n"
		      "Try 'tok --help' for more information.\n", "-t 0: message");
	run(&(struct parse_case)TOK("-t", "four"));
	is_str(r.err, "tok: invalid value 'four' for --threads: not an integer\n"
		      "Try 'tok --help' for more information.\n", "-t four: not an integer");

	run(&(struct parse_case)TOK("--device", "cpu"));
	ok(strstr(r.out, "device=cpu") != NULL, "--device cpu");
	run(&(struct parse_case)TOK("--device=CPU"));
	ok(strstr(r.out, "device=cpu") != NULL, "--device CPU (case-insensitive)");
	run(&(struct parse_case)TOK("--device", "tpu"));
	is_int(child_exit_code(&r), EXIT_USAGE, "--device tpu exits 2");
	is_str(r.err, "tok: invalid value 'tpu' for --device: expected one of cpu, cuda\n"
		      "Try 'tok --help' for more information.\n", "--device tpu: lists the choices");
	run(&(struct parse_case)TOK("--device", "cuda"));
#ifdef LMPIPE_HAVE_CUDA
	ok(strstr(r.out, "device=cuda") != NULL, "--device cuda in a CUDA build");
#else
	is_int(child_exit_code(&r), EXIT_USAGE, "--device cuda without CUDA exits 2");
	is_str(r.err, "tok: --device cuda: this build has no CUDA support\n", "--device cuda: says why");
#endif

	run(&(struct parse_case)TOK("-q"));
	ok(strstr(r.out, "level=0\n") != NULL, "-q: level 0");
	run(&(struct parse_case)TOK("-v", "--verbose"));
	ok(strstr(r.out, "level=3\n") != NULL, "-v --verbose: level 3");
	run(&(struct parse_case)TOK("-vq"));
	ok(strstr(r.out, "level=0\n") != NULL, "-vq: the last one wins");
	run(&(struct parse_case)TOK("--progress"));
	is_int(child_exit_code(&r), 0, "--progress accepted with OPT_PROGRESS");

	{
		struct parse_case pc = TOK("--progress");

		pc.flags = 0;
		run(&pc);
		is_int(child_exit_code(&r), EXIT_USAGE, "--progress unknown without OPT_PROGRESS");
		pc = (struct parse_case)TOK("-t", "2");
		pc.flags = OPT_PROGRESS;
		run(&pc);
		is_int(child_exit_code(&r), EXIT_USAGE, "-t unknown without OPT_THREADS");
	}
}

/* evaluate's -q (per query) and quantize's -t TYPE take the letter. */
static void check_overrides(void)
{
	struct parse_case pc = { .args = { "-q", "--quiet", "-t", "q8_0", "--threads", "2", NULL },
				 .shortopts = "qt:", .longopts = NULL, .flags = OPT_ALL };

	run(&pc);
	is_int(child_exit_code(&r), 0, "program letters override common ones");
	is_str(r.out, "per-query\ntype=q8_0\nthreads=2 device=cpu level=0\n",
	       "-q and -t go to the program, --quiet and --threads stay common");

	pc = (struct parse_case){ .args = { "-h", NULL }, .shortopts = "", .longopts = NULL, .flags = 0 };
	run(&pc);
	is_str(r.out, usage, "NULL long options and empty short options still get -h");
}

struct value_case {
	int kind;
	const char *arg;
};

static void parse_value(void *p)
{
	static const char *const formats[] = { "json", "bin", "trec", NULL };
	const struct value_case *v = p;

	diag_init("search");
	switch (v->kind) {
	case 'i': printf("%lld\n", opt_int("-k", v->arg, -5, 100)); break;
	case 'f': printf("%g\n", opt_float("--top-p", v->arg, 0, 1)); break;
	case 's': printf("%llu\n", (unsigned long long)opt_size("--budget", v->arg)); break;
	case 'c': printf("%d\n", opt_choice("-f", v->arg, formats)); break;
	case 'u': opt_usage_error("missing -i %s", v->arg); break;
	}
}

static void value(int kind, const char *arg)
{
	struct value_case v = { kind, arg };

	run_child(parse_value, &v, 0, &r);
}

#define HINT "Try 'search --help' for more information.\n"

static void check_values(void)
{
	value('i', "100");
	is_str(r.out, "100\n", "int: the upper bound is allowed");
	value('i', "-5");
	is_str(r.out, "-5\n", "int: the lower bound is allowed");
	value('i', "+7");
	is_str(r.out, "7\n", "int: a leading + is allowed");
	value('i', "101");
	is_str(r.err, "search: invalid value '101' for -k: must be between -5 and 100\n" HINT, "int: above max");
	is_int(child_exit_code(&r), EXIT_USAGE, "int: exit 2");
	value('i', "12x");
	is_str(r.err, "search: invalid value '12x' for -k: not an integer\n" HINT, "int: trailing junk");
	value('i', " 5");
	is_int(child_exit_code(&r), EXIT_USAGE, "int: leading blank rejected");
	value('i', "");
	is_str(r.err, "search: invalid value '' for -k: not an integer\n" HINT, "int: empty");
	value('i', "99999999999999999999");
	is_int(child_exit_code(&r), EXIT_USAGE, "int: overflow rejected");
	value('i', "0x10");
	is_int(child_exit_code(&r), EXIT_USAGE, "int: decimal only");

	value('f', "0.95");
	is_str(r.out, "0.95\n", "float: 0.95");
	value('f', "1");
	is_str(r.out, "1\n", "float: bound allowed");
	value('f', "1.5");
	is_str(r.err, "search: invalid value '1.5' for --top-p: must be between 0 and 1\n" HINT, "float: range");
	value('f', "nan");
	is_str(r.err, "search: invalid value 'nan' for --top-p: not a finite number\n" HINT, "float: nan");
	value('f', "1e999");
	is_str(r.err, "search: invalid value '1e999' for --top-p: out of range\n" HINT, "float: overflow");
	value('f', "0.5,");
	is_str(r.err, "search: invalid value '0.5,' for --top-p: not a number\n" HINT, "float: junk");

	value('s', "512");
	is_str(r.out, "512\n", "size: plain bytes");
	value('s', "64K");
	is_str(r.out, "65536\n", "size: 64K = 64*1024");
	value('s', "3KiB");
	is_str(r.out, "3072\n", "size: 3KiB");
	value('s', "2M");
	is_str(r.out, "2097152\n", "size: 2M = 2*1024^2");
	value('s', "1GB");
	is_str(r.out, "1073741824\n", "size: 1GB = 1024^3 (zstd convention)");
	value('s', "5T");
	is_str(r.out, "5497558138880\n", "size: 5T = 5*1024^4");
	value('s', "16777215T");
	is_str(r.out, "18446742974197923840\n", "size: largest whole T that fits (2^64 - 2^40)");
	value('s', "16777216T");
	is_str(r.err, "search: invalid value '16777216T' for --budget: too large\n" HINT, "size: 2^64 overflows");
	value('s', "1.5G");
	is_str(r.err, "search: invalid value '1.5G' for --budget: not a size (e.g. 512, 64K, 2M, 1G)\n" HINT,
	       "size: fractions rejected");
	value('s', "-1");
	is_int(child_exit_code(&r), EXIT_USAGE, "size: negative rejected");
	value('s', "10X");
	is_int(child_exit_code(&r), EXIT_USAGE, "size: unknown suffix rejected");

	value('c', "trec");
	is_str(r.out, "2\n", "choice: index of the match");
	value('c', "JSON");
	is_str(r.out, "0\n", "choice: case-insensitive");
	value('c', "csv");
	is_str(r.err, "search: invalid value 'csv' for -f: expected one of json, bin, trec\n" HINT,
	       "choice: lists the choices");

	value('u', "INDEX");
	is_int(child_exit_code(&r), EXIT_USAGE, "opt_usage_error exits 2");
	is_str(r.err, "search: missing -i INDEX\n" HINT, "opt_usage_error: message and hint");
}

int main(void)
{
	check_common();
	check_program_options();
	check_threads_device_levels();
	check_overrides();
	check_values();
	return tap_done();
}

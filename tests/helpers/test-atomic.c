/* test-atomic - a minimal program built on opt.h, diag.h and atomic.h, for
 * tests/cli/t0100-atomic.sh (git's t/helper idea: the shell tests drive
 * real processes with real signals, pipes and umasks).
 *
 *   test-atomic [-s BYTES] [--copy] [--hang] [--no-commit] [--exit N] PATH
 *
 * Writes BYTES (default 1M) of a fixed pattern to PATH through an atomic
 * file, then commits.  --copy writes standard input instead and also copies
 * it to standard output; --hang stops before the commit and waits for a
 * signal; --no-commit ends the program without committing; --exit N exits
 * with N without committing. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "atomic.h"
#include "diag.h"
#include "opt.h"
#include "output.h"

static const char usage[] =
	"Usage: test-atomic [OPTION]... PATH\n"
	"Write PATH atomically (a test helper).\n"
	"\n"
	"  -s, --size BYTES   bytes of pattern to write (default 1M)\n"
	"      --copy         write standard input, and copy it to standard output\n"
	"      --hang         wait for a signal before committing\n"
	"      --no-commit    end without committing\n"
	"      --exit N       exit with status N without committing\n"
	OPT_HELP_COMMON OPT_HELP_THREADS;

enum { OPT_COPY = OPT_LONG, OPT_HANG, OPT_NO_COMMIT, OPT_EXIT };

static const struct option longopts[] = {
	{ "size", required_argument, NULL, 's' },
	{ "copy", no_argument, NULL, OPT_COPY },
	{ "hang", no_argument, NULL, OPT_HANG },
	{ "no-commit", no_argument, NULL, OPT_NO_COMMIT },
	{ "exit", required_argument, NULL, OPT_EXIT },
	{ NULL, 0, NULL, 0 },
};

static int write_pattern(struct atomic_file *af, uint64_t size, struct lm_error *err)
{
	char block[26 * 160];
	uint64_t done = 0;
	size_t i, n;
	int rc = LM_OK;

	/* abc...z repeated: a whole number of alphabets per block. */
	for (i = 0; i < sizeof block; i++)
		block[i] = (char)('a' + i % 26);
	while (done < size && rc == LM_OK) {
		n = size - done < sizeof block ? (size_t)(size - done) : sizeof block;
		rc = output_write(&af->out, block, n, err);
		done += n;
	}
	return rc;
}

static int copy_stdin(struct atomic_file *af, struct output *out, struct lm_error *err)
{
	char buf[4096];
	ssize_t n;
	int rc = LM_OK;

	while (rc == LM_OK && (n = read(0, buf, sizeof buf)) > 0) {
		rc = output_write(&af->out, buf, (size_t)n, err);
		if (rc == LM_OK)
			rc = output_write(out, buf, (size_t)n, err);
		if (rc == LM_OK)
			rc = output_flush(out, err);
	}
	if (rc == LM_OK && n < 0)
		rc = lm_fail_errno(err, "<stdin>: read");
	return rc;
}

int main(int argc, char **argv)
{
	/* static: --no-commit returns from main with it still open, as a
	 * careless program would, and the leak checker should not mind. */
	static struct atomic_file af;
	struct opt_parser op;
	struct output out;
	struct lm_error err = { 0 };
	uint64_t size = 1 << 20;
	int copy = 0, hang = 0, commit = 1, exit_status = -1, rc, c;

	opt_init(&op, argc, argv, usage, OPT_THREADS);
	while ((c = opt_next(&op, "s:", longopts)) != -1) {
		switch (c) {
		case 's': size = opt_size("--size", optarg); break;
		case OPT_COPY: copy = 1; break;
		case OPT_HANG: hang = 1; break;
		case OPT_NO_COMMIT: commit = 0; break;
		case OPT_EXIT: exit_status = (int)opt_int("--exit", optarg, 0, 125); break;
		}
	}
	if (argc - optind != 1)
		opt_usage_error("expected one PATH, got %d operands", argc - optind);

	rc = atomic_open(&af, argv[optind], &err);
	if (rc)
		diag_fail(&err);
	if (copy) {
		rc = output_from_fd(&out, 1, "<stdout>", &err);
		if (rc == LM_OK) {
			rc = copy_stdin(&af, &out, &err);
			output_close(&out, NULL);
		}
	} else {
		rc = write_pattern(&af, size, &err);
	}
	if (rc == LM_OK)
		rc = output_flush(&af.out, &err);
	if (rc) {
		atomic_abort(&af);
		diag_fail(&err);
	}
	if (hang) {
		fputs("ready\n", stdout);
		fflush(stdout);
		for (;;)
			pause();
	}
	if (exit_status >= 0)
		exit(exit_status);
	if (!commit)
		return EXIT_OK;
	rc = atomic_commit(&af, &err);
	if (rc)
		diag_fail(&err);
	diag_close_stdout();
	return EXIT_OK;
}

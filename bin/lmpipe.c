/* lmpipe - utilities for lmpipe's own file formats.
 *
 *   lmpipe cat [-f FORMAT] [--from FORMAT] [--dtype TYPE] [-o FILE] [FILE]
 *   lmpipe gguf FILE...
 *
 * See lmpipe(1) for the commands and lmpipe(7) for the formats.
 */
#include <stdio.h>
#include <string.h>

#include "atomic.h"
#include "diag.h"
#include "gguf.h"
#include "input.h"
#include "opt.h"
#include "output.h"
#include "vecconv.h"
#include "vecstream.h"

static const char usage_main[] =
	"Usage: lmpipe COMMAND [OPTION]... [FILE]...\n"
	"Work with lmpipe's stream and model file formats.\n"
	"\n"
	"Commands:\n"
	"  cat     copy vector records, converting between NDJSON, the binary\n"
	"          stream, .npy and .fvecs\n"
	"  gguf    list the metadata and tensors of GGUF files\n"
	"\n"
	"Run 'lmpipe COMMAND --help' for a command's options.\n";

static const char usage_cat[] =
	"Usage: lmpipe cat [OPTION]... [FILE]\n"
	"Copy records from FILE (or standard input) to standard output, converting\n"
	"between formats.  The input format is detected unless --from is given.\n"
	"\n"
	"  -f, --format FMT    output format: ndjson (default), bin, npy, fvecs\n"
	"      --from FMT      input format: auto (default), ndjson, bin, npy,\n"
	"                      fvecs, ivecs, bvecs\n"
	"      --dtype TYPE    vector type of bin/npy output: f32, f16, i8, bit\n"
	"  -o, --output FILE   write to FILE instead of standard output\n"
	OPT_HELP_COMMON;

static const char usage_gguf[] =
	"Usage: lmpipe gguf FILE...\n"
	"List the header, metadata and tensor table of each GGUF file, one item\n"
	"per line.  Every size and offset is checked against the file.\n"
	"\n"
	OPT_HELP_COMMON;

enum { OPT_FROM = OPT_LONG, OPT_DTYPE };

static int cmd_cat(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "dtype", required_argument, NULL, OPT_DTYPE },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	enum vecconv_format from = VECCONV_AUTO, to = VECCONV_NDJSON;
	enum vecstream_dtype dtype;
	int dtype_arg = -1, c, rc;
	const char *out_path = NULL, *in_path = NULL;
	struct opt_parser op;
	struct input in;
	struct atomic_file out;
	struct lm_error err = { 0 };
	uint64_t records = 0;

	opt_init(&op, argc, argv, usage_cat, 0);
	while ((c = opt_next(&op, "f:o:", longopts)) != -1) {
		switch (c) {
		case 'f':
			if (vecconv_format_parse(optarg, 0, &to, &err))
				opt_usage_error("%s", err.msg);
			break;
		case OPT_FROM:
			if (vecconv_format_parse(optarg, 1, &from, &err))
				opt_usage_error("%s", err.msg);
			break;
		case OPT_DTYPE:
			if (vecstream_dtype_parse(optarg, &dtype, &err))
				opt_usage_error("%s", err.msg);
			dtype_arg = (int)dtype;
			break;
		case 'o':
			out_path = optarg;
			break;
		}
	}
	if (argc - optind > 1)
		opt_usage_error("one input file at most");
	if (optind < argc)
		in_path = argv[optind];

	if (input_open(&in, in_path, &err))
		diag_fail(&err);
	/* -o FILE appears whole or not at all; without -o this is stdout. */
	if (atomic_open(&out, out_path, &err)) {
		input_close(&in);
		diag_fail(&err);
	}
	rc = vecconv_copy(&in, from, &out.out, to, dtype_arg, &records, &err);
	if (rc == LM_OK)
		rc = atomic_commit(&out, &err);
	else
		atomic_abort(&out);
	input_close(&in);
	if (rc != LM_OK)
		diag_fail(&err);
	diag_info("%llu records", (unsigned long long)records);
	diag_close_stdout();
	return EXIT_OK;
}

static int cmd_gguf(int argc, char **argv)
{
	struct opt_parser op;
	struct output out;
	struct lm_error err = { 0 };
	int status = EXIT_OK, i;

	opt_init(&op, argc, argv, usage_gguf, 0);
	while (opt_next(&op, "", NULL) != -1)
		;
	if (optind >= argc)
		opt_usage_error("missing GGUF file");
	if (output_from_fd(&out, 1, "<stdout>", &err))
		diag_fail(&err);
	for (i = optind; i < argc; i++) {
		struct gguf_file *file = NULL;
		int rc = gguf_open(argv[i], &file, &err);

		if (rc == LM_OK) {
			rc = gguf_dump(file, &out, &err);
			gguf_close(file);
		}
		if (rc == LM_EPIPE || (rc != LM_OK && out.failed))
			diag_fail(&err);
		if (rc != LM_OK) {
			diag_lm_error(&err);
			status = EXIT_DATA;
		}
	}
	if (output_close(&out, &err))
		diag_fail(&err);
	return status;
}

int main(int argc, char **argv)
{
	/* Subcommands parse their own options; their messages read
	 * "lmpipe cat: ..." like git's. */
	static char name_cat[] = "lmpipe cat", name_gguf[] = "lmpipe gguf";
	struct opt_parser op;

	if (argc > 1 && !strcmp(argv[1], "cat")) {
		argv[1] = name_cat;
		return cmd_cat(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "gguf")) {
		argv[1] = name_gguf;
		return cmd_gguf(argc - 1, argv + 1);
	}
	opt_init(&op, argc, argv, usage_main, 0);
	while (opt_next(&op, "", NULL) != -1)
		;
	if (optind < argc)
		opt_usage_error("unknown command '%s'", argv[optind]);
	opt_usage_error("missing command");
}

/* quantize - model weights GGUF -> GGUF (libcommon/model/quantize.c) and
 * llama2.c imports (libcommon/model/llama2c.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "diag.h"
#include "model/llama2c.h"
#include "model/quantize.h"
#include "opt.h"
#include "output.h"

static const char usage[] =
	"Usage: quantize -t TYPE [OPTION]... IN.gguf OUT.gguf\n"
	"  or:  quantize -t TYPE --dry-run [OPTION]... IN.gguf\n"
	"  or:  quantize --import llama2c --tokenizer TOKENIZER.bin MODEL.bin OUT.gguf\n"
	"  or:  quantize --help-types\n"
	"Quantize the weights of a GGUF model as llama.cpp's llama-quantize does\n"
	"(same tensor types, same bytes), or import a model into GGUF.\n"
	"\n"
	"  -t, --type TYPE       Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L,\n"
	"                        Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, F16, BF16 or F32\n"
	"                        (any case; Q3_K, Q4_K, Q5_K mean the _M mixtures)\n"
	"      --pure            every quantizable tensor to TYPE's own type, no mixture\n"
	"      --dry-run         convert and report, write nothing\n"
	"      --report          the per-tensor report on stdout instead of stderr\n"
	"      --help-types      list the types and exit\n"
	"      --import FORMAT   convert a model of FORMAT (llama2c) to an F32 GGUF\n"
	"      --tokenizer FILE  the llama2.c tokenizer.bin of the imported model\n"
	"      --threads N       use N threads (default: all cores)\n"
	OPT_HELP_COMMON;

enum {
	OPT_PURE = OPT_LONG, OPT_DRY_RUN, OPT_REPORT, OPT_HELP_TYPES, OPT_IMPORT, OPT_TOKENIZER,
};

static const struct option longopts[] = {
	{ "type", required_argument, NULL, 't' },
	{ "pure", no_argument, NULL, OPT_PURE },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "report", no_argument, NULL, OPT_REPORT },
	{ "help-types", no_argument, NULL, OPT_HELP_TYPES },
	{ "import", required_argument, NULL, OPT_IMPORT },
	{ "tokenizer", required_argument, NULL, OPT_TOKENIZER },
	{ NULL, 0, NULL, 0 },
};

struct reporter {
	struct output *out;        /* stdout with --report, else NULL: stderr */
	struct lm_error err;
	int failed;
};

static void shape(char *buf, size_t size, const int64_t *ne, uint32_t n_dims)
{
	size_t k = 0;

	k += (size_t)snprintf(buf, size, "[");
	for (uint32_t d = 0; d < n_dims && k < size; d++)
		k += (size_t)snprintf(buf + k, size - k, "%s%lld", d ? ", " : "", (long long)ne[d]);
	if (k < size)
		snprintf(buf + k, size - k, "]");
}

static void report(const struct quantize_tensor_report *r, void *arg)
{
	struct reporter *rp = arg;
	char dims[96], line[512];

	if (r->fallback)
		diag_warn("%s: row length %lld is not a multiple of %s's block of %lld: using %s",
			  r->name, (long long)r->ne[0], dtype_name(r->wanted),
			  (long long)dtype_block_size(r->wanted), dtype_name(r->to));
	if (r->requantized)
		diag_warn("%s: requantizing from %s (quality is lost twice)", r->name, dtype_name(r->from));
	shape(dims, sizeof dims, r->ne, r->n_dims);
	snprintf(line, sizeof line, "%-32s %-16s %4s -> %-4s %10llu -> %10llu bytes  rmse %.3e  max %.3e",
		 r->name, dims, dtype_name(r->from), dtype_name(r->to), (unsigned long long)r->bytes_in,
		 (unsigned long long)r->bytes_out, r->rmse, r->max_err);
	if (!rp->out) {
		if (diag_level() >= DIAG_NORMAL)
			fprintf(stderr, "%s\n", line);
	} else if (!rp->failed && output_printf(rp->out, &rp->err, "%s\n", line)) {
		rp->failed = 1;
	}
}

static void print_totals(struct reporter *rp, const struct quantize_totals *t)
{
	char line[512];
	double bpw_in = t->elements ? 8.0 * (double)t->bytes_in / (double)t->elements : 0;
	double bpw_out = t->elements ? 8.0 * (double)t->bytes_out / (double)t->elements : 0;
	snprintf(line, sizeof line, "total: %llu tensors (%llu converted, %llu fallbacks), %llu -> %llu "
		 "bytes (%.2f -> %.2f bits per weight), rmse %.3e, max %.3e",
		 (unsigned long long)t->tensors, (unsigned long long)t->quantized,
		 (unsigned long long)t->fallbacks, (unsigned long long)t->bytes_in,
		 (unsigned long long)t->bytes_out, bpw_in, bpw_out,
		 t->err_elements ? sqrt(t->sq_err / (double)t->err_elements) : 0.0, t->max_err);
	if (!rp->out) {
		if (diag_level() >= DIAG_NORMAL)
			fprintf(stderr, "%s\n", line);
	} else if (!rp->failed && output_printf(rp->out, &rp->err, "%s\n", line)) {
		rp->failed = 1;
	}
}

static void help_types(void)
{
	struct lm_error err = { 0 };
	struct output out;
	const struct quantize_scheme *s;
	size_t n;
	int rc;

	s = quantize_schemes(&n);
	if (output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err))
		diag_fail(&err);
	rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = output_printf(&out, &err, "%-7s %-5s ftype %2d  %s\n", s[i].name, dtype_name(s[i].type),
				   (int)s[i].ftype, s[i].about);
	if (rc || output_close(&out, &err))
		diag_fail(&err);
	diag_close_stdout();
	exit(EXIT_OK);
}

int main(int argc, char **argv)
{
	struct quantize_options qo = { 0 };
	struct quantize_totals tot;
	struct reporter rp = { 0 };
	struct opt_parser op;
	struct lm_error err = { 0 };
	struct output out;
	const char *type = NULL, *import = NULL, *tokenizer = NULL;
	int report_stdout = 0, c, rc;

	opt_init(&op, argc, argv, usage, OPT_THREADS);
	while ((c = opt_next(&op, "t:", longopts)) != -1) {
		switch (c) {
		case 't': type = optarg; break;
		case OPT_PURE: qo.pure = 1; break;
		case OPT_DRY_RUN: qo.dry_run = 1; break;
		case OPT_REPORT: report_stdout = 1; break;
		case OPT_HELP_TYPES: help_types(); break;
		case OPT_IMPORT: import = optarg; break;
		case OPT_TOKENIZER: tokenizer = optarg; break;
		}
	}

	if (import) {
		struct llama2c_config cfg;

		if (strcasecmp(import, "llama2c") != 0)
			opt_usage_error("--import: unknown format '%s' (known: llama2c)", import);
		if (!tokenizer)
			opt_usage_error("--import llama2c needs --tokenizer TOKENIZER.bin");
		if (type || qo.pure || qo.dry_run || report_stdout)
			opt_usage_error("--import writes F32; quantize the result in a second step");
		if (argc - optind != 2)
			opt_usage_error("--import takes MODEL.bin OUT.gguf");
		if (llama2c_import(argv[optind], tokenizer, argv[optind + 1], &cfg, &err))
			diag_fail(&err);
		diag_info("%s: llama2.c model, dim %d, %d layers, %d heads (%d kv), vocab %d, context %d",
			  argv[optind + 1], cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads,
			  cfg.vocab_size, cfg.seq_len);
		diag_close_stdout();
		return EXIT_OK;
	}
	if (tokenizer)
		opt_usage_error("--tokenizer goes with --import");
	if (!type)
		opt_usage_error("missing -t TYPE (see --help-types)");
	if (quantize_scheme_find(type, &qo.scheme, &err))
		opt_usage_error("-t: %s", err.msg);
	if (argc - optind != (qo.dry_run ? 1 : 2))
		opt_usage_error(qo.dry_run ? "--dry-run takes IN.gguf" : "expected IN.gguf OUT.gguf");

	if (report_stdout && !qo.dry_run && strcmp(argv[optind + 1], "-") == 0)
		opt_usage_error("--report cannot share standard output with the model");
	if (report_stdout) {
		if (output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err))
			diag_fail(&err);
		rp.out = &out;
	}
	qo.threads = op.threads;
	qo.report = report;
	qo.report_arg = &rp;
	rc = quantize_gguf(argv[optind], qo.dry_run ? NULL : argv[optind + 1], &qo, &tot, &err);
	if (rc)
		diag_fail(&err);
	print_totals(&rp, &tot);
	if (tot.fallbacks)
		diag_warn("%llu of %llu tensors needed a fallback type",
			  (unsigned long long)tot.fallbacks, (unsigned long long)tot.tensors);
	if (rp.out) {
		if (rp.failed || output_close(&out, &rp.err))
			diag_fail(&rp.err);
	}
	diag_close_stdout();
	return EXIT_OK;
}

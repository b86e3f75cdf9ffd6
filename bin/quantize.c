/* quantize - model weights GGUF -> GGUF (libcommon/model/quantize.c),
 * llama2.c imports (libcommon/model/llama2c.c) and Hugging Face imports
 * (libcommon/model/hfimport.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "diag.h"
#include "model/hfimport.h"
#include "model/llama2c.h"
#include "model/quantize.h"
#include "opt.h"
#include "output.h"
#include "vecquant.h"

static const char usage[] =
	"Usage: quantize -t TYPE [OPTION]... IN.gguf OUT.gguf\n"
	"  or:  quantize -t TYPE --dry-run [OPTION]... IN.gguf\n"
	"  or:  quantize --import llama2c --tokenizer TOKENIZER.bin MODEL.bin OUT.gguf\n"
	"  or:  quantize --import hf [-t TYPE] [--pure] [--report] MODEL_DIR OUT.gguf\n"
	"  or:  quantize --help-types\n"
	"  or:  quantize --vectors TYPE [--dims N] [VECTOR OPTION]... [-o OUT] [IN]\n"
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
	"      --import FORMAT   convert a model of FORMAT to GGUF: llama2c (F32), or hf\n"
	"                        (a Hugging Face directory: config.json, safetensors,\n"
	"                        tokenizer.json; F32 unless -t TYPE)\n"
	"      --tokenizer FILE  the llama2.c tokenizer.bin of the imported model\n"
	"      --threads N       use N threads (default: all cores)\n"
	"Vectors (an NDJSON or binary embedding stream to a binary stream):\n"
	"      --vectors TYPE    f32, f16, i8, i8-dim, bit or pq\n"
	"      --dims N          keep the first N values (Matryoshka; unit vectors stay unit)\n"
	"      --pq-m M          pq sub-quantizers of 256 centroids (default: dim / 4)\n"
	"      --train-sample N  train i8-dim and pq on the first N records (default 65536)\n"
	"      --codebook FILE   also write the trained parameters to FILE\n"
	"      --use-codebook FILE  encode with FILE's parameters instead of training\n"
	"      --seed N          k-means seed (default 1)\n"
	"  -o, --output FILE     the stream (default: standard output)\n"
	OPT_HELP_COMMON;

enum {
	OPT_PURE = OPT_LONG, OPT_DRY_RUN, OPT_REPORT, OPT_HELP_TYPES, OPT_IMPORT, OPT_TOKENIZER,
};

/* vector mode's options, numbered apart from the weight options */
enum {
	OPT_VECTORS = OPT_LONG + 64, OPT_DIMS, OPT_PQ_M, OPT_TRAIN_SAMPLE, OPT_CODEBOOK, OPT_USE_CODEBOOK,
	OPT_SEED,
};

static const struct option longopts[] = {
	{ "type", required_argument, NULL, 't' },
	{ "vectors", required_argument, NULL, OPT_VECTORS },
	{ "dims", required_argument, NULL, OPT_DIMS },
	{ "pq-m", required_argument, NULL, OPT_PQ_M },
	{ "train-sample", required_argument, NULL, OPT_TRAIN_SAMPLE },
	{ "codebook", required_argument, NULL, OPT_CODEBOOK },
	{ "use-codebook", required_argument, NULL, OPT_USE_CODEBOOK },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "output", required_argument, NULL, 'o' },
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

/* quantize --vectors: libcommon/vecquant.c does the work. */
static struct {
	const char *type, *out;
	struct vecquant_options o;
	int seen;                  /* a vector option was given */
} vec = { .o.seed = 1 };

static void vector_option(int c, const char *arg)
{
	vec.seen = 1;
	switch (c) {
	case OPT_VECTORS: vec.type = arg; break;
	case OPT_DIMS: vec.o.dims = (uint32_t)opt_int("--dims", arg, 1, VECSTREAM_MAX_DIM); break;
	case OPT_PQ_M: vec.o.pq_m = (uint32_t)opt_int("--pq-m", arg, 1, VECSTREAM_MAX_PQ_DIM); break;
	case OPT_TRAIN_SAMPLE: vec.o.train_sample = (size_t)opt_int("--train-sample", arg, 1, 1LL << 32); break;
	case OPT_CODEBOOK: vec.o.codebook_out = arg; break;
	case OPT_USE_CODEBOOK: vec.o.codebook_in = arg; break;
	case OPT_SEED: vec.o.seed = (uint64_t)opt_int("--seed", arg, 0, INT64_MAX); break;
	case 'o': vec.out = arg; break;
	}
}

static _Noreturn void vectors_main(int argc, char **argv, int weight_options)
{
	struct vecquant_options *o = &vec.o;
	struct vecquant_stats st;
	struct lm_error err = { 0 };
	struct input in;
	int trained;

	if (!vec.type)
		opt_usage_error("vector options go with --vectors TYPE");
	if (weight_options)
		opt_usage_error("--vectors does not take -t, --import or the weight options");
	if (vecstream_dtype_parse(vec.type, &o->dtype, &err))
		opt_usage_error("--vectors: %s", err.msg);
	trained = vecstream_dtype_has_params(o->dtype);
	if (!trained && (o->codebook_out || o->codebook_in || o->train_sample))
		opt_usage_error("--codebook, --use-codebook and --train-sample go with i8-dim and pq");
	if (o->pq_m && o->dtype != VECSTREAM_PQ)
		opt_usage_error("--pq-m goes with --vectors pq");
	if (o->codebook_out && o->codebook_in)
		opt_usage_error("--codebook writes a trained codebook and --use-codebook reads one: not both");
	if ((o->codebook_out && !strcmp(o->codebook_out, "-")) || (o->codebook_in && !strcmp(o->codebook_in, "-")))
		opt_usage_error("a codebook is a file, not standard input or output");
	if (o->codebook_in && o->train_sample)
		opt_usage_error("--use-codebook trains nothing: --train-sample has no use");
	if (argc - optind > 1)
		opt_usage_error("--vectors takes at most one input");
	if (input_open(&in, optind < argc ? argv[optind] : "-", &err))
		diag_fail(&err);
	if (vecquant_run(&in, vec.out ? vec.out : "-", o, &st, &err))
		diag_fail(&err);
	input_close(&in);
	if (diag_level() >= DIAG_NORMAL && st.records) {
		char m[32] = "";

		if (st.pq_m)
			snprintf(m, sizeof m, " (m %lu)", (unsigned long)st.pq_m);
		fprintf(stderr, "%llu vectors, dim %lu -> %lu, %s%s: %zu -> %zu bytes per vector, "
			"rmse %.3e, max %.3e\n", (unsigned long long)st.records, (unsigned long)st.dim_in,
			(unsigned long)st.dim, vecstream_dtype_name(o->dtype), m, st.bytes_in, st.bytes_out,
			st.values ? sqrt(st.sq_err / (double)st.values) : 0.0, st.max_err);
	}
	diag_close_stdout();
	exit(EXIT_OK);
}

/* --import hf: libcommon/model/hfimport.c; -t quantizes the import. */
static void import_hf(const char *type, struct quantize_options *qo, int report_stdout, int threads,
		      int argc, char **argv)
{
	struct hfimport_options ho = { 0 };
	struct hfimport_info info;
	struct quantize_totals tot;
	struct reporter rp = { 0 };
	struct lm_error err = { 0 };
	struct output out;

	if (qo->dry_run)
		opt_usage_error("--import hf writes a model; --dry-run applies to GGUF input");
	if (argc - optind != 2)
		opt_usage_error("--import hf takes MODEL_DIR OUT.gguf");
	if (type) {
		if (quantize_scheme_find(type, &qo->scheme, &err))
			opt_usage_error("-t: %s", err.msg);
		ho.quantize = qo;
	} else if (qo->pure || report_stdout) {
		opt_usage_error("--pure and --report go with -t TYPE");
	}
	if (report_stdout && strcmp(argv[optind + 1], "-") == 0)
		opt_usage_error("--report cannot share standard output with the model");
	if (report_stdout) {
		if (output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err))
			diag_fail(&err);
		rp.out = &out;
	}
	qo->threads = threads;
	qo->report = report;
	qo->report_arg = &rp;
	if (hfimport(argv[optind], argv[optind + 1], &ho, &info, &tot, &err))
		diag_fail(&err);
	if (tot.tensors)
		print_totals(&rp, &tot);
	if (rp.out && (rp.failed || output_close(&out, &rp.err)))
		diag_fail(&rp.err);
	diag_info("%s: %s as %s, %lld layers, embedding %lld, %lld heads (%lld kv), vocab %lld (%s%s%s), "
		  "context %lld, %llu tensors from %llu file(s)", argv[optind + 1], info.hf_arch, info.arch,
		  (long long)info.n_layer, (long long)info.n_embd, (long long)info.n_head,
		  (long long)info.n_head_kv, (long long)info.n_vocab, info.tokenizer, info.pre[0] ? " " : "",
		  info.pre, (long long)info.n_ctx, (unsigned long long)info.n_tensors,
		  (unsigned long long)info.n_files);
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
	while ((c = opt_next(&op, "t:o:", longopts)) != -1) {
		switch (c) {
		case 'o': case OPT_VECTORS: case OPT_DIMS: case OPT_PQ_M: case OPT_TRAIN_SAMPLE:
		case OPT_CODEBOOK: case OPT_USE_CODEBOOK: case OPT_SEED:
			vector_option(c, optarg);
			break;
		case 't': type = optarg; break;
		case OPT_PURE: qo.pure = 1; break;
		case OPT_DRY_RUN: qo.dry_run = 1; break;
		case OPT_REPORT: report_stdout = 1; break;
		case OPT_HELP_TYPES: help_types(); break;
		case OPT_IMPORT: import = optarg; break;
		case OPT_TOKENIZER: tokenizer = optarg; break;
		}
	}

	if (vec.seen)
		vectors_main(argc, argv, type || import || tokenizer || qo.pure || qo.dry_run || report_stdout);
	if (import && strcasecmp(import, "hf") == 0) {
		if (tokenizer)
			opt_usage_error("--tokenizer goes with --import llama2c (hf reads DIR/tokenizer.json)");
		import_hf(type, &qo, report_stdout, op.threads, argc, argv);
	}
	if (import) {
		struct llama2c_config cfg;

		if (strcasecmp(import, "llama2c") != 0)
			opt_usage_error("--import: unknown format '%s' (known: llama2c, hf)", import);
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

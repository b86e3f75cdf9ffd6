/* index - build and maintain an index file.  The work is in
 * libcommon/index/idxbuild.c (records into the builders, append, delete,
 * compaction, merge) and the structures it writes (docstore, flat, hnsw). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "index/analyzer.h"
#include "index/bm25.h"
#include "index/idxbuild.h"
#include "index/ivf.h"
#include "input.h"
#include "opt.h"
#include "output.h"

static const char usage[] =
	"Usage: index [OPTION]... -w FILE [INPUT]...\n"
	"  or:  index [OPTION]... -a FILE [INPUT]...\n"
	"  or:  index -a FILE --delete IDS [--compact]\n"
	"  or:  index --merge OUT SHARD...\n"
	"  or:  index --info [--json] FILE\n"
	"  or:  index --verify FILE\n"
	"Build an index file from records (NDJSON or the binary vector stream) read\n"
	"from the INPUT files or standard input.\n"
	"\n"
	"  -w, --write FILE      create or replace FILE\n"
	"  -a, --append FILE     add to FILE (rewritten atomically)\n"
	"      --delete IDS      delete documents: a comma-separated list, or @FILE with\n"
	"                        one id per line (with -a; no input is read then unless\n"
	"                        INPUT operands are given)\n"
	"      --compact         drop deleted documents from the file (with -a)\n"
	"      --merge OUT       write the live documents of the SHARD files to OUT\n"
	"      --info            describe the index FILE; --json for one JSON object\n"
	"      --verify          check every checksum and structure of the index FILE\n"
	"      --type TYPE       flat (default), hnsw, ivf, bm25 or hybrid\n"
	"      --metric M        cosine (default), ip or l2\n"
	"      --model-name NAME the embedding model's name (records' `model` must match)\n"
	"  -M, --hnsw-m M        HNSW links per node (default 16)\n"
	"      --ef-construction N  HNSW build beam width (default 200)\n"
	"      --nlist N         IVF lists (default: vectors/39, at most 256)\n"
	"      --codec C         IVF codes: flat (default), sq8 or pq\n"
	"      --pq-m M          PQ bytes per vector (default dim/4; must divide dim)\n"
	"      --k1 X, --b X     BM25 parameters (default 0.9 and 0.4)\n"
	"      --no-stem         BM25: do not stem English words\n"
	"      --no-stopwords    BM25: keep English stop words\n"
	OPT_HELP_THREADS
	OPT_HELP_COMMON;

enum {
	OPT_DELETE = OPT_LONG, OPT_COMPACT, OPT_MERGE, OPT_INFO, OPT_JSON, OPT_VERIFY, OPT_TYPE,
	OPT_METRIC, OPT_MODEL_NAME, OPT_EF_CONSTRUCTION, OPT_NLIST, OPT_CODEC, OPT_PQ_M, OPT_K1,
	OPT_B, OPT_NO_STEM, OPT_NO_STOPWORDS,
};

static const struct option longopts[] = {
	{ "write", required_argument, NULL, 'w' },
	{ "append", required_argument, NULL, 'a' },
	{ "delete", required_argument, NULL, OPT_DELETE },
	{ "compact", no_argument, NULL, OPT_COMPACT },
	{ "merge", required_argument, NULL, OPT_MERGE },
	{ "info", no_argument, NULL, OPT_INFO },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "metric", required_argument, NULL, OPT_METRIC },
	{ "model-name", required_argument, NULL, OPT_MODEL_NAME },
	{ "hnsw-m", required_argument, NULL, 'M' },
	{ "ef-construction", required_argument, NULL, OPT_EF_CONSTRUCTION },
	{ "nlist", required_argument, NULL, OPT_NLIST },
	{ "codec", required_argument, NULL, OPT_CODEC },
	{ "pq-m", required_argument, NULL, OPT_PQ_M },
	{ "k1", required_argument, NULL, OPT_K1 },
	{ "b", required_argument, NULL, OPT_B },
	{ "no-stem", no_argument, NULL, OPT_NO_STEM },
	{ "no-stopwords", no_argument, NULL, OPT_NO_STOPWORDS },
	{ NULL, 0, NULL, 0 },
};

/* Tombstone each id of LIST ("a,b,c"), or of the lines of FILE for
 * "@FILE". */
static int delete_ids(struct idxbuild *b, const char *list, struct lm_error *err)
{
	struct input in;
	const char *p, *end;
	char *line;
	size_t len;
	int rc = 0;

	if (list[0] != '@') {
		for (p = list; !rc && *p; p = *end ? end + 1 : end) {
			end = strchr(p, ',');
			if (!end)
				end = p + strlen(p);
			if (end > p)
				rc = idxbuild_delete(b, p, (size_t)(end - p), err);
		}
		return rc;
	}
	rc = input_open(&in, list + 1, err);
	if (rc)
		return rc;
	while ((rc = input_line(&in, &line, &len, 0, err)) == 0) {
		if (len && line[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		rc = idxbuild_delete(b, line, len, err);
		if (rc) {
			lm_error_prefix(err, "%s:%llu: ", list + 1, (unsigned long long)in.line);
			break;
		}
	}
	input_close(&in);
	return rc == LM_EOF ? 0 : rc;
}

static int read_inputs(struct idxbuild *b, char **names, int n, struct lm_error *err)
{
	struct input in;
	int i, rc = 0;

	for (i = 0; !rc && i < (n ? n : 1); i++) {
		rc = input_open(&in, n ? names[i] : "-", err);
		if (rc)
			break;
		rc = idxbuild_read(b, &in, err);
		input_close(&in);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct idxbuild_options bo = { 0 };
	struct bm25_params bp;
	enum ivf_codec codec;
	struct opt_parser op;
	struct lm_error err = { 0 };
	struct idxbuild *b = NULL;
	struct output out;
	const char *wfile = NULL, *afile = NULL, *del = NULL, *merge = NULL;
	int info = 0, verify = 0, compact = 0, json = 0, modes, c, i;

	bm25_params_default(&bp);
	opt_init(&op, argc, argv, usage, OPT_THREADS);
	while ((c = opt_next(&op, "w:a:M:", longopts)) != -1) {
		switch (c) {
		case 'w': wfile = optarg; break;
		case 'a': afile = optarg; break;
		case OPT_DELETE: del = optarg; break;
		case OPT_COMPACT: compact = 1; break;
		case OPT_MERGE: merge = optarg; break;
		case OPT_INFO: info = 1; break;
		case OPT_JSON: json = 1; break;
		case OPT_VERIFY: verify = 1; break;
		case OPT_TYPE:
			if (idxbuild_type_parse(optarg, &bo.type, &err))
				opt_usage_error("--type: %s", err.msg);
			break;
		case OPT_METRIC:
			if (idxfile_metric_parse(optarg, &bo.metric, &err))
				opt_usage_error("--metric: %s", err.msg);
			break;
		case OPT_MODEL_NAME: bo.model_name = optarg; break;
		case 'M': bo.hnsw_m = (uint32_t)opt_int("--hnsw-m", optarg, 2, 512); break;
		case OPT_NLIST: bo.ivf_nlist = (uint32_t)opt_int("--nlist", optarg, 1, 1 << 20); break;
		case OPT_CODEC:
			if (ivf_codec_parse(optarg, &codec, &err))
				opt_usage_error("--codec: %s", err.msg);
			bo.ivf_codec = codec;
			break;
		case OPT_PQ_M: bo.ivf_pq_m = (uint32_t)opt_int("--pq-m", optarg, 1, 65536); break;
		case OPT_K1: bp.k1 = (float)opt_float("--k1", optarg, 0, 1e6); bo.bm25_set = 1; break;
		case OPT_B: bp.b = (float)opt_float("--b", optarg, 0, 1); bo.bm25_set = 1; break;
		case OPT_NO_STEM: bp.analyzer &= ~ANALYZER_STEM; bo.bm25_set = 1; break;
		case OPT_NO_STOPWORDS: bp.analyzer &= ~ANALYZER_STOPWORDS; bo.bm25_set = 1; break;
		case OPT_EF_CONSTRUCTION:
			bo.hnsw_ef_construction = (uint32_t)opt_int("--ef-construction", optarg, 1,
								    1 << 20);
			break;
		}
	}
	bo.threads = op.threads;
	bo.bm25_k1 = bp.k1;
	bo.bm25_b = bp.b;
	bo.analyzer = bp.analyzer;
	modes = !!wfile + !!afile + !!merge + !!info + !!verify;
	if (modes != 1)
		opt_usage_error("give exactly one of -w, -a, --merge, --info, --verify");
	if ((del || compact) && !afile)
		opt_usage_error("--delete and --compact work on an existing file: use -a FILE");
	if (json && !info)
		opt_usage_error("--json goes with --info");
	if ((info || verify) && argc - optind != 1)
		opt_usage_error("--info and --verify take one FILE, got %d", argc - optind);
	if (merge && optind == argc)
		opt_usage_error("--merge OUT needs at least one SHARD");

	if (info || verify) {
		if (verify && idxbuild_verify(argv[optind], &err))
			diag_fail(&err);
		if (info) {
			if (output_from_fd(&out, STDOUT_FILENO, "<stdout>", &err) ||
			    idxbuild_info(argv[optind], &out, json, &err) || output_close(&out, &err))
				diag_fail(&err);
		}
		diag_close_stdout();
		return EXIT_OK;
	}
	if (afile) {
		if (idxbuild_open(&b, afile, &bo, &err))
			diag_fail(&err);
	} else if (idxbuild_new(&b, &bo, &err)) {
		diag_fail(&err);
	}
	if (del && delete_ids(b, del, &err))
		goto fail;
	if (compact && idxbuild_compact(b, &err))
		goto fail;
	if (merge) {
		for (i = optind; i < argc; i++)
			if (idxbuild_merge(b, argv[i], &err))
				goto fail;
	} else if (!(del || compact) || optind < argc) {
		if (read_inputs(b, argv + optind, argc - optind, &err))
			goto fail;
	}
	if (idxbuild_write(b, wfile ? wfile : afile ? afile : merge, &err))
		goto fail;
	diag_info("%s: %u documents (%u deleted)", wfile ? wfile : afile ? afile : merge,
		  idxbuild_count(b) - idxbuild_deleted(b), idxbuild_deleted(b));
	idxbuild_free(b);
	diag_close_stdout();
	return EXIT_OK;
fail:
	idxbuild_free(b);
	diag_fail(&err);
}

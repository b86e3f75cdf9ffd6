/* hfimport.c - Hugging Face safetensors + config.json + tokenizer.json to
 * GGUF (see hfimport.h).  Names, shapes and keys follow llama.cpp's
 * conversion/ (bert.py, llama.py, qwen.py, base.py) and gguf-py
 * (constants.py, tensor_mapping.py, vocab.py SpecialVocab). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "gguf.h"
#include "half.h"
#include "json.h"
#include "model/hfimport.h"
#include "model/safetensors.h"
#include "tokenize/pretok.h"

/* llama.h enum llama_token_type */
enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6 };

enum family { FAM_BERT, FAM_LLAMA, FAM_QWEN2, FAM_QWEN3 };

static const struct {
	const char *hf;
	enum family fam;
	const char *arch;
	int classifier;
} known_archs[] = {
	{ "BertModel", FAM_BERT, "bert", 0 },
	{ "BertForSequenceClassification", FAM_BERT, "bert", 1 },
	{ "LlamaForCausalLM", FAM_LLAMA, "llama", 0 },
	{ "Qwen2ForCausalLM", FAM_QWEN2, "qwen2", 0 },
	{ "Qwen3ForCausalLM", FAM_QWEN3, "qwen3", 0 },
};

struct src_file {
	struct safetensors_file *st;
	unsigned char *used;       /* per tensor, in st->tensors order */
	const char *name;          /* file name inside DIR, for messages */
};

/* One output tensor: where its data comes from and how it is changed. */
struct plan_tensor {
	char name[GGUF_MAX_NAME + 1];
	const struct safetensors_tensor *src;   /* NULL: GEN */
	const float *gen;
	uint32_t n_dims;
	int64_t ne[2];             /* GGUF order: ne[0] innermost */
	enum dtype type;
	int64_t perm_heads;        /* > 0: llama q/k row permutation over this many heads */
};

struct vocab {
	uint32_t n;
	char **text;
	size_t *len;
	int32_t *type;
	float *score;              /* "llama" only */
	unsigned char *added, *special;
	char **merges;             /* "gpt2" only */
	size_t n_merges;
	/* text -> id, open addressing; ids + 1, 0 = empty */
	uint32_t *hash;
	size_t hash_cap;
};

struct importer {
	const char *dir;
	struct json_doc *doc;
	struct json_value *config, *tokenizer, *tok_config;
	char *chat_template_file;  /* chat_template.jinja, when present */
	struct src_file *files;
	size_t n_files;
	enum family fam;
	const char *arch;
	int classifier;
	const char *prefix;        /* bert: "" or "bert." */
	int tied;
	enum dtype wtype;          /* matrices */
	struct plan_tensor *plan;
	size_t n_plan, cap_plan;
	float *rope_freqs;
	struct vocab v;
	struct hfimport_info info;
	/* hyper-parameters */
	int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx, n_vocab, head_dim, n_types, n_labels;
	int head_dim_given;
	double eps, rope_theta;
};

/* ---- files ---- */

static int read_whole(const char *path, char **buf, size_t *len, struct lm_error *err)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	int fd, rc = LM_OK;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno(err, "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = S_ISREG(st.st_mode) ? lm_fail_errno(err, "%s", path) :
		     lm_fail(err, LM_EFORMAT, "%s: not a regular file", path);
		goto out;
	}
	if (!(b = malloc((size_t)st.st_size + 1))) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, b + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = lm_fail_errno(err, "%s", path);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static char *join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* DIR/NAME as a JSON object into *V; absent and not REQUIRED: *V = NULL. */
static int read_json(struct importer *im, const char *name, int required, struct json_value **v,
		     struct lm_error *err)
{
	char *path = join(im->dir, name), *buf = NULL;
	size_t len;
	int rc;

	*v = NULL;
	if (!path)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	if (!exists(path)) {
		rc = required ? lm_fail(err, LM_EIO, "%s: No such file or directory", path) : LM_OK;
		goto out;
	}
	if ((rc = read_whole(path, &buf, &len, err)))
		goto out;
	if ((rc = json_parse(im->doc, buf, len, v, err))) {
		lm_error_prefix(err, "%s: ", path);
		goto out;
	}
	if (json_type(*v) != JSON_OBJECT && strcmp(name, "modules.json") != 0) {
		rc = lm_fail(err, LM_EFORMAT, "%s: not a JSON object", path);
		goto out;
	}
out:
	free(buf);
	free(path);
	return rc;
}

/* ---- config.json ---- */

static int cfg_int(struct importer *im, const char *key, int64_t def, int64_t *v, struct lm_error *err)
{
	const struct json_value *x = json_get(im->config, key);

	if (!x || json_type(x) == JSON_NULL) {
		if (def < 0)
			return lm_fail(err, LM_EFORMAT, "%s/config.json: missing \"%s\"", im->dir, key);
		*v = def;
		return LM_OK;
	}
	if (json_number_int64(x, v) || *v <= 0 || *v > (int64_t)1 << 31)
		return lm_fail(err, LM_EFORMAT, "%s/config.json: \"%s\" is not a positive integer", im->dir, key);
	return LM_OK;
}

static int cfg_float(struct importer *im, const char *key, double def, double *v, struct lm_error *err)
{
	const struct json_value *x = json_get(im->config, key);

	if (!x || json_type(x) == JSON_NULL) {
		if (isnan(def))
			return lm_fail(err, LM_EFORMAT, "%s/config.json: missing \"%s\"", im->dir, key);
		*v = def;
		return LM_OK;
	}
	if (json_type(x) != JSON_NUMBER || !((*v = json_number_double(x)) >= 0) || isinf(*v))
		return lm_fail(err, LM_EFORMAT, "%s/config.json: \"%s\" is not a non-negative number", im->dir,
			       key);
	return LM_OK;
}

/* A string member KEY of config.json that must be one of VALUES (NULL-
 * terminated) when present. */
static int cfg_expect(struct importer *im, const char *key, const char *const *values, struct lm_error *err)
{
	const struct json_value *x = json_get(im->config, key);
	const char *s;

	if (!x || json_type(x) == JSON_NULL)
		return LM_OK;
	s = json_string(x, NULL);
	for (size_t i = 0; s && values[i]; i++)
		if (strcmp(s, values[i]) == 0)
			return LM_OK;
	return lm_fail(err, LM_EFORMAT, "%s/config.json: \"%s\" %s%s%s is not supported (%s expected)", im->dir,
		       key, s ? "\"" : "", s ? s : "(not a string)", s ? "\"" : "", values[0]);
}

static int cfg_bool(struct importer *im, const char *key, int def)
{
	const struct json_value *x = json_get(im->config, key);

	return x && json_type(x) == JSON_BOOL ? json_bool(x) : def;
}

/* ---- safetensors ---- */

static int open_one(struct importer *im, const char *name, struct lm_error *err)
{
	struct src_file *f = &im->files[im->n_files];
	char *path = join(im->dir, name);
	int rc;

	if (!path)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = safetensors_open(path, &f->st, err);
	free(path);
	if (rc)
		return rc;
	im->n_files++;
	f->name = name;
	if (!(f->used = calloc(f->st->n_tensors + 1, 1)))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	return LM_OK;
}

static int open_weights(struct importer *im, struct lm_error *err)
{
	struct json_value *index, *map;
	char *single = join(im->dir, "model.safetensors");
	int have_single, rc;

	if (!single)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	have_single = exists(single);
	free(single);
	if ((rc = read_json(im, "model.safetensors.index.json", 0, &index, err)))
		return rc;
	if (!index) {
		if (!have_single)
			return lm_fail(err, LM_EIO, "%s: no model.safetensors (nor a sharded "
				       "model.safetensors.index.json)", im->dir);
		if (!(im->files = calloc(1, sizeof *im->files)))
			return lm_fail(err, LM_ENOMEM, "out of memory");
		return open_one(im, "model.safetensors", err);
	}
	map = json_get(index, "weight_map");
	if (json_type(map) != JSON_OBJECT || json_object_len(map) == 0)
		return lm_fail(err, LM_EFORMAT, "%s/model.safetensors.index.json: no \"weight_map\" object",
			       im->dir);
	if (!(im->files = calloc(json_object_len(map), sizeof *im->files)))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_object_len(map); i++) {
		const char *tname = json_object_key(map, i);
		const char *fname = json_string(json_object_value(map, i), NULL);
		size_t k;

		if (!fname || !*fname || strchr(fname, '/'))
			return lm_fail(err, LM_EFORMAT, "%s/model.safetensors.index.json: weight_map \"%s\": "
				       "not a file name in the directory", im->dir, tname);
		for (k = 0; k < im->n_files; k++)
			if (strcmp(im->files[k].name, fname) == 0)
				break;
		if (k == im->n_files && (rc = open_one(im, fname, err)))
			return rc;
		if (!safetensors_find(im->files[k].st, tname))
			return lm_fail(err, LM_EFORMAT, "%s/%s: no tensor \"%s\" (model.safetensors.index.json "
				       "puts it there)", im->dir, fname, tname);
	}
	return LM_OK;
}

static const struct safetensors_tensor *find_tensor(struct importer *im, const char *name, size_t *file)
{
	for (size_t i = 0; i < im->n_files; i++) {
		const struct safetensors_tensor *t = safetensors_find(im->files[i].st, name);
		if (t) {
			*file = i;
			return t;
		}
	}
	return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Add HF tensor HF as GGUF tensor GG with the PyTorch shape [ROWS, COLS]
 * (COLS 0: a vector of ROWS).  Missing and not REQUIRED: nothing added,
 * *FOUND (may be NULL) = 0. */
static int take(struct importer *im, const char *hf, const char *gg, int64_t rows, int64_t cols,
		int required, int64_t perm_heads, int *found, struct lm_error *err)
{
	const struct safetensors_tensor *t;
	struct plan_tensor *p;
	size_t fi;
	int want_dims = cols ? 2 : 1;

	if (found)
		*found = 0;
	if (!(t = find_tensor(im, hf, &fi))) {
		if (!required)
			return LM_OK;
		return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\" is missing (%s needs it)", im->dir, hf,
			       im->info.hf_arch);
	}
	if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
		return lm_fail(err, LM_EFORMAT, "%s/%s: tensor \"%s\": dtype %s is not F32, F16 or BF16", im->dir,
			       im->files[fi].name, hf, safetensors_dtype_name(t->dtype));
	if (t->n_dims != want_dims || t->shape[0] != rows || (cols && t->shape[1] != cols)) {
		char got[96] = "[";
		size_t k = 1;
		for (int d = 0; d < t->n_dims && k < sizeof got; d++)
			k += (size_t)snprintf(got + k, sizeof got - k, "%s%lld", d ? ", " : "",
					      (long long)t->shape[d]);
		if (k < sizeof got)
			snprintf(got + k, sizeof got - k, "]");
		if (cols)
			return lm_fail(err, LM_EFORMAT, "%s/%s: tensor \"%s\": shape %s, config.json implies "
				       "[%lld, %lld]", im->dir, im->files[fi].name, hf, got, (long long)rows,
				       (long long)cols);
		return lm_fail(err, LM_EFORMAT, "%s/%s: tensor \"%s\": shape %s, config.json implies [%lld]",
			       im->dir, im->files[fi].name, hf, got, (long long)rows);
	}
	if (im->n_plan == im->cap_plan)
		return lm_fail(err, LM_EINVAL, "internal: tensor plan overflow at %s", gg);
	p = &im->plan[im->n_plan++];
	snprintf(p->name, sizeof p->name, "%s", gg);
	p->src = t;
	p->n_dims = (uint32_t)want_dims;
	p->ne[0] = cols ? cols : rows;
	p->ne[1] = cols ? rows : 1;
	p->type = want_dims == 2 && !ends_with(gg, "_norm.weight") ? im->wtype : DTYPE_F32;
	p->perm_heads = perm_heads;
	im->files[fi].used[t - im->files[fi].st->tensors] = 1;
	if (found)
		*found = 1;
	return LM_OK;
}

/* Tensors the converter drops without a word. */
static int ignorable(const struct importer *im, const char *name)
{
	if (im->fam == FAM_BERT) {
		const char *n = strncmp(name, "bert.", 5) == 0 ? name + 5 : name;
		if (strcmp(n, "embeddings.position_ids") == 0 || strncmp(n, "cls.predictions.", 16) == 0 ||
		    strncmp(n, "cls.seq_relationship.", 21) == 0)
			return 1;
		return !im->classifier && strncmp(n, "pooler.", 7) == 0;
	}
	if (ends_with(name, ".rotary_emb.inv_freq"))
		return 1;
	return im->tied && strcmp(name, "lm_head.weight") == 0;
}

static int check_unused(struct importer *im, struct lm_error *err)
{
	for (size_t i = 0; i < im->n_files; i++) {
		const struct safetensors_file *st = im->files[i].st;
		for (size_t k = 0; k < st->n_tensors; k++)
			if (!im->files[i].used[k] && !ignorable(im, st->tensors[k].name))
				return lm_fail(err, LM_EFORMAT, "%s/%s: tensor \"%s\" is not part of a %s with "
					       "this config.json (no GGUF name for it)", im->dir, im->files[i].name,
					       st->tensors[k].name, im->info.hf_arch);
	}
	return LM_OK;
}

/* ---- families ---- */

static int plan_bert(struct importer *im, struct lm_error *err)
{
	static const char *const act[] = { "gelu", NULL };
	static const char *const pos[] = { "absolute", NULL };
	const char *P;
	char hf[160], gg[96];
	int64_t E, F;
	int rc, found;

	if ((rc = cfg_int(im, "hidden_size", -1, &im->n_embd, err)) ||
	    (rc = cfg_int(im, "num_hidden_layers", -1, &im->n_layer, err)) ||
	    (rc = cfg_int(im, "num_attention_heads", -1, &im->n_head, err)) ||
	    (rc = cfg_int(im, "intermediate_size", -1, &im->n_ff, err)) ||
	    (rc = cfg_int(im, "max_position_embeddings", -1, &im->n_ctx, err)) ||
	    (rc = cfg_int(im, "type_vocab_size", 1, &im->n_types, err)) ||
	    (rc = cfg_float(im, "layer_norm_eps", 1e-12, &im->eps, err)) ||
	    (rc = cfg_expect(im, "hidden_act", act, err)) ||
	    (rc = cfg_expect(im, "position_embedding_type", pos, err)))
		return rc;
	if (im->n_embd % im->n_head)
		return lm_fail(err, LM_EFORMAT, "%s/config.json: hidden_size %lld is not a multiple of "
			       "num_attention_heads %lld", im->dir, (long long)im->n_embd, (long long)im->n_head);
	im->n_head_kv = im->n_head;
	E = im->n_embd;
	F = im->n_ff;
	P = find_tensor(im, "bert.embeddings.word_embeddings.weight", &(size_t){ 0 }) ? "bert." : "";
	im->prefix = P;
	{
		size_t fi;
		const struct safetensors_tensor *t;
		snprintf(hf, sizeof hf, "%sembeddings.word_embeddings.weight", P);
		if (!(t = find_tensor(im, hf, &fi)))
			return lm_fail(err, LM_EFORMAT, "%s: tensor \"%s\" is missing (%s needs it)", im->dir, hf,
				       im->info.hf_arch);
		im->n_vocab = t->n_dims == 2 ? t->shape[0] : 0;
		if (im->n_vocab <= 0)
			return lm_fail(err, LM_EFORMAT, "%s/%s: tensor \"%s\" is not 2-D", im->dir,
				       im->files[fi].name, hf);
	}
#define TAKE(hfname, ggname, r, c) do { \
	snprintf(hf, sizeof hf, "%s%s", P, hfname); \
	if ((rc = take(im, hf, ggname, r, c, 1, 0, NULL, err))) \
		return rc; \
} while (0)
	/* LayerNorm parameters: .weight/.bias, or .gamma/.beta in old checkpoints */
#define TAKE_NORM(hfbase, ggbase) do { \
	snprintf(hf, sizeof hf, "%s%s.weight", P, hfbase); \
	snprintf(gg, sizeof gg, "%s.weight", ggbase); \
	if ((rc = take(im, hf, gg, E, 0, 0, 0, &found, err))) \
		return rc; \
	if (!found) { \
		snprintf(hf, sizeof hf, "%s%s.gamma", P, hfbase); \
		if ((rc = take(im, hf, gg, E, 0, 1, 0, NULL, err))) \
			return rc; \
	} \
	snprintf(hf, sizeof hf, "%s%s.bias", P, hfbase); \
	snprintf(gg, sizeof gg, "%s.bias", ggbase); \
	if ((rc = take(im, hf, gg, E, 0, 0, 0, &found, err))) \
		return rc; \
	if (!found) { \
		snprintf(hf, sizeof hf, "%s%s.beta", P, hfbase); \
		if ((rc = take(im, hf, gg, E, 0, 1, 0, NULL, err))) \
			return rc; \
	} \
} while (0)
	TAKE("embeddings.word_embeddings.weight", "token_embd.weight", im->n_vocab, E);
	TAKE("embeddings.token_type_embeddings.weight", "token_types.weight", im->n_types, E);
	TAKE("embeddings.position_embeddings.weight", "position_embd.weight", im->n_ctx, E);
	TAKE_NORM("embeddings.LayerNorm", "token_embd_norm");
	for (int64_t l = 0; l < im->n_layer; l++) {
		static const struct { const char *hf, *gg; int ff; } lin[] = {
			{ "attention.self.query", "attn_q", 0 },
			{ "attention.self.key", "attn_k", 0 },
			{ "attention.self.value", "attn_v", 0 },
			{ "attention.output.dense", "attn_output", 0 },
			{ "intermediate.dense", "ffn_up", 1 },
			{ "output.dense", "ffn_down", 2 },
		};
		char h2[128], g2[GGUF_MAX_NAME + 1];

		for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++) {
			int64_t r = lin[k].ff == 1 ? F : E, c = lin[k].ff == 2 ? F : E;
			snprintf(h2, sizeof h2, "encoder.layer.%lld.%s.weight", (long long)l, lin[k].hf);
			snprintf(g2, sizeof g2, "blk.%lld.%s.weight", (long long)l, lin[k].gg);
			TAKE(h2, g2, r, c);
			snprintf(h2, sizeof h2, "encoder.layer.%lld.%s.bias", (long long)l, lin[k].hf);
			snprintf(g2, sizeof g2, "blk.%lld.%s.bias", (long long)l, lin[k].gg);
			TAKE(h2, g2, r, 0);
		}
		snprintf(h2, sizeof h2, "encoder.layer.%lld.attention.output.LayerNorm", (long long)l);
		snprintf(g2, sizeof g2, "blk.%lld.attn_output_norm", (long long)l);
		TAKE_NORM(h2, g2);
		snprintf(h2, sizeof h2, "encoder.layer.%lld.output.LayerNorm", (long long)l);
		snprintf(g2, sizeof g2, "blk.%lld.layer_output_norm", (long long)l);
		TAKE_NORM(h2, g2);
	}
#undef TAKE_NORM
	if (im->classifier) {
		const struct safetensors_tensor *t;
		size_t fi;

		TAKE("pooler.dense.weight", "cls.weight", E, E);
		TAKE("pooler.dense.bias", "cls.bias", E, 0);
		if (!(t = find_tensor(im, "classifier.weight", &fi)) || t->n_dims != 2)
			return lm_fail(err, LM_EFORMAT, "%s: tensor \"classifier.weight\" is missing or not 2-D "
				       "(%s needs it)", im->dir, im->info.hf_arch);
		im->n_labels = t->shape[0];
		if ((rc = take(im, "classifier.weight", "cls.output.weight", im->n_labels, E, 1, 0, NULL, err)) ||
		    (rc = take(im, "classifier.bias", "cls.output.bias", im->n_labels, 0, 1, 0, NULL, err)))
			return rc;
	}
#undef TAKE
	return LM_OK;
}

/* rope_scaling (or the newer rope_parameters) of config.json */
static int rope_scaling(struct importer *im, const struct json_value **rs, const char **type,
			struct lm_error *err)
{
	const struct json_value *x = json_get(im->config, "rope_scaling");

	if (!x || json_type(x) == JSON_NULL)
		x = json_get(im->config, "rope_parameters");
	*rs = NULL;
	*type = NULL;
	if (!x || json_type(x) == JSON_NULL)
		return LM_OK;
	if (json_type(x) != JSON_OBJECT)
		return lm_fail(err, LM_EFORMAT, "%s/config.json: rope_scaling is not an object", im->dir);
	*rs = x;
	*type = json_string(json_get(x, "rope_type"), NULL);
	if (!*type)
		*type = json_string(json_get(x, "type"), NULL);
	if (*type && strcmp(*type, "default") == 0)
		*type = NULL;
	return LM_OK;
}

static double rs_num(const struct json_value *rs, const char *key, double def)
{
	const struct json_value *x = json_get(rs, key);

	return json_type(x) == JSON_NUMBER ? json_number_double(x) : def;
}

/* llama.py generate_extra_tensors: per-frequency divisors of Llama 3.1 rope
 * scaling, from the wavelength bands of the original context. */
static int llama3_freqs(struct importer *im, const struct json_value *rs, struct lm_error *err)
{
	int64_t half = im->head_dim / 2;
	double factor = rs_num(rs, "factor", 8.0), lo = rs_num(rs, "low_freq_factor", 1.0);
	double hi = rs_num(rs, "high_freq_factor", 4.0);
	double old_ctx = rs_num(rs, "original_max_position_embeddings", 8192);
	double lo_wave = old_ctx / lo, hi_wave = old_ctx / hi;

	if (!(factor > 0) || !(hi > lo) || !(old_ctx > 0))
		return lm_fail(err, LM_EFORMAT, "%s/config.json: bad llama3 rope_scaling parameters", im->dir);
	if (!(im->rope_freqs = malloc((size_t)half * sizeof(float))))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	for (int64_t i = 0; i < half; i++) {
		/* the converter computes the frequencies in float32 */
		float freq = 1.0f / powf((float)im->rope_theta, (float)(2 * i) / (float)im->head_dim);
		double wave = 2 * M_PI / freq;
		if (wave < hi_wave) {
			im->rope_freqs[i] = 1.0f;
		} else if (wave > lo_wave) {
			im->rope_freqs[i] = (float)factor;
		} else {
			double smooth = (old_ctx / wave - lo) / (hi - lo);
			im->rope_freqs[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
		}
	}
	if (im->n_plan == im->cap_plan)
		return lm_fail(err, LM_EINVAL, "internal: tensor plan overflow");
	struct plan_tensor *p = &im->plan[im->n_plan++];
	snprintf(p->name, sizeof p->name, "rope_freqs.weight");
	p->gen = im->rope_freqs;
	p->n_dims = 1;
	p->ne[0] = half;
	p->ne[1] = 1;
	p->type = DTYPE_F32;
	return LM_OK;
}

static int plan_decoder(struct importer *im, struct lm_error *err)
{
	static const char *const act[] = { "silu", NULL };
	const struct json_value *rs;
	const char *rs_type;
	char hf[160], gg[GGUF_MAX_NAME + 1];
	int64_t E, F, QD, KVD, hd_cfg;
	int bias_qkv, bias_o, qk_norm, rc;

	if ((rc = cfg_int(im, "hidden_size", -1, &im->n_embd, err)) ||
	    (rc = cfg_int(im, "num_hidden_layers", -1, &im->n_layer, err)) ||
	    (rc = cfg_int(im, "num_attention_heads", -1, &im->n_head, err)) ||
	    (rc = cfg_int(im, "num_key_value_heads", im->n_head, &im->n_head_kv, err)) ||
	    (rc = cfg_int(im, "intermediate_size", -1, &im->n_ff, err)) ||
	    (rc = cfg_int(im, "max_position_embeddings", -1, &im->n_ctx, err)) ||
	    (rc = cfg_int(im, "vocab_size", -1, &im->n_vocab, err)) ||
	    (rc = cfg_int(im, "head_dim", 0, &hd_cfg, err)) ||
	    (rc = cfg_float(im, "rms_norm_eps", NAN, &im->eps, err)) ||
	    (rc = cfg_expect(im, "hidden_act", act, err)))
		return rc;
	im->rope_theta = 10000.0;
	if ((rc = rope_scaling(im, &rs, &rs_type, err)))
		return rc;
	if (rs && json_type(json_get(rs, "rope_theta")) == JSON_NUMBER)
		im->rope_theta = json_number_double(json_get(rs, "rope_theta"));
	if ((rc = cfg_float(im, "rope_theta", im->rope_theta, &im->rope_theta, err)))
		return rc;
	if (cfg_bool(im, "mlp_bias", 0))
		return lm_fail(err, LM_EFORMAT, "%s/config.json: mlp_bias is not supported", im->dir);
	im->head_dim_given = hd_cfg > 0;
	im->head_dim = hd_cfg > 0 ? hd_cfg : im->n_embd / im->n_head;
	if ((!im->head_dim_given && im->n_embd % im->n_head) || im->n_head % im->n_head_kv || im->head_dim % 2)
		return lm_fail(err, LM_EFORMAT, "%s/config.json: %lld heads (%lld kv) of size %lld do not fit "
			       "hidden_size %lld", im->dir, (long long)im->n_head, (long long)im->n_head_kv,
			       (long long)im->head_dim, (long long)im->n_embd);
	im->tied = cfg_bool(im, "tie_word_embeddings", 0);
	E = im->n_embd;
	F = im->n_ff;
	QD = im->n_head * im->head_dim;
	KVD = im->n_head_kv * im->head_dim;
	bias_qkv = im->fam == FAM_QWEN2 || cfg_bool(im, "attention_bias", 0);
	bias_o = im->fam != FAM_QWEN2 && cfg_bool(im, "attention_bias", 0);
	qk_norm = im->fam == FAM_QWEN3;

	if ((rc = take(im, "model.embed_tokens.weight", "token_embd.weight", im->n_vocab, E, 1, 0, NULL, err)) ||
	    (rc = take(im, "model.norm.weight", "output_norm.weight", E, 0, 1, 0, NULL, err)))
		return rc;
	if (!im->tied && (rc = take(im, "lm_head.weight", "output.weight", im->n_vocab, E, 1, 0, NULL, err)))
		return rc;
	if (rs_type && strcmp(rs_type, "llama3") == 0) {
		if (im->fam != FAM_LLAMA)
			return lm_fail(err, LM_EFORMAT, "%s/config.json: llama3 rope scaling on a %s", im->dir,
				       im->info.hf_arch);
		if ((rc = llama3_freqs(im, rs, err)))
			return rc;
	} else if (rs_type && strcmp(rs_type, "linear") && strcmp(rs_type, "yarn")) {
		return lm_fail(err, LM_EFORMAT, "%s/config.json: rope scaling \"%s\" is not supported (linear, "
			       "yarn, llama3)", im->dir, rs_type);
	}
	for (int64_t l = 0; l < im->n_layer; l++) {
		const struct {
			const char *hf, *gg;
			int64_t rows, cols, perm;
			int req;
		} t[] = {
			{ "input_layernorm.weight", "attn_norm.weight", E, 0, 0, 1 },
			{ "self_attn.q_proj.weight", "attn_q.weight", QD, E, im->n_head, 1 },
			{ "self_attn.q_proj.bias", "attn_q.bias", QD, 0, im->n_head, bias_qkv },
			{ "self_attn.k_proj.weight", "attn_k.weight", KVD, E, im->n_head_kv, 1 },
			{ "self_attn.k_proj.bias", "attn_k.bias", KVD, 0, im->n_head_kv, bias_qkv },
			{ "self_attn.v_proj.weight", "attn_v.weight", KVD, E, 0, 1 },
			{ "self_attn.v_proj.bias", "attn_v.bias", KVD, 0, 0, bias_qkv },
			{ "self_attn.o_proj.weight", "attn_output.weight", E, QD, 0, 1 },
			{ "self_attn.o_proj.bias", "attn_output.bias", E, 0, 0, bias_o },
			{ "self_attn.q_norm.weight", "attn_q_norm.weight", im->head_dim, 0, 0, qk_norm },
			{ "self_attn.k_norm.weight", "attn_k_norm.weight", im->head_dim, 0, 0, qk_norm },
			{ "post_attention_layernorm.weight", "ffn_norm.weight", E, 0, 0, 1 },
			{ "mlp.gate_proj.weight", "ffn_gate.weight", F, E, 0, 1 },
			{ "mlp.up_proj.weight", "ffn_up.weight", F, E, 0, 1 },
			{ "mlp.down_proj.weight", "ffn_down.weight", E, F, 0, 1 },
		};
		for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
			if (!t[k].req)
				continue;
			snprintf(hf, sizeof hf, "model.layers.%lld.%s", (long long)l, t[k].hf);
			snprintf(gg, sizeof gg, "blk.%lld.%s", (long long)l, t[k].gg);
			/* llama.py permute: only llama stores q/k in rotate-half order
			 * that llama.cpp's normal (interleaved) RoPE must undo */
			rc = take(im, hf, gg, t[k].rows, t[k].cols, 1, im->fam == FAM_LLAMA ? t[k].perm : 0, NULL,
				  err);
			if (rc)
				return rc;
		}
	}
	return LM_OK;
}

/* ---- tokenizer ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int vocab_index(struct vocab *v)
{
	v->hash_cap = 16;
	while (v->hash_cap < 2 * (size_t)v->n)
		v->hash_cap <<= 1;
	if (!(v->hash = calloc(v->hash_cap, sizeof *v->hash)))
		return LM_ENOMEM;
	for (uint32_t i = 0; i < v->n; i++) {
		size_t h = (size_t)fnv1a(v->text[i], v->len[i]) & (v->hash_cap - 1);
		while (v->hash[h])
			h = (h + 1) & (v->hash_cap - 1);
		v->hash[h] = i + 1;
	}
	return LM_OK;
}

/* The id of the first token with text S, or -1. */
static int64_t vocab_find(const struct vocab *v, const char *s, size_t n)
{
	int64_t best = -1;
	size_t h = (size_t)fnv1a(s, n) & (v->hash_cap - 1);

	for (; v->hash[h]; h = (h + 1) & (v->hash_cap - 1)) {
		uint32_t id = v->hash[h] - 1;
		if (v->len[id] == n && memcmp(v->text[id], s, n) == 0 && (best < 0 || id < best))
			best = id;
	}
	return best;
}

static void vocab_free(struct vocab *v)
{
	if (v->text)
		for (uint32_t i = 0; i < v->n; i++)
			free(v->text[i]);
	if (v->merges)
		for (size_t i = 0; i < v->n_merges; i++)
			free(v->merges[i]);
	free(v->text);
	free(v->len);
	free(v->type);
	free(v->score);
	free(v->added);
	free(v->special);
	free(v->merges);
	free(v->hash);
}

static int set_text(struct vocab *v, uint32_t id, const char *pre, const char *s, size_t n)
{
	size_t p = pre ? strlen(pre) : 0;
	char *t = malloc(p + n + 1);

	if (!t)
		return LM_ENOMEM;
	if (p)
		memcpy(t, pre, p);
	memcpy(t + p, s, n);
	t[p + n] = 0;
	free(v->text[id]);
	v->text[id] = t;
	v->len[id] = p + n;
	return LM_OK;
}

/* base.py does_token_look_special, for added tokens not marked special */
static int looks_special(const char *s, size_t n)
{
	if ((n == 5 && !memcmp(s, "<pad>", 5)) || (n == 6 && !memcmp(s, "<mask>", 6)))
		return 1;
	if (n >= 4 && !memcmp(s, "<|", 2) && !memcmp(s + n - 2, "|>", 2))
		return 1;
	return n >= 8 && !memcmp(s, "<unused", 7) && s[n - 1] == '>';
}

/* The pre-tokenizer name llama.cpp would give tokenizer.json's
 * pre_tokenizer, recognised by its regex, or NULL. */
static const char *bpe_pre_name(const struct json_value *pre)
{
	static const struct { const char *re, *name; } known[] = {
		{ PRETOK_PAT_CL100K, "llama-bpe" },
		{ PRETOK_PAT_QWEN2, "qwen2" },
		{ PRETOK_PAT_O200K, "gpt-4o" },
	};
	const char *type = json_string(json_get(pre, "type"), NULL);
	const struct json_value *list, *split = NULL, *bl = NULL;

	if (!type)
		return NULL;
	if (strcmp(type, "ByteLevel") == 0)
		return json_bool(json_get(pre, "use_regex")) ? "gpt-2" : NULL;
	if (strcmp(type, "Sequence") != 0)
		return NULL;
	list = json_get(pre, "pretokenizers");
	if (json_array_len(list) != 2)
		return NULL;
	split = json_array_get(list, 0);
	bl = json_array_get(list, 1);
	if (!json_string(json_get(split, "type"), NULL) || strcmp(json_string(json_get(split, "type"), NULL), "Split") ||
	    !json_string(json_get(bl, "type"), NULL) || strcmp(json_string(json_get(bl, "type"), NULL), "ByteLevel") ||
	    json_bool(json_get(bl, "use_regex")) || json_bool(json_get(split, "invert")))
		return NULL;
	const char *re = json_string(json_get(json_get(split, "pattern"), "Regex"), NULL);
	const char *beh = json_string(json_get(split, "behavior"), NULL);
	if (!re || !beh || strcmp(beh, "Isolated"))
		return NULL;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(re, known[i].re) == 0)
			return known[i].name;
	return NULL;
}

/* Content of a tokenizer_config.json special token entry (string or
 * {"content": ...}), or NULL. */
static const char *tc_token(const struct json_value *tc, const char *key)
{
	const struct json_value *x = json_get(tc, key);

	if (json_type(x) == JSON_OBJECT)
		x = json_get(x, "content");
	return json_string(x, NULL);
}

/* The id of the added token (else vocabulary token) with text S, or -1. */
static int64_t token_id(const struct importer *im, const char *s)
{
	const struct json_value *added = json_get(im->tokenizer, "added_tokens");
	int64_t id;

	if (!s)
		return -1;
	for (size_t i = 0; i < json_array_len(added); i++) {
		const struct json_value *a = json_array_get(added, i);
		const char *c = json_string(json_get(a, "content"), NULL);
		if (c && strcmp(c, s) == 0 && !json_number_int64(json_get(a, "id"), &id) && id >= 0 &&
		    id < im->v.n)
			return id;
	}
	return vocab_find(&im->v, s, strlen(s));
}

struct specials {
	int64_t id[7];             /* bos eos unk sep pad cls mask, -1 = none */
	int add_bos, add_eos;      /* -1 = unknown */
};
enum { SP_BOS, SP_EOS, SP_UNK, SP_SEP, SP_PAD, SP_CLS, SP_MASK };
static const char *const sp_names[] = { "bos", "eos", "unk", "sep", "pad", "cls", "mask" };
static const char *const sp_keys[] = {
	"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
	"tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.cls_token_id",
	"tokenizer.ggml.mask_token_id",
};

/* SpecialVocab, simplified: ids from tokenizer_config.json, then
 * config.json's *_token_id; add_bos/add_eos from tokenizer_config.json,
 * else the first/last special token of a TemplateProcessing "single". */
static void find_specials(struct importer *im, struct specials *sp)
{
	const struct json_value *post = json_get(im->tokenizer, "post_processor");
	char key[32];

	for (int i = 0; i < 7; i++) {
		int64_t id;
		sp->id[i] = -1;
		snprintf(key, sizeof key, "%s_token", sp_names[i]);
		sp->id[i] = token_id(im, tc_token(im->tok_config, key));
		snprintf(key, sizeof key, "%s_token_id", sp_names[i]);
		if (sp->id[i] < 0 && !json_number_int64(json_get(im->config, key), &id) && id >= 0 && id < im->v.n)
			sp->id[i] = id;
	}
	if (im->v.n && json_string(json_get(json_get(im->tokenizer, "model"), "unk_token"), NULL) &&
	    sp->id[SP_UNK] < 0)
		sp->id[SP_UNK] = token_id(im, json_string(json_get(json_get(im->tokenizer, "model"), "unk_token"),
							  NULL));
	sp->add_bos = sp->add_eos = -1;
	if (json_type(json_get(im->tok_config, "add_bos_token")) == JSON_BOOL)
		sp->add_bos = json_bool(json_get(im->tok_config, "add_bos_token"));
	if (json_type(json_get(im->tok_config, "add_eos_token")) == JSON_BOOL)
		sp->add_eos = json_bool(json_get(im->tok_config, "add_eos_token"));
	if (json_type(post) == JSON_OBJECT) {
		const struct json_value *procs = json_get(post, "processors");
		size_t n = procs ? json_array_len(procs) : 1;
		for (size_t i = 0; i < n; i++) {
			const struct json_value *p = procs ? json_array_get(procs, i) : post;
			const char *type = json_string(json_get(p, "type"), NULL);
			const struct json_value *single = json_get(p, "single");
			size_t len = json_array_len(single);
			if (!type || strcmp(type, "TemplateProcessing") || len < 2)
				continue;
			const char *first = json_string(json_get(json_get(json_array_get(single, 0), "SpecialToken"),
								 "id"), NULL);
			const char *last = json_string(json_get(json_get(json_array_get(single, len - 1),
									 "SpecialToken"), "id"), NULL);
			if (first) {
				if (sp->id[SP_BOS] < 0)
					sp->id[SP_BOS] = token_id(im, first);
				if (sp->add_bos < 0)
					sp->add_bos = token_id(im, first) == sp->id[SP_BOS];
			}
			if (last) {
				if (sp->id[SP_EOS] < 0)
					sp->id[SP_EOS] = token_id(im, last);
				if (sp->add_eos < 0)
					sp->add_eos = token_id(im, last) == sp->id[SP_EOS];
			}
		}
	}
	if (sp->add_bos < 0)
		sp->add_bos = 0;
	if (sp->add_eos < 0)
		sp->add_eos = 0;
}

/* Merges "A B" (strings) or [A, B] (tokenizers >= 0.20); in the array form
 * spaces inside a part become U+0120, as SpecialVocab writes them. */
static int read_merges(struct importer *im, const struct json_value *merges, struct lm_error *err)
{
	struct vocab *v = &im->v;
	size_t n = json_array_len(merges);

	if (!(v->merges = calloc(n ? n : 1, sizeof *v->merges)))
		return lm_fail(err, LM_ENOMEM, "out of memory for %zu merges", n);
	for (size_t i = 0; i < n; i++) {
		const struct json_value *m = json_array_get(merges, i);
		size_t la, lb, k = 0;
		const char *a, *b;
		char *s;

		if (json_type(m) == JSON_STRING) {
			a = json_string(m, &la);
			if (!(v->merges[i] = strndup(a, la)))
				return lm_fail(err, LM_ENOMEM, "out of memory");
			v->n_merges = i + 1;
			continue;
		}
		a = json_string(json_array_get(m, 0), &la);
		b = json_string(json_array_get(m, 1), &lb);
		if (json_array_len(m) != 2 || !a || !b)
			return lm_fail(err, LM_EFORMAT, "%s/tokenizer.json: merge %zu is neither \"A B\" nor "
				       "[\"A\", \"B\"]", im->dir, i);
		if (!(s = malloc(2 * (la + lb) + 2)))
			return lm_fail(err, LM_ENOMEM, "out of memory");
		for (size_t j = 0; j < la + lb + 1; j++) {
			char c = j < la ? a[j] : j == la ? 0 : b[j - la - 1];
			if (j == la)
				s[k++] = ' ';
			else if (c == ' ')
				s[k++] = (char)0xc4, s[k++] = (char)0xa0;
			else
				s[k++] = c;
		}
		s[k] = 0;
		v->merges[i] = s;
		v->n_merges = i + 1;
	}
	return LM_OK;
}

static int build_vocab(struct importer *im, const char **model_name, const char **pre,
		       struct lm_error *err)
{
	const struct json_value *model = json_get(im->tokenizer, "model");
	const struct json_value *vmap = json_get(model, "vocab");
	const struct json_value *added = json_get(im->tokenizer, "added_tokens");
	const char *type = json_string(json_get(model, "type"), NULL);
	struct vocab *v = &im->v;
	int wordpiece, spm;
	int64_t id;
	int rc;

	if (!type || (strcmp(type, "WordPiece") && strcmp(type, "BPE")))
		return lm_fail(err, LM_EFORMAT, "%s/tokenizer.json: model type %s%s%s is not supported "
			       "(WordPiece, BPE)", im->dir, type ? "\"" : "", type ? type : "(none)", type ? "\"" : "");
	if (json_type(vmap) != JSON_OBJECT)
		return lm_fail(err, LM_EFORMAT, "%s/tokenizer.json: model.vocab is not an object", im->dir);
	wordpiece = strcmp(type, "WordPiece") == 0;
	spm = !wordpiece && json_bool(json_get(model, "byte_fallback"));
	if (wordpiece != (im->fam == FAM_BERT))
		return lm_fail(err, LM_EFORMAT, "%s/tokenizer.json: a %s tokenizer for a %s model is not supported",
			       im->dir, type, im->info.hf_arch);
	/* the embedding rows are the vocabulary; ids without a token are padding */
	v->n = (uint32_t)im->n_vocab;
	v->text = calloc(v->n, sizeof *v->text);
	v->len = calloc(v->n, sizeof *v->len);
	v->type = calloc(v->n, sizeof *v->type);
	v->added = calloc(v->n, 1);
	v->special = calloc(v->n, 1);
	v->score = spm ? calloc(v->n, sizeof *v->score) : NULL;
	if (!v->text || !v->len || !v->type || !v->added || !v->special || (spm && !v->score))
		return lm_fail(err, LM_ENOMEM, "out of memory for %u tokens", v->n);
	for (size_t i = 0; i < json_object_len(vmap); i++) {
		const char *t = json_object_key(vmap, i);
		if (json_number_int64(json_object_value(vmap, i), &id) || id < 0 || id >= v->n)
			return lm_fail(err, LM_EFORMAT, "%s/tokenizer.json: token \"%s\": id is not in 0..%u (the "
				       "embedding rows)", im->dir, t, v->n - 1);
		if ((rc = set_text(v, (uint32_t)id, NULL, t, strlen(t))))
			return lm_fail(err, rc, "out of memory");
		v->type[id] = TT_NORMAL;
	}
	for (size_t i = 0; i < json_array_len(added); i++) {
		const struct json_value *a = json_array_get(added, i);
		size_t len;
		const char *t = json_string(json_get(a, "content"), &len);
		if (!t || json_number_int64(json_get(a, "id"), &id) || id < 0 || id >= v->n)
			return lm_fail(err, LM_EFORMAT, "%s/tokenizer.json: added token %zu: no content or id "
				       "outside 0..%u", im->dir, i, v->n - 1);
		if ((rc = set_text(v, (uint32_t)id, NULL, t, len)))
			return lm_fail(err, rc, "out of memory");
		v->added[id] = 1;
		v->special[id] = json_bool(json_get(a, "special")) || looks_special(t, len);
		v->type[id] = v->special[id] ? TT_CONTROL : TT_USER_DEFINED;
	}
	for (uint32_t i = 0; i < v->n; i++) {
		char pad[32];
		if (v->text[i])
			continue;
		snprintf(pad, sizeof pad, "[PAD%u]", i);
		if ((rc = set_text(v, i, NULL, pad, strlen(pad))))
			return lm_fail(err, rc, "out of memory");
		v->type[i] = TT_UNUSED;
	}
	if (wordpiece) {
		const char *pfx = json_string(json_get(model, "continuing_subword_prefix"), NULL);
		size_t pl = pfx ? strlen(pfx) : 0;
		if (!pfx || strcmp(pfx, "##"))
			return lm_fail(err, LM_EFORMAT, "%s/tokenizer.json: WordPiece continuing_subword_prefix "
				       "is not \"##\"", im->dir);
		/* bert.py phantom(): llama.cpp's WPM spells word starts with
		 * U+2581 and continuations bare; control tokens, and the
		 * "[...]" tokens as the converter that made llama.cpp's
		 * ggml-vocab-bert-bge.gguf did, stay as they are */
		for (uint32_t i = 0; i < v->n; i++) {
			const char *t = v->text[i];
			size_t n = v->len[i];
			if (v->type[i] == TT_CONTROL || v->type[i] == TT_UNUSED ||
			    (n >= 2 && t[0] == '[' && t[n - 1] == ']'))
				continue;
			if (n >= pl && memcmp(t, pfx, pl) == 0)
				rc = set_text(v, i, NULL, t + pl, n - pl);
			else
				rc = set_text(v, i, "\xe2\x96\x81", t, n);
			if (rc)
				return lm_fail(err, rc, "out of memory");
		}
		*model_name = "bert";
		*pre = "bert-bge";
	} else if (!spm) {
		if (!(*pre = bpe_pre_name(json_get(im->tokenizer, "pre_tokenizer"))))
			return lm_fail(err, LM_EFORMAT, "%s/tokenizer.json: the pre-tokenizer is not one llama.cpp "
				       "names (GPT-2, Llama-3/cl100k, Qwen2, o200k byte-level BPE)", im->dir);
		if ((rc = read_merges(im, json_get(model, "merges"), err)))
			return rc;
		*model_name = "gpt2";
	} else {
		const struct json_value *merges = json_get(model, "merges");
		*model_name = "llama";
		*pre = "default";
		for (uint32_t i = 0; i < v->n; i++) {
			const char *t = v->text[i];
			if (v->type[i] == TT_NORMAL && v->len[i] == 6 && !memcmp(t, "<0x", 3) && t[5] == '>' &&
			    strchr("0123456789ABCDEFabcdef", t[3]) && strchr("0123456789ABCDEFabcdef", t[4]))
				v->type[i] = TT_BYTE;
		}
		if ((rc = vocab_index(v)))
			return lm_fail(err, rc, "out of memory");
		if ((rc = read_merges(im, merges, err)))
			return rc;
		/* score = -(rank of the merge that makes the token): llama.cpp
		 * merges the highest score first, the tokenizer the lowest rank */
		for (size_t r = v->n_merges; r-- > 0;) {
			char *m = v->merges[r], *sp = strchr(m, ' ');
			char buf[512];
			size_t la, lb;
			if (!sp)
				continue;
			la = (size_t)(sp - m);
			lb = strlen(sp + 1);
			if (la + lb >= sizeof buf)
				continue;
			memcpy(buf, m, la);
			memcpy(buf + la, sp + 1, lb);
			id = vocab_find(v, buf, la + lb);
			if (id >= 0)
				v->score[id] = -(float)r - 1;
		}
		for (size_t r = 0; r < v->n_merges; r++)
			free(v->merges[r]);
		free(v->merges);
		v->merges = NULL;
		v->n_merges = 0;
		free(v->hash);
		v->hash = NULL;
	}
	if (!v->hash && (rc = vocab_index(v)))
		return lm_fail(err, rc, "out of memory");
	return LM_OK;
}

/* ---- pooling ---- */

static int pooling_type(struct importer *im, uint32_t *pool, struct lm_error *err)
{
	struct json_value *mods, *pc = NULL;
	const char *path = NULL;
	char *cfg;
	int rc;

	*pool = im->classifier ? 4 : 1;
	if ((rc = read_json(im, "modules.json", 0, &mods, err)))
		return rc;
	for (size_t i = 0; i < json_array_len(mods); i++) {
		const struct json_value *m = json_array_get(mods, i);
		const char *type = json_string(json_get(m, "type"), NULL);
		if (type && ends_with(type, "Pooling")) {
			path = json_string(json_get(m, "path"), NULL);
			break;
		}
	}
	if (!path)
		return LM_OK;
	if (asprintf(&cfg, "%s%sconfig.json", path, *path ? "/" : "") < 0)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = read_json(im, cfg, 1, &pc, err);
	if (!rc) {
		const char *mode = json_string(json_get(pc, "pooling_mode"), NULL);
		if (json_bool(json_get(pc, "pooling_mode_mean_tokens")) || (mode && !strcmp(mode, "mean")))
			*pool = 1;
		else if (json_bool(json_get(pc, "pooling_mode_cls_token")) || (mode && !strcmp(mode, "cls")))
			*pool = 2;
		else if (json_bool(json_get(pc, "pooling_mode_lasttoken")) || (mode && !strcmp(mode, "lasttoken")))
			*pool = 3;
		else
			rc = lm_fail(err, LM_EFORMAT, "%s/%s: only mean, cls and lasttoken pooling are supported",
				     im->dir, cfg);
	}
	free(cfg);
	return rc;
}

/* ---- writing ---- */

static int write_tensor(void *arg, struct output *out, struct lm_error *err)
{
	const struct plan_tensor *p = arg;
	int64_t rows = p->ne[1], cols = p->ne[0];
	size_t ssize = p->src ? safetensors_dtype_size(p->src->dtype) : 4;
	size_t osize = dtype_type_size(p->type);
	float *f = NULL;
	unsigned char *o = NULL;
	int64_t hd = 0;
	int rc = LM_OK;

	/* a permuted vector (q/k bias) is permuted element by element */
	if (p->perm_heads && p->n_dims == 1) {
		rows = p->ne[0];
		cols = 1;
	}
	if (p->perm_heads)
		hd = rows / p->perm_heads;
	f = malloc((size_t)cols * sizeof *f);
	o = malloc((size_t)cols * osize);
	if (!f || !o) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", p->name);
		goto out;
	}
	for (int64_t r = 0; r < rows; r++) {
		int64_t sr = r;
		if (hd) {
			/* llama.py permute: reshape(heads, 2, hd/2, ...).swapaxes(1, 2):
			 * output row h*hd + 2i + j comes from row h*hd + j*hd/2 + i */
			int64_t h = r / hd, i = (r % hd) / 2, j = r % 2;
			sr = h * hd + j * (hd / 2) + i;
		}
		if (!p->src) {
			memcpy(f, p->gen + sr * cols, (size_t)cols * sizeof *f);
		} else {
			const unsigned char *s = (const unsigned char *)p->src->data + (size_t)(sr * cols) * ssize;
			if (p->src->dtype == ST_F32) {
				memcpy(f, s, (size_t)cols * 4);
			} else {
				for (int64_t c = 0; c < cols; c++) {
					uint16_t u;
					memcpy(&u, s + 2 * c, 2);
					f[c] = p->src->dtype == ST_F16 ? f16_to_f32(u) : bf16_to_f32(u);
				}
			}
		}
		if (p->type == DTYPE_F32) {
			memcpy(o, f, (size_t)cols * 4);
		} else {
			for (int64_t c = 0; c < cols; c++) {
				uint16_t u = p->type == DTYPE_F16 ? f32_to_f16(f[c]) : f32_to_bf16(f[c]);
				memcpy(o + 2 * c, &u, 2);
			}
		}
		if ((rc = output_write(out, o, (size_t)cols * osize, err)))
			goto out;
	}
out:
	free(f);
	free(o);
	return rc;
}

static const char *base_name(const char *path)
{
	const char *s = path + strlen(path);

	while (s > path && s[-1] == '/')
		s--;
	while (s > path && s[-1] != '/')
		s--;
	return s;
}

static int add_metadata(struct importer *im, struct gguf_writer *w, uint32_t ftype, struct lm_error *err)
{
	const char *a = im->arch, *model_name = "", *pre = NULL;
	struct specials sp;
	char key[96], name[256];
	int rc;

#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
	{
		const char *n = json_string(json_get(im->config, "_name_or_path"), NULL);
		size_t len;
		if (!n || !*n)
			n = im->dir;
		snprintf(name, sizeof name, "%s", base_name(n));
		len = strlen(name);
		while (len && name[len - 1] == '/')
			name[--len] = 0;
		if (!len)
			snprintf(name, sizeof name, "%s", a);
	}
	if ((rc = gguf_writer_add_str(w, "general.architecture", a, strlen(a), err)) ||
	    (rc = gguf_writer_add_str(w, "general.name", name, strlen(name), err)) ||
	    (rc = gguf_writer_add_u32(w, KEY("block_count"), (uint32_t)im->n_layer, err)) ||
	    (rc = gguf_writer_add_u32(w, KEY("context_length"), (uint32_t)im->n_ctx, err)) ||
	    (rc = gguf_writer_add_u32(w, KEY("embedding_length"), (uint32_t)im->n_embd, err)) ||
	    (rc = gguf_writer_add_u32(w, KEY("feed_forward_length"), (uint32_t)im->n_ff, err)) ||
	    (rc = gguf_writer_add_u32(w, KEY("attention.head_count"), (uint32_t)im->n_head, err)))
		return rc;
	if (im->fam == FAM_BERT) {
		uint32_t pool;
		if ((rc = gguf_writer_add_f32(w, KEY("attention.layer_norm_epsilon"), (float)im->eps, err)) ||
		    (rc = gguf_writer_add_u32(w, "general.file_type", ftype, err)) ||
		    (rc = gguf_writer_add_bool(w, KEY("attention.causal"), 0, err)) ||
		    (rc = pooling_type(im, &pool, err)) ||
		    (rc = gguf_writer_add_u32(w, KEY("pooling_type"), pool, err)))
			return rc;
		if (im->classifier) {
			/* bert.py: id2label, unless it is the two dummy labels */
			const struct json_value *labels = json_get(im->config, "id2label");
			size_t n = (size_t)im->n_labels;
			const char **lab = calloc(n, sizeof *lab);
			char idx[24];
			int is_dummy;
			if (!lab)
				return lm_fail(err, LM_ENOMEM, "out of memory");
			for (size_t i = 0; i < n; i++) {
				snprintf(idx, sizeof idx, "%zu", i);
				lab[i] = json_string(json_get(labels, idx), NULL);
			}
			is_dummy = n == 2 && lab[0] && !strcmp(lab[0], "LABEL_0");
			for (size_t i = 0; i < n; i++)
				is_dummy = is_dummy || !lab[i];
			rc = is_dummy ? LM_OK : gguf_writer_add_str_array(w, KEY("classifier.output_labels"), lab,
									   NULL, n, err);
			free(lab);
			if (rc)
				return rc;
		}
	} else {
		if ((rc = gguf_writer_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)im->n_head_kv, err)) ||
		    (rc = gguf_writer_add_f32(w, KEY("rope.freq_base"), (float)im->rope_theta, err)) ||
		    (rc = gguf_writer_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)im->eps, err)))
			return rc;
		if (im->head_dim_given &&
		    ((rc = gguf_writer_add_u32(w, KEY("attention.key_length"), (uint32_t)im->head_dim, err)) ||
		     (rc = gguf_writer_add_u32(w, KEY("attention.value_length"), (uint32_t)im->head_dim, err))))
			return rc;
		{
			const struct json_value *rs;
			const char *rt;
			if ((rc = rope_scaling(im, &rs, &rt, err)))
				return rc;
			if (rt && (!strcmp(rt, "linear") || !strcmp(rt, "yarn"))) {
				double f = rs_num(rs, "factor", 0);
				if (!(f > 0))
					return lm_fail(err, LM_EFORMAT, "%s/config.json: rope scaling \"%s\" without "
						       "a factor", im->dir, rt);
				if ((rc = gguf_writer_add_str(w, KEY("rope.scaling.type"), rt, strlen(rt), err)) ||
				    (rc = gguf_writer_add_f32(w, KEY("rope.scaling.factor"), (float)f, err)))
					return rc;
				if (!strcmp(rt, "yarn") &&
				    (rc = gguf_writer_add_u32(w, KEY("rope.scaling.original_context_length"),
							      (uint32_t)rs_num(rs, "original_max_position_embeddings",
									       (double)im->n_ctx), err)))
					return rc;
			}
		}
		if ((rc = gguf_writer_add_u32(w, "general.file_type", ftype, err)))
			return rc;
		if (im->fam == FAM_LLAMA &&
		    ((rc = gguf_writer_add_u32(w, KEY("vocab_size"), (uint32_t)im->n_vocab, err)) ||
		     (rc = gguf_writer_add_u32(w, KEY("rope.dimension_count"), (uint32_t)im->head_dim, err))))
			return rc;
	}

	if ((rc = build_vocab(im, &model_name, &pre, err)))
		return rc;
	snprintf(im->info.tokenizer, sizeof im->info.tokenizer, "%s", model_name);
	snprintf(im->info.pre, sizeof im->info.pre, "%s", pre ? pre : "");
	find_specials(im, &sp);
	/* SentencePiece marks its unk piece UNKNOWN (llama.cpp's vocab for
	 * Llama-2); WordPiece's [UNK] stays CONTROL as in ggml-vocab-bert-bge */
	if (!strcmp(model_name, "llama") && sp.id[SP_UNK] >= 0)
		im->v.type[sp.id[SP_UNK]] = TT_UNKNOWN;
	if (im->fam == FAM_BERT &&
	    (rc = gguf_writer_add_u32(w, "tokenizer.ggml.token_type_count", (uint32_t)im->n_types, err)))
		return rc;
	if ((rc = gguf_writer_add_str(w, "tokenizer.ggml.model", model_name, strlen(model_name), err)) ||
	    (pre && (rc = gguf_writer_add_str(w, "tokenizer.ggml.pre", pre, strlen(pre), err))) ||
	    (rc = gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", (const char *const *)im->v.text,
					    im->v.len, im->v.n, err)) ||
	    (im->v.score && (rc = gguf_writer_add_array(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32,
							im->v.score, im->v.n, err))) ||
	    (rc = gguf_writer_add_array(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, im->v.type, im->v.n,
					err)) ||
	    (im->v.merges && (rc = gguf_writer_add_str_array(w, "tokenizer.ggml.merges",
							     (const char *const *)im->v.merges, NULL,
							     im->v.n_merges, err))))
		return rc;
	if (im->fam == FAM_BERT) {
		/* the keys of llama.cpp's ggml-vocab-bert-bge.gguf; llama.cpp
		 * adds CLS and SEP itself */
		static const int which[] = { SP_UNK, SP_SEP, SP_PAD, SP_CLS, SP_MASK };
		const struct json_value *norm = json_get(im->tokenizer, "normalizer");
		if (sp.id[SP_CLS] < 0)
			sp.id[SP_CLS] = sp.id[SP_BOS];
		if (sp.id[SP_SEP] < 0)
			sp.id[SP_SEP] = sp.id[SP_EOS];
		for (size_t i = 0; i < sizeof which / sizeof which[0]; i++)
			if (sp.id[which[i]] >= 0 &&
			    (rc = gguf_writer_add_u32(w, sp_keys[which[i]], (uint32_t)sp.id[which[i]], err)))
				return rc;
		if (sp.id[SP_CLS] < 0 || sp.id[SP_SEP] < 0)
			return lm_fail(err, LM_EFORMAT, "%s: no [CLS]/[SEP] tokens (tokenizer_config.json cls_token "
				       "and sep_token, or a TemplateProcessing post-processor)", im->dir);
		const char *nt = json_string(json_get(norm, "type"), NULL);
		if (nt && !strcmp(nt, "BertNormalizer")) {
			const struct json_value *lc = json_get(norm, "lowercase"), *sa = json_get(norm, "strip_accents");
			if ((json_type(lc) == JSON_BOOL &&
			     (rc = gguf_writer_add_bool(w, "tokenizer.ggml.normalizer.lowercase", json_bool(lc), err))) ||
			    (json_type(sa) == JSON_BOOL &&
			     (rc = gguf_writer_add_bool(w, "tokenizer.ggml.normalizer.strip_accents", json_bool(sa),
							err))))
				return rc;
		}
	} else {
		for (int i = 0; i < 7; i++) {
			if (i == SP_SEP || i == SP_CLS || i == SP_MASK || sp.id[i] < 0)
				continue;
			if ((rc = gguf_writer_add_u32(w, sp_keys[i], (uint32_t)sp.id[i], err)))
				return rc;
		}
		if ((rc = gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", sp.add_bos, err)) ||
		    (rc = gguf_writer_add_bool(w, "tokenizer.ggml.add_eos_token", sp.add_eos, err)))
			return rc;
		if (!strcmp(model_name, "llama")) {
			/* Llama-2 style: a Prepend("▁") normalizer or a Metaspace
			 * pre-tokenizer adds the dummy prefix */
			const struct json_value *norm = json_get(im->tokenizer, "normalizer");
			const struct json_value *pt = json_get(im->tokenizer, "pre_tokenizer");
			const struct json_value *list = json_get(norm, "normalizers");
			int prefix = 0;
			for (size_t i = 0; i < (list ? json_array_len(list) : 1); i++) {
				const struct json_value *n = list ? json_array_get(list, i) : norm;
				const char *t = json_string(json_get(n, "type"), NULL);
				if (t && !strcmp(t, "Prepend"))
					prefix = 1;
			}
			const char *pty = json_string(json_get(pt, "type"), NULL);
			const char *scheme = json_string(json_get(pt, "prepend_scheme"), NULL);
			if (pty && !strcmp(pty, "Metaspace") && (!scheme || strcmp(scheme, "never")))
				prefix = 1;
			if ((rc = gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", prefix, err)))
				return rc;
		}
	}
	{
		const struct json_value *ct = json_get(im->tok_config, "chat_template");
		const char *tmpl = json_string(ct, NULL);
		size_t len = 0;
		if (json_type(ct) == JSON_ARRAY)
			for (size_t i = 0; i < json_array_len(ct); i++) {
				const struct json_value *e = json_array_get(ct, i);
				const char *nm = json_string(json_get(e, "name"), NULL);
				if (nm && !strcmp(nm, "default"))
					tmpl = json_string(json_get(e, "template"), NULL);
			}
		if (!tmpl)
			tmpl = im->chat_template_file;
		if (tmpl && (len = strlen(tmpl)) &&
		    (rc = gguf_writer_add_str(w, "tokenizer.chat_template", tmpl, len, err)))
			return rc;
	}
#undef KEY
	return LM_OK;
}

static int load_inputs(struct importer *im, struct lm_error *err)
{
	const struct json_value *archs;
	const char *hf;
	size_t k;
	int rc;

	if (!(im->doc = json_doc_new()))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	{
		struct stat st;
		if (stat(im->dir, &st) < 0)
			return lm_fail_errno(err, "%s", im->dir);
		if (!S_ISDIR(st.st_mode))
			return lm_fail(err, LM_EINVAL, "%s: not a directory (--import hf takes a model directory)",
				       im->dir);
	}
	if ((rc = read_json(im, "config.json", 1, &im->config, err)))
		return rc;
	archs = json_get(im->config, "architectures");
	hf = json_string(json_array_get(archs, 0), NULL);
	if (!hf)
		return lm_fail(err, LM_EFORMAT, "%s/config.json: no \"architectures\" list", im->dir);
	snprintf(im->info.hf_arch, sizeof im->info.hf_arch, "%s", hf);
	for (k = 0; k < sizeof known_archs / sizeof known_archs[0]; k++)
		if (!strcmp(known_archs[k].hf, hf))
			break;
	if (k == sizeof known_archs / sizeof known_archs[0])
		return lm_fail(err, LM_EFORMAT, "%s/config.json: architecture \"%s\" is not supported "
			       "(BertModel, BertForSequenceClassification, LlamaForCausalLM, Qwen2ForCausalLM, "
			       "Qwen3ForCausalLM)", im->dir, hf);
	im->fam = known_archs[k].fam;
	im->arch = known_archs[k].arch;
	im->classifier = known_archs[k].classifier;
	snprintf(im->info.arch, sizeof im->info.arch, "%s", im->arch);
	if ((rc = read_json(im, "tokenizer.json", 1, &im->tokenizer, err)) ||
	    (rc = read_json(im, "tokenizer_config.json", 0, &im->tok_config, err)))
		return rc;
	{
		char *p = join(im->dir, "chat_template.jinja");
		size_t len;
		if (!p)
			return lm_fail(err, LM_ENOMEM, "out of memory");
		rc = exists(p) ? read_whole(p, &im->chat_template_file, &len, err) : LM_OK;
		free(p);
		if (rc)
			return rc;
	}
	return open_weights(im, err);
}

static int write_gguf(struct importer *im, struct output *out, uint32_t ftype, struct lm_error *err)
{
	struct gguf_writer *w = NULL;
	int rc;

	if ((rc = gguf_writer_new(&w, err)) || (rc = add_metadata(im, w, ftype, err)))
		goto out;
	for (size_t i = 0; i < im->n_plan; i++) {
		const struct plan_tensor *p = &im->plan[i];
		if ((rc = gguf_writer_add_tensor_cb(w, p->name, p->type, p->n_dims, p->ne, write_tensor,
						    (void *)p, err)))
			goto out;
	}
	rc = gguf_writer_write(w, out, err);
out:
	gguf_writer_free(w);
	return rc;
}

/* F32 into an unlinked temporary next to OUT_PATH, then quantize_gguf
 * reads it through /proc/self/fd: nothing is left behind on any exit. */
static int import_quantized(struct importer *im, const char *out_path, const struct quantize_options *qo,
			    struct quantize_totals *totals, struct lm_error *err)
{
	char *tmpl = NULL, procpath[64];
	struct output out;
	int fd = -1, out_open = 0, rc;

	if (!out_path || !strcmp(out_path, "-")) {
		const char *t = getenv("TMPDIR");
		rc = asprintf(&tmpl, "%s/lmpipe-hfimport.XXXXXX", t && *t ? t : "/tmp");
	} else {
		const char *slash = strrchr(out_path, '/');
		rc = slash ? asprintf(&tmpl, "%.*s/.hfimport.XXXXXX", (int)(slash - out_path), out_path) :
			     asprintf(&tmpl, ".hfimport.XXXXXX");
	}
	if (rc < 0) {
		tmpl = NULL;
		return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) < 0) {
		rc = lm_fail_errno(err, "%s", tmpl);
		goto out;
	}
	unlink(tmpl);
	if ((rc = output_from_fd(&out, fd, tmpl, err)))
		goto out;
	out_open = 1;
	if ((rc = write_gguf(im, &out, 0, err)) || (rc = output_flush(&out, err)))
		goto out;
	snprintf(procpath, sizeof procpath, "/proc/self/fd/%d", fd);
	rc = quantize_gguf(procpath, out_path, qo, totals, err);
	if (rc && !strncmp(err->msg, procpath, strlen(procpath))) {
		char msg[sizeof err->msg];
		snprintf(msg, sizeof msg, "%s (imported)%s", im->dir, err->msg + strlen(procpath));
		memcpy(err->msg, msg, sizeof msg);
	}
out:
	if (out_open)
		output_close(&out, &(struct lm_error){ 0 });
	if (fd >= 0)
		close(fd);
	free(tmpl);
	return rc;
}

int hfimport(const char *dir, const char *out_path, const struct hfimport_options *opt,
	     struct hfimport_info *info, struct quantize_totals *totals, struct lm_error *err)
{
	struct importer im = { .dir = dir, .wtype = DTYPE_F32 };
	const struct quantize_options *qo = opt ? opt->quantize : NULL;
	struct atomic_file af;
	uint32_t ftype = 0;
	int af_open = 0, quantized = 0, rc;

	if (totals)
		memset(totals, 0, sizeof *totals);
	if (qo && qo->scheme) {
		switch (qo->scheme->type) {
		case DTYPE_F32: break;
		case DTYPE_F16: im.wtype = DTYPE_F16; ftype = 1; break;
		case DTYPE_BF16: im.wtype = DTYPE_BF16; ftype = 32; break;
		default: quantized = 1; break;
		}
	}
	if ((rc = load_inputs(&im, err)))
		goto out;
	/* every family has at most 16 tensors per layer and a few more */
	if ((rc = cfg_int(&im, "num_hidden_layers", -1, &im.n_layer, err)))
		goto out;
	im.cap_plan = 16 + 20 * (size_t)im.n_layer;
	if (!(im.plan = calloc(im.cap_plan, sizeof *im.plan))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	rc = im.fam == FAM_BERT ? plan_bert(&im, err) : plan_decoder(&im, err);
	if (rc || (rc = check_unused(&im, err)))
		goto out;
	im.info.n_layer = im.n_layer;
	im.info.n_embd = im.n_embd;
	im.info.n_head = im.n_head;
	im.info.n_head_kv = im.n_head_kv;
	im.info.n_ff = im.n_ff;
	im.info.n_ctx = im.n_ctx;
	im.info.n_vocab = im.n_vocab;
	im.info.n_tensors = im.n_plan;
	im.info.n_files = im.n_files;
	if (quantized) {
		rc = import_quantized(&im, out_path, qo, totals, err);
		goto out;
	}
	if ((rc = atomic_open(&af, out_path, err)))
		goto out;
	af_open = 1;
	if ((rc = write_gguf(&im, &af.out, ftype, err)))
		goto out;
	af_open = 0;
	rc = atomic_commit(&af, err);
out:
	if (af_open)
		atomic_abort(&af);
	if (info)
		*info = im.info;
	for (size_t i = 0; i < im.n_files; i++) {
		safetensors_close(im.files[i].st);
		free(im.files[i].used);
	}
	free(im.files);
	free(im.plan);
	free(im.rope_freqs);
	free(im.chat_template_file);
	vocab_free(&im.v);
	json_doc_free(im.doc);
	return rc;
}

#include "model/decoder.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "gguf.h"
#include "half.h"
#include "model/ops.h"
#include "model/weights.h"
#include "quant.h"
#include "threadpool.h"
#include "tokenize/tokenizer.h"

enum decoder_arch { ARCH_LLAMA, ARCH_QWEN2, ARCH_QWEN3 };

static const char *const arch_names[] = { "llama", "qwen2", "qwen3" };

/* A tensor that may be absent (biases, q/k norms): data is NULL then. */
struct decoder_layer {
	struct tensor attn_norm;
	struct tensor q, q_b, k, k_b, v, v_b, o, o_b;
	struct tensor q_norm, k_norm;
	struct tensor ffn_norm;
	struct tensor gate, gate_b, up, up_b, down, down_b;
};

struct thread_scratch {
	float *scores;                /* T x n_kv attention weights */
	size_t scores_cap;
	float *kf, *vf;               /* one head's keys and values as float32, n_ctx x head_dim */
};

struct decoder {
	struct gguf_file *gguf;
	struct tokenizer *tok;
	struct ops *ops;
	enum decoder_arch arch;
	const char *arch_name;
	char name[128];
	int n_embd, n_layer, n_head, n_head_kv, head_dim, n_rot, n_ff, n_ctx_train, n_ctx, n_batch;
	int n_vocab;
	int neox;
	float eps, rope_base, rope_scale;

	struct tensor tok_embd, output_norm, output, output_b, rope_freqs;
	struct decoder_layer *layers;
	float *rope;                  /* n_ctx rows of n_rot/2 (cos, sin) pairs */

	/* the cache: per layer n_ctx rows of n_head_kv * head_dim elements */
	enum dtype kv_type;
	size_t kv_row;                /* bytes per position of one layer */
	unsigned char *k_cache, *v_cache;
	int32_t *cached;              /* the tokens at positions 0 .. n_past - 1 */
	int n_past;

	uint8_t *eog;                 /* n_vocab flags */

	/* per chunk, grown as needed */
	float *x, *xn, *q, *k, *v, *att, *gate, *up, *tmp;
	size_t cap_tok;
	struct thread_scratch *ts;
};

/* ---- loading -------------------------------------------------------------- */

static int get_tensor(struct decoder *dec, struct tensor *t, const char *name, int64_t ne0, int64_t ne1,
		      int required, struct lm_error *err)
{
	return weights_tensor(dec->gguf, dec->arch_name, t, name, ne0, ne1, required, err);
}

static int get_u32(struct decoder *dec, const char *key, int *v, int required, struct lm_error *err)
{
	return weights_u32(dec->gguf, dec->arch_name, key, v, required, err);
}

static int get_f32(struct decoder *dec, const char *key, float *v, int required, struct lm_error *err)
{
	return weights_f32(dec->gguf, dec->arch_name, key, v, required, err);
}

static int load_hparams(struct decoder *dec, struct lm_error *err)
{
	const char *arch;
	uint64_t len;
	char key[128];
	float scale = 0;
	int rc, found = 0;

	rc = gguf_get_str(dec->gguf, "general.architecture", &arch, &len, err);
	if (rc)
		return rc;
	for (int i = 0; i < 3; i++)
		if (len == strlen(arch_names[i]) && !memcmp(arch, arch_names[i], len)) {
			dec->arch = (enum decoder_arch)i;
			dec->arch_name = arch_names[i];
			found = 1;
		}
	if (!found)
		return lm_fail(err, LM_EFORMAT, "%s: architecture '%.*s' is not a decoder this program "
			       "runs (llama, qwen2, qwen3)", dec->gguf->name, (int)(len < 64 ? len : 64), arch);
	/* llama-arch.cpp: LLAMA_ROPE_TYPE_NORM for llama, NEOX for qwen2/3 */
	dec->neox = dec->arch != ARCH_LLAMA;
	rc = get_u32(dec, "embedding_length", &dec->n_embd, 1, err);
	rc = rc ? rc : get_u32(dec, "block_count", &dec->n_layer, 1, err);
	rc = rc ? rc : get_u32(dec, "feed_forward_length", &dec->n_ff, 1, err);
	rc = rc ? rc : get_u32(dec, "attention.head_count", &dec->n_head, 1, err);
	rc = rc ? rc : get_u32(dec, "context_length", &dec->n_ctx_train, 1, err);
	if (rc)
		return rc;
	dec->n_head_kv = dec->n_head;
	dec->head_dim = dec->n_embd / dec->n_head;
	rc = get_u32(dec, "attention.head_count_kv", &dec->n_head_kv, 0, err);
	rc = rc ? rc : get_u32(dec, "attention.key_length", &dec->head_dim, 0, err);
	if (rc)
		return rc;
	dec->n_rot = dec->head_dim;
	rc = get_u32(dec, "rope.dimension_count", &dec->n_rot, 0, err);
	if (rc)
		return rc;
	snprintf(key, sizeof(key), "%s.attention.value_length", dec->arch_name);
	if (gguf_find_kv(dec->gguf, key)) {
		int vlen = 0;

		rc = get_u32(dec, "attention.value_length", &vlen, 1, err);
		if (rc)
			return rc;
		if (vlen != dec->head_dim)
			return lm_fail(err, LM_EFORMAT, "%s: key length %d and value length %d differ, which "
				       "is not supported", dec->gguf->name, dec->head_dim, vlen);
	}
	if (dec->n_head % dec->n_head_kv)
		return lm_fail(err, LM_EFORMAT, "%s: %d attention heads are not a multiple of %d KV heads",
			       dec->gguf->name, dec->n_head, dec->n_head_kv);
	if (dec->head_dim <= 0 || dec->n_rot > dec->head_dim || dec->n_rot % 2)
		return lm_fail(err, LM_EFORMAT, "%s: rope.dimension_count %d does not fit the head size %d",
			       dec->gguf->name, dec->n_rot, dec->head_dim);
	snprintf(key, sizeof(key), "%s.attention.layer_norm_rms_epsilon", dec->arch_name);
	rc = gguf_get_f32(dec->gguf, key, &dec->eps, err);
	if (rc)
		return rc;
	dec->rope_base = 10000.0f;
	rc = get_f32(dec, "rope.freq_base", &dec->rope_base, 0, err);
	rc = rc ? rc : get_f32(dec, "rope.scaling.factor", &scale, 0, err);
	if (!rc && scale == 0)
		rc = get_f32(dec, "rope.scale_linear", &scale, 0, err);
	if (rc)
		return rc;
	if (!(dec->rope_base > 0) || scale < 0)
		return lm_fail(err, LM_EFORMAT, "%s: bad RoPE parameters (freq_base %g, scale %g)",
			       dec->gguf->name, dec->rope_base, scale);
	dec->rope_scale = scale == 0 ? 1.0f : 1.0f / scale;
	snprintf(key, sizeof(key), "%s.rope.scaling.type", dec->arch_name);
	if (gguf_find_kv(dec->gguf, key)) {
		const char *type;

		rc = gguf_get_str(dec->gguf, key, &type, &len, err);
		if (rc)
			return rc;
		if (!(len == 6 && !memcmp(type, "linear", 6)) && !(len == 4 && !memcmp(type, "none", 4)))
			return lm_fail(err, LM_EFORMAT, "%s: RoPE scaling '%.*s' is not supported (linear "
				       "only)", dec->gguf->name, (int)(len < 32 ? len : 32), type);
	}
	return LM_OK;
}

static int load_layer(struct decoder *dec, int il, struct lm_error *err)
{
	struct decoder_layer *l = &dec->layers[il];
	int64_t d = dec->n_embd, ff = dec->n_ff, qd = (int64_t)dec->n_head * dec->head_dim;
	int64_t kvd = (int64_t)dec->n_head_kv * dec->head_dim;
	int qwen3 = dec->arch == ARCH_QWEN3, rc;
	char n[64];

#define T(field, suffix, ne0, ne1, req) \
	(snprintf(n, sizeof(n), "blk.%d.%s", il, suffix), get_tensor(dec, &l->field, n, ne0, ne1, req, err))
	rc = T(attn_norm, "attn_norm.weight", d, 0, 1);
	rc = rc ? rc : T(q, "attn_q.weight", d, qd, 1);
	rc = rc ? rc : T(q_b, "attn_q.bias", qd, 0, 0);
	rc = rc ? rc : T(k, "attn_k.weight", d, kvd, 1);
	rc = rc ? rc : T(k_b, "attn_k.bias", kvd, 0, 0);
	rc = rc ? rc : T(v, "attn_v.weight", d, kvd, 1);
	rc = rc ? rc : T(v_b, "attn_v.bias", kvd, 0, 0);
	rc = rc ? rc : T(o, "attn_output.weight", qd, d, 1);
	rc = rc ? rc : T(o_b, "attn_output.bias", d, 0, 0);
	rc = rc ? rc : T(q_norm, "attn_q_norm.weight", dec->head_dim, 0, qwen3);
	rc = rc ? rc : T(k_norm, "attn_k_norm.weight", dec->head_dim, 0, qwen3);
	rc = rc ? rc : T(ffn_norm, "ffn_norm.weight", d, 0, 1);
	rc = rc ? rc : T(gate, "ffn_gate.weight", d, ff, 1);
	rc = rc ? rc : T(gate_b, "ffn_gate.bias", ff, 0, 0);
	rc = rc ? rc : T(up, "ffn_up.weight", d, ff, 1);
	rc = rc ? rc : T(up_b, "ffn_up.bias", ff, 0, 0);
	rc = rc ? rc : T(down, "ffn_down.weight", ff, d, 1);
	rc = rc ? rc : T(down_b, "ffn_down.bias", d, 0, 0);
#undef T
	if (!rc && !qwen3 && (l->q_norm.data || l->k_norm.data))
		rc = lm_fail(err, LM_EFORMAT, "%s: blk.%d has q/k norms, which arch %s does not use",
			     dec->gguf->name, il, dec->arch_name);
	return rc;
}

static int load_tensors(struct decoder *dec, struct lm_error *err)
{
	int64_t d = dec->n_embd;
	const struct gguf_tensor *te = gguf_find_tensor(dec->gguf, "token_embd.weight");
	int rc;

	if (!te || te->n_dims != 2 || te->ne[1] <= 0 || te->ne[1] > INT32_MAX)
		return lm_fail(err, LM_EFORMAT, "%s: tensor 'token_embd.weight' is missing or not 2-D",
			       dec->gguf->name);
	dec->n_vocab = (int)te->ne[1];
	rc = get_tensor(dec, &dec->tok_embd, "token_embd.weight", d, dec->n_vocab, 1, err);
	rc = rc ? rc : get_tensor(dec, &dec->output_norm, "output_norm.weight", d, 0, 1, err);
	rc = rc ? rc : get_tensor(dec, &dec->output, "output.weight", d, dec->n_vocab, 0, err);
	rc = rc ? rc : get_tensor(dec, &dec->output_b, "output.bias", dec->n_vocab, 0, 0, err);
	rc = rc ? rc : get_tensor(dec, &dec->rope_freqs, "rope_freqs.weight", dec->n_rot / 2, 0, 0, err);
	if (rc)
		return rc;
	/* no output.weight: the output projection is tied to the embeddings */
	if (!dec->output.data)
		dec->output = dec->tok_embd;
	dec->layers = calloc((size_t)dec->n_layer, sizeof(*dec->layers));
	if (!dec->layers)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	for (int il = 0; il < dec->n_layer && !rc; il++)
		rc = load_layer(dec, il, err);
	return rc;
}

static void set_name(struct decoder *dec, const char *path)
{
	const char *name = NULL, *base = strrchr(path, '/');
	uint64_t len = 0;
	struct lm_error ignored;

	if (gguf_find_kv(dec->gguf, "general.name") &&
	    gguf_get_str(dec->gguf, "general.name", &name, &len, &ignored) == LM_OK && len > 0)
		snprintf(dec->name, sizeof(dec->name), "%.*s", (int)(len < 120 ? len : 120), name);
	else
		snprintf(dec->name, sizeof(dec->name), "%s", base ? base + 1 : path);
}

/* End-of-generation tokens, as llama_vocab::impl::load marks them
 * (src/llama-vocab.cpp): the EOS/EOT/EOM ids and tokens by their text. */
static int find_eog(struct decoder *dec, struct lm_error *err)
{
	static const char *const names[] = { "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
					     "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
					     "<|end_of_text|>", "<end_of_utterance>" };
	static const char *const keys[] = { "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" };
	size_t n = tokenizer_n_vocab(dec->tok);
	int32_t eos = tokenizer_special(dec->tok, TOK_EOS);

	dec->eog = calloc((size_t)dec->n_vocab, 1);
	if (!dec->eog)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	if (eos >= 0 && eos < dec->n_vocab)
		dec->eog[eos] = 1;
	for (int i = 0; i < 2; i++) {
		uint32_t id;

		if (gguf_find_kv(dec->gguf, keys[i]) && gguf_get_u32(dec->gguf, keys[i], &id, err) == LM_OK &&
		    id < (uint32_t)dec->n_vocab)
			dec->eog[id] = 1;
	}
	for (size_t id = 0; id < n && id < (size_t)dec->n_vocab; id++) {
		size_t len;
		const char *t = tokenizer_token(dec->tok, (int32_t)id, &len);

		if (!t || len < 5 || (t[0] != '<' && t[0] != '_'))
			continue;
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (len == strlen(names[j]) && !memcmp(t, names[j], len))
				dec->eog[id] = 1;
	}
	return LM_OK;
}

/* theta_i = pos * freq_scale * base^(-2i/n_rot) / factor_i, as ggml_rope_ext
 * with ext_factor 0 (no YaRN), in double. */
static void rope_table(struct decoder *dec)
{
	int half = dec->n_rot / 2;
	const float *ff = ops_f32(&dec->rope_freqs, half);

	for (int64_t p = 0; p < dec->n_ctx; p++)
		for (int i = 0; i < half; i++) {
			double theta = (double)p * dec->rope_scale *
				       pow((double)dec->rope_base, -2.0 * i / dec->n_rot);

			if (ff)
				theta /= ff[i];
			dec->rope[(p * half + i) * 2] = (float)cos(theta);
			dec->rope[(p * half + i) * 2 + 1] = (float)sin(theta);
		}
}

int decoder_open(struct decoder **out, const char *path, const struct decoder_params *params,
		 struct lm_error *err)
{
	struct decoder *dec = calloc(1, sizeof(*dec));
	size_t elem, n_kv_elems;
	int rc, nt;

	*out = NULL;
	if (!dec)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = gguf_open(path, &dec->gguf, err);
	rc = rc ? rc : load_hparams(dec, err);
	rc = rc ? rc : load_tensors(dec, err);
	rc = rc ? rc : tokenizer_load(&dec->tok, path, err);
	if (rc)
		goto out;
	if ((int64_t)tokenizer_n_vocab(dec->tok) > dec->n_vocab) {
		rc = lm_fail(err, LM_EFORMAT, "%s: the vocabulary has %zu tokens but token_embd.weight only "
			     "%d rows", path, tokenizer_n_vocab(dec->tok), dec->n_vocab);
		goto out;
	}
	rc = find_eog(dec, err);
	rc = rc ? rc : ops_new(&dec->ops, params ? params->n_threads : 0, err);
	if (rc)
		goto out;
	dec->n_ctx = params && params->n_ctx > 0 ? params->n_ctx
						 : dec->n_ctx_train < 4096 ? dec->n_ctx_train : 4096;
	dec->n_batch = params && params->n_batch > 0 ? params->n_batch : 512;
	dec->kv_type = params && params->kv_f32 ? DTYPE_F32 : DTYPE_F16;
	elem = dec->kv_type == DTYPE_F32 ? 4 : 2;
	dec->kv_row = (size_t)dec->n_head_kv * (size_t)dec->head_dim * elem;
	n_kv_elems = (size_t)dec->n_layer * (size_t)dec->n_ctx;
	dec->k_cache = malloc(n_kv_elems * dec->kv_row);
	dec->v_cache = malloc(n_kv_elems * dec->kv_row);
	dec->cached = malloc((size_t)dec->n_ctx * sizeof(*dec->cached));
	dec->rope = malloc((size_t)dec->n_ctx * (size_t)dec->n_rot * sizeof(float));
	nt = ops_threads(dec->ops);
	dec->ts = calloc((size_t)nt, sizeof(*dec->ts));
	if (!dec->k_cache || !dec->v_cache || !dec->cached || !dec->rope || !dec->ts) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory for a KV cache of %d positions (%.1f MiB)",
			     dec->n_ctx, 2.0 * (double)(n_kv_elems * dec->kv_row) / (1 << 20));
		goto out;
	}
	for (int i = 0; i < nt; i++) {
		dec->ts[i].kf = malloc((size_t)dec->n_ctx * (size_t)dec->head_dim * sizeof(float));
		dec->ts[i].vf = malloc((size_t)dec->n_ctx * (size_t)dec->head_dim * sizeof(float));
		if (!dec->ts[i].kf || !dec->ts[i].vf) {
			rc = lm_fail(err, LM_ENOMEM, "out of memory");
			goto out;
		}
	}
	rope_table(dec);
	set_name(dec, path);
	*out = dec;
out:
	if (rc)
		decoder_close(dec);
	return rc;
}

void decoder_close(struct decoder *dec)
{
	if (!dec)
		return;
	if (dec->ts && dec->ops)
		for (int i = 0; i < ops_threads(dec->ops); i++) {
			free(dec->ts[i].scores);
			free(dec->ts[i].kf);
			free(dec->ts[i].vf);
		}
	free(dec->ts);
	free(dec->x);
	free(dec->xn);
	free(dec->q);
	free(dec->k);
	free(dec->v);
	free(dec->att);
	free(dec->gate);
	free(dec->up);
	free(dec->tmp);
	free(dec->k_cache);
	free(dec->v_cache);
	free(dec->cached);
	free(dec->rope);
	free(dec->eog);
	free(dec->layers);
	ops_free(dec->ops);
	tokenizer_free(dec->tok);
	gguf_close(dec->gguf);
	free(dec);
}

const struct tokenizer *decoder_tokenizer(const struct decoder *dec) { return dec->tok; }
const char *decoder_arch(const struct decoder *dec) { return dec->arch_name; }
const char *decoder_name(const struct decoder *dec) { return dec->name; }
int decoder_n_vocab(const struct decoder *dec) { return dec->n_vocab; }
int decoder_n_ctx(const struct decoder *dec) { return dec->n_ctx; }
int decoder_n_past(const struct decoder *dec) { return dec->n_past; }
void decoder_reset(struct decoder *dec) { dec->n_past = 0; }

size_t decoder_kv_bytes(const struct decoder *dec)
{
	return 2 * (size_t)dec->n_layer * (size_t)dec->n_ctx * dec->kv_row;
}

int decoder_is_eog(const struct decoder *dec, int32_t id)
{
	return id >= 0 && id < dec->n_vocab && dec->eog[id];
}

int decoder_reuse(struct decoder *dec, const int32_t *tokens, int n)
{
	int k = 0;

	while (k < dec->n_past && k < n - 1 && dec->cached[k] == tokens[k])
		k++;
	dec->n_past = k;
	return k;
}

/* ---- the forward pass ---------------------------------------------------- */

static int reserve(struct decoder *dec, int64_t n_tok, struct lm_error *err)
{
	size_t d = (size_t)dec->n_embd, qd = (size_t)dec->n_head * (size_t)dec->head_dim;
	size_t kvd = (size_t)dec->n_head_kv * (size_t)dec->head_dim, ff = (size_t)dec->n_ff;
	float **bufs[9] = { &dec->x, &dec->xn, &dec->q, &dec->k, &dec->v, &dec->att, &dec->gate, &dec->up,
			    &dec->tmp };
	size_t widths[9] = { d, d, qd, kvd, kvd, qd, ff, ff, d > qd ? d : qd };

	if ((size_t)n_tok <= dec->cap_tok)
		return LM_OK;
	for (int i = 0; i < 9; i++) {
		float *p = realloc(*bufs[i], (size_t)n_tok * widths[i] * sizeof(float));

		if (!p)
			return lm_fail(err, LM_ENOMEM, "out of memory for a chunk of %" PRId64 " tokens",
				       n_tok);
		*bufs[i] = p;
	}
	dec->cap_tok = (size_t)n_tok;
	return LM_OK;
}

/* Single-token attention over at most this many query-key products
 * (heads x positions x head size) runs on the calling thread. */
#define ATTENTION_INLINE_MAX (1 << 19)

struct attention_job {
	struct decoder *dec;
	int layer;
	int p0, n_tok;                /* first position of the chunk, its length */
};

/* One query row of head H against the whole cache (single-token decode):
 * the scores are dot products of the query, already rounded to F16, with
 * the cached F16 keys (ggml's F16 vec_dot, the products ggml forms), so no
 * key is converted to float; the values are summed row by row with their
 * weights.  Per token this replaces two dequantisations of the head's
 * whole history and two sgemm calls with one-row operands. */
static void attention_row(struct decoder *dec, struct thread_scratch *ts, int layer, int h, int n_kv)
{
	quant_vec_dot_fn *dot = quant_kernels()->vec_dot[DTYPE_F16];
	int hd = dec->head_dim, kvh = h / (dec->n_head / dec->n_head_kv);
	size_t off = (size_t)layer * (size_t)dec->n_ctx * dec->kv_row + (size_t)kvh * (size_t)hd * 2;
	float scale = 1.0f / sqrtf((float)hd), *s = ts->scores, *out = dec->att + (size_t)h * hd;
	float *v = ts->vf;
	uint16_t *q = (uint16_t *)ts->kf;

	quant_from_float(DTYPE_F16, dec->q + (size_t)h * hd, q, hd);
	for (int p = 0; p < n_kv; p++)
		s[p] = dot(hd, dec->k_cache + off + (size_t)p * dec->kv_row, q) * scale;
	ops_softmax(s, n_kv);
	memset(out, 0, (size_t)hd * sizeof(float));
	for (int p = 0; p < n_kv; p++) {
		quant_dequantize_row(DTYPE_F16, dec->v_cache + off + (size_t)p * dec->kv_row, v, hd);
		for (int i = 0; i < hd; i++)
			out[i] += s[p] * v[i];
	}
}

/* One query head over the chunk: softmax(Q K^T / sqrt(head_dim) + causal
 * mask) V, keys and values from the cache (positions 0 .. p0 + n_tok - 1). */
static void attention_task(int64_t task, int thread, void *arg)
{
	struct attention_job *j = arg;
	struct decoder *dec = j->dec;
	struct thread_scratch *ts = &dec->ts[thread];
	int h = (int)task, hd = dec->head_dim, kvh = h / (dec->n_head / dec->n_head_kv);
	int n_kv = j->p0 + j->n_tok, qd = dec->n_head * hd;
	size_t layer_off = (size_t)j->layer * (size_t)dec->n_ctx * dec->kv_row;
	size_t head_off = (size_t)kvh * (size_t)hd * (dec->kv_type == DTYPE_F32 ? 4 : 2);
	float *s = ts->scores;

	if (j->n_tok == 1 && dec->kv_type == DTYPE_F16) {
		attention_row(dec, ts, j->layer, h, n_kv);
		return;
	}
	for (int p = 0; p < n_kv; p++) {
		size_t off = layer_off + (size_t)p * dec->kv_row + head_off;

		quant_dequantize_row(dec->kv_type, dec->k_cache + off, ts->kf + (size_t)p * hd, hd);
		quant_dequantize_row(dec->kv_type, dec->v_cache + off, ts->vf + (size_t)p * hd, hd);
	}
	blas_sgemm(0, 1, j->n_tok, n_kv, hd,
		    1.0f / sqrtf((float)hd), dec->q + (size_t)h * hd, qd, ts->kf, hd, 0.0f, s, n_kv);
	for (int t = 0; t < j->n_tok; t++) {
		float *row = s + (size_t)t * n_kv;
		int n = j->p0 + t + 1;

		ops_softmax(row, n);
		for (int i = n; i < n_kv; i++)
			row[i] = 0.0f;
	}
	blas_sgemm(0, 0, j->n_tok, hd, n_kv, 1.0f, s, n_kv, ts->vf,
		    hd, 0.0f, dec->att + (size_t)h * hd, qd);
}

static void add_rows(float *x, const float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		x[i] += y[i];
}

static int run_layer(struct decoder *dec, int il, int p0, int n_tok, struct lm_error *err)
{
	const struct decoder_layer *l = &dec->layers[il];
	struct ops *ops = dec->ops;
	int64_t d = dec->n_embd, ff = dec->n_ff;
	int hd = dec->head_dim, qd = dec->n_head * hd, kvd = dec->n_head_kv * hd;
	struct attention_job job = { dec, il, p0, n_tok };
	size_t layer_off = (size_t)il * (size_t)dec->n_ctx * dec->kv_row;
	int rc;

	memcpy(dec->xn, dec->x, (size_t)n_tok * (size_t)d * sizeof(float));
	ops_rmsnorm(ops, dec->xn, n_tok, d, (size_t)d, l->attn_norm.data, dec->eps);
	rc = ops_matmul(ops, &l->q, &l->q_b, dec->xn, (size_t)d, n_tok, dec->q, (size_t)qd, err);
	rc = rc ? rc : ops_matmul(ops, &l->k, &l->k_b, dec->xn, (size_t)d, n_tok, dec->k, (size_t)kvd, err);
	rc = rc ? rc : ops_matmul(ops, &l->v, &l->v_b, dec->xn, (size_t)d, n_tok, dec->v, (size_t)kvd, err);
	if (rc)
		return rc;
	if (l->q_norm.data) {
		/* qwen3: RMSNorm over each head, before RoPE */
		ops_rmsnorm(ops, dec->q, (int64_t)n_tok * dec->n_head, hd, (size_t)hd, l->q_norm.data, dec->eps);
		ops_rmsnorm(ops, dec->k, (int64_t)n_tok * dec->n_head_kv, hd, (size_t)hd, l->k_norm.data,
			    dec->eps);
	}
	for (int t = 0; t < n_tok; t++) {
		const float *cs = dec->rope + (size_t)(p0 + t) * (size_t)dec->n_rot;
		size_t off = layer_off + (size_t)(p0 + t) * dec->kv_row;
		float *q = dec->q + (size_t)t * qd;

		ops_rope(q, dec->n_head, hd, dec->n_rot, dec->neox, cs);
		ops_rope(dec->k + (size_t)t * kvd, dec->n_head_kv, hd, dec->n_rot, dec->neox, cs);
		quant_from_float(dec->kv_type, dec->k + (size_t)t * kvd, dec->k_cache + off, kvd);
		quant_from_float(dec->kv_type, dec->v + (size_t)t * kvd, dec->v_cache + off, kvd);
		/* ggml multiplies an F16 key with the query converted to F16 */
		if (dec->kv_type == DTYPE_F16)
			for (int i = 0; i < qd; i++)
				q[i] = f16_to_f32(f32_to_f16(q[i]));
	}
	if (n_tok == 1 && dec->kv_type == DTYPE_F16 &&
	    (int64_t)dec->n_head * (p0 + 1) * hd <= ATTENTION_INLINE_MAX) {
		/* a short history: waking the pool costs more than the work */
		for (int h = 0; h < dec->n_head; h++)
			attention_row(dec, &dec->ts[0], il, h, p0 + 1);
	} else {
		blas_set_threads(1);      /* each of the pool's threads runs its own sgemm */
		threadpool_run(ops_pool(ops), dec->n_head, attention_task, &job);
	}

	rc = ops_matmul(ops, &l->o, &l->o_b, dec->att, (size_t)qd, n_tok, dec->tmp, (size_t)d, err);
	if (rc)
		return rc;
	add_rows(dec->x, dec->tmp, (int64_t)n_tok * d);

	memcpy(dec->xn, dec->x, (size_t)n_tok * (size_t)d * sizeof(float));
	ops_rmsnorm(ops, dec->xn, n_tok, d, (size_t)d, l->ffn_norm.data, dec->eps);
	rc = ops_matmul(ops, &l->gate, &l->gate_b, dec->xn, (size_t)d, n_tok, dec->gate, (size_t)ff, err);
	rc = rc ? rc : ops_matmul(ops, &l->up, &l->up_b, dec->xn, (size_t)d, n_tok, dec->up, (size_t)ff, err);
	if (rc)
		return rc;
	ops_swiglu(ops, dec->gate, dec->up, n_tok, ff, (size_t)ff, (size_t)ff);
	rc = ops_matmul(ops, &l->down, &l->down_b, dec->gate, (size_t)ff, n_tok, dec->tmp, (size_t)d, err);
	if (rc)
		return rc;
	add_rows(dec->x, dec->tmp, (int64_t)n_tok * d);
	return LM_OK;
}

/* One chunk at positions p0 .. p0 + n_tok - 1.  LOGITS: NULL, the last
 * token's row (ALL 0) or every token's (ALL 1). */
static int forward(struct decoder *dec, const int32_t *tokens, int p0, int n_tok, float *logits, int all,
		   struct lm_error *err)
{
	int64_t d = dec->n_embd;
	size_t need = (size_t)n_tok * (size_t)(p0 + n_tok);
	int rc;

	rc = reserve(dec, n_tok, err);
	if (rc)
		return rc;
	for (int i = 0; i < ops_threads(dec->ops); i++) {
		struct thread_scratch *ts = &dec->ts[i];

		if (need > ts->scores_cap) {
			float *p = realloc(ts->scores, need * sizeof(float));

			if (!p)
				return lm_fail(err, LM_ENOMEM, "out of memory for attention scores");
			ts->scores = p;
			ts->scores_cap = need;
		}
	}
	for (int t = 0; t < n_tok; t++)
		ops_get_row(&dec->tok_embd, tokens[t], dec->x + (size_t)t * (size_t)d);
	for (int il = 0; il < dec->n_layer; il++) {
		rc = run_layer(dec, il, p0, n_tok, err);
		if (rc)
			return rc;
	}
	if (!logits)
		return LM_OK;
	if (all) {
		ops_rmsnorm(dec->ops, dec->x, n_tok, d, (size_t)d, dec->output_norm.data, dec->eps);
		return ops_matmul(dec->ops, &dec->output, &dec->output_b, dec->x, (size_t)d, n_tok, logits,
				  (size_t)dec->n_vocab, err);
	}
	ops_rmsnorm(dec->ops, dec->x + (size_t)(n_tok - 1) * (size_t)d, 1, d, (size_t)d, dec->output_norm.data,
		    dec->eps);
	return ops_matmul(dec->ops, &dec->output, &dec->output_b, dec->x + (size_t)(n_tok - 1) * (size_t)d,
			  (size_t)d, 1, logits, (size_t)dec->n_vocab, err);
}

int decoder_eval(struct decoder *dec, const int32_t *tokens, int n, float *logits, int all,
		 struct lm_error *err)
{
	int p_start = dec->n_past, rc = LM_OK;

	if (n <= 0)
		return lm_fail(err, LM_EINVAL, "nothing to evaluate");
	if (n > dec->n_ctx - dec->n_past)
		return lm_fail(err, LM_EINVAL, "%d tokens after %d do not fit the context of %d", n,
			       dec->n_past, dec->n_ctx);
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= dec->n_vocab)
			return lm_fail(err, LM_EINVAL, "token id %" PRId32 " is outside the vocabulary (%d)",
				       tokens[i], dec->n_vocab);
	for (int done = 0; done < n && !rc; ) {
		int chunk = n - done < dec->n_batch ? n - done : dec->n_batch;
		int last = done + chunk == n;
		float *out = NULL;

		if (logits && all)
			out = logits + (size_t)done * (size_t)dec->n_vocab;
		else if (logits && last)
			out = logits;
		rc = forward(dec, tokens + done, dec->n_past, chunk, out, all, err);
		if (!rc) {
			memcpy(dec->cached + dec->n_past, tokens + done, (size_t)chunk * sizeof(*tokens));
			dec->n_past += chunk;
			done += chunk;
		}
	}
	if (rc)
		dec->n_past = p_start;
	return rc;
}

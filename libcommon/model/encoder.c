#include "model/encoder.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "crc32c.h"
#include "gguf.h"
#include "model/ops.h"
#include "model/weights.h"
#include "npy.h"
#include "output.h"
#include "quant.h"
#include "threadpool.h"
#include "tokenize/tokenizer.h"

enum encoder_arch { ARCH_BERT, ARCH_NOMIC_BERT };

/* A tensor that may be absent (biases): data is NULL then. */
struct encoder_layer {
	struct tensor q, q_b, k, k_b, v, v_b;   /* bert */
	struct tensor qkv;                      /* nomic-bert: q, k, v stacked */
	struct tensor o, o_b;
	struct tensor attn_norm, attn_norm_b;
	struct tensor up, up_b, gate, down, down_b;
	struct tensor out_norm, out_norm_b;
};

struct encoder {
	struct gguf_file *gguf;
	struct tokenizer *tok;
	struct ops *ops;
	enum encoder_arch arch;
	const char *arch_name;
	int n_embd, n_head, head_dim, n_layer, n_ff, n_ctx, n_types, n_labels;
	int64_t n_vocab;
	float eps;
	enum encoder_pooling pooling;

	struct tensor tok_embd, type_embd, pos_embd, embd_norm, embd_norm_b;
	struct encoder_layer *layers;
	struct tensor cls, cls_b, cls_out, cls_out_b;
	float *rope;                  /* nomic-bert: n_ctx rows of (cos, sin) pairs */

	char name[128];
	char hash[16];
	const char *dump_dir;
	uint64_t n_dumped;            /* sequences dumped so far: the record number */

	/* per batch, grown as needed */
	float *x, *qkv, *att, *ffn, *gate;
	size_t cap_tok;
	float **scores;               /* per thread: n_ctx x n_ctx attention scores */
};

/* ---- loading -------------------------------------------------------------- */

static int get_tensor(struct encoder *enc, struct tensor *t, const char *name, int64_t ne0, int64_t ne1,
		      int required, struct lm_error *err)
{
	return weights_tensor(enc->gguf, enc->arch_name, t, name, ne0, ne1, required, err);
}

static int get_u32(struct encoder *enc, const char *key, int *v, int required, struct lm_error *err)
{
	return weights_u32(enc->gguf, enc->arch_name, key, v, required, err);
}

static int load_hparams(struct encoder *enc, struct lm_error *err)
{
	const char *arch;
	uint64_t len;
	char key[128];
	int rc, pooling = ENCODER_POOL_CLS;

	rc = gguf_get_str(enc->gguf, "general.architecture", &arch, &len, err);
	if (rc)
		return rc;
	if (len == 4 && !memcmp(arch, "bert", 4)) {
		enc->arch = ARCH_BERT;
		enc->arch_name = "bert";
	} else if (len == 10 && !memcmp(arch, "nomic-bert", 10)) {
		enc->arch = ARCH_NOMIC_BERT;
		enc->arch_name = "nomic-bert";
	} else {
		return lm_fail(err, LM_EFORMAT, "%s: architecture '%.*s' is not an encoder this program "
			       "runs (bert, nomic-bert)", enc->gguf->name, (int)len, arch);
	}
	rc = get_u32(enc, "embedding_length", &enc->n_embd, 1, err);
	rc = rc ? rc : get_u32(enc, "block_count", &enc->n_layer, 1, err);
	rc = rc ? rc : get_u32(enc, "feed_forward_length", &enc->n_ff, 1, err);
	rc = rc ? rc : get_u32(enc, "attention.head_count", &enc->n_head, 1, err);
	rc = rc ? rc : get_u32(enc, "context_length", &enc->n_ctx, 1, err);
	rc = rc ? rc : get_u32(enc, "pooling_type", &pooling, 0, err);
	if (rc)
		return rc;
	snprintf(key, sizeof(key), "%s.attention.layer_norm_epsilon", enc->arch_name);
	rc = gguf_get_f32(enc->gguf, key, &enc->eps, err);
	if (rc)
		return rc;
	if (enc->n_embd % enc->n_head || (enc->n_embd / enc->n_head) % 2)
		return lm_fail(err, LM_EFORMAT, "%s: %d heads do not divide the embedding width %d into "
			       "even head sizes", enc->gguf->name, enc->n_head, enc->n_embd);
	enc->head_dim = enc->n_embd / enc->n_head;
	if (pooling < ENCODER_POOL_NONE || pooling > ENCODER_POOL_RANK)
		return lm_fail(err, LM_EFORMAT, "%s: %s.pooling_type = %d is unknown", enc->gguf->name,
			       enc->arch_name, pooling);
	enc->pooling = (enum encoder_pooling)pooling;
	enc->n_types = 1;
	if (gguf_find_kv(enc->gguf, "tokenizer.ggml.token_type_count")) {
		uint32_t n;

		rc = gguf_get_u32(enc->gguf, "tokenizer.ggml.token_type_count", &n, err);
		if (rc)
			return rc;
		enc->n_types = n ? (int)n : 1;
	}
	return LM_OK;
}

static int load_layer(struct encoder *enc, int il, struct lm_error *err)
{
	struct encoder_layer *l = &enc->layers[il];
	int64_t d = enc->n_embd, ff = enc->n_ff;
	int bert = enc->arch == ARCH_BERT, rc;
	char n[64];

#define T(field, suffix, ne0, ne1, req) \
	(snprintf(n, sizeof(n), "blk.%d.%s", il, suffix), get_tensor(enc, &l->field, n, ne0, ne1, req, err))
	if (bert) {
		rc = T(q, "attn_q.weight", d, d, 1);
		rc = rc ? rc : T(q_b, "attn_q.bias", d, 0, 0);
		rc = rc ? rc : T(k, "attn_k.weight", d, d, 1);
		rc = rc ? rc : T(k_b, "attn_k.bias", d, 0, 0);
		rc = rc ? rc : T(v, "attn_v.weight", d, d, 1);
		rc = rc ? rc : T(v_b, "attn_v.bias", d, 0, 0);
	} else {
		rc = T(qkv, "attn_qkv.weight", d, 3 * d, 1);
	}
	rc = rc ? rc : T(o, "attn_output.weight", d, d, 1);
	rc = rc ? rc : T(o_b, "attn_output.bias", d, 0, 0);
	rc = rc ? rc : T(attn_norm, "attn_output_norm.weight", d, 0, 1);
	rc = rc ? rc : T(attn_norm_b, "attn_output_norm.bias", d, 0, 0);
	rc = rc ? rc : T(up, "ffn_up.weight", d, ff, 1);
	rc = rc ? rc : T(up_b, "ffn_up.bias", ff, 0, 0);
	rc = rc ? rc : T(gate, "ffn_gate.weight", d, ff, !bert);
	rc = rc ? rc : T(down, "ffn_down.weight", ff, d, 1);
	rc = rc ? rc : T(down_b, "ffn_down.bias", d, 0, 0);
	rc = rc ? rc : T(out_norm, "layer_output_norm.weight", d, 0, 1);
	rc = rc ? rc : T(out_norm_b, "layer_output_norm.bias", d, 0, 0);
#undef T
	return rc;
}

static int load_tensors(struct encoder *enc, struct lm_error *err)
{
	int64_t d = enc->n_embd;
	const struct gguf_tensor *te = gguf_find_tensor(enc->gguf, "token_embd.weight");
	int rc;

	if (!te || te->n_dims != 2)
		return lm_fail(err, LM_EFORMAT, "%s: tensor 'token_embd.weight' is missing or not 2-D",
			       enc->gguf->name);
	enc->n_vocab = te->ne[1];
	rc = get_tensor(enc, &enc->tok_embd, "token_embd.weight", d, enc->n_vocab, 1, err);
	rc = rc ? rc : get_tensor(enc, &enc->type_embd, "token_types.weight", d, enc->n_types, 0, err);
	rc = rc ? rc : get_tensor(enc, &enc->pos_embd, "position_embd.weight", d, enc->n_ctx,
				  enc->arch == ARCH_BERT, err);
	rc = rc ? rc : get_tensor(enc, &enc->embd_norm, "token_embd_norm.weight", d, 0, 1, err);
	rc = rc ? rc : get_tensor(enc, &enc->embd_norm_b, "token_embd_norm.bias", d, 0, 0, err);
	if (rc)
		return rc;
	if (!enc->type_embd.data)
		enc->n_types = 1;
	enc->layers = calloc((size_t)enc->n_layer, sizeof(*enc->layers));
	if (!enc->layers)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	for (int il = 0; il < enc->n_layer && !rc; il++)
		rc = load_layer(enc, il, err);
	if (rc)
		return rc;

	/* classification head: cls (dense + tanh) is optional, cls.output not */
	if (gguf_find_tensor(enc->gguf, "cls.output.weight")) {
		const struct gguf_tensor *co = gguf_find_tensor(enc->gguf, "cls.output.weight");

		enc->n_labels = co->n_dims == 2 && co->ne[1] > 0 && co->ne[1] < 65536 ? (int)co->ne[1] : 0;
		if (!enc->n_labels)
			return lm_fail(err, LM_EFORMAT, "%s: tensor 'cls.output.weight' has a bad shape",
				       enc->gguf->name);
		rc = get_tensor(enc, &enc->cls, "cls.weight", d, d, 0, err);
		rc = rc ? rc : get_tensor(enc, &enc->cls_b, "cls.bias", d, 0, 0, err);
		rc = rc ? rc : get_tensor(enc, &enc->cls_out, "cls.output.weight", d, enc->n_labels, 1, err);
		rc = rc ? rc : get_tensor(enc, &enc->cls_out_b, "cls.output.bias", enc->n_labels, 0, 0, err);
	}
	return rc;
}

static void set_identity(struct encoder *enc, const char *path)
{
	const char *name = NULL, *base = strrchr(path, '/');
	uint64_t len = 0;
	struct lm_error ignored;
	uint32_t crc;

	if (gguf_find_kv(enc->gguf, "general.name") &&
	    gguf_get_str(enc->gguf, "general.name", &name, &len, &ignored) == LM_OK && len > 0)
		snprintf(enc->name, sizeof(enc->name), "%.*s", (int)(len < 120 ? len : 120), name);
	else
		snprintf(enc->name, sizeof(enc->name), "%s", base ? base + 1 : path);
	/* The whole file: weights, vocabulary and hyper-parameters all change
	 * what a vector means. */
	crc = crc32c(0, enc->gguf->base, enc->gguf->size);
	snprintf(enc->hash, sizeof(enc->hash), "%08x", crc);
}

int encoder_open(struct encoder **out, const char *path, const struct encoder_params *params,
		 struct lm_error *err)
{
	struct encoder *enc = calloc(1, sizeof(*enc));
	int rc;

	*out = NULL;
	if (!enc)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = gguf_open(path, &enc->gguf, err);
	rc = rc ? rc : load_hparams(enc, err);
	rc = rc ? rc : load_tensors(enc, err);
	if (rc)
		goto out;
	if (params && params->pooling >= 0)
		enc->pooling = (enum encoder_pooling)params->pooling;
	if (enc->pooling == ENCODER_POOL_NONE) {
		rc = lm_fail(err, LM_EINVAL, "%s: pooling 'none' (one vector per token) is not supported; "
			     "choose mean, cls or last", path);
		goto out;
	}
	if (enc->pooling == ENCODER_POOL_RANK && !enc->n_labels) {
		rc = lm_fail(err, LM_EINVAL, "%s: rank pooling needs a classification head "
			     "(tensor 'cls.output.weight'), which this model does not have", path);
		goto out;
	}
	rc = tokenizer_load(&enc->tok, path, err);
	if (rc)
		goto out;
	if ((int64_t)tokenizer_n_vocab(enc->tok) > enc->n_vocab) {
		rc = lm_fail(err, LM_EFORMAT, "%s: the vocabulary has %zu tokens but token_embd.weight only "
			     "%" PRId64 " rows", path, tokenizer_n_vocab(enc->tok), enc->n_vocab);
		goto out;
	}
	rc = ops_new(&enc->ops, params ? params->n_threads : 0, err);
	if (rc)
		goto out;
	enc->scores = calloc((size_t)ops_threads(enc->ops), sizeof(*enc->scores));
	if (!enc->scores) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < ops_threads(enc->ops); i++) {
		enc->scores[i] = malloc((size_t)enc->n_ctx * (size_t)enc->n_ctx * sizeof(float));
		if (!enc->scores[i]) {
			rc = lm_fail(err, LM_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (enc->arch == ARCH_NOMIC_BERT) {
		float base = 10000.0f;

		if (gguf_find_kv(enc->gguf, "nomic-bert.rope.freq_base")) {
			rc = gguf_get_f32(enc->gguf, "nomic-bert.rope.freq_base", &base, err);
			if (rc)
				goto out;
		}
		enc->rope = malloc((size_t)enc->n_ctx * (size_t)enc->head_dim * sizeof(float));
		if (!enc->rope) {
			rc = lm_fail(err, LM_ENOMEM, "out of memory");
			goto out;
		}
		ops_rope_table(enc->rope, enc->n_ctx, enc->head_dim, base);
	}
	enc->dump_dir = params ? params->dump_dir : NULL;
	set_identity(enc, path);
	*out = enc;
out:
	if (rc)
		encoder_close(enc);
	return rc;
}

void encoder_close(struct encoder *enc)
{
	if (!enc)
		return;
	if (enc->scores && enc->ops)
		for (int i = 0; i < ops_threads(enc->ops); i++)
			free(enc->scores[i]);
	free(enc->scores);
	free(enc->x);
	free(enc->qkv);
	free(enc->att);
	free(enc->ffn);
	free(enc->gate);
	free(enc->rope);
	free(enc->layers);
	ops_free(enc->ops);
	tokenizer_free(enc->tok);
	gguf_close(enc->gguf);
	free(enc);
}

const struct tokenizer *encoder_tokenizer(const struct encoder *enc) { return enc->tok; }
const char *encoder_name(const struct encoder *enc) { return enc->name; }
const char *encoder_hash(const struct encoder *enc) { return enc->hash; }
int encoder_n_embd(const struct encoder *enc) { return enc->n_embd; }
int encoder_n_ctx(const struct encoder *enc) { return enc->n_ctx; }
enum encoder_pooling encoder_pooling(const struct encoder *enc) { return enc->pooling; }
int encoder_n_token_types(const struct encoder *enc) { return enc->n_types; }

int encoder_n_out(const struct encoder *enc)
{
	return enc->pooling == ENCODER_POOL_RANK ? enc->n_labels : enc->n_embd;
}

/* ---- the forward pass ---------------------------------------------------- */

struct batch {
	const struct encoder_seq *seqs;
	int n_seq;
	int64_t *start;               /* first row of each sequence; start[n_seq] = total */
};

static int reserve(struct encoder *enc, int64_t n_tok, struct lm_error *err)
{
	float **bufs[5] = { &enc->x, &enc->qkv, &enc->att, &enc->ffn, &enc->gate };
	size_t widths[5] = { (size_t)enc->n_embd, 3 * (size_t)enc->n_embd, (size_t)enc->n_embd,
			     (size_t)enc->n_ff, (size_t)enc->n_ff };

	if ((size_t)n_tok <= enc->cap_tok)
		return LM_OK;
	for (int i = 0; i < 5; i++) {
		float *p = realloc(*bufs[i], (size_t)n_tok * widths[i] * sizeof(float));

		if (!p)
			return lm_fail(err, LM_ENOMEM, "out of memory for a batch of %" PRId64 " tokens",
				       n_tok);
		*bufs[i] = p;
	}
	enc->cap_tok = (size_t)n_tok;
	return LM_OK;
}

/* Token + token type + absolute position embeddings, then LayerNorm. */
static void embed_tokens(struct encoder *enc, const struct batch *b)
{
	int64_t d = enc->n_embd;
	float *row = enc->att;        /* free until the first layer */

	for (int s = 0; s < b->n_seq; s++) {
		const struct encoder_seq *seq = &b->seqs[s];

		for (int i = 0; i < seq->n_tokens; i++) {
			float *x = enc->x + (b->start[s] + i) * d;
			int type = seq->types ? seq->types[i] : 0;

			ops_get_row(&enc->tok_embd, seq->tokens[i], x);
			if (enc->type_embd.data) {
				ops_get_row(&enc->type_embd, type, row);
				for (int64_t j = 0; j < d; j++)
					x[j] += row[j];
			}
			if (enc->pos_embd.data) {
				ops_get_row(&enc->pos_embd, i, row);
				for (int64_t j = 0; j < d; j++)
					x[j] += row[j];
			}
		}
	}
	ops_layernorm(enc->ops, enc->x, b->start[b->n_seq], d, (size_t)d, enc->embd_norm.data,
		      ops_f32(&enc->embd_norm_b, d), enc->eps);
}

struct attention_job {
	struct encoder *enc;
	const struct batch *b;
};

/* One (sequence, head): softmax(Q K^T / sqrt(head_dim)) V, the sequence
 * attending to itself only (no padding, no mask). */
static void attention_task(int64_t task, int thread, void *arg)
{
	struct attention_job *j = arg;
	struct encoder *enc = j->enc;
	int s = (int)(task / enc->n_head), h = (int)(task % enc->n_head);
	int64_t n = j->b->start[s + 1] - j->b->start[s], d = enc->n_embd, ld = 3 * d;
	const float *q = enc->qkv + j->b->start[s] * ld + h * enc->head_dim;
	float *scores = enc->scores[thread];

	blas_sgemm(0, 1, (int)n, (int)n, enc->head_dim,
		    1.0f / sqrtf((float)enc->head_dim), q, (int)ld, q + d, (int)ld, 0.0f, scores, (int)n);
	for (int64_t i = 0; i < n; i++)
		ops_softmax(scores + i * n, n);
	blas_sgemm(0, 0, (int)n, enc->head_dim, (int)n, 1.0f, scores,
		    (int)n, q + 2 * d, (int)ld, 0.0f, enc->att + j->b->start[s] * d + h * enc->head_dim,
		    (int)d);
}

static int dump(struct encoder *enc, const struct batch *b, const char *what, struct lm_error *err)
{
	for (int s = 0; s < b->n_seq; s++) {
		struct output out;
		struct npy_writer w;
		char path[4096];
		int rc;

		snprintf(path, sizeof(path), "%s/r%" PRIu64 "_%s.npy", enc->dump_dir, enc->n_dumped + s, what);
		rc = output_open(&out, path, err);
		if (rc)
			return rc;
		rc = npy_writer_init(&w, &out, NPY_F4, (uint32_t)enc->n_embd, err);
		for (int64_t t = b->start[s]; t < b->start[s + 1] && !rc; t++)
			rc = npy_write_row(&w, enc->x + t * enc->n_embd, err);
		rc = rc ? rc : npy_writer_close(&w, err);
		if (output_close(&out, rc ? NULL : err) && !rc)
			rc = err->code;
		if (rc)
			return rc;
	}
	return LM_OK;
}

static int run_layer(struct encoder *enc, const struct encoder_layer *l, const struct batch *b,
		     struct lm_error *err)
{
	int64_t n_tok = b->start[b->n_seq], d = enc->n_embd, ff = enc->n_ff;
	size_t ld = 3 * (size_t)d;
	struct attention_job job = { enc, b };
	int rc;

	if (enc->arch == ARCH_BERT) {
		rc = ops_matmul(enc->ops, &l->q, &l->q_b, enc->x, (size_t)d, n_tok, enc->qkv, ld, err);
		rc = rc ? rc : ops_matmul(enc->ops, &l->k, &l->k_b, enc->x, (size_t)d, n_tok, enc->qkv + d,
					  ld, err);
		rc = rc ? rc : ops_matmul(enc->ops, &l->v, &l->v_b, enc->x, (size_t)d, n_tok,
					  enc->qkv + 2 * d, ld, err);
	} else {
		rc = ops_matmul(enc->ops, &l->qkv, NULL, enc->x, (size_t)d, n_tok, enc->qkv, ld, err);
		for (int s = 0; s < b->n_seq && !rc; s++)
			for (int64_t i = 0; i < b->start[s + 1] - b->start[s]; i++) {
				float *row = enc->qkv + (b->start[s] + i) * ld;
				const float *cs = enc->rope + i * enc->head_dim;

				ops_rope_neox(row, enc->n_head, enc->head_dim, cs);
				ops_rope_neox(row + d, enc->n_head, enc->head_dim, cs);
			}
	}
	if (rc)
		return rc;
	blas_set_threads(1);
	threadpool_run(ops_pool(enc->ops), (int64_t)b->n_seq * enc->n_head, attention_task, &job);

	/* post-norm: x = LN(x + W_o att + b_o); x = LN(x + FFN(x)) */
	rc = ops_matmul(enc->ops, &l->o, &l->o_b, enc->att, (size_t)d, n_tok, enc->qkv, (size_t)d, err);
	if (rc)
		return rc;
	for (int64_t i = 0; i < n_tok * d; i++)
		enc->x[i] += enc->qkv[i];
	ops_layernorm(enc->ops, enc->x, n_tok, d, (size_t)d, l->attn_norm.data,
		      ops_f32(&l->attn_norm_b, d), enc->eps);

	rc = ops_matmul(enc->ops, &l->up, &l->up_b, enc->x, (size_t)d, n_tok, enc->ffn, (size_t)ff, err);
	if (rc)
		return rc;
	if (l->gate.data) {
		rc = ops_matmul(enc->ops, &l->gate, NULL, enc->x, (size_t)d, n_tok, enc->gate, (size_t)ff,
				err);
		if (rc)
			return rc;
		ops_swiglu(enc->ops, enc->gate, enc->ffn, n_tok, ff, (size_t)ff, (size_t)ff);
	} else {
		ops_gelu(enc->ops, enc->ffn, n_tok, ff, (size_t)ff);
	}
	rc = ops_matmul(enc->ops, &l->down, &l->down_b, l->gate.data ? enc->gate : enc->ffn, (size_t)ff,
			n_tok, enc->qkv, (size_t)d, err);
	if (rc)
		return rc;
	for (int64_t i = 0; i < n_tok * d; i++)
		enc->x[i] += enc->qkv[i];
	ops_layernorm(enc->ops, enc->x, n_tok, d, (size_t)d, l->out_norm.data,
		      ops_f32(&l->out_norm_b, d), enc->eps);
	return LM_OK;
}

static int pool_outputs(struct encoder *enc, const struct batch *b, float *out, struct lm_error *err)
{
	int64_t d = enc->n_embd;
	int rc = LM_OK;

	for (int s = 0; s < b->n_seq; s++) {
		const float *first = enc->x + b->start[s] * d;
		int64_t n = b->start[s + 1] - b->start[s];
		float *o = enc->pooling == ENCODER_POOL_RANK ? enc->att + s * d : out + (size_t)s * d;

		switch (enc->pooling) {
		case ENCODER_POOL_MEAN:
			for (int64_t j = 0; j < d; j++) {
				double sum = 0;

				for (int64_t t = 0; t < n; t++)
					sum += first[t * d + j];
				o[j] = (float)(sum / (double)n);
			}
			break;
		case ENCODER_POOL_LAST:
			memcpy(o, first + (n - 1) * d, (size_t)d * sizeof(float));
			break;
		default:                  /* CLS, RANK: the first token */
			memcpy(o, first, (size_t)d * sizeof(float));
			break;
		}
	}
	if (enc->pooling != ENCODER_POOL_RANK)
		return LM_OK;
	/* llama.cpp build_pooling, rank: cls (dense) + tanh, then cls.output */
	if (enc->cls.data) {
		rc = ops_matmul(enc->ops, &enc->cls, &enc->cls_b, enc->att, (size_t)d, b->n_seq, enc->qkv,
				(size_t)d, err);
		if (rc)
			return rc;
		for (int64_t i = 0; i < (int64_t)b->n_seq * d; i++)
			enc->att[i] = tanhf(enc->qkv[i]);
	}
	return ops_matmul(enc->ops, &enc->cls_out, &enc->cls_out_b, enc->att, (size_t)d, b->n_seq, out,
			  (size_t)enc->n_labels, err);
}

static int check_seq(const struct encoder *enc, const struct encoder_seq *seq, int i, struct lm_error *err)
{
	if (seq->n_tokens <= 0)
		return lm_fail(err, LM_EINVAL, "sequence %d is empty", i);
	if (seq->n_tokens > enc->n_ctx)
		return lm_fail(err, LM_EINVAL, "sequence %d has %d tokens, more than the model's context "
			       "of %d", i, seq->n_tokens, enc->n_ctx);
	for (int t = 0; t < seq->n_tokens; t++) {
		if (seq->tokens[t] < 0 || seq->tokens[t] >= enc->n_vocab)
			return lm_fail(err, LM_EINVAL, "sequence %d: token id %" PRId32 " is outside the "
				       "vocabulary (%" PRId64 ")", i, seq->tokens[t], enc->n_vocab);
		if (seq->types && (seq->types[t] < 0 || seq->types[t] >= enc->n_types))
			return lm_fail(err, LM_EINVAL, "sequence %d: token type %" PRId32 " is outside the "
				       "model's %d", i, seq->types[t], enc->n_types);
	}
	return LM_OK;
}

int encoder_run(struct encoder *enc, const struct encoder_seq *seqs, int n_seq, float *out,
		struct lm_error *err)
{
	struct batch b = { seqs, n_seq, NULL };
	int rc = LM_OK;

	if (n_seq <= 0)
		return LM_OK;
	b.start = malloc(((size_t)n_seq + 1) * sizeof(*b.start));
	if (!b.start)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	b.start[0] = 0;
	for (int s = 0; s < n_seq; s++) {
		rc = check_seq(enc, &seqs[s], s, err);
		if (rc)
			goto out;
		b.start[s + 1] = b.start[s] + seqs[s].n_tokens;
	}
	/* the classifier head reuses att/qkv rows per sequence */
	rc = reserve(enc, b.start[n_seq] > n_seq ? b.start[n_seq] : n_seq, err);
	if (rc)
		goto out;
	embed_tokens(enc, &b);
	if (enc->dump_dir)
		rc = dump(enc, &b, "inp", err);
	for (int il = 0; il < enc->n_layer && !rc; il++) {
		char what[16];

		rc = run_layer(enc, &enc->layers[il], &b, err);
		snprintf(what, sizeof(what), "l%02d", il);
		if (!rc && enc->dump_dir)
			rc = dump(enc, &b, what, err);
	}
	rc = rc ? rc : pool_outputs(enc, &b, out, err);
	enc->n_dumped += (uint64_t)n_seq;
out:
	free(b.start);
	return rc;
}

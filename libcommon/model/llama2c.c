/* llama2c.c - llama2.c checkpoint + tokenizer to GGUF (see llama2c.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "gguf.h"
#include "input.h"
#include "model/llama2c.h"

/* llama.h enum llama_token_type */
enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_BYTE = 6 };

struct vocab {
	uint32_t n;
	char **text;
	size_t *len;
	float *score;
	int32_t *type;
};

static void vocab_free(struct vocab *v)
{
	if (v->text)
		for (uint32_t i = 0; i < v->n; i++)
			free(v->text[i]);
	free(v->text);
	free(v->len);
	free(v->score);
	free(v->type);
}

/* The converter's load_vocab for a llama2.c tokenizer: special names for
 * ids 0-2, byte tokens recognised by "<0x", empty ones are control tokens,
 * and llama_escape_whitespaces (' ' -> U+2581). */
static int set_token(struct vocab *v, uint32_t id, const unsigned char *s, size_t n, float score)
{
	static const char *const special[] = { "<unk>", "<s>", "</s>" };
	size_t spaces = 0, k = 0;
	int32_t type;
	char *t;

	if (id < 3) {
		s = (const unsigned char *)special[id];
		n = strlen(special[id]);
		type = id == 0 ? TOKEN_UNKNOWN : TOKEN_CONTROL;
	} else if (n == 0) {
		type = TOKEN_CONTROL;
	} else if (n >= 4 && memcmp(s, "<0x", 3) == 0 && isxdigit(s[3])) {
		type = TOKEN_BYTE;
	} else {
		type = TOKEN_NORMAL;
	}
	for (size_t i = 0; i < n; i++)
		spaces += s[i] == ' ';
	t = malloc(n + 2 * spaces + 1);
	if (!t)
		return LM_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ') {
			memcpy(t + k, "\xe2\x96\x81", 3);
			k += 3;
		} else {
			t[k++] = (char)s[i];
		}
	}
	t[k] = 0;
	v->text[id] = t;
	v->len[id] = k;
	v->score[id] = score;
	v->type[id] = type;
	return LM_OK;
}

static int read_vocab(const char *path, uint32_t n, struct vocab *v, struct lm_error *err)
{
	struct input in;
	unsigned char *buf = NULL, hdr[8];
	int32_t max_len, len;
	float score;
	int rc;

	v->n = n;
	v->text = calloc(n, sizeof *v->text);
	v->len = calloc(n, sizeof *v->len);
	v->score = calloc(n, sizeof *v->score);
	v->type = calloc(n, sizeof *v->type);
	if (!v->text || !v->len || !v->score || !v->type)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory for %u tokens", path, n);
	if ((rc = input_open(&in, path, err)))
		return rc;
	rc = input_read(&in, &max_len, 4, err);
	if (rc == LM_EOF)
		rc = lm_fail(err, LM_EFORMAT, "%s: empty tokenizer file", path);
	if (!rc && (max_len <= 0 || max_len > 1 << 20))
		rc = lm_fail(err, LM_EFORMAT, "%s: bad max_token_length %d", path, (int)max_len);
	if (!rc && !(buf = malloc((size_t)max_len)))
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
	for (uint32_t i = 0; !rc && i < n; i++) {
		rc = input_read(&in, hdr, 8, err);
		if (!rc) {
			memcpy(&score, hdr, 4);
			memcpy(&len, hdr + 4, 4);
			if (len < 0 || len > max_len) {
				rc = lm_fail(err, LM_EFORMAT, "%s: token %u: length %d outside 0..%d", path,
					     i, (int)len, (int)max_len);
				break;
			}
			if (len > 0)
				rc = input_read(&in, buf, (size_t)len, err);
		}
		if (rc == LM_EOF || rc == LM_EFORMAT)
			rc = lm_fail(err, LM_EFORMAT, "%s: truncated at token %u of %u", path, i, n);
		else if (!rc && set_token(v, i, buf, (size_t)len, score))
			rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
	}
	free(buf);
	input_close(&in);
	return rc;
}

struct checkpoint {
	struct llama2c_config c;
	const unsigned char *map;
	size_t size;
	/* float offsets of each weight group in the file */
	const float *tok, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;
	int64_t kv_dim;
};

static int map_checkpoint(const char *path, struct checkpoint *ck, struct lm_error *err)
{
	struct llama2c_config *c = &ck->c;
	struct stat st;
	int32_t hdr[7];
	uint64_t dim, hid, L, vocab, head, kv_dim, need, pos;
	int fd;
	void *map;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno(err, "%s", path);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return lm_fail_errno(err, "%s", path);
	}
	if ((uint64_t)st.st_size < sizeof hdr) {
		close(fd);
		return lm_fail(err, LM_EFORMAT, "%s: %lld bytes is too short for a llama2.c header (28)",
			       path, (long long)st.st_size);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return lm_fail_errno(err, "%s: mmap", path);
	ck->map = map;
	ck->size = (size_t)st.st_size;
	memcpy(hdr, map, sizeof hdr);
	c->dim = hdr[0];
	c->hidden_dim = hdr[1];
	c->n_layers = hdr[2];
	c->n_heads = hdr[3];
	c->n_kv_heads = hdr[4];
	c->vocab_size = hdr[5] < 0 ? -hdr[5] : hdr[5];
	c->shared_classifier = hdr[5] > 0;
	c->seq_len = hdr[6];
	if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
	    c->n_kv_heads <= 0 || hdr[5] == 0 || hdr[5] == INT32_MIN || c->seq_len <= 0 ||
	    c->dim % c->n_heads != 0 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0 ||
	    c->dim > 1 << 20 || c->hidden_dim > 1 << 22 || c->n_layers > 4096 || c->seq_len > 1 << 24)
		return lm_fail(err, LM_EFORMAT, "%s: not a llama2.c checkpoint: config dim %d hidden_dim %d "
			       "n_layers %d n_heads %d n_kv_heads %d vocab_size %d seq_len %d", path,
			       hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5], hdr[6]);
	dim = (uint64_t)c->dim;
	hid = (uint64_t)c->hidden_dim;
	L = (uint64_t)c->n_layers;
	vocab = (uint64_t)c->vocab_size;
	head = dim / (uint64_t)c->n_heads;
	kv_dim = head * (uint64_t)c->n_kv_heads;
	ck->kv_dim = (int64_t)kv_dim;
	/* run.c memory_map_weights; the sizes are bounded above, no overflow */
	pos = 0;
	const float *base = (const float *)((const unsigned char *)map + sizeof hdr);
#define TAKE(field, count) do { ck->field = base + pos; pos += (count); } while (0)
	TAKE(tok, vocab * dim);
	TAKE(rms_att, L * dim);
	TAKE(wq, L * dim * dim);
	TAKE(wk, L * dim * kv_dim);
	TAKE(wv, L * dim * kv_dim);
	TAKE(wo, L * dim * dim);
	TAKE(rms_ffn, L * dim);
	TAKE(w1, L * dim * hid);
	TAKE(w2, L * hid * dim);
	TAKE(w3, L * dim * hid);
	TAKE(rms_final, dim);
	pos += (uint64_t)c->seq_len * head;   /* freq_cis_real and _imag, seq_len * head / 2 each */
	if (c->shared_classifier)
		ck->wcls = ck->tok;
	else
		TAKE(wcls, vocab * dim);
#undef TAKE
	need = sizeof hdr + pos * sizeof(float);
	if (need != (uint64_t)st.st_size)
		return lm_fail(err, LM_EFORMAT, "%s: %s: the config (dim %d, %d layers, vocab %d%s) needs "
			       "%llu bytes, the file has %lld", path,
			       need > (uint64_t)st.st_size ? "truncated" : "trailing data",
			       c->dim, c->n_layers, c->vocab_size,
			       c->shared_classifier ? "" : ", own classifier",
			       (unsigned long long)need, (long long)st.st_size);
	return LM_OK;
}

static int add(struct gguf_writer *w, const char *name, int n_dims, int64_t ne0, int64_t ne1,
	       const float *data, struct lm_error *err)
{
	int64_t ne[2] = { ne0, ne1 };

	return gguf_writer_add_tensor(w, name, DTYPE_F32, (uint32_t)n_dims, ne, data, err);
}

int llama2c_import(const char *model_path, const char *tokenizer_path, const char *out_path,
		   struct llama2c_config *config, struct lm_error *err)
{
	struct checkpoint ck = { 0 };
	struct vocab v = { 0 };
	struct gguf_writer *w = NULL;
	struct atomic_file af;
	int af_open = 0, rc;
	char name[GGUF_MAX_NAME + 1];

	if ((rc = map_checkpoint(model_path, &ck, err)))
		goto out;
	if (config)
		*config = ck.c;
	if ((rc = read_vocab(tokenizer_path, (uint32_t)ck.c.vocab_size, &v, err)))
		goto out;
	{
		const struct llama2c_config *c = &ck.c;
		int64_t dim = c->dim, hid = c->hidden_dim, head = dim / c->n_heads;
		uint32_t n_rot = (uint32_t)(head < 64 ? head : 64);

		/* key order of convert-llama2c-to-ggml save_as_llama_model; its
		 * separator/padding ids of -1 (none) are left out, which means
		 * the same to llama.cpp and keeps ids inside the vocabulary */
		if ((rc = gguf_writer_new(&w, err)) ||
		    (rc = gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", (const char *const *)v.text,
						    v.len, v.n, err)) ||
		    (rc = gguf_writer_add_array(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v.score, v.n,
						err)) ||
		    (rc = gguf_writer_add_array(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.type, v.n,
						err)) ||
		    (rc = gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5, err)) ||
		    (rc = gguf_writer_add_str(w, "general.architecture", "llama", 5, err)) ||
		    (rc = gguf_writer_add_str(w, "general.name", "llama", 5, err)) ||
		    (rc = gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0, err)) ||
		    (rc = gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1, err)) ||
		    (rc = gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2, err)) ||
		    (rc = gguf_writer_add_u32(w, "llama.context_length", (uint32_t)c->seq_len, err)) ||
		    (rc = gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)c->dim, err)) ||
		    (rc = gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim, err)) ||
		    (rc = gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads, err)) ||
		    (rc = gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads,
					      err)) ||
		    (rc = gguf_writer_add_u32(w, "llama.block_count", (uint32_t)c->n_layers, err)) ||
		    (rc = gguf_writer_add_u32(w, "llama.rope.dimension_count", n_rot, err)) ||
		    (rc = gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err)))
			goto out;
		/* run.c matrices are [out][in] row-major: ggml [in, out] */
		if ((rc = add(w, "token_embd.weight", 2, dim, c->vocab_size, ck.tok, err)) ||
		    (rc = add(w, "output_norm.weight", 1, dim, 1, ck.rms_final, err)) ||
		    (rc = add(w, "output.weight", 2, dim, c->vocab_size, ck.wcls, err)))
			goto out;
		for (int l = 0; l < c->n_layers; l++) {
			static const char *const names[] = {
				"attn_q", "attn_k", "attn_v", "attn_output", "attn_norm",
				"ffn_gate", "ffn_down", "ffn_up", "ffn_norm",
			};
			const float *data[9] = {
				ck.wq + l * dim * dim, ck.wk + l * dim * ck.kv_dim, ck.wv + l * dim * ck.kv_dim,
				ck.wo + l * dim * dim, ck.rms_att + l * dim, ck.w1 + l * dim * hid,
				ck.w2 + l * hid * dim, ck.w3 + l * dim * hid, ck.rms_ffn + l * dim,
			};
			const int64_t shape[9][2] = {
				{ dim, dim }, { dim, ck.kv_dim }, { dim, ck.kv_dim }, { dim, dim }, { dim, 1 },
				{ dim, hid }, { hid, dim }, { dim, hid }, { dim, 1 },
			};

			for (int k = 0; k < 9; k++) {
				snprintf(name, sizeof name, "blk.%d.%s.weight", l, names[k]);
				rc = add(w, name, shape[k][1] == 1 ? 1 : 2, shape[k][0], shape[k][1], data[k],
					 err);
				if (rc)
					goto out;
			}
		}
	}
	if ((rc = atomic_open(&af, out_path, err)))
		goto out;
	af_open = 1;
	if ((rc = gguf_writer_write(w, &af.out, err)))
		goto out;
	af_open = 0;
	rc = atomic_commit(&af, err);
out:
	if (af_open)
		atomic_abort(&af);
	gguf_writer_free(w);
	vocab_free(&v);
	if (ck.map)
		munmap((void *)ck.map, ck.size);
	return rc;
}

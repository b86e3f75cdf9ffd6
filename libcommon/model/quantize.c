/* quantize.c - GGUF weight quantization with llama.cpp's type choices and
 * reference quantizers (see quantize.h).  Type selection follows
 * llama.cpp src/llama-quant.cpp (tensor_allows_quantization,
 * llama_tensor_get_type_impl, tensor_type_fallback) for the file types
 * listed in quantize_schemes; nothing of it is needed for the IQ types,
 * which need an importance matrix we do not take. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "atomic.h"
#include "convert.h"
#include "gguf.h"
#include "model/quantize.h"
#include "quant.h"
#include "threadpool.h"

/* llama.cpp llama-quant.cpp, and tools/quantize's QUANT_OPTIONS names. */
static const struct quantize_scheme schemes[] = {
	{ "Q4_0", QUANTIZE_FTYPE_Q4_0, DTYPE_Q4_0, "4.5 bits per weight, blocks of 32" },
	{ "Q4_1", QUANTIZE_FTYPE_Q4_1, DTYPE_Q4_1, "5.0 bpw, blocks of 32 with a minimum" },
	{ "Q5_0", QUANTIZE_FTYPE_Q5_0, DTYPE_Q5_0, "5.5 bpw, blocks of 32" },
	{ "Q5_1", QUANTIZE_FTYPE_Q5_1, DTYPE_Q5_1, "6.0 bpw, blocks of 32 with a minimum" },
	{ "Q8_0", QUANTIZE_FTYPE_Q8_0, DTYPE_Q8_0, "8.5 bpw, blocks of 32" },
	{ "Q2_K", QUANTIZE_FTYPE_Q2_K, DTYPE_Q2_K, "K mixture around Q2_K (2.6 bpw)" },
	{ "Q3_K_S", QUANTIZE_FTYPE_Q3_K_S, DTYPE_Q3_K, "Q3_K (3.4 bpw) throughout" },
	{ "Q3_K_M", QUANTIZE_FTYPE_Q3_K_M, DTYPE_Q3_K, "Q3_K, more bits for attn_v, attn_output, ffn_down" },
	{ "Q3_K", QUANTIZE_FTYPE_Q3_K_M, DTYPE_Q3_K, "alias for Q3_K_M" },
	{ "Q3_K_L", QUANTIZE_FTYPE_Q3_K_L, DTYPE_Q3_K, "Q3_K, Q5_K for attn_v, attn_output, ffn_down" },
	{ "Q4_K_S", QUANTIZE_FTYPE_Q4_K_S, DTYPE_Q4_K, "Q4_K (4.5 bpw), a few Q5_K layers" },
	{ "Q4_K_M", QUANTIZE_FTYPE_Q4_K_M, DTYPE_Q4_K, "Q4_K, Q6_K for half of attn_v and ffn_down" },
	{ "Q4_K", QUANTIZE_FTYPE_Q4_K_M, DTYPE_Q4_K, "alias for Q4_K_M" },
	{ "Q5_K_S", QUANTIZE_FTYPE_Q5_K_S, DTYPE_Q5_K, "Q5_K (5.5 bpw) throughout" },
	{ "Q5_K_M", QUANTIZE_FTYPE_Q5_K_M, DTYPE_Q5_K, "Q5_K, Q6_K for half of attn_v and ffn_down" },
	{ "Q5_K", QUANTIZE_FTYPE_Q5_K_M, DTYPE_Q5_K, "alias for Q5_K_M" },
	{ "Q6_K", QUANTIZE_FTYPE_Q6_K, DTYPE_Q6_K, "6.6 bpw, blocks of 256" },
	{ "F16", QUANTIZE_FTYPE_F16, DTYPE_F16, "IEEE half precision" },
	{ "BF16", QUANTIZE_FTYPE_BF16, DTYPE_BF16, "bfloat16" },
	{ "F32", QUANTIZE_FTYPE_ALL_F32, DTYPE_F32, "single precision (no quantization)" },
};

#define N_SCHEMES (sizeof schemes / sizeof schemes[0])

const struct quantize_scheme *quantize_schemes(size_t *n)
{
	*n = N_SCHEMES;
	return schemes;
}

int quantize_scheme_find(const char *name, const struct quantize_scheme **scheme,
			 struct lm_error *err)
{
	for (size_t i = 0; i < N_SCHEMES; i++) {
		if (strcasecmp(name, schemes[i].name) == 0) {
			*scheme = &schemes[i];
			return LM_OK;
		}
	}
	return lm_fail(err, LM_EINVAL, "unknown type '%s' (see --help-types: Q4_0, Q4_1, Q5_0, "
		       "Q5_1, Q8_0, Q2_K, Q3_K_S/M/L, Q4_K_S/M, Q5_K_S/M, Q6_K, F16, BF16, F32)", name);
}

/* llama-quant.cpp tensor_category */
enum category {
	CAT_OTHER,
	CAT_OUTPUT,
	CAT_TOKEN_EMBD,
	CAT_ATTN_QKV,
	CAT_ATTN_KV_B,
	CAT_ATTN_V,
	CAT_ATTN_K,
	CAT_ATTN_Q,
	CAT_ATTN_OUTPUT,
	CAT_FFN_UP,
	CAT_FFN_GATE,
	CAT_FFN_DOWN,
};

static enum category tensor_category(const char *name)
{
	if (strcmp(name, "output.weight") == 0)
		return CAT_OUTPUT;
	if (strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0)
		return CAT_TOKEN_EMBD;
	if (strstr(name, "attn_qkv.weight"))
		return CAT_ATTN_QKV;
	if (strstr(name, "attn_kv_b.weight"))
		return CAT_ATTN_KV_B;
	if (strstr(name, "attn_v.weight"))
		return CAT_ATTN_V;
	if (strstr(name, "attn_k.weight"))
		return CAT_ATTN_K;
	if (strstr(name, "attn_q.weight"))
		return CAT_ATTN_Q;
	if (strstr(name, "attn_output.weight"))
		return CAT_ATTN_OUTPUT;
	if (strstr(name, "ffn_up"))
		return CAT_FFN_UP;
	if (strstr(name, "ffn_gate"))
		return CAT_FFN_GATE;
	if (strstr(name, "ffn_down"))
		return CAT_FFN_DOWN;
	return CAT_OTHER;
}

static int category_is_attn_v(enum category c)
{
	return c == CAT_ATTN_V || c == CAT_ATTN_QKV || c == CAT_ATTN_KV_B;
}

/* ggml_n_dims: trailing dimensions of 1 do not count. */
static int ggml_dims(const struct gguf_tensor *t)
{
	for (int i = GGUF_MAX_DIMS - 1; i >= 1; i--)
		if (t->ne[i] > 1)
			return i + 1;
	return 1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* llama-quant.cpp tensor_allows_quantization: names of small or special
 * tensors that stay as they are, whatever the file type. */
static int allows_quantization(const struct gguf_tensor *t)
{
	static const char *const keep[] = {
		"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
		"per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight",
		"indexer.k_proj.weight", "indexer.q_proj.weight",
		"time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
		"time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight",
		"time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight",
		"time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
		"time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
		"time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd",
		"sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger",
		"a.rvq.codebook", "mm.a.code_embd",
	};
	const char *name = t->name;

	if (ggml_dims(t) < 2 || !ends_with(name, "weight"))
		return 0;
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if (strstr(name, keep[i]))
			return 0;
	/* LLM_TN POS_EMBD and TOKEN_TYPES: the same names for every arch */
	return strcmp(name, "position_embd.weight") != 0 && strcmp(name, "token_types.weight") != 0;
}

/* The model facts llama_tensor_get_type_impl looks at. */
struct model_facts {
	int falcon;
	int is_70b;          /* llama.cpp LLM_TYPE_70B: llama with 80 layers and GQA */
	int64_t n_gqa;       /* head_count / head_count_kv, 0 when unknown */
	int64_t n_expert;
	int64_t n_layer;
	int tied;            /* no output.weight: token_embd doubles as the output */
};

struct type_state {
	const struct model_facts *m;
	enum quantize_ftype ftype;
	int n_attention_wv, i_attention_wv, i_ffn_down, i_ffn_gate, i_ffn_up;
};

static int use_more_bits(int i_layer, int n_layers)
{
	return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

/* sscanf(name, "blk.%d.", &layer) as llama.cpp uses it. */
static int layer_of(const char *name, int dflt)
{
	char *end;
	long v;

	if (strncmp(name, "blk.", 4) != 0)
		return dflt;
	v = strtol(name + 4, &end, 10);
	if (end == name + 4 || v < -2147483647L || v > 2147483647L)
		return dflt;
	return (int)v;
}

/* llama-quant.cpp layer_info: with experts the layer comes from the name. */
static int layer_info(const struct type_state *s, int counter, const char *name, int *i_layer,
		      struct lm_error *err)
{
	*i_layer = counter;
	if (s->m->n_expert > 1) {
		*i_layer = layer_of(name, -1);
		if (*i_layer < 0 || *i_layer >= s->m->n_layer)
			return lm_fail(err, LM_EFORMAT, "tensor '%s': no layer in [0, %lld) in its name",
				       name, (long long)s->m->n_layer);
	}
	return LM_OK;
}

static int choose_mixture_type(struct type_state *s, const struct gguf_tensor *t, enum category cat,
			       enum dtype *type, struct lm_error *err)
{
	const struct model_facts *m = s->m;
	enum quantize_ftype ft = s->ftype;
	enum dtype nt = *type;
	int n_layer = (int)m->n_layer, il, rc;

	if (cat == CAT_OUTPUT || (m->tied && cat == CAT_TOKEN_EMBD)) {
		if (m->falcon || t->ne[0] % dtype_block_size(nt) != 0)
			nt = DTYPE_Q8_0;
		else if (nt != DTYPE_Q8_0)
			nt = DTYPE_Q6_K;
	} else if (cat == CAT_TOKEN_EMBD) {
		/* only the IQ/TQ file types change it */
	} else if (category_is_attn_v(cat)) {
		if (ft == QUANTIZE_FTYPE_Q2_K)
			nt = m->n_gqa >= 4 ? DTYPE_Q4_K : DTYPE_Q3_K;
		else if (ft == QUANTIZE_FTYPE_Q3_K_M)
			nt = s->i_attention_wv < 2 ? DTYPE_Q5_K : DTYPE_Q4_K;
		else if (ft == QUANTIZE_FTYPE_Q3_K_L)
			nt = DTYPE_Q5_K;
		else if ((ft == QUANTIZE_FTYPE_Q4_K_M || ft == QUANTIZE_FTYPE_Q5_K_M) &&
			 use_more_bits(s->i_attention_wv, s->n_attention_wv))
			nt = DTYPE_Q6_K;
		else if (ft == QUANTIZE_FTYPE_Q4_K_S && s->i_attention_wv < 4)
			nt = DTYPE_Q5_K;
		if (m->is_70b && (nt == DTYPE_Q3_K || nt == DTYPE_Q4_K))
			nt = DTYPE_Q5_K;
		if (m->n_expert == 8)
			nt = DTYPE_Q8_0;
		s->i_attention_wv++;
	} else if (cat == CAT_ATTN_K) {
		if (m->n_expert == 8)
			nt = DTYPE_Q8_0;
	} else if (cat == CAT_ATTN_Q) {
		/* only the IQ3 file types change it */
	} else if (cat == CAT_FFN_DOWN) {
		if ((rc = layer_info(s, s->i_ffn_down, t->name, &il, err)))
			return rc;
		if (ft == QUANTIZE_FTYPE_Q2_K) {
			nt = DTYPE_Q3_K;
		} else if (ft == QUANTIZE_FTYPE_Q3_K_M) {
			nt = il < n_layer / 16 ? DTYPE_Q5_K
			     : !m->falcon || use_more_bits(il, n_layer) ? DTYPE_Q4_K : DTYPE_Q3_K;
		} else if (ft == QUANTIZE_FTYPE_Q3_K_L) {
			nt = m->falcon ? DTYPE_Q4_K : DTYPE_Q5_K;
		} else if (ft == QUANTIZE_FTYPE_Q4_K_M) {
			if (m->falcon)
				nt = il < n_layer / 16 ? DTYPE_Q6_K
				     : use_more_bits(il, n_layer) ? DTYPE_Q5_K : DTYPE_Q4_K;
			else if (use_more_bits(il, n_layer))
				nt = DTYPE_Q6_K;
		} else if (ft == QUANTIZE_FTYPE_Q5_K_M && use_more_bits(il, n_layer)) {
			nt = DTYPE_Q6_K;
		} else if (ft == QUANTIZE_FTYPE_Q4_K_S && !m->falcon && il < n_layer / 8) {
			nt = DTYPE_Q5_K;
		}
		s->i_ffn_down++;
	} else if (cat == CAT_ATTN_OUTPUT) {
		if (!m->falcon) {
			if (m->n_expert == 8) {
				if (ft == QUANTIZE_FTYPE_Q2_K || ft == QUANTIZE_FTYPE_Q3_K_S ||
				    ft == QUANTIZE_FTYPE_Q3_K_M || ft == QUANTIZE_FTYPE_Q4_K_S ||
				    ft == QUANTIZE_FTYPE_Q4_K_M)
					nt = DTYPE_Q5_K;
			} else if (ft == QUANTIZE_FTYPE_Q2_K) {
				nt = DTYPE_Q3_K;
			} else if (ft == QUANTIZE_FTYPE_Q3_K_M) {
				nt = DTYPE_Q4_K;
			} else if (ft == QUANTIZE_FTYPE_Q3_K_L) {
				nt = DTYPE_Q5_K;
			}
		} else if (ft == QUANTIZE_FTYPE_Q3_K_L) {
			nt = DTYPE_Q4_K;
		}
	} else if (cat == CAT_ATTN_QKV) {
		if (ft == QUANTIZE_FTYPE_Q3_K_M || ft == QUANTIZE_FTYPE_Q3_K_L)
			nt = DTYPE_Q4_K;
		else if (ft == QUANTIZE_FTYPE_Q4_K_M)
			nt = DTYPE_Q5_K;
		else if (ft == QUANTIZE_FTYPE_Q5_K_M)
			nt = DTYPE_Q6_K;
	} else if (cat == CAT_FFN_GATE) {
		if ((rc = layer_info(s, s->i_ffn_gate, t->name, &il, err)))
			return rc;
		s->i_ffn_gate++;
	} else if (cat == CAT_FFN_UP) {
		if ((rc = layer_info(s, s->i_ffn_up, t->name, &il, err)))
			return rc;
		s->i_ffn_up++;
	}
	*type = nt;
	return LM_OK;
}

/* llama-quant.cpp tensor_type_fallback, for the types we write. */
static enum dtype fallback_type(enum dtype want, int64_t ncols)
{
	enum dtype t = want;

	switch (want) {
	case DTYPE_Q2_K:
	case DTYPE_Q3_K: t = DTYPE_Q4_0; break;
	case DTYPE_Q4_K: t = DTYPE_Q5_0; break;
	case DTYPE_Q5_K: t = DTYPE_Q5_1; break;
	case DTYPE_Q6_K: t = DTYPE_Q8_0; break;
	default: break;
	}
	if (ncols % dtype_block_size(t) != 0)
		t = DTYPE_F16;
	return t;
}

struct plan {
	const struct gguf_tensor *t;
	enum category cat;
	enum dtype to, wanted;
	int fallback;
};

/* llama_model_loader weight_name_comparer: layer number ("blk.%d.", -1
 * for none), then name. */
static int plan_cmp(const void *a, const void *b)
{
	const struct plan *x = a, *y = b;
	int lx = layer_of(x->t->name, -1), ly = layer_of(y->t->name, -1);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->t->name, y->t->name);
}

static int64_t kv_int(const struct gguf_file *f, const char *arch, const char *suffix)
{
	const struct gguf_kv *kv;
	struct lm_error e;
	char key[256];
	int64_t v;

	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	kv = gguf_find_kv(f, key);
	if (!kv)
		return -1;
	/* per-layer arrays (llama.cpp get_key_or_arr): layer 0 decides */
	if (kv->type == GGUF_TYPE_ARRAY)
		return kv->count ? gguf_array_int(kv, 0) : 0;
	return gguf_get_i64(f, key, &v, &e) ? 0 : v;
}

static int make_plan(const struct gguf_file *f, const struct quantize_options *opt, struct plan *p,
		     struct lm_error *err)
{
	struct model_facts m = { 0 };
	struct type_state s = { 0 };
	const char *arch = "";
	char archbuf[128];
	uint64_t len, i;
	int64_t n_head, n_head_kv;
	enum dtype def = opt->scheme->type;
	int rc;

	if (gguf_find_kv(f, "general.architecture")) {
		if ((rc = gguf_get_str(f, "general.architecture", &arch, &len, err)))
			return rc;
		if (len >= sizeof archbuf)
			len = sizeof archbuf - 1;
		memcpy(archbuf, arch, len);
		archbuf[len] = 0;
		arch = archbuf;
	}
	m.falcon = strcmp(arch, "falcon") == 0;
	m.n_layer = kv_int(f, arch, "block_count");
	m.n_expert = kv_int(f, arch, "expert_count");
	n_head = kv_int(f, arch, "attention.head_count");
	n_head_kv = kv_int(f, arch, "attention.head_count_kv");
	if (n_head_kv < 0)
		n_head_kv = n_head;   /* llama.cpp: head_count_kv defaults to head_count */
	if (m.n_layer < 0)
		m.n_layer = 0;
	if (m.n_expert < 0)
		m.n_expert = 0;
	m.n_gqa = n_head_kv > 0 ? n_head / n_head_kv : 0;
	m.is_70b = strcmp(arch, "llama") == 0 && m.n_layer == 80 && n_head != n_head_kv;
	m.tied = 1;
	s.m = &m;
	s.ftype = opt->scheme->ftype;

	for (i = 0; i < f->n_tensors; i++) {
		p[i].t = &f->tensors[i];
		p[i].cat = tensor_category(p[i].t->name);
		if (category_is_attn_v(p[i].cat))
			s.n_attention_wv++;
		if (p[i].cat == CAT_OUTPUT)
			m.tied = 0;
	}
	qsort(p, f->n_tensors, sizeof *p, plan_cmp);
	for (i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = p[i].t;
		enum dtype nt = def;

		p[i].to = p[i].wanted = t->type;
		if (!allows_quantization(t))
			continue;
		if (dtype_is_quantized(def)) {
			if (!opt->pure && (rc = choose_mixture_type(&s, t, p[i].cat, &nt, err)))
				return rc;
			p[i].wanted = nt;
			if (t->ne[0] % dtype_block_size(nt) != 0) {
				nt = fallback_type(nt, t->ne[0]);
				p[i].fallback = 1;
			}
		} else {
			p[i].wanted = nt;
		}
		p[i].to = nt;
	}
	return LM_OK;
}

/* One tensor's conversion, a slab of rows at a time. */
enum { SLAB_ELEMS = 1 << 22, TASK_ELEMS = 1 << 16, COPY_BYTES = 1 << 24 };

struct row_task_result {
	double sq, max;
	int64_t bad_row, bad_col;  /* first non-finite input, -1 if none */
	float bad_val;
};

struct job {
	const struct plan *p;
	struct threadpool *pool;
	int64_t n_per_row;
	size_t row_in, row_out;
	/* the current slab */
	int64_t row0, nrows, rows_per_task;
	unsigned char *out;
	float **scratch;        /* per thread: 2 * n_per_row floats */
	struct row_task_result *res;
	/* the previous slab's bytes, written by task 0 while this one is
	 * converted, so that the writing overlaps the work */
	struct output *sink;
	const unsigned char *pending;
	size_t pending_bytes;
	int write_rc;
	struct lm_error write_err;
};

static void to_floats(enum dtype type, const void *src, float *dst, int64_t n)
{
	switch (type) {
	case DTYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
	case DTYPE_F16: convert_f16_to_f32(src, dst, (size_t)n); break;
	case DTYPE_BF16: convert_bf16_to_f32(src, dst, (size_t)n); break;
	default: quant_dequantize_row(type, src, dst, n); break;
	}
}

static void from_floats(enum dtype type, const float *src, void *dst, int64_t n)
{
	switch (type) {
	case DTYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
	case DTYPE_F16: convert_f32_to_f16(src, dst, (size_t)n); break;
	case DTYPE_BF16: convert_f32_to_bf16(src, dst, (size_t)n); break;
	default: quant_quantize_row(type, src, dst, n); break;
	}
}

static int is_float_type(enum dtype t)
{
	return t == DTYPE_F32 || t == DTYPE_F16 || t == DTYPE_BF16;
}

/* 1 when one of the N floats at X is NaN or infinite: an exponent of all
 * ones plus one carries into bit 31.  Four lanes at a time, no branch. */
static int any_nonfinite(const float *x, int64_t n)
{
	typedef uint32_t u32x4 __attribute__((vector_size(16)));
	u32x4 acc = { 0, 0, 0, 0 }, v;
	uint32_t all = 0, u;
	int64_t c = 0;

	for (; c + 4 <= n; c += 4) {
		memcpy(&v, x + c, sizeof v);
		acc |= (v & 0x7f800000u) + 0x00800000u;
	}
	for (; c < n; c++) {
		memcpy(&u, x + c, sizeof u);
		all |= (u & 0x7f800000u) + 0x00800000u;
	}
	all |= acc[0] | acc[1] | acc[2] | acc[3];
	return (all & 0x80000000u) != 0;
}

/* Sum of squares and largest magnitude of X - Y (in double), four
 * running sums so that the additions do not wait on each other. */
static void row_errors(const float *x, const float *y, int64_t n, double *sq, double *max)
{
	double s[4] = { 0 }, m[4] = { 0 };
	int64_t c = 0;

	for (; c + 4 <= n; c += 4) {
		for (int k = 0; k < 4; k++) {
			double d = fabs((double)x[c + k] - (double)y[c + k]);

			s[k] += d * d;
			m[k] = d > m[k] ? d : m[k];
		}
	}
	for (; c < n; c++) {
		double d = fabs((double)x[c] - (double)y[c]);

		s[0] += d * d;
		m[0] = d > m[0] ? d : m[0];
	}
	*sq += (s[0] + s[1]) + (s[2] + s[3]);
	for (int k = 0; k < 4; k++)
		if (m[k] > *max)
			*max = m[k];
}

static void row_task(int64_t task, int thread, void *arg)
{
	struct job *j = arg;
	struct row_task_result *r;
	int64_t n = j->n_per_row, r0, r1;
	float *x = j->scratch[thread], *y = x + n;
	const unsigned char *in = j->p->t->data;

	if (j->pending) {
		if (task == 0) {
			j->write_rc = output_write(j->sink, j->pending, j->pending_bytes, &j->write_err);
			return;
		}
		task--;
	}
	r = &j->res[task];
	r0 = task * j->rows_per_task;
	r1 = r0 + j->rows_per_task;
	if (r1 > j->nrows)
		r1 = j->nrows;
	r->sq = 0;
	r->max = 0;
	r->bad_row = -1;
	for (int64_t row = r0; row < r1; row++) {
		unsigned char *dst = j->out + (size_t)row * j->row_out;

		to_floats(j->p->t->type, in + (size_t)(j->row0 + row) * j->row_in, x, n);
		if (any_nonfinite(x, n)) {
			for (int64_t c = 0; c < n; c++) {
				if (!isfinite(x[c])) {
					r->bad_row = j->row0 + row;
					r->bad_col = c;
					r->bad_val = x[c];
					return;
				}
			}
		}
		from_floats(j->p->to, x, dst, n);
		to_floats(j->p->to, dst, y, n);
		row_errors(x, y, n, &r->sq, &r->max);
	}
}

/* The input is gguf_open's read-only private mapping of the file: bytes
 * that are done with are dropped from this process (they stay in the page
 * cache, and would fault back in if read again), so the resident set stays
 * at about one slab however large the model. */
static void release_input(const void *data, size_t nbytes)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)data + page - 1) & ~(page - 1);
	uintptr_t b = ((uintptr_t)data + nbytes) & ~(page - 1);

	if (b > a)
		madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Float tensors that are copied are still checked for NaN/Inf, as
 * llama.cpp's loader does (check_tensors): rows [R0, R0 + NR). */
static int check_finite(const struct plan *p, float *buf, int64_t n_per_row, size_t row_in, int64_t r0,
			int64_t nr, struct lm_error *err)
{
	const struct gguf_tensor *t = p->t;

	if (!is_float_type(t->type))
		return LM_OK;
	for (int64_t r = r0; r < r0 + nr; r++) {
		to_floats(t->type, (const unsigned char *)t->data + (size_t)r * row_in, buf, n_per_row);
		if (!any_nonfinite(buf, n_per_row))
			continue;
		for (int64_t c = 0; c < n_per_row; c++)
			if (!isfinite(buf[c]))
				return lm_fail(err, LM_EFORMAT, "tensor '%s': %s weight at row %lld, column %lld",
					       t->name, isnan(buf[c]) ? "NaN" : "infinite", (long long)r,
					       (long long)c);
	}
	return LM_OK;
}

struct run {
	const struct gguf_file *f;
	const struct quantize_options *opt;
	struct threadpool *pool;
	struct plan *plan;
	float **scratch;
	struct quantize_totals *tot;
	uint64_t index;
	/* two slab buffers and the task results, kept from tensor to tensor
	 * (fresh pages for every tensor cost a page fault per page) */
	unsigned char *bufs[2];
	size_t buf_bytes;
	struct row_task_result *res;
	size_t n_res;
};

/* RUN's buffers made at least BYTES and N_RES long. */
static int grow_buffers(struct run *run, size_t bytes, size_t n_res, const char *name, struct lm_error *err)
{
	if (bytes > run->buf_bytes) {
		for (int k = 0; k < 2; k++) {
			free(run->bufs[k]);
			run->bufs[k] = malloc(bytes);
		}
		run->buf_bytes = run->bufs[0] && run->bufs[1] ? bytes : 0;
	}
	if (n_res > run->n_res) {
		free(run->res);
		run->res = malloc(n_res * sizeof *run->res);
		run->n_res = run->res ? n_res : 0;
	}
	if (run->buf_bytes < bytes || run->n_res < n_res)
		return lm_fail(err, LM_ENOMEM, "tensor '%s': out of memory", name);
	return LM_OK;
}

/* Convert (or copy) tensor P, writing its bytes to OUT when not NULL, and
 * report it. */
static int do_tensor(struct run *run, const struct plan *p, struct output *out, struct lm_error *err)
{
	const struct gguf_tensor *t = p->t;
	struct quantize_tensor_report rep = { 0 };
	struct job j = { 0 };
	int64_t nrows, max_rows, ntasks;
	int rc = LM_OK;

	j.p = p;
	j.n_per_row = t->ne[0];
	nrows = t->ne[1] * t->ne[2] * t->ne[3];
	if ((rc = dtype_row_size(t->type, j.n_per_row, &j.row_in, err)) ||
	    (rc = dtype_row_size(p->to, j.n_per_row, &j.row_out, err)))
		return lm_error_prefix(err, "tensor '%s': ", t->name);
	rep.name = t->name;
	rep.n_dims = t->n_dims;
	memcpy(rep.ne, t->ne, sizeof rep.ne);
	rep.from = t->type;
	rep.to = p->to;
	rep.wanted = p->wanted;
	rep.fallback = p->fallback;
	rep.bytes_in = t->nbytes;
	rep.bytes_out = (uint64_t)j.row_out * (uint64_t)nrows;
	rep.index = ++run->index;
	rep.count = run->f->n_tensors;

	if (p->to == t->type) {
		/* in pieces, so that what is resident stays small */
		int64_t step = j.row_in && COPY_BYTES / j.row_in ? (int64_t)(COPY_BYTES / j.row_in) : 1;

		for (int64_t r = 0; j.row_in && r < nrows; r += step) {
			int64_t nr = nrows - r < step ? nrows - r : step;
			const unsigned char *src = (const unsigned char *)t->data + (size_t)r * j.row_in;

			if ((rc = check_finite(p, run->scratch[0], j.n_per_row, j.row_in, r, nr, err)))
				return rc;
			if (out && (rc = output_write(out, src, (size_t)nr * j.row_in, err)))
				return rc;
			release_input(src, (size_t)nr * j.row_in);
		}
	} else {
		if (!is_float_type(t->type) && !quant_supported(t->type))
			return lm_fail(err, LM_EFORMAT, "tensor '%s': cannot convert from type %s",
				       t->name, dtype_name(t->type));
		rep.requantized = !is_float_type(t->type);
		max_rows = SLAB_ELEMS / j.n_per_row;
		if (max_rows < 1)
			max_rows = 1;
		if (max_rows > nrows)
			max_rows = nrows;
		j.rows_per_task = TASK_ELEMS / j.n_per_row;
		if (j.rows_per_task < 1)
			j.rows_per_task = 1;
		j.scratch = run->scratch;
		j.sink = out;
		if ((rc = grow_buffers(run, (size_t)max_rows * j.row_out,
				       (size_t)((max_rows + j.rows_per_task - 1) / j.rows_per_task), t->name, err)))
			goto out;
		j.res = run->res;
		for (j.row0 = 0; j.row0 < nrows; j.row0 += j.nrows) {
			j.nrows = nrows - j.row0 < max_rows ? nrows - j.row0 : max_rows;
			j.out = run->bufs[(j.row0 / max_rows) % 2];
			ntasks = (j.nrows + j.rows_per_task - 1) / j.rows_per_task;
			threadpool_run(run->pool, ntasks + (j.pending != NULL), row_task, &j);
			release_input((const unsigned char *)t->data + (size_t)j.row0 * j.row_in,
				      (size_t)j.nrows * j.row_in);
			if (j.pending && j.write_rc) {
				rc = j.write_rc;
				*err = j.write_err;
				goto out;
			}
			j.pending = NULL;
			for (int64_t k = 0; k < ntasks; k++) {
				const struct row_task_result *r = &j.res[k];

				if (r->bad_row >= 0) {
					rc = lm_fail(err, LM_EFORMAT, "tensor '%s': %s weight at row %lld, column %lld",
						     t->name, isnan(r->bad_val) ? "NaN" : "infinite",
						     (long long)r->bad_row, (long long)r->bad_col);
					goto out;
				}
				rep.rmse += r->sq;
				if (r->max > rep.max_err)
					rep.max_err = r->max;
			}
			if (out) {
				j.pending = j.out;
				j.pending_bytes = (size_t)j.nrows * j.row_out;
			}
		}
		if (j.pending && (rc = output_write(out, j.pending, j.pending_bytes, err)))
			goto out;
		run->tot->sq_err += rep.rmse;
		run->tot->err_elements += (uint64_t)nrows * (uint64_t)j.n_per_row;
		if (rep.max_err > run->tot->max_err)
			run->tot->max_err = rep.max_err;
		rep.rmse = nrows ? sqrt(rep.rmse / ((double)nrows * (double)j.n_per_row)) : 0;
		run->tot->quantized++;
		run->tot->fallbacks += (uint64_t)p->fallback;
		run->tot->requantized += (uint64_t)rep.requantized;
	}
	run->tot->tensors++;
	run->tot->elements += (uint64_t)nrows * (uint64_t)j.n_per_row;
	run->tot->bytes_in += rep.bytes_in;
	run->tot->bytes_out += rep.bytes_out;
	if (run->opt->report)
		run->opt->report(&rep, run->opt->report_arg);
out:
	return rc;
}

struct cb_arg {
	struct run *run;
	const struct plan *p;
};

static int write_tensor(void *arg, struct output *out, struct lm_error *err)
{
	struct cb_arg *a = arg;

	return do_tensor(a->run, a->p, out, err);
}

static int is_dropped_key(const char *key)
{
	return strcmp(key, "general.quantization_version") == 0 ||
	       strcmp(key, "general.file_type") == 0 || strcmp(key, "split.no") == 0 ||
	       strcmp(key, "split.count") == 0 || strcmp(key, "split.tensors.count") == 0;
}

int quantize_gguf(const char *in_path, const char *out_path, const struct quantize_options *opt,
		  struct quantize_totals *totals, struct lm_error *err)
{
	struct quantize_totals tot_local = { 0 };
	struct gguf_file *f = NULL;
	struct gguf_writer *w = NULL;
	struct atomic_file af;
	struct cb_arg *args = NULL;
	struct run run = { 0 };
	int64_t max_row = 1;
	int af_open = 0, threads = opt->threads > 0 ? opt->threads : 1, rc;
	uint64_t i;

	run.tot = totals ? totals : &tot_local;
	memset(run.tot, 0, sizeof *run.tot);
	run.opt = opt;
	if ((rc = gguf_open(in_path, &f, err)))
		return rc;
	run.f = f;
	run.plan = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *run.plan);
	args = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *args);
	run.scratch = calloc((size_t)threads, sizeof *run.scratch);
	if (!run.plan || !args || !run.scratch) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", in_path);
		goto out;
	}
	if ((rc = make_plan(f, opt, run.plan, err))) {
		lm_error_prefix(err, "%s: ", in_path);
		goto out;
	}
	for (i = 0; i < f->n_tensors; i++)
		if (f->tensors[i].ne[0] > max_row)
			max_row = f->tensors[i].ne[0];
	for (int k = 0; k < threads; k++) {
		run.scratch[k] = malloc(2 * (size_t)max_row * sizeof(float));
		if (!run.scratch[k]) {
			rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", in_path);
			goto out;
		}
	}
	if (!(run.pool = threadpool_new(threads, err))) {
		rc = err->code ? err->code : LM_ENOMEM;
		goto out;
	}

	if (opt->dry_run) {
		for (i = 0; i < f->n_tensors && !rc; i++)
			rc = do_tensor(&run, &run.plan[i], NULL, err);
		if (rc)
			lm_error_prefix(err, "%s: ", in_path);
		goto out;
	}

	if ((rc = gguf_writer_new(&w, err)))
		goto out;
	for (i = 0; i < f->n_kv && !rc; i++)
		if (!is_dropped_key(f->kvs[i].key))
			rc = gguf_writer_copy_kv(w, &f->kvs[i], err);
	if (rc || (rc = gguf_writer_add_u32(w, "general.quantization_version", 2, err)) ||
	    (rc = gguf_writer_add_u32(w, "general.file_type", (uint32_t)opt->scheme->ftype, err)))
		goto out;
	for (i = 0; i < f->n_tensors; i++) {
		const struct plan *p = &run.plan[i];

		args[i].run = &run;
		args[i].p = p;
		rc = gguf_writer_add_tensor_cb(w, p->t->name, p->to, p->t->n_dims, p->t->ne, write_tensor,
					       &args[i], err);
		if (rc)
			goto out;
	}
	if ((rc = atomic_open(&af, out_path, err)))
		goto out;
	af_open = 1;
	if ((rc = gguf_writer_write(w, &af.out, err))) {
		if (rc != LM_EPIPE && rc != LM_EIO)
			lm_error_prefix(err, "%s: ", in_path);
		goto out;
	}
	af_open = 0;
	rc = atomic_commit(&af, err);
out:
	if (af_open)
		atomic_abort(&af);
	gguf_writer_free(w);
	if (run.pool)
		threadpool_free(run.pool);
	if (run.scratch)
		for (int k = 0; k < threads; k++)
			free(run.scratch[k]);
	free(run.scratch);
	free(run.bufs[0]);
	free(run.bufs[1]);
	free(run.res);
	free(run.plan);
	free(args);
	gguf_close(f);
	return rc;
}

/* decoder.h - decoder-only language models (Llama, Qwen2, Qwen3) from GGUF
 * files, with a KV cache.
 *
 * Architectures as llama.cpp names and lays them out (src/models/llama.cpp,
 * qwen2.cpp, qwen3.cpp, llama-model.cpp):
 *
 *   llama  token_embd, blk.N.attn_norm, attn_q/k/v (optional biases),
 *          attn_output (optional bias), ffn_norm, ffn_gate/up/down
 *          (optional biases), output_norm, output (absent: tied to
 *          token_embd), optional rope_freqs (Llama 3 frequency factors);
 *          RoPE in ggml's normal layout (pairs 2i, 2i+1)
 *   qwen2  as llama with q/k/v biases and an optional output.bias; NeoX RoPE
 *   qwen3  as llama with per-head RMSNorms blk.N.attn_q_norm / attn_k_norm
 *          of the head size, applied to q and k before RoPE; NeoX RoPE
 *
 * Hyper-parameters are {arch}.embedding_length, block_count,
 * feed_forward_length, attention.head_count, attention.head_count_kv
 * (default head_count), attention.key_length (default n_embd / n_head),
 * attention.layer_norm_rms_epsilon, context_length, rope.freq_base (default
 * 10000), rope.dimension_count (default the head size), rope.scaling.factor
 * (or rope.scale_linear; linear scaling only).
 *
 * The forward pass is llama.cpp's: RMSNorm pre-norms, grouped-query
 * attention with scale 1/sqrt(head size) and a causal mask, SwiGLU FFN,
 * final RMSNorm and the output projection.  Keys and values are kept in a
 * cache of n_ctx positions per layer (F16 by default, as llama.cpp's
 * default cache type, or F32); queries meet F16 keys rounded to F16 as
 * ggml's F16 dot products round them.
 *
 * decoder_eval appends tokens at the end of the cached sequence: prompts
 * run in chunks of n_batch tokens with batched matrix products, single
 * tokens through the quantised matrix-vector path of ops_matmul.
 * decoder_reuse keeps the longest prefix a new sequence shares with the
 * cached one, so consecutive prompts with a common beginning (a system
 * prompt, RAG instructions) evaluate only what differs.
 *
 * An open decoder is used by one thread at a time (it owns the cache and
 * scratch memory); it parallelises internally over n_threads.
 */
#ifndef LMPIPE_DECODER_H
#define LMPIPE_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct decoder;
struct tokenizer;

struct decoder_params {
	int n_threads;          /* <= 0: all cores */
	int n_ctx;              /* cache positions; <= 0: min(context_length, 4096) */
	int n_batch;            /* prompt tokens per forward chunk; <= 0: 512 */
	int kv_f32;             /* 1: float32 cache instead of F16 */
};

int decoder_open(struct decoder **dec, const char *path, const struct decoder_params *params,
		 struct lm_error *err);
void decoder_close(struct decoder *dec);

/* The model's own tokenizer (tokenizer.ggml.* keys). */
const struct tokenizer *decoder_tokenizer(const struct decoder *dec);
/* "llama", "qwen2" or "qwen3". */
const char *decoder_arch(const struct decoder *dec);
/* general.name, else the file's base name. */
const char *decoder_name(const struct decoder *dec);
/* Rows of the output layer (logits per position). */
int decoder_n_vocab(const struct decoder *dec);
/* Positions the cache holds: the longest sequence that can be evaluated. */
int decoder_n_ctx(const struct decoder *dec);
/* Tokens in the cache now. */
int decoder_n_past(const struct decoder *dec);
/* Bytes of the KV cache (both K and V, all layers). */
size_t decoder_kv_bytes(const struct decoder *dec);
/* 1 when ID ends a generation: EOS, EOT, EOM and the end-of-turn tokens
 * llama.cpp recognises by their text (<|eot_id|>, <|im_end|>, <|end|>,
 * <end_of_turn>, <|endoftext|>, <|eom_id|>, <|end_of_text|>, <EOT>). */
int decoder_is_eog(const struct decoder *dec, int32_t id);

/* Forget the cache. */
void decoder_reset(struct decoder *dec);
/* Keep the longest common prefix of the cached tokens and TOKENS[0..N),
 * but at most N - 1 tokens, so that evaluating the rest yields logits.
 * Returns the number kept: the caller evaluates TOKENS[kept..N). */
int decoder_reuse(struct decoder *dec, const int32_t *tokens, int n);

/* Evaluate N tokens at positions n_past .. n_past + N - 1 and append them
 * to the cache.  LOGITS (may be NULL) receives decoder_n_vocab floats: the
 * last token's logits, or, when ALL, N rows, one per token.  Errors: a
 * token outside the vocabulary, the cache full (n_past + N > n_ctx), out
 * of memory; the cache then holds what it held before the call. */
int decoder_eval(struct decoder *dec, const int32_t *tokens, int n, float *logits, int all,
		 struct lm_error *err);

#endif

/* llama2c.h - import a llama2.c checkpoint and tokenizer as a GGUF "llama"
 * model, as llama.cpp's examples/convert-llama2c-to-ggml does.
 *
 * Checkpoint (karpathy/llama2.c run.c, the "legacy" export): seven int32
 * (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a
 * negative vocab_size means the classifier is stored separately), then
 * float32 weights in run.c's order: token embeddings, attention norms, wq,
 * wk, wv, wo, ffn norms, w1, w2, w3, final norm, the RoPE tables (skipped),
 * and the classifier when not shared.  The file must end there.
 *
 * Tokenizer (run.c build_tokenizer): int32 max_token_length, then per token
 * float32 score, int32 length and the bytes.  Ids 0, 1, 2 become <unk>,
 * <s>, </s>; "<0xXX>" tokens are byte tokens; spaces become U+2581 as in
 * SentencePiece vocabularies.
 *
 * Output: F32 tensors token_embd, output_norm, output (a copy of the
 * embeddings when shared, as the converter writes it), then per layer
 * attn_q, attn_k, attn_v, attn_output, attn_norm, ffn_gate, ffn_down,
 * ffn_up, ffn_norm, all with llama.cpp's shapes ([in, out], innermost
 * first).  q and k rows are NOT permuted: llama2.c rotates adjacent pairs,
 * which is llama.cpp's normal RoPE for arch llama.  Metadata: the tokenizer
 * (model "llama", tokens, scores, token_type, unk 0, bos 1, eos 2),
 * general.architecture/name "llama", llama.context_length (the checkpoint's
 * seq_len), embedding_length, feed_forward_length, attention.head_count,
 * head_count_kv, block_count, rope.dimension_count (min(64, head size)),
 * attention.layer_norm_rms_epsilon 1e-5.
 *
 * The checkpoint is mapped, not read into memory; the output is written
 * atomically.
 */
#ifndef LMPIPE_LLAMA2C_H
#define LMPIPE_LLAMA2C_H

#include <stdint.h>

#include "error.h"

struct llama2c_config {
	int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
	int shared_classifier;
};

/* Convert MODEL_PATH + TOKENIZER_PATH into OUT_PATH ("-" for stdout).
 * CONFIG (may be NULL) receives the checkpoint's header. */
int llama2c_import(const char *model_path, const char *tokenizer_path, const char *out_path,
		   struct llama2c_config *config, struct lm_error *err);

#endif

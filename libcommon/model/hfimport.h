/* hfimport.h - a Hugging Face model directory (config.json, safetensors,
 * tokenizer.json) to GGUF, with the tensor names, shapes and metadata keys
 * llama.cpp's convert_hf_to_gguf.py writes for the same model.
 *
 * Input, all in DIR:
 *   config.json                  architectures[0] picks the family:
 *       BertModel, BertForSequenceClassification  -> arch "bert"
 *       LlamaForCausalLM -> "llama", Qwen2ForCausalLM -> "qwen2",
 *       Qwen3ForCausalLM -> "qwen3"; anything else is refused.
 *   model.safetensors, or model.safetensors.index.json and the shards its
 *       weight_map names (libcommon/model/safetensors.h validates each);
 *       F32, F16 and BF16 tensors.
 *   tokenizer.json               the vocabulary (see below).
 *   tokenizer_config.json        optional: special tokens, add_bos_token /
 *       add_eos_token, chat_template (also read from chat_template.jinja).
 *   modules.json + its Pooling module's config.json (sentence-transformers),
 *       optional: the pooling of an embedding model.
 *
 * Every tensor the family defines must be present with the shape config.json
 * implies, and every tensor in the files must be one the family uses or one
 * the converter drops (BERT's position_ids, MLM/NSP heads and, for embedding
 * models, the pooler; rotary inv_freq; lm_head when tie_word_embeddings);
 * anything else is an error naming the file and tensor, as is a missing
 * config key or file.
 *
 * Tensors ([in, out] in GGUF, innermost first, i.e. the PyTorch shape
 * reversed; data unchanged except where said):
 *   bert   token_embd, token_types, position_embd, token_embd_norm,
 *          blk.N.attn_{q,k,v}, attn_output, attn_output_norm, ffn_up,
 *          ffn_down, layer_output_norm (weights and biases); sequence
 *          classification: pooler.dense -> cls, classifier -> cls.output,
 *          so that llama.cpp's rank pooling (CLS row -> cls -> tanh ->
 *          cls.output) is BertForSequenceClassification's head.
 *   llama/qwen2/qwen3  token_embd, output_norm, output (absent when the
 *          embeddings are tied), blk.N.attn_norm, attn_{q,k,v}[.bias],
 *          attn_output, attn_{q,k}_norm (qwen3), ffn_norm, ffn_{gate,up,down};
 *          llama's q and k rows are permuted per head from Hugging Face's
 *          rotate-half layout to the interleaved pairs of llama.cpp's normal
 *          RoPE (convert_hf_to_gguf LlamaModel.permute); llama3 rope
 *          scaling becomes rope_freqs.weight.
 *   Matrices get the requested float type; 1-D tensors and norms stay F32.
 *
 * Metadata: general.architecture, general.name, general.file_type and the
 * family's {arch}.* hyper-parameters (context_length, embedding_length,
 * feed_forward_length, block_count, attention.head_count[_kv], layer norm
 * epsilons, rope.freq_base and scaling, pooling_type, classifier labels).
 * Pooling: sentence-transformers' Pooling config when present (mean, cls,
 * lasttoken), rank (4) for sequence classification, else mean (1).
 *
 * Tokenizer (tokenizer.json model):
 *   WordPiece -> "bert": words spelt with a leading U+2581, "##" pieces
 *       without it, control tokens as they are; pre "bert-bge";
 *       normalizer.lowercase/strip_accents from a BertNormalizer; unk, sep,
 *       pad, cls, mask ids; token_type_count from type_vocab_size.
 *   BPE without byte_fallback -> "gpt2": tokens, merges ("A B"), pre from
 *       the pre-tokenizer's regex: cl100k = "llama-bpe", Qwen2's = "qwen2",
 *       o200k = "gpt-4o", GPT-2 byte-level = "gpt-2"; other regexes are
 *       refused rather than guessed.
 *   BPE with byte_fallback (Llama-2 style) -> "llama": tokens, scores
 *       (minus the rank of the merge that makes a token, so that llama.cpp's
 *       score-ordered merging is the tokenizer's merge order), <0xNN> byte
 *       tokens, add_space_prefix from a Prepend normalizer or Metaspace.
 *   Token types: added special tokens (and <|...|>) CONTROL, other added
 *   tokens USER_DEFINED, the unk token UNKNOWN in "llama" vocabularies (as
 *   SentencePiece has it), ids without a token "[PADn]" UNUSED up to the
 *   embedding rows; bos/eos/unk/pad ids from tokenizer_config.json
 *   (by added token content) or config.json *_token_id; add_bos/add_eos
 *   written explicitly (tokenizer_config, else the post-processor's
 *   template, else false) so llama.cpp and we agree.
 *
 * Output is written atomically (atomic.h): all or nothing.  With a quantize
 * scheme that is not a float type, the F32 import goes to an unlinked
 * temporary next to OUT and is quantized from there by quantize_gguf.
 */
#ifndef LMPIPE_HFIMPORT_H
#define LMPIPE_HFIMPORT_H

#include <stdint.h>

#include "error.h"
#include "model/quantize.h"

struct hfimport_options {
	/* NULL: F32.  A float scheme (F32, F16, BF16) is written directly;
	 * any other goes through quantize_gguf with these options. */
	const struct quantize_options *quantize;
};

struct hfimport_info {
	char arch[16];            /* "bert", "llama", "qwen2", "qwen3" */
	char hf_arch[64];         /* config.json architectures[0] */
	char tokenizer[16];       /* tokenizer.ggml.model written */
	char pre[16];             /* tokenizer.ggml.pre written ("" if none) */
	int64_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx, n_vocab;
	uint64_t n_tensors;       /* written to the GGUF */
	uint64_t n_files;         /* safetensors files read */
};

/* Convert DIR into OUT_PATH ("-" for stdout).  INFO (may be NULL) is filled
 * as far as the import got; TOTALS (may be NULL) gets quantize_gguf's
 * totals when a quantize scheme ran. */
int hfimport(const char *dir, const char *out_path, const struct hfimport_options *opt,
	     struct hfimport_info *info, struct quantize_totals *totals, struct lm_error *err);

#endif

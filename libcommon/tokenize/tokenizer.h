/* tokenizer.h - text <-> token ids for the major model families.
 *
 * A tokenizer is loaded from a GGUF vocabulary (tokenizer.ggml.* keys), a
 * Hugging Face tokenizer.json, or a tiktoken rank file, and promises the ids
 * of the reference implementation for that format: llama.cpp for GGUF,
 * Hugging Face tokenizers for tokenizer.json, tiktoken for .tiktoken.
 *
 * Encoding runs: added/special tokens split out of the text first, then the
 * normalizer, the pre-tokenizer and the model (byte-level BPE, SentencePiece
 * BPE, WordPiece or Unigram) on each piece, then the post-processor (BOS/EOS,
 * CLS/SEP) when TOK_ADD_SPECIAL is given.
 *
 * A loaded tokenizer is immutable: encode and decode may run on the same
 * tokenizer from any number of threads at once.
 */
#ifndef LMPIPE_TOKENIZER_H
#define LMPIPE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct tokenizer;

/* A growable id array.  Start from {0}; tokenizer_encode appends and grows
 * it; tok_ids_free releases it and leaves it empty. */
struct tok_ids {
	int32_t *ids;
	size_t n, cap;
};

/* Append ID, growing the array; LM_ENOMEM when out of memory. */
int tok_ids_push(struct tok_ids *ids, int32_t id, struct lm_error *err);
void tok_ids_free(struct tok_ids *ids);

/* Load PATH, choosing the format by content: the GGUF magic, a '{' (after
 * white space) for tokenizer.json, anything else a tiktoken rank file whose
 * pat_str and special tokens come from the .json beside it (PATH with its
 * extension replaced, e.g. cl100k_base.tiktoken -> cl100k_base.json).
 * Errors name the file and the key or line at fault. */
int tokenizer_load(struct tokenizer **tok, const char *path, struct lm_error *err);
void tokenizer_free(struct tokenizer *tok);

enum tok_flags {
	/* Apply the post-processor: BOS/EOS as the vocabulary asks
	 * (add_bos/add_eos), CLS ... SEP for BERT, the tokenizer.json
	 * template. */
	TOK_ADD_SPECIAL = 1,
	/* Recognise the text of special (control) tokens such as
	 * <|endoftext|> in the input.  Added tokens that are not special are
	 * always recognised, as the references do. */
	TOK_PARSE_SPECIAL = 2,
};

/* Encode LEN bytes of TEXT (any bytes; invalid UTF-8 is handled as the
 * reference does) and append the ids to OUT.  On error OUT keeps what it had
 * before the call. */
int tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len, unsigned flags,
		     struct tok_ids *out, struct lm_error *err);

/* Decode N ids into a malloc'd buffer *TEXT of *LEN bytes (NUL-terminated
 * after LEN, not counted).  The bytes are exactly what the ids stand for, so
 * a prefix of an id sequence may end inside a UTF-8 sequence; special tokens
 * decode to their text.  An id outside the vocabulary is LM_EINVAL. */
int tokenizer_decode(const struct tokenizer *tok, const int32_t *ids, size_t n, char **text,
		     size_t *len, struct lm_error *err);

/* Identity string, e.g. "gguf:gpt2:llama-bpe:128256:<hash>": equal for
 * tokenizers that give the same ids, used by embed/index to check that
 * stored tokens match a model. */
const char *tokenizer_name(const struct tokenizer *tok);

/* Number of ids (highest id + 1). */
size_t tokenizer_n_vocab(const struct tokenizer *tok);

/* The bytes token ID stands for (as tokenizer_decode gives for it alone);
 * NULL for an id outside the vocabulary. */
const char *tokenizer_token(const struct tokenizer *tok, int32_t id, size_t *len);

/* Special ids, -1 when the vocabulary has none. */
enum tok_special { TOK_BOS, TOK_EOS, TOK_UNK, TOK_SEP, TOK_PAD, TOK_CLS, TOK_MASK, TOK_SPECIAL_COUNT };
int32_t tokenizer_special(const struct tokenizer *tok, enum tok_special which);

#endif

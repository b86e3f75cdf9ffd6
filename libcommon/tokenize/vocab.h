/* vocab.h - a tokenizer vocabulary: ids <-> token bytes, types, scores.
 *
 * Ids may be sparse (tiktoken leaves gaps below its special tokens); an id
 * that was never set has no text and is not found by vocab_find.  Token text
 * is stored as the bytes the token stands for in the model's own alphabet:
 * raw bytes for byte-level BPE (the GPT-2 unicode mapping undone by the
 * loader), the piece with U+2581 for SentencePiece, the word piece with its
 * "##" for WordPiece.  Lookup by text is an open-addressing hash table.
 */
#ifndef LMPIPE_TOK_VOCAB_H
#define LMPIPE_TOK_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Token types, numbered as llama.cpp's tokenizer.ggml.token_type. */
enum vocab_type {
	VOCAB_UNDEFINED = 0,
	VOCAB_NORMAL = 1,
	VOCAB_UNKNOWN = 2,
	VOCAB_CONTROL = 3,
	VOCAB_USER_DEFINED = 4,
	VOCAB_UNUSED = 5,
	VOCAB_BYTE = 6,
};

struct vocab;

int vocab_new(struct vocab **v, struct lm_error *err);
void vocab_free(struct vocab *v);

/* Set token ID (>= 0) to LEN bytes of TEXT (copied).  Setting an id twice
 * is LM_EFORMAT.  When two ids have the same text, vocab_find returns the
 * first one set unless FIND is 0 for it (then it is reachable by id only). */
int vocab_set(struct vocab *v, int32_t id, const char *text, size_t len, float score,
	      enum vocab_type type, struct lm_error *err);
/* As vocab_set, but the text is not entered in the lookup table. */
int vocab_set_hidden(struct vocab *v, int32_t id, const char *text, size_t len, float score,
		     enum vocab_type type, struct lm_error *err);

/* As vocab_set, but LM_EFORMAT when another id already has the text
 * (tiktoken rank files list each token once). */
int vocab_set_unique(struct vocab *v, int32_t id, const char *text, size_t len, float score,
		     enum vocab_type type, struct lm_error *err);

/* Make room for ids below N_TOKENS and N_TOKENS more texts of TEXT_BYTES
 * bytes in all, so that a loader that knows its sizes sets them without
 * growing tables on the way.  Only a hint: sets beyond it still work. */
int vocab_reserve(struct vocab *v, size_t n_tokens, size_t text_bytes, struct lm_error *err);

/* The id whose text is TEXT, or -1. */
int32_t vocab_find(const struct vocab *v, const char *text, size_t len);

/* Bytes of the longest text vocab_find can find: a longer text is no
 * entry, whatever it holds. */
size_t vocab_longest(const struct vocab *v);

/* Highest id set + 1. */
size_t vocab_size(const struct vocab *v);
/* Text of ID, NULL (and *LEN 0) for an id not set or out of range. */
const char *vocab_text(const struct vocab *v, int32_t id, size_t *len);
float vocab_score(const struct vocab *v, int32_t id);
enum vocab_type vocab_token_type(const struct vocab *v, int32_t id);

/* Byte-pair merges: (LEFT, RIGHT) -> RESULT with priority RANK (lower
 * merges first).  Adding the same pair twice keeps the lower rank. */
int vocab_add_merge(struct vocab *v, int32_t left, int32_t right, int32_t result, uint32_t rank,
		    struct lm_error *err);
/* Look up a merge: 1 and *RANK, *RESULT when (LEFT, RIGHT) merges, else 0. */
int vocab_merge(const struct vocab *v, int32_t left, int32_t right, uint32_t *rank, int32_t *result);
size_t vocab_n_merges(const struct vocab *v);

/* FNV-1a 64 over every id's text, type and the merges: for tokenizer_name. */
uint64_t vocab_hash(const struct vocab *v);

#endif

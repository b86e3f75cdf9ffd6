/* bpe.h - byte-level byte-pair encoding (GPT-2, tiktoken, Llama-3, Qwen...).
 *
 * A piece (one pre-tokenizer match, raw bytes) starts as one symbol per byte
 * and repeatedly merges the adjacent pair with the lowest rank, the leftmost
 * such pair on ties, until no adjacent pair has a merge (GPT-2 encoder.py
 * bpe(); Hugging Face BPE Word::merge_all; llama.cpp llm_tokenizer_bpe).
 * Merges come from vocab_add_merge, ranked by their line in the merges
 * list, or with BPE_RANKS from the vocabulary itself: the pair (a, b) has
 * the rank of the token a+b, tiktoken's rule of merging the pair whose
 * concatenation has the lowest rank.  A heap keeps long pieces O(n log n).  Each thread keeps a
 * cache of recent pieces.
 */
#ifndef LMPIPE_TOK_BPE_H
#define LMPIPE_TOK_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tokenize/tokenizer.h"
#include "tokenize/vocab.h"

struct bpe;

enum bpe_flags {
	/* A piece that is itself a token is that token, merges or not
	 * (tiktoken; tokenizer.json "ignore_merges"; llama.cpp for Llama-3). */
	BPE_IGNORE_MERGES = 1,
	/* tiktoken: no merges list; two adjacent symbols merge when their
	 * concatenation is a token, with its id as the rank. */
	BPE_RANKS = 2,
};

/* VOCAB (borrowed, must outlive the bpe) holds raw-byte token texts and the
 * merges.  A byte that is not a token becomes UNK_ID, or is dropped when
 * UNK_ID is -1 (Hugging Face BPE without unk_token). */
int bpe_new(struct bpe **b, const struct vocab *vocab, unsigned flags, int32_t unk_id,
	    struct lm_error *err);
void bpe_free(struct bpe *b);

/* Append the ids of one piece.  Thread-safe. */
int bpe_encode(const struct bpe *b, const char *piece, size_t len, struct tok_ids *out,
	       struct lm_error *err);

/* GPT-2 bytes_to_unicode(): printable Latin-1 bytes map to themselves, the
 * other 68 bytes to U+0100 + their order among them. */
uint32_t bpe_byte_to_unicode(uint8_t byte);
/* The inverse; -1 for a code point outside the mapping. */
int bpe_unicode_to_byte(uint32_t cp);
/* Undo the mapping on LEN bytes of UTF-8 TEXT into OUT (at least LEN bytes).
 * Returns the number of bytes written, or -1 when TEXT is not well-formed or
 * holds a character outside the mapping (such tokens are raw text). */
long bpe_unmap(const char *text, size_t len, char *out);

#endif

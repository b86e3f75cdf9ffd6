/* unigram.h - Unigram language-model segmentation (Viterbi).
 *
 * Hugging Face tokenizers models/unigram (encode_optimized), which is
 * SentencePiece's unigram model: the segmentation of a piece maximises the
 * sum of the pieces' scores (log probabilities) over the lattice of all
 * vocabulary entries that match at each character position.  Where no
 * single-character entry starts at a position, the character may be taken
 * as the unknown token with score min(scores) - 10 (kUnkPenalty).  Ties
 * keep the first candidate found (shorter entries are found first).
 * Consecutive unknown characters become one unknown token when fuse_unk
 * (HF's default); with byte_fallback an unknown stretch is spelt as <0xNN>
 * byte tokens when they all exist.  Scores are doubles, as in HF.
 */
#ifndef LMPIPE_TOK_UNIGRAM_H
#define LMPIPE_TOK_UNIGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tokenize/tokenizer.h"
#include "tokenize/vocab.h"

struct unigram;
struct tokenizer;

/* VOCAB (borrowed) holds the pieces as ids 0..N_SCORES-1; SCORES (copied)
 * their scores.  UNK_ID must be a valid id (HF refuses a Unigram without
 * one when it is needed; we require it up front). */
int unigram_new(struct unigram **u, const struct vocab *vocab, const double *scores,
		size_t n_scores, int32_t unk_id, int byte_fallback, int fuse_unk,
		struct lm_error *err);
void unigram_free(struct unigram *u);

/* Append the ids of one piece.  Thread-safe. */
int unigram_encode(const struct unigram *u, const char *piece, size_t len, struct tok_ids *out,
		   struct lm_error *err);

/* Make U the model stage of TOK (tokenizer_impl.h); TOK owns it after. */
void unigram_attach(struct tokenizer *tok, struct unigram *u);

#endif

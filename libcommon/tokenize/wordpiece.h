/* wordpiece.h - WordPiece: greedy longest-match-first sub-word splitting.
 *
 * Hugging Face tokenizers models/wordpiece: a word of more than
 * MAX_CHARS characters is the unknown token; otherwise, from the start of
 * the word, the longest vocabulary entry is taken (entries after the first
 * carry CONT_PREFIX, "##" in BERT's vocab.txt), and if some position has
 * no entry at all the whole word is the unknown token.  llama.cpp's GGUF
 * "bert" vocabularies spell the same pieces the other way round: word
 * starts carry "\xe2\x96\x81" (U+2581) and continuations are bare, so the
 * module takes both a word prefix and a continuation prefix:
 *   tokenizer.json:  wordpiece_new(&w, v, "", "##", unk, 100, err)
 *   GGUF bert:       wordpiece_new(&w, v, "\xe2\x96\x81", "", unk, 100, err)
 * Characters are UTF-8 sequences; a stray byte counts as one character.
 */
#ifndef LMPIPE_TOK_WORDPIECE_H
#define LMPIPE_TOK_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tokenize/tokenizer.h"
#include "tokenize/vocab.h"

struct wordpiece;
struct tokenizer;

/* VOCAB is borrowed and must outlive the model.  UNK_ID -1: a word that
 * cannot be split is an error (LM_EINVAL) at encode time, as HF's
 * MissingUnkToken. */
int wordpiece_new(struct wordpiece **w, const struct vocab *vocab, const char *word_prefix,
		  const char *cont_prefix, int32_t unk_id, size_t max_chars, struct lm_error *err);
void wordpiece_free(struct wordpiece *w);

/* Append the ids of one pre-tokenized word.  Thread-safe. */
int wordpiece_encode(const struct wordpiece *w, const char *word, size_t len, struct tok_ids *out,
		     struct lm_error *err);

/* Make W the model stage of TOK (tokenizer_impl.h); TOK owns it after. */
void wordpiece_attach(struct tokenizer *tok, struct wordpiece *w);

#endif

/* spm.h - SentencePiece-style BPE over characters, with byte fallback.
 *
 * Two ways of choosing the next merge, one engine:
 *
 *  SPM_BY_SCORE - llama.cpp's llm_tokenizer_spm (GGUF tokenizer.ggml.model
 *    "llama"): the piece starts as one symbol per UTF-8 character; the
 *    adjacent pair whose concatenation is a vocabulary entry with the
 *    highest score merges first (the leftmost on ties) until no pair is an
 *    entry.  Each final symbol is its token, or else one <0xNN> token per
 *    byte (a token spelt as the single byte when <0xNN> is missing, else
 *    UNK_ID).  When no entry has U+2581 right after another character, no
 *    merge can cross a word start (a U+2581 after another character), so
 *    words are encoded one by one, and repeated ones come from a
 *    per-thread cache (tokcache.h), with the same result.
 *  SPM_BY_MERGES - Hugging Face models/bpe with a merges list
 *    (vocab_add_merge), as in Llama-2's tokenizer.json: characters (with
 *    continuing_subword_prefix / end_of_word_suffix) not in the vocabulary
 *    become <0xNN> byte tokens when byte_fallback is set and all exist,
 *    else UNK_ID (consecutive ones fused when fuse_unk); then the pair with
 *    the lowest merge rank merges first (leftmost on ties).  ignore_merges
 *    takes a piece that is itself an entry as is.
 *
 * The module does not touch spaces: U+2581 replacement and the space prefix
 * are normalizer steps (normalize.h), as in tokenizer.json.  For a GGUF
 * "llama" vocabulary (helper tokcore, load_gguf.c) build:
 *   normalizer: normalizer_add_prepend(n, "\xe2\x96\x81", 3) when
 *               tokenizer.ggml.add_space_prefix (default true), then
 *               normalizer_add_replace(n, " ", 1, 0, "\xe2\x96\x81", 3);
 *               attach with normalizer_attach (normalize.h); llama.cpp adds
 *               the prefix to each text fragment after a special token, which
 *               is what the per-fragment normalizer does, and nothing to
 *               empty text, as Prepend does.
 *   model:      struct spm_config c = { .mode = SPM_BY_SCORE, .unk_id = UNK };
 *               spm_new(&s, vocab, &c, err); spm_attach(tok, s);
 *   no splitter (the whole fragment is one piece).
 * VOCAB texts are the pieces as spelt in the vocabulary (with U+2581).
 */
#ifndef LMPIPE_TOK_SPM_H
#define LMPIPE_TOK_SPM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tokenize/tokenizer.h"
#include "tokenize/vocab.h"

struct spm;
struct tokenizer;

enum spm_mode { SPM_BY_SCORE, SPM_BY_MERGES };

struct spm_config {
	enum spm_mode mode;
	int32_t unk_id;             /* -1: none (unknown characters are dropped, as HF does) */
	/* SPM_BY_MERGES only (SPM_BY_SCORE always falls back to bytes): */
	int byte_fallback;
	int fuse_unk;
	int ignore_merges;
	const char *cont_prefix;    /* continuing_subword_prefix, NULL = none */
	const char *end_suffix;     /* end_of_word_suffix, NULL = none */
};

/* VOCAB is borrowed and must outlive the model; CONFIG's strings are copied. */
int spm_new(struct spm **s, const struct vocab *vocab, const struct spm_config *config,
	    struct lm_error *err);
void spm_free(struct spm *s);

/* Append the ids of one piece.  Thread-safe. */
int spm_encode(const struct spm *s, const char *piece, size_t len, struct tok_ids *out,
	       struct lm_error *err);

/* Make S the model stage of TOK (tokenizer_impl.h); TOK owns it after. */
void spm_attach(struct tokenizer *tok, struct spm *s);

#endif

/* normalize.h - text normalizers of Hugging Face tokenizers (normalizers/).
 *
 * A struct normalizer is a sequence of steps applied in order, as a
 * tokenizer.json "Sequence" normalizer does; a single normalizer is a
 * sequence of one.  What the module promises:
 *  - NFC/NFD/NFKC/NFKD are Unicode normalization forms (UAX #15) computed by
 *    utf8proc (Unicode 15).
 *  - Lowercase maps each character to its full lowercase mapping (Rust's
 *    char::to_lowercase, as HF does: per character, no final-sigma rule).
 *  - StripAccents drops characters of General_Category Mark (Mn, Mc, Me)
 *    and does not decompose (HF puts NFD in front of it).
 *  - Bert is HF's BertNormalizer (bert.rs): clean_text drops U+0000,
 *    U+FFFD and Other (C*) characters except \t \n \r, and maps White_Space
 *    to ' '; handle_chinese_chars puts spaces around CJK ideographs (the
 *    ranges of bert.rs, including its 0x2B920 start); strip_accents is NFD
 *    then drop Mn; lowercase last.
 *  - Replace replaces every non-overlapping match (left to right) of a
 *    literal string or of a PCRE2 regex (UTF + UCP) with literal content.
 *  - Prepend adds its string in front of non-empty text; Strip trims
 *    White_Space on the left and/or right.
 *  - Bytes that are not well-formed UTF-8 pass through every step unchanged.
 * A built normalizer is immutable: normalizer_apply may run on many threads
 * at once, each with its own struct normalize_buf.
 */
#ifndef LMPIPE_TOKENIZE_NORMALIZE_H
#define LMPIPE_TOKENIZE_NORMALIZE_H

#include <stddef.h>

#include "error.h"

enum normalize_form { NORMALIZE_NFC, NORMALIZE_NFD, NORMALIZE_NFKC, NORMALIZE_NFKD };

struct normalizer;

/* Result and scratch space of normalizer_apply, reusable across calls.
 * Zero-initialise; release with normalize_buf_free. */
struct normalize_buf {
	char *text;       /* the normalized text (not NUL-terminated) */
	size_t len;
	size_t cap;
	char *tmp;
	size_t tmp_cap;
	unsigned *cps;    /* codepoint scratch for the Unicode forms */
	size_t cps_cap;
};

/* An empty sequence (the identity); NULL when out of memory. */
struct normalizer *normalizer_new(void);
void normalizer_free(struct normalizer *n);
/* Number of steps (0 = identity). */
size_t normalizer_steps(const struct normalizer *n);

/* Append a step.  0 or LM_ENOMEM; Replace with a bad regex is LM_EINVAL
 * with PCRE2's message and offset. */
int normalizer_add_form(struct normalizer *n, enum normalize_form form, struct lm_error *err);
int normalizer_add_lowercase(struct normalizer *n, struct lm_error *err);
int normalizer_add_strip_accents(struct normalizer *n, struct lm_error *err);
int normalizer_add_bert(struct normalizer *n, int clean_text, int handle_chinese_chars,
			int strip_accents, int lowercase, struct lm_error *err);
/* llama.cpp's BERT preprocessing for GGUF "bert" vocabularies
 * (llm_tokenizer_wpm_session::preprocess), not bert.rs: NFD keeps only the
 * first code point of each decomposition, strip_accents drops all marks
 * (M), controls are Cc Cf Co Cs (unassigned code points stay), lowercase
 * is the simple mapping, bad bytes are dropped; punctuation (P and ASCII
 * S) and CJK ideographs are set apart by spaces, white space becomes ' '.
 * Follow it with a white space split. */
int normalizer_add_wpm_llamacpp(struct normalizer *n, int strip_accents, int lowercase,
				struct lm_error *err);
int normalizer_add_replace(struct normalizer *n, const char *pattern, size_t pattern_len,
			   int is_regex, const char *content, size_t content_len,
			   struct lm_error *err);
int normalizer_add_prepend(struct normalizer *n, const char *s, size_t len, struct lm_error *err);
int normalizer_add_strip(struct normalizer *n, int left, int right, struct lm_error *err);

/* Normalize TEXT[0..LEN) into BUF->text / BUF->len.  0 or LM_ENOMEM. */
int normalizer_apply(const struct normalizer *n, const char *text, size_t len,
		     struct normalize_buf *buf, struct lm_error *err);
void normalize_buf_free(struct normalize_buf *buf);

/* Make N the normalizer stage of TOK (tokenizer_impl.h); TOK owns it
 * after.  The stage allocates its scratch per call, so it stays
 * thread-safe. */
struct tokenizer;
void normalizer_attach(struct tokenizer *tok, struct normalizer *n);

/* Make N, which must be a single normalizer_add_wpm_llamacpp step, the
 * splitter of TOK, with no normalizer stage: the words are those a white
 * space split ("whitespace-split", pretok.h) of the normalized text
 * gives, found in the same pass.  TOK owns N after (not on error:
 * LM_EINVAL for another normalizer). */
int normalizer_attach_wpm_split(struct tokenizer *tok, struct normalizer *n, struct lm_error *err);

/* Character classes shared with the WordPiece pre-tokenizer and loaders. */
int normalize_is_chinese_char(unsigned cp);   /* bert.rs is_chinese_char */
int normalize_is_whitespace(unsigned cp);     /* Unicode White_Space */

#endif

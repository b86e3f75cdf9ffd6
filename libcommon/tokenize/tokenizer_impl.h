/* tokenizer_impl.h - the parts of a tokenizer, for the loaders.
 *
 * Not for programs: tokenizer.h is the public interface.  A loader
 * (load_gguf.c, load_hfjson.c, load_tiktoken.c) fills a struct tokenizer
 * made by tok_new and hands it to tok_finish; tokenizer.c runs the
 * pipeline
 *
 *   added tokens split out (raw text)  ->  normalizer  ->  added tokens
 *   marked "normalized" split out  ->  splitter (pre-tokenizer)  ->  model
 *   per piece  ->  prefix/suffix ids (TOK_ADD_SPECIAL)
 *
 * which is Hugging Face's AddedVocabulary + pipeline order; GGUF and
 * tiktoken vocabularies use the subset they need.  Each stage is a function
 * with its own state, so a loader can compose anything behind it.
 */
#ifndef LMPIPE_TOK_TOKENIZER_IMPL_H
#define LMPIPE_TOK_TOKENIZER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tokenize/tokenizer.h"
#include "tokenize/vocab.h"

/* Same signature as pretok.h's pretok_piece_fn: a nonzero return stops the
 * split and is returned by it. */
typedef int (*tok_piece_fn)(void *arg, const char *piece, size_t len);

/* A growable byte buffer. */
struct tok_buf {
	char *data;
	size_t len, cap;
};
int tok_buf_append(struct tok_buf *b, const void *s, size_t n, struct lm_error *err);
void tok_buf_free(struct tok_buf *b);

/* Stages.  RUN is NULL for a stage that is absent; FREE(STATE) is called by
 * tokenizer_free when FREE is set. */
struct tok_normalizer {
	/* Append the normal form of TEXT to OUT. */
	int (*run)(const void *state, const char *text, size_t len, struct tok_buf *out,
		   struct lm_error *err);
	void (*free)(void *state);
	void *state;
};

struct tok_splitter {
	/* Call FN on each piece of TEXT in order; return FN's nonzero value
	 * when it stops the split. */
	int (*run)(const void *state, const char *text, size_t len, tok_piece_fn fn, void *arg);
	void (*free)(void *state);
	void *state;
};

struct tok_model {
	/* Append the ids of one piece. */
	int (*run)(const void *state, const char *piece, size_t len, struct tok_ids *out,
		   struct lm_error *err);
	void (*free)(void *state);
	void *state;
};

/* An added token (tokenizer.json added_tokens; GGUF CONTROL/USER_DEFINED
 * tokens; tiktoken special_tokens).  Matching is leftmost, longest first. */
struct tok_added {
	char *text;
	size_t len;
	int32_t id;
	unsigned special : 1;      /* matched only under TOK_PARSE_SPECIAL */
	unsigned lstrip : 1;       /* also swallows white space on its left */
	unsigned rstrip : 1;       /* ... and on its right */
	unsigned single_word : 1;  /* only where not inside a word */
	unsigned normalized : 1;   /* matched in the normalized text */
};

/* How ids become bytes. */
enum tok_decoder {
	TOK_DECODE_BYTES,      /* the token texts are the bytes (byte-level BPE) */
	TOK_DECODE_METASPACE,  /* U+2581 -> ' ', <0xNN> byte tokens (BYTE type), a
				  leading space of the result dropped when
				  decode_strip_space */
	TOK_DECODE_WORDPIECE,  /* "##x" joins the previous token, others get a
				  space before them (not the first); with
				  decode_cleanup each token's text then gets
				  HF's cleanup (" ." -> "." ...) */
};

/* What encoding does with bytes that are not well-formed UTF-8 (only
 * --raw input can carry them), as each reference does. */
enum tok_bad_utf8 {
	TOK_UTF8_REPLACE = 0, /* U+FFFD per maximal subpart (WHATWG / Unicode
				 3-7 practice), before anything else: the text
				 tiktoken and HF tokenizers get from a decoder */
	TOK_UTF8_LLAMACPP,    /* llama.cpp unicode_cpts_from_utf8 per text
				 fragment, re-encoded: a byte that does not
				 start a (loosely checked) sequence is U+FFFD,
				 overlong forms become their code point */
	TOK_UTF8_KEEP,        /* the bytes as they are (SentencePiece byte
				 fallback) */
};

struct tokenizer {
	char *name;                       /* tokenizer_name; set by the loader */
	enum tok_bad_utf8 bad_utf8;
	struct vocab *vocab;
	int32_t special[TOK_SPECIAL_COUNT];

	struct tok_normalizer normalizer;
	struct tok_splitter splitter;     /* absent: the whole text is one piece */
	struct tok_model model;

	struct tok_added *added;
	size_t n_added;

	/* Post-processor for one sequence (TOK_ADD_SPECIAL). */
	int32_t *prefix, *suffix;
	size_t n_prefix, n_suffix;

	enum tok_decoder decoder;
	int decode_strip_space;
	int decode_cleanup;               /* WordPiece decoder "cleanup" */
	const char *continuing_prefix;    /* WordPiece: "##" (static or owned below) */
	char *owned_prefix;

	/* private to tokenizer.c (tok_finish) */
	uint32_t added_start[257];        /* ADDED sorted by first byte, longest first */
	unsigned char added_first[256];   /* 1: a non-special added token starts with
					     the byte, 2: a special one does */
	int added_lone[2];                /* the one first byte of the tokens of
					     ADDED_FIRST bit 1 ([0]) or bits 1|2 ([1]);
					     -1 several, -2 none */
	int has_normalized_added;
	char *dec_pool;                   /* each id's decoded bytes */
	uint32_t *dec_off;                /* n_vocab + 1 offsets into DEC_POOL */
	unsigned char *dec_join;          /* WordPiece: 1 = continues the word */
};

/* A zeroed tokenizer with every special id -1. */
int tok_new(struct tokenizer **tok, struct lm_error *err);
/* Add an added token (TEXT copied). */
int tok_add_added(struct tokenizer *tok, const char *text, size_t len, int32_t id, int special,
		  struct lm_error *err);
/* Build the matching tables after the loader has set everything; PATH names
 * the file in messages. */
int tok_finish(struct tokenizer *tok, const char *path, struct lm_error *err);

/* Splitter/model adaptors for the modules here. */
struct bpe;
struct pretok;
void tok_use_bpe(struct tokenizer *tok, struct bpe *bpe);          /* owned */
void tok_use_pretok(struct tokenizer *tok, struct pretok *pretok); /* owned */

/* The format loaders, called by tokenizer_load on the file's content. */
int tok_load_gguf(struct tokenizer *tok, const char *path, struct lm_error *err);
int tok_load_tiktoken(struct tokenizer *tok, const char *path, struct lm_error *err);
int tok_load_hfjson(struct tokenizer *tok, const char *path, struct lm_error *err);

#endif

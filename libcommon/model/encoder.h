/* encoder.h - encoder transformers (BERT family) from GGUF files.
 *
 * Architectures as llama.cpp names and lays them out: "bert" (MiniLM, BGE,
 * E5, GTE; learned absolute positions, token types, post-norm, GELU) and
 * "nomic-bert" (rotary positions, SwiGLU).  A model whose tensors include
 * llama.cpp's classification head (cls / cls.output) scores sequences with
 * `rank` pooling: the CLS row through cls (dense + tanh) then cls.output.
 *
 * encoder_run takes a batch of token sequences, packs them without padding
 * (each sequence attends only to itself), splits the work over threads and
 * returns one pooled vector per sequence, in input order, not normalised.
 *
 * An open encoder is used by one thread at a time (it owns scratch memory).
 */
#ifndef LMPIPE_ENCODER_H
#define LMPIPE_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct encoder;
struct tokenizer;

/* Numbered as llama.cpp's enum llama_pooling_type and {arch}.pooling_type. */
enum encoder_pooling {
	ENCODER_POOL_NONE = 0,
	ENCODER_POOL_MEAN = 1,
	ENCODER_POOL_CLS = 2,
	ENCODER_POOL_LAST = 3,
	ENCODER_POOL_RANK = 4,
};

struct encoder_params {
	int n_threads;          /* <= 0: all cores */
	int pooling;            /* enum encoder_pooling, or -1 for the file's */
	const char *dump_dir;   /* NULL, or a folder for per-layer .npy dumps (tests) */
};

int encoder_open(struct encoder **enc, const char *path, const struct encoder_params *params,
		 struct lm_error *err);
void encoder_close(struct encoder *enc);

/* The model's own tokenizer (from its tokenizer.ggml.* keys). */
const struct tokenizer *encoder_tokenizer(const struct encoder *enc);
/* general.name, else the file's base name. */
const char *encoder_name(const struct encoder *enc);
/* CRC-32C of the whole file in 8 hex digits: with the name, the identity
 * of the vectors' space, recorded by index and checked by search. */
const char *encoder_hash(const struct encoder *enc);
int encoder_n_embd(const struct encoder *enc);
/* Width of encoder_run's output rows: n_embd, or the classifier's label
 * count under rank pooling. */
int encoder_n_out(const struct encoder *enc);
/* Longest sequence the model takes ({arch}.context_length). */
int encoder_n_ctx(const struct encoder *enc);
enum encoder_pooling encoder_pooling(const struct encoder *enc);
/* Number of token types (segment ids) the model has embeddings for (>= 1). */
int encoder_n_token_types(const struct encoder *enc);

struct encoder_seq {
	const int32_t *tokens;
	const int32_t *types;   /* segment ids, or NULL for all 0 */
	int n_tokens;           /* 1 .. encoder_n_ctx */
};

/* Run N_SEQ sequences; row i of OUT (encoder_n_out floats) receives the
 * pooled output of sequence i.  Errors: a token id outside the vocabulary,
 * a type id outside the model's, an empty or too long sequence. */
int encoder_run(struct encoder *enc, const struct encoder_seq *seqs, int n_seq, float *out,
		struct lm_error *err);

#endif

/* embedrun.h - the record loop of embed(1): records in, embeddings out.
 *
 * Reads the lmpipe record stream (ndjson.h) and writes each record back,
 * in input order, with "embedding" (and "n_tokens") added, or the binary
 * vector stream (vecstream.h) with the record's other fields as meta.
 *
 * A record's tokens: its "tokens" when its "tokenizer" names the model's
 * tokenizer (tokenizer_name, as tok(1) writes it); else its text
 * (ndjson_record_text, after PREFIX) tokenized with the model's tokenizer
 * and its special tokens.  A record with tokens from another tokenizer and
 * no text is an error.  Token lists longer than the model's context are
 * cut to it, keeping the closing special token (SEP/EOS), and counted.
 *
 * Records are gathered into batches of at most batch_tokens tokens (a
 * single longer record makes a batch of its own), so memory stays bounded
 * whatever the input; each batch is one encoder_run.
 *
 * Vectors are L2-normalised unless normalize is 0; dims > 0 keeps the first
 * dims components (Matryoshka) and normalises what is kept.
 */
#ifndef LMPIPE_EMBEDRUN_H
#define LMPIPE_EMBEDRUN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "input.h"
#include "output.h"
#include "vecstream.h"

struct encoder;

struct embedrun_config {
	int normalize;
	int dims;                   /* 0: all of encoder_n_out */
	const char *prefix;         /* NULL or prepended to each text */
	size_t batch_tokens;
	int binary;                 /* write the vector stream, not NDJSON */
	enum vecstream_dtype dtype; /* binary: element type */
	int skip_bad;
	void (*report_bad)(const struct lm_error *err, void *arg);
	void *report_arg;
};

struct embedrun_stats {
	uint64_t records;
	uint64_t tokens;
	uint64_t truncated;         /* records cut to the context length */
	uint64_t bad;
};

/* Embed every record of IN to OUT.  The binary stream's header is written
 * before the first record (the caller closes OUT). */
int embedrun_run(struct encoder *enc, const struct embedrun_config *cfg, struct input *in,
		 struct output *out, struct embedrun_stats *stats, struct lm_error *err);

/* Keep the first DIMS of N floats (DIMS <= 0: all), then scale to unit
 * length when NORMALIZE (a zero vector stays zero).  Returns the length. */
int embedrun_finish_vector(float *v, int n, int dims, int normalize);

/* One text, after PREFIX (may be NULL), with special tokens added and cut
 * to the context, into OUT, which holds encoder_n_out floats; the first
 * DIMS (all when <= 0) are the vector, normalised when NORMALIZE: a query
 * for search(1). */
int embedrun_text(struct encoder *enc, const char *prefix, const char *text, size_t len, int dims,
		  int normalize, float *out, struct lm_error *err);

#endif

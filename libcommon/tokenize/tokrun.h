/* tokrun.h - the record loop of tok(1): text in, token ids out, and back.
 *
 * Reads the lmpipe record stream (ndjson.h: NDJSON objects or plain text
 * lines) and writes one record per input record, in input order, whatever
 * the number of threads.  The text of a record is ndjson_record_text's
 * (title and text joined by a space).  Modes (SPEC.md, tok):
 *
 *   TOKRUN_ENCODE  the record plus "tokens" (int array) and "n_tokens"
 *   TOKRUN_COUNT   the record plus "n_tokens" only
 *   TOKRUN_DECODE  reads "tokens", adds "text" (the decoded bytes; a
 *                  sequence that is not UTF-8 gets U+FFFD per maximal
 *                  ill-formed subpart, as Unicode 15 section 3.9 and
 *                  Hugging Face's from_utf8_lossy do, since JSON text
 *                  must be UTF-8)
 *   TOKRUN_CHUNK   one record per chunk: see tokrun_chunk_spans; ids are
 *                  "DOCID#k" with k = 0, 1, ...; "title" is dropped (it is
 *                  part of the chunked text), other fields are copied
 *
 * With raw set the whole input is one text (record id "stdin"); in
 * TOKRUN_DECODE raw input is whitespace-separated ids and the output the
 * decoded bytes, written as ids arrive and never cutting a UTF-8 sequence
 * (tokrun_decode_stream).
 *
 * Lines are read in batches bounded by a record count and a byte budget,
 * and at most two batches are held, so memory stays bounded on unbounded
 * input.  Each record is parsed, tokenized and serialised on the pool's
 * threads, while one thread writes the batch before (in input order) and
 * reads the next, so no stage runs alone.  A bad record (JSON or UTF-8
 * error, no text, bad "tokens") stops the run with an error naming
 * FILE:LINE once the records before it are written, or, with skip_bad, is
 * reported through the callback (in input order) and counted.
 */
#ifndef LMPIPE_TOKRUN_H
#define LMPIPE_TOKRUN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "input.h"
#include "output.h"
#include "threadpool.h"
#include "tokenize/tokenizer.h"

enum tokrun_mode {
	TOKRUN_ENCODE,
	TOKRUN_COUNT,
	TOKRUN_DECODE,
	TOKRUN_CHUNK,
};

struct tokrun_config {
	enum tokrun_mode mode;
	unsigned flags;          /* tok_flags for encoding */
	int raw;                 /* whole input is one text / a list of ids */
	int skip_bad;            /* report bad records and go on */
	size_t chunk_tokens;     /* TOKRUN_CHUNK: at most this many tokens */
	size_t chunk_overlap;    /* TOKRUN_CHUNK: tokens shared by neighbours */
	/* Called for each skipped bad record (skip_bad) with its error. */
	void (*report_bad)(const struct lm_error *err, void *arg);
	void *report_arg;
};

struct tokrun_stats {
	uint64_t records;        /* records read and written */
	uint64_t outputs;        /* records written (chunks count one each) */
	uint64_t tokens;         /* tokens produced (or decoded) */
	uint64_t bytes;          /* bytes of text encoded (or produced) */
	uint64_t bad;            /* records skipped (skip_bad) */
};

/* Run CFG over IN, writing to OUT.  POOL may be NULL (one thread).  Adds to
 * *STATS.  Returns LM_OK or the first error (LM_EPIPE when the reader of
 * OUT went away). */
int tokrun_run(const struct tokenizer *tok, const struct tokrun_config *cfg,
	       struct threadpool *pool, struct input *in, struct output *out,
	       struct tokrun_stats *stats, struct lm_error *err);

/* Chunking.  COUNT returns in *N the number of tokens of TEXT[0..LEN) as
 * the output will have them (special tokens included). */
typedef int tokrun_count_fn(void *arg, const char *text, size_t len, size_t *n,
			    struct lm_error *err);

/* A chunk: TEXT[start..end). */
struct tokrun_span {
	size_t start, end;
};

/* Split TEXT[0..LEN) (UTF-8) into spans of at most MAX_TOKENS tokens each.
 * A text that fits is one span, the whole text.  Otherwise each span ends
 * at the best cut within its reach: the last paragraph break (a white
 * space run holding two or more line feeds), else the last sentence end
 * ('.', '!' or '?', possibly followed by closing quotes or brackets, then
 * white space; or an ideographic full stop, fullwidth '!' or '?'), else
 * the last white space, else the last character that fits; a cut of a
 * higher kind is taken only when the span it leaves is at least half as
 * long (in bytes) as the longest span that fits.  The white space at a cut
 * belongs to no span, so spans start and end with non-space text except at
 * the text's own start and end.  With OVERLAP > 0 the next span starts at
 * the earliest word start (else character) that leaves at most OVERLAP
 * tokens, special tokens not counted, shared with the span before, as long
 * as that still lets it reach past the end of the one before.  Spans cover
 * the text in order.
 * LM_EINVAL when not even one character fits in MAX_TOKENS. */
int tokrun_chunk_spans(const char *text, size_t len, size_t max_tokens, size_t overlap,
		       tokrun_count_fn *count, void *arg, struct tokrun_span **spans,
		       size_t *n_spans, struct lm_error *err);

/* Incremental decoding of a growing id sequence (raw --decode).  Text for
 * new ids is the difference between decoding a short window of recent ids
 * with and without them (so tokenizers whose pieces depend on their
 * neighbours, e.g. SentencePiece's leading space, decode as a whole
 * sequence would), and is held back while it ends inside a UTF-8
 * sequence. */
struct tokrun_decoder {
	const struct tokenizer *tok;
	struct tok_ids ids;      /* ids from the window start */
	size_t read;             /* ids[0..read) are already written */
};

void tokrun_decoder_init(struct tokrun_decoder *d, const struct tokenizer *tok);
/* Add N ids and write the text that is now certain to OUT. */
int tokrun_decoder_push(struct tokrun_decoder *d, const int32_t *ids, size_t n,
			struct output *out, struct lm_error *err);
/* Write what is left (an incomplete UTF-8 tail as is). */
int tokrun_decoder_finish(struct tokrun_decoder *d, struct output *out, struct lm_error *err);
void tokrun_decoder_free(struct tokrun_decoder *d);

#endif

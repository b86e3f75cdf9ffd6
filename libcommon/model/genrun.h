/* genrun.h - the record loop of generate(1): prompts in, completions out.
 *
 * A record's prompt is, in this order: its "prompt" string (tokenized
 * with the vocabulary's BOS/EOS rules, special-token text recognised);
 * its "tokens" array when it has no "tokenizer" or names the model's
 * (taken as they are); its text (ndjson_record_text).  A record with chat
 * "messages" and none of these is refused: chat templates are not
 * implemented.
 *
 * Each record starts from the longest prefix its tokens share with the
 * previous record's (decoder_reuse), evaluates the rest of the prompt,
 * then samples up to n_predict tokens (sample.h, the sampler reset to the
 * seed for every record, the prompt counted in the repeat-penalty
 * history).  Generation ends at an end-of-generation token or a stop
 * string ("stop"), at n_predict tokens or a full context ("length").  A
 * stop string and what follows it are not part of the text.
 *
 * Text comes from the generated ids through tokenizer_decode of the whole
 * completion, emitted only up to the last complete UTF-8 character and
 * never into what could still become a stop string.  When the prompt has
 * no text (BOS alone) the space SentencePiece vocabularies put before
 * the first word is dropped, as llama.cpp's detokenizer drops it at the
 * start of a sequence.  Bytes that never form valid UTF-8 become U+FFFD.
 *
 * Output: with stream set, the text itself, flushed as it grows, a
 * newline after each record; else the record with "text",
 * "finish_reason", "usage" {prompt_tokens, completion_tokens} and
 * "timings" {ttft_ms, prefill_tok_s, decode_tok_s, total_ms} (and
 * "completion_ids" when ids is set) written as NDJSON.
 */
#ifndef LMPIPE_GENRUN_H
#define LMPIPE_GENRUN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "input.h"
#include "model/sample.h"
#include "output.h"

struct decoder;

struct genrun_config {
	struct sample_params sample;
	int n_predict;              /* < 0: until the context is full */
	const char *const *stops;   /* stop strings */
	int n_stops;
	int stream;                 /* plain text out instead of NDJSON */
	int ids;                    /* add "completion_ids" */
	const char *dump_logits;    /* NULL, or a folder for rI_logits.npy (prompt logits, tests) */
	int skip_bad;
	void (*report_bad)(const struct lm_error *err, void *arg);
	void *report_arg;
};

struct genrun_stats {
	uint64_t records;
	uint64_t prompt_tokens;
	uint64_t reused_tokens;     /* prompt tokens taken from the cache */
	uint64_t completion_tokens;
	uint64_t bad;
	double prefill_s, decode_s;
};

/* Generate for every record of IN. */
int genrun_run(struct decoder *dec, const struct genrun_config *cfg, struct input *in, struct output *out,
	       struct genrun_stats *stats, struct lm_error *err);
/* Generate for one prompt given on the command line (the record
 * {"prompt": PROMPT}). */
int genrun_prompt(struct decoder *dec, const struct genrun_config *cfg, const char *prompt,
		  struct output *out, struct genrun_stats *stats, struct lm_error *err);

#endif

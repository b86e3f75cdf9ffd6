/* genrun.h - the record loop of generate(1): prompts in, completions out.
 *
 * A record's prompt is, in this order: its chat "messages"; its "prompt"
 * string (tokenized with the vocabulary's BOS/EOS rules, special-token
 * text recognised); its "tokens" array when it has no "tokenizer" or
 * names the model's (taken as they are); its text (ndjson_record_text).
 *
 * Chat (chat.h): "messages" (an array of {"role", "content"} objects,
 * checked by chat_messages_check) always go through the chat template;
 * with chat_prompts set, a "prompt" string or a text becomes the one user
 * message of a conversation.  A system message with cfg->system goes in
 * front unless the conversation has a system message already.  The
 * template renders with add_generation_prompt true and the vocabulary's
 * BOS and EOS token texts, and the result is tokenized as llama.cpp does
 * (common/chat.cpp common_chat_templates_apply, then common_tokenize with
 * add_special and parse_special): BOS text at the start is dropped when the
 * vocabulary adds BOS itself (and EOS text at the end when it adds EOS),
 * so the prompt holds one BOS, never two.
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
 * Constrained decoding (cfg->grammar, grammar.h): before each draw the
 * tokens whose text the grammar cannot accept next are masked out
 * (sampler_set_mask, so the chain runs over the allowed tokens only), and
 * the drawn token's text is fed to the grammar.  Special tokens (BOS,
 * EOS, ...) are never allowed as text; the end-of-generation tokens are
 * allowed exactly when the text so far is complete.  Generation stops
 * ("stop") when the grammar is complete and admits nothing more; "length"
 * (the -n limit or a full context) leaves a text that may be incomplete.
 * A grammar that allows no token of the vocabulary at some point is an
 * error for the record.  A record may carry its own "grammar" (GBNF text) or
 * "json_schema" (a schema, jsonschema.h), used instead of cfg->grammar;
 * an invalid one is an error for that record.
 *
 * Output: with stream set, the text itself, flushed as it grows, a
 * newline after each record; else the record with "text",
 * "finish_reason", "usage" {prompt_tokens, completion_tokens} and
 * "timings" {ttft_ms, prefill_tok_s, decode_tok_s, total_ms} (and
 * "prompt_ids" and "completion_ids" when ids is set) written as NDJSON.
 *
 * RAG (genrun_rag): the input is search or rerank hits (SPEC: qid, id,
 * rank, score, query, text, title).  Consecutive hits with the same qid
 * are one query, whose question is the first hit's "query".  Relevance
 * order is by "rank" when every hit has an integer rank, else by "score"
 * (highest first) when every hit has a number score, else input order
 * (ties keep input order).  The passages (rag.h) are taken in that order
 * while the tokens of their texts fit in the budget: cfg->rag_budget, or
 * by default the context minus the tokens kept for the answer (n_predict;
 * a quarter of the context when n_predict < 0) minus the prompt without
 * passages.  They are placed in edges order and numbered, and while the
 * whole prompt (template included) would leave fewer than that reserve of
 * the context free, the least relevant passage is dropped.  A query
 * without room for one passage is an error.  The prompt is the one user
 * message of a chat when chat_prompts is set (cfg->system as above), else
 * the text itself.  Output per query: {"qid", "query", "citations" (the
 * passages' ids, [n] being citations[n-1]), "text", "finish_reason",
 * "usage", "timings"}.
 */
#ifndef LMPIPE_GENRUN_H
#define LMPIPE_GENRUN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "input.h"
#include "model/sample.h"
#include "output.h"

struct chat_template;
struct decoder;
struct grammar;

struct genrun_config {
	struct sample_params sample;
	int n_predict;              /* < 0: until the context is full */
	const char *const *stops;   /* stop strings */
	int n_stops;
	int stream;                 /* plain text out instead of NDJSON */
	int ids;                    /* add "completion_ids" */
	const char *dump_logits;    /* NULL, or a folder for rI_logits.npy (prompt logits, tests) */
	const struct chat_template *chat;  /* NULL: "messages" are refused with no_chat */
	const char *no_chat;        /* why there is no template (an error message) */
	int chat_prompts;           /* prompts and texts become user messages */
	const char *system;         /* NULL, or the system message to put first */
	const struct grammar *grammar;  /* NULL, or the grammar every completion follows */
	size_t rag_budget;          /* genrun_rag: passage tokens; 0: the default */
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
	double mask_s;              /* CPU time spent masking the vocabulary (grammar) */
	uint64_t mask_steps;
};

/* Generate for every record of IN. */
int genrun_run(struct decoder *dec, const struct genrun_config *cfg, struct input *in, struct output *out,
	       struct genrun_stats *stats, struct lm_error *err);
/* Answer each query of the hits in IN (RAG, above). */
int genrun_rag(struct decoder *dec, const struct genrun_config *cfg, struct input *in, struct output *out,
	       struct genrun_stats *stats, struct lm_error *err);
/* Generate for one prompt given on the command line (the record
 * {"prompt": PROMPT}). */
int genrun_prompt(struct decoder *dec, const struct genrun_config *cfg, const char *prompt,
		  struct output *out, struct genrun_stats *stats, struct lm_error *err);

#endif

#include "model/genrun.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "model/chat.h"
#include "model/decoder.h"
#include "model/grammar.h"
#include "model/jsonschema.h"
#include "model/rag.h"
#include "ndjson.h"
#include "npy.h"
#include "tokenize/tokenizer.h"
#include "utf8.h"

struct gen {
	struct decoder *dec;
	const struct genrun_config *cfg;
	struct output *out;
	struct genrun_stats *stats;
	struct sampler *sampler;
	float *logits;               /* n_vocab, or n_prompt x n_vocab when dumping */
	size_t logits_cap;           /* rows */
	struct tok_ids prompt, completion;
	char *text;                  /* the completion decoded so far */
	size_t text_len;
	size_t emitted;              /* bytes of text already streamed */
	uint64_t record;             /* records seen, for dump names */
	char *bos_text, *eos_text;   /* the chat template's bos_token, eos_token */
	int add_bos, add_eos;        /* the vocabulary's post-processor adds them */
	struct grammar_vocab *gvocab;  /* the tokens' texts, once a grammar is used */
	struct grammar_state *gstate;  /* the current record's match, or NULL */
	struct grammar_state *cfg_state;  /* cfg->grammar's */
	struct grammar *rec_grammar;   /* the last record's own grammar, */
	struct grammar_state *rec_state;
	char *rec_key;                 /* and its source ("g:" or "s:" + text) */
	uint8_t *allowed;            /* n_vocab: the mask of the current step */
	int32_t *eog;                /* the end-of-generation ids */
	uint8_t *gvocab_text_ok;     /* per id: a token with text, not special */
	size_t n_eog;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: masking runs on it alone, and wall time is
 * noisy on a shared machine. */
static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int starts_with(const char *s, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	return pl && pl <= n && !memcmp(s, prefix, pl);
}

/* A {"role": ROLE, "content": CONTENT} object in DOC, or NULL (out of
 * memory or CONTENT not UTF-8). */
static struct json_value *new_message(struct json_doc *doc, const char *role, const char *content, size_t len)
{
	struct json_value *m = json_new_object(doc);

	if (json_object_set(doc, m, "role", json_new_string(doc, role, strlen(role))) ||
	    json_object_set(doc, m, "content", json_new_string(doc, content, len)))
		return NULL;
	return m;
}

/* The chat prompt of MESSAGES, or of the one user message USER[0..LEN)
 * when MESSAGES is NULL, into g->prompt (genrun.h: "Chat"). */
static int chat_tokens(struct gen *g, struct json_doc *doc, const struct json_value *messages,
		       const char *user, size_t len, struct lm_error *err)
{
	const struct genrun_config *cfg = g->cfg;
	struct json_value *conv, *m;
	char *text = NULL;
	size_t n, skip = 0;
	int rc, has_system = 0;

	if (!cfg->chat)
		return lm_fail(err, LM_EINVAL, "%s", cfg->no_chat ? cfg->no_chat : "no chat template");
	if (messages) {
		rc = chat_messages_check(messages, err);
		if (rc)
			return rc;
		for (size_t i = 0; i < json_array_len(messages); i++) {
			const char *role = json_string(json_get(json_array_get(messages, i), "role"), NULL);

			has_system |= !strcmp(role, "system");
		}
	}
	conv = json_new_array(doc);
	if (!conv)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	if (cfg->system && !has_system) {
		m = new_message(doc, "system", cfg->system, strlen(cfg->system));
		if (!m)
			return lm_fail(err, LM_EINVAL, "the system message is not valid UTF-8");
		if (json_array_append(doc, conv, m))
			return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	if (messages) {
		for (size_t i = 0; i < json_array_len(messages); i++)
			if (json_array_append(doc, conv, json_array_get(messages, i)))
				return lm_fail(err, LM_ENOMEM, "out of memory");
	} else {
		m = new_message(doc, "user", user, len);
		if (!m)
			return lm_fail(err, LM_EINVAL, "the prompt is not valid UTF-8");
		if (json_array_append(doc, conv, m))
			return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	rc = chat_apply_json(cfg->chat, conv, NULL, 1, g->bos_text, g->eos_text, &text, &n, err);
	if (rc)
		return rc;
	/* llama.cpp common/chat.cpp: the BOS (EOS) text the template wrote
	 * goes when the tokenizer will add the token itself */
	if (g->add_bos && starts_with(text, n, g->bos_text))
		skip = strlen(g->bos_text);
	if (g->add_eos && *g->eos_text && n - skip >= strlen(g->eos_text) &&
	    !strcmp(text + n - strlen(g->eos_text), g->eos_text))
		n -= strlen(g->eos_text);
	rc = tokenizer_encode(decoder_tokenizer(g->dec), text + skip, n - skip, TOK_ADD_SPECIAL | TOK_PARSE_SPECIAL,
			      &g->prompt, err);
	free(text);
	return rc;
}

/* The prompt's tokens into g->prompt (genrun.h gives the rules). */
static int record_tokens(struct gen *g, struct json_doc *doc, struct json_value *rec, struct lm_error *err)
{
	const struct tokenizer *tok = decoder_tokenizer(g->dec);
	struct json_value *prompt = json_get(rec, "prompt"), *tokens = json_get(rec, "tokens");
	struct json_value *messages = json_get(rec, "messages");
	const char *from = json_string(json_get(rec, "tokenizer"), NULL);
	const char *text;
	size_t len;
	int rc;

	g->prompt.n = 0;
	if (messages) {
		rc = chat_tokens(g, doc, messages, NULL, 0, err);
		if (rc)
			return rc;
		goto check;
	} else if (prompt) {
		if (json_type(prompt) != JSON_STRING)
			return lm_fail(err, LM_EINVAL, "\"prompt\" is a %s, not a string",
				       json_type_name(json_type(prompt)));
		text = json_string(prompt, &len);
	} else if (tokens && json_type(tokens) == JSON_ARRAY && (!from || !strcmp(from, tokenizer_name(tok)))) {
		size_t n = json_array_len(tokens);

		for (size_t i = 0; i < n; i++)
			if ((rc = tok_ids_push(&g->prompt, 0, err)))
				return rc;
		rc = json_get_int_array(tokens, g->prompt.ids, g->prompt.cap, &g->prompt.n, err);
		if (rc)
			return lm_error_prefix(err, "\"tokens\": ");
		goto check;
	} else {
		text = ndjson_record_text(doc, rec, &len);
		if (!text)
			return lm_fail(err, LM_EINVAL, "the record has no \"messages\", \"prompt\", "
				       "\"tokens\" or \"text\"");
	}
	if (g->cfg->chat_prompts)
		rc = chat_tokens(g, doc, NULL, text, len, err);
	else
		rc = tokenizer_encode(tok, text, len, TOK_ADD_SPECIAL | TOK_PARSE_SPECIAL, &g->prompt, err);
	if (rc)
		return rc;
check:
	if (g->prompt.n == 0)
		return lm_fail(err, LM_EINVAL, "the prompt is empty (and the vocabulary adds no BOS token)");
	for (size_t i = 0; i < g->prompt.n; i++)
		if (g->prompt.ids[i] < 0 || g->prompt.ids[i] >= decoder_n_vocab(g->dec))
			return lm_fail(err, LM_EINVAL, "prompt token %zu (%" PRId32 ") is outside the vocabulary",
				       i, g->prompt.ids[i]);
	if (g->prompt.n >= (size_t)decoder_n_ctx(g->dec))
		return lm_fail(err, LM_EINVAL, "the prompt has %zu tokens; the context holds %d (use -c)",
			       g->prompt.n, decoder_n_ctx(g->dec));
	return LM_OK;
}

/* Bytes of S[0..N) with every ill-formed sequence replaced by U+FFFD, into
 * a malloc'd buffer (JSON strings must be valid UTF-8). */
static char *valid_utf8(const char *s, size_t n, size_t *len)
{
	char *o = malloc(3 * n + 1);
	size_t j = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; ) {
		uint32_t cp;
		int l = utf8_decode(s + i, n - i, &cp);

		if (l > 0) {
			memcpy(o + j, s + i, (size_t)l);
			j += (size_t)l;
			i += (size_t)l;
		} else {
			memcpy(o + j, "\xef\xbf\xbd", 3);
			j += 3;
			i++;
		}
	}
	o[j] = 0;
	*len = j;
	return o;
}

/* Position of the first stop string in TEXT[0..N) at or after FROM, or N. */
static size_t find_stop(const struct genrun_config *cfg, const char *text, size_t n, size_t from)
{
	size_t best = n;

	for (int i = 0; i < cfg->n_stops; i++) {
		size_t sl = strlen(cfg->stops[i]);

		if (!sl)
			continue;
		for (size_t p = from; p + sl <= n && p < best; p++)
			if (!memcmp(text + p, cfg->stops[i], sl)) {
				best = p;
				break;
			}
	}
	return best;
}

/* Length of the longest tail of TEXT[0..N) that begins some stop string
 * (text that a later token could complete into a stop). */
static size_t stop_prefix_tail(const struct genrun_config *cfg, const char *text, size_t n)
{
	size_t best = 0;

	for (int i = 0; i < cfg->n_stops; i++) {
		size_t sl = strlen(cfg->stops[i]);

		if (!sl)
			continue;
		for (size_t k = sl > n ? n : sl - 1; k > best; k--)
			if (!memcmp(text + n - k, cfg->stops[i], k)) {
				best = k;
				break;
			}
	}
	return best;
}

/* Stream TEXT[emitted..upto) (upto on a character boundary). */
static int emit(struct gen *g, size_t upto, struct lm_error *err)
{
	char *clean;
	size_t len;
	int rc;

	if (!g->cfg->stream || upto <= g->emitted)
		return LM_OK;
	clean = valid_utf8(g->text + g->emitted, upto - g->emitted, &len);
	if (!clean)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = output_write(g->out, clean, len, err);
	free(clean);
	g->emitted = upto;
	return rc ? rc : output_flush(g->out, err);
}

/* Decode the completion again and work out how much of it is final.
 * Returns 1 when a stop string has been found (text cut before it). */
static int update_text(struct gen *g, int strip_space, struct lm_error *err, int *rc)
{
	char *text = NULL;
	size_t len = 0, stop, safe;

	*rc = tokenizer_decode(decoder_tokenizer(g->dec), g->completion.ids, g->completion.n, &text, &len, err);
	if (*rc)
		return 0;
	if (strip_space && len && text[0] == ' ') {
		memmove(text, text + 1, len);
		len--;
	}
	free(g->text);
	g->text = text;
	g->text_len = len;
	/* streamed text never holds the start of a stop string (the tail
	 * that could begin one is held back), so the search starts there */
	stop = find_stop(g->cfg, text, len, g->emitted);
	if (stop < len) {
		g->text_len = stop;
		*rc = emit(g, stop, err);
		return 1;
	}
	safe = len - utf8_incomplete_tail(text, len);
	safe -= stop_prefix_tail(g->cfg, text, safe);
	*rc = emit(g, safe, err);
	return 0;
}

static int dump_logits(struct gen *g, size_t n_rows, struct lm_error *err)
{
	char path[4096];
	struct output out;
	struct npy_writer w;
	int rc;

	snprintf(path, sizeof(path), "%s/r%" PRIu64 "_logits.npy", g->cfg->dump_logits, g->record);
	rc = output_open(&out, path, err);
	if (rc)
		return rc;
	rc = npy_writer_init(&w, &out, NPY_F4, (uint32_t)decoder_n_vocab(g->dec), err);
	for (size_t t = 0; t < n_rows && !rc; t++)
		rc = npy_write_row(&w, g->logits + t * (size_t)decoder_n_vocab(g->dec), err);
	rc = rc ? rc : npy_writer_close(&w, err);
	if (output_close(&out, rc ? NULL : err) && !rc)
		rc = err->code;
	return rc;
}

static int grow_logits(struct gen *g, size_t rows, struct lm_error *err)
{
	float *p;

	if (rows <= g->logits_cap)
		return LM_OK;
	p = realloc(g->logits, rows * (size_t)decoder_n_vocab(g->dec) * sizeof(float));
	if (!p)
		return lm_fail(err, LM_ENOMEM, "out of memory for logits");
	g->logits = p;
	g->logits_cap = rows;
	return LM_OK;
}

static int set_result(struct gen *g, struct json_doc *doc, struct json_value *rec, const char *finish,
		      double t0, double t_first, double t_prefill, size_t n_eval, double t_end,
		      struct lm_error *err)
{
	struct json_value *usage = json_new_object(doc), *timings = json_new_object(doc);
	double prefill = t_prefill - t0, decode = t_end - t_first;
	size_t n_dec = g->completion.n > 1 ? g->completion.n - 1 : 0, len;
	char *clean = valid_utf8(g->text ? g->text : "", g->text_len, &len);
	int rc;

	if (!clean)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = json_object_set(doc, rec, "text", json_new_string(doc, clean, len));
	free(clean);
	rc = rc ? rc : json_object_set(doc, rec, "finish_reason", json_new_string(doc, finish, strlen(finish)));
	rc = rc ? rc : json_object_set(doc, usage, "prompt_tokens", json_new_int(doc, (int64_t)g->prompt.n));
	rc = rc ? rc : json_object_set(doc, usage, "completion_tokens",
				       json_new_int(doc, (int64_t)g->completion.n));
	rc = rc ? rc : json_object_set(doc, rec, "usage", usage);
	rc = rc ? rc : json_object_set(doc, timings, "ttft_ms",
				       json_new_double(doc, g->completion.n ? (t_first - t0) * 1e3 : 0.0));
	rc = rc ? rc : json_object_set(doc, timings, "prefill_tok_s",
				       json_new_double(doc, prefill > 0 ? n_eval / prefill : 0.0));
	rc = rc ? rc : json_object_set(doc, timings, "decode_tok_s",
				       json_new_double(doc, decode > 0 && n_dec ? n_dec / decode : 0.0));
	rc = rc ? rc : json_object_set(doc, timings, "total_ms", json_new_double(doc, (t_end - t0) * 1e3));
	rc = rc ? rc : json_object_set(doc, rec, "timings", timings);
	if (!rc && g->cfg->ids)
		rc = json_object_set(doc, rec, "prompt_ids", json_new_int_array(doc, g->prompt.ids, g->prompt.n));
	if (!rc && g->cfg->ids)
		rc = json_object_set(doc, rec, "completion_ids",
				     json_new_int_array(doc, g->completion.ids, g->completion.n));
	return rc ? lm_fail(err, LM_ENOMEM, "out of memory") : LM_OK;
}

/* Token ID's text as the completion shows it: without its leading space
 * when it is the first token and STRIP_SPACE (genrun.h). */
static const char *shown_text(struct gen *g, int32_t id, int strip_space, size_t *len)
{
	const char *t = tokenizer_token(decoder_tokenizer(g->dec), id, len);

	if (t && strip_space && *len && t[0] == ' ') {
		t++;
		(*len)--;
	}
	return t;
}

/* The grammar's mask for the next token into g->allowed and the sampler.
 * The first token of a completion that loses its leading space is checked
 * token by token (its text differs from the trie's); later ones through
 * the trie. */
static int grammar_mask(struct gen *g, int first, int strip_space, struct lm_error *err)
{
	int n_vocab = decoder_n_vocab(g->dec), end = grammar_can_end(g->gstate);
	double t0 = thread_cpu();
	long n = 0;

	if (first && strip_space) {
		memset(g->allowed, 0, (size_t)n_vocab);
		for (int32_t id = 0; id < n_vocab; id++) {
			size_t len;
			const char *t = shown_text(g, id, 1, &len);
			int r;

			if (!t || !len || decoder_is_eog(g->dec, id) || !g->gvocab_text_ok[id])
				continue;
			r = grammar_accept(g->gstate, t, len);
			if (r < 0 || (r && grammar_state_reset(g->gstate)))
				return lm_fail(err, LM_ENOMEM, "out of memory");
			g->allowed[id] = (uint8_t)r;
			n += r;
		}
	} else if ((n = grammar_vocab_allowed(g->gvocab, g->gstate, g->allowed)) < 0) {
		return lm_fail(err, LM_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < g->n_eog; i++) {
		g->allowed[g->eog[i]] = (uint8_t)end;
		n += end;
	}
	g->stats->mask_s += thread_cpu() - t0;
	g->stats->mask_steps++;
	if (!n) {
		char *clean;
		size_t len;

		clean = valid_utf8(g->text ? g->text : "", g->text_len, &len);
		lm_fail(err, LM_EINVAL, "the grammar allows no token of the vocabulary after \"%.200s\"",
			clean ? clean : "");
		free(clean);
		return LM_EINVAL;
	}
	sampler_set_mask(g->sampler, g->allowed);
	return LM_OK;
}

/* Evaluate g->prompt, sample the completion and write REC with it; T0 is
 * when the record's work began. */
static int complete(struct gen *g, struct json_doc *doc, struct json_value *rec, double t0, struct lm_error *err)
{
	const struct genrun_config *cfg = g->cfg;
	struct decoder *dec = g->dec;
	const struct tokenizer *tok = decoder_tokenizer(dec);
	int32_t bos = tokenizer_special(tok, TOK_BOS);
	int n_vocab = decoder_n_vocab(dec), dump = cfg->dump_logits != NULL, strip_space;
	const char *finish = "length";
	double t_prefill, t_first, t_end;
	size_t reused, n_eval;
	int rc = LM_OK;

	/* SentencePiece's leading space belongs to the first word of the
	 * sequence: with no prompt text, that is the completion's */
	strip_space = g->prompt.n == 1 && g->prompt.ids[0] == bos &&
		      !strncmp(tokenizer_name(tok), "gguf:llama:", 11);
	g->completion.n = 0;
	g->emitted = 0;
	g->text_len = 0;
	if (dump)
		decoder_reset(dec);
	reused = (size_t)decoder_reuse(dec, g->prompt.ids, (int)g->prompt.n);
	n_eval = g->prompt.n - reused;
	rc = grow_logits(g, dump ? n_eval : 1, err);
	rc = rc ? rc : decoder_eval(dec, g->prompt.ids + reused, (int)n_eval, g->logits, dump, err);
	if (rc)
		return rc;
	if (dump) {
		rc = dump_logits(g, n_eval, err);
		if (rc)
			return rc;
		/* sample from the last row */
		memmove(g->logits, g->logits + (n_eval - 1) * (size_t)n_vocab, (size_t)n_vocab * sizeof(float));
	}
	t_prefill = t_first = now();
	sampler_reset(g->sampler);
	for (size_t i = 0; i < g->prompt.n; i++)
		sampler_accept(g->sampler, g->prompt.ids[i]);
	if (g->gstate && grammar_state_reset(g->gstate))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	for (;;) {
		int32_t id;

		if (cfg->n_predict >= 0 && g->completion.n >= (size_t)cfg->n_predict)
			break;
		if (g->gstate) {
			if (grammar_done(g->gstate)) {
				finish = "stop";
				break;
			}
			if ((rc = grammar_mask(g, !g->completion.n, strip_space, err)))
				return rc;
		}
		id = sampler_sample(g->sampler, g->logits);
		if (!g->completion.n)
			t_first = now();
		if (decoder_is_eog(dec, id)) {
			finish = "stop";
			break;
		}
		sampler_accept(g->sampler, id);
		if (g->gstate) {
			size_t len;
			const char *t = shown_text(g, id, strip_space && !g->completion.n, &len);

			/* the mask allowed it, so the grammar takes it */
			if ((rc = grammar_accept(g->gstate, t, len)) != 1)
				return rc < 0 ? lm_fail(err, LM_ENOMEM, "out of memory") :
				       lm_fail(err, LM_EINVAL, "token %d was drawn outside the grammar", (int)id);
			rc = LM_OK;
		}
		rc = tok_ids_push(&g->completion, id, err);
		if (rc)
			return rc;
		if (update_text(g, strip_space, err, &rc)) {
			finish = "stop";
			break;
		}
		if (rc)
			return rc;
		if (g->gstate && grammar_done(g->gstate)) {
			finish = "stop";
			break;
		}
		if (cfg->n_predict >= 0 && g->completion.n >= (size_t)cfg->n_predict)
			break;
		if (decoder_n_past(dec) >= decoder_n_ctx(dec))
			break;
		rc = decoder_eval(dec, &id, 1, g->logits, 0, err);
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	t_end = now();
	if (cfg->stream) {
		rc = emit(g, g->text_len, err);
		rc = rc ? rc : output_byte(g->out, '\n', err);
		rc = rc ? rc : output_flush(g->out, err);
	} else {
		rc = set_result(g, doc, rec, finish, t0, t_first, t_prefill, n_eval, t_end, err);
		rc = rc ? rc : ndjson_write(g->out, rec, err);
	}
	g->stats->records++;
	g->stats->prompt_tokens += g->prompt.n;
	g->stats->reused_tokens += reused;
	g->stats->completion_tokens += g->completion.n;
	g->stats->prefill_s += t_prefill - t0;
	g->stats->decode_s += t_end - t_first;
	return rc;
}

static int grammar_init(struct gen *g, struct lm_error *err);

/* The grammar of record REC: its own "grammar" (GBNF text) or
 * "json_schema" (a schema), else cfg->grammar.  The last record's own
 * grammar is kept for the next record with the same one. */
static int record_grammar(struct gen *g, const struct json_value *rec, struct lm_error *err)
{
	const struct json_value *gram = json_get(rec, "grammar"), *schema = json_get(rec, "json_schema");
	char *key = NULL, *gbnf = NULL;
	size_t len;
	int rc;

	g->gstate = g->cfg_state;
	if (!gram && !schema)
		return LM_OK;
	if (gram && schema)
		return lm_fail(err, LM_EINVAL, "the record has both \"grammar\" and \"json_schema\"");
	if (gram && json_type(gram) != JSON_STRING)
		return lm_fail(err, LM_EINVAL, "\"grammar\" is a %s, not a string", json_type_name(json_type(gram)));
	key = json_to_string(gram ? gram : schema, &len, err);
	if (!key)
		return err->code ? err->code : lm_fail(err, LM_ENOMEM, "out of memory");
	key[0] = gram ? 'g' : 's';  /* the text's first byte is '"', '{', 't' or 'f': mark the kind */
	if (g->rec_key && !strcmp(g->rec_key, key)) {
		free(key);
		g->gstate = g->rec_state;
		return LM_OK;
	}
	grammar_state_free(g->rec_state);
	grammar_free(g->rec_grammar);
	free(g->rec_key);
	g->rec_state = NULL;
	g->rec_grammar = NULL;
	g->rec_key = NULL;
	if (gram) {
		const char *src = json_string(gram, &len);

		rc = grammar_parse(&g->rec_grammar, src, len, "\"grammar\"", err);
	} else {
		rc = jsonschema_to_gbnf(schema, "\"json_schema\"", &gbnf, &len, err);
		rc = rc ? rc : grammar_parse(&g->rec_grammar, gbnf, len, "the grammar of \"json_schema\"", err);
	}
	rc = rc ? rc : grammar_init(g, err);
	rc = rc ? rc : grammar_state_new(&g->rec_state, g->rec_grammar, err);
	free(gbnf);
	if (rc) {
		free(key);
		return rc;
	}
	g->rec_key = key;
	g->gstate = g->rec_state;
	return LM_OK;
}

static int generate(struct gen *g, struct json_doc *doc, struct json_value *rec, struct lm_error *err)
{
	double t0 = now();
	int rc = record_grammar(g, rec, err);

	rc = rc ? rc : record_tokens(g, doc, rec, err);

	return rc ? rc : complete(g, doc, rec, t0, err);
}

static char *token_text(const struct tokenizer *tok, int32_t id)
{
	size_t len = 0;
	const char *s = id >= 0 ? tokenizer_token(tok, id, &len) : NULL;

	return strndup(s ? s : "", s ? len : 0);
}

/* Whether the vocabulary's post-processor adds BOS (EOS): a probe text
 * encoded with and without TOK_ADD_SPECIAL. */
static int probe_special(struct gen *g, struct lm_error *err)
{
	const struct tokenizer *tok = decoder_tokenizer(g->dec);
	int32_t bos = tokenizer_special(tok, TOK_BOS), eos = tokenizer_special(tok, TOK_EOS);
	struct tok_ids plain = { 0 }, full = { 0 };
	int rc;

	rc = tokenizer_encode(tok, "a", 1, 0, &plain, err);
	rc = rc ? rc : tokenizer_encode(tok, "a", 1, TOK_ADD_SPECIAL, &full, err);
	if (!rc && full.n > plain.n) {
		g->add_bos = bos >= 0 && full.ids[0] == bos;
		g->add_eos = eos >= 0 && full.ids[full.n - 1] == eos;
	}
	tok_ids_free(&plain);
	tok_ids_free(&full);
	return rc;
}

/* The trie of the tokens' texts for the grammar: every id but the special
 * ones (BOS, EOS, ..., end of generation), which stand for no text. */
static int grammar_init(struct gen *g, struct lm_error *err)
{
	const struct tokenizer *tok = decoder_tokenizer(g->dec);
	size_t n = (size_t)decoder_n_vocab(g->dec);
	const char **text;
	size_t *len;
	int rc = LM_OK;

	if (g->gvocab)
		return LM_OK;
	text = calloc(n, sizeof(*text));
	len = calloc(n, sizeof(*len));
	g->allowed = malloc(n);
	g->eog = malloc(n * sizeof(*g->eog));
	g->gvocab_text_ok = calloc(n, 1);
	if (!text || !len || !g->allowed || !g->eog || !g->gvocab_text_ok) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int special = decoder_is_eog(g->dec, (int32_t)i);

		for (int k = 0; k < TOK_SPECIAL_COUNT; k++)
			special |= tokenizer_special(tok, (enum tok_special)k) == (int32_t)i;
		if (decoder_is_eog(g->dec, (int32_t)i))
			g->eog[g->n_eog++] = (int32_t)i;
		if (special || i >= tokenizer_n_vocab(tok))
			continue;
		text[i] = tokenizer_token(tok, (int32_t)i, &len[i]);
		g->gvocab_text_ok[i] = text[i] && len[i];
	}
	rc = grammar_vocab_new(&g->gvocab, text, len, n, err);
out:
	free(text);
	free(len);
	return rc;
}

static int gen_init(struct gen *g, struct decoder *dec, const struct genrun_config *cfg, struct output *out,
		    struct genrun_stats *stats, struct lm_error *err)
{
	memset(g, 0, sizeof(*g));
	g->dec = dec;
	g->cfg = cfg;
	g->out = out;
	g->stats = stats;
	g->bos_text = token_text(decoder_tokenizer(dec), tokenizer_special(decoder_tokenizer(dec), TOK_BOS));
	g->eos_text = token_text(decoder_tokenizer(dec), tokenizer_special(decoder_tokenizer(dec), TOK_EOS));
	if (!g->bos_text || !g->eos_text)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	return probe_special(g, err) || sampler_new(&g->sampler, &cfg->sample, decoder_n_vocab(dec), err) ||
	       (cfg->grammar && (grammar_init(g, err) || grammar_state_new(&g->cfg_state, cfg->grammar, err))) ?
	       err->code : (g->gstate = g->cfg_state, LM_OK);
}

static void gen_free(struct gen *g)
{
	sampler_free(g->sampler);
	grammar_vocab_free(g->gvocab);
	grammar_state_free(g->cfg_state);
	grammar_state_free(g->rec_state);
	grammar_free(g->rec_grammar);
	free(g->rec_key);
	free(g->allowed);
	free(g->eog);
	free(g->gvocab_text_ok);
	free(g->bos_text);
	free(g->eos_text);
	free(g->logits);
	free(g->text);
	tok_ids_free(&g->prompt);
	tok_ids_free(&g->completion);
}

int genrun_run(struct decoder *dec, const struct genrun_config *cfg, struct input *in, struct output *out,
	       struct genrun_stats *stats, struct lm_error *err)
{
	struct ndjson_reader rd;
	struct json_value *rec;
	struct gen g;
	int rc;

	rc = gen_init(&g, dec, cfg, out, stats, err);
	if (rc)
		goto out;
	rc = ndjson_open(&rd, in, err);
	if (rc)
		goto out;
	for (;;) {
		rc = ndjson_next(&rd, &rec, err);
		if (rc == LM_EOF) {
			rc = LM_OK;
			break;
		}
		if (!rc) {
			rc = generate(&g, rd.doc, rec, err);
			g.record++;
			if (rc && rc != LM_ENOMEM && rc != LM_EPIPE && rc != LM_EIO)
				lm_error_prefix(err, "%s:%llu: ", in->name, (unsigned long long)rd.line);
		}
		if ((rc == LM_EFORMAT || rc == LM_EINVAL) && cfg->skip_bad) {
			stats->bad++;
			if (cfg->report_bad)
				cfg->report_bad(err, cfg->report_arg);
			rc = LM_OK;
			continue;
		}
		if (rc)
			break;
	}
	ndjson_close(&rd);
out:
	gen_free(&g);
	return rc;
}

int genrun_prompt(struct decoder *dec, const struct genrun_config *cfg, const char *prompt,
		  struct output *out, struct genrun_stats *stats, struct lm_error *err)
{
	struct json_doc *doc = json_doc_new();
	struct json_value *rec;
	struct gen g;
	int rc;

	if (!doc)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = gen_init(&g, dec, cfg, out, stats, err);
	if (rc)
		goto out;
	rec = json_new_object(doc);
	if (json_object_set(doc, rec, "prompt", json_new_string(doc, prompt, strlen(prompt)))) {
		rc = lm_fail(err, LM_EINVAL, "the prompt is not valid UTF-8");
		goto out;
	}
	rc = generate(&g, doc, rec, err);
out:
	gen_free(&g);
	json_doc_free(doc);
	return rc;
}

/* --- RAG (genrun.h: "RAG") ------------------------------------------------ */

/* The hits of one query, held until its qid changes. */
struct rag_query {
	struct json_doc *doc;        /* the hits' strings, the output record */
	const char *qid;             /* NULL: no query open */
	const char *query;
	uint64_t line;               /* line of its first hit */
	struct rag_passage *p;
	const char **ids;
	double *rank, *score;
	int all_rank, all_score;     /* every hit has an integer rank / a number score */
	size_t n, cap;
};

static const char *copy_str(struct json_doc *doc, const struct json_value *v)
{
	return json_string(json_copy(doc, v), NULL);
}

static int rag_grow(struct rag_query *q, struct lm_error *err)
{
	size_t cap = q->cap ? 2 * q->cap : 16;
	void *p;

	if ((p = realloc(q->p, cap * sizeof(*q->p))))
		q->p = p;
	if (p && (p = realloc(q->ids, cap * sizeof(*q->ids))))
		q->ids = p;
	if (p && (p = realloc(q->rank, cap * sizeof(*q->rank))))
		q->rank = p;
	if (p && (p = realloc(q->score, cap * sizeof(*q->score))))
		q->score = p;
	if (!p)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	q->cap = cap;
	return LM_OK;
}

/* Add hit REC (whose qid is Q's) to Q. */
static int rag_add(struct rag_query *q, const struct json_value *rec, struct lm_error *err)
{
	const struct json_value *title = json_get(rec, "title"), *text = json_get(rec, "text");
	const struct json_value *rank = json_get(rec, "rank"), *score = json_get(rec, "score");
	int64_t r = 0;
	int rc;

	if (!q->n) {
		const struct json_value *query = json_get(rec, "query");

		if (json_type(query) != JSON_STRING)
			return lm_fail(err, LM_EINVAL, "the hit has no \"query\" string (the question)");
		if (!(q->query = copy_str(q->doc, query)))
			return lm_fail(err, LM_ENOMEM, "out of memory");
		q->all_rank = q->all_score = 1;
	}
	if ((title && json_type(title) != JSON_STRING) || (text && json_type(text) != JSON_STRING) ||
	    (!title && !text))
		return lm_fail(err, LM_EINVAL, "the hit has no \"text\" (or \"title\") string");
	if (q->n == q->cap && (rc = rag_grow(q, err)))
		return rc;
	q->p[q->n].title = title ? copy_str(q->doc, title) : NULL;
	q->p[q->n].text = text ? copy_str(q->doc, text) : NULL;
	q->ids[q->n] = copy_str(q->doc, json_get(rec, "id"));
	if ((title && !q->p[q->n].title) || (text && !q->p[q->n].text) || !q->ids[q->n])
		return lm_fail(err, LM_ENOMEM, "out of memory");
	q->all_rank &= json_type(rank) == JSON_NUMBER && !json_number_int64(rank, &r);
	q->all_score &= json_type(score) == JSON_NUMBER;
	q->rank[q->n] = (double)r;
	q->score[q->n] = json_number_double(score);
	q->n++;
	return LM_OK;
}

static void rag_clear(struct rag_query *q)
{
	json_doc_reset(q->doc);
	q->qid = q->query = NULL;
	q->n = 0;
}

/* Relevance order: rank ascending, else score descending, else input
 * order; ties in input order. */
static int by_relevance(const void *a, const void *b, void *arg)
{
	const struct rag_query *q = arg;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	double ki = q->all_rank ? q->rank[i] : q->all_score ? -q->score[i] : 0;
	double kj = q->all_rank ? q->rank[j] : q->all_score ? -q->score[j] : 0;

	if (ki != kj)
		return ki < kj ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* The prompt for TEXT[0..LEN) into g->prompt: a user message with
 * chat_prompts, else the text as it is. */
static int text_tokens(struct gen *g, struct json_doc *doc, const char *text, size_t len, struct lm_error *err)
{
	g->prompt.n = 0;
	if (g->cfg->chat_prompts)
		return chat_tokens(g, doc, NULL, text, len, err);
	return tokenizer_encode(decoder_tokenizer(g->dec), text, len, TOK_ADD_SPECIAL | TOK_PARSE_SPECIAL,
				&g->prompt, err);
}

static int rag_answer(struct gen *g, struct rag_query *q, struct lm_error *err)
{
	const struct tokenizer *tok = decoder_tokenizer(g->dec);
	struct json_doc *doc = q->doc;
	struct json_value *rec, *cites;
	struct tok_ids ids = { 0 };
	uint32_t *order = malloc(q->n * sizeof(*order)), *placed = malloc(q->n * sizeof(*placed));
	size_t *cost = malloc(q->n * sizeof(*cost)), n_ctx = (size_t)decoder_n_ctx(g->dec), reserve;
	size_t budget, k, overhead, len;
	double t0 = now();
	char *text = NULL;
	int rc = LM_OK;

	if (!order || !placed || !cost) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < q->n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, q->n, sizeof(*order), by_relevance, q);
	for (size_t i = 0; i < q->n && !rc; i++) {
		char *s = rag_passage_text(&q->p[order[i]], &len);

		ids.n = 0;
		rc = s ? tokenizer_encode(tok, s, len, 0, &ids, err) : lm_fail(err, LM_ENOMEM, "out of memory");
		cost[i] = ids.n;
		free(s);
	}
	if (rc)
		goto out;
	/* room for the answer: -n tokens, at least one */
	reserve = g->cfg->n_predict >= 0 ? (size_t)g->cfg->n_predict : n_ctx / 4;
	if (reserve < 1)
		reserve = 1;
	rc = rag_prompt(q->query, q->p, order, 0, g->cfg->chat_prompts, &text, &len, err);
	rc = rc ? rc : text_tokens(g, doc, text, len, err);
	if (rc)
		goto out;
	overhead = g->prompt.n;
	budget = g->cfg->rag_budget ? g->cfg->rag_budget :
		 overhead + reserve < n_ctx ? n_ctx - reserve - overhead : 0;
	for (k = rag_select(cost, q->n, budget); k > 0; k--) {
		free(text);
		text = NULL;
		rag_place(order, k, placed);
		rc = rag_prompt(q->query, q->p, placed, k, g->cfg->chat_prompts, &text, &len, err);
		rc = rc ? rc : text_tokens(g, doc, text, len, err);
		if (rc)
			goto out;
		if (g->prompt.n + reserve <= n_ctx)
			break;
	}
	if (!k) {
		rc = lm_fail(err, LM_EINVAL, "no room for a passage: the best has %zu tokens, the budget is %zu "
			     "(context %zu, question and instructions %zu, answer %zu; see -c, -n, --rag-budget)",
			     cost[0], budget, n_ctx, overhead, reserve);
		goto out;
	}
	rec = json_new_object(doc);
	cites = json_new_array(doc);
	rc = json_object_set(doc, rec, "qid", json_new_string(doc, q->qid, strlen(q->qid)));
	rc = rc ? rc : json_object_set(doc, rec, "query", json_new_string(doc, q->query, strlen(q->query)));
	for (size_t i = 0; i < k && !rc; i++)
		rc = json_array_append(doc, cites, json_new_string(doc, q->ids[placed[i]], strlen(q->ids[placed[i]])));
	rc = rc ? rc : json_object_set(doc, rec, "citations", cites);
	if (rc) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	rc = complete(g, doc, rec, t0, err);
out:
	free(text);
	free(order);
	free(placed);
	free(cost);
	tok_ids_free(&ids);
	return rc;
}

/* Whether error RC may be skipped under --skip-bad (a data error). */
static int skippable(int rc)
{
	return rc == LM_EFORMAT || rc == LM_EINVAL;
}

static int rag_flush(struct gen *g, struct rag_query *q, const char *name, struct lm_error *err)
{
	const struct genrun_config *cfg = g->cfg;
	int rc;

	if (!q->qid)
		return LM_OK;
	rc = q->n ? rag_answer(g, q, err) : LM_OK;
	g->record++;
	if (skippable(rc))
		lm_error_prefix(err, "%s:%llu: qid %s: ", name, (unsigned long long)q->line, q->qid);
	rag_clear(q);
	if (skippable(rc) && cfg->skip_bad) {
		g->stats->bad++;
		if (cfg->report_bad)
			cfg->report_bad(err, cfg->report_arg);
		rc = LM_OK;
	}
	return rc;
}

int genrun_rag(struct decoder *dec, const struct genrun_config *cfg, struct input *in, struct output *out,
	       struct genrun_stats *stats, struct lm_error *err)
{
	struct rag_query q = { 0 };
	struct ndjson_reader rd;
	struct json_value *rec;
	struct gen g;
	int rc, open = 0;

	rc = gen_init(&g, dec, cfg, out, stats, err);
	if (rc)
		goto out;
	if (!(q.doc = json_doc_new())) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	rc = ndjson_open(&rd, in, err);
	if (rc)
		goto out;
	open = 1;
	for (;;) {
		const struct json_value *qid;

		rc = ndjson_next(&rd, &rec, err);
		if (rc == LM_EOF) {
			rc = rag_flush(&g, &q, in->name, err);
			break;
		}
		if (!rc) {
			qid = json_get(rec, "qid");
			/* the query before this hit is complete: answered
			 * (or skipped) before this hit is looked at */
			if (q.qid && json_type(qid) == JSON_STRING && strcmp(q.qid, json_string(qid, NULL)) &&
			    (rc = rag_flush(&g, &q, in->name, err)))
				break;
			if (json_type(qid) != JSON_STRING) {
				rc = lm_fail(err, LM_EINVAL, "the hit has no \"qid\" string");
			} else if (!q.qid) {
				q.line = rd.line;
				if (!(q.qid = copy_str(q.doc, qid)))
					rc = lm_fail(err, LM_ENOMEM, "out of memory");
			}
			rc = rc ? rc : rag_add(&q, rec, err);
			if (skippable(rc))
				lm_error_prefix(err, "%s:%llu: ", in->name, (unsigned long long)rd.line);
		}
		if (skippable(rc) && cfg->skip_bad) {
			stats->bad++;
			if (cfg->report_bad)
				cfg->report_bad(err, cfg->report_arg);
			rc = LM_OK;
			continue;
		}
		if (rc)
			break;
	}
out:
	if (open)
		ndjson_close(&rd);
	free(q.p);
	free(q.ids);
	free(q.rank);
	free(q.score);
	json_doc_free(q.doc);
	gen_free(&g);
	return rc;
}

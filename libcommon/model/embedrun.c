#include "model/embedrun.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "model/encoder.h"
#include "ndjson.h"
#include "tokenize/tokenizer.h"

/* Records held for one encoder_run. */
struct embed_batch {
	struct json_doc *doc;        /* the records */
	struct json_value **recs;
	uint64_t *lines;
	size_t *first;               /* index of each record's first token in ids */
	size_t n, cap;
	struct tok_ids ids;          /* every record's tokens, one after another */
	struct encoder_seq *seqs;
	float *out;
	size_t out_cap;
};

struct embed_run {
	struct encoder *enc;
	const struct embedrun_config *cfg;
	const char *file;
	struct output *out;
	struct vecstream_writer vw;
	int vw_open;
	struct embedrun_stats *stats;
	struct embed_batch b;
	struct tok_ids scratch;
	char *text;                  /* prefix + text */
	size_t text_cap;
};

int embedrun_finish_vector(float *v, int n, int dims, int normalize)
{
	double sum = 0;

	if (dims > 0 && dims < n)
		n = dims;
	if (!normalize)
		return n;
	for (int i = 0; i < n; i++)
		sum += (double)v[i] * v[i];
	if (sum > 0) {
		float inv = (float)(1.0 / sqrt(sum));

		for (int i = 0; i < n; i++)
			v[i] *= inv;
	}
	return n;
}

static int grow_batch(struct embed_batch *b, struct lm_error *err)
{
	size_t cap = b->cap ? 2 * b->cap : 64;
	struct json_value **recs = realloc(b->recs, cap * sizeof(*recs));
	uint64_t *lines;
	size_t *first;

	if (recs)
		b->recs = recs;
	lines = recs ? realloc(b->lines, cap * sizeof(*lines)) : NULL;
	if (lines)
		b->lines = lines;
	first = lines ? realloc(b->first, (cap + 1) * sizeof(*first)) : NULL;
	if (!first)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	b->first = first;
	b->cap = cap;
	return LM_OK;
}

/* Cut IDS to the context, keeping a closing SEP/EOS.  1 when it was cut. */
static int fit_context(const struct encoder *enc, struct tok_ids *ids)
{
	const struct tokenizer *tok = encoder_tokenizer(enc);
	size_t n_ctx = (size_t)encoder_n_ctx(enc);
	int32_t last;

	if (ids->n <= n_ctx)
		return 0;
	last = ids->ids[ids->n - 1];
	ids->n = n_ctx;
	if (last == tokenizer_special(tok, TOK_SEP) || last == tokenizer_special(tok, TOK_EOS))
		ids->ids[n_ctx - 1] = last;
	return 1;
}

/* PREFIX (may be NULL) + TEXT, tokenized with the model's special tokens
 * and appended to IDS; *BUF (*CAP bytes) is scratch for the joined text. */
static int encode_text(const struct tokenizer *tok, const char *prefix, const char *text, size_t len,
		       char **buf, size_t *cap, struct tok_ids *ids, struct lm_error *err)
{
	size_t plen = prefix ? strlen(prefix) : 0;

	if (plen) {
		if (plen + len > *cap) {
			char *p = realloc(*buf, plen + len);

			if (!p)
				return lm_fail(err, LM_ENOMEM, "out of memory");
			*buf = p;
			*cap = plen + len;
		}
		memcpy(*buf, prefix, plen);
		memcpy(*buf + plen, text, len);
		text = *buf;
		len += plen;
	}
	return tokenizer_encode(tok, text, len, TOK_ADD_SPECIAL, ids, err);
}

int embedrun_text(struct encoder *enc, const char *prefix, const char *text, size_t len, int dims,
		  int normalize, float *out, struct lm_error *err)
{
	struct tok_ids ids = { 0 };
	struct encoder_seq seq;
	char *buf = NULL;
	size_t cap = 0;
	int rc;

	rc = encode_text(encoder_tokenizer(enc), prefix, text, len, &buf, &cap, &ids, err);
	if (!rc && ids.n == 0)
		rc = lm_fail(err, LM_EINVAL, "the text gives no tokens");
	if (rc)
		goto out;
	fit_context(enc, &ids);
	seq = (struct encoder_seq){ ids.ids, NULL, (int)ids.n };
	rc = encoder_run(enc, &seq, 1, out, err);
	if (!rc)
		embedrun_finish_vector(out, encoder_n_out(enc), dims, normalize);
out:
	free(buf);
	tok_ids_free(&ids);
	return rc;
}

/* The record's tokens into r->scratch (see embedrun.h for the rules). */
static int record_tokens(struct embed_run *r, struct json_doc *doc, struct json_value *rec,
			 struct lm_error *err)
{
	const struct tokenizer *tok = encoder_tokenizer(r->enc);
	struct json_value *tokens = json_get(rec, "tokens");
	const char *from = json_string(json_get(rec, "tokenizer"), NULL);
	const char *text;
	size_t len, n;
	int rc;

	r->scratch.n = 0;
	if (tokens && from && !strcmp(from, tokenizer_name(tok)) && !r->cfg->prefix) {
		n = json_array_len(tokens);
		if (n > r->scratch.cap) {
			int32_t *p = realloc(r->scratch.ids, n * sizeof(*p));

			if (!p)
				return lm_fail(err, LM_ENOMEM, "out of memory");
			r->scratch.ids = p;
			r->scratch.cap = n;
		}
		rc = json_get_int_array(tokens, r->scratch.ids, r->scratch.cap, &r->scratch.n, err);
		if (rc)
			return lm_error_prefix(err, "\"tokens\": ");
	} else {
		text = ndjson_record_text(doc, rec, &len);
		if (!text) {
			if (tokens)
				return lm_fail(err, LM_EINVAL, "the record has \"tokens\" from %s%s%s and no "
					       "text; the model's tokenizer is %s", from ? "tokenizer " : "",
					       from ? from : "an unnamed tokenizer", "", tokenizer_name(tok));
			return lm_fail(err, LM_EINVAL, "the record has no \"text\"");
		}
		rc = encode_text(tok, r->cfg->prefix, text, len, &r->text, &r->text_cap, &r->scratch, err);
		if (rc)
			return rc;
	}
	if (r->scratch.n == 0)
		return lm_fail(err, LM_EINVAL, "the record has no tokens (empty text and the model adds "
			       "no special tokens)");
	for (size_t i = 0; i < r->scratch.n; i++)
		if (r->scratch.ids[i] < 0 || (size_t)r->scratch.ids[i] >= tokenizer_n_vocab(tok))
			return lm_fail(err, LM_EINVAL, "token %zu (%d) is outside the vocabulary", i,
				       r->scratch.ids[i]);
	r->stats->truncated += (uint64_t)fit_context(r->enc, &r->scratch);
	return LM_OK;
}

static int write_record(struct embed_run *r, struct json_doc *doc, struct json_value *rec, float *vec,
			int n_tok, struct lm_error *err)
{
	int n = embedrun_finish_vector(vec, encoder_n_out(r->enc), r->cfg->dims, r->cfg->normalize);
	size_t id_len = 0;
	const char *id;
	char *meta = NULL;
	size_t meta_len = 0;
	int rc;

	if (!r->cfg->binary) {
		if (json_object_set(doc, rec, "embedding", json_new_float_array(doc, vec, (size_t)n)) ||
		    json_object_set(doc, rec, "n_tokens", json_new_int(doc, n_tok)) ||
		    json_object_set(doc, rec, "model", json_new_string(doc, encoder_name(r->enc),
									strlen(encoder_name(r->enc)))) ||
		    json_object_set(doc, rec, "model_hash", json_new_string(doc, encoder_hash(r->enc),
									     strlen(encoder_hash(r->enc)))))
			return lm_fail(err, LM_ENOMEM, "out of memory");
		return ndjson_write(r->out, rec, err);
	}
	if (!r->vw_open) {
		rc = vecstream_writer_init(&r->vw, r->out, r->cfg->dtype, (uint32_t)n, VECSTREAM_META, err);
		if (rc)
			return rc;
		r->vw_open = 1;
	}
	id = json_string(json_get(rec, "id"), &id_len);
	json_object_remove(rec, "id");
	json_object_remove(rec, "tokens");
	json_object_remove(rec, "embedding");
	if (json_object_len(rec)) {
		meta = json_to_string(rec, &meta_len, err);
		if (!meta)
			return err->code;
	}
	rc = vecstream_write(&r->vw, id ? id : "", id_len, vec, meta, meta_len, err);
	free(meta);
	return rc;
}

static int flush_batch(struct embed_run *r, struct lm_error *err)
{
	struct embed_batch *b = &r->b;
	size_t out_n = (size_t)encoder_n_out(r->enc);
	struct encoder_seq *seqs;
	int rc;

	if (!b->n)
		return LM_OK;
	seqs = realloc(b->seqs, b->n * sizeof(*seqs));
	if (!seqs)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	b->seqs = seqs;
	if (b->n * out_n > b->out_cap) {
		float *p = realloc(b->out, b->n * out_n * sizeof(float));

		if (!p)
			return lm_fail(err, LM_ENOMEM, "out of memory");
		b->out = p;
		b->out_cap = b->n * out_n;
	}
	for (size_t i = 0; i < b->n; i++)
		seqs[i] = (struct encoder_seq){ b->ids.ids + b->first[i], NULL,
						(int)(b->first[i + 1] - b->first[i]) };
	rc = encoder_run(r->enc, seqs, (int)b->n, b->out, err);
	for (size_t i = 0; i < b->n && !rc; i++) {
		rc = write_record(r, b->doc, b->recs[i], b->out + i * out_n, seqs[i].n_tokens, err);
		if (rc && rc != LM_EPIPE)
			lm_error_prefix(err, "%s:%llu: ", r->file, (unsigned long long)b->lines[i]);
	}
	r->stats->records += b->n;
	b->n = 0;
	b->ids.n = 0;
	json_doc_reset(b->doc);
	return rc;
}

static int add_record(struct embed_run *r, struct json_value *rec, uint64_t line, struct lm_error *err)
{
	struct embed_batch *b = &r->b;
	int rc;

	rc = record_tokens(r, b->doc, rec, err);
	if (rc)
		return rc;
	if (b->n == b->cap && (rc = grow_batch(b, err)))
		return rc;
	b->first[b->n] = b->ids.n;
	for (size_t i = 0; i < r->scratch.n && !rc; i++)
		rc = tok_ids_push(&b->ids, r->scratch.ids[i], err);
	if (rc)
		return rc;
	b->recs[b->n] = rec;
	b->lines[b->n] = line;
	b->n++;
	b->first[b->n] = b->ids.n;
	r->stats->tokens += r->scratch.n;
	return LM_OK;
}

int embedrun_run(struct encoder *enc, const struct embedrun_config *cfg, struct input *in,
		 struct output *out, struct embedrun_stats *stats, struct lm_error *err)
{
	struct embed_run r = { .enc = enc, .cfg = cfg, .file = in->name, .out = out, .stats = stats };
	struct ndjson_reader rd;
	struct json_value *rec;
	int rc;

	r.b.doc = json_doc_new();
	if (!r.b.doc)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	rc = ndjson_open(&rd, in, err);
	if (rc)
		goto out;
	for (;;) {
		rc = ndjson_next_into(&rd, r.b.doc, &rec, err);
		if (rc == LM_EOF) {
			rc = LM_OK;
			break;
		}
		if (!rc) {
			rc = add_record(&r, rec, rd.line, err);
			if (rc && rc != LM_ENOMEM)
				lm_error_prefix(err, "%s:%llu: ", in->name, (unsigned long long)rd.line);
		}
		if (rc == LM_EFORMAT || rc == LM_EINVAL) {
			if (!cfg->skip_bad)
				break;
			/* the records before the bad one are still written first */
			stats->bad++;
			if (cfg->report_bad)
				cfg->report_bad(err, cfg->report_arg);
			rc = LM_OK;
			continue;
		}
		if (rc)
			break;
		if (r.b.ids.n >= cfg->batch_tokens && (rc = flush_batch(&r, err)))
			break;
	}
	if (!rc || rc == LM_EFORMAT || rc == LM_EINVAL) {
		/* write what came before a bad record, then report it */
		struct lm_error flush_err = { 0 };
		int frc = flush_batch(&r, rc ? &flush_err : err);

		if (!rc)
			rc = frc;
	}
	if (!rc && cfg->binary && !r.vw_open) {
		/* no records: still a valid, empty stream */
		rc = vecstream_writer_init(&r.vw, out, cfg->dtype, (uint32_t)embedrun_finish_vector(
					   NULL, encoder_n_out(enc), cfg->dims, 0), VECSTREAM_META, err);
		r.vw_open = !rc;
	}
	if (r.vw_open) {
		struct lm_error ignored = { 0 };
		int crc = vecstream_writer_close(&r.vw, rc ? &ignored : err);

		if (!rc)
			rc = crc;
	}
	ndjson_close(&rd);
out:
	json_doc_free(r.b.doc);
	free(r.b.recs);
	free(r.b.lines);
	free(r.b.first);
	free(r.b.seqs);
	free(r.b.out);
	tok_ids_free(&r.b.ids);
	tok_ids_free(&r.scratch);
	free(r.text);
	return rc;
}

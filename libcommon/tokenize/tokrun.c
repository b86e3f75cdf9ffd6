/* tokrun.c - tok(1)'s record loop: batches, modes, chunking, streaming
 * decode.  See tokrun.h for what is promised. */
#include "tokenize/tokrun.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "ndjson.h"
#include "utf8.h"

/* A batch holds at most this many records and about this many input
 * bytes, which bounds memory whatever the input length.  Batches are large
 * because each one ends in a wait for the slowest thread, and on a busy
 * machine every wait costs a trip through the scheduler. */
enum { BATCH_RECORDS = 4096, BATCH_BYTES = 4 << 20 };

/* ---- growable byte buffer -------------------------------------------- */

struct run_buf {
	char *data;
	size_t len, cap;
};

static int buf_append(struct run_buf *b, const void *p, size_t n, struct lm_error *err)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *d;

		while (cap < b->len + n)
			cap *= 2;
		if (!(d = realloc(b->data, cap)))
			return lm_fail(err, LM_ENOMEM, "out of memory (%zu bytes of output)", cap);
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return LM_OK;
}

/* ---- UTF-8 ------------------------------------------------------------ */

static int is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* Length of the maximal subpart of an ill-formed sequence at S (Unicode 15,
 * section 3.9, "U+FFFD Substitution of Maximal Subparts"): the longest
 * prefix of a well-formed sequence (Table 3-7), at least one byte. */
static size_t maximal_subpart(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 2;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 3;
	else
		return 1;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i <= need && i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			break;
		lo = 0x80;
		hi = 0xbf;
	}
	return i;
}

/* TEXT as a JSON string, ill-formed parts replaced by U+FFFD. */
static struct json_value *lossy_string(struct json_doc *doc, const char *text, size_t len)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)text;
	struct json_value *v = NULL;
	char *fixed;
	size_t i = 0, o = 0;

	if (utf8_validate(text, len) == len)
		return json_new_string(doc, text, len);
	/* Each replaced subpart is at least one byte and becomes three. */
	if (!(fixed = malloc(3 * len + 1)))
		return NULL;
	while (i < len) {
		size_t ok = utf8_validate(s + i, len - i), bad;

		memcpy(fixed + o, s + i, ok);
		o += ok;
		i += ok;
		if (i == len)
			break;
		bad = maximal_subpart(s + i, len - i);
		memcpy(fixed + o, fffd, 3);
		o += 3;
		i += bad;
	}
	v = json_new_string(doc, fixed, o);
	free(fixed);
	return v;
}

/* ---- chunking --------------------------------------------------------- */

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

struct chunker {
	const char *text;
	size_t len, max, overlap, base;
	double bytes_per_token;
	tokrun_count_fn *count;
	void *arg;
	struct lm_error *err;
};

static size_t char_next(const struct chunker *ck, size_t p)
{
	p++;
	while (p < ck->len && is_cont((unsigned char)ck->text[p]))
		p++;
	return p;
}

static size_t char_floor(const struct chunker *ck, size_t p)
{
	while (p > 0 && p < ck->len && is_cont((unsigned char)ck->text[p]))
		p--;
	return p;
}

static size_t char_ceil(const struct chunker *ck, size_t p)
{
	while (p < ck->len && is_cont((unsigned char)ck->text[p]))
		p++;
	return p;
}

static int tokens_of(struct chunker *ck, size_t s, size_t e, size_t *n)
{
	return ck->count(ck->arg, ck->text + s, e - s, n, ck->err);
}

/* The farthest character boundary E in [S, len] such that TEXT[S..E) has
 * at most MAX tokens, found by doubling a guess and then bisecting (token
 * counts grow with the text, up to merges at the edge, which the caller's
 * final check covers). */
static int find_reach(struct chunker *ck, size_t s, size_t *reach)
{
	size_t lo = s, hi, g, n, step;
	int rc;

	step = (size_t)(ck->max * ck->bytes_per_token);
	if (step < 16)
		step = 16;
	for (;;) {
		g = s + step < ck->len ? char_ceil(ck, s + step) : ck->len;
		if ((rc = tokens_of(ck, s, g, &n)))
			return rc;
		if (n > ck->max) {
			hi = g;
			break;
		}
		lo = g;
		if (g == ck->len) {
			*reach = g;
			return LM_OK;
		}
		step *= 2;
	}
	for (;;) {
		size_t mid = char_floor(ck, lo + (hi - lo) / 2);

		if (mid <= lo)
			mid = char_next(ck, lo);
		if (mid >= hi)
			break;
		if ((rc = tokens_of(ck, s, mid, &n)))
			return rc;
		if (n <= ck->max)
			lo = mid;
		else
			hi = mid;
	}
	*reach = lo;
	return LM_OK;
}

/* 1 when the text before C ends a sentence: '.', '!' or '?' and then any
 * closing quotes and brackets. */
static int ends_sentence(const struct chunker *ck, size_t lo, size_t c)
{
	const unsigned char *t = (const unsigned char *)ck->text;

	while (c > lo) {
		unsigned char b = t[c - 1];

		if (b == '.' || b == '!' || b == '?')
			return 1;
		if (b == '"' || b == '\'' || b == ')' || b == ']')
			c--;
		else if (c - lo >= 3 && t[c - 3] == 0xe2 && t[c - 2] == 0x80 &&
			 (b == 0x9d || b == 0x99))      /* ” ’ */
			c -= 3;
		else if (c - lo >= 2 && t[c - 2] == 0xc2 && b == 0xbb)  /* » */
			c -= 2;
		else
			return 0;
	}
	return 0;
}

/* 1 when the three bytes before C are U+3002 (。), U+FF01 (！) or U+FF1F
 * (？), which end sentences without a following space. */
static int ends_cjk_sentence(const struct chunker *ck, size_t lo, size_t c)
{
	const unsigned char *t = (const unsigned char *)ck->text + c - 3;

	if (c < lo + 3)
		return 0;
	return (t[0] == 0xe3 && t[1] == 0x80 && t[2] == 0x82) ||
	       (t[0] == 0xef && t[1] == 0xbc && (t[2] == 0x81 || t[2] == 0x9f));
}

enum cut_kind { CUT_CHAR, CUT_SPACE, CUT_SENTENCE, CUT_PARAGRAPH, CUT_KINDS };

/* The best cut in [LOWER, REACH] for a span starting at S (see tokrun.h). */
static size_t best_cut(const struct chunker *ck, size_t s, size_t lower, size_t reach)
{
	const unsigned char *t = (const unsigned char *)ck->text;
	size_t best[CUT_KINDS] = { 0 }, c;
	int k;

	best[CUT_CHAR] = reach;
	for (c = reach; c >= lower && c > s && !best[CUT_PARAGRAPH]; c--) {
		if (c < ck->len && is_space(t[c]) && !is_space(t[c - 1])) {
			size_t e, lf = 0;

			for (e = c; e < ck->len && is_space(t[e]) && lf < 2; e++)
				lf += t[e] == '\n';
			if (lf >= 2)
				best[CUT_PARAGRAPH] = c;
			else if (!best[CUT_SENTENCE] && ends_sentence(ck, s, c))
				best[CUT_SENTENCE] = c;
			else if (!best[CUT_SPACE])
				best[CUT_SPACE] = c;
		} else if (!best[CUT_SENTENCE] && ends_cjk_sentence(ck, s, c)) {
			best[CUT_SENTENCE] = c;
		}
	}
	for (k = CUT_KINDS - 1; k > CUT_CHAR; k--)
		if (best[k])
			return best[k];
	return reach;
}

/* Where the span after one ending at C starts with overlap: the earliest
 * word start (else character) P in (S, C) with at most OVERLAP tokens in
 * TEXT[P..C), special tokens not counted; NEXT (no overlap) when none. */
static int overlap_start(struct chunker *ck, size_t s, size_t c, size_t next, size_t *start)
{
	const unsigned char *t = (const unsigned char *)ck->text;
	size_t lo = s, hi = c, n, p;
	int rc;

	for (;;) {
		size_t mid = char_floor(ck, lo + (hi - lo) / 2);

		if (mid <= lo)
			mid = char_next(ck, lo);
		if (mid >= hi)
			break;
		if ((rc = tokens_of(ck, mid, c, &n)))
			return rc;
		if (n - ck->base <= ck->overlap)
			hi = mid;
		else
			lo = mid;
	}
	/* Moving right to a word start only removes tokens. */
	for (p = hi; p < c && !(is_space(t[p - 1]) && !is_space(t[p])); p++)
		;
	if (p == c)
		p = hi;
	while (p < c && is_space(t[p]))
		p++;
	*start = p < c ? p : next;
	return LM_OK;
}

static int push_span(struct tokrun_span **spans, size_t *n, size_t *cap, size_t s, size_t e,
		     struct lm_error *err)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 8;
		struct tokrun_span *p = realloc(*spans, nc * sizeof *p);

		if (!p)
			return lm_fail(err, LM_ENOMEM, "out of memory (%zu chunks)", nc);
		*spans = p;
		*cap = nc;
	}
	(*spans)[*n].start = s;
	(*spans)[*n].end = e;
	(*n)++;
	return LM_OK;
}

int tokrun_chunk_spans(const char *text, size_t len, size_t max_tokens, size_t overlap,
		       tokrun_count_fn *count, void *arg, struct tokrun_span **spans,
		       size_t *n_spans, struct lm_error *err)
{
	struct chunker ck = {
		.text = text, .len = len, .max = max_tokens, .overlap = overlap,
		.bytes_per_token = 4.0, .count = count, .arg = arg, .err = err,
	};
	struct tokrun_span *sp = NULL;
	size_t n = 0, cap = 0, s = 0, reach, c, next, prev_next = 0, lower, ntok;
	int have_prev = 0, rc;

	if ((rc = count(arg, text, 0, &ck.base, err)))
		goto out;
	for (;;) {
		if ((rc = find_reach(&ck, s, &reach)))
			goto out;
		if (have_prev && reach <= prev_next && s != prev_next) {
			/* The overlap leaves no room for new text. */
			s = prev_next;
			continue;
		}
		if (reach == s && s < len) {
			rc = lm_fail(err, LM_EINVAL,
				     "--chunk %zu is too small: the text at byte %zu does not fit",
				     max_tokens, s);
			goto out;
		}
		if (reach == len) {
			rc = push_span(&sp, &n, &cap, s, len, err);
			goto out;
		}
		lower = s + (reach - s) / 2;
		if (have_prev && lower <= prev_next)
			lower = prev_next + 1;
		c = lower <= reach ? best_cut(&ck, s, lower, reach) : reach;
		if (c == reach) {
			/* A cut inside a long white space run: end before it. */
			while (c > s && is_space((unsigned char)text[c - 1]))
				c--;
			if (c == s)
				c = reach;
		}
		if (c != reach) {
			if ((rc = tokens_of(&ck, s, c, &ntok)))
				goto out;
			if (ntok > max_tokens)
				c = reach;
		}
		if ((rc = tokens_of(&ck, s, c, &ntok)))
			goto out;
		if (ntok > ck.base)
			ck.bytes_per_token = (double)(c - s) / (double)(ntok - ck.base);
		if ((rc = push_span(&sp, &n, &cap, s, c, err)))
			goto out;
		for (next = c; next < len && is_space((unsigned char)text[next]); next++)
			;
		if (next >= len)
			break;
		have_prev = 1;
		prev_next = next;
		if (overlap) {
			if ((rc = overlap_start(&ck, s, c, next, &s)))
				goto out;
		} else {
			s = next;
		}
	}
	rc = LM_OK;
out:
	if (rc) {
		free(sp);
		sp = NULL;
		n = 0;
	}
	*spans = sp;
	*n_spans = n;
	return rc;
}

/* ---- streaming decode ----------------------------------------------------- */

void tokrun_decoder_init(struct tokrun_decoder *d, const struct tokenizer *tok)
{
	memset(d, 0, sizeof *d);
	d->tok = tok;
}

void tokrun_decoder_free(struct tokrun_decoder *d)
{
	tok_ids_free(&d->ids);
}

/* Write the text ids[read..n) add to ids[0..read); with FINAL also an
 * incomplete UTF-8 end. */
static int decoder_step(struct tokrun_decoder *d, int final, struct output *out,
			struct lm_error *err)
{
	char *prefix = NULL, *full = NULL;
	size_t plen = 0, flen = 0, tail;
	int rc;

	if ((rc = tokenizer_decode(d->tok, d->ids.ids, d->read, &prefix, &plen, err)) ||
	    (rc = tokenizer_decode(d->tok, d->ids.ids, d->ids.n, &full, &flen, err)))
		goto out;
	if (flen <= plen) {
		/* Nothing new to show yet (ids that decode to nothing). */
		rc = LM_OK;
		goto out;
	}
	tail = final ? 0 : utf8_incomplete_tail(full + plen, flen - plen);
	if (tail) {
		rc = LM_OK;
		goto out;
	}
	if ((rc = output_write(out, full + plen, flen - plen, err)))
		goto out;
	/* The ids just written stay as the left context of what follows. */
	memmove(d->ids.ids, d->ids.ids + d->read, (d->ids.n - d->read) * sizeof *d->ids.ids);
	d->ids.n -= d->read;
	d->read = d->ids.n;
out:
	free(prefix);
	free(full);
	return rc;
}

int tokrun_decoder_push(struct tokrun_decoder *d, const int32_t *ids, size_t n,
			struct output *out, struct lm_error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = tok_ids_push(&d->ids, ids[i], err)))
			return rc;
	return n ? decoder_step(d, 0, out, err) : LM_OK;
}

int tokrun_decoder_finish(struct tokrun_decoder *d, struct output *out, struct lm_error *err)
{
	return d->read < d->ids.n ? decoder_step(d, 1, out, err) : LM_OK;
}

/* Raw --decode: ids as decimal numbers separated by white space, decoded
 * as they arrive (read(2) returns what a pipe has, so a slow producer's
 * text appears as it comes). */
static int decode_raw(const struct tokenizer *tok, struct input *in, struct output *out,
		      struct tokrun_stats *st, struct lm_error *err)
{
	struct tokrun_decoder d;
	struct tok_ids batch = { 0 };
	unsigned char buf[65536];
	uint64_t offset = 0, num_off = 0;
	int64_t num = -1;
	int rc;

	tokrun_decoder_init(&d, tok);
	for (;;) {
		ssize_t got;
		size_t i;

		/* Bytes input.h has buffered come first. */
		if (in->pos < in->len) {
			got = (ssize_t)(in->len - in->pos);
			if ((size_t)got > sizeof buf)
				got = sizeof buf;
			memcpy(buf, in->buf + in->pos, (size_t)got);
			in->pos += (size_t)got;
		} else {
			got = read(in->fd, buf, sizeof buf);
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = lm_fail_errno(err, "%s: read", in->name);
			goto out;
		}
		batch.n = 0;
		for (i = 0; i < (size_t)got; i++, offset++) {
			unsigned char c = buf[i];

			if (c >= '0' && c <= '9') {
				if (num < 0) {
					num = 0;
					num_off = offset;
				}
				num = num * 10 + (c - '0');
				if (num > INT32_MAX) {
					rc = lm_fail(err, LM_EFORMAT,
						     "%s: byte %" PRIu64 ": token id out of range",
						     in->name, num_off + 1);
					goto out;
				}
			} else if (is_space(c)) {
				if (num >= 0 && (rc = tok_ids_push(&batch, (int32_t)num, err)))
					goto out;
				num = -1;
			} else {
				rc = lm_fail(err, LM_EFORMAT,
					     "%s: byte %" PRIu64 ": expected a token id (a decimal "
					     "number), found byte 0x%02x", in->name, offset + 1, c);
				goto out;
			}
		}
		if (got == 0 && num >= 0) {
			if ((rc = tok_ids_push(&batch, (int32_t)num, err)))
				goto out;
			num = -1;
		}
		st->tokens += batch.n;
		if ((rc = tokrun_decoder_push(&d, batch.ids, batch.n, out, err)))
			goto out;
		if (got == 0)
			break;
		if ((rc = output_flush(out, err)))
			goto out;
	}
	if ((rc = tokrun_decoder_finish(&d, out, err)))
		goto out;
	st->records++;
	st->outputs++;
	rc = LM_OK;
out:
	if (rc == LM_EINVAL)
		lm_error_prefix(err, "%s: ", in->name);
	tok_ids_free(&batch);
	tokrun_decoder_free(&d);
	return rc;
}

/* ---- records ---------------------------------------------------------- */

/* One input line and what became of it.  The reader only copies lines;
 * parsing, tokenizing and serialising happen on the worker threads. */
struct slot {
	struct json_doc *doc;     /* the thread's document while it is worked on */
	struct json_value *rec;
	const char *raw_text;     /* raw mode: the text, else NULL */
	size_t raw_len;
	char *lbuf;               /* the input line, then '\n' and a spare byte */
	size_t lbuf_len, lbuf_off; /* LBUF is the batch's text at LBUF_OFF */
	int blank;                /* a blank line: no record */
	uint64_t line_no;         /* of the input line */
	uint64_t line;            /* of the record, for messages */
	int rc;
	struct lm_error err;
	struct run_buf out;
	uint64_t tokens, bytes, outputs;
};

/* Lines read together (tokrun_run keeps two batches). */
struct batch {
	struct slot *slots;
	size_t n;                 /* slots in use */
	int end;                  /* the input ended (or failed) after these */
	int rc;                   /* reading failed after these: the error */
	struct lm_error err;
	char *text;               /* the lines, one after another: one buffer */
	size_t text_len, text_cap; /* per batch, so memory stays as it was */
};

struct run {
	const struct tokenizer *tok;
	const struct tokrun_config *cfg;
	const char *name;         /* input name for messages */
	struct input *in;
	struct output *out;
	struct tokrun_stats *st;
	struct batch *work;       /* being tokenized */
	struct batch *flush;      /* tokenized, to be written first (or NULL) */
	struct batch *fill;       /* to be read into after that (or NULL) */
	int io_rc;                /* what writing FLUSH or reading FILL hit */
	struct lm_error io_err;
	struct tok_ids *scratch;  /* one per thread */
	struct json_doc **docs;   /* one per thread: a record lives in it only
				     while its task runs */
};

static int slot_fail(struct run *run, struct slot *sl, int code, const char *what)
{
	return lm_fail(&sl->err, code, "%s:%" PRIu64 ": %s", run->name, sl->line, what);
}

static int write_record(struct slot *sl, const struct json_value *rec)
{
	size_t len;
	char *s = json_to_string(rec, &len, &sl->err);
	int rc;

	if (!s)
		return sl->err.code ? sl->err.code : LM_ENOMEM;
	rc = buf_append(&sl->out, s, len, &sl->err);
	if (!rc)
		rc = buf_append(&sl->out, "\n", 1, &sl->err);
	free(s);
	sl->outputs++;
	return rc;
}

static const char *slot_text(struct slot *sl, size_t *len)
{
	if (sl->raw_text) {
		*len = sl->raw_len;
		return sl->raw_text;
	}
	return ndjson_record_text(sl->doc, sl->rec, len);
}

static int encode_into(struct run *run, struct slot *sl, const char *text, size_t len,
		       struct tok_ids *ids)
{
	int rc;

	ids->n = 0;
	if ((rc = tokenizer_encode(run->tok, text, len, run->cfg->flags, ids, &sl->err)))
		lm_error_prefix(&sl->err, "%s:%" PRIu64 ": ", run->name, sl->line);
	return rc;
}

/* "tokenizer" beside "tokens" names the ids' tokenizer (tokenizer_name), so
 * embed and generate can tell whether they may use the ids as they are. */
static int set_tokenizer(struct run *run, struct json_doc *doc, struct json_value *rec)
{
	const char *name = tokenizer_name(run->tok);

	return json_object_set(doc, rec, "tokenizer", json_new_string(doc, name, strlen(name)));
}

static int do_encode(struct run *run, struct slot *sl, struct tok_ids *ids)
{
	struct json_doc *doc = sl->doc;
	const char *text;
	size_t len;
	int rc;

	if (!(text = slot_text(sl, &len)))
		return slot_fail(run, sl, LM_EFORMAT, "record has no \"text\" or \"title\" string");
	if ((rc = encode_into(run, sl, text, len, ids)))
		return rc;
	if (run->cfg->mode == TOKRUN_ENCODE &&
	    json_object_set(doc, sl->rec, "tokens", json_new_int_array(doc, ids->ids, ids->n)))
		return slot_fail(run, sl, LM_ENOMEM, "out of memory");
	if (json_object_set(doc, sl->rec, "n_tokens", json_new_int(doc, (int64_t)ids->n)) ||
	    (run->cfg->mode == TOKRUN_ENCODE && set_tokenizer(run, doc, sl->rec)))
		return slot_fail(run, sl, LM_ENOMEM, "out of memory");
	sl->tokens += ids->n;
	sl->bytes += len;
	return write_record(sl, sl->rec);
}

static int do_decode(struct run *run, struct slot *sl, struct tok_ids *ids)
{
	struct json_doc *doc = sl->doc;
	struct json_value *v = json_get(sl->rec, "tokens");
	char *text = NULL;
	size_t n, len;
	int rc;

	if (json_type(v) != JSON_ARRAY)
		return slot_fail(run, sl, LM_EFORMAT, "record has no \"tokens\" array to decode");
	n = json_array_len(v);
	ids->n = 0;
	while (ids->cap < n)
		if ((rc = tok_ids_push(ids, 0, &sl->err)))
			return rc;
	if ((rc = json_get_int_array(v, ids->ids, ids->cap, &n, &sl->err))) {
		lm_error_prefix(&sl->err, "%s:%" PRIu64 ": \"tokens\": ", run->name, sl->line);
		return rc;
	}
	if ((rc = tokenizer_decode(run->tok, ids->ids, n, &text, &len, &sl->err))) {
		lm_error_prefix(&sl->err, "%s:%" PRIu64 ": ", run->name, sl->line);
		return rc;
	}
	if (json_object_set(doc, sl->rec, "text", lossy_string(doc, text, len)))
		rc = slot_fail(run, sl, LM_ENOMEM, "out of memory");
	free(text);
	if (rc)
		return rc;
	sl->tokens += n;
	sl->bytes += len;
	return write_record(sl, sl->rec);
}

struct chunk_count {
	struct run *run;
	struct slot *sl;
	struct tok_ids *ids;
};

static int chunk_count_fn(void *arg, const char *text, size_t len, size_t *n, struct lm_error *err)
{
	struct chunk_count *cc = arg;
	int rc;

	(void)err;
	if ((rc = encode_into(cc->run, cc->sl, text, len, cc->ids)))
		return rc;
	*n = cc->ids->n;
	return LM_OK;
}

/* One record per span: the input's fields in order with "id", "text"
 * replaced and "title" dropped, then "tokens" and "n_tokens". */
static int do_chunk(struct run *run, struct slot *sl, struct tok_ids *ids)
{
	struct json_doc *doc = sl->doc;
	struct chunk_count cc = { run, sl, ids };
	struct tokrun_span *spans = NULL;
	const char *text, *docid;
	size_t len, n_spans = 0, i, m, idlen;
	char *id = NULL;
	int rc;

	if (!(text = slot_text(sl, &len)))
		return slot_fail(run, sl, LM_EFORMAT, "record has no \"text\" or \"title\" string");
	if (sl->raw_text && utf8_validate(text, len) != len)
		return lm_fail(&sl->err, LM_EFORMAT, "%s: byte %zu: invalid UTF-8", run->name,
			       utf8_validate(text, len) + 1);
	docid = json_string(json_get(sl->rec, "id"), &idlen);
	if ((rc = tokrun_chunk_spans(text, len, run->cfg->chunk_tokens, run->cfg->chunk_overlap,
				     chunk_count_fn, &cc, &spans, &n_spans, &sl->err))) {
		if (rc == LM_EINVAL)
			lm_error_prefix(&sl->err, "%s:%" PRIu64 ": ", run->name, sl->line);
		goto out;
	}
	if (!(id = malloc(idlen + 24))) {
		rc = slot_fail(run, sl, LM_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n_spans; i++) {
		const char *ct = text + spans[i].start;
		size_t clen = spans[i].end - spans[i].start;
		struct json_value *o = json_new_object(doc);
		int idn;

		if ((rc = encode_into(run, sl, ct, clen, ids)))
			goto out;
		/* memcpy, not %s: an id may hold U+0000. */
		memcpy(id, docid, idlen);
		idn = (int)idlen + snprintf(id + idlen, 24, "#%zu", i);
		if (!o || json_object_set(doc, o, "id", json_new_string(doc, id, (size_t)idn))) {
			rc = slot_fail(run, sl, LM_ENOMEM, "out of memory");
			goto out;
		}
		for (m = 0; m < json_object_len(sl->rec); m++) {
			const char *key = json_object_key(sl->rec, m);
			struct json_value *val;

			if (!strcmp(key, "id") || !strcmp(key, "title") || !strcmp(key, "tokens") ||
			    !strcmp(key, "n_tokens") || !strcmp(key, "tokenizer"))
				continue;
			if (!strcmp(key, "text"))
				val = json_new_string(doc, ct, clen);
			else
				val = json_copy(doc, json_object_value(sl->rec, m));
			if (json_object_set(doc, o, key, val)) {
				rc = slot_fail(run, sl, LM_ENOMEM, "out of memory");
				goto out;
			}
		}
		if (json_object_set(doc, o, "text", json_new_string(doc, ct, clen)) ||
		    json_object_set(doc, o, "tokens", json_new_int_array(doc, ids->ids, ids->n)) ||
		    json_object_set(doc, o, "n_tokens", json_new_int(doc, (int64_t)ids->n)) ||
		    set_tokenizer(run, doc, o)) {
			rc = slot_fail(run, sl, LM_ENOMEM, "out of memory");
			goto out;
		}
		sl->tokens += ids->n;
		if ((rc = write_record(sl, o)))
			goto out;
	}
	sl->bytes += len;
	rc = LM_OK;
out:
	free(id);
	free(spans);
	return rc;
}

/* Parse the slot's line as ndjson_next_into would have read it from the
 * input: a reader over an input that holds just this line, with the line
 * counter where the real input had it, gives the same records, ids and
 * messages. */
static int parse_slot(struct run *run, struct slot *sl)
{
	struct input one;
	struct ndjson_reader rd;
	int rc;

	memset(&one, 0, sizeof one);
	memset(&rd, 0, sizeof rd);
	one.fd = -1;
	one.name = (char *)run->name;
	one.buf = (unsigned char *)sl->lbuf;
	one.cap = one.len = sl->lbuf_len + 1;
	one.eof = 1;
	one.line = sl->line_no - 1;
	rd.in = &one;
	rc = ndjson_next_into(&rd, sl->doc, &sl->rec, &sl->err);
	if (rc == LM_EOF) {
		sl->blank = 1;
		return LM_OK;
	}
	sl->line = rd.line;
	return rc;
}

static void process_slot(struct run *run, struct slot *sl, int thread)
{
	struct tok_ids *ids = &run->scratch[thread];

	if (!sl->raw_text) {
		sl->doc = run->docs[thread];
		json_doc_reset(sl->doc);
		if ((sl->rc = parse_slot(run, sl)) || sl->blank)
			return;
	}
	switch (run->cfg->mode) {
	case TOKRUN_ENCODE:
	case TOKRUN_COUNT:
		sl->rc = do_encode(run, sl, ids);
		break;
	case TOKRUN_DECODE:
		sl->rc = do_decode(run, sl, ids);
		break;
	case TOKRUN_CHUNK:
		sl->rc = do_chunk(run, sl, ids);
		break;
	}
}

/* Write B's outputs in order; a failed record ends the run (or is reported
 * and counted with skip_bad), and so does a read error after B's
 * records. */
static int flush_batch(struct run *run, struct batch *b, struct lm_error *err)
{
	struct tokrun_stats *st = run->st;
	size_t i;
	int rc;

	for (i = 0; i < b->n; i++) {
		struct slot *sl = &b->slots[i];

		if (sl->blank)
			continue;
		if (sl->rc && sl->rc != LM_ENOMEM && run->cfg->skip_bad) {
			if (run->cfg->report_bad)
				run->cfg->report_bad(&sl->err, run->cfg->report_arg);
			st->bad++;
			continue;
		}
		if (sl->rc) {
			*err = sl->err;
			err->code = sl->rc;
			return sl->rc;
		}
		if ((rc = output_write(run->out, sl->out.data, sl->out.len, err)))
			return rc;
		st->records++;
		st->outputs += sl->outputs;
		st->tokens += sl->tokens;
		st->bytes += sl->bytes;
	}
	if (b->rc) {
		*err = b->err;
		err->code = b->rc;
		return b->rc;
	}
	return LM_OK;
}

static void slot_reset(struct slot *sl)
{
	sl->doc = NULL;
	sl->rec = NULL;
	sl->raw_text = NULL;
	sl->blank = 0;
	sl->rc = LM_OK;
	sl->err.code = 0;
	sl->err.msg[0] = 0;
	sl->out.len = 0;
	sl->tokens = sl->bytes = sl->outputs = 0;
}

/* Copy the next lines of the input into B, up to a record count and a
 * byte budget. */
static void read_batch(struct run *run, struct batch *b)
{
	size_t bytes = 0, i;

	b->n = 0;
	b->rc = LM_OK;
	b->text_len = 0;
	while (b->n < BATCH_RECORDS && bytes < BATCH_BYTES) {
		struct slot *sl = &b->slots[b->n];
		char *line;
		size_t len;
		int rc = input_line(run->in, &line, &len, 0, &b->err);

		if (rc == LM_EOF) {
			b->end = 1;
			break;
		}
		if (rc) {
			b->rc = rc;
			b->end = 1;
			break;
		}
		slot_reset(sl);
		if (b->text_len + len + 2 > b->text_cap) {
			size_t cap = b->text_cap ? b->text_cap : 1 << 16;
			char *p;

			while (cap < b->text_len + len + 2)
				cap *= 2;
			if (!(p = realloc(b->text, cap))) {
				b->rc = lm_fail(&b->err, LM_ENOMEM, "%s:%" PRIu64 ": out of memory",
						run->name, run->in->line);
				b->end = 1;
				break;
			}
			b->text = p;
			b->text_cap = cap;
		}
		memcpy(b->text + b->text_len, line, len);
		b->text[b->text_len + len] = '\n';
		b->text[b->text_len + len + 1] = 0;
		sl->lbuf_off = b->text_len;
		sl->lbuf_len = len;
		sl->line_no = run->in->line;
		b->text_len += len + 2;
		bytes += len;
		b->n++;
	}
	for (i = 0; i < b->n; i++)
		b->slots[i].lbuf = b->text + b->slots[i].lbuf_off;
}

/* Task 0 of a round is the input and output: write the batch tokenized in
 * the round before, then read the next one, while the other threads
 * tokenize this round's batch (tasks 1..n). */
static void round_task(int64_t task, int thread, void *arg)
{
	struct run *run = arg;

	if (task > 0) {
		process_slot(run, &run->work->slots[task - 1], thread);
		return;
	}
	if (run->flush && (run->io_rc = flush_batch(run, run->flush, &run->io_err)))
		return;
	if (run->fill)
		read_batch(run, run->fill);
}

static int batch_alloc(struct batch *b, struct lm_error *err)
{
	if (!(b->slots = calloc(BATCH_RECORDS, sizeof *b->slots)))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	return LM_OK;
}

static void batch_free(struct batch *b)
{
	size_t i;

	if (!b->slots)
		return;
	for (i = 0; i < BATCH_RECORDS; i++)
		free(b->slots[i].out.data);
	free(b->slots);
	free(b->text);
}

/* The whole input as one text (raw mode): peek until input.h holds it
 * all. */
static int slurp(struct input *in, const unsigned char **text, size_t *len, struct lm_error *err)
{
	size_t want = 1 << 16;

	for (;;) {
		long got = input_peek(in, want, text, err);

		if (got < 0)
			return (int)got;
		if ((size_t)got < want) {
			*len = (size_t)got;
			return LM_OK;
		}
		want *= 2;
	}
}

static int run_raw(struct run *run, struct lm_error *err)
{
	struct slot sl;
	const unsigned char *text = NULL;
	const char *id = run->in->fd == 0 ? "stdin" : run->in->name;
	size_t len = 0;
	int rc;

	memset(&sl, 0, sizeof sl);
	if (!(sl.doc = json_doc_new()))
		return lm_fail(err, LM_ENOMEM, "out of memory");
	if ((rc = slurp(run->in, &text, &len, err)))
		goto out;
	sl.raw_text = (const char *)text;
	sl.raw_len = len;
	sl.line = 1;
	sl.rec = json_new_object(sl.doc);
	if (!sl.rec || json_object_set(sl.doc, sl.rec, "id", json_new_string(sl.doc, id, strlen(id)))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	process_slot(run, &sl, 0);
	{
		struct batch b = { .slots = &sl, .n = 1 };

		rc = flush_batch(run, &b, err);
	}
out:
	json_doc_free(sl.doc);
	free(sl.out.data);
	return rc;
}

/* Rounds over two batches: while batch W is tokenized, the batch of the
 * round before is written and the next one read into its place, so
 * reading and writing overlap tokenizing and at most two batches are held
 * at a time.  Parsing is part of each record's task. */
int tokrun_run(const struct tokenizer *tok, const struct tokrun_config *cfg,
	       struct threadpool *pool, struct input *in, struct output *out,
	       struct tokrun_stats *st, struct lm_error *err)
{
	struct run run = { .tok = tok, .cfg = cfg, .name = in->name, .in = in, .out = out, .st = st };
	struct batch b[2];
	int threads = pool ? threadpool_threads(pool) : 1, cur = 0, rc;
	size_t i;

	memset(b, 0, sizeof b);
	if (cfg->mode == TOKRUN_CHUNK && (cfg->chunk_tokens == 0 ||
					  cfg->chunk_overlap >= cfg->chunk_tokens))
		return lm_fail(err, LM_EINVAL, "chunk size %zu with overlap %zu: the overlap must be "
			       "smaller than the chunk", cfg->chunk_tokens, cfg->chunk_overlap);
	if (cfg->raw && cfg->mode == TOKRUN_DECODE)
		return decode_raw(tok, in, out, st, err);

	run.scratch = calloc((size_t)threads, sizeof *run.scratch);
	run.docs = calloc((size_t)threads, sizeof *run.docs);
	if (!run.scratch || !run.docs) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < (size_t)threads; i++)
		if (!(run.docs[i] = json_doc_new())) {
			rc = lm_fail(err, LM_ENOMEM, "out of memory");
			goto out;
		}
	if (cfg->raw) {
		rc = run_raw(&run, err);
		goto out;
	}
	if ((rc = batch_alloc(&b[0], err)) || (rc = batch_alloc(&b[1], err)))
		goto out;
	read_batch(&run, &b[0]);
	for (;;) {
		struct batch *w = &b[cur];

		run.work = w;
		run.fill = w->end ? NULL : &b[cur ^ 1];
		if (pool && w->n > 0)
			threadpool_run(pool, (int64_t)w->n + 1, round_task, &run);
		else
			for (i = 0; i <= w->n; i++)
				round_task((int64_t)i, 0, &run);
		if (run.io_rc) {
			*err = run.io_err;
			err->code = rc = run.io_rc;
			goto out;
		}
		if (!run.fill) {
			rc = flush_batch(&run, w, err);
			goto out;
		}
		run.flush = w;
		cur ^= 1;
	}
out:
	batch_free(&b[0]);
	batch_free(&b[1]);
	for (i = 0; i < (size_t)threads; i++) {
		if (run.scratch)
			tok_ids_free(&run.scratch[i]);
		if (run.docs)
			json_doc_free(run.docs[i]);
	}
	free(run.scratch);
	free(run.docs);
	return rc;
}

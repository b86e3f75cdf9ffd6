/* tokenizer.c - the encode/decode pipeline and format dispatch (see
 * tokenizer.h, tokenizer_impl.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/bpe.h"
#include "tokenize/pretok.h"
#include "tokenize/tokenizer_impl.h"
#include "utf8.h"

int tok_ids_push(struct tok_ids *ids, int32_t id, struct lm_error *err)
{
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 64;
		int32_t *p = realloc(ids->ids, cap * sizeof(*p));
		if (!p)
			return lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
		ids->ids = p;
		ids->cap = cap;
	}
	ids->ids[ids->n++] = id;
	return 0;
}

void tok_ids_free(struct tok_ids *ids)
{
	free(ids->ids);
	ids->ids = NULL;
	ids->n = ids->cap = 0;
}

int tok_buf_append(struct tok_buf *b, const void *s, size_t n, struct lm_error *err)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			return lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
		b->data = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

void tok_buf_free(struct tok_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int tok_new(struct tokenizer **tok, struct lm_error *err)
{
	struct tokenizer *t = calloc(1, sizeof(*t));

	if (!t)
		return lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
	for (int i = 0; i < TOK_SPECIAL_COUNT; i++)
		t->special[i] = -1;
	t->decoder = TOK_DECODE_BYTES;
	t->added_lone[0] = t->added_lone[1] = -1;   /* tok_finish knows better */
	*tok = t;
	return 0;
}

int tok_add_added(struct tokenizer *tok, const char *text, size_t len, int32_t id, int special,
		  struct lm_error *err)
{
	if (len == 0)
		return lm_fail(err, LM_EFORMAT, "added token %ld: empty text", (long)id);
	struct tok_added *a = realloc(tok->added, (tok->n_added + 1) * sizeof(*a));
	if (!a)
		return lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
	tok->added = a;
	a = &a[tok->n_added];
	memset(a, 0, sizeof(*a));
	a->text = malloc(len + 1);
	if (!a->text)
		return lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
	memcpy(a->text, text, len);
	a->text[len] = 0;
	a->len = len;
	a->id = id;
	a->special = !!special;
	tok->n_added++;
	return 0;
}

void tokenizer_free(struct tokenizer *tok)
{
	if (!tok)
		return;
	if (tok->normalizer.free)
		tok->normalizer.free(tok->normalizer.state);
	if (tok->splitter.free)
		tok->splitter.free(tok->splitter.state);
	if (tok->model.free)
		tok->model.free(tok->model.state);
	for (size_t i = 0; i < tok->n_added; i++)
		free(tok->added[i].text);
	free(tok->added);
	free(tok->prefix);
	free(tok->suffix);
	free(tok->owned_prefix);
	free(tok->dec_pool);
	free(tok->dec_off);
	free(tok->dec_join);
	vocab_free(tok->vocab);
	free(tok->name);
	free(tok);
}

static int bpe_run(const void *state, const char *piece, size_t len, struct tok_ids *out,
		   struct lm_error *err)
{
	return bpe_encode(state, piece, len, out, err);
}

static void bpe_release(void *state)
{
	bpe_free(state);
}

void tok_use_bpe(struct tokenizer *tok, struct bpe *bpe)
{
	tok->model.run = bpe_run;
	tok->model.free = bpe_release;
	tok->model.state = bpe;
}

static int pretok_run(const void *state, const char *text, size_t len, tok_piece_fn fn, void *arg)
{
	return pretok_split(state, text, len, fn, arg);
}

static void pretok_release(void *state)
{
	pretok_free(state);
}

void tok_use_pretok(struct tokenizer *tok, struct pretok *pretok)
{
	tok->splitter.run = pretok_run;
	tok->splitter.free = pretok_release;
	tok->splitter.state = pretok;
}

static int cmp_added(const void *a, const void *b)
{
	const struct tok_added *x = a, *y = b;
	unsigned char cx = (unsigned char)x->text[0], cy = (unsigned char)y->text[0];

	if (cx != cy)
		return cx < cy ? -1 : 1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Per-id decoded bytes: byte tokens <0xNN> become the byte, U+2581 a space
 * for Metaspace; "##" dropped (and the join noted) for WordPiece. */
static int build_decode_table(struct tokenizer *tok, struct lm_error *err)
{
	size_t n = vocab_size(tok->vocab);
	struct tok_buf pool = {0};
	int rc = 0;

	tok->dec_off = malloc((n + 1) * sizeof(*tok->dec_off));
	tok->dec_join = calloc(n + 1, 1);
	if (!tok->dec_off || !tok->dec_join)
		return lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *s = vocab_text(tok->vocab, (int32_t)i, &len);
		tok->dec_off[i] = (uint32_t)pool.len;
		if (!s)
			continue;
		if (tok->decoder == TOK_DECODE_METASPACE) {
			unsigned v;
			char c;
			if (vocab_token_type(tok->vocab, (int32_t)i) == VOCAB_BYTE && len == 6 &&
			    sscanf(s, "<0x%2x>", &v) == 1) {
				c = (char)v;
				if ((rc = tok_buf_append(&pool, &c, 1, err)))
					goto out;
				continue;
			}
			for (size_t k = 0; k < len; k++) {
				if (k + 3 <= len && memcmp(s + k, "\xe2\x96\x81", 3) == 0) {
					c = ' ';
					k += 2;
				} else {
					c = s[k];
				}
				if ((rc = tok_buf_append(&pool, &c, 1, err)))
					goto out;
			}
			continue;
		}
		if (tok->decoder == TOK_DECODE_WORDPIECE && tok->continuing_prefix) {
			size_t pl = strlen(tok->continuing_prefix);
			if (len >= pl && memcmp(s, tok->continuing_prefix, pl) == 0) {
				tok->dec_join[i] = 1;
				s += pl;
				len -= pl;
			}
		}
		if ((rc = tok_buf_append(&pool, s, len, err)))
			goto out;
	}
	if (pool.len > UINT32_MAX) {
		rc = lm_fail(err, LM_ENOMEM, "tokenizer: vocabulary text too large");
		goto out;
	}
	tok->dec_off[n] = (uint32_t)pool.len;
	tok->dec_pool = pool.data ? pool.data : calloc(1, 1);
	pool.data = NULL;
	if (!tok->dec_pool)
		rc = lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
out:
	tok_buf_free(&pool);
	return rc;
}

int tok_finish(struct tokenizer *tok, const char *path, struct lm_error *err)
{
	if (!tok->vocab || !tok->model.run)
		return lm_fail(err, LM_EFORMAT, "%s: no vocabulary or model", path);
	for (size_t i = 0; i < tok->n_added; i++) {
		if (tok->added[i].id < 0 || (size_t)tok->added[i].id >= vocab_size(tok->vocab))
			return lm_fail(err, LM_EFORMAT, "%s: added token %ld is outside the vocabulary",
				       path, (long)tok->added[i].id);
		tok->has_normalized_added |= tok->added[i].normalized;
	}
	if (tok->n_added)  /* qsort's pointer must be valid even for 0 items */
		qsort(tok->added, tok->n_added, sizeof(*tok->added), cmp_added);
	for (unsigned c = 0, i = 0; c <= 256; c++) {
		while (i < tok->n_added && (unsigned char)tok->added[i].text[0] < c)
			i++;
		tok->added_start[c] = i;
	}
	for (size_t i = 0; i < tok->n_added; i++)
		tok->added_first[(unsigned char)tok->added[i].text[0]] |= tok->added[i].special ? 2 : 1;
	for (int k = 0; k < 2; k++) {
		tok->added_lone[k] = -2;
		for (int c = 0; c < 256; c++)
			if (tok->added_first[c] & (k ? 3 : 1))
				tok->added_lone[k] = tok->added_lone[k] == -2 ? c : -1;
	}
	int rc = build_decode_table(tok, err);
	if (rc) {
		lm_error_prefix(err, "%s: ", path);
		return rc;
	}

	char *name;
	const char *kind = tok->name ? tok->name : "tokenizer";
	if (asprintf(&name, "%s:%zu:%016llx", kind, vocab_size(tok->vocab),
		     (unsigned long long)vocab_hash(tok->vocab)) < 0)
		return lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
	free(tok->name);
	tok->name = name;
	return 0;
}

/* ---- encoding ---- */

struct encoder {
	const struct tokenizer *tok;
	unsigned flags;
	struct tok_ids *out;
	struct lm_error *err;
	int rc;
};

static int on_piece(void *arg, const char *piece, size_t len)
{
	struct encoder *e = arg;

	e->rc = e->tok->model.run(e->tok->model.state, piece, len, e->out, e->err);
	return e->rc;
}

static int run_model(struct encoder *e, const char *text, size_t len)
{
	const struct tokenizer *tok = e->tok;

	if (len == 0)
		return 0;
	if (!tok->splitter.run)
		return tok->model.run(tok->model.state, text, len, e->out, e->err);
	e->rc = 0;
	int r = tok->splitter.run(tok->splitter.state, text, len, on_piece, e);
	if (e->rc)
		return e->rc;
	if (r)
		return lm_fail(e->err, r < 0 ? r : LM_EINVAL, "tokenizer: pre-tokenizer failed");
	return 0;
}

static int is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_word(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       c == '_' || c >= 0x80;
}

/* Leftmost, then longest, added token in TEXT[from..len) whose phase is
 * NORMALIZED (or any when ANY_PHASE); *START..*END is what it covers with
 * its stripped white space. */
static const struct tok_added *find_added(const struct tokenizer *tok, const char *text, size_t len,
					  size_t from, unsigned flags, int any_phase, int normalized,
					  size_t *start, size_t *end)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned want = flags & TOK_PARSE_SPECIAL ? 3 : 1;
	int lone = tok->added_lone[want == 3];

	if (lone == -2)
		return NULL;
	for (size_t i = from; i < len; i++) {
		if (lone >= 0) {
			const unsigned char *hit = memchr(s + i, lone, len - i);

			if (!hit)
				return NULL;
			i = (size_t)(hit - s);
		}
		/* Most bytes start no token that may match. */
		while (!(tok->added_first[s[i]] & want))
			if (++i == len)
				return NULL;
		uint32_t a = tok->added_start[s[i]], b = tok->added_start[s[i] + 1];
		for (; a < b; a++) {
			const struct tok_added *t = &tok->added[a];
			if (t->len > len - i || (t->special && !(flags & TOK_PARSE_SPECIAL)))
				continue;
			if (!any_phase && t->normalized != (unsigned)normalized)
				continue;
			if (memcmp(text + i, t->text, t->len) != 0)
				continue;
			if (t->single_word && ((i > 0 && is_word(s[i - 1])) ||
					       (i + t->len < len && is_word(s[i + t->len]))))
				continue;
			size_t st = i, en = i + t->len;
			if (t->lstrip)
				while (st > from && is_space(s[st - 1]))
					st--;
			if (t->rstrip)
				while (en < len && is_space(s[en]))
					en++;
			*start = st;
			*end = en;
			return t;
		}
	}
	return NULL;
}

static int encode_normalized(struct encoder *e, const char *text, size_t len)
{
	const struct tokenizer *tok = e->tok;
	size_t pos = 0, st, en;
	const struct tok_added *t;
	int rc;

	if (!tok->has_normalized_added)
		return run_model(e, text, len);
	while ((t = find_added(tok, text, len, pos, e->flags, 0, 1, &st, &en))) {
		if ((rc = run_model(e, text + pos, st - pos)))
			return rc;
		if ((rc = tok_ids_push(e->out, t->id, e->err)))
			return rc;
		pos = en;
	}
	return run_model(e, text + pos, len - pos);
}

static const char replacement[3] = { '\xef', '\xbf', '\xbd' };

/* TEXT with each maximal subpart of an ill-formed sequence replaced by
 * U+FFFD (Unicode 15 section 3.9, "U+FFFD Substitution of Maximal
 * Subparts"; what the WHATWG decoder in node and Python's "replace" do). */
static int fix_utf8_replace(const char *text, size_t len, struct tok_buf *out, struct lm_error *err)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	int rc = 0;

	while (!rc && i < len) {
		size_t ok = utf8_validate(s + i, len - i);
		if ((rc = tok_buf_append(out, s + i, ok, err)) || (i += ok) >= len)
			break;
		/* the longest prefix of a well-formed sequence at I (>= 1 byte) */
		unsigned char c = s[i], lo = 0x80, hi = 0xBF;
		size_t need = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 :
			      c >= 0xF0 && c <= 0xF4 ? 3 : 0;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		size_t k = 1;
		while (need && k <= need && i + k < len && s[i + k] >= lo && s[i + k] <= hi) {
			k++;
			lo = 0x80;
			hi = 0xBF;
		}
		rc = tok_buf_append(out, replacement, 3, err);
		i += k;
	}
	return rc;
}

/* llama.cpp unicode_cpts_from_utf8 then unicode_cpt_to_utf8: the lead
 * byte's high bits give the length, continuations need only be 10xxxxxx;
 * a failure is U+FFFD and one byte.  Code points it cannot re-encode
 * (above U+10FFFF; llama.cpp throws there) are U+FFFD too. */
static int fix_utf8_llamacpp(const char *text, size_t len, struct tok_buf *out, struct lm_error *err)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;
	int rc = 0;

	while (!rc && i < len) {
		size_t ok = utf8_validate(s + i, len - i);
		if ((rc = tok_buf_append(out, s + i, ok, err)) || (i += ok) >= len)
			break;
		unsigned char c = s[i];
		size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		size_t k = 1;
		while (n && k < n && i + k < len && (s[i + k] & 0xC0) == 0x80)
			k++;
		if (!n || k < n) {
			rc = tok_buf_append(out, replacement, 3, err);
			i++;
			continue;
		}
		uint32_t cp = n == 2 ? (uint32_t)(c & 0x1F) : n == 3 ? (uint32_t)(c & 0x0F) : (uint32_t)(c & 0x07);
		for (size_t j = 1; j < n; j++)
			cp = cp << 6 | (s[i + j] & 0x3F);
		char b[4];
		if (cp >= 0xD800 && cp <= 0xDFFF) {
			/* kept: its 3-byte form is what llama.cpp writes back */
			b[0] = (char)(0xE0 | cp >> 12);
			b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			b[2] = (char)(0x80 | (cp & 0x3F));
			rc = tok_buf_append(out, b, 3, err);
		} else if (cp > 0x10FFFF) {
			rc = tok_buf_append(out, replacement, 3, err);
		} else {
			rc = tok_buf_append(out, b, (size_t)utf8_encode(cp, b), err);
		}
		i += n;
	}
	return rc;
}

/* Each thread's buffers for encode_segment, kept between calls so that
 * encoding a record allocates nothing once its thread has seen one as
 * long. */
struct segment_scratch {
	struct tok_buf norm, fixed;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_release(void *p)
{
	struct segment_scratch *s = p;

	tok_buf_free(&s->norm);
	tok_buf_free(&s->fixed);
	free(s);
}

static void scratch_key_init(void)
{
	scratch_key_ok = pthread_key_create(&scratch_key, scratch_release) == 0;
}

static struct segment_scratch *thread_scratch(void)
{
	struct segment_scratch *s;

	pthread_once(&scratch_once, scratch_key_init);
	if (!scratch_key_ok)
		return NULL;
	if ((s = pthread_getspecific(scratch_key)))
		return s;
	if (!(s = calloc(1, sizeof *s)))
		return NULL;
	if (pthread_setspecific(scratch_key, s)) {
		free(s);
		return NULL;
	}
	return s;
}

static int encode_segment(struct encoder *e, const char *text, size_t len)
{
	const struct tokenizer *tok = e->tok;
	struct segment_scratch local = { { 0 }, { 0 } }, *sc;
	int rc = 0;

	if (len == 0)
		return 0;
	if (!(sc = thread_scratch()))
		sc = &local;
	sc->norm.len = sc->fixed.len = 0;
	if (tok->bad_utf8 == TOK_UTF8_LLAMACPP && utf8_validate(text, len) != len) {
		if ((rc = fix_utf8_llamacpp(text, len, &sc->fixed, e->err)))
			goto out;
		text = sc->fixed.data;
		len = sc->fixed.len;
	}
	if (!tok->normalizer.run) {
		rc = encode_normalized(e, text, len);
		goto out;
	}
	rc = tok->normalizer.run(tok->normalizer.state, text, len, &sc->norm, e->err);
	if (!rc)
		rc = encode_normalized(e, sc->norm.data ? sc->norm.data : "", sc->norm.len);
out:
	tok_buf_free(&local.norm);
	tok_buf_free(&local.fixed);
	return rc;
}

int tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len, unsigned flags,
		     struct tok_ids *out, struct lm_error *err)
{
	struct encoder e = { tok, flags, out, err, 0 };
	size_t n0 = out->n, pos = 0, st, en;
	const struct tok_added *t;
	struct tok_buf fixed = {0};
	int rc = 0;
	/* Without a normalizer both phases of added tokens are one. */
	int any = !tok->normalizer.run;

	if (tok->bad_utf8 == TOK_UTF8_REPLACE && utf8_validate(text, len) != len) {
		if ((rc = fix_utf8_replace(text, len, &fixed, err)))
			return rc;
		text = fixed.data;
		len = fixed.len;
	}
	if (flags & TOK_ADD_SPECIAL)
		for (size_t i = 0; i < tok->n_prefix && !rc; i++)
			rc = tok_ids_push(out, tok->prefix[i], err);
	while (!rc && (t = find_added(tok, text, len, pos, flags, any, 0, &st, &en))) {
		if ((rc = encode_segment(&e, text + pos, st - pos)))
			break;
		rc = tok_ids_push(out, t->id, err);
		pos = en;
	}
	if (!rc)
		rc = encode_segment(&e, text + pos, len - pos);
	if (flags & TOK_ADD_SPECIAL)
		for (size_t i = 0; i < tok->n_suffix && !rc; i++)
			rc = tok_ids_push(out, tok->suffix[i], err);
	if (rc)
		out->n = n0;
	tok_buf_free(&fixed);
	return rc;
}

/* ---- decoding ---- */

/* tokenizers decoders/wordpiece.rs cleanup, applied to each token's text
 * (with the space put before it), in this order. */
static const char *const wp_cleanup[][2] = {
	{ " .", "." }, { " ?", "?" }, { " !", "!" }, { " ,", "," }, { " ' ", "'" },
	{ " n't", "n't" }, { " 'm", "'m" }, { " do not", " don't" }, { " 's", "'s" },
	{ " 've", "'ve" }, { " 're", "'re" },
};

/* Whether a cleanup rule can match " " + S when S has no space: only at
 * its start. */
static int starts_cleanup(const char *s, size_t l)
{
	for (size_t r = 0; r < sizeof(wp_cleanup) / sizeof(wp_cleanup[0]); r++) {
		size_t fl = strlen(wp_cleanup[r][0]) - 1;
		if (l >= fl && memcmp(s, wp_cleanup[r][0] + 1, fl) == 0)
			return 1;
	}
	return 0;
}

static int append_cleaned(struct tok_buf *b, const char *s, size_t l, struct lm_error *err)
{
	struct tok_buf cur = {0}, next = {0};
	int rc = tok_buf_append(&cur, s, l, err);

	for (size_t r = 0; !rc && r < sizeof(wp_cleanup) / sizeof(wp_cleanup[0]); r++) {
		const char *from = wp_cleanup[r][0], *to = wp_cleanup[r][1];
		size_t fl = strlen(from), tl = strlen(to), i = 0;
		if (cur.len < fl || !memmem(cur.data, cur.len, from, fl))
			continue;
		next.len = 0;
		while (!rc && i < cur.len) {
			if (i + fl <= cur.len && memcmp(cur.data + i, from, fl) == 0) {
				rc = tok_buf_append(&next, to, tl, err);
				i += fl;
			} else {
				rc = tok_buf_append(&next, cur.data + i, 1, err);
				i++;
			}
		}
		struct tok_buf t = cur;
		cur = next;
		next = t;
	}
	if (!rc)
		rc = tok_buf_append(b, cur.data, cur.len, err);
	tok_buf_free(&cur);
	tok_buf_free(&next);
	return rc;
}

int tokenizer_decode(const struct tokenizer *tok, const int32_t *ids, size_t n, char **text,
		     size_t *len, struct lm_error *err)
{
	struct tok_buf b = {0};
	size_t nv = vocab_size(tok->vocab);
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		int32_t id = ids[i];
		size_t tl;
		if (id < 0 || (size_t)id >= nv || !vocab_text(tok->vocab, id, &tl)) {
			rc = lm_fail(err, LM_EINVAL, "token id %ld is not in the vocabulary (0..%zu)",
				     (long)id, nv - 1);
			goto out;
		}
		const char *s = tok->dec_pool + tok->dec_off[id];
		size_t l = tok->dec_off[id + 1] - tok->dec_off[id];
		int space = tok->decoder == TOK_DECODE_WORDPIECE && i > 0 && !tok->dec_join[id];
		/* wordpiece.rs drops the prefix only from tokens after the first */
		if (tok->decoder == TOK_DECODE_WORDPIECE && i == 0 && tok->dec_join[id] &&
		    (rc = tok_buf_append(&b, tok->continuing_prefix, strlen(tok->continuing_prefix), err)))
			goto out;
		if (tok->decoder == TOK_DECODE_WORDPIECE && tok->decode_cleanup &&
		    (memchr(s, ' ', l) || (space && starts_cleanup(s, l)))) {
			/* the token's text with its space, cleaned up as a whole */
			struct tok_buf t = {0};
			rc = tok_buf_append(&t, " ", (size_t)space, err);
			if (!rc)
				rc = tok_buf_append(&t, s, l, err);
			if (!rc)
				rc = append_cleaned(&b, t.data, t.len, err);
			tok_buf_free(&t);
			if (rc)
				goto out;
			continue;
		}
		if (space && (rc = tok_buf_append(&b, " ", 1, err)))
			goto out;
		if (i == 0 && tok->decode_strip_space && l && s[0] == ' ') {
			s++;
			l--;
		}
		if ((rc = tok_buf_append(&b, s, l, err)))
			goto out;
	}
	if (!b.data && (rc = tok_buf_append(&b, "", 0, err)))
		goto out;
	*text = b.data;
	*len = b.len;
	b.data = NULL;
out:
	tok_buf_free(&b);
	return rc;
}

const char *tokenizer_name(const struct tokenizer *tok)
{
	return tok->name;
}

size_t tokenizer_n_vocab(const struct tokenizer *tok)
{
	return vocab_size(tok->vocab);
}

const char *tokenizer_token(const struct tokenizer *tok, int32_t id, size_t *len)
{
	if (id < 0 || (size_t)id >= vocab_size(tok->vocab) || !vocab_text(tok->vocab, id, len)) {
		*len = 0;
		return NULL;
	}
	*len = tok->dec_off[id + 1] - tok->dec_off[id];
	return tok->dec_pool + tok->dec_off[id];
}

int32_t tokenizer_special(const struct tokenizer *tok, enum tok_special which)
{
	if ((unsigned)which >= TOK_SPECIAL_COUNT)
		return -1;
	return tok->special[which];
}

/* ---- loading ---- */

int tokenizer_load(struct tokenizer **tokp, const char *path, struct lm_error *err)
{
	struct tokenizer *tok = NULL;
	unsigned char head[64];
	size_t got = 0;
	int rc;
	FILE *f = fopen(path, "rb");

	if (!f)
		return lm_fail_errno(err, "%s", path);
	got = fread(head, 1, sizeof(head), f);
	if (ferror(f)) {
		fclose(f);
		return lm_fail_errno(err, "%s: read", path);
	}
	fclose(f);
	if ((rc = tok_new(&tok, err)))
		return rc;
	size_t i = 0;
	while (i < got && is_space(head[i]))
		i++;
	if (got >= 4 && memcmp(head, "GGUF", 4) == 0)
		rc = tok_load_gguf(tok, path, err);
	else if (i < got && head[i] == '{')
		rc = tok_load_hfjson(tok, path, err);
	else
		rc = tok_load_tiktoken(tok, path, err);
	if (!rc)
		rc = tok_finish(tok, path, err);
	if (rc) {
		tokenizer_free(tok);
		return rc;
	}
	*tokp = tok;
	return 0;
}

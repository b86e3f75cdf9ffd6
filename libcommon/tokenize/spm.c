/* spm.c - SentencePiece-style BPE by scores or merge ranks (see spm.h). */
#include <stdlib.h>
#include <string.h>

#include "tokenize/spm.h"
#include "tokenize/tokcache.h"
#include "tokenize/tokenizer_impl.h"
#include "utf8.h"

struct spm {
	const struct vocab *vocab;
	struct spm_config cfg;
	char *cont_prefix, *end_suffix;
	size_t cont_len, end_len;
	int32_t byte_id[256];     /* <0xNN>, -1 when absent */
	int32_t raw_byte_id[256]; /* the byte spelt as itself (llama.cpp's second try) */
	int by_word;              /* SPM_BY_SCORE may go word by word (see word_end) */
	uint64_t cache_owner;     /* tokcache */
};

struct symbol {
	size_t start, n;          /* bytes of the piece it covers; n = 0: merged away */
	int prev, next;
	int32_t id;               /* SPM_BY_MERGES */
};

/* A candidate merge.  PRIO: the score, or minus the rank; higher first,
 * then the lower LEFT (llama.cpp llm_bigram_spm::comparator; HF Merge Ord). */
struct bigram {
	double prio;
	int left, right;
	size_t size;              /* SPM_BY_SCORE: bytes of the merged text, to spot stale entries */
	int32_t id;               /* SPM_BY_MERGES: the merge's result */
};

struct heap {
	struct bigram *b;
	size_t n, cap;
};

static int before(const struct bigram *a, const struct bigram *b)
{
	return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

static int heap_push(struct heap *h, const struct bigram *x)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct bigram *p = realloc(h->b, cap * sizeof *p);

		if (!p)
			return -1;
		h->b = p;
		h->cap = cap;
	}
	for (i = h->n++; i > 0 && before(x, &h->b[(i - 1) / 2]); i = (i - 1) / 2)
		h->b[i] = h->b[(i - 1) / 2];
	h->b[i] = *x;
	return 0;
}

static struct bigram heap_pop(struct heap *h)
{
	struct bigram top = h->b[0], last = h->b[--h->n];
	size_t i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(&h->b[c + 1], &h->b[c]))
			c++;
		if (!before(&h->b[c], &last))
			break;
		h->b[i] = h->b[c];
		i = c;
	}
	if (h->n)
		h->b[i] = last;
	return top;
}

#define MS "\xe2\x96\x81"    /* U+2581, SentencePiece's space */

static int is_ms(const char *p)
{
	return memcmp(p, MS, 3) == 0;
}

/* 1 when some entry holds U+2581 right after another character, so that a
 * merge could join the end of one word to the start of the next. */
static int joins_words(const struct vocab *vocab)
{
	for (size_t id = 0; id < vocab_size(vocab); id++) {
		size_t len;
		const char *t = vocab_text(vocab, (int32_t)id, &len);

		for (size_t i = 1; t && i + 3 <= len; i++)
			if (is_ms(t + i) && !(i >= 3 && is_ms(t + i - 3)))
				return 1;
	}
	return 0;
}

int spm_new(struct spm **sp, const struct vocab *vocab, const struct spm_config *config,
	    struct lm_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	struct spm *s = calloc(1, sizeof *s);

	*sp = NULL;
	if (!s)
		return lm_fail(err, LM_ENOMEM, "spm: out of memory");
	s->vocab = vocab;
	s->cfg = *config;
	if ((config->cont_prefix && !(s->cont_prefix = strdup(config->cont_prefix))) ||
	    (config->end_suffix && !(s->end_suffix = strdup(config->end_suffix)))) {
		spm_free(s);
		return lm_fail(err, LM_ENOMEM, "spm: out of memory");
	}
	s->cont_len = s->cont_prefix ? strlen(s->cont_prefix) : 0;
	s->end_len = s->end_suffix ? strlen(s->end_suffix) : 0;
	s->cfg.cont_prefix = s->cont_prefix;
	s->cfg.end_suffix = s->end_suffix;
	for (int b = 0; b < 256; b++) {
		char name[6] = { '<', '0', 'x', hex[b >> 4], hex[b & 15], '>' };
		char raw = (char)b;

		s->byte_id[b] = vocab_find(vocab, name, 6);
		s->raw_byte_id[b] = vocab_find(vocab, &raw, 1);
	}
	s->by_word = config->mode == SPM_BY_SCORE && !joins_words(vocab);
	s->cache_owner = tokcache_owner();
	*sp = s;
	return 0;
}

void spm_free(struct spm *s)
{
	if (!s)
		return;
	free(s->cont_prefix);
	free(s->end_suffix);
	free(s);
}

static size_t char_len(const char *s, size_t n)
{
	uint32_t cp;
	int k = utf8_decode(s, n, &cp);

	return k ? (size_t)k : 1;
}

/* llama.cpp try_add_bigram: the pair merges if its text is an entry. */
static int score_bigram(const struct spm *s, struct heap *h, const struct symbol *sym,
			const char *text, int l, int r)
{
	struct bigram b;
	int32_t id;

	if (l < 0 || r < 0)
		return 0;
	b.size = sym[l].n + sym[r].n;
	id = vocab_find(s->vocab, text + sym[l].start, b.size);
	if (id < 0)
		return 0;
	b.prio = vocab_score(s->vocab, id);
	b.left = l;
	b.right = r;
	b.id = id;
	return heap_push(h, &b);
}

static int merge_bigram(const struct spm *s, struct heap *h, const struct symbol *sym, int l, int r)
{
	struct bigram b;
	uint32_t rank;

	if (l < 0 || r < 0 || !vocab_merge(s->vocab, sym[l].id, sym[r].id, &rank, &b.id))
		return 0;
	b.prio = -(double)rank;
	b.left = l;
	b.right = r;
	b.size = 0;
	return heap_push(h, &b);
}

static int push_bytes(const struct spm *s, const unsigned char *p, size_t n, struct tok_ids *out,
		      struct lm_error *err)
{
	for (size_t j = 0; j < n; j++) {
		int32_t id = s->byte_id[p[j]];

		if (id < 0)
			id = s->raw_byte_id[p[j]];
		if (id < 0)
			id = s->cfg.unk_id;
		if (id < 0)
			return lm_fail(err, LM_EINVAL, "spm: byte 0x%02X has no token and there is no unknown token",
				       p[j]);
		if (tok_ids_push(out, id, err))
			return LM_ENOMEM;
	}
	return 0;
}

static int add_symbol(struct symbol **sym, size_t *n, size_t *cap, size_t start, size_t len, int32_t id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct symbol *p = realloc(*sym, c * sizeof *p);

		if (!p)
			return -1;
		*sym = p;
		*cap = c;
	}
	(*sym)[*n] = (struct symbol){ .start = start, .n = len, .prev = (int)*n - 1, .next = (int)*n + 1, .id = id };
	(*n)++;
	return 0;
}

/* Hugging Face BPE::merge_word: the initial symbols. */
static int merge_symbols(const struct spm *s, const char *piece, size_t len, struct symbol **sym,
			 size_t *n, size_t *cap, char *tmp)
{
	int32_t unk_id = -1;
	size_t unk_start = 0, unk_len = 0, k;

	for (size_t i = 0; i < len; i += k) {
		size_t t = 0;
		int32_t id;

		k = char_len(piece + i, len - i);
		if (i && s->cont_len) {
			memcpy(tmp, s->cont_prefix, s->cont_len);
			t = s->cont_len;
		}
		memcpy(tmp + t, piece + i, k);
		t += k;
		if (i + k == len && s->end_len) {
			memcpy(tmp + t, s->end_suffix, s->end_len);
			t += s->end_len;
		}
		id = vocab_find(s->vocab, tmp, t);
		if (id >= 0) {
			if (unk_id >= 0 && add_symbol(sym, n, cap, unk_start, unk_len, unk_id))
				return -1;
			unk_id = -1;
			if (add_symbol(sym, n, cap, i, k, id))
				return -1;
			continue;
		}
		if (s->cfg.byte_fallback) {
			size_t j;

			for (j = 0; j < t && s->byte_id[(unsigned char)tmp[j]] >= 0; j++)
				;
			if (j == t) {
				/* HF adds one symbol per byte of the (prefixed) text, each 1 byte long. */
				for (j = 0; j < t; j++)
					if (add_symbol(sym, n, cap, i + (j < k ? j : k - 1), 1,
						       s->byte_id[(unsigned char)tmp[j]]))
						return -1;
				continue;
			}
		}
		if (s->cfg.unk_id < 0)
			continue;
		if (unk_id >= 0 && s->cfg.fuse_unk) {
			unk_len += k;
			continue;
		}
		if (unk_id >= 0 && add_symbol(sym, n, cap, unk_start, unk_len, unk_id))
			return -1;
		unk_id = s->cfg.unk_id;
		unk_start = i;
		unk_len = k;
	}
	if (unk_id >= 0 && add_symbol(sym, n, cap, unk_start, unk_len, unk_id))
		return -1;
	return 0;
}

static int encode_piece(const struct spm *s, const char *piece, size_t len, struct tok_ids *out,
			struct lm_error *err)
{
	struct symbol *sym = NULL;
	struct heap h = { 0 };
	size_t n = 0, cap = 0, n0 = out->n, k;
	char stack[64], *tmp = stack;
	int rc = 0, by_score = s->cfg.mode == SPM_BY_SCORE;

	if (!len)
		return 0;
	if (!by_score && s->cfg.ignore_merges) {
		int32_t id = vocab_find(s->vocab, piece, len);

		if (id >= 0)
			return tok_ids_push(out, id, err);
	}
	if (by_score) {
		for (size_t i = 0; i < len; i += k) {
			k = char_len(piece + i, len - i);
			if (add_symbol(&sym, &n, &cap, i, k, -1))
				goto nomem;
		}
	} else {
		size_t need = 4 + s->cont_len + s->end_len;

		if (need > sizeof stack && !(tmp = malloc(need)))
			goto nomem;
		if (merge_symbols(s, piece, len, &sym, &n, &cap, tmp))
			goto nomem;
	}
	if (!n)
		goto out;
	sym[n - 1].next = -1;
	for (size_t i = 1; i < n; i++)
		if (by_score ? score_bigram(s, &h, sym, piece, (int)i - 1, (int)i)
			     : merge_bigram(s, &h, sym, (int)i - 1, (int)i))
			goto nomem;
	while (h.n) {
		struct bigram b = heap_pop(&h);
		struct symbol *l = &sym[b.left], *r;

		if (by_score) {
			r = &sym[b.right];
			/* An entry is stale once either side has changed. */
			if (!l->n || !r->n || l->n + r->n != b.size)
				continue;
		} else {
			uint32_t rank;
			int32_t id;

			if (!l->n || l->next < 0)
				continue;
			r = &sym[l->next];
			if (!vocab_merge(s->vocab, l->id, r->id, &rank, &id) || id != b.id)
				continue;
			l->id = b.id;
		}
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			sym[r->next].prev = b.left;
		if (by_score ? score_bigram(s, &h, sym, piece, l->prev, b.left) ||
			       score_bigram(s, &h, sym, piece, b.left, l->next)
			     : merge_bigram(s, &h, sym, l->prev, b.left) ||
			       merge_bigram(s, &h, sym, b.left, l->next))
			goto nomem;
	}
	for (int i = 0; i >= 0; i = sym[i].next) {
		int32_t id = by_score ? vocab_find(s->vocab, piece + sym[i].start, sym[i].n) : sym[i].id;

		if (id >= 0)
			rc = tok_ids_push(out, id, err);
		else
			rc = push_bytes(s, (const unsigned char *)piece + sym[i].start, sym[i].n, out, err);
		if (rc)
			goto out;
	}
	goto out;
nomem:
	rc = lm_fail(err, LM_ENOMEM, "spm: out of memory");
out:
	if (rc)
		out->n = n0;
	if (tmp != stack)
		free(tmp);
	free(sym);
	free(h.b);
	return rc;
}

/* The end of the word starting at I: just before the next U+2581 that
 * follows another character.  When no entry holds U+2581 after another
 * character (joins_words), no pair across such a place is ever an entry, so
 * nothing merges across it, and the merges inside each word happen in the
 * same order as in the whole text: the words can be encoded one by one, and
 * a repeated word comes from the cache.  A U+2581 always starts a
 * character, as E2 is never a continuation byte. */
static size_t word_end(const char *piece, size_t len, size_t i)
{
	size_t j = i + 1;

	while (j + 3 <= len) {
		const char *p = memchr(piece + j, 0xe2, len - j - 2);

		if (!p)
			break;
		j = (size_t)(p - piece);
		if (is_ms(p) && !(j >= i + 3 && is_ms(p - 3)))
			return j;
		j++;
	}
	return len;
}

int spm_encode(const struct spm *s, const char *piece, size_t len, struct tok_ids *out,
	       struct lm_error *err)
{
	size_t i, e;
	int rc;

	if (!s->by_word)
		return encode_piece(s, piece, len, out, err);
	for (i = 0; i < len; i = e) {
		struct tokcache *c = NULL;
		const int32_t *ids;
		size_t n, n0 = out->n;

		e = word_end(piece, len, i);
		if (e - i <= TOKCACHE_PIECE_MAX && (c = tokcache_get(s->cache_owner)) &&
		    (ids = tokcache_find(c, piece + i, e - i, &n))) {
			for (size_t k = 0; k < n; k++)
				if ((rc = tok_ids_push(out, ids[k], err)))
					return rc;
			continue;
		}
		if ((rc = encode_piece(s, piece + i, e - i, out, err)))
			return rc;
		if (c && out->ids)
			tokcache_put(c, piece + i, e - i, out->ids + n0, out->n - n0);
	}
	return 0;
}

static int spm_run(const void *state, const char *piece, size_t len, struct tok_ids *out,
		   struct lm_error *err)
{
	return spm_encode(state, piece, len, out, err);
}

static void spm_release(void *state)
{
	spm_free(state);
}

void spm_attach(struct tokenizer *tok, struct spm *s)
{
	tok->model.run = spm_run;
	tok->model.free = spm_release;
	tok->model.state = s;
}

/* bpe.c - byte-level BPE merge loop and the GPT-2 byte mapping (see bpe.h). */
#include <stdlib.h>
#include <string.h>

#include "tokenize/bpe.h"
#include "tokenize/tokcache.h"
#include "utf8.h"

#define NO_RANK UINT32_MAX
/* Pieces up to this many bytes use a linear scan for the lowest pair; past
 * it a heap keeps the loop O(n log n). */
#define SCAN_MAX 48

struct bpe {
	const struct vocab *vocab;
	unsigned flags;
	int32_t unk_id;
	int32_t byte_id[256];
	uint64_t serial;           /* tokcache owner */
};

/* GPT-2 encoder.py bytes_to_unicode(): bytes '!'..'~', 0xA1..0xAC and
 * 0xAE..0xFF are themselves; the rest, in byte order, are 256, 257, ... */
static int byte_is_printable(unsigned b)
{
	return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
}

/* The 68 other bytes are 0x00..0x20, 0x7F..0xA0 and 0xAD, in that order. */
uint32_t bpe_byte_to_unicode(uint8_t byte)
{
	if (byte_is_printable(byte))
		return byte;
	if (byte <= 0x20)
		return 256u + byte;
	if (byte <= 0xa0)
		return 256u + 33 + (byte - 0x7fu);
	return 256u + 67;
}

int bpe_unicode_to_byte(uint32_t cp)
{
	if (cp < 256)
		return byte_is_printable(cp) ? (int)cp : -1;
	if (cp >= 256 + 68)
		return -1;
	cp -= 256;
	if (cp < 33)
		return (int)cp;
	if (cp < 67)
		return (int)(0x7f + cp - 33);
	return 0xad;
}

long bpe_unmap(const char *text, size_t len, char *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		uint32_t cp;
		int n = utf8_decode(text + i, len - i, &cp);
		if (n == 0)
			return -1;
		int b = bpe_unicode_to_byte(cp);
		if (b < 0)
			return -1;
		out[o++] = (char)b;
		i += (size_t)n;
	}
	return (long)o;
}

int bpe_new(struct bpe **b, const struct vocab *vocab, unsigned flags, int32_t unk_id,
	    struct lm_error *err)
{
	struct bpe *x = calloc(1, sizeof(*x));

	if (!x)
		return lm_fail(err, LM_ENOMEM, "bpe: out of memory");
	x->vocab = vocab;
	x->flags = flags;
	x->unk_id = unk_id;
	for (int i = 0; i < 256; i++) {
		char c = (char)i;
		x->byte_id[i] = vocab_find(vocab, &c, 1);
	}
	x->serial = tokcache_owner();
	*b = x;
	return 0;
}

void bpe_free(struct bpe *b)
{
	free(b);
}

static int push_ids(struct tok_ids *out, const int32_t *ids, size_t n, struct lm_error *err)
{
	if (out->n + n > out->cap) {
		size_t cap = out->cap ? out->cap : 64;
		while (cap < out->n + n)
			cap *= 2;
		int32_t *p = realloc(out->ids, cap * sizeof(*p));
		if (!p)
			return lm_fail(err, LM_ENOMEM, "bpe: out of memory");
		out->ids = p;
		out->cap = cap;
	}
	if (n) {  /* out->ids may still be NULL when there is nothing to add */
		memcpy(out->ids + out->n, ids, n * sizeof(*ids));
		out->n += n;
	}
	return 0;
}

/* The piece being merged: symbols are byte ranges of S, symbol I starting
 * at byte I and ending where the next live symbol starts. */
struct merge_ctx {
	const struct bpe *b;
	const char *s;
	size_t n;
};

/* Rank and result of merging symbol L with the symbol R after it, which
 * ends at byte END; NO_RANK when they do not merge. */
static uint32_t pair_rank(const struct merge_ctx *m, const int32_t *id, int l, int r, size_t end,
			  int32_t *res)
{
	uint32_t rank;

	if (id[l] < 0 || id[r] < 0)
		return NO_RANK;
	if (m->b->flags & BPE_RANKS) {
		int32_t t = vocab_find(m->b->vocab, m->s + l, end - (size_t)l);
		*res = t;
		return t < 0 ? NO_RANK : (uint32_t)t;
	}
	if (!vocab_merge(m->b->vocab, id[l], id[r], &rank, res))
		return NO_RANK;
	return rank;
}

/* Short pieces: rescan for the lowest (rank, position) pair each round. */
static size_t merge_scan(const struct merge_ctx *m, int32_t *id, size_t n)
{
	int nx[SCAN_MAX];
	uint32_t rk[SCAN_MAX];
	int32_t res[SCAN_MAX];

	for (size_t i = 0; i < n; i++) {
		nx[i] = i + 1 < n ? (int)i + 1 : -1;
		rk[i] = i + 1 < n ? pair_rank(m, id, (int)i, (int)i + 1, i + 2, &res[i]) : NO_RANK;
	}
	for (;;) {
		uint32_t best = NO_RANK;
		int bi = -1, bp = -1;
		for (int i = 0, p = -1; i >= 0; p = i, i = nx[i]) {
			if (rk[i] < best) {
				best = rk[i];
				bi = i;
				bp = p;
			}
		}
		if (bi < 0)
			break;
		int j = nx[bi];
		id[bi] = res[bi];
		nx[bi] = nx[j];
		int r = nx[bi];
		rk[bi] = r >= 0 ? pair_rank(m, id, bi, r, nx[r] >= 0 ? (size_t)nx[r] : n, &res[bi])
			: NO_RANK;
		if (bp >= 0)
			rk[bp] = pair_rank(m, id, bp, bi, r >= 0 ? (size_t)r : n, &res[bp]);
	}
	size_t k = 0;
	for (int i = 0; i >= 0; i = nx[i])
		id[k++] = id[i];
	return k;
}

struct heap_item {
	uint32_t rank;
	int32_t pos;
	int32_t left, right, result;
};

static int item_less(const struct heap_item *a, const struct heap_item *c)
{
	return a->rank < c->rank || (a->rank == c->rank && a->pos < c->pos);
}

static void heap_push(struct heap_item *h, size_t *n, struct heap_item it)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!item_less(&it, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = it;
}

static struct heap_item heap_pop(struct heap_item *h, size_t *n)
{
	struct heap_item top = h[0], last = h[--*n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && item_less(&h[c + 1], &h[c]))
			c++;
		if (!item_less(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

static void heap_offer(const struct merge_ctx *m, struct heap_item *h, size_t *n, const int32_t *id,
		       const int *nx, int l, int r)
{
	struct heap_item it;

	it.rank = pair_rank(m, id, l, r, nx[r] >= 0 ? (size_t)nx[r] : m->n, &it.result);
	if (it.rank == NO_RANK)
		return;
	it.pos = l;
	it.left = id[l];
	it.right = id[r];
	heap_push(h, n, it);
}

/* Long pieces: a heap of candidate pairs ordered by (rank, position).  A
 * popped pair is stale unless both symbols still hold the ids it was made
 * from; a symbol's id only ever grows into a longer token, so equal ids
 * mean the same pair. */
static int merge_heap(const struct merge_ctx *m, int32_t *id, size_t n, size_t *out_n,
		      struct lm_error *err)
{
	int *nx = malloc(n * sizeof(*nx));
	int *pv = malloc(n * sizeof(*pv));
	struct heap_item *h = malloc(n * 2 * sizeof(*h));
	size_t hn = 0, hcap = n * 2;
	int rc = 0;

	if (!nx || !pv || !h) {
		rc = lm_fail(err, LM_ENOMEM, "bpe: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		nx[i] = i + 1 < n ? (int)i + 1 : -1;
		pv[i] = (int)i - 1;
	}
	for (size_t i = 0; i + 1 < n; i++)
		heap_offer(m, h, &hn, id, nx, (int)i, (int)i + 1);
	while (hn) {
		struct heap_item it = heap_pop(h, &hn);
		int l = it.pos, r = nx[l];
		if (id[l] != it.left || r < 0 || id[r] != it.right)
			continue;
		id[l] = it.result;
		id[r] = -2;
		nx[l] = nx[r];
		if (nx[l] >= 0)
			pv[nx[l]] = l;
		/* at most two new pairs per merge, one merge per symbol */
		if (hn + 2 > hcap) {
			struct heap_item *g = realloc(h, (hcap *= 2) * sizeof(*h));
			if (!g) {
				rc = lm_fail(err, LM_ENOMEM, "bpe: out of memory");
				goto out;
			}
			h = g;
		}
		if (pv[l] >= 0)
			heap_offer(m, h, &hn, id, nx, pv[l], l);
		if (nx[l] >= 0)
			heap_offer(m, h, &hn, id, nx, l, nx[l]);
	}
	size_t k = 0;
	for (int i = 0; i >= 0; i = nx[i])
		id[k++] = id[i];
	*out_n = k;
out:
	free(nx);
	free(pv);
	free(h);
	return rc;
}

/* Bytes with no token become unk (or vanish); kept in place otherwise. */
static size_t fix_unknown(const struct bpe *b, int32_t *id, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (id[i] >= 0)
			id[k++] = id[i];
		else if (b->unk_id >= 0)
			id[k++] = b->unk_id;
	}
	return k;
}

int bpe_encode(const struct bpe *b, const char *piece, size_t len, struct tok_ids *out,
	       struct lm_error *err)
{
	const unsigned char *s = (const unsigned char *)piece;

	if (len == 0)
		return 0;
	if (len == 1) {
		int32_t one = b->byte_id[s[0]];
		size_t k = fix_unknown(b, &one, 1);
		return push_ids(out, &one, k, err);
	}
	if (b->flags & BPE_IGNORE_MERGES) {
		int32_t whole = vocab_find(b->vocab, piece, len);
		if (whole >= 0)
			return push_ids(out, &whole, 1, err);
	}
	struct tokcache *c = NULL;
	if (len <= TOKCACHE_PIECE_MAX && (c = tokcache_get(b->serial))) {
		size_t nc;
		const int32_t *cached = tokcache_find(c, piece, len, &nc);
		if (cached)
			return push_ids(out, cached, nc, err);
	}

	int32_t small[SCAN_MAX];
	int32_t *id = len <= SCAN_MAX ? small : malloc(len * sizeof(*id));
	size_t k = 0;
	int rc = 0;
	if (!id)
		return lm_fail(err, LM_ENOMEM, "bpe: out of memory");
	for (size_t i = 0; i < len; i++)
		id[i] = b->byte_id[s[i]];
	struct merge_ctx m = { b, piece, len };
	if (len <= SCAN_MAX)
		k = merge_scan(&m, id, len);
	else if ((rc = merge_heap(&m, id, len, &k, err)))
		goto out;
	k = fix_unknown(b, id, k);
	if (c)
		tokcache_put(c, piece, len, id, k);
	rc = push_ids(out, id, k, err);
out:
	if (id != small)
		free(id);
	return rc;
}

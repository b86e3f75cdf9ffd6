/* vocab.c - token table with text lookup and a merge map (see vocab.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tokenize/vocab.h"

struct vocab_token {
	uint32_t off;        /* into pool */
	uint32_t len;
	float score;
	uint8_t type;
	uint8_t is_set;
};

struct vocab_merge {
	uint64_t key;        /* left << 32 | right; VOCAB_NO_KEY when empty */
	uint32_t rank;
	int32_t result;
};

#define VOCAB_NO_KEY UINT64_MAX

/* A text -> id entry.  The slot holds the first 8 bytes of the text and
 * its length beside the hash, so a lookup of a text of up to 8 bytes (most
 * lookups of a BPE merge loop) is decided by the slot alone, without
 * touching the token table or the text pool. */
struct vocab_slot {
	uint64_t head;           /* first 8 bytes, zero-padded */
	uint32_t tag;            /* hash << 8 | min(len, 255) */
	int32_t id;              /* -1 empty */
};

struct vocab {
	struct vocab_token *tok;
	size_t n, cap;           /* highest id + 1, allocated */
	char *pool;
	size_t pool_len, pool_cap;
	struct vocab_slot *slots; /* text -> id; size mask + 1 */
	size_t mask, used;
	size_t longest;          /* bytes of the longest findable text */
	struct vocab_merge *merges;
	size_t merge_mask, n_merges;
};

/* The N <= 8 bytes at S as a little-endian word, zero-padded: what
 * memcpy(&w, s, n) into a zeroed word gives, without a byte loop, by
 * loads that overlap and stay inside S[0..N). */
static inline uint64_t load_short(const char *s, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const unsigned char *u = (const unsigned char *)s;
	uint64_t w;
	uint32_t a, b;

	if (n == 8) {
		memcpy(&w, s, 8);
		return w;
	}
	if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		return a | (uint64_t)b << (8 * (n - 4));
	}
	if (n == 0)
		return 0;
	return u[0] | (uint64_t)u[n >> 1] << (8 * (n >> 1)) | (uint64_t)u[n - 1] << (8 * (n - 1));
#else
	uint64_t w = 0;

	memcpy(&w, s, n);
	return w;
#endif
}

/* Hash of a short byte string: 8 bytes at a time, multiply-xor mixing. */
static uint64_t text_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
	int whole_words = n >= 8;

	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if (whole_words) {
			/* the last 8 bytes, shifted down to the N that are new */
			memcpy(&w, s + n - 8, 8);
			w >>= 8 * (8 - n);
		} else {
			w = load_short(s, n);
		}
#else
		(void)whole_words;
		w = load_short(s, n);
#endif
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
	}
	h ^= h >> 32;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 29;
	return h;
}

static uint64_t text_head(const char *s, size_t n)
{
	return load_short(s, n < 8 ? n : 8);
}

/* The tag keeps 24 bits of the hash, the table index comes from others. */
static uint32_t text_tag(uint64_t h, size_t n)
{
	return (uint32_t)(h >> 40) << 8 | (uint32_t)(n < 255 ? n : 255);
}

static size_t slot_index(uint64_t h, size_t mask)
{
	return (size_t)h & mask;
}

static uint64_t pair_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

/* Large tables on transparent huge pages where the kernel offers them on
 * request: a lookup at a random place then misses the TLB far less, and a
 * large vocabulary loads with a few page faults instead of thousands. */
#define HUGE_PAGE ((size_t)2 << 20)

static void *table_alloc(size_t bytes)
{
	void *p;

	if (bytes < HUGE_PAGE)
		return malloc(bytes);
	bytes = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if (posix_memalign(&p, HUGE_PAGE, bytes))
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

static struct vocab_slot *slots_new(size_t mask)
{
	struct vocab_slot *slots = table_alloc((mask + 1) * sizeof(*slots));

	if (slots)
		for (size_t i = 0; i <= mask; i++)
			slots[i].id = -1;
	return slots;
}

int vocab_new(struct vocab **v, struct lm_error *err)
{
	struct vocab *x = calloc(1, sizeof(*x));

	if (!x)
		return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
	x->mask = 1023;
	x->slots = slots_new(x->mask);
	x->merge_mask = 1023;
	x->merges = malloc((x->merge_mask + 1) * sizeof(*x->merges));
	if (!x->slots || !x->merges) {
		vocab_free(x);
		return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
	}
	for (size_t i = 0; i <= x->merge_mask; i++)
		x->merges[i].key = VOCAB_NO_KEY;
	*v = x;
	return 0;
}

void vocab_free(struct vocab *v)
{
	if (!v)
		return;
	free(v->tok);
	free(v->pool);
	free(v->slots);
	free(v->merges);
	free(v);
}

/* Whether slot E holds TEXT, given its head and tag. */
static int slot_match(const struct vocab *v, const struct vocab_slot *e, uint32_t tag, uint64_t head,
		      const char *s, size_t n)
{
	if (e->tag != tag || e->head != head)
		return 0;
	if (n <= 8)
		return 1;
	const struct vocab_token *t = &v->tok[e->id];
	return t->len == n && memcmp(v->pool + t->off + 8, s + 8, n - 8) == 0;
}

static int slots_resize(struct vocab *v, size_t mask)
{
	struct vocab_slot *slots = slots_new(mask);

	if (!slots)
		return -1;
	for (size_t i = 0; i <= v->mask; i++) {
		if (v->slots[i].id < 0)
			continue;
		const struct vocab_token *t = &v->tok[v->slots[i].id];
		size_t j = slot_index(text_hash(v->pool + t->off, t->len), mask);
		while (slots[j].id >= 0)
			j = (j + 1) & mask;
		slots[j] = v->slots[i];
	}
	free(v->slots);
	v->slots = slots;
	v->mask = mask;
	return 0;
}

static int tokens_reserve(struct vocab *v, size_t n, struct lm_error *err)
{
	if (n <= v->cap)
		return 0;
	size_t cap = v->cap ? v->cap : 256;
	while (cap < n)
		cap *= 2;
	struct vocab_token *t = table_alloc(cap * sizeof(*t));
	if (!t)
		return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
	if (v->cap)
		memcpy(t, v->tok, v->cap * sizeof(*t));
	memset(t + v->cap, 0, (cap - v->cap) * sizeof(*t));
	free(v->tok);
	v->tok = t;
	v->cap = cap;
	return 0;
}

static int pool_reserve(struct vocab *v, size_t n, struct lm_error *err)
{
	if (n <= v->pool_cap)
		return 0;
	if (n > UINT32_MAX)
		return lm_fail(err, LM_EFORMAT, "vocab: token texts exceed 4 GiB");
	size_t cap = v->pool_cap ? v->pool_cap : 4096;
	while (cap < n)
		cap *= 2;
	char *p = realloc(v->pool, cap);
	if (!p)
		return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
	v->pool = p;
	v->pool_cap = cap;
	return 0;
}

int vocab_reserve(struct vocab *v, size_t n_tokens, size_t text_bytes, struct lm_error *err)
{
	size_t mask = v->mask;
	int rc;

	if ((rc = tokens_reserve(v, n_tokens, err)) ||
	    (rc = pool_reserve(v, v->pool_len + text_bytes + n_tokens, err)))
		return rc;
	while ((v->used + n_tokens) * 2 > mask + 1)
		mask = mask * 2 + 1;
	if (mask != v->mask && slots_resize(v, mask))
		return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
	return 0;
}

/* The slot holding TEXT, or the empty slot where it would go. */
static struct vocab_slot *slot_find(const struct vocab *v, const char *text, size_t len,
				    uint64_t h)
{
	uint32_t tag = text_tag(h, len);
	uint64_t head = text_head(text, len);
	size_t j = slot_index(h, v->mask);

	for (; v->slots[j].id >= 0; j = (j + 1) & v->mask)
		if (slot_match(v, &v->slots[j], tag, head, text, len))
			break;
	return &v->slots[j];
}

/* FINDABLE: 0 hidden, 1 findable (a repeated text keeps the first id), 2
 * findable and unique (a repeated text is an error). */
static int set_token(struct vocab *v, int32_t id, const char *text, size_t len, float score,
		     enum vocab_type type, int findable, struct lm_error *err)
{
	int rc;

	if (id < 0 || len > UINT32_MAX)
		return lm_fail(err, LM_EFORMAT, "token %ld: bad id or length", (long)id);
	if ((rc = tokens_reserve(v, (size_t)id + 1, err)))
		return rc;
	if (v->tok[id].is_set)
		return lm_fail(err, LM_EFORMAT, "token %ld: set twice", (long)id);
	struct vocab_slot *e = NULL;
	uint64_t h = 0;
	if (findable) {
		if ((v->used + 1) * 2 > v->mask + 1 && slots_resize(v, v->mask * 2 + 1))
			return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
		h = text_hash(text, len);
		e = slot_find(v, text, len, h);
		if (e->id >= 0 && findable == 2)
			return lm_fail(err, LM_EFORMAT, "token %ld: same text as token %ld", (long)id,
				       (long)e->id);
	}
	if ((rc = pool_reserve(v, v->pool_len + len + 1, err)))
		return rc;
	struct vocab_token *t = &v->tok[id];
	t->off = (uint32_t)v->pool_len;
	t->len = (uint32_t)len;
	t->score = score;
	t->type = (uint8_t)type;
	t->is_set = 1;
	if (len)
		memcpy(v->pool + v->pool_len, text, len);
	v->pool[v->pool_len + len] = 0;
	v->pool_len += len + 1;
	if ((size_t)id >= v->n)
		v->n = (size_t)id + 1;
	if (!e || e->id >= 0)
		return 0;
	e->head = text_head(text, len);
	e->tag = text_tag(h, len);
	e->id = id;
	v->used++;
	if (len > v->longest)
		v->longest = len;
	return 0;
}

int vocab_set_unique(struct vocab *v, int32_t id, const char *text, size_t len, float score,
		     enum vocab_type type, struct lm_error *err)
{
	return set_token(v, id, text, len, score, type, 2, err);
}

int vocab_set(struct vocab *v, int32_t id, const char *text, size_t len, float score,
	      enum vocab_type type, struct lm_error *err)
{
	return set_token(v, id, text, len, score, type, 1, err);
}

int vocab_set_hidden(struct vocab *v, int32_t id, const char *text, size_t len, float score,
		     enum vocab_type type, struct lm_error *err)
{
	return set_token(v, id, text, len, score, type, 0, err);
}

int32_t vocab_find(const struct vocab *v, const char *text, size_t len)
{
	return slot_find(v, text, len, text_hash(text, len))->id;
}

size_t vocab_longest(const struct vocab *v)
{
	return v->longest;
}

size_t vocab_size(const struct vocab *v)
{
	return v->n;
}

const char *vocab_text(const struct vocab *v, int32_t id, size_t *len)
{
	if (id < 0 || (size_t)id >= v->n || !v->tok[id].is_set) {
		*len = 0;
		return NULL;
	}
	*len = v->tok[id].len;
	return v->pool + v->tok[id].off;
}

float vocab_score(const struct vocab *v, int32_t id)
{
	if (id < 0 || (size_t)id >= v->n)
		return 0.0f;
	return v->tok[id].score;
}

enum vocab_type vocab_token_type(const struct vocab *v, int32_t id)
{
	if (id < 0 || (size_t)id >= v->n)
		return VOCAB_UNDEFINED;
	return (enum vocab_type)v->tok[id].type;
}

static int merges_grow(struct vocab *v)
{
	size_t mask = v->merge_mask * 2 + 1;
	struct vocab_merge *m = malloc((mask + 1) * sizeof(*m));

	if (!m)
		return -1;
	for (size_t i = 0; i <= mask; i++)
		m[i].key = VOCAB_NO_KEY;
	for (size_t i = 0; i <= v->merge_mask; i++) {
		if (v->merges[i].key == VOCAB_NO_KEY)
			continue;
		size_t j = pair_hash(v->merges[i].key) & mask;
		while (m[j].key != VOCAB_NO_KEY)
			j = (j + 1) & mask;
		m[j] = v->merges[i];
	}
	free(v->merges);
	v->merges = m;
	v->merge_mask = mask;
	return 0;
}

int vocab_add_merge(struct vocab *v, int32_t left, int32_t right, int32_t result, uint32_t rank,
		    struct lm_error *err)
{
	if (left < 0 || right < 0 || result < 0)
		return lm_fail(err, LM_EFORMAT, "merge %lu: bad token id", (unsigned long)rank);
	uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
	size_t j = pair_hash(key) & v->merge_mask;

	for (; v->merges[j].key != VOCAB_NO_KEY; j = (j + 1) & v->merge_mask) {
		if (v->merges[j].key == key) {
			if (rank < v->merges[j].rank) {
				v->merges[j].rank = rank;
				v->merges[j].result = result;
			}
			return 0;
		}
	}
	if ((v->n_merges + 1) * 2 > v->merge_mask + 1) {
		if (merges_grow(v))
			return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
		j = pair_hash(key) & v->merge_mask;
		while (v->merges[j].key != VOCAB_NO_KEY)
			j = (j + 1) & v->merge_mask;
	}
	v->merges[j].key = key;
	v->merges[j].rank = rank;
	v->merges[j].result = result;
	v->n_merges++;
	return 0;
}

int vocab_merge(const struct vocab *v, int32_t left, int32_t right, uint32_t *rank, int32_t *result)
{
	uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
	size_t j = pair_hash(key) & v->merge_mask;

	for (; v->merges[j].key != VOCAB_NO_KEY; j = (j + 1) & v->merge_mask) {
		if (v->merges[j].key == key) {
			*rank = v->merges[j].rank;
			*result = v->merges[j].result;
			return 1;
		}
	}
	return 0;
}

size_t vocab_n_merges(const struct vocab *v)
{
	return v->n_merges;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

uint64_t vocab_hash(const struct vocab *v)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < v->n; i++) {
		const struct vocab_token *t = &v->tok[i];
		uint32_t len = t->is_set ? t->len : UINT32_MAX;
		h = fnv(h, &len, sizeof(len));
		h = fnv(h, &t->type, 1);
		if (t->is_set)
			h = fnv(h, v->pool + t->off, t->len);
	}
	/* Merges are an unordered set: combine entry hashes commutatively. */
	uint64_t m = 0;
	for (size_t i = 0; i <= v->merge_mask; i++) {
		const struct vocab_merge *e = &v->merges[i];
		if (e->key == VOCAB_NO_KEY)
			continue;
		uint64_t x = fnv(0xcbf29ce484222325ull, &e->key, sizeof(e->key));
		x = fnv(x, &e->rank, sizeof(e->rank));
		m += pair_hash(x);
	}
	return fnv(h, &m, sizeof(m));
}

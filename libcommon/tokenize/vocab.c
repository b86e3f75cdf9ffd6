/* vocab.c - token table with text lookup and a merge map (see vocab.h). */
#include <stdlib.h>
#include <string.h>

#include "tokenize/vocab.h"

struct vocab_token {
	size_t off;          /* into pool */
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

/* The hash is kept beside the id so that a probe touches the token table
 * and its text only on a likely match. */
struct vocab_slot {
	uint32_t hash;
	int32_t id;              /* -1 empty */
};

struct vocab {
	struct vocab_token *tok;
	size_t n, cap;           /* highest id + 1, allocated */
	char *pool;
	size_t pool_len, pool_cap;
	struct vocab_slot *slots; /* text -> id; size mask + 1 */
	size_t mask, used;
	struct vocab_merge *merges;
	size_t merge_mask, n_merges;
};

/* Hash of a short byte string: 8 bytes at a time, multiply-xor mixing. */
static uint64_t text_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
	}
	h ^= h >> 32;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 29;
	return h;
}

/* The table index comes from the high bits, the stored hash is the low 32. */
static size_t slot_index(uint64_t h, size_t mask)
{
	return (size_t)((uint32_t)h * 0x9e3779b1u >> 7) & mask;
}

static uint64_t pair_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

int vocab_new(struct vocab **v, struct lm_error *err)
{
	struct vocab *x = calloc(1, sizeof(*x));

	if (!x)
		return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
	x->mask = 1023;
	x->slots = malloc((x->mask + 1) * sizeof(*x->slots));
	x->merge_mask = 1023;
	x->merges = malloc((x->merge_mask + 1) * sizeof(*x->merges));
	if (!x->slots || !x->merges) {
		vocab_free(x);
		return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
	}
	memset(x->slots, 0xff, (x->mask + 1) * sizeof(*x->slots));
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

static int text_equal(const struct vocab *v, int32_t id, const char *s, size_t n)
{
	const struct vocab_token *t = &v->tok[id];

	return t->len == n && memcmp(v->pool + t->off, s, n) == 0;
}

static int slots_grow(struct vocab *v)
{
	size_t mask = v->mask * 2 + 1;
	struct vocab_slot *slots = malloc((mask + 1) * sizeof(*slots));

	if (!slots)
		return -1;
	memset(slots, 0xff, (mask + 1) * sizeof(*slots));
	for (size_t i = 0; i <= v->mask; i++) {
		if (v->slots[i].id < 0)
			continue;
		size_t j = slot_index(v->slots[i].hash, mask);
		while (slots[j].id >= 0)
			j = (j + 1) & mask;
		slots[j] = v->slots[i];
	}
	free(v->slots);
	v->slots = slots;
	v->mask = mask;
	return 0;
}

static int set_token(struct vocab *v, int32_t id, const char *text, size_t len, float score,
		     enum vocab_type type, int findable, struct lm_error *err)
{
	if (id < 0 || len > UINT32_MAX)
		return lm_fail(err, LM_EFORMAT, "token %ld: bad id or length", (long)id);
	if ((size_t)id >= v->cap) {
		size_t cap = v->cap ? v->cap : 256;
		while (cap <= (size_t)id)
			cap *= 2;
		struct vocab_token *t = realloc(v->tok, cap * sizeof(*t));
		if (!t)
			return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
		memset(t + v->cap, 0, (cap - v->cap) * sizeof(*t));
		v->tok = t;
		v->cap = cap;
	}
	if (v->tok[id].is_set)
		return lm_fail(err, LM_EFORMAT, "token %ld: set twice", (long)id);
	if (v->pool_len + len + 1 > v->pool_cap) {
		size_t cap = v->pool_cap ? v->pool_cap : 4096;
		while (cap < v->pool_len + len + 1)
			cap *= 2;
		char *p = realloc(v->pool, cap);
		if (!p)
			return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
		v->pool = p;
		v->pool_cap = cap;
	}
	struct vocab_token *t = &v->tok[id];
	t->off = v->pool_len;
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
	if (!findable)
		return 0;
	if ((v->used + 1) * 2 > v->mask + 1 && slots_grow(v))
		return lm_fail(err, LM_ENOMEM, "vocab: out of memory");
	uint32_t h = (uint32_t)text_hash(text, len);
	size_t j = slot_index(h, v->mask);
	for (; v->slots[j].id >= 0; j = (j + 1) & v->mask)
		if (v->slots[j].hash == h && text_equal(v, v->slots[j].id, text, len))
			return 0;
	v->slots[j].hash = h;
	v->slots[j].id = id;
	v->used++;
	return 0;
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
	uint32_t h = (uint32_t)text_hash(text, len);
	size_t j = slot_index(h, v->mask);

	for (; v->slots[j].id >= 0; j = (j + 1) & v->mask)
		if (v->slots[j].hash == h && text_equal(v, v->slots[j].id, text, len))
			return v->slots[j].id;
	return -1;
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

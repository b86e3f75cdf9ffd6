/* tokcache.c - per-thread piece cache (see tokcache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/tokcache.h"

/* Slots for 32768 pieces (half full at most): the distinct pieces of a
 * few MB of text, so a long input stops missing after its start rather
 * than emptying the cache again and again. */
#define CACHE_SLOTS 65536          /* power of two */
#define CACHE_BYTES (4u << 20)

struct tokcache {
	uint64_t owner;
	uint32_t hash, slot;       /* of the last miss, for tokcache_put */
	uint32_t slot_hash[CACHE_SLOTS];
	uint32_t slot_off[CACHE_SLOTS];   /* arena offset + 1; 0 = empty */
	size_t used;
	size_t arena_len;
	unsigned char arena[CACHE_BYTES];
};

struct cache_entry {
	uint32_t len, n;
	/* then N int32 ids, then LEN bytes */
};

static uint64_t owner_serial;
/* The thread's cache, owned through CACHE_KEY (whose destructor frees it
 * when the thread ends); this copy only saves the key lookup per piece. */
static __thread struct tokcache *thread_cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_key_ok;

static void cache_key_init(void)
{
	cache_key_ok = pthread_key_create(&cache_key, free) == 0;
}

uint64_t tokcache_owner(void)
{
	return __atomic_add_fetch(&owner_serial, 1, __ATOMIC_RELAXED);
}

static void cache_clear(struct tokcache *c)
{
	memset(c->slot_off, 0, sizeof(c->slot_off));
	c->used = 0;
	c->arena_len = 0;
}

struct tokcache *tokcache_get(uint64_t owner)
{
	if (thread_cache && thread_cache->owner == owner)
		return thread_cache;
	pthread_once(&cache_once, cache_key_init);
	if (!cache_key_ok)
		return NULL;
	struct tokcache *c = pthread_getspecific(cache_key);
	if (!c) {
		c = malloc(sizeof(*c));
		if (!c)
			return NULL;
		if (pthread_setspecific(cache_key, c)) {
			free(c);
			return NULL;
		}
		c->owner = 0;
	}
	if (c->owner != owner) {
		cache_clear(c);
		c->owner = owner;
	}
	thread_cache = c;
	return c;
}

/* The N < 8 bytes at S as a little-endian word, zero-padded (what
 * memcpy into a zeroed word gives), by loads that stay inside S[0..N). */
static inline uint64_t load_short(const char *s, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const unsigned char *u = (const unsigned char *)s;
	uint32_t a, b;

	if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		return a | (uint64_t)b << (8 * (n - 4));
	}
	return u[0] | (uint64_t)u[n >> 1] << (8 * (n >> 1)) | (uint64_t)u[n - 1] << (8 * (n - 1));
#else
	uint64_t w = 0;

	memcpy(&w, s, n);
	return w;
#endif
}

/* memcmp(a, b, n) == 0 without a call for the short pieces most are. */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
	uint64_t x, y, u, v;

	if (n == 0)
		return 1;
	if (n < 8)
		return load_short(a, n) == load_short(b, n);
	if (n > 16)
		return memcmp(a, b, n) == 0;
	memcpy(&x, a, 8);
	memcpy(&y, b, 8);
	memcpy(&u, a + n - 8, 8);
	memcpy(&v, b + n - 8, 8);
	return ((x ^ y) | (u ^ v)) == 0;
}

static uint32_t piece_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	if (n) {
		h = (h ^ load_short(s, n)) * 0xbf58476d1ce4e5b9ull;
	}
	h ^= h >> 29;
	h *= 0x94d049bb133111ebull;
	return (uint32_t)(h >> 32);
}

const int32_t *tokcache_find(struct tokcache *c, const char *s, size_t n, size_t *nids)
{
	uint32_t h = piece_hash(s, n);
	size_t j = h & (CACHE_SLOTS - 1);

	for (; c->slot_off[j]; j = (j + 1) & (CACHE_SLOTS - 1)) {
		if (c->slot_hash[j] != h)
			continue;
		const struct cache_entry *e = (const void *)(c->arena + c->slot_off[j] - 1);
		const char *bytes = (const char *)(e + 1) + e->n * sizeof(int32_t);
		if (e->len == n && same_bytes(bytes, s, n)) {
			*nids = e->n;
			return (const int32_t *)(e + 1);
		}
	}
	c->hash = h;
	c->slot = (uint32_t)j;
	return NULL;
}

void tokcache_put(struct tokcache *c, const char *s, size_t n, const int32_t *ids, size_t nids)
{
	size_t need = sizeof(struct cache_entry) + nids * sizeof(int32_t) + n;
	size_t slot = c->slot;

	need = (need + 7) & ~(size_t)7;
	if (need > CACHE_BYTES)
		return;
	if (c->used + 1 > CACHE_SLOTS / 2 || c->arena_len + need > CACHE_BYTES) {
		cache_clear(c);
		slot = c->hash & (CACHE_SLOTS - 1);
	}
	struct cache_entry *e = (void *)(c->arena + c->arena_len);
	e->len = (uint32_t)n;
	e->n = (uint32_t)nids;
	if (nids)
		memcpy(e + 1, ids, nids * sizeof(int32_t));
	memcpy((char *)(e + 1) + nids * sizeof(int32_t), s, n);
	c->slot_hash[slot] = c->hash;
	c->slot_off[slot] = (uint32_t)c->arena_len + 1;
	c->arena_len += need;
	c->used++;
}

/* test_tokcache.c - the per-thread piece cache (tokcache.h). */
#include <pthread.h>
#include <string.h>

#include "tap.h"
#include "tokenize/tokcache.h"

static uint64_t owner_a;

static void *other_thread(void *arg)
{
	struct tokcache *c = tokcache_get(owner_a);
	size_t n;

	*(int *)arg = c && !tokcache_find(c, "hello", 5, &n);
	return NULL;
}

int main(void)
{
	static const int32_t ids[] = { 7, 8, 9 };
	uint64_t owner_b;
	struct tokcache *c;
	const int32_t *got;
	size_t n = 0;
	int fresh = 0, all = 1;
	pthread_t t;

	owner_a = tokcache_owner();
	owner_b = tokcache_owner();
	ok(owner_a != owner_b, "owners differ");
	ok((c = tokcache_get(owner_a)) != NULL, "get");
	ok(!tokcache_find(c, "hello", 5, &n), "empty: a miss");
	tokcache_put(c, "hello", 5, ids, 3);
	got = tokcache_find(c, "hello", 5, &n);
	ok(got && n == 3 && !memcmp(got, ids, sizeof ids), "put then found");
	ok(!tokcache_find(c, "hell", 4, &n) && !tokcache_find(c, "hello!", 6, &n),
	   "a prefix or a longer piece is another piece");
	tokcache_put(c, "hello!", 6, ids, 0);
	got = tokcache_find(c, "hello!", 6, &n);
	ok(got && n == 0, "a piece with no ids");
	ok(!pthread_create(&t, NULL, other_thread, &fresh) && !pthread_join(t, NULL) && fresh,
	   "another thread has its own cache");
	c = tokcache_get(owner_b);
	ok(c && !tokcache_find(c, "hello", 5, &n), "another owner starts afresh");
	c = tokcache_get(owner_a);
	ok(c && !tokcache_find(c, "hello", 5, &n), "and so does the first owner after it");
	/* More pieces than the table holds: it empties and goes on. */
	for (int i = 0; i < 40000; i++) {
		char p[16];
		int32_t id = i;
		int len = snprintf(p, sizeof p, "p%d", i);

		if (!tokcache_find(c, p, (size_t)len, &n))
			tokcache_put(c, p, (size_t)len, &id, 1);
		got = tokcache_find(c, p, (size_t)len, &n);
		all &= got && n == 1 && got[0] == i;
	}
	ok(all, "40000 pieces: each found right after its put");
	return tap_done();
}

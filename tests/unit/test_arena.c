/* test_arena.c - alignment, separation of allocations, chunk growth and
 * reuse after reset, and the failure cases. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "tap.h"

struct piece {
	unsigned char *p;
	size_t size;
};

int main(void)
{
	struct arena *a = arena_new(4096);
	struct piece pieces[300];
	size_t cap, i, j;
	int aligned = 1, intact = 1, distinct = 1;
	void *p, *q;

	ok(a != NULL, "arena_new");
	p = arena_alloc(a, 10, 0);
	ok(p && ((uintptr_t)p & 63) == 0, "default alignment is 64");

	/* many sizes and alignments; each piece filled with its own byte,
	 * then all checked, so any overlap shows */
	for (i = 0; i < 300; i++) {
		size_t align = (size_t)1 << (i % 13), size = (i * 37) % 700 + (i % 50 == 0 ? 10000 : 0);

		pieces[i].p = arena_alloc(a, size, align);
		pieces[i].size = size;
		if (!pieces[i].p || ((uintptr_t)pieces[i].p & (align - 1)))
			aligned = 0;
		else
			memset(pieces[i].p, (int)(i & 0xff), size);
	}
	ok(aligned, "300 allocations, alignments 1..4096, all aligned");
	for (i = 0; i < 300; i++)
		for (j = 0; j < pieces[i].size; j++)
			if (pieces[i].p[j] != (unsigned char)(i & 0xff))
				intact = 0;
	ok(intact, "no allocation overlaps another");
	ok(arena_capacity(a) >= 4096 * 2, "grew beyond one chunk (%zu bytes)", arena_capacity(a));

	p = arena_alloc(a, 1 << 20, 0);
	ok(p != NULL, "allocation larger than a chunk gets its own");
	memset(p, 1, 1 << 20);

	/* the same pattern after a reset must not need new memory */
	arena_reset(a);
	cap = arena_capacity(a);
	for (i = 0; i < 300; i++) {
		size_t align = (size_t)1 << (i % 13), size = (i * 37) % 700 + (i % 50 == 0 ? 10000 : 0);

		q = arena_alloc(a, size, align);
		if (!q || ((uintptr_t)q & (align - 1)))
			aligned = 0;
		else
			memset(q, 0, size);
	}
	ok(aligned, "aligned after reset");
	is_int(arena_capacity(a), cap, "a repeated round after reset reuses the chunks");

	p = arena_alloc(a, 0, 0);
	q = arena_alloc(a, 0, 0);
	ok(p && q && p != q, "zero-size allocations are valid and distinct");

	ok(arena_alloc(a, 16, 3) == NULL, "alignment 3 (not a power of two) fails");
	ok(arena_alloc(a, 16, 48) == NULL, "alignment 48 fails");
	ok(arena_alloc(a, SIZE_MAX, 0) == NULL, "SIZE_MAX fails");
	ok(arena_alloc(a, SIZE_MAX - 100, 8192) == NULL, "size + alignment overflow fails");
	p = arena_alloc(a, 100, 8192);
	ok(p && ((uintptr_t)p & 8191) == 0, "alignment above the chunk alignment (8192)");
	/* still usable after failures */
	for (i = 0; i < 50; i++) {
		unsigned char *r = arena_alloc(a, 64, 0);

		if (!r || r == p)
			distinct = 0;
	}
	ok(distinct, "arena keeps working after failed requests");

	arena_free(a);
	arena_free(NULL);
	a = arena_new(0);
	p = arena_alloc(a, 100, 0);
	ok(p && arena_capacity(a) == 1 << 20, "default chunk is 1 MiB");
	arena_free(a);
	return tap_done();
}

#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

enum { ARENA_DEFAULT_CHUNK = 1 << 20 };

struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, used;
	_Alignas(ARENA_ALIGN) unsigned char mem[];
};

struct arena {
	struct arena_chunk *head;   /* chunks in allocation order */
	struct arena_chunk *cur;    /* the one being filled; earlier ones are full */
	size_t chunk_size;
	size_t capacity;
};

struct arena *arena_new(size_t chunk_size)
{
	struct arena *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->chunk_size = chunk_size ? chunk_size : ARENA_DEFAULT_CHUNK;
	return a;
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c;

	for (c = a->head; c; c = c->next)
		c->used = 0;
	a->cur = a->head;
}

size_t arena_capacity(const struct arena *a)
{
	return a->capacity;
}

/* Where an allocation would start in chunk c, or 0 if it does not fit. */
static int chunk_fit(const struct arena_chunk *c, size_t size, size_t align, size_t *start)
{
	uintptr_t base = (uintptr_t)c->mem, p;
	size_t off, end;

	p = (base + c->used + (align - 1)) & ~(uintptr_t)(align - 1);
	off = (size_t)(p - base);
	if (off < c->used || __builtin_add_overflow(off, size, &end) || end > c->cap)
		return 0;
	*start = off;
	return 1;
}

void *arena_alloc(struct arena *a, size_t size, size_t align)
{
	struct arena_chunk *c, *prev;
	size_t start, cap, bytes;

	if (!size)
		size = 1;	/* so that every pointer is distinct */
	if (!align)
		align = ARENA_ALIGN;
	if (align & (align - 1))
		return NULL;
	/* try the current chunk and, after a reset, the ones behind it */
	for (c = a->cur; c; c = c->next) {
		if (chunk_fit(c, size, align, &start))
			goto found;
		a->cur = c->next ? c->next : c;
		if (!c->next)
			break;
	}
	/* a fresh chunk; mem is ARENA_ALIGN-aligned, so only larger
	 * alignments need slack */
	cap = a->chunk_size;
	if (align > ARENA_ALIGN) {
		if (__builtin_add_overflow(size, align - ARENA_ALIGN, &bytes))
			return NULL;
	} else {
		bytes = size;
	}
	if (bytes > cap)
		cap = bytes;
	if (__builtin_add_overflow(cap, sizeof *c, &bytes) || bytes > PTRDIFF_MAX)
		return NULL;
	/* round the block to the alignment aligned_alloc requires */
	if (__builtin_add_overflow(bytes, ARENA_ALIGN - 1, &bytes))
		return NULL;
	bytes &= ~(size_t)(ARENA_ALIGN - 1);
	c = aligned_alloc(ARENA_ALIGN, bytes);
	if (!c)
		return NULL;
	c->cap = cap;
	c->used = 0;
	/* insert after cur, so chunks still unused since a reset stay next */
	prev = a->cur;
	if (prev) {
		c->next = prev->next;
		prev->next = c;
	} else {
		c->next = a->head;
		a->head = c;
	}
	a->cur = c;
	a->capacity += cap;
	if (!chunk_fit(c, size, align, &start))
		return NULL;
found:
	c->used = start + size;
	return c->mem + start;
}

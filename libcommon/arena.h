/* arena.h - a bump allocator for short-lived buffers of one batch or request.
 *
 * Allocations are carved from large chunks and are never freed one by one:
 * arena_reset makes all of them invalid at once and keeps the chunks for the
 * next round, so a steady loop stops calling malloc; arena_free returns
 * everything to the system.  Not thread-safe: one arena per thread.
 */
#ifndef LMPIPE_ARENA_H
#define LMPIPE_ARENA_H

#include <stddef.h>

#define ARENA_ALIGN 64           /* default alignment: a cache line, a ZMM register */

struct arena;

/* chunk_size: bytes per chunk (0 = 1 MiB); an allocation larger than a chunk
 * gets a chunk of its own.  NULL when out of memory. */
struct arena *arena_new(size_t chunk_size);
void arena_free(struct arena *arena);

/* SIZE bytes (uninitialised) aligned to ALIGN, which must be a power of two
 * (0 = ARENA_ALIGN).  A size of 0 gives a valid, unique pointer.  NULL when
 * the alignment is invalid, the size overflows or memory runs out. */
void *arena_alloc(struct arena *arena, size_t size, size_t align);
/* Forget every allocation; the chunks stay for reuse. */
void arena_reset(struct arena *arena);
/* Bytes obtained from the system (for budgets and tests). */
size_t arena_capacity(const struct arena *arena);

#endif

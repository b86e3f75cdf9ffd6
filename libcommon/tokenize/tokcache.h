/* tokcache.h - a per-thread cache of piece -> token ids for the encoders.
 *
 * Text repeats its words, so the models (bpe.c, spm.c) remember the ids of
 * recent pieces.  Each thread has one cache, tagged with the owner that
 * filled it (tokcache_owner, one per model instance); another owner on the
 * same thread starts it afresh, so a model never sees another's entries.
 * Entries live in one arena; when it or the slot table fills, everything
 * goes.  Pieces longer than TOKCACHE_PIECE_MAX bytes are not cached.
 */
#ifndef LMPIPE_TOK_TOKCACHE_H
#define LMPIPE_TOK_TOKCACHE_H

#include <stddef.h>
#include <stdint.h>

#define TOKCACHE_PIECE_MAX 128

struct tokcache;

/* A new owner tag. */
uint64_t tokcache_owner(void);
/* This thread's cache for OWNER, or NULL when none can be had (then the
 * caller just encodes). */
struct tokcache *tokcache_get(uint64_t owner);
/* The ids of PIECE (*N of them), or NULL when not cached; a following
 * tokcache_put for the same piece stores it where the search ended. */
const int32_t *tokcache_find(struct tokcache *c, const char *piece, size_t len, size_t *n);
void tokcache_put(struct tokcache *c, const char *piece, size_t len, const int32_t *ids, size_t n);

#endif

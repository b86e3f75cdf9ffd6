/* zblock.h - zstd-compressed blocks with bounded decompression.
 *
 * A block is one complete zstd frame (RFC 8878) that records its content
 * size and a content checksum, so it describes itself and corruption is
 * detected rather than returned as data.  Decompression refuses a frame
 * whose declared size exceeds the caller's cap before allocating anything,
 * so a corrupt or hostile file cannot make us allocate gigabytes, and
 * insists that the input is exactly one frame with nothing after it.
 *
 * Every function takes WHAT, a description of the block for messages
 * ("docs.idx: text of record 1234"); errors read "WHAT: reason".
 * Codes: LM_EFORMAT for a corrupt, truncated or size-less frame, LM_ENOMEM
 * for a frame larger than the cap or an allocation failure, LM_EINVAL for
 * a destination too small for compression.
 *
 * struct zblock keeps the zstd contexts between calls (creating them costs
 * far more than compressing a short text); one per thread.
 */
#ifndef LMPIPE_ZBLOCK_H
#define LMPIPE_ZBLOCK_H

#include <stddef.h>

#include "error.h"

struct zblock;

/* LEVEL as for zstd(1): 1..19 (0 = zstd's default, 3).  NULL when out of
 * memory. */
struct zblock *zblock_new(int level, struct lm_error *err);
void zblock_free(struct zblock *zb);

/* Worst-case compressed size of n bytes (ZSTD_compressBound). */
size_t zblock_bound(size_t n);

/* Compress src[0..n) into dst[0..cap) (cap >= zblock_bound(n) always
 * suffices); *len receives the block size. */
int zblock_compress_into(struct zblock *zb, void *dst, size_t cap, size_t *len,
			 const void *src, size_t n, const char *what, struct lm_error *err);
/* As zblock_compress_into, into a new malloc'ed buffer *out (caller frees). */
int zblock_compress(struct zblock *zb, const void *src, size_t n, void **out, size_t *len,
		    const char *what, struct lm_error *err);

/* The content size a block declares, checked to be one whole frame with a
 * known size no larger than cap. */
int zblock_content_size(const void *src, size_t n, size_t cap, size_t *size,
			const char *what, struct lm_error *err);
/* Decompress a block into dst[0..cap); *len receives the content size. */
int zblock_decompress_into(struct zblock *zb, void *dst, size_t cap, size_t *len,
			   const void *src, size_t n, const char *what, struct lm_error *err);
/* Decompress a block of at most cap bytes into a new malloc'ed buffer *out
 * (caller frees; one spare byte is allocated and set to 0, so text can be
 * used as a C string). */
int zblock_decompress(struct zblock *zb, const void *src, size_t n, size_t cap, void **out,
		      size_t *len, const char *what, struct lm_error *err);

#endif

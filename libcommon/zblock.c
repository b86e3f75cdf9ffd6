#include "zblock.h"

#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

struct zblock {
	int level;
	ZSTD_CCtx *cctx;     /* created on first use: readers never need one */
	ZSTD_DCtx *dctx;
};

struct zblock *zblock_new(int level, struct lm_error *err)
{
	struct zblock *zb = calloc(1, sizeof *zb);

	if (!zb) {
		lm_fail(err, LM_ENOMEM, "out of memory for a zstd context");
		return NULL;
	}
	zb->level = level ? level : ZSTD_CLEVEL_DEFAULT;
	return zb;
}

void zblock_free(struct zblock *zb)
{
	if (!zb)
		return;
	ZSTD_freeCCtx(zb->cctx);
	ZSTD_freeDCtx(zb->dctx);
	free(zb);
}

size_t zblock_bound(size_t n)
{
	return ZSTD_compressBound(n);
}

static int cctx_ready(struct zblock *zb, const char *what, struct lm_error *err)
{
	size_t r;

	if (zb->cctx)
		return LM_OK;
	zb->cctx = ZSTD_createCCtx();
	if (!zb->cctx)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory for a zstd compressor", what);
	/* parameters stick to the context across ZSTD_compress2 calls */
	r = ZSTD_CCtx_setParameter(zb->cctx, ZSTD_c_compressionLevel, zb->level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(zb->cctx, ZSTD_c_contentSizeFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(zb->cctx, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r)) {
		ZSTD_freeCCtx(zb->cctx);
		zb->cctx = NULL;
		return lm_fail(err, LM_EINVAL, "%s: zstd level %d: %s", what, zb->level, ZSTD_getErrorName(r));
	}
	return LM_OK;
}

int zblock_compress_into(struct zblock *zb, void *dst, size_t cap, size_t *len,
			 const void *src, size_t n, const char *what, struct lm_error *err)
{
	size_t r;
	int rc;

	rc = cctx_ready(zb, what, err);
	if (rc)
		return rc;
	r = ZSTD_compress2(zb->cctx, dst, cap, src, n);
	if (ZSTD_isError(r)) {
		if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
			return lm_fail(err, LM_EINVAL, "%s: %zu bytes do not fit a %zu-byte block buffer",
				       what, n, cap);
		if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
			return lm_fail(err, LM_ENOMEM, "%s: out of memory compressing", what);
		return lm_fail(err, LM_EINVAL, "%s: compression failed: %s", what, ZSTD_getErrorName(r));
	}
	*len = r;
	return LM_OK;
}

int zblock_compress(struct zblock *zb, const void *src, size_t n, void **out, size_t *len,
		    const char *what, struct lm_error *err)
{
	size_t cap = zblock_bound(n);
	void *buf;
	int rc;

	*out = NULL;
	if (ZSTD_isError(cap))
		return lm_fail(err, LM_ENOMEM, "%s: %zu bytes are too many for one block", what, n);
	buf = malloc(cap);
	if (!buf)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory for %zu compressed bytes", what, cap);
	rc = zblock_compress_into(zb, buf, cap, len, src, n, what, err);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	return LM_OK;
}

int zblock_content_size(const void *src, size_t n, size_t cap, size_t *size,
			const char *what, struct lm_error *err)
{
	const unsigned char *p = src;
	unsigned long long declared;
	size_t frame;

	/* RFC 8878 3.1.1: a zstd frame starts with 0xFD2FB528 (LE); skippable
	 * frames are valid zstd but not a block of ours */
	if (n < 4 || p[0] != 0x28 || p[1] != 0xb5 || p[2] != 0x2f || p[3] != 0xfd)
		return lm_fail(err, LM_EFORMAT, "%s: not a zstd block (bad magic or %zu bytes)", what, n);
	frame = ZSTD_findFrameCompressedSize(src, n);
	if (ZSTD_isError(frame))
		return lm_fail(err, LM_EFORMAT, "%s: corrupt or truncated zstd block (%zu bytes): %s",
			       what, n, ZSTD_getErrorName(frame));
	if (frame != n)
		return lm_fail(err, LM_EFORMAT, "%s: %zu bytes after the end of the zstd block",
			       what, n - frame);
	declared = ZSTD_getFrameContentSize(src, n);
	if (declared == ZSTD_CONTENTSIZE_ERROR)
		return lm_fail(err, LM_EFORMAT, "%s: corrupt zstd block header", what);
	if (declared == ZSTD_CONTENTSIZE_UNKNOWN)
		return lm_fail(err, LM_EFORMAT, "%s: zstd block does not record its size", what);
	if (declared > cap)
		return lm_fail(err, LM_ENOMEM, "%s: zstd block declares %llu bytes, more than the limit of %zu",
			       what, declared, cap);
	*size = (size_t)declared;
	return LM_OK;
}

int zblock_decompress_into(struct zblock *zb, void *dst, size_t cap, size_t *len,
			   const void *src, size_t n, const char *what, struct lm_error *err)
{
	size_t size, r;
	int rc;

	rc = zblock_content_size(src, n, cap, &size, what, err);
	if (rc)
		return rc;
	if (!zb->dctx) {
		zb->dctx = ZSTD_createDCtx();
		if (!zb->dctx)
			return lm_fail(err, LM_ENOMEM, "%s: out of memory for a zstd decompressor", what);
	}
	/* a destination of exactly the declared size: the frame cannot
	 * write past it, and a frame that decodes to less is caught below */
	r = ZSTD_decompressDCtx(zb->dctx, dst, size, src, n);
	if (ZSTD_isError(r))
		return lm_fail(err, LM_EFORMAT, "%s: corrupt zstd block: %s", what, ZSTD_getErrorName(r));
	if (r != size)
		return lm_fail(err, LM_EFORMAT, "%s: zstd block decodes to %zu bytes, header says %zu",
			       what, r, size);
	*len = r;
	return LM_OK;
}

int zblock_decompress(struct zblock *zb, const void *src, size_t n, size_t cap, void **out,
		      size_t *len, const char *what, struct lm_error *err)
{
	unsigned char *buf;
	size_t size;
	int rc;

	*out = NULL;
	rc = zblock_content_size(src, n, cap, &size, what, err);
	if (rc)
		return rc;
	if (size == SIZE_MAX)
		return lm_fail(err, LM_ENOMEM, "%s: zstd block of %zu bytes is too large", what, size);
	buf = malloc(size + 1);
	if (!buf)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory for %zu decompressed bytes", what, size);
	rc = zblock_decompress_into(zb, buf, size, len, src, n, what, err);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[size] = 0;
	*out = buf;
	return LM_OK;
}

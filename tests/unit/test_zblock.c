/* test_zblock.c - round trips, and every way a block can be bad: corrupt,
 * truncated, trailing bytes, not zstd, no recorded size, larger than the
 * caller's cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "tap.h"
#include "zblock.h"

static uint64_t rng_state = 0x13198a2e03707344ull;

static uint32_t rng32(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static int round_trip(struct zblock *zb, const void *src, size_t n)
{
	struct lm_error err = { 0 };
	void *c = NULL, *d = NULL;
	size_t clen = 0, dlen = 0;
	int good;

	if (zblock_compress(zb, src, n, &c, &clen, "round trip", &err)) {
		diag("%s", err.msg);
		return 0;
	}
	good = zblock_decompress(zb, c, clen, n, &d, &dlen, "round trip", &err) == 0 && dlen == n &&
	       (n == 0 || memcmp(d, src, n) == 0) && ((unsigned char *)d)[n] == 0;
	if (!good)
		diag("%s", err.msg);
	free(c);
	free(d);
	return good;
}

int main(void)
{
	struct lm_error err = { 0 };
	struct zblock *zb = zblock_new(3, &err), *zb19 = zblock_new(19, &err);
	static const char text[] = "The quick brown fox jumps over the lazy dog. The quick brown fox jumps again.";
	size_t big_n = 1 << 20, clen, len, size, i;
	unsigned char *big = malloc(big_n), *rnd = malloc(65536), *c, *out;
	void *cv = NULL, *dv = NULL;
	int failures, successes;

	ok(zb && zb19, "zblock_new");
	for (i = 0; i < big_n; i++)
		big[i] = (unsigned char)("abcdefgh"[(i / 3) % 8] ^ (i % 1000 == 0));
	for (i = 0; i < 65536; i++)
		rnd[i] = (unsigned char)rng32();

	ok(round_trip(zb, text, sizeof text - 1), "text round trip");
	ok(round_trip(zb, "", 0), "empty round trip");
	ok(round_trip(zb, "x", 1), "one byte round trip");
	ok(round_trip(zb, rnd, 65536), "incompressible 64 KiB round trip");
	ok(round_trip(zb, big, big_n), "1 MiB round trip");
	ok(round_trip(zb19, big, big_n), "level 19 round trip");
	for (i = 0, failures = 0; i < 200; i++)
		failures += !round_trip(zb, rnd + rng32() % 60000, rng32() % 5000);
	is_int(failures, 0, "200 round trips with one context reused");

	/* the failure tests below decode once per byte of a block: keep it small */
	big_n = 65536;

	ok(zblock_compress(zb, big, big_n, &cv, &clen, "big", &err) == 0 && clen < big_n / 20,
	   "repetitive data shrinks (%zu -> %zu)", big_n, clen);
	c = cv;
	ok(zblock_content_size(c, clen, big_n, &size, "big", &err) == 0 && size == big_n, "content size recorded");

	/* into caller buffers */
	out = malloc(big_n);
	ok(zblock_decompress_into(zb, out, big_n, &len, c, clen, "big", &err) == 0 && len == big_n &&
	   memcmp(out, big, big_n) == 0, "decompress into a buffer");
	is_int(zblock_decompress_into(zb, out, big_n - 1, &len, c, clen, "big", &err), LM_ENOMEM,
	       "buffer one byte short: refused before decoding");

	/* cap exceeded: the declared size is checked before any allocation */
	is_int(zblock_decompress(zb, c, clen, big_n - 1, &dv, &len, "docs.idx: text of record 7", &err), LM_ENOMEM,
	       "cap below the content size refused");
	ok(dv == NULL, "nothing returned on failure");
	ok(strstr(err.msg, "docs.idx: text of record 7: ") == err.msg && strstr(err.msg, "65536"),
	   "message names the block and the size: %s", err.msg);

	/* a small frame that claims 256 MiB of zeros: refused under a 1 MiB cap */
	{
		size_t zeros_n = (size_t)256 << 20;
		unsigned char *zeros = calloc(1, zeros_n);
		void *zc = NULL, *zd = NULL;
		size_t zlen = 0;

		ok(zeros && zblock_compress(zb, zeros, zeros_n, &zc, &zlen, "zeros", &err) == 0 && zlen < 65536,
		   "256 MiB of zeros compress to %zu bytes", zlen);
		free(zeros);
		is_int(zblock_decompress(zb, zc, zlen, 1 << 20, &zd, &len, "bomb", &err), LM_ENOMEM,
		       "decompression bomb refused by the cap");
		free(zc);
	}

	/* truncation at every length */
	for (i = 0, successes = 0, failures = 0; i < clen; i++) {
		int rc = zblock_decompress(zb, c, i, big_n, &dv, &len, "cut", &err);

		if (rc == 0) {
			successes++;
			free(dv);
		} else if (rc == LM_EFORMAT && strncmp(err.msg, "cut: ", 5) == 0) {
			failures++;
		}
	}
	is_int(successes, 0, "no truncated block decodes");
	is_int(failures, (int)clen, "every truncation is LM_EFORMAT naming the block");

	/* corruption: flip each byte in turn (past the header) */
	for (i = 6, successes = 0; i < clen; i++) {
		int rc;

		c[i] ^= 0x55;
		rc = zblock_decompress(zb, c, clen, big_n, &dv, &len, "flip", &err);
		if (rc == 0) {
			if (len != big_n || memcmp(dv, big, big_n) != 0)
				successes++;
			free(dv);
		}
		c[i] ^= 0x55;
	}
	is_int(successes, 0, "no single-byte corruption yields wrong data (checksum)");
	c[clen - 1] ^= 0xff;
	is_int(zblock_decompress(zb, c, clen, big_n, &dv, &len, "sum", &err), LM_EFORMAT, "bad checksum detected");
	diag("%s", err.msg);
	c[clen - 1] ^= 0xff;

	/* trailing garbage, wrong magic, non-zstd */
	{
		unsigned char *longer = malloc(clen + 3);

		memcpy(longer, c, clen);
		memcpy(longer + clen, "xyz", 3);
		is_int(zblock_decompress(zb, longer, clen + 3, big_n, &dv, &len, "tail", &err), LM_EFORMAT,
		       "trailing bytes refused");
		ok(strstr(err.msg, "3 bytes after") != NULL, "message: %s", err.msg);
		free(longer);
	}
	is_int(zblock_decompress(zb, "hello world", 11, 100, &dv, &len, "plain", &err), LM_EFORMAT, "plain text refused");
	ok(strstr(err.msg, "plain: not a zstd block") == err.msg, "message: %s", err.msg);
	is_int(zblock_decompress(zb, "", 0, 100, &dv, &len, "empty", &err), LM_EFORMAT, "empty input refused");
	{
		/* a skippable frame (RFC 8878 3.1.2) is zstd but not a block */
		static const unsigned char skip[12] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4 };

		is_int(zblock_decompress(zb, skip, sizeof skip, 100, &dv, &len, "skip", &err), LM_EFORMAT,
		       "skippable frame refused");
	}

	/* a frame written without its content size */
	{
		ZSTD_CCtx *cc = ZSTD_createCCtx();
		unsigned char frame[256];
		size_t fl;

		ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
		fl = ZSTD_compress2(cc, frame, sizeof frame, text, sizeof text - 1);
		ok(!ZSTD_isError(fl), "made a frame without content size");
		is_int(zblock_decompress(zb, frame, fl, 1000, &dv, &len, "nosize", &err), LM_EFORMAT,
		       "frame without a recorded size refused");
		ok(strstr(err.msg, "does not record its size") != NULL, "message: %s", err.msg);
		ZSTD_freeCCtx(cc);
	}

	/* compression into a buffer too small */
	{
		unsigned char small[8];

		is_int(zblock_compress_into(zb, small, sizeof small, &len, rnd, 1000, "small", &err), LM_EINVAL,
		       "compression into a too-small buffer fails");
		ok(strstr(err.msg, "small: ") == err.msg, "message: %s", err.msg);
		ok(zblock_bound(1000) >= 1000, "bound covers the input");
	}

	/* decompression-only use never needs a compressor */
	{
		struct zblock *reader = zblock_new(0, &err);

		ok(zblock_decompress(reader, c, clen, big_n, &dv, &len, "reader", &err) == 0 && len == big_n,
		   "a fresh context decompresses another's block");
		free(dv);
		zblock_free(reader);
	}

	free(cv);
	free(out);
	free(big);
	free(rnd);
	zblock_free(zb);
	zblock_free(zb19);
	zblock_free(NULL);
	return tap_done();
}

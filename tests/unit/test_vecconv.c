/* Unit tests for vecconv.c: conversions between NDJSON, the binary stream,
 * .npy and fvecs through memfds, and the refusals made before any input is
 * read.  numpy cross-checks are in tests/cli/t0300-vecconv.sh. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"
#include "vecconv.h"
#include "vecstream.h"

/* Convert BYTES from FROM to TO; the output lands in OUT (NUL-terminated,
 * *OUT_LEN bytes). */
static int convert(const void *bytes, size_t n, enum vecconv_format from, enum vecconv_format to, int dtype,
		   char *outbuf, size_t cap, size_t *out_len, uint64_t *records, struct lm_error *err)
{
	int ifd = memfd_create("in", 0), ofd = memfd_create("out", 0), rc;
	struct input in;
	struct output out;
	ssize_t got;

	if (ifd < 0 || ofd < 0 || write(ifd, bytes, n) != (ssize_t)n || lseek(ifd, 0, SEEK_SET) != 0)
		abort();
	input_from_fd(&in, ifd, "in.x", NULL);
	output_from_fd(&out, ofd, "out.x", NULL);
	rc = vecconv_copy(&in, from, &out, to, dtype, records, err);
	output_close(&out, NULL);
	input_close(&in);
	got = pread(ofd, outbuf, cap - 1, 0);
	*out_len = got > 0 ? (size_t)got : 0;
	outbuf[*out_len] = '\0';
	close(ifd);
	close(ofd);
	return rc;
}

int main(void)
{
	static const char src[] =
		"{\"id\":\"a\",\"text\":\"one\",\"embedding\":[1,-2.5]}\n"
		"{\"_id\":\"b\",\"embedding\":[0.1,0]}\n";
	static const char want_back[] =
		"{\"id\":\"a\",\"text\":\"one\",\"embedding\":[1,-2.5]}\n"
		"{\"id\":\"b\",\"embedding\":[0.1,0]}\n";
	/* f32 stream, dim 1, no meta: id "n", value NaN (0x7fc00000). */
	static const unsigned char nan_stream[] = {
		0x89, 'L', 'M', 'P', 'V', 'E', 'C', 0x1a, 1, 0, 0, 0, 1, 0, 0, 0,
		1, 0, 0, 0, 'n', 0, 0, 0xc0, 0x7f,
	};
	char bin[4096], back[4096], again[4096];
	size_t bin_len, back_len, again_len;
	struct lm_error err = { 0 };
	enum vecconv_format f;
	uint64_t records = 0;
	int p[2];

	ok(vecconv_format_parse("npy", 0, &f, &err) == LM_OK && f == VECCONV_NPY, "parse npy");
	ok(vecconv_format_parse("auto", 0, &f, &err) == LM_EINVAL, "auto is not an output format");
	ok(vecconv_format_parse("auto", 1, &f, &err) == LM_OK && f == VECCONV_AUTO, "auto is an input format");

	ok(convert(src, strlen(src), VECCONV_AUTO, VECCONV_BIN, -1, bin, sizeof bin, &bin_len, &records, &err) == LM_OK &&
	   records == 2, "NDJSON -> bin, 2 records: %s", err.msg);
	/* header 16 + (4+1+8+4+14 {"text":"one"}) + (4+1+8+4+0) */
	is_int(bin_len, 16 + 31 + 17, "stream length by hand");
	ok(bin_len > 12 && (unsigned char)bin[11] == VECSTREAM_META, "meta flag set for NDJSON input");
	ok(convert(bin, bin_len, VECCONV_AUTO, VECCONV_NDJSON, -1, back, sizeof back, &back_len, NULL, &err) == LM_OK,
	   "bin -> NDJSON: %s", err.msg);
	is_str(back, want_back, "fields and floats come back");

	ok(convert(src, strlen(src), VECCONV_NDJSON, VECCONV_BIN, VECSTREAM_I8, bin, sizeof bin, &bin_len, NULL, &err) == LM_OK,
	   "NDJSON -> bin i8");
	ok(convert(bin, bin_len, VECCONV_BIN, VECCONV_BIN, -1, again, sizeof again, &again_len, NULL, &err) == LM_OK &&
	   again_len == bin_len && !memcmp(bin, again, bin_len), "bin i8 -> bin keeps dtype and bytes");
	ok(convert(bin, bin_len, VECCONV_BIN, VECCONV_NDJSON, -1, back, sizeof back, &back_len, NULL, &err) == LM_OK &&
	   strstr(back, "\"embedding\":[1.003937,-2.5]"), "i8 of [1,-2.5]: scale 2.5/127, q 51 -> 1.003937");

	ok(convert(src, strlen(src), VECCONV_NDJSON, VECCONV_FVECS, -1, bin, sizeof bin, &bin_len, NULL, &err) == LM_OK &&
	   bin_len == 24 && bin[0] == 2, "NDJSON -> fvecs: 2 x (4 + 8) bytes");
	ok(convert(bin, bin_len, VECCONV_FVECS, VECCONV_NDJSON, -1, back, sizeof back, &back_len, NULL, &err) == LM_OK,
	   "fvecs -> NDJSON");
	is_str(back, "{\"id\":\"0\",\"embedding\":[1,-2.5]}\n{\"id\":\"1\",\"embedding\":[0.1,0]}\n", "fvecs rows are 0, 1");

	ok(convert(src, strlen(src), VECCONV_NDJSON, VECCONV_NPY, VECSTREAM_F16, bin, sizeof bin, &bin_len, NULL, &err) == LM_OK &&
	   bin_len == 128 + 8 && strstr(bin + 10, "'<f2'") && strstr(bin + 10, "(2, 2)"), "NDJSON -> npy f16, shape patched");
	ok(convert("", 0, VECCONV_NDJSON, VECCONV_NPY, -1, bin, sizeof bin, &bin_len, NULL, &err) == LM_OK &&
	   bin_len == 128 && strstr(bin + 10, "(0, 0)"), "empty input -> npy of shape (0, 0)");
	ok(convert(bin, bin_len, VECCONV_AUTO, VECCONV_BIN, -1, again, sizeof again, &again_len, NULL, &err) == LM_OK &&
	   again_len == 0, "empty npy -> empty stream");

	records = 9;
	ok(convert(src, strlen(src), VECCONV_NDJSON, VECCONV_NPY, VECSTREAM_I8, bin, sizeof bin, &bin_len, &records, &err) == LM_EINVAL &&
	   strstr(err.msg, "npy output holds f32 or f16") && records == 0, "npy i8 refused: %s", err.msg);
	ok(convert(src, strlen(src), VECCONV_NDJSON, VECCONV_FVECS, VECSTREAM_F16, bin, sizeof bin, &bin_len, NULL, &err) == LM_EINVAL,
	   "fvecs f16 refused: %s", err.msg);
	ok(convert(src, strlen(src), VECCONV_NDJSON, VECCONV_IVECS, -1, bin, sizeof bin, &bin_len, NULL, &err) == LM_EINVAL &&
	   strstr(err.msg, "cannot write ivecs"), "ivecs output refused: %s", err.msg);
	ok(convert(nan_stream, sizeof nan_stream, VECCONV_AUTO, VECCONV_NDJSON, -1, back, sizeof back, &back_len, NULL, &err) == LM_EFORMAT &&
	   strstr(err.msg, "in.x: record 1: embedding value 0 is NaN"), "NaN cannot become JSON: %s", err.msg);
	ok(convert("{\"embedding\":[1,\"x\"]}\n", 22, VECCONV_NDJSON, VECCONV_BIN, -1, bin, sizeof bin, &bin_len, NULL, &err) == LM_EFORMAT &&
	   strstr(err.msg, "in.x:1: \"embedding\""), "non-number in embedding: %s", err.msg);
	ok(convert("{\"embedding\":{}}\n", 17, VECCONV_NDJSON, VECCONV_BIN, -1, bin, sizeof bin, &bin_len, NULL, &err) == LM_EFORMAT &&
	   strstr(err.msg, "must be an array of numbers, not object"), "embedding object: %s", err.msg);

	if (pipe(p) == 0) {
		struct input in;
		struct output out;
		int ifd = memfd_create("in", 0);

		if (write(ifd, src, strlen(src)) < 0 || lseek(ifd, 0, SEEK_SET) != 0)
			abort();
		input_from_fd(&in, ifd, "in", NULL);
		output_from_fd(&out, p[1], "<stdout>", NULL);
		ok(vecconv_copy(&in, VECCONV_AUTO, &out, VECCONV_NPY, -1, NULL, &err) == LM_EINVAL &&
		   strstr(err.msg, "seekable") && in.offset + in.pos == 0, "npy to a pipe refused before reading");
		output_close(&out, NULL);
		input_close(&in);
		close(ifd);
		close(p[0]);
		close(p[1]);
	}
	return tap_done();
}

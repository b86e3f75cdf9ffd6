/* Unit tests for vecstream.c: header and record layout byte by byte (from
 * lmpipe(7)), f16 / i8 / bit encodings against hand-computed values,
 * truncation at every byte offset, garbage headers and bad records. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"
#include "vecstream.h"

/* An input reading BYTES from a memfd (closed again by mem_close). */
static int mem_input(struct input *in, const void *bytes, size_t n)
{
	int fd = memfd_create("vecstream-test", 0);

	if (fd < 0 || write(fd, bytes, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (input_from_fd(in, fd, "mem", NULL))
		abort();
	return fd;
}

static void mem_close(struct input *in, int fd)
{
	input_close(in);
	close(fd);
}

static int mem_output(struct output *out)
{
	int fd = memfd_create("vecstream-out", 0);

	if (fd < 0 || output_from_fd(out, fd, "memout", NULL))
		abort();
	return fd;
}

/* Everything written to FD, malloc'd; *N gets the size. */
static unsigned char *mem_contents(int fd, size_t *n)
{
	off_t end = lseek(fd, 0, SEEK_END);
	unsigned char *p = malloc((size_t)end + 1);

	if (!p || pread(fd, p, (size_t)end, 0) != end)
		abort();
	*n = (size_t)end;
	return p;
}

static void test_names(void)
{
	enum vecstream_dtype t;
	struct lm_error err = { 0 };

	is_str(vecstream_dtype_name(VECSTREAM_F16), "f16", "dtype name f16");
	ok(vecstream_dtype_name((enum vecstream_dtype)7) == NULL, "no name for dtype 7");
	ok(vecstream_dtype_parse("bit", &t, &err) == LM_OK && t == VECSTREAM_BIT, "parse bit");
	ok(vecstream_dtype_parse("f64", &t, &err) == LM_EINVAL && strstr(err.msg, "f64"), "f64 refused: %s", err.msg);
	is_int(vecstream_vector_bytes(VECSTREAM_F32, 3), 12, "f32 dim 3 = 12 bytes");
	is_int(vecstream_vector_bytes(VECSTREAM_F16, 3), 6, "f16 dim 3 = 6 bytes");
	is_int(vecstream_vector_bytes(VECSTREAM_I8, 3), 7, "i8 dim 3 = scale + 3 bytes");
	is_int(vecstream_vector_bytes(VECSTREAM_BIT, 9), 2, "bit dim 9 = 2 bytes");
	is_int(vecstream_vector_bytes(VECSTREAM_BIT, 8), 1, "bit dim 8 = 1 byte");
}

static void test_f16(void)
{
	/* binary16: sign | 5-bit exponent (bias 15) | 10-bit fraction. */
	static const struct {
		float x;
		unsigned h;
		const char *why;
	} cases[] = {
		{ 1.0f, 0x3c00, "1 = 2^0" },
		{ -2.0f, 0xc000, "-2" },
		{ 65504.0f, 0x7bff, "largest finite" },
		{ 65519.0f, 0x7bff, "65519 rounds down to 65504" },
		{ 65520.0f, 0x7c00, "65520 is a tie that goes to infinity" },
		{ 1.0f + 0x1p-11f, 0x3c00, "1+2^-11 ties to even 1.0" },
		{ 1.0f + 3 * 0x1p-11f, 0x3c02, "1+3*2^-11 ties to even 1+2^-9" },
		{ 1.0f + 0x1p-11f + 0x1p-20f, 0x3c01, "just above the tie rounds up" },
		{ 0x1p-24f, 0x0001, "smallest subnormal" },
		{ 0x1p-25f, 0x0000, "2^-25 ties to even 0" },
		{ 3 * 0x1p-25f, 0x0002, "3*2^-25 ties to even 2*2^-24" },
		{ 0x1p-14f, 0x0400, "smallest normal" },
		{ 0x1p-14f - 0x1p-25f, 0x0400, "just below 2^-14 rounds up into the normals" },
		{ 0.1f, 0x2e66, "0.1 -> 0x2e66 (1.1001100110 * 2^-4)" },
		{ -0.0f, 0x8000, "negative zero" },
	};
	unsigned char b[2];
	float back;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		vecstream_encode(VECSTREAM_F16, 1, &cases[i].x, b);
		is_int(b[0] | b[1] << 8, cases[i].h, "f16 %s", cases[i].why);
	}
	b[0] = 0x00;
	b[1] = 0x3c;
	vecstream_decode(VECSTREAM_F16, 1, b, &back);
	ok(back == 1.0f, "f16 0x3c00 decodes to 1");
	b[0] = 0x01;
	b[1] = 0x00;
	vecstream_decode(VECSTREAM_F16, 1, b, &back);
	ok(back == 0x1p-24f, "f16 0x0001 decodes to 2^-24");
	b[0] = 0x00;
	b[1] = 0xfc;
	vecstream_decode(VECSTREAM_F16, 1, b, &back);
	ok(isinf(back) && back < 0, "f16 0xfc00 decodes to -inf");
}

static void test_i8(void)
{
	/* max|x| = 127 gives scale 1.0 exactly, so q = round-half-even(x). */
	const float x[5] = { 127, -2.5f, 2.5f, 0, -127 };
	const unsigned char want[9] = { 0x00, 0x00, 0x80, 0x3f, 127, 0xfe, 2, 0, 0x81 };
	const float y[3] = { 0.5f, -0.25f, 0.125f };
	const float zero[2] = { 0, 0 };
	unsigned char b[9];
	float back[5];

	vecstream_encode(VECSTREAM_I8, 5, x, b);
	is_mem(b, want, 9, "i8: scale 1.0f (0x3f800000 LE), q = 127 -2 2 0 -127");
	vecstream_decode(VECSTREAM_I8, 5, b, back);
	ok(back[0] == 127 && back[1] == -2 && back[2] == 2 && back[3] == 0 && back[4] == -127, "i8 decodes to scale*q");
	/* scale = 0.5/127; 0.5/scale = 127, -0.25/scale = -63.5 -> -64 or -63
	 * depending on the float rounding of the scale; 0.125 -> 31.75 -> 32. */
	vecstream_encode(VECSTREAM_I8, 3, y, b);
	vecstream_decode(VECSTREAM_I8, 3, b, back);
	is_near(back[0], 0.5, 1e-6, "i8 max element exact");
	is_int((int8_t)b[6], 32, "i8 0.125 at scale 0.5/127 -> 32");
	is_near(back[1], -0.25, 0.5 / 127 / 2 + 1e-6, "i8 error within half a step");
	vecstream_encode(VECSTREAM_I8, 2, zero, b);
	vecstream_decode(VECSTREAM_I8, 2, b, back);
	ok(back[0] == 0 && back[1] == 0 && b[0] == 0 && b[3] == 0, "i8 all-zero vector: scale 0, values 0");
}

static void test_bit(void)
{
	/* bit i -> byte i/8, mask 1 << i%8; 1 means > 0 (0 and -0 are 0). */
	const float x[10] = { 1, -1, 1, 1, -1, -1, -1, 1, 0.5f, -0.0f };
	unsigned char b[2];
	float back[10];

	vecstream_encode(VECSTREAM_BIT, 10, x, b);
	is_int(b[0], 0x8d, "bit byte 0 = 1000 1101 (bits 0,2,3,7)");
	is_int(b[1], 0x01, "bit byte 1 = bit 8 only, padding zero");
	vecstream_decode(VECSTREAM_BIT, 10, b, back);
	ok(back[0] == 1 && back[1] == -1 && back[8] == 1 && back[9] == -1, "bit decodes to +1/-1");
}

/* The stream lmpipe(7) describes, built by hand: f32, dim 2, meta flag,
 * records ("a", [1, -2], "{}") and ("bc", [0.5, 0], ""). */
static const unsigned char hand_stream[] = {
	0x89, 'L', 'M', 'P', 'V', 'E', 'C', 0x1a,   /* magic */
	1, 0,                                       /* version 1 */
	0,                                          /* dtype f32 */
	1,                                          /* flags: meta */
	2, 0, 0, 0,                                 /* dim 2 */
	1, 0, 0, 0, 'a',
	0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,
	2, 0, 0, 0, '{', '}',
	2, 0, 0, 0, 'b', 'c',
	0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x00,
	0, 0, 0, 0,
};
/* Record boundaries in hand_stream. */
static const size_t hand_ends[] = { 16, 35, 53 };

static void test_writer_bytes(void)
{
	struct vecstream_writer w;
	struct output out;
	struct lm_error err = { 0 };
	const float v1[2] = { 1, -2 }, v2[2] = { 0.5f, 0 };
	unsigned char *got;
	size_t n;
	int fd = mem_output(&out);

	ok(vecstream_writer_init(&w, &out, VECSTREAM_F32, 2, VECSTREAM_META, &err) == LM_OK, "writer init");
	ok(vecstream_write(&w, "a", 1, v1, "{}", 2, &err) == LM_OK, "write record 1");
	ok(vecstream_write(&w, "bc", 2, v2, NULL, 0, &err) == LM_OK, "write record 2");
	ok(vecstream_writer_close(&w, &err) == LM_OK, "writer close");
	output_close(&out, &err);
	got = mem_contents(fd, &n);
	is_int(n, sizeof hand_stream, "stream length");
	ok(n == sizeof hand_stream && !memcmp(got, hand_stream, n), "writer bytes equal the hand-built stream");
	free(got);
	close(fd);
}

static void test_reader_hand(void)
{
	struct vecstream_reader r;
	struct vecstream_record rec;
	struct lm_error err = { 0 };
	struct input in;
	float v[2];
	int fd = mem_input(&in, hand_stream, sizeof hand_stream);

	is_int(vecstream_sniff(&in, &err), 1, "sniff says binary");
	ok(vecstream_open_reader(&r, &in, &err) == LM_OK, "open reader");
	ok(r.dtype == VECSTREAM_F32 && r.dim == 2 && r.flags == VECSTREAM_META, "header fields");
	ok(vecstream_next(&r, &rec, &err) == LM_OK, "record 1");
	vecstream_record_floats(&r, &rec, v);
	ok(rec.id_len == 1 && !strcmp(rec.id, "a") && v[0] == 1 && v[1] == -2 && !strcmp(rec.meta, "{}") &&
	   rec.number == 1, "record 1 contents");
	ok(vecstream_next(&r, &rec, &err) == LM_OK, "record 2");
	vecstream_record_floats(&r, &rec, v);
	ok(!strcmp(rec.id, "bc") && v[0] == 0.5f && v[1] == 0 && rec.meta_len == 0 && !strcmp(rec.meta, ""),
	   "record 2 contents (no meta)");
	is_int(vecstream_next(&r, &rec, &err), LM_EOF, "clean EOF after record 2");
	vecstream_close_reader(&r);
	mem_close(&in, fd);
}

/* Every dtype, with and without meta: write floats, read them back. */
static void test_roundtrip(void)
{
	static const float x[3][5] = {
		{ 0.25f, -1.5f, 3.0f, 0.0f, 100.0f },
		{ -0.001f, 0.002f, 65504.0f, -7.0f, 1.0f },
		{ 1e-3f, 2e-3f, -3e-3f, 4e-3f, -5e-3f },
	};
	static const char *const ids[3] = { "doc-1", "\xc3\xa9t\xc3\xa9", "" };
	static const char *const metas[3] = { "{\"text\":\"hello\"}", "", " { \"n\" : 1 } " };
	int dt, meta;

	for (dt = VECSTREAM_F32; dt <= VECSTREAM_BIT; dt++) {
		for (meta = 0; meta <= 1; meta++) {
			struct vecstream_writer w;
			struct vecstream_reader r = { 0 };
			struct vecstream_record rec;
			struct lm_error err = { 0 };
			struct output out;
			struct input in;
			unsigned char *bytes, enc[32];
			float want[5], got[5];
			size_t n;
			int fd = mem_output(&out), ifd, i, good = 1, rc;

			rc = vecstream_writer_init(&w, &out, (enum vecstream_dtype)dt, 5, meta ? VECSTREAM_META : 0, &err);
			for (i = 0; i < 3 && !rc; i++)
				rc = vecstream_write(&w, ids[i], strlen(ids[i]), x[i], meta ? metas[i] : NULL,
						     meta ? strlen(metas[i]) : 0, &err);
			rc = rc ? rc : vecstream_writer_close(&w, &err);
			output_close(&out, &err);
			bytes = mem_contents(fd, &n);
			close(fd);
			ifd = mem_input(&in, bytes, n);
			rc = rc ? rc : vecstream_open_reader(&r, &in, &err);
			ok(rc == LM_OK && r.dtype == (enum vecstream_dtype)dt && r.dim == 5, "%s meta=%d: header",
			   vecstream_dtype_name(dt), meta);
			for (i = 0; i < 3 && !rc; i++) {
				rc = vecstream_next(&r, &rec, &err);
				if (rc)
					break;
				/* Expected values: the same encoding applied to x,
				 * itself checked against hand values above. */
				vecstream_encode(dt, 5, x[i], enc);
				vecstream_decode(dt, 5, enc, want);
				vecstream_record_floats(&r, &rec, got);
				good &= !memcmp(want, got, sizeof got) && !strcmp(rec.id, ids[i]) &&
					!strcmp(rec.meta, meta ? metas[i] : "");
				if (dt == VECSTREAM_F32)
					good &= !memcmp(got, x[i], sizeof got);
			}
			ok(!rc && good, "%s meta=%d: 3 records round-trip", vecstream_dtype_name(dt), meta);
			ok(!rc && vecstream_next(&r, &rec, &err) == LM_EOF, "%s meta=%d: EOF", vecstream_dtype_name(dt), meta);
			vecstream_close_reader(&r);
			mem_close(&in, ifd);
			free(bytes);
		}
	}
}

/* Cut hand_stream after every byte: only the record boundaries end cleanly. */
static void test_truncation(void)
{
	size_t len, k, bad = 0;

	for (len = 0; len < sizeof hand_stream; len++) {
		struct vecstream_reader r;
		struct vecstream_record rec;
		struct lm_error err = { 0 };
		struct input in;
		int fd = mem_input(&in, hand_stream, len), rc, records = 0, boundary = 0;

		for (k = 0; k < 3; k++)
			if (len == hand_ends[k])
				boundary = 1;
		rc = vecstream_open_reader(&r, &in, &err);
		if (rc == LM_OK) {
			while ((rc = vecstream_next(&r, &rec, &err)) == LM_OK)
				records++;
			vecstream_close_reader(&r);
		}
		if (boundary) {
			if (rc != LM_EOF) {
				bad++;
				diag("length %zu: expected clean EOF, got %d: %s", len, rc, err.msg);
			}
		} else if (rc != LM_EFORMAT || (len > 16 && !strstr(err.msg, "record")) ||
			   (len > 16 && !strstr(err.msg, "byte"))) {
			bad++;
			diag("length %zu: expected LM_EFORMAT naming record and byte, got %d: %s", len, rc, err.msg);
		}
		mem_close(&in, fd);
	}
	is_int(bad, 0, "truncation at each of %zu offsets: EOF only at boundaries", sizeof hand_stream);

	{
		struct vecstream_reader r;
		struct vecstream_record rec;
		struct lm_error err = { 0 };
		struct input in;
		int fd = mem_input(&in, hand_stream, 45);

		vecstream_open_reader(&r, &in, &err);
		vecstream_next(&r, &rec, &err);
		is_int(vecstream_next(&r, &rec, &err), LM_EFORMAT, "cut inside record 2");
		is_str(err.msg, "mem: record 2: truncated in vector at byte 45", "message names record and offset");
		vecstream_close_reader(&r);
		mem_close(&in, fd);
	}
}

static int open_with_header(const unsigned char *h, size_t n, struct lm_error *err)
{
	struct vecstream_reader r;
	struct input in;
	int fd = mem_input(&in, h, n), rc;

	rc = vecstream_open_reader(&r, &in, err);
	if (rc == LM_OK)
		vecstream_close_reader(&r);
	mem_close(&in, fd);
	return rc;
}

static void test_bad_headers(void)
{
	unsigned char h[16];
	struct lm_error err = { 0 };
	struct input in;
	int fd;

#define RESET() memcpy(h, hand_stream, 16)
	RESET();
	h[0] = '{';
	ok(open_with_header(h, 16, &err) == LM_EFORMAT && strstr(err.msg, "bad magic"), "bad magic: %s", err.msg);
	RESET();
	h[8] = 2;
	ok(open_with_header(h, 16, &err) == LM_EFORMAT && strstr(err.msg, "version 2"), "version 2: %s", err.msg);
	RESET();
	h[10] = 4;
	ok(open_with_header(h, 16, &err) == LM_EFORMAT && strstr(err.msg, "dtype 4"), "dtype 4: %s", err.msg);
	RESET();
	h[11] = 0x81;
	ok(open_with_header(h, 16, &err) == LM_EFORMAT && strstr(err.msg, "flags"), "unknown flags: %s", err.msg);
	RESET();
	h[12] = 0;
	ok(open_with_header(h, 16, &err) == LM_EFORMAT && strstr(err.msg, "dimension 0"), "dim 0: %s", err.msg);
	RESET();
	h[12] = 1;
	h[14] = 0x10;   /* 2^20 + 1 */
	ok(open_with_header(h, 16, &err) == LM_EFORMAT && strstr(err.msg, "1048577"), "dim 2^20+1: %s", err.msg);
	RESET();
	h[12] = 0;
	h[14] = 0x10;   /* 2^20 exactly is allowed */
	ok(open_with_header(h, 16, &err) == LM_OK, "dim 2^20 accepted");
	ok(open_with_header((const unsigned char *)"", 0, &err) == LM_EFORMAT, "empty input is not a stream");
	ok(open_with_header(hand_stream, 12, &err) == LM_EFORMAT && strstr(err.msg, "truncated"),
	   "truncated header: %s", err.msg);

	fd = mem_input(&in, "{\"id\":1}\n", 9);
	is_int(vecstream_sniff(&in, &err), 0, "NDJSON is not binary");
	mem_close(&in, fd);
	fd = mem_input(&in, "\x89LMP", 4);
	is_int(vecstream_sniff(&in, &err), 0, "short input is not binary");
	mem_close(&in, fd);
#undef RESET
}

/* Read a one-record stream whose record part is REC[0..N). */
static int read_record(unsigned dtype, unsigned flags, unsigned dim, const unsigned char *rec, size_t n,
		       struct lm_error *err)
{
	unsigned char buf[256];
	struct vecstream_reader r;
	struct vecstream_record vr;
	struct input in;
	int fd, rc;

	memcpy(buf, hand_stream, 16);
	buf[10] = (unsigned char)dtype;
	buf[11] = (unsigned char)flags;
	buf[12] = (unsigned char)dim;
	memcpy(buf + 16, rec, n);
	fd = mem_input(&in, buf, 16 + n);
	rc = vecstream_open_reader(&r, &in, err);
	if (rc == LM_OK) {
		rc = vecstream_next(&r, &vr, err);
		vecstream_close_reader(&r);
	}
	mem_close(&in, fd);
	return rc;
}

static void test_bad_records(void)
{
	struct lm_error err = { 0 };
	static const unsigned char long_id[] = { 0x01, 0x00, 0x01, 0x00 };   /* 65537 */
	static const unsigned char bad_utf8[] = { 2, 0, 0, 0, 0xc0, 0xaf, 0, 0, 0x80, 0x3f };
	static const unsigned char nul_id[] = { 2, 0, 0, 0, 'a', 0, 0, 0, 0x80, 0x3f };
	static const unsigned char meta_arr[] = { 1, 0, 0, 0, 'a', 0, 0, 0x80, 0x3f, 2, 0, 0, 0, '[', ']' };
	static const unsigned char meta_big[] = { 1, 0, 0, 0, 'a', 0, 0, 0x80, 0x3f, 1, 0, 0, 1 };
	static const unsigned char nan_scale[] = { 1, 0, 0, 0, 'a', 0, 0, 0xc0, 0x7f, 5 };
	static const unsigned char padding[] = { 1, 0, 0, 0, 'a', 0x21 };
	static const unsigned char ok_bits[] = { 1, 0, 0, 0, 'a', 0x1f };

	ok(read_record(0, 0, 1, long_id, sizeof long_id, &err) == LM_EFORMAT && strstr(err.msg, "65537"),
	   "id over 64 KiB: %s", err.msg);
	ok(read_record(0, 0, 1, bad_utf8, sizeof bad_utf8, &err) == LM_EFORMAT && strstr(err.msg, "UTF-8"),
	   "overlong UTF-8 id: %s", err.msg);
	ok(read_record(0, 0, 1, nul_id, sizeof nul_id, &err) == LM_EFORMAT && strstr(err.msg, "NUL"),
	   "NUL in id: %s", err.msg);
	ok(read_record(0, 1, 1, meta_arr, sizeof meta_arr, &err) == LM_EFORMAT && strstr(err.msg, "JSON object"),
	   "meta array: %s", err.msg);
	ok(read_record(0, 1, 1, meta_big, sizeof meta_big, &err) == LM_EFORMAT && strstr(err.msg, "limit"),
	   "meta over 16 MiB: %s", err.msg);
	ok(read_record(2, 0, 1, nan_scale, sizeof nan_scale, &err) == LM_EFORMAT && strstr(err.msg, "scale"),
	   "i8 NaN scale: %s", err.msg);
	ok(read_record(3, 0, 5, padding, sizeof padding, &err) == LM_EFORMAT && strstr(err.msg, "padding"),
	   "bit padding set: %s", err.msg);
	ok(read_record(3, 0, 5, ok_bits, sizeof ok_bits, &err) == LM_OK, "bit dim 5, 5 bits set");
}

static void test_writer_errors(void)
{
	struct vecstream_writer w;
	struct output out;
	struct lm_error err = { 0 };
	const float v[2] = { 1, NAN };
	int fd = mem_output(&out);

	is_int(vecstream_writer_init(&w, &out, VECSTREAM_F32, 0, 0, &err), LM_EINVAL, "dim 0 refused");
	is_int(vecstream_writer_init(&w, &out, (enum vecstream_dtype)9, 2, 0, &err), LM_EINVAL, "dtype 9 refused");
	ok(vecstream_writer_init(&w, &out, VECSTREAM_F32, 2, 0, &err) == LM_OK, "init f32");
	ok(vecstream_write(&w, "a", 1, v, "{}", 2, &err) == LM_EINVAL && strstr(err.msg, "no meta"),
	   "meta on a stream without meta: %s", err.msg);
	ok(vecstream_write(&w, "\xff", 1, v, NULL, 0, &err) == LM_EINVAL && strstr(err.msg, "UTF-8"),
	   "bad id refused: %s", err.msg);
	vecstream_writer_close(&w, &err);
	ok(vecstream_writer_init(&w, &out, VECSTREAM_I8, 2, 0, &err) == LM_OK, "init i8");
	ok(vecstream_write(&w, "a", 1, v, NULL, 0, &err) == LM_EINVAL && strstr(err.msg, "not finite"),
	   "NaN refused for i8: %s", err.msg);
	vecstream_writer_close(&w, &err);
	output_close(&out, &err);
	close(fd);
}

int main(void)
{
	test_names();
	test_f16();
	test_i8();
	test_bit();
	test_writer_bytes();
	test_reader_hand();
	test_roundtrip();
	test_truncation();
	test_bad_headers();
	test_bad_records();
	test_writer_errors();
	return tap_done();
}

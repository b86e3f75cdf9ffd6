/* Unit tests for vecquant.c and the parameterised dtypes of vecstream.c
 * (i8-dim, pq): encodings against hand-computed codes and error bounds,
 * training on data whose answer is known, the parameter block byte by byte
 * (lmpipe(7)), truncated and corrupt headers, codebook files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"
#include "vecquant.h"
#include "vecstream.h"

static int mem_input(struct input *in, const void *bytes, size_t n)
{
	int fd = memfd_create("vecquant-test", 0);

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
	int fd = memfd_create("vecquant-out", 0);

	if (fd < 0 || output_from_fd(out, fd, "memout", NULL))
		abort();
	return fd;
}

static unsigned char *mem_contents(int fd, size_t *n)
{
	off_t end = lseek(fd, 0, SEEK_END);
	unsigned char *p = malloc((size_t)end + 1);

	if (!p || pread(fd, p, (size_t)end, 0) != end)
		abort();
	*n = (size_t)end;
	return p;
}

static float get_f32(const unsigned char *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_f32(unsigned char *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	put_u32(p, u);
}

/* The stream C with one record "a" holding VEC's code, as bytes. */
static unsigned char *stream_bytes(const struct vecstream_codec *c, const float *vec, size_t *n)
{
	struct vecstream_writer w;
	struct lm_error err = { 0 };
	struct output out;
	unsigned char code[64];
	unsigned char *bytes;
	int fd = mem_output(&out);

	if (vecstream_writer_init_codec(&w, &out, c, 0, &err))
		abort();
	if (vec) {
		vecquant_encode(c, vec, code);
		if (vecstream_write_raw(&w, "a", 1, code, NULL, 0, &err))
			abort();
	}
	if (vecstream_writer_close(&w, &err) || output_close(&out, &err))
		abort();
	bytes = mem_contents(fd, n);
	close(fd);
	return bytes;
}

static int open_bytes(const unsigned char *b, size_t n, struct lm_error *err)
{
	struct vecstream_reader r;
	struct vecstream_record rec;
	struct input in;
	int fd = mem_input(&in, b, n), rc;

	rc = vecstream_open_reader(&r, &in, err);
	if (rc == LM_OK) {
		rc = vecstream_next(&r, &rec, err);
		vecstream_close_reader(&r);
		if (rc == LM_EOF)
			rc = LM_OK;
	}
	mem_close(&in, fd);
	return rc;
}

static void test_f16_i8_bit(void)
{
	struct vecstream_codec c = { .dtype = VECSTREAM_F16, .dim = 6 };
	/* each exactly representable in binary16 */
	static const float h[6] = { 0.5f, -1.25f, 1024.0f, 6.103515625e-05f, 65504.0f, -0.0009765625f };
	static const float x[4] = { 1.27f, -0.5f, 0.013f, 0.0f };
	static const float b[9] = { 0.5f, -0.5f, 0.0f, 1e-30f, -0.0f, 3.0f, -2.0f, -1e-30f, 7.0f };
	unsigned char code[16];
	float back[9], scale;
	int i, good = 1;

	vecquant_encode(&c, h, code);
	vecstream_codec_decode(&c, code, back);
	ok(!memcmp(back, h, sizeof h), "f16: representable values come back exactly");

	/* i8: scale = max|x| / 127 = 0.01; q = 127, -50, round(1.3) = 1, 0 */
	c = (struct vecstream_codec){ .dtype = VECSTREAM_I8, .dim = 4 };
	vecquant_encode(&c, x, code);
	scale = get_f32(code);
	is_near(scale, 0.01, 1e-8, "i8: scale is max|x| / 127");
	ok(code[4] == 127 && (int8_t)code[5] == -50 && code[6] == 1 && code[7] == 0, "i8: codes 127 -50 1 0");
	vecstream_codec_decode(&c, code, back);
	for (i = 0; i < 4; i++)
		good &= fabsf(back[i] - x[i]) <= scale / 2 * (1 + 1e-6f);
	ok(good, "i8: every error <= scale / 2");

	/* bit i set where x > 0: 1 0 0 1 0 1 0 0 | 1 */
	c = (struct vecstream_codec){ .dtype = VECSTREAM_BIT, .dim = 9 };
	vecquant_encode(&c, b, code);
	ok(code[0] == 0x29 && code[1] == 0x01, "bit: bytes 0x29 0x01 (got 0x%02x 0x%02x)", code[0], code[1]);
	vecstream_codec_decode(&c, code, back);
	ok(back[0] == 1 && back[1] == -1 && back[2] == -1 && back[3] == 1 && back[8] == 1, "bit: decodes to +-1");
}

static void test_i8_dim(void)
{
	/* per dimension: d0 spans 0..2, d1 spans -10..10 */
	static const float train[3][2] = { { 0, 10 }, { 1, -10 }, { 2, 0 } };
	static const float x[2] = { 0.5f, 5.0f }, out[2] = { 3.0f, -11.0f };
	struct vecstream_codec c;
	struct lm_error err = { 0 };
	unsigned char code[2];
	float back[2];

	is_int(vecquant_train(&c, VECSTREAM_I8_DIM, 2, 0, &train[0][0], 3, 1, &err), LM_OK, "i8-dim: trains");
	ok(c.offset[0] == 0 && c.offset[1] == -10, "i8-dim: offsets are the minima");
	is_near(c.scale[0], 2.0 / 255, 1e-9, "i8-dim: scale 0 = 2 / 255");
	is_near(c.scale[1], 20.0 / 255, 1e-8, "i8-dim: scale 1 = 20 / 255");
	/* q0 = round(0.5 * 255 / 2) = round(63.75) = 64, q1 = round(15 * 255 / 20) = round(191.25) = 191 */
	vecquant_encode(&c, x, code);
	ok(code[0] == 64 && code[1] == 191, "i8-dim: codes 64 191 (got %u %u)", code[0], code[1]);
	vecstream_codec_decode(&c, code, back);
	ok(fabsf(back[0] - x[0]) <= c.scale[0] / 2 && fabsf(back[1] - x[1]) <= c.scale[1] / 2,
	   "i8-dim: errors within half a step of their dimension");
	vecquant_encode(&c, out, code);
	ok(code[0] == 255 && code[1] == 0, "i8-dim: values outside the trained range clamp to 255 and 0");
	vecstream_codec_free(&c);
	ok(vecquant_train(&c, VECSTREAM_I8_DIM, 2, 0, &train[0][0], 0, 1, &err) == LM_EINVAL &&
	   strstr(err.msg, "no vectors"), "i8-dim: nothing to train on: %s", err.msg);
}

/* 1024 vectors of dim 4 made of two sub-vectors, each one of 256 grid
 * points: k-means with k = 256 on 256 distinct points finds them, so PQ
 * reconstructs every vector exactly. */
static void test_pq(void)
{
	enum { N = 1024 };
	float *x = malloc(N * 4 * sizeof *x), back[4], worst = 0;
	struct vecstream_codec c;
	struct lm_error err = { 0 };
	unsigned char code[2];
	int i, j;

	for (i = 0; i < N; i++) {
		int a = i % 256, b = (i * 7 + 3) % 256;

		x[i * 4 + 0] = (float)(a % 16);
		x[i * 4 + 1] = (float)(a / 16);
		x[i * 4 + 2] = (float)(b % 16) * 0.5f - 3;
		x[i * 4 + 3] = (float)(b / 16) * 2;
	}
	is_int(vecquant_train(&c, VECSTREAM_PQ, 4, 2, x, N, 7, &err), LM_OK, "pq: trains (%s)", err.msg);
	ok(c.pq_m == 2 && vecstream_codec_bytes(&c) == 2, "pq: m = 2, two bytes per vector");
	for (i = 0; i < N; i++) {
		vecquant_encode(&c, x + i * 4, code);
		vecstream_codec_decode(&c, code, back);
		for (j = 0; j < 4; j++)
			worst = fmaxf(worst, fabsf(back[j] - x[i * 4 + j]));
	}
	ok(worst < 1e-5f, "pq: clustered data reconstructs exactly (max error %g)", worst);
	vecstream_codec_free(&c);
	ok(vecquant_train(&c, VECSTREAM_PQ, 4, 2, x, 255, 7, &err) == LM_EINVAL && strstr(err.msg, "256"),
	   "pq: 255 vectors are too few: %s", err.msg);
	ok(vecquant_train(&c, VECSTREAM_PQ, 4, 3, x, N, 7, &err) == LM_EINVAL && strstr(err.msg, "divide"),
	   "pq: m = 3 does not divide 4: %s", err.msg);
	/* default m: the largest divisor of dim <= dim / 4 */
	ok(vecquant_train(&c, VECSTREAM_PQ, 4, 0, x, N, 7, &err) == LM_OK && c.pq_m == 1, "pq: default m for dim 4 is 1");
	vecstream_codec_free(&c);
	free(x);
}

static void test_truncate(void)
{
	float u[4] = { 0.6f, 0.8f, 0, 0 }, v[3] = { 3, 4, 1 }, w[4] = { 0.6f, 0.8f, 0, 0 };

	vecquant_truncate(u, 4, 1);
	ok(u[0] == 1.0f, "unit vector cut to 1 value is renormalised to 1 (got %g)", u[0]);
	vecquant_truncate(w, 4, 2);
	is_near(w[0], 0.6, 1e-7, "unit vector whose prefix is already unit: 0.6 stays");
	vecquant_truncate(v, 3, 2);
	ok(v[0] == 3 && v[1] == 4, "a vector of length sqrt(26) is only cut");
}

static void test_header_bytes(void)
{
	struct vecstream_codec c;
	struct lm_error err = { 0 };
	static const float x[3] = { 0.25f, -1, 2 };
	unsigned char *b, bad[256];
	size_t n, cut;
	int good = 1;

	if (vecstream_codec_init(&c, VECSTREAM_I8_DIM, 3, 0, &err))
		abort();
	c.offset[0] = -1;
	c.offset[1] = -2;
	c.offset[2] = 0;
	c.scale[0] = c.scale[1] = c.scale[2] = 0.25f;
	b = stream_bytes(&c, x, &n);
	/* 16 header + 4 len + 24 params + record: 4 id_len + 1 id + 3 codes */
	is_int((int)n, 16 + 4 + 24 + 4 + 1 + 3, "i8-dim stream size");
	ok(b[10] == 4 && b[16] == 24 && b[17] == 0 && get_f32(b + 20) == -1 && get_f32(b + 32) == 0.25f,
	   "i8-dim: dtype 4, block length 24, offsets then scales");
	/* (0.25 + 1) / 0.25 = 5, (-1 + 2) / 0.25 = 4, 2 / 0.25 = 8 */
	ok(b[49] == 5 && b[50] == 4 && b[51] == 8, "i8-dim record codes 5 4 8");
	is_int(open_bytes(b, n, &err), LM_OK, "i8-dim stream reads back");
	for (cut = 8; cut < 44; cut++) {
		int rc = open_bytes(b, cut, &err);

		good &= rc == LM_EFORMAT && (cut < 16 || strstr(err.msg, "parameters truncated"));
	}
	ok(good, "every cut inside the header or parameters is LM_EFORMAT (last: %s)", err.msg);
	is_int(open_bytes(b, 44, &err), LM_OK, "cut after the parameters: a valid stream with no records");

	memcpy(bad, b, n);
	bad[16] = 20;
	ok(open_bytes(bad, n, &err) == LM_EFORMAT && strstr(err.msg, "parameter block of 20 bytes, expected 24"),
	   "wrong block length: %s", err.msg);
	memcpy(bad, b, n);
	put_f32(bad + 32, -0.5f);
	ok(open_bytes(bad, n, &err) == LM_EFORMAT && strstr(err.msg, "not finite or negative"),
	   "negative scale: %s", err.msg);
	memcpy(bad, b, n);
	put_f32(bad + 24, NAN);
	ok(open_bytes(bad, n, &err) == LM_EFORMAT && strstr(err.msg, "dimension 1"), "NaN offset: %s", err.msg);
	free(b);
	vecstream_codec_free(&c);

	/* pq, dim 2, m 2: 8 + 256 * 2 * 4 = 2056 bytes of block */
	if (vecstream_codec_init(&c, VECSTREAM_PQ, 2, 2, &err))
		abort();
	for (n = 0; n < 512; n++)
		c.centroids[n] = (float)n;
	b = stream_bytes(&c, x, &n);
	ok(b[10] == 5 && b[16] == 0x08 && b[17] == 0x08 && b[20] == 2 && b[24] == 0 && b[25] == 1,
	   "pq: dtype 5, block length 2056, m 2, k 256");
	/* sub-quantizer 0 holds values 0..255, sub-quantizer 1 256..511: 0.25 -> 0, -1 -> 256 (code 0) */
	ok(n == 16 + 4 + 2056 + 4 + 1 + 2 && b[n - 2] == 0 && b[n - 1] == 0, "pq record: two codes");
	is_int(open_bytes(b, n, &err), LM_OK, "pq stream reads back");
	is_int(open_bytes(b, 16 + 4 + 2056 - 1, &err), LM_EFORMAT, "pq cut inside the centroids");
	ok(strstr(err.msg, "dtype 5 (pq) parameters truncated"), "names the dtype: %s", err.msg);
	memcpy(bad, b, 256);
	bad[24] = 128;
	bad[25] = 0;
	{
		unsigned char *big = malloc(n);

		memcpy(big, b, n);
		memcpy(big, bad, 256);
		ok(open_bytes(big, n, &err) == LM_EFORMAT && strstr(err.msg, "128 centroids"), "k 128: %s", err.msg);
		memcpy(big, b, n);
		big[20] = 3;
		ok(open_bytes(big, n, &err) == LM_EFORMAT && strstr(err.msg, "3 sub-quantizers do not divide"),
		   "m 3: %s", err.msg);
		memcpy(big, b, n);
		big[20] = 0;
		ok(open_bytes(big, n, &err) == LM_EFORMAT && strstr(err.msg, "0 sub-quantizers"), "m 0: %s", err.msg);
		memcpy(big, b, n);
		put_f32(big + 28 + 4 * 300, INFINITY);
		ok(open_bytes(big, n, &err) == LM_EFORMAT && strstr(err.msg, "sub-quantizer 1, centroid 44"),
		   "infinite centroid: %s", err.msg);
		memcpy(big, b, n);
		put_u32(big + 12, VECSTREAM_MAX_PQ_DIM + 2);
		ok(open_bytes(big, n, &err) == LM_EFORMAT && strstr(err.msg, "larger than"), "pq dim too large: %s",
		   err.msg);
		free(big);
	}
	free(b);
	vecstream_codec_free(&c);
}

static void test_writer_refusals(void)
{
	struct vecstream_writer w;
	struct vecstream_codec c;
	struct lm_error err = { 0 };
	struct output out;
	static const float x[2] = { 1, 2 };
	int fd = mem_output(&out);

	ok(vecstream_writer_init(&w, &out, VECSTREAM_PQ, 4, 0, &err) == LM_EINVAL &&
	   strstr(err.msg, "needs trained parameters"), "plain init refuses pq: %s", err.msg);
	vecstream_writer_close(&w, &err);
	if (vecstream_codec_init(&c, VECSTREAM_PQ, 2, 1, &err))
		abort();
	is_int(vecstream_writer_init_codec(&w, &out, &c, 0, &err), LM_OK, "codec init takes pq");
	ok(vecstream_write(&w, "a", 1, x, NULL, 0, &err) == LM_EINVAL && strstr(err.msg, "written raw"),
	   "float write of pq refused: %s", err.msg);
	vecstream_writer_close(&w, &err);
	c.centroids[3] = NAN;
	ok(vecstream_writer_init_codec(&w, &out, &c, 0, &err) == LM_EINVAL && strstr(err.msg, "not finite"),
	   "NaN centroid refused by the writer: %s", err.msg);
	vecstream_writer_close(&w, &err);
	vecstream_codec_free(&c);
	output_close(&out, &err);
	close(fd);
	is_str(vecstream_dtype_name(VECSTREAM_I8_DIM), "i8-dim", "dtype 4 is i8-dim");
}

static void test_codebook_file(void)
{
	char dir[] = "/tmp/test_vecquant.XXXXXX", path[64];
	struct vecstream_codec c, got;
	struct lm_error err = { 0 };
	static const float x[2] = { 1, 2 };
	unsigned char *b;
	size_t n;
	FILE *f;

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/cb.bin", dir);
	if (vecstream_codec_init(&c, VECSTREAM_I8_DIM, 2, 0, &err))
		abort();
	c.offset[1] = 3;
	c.scale[0] = 0.5f;
	b = stream_bytes(&c, NULL, &n);
	f = fopen(path, "wb");
	fwrite(b, 1, n, f);
	fclose(f);
	free(b);
	is_int(vecquant_load_codebook(path, &got, &err), LM_OK, "codebook loads");
	ok(got.dtype == VECSTREAM_I8_DIM && got.dim == 2 && got.offset[1] == 3 && got.scale[0] == 0.5f,
	   "codebook parameters come back");
	vecstream_codec_free(&got);

	b = stream_bytes(&c, x, &n);
	f = fopen(path, "wb");
	fwrite(b, 1, n, f);
	fclose(f);
	free(b);
	ok(vecquant_load_codebook(path, &got, &err) == LM_EFORMAT && strstr(err.msg, "holds records"),
	   "a stream with records is not a codebook: %s", err.msg);
	vecstream_codec_free(&c);

	c = (struct vecstream_codec){ .dtype = VECSTREAM_F32, .dim = 2 };
	b = stream_bytes(&c, NULL, &n);
	f = fopen(path, "wb");
	fwrite(b, 1, n, f);
	fclose(f);
	free(b);
	ok(vecquant_load_codebook(path, &got, &err) == LM_EFORMAT && strstr(err.msg, "no trained parameters"),
	   "an f32 stream is not a codebook: %s", err.msg);
	unlink(path);
	rmdir(dir);
}

/* vecquant_run on NDJSON: dimension mismatch names the line and leaves no
 * output; a good run's stream decodes to the i8 reconstruction. */
static void test_run(void)
{
	char dir[] = "/tmp/test_vecquant.XXXXXX", inp[64], outp[64];
	struct vecquant_options o = { .dtype = VECSTREAM_I8 };
	struct vecquant_stats st;
	struct lm_error err = { 0 };
	struct vecstream_reader r;
	struct vecstream_record rec;
	struct input in;
	float v[3];
	FILE *f;

	if (!mkdtemp(dir))
		abort();
	snprintf(inp, sizeof inp, "%s/in.jsonl", dir);
	snprintf(outp, sizeof outp, "%s/out.bin", dir);
	f = fopen(inp, "w");
	fputs("{\"id\":\"a\",\"embedding\":[1.27,0,-0.5],\"text\":\"x\"}\n{\"id\":\"b\",\"embedding\":[0,1,0]}\n"
	      "{\"id\":\"c\",\"embedding\":[1,2]}\n", f);
	fclose(f);
	if (input_open(&in, inp, &err))
		abort();
	ok(vecquant_run(&in, outp, &o, &st, &err) == LM_EFORMAT && strstr(err.msg, "in.jsonl:3: embedding has 2 values"),
	   "wrong dimension names line 3: %s", err.msg);
	input_close(&in);
	ok(access(outp, F_OK) != 0, "no output file after the failure");

	f = fopen(inp, "w");
	fputs("{\"id\":\"a\",\"embedding\":[1.27,0,-0.5],\"text\":\"x\"}\n{\"id\":\"b\",\"embedding\":[0,1,0]}\n", f);
	fclose(f);
	input_open(&in, inp, &err);
	o.dims = 2;
	is_int(vecquant_run(&in, outp, &o, &st, &err), LM_OK, "two records quantized (%s)", err.msg);
	input_close(&in);
	ok(st.records == 2 && st.dim_in == 3 && st.dim == 2 && st.bytes_in == 12 && st.bytes_out == 6,
	   "stats: 2 records, 3 -> 2 dims, 12 -> 6 bytes");
	input_open(&in, outp, &err);
	ok(vecstream_open_reader(&r, &in, &err) == LM_OK && r.dtype == VECSTREAM_I8 && r.dim == 2 &&
	   (r.flags & VECSTREAM_META), "output: i8, dim 2, with meta");
	ok(vecstream_next(&r, &rec, &err) == LM_OK && !strcmp(rec.id, "a") && !strcmp(rec.meta, "{\"text\":\"x\"}"),
	   "id and meta pass through");
	vecstream_record_floats(&r, &rec, v);
	/* [1.27, 0] has length 1.27, not unit: only cut; scale 0.01, q 127 0 */
	ok(fabsf(v[0] - 1.27f) < 1e-6f && v[1] == 0, "record a decodes to 1.27 0");
	ok(vecstream_next(&r, &rec, &err) == LM_OK, "record b");
	vecstream_record_floats(&r, &rec, v);
	ok(v[0] == 0 && fabsf(v[1] - 1) < 1e-6f, "unit record b cut to [0, 1], still unit");
	vecstream_close_reader(&r);
	input_close(&in);
	unlink(inp);
	unlink(outp);
	rmdir(dir);
}

int main(void)
{
	test_f16_i8_bit();
	test_i8_dim();
	test_pq();
	test_truncate();
	test_header_bytes();
	test_writer_refusals();
	test_codebook_file();
	test_run();
	return tap_done();
}

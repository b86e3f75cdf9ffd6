/* Unit tests for fvecs.c: TEXMEX layout (int32 dim, then dim values) built
 * by hand, dimension checks and truncation errors. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fvecs.h"
#include "tap.h"

static int mem_input(struct input *in, const void *bytes, size_t n, const char *name)
{
	int fd = memfd_create("fvecs-test", 0);

	if (fd < 0 || write(fd, bytes, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (input_from_fd(in, fd, name, NULL))
		abort();
	return fd;
}

/* Read all of BYTES as KIND; returns the final code, rows in *ROWS. */
static int read_all(const void *bytes, size_t n, enum fvecs_kind kind, float *out, int *rows, struct lm_error *err)
{
	struct fvecs_reader r;
	struct input in;
	int fd = mem_input(&in, bytes, n, "t.fvecs"), rc;

	*rows = 0;
	rc = fvecs_open_reader(&r, &in, kind, err);
	if (rc == LM_OK) {
		while ((rc = fvecs_next(&r, out + (size_t)*rows * (r.dim ? r.dim : 1), err)) == LM_OK)
			(*rows)++;
		fvecs_close_reader(&r);
	}
	input_close(&in);
	close(fd);
	return rc;
}

int main(void)
{
	/* dim 2: [1, -2], [0.5, 0] as float32 LE */
	static const unsigned char fv[] = {
		2, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0,
		2, 0, 0, 0, 0, 0, 0, 0x3f, 0, 0, 0, 0,
	};
	static const unsigned char iv[] = { 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 1 };
	static const unsigned char bv[] = { 3, 0, 0, 0, 0, 128, 255 };
	static const unsigned char mixed[] = { 1, 0, 0, 0, 0, 0, 0x80, 0x3f, 2, 0, 0, 0, 0, 0, 0x80, 0x3f };
	static const unsigned char neg[] = { 0xff, 0xff, 0xff, 0xff };
	struct lm_error err = { 0 };
	struct fvecs_writer w;
	struct output out;
	unsigned char got[64];
	float v[16];
	int rows, fd;

	is_int(fvecs_kind_from_name("a/b.fvecs"), FVECS_F32, ".fvecs");
	is_int(fvecs_kind_from_name("b.bvecs"), FVECS_U8, ".bvecs");
	is_int(fvecs_kind_from_name("fvecs"), -1, "bare 'fvecs' is no suffix");
	ok(read_all(fv, sizeof fv, FVECS_F32, v, &rows, &err) == LM_EOF && rows == 2, "two fvecs records");
	ok(v[0] == 1 && v[1] == -2 && v[2] == 0.5f && v[3] == 0, "fvecs values");
	ok(read_all(iv, sizeof iv, FVECS_I32, v, &rows, &err) == LM_EOF && rows == 2 && v[0] == -1 && v[1] == 16777216,
	   "ivecs: -1 and 2^24");
	ok(read_all(bv, sizeof bv, FVECS_U8, v, &rows, &err) == LM_EOF && rows == 1 && v[0] == 0 && v[1] == 128 &&
	   v[2] == 255, "bvecs bytes are unsigned");
	ok(read_all(fv, 0, FVECS_F32, v, &rows, &err) == LM_EOF && rows == 0, "empty file: no records");
	ok(read_all(fv, sizeof fv - 1, FVECS_F32, v, &rows, &err) == LM_EFORMAT && rows == 1 &&
	   !strcmp(err.msg, "t.fvecs: record 2: truncated at byte 23 (2 values expected)"), "truncated: %s", err.msg);
	ok(read_all(fv, 14, FVECS_F32, v, &rows, &err) == LM_EFORMAT && strstr(err.msg, "record 2: truncated in the dimension"),
	   "cut in dim: %s", err.msg);
	ok(read_all(mixed, sizeof mixed, FVECS_F32, v, &rows, &err) == LM_EFORMAT &&
	   strstr(err.msg, "record 2: dimension 2 differs from the first record's 1"), "mixed dims: %s", err.msg);
	ok(read_all(neg, sizeof neg, FVECS_F32, v, &rows, &err) == LM_EFORMAT && strstr(err.msg, "dimension -1"),
	   "negative dim: %s", err.msg);

	fd = memfd_create("fvecs-out", 0);
	output_from_fd(&out, fd, "o.fvecs", &err);
	v[0] = 1;
	v[1] = -2;
	v[2] = 0.5f;
	v[3] = 0;
	ok(fvecs_writer_init(&w, &out, 2, &err) == LM_OK && fvecs_write(&w, v, &err) == LM_OK &&
	   fvecs_write(&w, v + 2, &err) == LM_OK && fvecs_writer_close(&w, &err) == LM_OK, "write two records");
	output_close(&out, &err);
	ok(pread(fd, got, sizeof got, 0) == (ssize_t)sizeof fv && !memcmp(got, fv, sizeof fv), "written bytes are TEXMEX's");
	close(fd);
	return tap_done();
}

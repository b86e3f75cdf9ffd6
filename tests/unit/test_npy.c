/* Unit tests for npy.c against the layout of numpy/lib/format.py: headers
 * built by hand for versions 1.0, 2.0 and 3.0, every supported descr, and
 * the refusals (Fortran order, big-endian, 3-D, truncation, pipes).  Files
 * written by numpy itself are checked by tests/cli/t0300-vecconv.sh. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npy.h"
#include "tap.h"

static int mem_input(struct input *in, const void *bytes, size_t n)
{
	int fd = memfd_create("npy-test", 0);

	if (fd < 0 || write(fd, bytes, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	if (input_from_fd(in, fd, "t.npy", NULL))
		abort();
	return fd;
}

/* A .npy image: magic, version MAJOR.0, the header DICT padded with spaces
 * to a multiple of 64 and '\n', then DATA.  Returns its length. */
static size_t make_npy(unsigned char *buf, unsigned major, const char *dict, const void *data, size_t n)
{
	size_t pre = major == 1 ? 10 : 12, dl = strlen(dict), total = (pre + dl + 1 + 63) / 64 * 64, hl = total - pre;

	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[7] = 0;
	buf[8] = (unsigned char)hl;
	buf[9] = (unsigned char)(hl >> 8);
	if (major > 1)
		buf[10] = buf[11] = 0;
	memcpy(buf + pre, dict, dl);
	memset(buf + pre + dl, ' ', hl - dl - 1);
	buf[total - 1] = '\n';
	memcpy(buf + total, data, n);
	return total + n;
}

/* Open IMG, read up to CAP floats of rows into OUT; returns the final code
 * (LM_EOF after all rows) and the row count in *ROWS. */
static int read_all(const unsigned char *img, size_t n, float *out, size_t cap, struct npy_reader *info,
		    int *rows, struct lm_error *err)
{
	struct npy_reader r;
	struct input in;
	int fd = mem_input(&in, img, n), rc;

	*rows = 0;
	rc = npy_open_reader(&r, &in, err);
	if (rc == LM_OK) {
		*info = r;
		while ((size_t)(*rows + 1) * r.dim <= cap && (rc = npy_next(&r, out + (size_t)*rows * r.dim, err)) == LM_OK)
			(*rows)++;
		npy_close_reader(&r);
	}
	input_close(&in);
	close(fd);
	return rc;
}

static void test_versions(void)
{
	unsigned char img[512];
	struct npy_reader info;
	struct lm_error err = { 0 };
	float v[16];
	size_t n;
	int rows;
	/* float32 1, -2, 0.5, 3 as LE bytes. */
	static const unsigned char f4[] = { 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f, 0, 0, 0x40, 0x40 };
	/* binary16 1.0 = 0x3c00, -2 = 0xc000, 0.5 = 0x3800. */
	static const unsigned char f2[] = { 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38 };
	/* binary64 0.1 = 0x3fb999999999999a, -1e300 narrows to -inf. */
	static const unsigned char f8[] = { 0x9a, 0x99, 0x99, 0x99, 0x99, 0x99, 0xb9, 0x3f };
	static const unsigned char i1[] = { 0x7f, 0x80, 0x00, 0xff };

	n = make_npy(img, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f4, sizeof f4);
	ok(read_all(img, n, v, 16, &info, &rows, &err) == LM_EOF && rows == 2 && info.dim == 2 && info.major == 1,
	   "v1.0 <f4 (2, 2): %s", err.msg);
	ok(v[0] == 1 && v[1] == -2 && v[2] == 0.5f && v[3] == 3, "v1.0 values");

	n = make_npy(img, 2, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 3), }", f2, sizeof f2);
	ok(read_all(img, n, v, 16, &info, &rows, &err) == LM_EOF && rows == 1 && info.dim == 3 && info.major == 2,
	   "v2.0 <f2 (1, 3): %s", err.msg);
	ok(v[0] == 1 && v[1] == -2 && v[2] == 0.5f, "f2 values");

	n = make_npy(img, 3, "{\"descr\": \"<f8\", \"shape\": (1,), \"fortran_order\": False}", f8, sizeof f8);
	ok(read_all(img, n, v, 16, &info, &rows, &err) == LM_EOF && rows == 1 && info.dim == 1 && info.major == 3,
	   "v3.0 <f8 1-D (1,), keys in another order: %s", err.msg);
	ok(v[0] == 0.1f, "f8 0.1 narrows to float32 0.1");

	n = make_npy(img, 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (4,), }", i1, sizeof i1);
	ok(read_all(img, n, v, 16, &info, &rows, &err) == LM_EOF && rows == 1 && info.dim == 4, "|i1 (4,)");
	ok(v[0] == 127 && v[1] == -128 && v[2] == 0 && v[3] == -1, "i1 values");

	n = make_npy(img, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 0), }", "", 0);
	ok(read_all(img, n, v, 16, &info, &rows, &err) == LM_EOF && rows == 0, "(0, 0) is empty");
}

static void test_refusals(void)
{
	static const struct {
		const char *dict;
		const char *want;
	} bad[] = {
		{ "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", "Fortran" },
		{ "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", "'>f4'" },
		{ "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", "'<i8'" },
		{ "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }", "3 dimensions" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "0 dimensions" },
		{ "{'descr': '<f4', 'fortran_order': False, }", "lacks" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", "unexpected key 'x'" },
		{ "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 2), }", "expected ','" },
		{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2000000), }", "2000000" },
	};
	unsigned char img[512], data[16] = { 0 };
	struct npy_reader info;
	struct lm_error err;
	float v[16];
	size_t i, n;
	int rows;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&err, 0, sizeof err);
		n = make_npy(img, 1, bad[i].dict, data, sizeof data);
		ok(read_all(img, n, v, 16, &info, &rows, &err) == LM_EFORMAT && strstr(err.msg, bad[i].want),
		   "refused: %s -> %s", bad[i].dict, err.msg);
	}
	n = make_npy(img, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", data, sizeof data);
	img[6] = 4;
	ok(read_all(img, n, v, 16, &info, &rows, &err) == LM_EFORMAT && strstr(err.msg, "version 4.0"),
	   "version 4.0: %s", err.msg);
	img[6] = 1;
	ok(read_all(img, n - 3, v, 16, &info, &rows, &err) == LM_EFORMAT && rows == 1 &&
	   strstr(err.msg, "row 2: truncated at byte 141"), "truncated row 2: %s", err.msg);
	img[n] = 0;
	ok(read_all(img, n + 1, v, 16, &info, &rows, &err) == LM_EFORMAT && rows == 2 &&
	   strstr(err.msg, "after the 2 rows"), "trailing data: %s", err.msg);
	ok(read_all(img, 40, v, 16, &info, &rows, &err) == LM_EFORMAT && strstr(err.msg, "header truncated"),
	   "truncated header: %s", err.msg);
	ok(read_all((const unsigned char *)"{\"a\":1}\n", 8, v, 16, &info, &rows, &err) == LM_EFORMAT &&
	   strstr(err.msg, "bad magic"), "not npy: %s", err.msg);
}

static void test_writer(void)
{
	/* format.py layout for our fixed 128-byte header: 10 bytes of magic,
	 * version and length 118 (0x76), the dict, spaces, '\n'. */
	static const char dict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
	static const float rows[2][3] = { { 1, -2, 0.5f }, { 0, 3, -0.25f } };
	unsigned char want[128 + 24], got[256];
	struct npy_writer w;
	struct output out;
	struct lm_error err = { 0 };
	int fd = memfd_create("npy-out", 0), p[2];
	ssize_t n;

	memcpy(want, "\x93NUMPY\x01\x00\x76\x00", 10);
	memset(want + 10, ' ', 117);
	memcpy(want + 10, dict, strlen(dict));
	want[127] = '\n';
	memcpy(want + 128, rows, sizeof rows);   /* x86-64 and arm64 are little-endian */
	output_from_fd(&out, fd, "out.npy", &err);
	ok(npy_writer_init(&w, &out, NPY_F4, 3, &err) == LM_OK, "writer init on a file");
	ok(npy_write_row(&w, rows[0], &err) == LM_OK && npy_write_row(&w, rows[1], &err) == LM_OK, "two rows");
	ok(npy_writer_close(&w, &err) == LM_OK, "close patches the shape");
	output_close(&out, &err);
	n = pread(fd, got, sizeof got, 0);
	is_int(n, sizeof want, "file size 128 + 24");
	ok(n == sizeof want && !memcmp(got, want, sizeof want), "bytes equal format.py's layout");
	close(fd);

	fd = memfd_create("npy-out", 0);
	output_from_fd(&out, fd, "half.npy", &err);
	ok(npy_writer_init(&w, &out, NPY_F2, 2, &err) == LM_OK && npy_write_row(&w, rows[0], &err) == LM_OK &&
	   npy_writer_close(&w, &err) == LM_OK, "f16 writer");
	output_close(&out, &err);
	n = pread(fd, got, sizeof got, 0);
	ok(n == 132 && !memcmp(got + 10, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }", 59) &&
	   got[128] == 0x00 && got[129] == 0x3c && got[130] == 0x00 && got[131] == 0xc0, "f16 header and data 0x3c00 0xc000");
	close(fd);

	if (pipe(p) == 0) {
		output_from_fd(&out, p[1], "<stdout>", &err);
		ok(npy_writer_init(&w, &out, NPY_F4, 3, &err) == LM_EINVAL && strstr(err.msg, "seekable"),
		   "pipe refused: %s", err.msg);
		output_close(&out, &err);
		close(p[0]);
		close(p[1]);
	}
	fd = memfd_create("npy-out", 0);
	output_from_fd(&out, fd, "x.npy", &err);
	ok(npy_writer_init(&w, &out, NPY_I1, 3, &err) == LM_EINVAL, "i1 output refused: %s", err.msg);
	output_close(&out, &err);
	close(fd);
}

int main(void)
{
	struct input in;
	struct lm_error err = { 0 };
	int fd = mem_input(&in, "\x93NUMPY\x01\x00", 8);

	is_int(npy_sniff(&in, &err), 1, "sniff npy magic");
	input_close(&in);
	close(fd);
	test_versions();
	test_refusals();
	test_writer();
	return tap_done();
}

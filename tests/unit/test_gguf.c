/* test_gguf.c - GGUF reader, writer and dump.
 *
 * Expected values are hand-computed from the spec (ggml docs/gguf.md) and
 * ggml-common.h block layouts, or come from tests/ref/gguf_dump.py, which
 * reads files independently. */
#include "gguf.h"
#include "tap.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_gguf.XXXXXX";

static const char *shared_dir(void)
{
	const char *s = getenv("LMPIPE_SHARED");

	return s ? s : "../shared";
}

static int have_python_ref(void)
{
	return access("/usr/bin/python3", X_OK) == 0 && access("tests/ref/gguf_dump.py", R_OK) == 0;
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	long len;

	*n = 0;
	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, fp) == (size_t)len)
			*n = (size_t)len;
	}
	fclose(fp);
	return buf;
}

static int spew(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	int ok_ = fp && fwrite(p, 1, n, fp) == n;

	if (fp && fclose(fp) != 0)
		ok_ = 0;
	return ok_;
}

/* Output of a command, NUL-terminated (NULL if it failed). */
static char *run_capture(const char *cmd, size_t *n)
{
	FILE *fp = popen(cmd, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0, k;

	if (!fp)
		return NULL;
	for (;;) {
		if (len + 65536 + 1 > cap) {
			char *nb = realloc(buf, cap = (len + 65536 + 1) * 2);

			if (!nb)
				break;
			buf = nb;
		}
		k = fread(buf + len, 1, 65536, fp);
		if (k == 0)
			break;
		len += k;
	}
	if (pclose(fp) != 0 || !buf) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*n = len;
	return buf;
}

static char *dump_to_string(const struct gguf_file *f, size_t *n)
{
	char path[256];
	struct output out;
	struct lm_error err = { 0 };
	char *s = NULL;

	snprintf(path, sizeof path, "%s/dump.txt", tmpdir);
	if (output_open(&out, path, &err))
		return NULL;
	if (gguf_dump(f, &out, &err) == 0 && output_close(&out, &err) == 0)
		s = (char *)slurp(path, n);
	else
		output_close(&out, &err);
	if (s)
		s[*n] = '\0';
	return s;
}

/* ---- tensor types (the table itself is tensor.h's, tested in test_tensor) ---- */

/* One single-block tensor of every type through writer, reader and dump:
 * the dump must name each type as gguf-py does (the Python reference), and
 * the hand-checked spellings below are gguf-py's GGMLQuantizationType names. */
static void test_types(void)
{
	static const unsigned char zeros[512];
	struct lm_error err = { 0 };
	struct gguf_writer *w = NULL;
	struct gguf_file *f = NULL;
	struct output out;
	char path[256], name[16];
	int n_types = 0, n_ok = 0, rc;

	is_str(gguf_value_type_name(GGUF_TYPE_FLOAT64), "float64", "value type name");
	snprintf(path, sizeof path, "%s/types.gguf", tmpdir);
	rc = gguf_writer_new(&w, &err);
	for (int id = 0; !rc && id < DTYPE_COUNT; id++) {
		int64_t ne = dtype_block_size((enum dtype)id);

		if (!dtype_valid(id))
			continue;
		snprintf(name, sizeof name, "t%d", id);
		rc = gguf_writer_add_tensor(w, name, (enum dtype)id, 1, &ne, zeros, &err);
		n_types++;
	}
	if (!rc && !(rc = output_open(&out, path, &err))) {
		rc = gguf_writer_write(w, &out, &err);
		if (output_close(&out, &err) && !rc)
			rc = err.code;
	}
	gguf_writer_free(w);
	ok(rc == 0 && n_types == 32, "a one-block tensor of each of the 32 types written: %s", err.msg);
	if (rc || gguf_open(path, &f, &err)) {
		ok(0, "types file reads back: %s", err.msg);
		return;
	}
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];

		snprintf(name, sizeof name, "t%d", (int)t->type);
		n_ok += !strcmp(t->name, name) && t->nbytes == dtype_type_size(t->type);
	}
	ok(f->n_tensors == 32 && n_ok == 32, "each reads back with its type and one block's bytes");
	{
		size_t ng = 0;
		char *got = dump_to_string(f, &ng);

		ok(got && strstr(got, "tensor \"t0\" F32 [1] offset 0 size 4\n") &&
		   strstr(got, "tensor \"t12\" Q4_K [256] ") && strstr(got, "tensor \"t16\" IQ2_XXS [256] ") &&
		   strstr(got, "tensor \"t30\" BF16 [1] ") && strstr(got, "tensor \"t39\" MXFP4 [32] "),
		   "dump spells the types F32, Q4_K, IQ2_XXS, BF16, MXFP4");
		if (have_python_ref()) {
			char cmd[512], *want;
			size_t nw = 0;

			snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/gguf_dump.py '%s'", path);
			want = run_capture(cmd, &nw);
			ok(want && got && nw == ng && !memcmp(want, got, nw),
			   "every type's dump line equals the Python reader's");
			free(want);
		} else {
			ok(1, "# SKIP no /usr/bin/python3 or tests/ref");
		}
		free(got);
	}
	gguf_close(f);
}

/* ---- writer -> reader ---- */

struct cb_arg {
	const unsigned char *data;
	size_t n;
};

static int write_cb(void *arg, struct output *out, struct lm_error *err)
{
	struct cb_arg *a = arg;

	return output_write(out, a->data, a->n, err);
}

static float t_f32[6] = { 1.5f, -2.25f, 3e-8f, 0.0f, -0.0f, 1e30f };
static unsigned char t_q8[2 * 34 * 2];
static uint16_t t_f16[5] = { 0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000 };
static unsigned char t_q4k[2 * 144];

static int build_sample(const char *path, uint32_t alignment, struct lm_error *err)
{
	static const uint8_t a_u8[] = { 0, 7, 255 };
	static const int8_t a_i8[] = { -128, 0, 127 };
	static const uint16_t a_u16[] = { 0, 65535 };
	static const int16_t a_i16[] = { -32768, 32767 };
	static const uint32_t a_u32[] = { 0, 4000000000u };
	static const int32_t a_i32[] = { INT32_MIN, -1, INT32_MAX };
	static const float a_f32[] = { 0.1f, -1e-20f, 3.4028235e38f };
	static const uint8_t a_bool[] = { 1, 0, 1 };
	static const uint64_t a_u64[] = { UINT64_MAX, 1 };
	static const int64_t a_i64[] = { INT64_MIN, INT64_MAX };
	static const double a_f64[] = { 0.1, -2.5e-300 };
	static const char *const a_str[] = { "", "hello", "quote\" back\\slash", "tab\tnl\n",
					     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "bad \xff\xfe byte" };
	int64_t ne_f32[] = { 3, 2 }, ne_q8[] = { 64, 2 }, ne_f16[] = { 5 }, ne_q4k[] = { 256, 1, 1, 2 };
	struct cb_arg cb = { t_q4k, sizeof t_q4k };
	struct gguf_writer *w = NULL;
	struct output out;
	int rc;

	for (size_t i = 0; i < sizeof t_q8; i++)
		t_q8[i] = (unsigned char)(i * 7 + 1);
	for (size_t i = 0; i < sizeof t_q4k; i++)
		t_q4k[i] = (unsigned char)(i * 13 + 5);
	if ((rc = gguf_writer_new(&w, err)))
		return rc;
	if ((rc = gguf_writer_add_str(w, "general.architecture", "llama", 5, err)) ||
	    (alignment && (rc = gguf_writer_add_u32(w, "general.alignment", alignment, err))) ||
	    (rc = gguf_writer_add_u8(w, "t.u8", 200, err)) ||
	    (rc = gguf_writer_add_i8(w, "t.i8", -5, err)) ||
	    (rc = gguf_writer_add_u16(w, "t.u16", 60000, err)) ||
	    (rc = gguf_writer_add_i16(w, "t.i16", -30000, err)) ||
	    (rc = gguf_writer_add_u32(w, "t.u32", 4000000000u, err)) ||
	    (rc = gguf_writer_add_i32(w, "t.i32", -2000000000, err)) ||
	    (rc = gguf_writer_add_f32(w, "t.f32", 0.1f, err)) ||
	    (rc = gguf_writer_add_bool(w, "t.bool", 1, err)) ||
	    (rc = gguf_writer_add_u64(w, "t.u64", UINT64_MAX, err)) ||
	    (rc = gguf_writer_add_i64(w, "t.i64", INT64_MIN, err)) ||
	    (rc = gguf_writer_add_f64(w, "t.f64", 1.0 / 3.0, err)) ||
	    (rc = gguf_writer_add_f32(w, "t.nan", NAN, err)) ||
	    (rc = gguf_writer_add_f64(w, "t.ninf", -INFINITY, err)) ||
	    (rc = gguf_writer_add_str(w, "t.str", "a\0b\x7f", 4, err)) ||
	    (rc = gguf_writer_add_array(w, "a.u8", GGUF_TYPE_UINT8, a_u8, 3, err)) ||
	    (rc = gguf_writer_add_array(w, "a.i8", GGUF_TYPE_INT8, a_i8, 3, err)) ||
	    (rc = gguf_writer_add_array(w, "a.u16", GGUF_TYPE_UINT16, a_u16, 2, err)) ||
	    (rc = gguf_writer_add_array(w, "a.i16", GGUF_TYPE_INT16, a_i16, 2, err)) ||
	    (rc = gguf_writer_add_array(w, "a.u32", GGUF_TYPE_UINT32, a_u32, 2, err)) ||
	    (rc = gguf_writer_add_array(w, "a.i32", GGUF_TYPE_INT32, a_i32, 3, err)) ||
	    (rc = gguf_writer_add_array(w, "a.f32", GGUF_TYPE_FLOAT32, a_f32, 3, err)) ||
	    (rc = gguf_writer_add_array(w, "a.bool", GGUF_TYPE_BOOL, a_bool, 3, err)) ||
	    (rc = gguf_writer_add_array(w, "a.u64", GGUF_TYPE_UINT64, a_u64, 2, err)) ||
	    (rc = gguf_writer_add_array(w, "a.i64", GGUF_TYPE_INT64, a_i64, 2, err)) ||
	    (rc = gguf_writer_add_array(w, "a.f64", GGUF_TYPE_FLOAT64, a_f64, 2, err)) ||
	    (rc = gguf_writer_add_array(w, "a.empty", GGUF_TYPE_INT32, NULL, 0, err)) ||
	    (rc = gguf_writer_add_str_array(w, "a.str", a_str, NULL, 6, err)) ||
	    (rc = gguf_writer_add_tensor(w, "w.f32", DTYPE_F32, 2, ne_f32, t_f32, err)) ||
	    (rc = gguf_writer_add_tensor(w, "w.q8_0", DTYPE_Q8_0, 2, ne_q8, t_q8, err)) ||
	    (rc = gguf_writer_add_tensor(w, "w.f16", DTYPE_F16, 1, ne_f16, t_f16, err)) ||
	    (rc = gguf_writer_add_tensor_cb(w, "blk.0.q4_k", DTYPE_Q4_K, 4, ne_q4k, write_cb, &cb, err)))
		goto out;
	if ((rc = output_open(&out, path, err)))
		goto out;
	rc = gguf_writer_write(w, &out, err);
	if (output_close(&out, err) && !rc)
		rc = err->code;
out:
	gguf_writer_free(w);
	return rc;
}

static void test_round_trip(void)
{
	struct lm_error err = { 0 };
	struct gguf_file *f = NULL;
	const struct gguf_kv *kv;
	const struct gguf_tensor *t;
	char path[256];
	uint32_t u32;
	int32_t i32;
	uint64_t u64, len;
	int64_t i64;
	float f32;
	double f64;
	int b;
	const char *s;

	snprintf(path, sizeof path, "%s/sample.gguf", tmpdir);
	is_int(build_sample(path, 64, &err), 0, "writer builds the sample (%s)", err.msg);
	if (gguf_open(path, &f, &err)) {
		ok(0, "reopen sample: %s", err.msg);
		return;
	}
	is_int(f->version, 3, "writer writes version 3");
	is_int(f->alignment, 64, "general.alignment is honoured");
	is_int(f->n_kv, 16 + 13, "kv count: 16 scalars, 13 arrays");
	is_int(f->n_tensors, 4, "tensor count");
	ok(f->data_offset % 64 == 0 && f->data_offset >= f->info_end && f->data_offset - f->info_end < 64,
	   "data section starts at the next multiple of 64");
	is_str(f->kvs[0].key, "general.architecture", "kvs keep their order");

	ok(gguf_get_u32(f, "t.u32", &u32, &err) == 0 && u32 == 4000000000u, "u32");
	ok(gguf_get_u32(f, "t.u8", &u32, &err) == 0 && u32 == 200, "u8 read as u32");
	ok(gguf_get_i32(f, "t.i8", &i32, &err) == 0 && i32 == -5, "i8 read as i32");
	ok(gguf_get_i32(f, "t.i16", &i32, &err) == 0 && i32 == -30000, "i16");
	ok(gguf_get_u32(f, "t.u16", &u32, &err) == 0 && u32 == 60000, "u16");
	ok(gguf_get_i32(f, "t.i32", &i32, &err) == 0 && i32 == -2000000000, "i32");
	ok(gguf_get_u64(f, "t.u64", &u64, &err) == 0 && u64 == UINT64_MAX, "u64");
	ok(gguf_get_i64(f, "t.i64", &i64, &err) == 0 && i64 == INT64_MIN, "i64");
	ok(gguf_get_f32(f, "t.f32", &f32, &err) == 0 && f32 == 0.1f, "f32");
	ok(gguf_get_f64(f, "t.f64", &f64, &err) == 0 && f64 == 1.0 / 3.0, "f64");
	ok(gguf_get_f32(f, "t.u16", &f32, &err) == 0 && f32 == 60000.0f, "integer read as f32");
	ok(gguf_get_bool(f, "t.bool", &b, &err) == 0 && b == 1, "bool");
	ok(gguf_get_str(f, "t.str", &s, &len, &err) == 0 && len == 4 && !memcmp(s, "a\0b\x7f", 4),
	   "string with NUL and DEL");

	ok(gguf_get_u32(f, "t.i8", &u32, &err) == LM_EFORMAT && strstr(err.msg, "out of range"),
	   "negative value refused for u32: %s", err.msg);
	ok(gguf_get_i32(f, "t.u32", &i32, &err) == LM_EFORMAT && strstr(err.msg, "out of range"),
	   "4e9 refused for i32: %s", err.msg);
	ok(gguf_get_i64(f, "t.u64", &i64, &err) == LM_EFORMAT, "UINT64_MAX refused for i64");
	ok(gguf_get_bool(f, "t.u8", &b, &err) == LM_EFORMAT && strstr(err.msg, "expected bool"),
	   "u8 is not a bool: %s", err.msg);
	ok(gguf_get_u32(f, "t.f32", &u32, &err) == LM_EFORMAT, "float is not an integer");
	ok(gguf_get_u32(f, "t.bool", &u32, &err) == LM_EFORMAT, "bool is not an integer");
	ok(gguf_get_str(f, "a.str", &s, &len, &err) == LM_EFORMAT && strstr(err.msg, "array of string"),
	   "array is not a string: %s", err.msg);
	ok(gguf_get_u32(f, "no.such", &u32, &err) == LM_EFORMAT && strstr(err.msg, "sample.gguf") &&
	   strstr(err.msg, "'no.such' not found"), "missing key names file and key: %s", err.msg);
	ok(gguf_find_kv(f, "no.such") == NULL && gguf_find_kv(f, "a.f64") != NULL, "gguf_find_kv");

	ok(gguf_get_array(f, "a.str", GGUF_TYPE_STRING, &kv, &err) == 0 && kv->count == 6,
	   "string array");
	if (!gguf_get_array(f, "a.str", GGUF_TYPE_STRING, &kv, &err)) {
		s = gguf_array_str(kv, 0, &len);
		ok(s && len == 0, "empty string element");
		s = gguf_array_str(kv, 2, &len);
		ok(s && len == 17 && !memcmp(s, "quote\" back\\slash", 17), "string element 2");
		ok(gguf_array_str(kv, 6, &len) == NULL, "out-of-range element is NULL");
	}
	ok(gguf_get_array(f, "a.str", GGUF_TYPE_INT32, &kv, &err) == LM_EFORMAT, "element type checked");
	if (!gguf_get_array(f, "a.i32", GGUF_TYPE_INT32, &kv, &err))
		ok(kv->count == 3 && gguf_array_int(kv, 0) == INT32_MIN && gguf_array_int(kv, 2) == INT32_MAX,
		   "int32 array elements");
	if (!gguf_get_array(f, "a.u64", GGUF_TYPE_COUNT, &kv, &err))
		ok(gguf_array_int(kv, 0) == INT64_MAX && gguf_array_int(kv, 1) == 1,
		   "uint64 elements (saturating)");
	if (!gguf_get_array(f, "a.i8", GGUF_TYPE_INT8, &kv, &err))
		ok(gguf_array_int(kv, 0) == -128 && gguf_array_int(kv, 2) == 127, "int8 elements");
	if (!gguf_get_array(f, "a.u16", GGUF_TYPE_UINT16, &kv, &err))
		ok(gguf_array_int(kv, 1) == 65535, "uint16 elements");
	if (!gguf_get_array(f, "a.f32", GGUF_TYPE_FLOAT32, &kv, &err))
		ok(gguf_array_float(kv, 0) == (double)0.1f && gguf_array_float(kv, 2) == (double)3.4028235e38f,
		   "float32 elements");
	if (!gguf_get_array(f, "a.f64", GGUF_TYPE_FLOAT64, &kv, &err))
		ok(gguf_array_float(kv, 1) == -2.5e-300, "float64 elements");
	if (!gguf_get_array(f, "a.bool", GGUF_TYPE_BOOL, &kv, &err))
		ok(gguf_array_int(kv, 0) == 1 && gguf_array_int(kv, 1) == 0, "bool elements");
	if (!gguf_get_array(f, "a.empty", GGUF_TYPE_INT32, &kv, &err))
		ok(kv->count == 0, "empty array");

	t = gguf_find_tensor(f, "w.q8_0");
	ok(t && t->type == DTYPE_Q8_0 && t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 2 &&
	   t->ne[2] == 1 && t->ne[3] == 1 && t->nbytes == sizeof t_q8 && !memcmp(t->data, t_q8, sizeof t_q8),
	   "Q8_0 tensor shape and data");
	t = gguf_find_tensor(f, "w.f32");
	ok(t && t->offset == 0 && t->nbytes == 24 && !memcmp(t->data, t_f32, 24), "F32 tensor at offset 0");
	/* Offsets: 24 -> 64, then 136 -> 192 (alignment 64). */
	ok(f->tensors[1].offset == 64 && f->tensors[2].offset == 64 + 192 &&
	   f->tensors[3].offset == 64 + 192 + 64, "tensor offsets padded to the alignment");
	t = gguf_find_tensor(f, "blk.0.q4_k");
	ok(t && t->n_dims == 4 && t->ne[3] == 2 && t->nbytes == sizeof t_q4k &&
	   !memcmp(t->data, t_q4k, sizeof t_q4k) && ((const unsigned char *)t->data - f->base) % 64 == 0,
	   "Q4_K tensor written by callback, aligned in the file");
	ok(gguf_find_tensor(f, "nope") == NULL, "missing tensor is NULL");

	if (have_python_ref()) {
		char cmd[512], *want, *got;
		size_t nw = 0, ng = 0;

		snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/gguf_dump.py '%s'", path);
		want = run_capture(cmd, &nw);
		got = dump_to_string(f, &ng);
		ok(want && got && nw == ng && !memcmp(want, got, nw), "dump equals the Python reader's");
		if (got && strstr(got, "kv \"t.nan\" float32 nan\n") &&
		    strstr(got, "kv \"t.str\" string \"a\\u0000b\\u007f\"\n"))
			ok(1, "dump spells nan and escapes NUL/DEL");
		else
			ok(0, "dump spells nan and escapes NUL/DEL");
		free(want);
		free(got);
	} else {
		ok(1, "# SKIP no /usr/bin/python3 or tests/ref");
		ok(1, "# SKIP no /usr/bin/python3 or tests/ref");
	}
	gguf_close(f);
}

/* Re-create PATH through the writer and compare the bytes. */
static int rewrite_identical(const char *path, struct lm_error *err)
{
	struct gguf_writer *w = NULL;
	struct gguf_file *f = NULL;
	struct output out;
	unsigned char *a = NULL, *b = NULL;
	size_t na, nb;
	char copy[256];
	int rc, same = 0;

	snprintf(copy, sizeof copy, "%s/rewrite.gguf", tmpdir);
	if ((rc = gguf_open(path, &f, err)) || (rc = gguf_writer_new(&w, err)))
		goto out;
	for (uint64_t i = 0; i < f->n_kv; i++)
		if ((rc = gguf_writer_copy_kv(w, &f->kvs[i], err)))
			goto out;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];

		if ((rc = gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, err)))
			goto out;
	}
	if ((rc = output_open(&out, copy, err)))
		goto out;
	rc = gguf_writer_write(w, &out, err);
	if (output_close(&out, err) && !rc)
		rc = err->code;
	if (rc)
		goto out;
	a = slurp(path, &na);
	b = slurp(copy, &nb);
	same = a && b && na == nb && !memcmp(a, b, na);
out:
	free(a);
	free(b);
	gguf_writer_free(w);
	gguf_close(f);
	return rc ? rc : same;
}

static void test_rewrite(void)
{
	struct lm_error err = { 0 };
	char path[256];

	snprintf(path, sizeof path, "%s/sample.gguf", tmpdir);
	is_int(rewrite_identical(path, &err), 1, "writer-made file is re-created byte for byte");
	snprintf(path, sizeof path, "%s/sample32.gguf", tmpdir);
	is_int(build_sample(path, 0, &err), 0, "sample with default alignment");
	is_int(rewrite_identical(path, &err), 1, "default-alignment file re-created byte for byte");
}

/* ---- malformed input ---- */

struct buf {
	unsigned char b[4096];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };

	put(b, x, 4);
}

static void put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b, (uint32_t)(v >> 32));
}

static void putstr(struct buf *b, const char *s)
{
	put64(b, strlen(s));
	put(b, s, strlen(s));
}

static void header(struct buf *b, uint64_t n_tensors, uint64_t n_kv)
{
	b->n = 0;
	put(b, "GGUF", 4);
	put32(b, 3);
	put64(b, n_tensors);
	put64(b, n_kv);
}

static void tensor_info(struct buf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
			uint32_t type, uint64_t offset)
{
	putstr(b, name);
	put32(b, n_dims);
	for (uint32_t i = 0; i < n_dims; i++)
		put64(b, ne[i]);
	put32(b, type);
	put64(b, offset);
}

static void pad_to(struct buf *b, size_t align)
{
	while (b->n % align)
		b->b[b->n++] = 0;
}

/* Both entry points must refuse B with a message naming the file and
 * containing WANT. */
static void expect_bad(const struct buf *b, const char *want, const char *desc)
{
	struct lm_error err = { 0 };
	struct gguf_file *f = NULL;
	char path[256];
	int rc;

	rc = gguf_open_memory(b->b, b->n, "mem.gguf", &f, &err);
	ok(rc == LM_EFORMAT && f == NULL && !strncmp(err.msg, "mem.gguf: ", 10) && strstr(err.msg, want),
	   "%s: %s", desc, err.msg);
	gguf_close(f);
	snprintf(path, sizeof path, "%s/bad.gguf", tmpdir);
	if (!spew(path, b->b, b->n)) {
		ok(0, "write %s", path);
		return;
	}
	rc = gguf_open(path, &f, &err);
	ok(rc == LM_EFORMAT && f == NULL && !strncmp(err.msg, path, strlen(path)) && strstr(err.msg, want),
	   "%s (file): %s", desc, err.msg);
	gguf_close(f);
}

static void test_malformed(void)
{
	struct buf b;
	uint64_t ne[4];

	b.n = 0;
	expect_bad(&b, "not a GGUF file", "empty file");
	put(&b, "GGUX", 4);
	put32(&b, 3);
	expect_bad(&b, "not a GGUF file", "bad magic");

	header(&b, 0, 0);
	b.b[4] = 1;
	expect_bad(&b, "version 1 is not supported", "version 1");
	b.b[4] = 4;
	expect_bad(&b, "unsupported GGUF version 4", "version 4");
	b.b[4] = 0;
	b.b[7] = 3;
	expect_bad(&b, "big-endian", "big-endian file");

	header(&b, 0, 0);
	b.n = 12;
	expect_bad(&b, "truncated: tensor count", "truncated header");
	header(&b, 0, 1ULL << 60);
	expect_bad(&b, "key/values, only 0 bytes follow", "absurd kv count");
	header(&b, 1ULL << 62, 0);
	expect_bad(&b, "tensors, only 0 bytes follow", "absurd tensor count");

	header(&b, 0, 1);
	put64(&b, UINT64_MAX);
	put(&b, "abcdefghijklmnop", 16);
	expect_bad(&b, "kv 0: truncated: key of 18446744073709551615 bytes", "huge key length");
	header(&b, 0, 1);
	putstr(&b, "");
	put32(&b, GGUF_TYPE_UINT8);
	put(&b, "\0\0", 2);
	expect_bad(&b, "kv 0: empty key", "empty key");
	header(&b, 0, 1);
	putstr(&b, "bad\xc0\xafkey");
	put32(&b, GGUF_TYPE_UINT8);
	put(&b, "\0", 1);
	expect_bad(&b, "kv 0: key is not valid UTF-8", "overlong UTF-8 in key");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, 13);
	put(&b, "\0\0\0\0", 4);
	expect_bad(&b, "kv 0 (k): unknown value type 13", "unknown value type");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_BOOL);
	put(&b, "\2", 1);
	expect_bad(&b, "bool value is 2", "bool 2");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_UINT64);
	put(&b, "\0\0\0\0", 4);
	expect_bad(&b, "kv 0 (k): truncated: value needs 8 bytes", "truncated scalar");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_STRING);
	put64(&b, 1000);
	put(&b, "abc", 3);
	expect_bad(&b, "truncated: string value of 1000 bytes", "string past end of file");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_ARRAY);
	put32(&b, GGUF_TYPE_UINT32);
	put64(&b, 1ULL << 62);
	put(&b, "\0\0\0\0\0\0\0\0", 8);
	expect_bad(&b, "array of 4611686018427387904 uint32 at offset", "array count * 4 overflows");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_ARRAY);
	put32(&b, GGUF_TYPE_STRING);
	put64(&b, 1000);
	putstr(&b, "x");
	expect_bad(&b, "array of 1000 strings", "string array count past end of file");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_ARRAY);
	put32(&b, GGUF_TYPE_STRING);
	put64(&b, 2);
	putstr(&b, "x");
	put64(&b, 99);
	expect_bad(&b, "truncated: string element 1 of 99 bytes", "string array element past end");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_ARRAY);
	put32(&b, GGUF_TYPE_ARRAY);
	put64(&b, 0);
	expect_bad(&b, "nested arrays are not supported", "nested array");
	header(&b, 0, 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_ARRAY);
	put32(&b, GGUF_TYPE_BOOL);
	put64(&b, 3);
	put(&b, "\1\0\7", 3);
	expect_bad(&b, "bool element 2 is 7", "bool array element 7");
	header(&b, 0, 2);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_UINT8);
	put(&b, "\1", 1);
	putstr(&b, "k");
	put32(&b, GGUF_TYPE_UINT8);
	put(&b, "\2", 1);
	expect_bad(&b, "duplicate key 'k' (kv 0 and kv 1)", "duplicate key");
	header(&b, 0, 1);
	putstr(&b, "general.alignment");
	put32(&b, GGUF_TYPE_UINT32);
	put32(&b, 48);
	expect_bad(&b, "general.alignment 48 is not a power of two", "alignment 48");
	header(&b, 0, 1);
	putstr(&b, "general.alignment");
	put32(&b, GGUF_TYPE_UINT32);
	put32(&b, 0);
	expect_bad(&b, "general.alignment 0 is not a power of two", "alignment 0");
	header(&b, 0, 1);
	putstr(&b, "general.alignment");
	put32(&b, GGUF_TYPE_UINT64);
	put64(&b, 32);
	expect_bad(&b, "general.alignment is uint64, must be uint32", "alignment of the wrong type");

	/* Tensor infos: one F32 [8] tensor at offset 0 is valid; vary one field. */
	ne[0] = 8;
	header(&b, 1, 0);
	tensor_info(&b, "blk.0.attn_q.weight", 1, ne, DTYPE_F32, 0);
	pad_to(&b, 32);
	b.n += 32;
	memset(b.b + b.n - 32, 0, 32);
	{
		struct lm_error err = { 0 };
		struct gguf_file *f = NULL;

		ok(gguf_open_memory(b.b, b.n, "mem.gguf", &f, &err) == 0 && f->n_tensors == 1 &&
		   f->tensors[0].nbytes == 32 && f->data_offset == 96, "baseline tensor file is valid: %s",
		   err.msg);
		gguf_close(f);
	}
	b.n -= 1;
	expect_bad(&b, "tensor 0 (blk.0.attn_q.weight): data extends past end of file (offset 96, size 32, file 127)",
		   "tensor data one byte short");
	header(&b, 1, 0);
	tensor_info(&b, "t", 1, ne, DTYPE_F32, 4);
	pad_to(&b, 32);
	b.n += 64;
	expect_bad(&b, "tensor 0 (t): offset 4 is not a multiple of the alignment 32", "unaligned offset");
	header(&b, 1, 0);
	tensor_info(&b, "t", 1, ne, DTYPE_F32, UINT64_MAX - 31);
	pad_to(&b, 32);
	b.n += 64;
	expect_bad(&b, "data extends past end of file", "offset near UINT64_MAX");
	header(&b, 1, 0);
	tensor_info(&b, "t", 0, ne, DTYPE_F32, 0);
	b.n += 64;
	expect_bad(&b, "tensor 0 (t): n_dims is 0", "n_dims 0");
	header(&b, 1, 0);
	tensor_info(&b, "t", 5, (uint64_t[5]){ 1, 1, 1, 1, 1 }, DTYPE_F32, 0);
	b.n += 64;
	expect_bad(&b, "n_dims is 5", "n_dims 5");
	header(&b, 1, 0);
	tensor_info(&b, "t", 2, (uint64_t[2]){ 8, 0 }, DTYPE_F32, 0);
	b.n += 64;
	expect_bad(&b, "dimension 1 is 0", "zero dimension");
	header(&b, 1, 0);
	tensor_info(&b, "t", 1, (uint64_t[1]){ 1ULL << 63 }, DTYPE_I8, 0);
	b.n += 64;
	expect_bad(&b, "dimension 0 is 9223372036854775808", "dimension above INT64_MAX");
	header(&b, 1, 0);
	tensor_info(&b, "t", 2, (uint64_t[2]){ 1ULL << 32, 1ULL << 32 }, DTYPE_I8, 0);
	b.n += 64;
	expect_bad(&b, "number of elements overflows", "element count overflow");
	header(&b, 1, 0);
	tensor_info(&b, "t", 2, (uint64_t[2]){ 1ULL << 31, 1ULL << 31 }, DTYPE_F64, 0);
	b.n += 64;
	expect_bad(&b, "byte size overflows", "byte size overflow");
	header(&b, 1, 0);
	tensor_info(&b, "t", 1, ne, 4, 0);
	b.n += 64;
	expect_bad(&b, "tensor 0 (t): unknown ggml type 4", "removed ggml type Q4_2");
	header(&b, 1, 0);
	tensor_info(&b, "t", 1, ne, 200, 0);
	b.n += 64;
	expect_bad(&b, "unknown ggml type 200", "unknown ggml type");
	header(&b, 1, 0);
	tensor_info(&b, "t", 1, (uint64_t[1]){ 33 }, DTYPE_Q4_0, 0);
	b.n += 64;
	expect_bad(&b, "tensor 0 (t): q4_0 row of 33 elements is not a whole number of 32-element blocks",
		   "partial block");
	header(&b, 1, 0);
	tensor_info(&b, "", 1, ne, DTYPE_F32, 0);
	b.n += 64;
	expect_bad(&b, "tensor 0: empty name", "empty tensor name");
	header(&b, 1, 0);
	tensor_info(&b, "0123456789012345678901234567890123456789012345678901234567890123x", 1, ne,
		    DTYPE_F32, 0);
	b.n += 64;
	expect_bad(&b, "name is 65 bytes, more than 64", "tensor name too long");
	header(&b, 1, 0);
	tensor_info(&b, "a\xed\xa0\x80", 1, ne, DTYPE_F32, 0);
	b.n += 64;
	expect_bad(&b, "name is not valid UTF-8", "surrogate in tensor name");
	header(&b, 2, 0);
	tensor_info(&b, "t", 1, ne, DTYPE_F32, 0);
	tensor_info(&b, "t", 1, ne, DTYPE_F32, 32);
	pad_to(&b, 32);
	b.n += 64;
	expect_bad(&b, "duplicate tensor name 't' (tensor 0 and tensor 1)", "duplicate tensor name");
}

/* Every truncation of a writer-made file that cuts into its metadata or
 * tensor data is refused (only the final padding may go). */
static void test_truncations(void)
{
	struct lm_error err = { 0 };
	struct gguf_file *f = NULL, *g;
	unsigned char *data;
	size_t n, end = 0, refused = 0, named = 0;
	char path[256];

	snprintf(path, sizeof path, "%s/sample.gguf", tmpdir);
	data = slurp(path, &n);
	if (!data || gguf_open_memory(data, n, "cut.gguf", &f, &err)) {
		ok(0, "load sample: %s", err.msg);
		free(data);
		return;
	}
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		size_t e = (size_t)(f->data_offset + f->tensors[i].offset + f->tensors[i].nbytes);

		if (e > end)
			end = e;
	}
	gguf_close(f);
	for (size_t cut = 0; cut < end; cut++) {
		g = NULL;
		if (gguf_open_memory(data, cut, "cut.gguf", &g, &err) == LM_EFORMAT && !g) {
			refused++;
			named += !strncmp(err.msg, "cut.gguf: ", 10);
		}
		gguf_close(g);
	}
	is_int(refused, end, "all %zu truncations refused", end);
	is_int(named, end, "every message names the file");
	g = NULL;
	ok(gguf_open_memory(data, end, "cut.gguf", &g, &err) == 0, "without the final padding it is valid");
	gguf_close(g);

	/* Flip every byte of the metadata in turn: never a crash or leak
	 * (ASan/UBSan builds check that), and a refusal names the file. */
	named = refused = 0;
	for (size_t i = 0; i < (size_t)(end < 2048 ? end : 2048); i++) {
		unsigned char save = data[i];

		data[i] ^= 0xa5;
		g = NULL;
		if (gguf_open_memory(data, n, "flip.gguf", &g, &err)) {
			refused++;
			named += !strncmp(err.msg, "flip.gguf: ", 11);
		}
		gguf_close(g);
		data[i] = save;
	}
	ok(refused > 0 && named == refused, "byte flips: %zu refused, all naming the file", refused);
	free(data);
}

static void test_writer_refusals(void)
{
	struct lm_error err = { 0 };
	struct gguf_writer *w;
	int64_t ne[2] = { 33, 1 };
	float x[64] = { 0 };

	if (gguf_writer_new(&w, &err)) {
		ok(0, "writer: %s", err.msg);
		return;
	}
	ok(gguf_writer_add_u32(w, "k", 1, &err) == 0, "add k");
	ok(gguf_writer_add_u8(w, "k", 1, &err) == LM_EINVAL && strstr(err.msg, "duplicate key"),
	   "duplicate key refused");
	ok(gguf_writer_add_u32(w, "general.alignment", 24, &err) == LM_EINVAL, "alignment 24 refused");
	ok(gguf_writer_add_u64(w, "general.alignment", 32, &err) == LM_EINVAL, "uint64 alignment refused");
	ok(gguf_writer_add_u8(w, "bad\xff", 1, &err) == LM_EINVAL, "invalid UTF-8 key refused");
	ok(gguf_writer_add_array(w, "a", GGUF_TYPE_STRING, x, 1, &err) == LM_EINVAL,
	   "string elements need add_str_array");
	ok(gguf_writer_add_array(w, "b", GGUF_TYPE_BOOL, (uint8_t[]){ 2 }, 1, &err) == LM_EINVAL,
	   "bool element 2 refused");
	ok(gguf_writer_add_tensor(w, "t", DTYPE_Q8_0, 2, ne, x, &err) == LM_EINVAL &&
	   !strcmp(err.msg, "gguf writer: tensor 't': q8_0 row of 33 elements is not a whole number of 32-element blocks"),
	   "partial block refused: %s", err.msg);
	ne[0] = 32;
	ne[1] = 0;
	ok(gguf_writer_add_tensor(w, "t", DTYPE_Q8_0, 2, ne, x, &err) == LM_EINVAL &&
	   strstr(err.msg, "dimension 1 is 0"), "empty dimension refused: %s", err.msg);
	ne[1] = 1;
	ok(gguf_writer_add_tensor(w, "t", DTYPE_Q8_0, 2, ne, x, &err) == 0, "whole block accepted");
	ok(gguf_writer_add_tensor(w, "t", DTYPE_F32, 1, ne, x, &err) == LM_EINVAL,
	   "duplicate tensor refused");
	ok(gguf_writer_add_tensor(w, "u", (enum dtype)31, 1, ne, x, &err) == LM_EINVAL &&
	   strstr(err.msg, "unknown tensor type 31"), "removed type refused: %s", err.msg);
	ok(gguf_writer_add_tensor(w, "u", DTYPE_F64, 2, (int64_t[]){ 1LL << 31, 1LL << 31 }, x, &err) ==
	   LM_EINVAL && strstr(err.msg, "overflows"), "byte size overflow refused: %s", err.msg);
	ok(gguf_writer_add_tensor(w, "v", DTYPE_F32, 0, ne, x, &err) == LM_EINVAL, "n_dims 0 refused");
	gguf_writer_free(w);
}

/* ---- real files ---- */

static void test_real_files(void)
{
	char dir[512], path[1024], cmd[1400];
	struct dirent *de;
	DIR *d;
	int seen = 0;

	snprintf(dir, sizeof dir, "%s/tokenizers/llama.cpp-vocab", shared_dir());
	d = opendir(dir);
	if (!d) {
		ok(1, "# SKIP %s not present", dir);
		return;
	}
	while ((de = readdir(d))) {
		struct lm_error err = { 0 };
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 5, ".gguf"))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		is_int(rewrite_identical(path, &err), 1, "%s re-created byte for byte %s", de->d_name, err.msg);
		seen++;
	}
	closedir(d);
	ok(seen > 0, "found %d vocabulary files", seen);

	snprintf(path, sizeof path, "%s/ggml-vocab-gpt-2.gguf", dir);
	if (access(path, R_OK) == 0 && have_python_ref()) {
		struct lm_error err = { 0 };
		struct gguf_file *f = NULL;
		const struct gguf_kv *kv = NULL;
		char *ref, *line;
		size_t n = 0;
		unsigned long long want = 0;
		uint32_t eos;

		snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/gguf_dump.py '%s'", path);
		ref = run_capture(cmd, &n);
		line = ref ? strstr(ref, "kv \"tokenizer.ggml.tokens\" array[string] ") : NULL;
		ok(line && sscanf(line + 41, "%llu", &want) == 1, "Python reader lists the gpt-2 tokens");
		ok(gguf_open(path, &f, &err) == 0, "open gpt-2 vocabulary: %s", err.msg);
		if (f) {
			uint64_t len;
			const char *s;
			char pat[128];

			ok(gguf_get_array(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &kv, &err) == 0 &&
			   kv->count == want, "token count equals the Python reader's (%llu)", want);
			s = kv ? gguf_array_str(kv, 0, &len) : NULL;
			ok(s && ref && snprintf(pat, sizeof pat, "\n\t0 \"%.*s\"\n", (int)len, s) > 0 &&
			   strstr(ref, pat), "token 0 equals the Python reader's");
			ok(gguf_get_u32(f, "tokenizer.ggml.eos_token_id", &eos, &err) == 0 && ref &&
			   snprintf(pat, sizeof pat, "kv \"tokenizer.ggml.eos_token_id\" uint32 %u\n", eos) > 0 &&
			   strstr(ref, pat), "eos id equals the Python reader's");
			gguf_close(f);
		}
		free(ref);
	} else {
		ok(1, "# SKIP gpt-2 vocabulary or Python reference absent");
	}
}

static void cleanup(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpdir);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_types();
	test_round_trip();
	test_rewrite();
	test_truncations();
	test_malformed();
	test_writer_refusals();
	test_real_files();
	cleanup();
	return tap_done();
}

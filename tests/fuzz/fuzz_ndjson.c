/* fuzz_ndjson.c - libFuzzer target for ndjson.c and json.c.
 *
 * The bytes are read as an NDJSON stream through a memfd.  Every record
 * must survive write -> parse -> write unchanged (same value, same bytes),
 * copy must equal the original, and numeric arrays must convert without
 * tripping the sanitizers.  Bad lines are skipped as --skip-bad would.
 */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "input.h"
#include "json.h"
#include "ndjson.h"
#include "output.h"

/* Shortest float text reads back bit-exactly through the writer and parser. */
static void check_floats(struct json_doc *scratch, const float *f, size_t n)
{
	struct lm_error err = { 0 };
	struct json_value *arr, *back;
	float again[64];
	size_t m;
	char *text;

	for (size_t i = 0; i < n; i++)
		if (!isfinite(f[i]))
			return;
	arr = json_new_float_array(scratch, f, n);
	text = arr ? json_to_string(arr, NULL, &err) : NULL;
	if (!text || json_parse(scratch, text, strlen(text), &back, &err) ||
	    json_get_float_array(back, again, 64, &m, &err) || m != n ||
	    memcmp(again, f, n * sizeof *f))
		abort();
	free(text);
}

static void check_double(double d)
{
	char buf[32];
	double back;

	if (!isfinite(d))
		return;
	json_format_double(d, buf);
	if (json_parse_double(buf, strlen(buf), &back) || memcmp(&back, &d, sizeof d))
		abort();
}

static void check_record(struct json_doc *scratch, const struct json_value *rec, struct output *null_out)
{
	struct lm_error err = { 0 };
	struct json_value *again, *copy, *v;
	char *text, *text2;
	size_t len, len2, n;
	float fbuf[64];
	int32_t ibuf[64];

	if (json_type(rec) != JSON_OBJECT || json_type(json_get(rec, "id")) != JSON_STRING)
		abort();
	if (ndjson_write(null_out, rec, &err) && err.code != LM_EINVAL)
		abort();
	text = json_to_string(rec, &len, &err);
	if (!text)
		abort();   /* parsed records hold no NaN, so writing cannot fail */
	json_doc_reset(scratch);
	if (json_parse(scratch, text, len, &again, &err) || !json_equal(rec, again))
		abort();
	text2 = json_to_string(again, &len2, &err);
	if (!text2 || len2 != len || memcmp(text, text2, len))
		abort();
	copy = json_copy(scratch, rec);
	if (!copy || !json_equal(copy, rec))
		abort();
	for (size_t i = 0; i < json_object_len(rec); i++) {
		v = json_object_value(rec, i);
		if (json_type(v) == JSON_ARRAY) {
			if (!json_get_float_array(v, fbuf, 64, &n, &err))
				check_floats(scratch, fbuf, n);
			json_get_int_array(v, ibuf, 64, &n, &err);
		} else if (json_type(v) == JSON_NUMBER) {
			check_double(json_number_double(v));
			fbuf[0] = (float)json_number_double(v);
			check_floats(scratch, fbuf, 1);
		}
	}
	free(text);
	free(text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1, null_fd = -1;
	struct lm_error err = { 0 };
	struct json_doc *scratch;
	struct ndjson_reader r;
	struct output out;
	struct input in;
	struct json_value *rec;
	int rc;

	if (fd < 0) {
		fd = memfd_create("fuzz_ndjson", 0);
		null_fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || null_fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size || lseek(fd, 0, SEEK_SET))
		abort();
	scratch = json_doc_new();
	if (!scratch || input_from_fd(&in, fd, "fuzz", &err))
		abort();
	if (ndjson_open(&r, &in, &err) || output_from_fd(&out, null_fd, "/dev/null", &err))
		abort();
	r.max_line = 1 << 20;
	for (;;) {
		rc = ndjson_next(&r, &rec, &err);
		if (rc == LM_EFORMAT)
			continue;
		if (rc)
			break;
		check_record(scratch, rec, &out);
	}
	output_close(&out, &err);
	ndjson_close(&r);
	input_close(&in);
	json_doc_free(scratch);
	return 0;
}

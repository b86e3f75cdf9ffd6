/* Unit tests for safetensors.c against the format of huggingface/safetensors
 * (docs "Format"): files built by hand here (u64 LE header size, JSON
 * header, data), the accepted cases and every refusal.  Files written by a
 * Python writer of its own are read by tests/cli/t0846-import-hf.sh. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "tap.h"

/* FILE image: the 8-byte header size, HEADER, then N bytes of DATA. */
static size_t image(unsigned char *buf, const char *header, const void *data, size_t n)
{
	uint64_t h = strlen(header);

	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(h >> (8 * i));
	memcpy(buf + 8, header, h);
	if (n)
		memcpy(buf + 8 + h, data, n);
	return 8 + h + n;
}

/* Open an image built from HEADER and N bytes of DATA; on failure the
 * message goes to MSG (if not NULL). */
static int try_open(const char *header, const void *data, size_t n, char *msg)
{
	static unsigned char buf[4096];
	struct safetensors_file *f = NULL;
	struct lm_error err = { 0 };
	size_t len = image(buf, header, data, n);
	int rc = safetensors_open_memory(buf, len, "t.safetensors", &f, &err);

	if (msg)
		snprintf(msg, 512, "%s", rc ? err.msg : "");
	safetensors_close(f);
	return rc;
}

static void refused(const char *header, const void *data, size_t n, const char *want, const char *what)
{
	char msg[512];
	int rc = try_open(header, data, n, msg);

	ok(rc == LM_EFORMAT && strstr(msg, want) && strncmp(msg, "t.safetensors: ", 15) == 0,
	   "refused: %s (%s)", what, msg);
}

int main(void)
{
	/* two F32 values then three BF16 (1.0, -2.0, 0.5) and one I64 */
	const float f[2] = { 1.5f, -0.25f };
	const uint16_t bf[3] = { 0x3f80, 0xc000, 0x3f00 };
	const int64_t i64 = -7;
	unsigned char data[8 + 6 + 8], buf[1024];
	struct safetensors_file *st = NULL;
	struct lm_error err = { 0 };
	const struct safetensors_tensor *t;
	const char *hdr =
		"{\"__metadata__\":{\"format\":\"pt\"},"
		"\"b\":{\"dtype\":\"BF16\",\"shape\":[3,1],\"data_offsets\":[8,14]},"
		"\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		"\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[14,22]}}   ";
	size_t len;

	memcpy(data, f, 8);
	memcpy(data + 8, bf, 6);
	memcpy(data + 14, &i64, 8);
	len = image(buf, hdr, data, sizeof data);
	is_int(safetensors_open_memory(buf, len, "t.safetensors", &st, &err), 0, "a valid file opens (%s)", err.msg);
	if (st) {
		is_int((int)st->n_tensors, 3, "three tensors, __metadata__ is not one");
		is_str(st->tensors[0].name, "a", "tensors are in data order");
		t = safetensors_find(st, "b");
		ok(t && t->dtype == ST_BF16 && t->n_dims == 2 && t->shape[0] == 3 && t->shape[1] == 1 &&
		   t->n_elements == 3 && t->nbytes == 6, "b: BF16 [3, 1]");
		ok(t && t->offset == 8 + strlen(hdr) + 8 && memcmp(t->data, bf, 6) == 0, "b: data in the mapping");
		t = safetensors_find(st, "a");
		ok(t && t->dtype == ST_F32 && memcmp(t->data, f, 8) == 0, "a: F32 values");
		t = safetensors_find(st, "n");
		ok(t && t->n_dims == 0 && t->n_elements == 1 && t->nbytes == 8, "n: a scalar has one element");
		ok(!safetensors_find(st, "c") && !safetensors_find(st, "__metadata__"), "unknown names are NULL");
		is_str(safetensors_dtype_name(ST_BF16), "BF16", "dtype names");
		is_int((int)safetensors_dtype_size(ST_F64), 8, "dtype sizes");
	}
	safetensors_close(st);

	ok(try_open("{}", NULL, 0, NULL) == 0, "an empty header: no tensors");
	ok(try_open("{\"z\":{\"dtype\":\"F16\",\"shape\":[0,4],\"data_offsets\":[0,0]}}", NULL, 0, NULL) == 0,
	   "a tensor with no elements");

	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", f, 4,
		"tensor \"a\": data_offsets [0, 8] run past the end of the data (4 bytes)", "truncated data");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", f, 8,
		"hold 8 bytes, the shape and dtype F32 need 12", "size and shape disagree");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		"\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", f, 8,
		"tensor \"b\": data_offsets begin at 2, where it overlaps", "overlapping tensors");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", f, 8,
		"the data has a hole", "a hole before a tensor");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", f, 8,
		"4 bytes after the last tensor", "trailing bytes");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", f, 8,
		"0 <= BEGIN <= END", "END before BEGIN");
	refused("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", f, 4,
		"tensor \"a\": unknown dtype \"Q4\"", "an unknown dtype");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", f, 4,
		"shape[0] is not a non-negative integer", "a negative dimension");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", f, 4,
		"shape[0] is not a non-negative integer", "a fractional dimension");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", f, 4,
		"shape overflows", "an element count that overflows");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", f, 4,
		"at most 8", "nine dimensions");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", f, 4, "tensor \"a\": missing \"data_offsets\"",
		"no data_offsets");
	refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", f, 4,
		"unknown member \"x\"", "an unknown member");
	refused("{\"a\":[1]}", f, 4, "tensor \"a\": entry is a array", "an entry that is not an object");
	refused("{\"__metadata__\":{\"k\":1}}", NULL, 0, "__metadata__ \"k\" is not a string",
		"metadata values must be strings");
	refused("{\"a\":1,}", NULL, 0, "header: ", "a JSON syntax error");
	refused("{\"a\":{},\"a\":{}}", NULL, 0, "header: ", "a duplicate tensor name");
	refused("[1, 2]", NULL, 0, "does not start with '{'", "a header that is not an object");

	/* the header size field itself */
	{
		unsigned char b[16] = { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}' };
		struct safetensors_file *g = NULL;
		ok(safetensors_open_memory(b, 10, "t.safetensors", &g, &err) == LM_EFORMAT &&
		   strstr(err.msg, "header size 4294967295 is impossible for a file of 10 bytes"),
		   "a header size beyond the file (%s)", err.msg);
		memset(b, 0, 8);
		b[0] = 1;
		ok(safetensors_open_memory(b, 9, "t.safetensors", &g, &err) == LM_EFORMAT &&
		   strstr(err.msg, "header size 1 is impossible"), "a header size below 2");
		ok(safetensors_open_memory(b, 5, "t.safetensors", &g, &err) == LM_EFORMAT &&
		   strstr(err.msg, "5 bytes is too short"), "fewer than 8 bytes");
		ok(g == NULL, "nothing is returned on failure");
	}

	/* from a file: the path names the file in messages */
	{
		char path[] = "/tmp/test_safetensors.XXXXXX";
		int fd = mkstemp(path);
		struct safetensors_file *g = NULL;

		ok(fd >= 0 && write(fd, buf, len) == (ssize_t)len, "write a file");
		close(fd);
		ok(safetensors_open(path, &g, &err) == 0 && g && g->n_tensors == 3 &&
		   memcmp(safetensors_find(g, "a")->data, f, 8) == 0, "open a mapped file");
		safetensors_close(g);
		if (truncate(path, (off_t)len - 1) == 0)
			ok(safetensors_open(path, &g, &err) == LM_EFORMAT && strncmp(err.msg, path, strlen(path)) == 0 &&
			   strstr(err.msg, "tensor \"n\": data_offsets [14, 22] run past the end"),
			   "a truncated file names the file and tensor (%s)", err.msg);
		unlink(path);
		ok(safetensors_open(path, &g, &err) == LM_EIO && strstr(err.msg, path), "a missing file (%s)",
		   err.msg);
	}
	return tap_done();
}

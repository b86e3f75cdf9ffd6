/* fuzz_gguf.c - libFuzzer target: parse arbitrary bytes as GGUF, then dump
 * the file and touch every key/value and tensor through the public API.
 * Any crash, out-of-bounds read, leak or undefined behaviour is a bug. */
#include "gguf.h"

#include <stdint.h>
#include <string.h>

static volatile uint64_t sink;

static void walk(const struct gguf_file *f)
{
	struct lm_error err = { 0 };
	struct output out;

	if (output_open(&out, "/dev/null", &err) == 0) {
		gguf_dump(f, &out, &err);
		output_close(&out, &err);
	}
	for (uint64_t i = 0; i < f->n_kv; i++) {
		const struct gguf_kv *kv = &f->kvs[i];
		uint32_t u32;
		double d;
		int b;
		const char *s;
		uint64_t len;

		sink += gguf_find_kv(f, kv->key) == kv;
		gguf_get_u32(f, kv->key, &u32, &err);
		gguf_get_f64(f, kv->key, &d, &err);
		gguf_get_bool(f, kv->key, &b, &err);
		gguf_get_str(f, kv->key, &s, &len, &err);
		for (uint64_t j = 0; kv->type == GGUF_TYPE_ARRAY && j < kv->count; j++) {
			if (kv->elem_type == GGUF_TYPE_STRING) {
				s = gguf_array_str(kv, j, &len);
				if (len)
					sink += (unsigned char)s[len - 1];
			} else {
				sink += (uint64_t)gguf_array_int(kv, j);
				sink += gguf_array_float(kv, j) > 0;
			}
		}
	}
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];
		const unsigned char *p = t->data;

		sink += gguf_find_tensor(f, t->name) == t;
		/* First and last byte: the reader promised they are in the file. */
		sink += p[0] + p[t->nbytes - 1];
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_error err = { 0 };
	struct gguf_file *f = NULL;

	if (gguf_open_memory(data, size, "fuzz.gguf", &f, &err) == 0) {
		walk(f);
		gguf_close(f);
	} else if (strncmp(err.msg, "fuzz.gguf: ", 11) != 0) {
		__builtin_trap();   /* every refusal names the file */
	}
	return 0;
}

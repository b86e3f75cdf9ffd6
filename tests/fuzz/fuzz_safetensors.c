/* fuzz_safetensors.c - libFuzzer target: parse arbitrary bytes as a
 * safetensors file, then look up and read every tensor through the public
 * API.  Any crash, out-of-bounds read, leak or undefined behaviour is a bug. */
#include <stdint.h>
#include <string.h>

#include "model/safetensors.h"

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct safetensors_file *f = NULL;
	struct lm_error err = { 0 };

	if (safetensors_open_memory(data, size, "fuzz.safetensors", &f, &err) != 0) {
		sink += strlen(err.msg);
		return 0;
	}
	for (size_t i = 0; i < f->n_tensors; i++) {
		const struct safetensors_tensor *t = &f->tensors[i];
		const unsigned char *p = t->data;

		sink += safetensors_find(f, t->name) == t;
		sink += safetensors_dtype_size(t->dtype) + (uint64_t)t->n_dims;
		/* every byte a tensor claims must be inside the input */
		for (uint64_t k = 0; k < t->nbytes; k++)
			sink += p[k];
	}
	safetensors_close(f);
	return 0;
}

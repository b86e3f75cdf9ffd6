/* fuzz_hfjson.c - libFuzzer target for load_hfjson.c and the encoder.
 *
 * The input is a tokenizer.json loaded from memory; when it loads, a few
 * fixed strings and the input's own tail are encoded (with and without
 * special tokens) and decoded.  Loading may fail with a message, never
 * crash; a loaded tokenizer must encode and decode anything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/load_hfjson.h"
#include "tokenize/tokenizer.h"
#include "tokenize/tokenizer_impl.h"

static void try_text(const struct tokenizer *t, const char *s, size_t n)
{
	struct lm_error err = { 0 };
	struct tok_ids ids = { 0 };
	char *text = NULL;
	size_t len;

	for (unsigned flags = 0; flags < 4; flags++) {
		if (tokenizer_encode(t, s, n, flags, &ids, &err))
			continue;
		if (!tokenizer_decode(t, ids.ids, ids.n, &text, &len, &err))
			free(text);
		ids.n = 0;
	}
	tok_ids_free(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const texts[] = {
		"Hello world!", " leading and  double  spaces ", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x9a\x80",
		"\xff\xfe broken \xc3", "12345 a-b_c [CLS] <s> </s> <unk>", "",
	};
	struct lm_error err = { 0 };
	struct tokenizer *t;

	if (size > (1 << 20) || tok_new(&t, &err))
		return 0;
	if (!tok_load_hfjson_memory(t, (const char *)data, size, "fuzz.json", &err) &&
	    !tok_finish(t, "fuzz.json", &err)) {
		for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
			try_text(t, texts[i], strlen(texts[i]));
		try_text(t, (const char *)data + size / 2, size - size / 2);
	}
	tokenizer_free(t);
	return 0;
}

/* fuzz_chat.c - libFuzzer target for the chat-template (Jinja subset)
 * parser and renderer: a GGUF's tokenizer.chat_template is untrusted text.
 *
 * Input: a template.  Parsing must succeed or fail with a message; a parsed
 * template is rendered over a fixed conversation, which must succeed or fail
 * cleanly (LM_EFORMAT, LM_EINVAL, or LM_ENOMEM from the output cap). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/chat.h"

static const struct chat_message conversation[] = {
	{ "system", "You are terse." },
	{ "user", "Hello, w\xc3\xb6rld!" },
	{ "assistant", "Hi." },
	{ "user", "{{ not a template }}" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_error err = { 0 };
	struct chat_template *t = NULL;
	char *src = malloc(size + 1), *out = NULL;
	size_t len;

	if (!src)
		return 0;
	memcpy(src, data, size);
	src[size] = 0;
	if (chat_template_new(&t, src, &err) == LM_OK) {
		int rc = chat_apply(t, conversation, sizeof conversation / sizeof conversation[0], 1,
				    "<s>", "</s>", &out, &len, &err);

		if (rc == LM_OK && (!out || strlen(out) != len))
			abort();
		free(out);
		chat_template_free(t);
	} else if (!err.msg[0]) {
		abort();
	}
	free(src);
	return 0;
}

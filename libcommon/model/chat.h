/* chat.h - chat templates: a conversation (role/content messages) to the
 * prompt text a chat model was trained on.
 *
 * A template is either the model's own Jinja source (the GGUF key
 * tokenizer.chat_template, or chat_template in tokenizer_config.json),
 * rendered by the Jinja subset of jinja.h exactly as transformers.js does,
 * or a built-in format chosen by name.  The template sees the variables of
 * the transformers convention: messages, add_generation_prompt, bos_token,
 * eos_token, plus any extra ones the caller passes (enable_thinking, ...);
 * `tools` is left undefined, so templates take their no-tools path.
 *
 * Built-in names (chat_template_builtin): llama2, llama3, chatml (also
 * qwen), mistral, phi3, gemma.  Each is Jinja source rendered the same way;
 * chat_template_source shows it.
 */
#ifndef LMPIPE_CHAT_H
#define LMPIPE_CHAT_H

#include <stddef.h>

#include "error.h"
#include "json.h"

struct chat_message {
	const char *role;
	const char *content;
};

struct chat_template;

/* Parse Jinja SOURCE (NUL-terminated).  Syntax errors name line and column. */
int chat_template_new(struct chat_template **t, const char *source, struct lm_error *err);
/* A built-in template by NAME (case-insensitive); LM_EINVAL listing the
 * known names when NAME is not one. */
int chat_template_builtin(struct chat_template **t, const char *name, struct lm_error *err);
void chat_template_free(struct chat_template *t);
const char *chat_template_source(const struct chat_template *t);
/* The built-in names, NULL-terminated. */
const char *const *chat_template_names(void);

/* Render N messages.  BOS/EOS may be NULL (empty).  *OUT is malloc'd and
 * NUL-terminated; *OUT_LEN may be NULL.  A template's raise_exception (e.g.
 * "roles must alternate") is LM_EFORMAT with its message. */
int chat_apply(const struct chat_template *t, const struct chat_message *msgs, size_t n,
	       int add_generation_prompt, const char *bos_token, const char *eos_token,
	       char **out, size_t *out_len, struct lm_error *err);

/* As chat_apply with MESSAGES a JSON array of message objects, passed to the
 * template whole (so fields such as reasoning_content or tool_calls reach
 * it), and the members of the JSON object EXTRA (may be NULL) as further
 * variables.  The messages are checked first (chat_messages_check). */
int chat_apply_json(const struct chat_template *t, const struct json_value *messages,
		    const struct json_value *extra, int add_generation_prompt,
		    const char *bos_token, const char *eos_token, char **out, size_t *out_len,
		    struct lm_error *err);

/* Check that V is a non-empty array of objects whose "role" is a string and
 * whose "content" is a string (or null for an assistant turn with tool
 * calls); errors name the element: "messages[2]: \"content\" is not a
 * string". */
int chat_messages_check(const struct json_value *v, struct lm_error *err);

/* Read a `messages` array into *MSGS (malloc'd; the strings point into V,
 * which must outlive them) and *N, after chat_messages_check. */
int chat_messages_from_json(const struct json_value *v, struct chat_message **msgs, size_t *n,
			    struct lm_error *err);

#endif

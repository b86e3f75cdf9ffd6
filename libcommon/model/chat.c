/* chat.c - chat templates on top of the Jinja subset (jinja.h).
 *
 * The built-in formats are written as Jinja so that one renderer serves
 * both them and the templates shipped with models.  Each follows the
 * prompt format its model family documents (the same layouts as
 * llama.cpp's src/llama-chat.cpp and the models' own chat templates).
 */
#include "chat.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jinja.h"

struct chat_template {
	struct jinja_template *jinja;
	char *source;
};

/* Llama-2-chat: a system prompt is wrapped in <<SYS>> inside the first user
 * turn; every user turn opens with BOS. */
static const char LLAMA2[] =
	"{%- if messages[0]['role'] == 'system' -%}\n"
	"  {%- set system = messages[0]['content'] -%}\n"
	"  {%- set turns = messages[1:] -%}\n"
	"{%- else -%}\n"
	"  {%- set system = none -%}\n"
	"  {%- set turns = messages -%}\n"
	"{%- endif -%}\n"
	"{%- for m in turns -%}\n"
	"  {%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
	"    {{- raise_exception('llama2: roles must alternate user/assistant after an optional system message') -}}\n"
	"  {%- endif -%}\n"
	"  {%- if m['role'] == 'user' -%}\n"
	"    {%- if loop.first and system is not none -%}\n"
	"      {{- bos_token ~ '[INST] <<SYS>>\\n' ~ system ~ '\\n<</SYS>>\\n\\n' ~ m['content'].strip() ~ ' [/INST]' -}}\n"
	"    {%- else -%}\n"
	"      {{- bos_token ~ '[INST] ' ~ m['content'].strip() ~ ' [/INST]' -}}\n"
	"    {%- endif -%}\n"
	"  {%- else -%}\n"
	"    {{- ' ' ~ m['content'].strip() ~ ' ' ~ eos_token -}}\n"
	"  {%- endif -%}\n"
	"{%- endfor -%}\n";

/* Llama 3 / 3.1 instruct: header tokens around each role, <|eot_id|> after
 * each turn. */
static const char LLAMA3[] =
	"{{- bos_token -}}\n"
	"{%- for m in messages -%}\n"
	"  {{- '<|start_header_id|>' ~ m['role'] ~ '<|end_header_id|>\\n\\n' ~ m['content'] | trim ~ '<|eot_id|>' -}}\n"
	"{%- endfor -%}\n"
	"{%- if add_generation_prompt -%}\n"
	"  {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n"
	"{%- endif -%}\n";

/* ChatML (Qwen, SmolLM, Hermes, ...). */
static const char CHATML[] =
	"{%- for m in messages -%}\n"
	"  {{- '<|im_start|>' ~ m['role'] ~ '\\n' ~ m['content'] ~ '<|im_end|>\\n' -}}\n"
	"{%- endfor -%}\n"
	"{%- if add_generation_prompt -%}\n"
	"  {{- '<|im_start|>assistant\\n' -}}\n"
	"{%- endif -%}\n";

/* Mistral 7B instruct v0.1-v0.3: [INST] ... [/INST], a system prompt folded
 * into the first user turn. */
static const char MISTRAL[] =
	"{%- if messages[0]['role'] == 'system' -%}\n"
	"  {%- set system = messages[0]['content'] -%}\n"
	"  {%- set turns = messages[1:] -%}\n"
	"{%- else -%}\n"
	"  {%- set system = none -%}\n"
	"  {%- set turns = messages -%}\n"
	"{%- endif -%}\n"
	"{{- bos_token -}}\n"
	"{%- for m in turns -%}\n"
	"  {%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
	"    {{- raise_exception('mistral: roles must alternate user/assistant after an optional system message') -}}\n"
	"  {%- endif -%}\n"
	"  {%- if m['role'] == 'user' -%}\n"
	"    {%- if loop.first and system is not none -%}\n"
	"      {{- '[INST] ' ~ system ~ '\\n\\n' ~ m['content'] ~ ' [/INST]' -}}\n"
	"    {%- else -%}\n"
	"      {{- '[INST] ' ~ m['content'] ~ ' [/INST]' -}}\n"
	"    {%- endif -%}\n"
	"  {%- else -%}\n"
	"    {{- m['content'] ~ eos_token -}}\n"
	"  {%- endif -%}\n"
	"{%- endfor -%}\n";

/* Phi-3: <|role|> lines closed by <|end|>. */
static const char PHI3[] =
	"{%- for m in messages -%}\n"
	"  {{- '<|' ~ m['role'] ~ '|>\\n' ~ m['content'] ~ '<|end|>\\n' -}}\n"
	"{%- endfor -%}\n"
	"{%- if add_generation_prompt -%}\n"
	"  {{- '<|assistant|>\\n' -}}\n"
	"{%- endif -%}\n";

/* Gemma: user/model turns; Gemma has no system role, so a system prompt
 * opens the first user turn. */
static const char GEMMA[] =
	"{{- bos_token -}}\n"
	"{%- set ns = namespace(system='') -%}\n"
	"{%- for m in messages -%}\n"
	"  {%- if m['role'] == 'system' -%}\n"
	"    {%- set ns.system = ns.system ~ m['content'] | trim ~ '\\n\\n' -%}\n"
	"  {%- else -%}\n"
	"    {%- set role = 'model' if m['role'] == 'assistant' else m['role'] -%}\n"
	"    {%- set text = m['content'] | trim -%}\n"
	"    {%- if role == 'user' and ns.system -%}\n"
	"      {%- set text = ns.system ~ text -%}\n"
	"      {%- set ns.system = '' -%}\n"
	"    {%- endif -%}\n"
	"    {{- '<start_of_turn>' ~ role ~ '\\n' ~ text ~ '<end_of_turn>\\n' -}}\n"
	"  {%- endif -%}\n"
	"{%- endfor -%}\n"
	"{%- if add_generation_prompt -%}\n"
	"  {{- '<start_of_turn>model\\n' -}}\n"
	"{%- endif -%}\n";

static const struct { const char *name; const char *source; } builtins[] = {
	{ "llama2", LLAMA2 }, { "llama3", LLAMA3 }, { "chatml", CHATML }, { "qwen", CHATML },
	{ "mistral", MISTRAL }, { "phi3", PHI3 }, { "gemma", GEMMA },
};

static const char *const names[] = { "llama2", "llama3", "chatml", "qwen", "mistral", "phi3",
				      "gemma", NULL };

const char *const *chat_template_names(void)
{
	return names;
}

int chat_template_new(struct chat_template **out, const char *source, struct lm_error *err)
{
	struct chat_template *t = calloc(1, sizeof *t);
	int rc;
	*out = NULL;
	if (!t || !(t->source = strdup(source))) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = jinja_template_new(&t->jinja, source, strlen(source), err))) {
		lm_error_prefix(err, "chat template: ");
		goto out;
	}
	*out = t;
	t = NULL;
out:
	chat_template_free(t);
	return rc;
}

int chat_template_builtin(struct chat_template **out, const char *name, struct lm_error *err)
{
	*out = NULL;
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcasecmp(name, builtins[i].name) == 0)
			return chat_template_new(out, builtins[i].source, err);
	return lm_fail(err, LM_EINVAL,
		       "unknown chat template '%s' (known: llama2, llama3, chatml, qwen, mistral, phi3, gemma)",
		       name);
}

void chat_template_free(struct chat_template *t)
{
	if (!t)
		return;
	jinja_template_free(t->jinja);
	free(t->source);
	free(t);
}

const char *chat_template_source(const struct chat_template *t)
{
	return t->source;
}

int chat_messages_check(const struct json_value *v, struct lm_error *err)
{
	if (json_type(v) != JSON_ARRAY)
		return lm_fail(err, LM_EFORMAT, "messages: expected an array, got %s",
			       json_type_name(json_type(v)));
	if (json_array_len(v) == 0)
		return lm_fail(err, LM_EFORMAT, "messages: empty array");
	for (size_t i = 0; i < json_array_len(v); i++) {
		const struct json_value *m = json_array_get(v, i);
		if (json_type(m) != JSON_OBJECT)
			return lm_fail(err, LM_EFORMAT, "messages[%zu]: expected an object, got %s", i,
				       json_type_name(json_type(m)));
		const struct json_value *role = json_get(m, "role"), *content = json_get(m, "content");
		if (json_type(role) != JSON_STRING)
			return lm_fail(err, LM_EFORMAT, "messages[%zu]: \"role\" is %s, expected a string",
				       i, role ? json_type_name(json_type(role)) : "missing");
		int tool_call = json_get(m, "tool_calls") != NULL && json_type(content) == JSON_NULL;
		if (json_type(content) != JSON_STRING && !tool_call)
			return lm_fail(err, LM_EFORMAT,
				       "messages[%zu]: \"content\" is %s, expected a string", i,
				       content ? json_type_name(json_type(content)) : "missing");
	}
	return LM_OK;
}

int chat_messages_from_json(const struct json_value *v, struct chat_message **msgs, size_t *n,
			    struct lm_error *err)
{
	int rc = chat_messages_check(v, err);
	*msgs = NULL;
	*n = 0;
	if (rc)
		return rc;
	size_t cnt = json_array_len(v);
	struct chat_message *m = calloc(cnt, sizeof *m);
	if (!m)
		return lm_fail(err, LM_ENOMEM, "out of memory");
	for (size_t i = 0; i < cnt; i++) {
		const struct json_value *e = json_array_get(v, i);
		m[i].role = json_string(json_get(e, "role"), NULL);
		m[i].content = json_string(json_get(e, "content"), NULL);
		if (!m[i].content)
			m[i].content = "";
	}
	*msgs = m;
	*n = cnt;
	return LM_OK;
}

static int render(const struct chat_template *t, struct json_doc *doc, struct json_value *vars,
		  struct json_value *messages, int add_generation_prompt, const char *bos,
		  const char *eos, char **out, size_t *out_len, struct lm_error *err)
{
	if (json_object_set(doc, vars, "messages", messages) ||
	    json_object_set(doc, vars, "add_generation_prompt",
			    json_new_bool(doc, add_generation_prompt)) ||
	    json_object_set(doc, vars, "bos_token", json_new_string(doc, bos ? bos : "",
								   bos ? strlen(bos) : 0)) ||
	    json_object_set(doc, vars, "eos_token", json_new_string(doc, eos ? eos : "",
								   eos ? strlen(eos) : 0)))
		return lm_fail(err, LM_EINVAL, "chat template: BOS/EOS token text is not UTF-8");
	int rc = jinja_render(t->jinja, vars, out, out_len, err);
	if (rc)
		lm_error_prefix(err, "chat template: ");
	return rc;
}

int chat_apply(const struct chat_template *t, const struct chat_message *msgs, size_t n,
	       int add_generation_prompt, const char *bos_token, const char *eos_token,
	       char **out, size_t *out_len, struct lm_error *err)
{
	struct json_doc *doc = json_doc_new();
	int rc = LM_OK;
	*out = NULL;
	if (!doc) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	struct json_value *arr = json_new_array(doc), *vars = json_new_object(doc);
	if (!arr || !vars) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_value *m = json_new_object(doc);
		const char *role = msgs[i].role ? msgs[i].role : "",
			   *content = msgs[i].content ? msgs[i].content : "";
		if (json_object_set(doc, m, "role", json_new_string(doc, role, strlen(role))) ||
		    json_object_set(doc, m, "content", json_new_string(doc, content, strlen(content))) ||
		    json_array_append(doc, arr, m)) {
			rc = lm_fail(err, LM_EINVAL, "messages[%zu]: role or content is not UTF-8", i);
			goto out;
		}
	}
	rc = render(t, doc, vars, arr, add_generation_prompt, bos_token, eos_token, out, out_len,
		    err);
out:
	json_doc_free(doc);
	return rc;
}

int chat_apply_json(const struct chat_template *t, const struct json_value *messages,
		    const struct json_value *extra, int add_generation_prompt,
		    const char *bos_token, const char *eos_token, char **out, size_t *out_len,
		    struct lm_error *err)
{
	struct json_doc *doc = NULL;
	int rc;
	*out = NULL;
	if ((rc = chat_messages_check(messages, err)))
		return rc;
	if (extra && json_type(extra) != JSON_OBJECT)
		return lm_fail(err, LM_EINVAL, "chat template variables must be a JSON object");
	if (!(doc = json_doc_new())) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	struct json_value *vars = extra ? json_copy(doc, extra) : json_new_object(doc);
	struct json_value *msgs = json_copy(doc, messages);
	if (!vars || !msgs) {
		rc = lm_fail(err, LM_ENOMEM, "out of memory");
		goto out;
	}
	rc = render(t, doc, vars, msgs, add_generation_prompt, bos_token, eos_token, out, out_len,
		    err);
out:
	json_doc_free(doc);
	return rc;
}

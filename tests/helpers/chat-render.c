/* chat-render - render a chat template for the CLI tests.
 *
 *   chat-render [-g] [-b BOS] [-e EOS] [-x VARS.json] TEMPLATE MESSAGES.json
 *   chat-render -B NAME                 print built-in template NAME's source
 *
 * TEMPLATE is a Jinja file, or @NAME for a built-in template.  MESSAGES.json
 * holds the messages array; VARS.json an object of extra variables.  -g sets
 * add_generation_prompt.  The rendered text goes to stdout, unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "json.h"
#include "model/chat.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			char *p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		size_t k = fread(buf + n, 1, 4096, f);
		n += k;
		if (k < 4096)
			break;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

static struct json_value *load_json(struct json_doc *doc, const char *path, struct lm_error *err)
{
	size_t n;
	char *text = slurp(path, &n);
	struct json_value *v = NULL;
	if (!text) {
		lm_fail_errno(err, "%s", path);
		return NULL;
	}
	if (json_parse(doc, text, n, &v, err))
		lm_error_prefix(err, "%s: ", path);
	free(text);
	return v;
}

int main(int argc, char **argv)
{
	const char *bos = "", *eos = "", *vars_path = NULL;
	int gen = 0, opt, status = 1;
	struct lm_error err = { 0 };
	struct chat_template *t = NULL;
	struct json_doc *doc = json_doc_new();
	char *src = NULL, *out = NULL;
	size_t out_len = 0;
	while ((opt = getopt(argc, argv, "gb:e:x:B:")) != -1) {
		switch (opt) {
		case 'g': gen = 1; break;
		case 'b': bos = optarg; break;
		case 'e': eos = optarg; break;
		case 'x': vars_path = optarg; break;
		case 'B':
			if (chat_template_builtin(&t, optarg, &err))
				goto fail;
			fputs(chat_template_source(t), stdout);
			status = 0;
			goto done;
		default: goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	if (argv[optind][0] == '@') {
		if (chat_template_builtin(&t, argv[optind] + 1, &err))
			goto fail;
	} else {
		size_t n;
		if (!(src = slurp(argv[optind], &n))) {
			lm_fail_errno(&err, "%s", argv[optind]);
			goto fail;
		}
		if (chat_template_new(&t, src, &err)) {
			lm_error_prefix(&err, "%s: ", argv[optind]);
			goto fail;
		}
	}
	struct json_value *msgs = load_json(doc, argv[optind + 1], &err), *vars = NULL;
	if (!msgs || (vars_path && !(vars = load_json(doc, vars_path, &err))))
		goto fail;
	if (chat_apply_json(t, msgs, vars, gen, bos, eos, &out, &out_len, &err))
		goto fail;
	if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout)) {
		perror("chat-render: stdout");
		goto done;
	}
	status = 0;
	goto done;
usage:
	fprintf(stderr, "usage: chat-render [-g] [-b BOS] [-e EOS] [-x VARS.json] TEMPLATE|@NAME MESSAGES.json\n"
			"       chat-render -B NAME\n");
	status = 2;
	goto done;
fail:
	fprintf(stderr, "chat-render: %s\n", err.msg);
done:
	free(out);
	free(src);
	chat_template_free(t);
	json_doc_free(doc);
	return status;
}

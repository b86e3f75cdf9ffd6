/* load_tiktoken.c - tiktoken rank files.
 *
 * A rank file has one "BASE64 RANK" line per token (tiktoken load.py
 * load_tiktoken_bpe); the rank is the token id and the merge priority.  The
 * pre-tokenizer pattern and the special tokens are not in it: they come
 * from the .json beside it, {"pat_str": "...", "special_tokens": {"TEXT":
 * ID, ...}}, as tiktoken's openai_public.py defines them per encoding.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "tokenize/bpe.h"
#include "tokenize/pretok.h"
#include "tokenize/tokenizer_impl.h"

static int read_file(const char *path, char **data, size_t *len, struct lm_error *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	struct stat sb;
	int rc = 0;

	if (!f)
		return lm_fail_errno(err, "%s", path);
	/* One allocation for a regular file (a spare byte to see the end by);
	 * a pipe grows. */
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
		cap = (size_t)sb.st_size + 2;
	for (;;) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 1 << 20;
			char *p = realloc(buf, cap);
			if (!p) {
				rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = p;
		} else if (!buf && !(buf = malloc(cap))) {
			rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
			goto out;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = lm_fail_errno(err, "%s: read", path);
		goto out;
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return rc;
}

/* RFC 4648 alphabet values, -1 for other bytes. */
static signed char b64_table[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_init(void)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	memset(b64_table, -1, sizeof(b64_table));
	for (int i = 0; i < 64; i++)
		b64_table[(unsigned char)alphabet[i]] = (signed char)i;
}

static int b64_value(unsigned char c)
{
	return b64_table[c];
}

/* RFC 4648 base64 with padding; returns the decoded length or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
	size_t o = 0;

	if (n == 0 || n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = b64_value((unsigned char)s[i + k])) < 0) {
				return -1;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	return (long)o;
}

static int load_ranks(struct vocab *v, const char *path, const char *data, size_t len,
		      struct lm_error *err)
{
	size_t pos = 0, line = 0, lines = 0;
	unsigned char tokbuf[1024];
	int rc;

	/* A line per token, its text about 3/4 of the line: size the tables
	 * once. */
	for (const char *p = data; (p = memchr(p, '\n', len - (size_t)(p - data))); p++)
		lines++;
	if ((rc = vocab_reserve(v, lines + 1, len, err)))
		return rc;
	while (pos < len) {
		const char *s = data + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + 1;
		line++;
		if (n && s[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		const char *sp = memchr(s, ' ', n);
		if (!sp)
			return lm_fail(err, LM_EFORMAT, "%s:%zu: expected \"BASE64 RANK\"", path, line);
		size_t blen = (size_t)(sp - s);
		if (blen / 4 * 3 > sizeof(tokbuf))
			return lm_fail(err, LM_EFORMAT, "%s:%zu: token too long", path, line);
		long tlen = b64_decode(s, blen, tokbuf);
		if (tlen <= 0)
			return lm_fail(err, LM_EFORMAT, "%s:%zu: bad base64 token", path, line);
		uint64_t rank = 0;
		size_t k = blen + 1;
		if (k >= n)
			return lm_fail(err, LM_EFORMAT, "%s:%zu: missing rank", path, line);
		for (; k < n; k++) {
			if (s[k] < '0' || s[k] > '9' || rank > INT32_MAX / 10)
				return lm_fail(err, LM_EFORMAT, "%s:%zu: bad rank", path, line);
			rank = rank * 10 + (uint64_t)(s[k] - '0');
		}
		if (rank > INT32_MAX)
			return lm_fail(err, LM_EFORMAT, "%s:%zu: bad rank", path, line);
		rc = vocab_set_unique(v, (int32_t)rank, (const char *)tokbuf, (size_t)tlen, 0.0f,
				      VOCAB_NORMAL, err);
		if (rc) {
			lm_error_prefix(err, "%s:%zu: ", path, line);
			return rc;
		}
	}
	if (vocab_size(v) == 0)
		return lm_fail(err, LM_EFORMAT, "%s: no tokens", path);
	return 0;
}

static int sibling_json(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);

	return asprintf(out, "%.*s.json", (int)stem, path) < 0 ? -1 : 0;
}

static int load_config(struct tokenizer *tok, const char *jpath, struct lm_error *err)
{
	char *text = NULL;
	size_t len;
	struct json_doc *doc = NULL;
	struct json_value *root, *pat, *spec;
	struct pretok *pre = NULL;
	int rc;

	if ((rc = read_file(jpath, &text, &len, err))) {
		lm_error_prefix(err, "tiktoken patterns and special tokens: ");
		return rc;
	}
	if (!(doc = json_doc_new())) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", jpath);
		goto out;
	}
	if ((rc = json_parse(doc, text, len, &root, err))) {
		lm_error_prefix(err, "%s: ", jpath);
		goto out;
	}
	pat = json_get(root, "pat_str");
	spec = json_get(root, "special_tokens");
	if (json_type(pat) != JSON_STRING) {
		rc = lm_fail(err, LM_EFORMAT, "%s: \"pat_str\" missing or not a string", jpath);
		goto out;
	}
	if (spec && json_type(spec) != JSON_OBJECT) {
		rc = lm_fail(err, LM_EFORMAT, "%s: \"special_tokens\" is not an object", jpath);
		goto out;
	}
	if ((rc = pretok_new(&pre, json_string(pat, NULL), err))) {
		lm_error_prefix(err, "%s: \"pat_str\": ", jpath);
		goto out;
	}
	tok_use_pretok(tok, pre);
	for (size_t i = 0; i < json_object_len(spec); i++) {
		const char *key = json_object_key(spec, i);
		struct json_value *val = json_object_value(spec, i);
		int64_t id;
		if (json_number_int64(val, &id) || id < 0 || id > INT32_MAX) {
			rc = lm_fail(err, LM_EFORMAT, "%s: special token \"%s\": id is not a valid integer",
				     jpath, key);
			goto out;
		}
		size_t klen = strlen(key);
		if ((size_t)id < vocab_size(tok->vocab) && vocab_text(tok->vocab, (int32_t)id, &len)) {
			rc = lm_fail(err, LM_EFORMAT, "%s: special token \"%s\": id %ld is already a token",
				     jpath, key, (long)id);
			goto out;
		}
		if ((rc = vocab_set_hidden(tok->vocab, (int32_t)id, key, klen, 0.0f, VOCAB_CONTROL, err)) ||
		    (rc = tok_add_added(tok, key, klen, (int32_t)id, 1, err))) {
			lm_error_prefix(err, "%s: ", jpath);
			goto out;
		}
		if (strcmp(key, "<|endoftext|>") == 0)
			tok->special[TOK_EOS] = (int32_t)id;
	}
out:
	json_doc_free(doc);
	free(text);
	return rc;
}

int tok_load_tiktoken(struct tokenizer *tok, const char *path, struct lm_error *err)
{
	char *data = NULL, *jpath = NULL;
	size_t len;
	struct bpe *bpe = NULL;
	int rc;

	if ((rc = read_file(path, &data, &len, err)))
		return rc;
	pthread_once(&b64_once, b64_init);
	if ((rc = vocab_new(&tok->vocab, err)) || (rc = load_ranks(tok->vocab, path, data, len, err)))
		goto out;
	if ((rc = bpe_new(&bpe, tok->vocab, BPE_IGNORE_MERGES | BPE_RANKS, -1, err)))
		goto out;
	tok_use_bpe(tok, bpe);
	if (sibling_json(path, &jpath)) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if ((rc = load_config(tok, jpath, err)))
		goto out;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	if (asprintf(&tok->name, "tiktoken:%.*s", (int)(dot ? (size_t)(dot - base) : strlen(base)),
		     base) < 0) {
		tok->name = NULL;
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
	}
out:
	free(jpath);
	free(data);
	return rc;
}

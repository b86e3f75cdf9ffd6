/* test_tiktoken.c - .tiktoken rank files and their .json (load_tiktoken.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "tokenize/tokenizer.h"

static char dir[] = "/tmp/test_tiktoken.XXXXXX";

static char *put(const char *name, const char *text)
{
	static char path[4][256];
	static int k;
	char *p = path[k++ % 4];
	snprintf(p, 256, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return p;
}

static void check(const struct tokenizer *tok, const char *text, unsigned flags, const int32_t *want,
		  size_t n, const char *what)
{
	struct tok_ids ids = {0};
	struct lm_error err;
	int rc = tokenizer_encode(tok, text, strlen(text), flags, &ids, &err);
	ok(rc == 0 && ids.n == n && (n == 0 || memcmp(ids.ids, want, n * sizeof(*want)) == 0), "%s", what);
	if (rc)
		diag("%s", err.msg);
	tok_ids_free(&ids);
}

static void load_fails(const char *path, const char *needle, const char *what)
{
	struct tokenizer *tok = NULL;
	struct lm_error err = {0};
	int rc = tokenizer_load(&tok, path, &err);
	ok(rc == LM_EFORMAT && strstr(err.msg, needle), "%s: %s", what, err.msg);
	tokenizer_free(rc ? NULL : tok);
}

int main(void)
{
	struct tokenizer *tok;
	struct lm_error err;

	if (!mkdtemp(dir))
		return 1;
	/* ranks: a 0, b 1, c 2, ' ' 3, ab 4, ' a' 5, abc 6; special <|end|> 10 */
	char *ranks = put("tiny.tiktoken",
			  "YQ== 0\nYg== 1\nYw== 2\nIA== 3\nYWI= 4\nIGE= 5\nYWJj 6\n");
	put("tiny.json", "{\"pat_str\": \" ?[a-z]+| +\", \"special_tokens\": {\"<|end|>\": 10}}");
	ok(tokenizer_load(&tok, ranks, &err) == 0, "load tiny.tiktoken");
	ok(strncmp(tokenizer_name(tok), "tiktoken:tiny:", 14) == 0, "name %s", tokenizer_name(tok));
	is_int(tokenizer_n_vocab(tok), 11, "11 ids (gap below the special token)");
	/* "abc" is a token: taken whole.  " ab": ab (4) merges before ' a'
	 * (5), and " ab" is no token: ' ' ab. */
	check(tok, "abc ab", 0, (int32_t[]){ 6, 3, 4 }, 3, "\"abc ab\" -> abc ' ' ab");
	/* " abc": ' ' a b c: ab (4) < ' a' (5): ' ' ab c; ab+c = abc (6) */
	check(tok, " abc", 0, (int32_t[]){ 3, 6 }, 2, "\" abc\" -> ' ' abc");
	check(tok, " a", 0, (int32_t[]){ 5 }, 1, "\" a\" is a token");
	check(tok, "a<|end|>b", TOK_PARSE_SPECIAL, (int32_t[]){ 0, 10, 1 }, 3,
	      "special token recognised with TOK_PARSE_SPECIAL");
	check(tok, "a<|end|><|end|>", TOK_PARSE_SPECIAL, (int32_t[]){ 0, 10, 10 }, 3,
	      "adjacent special tokens");
	check(tok, "", 0, NULL, 0, "empty text, no ids");
	check(tok, "ab", TOK_ADD_SPECIAL, (int32_t[]){ 4 }, 1, "tiktoken adds no BOS/EOS");
	is_int(tokenizer_special(tok, TOK_EOS), -1, "no <|endoftext|>, no EOS");

	char *text;
	size_t len;
	ok(tokenizer_decode(tok, (int32_t[]){ 6, 3, 4, 10 }, 4, &text, &len, &err) == 0 && len == 13 &&
	   memcmp(text, "abc ab<|end|>", 13) == 0, "decode abc ' ' ab <|end|>");
	free(text);
	is_int(tokenizer_decode(tok, (int32_t[]){ 7 }, 1, &text, &len, &err), LM_EINVAL,
	       "decode refuses an id in the gap below the special tokens");
	is_int(tokenizer_decode(tok, (int32_t[]){ 11 }, 1, &text, &len, &err), LM_EINVAL,
	       "decode refuses an id past the end");
	ok(strstr(err.msg, "11") != NULL, "message names the id: %s", err.msg);
	tokenizer_free(tok);

	put("bad.json", "{\"pat_str\": \" ?[a-z]+\", \"special_tokens\": {}}");
	load_fails(put("bad.tiktoken", "YQ== 0\nYg== x\n"), "bad.tiktoken:2: bad rank", "bad rank");
	load_fails(put("bad.tiktoken", "YQ== 0\nY*== 1\n"), "bad.tiktoken:2: bad base64", "bad base64");
	load_fails(put("bad.tiktoken", "YQ==\n"), "bad.tiktoken:1:", "line without a rank");
	load_fails(put("bad.tiktoken", "YQ== 0\nYQ== 1\n"), "bad.tiktoken:2:", "the same token twice");
	load_fails(put("bad.tiktoken", "YQ== 0\nYg== 0\n"), "bad.tiktoken:2:", "the same rank twice");
	put("nopat.tiktoken", "YQ== 0\n");
	put("nopat.json", "{\"special_tokens\": {}}");
	load_fails(put("nopat.tiktoken", "YQ== 0\n"), "pat_str", "json without pat_str");
	put("clash.json", "{\"pat_str\": \"a\", \"special_tokens\": {\"<s>\": 0}}");
	load_fails(put("clash.tiktoken", "YQ== 0\n"), "already a token", "special id of a token");
	{
		struct tokenizer *t2 = NULL;
		struct lm_error e2 = {0};
		int rc = tokenizer_load(&t2, put("nojson.tiktoken", "YQ== 0\n"), &e2);
		ok(rc == LM_EIO && strstr(e2.msg, "nojson.json"), "missing .json: %s", e2.msg);
	}

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}

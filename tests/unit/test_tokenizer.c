/* test_tokenizer.c - the pipeline on a small GGUF vocabulary (load_gguf.c,
 * tokenizer.c): added-token matching, BOS, decoding, loader errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "tap.h"
#include "tokenize/tokenizer.h"

static char dir[] = "/tmp/test_tokenizer.XXXXXX";

enum variant { GOOD, BAD_MODEL, BAD_PRE, BAD_TYPES, BAD_BOS };

/* A byte-level BPE vocabulary in llama.cpp's spelling: 'Ġ' is the space. */
static const char *write_vocab(const char *name, enum variant v)
{
	static char path[256];
	static const char *const tokens[] = { "h", "i", "\xc4\xa0", "hi", "\xc4\xa0hi", "<|eot|>", "@@", "@" };
	static const int32_t types[] = { 1, 1, 1, 1, 1, 3, 4, 1 };
	static const char *const merges[] = { "h i", "\xc4\xa0 hi" };
	struct gguf_writer *w;
	struct output out;
	struct lm_error err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	gguf_writer_new(&w, &err);
	gguf_writer_add_str(w, "tokenizer.ggml.model", v == BAD_MODEL ? "t5" : "gpt2",
			    v == BAD_MODEL ? 2 : 4, &err);
	gguf_writer_add_str(w, "tokenizer.ggml.pre", v == BAD_PRE ? "nonsense" : "gpt-2",
			    v == BAD_PRE ? 8 : 5, &err);
	gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", tokens, NULL, 8, &err);
	gguf_writer_add_array(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types,
			      v == BAD_TYPES ? 7 : 8, &err);
	gguf_writer_add_str_array(w, "tokenizer.ggml.merges", merges, NULL, 2, &err);
	gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", v == BAD_BOS ? 8 : 5, &err);
	gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", 1, &err);
	if (output_open(&out, path, &err) == 0) {
		gguf_writer_write(w, &out, &err);
		output_close(&out, &err);
	}
	gguf_writer_free(w);
	return path;
}

static void check(const struct tokenizer *tok, const char *text, unsigned flags, const int32_t *want,
		  size_t n, const char *what)
{
	struct tok_ids ids = {0};
	struct lm_error err;
	int rc = tokenizer_encode(tok, text, strlen(text), flags, &ids, &err);
	ok(rc == 0 && ids.n == n && (n == 0 || memcmp(ids.ids, want, n * sizeof(*want)) == 0), "%s", what);
	if (rc == 0 && ids.n != n)
		diag("got %zu ids, want %zu", ids.n, n);
	tok_ids_free(&ids);
}

static void load_fails(const char *path, const char *needle, const char *what)
{
	struct tokenizer *tok = NULL;
	struct lm_error err = {0};
	int rc = tokenizer_load(&tok, path, &err);
	ok(rc != 0 && strstr(err.msg, needle) && strstr(err.msg, dir), "%s: %s", what, err.msg);
	if (rc == 0)
		tokenizer_free(tok);
}

int main(void)
{
	struct tokenizer *tok;
	struct lm_error err;
	char *text;
	size_t len;

	if (!mkdtemp(dir))
		return 1;
	ok(tokenizer_load(&tok, write_vocab("good.gguf", GOOD), &err) == 0, "load a gpt2 GGUF vocab");
	ok(strncmp(tokenizer_name(tok), "gguf:gpt2:gpt-2:8:", 18) == 0, "name %s", tokenizer_name(tok));
	is_int(tokenizer_special(tok, TOK_BOS), 5, "bos id");
	/* pieces "hi" and " hi": h+i (rank 0), then Ġ+hi (rank 1) */
	check(tok, "hi hi", 0, (int32_t[]){ 3, 4 }, 2, "\"hi hi\" -> hi Ġhi");
	check(tok, "hi hi", TOK_ADD_SPECIAL, (int32_t[]){ 5, 3, 4 }, 3, "add_bos puts BOS first");
	/* USER_DEFINED "@@" is matched as written, always; a lone '@' is BPE */
	check(tok, "hi@@hi", 0, (int32_t[]){ 3, 6, 3 }, 3, "user-defined token matched");
	check(tok, "@@@", 0, (int32_t[]){ 6, 7 }, 2, "leftmost match: @@ then @");
	/* CONTROL text only under TOK_PARSE_SPECIAL; otherwise its bytes are
	 * not tokens and, without unk, vanish */
	check(tok, "hi<|eot|>", TOK_PARSE_SPECIAL, (int32_t[]){ 3, 5 }, 2, "control token parsed");
	check(tok, "hi<|eot|>", 0, (int32_t[]){ 3 }, 1, "control token text not parsed by default");
	check(tok, "", TOK_ADD_SPECIAL, (int32_t[]){ 5 }, 1, "empty text with BOS");

	ok(tokenizer_decode(tok, (int32_t[]){ 4, 6, 5, 2 }, 4, &text, &len, &err) == 0 && len == 13 &&
	   memcmp(text, " hi@@<|eot|> ", 13) == 0, "decode: byte-level inverse, added tokens as written");
	free(text);
	const char *t = tokenizer_token(tok, 2, &len);
	ok(t && len == 1 && t[0] == ' ', "token 2 is a space");
	ok(tokenizer_token(tok, 8, &len) == NULL, "token 8 does not exist");
	is_int(tokenizer_decode(tok, (int32_t[]){ -1 }, 1, &text, &len, &err), LM_EINVAL, "decode refuses -1");
	tokenizer_free(tok);

	load_fails(write_vocab("t5.gguf", BAD_MODEL), "tokenizer.ggml.model \"t5\"", "unsupported model");
	load_fails(write_vocab("pre.gguf", BAD_PRE), "tokenizer.ggml.pre \"nonsense\"", "unknown pre-tokenizer");
	load_fails(write_vocab("types.gguf", BAD_TYPES), "tokenizer.ggml.token_type", "token_type count");
	load_fails(write_vocab("bos.gguf", BAD_BOS), "tokenizer.ggml.bos_token_id", "bos id out of range");
	{
		struct tokenizer *t2;
		is_int(tokenizer_load(&t2, "/nonexistent/x.gguf", &err), LM_EIO, "missing file is LM_EIO");
		ok(strstr(err.msg, "/nonexistent/x.gguf") != NULL, "message names the file: %s", err.msg);
	}

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}

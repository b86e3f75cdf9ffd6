/* load_gguf.c - tokenizers from GGUF vocabularies (tokenizer.ggml.* keys).
 *
 * Follows llama.cpp llama-vocab.cpp (llama_vocab::impl::load):
 *   model "gpt2"  byte-level BPE; token texts are GPT-2 byte-mapped, merges
 *                 are "LEFT RIGHT" lines in rank order, "pre" names the
 *                 pre-tokenizer regexes ("default" when absent).
 *   model "llama" SentencePiece BPE by scores with <0xNN> byte fallback,
 *                 U+2581 for spaces and a space prefix (add_space_prefix).
 *   model "bert"  WordPiece, word starts spelt with U+2581, llama.cpp's
 *                 own BERT preprocessing (normalizer_add_wpm_llamacpp),
 *                 [CLS] ... [SEP].
 * CONTROL and UNKNOWN tokens are special (matched in text only with
 * TOK_PARSE_SPECIAL); USER_DEFINED tokens are always matched, as llama.cpp's
 * tokenizer_st_partition does.  BOS/EOS defaults: llama add_bos, gpt2
 * neither, bert CLS/SEP.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenize/bpe.h"
#include "tokenize/normalize.h"
#include "tokenize/pretok.h"
#include "tokenize/spm.h"
#include "tokenize/tokenizer_impl.h"
#include "tokenize/wordpiece.h"

enum gguf_vocab_model { GV_GPT2, GV_LLAMA, GV_BERT };

/* An optional key: absent is fine (*V keeps its default), present with the
 * wrong type is an error. */
static int opt_bool(const struct gguf_file *f, const char *key, int *v, struct lm_error *err)
{
	return gguf_find_kv(f, key) ? gguf_get_bool(f, key, v, err) : 0;
}

static int opt_id(const struct gguf_file *f, const char *key, int32_t *v, size_t n,
		  struct lm_error *err)
{
	uint32_t x;
	int rc;

	if (!gguf_find_kv(f, key))
		return 0;
	if ((rc = gguf_get_u32(f, key, &x, err)))
		return rc;
	if (x >= n)
		return lm_fail(err, LM_EFORMAT, "%s: %s: id %lu outside the vocabulary (%zu tokens)",
			       f->name, key, (unsigned long)x, n);
	*v = (int32_t)x;
	return 0;
}

static int load_tokens(struct tokenizer *tok, const struct gguf_file *f,
		       enum gguf_vocab_model model, struct lm_error *err)
{
	const struct gguf_kv *tokens, *types = NULL, *scores = NULL;
	char *buf = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = gguf_get_array(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tokens, err)))
		return rc;
	if (tokens->count == 0 || tokens->count > INT32_MAX)
		return lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.tokens: bad count %llu", f->name,
			       (unsigned long long)tokens->count);
	if (gguf_find_kv(f, "tokenizer.ggml.token_type") &&
	    (rc = gguf_get_array(f, "tokenizer.ggml.token_type", GGUF_TYPE_COUNT, &types, err)))
		return rc;
	if (gguf_find_kv(f, "tokenizer.ggml.scores") &&
	    (rc = gguf_get_array(f, "tokenizer.ggml.scores", GGUF_TYPE_COUNT, &scores, err)))
		return rc;
	if (types && types->count != tokens->count)
		return lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.token_type has %llu entries for %llu tokens",
			       f->name, (unsigned long long)types->count, (unsigned long long)tokens->count);
	if (scores && scores->count != tokens->count)
		return lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.scores has %llu entries for %llu tokens",
			       f->name, (unsigned long long)scores->count, (unsigned long long)tokens->count);
	if ((rc = vocab_new(&tok->vocab, err)))
		return rc;
	for (uint64_t i = 0; i < tokens->count; i++) {
		uint64_t len;
		const char *s = gguf_array_str(tokens, i, &len);
		int64_t type = types ? gguf_array_int(types, i) : VOCAB_NORMAL;
		float score = scores ? (float)gguf_array_float(scores, i) : 0.0f;
		int32_t id = (int32_t)i;
		if (type < VOCAB_UNDEFINED || type > VOCAB_BYTE) {
			rc = lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.token_type[%llu]: unknown type %lld",
				     f->name, (unsigned long long)i, (long long)type);
			goto out;
		}
		if (type == VOCAB_CONTROL || type == VOCAB_USER_DEFINED || type == VOCAB_UNKNOWN) {
			/* matched as written, before pre-tokenization */
			rc = vocab_set_hidden(tok->vocab, id, s, len, score, type, err);
			if (!rc && len)
				rc = tok_add_added(tok, s, len, id, type != VOCAB_USER_DEFINED, err);
		} else if (model == GV_GPT2) {
			if (len > cap) {
				char *p = realloc(buf, cap = len);
				if (!p) {
					rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", f->name);
					goto out;
				}
				buf = p;
			}
			long n = bpe_unmap(s, len, buf);
			if (n >= 0)
				rc = vocab_set(tok->vocab, id, buf, (size_t)n, score, type, err);
			else
				rc = vocab_set_hidden(tok->vocab, id, s, len, score, type, err);
		} else {
			rc = vocab_set(tok->vocab, id, s, len, score, type, err);
		}
		if (rc) {
			lm_error_prefix(err, "%s: tokenizer.ggml.tokens[%llu]: ", f->name, (unsigned long long)i);
			goto out;
		}
	}
out:
	free(buf);
	return rc;
}

static int load_merges(struct tokenizer *tok, const struct gguf_file *f, struct lm_error *err)
{
	const struct gguf_kv *merges;
	char *buf = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = gguf_get_array(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges, err)))
		return rc;
	for (uint64_t i = 0; i < merges->count; i++) {
		uint64_t len;
		const char *s = gguf_array_str(merges, i, &len);
		const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
		if (!sp) {
			rc = lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.merges[%llu]: expected \"LEFT RIGHT\"",
				     f->name, (unsigned long long)i);
			goto out;
		}
		if (len > cap) {
			char *p = realloc(buf, cap = len);
			if (!p) {
				rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", f->name);
				goto out;
			}
			buf = p;
		}
		size_t ll = (size_t)(sp - s);
		long a = bpe_unmap(s, ll, buf);
		long b = a < 0 ? -1 : bpe_unmap(sp + 1, len - ll - 1, buf + a);
		if (a <= 0 || b <= 0) {
			rc = lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.merges[%llu]: \"%.*s\" is not byte-level text",
				     f->name, (unsigned long long)i, (int)len, s);
			goto out;
		}
		int32_t l = vocab_find(tok->vocab, buf, (size_t)a);
		int32_t r = vocab_find(tok->vocab, buf + a, (size_t)b);
		int32_t m = vocab_find(tok->vocab, buf, (size_t)(a + b));
		/* llama.cpp keeps merges whose parts are not tokens (they can
		 * never apply); so do we, by skipping them. */
		if (l < 0 || r < 0 || m < 0)
			continue;
		if ((rc = vocab_add_merge(tok->vocab, l, r, m, (uint32_t)i, err))) {
			lm_error_prefix(err, "%s: tokenizer.ggml.merges[%llu]: ", f->name, (unsigned long long)i);
			goto out;
		}
	}
out:
	free(buf);
	return rc;
}

/* llama.cpp sets ignore_merges for LLAMA_VOCAB_PRE_TYPE_LLAMA3 only. */
static int pre_ignores_merges(const char *pre)
{
	static const char *const names[] = { "llama3", "llama-v3", "llama-bpe", "falcon3",
					     "falcon-h1", "pixtral" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(pre, names[i]) == 0)
			return 1;
	return 0;
}

/* An optional string key as a NUL-terminated, lowercased copy in BUF
 * (truncated to its size); "" when absent. */
static int opt_name(const struct gguf_file *f, const char *key, char *buf, size_t size,
		    struct lm_error *err)
{
	const char *s;
	uint64_t len;
	int rc;

	buf[0] = 0;
	if (!gguf_find_kv(f, key))
		return 0;
	if ((rc = gguf_get_str(f, key, &s, &len, err)))
		return rc;
	if (len >= size)
		len = size - 1;
	for (uint64_t i = 0; i < len; i++)
		buf[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
	buf[len] = 0;
	return 0;
}

static void set_strip(struct tokenizer *tok, const char *text, int lstrip, int rstrip, int value)
{
	for (size_t i = 0; i < tok->n_added; i++) {
		struct tok_added *a = &tok->added[i];
		if (text && strcmp(a->text, text) != 0)
			continue;
		if (lstrip)
			a->lstrip = !!value;
		if (rstrip)
			a->rstrip = !!value;
	}
}

/* GGUF stores no added-token attributes; llama.cpp sets a few by model
 * name (llama-vocab.cpp, load: "Handle per token attributes"): <mask>
 * swallows white space on its left for the Jina v2 and nomic-bert-moe /
 * jina-bert-v3 vocabularies, [MASK] for ModernBERT, and for Phi-3 every
 * special token but <unk>, <s> and <|endoftext|> swallows white space on
 * its right.  The name match is a substring match on the lowercased
 * general.name. */
static int set_added_attrs(struct tokenizer *tok, const struct gguf_file *f, const char *pre,
			   struct lm_error *err)
{
	char name[256], arch[256];
	int rc;

	if ((rc = opt_name(f, "general.name", name, sizeof(name), err)) ||
	    (rc = opt_name(f, "general.architecture", arch, sizeof(arch), err)))
		return rc;
	if (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code") ||
	    strstr(arch, "nomic-bert-moe") || strstr(arch, "jina-bert-v3")) {
		set_strip(tok, "<mask>", 1, 0, 1);
	} else if (strstr(name, "phi-3") || strstr(name, "phi3")) {
		set_strip(tok, NULL, 0, 1, 1);
		set_strip(tok, "<unk>", 0, 1, 0);
		set_strip(tok, "<s>", 0, 1, 0);
		set_strip(tok, "<|endoftext|>", 0, 1, 0);
	} else if (strstr(name, "modern-bert")) {
		set_strip(tok, "[MASK]", 1, 0, 1);
	}
	return 0;
}

static int set_ids(int32_t **dst, size_t *n, int32_t id, struct lm_error *err)
{
	if (id < 0)
		return 0;
	if (!(*dst = malloc(sizeof(**dst))))
		return lm_fail(err, LM_ENOMEM, "tokenizer: out of memory");
	(*dst)[0] = id;
	*n = 1;
	return 0;
}

int tok_load_gguf(struct tokenizer *tok, const char *path, struct lm_error *err)
{
	struct gguf_file *f = NULL;
	struct pretok *pre = NULL;
	struct normalizer *norm = NULL;
	struct bpe *bpe = NULL;
	struct spm *spm = NULL;
	struct wordpiece *wp = NULL;
	const char *model_s, *pre_s = NULL;
	uint64_t model_len, pre_len = 0;
	char pre_name[64] = "default";
	enum gguf_vocab_model model;
	int add_bos, add_eos, add_space_prefix = 1;
	int rc;

	if ((rc = gguf_open(path, &f, err)))
		return rc;
	if ((rc = gguf_get_str(f, "tokenizer.ggml.model", &model_s, &model_len, err)))
		goto out;
	if (model_len == 4 && memcmp(model_s, "gpt2", 4) == 0) {
		model = GV_GPT2;
	} else if (model_len == 5 && memcmp(model_s, "llama", 5) == 0) {
		model = GV_LLAMA;
	} else if (model_len == 4 && memcmp(model_s, "bert", 4) == 0) {
		model = GV_BERT;
	} else {
		rc = lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.model \"%.*s\" is not supported "
			     "(gpt2, llama, bert)", path, (int)model_len, model_s);
		goto out;
	}
	if (gguf_find_kv(f, "tokenizer.ggml.pre")) {
		if ((rc = gguf_get_str(f, "tokenizer.ggml.pre", &pre_s, &pre_len, err)))
			goto out;
		if (pre_len >= sizeof(pre_name) || memchr(pre_s, 0, pre_len)) {
			rc = lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.pre: bad name", path);
			goto out;
		}
		memcpy(pre_name, pre_s, pre_len);
		pre_name[pre_len] = 0;
	}
	if ((rc = load_tokens(tok, f, model, err)) || (rc = set_added_attrs(tok, f, pre_name, err)))
		goto out;
	size_t n = vocab_size(tok->vocab);
	if ((rc = opt_id(f, "tokenizer.ggml.bos_token_id", &tok->special[TOK_BOS], n, err)) ||
	    (rc = opt_id(f, "tokenizer.ggml.eos_token_id", &tok->special[TOK_EOS], n, err)) ||
	    (rc = opt_id(f, "tokenizer.ggml.unknown_token_id", &tok->special[TOK_UNK], n, err)) ||
	    (rc = opt_id(f, "tokenizer.ggml.seperator_token_id", &tok->special[TOK_SEP], n, err)) ||
	    (rc = opt_id(f, "tokenizer.ggml.padding_token_id", &tok->special[TOK_PAD], n, err)) ||
	    (rc = opt_id(f, "tokenizer.ggml.cls_token_id", &tok->special[TOK_CLS], n, err)) ||
	    (rc = opt_id(f, "tokenizer.ggml.mask_token_id", &tok->special[TOK_MASK], n, err)))
		goto out;
	add_bos = model != GV_GPT2;
	add_eos = 0;
	if ((rc = opt_bool(f, "tokenizer.ggml.add_bos_token", &add_bos, err)) ||
	    (rc = opt_bool(f, "tokenizer.ggml.add_eos_token", &add_eos, err)) ||
	    (rc = opt_bool(f, "tokenizer.ggml.add_space_prefix", &add_space_prefix, err)))
		goto out;

	/* llama.cpp decodes the text of BPE and WPM vocabularies into code
	 * points (unicode_cpts_from_utf8); SentencePiece works on the bytes. */
	tok->bad_utf8 = model == GV_LLAMA ? TOK_UTF8_KEEP : TOK_UTF8_LLAMACPP;
	switch (model) {
	case GV_GPT2:
		if (!pretok_name_known(pre_name)) {
			rc = lm_fail(err, LM_EFORMAT, "%s: tokenizer.ggml.pre \"%s\" is not a known "
				     "pre-tokenizer", path, pre_name);
			goto out;
		}
		if ((rc = load_merges(tok, f, err)) || (rc = pretok_new(&pre, pre_name, err)))
			goto out;
		tok_use_pretok(tok, pre);
		pre = NULL;
		if ((rc = bpe_new(&bpe, tok->vocab, pre_ignores_merges(pre_name) ? BPE_IGNORE_MERGES : 0,
				  tok->special[TOK_UNK], err)))
			goto out;
		tok_use_bpe(tok, bpe);
		tok->decoder = TOK_DECODE_BYTES;
		if ((add_bos && (rc = set_ids(&tok->prefix, &tok->n_prefix, tok->special[TOK_BOS], err))) ||
		    (add_eos && (rc = set_ids(&tok->suffix, &tok->n_suffix, tok->special[TOK_EOS], err))))
			goto out;
		break;
	case GV_LLAMA: {
		struct spm_config c = { .mode = SPM_BY_SCORE, .unk_id = tok->special[TOK_UNK] };
		if (!(norm = normalizer_new())) {
			rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
			goto out;
		}
		if ((add_space_prefix && (rc = normalizer_add_prepend(norm, "\xe2\x96\x81", 3, err))) ||
		    (rc = normalizer_add_replace(norm, " ", 1, 0, "\xe2\x96\x81", 3, err)))
			goto out;
		normalizer_attach(tok, norm);
		norm = NULL;
		if ((rc = spm_new(&spm, tok->vocab, &c, err)))
			goto out;
		spm_attach(tok, spm);
		tok->decoder = TOK_DECODE_METASPACE;
		tok->decode_strip_space = add_space_prefix;
		if ((add_bos && (rc = set_ids(&tok->prefix, &tok->n_prefix, tok->special[TOK_BOS], err))) ||
		    (add_eos && (rc = set_ids(&tok->suffix, &tok->n_suffix, tok->special[TOK_EOS], err))))
			goto out;
		break;
	}
	case GV_BERT: {
		/* llama.cpp: lowercase defaults to true, strip_accents to
		 * lowercase; words of any length (no max_input_chars_per_word). */
		int lowercase = 1, strip_accents;
		if ((rc = opt_bool(f, "tokenizer.ggml.normalizer.lowercase", &lowercase, err)))
			goto out;
		strip_accents = lowercase;
		if ((rc = opt_bool(f, "tokenizer.ggml.normalizer.strip_accents", &strip_accents, err)))
			goto out;
		if (!(norm = normalizer_new())) {
			rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
			goto out;
		}
		/* The preprocessing, then a white space split, in one pass. */
		if ((rc = normalizer_add_wpm_llamacpp(norm, strip_accents, lowercase, err)) ||
		    (rc = normalizer_attach_wpm_split(tok, norm, err)))
			goto out;
		norm = NULL;
		if ((rc = wordpiece_new(&wp, tok->vocab, "\xe2\x96\x81", "", tok->special[TOK_UNK], SIZE_MAX,
					err)))
			goto out;
		wordpiece_attach(tok, wp);
		tok->decoder = TOK_DECODE_METASPACE;
		tok->decode_strip_space = 1;
		if (tok->special[TOK_CLS] < 0)
			tok->special[TOK_CLS] = tok->special[TOK_BOS];
		if (tok->special[TOK_SEP] < 0)
			tok->special[TOK_SEP] = tok->special[TOK_EOS];
		if ((rc = set_ids(&tok->prefix, &tok->n_prefix, tok->special[TOK_CLS], err)) ||
		    (rc = set_ids(&tok->suffix, &tok->n_suffix, tok->special[TOK_SEP], err)))
			goto out;
		break;
	}
	}
	if (asprintf(&tok->name, "gguf:%.*s:%s", (int)model_len, model_s, pre_name) < 0) {
		tok->name = NULL;
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
	}
out:
	if (rc && err && err->msg[0] && strncmp(err->msg, path, strlen(path)) != 0)
		lm_error_prefix(err, "%s: ", path);
	pretok_free(pre);
	normalizer_free(norm);
	gguf_close(f);
	return rc;
}

/* test_hfjson.c - Hugging Face tokenizer.json loading (load_hfjson.c) and
 * the whole pipeline on small hand-written files, each component checked
 * against ids worked out by hand; then the real all-MiniLM-L6-v2 file with
 * ids looked up in its vocab.txt (line number - 1) for a hand split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tokenize/load_hfjson.h"
#include "tokenize/tokenizer.h"
#include "tokenize/tokenizer_impl.h"

static struct tokenizer *load(const char *json, struct lm_error *err)
{
	struct tokenizer *t;

	if (tok_new(&t, err))
		return NULL;
	if (tok_load_hfjson_memory(t, json, strlen(json), "t.json", err) || tok_finish(t, "t.json", err)) {
		tokenizer_free(t);
		return NULL;
	}
	return t;
}

static int enc(const struct tokenizer *t, const char *text, unsigned flags, const int32_t *want, size_t n)
{
	struct lm_error err = { 0 };
	struct tok_ids ids = { 0 };
	int ok;

	if (!t)
		return 0;
	if (tokenizer_encode(t, text, strlen(text), flags, &ids, &err)) {
		diag("error: %s", err.msg);
		return 0;
	}
	ok = ids.n == n && (!n || !memcmp(ids.ids, want, n * sizeof *want));
	if (!ok)
		for (size_t i = 0; i < ids.n; i++)
			diag("got[%zu] = %d", i, ids.ids[i]);
	tok_ids_free(&ids);
	return ok;
}

static int dec(const struct tokenizer *t, const int32_t *ids, size_t n, const char *want)
{
	struct lm_error err = { 0 };
	char *text;
	size_t len;
	int ok;

	if (!t || tokenizer_decode(t, ids, n, &text, &len, &err))
		return 0;
	ok = len == strlen(want) && !memcmp(text, want, len);
	if (!ok)
		diag("got \"%s\"", text);
	free(text);
	return ok;
}

#define IDS(...) (const int32_t[]){ __VA_ARGS__ }, sizeof((const int32_t[]){ __VA_ARGS__ }) / sizeof(int32_t)

static const char bert_json[] =
	"{\"version\":\"1.0\",\"added_tokens\":["
	"{\"id\":2,\"content\":\"[CLS]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
	"{\"id\":3,\"content\":\"[SEP]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
	"\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true},"
	"\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
	"\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},"
	"{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"[SEP]\",\"type_id\":0}}],\"pair\":[],"
	"\"special_tokens\":{\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[2],\"tokens\":[\"[CLS]\"]},\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[3],\"tokens\":[\"[SEP]\"]}}},"
	"\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true},"
	"\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,"
	"\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"hello\":4,\"world\":5,\"!\":6,\"un\":7,\"##aff\":8,\"##able\":9,"
	"\"\xe4\xb8\xad\":10,\"cafe\":11}}}";

static const char bytelevel_json[] =
	"{\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"byte_fallback\":false,"
	"\"vocab\":{\"a\":0,\"b\":1,\"\xc4\xa0\":2,\"\xc4\xa0" "a\":3,\"ab\":4,\"\xc4\xa0" "ab\":5,\"\xc4\x8a\":6},"
	"\"merges\":[\"\xc4\xa0 a\",[\"a\",\"b\"],\"\xc4\xa0" "a b\"]},"
	"\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":%s,\"trim_offsets\":true,\"use_regex\":true},"
	"\"post_processor\":{\"type\":\"ByteLevel\",\"trim_offsets\":true},"
	"\"decoder\":{\"type\":\"ByteLevel\"}}";

static const char llama2_json[] =
	"{\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],"
	"\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\xe2\x96\x81\"},"
	"{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xe2\x96\x81\"}]},"
	"\"pre_tokenizer\":null,"
	"\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
	"{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
	"\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xe2\x96\x81\"},\"content\":\" \"},"
	"{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
	"\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,"
	"\"fuse_unk\":true,\"byte_fallback\":true,"
	"\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<0xC3>\":3,\"<0xA9>\":4,\"\xe2\x96\x81\":5,\"a\":6,\"b\":7,"
	"\"\xe2\x96\x81" "a\":8,\"\xe2\x96\x81" "ab\":9,\"ab\":10},"
	"\"merges\":[\"\xe2\x96\x81 a\",\"\xe2\x96\x81" "a b\",\"a b\"]}}";

static const char unigram_json[] =
	"{\"normalizer\":{\"type\":\"NFKC\"},"
	"\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true},"
	"\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
	"{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"</s>\":{\"id\":\"</s>\",\"ids\":[5],\"tokens\":[\"</s>\"]}}},"
	"\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":true},"
	"\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":false,\"vocab\":[[\"<unk>\",0.0],[\"\xe2\x96\x81\",-2.0],"
	"[\"\xe2\x96\x81" "a\",-1.0],[\"b\",-2.0],[\"\xe2\x96\x81" "ab\",-2.5],[\"</s>\",0.0],[\"fi\",-1.0]]}}";

/* Pre-tokenizers: each piece is one WordPiece word, so ids show the split. */
static const char pretok_json[] =
	"{\"pre_tokenizer\":%s,"
	"\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"ab\":1,\"1\":2,\"2\":3,\"c\":4,\"!\":5,"
	"\"12\":6,\"ab12\":7,\"-\":8,\"a\":9,\"b\":10,\"a-\":11,\"-b\":12,\" \":13,\"<m>\":14,\"\xe2\x96\x81" "c\":15}},"
	"\"added_tokens\":[{\"id\":14,\"content\":\"<m>\",\"single_word\":false,\"lstrip\":true,\"rstrip\":true,\"normalized\":false,\"special\":false}]}";

static struct tokenizer *load_fmt(const char *fmt, const char *arg, struct lm_error *err)
{
	char buf[4096];

	snprintf(buf, sizeof buf, fmt, arg);
	return load(buf, err);
}

static int load_fails(const char *json, const char *want_msg)
{
	struct lm_error err = { 0 };
	struct tokenizer *t = load(json, &err);

	if (t) {
		tokenizer_free(t);
		return 0;
	}
	if (!strstr(err.msg, want_msg)) {
		diag("message: %s", err.msg);
		return 0;
	}
	return 1;
}

static void minilm(void)
{
	const char *dir = getenv("SHARED") ? getenv("SHARED") : "../shared";
	char path[512], line[256];
	struct lm_error err = { 0 };
	struct tokenizer *t;
	/* Split by hand: BertNormalizer lowercases and strips the accent,
	 * spaces the CJK characters; "tokenization" = token + ##ization
	 * (no longer prefix of it is in vocab.txt). */
	static const char *const want[] = {
		"[CLS]", "hello", ",", "token", "##ization", "in", "the", "cafe", "\xe4\xb8\xad",
		"\xe5\x9b\xbd", "!", "[SEP]",
	};
	int32_t ids[12];
	size_t n = sizeof want / sizeof *want, found = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/tokenizers/all-MiniLM-L6-v2/vocab.txt", dir);
	if (!(f = fopen(path, "r"))) {
		ok(1, "# SKIP %s absent", path);
		return;
	}
	for (int32_t id = 0; fgets(line, sizeof line, f); id++) {
		line[strcspn(line, "\n")] = 0;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(line, want[i])) {
				ids[i] = id;
				found++;
			}
	}
	fclose(f);
	is_int(found, n, "every hand-split piece is in vocab.txt");
	snprintf(path, sizeof path, "%s/tokenizers/all-MiniLM-L6-v2/tokenizer.json", dir);
	ok(!tokenizer_load(&t, path, &err), "load all-MiniLM-L6-v2 tokenizer.json: %s", err.msg);
	if (!t)
		return;
	ok(enc(t, "Hello, Tokenization in the CAF\xc3\x89 \xe4\xb8\xad\xe5\x9b\xbd!", TOK_ADD_SPECIAL, ids, n),
	   "MiniLM: hand-derived ids");
	ok(enc(t, "Hello,Tokenization\tin the  caf\xc3\xa9\xe4\xb8\xad\xe5\x9b\xbd  !", 0, ids + 1, n - 2),
	   "MiniLM: same ids without spaces around punctuation and CJK, no specials");
	{
		char word[160];

		memset(word, 'a', 101);
		word[101] = 0;
		ok(enc(t, word, 0, IDS(100)), "MiniLM: a 101-character word is [UNK] (id 100, line 101)");
	}
	is_int(tokenizer_special(t, TOK_CLS), 101, "CLS id");
	tokenizer_free(t);
}

int main(void)
{
	struct lm_error err = { 0 };
	struct tokenizer *t;
	char pj[1024];

	/* WordPiece + BertNormalizer + BertPreTokenizer + TemplateProcessing. */
	t = load(bert_json, &err);
	ok(t != NULL, "load WordPiece: %s", err.msg);
	ok(enc(t, "Hello World! unaffable Caf\xc3\xa9\xe4\xb8\xad", TOK_ADD_SPECIAL, IDS(2, 4, 5, 6, 7, 8, 9, 11, 10, 3)),
	   "BERT pipeline with [CLS] ... [SEP]");
	ok(enc(t, "hello [SEP]world", TOK_PARSE_SPECIAL, IDS(4, 3, 5)), "special token parsed");
	ok(enc(t, "hello zzz", 0, IDS(4, 1)), "unknown word -> [UNK]");
	ok(dec(t, IDS(4, 7, 8, 9), "hello unaffable"), "WordPiece decoder joins ##");
	is_int(tokenizer_special(t, TOK_UNK), 1, "unk id");
	tokenizer_free(t);

	/* Byte-level BPE: "ab ab" -> "ab" | " ab"; " ab": (Ġ,a) rank 0, then
	 * (Ġa,b) rank 2 -> Ġab. */
	t = load_fmt(bytelevel_json, "false", &err);
	ok(t != NULL, "load byte-level BPE: %s", err.msg);
	ok(enc(t, "ab ab", 0, IDS(4, 5)), "byte-level merges by rank");
	ok(enc(t, "\n", 0, IDS(6)), "byte 0x0A is the mapped U+010A");
	ok(dec(t, IDS(4, 5, 6), "ab ab\n"), "ByteLevel decoder gives the raw bytes");
	tokenizer_free(t);
	t = load_fmt(bytelevel_json, "true", &err);
	ok(enc(t, "ab", 0, IDS(5)), "add_prefix_space: ab -> Ġab");
	tokenizer_free(t);

	/* Llama-2: Prepend + Replace, BPE with byte_fallback: "ab é" ->
	 * ▁ a b ▁ <C3> <A9>; ▁+a (0), ▁a+b (1) -> ▁ab ▁ <C3> <A9>. */
	t = load(llama2_json, &err);
	ok(t != NULL, "load Llama-2 style BPE: %s", err.msg);
	ok(enc(t, "ab \xc3\xa9", TOK_ADD_SPECIAL, IDS(1, 9, 5, 3, 4)), "byte_fallback BPE with <s>");
	ok(enc(t, "", 0, NULL, 0), "empty text: no tokens (Prepend skips empty)");
	ok(dec(t, IDS(9, 5, 3, 4), "ab \xc3\xa9"), "decoder: ▁ -> space, bytes, strip one leading space");
	tokenizer_free(t);

	/* Unigram + Metaspace: "ab b" -> ▁ab | ▁b; ▁ab (-2.5) beats ▁a+b
	 * (-3); ▁b = ▁ + b.  NFKC turns U+FB01 into "fi". */
	t = load(unigram_json, &err);
	ok(t != NULL, "load Unigram: %s", err.msg);
	ok(enc(t, "ab b", TOK_ADD_SPECIAL, IDS(4, 1, 3, 5)), "Unigram Viterbi + </s>");
	ok(enc(t, "\xef\xac\x81", 0, IDS(1, 6)), "NFKC before Metaspace");
	ok(dec(t, IDS(4, 1, 3), "ab b"), "Metaspace decoder");
	tokenizer_free(t);

	/* Pre-tokenizers. */
	t = load_fmt(pretok_json, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Whitespace\"},"
		     "{\"type\":\"Digits\",\"individual_digits\":true}]}", &err);
	ok(t != NULL, "load Whitespace+Digits: %s", err.msg);
	ok(enc(t, "ab12 c!", 0, IDS(1, 2, 3, 4, 5)), "Whitespace then individual Digits");
	ok(enc(t, "ab <m>   c", 0, IDS(1, 14, 4)), "added token with lstrip/rstrip");
	tokenizer_free(t);
	t = load_fmt(pretok_json, "{\"type\":\"Digits\",\"individual_digits\":false}", &err);
	ok(enc(t, "ab12", 0, IDS(1, 6)), "Digits grouped");
	tokenizer_free(t);
	snprintf(pj, sizeof pj, "%s", "{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"},\"behavior\":\"%s\",\"invert\":false}");
	{
		static const struct { const char *beh; int32_t ids[3]; size_t n; } cases[] = {
			{ "Removed", { 9, 10 }, 2 }, { "Isolated", { 9, 8, 10 }, 3 },
			{ "MergedWithPrevious", { 11, 10 }, 2 }, { "MergedWithNext", { 9, 12 }, 2 },
		};
		for (size_t i = 0; i < 4; i++) {
			char inner[256];

			snprintf(inner, sizeof inner, pj, cases[i].beh);
			t = load_fmt(pretok_json, inner, &err);
			ok(enc(t, "a-b", 0, cases[i].ids, cases[i].n), "Split String '-' %s", cases[i].beh);
			tokenizer_free(t);
		}
	}
	t = load_fmt(pretok_json, "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\d+\"},\"behavior\":\"Isolated\",\"invert\":false}", &err);
	ok(enc(t, "ab12", 0, IDS(1, 6)), "Split Regex \\d+ Isolated");
	tokenizer_free(t);
	t = load_fmt(pretok_json, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},{\"type\":\"Punctuation\",\"behavior\":\"Isolated\"}]}", &err);
	ok(enc(t, " c!  ab ", 0, IDS(4, 5, 1)), "WhitespaceSplit then Punctuation");
	tokenizer_free(t);
	t = load_fmt(pretok_json, "{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\",\"prepend_scheme\":\"always\",\"split\":false}", &err);
	ok(enc(t, "c", 0, IDS(15)), "Metaspace prepends the replacement");
	tokenizer_free(t);

	/* Errors name the file and the JSON path. */
	snprintf(pj, sizeof pj, pretok_json,
		 "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Whitespace\"},{\"type\":\"Foo\"}]}");
	ok(load_fails(pj, "t.json: pre_tokenizer.pretokenizers[1].type: unknown pre-tokenizer 'Foo'"),
	   "unknown pre-tokenizer");
	ok(load_fails("{\"model\":{\"type\":\"Magic\"}}", "t.json: model.type: unknown model 'Magic'"), "unknown model");
	ok(load_fails("{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Bogus\"}]},"
		      "\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}",
		      "t.json: normalizer.normalizers[0].type: unknown normalizer 'Bogus'"), "unknown normalizer");
	ok(load_fails("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}",
		      "t.json: model.merges[0]: merge 'a' + 'b'"), "merge of a missing token");
	ok(load_fails("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":\"x\"}}}",
		      "t.json: model.vocab[\"a\"]: expected an integer"), "non-integer id");
	ok(load_fails("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0,\"b\":366666666}}}",
		      "t.json: model.vocab[\"b\"]: expected an integer in 0..16777215"),
	   "an id far beyond any vocabulary is refused, not allocated");
	ok(load_fails("{\"model\":", "t.json: "), "truncated JSON");
	ok(load_fails("[1]", "t.json: not a JSON object"), "not an object");
	ok(load_fails("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}},\"decoder\":{\"type\":\"Nope\"}}",
		      "t.json: decoder.type: unknown decoder 'Nope'"), "unknown decoder");
	ok(load_fails("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}},\"post_processor\":{\"type\":\"X\"}}",
		      "t.json: post_processor.type: unknown post-processor 'X'"), "unknown post-processor");
	ok(load_fails("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}},\"pre_tokenizer\":"
		      "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(\"},\"behavior\":\"Isolated\",\"invert\":false}}",
		      "t.json: pre_tokenizer: "), "bad regex");
	ok(load_fails("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}},\"added_tokens\":[{\"id\":5}]}",
		      "t.json: added_tokens[0].content: missing"), "added token without content");

	minilm();
	return tap_done();
}

/* fuzz_pretok.c - libFuzzer target for pretok.c.
 *
 * The first byte picks a pipeline; the rest is the text.  Every pipeline
 * must return pieces that lie inside the text, in order and non-empty;
 * ISOLATED pipelines must give back exactly the text when the pieces are
 * joined; and a pipeline with hand scanners must give the same pieces as
 * its PCRE2 twin.  That comparison is skipped for text holding a code point
 * whose classes PCRE2 (Unicode 14, \s with U+180E) and utf8proc (Unicode 15,
 * White_Space) see differently: there the scanners follow the references.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/pretok.h"
#include "utf8.h"

static uint8_t differs[0x110000 / 8];

/* One anchored match per code point: the group that matched is its class
 * in PCRE2's eyes. */
static void init_differs(void)
{
	static const char pat[] = "(\\p{Lu})|(\\p{Ll})|(\\p{Lt})|(\\p{Lm})|(\\p{Lo})|(\\p{M})|"
				  "(\\p{Nd})|(\\p{N})|(\\p{P})|(\\p{S})|(\\s)";
	int ecode;
	PCRE2_SIZE eoff, *ov;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
				       PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &ecode, &eoff, NULL);
	pcre2_match_data *md = pcre2_match_data_create(16, NULL);

	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	ov = pcre2_get_ovector_pointer(md);
	for (uint32_t cp = 0; cp < 0x110000; cp++) {
		unsigned char b[4];
		int len, got = 0, want;

		if (cp >= 0xd800 && cp < 0xe000)
			continue;
		len = (int)utf8proc_encode_char((utf8proc_int32_t)cp, b);
		if (pcre2_match(re, b, (size_t)len, 0, 0, md, NULL) > 0)
			for (got = 1; got <= 11 && ov[2 * got] == PCRE2_UNSET; got++)
				;
		switch (utf8proc_category((utf8proc_int32_t)cp)) {
		case UTF8PROC_CATEGORY_LU: want = 1; break;
		case UTF8PROC_CATEGORY_LL: want = 2; break;
		case UTF8PROC_CATEGORY_LT: want = 3; break;
		case UTF8PROC_CATEGORY_LM: want = 4; break;
		case UTF8PROC_CATEGORY_LO: want = 5; break;
		case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
			want = 6; break;
		case UTF8PROC_CATEGORY_ND: want = 7; break;
		case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: want = 8; break;
		case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
		case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
		case UTF8PROC_CATEGORY_PO: want = 9; break;
		case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
		case UTF8PROC_CATEGORY_SO: want = 10; break;
		default: want = 0; break;
		}
		if (got == 11 && want == 0 && cp != 0x180e)
			want = 11;
		if (got != want)
			differs[cp / 8] |= (uint8_t)(1u << (cp % 8));
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
}

static int comparable(const char *s, size_t n)
{
	size_t i = 0;
	uint32_t cp;
	int len;

	while (i < n) {
		len = utf8_decode(s + i, n - i, &cp);
		if (len <= 0) {
			i++;
			continue;
		}
		if (differs[cp / 8] & (1u << (cp % 8)))
			return 0;
		i += (size_t)len;
	}
	return 1;
}

struct seen {
	const char *base;
	size_t len, next, n, cap;
	size_t *off;
};

static int take(void *arg, const char *piece, size_t len)
{
	struct seen *s = arg;
	size_t off = (size_t)(piece - s->base);

	if (!len || piece < s->base || off < s->next || off + len > s->len)
		abort();
	s->next = off + len;
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->off = realloc(s->off, s->cap * sizeof *s->off);
		if (!s->off)
			abort();
	}
	s->off[s->n++] = off;
	s->off[s->n++] = len;
	return 0;
}

static const char *const specs[] = {
	"gpt-2", "r50k_base", "cl100k_base", "llama-bpe", "qwen2", "o200k_base", "tekken",
	"starcoder", "falcon", "default", "deepseek-llm", "deepseek-coder", "bloom", "viking",
	"bert", "whitespace-split", "digits", "punctuation", "metaspace", "deepseek-v3",
	"(?=b)", "\\s+$",
};
#define NSPEC (sizeof specs / sizeof specs[0])

static struct pretok *pipes[NSPEC], *twins[NSPEC];

static void init(void)
{
	struct lm_error err = { 0 };
	enum pretok_behavior b;
	unsigned flags;
	const char *pat;

	init_differs();
	for (size_t i = 0; i < NSPEC; i++) {
		if (pretok_new(&pipes[i], specs[i], &err) || pretok_new(&twins[i], NULL, &err))
			abort();
		for (size_t k = 0; (pat = pretok_stage(pipes[i], k, &b, &flags)); k++)
			if (pretok_add_regex(twins[i], pat, b, flags | PRETOK_FORCE_PCRE, &err))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a = { 0 }, b = { 0 };
	size_t which, n, total = 0;
	char *text;
	int removes;

	if (!pipes[0])
		init();
	if (size < 1)
		return 0;
	which = data[0] % NSPEC;
	n = size - 1;
	text = malloc(n ? n : 1);
	memcpy(text, data + 1, n);
	a.base = b.base = text;
	a.len = b.len = n;
	if (pretok_split(pipes[which], text, n, take, &a) ||
	    pretok_split(twins[which], text, n, take, &b))
		abort();
	if (comparable(text, n) && (a.n != b.n || (a.n && memcmp(a.off, b.off, a.n * sizeof *a.off))))
		abort();
	removes = !strcmp(specs[which], "bert") || !strcmp(specs[which], "whitespace-split");
	for (size_t i = 0; i < a.n; i += 2)
		total += a.off[i + 1];
	if (!removes && total != n)
		abort();
	free(a.off);
	free(b.off);
	free(text);
	return 0;
}

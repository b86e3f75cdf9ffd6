/* load_hfjson.c - Hugging Face tokenizer.json (tokenizers' serde layout).
 *
 * Maps each component onto the modules here: normalizers onto normalize.h,
 * pre-tokenizers onto pretok.h (with the Metaspace replacement and the
 * ByteLevel prefix space composed here, since they rewrite the text), the
 * model onto bpe.h (byte-level), spm.h (BPE over characters), wordpiece.h
 * or unigram.h, post-processors onto the prefix/suffix ids of a single
 * sequence, decoders onto enum tok_decoder.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "tokenize/bpe.h"
#include "tokenize/load_hfjson.h"
#include "tokenize/normalize.h"
#include "tokenize/pretok.h"
#include "tokenize/spm.h"
#include "tokenize/tokenizer_impl.h"
#include "tokenize/unigram.h"
#include "tokenize/wordpiece.h"

/* Token ids index arrays of the vocabulary size: the largest real
 * vocabularies have a few hundred thousand entries, and an id near
 * INT32_MAX in a hostile file would ask for gigabytes. */
#define HFJSON_MAX_ID ((1 << 24) - 1)

#define METASPACE "\xe2\x96\x81"

struct loader {
	const char *name;         /* file name for messages */
	struct tokenizer *tok;
	struct lm_error *err;
	int byte_level;           /* a ByteLevel pre-tokenizer: token texts are GPT-2 mapped bytes */
	int byte_fallback;
	int is_wordpiece;
};

static int bad(struct loader *L, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct loader *L, const char *path, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return lm_fail(L->err, LM_EFORMAT, "%s: %s: %s", L->name, path, msg);
}

/* Prefix a message from another module with the file and JSON path. */
static int wrap(struct loader *L, const char *path, int rc)
{
	if (rc)
		lm_error_prefix(L->err, "%s: %s: ", L->name, path);
	return rc;
}

static const char *at(char *buf, size_t cap, const char *path, const char *key)
{
	snprintf(buf, cap, "%s.%s", path, key);
	return buf;
}

static const char *at_i(char *buf, size_t cap, const char *path, const char *key, size_t i)
{
	snprintf(buf, cap, "%s.%s[%zu]", path, key, i);
	return buf;
}

/* Optional members: absent or null gives DEF; another type is an error. */
static int get_bool(struct loader *L, const struct json_value *o, const char *path, const char *key,
		    int def, int *out)
{
	const struct json_value *v = json_get(o, key);
	char p[300];

	*out = def;
	if (!v || json_type(v) == JSON_NULL)
		return 0;
	if (json_type(v) != JSON_BOOL)
		return bad(L, at(p, sizeof p, path, key), "expected a boolean, found %s",
			   json_type_name(json_type(v)));
	*out = json_bool(v);
	return 0;
}

static int get_str(struct loader *L, const struct json_value *o, const char *path, const char *key,
		   int required, const char **s, size_t *len)
{
	const struct json_value *v = json_get(o, key);
	char p[300];

	*s = NULL;
	*len = 0;
	if (!v || json_type(v) == JSON_NULL) {
		if (required)
			return bad(L, at(p, sizeof p, path, key), "missing");
		return 0;
	}
	if (json_type(v) != JSON_STRING)
		return bad(L, at(p, sizeof p, path, key), "expected a string, found %s",
			   json_type_name(json_type(v)));
	*s = json_string(v, len);
	return 0;
}

static int get_int(struct loader *L, const struct json_value *v, const char *path, int64_t lo,
		   int64_t hi, int64_t *out)
{
	if (json_type(v) != JSON_NUMBER || json_number_int64(v, out) || *out < lo || *out > hi)
		return bad(L, path, "expected an integer in %lld..%lld", (long long)lo, (long long)hi);
	return 0;
}

static const char *type_of(const struct json_value *o)
{
	return json_string(json_get(o, "type"), NULL);
}

static int need_object(struct loader *L, const struct json_value *o, const char *path, const char **type)
{
	char p[300];

	if (json_type(o) != JSON_OBJECT)
		return bad(L, path, "expected an object, found %s", json_type_name(json_type(o)));
	*type = type_of(o);
	if (!*type)
		return bad(L, at(p, sizeof p, path, "type"), "missing or not a string");
	return 0;
}

/* ---- normalizers ---- */

/* A Replace/Split pattern: {"String": s} or {"Regex": r}. */
static int get_pattern(struct loader *L, const struct json_value *o, const char *path,
		       const char **s, size_t *len, int *is_regex)
{
	const struct json_value *pat = json_get(o, "pattern");
	char p[300];

	at(p, sizeof p, path, "pattern");
	if (json_type(pat) != JSON_OBJECT || json_object_len(pat) != 1)
		return bad(L, p, "expected {\"String\": ...} or {\"Regex\": ...}");
	*is_regex = !strcmp(json_object_key(pat, 0), "Regex");
	if (!*is_regex && strcmp(json_object_key(pat, 0), "String"))
		return bad(L, p, "unknown pattern kind '%s'", json_object_key(pat, 0));
	if (json_type(json_object_value(pat, 0)) != JSON_STRING)
		return bad(L, p, "pattern is not a string");
	*s = json_string(json_object_value(pat, 0), len);
	return 0;
}

static int add_normalizer(struct loader *L, struct normalizer *n, const struct json_value *o,
			  const char *path)
{
	const char *type, *s, *c;
	size_t sl, cl;
	int rc, a, b, d, e;
	char p[300];

	if ((rc = need_object(L, o, path, &type)))
		return rc;
	if (!strcmp(type, "Sequence")) {
		const struct json_value *list = json_get(o, "normalizers");

		if (json_type(list) != JSON_ARRAY)
			return bad(L, at(p, sizeof p, path, "normalizers"), "expected an array");
		for (size_t i = 0; i < json_array_len(list); i++)
			if ((rc = add_normalizer(L, n, json_array_get(list, i),
						 at_i(p, sizeof p, path, "normalizers", i))))
				return rc;
		return 0;
	}
	if (!strcmp(type, "BertNormalizer")) {
		const struct json_value *sa = json_get(o, "strip_accents");

		if ((rc = get_bool(L, o, path, "clean_text", 1, &a)) ||
		    (rc = get_bool(L, o, path, "handle_chinese_chars", 1, &b)) ||
		    (rc = get_bool(L, o, path, "lowercase", 1, &d)))
			return rc;
		/* bert.rs: strip_accents None follows lowercase. */
		if ((rc = get_bool(L, o, path, "strip_accents", d, &e)))
			return rc;
		(void)sa;
		return wrap(L, path, normalizer_add_bert(n, a, b, e, d, L->err));
	}
	if (!strcmp(type, "NFC"))
		return wrap(L, path, normalizer_add_form(n, NORMALIZE_NFC, L->err));
	if (!strcmp(type, "NFD"))
		return wrap(L, path, normalizer_add_form(n, NORMALIZE_NFD, L->err));
	if (!strcmp(type, "NFKC"))
		return wrap(L, path, normalizer_add_form(n, NORMALIZE_NFKC, L->err));
	if (!strcmp(type, "NFKD"))
		return wrap(L, path, normalizer_add_form(n, NORMALIZE_NFKD, L->err));
	if (!strcmp(type, "Lowercase"))
		return wrap(L, path, normalizer_add_lowercase(n, L->err));
	if (!strcmp(type, "StripAccents"))
		return wrap(L, path, normalizer_add_strip_accents(n, L->err));
	if (!strcmp(type, "Strip")) {
		if ((rc = get_bool(L, o, path, "strip_left", 1, &a)) ||
		    (rc = get_bool(L, o, path, "strip_right", 1, &b)))
			return rc;
		return wrap(L, path, normalizer_add_strip(n, a, b, L->err));
	}
	if (!strcmp(type, "Prepend")) {
		if ((rc = get_str(L, o, path, "prepend", 1, &s, &sl)))
			return rc;
		return wrap(L, path, normalizer_add_prepend(n, s, sl, L->err));
	}
	if (!strcmp(type, "Replace")) {
		if ((rc = get_pattern(L, o, path, &s, &sl, &a)) ||
		    (rc = get_str(L, o, path, "content", 1, &c, &cl)))
			return rc;
		return wrap(L, path, normalizer_add_replace(n, s, sl, a, c, cl, L->err));
	}
	if (!strcmp(type, "ByteLevel")) {
		/* The GPT-2 byte mapping; our byte-level BPE works on raw bytes. */
		if (!L->byte_level)
			return bad(L, at(p, sizeof p, path, "type"),
				   "ByteLevel normalizer needs a byte-level BPE model");
		return 0;
	}
	if (!strcmp(type, "Precompiled") || !strcmp(type, "Nmt"))
		return bad(L, at(p, sizeof p, path, "type"), "unsupported normalizer '%s'", type);
	return bad(L, at(p, sizeof p, path, "type"), "unknown normalizer '%s'", type);
}

static int load_normalizer(struct loader *L, const struct json_value *o)
{
	struct normalizer *n;
	int rc;

	if (!o || json_type(o) == JSON_NULL)
		return 0;
	n = normalizer_new();
	if (!n)
		return lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
	rc = add_normalizer(L, n, o, "normalizer");
	if (rc || !normalizer_steps(n)) {
		normalizer_free(n);
		return rc;
	}
	normalizer_attach(L->tok, n);
	return 0;
}

/* ---- pre-tokenizers ---- */

enum stage_kind { STAGE_PRETOK, STAGE_METASPACE, STAGE_PREFIX_SPACE };

struct split_stage {
	enum stage_kind kind;
	struct pretok *pretok;    /* STAGE_PRETOK; STAGE_METASPACE's split (or NULL) */
	char rep[8];              /* STAGE_METASPACE replacement */
	size_t rep_len;
	int prepend;
};

/* The pre-tokenizer as a chain of stages, each run on every piece of the
 * one before (pre_tokenizers/sequence.rs). */
struct splitter {
	struct split_stage *st;
	size_t n, cap;
};

struct split_call {
	const struct splitter *sp;
	size_t next;
	tok_piece_fn fn;
	void *arg;
};

static int run_stage(const struct splitter *sp, size_t i, const char *text, size_t len,
		     tok_piece_fn fn, void *arg);

static int on_stage_piece(void *arg, const char *piece, size_t len)
{
	struct split_call *c = arg;

	return run_stage(c->sp, c->next, piece, len, c->fn, c->arg);
}

static int run_stage(const struct splitter *sp, size_t i, const char *text, size_t len,
		     tok_piece_fn fn, void *arg)
{
	const struct split_stage *st;
	struct split_call call = { sp, i + 1, fn, arg };
	char stack[512], *buf = stack;
	size_t cap, n = 0;
	int rc;

	if (i == sp->n)
		return fn(arg, text, len);
	st = &sp->st[i];
	if (st->kind == STAGE_PRETOK)
		return pretok_split(st->pretok, text, len, on_stage_piece, &call);
	/* The rewritten text: at most REP per byte, plus a prefix. */
	cap = st->kind == STAGE_PREFIX_SPACE ? len + 1 : (len + 1) * (st->rep_len > 1 ? st->rep_len : 1);
	if (cap > sizeof stack && !(buf = malloc(cap)))
		return LM_ENOMEM;
	if (st->kind == STAGE_PREFIX_SPACE) {
		/* byte_level.rs add_prefix_space: unless it starts with ' '. */
		if (text[0] != ' ')
			buf[n++] = ' ';
		memcpy(buf + n, text, len);
		n += len;
	} else {
		/* metaspace.rs: ' ' -> replacement, then the prefix unless
		 * the text already starts with the replacement. */
		if (st->prepend && !(len && text[0] == ' ') &&
		    !(len >= st->rep_len && !memcmp(text, st->rep, st->rep_len))) {
			memcpy(buf, st->rep, st->rep_len);
			n = st->rep_len;
		}
		for (size_t k = 0; k < len; k++) {
			if (text[k] == ' ') {
				memcpy(buf + n, st->rep, st->rep_len);
				n += st->rep_len;
			} else {
				buf[n++] = text[k];
			}
		}
	}
	if (st->kind == STAGE_METASPACE && st->pretok)
		rc = pretok_split(st->pretok, buf, n, on_stage_piece, &call);
	else
		rc = run_stage(sp, i + 1, buf, n, fn, arg);
	if (buf != stack)
		free(buf);
	return rc;
}

static int splitter_run(const void *state, const char *text, size_t len, tok_piece_fn fn, void *arg)
{
	return run_stage(state, 0, text, len, fn, arg);
}

static void splitter_free(struct splitter *sp)
{
	if (!sp)
		return;
	for (size_t i = 0; i < sp->n; i++)
		pretok_free(sp->st[i].pretok);
	free(sp->st);
	free(sp);
}

static void splitter_release(void *state)
{
	splitter_free(state);
}

static struct split_stage *add_stage(struct loader *L, struct splitter *sp, enum stage_kind kind)
{
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? 2 * sp->cap : 4;
		struct split_stage *p = realloc(sp->st, cap * sizeof *p);

		if (!p) {
			lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
			return NULL;
		}
		sp->st = p;
		sp->cap = cap;
	}
	memset(&sp->st[sp->n], 0, sizeof sp->st[0]);
	sp->st[sp->n].kind = kind;
	return &sp->st[sp->n++];
}

/* The pretok pipeline to append a stage to: the last stage when it is
 * one, else a new empty one. */
static struct pretok *tail_pretok(struct loader *L, struct splitter *sp)
{
	struct split_stage *st;

	if (sp->n && sp->st[sp->n - 1].kind == STAGE_PRETOK)
		return sp->st[sp->n - 1].pretok;
	st = add_stage(L, sp, STAGE_PRETOK);
	if (!st)
		return NULL;
	if (pretok_new(&st->pretok, NULL, L->err)) {
		sp->n--;
		return NULL;
	}
	return st->pretok;
}

static int get_behavior(struct loader *L, const struct json_value *o, const char *path,
			enum pretok_behavior *b)
{
	static const struct { const char *name; enum pretok_behavior b; } names[] = {
		{ "Removed", PRETOK_REMOVED }, { "Isolated", PRETOK_ISOLATED },
		{ "MergedWithPrevious", PRETOK_MERGED_WITH_PREVIOUS },
		{ "MergedWithNext", PRETOK_MERGED_WITH_NEXT }, { "Contiguous", PRETOK_CONTIGUOUS },
	};
	const char *s;
	size_t len;
	char p[300];
	int rc;

	if ((rc = get_str(L, o, path, "behavior", 1, &s, &len)))
		return rc;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!strcmp(s, names[i].name)) {
			*b = names[i].b;
			return 0;
		}
	return bad(L, at(p, sizeof p, path, "behavior"), "unknown behavior '%s'", s);
}

/* A literal as a regex: every character that is not alphanumeric is escaped. */
static char *quote_regex(const char *s, size_t len)
{
	char *q = malloc(4 * len + 1), *w = q;

	if (!q)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			if (c < 0x20 || c == 0x7F) {
				w += sprintf(w, "\\x%02x", c);
				continue;
			}
			*w++ = '\\';
		}
		*w++ = (char)c;
	}
	*w = 0;
	return q;
}

static int add_pretokenizer(struct loader *L, struct splitter *sp, const struct json_value *o,
			    const char *path)
{
	const char *type, *s;
	struct pretok *pt;
	size_t sl;
	int rc, a, b;
	char p[300];

	if ((rc = need_object(L, o, path, &type)))
		return rc;
	if (!strcmp(type, "Sequence")) {
		const struct json_value *list = json_get(o, "pretokenizers");

		if (json_type(list) != JSON_ARRAY)
			return bad(L, at(p, sizeof p, path, "pretokenizers"), "expected an array");
		for (size_t i = 0; i < json_array_len(list); i++)
			if ((rc = add_pretokenizer(L, sp, json_array_get(list, i),
						   at_i(p, sizeof p, path, "pretokenizers", i))))
				return rc;
		return 0;
	}
	if (!strcmp(type, "ByteLevel")) {
		if ((rc = get_bool(L, o, path, "add_prefix_space", 1, &a)) ||
		    (rc = get_bool(L, o, path, "use_regex", 1, &b)))
			return rc;
		if (a && !add_stage(L, sp, STAGE_PREFIX_SPACE))
			return LM_ENOMEM;
		if (!b)
			return 0;
		/* byte_level.rs's regex ends in |\s+, which only ever takes
		 * what PRETOK_ISOLATED keeps as a gap anyway: same pieces. */
		if (!(pt = tail_pretok(L, sp)))
			return L->err->code;
		return wrap(L, path, pretok_add_regex(pt, PRETOK_PAT_GPT2, PRETOK_ISOLATED, 0, L->err));
	}
	if (!strcmp(type, "Split")) {
		enum pretok_behavior beh;
		char *re;
		int is_regex;

		if ((rc = get_pattern(L, o, path, &s, &sl, &is_regex)) ||
		    (rc = get_behavior(L, o, path, &beh)) || (rc = get_bool(L, o, path, "invert", 0, &a)))
			return rc;
		if (!(pt = tail_pretok(L, sp)))
			return L->err->code;
		re = is_regex ? strndup(s, sl) : quote_regex(s, sl);
		if (!re)
			return lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
		rc = pretok_add_regex(pt, re, beh, a ? PRETOK_INVERT : 0, L->err);
		free(re);
		return wrap(L, path, rc);
	}
	if (!strcmp(type, "Metaspace")) {
		const char *scheme;
		size_t scl;
		struct split_stage *st;
		int split;

		if ((rc = get_str(L, o, path, "replacement", 0, &s, &sl)) ||
		    (rc = get_str(L, o, path, "prepend_scheme", 0, &scheme, &scl)) ||
		    (rc = get_bool(L, o, path, "add_prefix_space", 1, &a)) ||
		    (rc = get_bool(L, o, path, "split", 1, &split)))
			return rc;
		if (!s) {
			s = METASPACE;
			sl = 3;
		}
		if (!sl || sl >= sizeof st->rep)
			return bad(L, at(p, sizeof p, path, "replacement"), "expected one character");
		/* "first" (prepend only at the very start of the input) is
		 * taken as "always": our splitter sees one text fragment at a
		 * time, and they differ only after an added token. */
		if (scheme && strcmp(scheme, "always") && strcmp(scheme, "first") && strcmp(scheme, "never"))
			return bad(L, at(p, sizeof p, path, "prepend_scheme"), "unknown scheme '%s'", scheme);
		if (!(st = add_stage(L, sp, STAGE_METASPACE)))
			return LM_ENOMEM;
		memcpy(st->rep, s, sl);
		st->rep_len = sl;
		st->prepend = scheme ? strcmp(scheme, "never") != 0 : a;
		if (split) {
			if ((rc = pretok_new(&st->pretok, NULL, L->err)))
				return wrap(L, path, rc);
			if (sl == 3 && !memcmp(s, METASPACE, 3)) {
				rc = pretok_add_named(st->pretok, "metaspace", L->err);
			} else {
				char *re = quote_regex(s, sl);

				rc = re ? pretok_add_regex(st->pretok, re, PRETOK_MERGED_WITH_NEXT, 0, L->err)
					: lm_fail(L->err, LM_ENOMEM, "out of memory");
				free(re);
			}
			return wrap(L, path, rc);
		}
		return 0;
	}
	if (!strcmp(type, "BertPreTokenizer") || !strcmp(type, "WhitespaceSplit") || !strcmp(type, "Digits")) {
		const char *name = type[0] == 'B' ? "bert" : type[0] == 'W' ? "whitespace-split" : "digits";

		if (type[0] == 'D') {
			if ((rc = get_bool(L, o, path, "individual_digits", 0, &a)))
				return rc;
			if (a)
				name = "digits-individual";
		}
		if (!(pt = tail_pretok(L, sp)))
			return L->err->code;
		return wrap(L, path, pretok_add_named(pt, name, L->err));
	}
	if (!strcmp(type, "Whitespace")) {
		/* whitespace.rs: the matches of \w+|[^\w\s]+ are the pieces. */
		if (!(pt = tail_pretok(L, sp)))
			return L->err->code;
		return wrap(L, path, pretok_add_regex(pt, "\\w+|[^\\w\\s]+", PRETOK_REMOVED, PRETOK_INVERT, L->err));
	}
	if (!strcmp(type, "Punctuation")) {
		enum pretok_behavior beh = PRETOK_ISOLATED;

		if (json_get(o, "behavior") && (rc = get_behavior(L, o, path, &beh)))
			return rc;
		if (!(pt = tail_pretok(L, sp)))
			return L->err->code;
		return wrap(L, path, pretok_add_punctuation(pt, beh, L->err));
	}
	if (!strcmp(type, "CharDelimiterSplit") || !strcmp(type, "UnicodeScripts"))
		return bad(L, at(p, sizeof p, path, "type"), "unsupported pre-tokenizer '%s'", type);
	return bad(L, at(p, sizeof p, path, "type"), "unknown pre-tokenizer '%s'", type);
}

static int load_pretokenizer(struct loader *L, const struct json_value *o)
{
	struct splitter *sp;
	int rc;

	if (!o || json_type(o) == JSON_NULL)
		return 0;
	sp = calloc(1, sizeof *sp);
	if (!sp)
		return lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
	rc = add_pretokenizer(L, sp, o, "pre_tokenizer");
	if (rc || !sp->n) {
		splitter_free(sp);
		return rc;
	}
	if (sp->n == 1 && sp->st[0].kind == STAGE_PRETOK) {
		/* One pretok pipeline: hand it over as is. */
		tok_use_pretok(L->tok, sp->st[0].pretok);
		sp->n = 0;
		splitter_free(sp);
		return 0;
	}
	L->tok->splitter.run = splitter_run;
	L->tok->splitter.free = splitter_release;
	L->tok->splitter.state = sp;
	return 0;
}

/* Whether a ByteLevel pre-tokenizer occurs anywhere in O. */
static int has_byte_level(const struct json_value *o)
{
	const char *t = type_of(o);
	const struct json_value *list = json_get(o, "pretokenizers");

	if (t && !strcmp(t, "ByteLevel"))
		return 1;
	for (size_t i = 0; i < json_array_len(list); i++)
		if (has_byte_level(json_array_get(list, i)))
			return 1;
	return 0;
}

/* ---- models ---- */

/* A token's text as the vocabulary stores it: raw bytes for byte-level. */
static int token_text(struct loader *L, const char *s, size_t len, char *buf, size_t *out_len,
		      const char **out)
{
	long n;

	*out = s;
	*out_len = len;
	if (!L->byte_level)
		return 0;
	n = bpe_unmap(s, len, buf);
	if (n >= 0) {
		*out = buf;
		*out_len = (size_t)n;
	}
	return 0;
}

static enum vocab_type byte_type(struct loader *L, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	if (L->byte_fallback && len == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' &&
	    strchr(hex, s[3]) && strchr(hex, s[4]) && s[3] && s[4])
		return VOCAB_BYTE;
	return VOCAB_NORMAL;
}

/* {"token": id, ...} (WordPiece, BPE). */
static int load_vocab_map(struct loader *L, const struct json_value *vocab)
{
	char *buf = NULL;
	size_t cap = 0;
	int rc = 0;

	if (json_type(vocab) != JSON_OBJECT)
		return bad(L, "model.vocab", "expected an object");
	for (size_t i = 0; i < json_object_len(vocab); i++) {
		const char *key = json_object_key(vocab, i), *text;
		size_t klen = strlen(key), tlen;
		int64_t id;
		char p[300];

		snprintf(p, sizeof p, "model.vocab[\"%.200s\"]", key);
		if ((rc = get_int(L, json_object_value(vocab, i), p, 0, HFJSON_MAX_ID, &id)))
			break;
		if (klen + 1 > cap) {
			char *nb = realloc(buf, klen + 1);

			if (!nb) {
				rc = lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
				break;
			}
			buf = nb;
			cap = klen + 1;
		}
		token_text(L, key, klen, buf, &tlen, &text);
		if ((rc = wrap(L, p, vocab_set(L->tok->vocab, (int32_t)id, text, tlen, 0,
					       byte_type(L, key, klen), L->err))))
			break;
	}
	free(buf);
	return rc;
}

static int unk_from_token(struct loader *L, const struct json_value *model, int32_t *unk)
{
	const char *s, *text;
	size_t len, tlen;
	char *buf;
	int rc;

	*unk = -1;
	if ((rc = get_str(L, model, "model", "unk_token", 0, &s, &len)) || !s)
		return rc;
	if (!(buf = malloc(len + 1)))
		return lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
	token_text(L, s, len, buf, &tlen, &text);
	*unk = vocab_find(L->tok->vocab, text, tlen);
	free(buf);
	return 0;
}

static int load_wordpiece(struct loader *L, const struct json_value *m)
{
	const struct json_value *mx = json_get(m, "max_input_chars_per_word");
	struct wordpiece *w;
	const char *prefix;
	size_t plen;
	int64_t max = 100;
	int32_t unk;
	int rc;

	L->is_wordpiece = 1;
	if ((rc = load_vocab_map(L, json_get(m, "vocab"))) ||
	    (rc = get_str(L, m, "model", "continuing_subword_prefix", 0, &prefix, &plen)) ||
	    (rc = unk_from_token(L, m, &unk)))
		return rc;
	if (mx && json_type(mx) != JSON_NULL &&
	    (rc = get_int(L, mx, "model.max_input_chars_per_word", 0, INT32_MAX, &max)))
		return rc;
	if (!prefix)
		prefix = "##";
	if ((rc = wordpiece_new(&w, L->tok->vocab, "", prefix, unk, (size_t)max, L->err)))
		return wrap(L, "model", rc);
	wordpiece_attach(L->tok, w);
	L->tok->special[TOK_UNK] = unk;
	L->tok->owned_prefix = strdup(prefix);
	if (!L->tok->owned_prefix)
		return lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
	L->tok->continuing_prefix = L->tok->owned_prefix;
	return 0;
}

/* One merge: "a b" or ["a", "b"]. */
static int merge_parts(struct loader *L, const struct json_value *v, const char *path,
		       const char **a, size_t *al, const char **b, size_t *bl)
{
	if (json_type(v) == JSON_STRING) {
		size_t len;
		const char *s = json_string(v, &len), *sp = memchr(s, ' ', len);

		if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)))
			return bad(L, path, "expected two tokens separated by one space");
		*a = s;
		*al = (size_t)(sp - s);
		*b = sp + 1;
		*bl = len - *al - 1;
		return 0;
	}
	if (json_type(v) == JSON_ARRAY && json_array_len(v) == 2 &&
	    json_type(json_array_get(v, 0)) == JSON_STRING && json_type(json_array_get(v, 1)) == JSON_STRING) {
		*a = json_string(json_array_get(v, 0), al);
		*b = json_string(json_array_get(v, 1), bl);
		return 0;
	}
	return bad(L, path, "expected \"a b\" or [\"a\", \"b\"]");
}

static int load_merges(struct loader *L, const struct json_value *merges)
{
	char *buf = NULL, *tb = NULL;
	size_t cap = 0;
	int rc = 0;

	if (!merges || json_type(merges) == JSON_NULL)
		return 0;
	if (json_type(merges) != JSON_ARRAY)
		return bad(L, "model.merges", "expected an array");
	for (size_t i = 0; i < json_array_len(merges); i++) {
		const char *a = NULL, *b = NULL, *t;
		size_t al = 0, bl = 0, tl;
		int32_t ia, ib, ir;
		char p[64];

		snprintf(p, sizeof p, "model.merges[%zu]", i);
		if ((rc = merge_parts(L, json_array_get(merges, i), p, &a, &al, &b, &bl)))
			break;
		if (al + bl + 1 > cap) {
			cap = 2 * (al + bl + 1);
			free(buf);
			free(tb);
			buf = malloc(cap);
			tb = malloc(cap);
			if (!buf || !tb) {
				rc = lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
				break;
			}
		}
		token_text(L, a, al, tb, &tl, &t);
		ia = vocab_find(L->tok->vocab, t, tl);
		token_text(L, b, bl, tb, &tl, &t);
		ib = vocab_find(L->tok->vocab, t, tl);
		memcpy(buf, a, al);
		memcpy(buf + al, b, bl);
		token_text(L, buf, al + bl, tb, &tl, &t);
		ir = vocab_find(L->tok->vocab, t, tl);
		if (ia < 0 || ib < 0 || ir < 0) {
			rc = bad(L, p, "merge '%.*s' + '%.*s' uses a token that is not in the vocabulary",
				 (int)(al > 60 ? 60 : al), a, (int)(bl > 60 ? 60 : bl), b);
			break;
		}
		if ((rc = wrap(L, p, vocab_add_merge(L->tok->vocab, ia, ib, ir, (uint32_t)i, L->err))))
			break;
	}
	free(buf);
	free(tb);
	return rc;
}

static int load_bpe(struct loader *L, const struct json_value *m)
{
	const struct json_value *drop = json_get(m, "dropout");
	const char *prefix, *suffix;
	size_t pl, sl;
	int fuse, ignore, rc;
	int32_t unk;

	if ((rc = get_bool(L, m, "model", "byte_fallback", 0, &L->byte_fallback)) ||
	    (rc = get_bool(L, m, "model", "fuse_unk", 0, &fuse)) ||
	    (rc = get_bool(L, m, "model", "ignore_merges", 0, &ignore)) ||
	    (rc = get_str(L, m, "model", "continuing_subword_prefix", 0, &prefix, &pl)) ||
	    (rc = get_str(L, m, "model", "end_of_word_suffix", 0, &suffix, &sl)))
		return rc;
	if (drop && json_type(drop) == JSON_NUMBER && json_number_double(drop) > 0 &&
	    json_number_double(drop) < 1)
		return bad(L, "model.dropout", "BPE dropout (random segmentation) is not supported");
	/* An empty affix is no affix (Qwen writes "" where Llama-3 writes null). */
	if (prefix && !pl)
		prefix = NULL;
	if (suffix && !sl)
		suffix = NULL;
	if ((rc = load_vocab_map(L, json_get(m, "vocab"))) || (rc = load_merges(L, json_get(m, "merges"))) ||
	    (rc = unk_from_token(L, m, &unk)))
		return rc;
	L->tok->special[TOK_UNK] = unk;
	if (L->byte_level && !L->byte_fallback && !prefix && !suffix) {
		struct bpe *b;

		if ((rc = bpe_new(&b, L->tok->vocab, ignore ? BPE_IGNORE_MERGES : 0, unk, L->err)))
			return wrap(L, "model", rc);
		tok_use_bpe(L->tok, b);
		return 0;
	}
	{
		struct spm_config c = {
			.mode = SPM_BY_MERGES, .unk_id = unk, .byte_fallback = L->byte_fallback,
			.fuse_unk = fuse, .ignore_merges = ignore, .cont_prefix = prefix, .end_suffix = suffix,
		};
		struct spm *s;

		if (L->byte_level)
			return bad(L, "model", "byte-level BPE with byte_fallback or subword affixes is not supported");
		if ((rc = spm_new(&s, L->tok->vocab, &c, L->err)))
			return wrap(L, "model", rc);
		spm_attach(L->tok, s);
	}
	return 0;
}

static int load_unigram(struct loader *L, const struct json_value *m)
{
	const struct json_value *vocab = json_get(m, "vocab"), *uv = json_get(m, "unk_id");
	size_t n = json_array_len(vocab);
	struct unigram *u;
	double *scores;
	int64_t unk = -1;
	int rc = 0;

	if (json_type(vocab) != JSON_ARRAY)
		return bad(L, "model.vocab", "expected an array of [piece, score]");
	if ((rc = get_bool(L, m, "model", "byte_fallback", 0, &L->byte_fallback)))
		return rc;
	if (!uv || json_type(uv) == JSON_NULL)
		return bad(L, "model.unk_id", "a Unigram model without an unknown token is not supported");
	if ((rc = get_int(L, uv, "model.unk_id", 0, n ? (int64_t)n - 1 : 0, &unk)))
		return rc;
	if (!n)
		return bad(L, "model.vocab", "empty");
	scores = malloc(n * sizeof *scores);
	if (!scores)
		return lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
	for (size_t i = 0; i < n; i++) {
		const struct json_value *e = json_array_get(vocab, i);
		const char *s;
		size_t len;
		char p[64];

		snprintf(p, sizeof p, "model.vocab[%zu]", i);
		if (json_type(e) != JSON_ARRAY || json_array_len(e) != 2 ||
		    json_type(json_array_get(e, 0)) != JSON_STRING ||
		    json_type(json_array_get(e, 1)) != JSON_NUMBER) {
			rc = bad(L, p, "expected [piece, score]");
			goto out;
		}
		s = json_string(json_array_get(e, 0), &len);
		scores[i] = json_number_double(json_array_get(e, 1));
		if ((rc = wrap(L, p, vocab_set(L->tok->vocab, (int32_t)i, s, len, (float)scores[i],
					       (int64_t)i == unk ? VOCAB_UNKNOWN : byte_type(L, s, len),
					       L->err))))
			goto out;
	}
	if ((rc = unigram_new(&u, L->tok->vocab, scores, n, (int32_t)unk, L->byte_fallback, 1, L->err))) {
		rc = wrap(L, "model", rc);
		goto out;
	}
	unigram_attach(L->tok, u);
	L->tok->special[TOK_UNK] = (int32_t)unk;
out:
	free(scores);
	return rc;
}

static int load_model(struct loader *L, const struct json_value *m)
{
	const char *type;

	if (json_type(m) != JSON_OBJECT)
		return bad(L, "model", "missing or not an object");
	type = type_of(m);
	if (!type) {
		/* Files written before "type" was serialised: tell by the fields. */
		if (json_type(json_get(m, "vocab")) == JSON_ARRAY)
			type = "Unigram";
		else if (json_get(m, "merges"))
			type = "BPE";
		else if (json_get(m, "max_input_chars_per_word"))
			type = "WordPiece";
		else
			return bad(L, "model.type", "missing");
	}
	if (!strcmp(type, "WordPiece"))
		return load_wordpiece(L, m);
	if (!strcmp(type, "BPE"))
		return load_bpe(L, m);
	if (!strcmp(type, "Unigram"))
		return load_unigram(L, m);
	if (!strcmp(type, "WordLevel"))
		return bad(L, "model.type", "unsupported model 'WordLevel'");
	return bad(L, "model.type", "unknown model '%s'", type);
}

/* ---- added tokens ---- */

static int load_added(struct loader *L, const struct json_value *list)
{
	int rc;

	if (!list || json_type(list) == JSON_NULL)
		return 0;
	if (json_type(list) != JSON_ARRAY)
		return bad(L, "added_tokens", "expected an array");
	for (size_t i = 0; i < json_array_len(list); i++) {
		const struct json_value *o = json_array_get(list, i);
		const char *s, *have;
		size_t len, hl;
		int64_t id;
		int special, lstrip, rstrip, single, normalized;
		struct tok_added *a;
		char p[64], q[80];

		snprintf(p, sizeof p, "added_tokens[%zu]", i);
		if (json_type(o) != JSON_OBJECT)
			return bad(L, p, "expected an object");
		if ((rc = get_str(L, o, p, "content", 1, &s, &len)) ||
		    (rc = get_bool(L, o, p, "special", 0, &special)) ||
		    (rc = get_bool(L, o, p, "lstrip", 0, &lstrip)) ||
		    (rc = get_bool(L, o, p, "rstrip", 0, &rstrip)) ||
		    (rc = get_bool(L, o, p, "single_word", 0, &single)) ||
		    (rc = get_bool(L, o, p, "normalized", !special, &normalized)))
			return rc;
		if (!json_get(o, "id"))
			return bad(L, at(q, sizeof q, p, "id"), "missing");
		if ((rc = get_int(L, json_get(o, "id"), at(q, sizeof q, p, "id"), 0, HFJSON_MAX_ID, &id)))
			return rc;
		if (!len)
			return bad(L, at(q, sizeof q, p, "content"), "empty");
		have = vocab_text(L->tok->vocab, (int32_t)id, &hl);
		if (!have) {
			/* Not in the model: reachable by id (decode) and by
			 * added-token matching only, as HF's AddedVocabulary. */
			if ((rc = wrap(L, p, vocab_set_hidden(L->tok->vocab, (int32_t)id, s, len, 0,
							      special ? VOCAB_CONTROL : VOCAB_USER_DEFINED,
							      L->err))))
				return rc;
		}
		if ((rc = wrap(L, p, tok_add_added(L->tok, s, len, (int32_t)id, special, L->err))))
			return rc;
		a = &L->tok->added[L->tok->n_added - 1];
		a->lstrip = lstrip;
		a->rstrip = rstrip;
		a->single_word = single;
		a->normalized = normalized;
	}
	return 0;
}

/* ---- post-processor ---- */

static int push_id(struct loader *L, int32_t **ids, size_t *n, int32_t id)
{
	int32_t *p = realloc(*ids, (*n + 1) * sizeof *p);

	if (!p)
		return lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
	p[(*n)++] = id;
	*ids = p;
	return 0;
}

/* ["[CLS]", 101] of BertProcessing/RobertaProcessing. */
static int pair_id(struct loader *L, const struct json_value *o, const char *path, const char *key,
		   int32_t *id)
{
	const struct json_value *v = json_get(o, key);
	char p[300];
	int64_t x;
	int rc;

	at(p, sizeof p, path, key);
	if (json_type(v) != JSON_ARRAY || json_array_len(v) != 2 ||
	    json_type(json_array_get(v, 0)) != JSON_STRING)
		return bad(L, p, "expected [token, id]");
	if ((rc = get_int(L, json_array_get(v, 1), p, 0, INT32_MAX - 1, &x)))
		return rc;
	*id = (int32_t)x;
	return 0;
}

static int add_template(struct loader *L, const struct json_value *o, const char *path)
{
	const struct json_value *single = json_get(o, "single"), *specials = json_get(o, "special_tokens");
	int seen_a = 0, rc;
	char p[300];

	if (json_type(single) != JSON_ARRAY)
		return bad(L, at(p, sizeof p, path, "single"), "expected an array");
	for (size_t i = 0; i < json_array_len(single); i++) {
		const struct json_value *it = json_array_get(single, i), *sp, *ids;
		const char *name;

		at_i(p, sizeof p, path, "single", i);
		if (json_type(it) != JSON_OBJECT || json_object_len(it) != 1)
			return bad(L, p, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
		if (!strcmp(json_object_key(it, 0), "Sequence")) {
			seen_a = 1;
			continue;
		}
		if (strcmp(json_object_key(it, 0), "SpecialToken"))
			return bad(L, p, "unknown template piece '%s'", json_object_key(it, 0));
		name = json_string(json_get(json_object_value(it, 0), "id"), NULL);
		if (!name)
			return bad(L, p, "SpecialToken without an id");
		sp = json_get(specials, name);
		ids = json_get(sp, "ids");
		if (json_type(ids) != JSON_ARRAY)
			return bad(L, at(p, sizeof p, path, "special_tokens"), "no ids for '%s'", name);
		for (size_t k = 0; k < json_array_len(ids); k++) {
			int64_t id;

			snprintf(p, sizeof p, "%s.special_tokens[\"%.100s\"].ids[%zu]", path, name, k);
			if ((rc = get_int(L, json_array_get(ids, k), p, 0, INT32_MAX - 1, &id)))
				return rc;
			if ((rc = seen_a ? push_id(L, &L->tok->suffix, &L->tok->n_suffix, (int32_t)id)
					 : push_id(L, &L->tok->prefix, &L->tok->n_prefix, (int32_t)id)))
				return rc;
		}
	}
	return 0;
}

static int add_post(struct loader *L, const struct json_value *o, const char *path)
{
	const char *type;
	int32_t cls, sep;
	char p[300];
	int rc;

	if ((rc = need_object(L, o, path, &type)))
		return rc;
	if (!strcmp(type, "Sequence")) {
		const struct json_value *list = json_get(o, "processors");

		if (json_type(list) != JSON_ARRAY)
			return bad(L, at(p, sizeof p, path, "processors"), "expected an array");
		for (size_t i = 0; i < json_array_len(list); i++)
			if ((rc = add_post(L, json_array_get(list, i), at_i(p, sizeof p, path, "processors", i))))
				return rc;
		return 0;
	}
	if (!strcmp(type, "ByteLevel"))
		return 0;   /* offsets only */
	if (!strcmp(type, "TemplateProcessing"))
		return add_template(L, o, path);
	if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
		if ((rc = pair_id(L, o, path, "cls", &cls)) || (rc = pair_id(L, o, path, "sep", &sep)) ||
		    (rc = push_id(L, &L->tok->prefix, &L->tok->n_prefix, cls)) ||
		    (rc = push_id(L, &L->tok->suffix, &L->tok->n_suffix, sep)))
			return rc;
		L->tok->special[TOK_CLS] = cls;
		L->tok->special[TOK_SEP] = sep;
		return 0;
	}
	return bad(L, at(p, sizeof p, path, "type"), "unknown post-processor '%s'", type);
}

/* ---- decoder ---- */

static int add_decoder(struct loader *L, const struct json_value *o, const char *path)
{
	const char *type, *s;
	size_t sl;
	char p[300];
	int rc;

	if ((rc = need_object(L, o, path, &type)))
		return rc;
	if (!strcmp(type, "Sequence")) {
		const struct json_value *list = json_get(o, "decoders");

		if (json_type(list) != JSON_ARRAY)
			return bad(L, at(p, sizeof p, path, "decoders"), "expected an array");
		for (size_t i = 0; i < json_array_len(list); i++)
			if ((rc = add_decoder(L, json_array_get(list, i), at_i(p, sizeof p, path, "decoders", i))))
				return rc;
		return 0;
	}
	if (!strcmp(type, "ByteLevel")) {
		L->tok->decoder = TOK_DECODE_BYTES;
		return 0;
	}
	if (!strcmp(type, "WordPiece")) {
		if ((rc = get_str(L, o, path, "prefix", 0, &s, &sl)) ||
		    (rc = get_bool(L, o, path, "cleanup", 1, &L->tok->decode_cleanup)))
			return rc;
		L->tok->decoder = TOK_DECODE_WORDPIECE;
		if (s) {
			free(L->tok->owned_prefix);
			if (!(L->tok->owned_prefix = strndup(s, sl)))
				return lm_fail(L->err, LM_ENOMEM, "%s: out of memory", L->name);
			L->tok->continuing_prefix = L->tok->owned_prefix;
		}
		return 0;
	}
	if (!strcmp(type, "Metaspace")) {
		const char *scheme;
		int a;

		if ((rc = get_str(L, o, path, "prepend_scheme", 0, &scheme, &sl)) ||
		    (rc = get_bool(L, o, path, "add_prefix_space", 1, &a)))
			return rc;
		L->tok->decoder = TOK_DECODE_METASPACE;
		L->tok->decode_strip_space = scheme ? strcmp(scheme, "never") != 0 : a;
		return 0;
	}
	if (!strcmp(type, "Replace") || !strcmp(type, "ByteFallback") || !strcmp(type, "Fuse")) {
		/* Llama-2's Sequence [Replace ▁->' ', ByteFallback, Fuse, Strip]. */
		L->tok->decoder = TOK_DECODE_METASPACE;
		return 0;
	}
	if (!strcmp(type, "Strip")) {
		const struct json_value *start = json_get(o, "start");

		L->tok->decode_strip_space = json_type(start) == JSON_NUMBER && json_number_double(start) >= 1;
		return 0;
	}
	if (!strcmp(type, "BPEDecoder") || !strcmp(type, "CTC"))
		return 0;   /* token texts as they are */
	return bad(L, at(p, sizeof p, path, "type"), "unknown decoder '%s'", type);
}

/* ---- the file ---- */

static void set_special_by_text(struct loader *L, enum tok_special which, const char *const *names)
{
	for (; *names && L->tok->special[which] < 0; names++)
		L->tok->special[which] = vocab_find(L->tok->vocab, *names, strlen(*names));
}

int tok_load_hfjson_memory(struct tokenizer *tok, const char *text, size_t len, const char *name,
			   struct lm_error *err)
{
	static const char *const cls[] = { "[CLS]", NULL }, *const sep[] = { "[SEP]", NULL },
		*const pad[] = { "[PAD]", "<pad>", NULL }, *const mask[] = { "[MASK]", "<mask>", NULL },
		*const bos[] = { "<s>", "<|begin_of_text|>", NULL },
		*const eos[] = { "</s>", "<|end_of_text|>", "<|endoftext|>", NULL };
	struct loader L = { .name = name, .tok = tok, .err = err };
	struct json_doc *doc = json_doc_new();
	struct json_value *root, *post, *dec;
	const char *model_type;
	int rc;

	if (!doc)
		return lm_fail(err, LM_ENOMEM, "%s: out of memory", name);
	if ((rc = json_parse(doc, text, len, &root, err))) {
		lm_error_prefix(err, "%s: ", name);
		goto out;
	}
	if (json_type(root) != JSON_OBJECT) {
		rc = lm_fail(err, LM_EFORMAT, "%s: not a JSON object", name);
		goto out;
	}
	if (!tok->vocab && (rc = vocab_new(&tok->vocab, err)))
		goto out;
	L.byte_level = has_byte_level(json_get(root, "pre_tokenizer")) ||
		       (type_of(json_get(root, "decoder")) &&
			!strcmp(type_of(json_get(root, "decoder")), "ByteLevel"));
	model_type = type_of(json_get(root, "model"));
	if (L.byte_level && model_type && strcmp(model_type, "BPE"))
		L.byte_level = 0;   /* ByteLevel around a non-BPE model keeps token texts as spelt */
	if ((rc = load_model(&L, json_get(root, "model"))) ||
	    (rc = load_added(&L, json_get(root, "added_tokens"))) ||
	    (rc = load_normalizer(&L, json_get(root, "normalizer"))) ||
	    (rc = load_pretokenizer(&L, json_get(root, "pre_tokenizer"))))
		goto out;
	post = json_get(root, "post_processor");
	if (post && json_type(post) != JSON_NULL && (rc = add_post(&L, post, "post_processor")))
		goto out;
	dec = json_get(root, "decoder");
	if (L.is_wordpiece)
		tok->decoder = TOK_DECODE_WORDPIECE;
	if (dec && json_type(dec) != JSON_NULL && (rc = add_decoder(&L, dec, "decoder")))
		goto out;
	{
		const struct json_value *pid = json_get(json_get(root, "padding"), "pad_id");
		int64_t x;

		if (pid && !json_number_int64(pid, &x) && x >= 0 && x < INT32_MAX)
			tok->special[TOK_PAD] = (int32_t)x;
	}
	set_special_by_text(&L, TOK_CLS, cls);
	set_special_by_text(&L, TOK_SEP, sep);
	set_special_by_text(&L, TOK_PAD, pad);
	set_special_by_text(&L, TOK_MASK, mask);
	set_special_by_text(&L, TOK_BOS, bos);
	set_special_by_text(&L, TOK_EOS, eos);
	free(tok->name);
	if (asprintf(&tok->name, "hfjson:%s", model_type ? model_type : "model") < 0) {
		tok->name = NULL;
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", name);
	}
out:
	json_doc_free(doc);
	return rc;
}

int tok_load_hfjson(struct tokenizer *tok, const char *path, struct lm_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_fail_errno(err, "%s", path);
	if (fstat(fd, &st)) {
		rc = lm_fail_errno(err, "%s", path);
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r ? lm_fail_errno(err, "%s", path)
			       : lm_fail(err, LM_EFORMAT, "%s: file shrank while reading", path);
			goto out;
		}
		got += (size_t)r;
	}
	rc = tok_load_hfjson_memory(tok, buf, got, path, err);
out:
	free(buf);
	close(fd);
	return rc;
}

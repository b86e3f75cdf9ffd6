/* pretok.h - pre-tokenizers: split text into the pieces a BPE/WordPiece/
 * Unigram model encodes one at a time.
 *
 * A struct pretok is a pipeline of stages.  The first stage splits the whole
 * text; every later stage splits each piece of the stage before it on its
 * own (a regex stage sees the piece as its whole subject: \s+(?!\S) and $
 * cannot look past the piece).  This is how llama.cpp applies the list of
 * regexes of a tokenizer.ggml.pre name (llama-vocab.cpp, unicode.cpp
 * unicode_regex_split) and how Hugging Face applies a Sequence of
 * pre-tokenizers.
 *
 * A regex stage finds leftmost-first matches (Perl/PCRE/Oniguruma/Rust regex
 * semantics) and turns matches and the text between them into pieces by a
 * behaviour (Hugging Face SplitDelimiterBehavior).  PRETOK_ISOLATED is what
 * llama.cpp and tiktoken do: every match and every non-empty gap between
 * matches is a piece, so the pieces always concatenate back to the text.
 *
 * The regexes of GPT-2, cl100k (= Llama-3), o200k, Qwen2, Tekken, the
 * llama.cpp lists of DeepSeek, Falcon, StarCoder, Bloom/Poro/Viking and the
 * default list are run by hand-written scanners, recognised by their exact
 * pattern text; any other pattern runs through PCRE2 (UTF + UCP, JIT when
 * available).  Scanners and PCRE2 give identical pieces (tests/unit/
 * test_pretok.c checks this), with two deliberate exceptions where the
 * scanners follow the reference tokenizers (Rust regex, Oniguruma) and
 * PCRE2 differs:
 *   - \s is Unicode White_Space (PropList.txt): U+0009..U+000D, U+0020,
 *     U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
 *     U+205F, U+3000.  PCRE2 also counts U+180E.
 *   - \p{..} classes are Unicode 15 (utf8proc); PCRE2 10.42 has Unicode 14.
 *
 * Text need not be valid UTF-8.  Each byte that does not begin a well-formed
 * sequence (RFC 3629) is one character with the properties of U+FFFD (So: a
 * symbol, neither letter, number, mark, punctuation nor space).  That gives
 * the same boundaries the references produce after they replace bad bytes
 * by U+FFFD (llama.cpp unicode_cpts_from_utf8, JS TextDecoder, Python
 * errors="replace"); the bytes in the pieces are the caller's own.  Pieces
 * never split a well-formed sequence and never read outside TEXT[0..LEN).
 *
 * A pretok is immutable after construction: pretok_split may run on it from
 * many threads at once.
 */
#ifndef LMPIPE_TOKENIZE_PRETOK_H
#define LMPIPE_TOKENIZE_PRETOK_H

#include <stddef.h>

#include "error.h"

struct pretok;

/* Called once per piece, in text order; LEN > 0.  A nonzero return stops the
 * split and pretok_split returns that value. */
typedef int (*pretok_piece_fn)(void *arg, const char *piece, size_t len);

/* Hugging Face tokenizers SplitDelimiterBehavior. */
enum pretok_behavior {
	PRETOK_ISOLATED = 0,         /* matches and gaps are pieces */
	PRETOK_REMOVED,              /* gaps are pieces, matches dropped */
	PRETOK_MERGED_WITH_PREVIOUS, /* each match ends the piece before it */
	PRETOK_MERGED_WITH_NEXT,     /* each match starts the piece after it */
	PRETOK_CONTIGUOUS,           /* adjacent matches form one piece */
};

enum pretok_flags {
	PRETOK_INVERT = 1,     /* HF Split invert: the gaps are the "matches" */
	PRETOK_FORCE_PCRE = 2, /* never use a hand scanner (tests, benchmarks) */
};

/* Names accepted by pretok_new / pretok_add_named besides raw regexes.
 *
 * llama.cpp tokenizer.ggml.pre names (llama-vocab.cpp) map to the list of
 * regexes llama.cpp applies for them.  Where llama.cpp rewrote a
 * tokenizer.json regex only because std::regex lacks (?i:) or \p{Lu}
 * (LLAMA3, QWEN2, TEKKEN, GPT4O), the name maps to the original
 * tokenizer.json regex, which is what the conformance outputs (Hugging Face
 * AutoTokenizer) were produced with.
 *   gpt-2 phi-2 jina-es jina-de jina-v1-en jina-v2-es jina-v2-de
 *   jina-v2-code roberta-bpe gigachat a.x-4.0 mellum exaone4 mpt olmo jais
 *   trillion granite-docling gpt-neox            GPT-2
 *   llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2
 *   dbrx smaug-bpe chatglm-bpe glm4              cl100k / Llama-3
 *   qwen2 deepseek-r1-qwen kormo megrez stablelm2 hunyuan grok-2   Qwen2
 *   starcoder refact command-r smollm codeshell exaone minerva-7b
 *                                                \p{N}, GPT-2
 *   falcon          [\p{P}$+<=>^~|`]+, GPT-2, [0-9][0-9][0-9]
 *   default         [\p{P}$+<=>^~|]+, GPT-2, \p{N}+, [0-9][0-9][0-9]
 *   deepseek-llm    [\r\n], \s?[Latin/Greek/...]+, \s?[punct]+, \s+$,
 *                   [CJK/Hangul]+, \p{N}+
 *   deepseek-coder  [\r\n], \s?\p{L}+, \s?\p{P}+, [CJK/Hangul]+, \p{N}
 *   deepseek-v3 hunyuan-dense   \p{N}{1,3}, [CJK/kana]+, DeepSeek-V3 regex
 *   bloom poro-chat gpt3-finnish    " ?[^(\s|.,!?…。，、।۔،)]+"
 *   viking          the same, then \p{N}
 *   tekken          Tekken (Mistral Nemo) regex
 *   gpt-4o llama4 minimax-m2    o200k
 *   seed-coder bailingmoe bailingmoe2 llada-moe chameleon
 * tiktoken encodings (pat_str of tiktoken_ext/openai_public.py):
 *   r50k_base p50k_base p50k_edit gpt2 (tiktoken), cl100k_base, o200k_base
 * Hugging Face pre-tokenizers without a regex:
 *   bert (BertPreTokenizer: split on White_Space removed, then each
 *   punctuation char isolated), whitespace-split (WhitespaceSplit),
 *   digits (Digits individual_digits=false), digits-individual,
 *   punctuation (Punctuation, Isolated), metaspace (split before each
 *   U+2581, Metaspace split=true; the replacement itself is the caller's). */
#define PRETOK_PAT_GPT2 \
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define PRETOK_PAT_R50K \
	"'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define PRETOK_PAT_CL100K \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|" \
	" ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* llama.cpp's rewrite of PRETOK_PAT_CL100K without (?i:); differs only on
 * U+017F, which (?i) folds to 's'. */
#define PRETOK_PAT_LLAMA3_LLAMACPP \
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|" \
	"[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
	"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PRETOK_PAT_QWEN2 \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|" \
	" ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PRETOK_PAT_QWEN2_LLAMACPP \
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|" \
	"[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
	"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PRETOK_PAT_O200K \
	"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+" \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" \
	"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*" \
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" \
	"\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define PRETOK_PAT_TEKKEN \
	"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|" \
	"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|" \
	"\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Build a pipeline from SPEC: NULL or "" gives an empty pipeline (the whole
 * text is one piece; add stages with pretok_add_*), a name above gives its
 * stages, anything else is one regex stage with PRETOK_ISOLATED.  Returns 0,
 * LM_EINVAL (bad regex, with PCRE2's message and offset) or LM_ENOMEM. */
int pretok_new(struct pretok **p, const char *spec, struct lm_error *err);
void pretok_free(struct pretok *p);

/* Append one regex stage (Hugging Face Split: pattern, behavior, invert). */
int pretok_add_regex(struct pretok *p, const char *regex, enum pretok_behavior behavior,
		     unsigned flags, struct lm_error *err);

/* Append the stages of NAME (list above); LM_EINVAL when unknown. */
int pretok_add_named(struct pretok *p, const char *name, struct lm_error *err);

/* Append a Hugging Face Punctuation pre-tokenizer with BEHAVIOR
 * (punctuation = Unicode P* or ASCII punctuation, Rust
 * char::is_ascii_punctuation). */
int pretok_add_punctuation(struct pretok *p, enum pretok_behavior behavior, struct lm_error *err);

/* Whether NAME is a name pretok_add_named knows. */
int pretok_name_known(const char *name);

/* Split TEXT[0..LEN) and call FN for each piece.  Returns 0, FN's nonzero
 * return, or LM_ENOMEM (PCRE2 match data for a long piece). */
int pretok_split(const struct pretok *p, const char *text, size_t len,
		 pretok_piece_fn fn, void *arg);

/* Number of stages, and how many run through PCRE2 rather than a scanner. */
size_t pretok_stages(const struct pretok *p);
size_t pretok_pcre_stages(const struct pretok *p);

/* Regex of stage I (NULL past the last), with its behaviour and
 * PRETOK_INVERT flag: for diagnostics, and for tests that rebuild a
 * pipeline with PRETOK_FORCE_PCRE. */
const char *pretok_stage(const struct pretok *p, size_t i, enum pretok_behavior *behavior,
			 unsigned *flags);

#endif

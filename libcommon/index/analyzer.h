/* analyzer.h - text to index terms, in the manner of Lucene's EnglishAnalyzer.
 *
 * The chain, applied to UTF-8 text:
 *
 *  1. Word boundaries as Unicode UAX #29 (Lucene's StandardTokenizer), with
 *     character classes approximated by ranges rather than the full
 *     Unicode property tables:
 *      - letters (Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic,
 *        Hangul, Katakana, ... and any code point not listed below as
 *        punctuation, symbol or space) and decimal digits join into words
 *        (WB5, WB8, WB9, WB10: "covid19" is one word);
 *      - '.' and apostrophes (' U+2019 U+FF07 ...) join letters to letters
 *        and digits to digits (WB6/7, WB11/12: "U.S.A", "don't", "3.14");
 *        ':' and U+00B7 join letters only; ',' and ';' join digits only
 *        ("1,000");
 *      - '_' and other connectors join anything (WB13a/b: "foo_bar");
 *      - combining marks and joiners stay with the character before them,
 *        format characters (soft hyphen, ZWNJ, bidi marks) inside a word
 *        are dropped;
 *      - each Han ideograph and Hiragana character is a word of its own, as
 *        StandardTokenizer emits them;
 *      - anything else (spaces, hyphens, other punctuation, symbols, emoji,
 *        ill-formed UTF-8) separates words;
 *      - a word longer than ANALYZER_WORD_MAX code points is cut into
 *        pieces of that length (StandardTokenizer's maxTokenLength).
 *  2. Unicode simple case folding (CaseFolding.txt, statuses C and S) for
 *     Basic Latin, Latin-1, Latin Extended-A/B and Additional, Greek and
 *     Greek Extended, Cyrillic, Armenian, fullwidth Latin, and the letter-
 *     like symbols that fold into them (Kelvin, Angstrom, Ohm).  U+0130 folds
 *     to 'i' as Lucene's lowercasing does.
 *  3. Possessives: a trailing 's after an apostrophe (U+0027, U+2019 or
 *     U+FF07) is removed (EnglishPossessiveFilter): "john's" -> "john".
 *  4. With ANALYZER_STOPWORDS, Lucene's English stop set is dropped
 *     (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, 33 words: a an and are as at
 *     be but by for if in into is it no not of on or such that the their
 *     then there these they this to was will with).
 *  5. With ANALYZER_STEM, the Porter stemmer (stem.h).
 *
 * Tokens are produced one at a time from a stream over the caller's text;
 * nothing is allocated.  The flags are recorded in every index built with
 * them, so a query is analyzed exactly as the documents were.
 */
#ifndef LMPIPE_INDEX_ANALYZER_H
#define LMPIPE_INDEX_ANALYZER_H

#include <stddef.h>
#include <stdint.h>

enum analyzer_flag {
	ANALYZER_STOPWORDS = 1u << 0,
	ANALYZER_STEM = 1u << 1,
};

#define ANALYZER_DEFAULT (ANALYZER_STOPWORDS | ANALYZER_STEM)
#define ANALYZER_ALL_FLAGS (ANALYZER_STOPWORDS | ANALYZER_STEM)
/* Bumped whenever any step above changes the terms produced; indexes carry
 * it and refuse to be queried by a different analyzer. */
#define ANALYZER_VERSION 1u
#define ANALYZER_WORD_MAX 255
/* Longest token in bytes: folding may turn a 2-byte letter into 3 bytes, so
 * 4 bytes per code point bounds it. */
#define ANALYZER_TOKEN_MAX (4 * ANALYZER_WORD_MAX)

struct analyzer_stream {
	const unsigned char *p, *end;   /* text not yet scanned */
	unsigned flags;
	size_t len;                     /* length of tok */
	char tok[ANALYZER_TOKEN_MAX + 1]; /* the current token, NUL-terminated */
};

/* Start tokenizing TEXT[0..LEN) (which must outlive the stream) with FLAGS
 * (ANALYZER_*). */
void analyzer_begin(struct analyzer_stream *s, unsigned flags, const char *text, size_t len);

/* The next term into s->tok / s->len: 1, or 0 at the end of the text. */
int analyzer_next(struct analyzer_stream *s);

/* Whether WORD (lowercase) is in the English stop set. */
int analyzer_is_stopword(const char *word, size_t len);

/* "stopwords,stem", "stopwords", "stem" or "none" for FLAGS. */
const char *analyzer_flags_name(unsigned flags);

#endif

/* stem.h - the Porter stemmer for English.
 *
 * Implements M. F. Porter, "An algorithm for suffix stripping", Program
 * 14(3), 1980, with the two departures of Porter's own reference
 * implementation (the one behind the published voc.txt/output.txt pairs and
 * Lucene's PorterStemFilter): step 2 maps "bli" to "ble" (instead of "abli"
 * to "able") and adds "logi" -> "log"; and words of one or two letters are
 * left alone.
 *
 * The word is lowercase bytes.  Bytes other than a, e, i, o, u (and y after
 * a consonant) count as consonants, so UTF-8 letters and digits pass
 * through as Lucene's char-based stemmer treats them; suffixes removed are
 * ASCII, so a multi-byte sequence is never cut.
 */
#ifndef LMPIPE_INDEX_STEM_H
#define LMPIPE_INDEX_STEM_H

#include <stddef.h>

/* Stem WORD[0..LEN) in place; returns the new length (<= LEN; a stem never
 * grows past the word, as every replacement is no longer than the suffix
 * it replaces plus the letter step 1b may add back). */
size_t stem_porter(char *word, size_t len);

#endif

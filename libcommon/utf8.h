/* utf8.h - UTF-8 validation, decoding and encoding (RFC 3629).
 *
 * Well-formed UTF-8 is the byte grammar of RFC 3629 section 4 (Unicode
 * Table 3-7): no overlong forms, no surrogates U+D800..U+DFFF, nothing above
 * U+10FFFF, no truncated sequences.  NUL (U+0000) is well-formed here;
 * callers that forbid it check for it themselves.
 */
#ifndef LMPIPE_UTF8_H
#define LMPIPE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Offset of the first byte that does not begin a well-formed sequence, or N
 * when all N bytes are well-formed.  ASCII runs are skipped eight bytes at a
 * time. */
size_t utf8_validate(const void *s, size_t n);

/* Decode the sequence at S (N bytes available) into *CP.  Returns its length
 * 1..4, or 0 when the bytes are not a well-formed sequence or end too soon. */
int utf8_decode(const void *s, size_t n, uint32_t *cp);

/* Encode CP into OUT.  Returns the length 1..4, or 0 for a surrogate or a
 * value above U+10FFFF. */
int utf8_encode(uint32_t cp, char out[4]);

/* Number of bytes at the end of S[0..N) that begin a sequence that may
 * still be completed by more input (0..3).  A streaming decoder emits
 * S[0..N - tail) and keeps the tail for the next chunk. */
size_t utf8_incomplete_tail(const void *s, size_t n);

#endif

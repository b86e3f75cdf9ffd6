/* grammar.h - GBNF grammars and constrained decoding.
 *
 * The language is llama.cpp's GBNF (grammars/README.md there):
 *
 *   rule    ::= NAME "::=" alternatives      one rule per line; a line break
 *                                            ends a rule except inside ( ),
 *                                            after "::=" and after "|"
 *   alternatives: sequence ("|" sequence)*   an empty sequence matches ""
 *   terms:  "literal"  [class]  [^class]  .  NAME  ( alternatives )
 *   suffixes: * + ? {m} {m,} {m,n} {,n}
 *   escapes in literals and classes: \n \r \t \\ \" \' \[ \] \- \^ \/ and
 *   \xHH \uHHHH \UHHHHHHHH (code points); # starts a comment to the end of
 *   the line.  Names are letters, digits, '-' and '_'.  The start rule is
 *   "root".
 *
 * Refused with a position ("FILE:LINE:COL: message"): syntax errors,
 * references to undefined rules, a rule defined twice, a missing root,
 * left recursion (a rule that can reach itself without consuming a
 * character, which a top-down matcher cannot run), repetition counts above
 * GRAMMAR_MAX_REPEAT, grammars that expand past GRAMMAR_MAX_SYMBOLS, and
 * llama.cpp's token references (<[id]>, <text>), which are not supported.
 *
 * Matching is over Unicode code points.  The state of a match is a set of
 * stacks, as in llama.cpp's matcher: each stack is a path through the rules
 * whose top is the character class to match next (an empty stack: the root
 * is complete).  A code point advances every stack whose class admits it;
 * the others are dropped; the match fails when none is left.  Bytes are fed
 * as UTF-8: a character split over two feeds (two tokens) is held until it
 * is whole, and a partial character is accepted only if some stack admits
 * a code point it could still become.  Ill-formed UTF-8 is rejected.
 * Stacks deeper than GRAMMAR_MAX_DEPTH are dropped (nesting that deep is
 * refused), and so are the paths of one step beyond its first 32768
 * expansions: only grammars with exponentially many ways to match the
 * same text (nested repetitions such as ("a"+)+) get there, and they may
 * then refuse text they describe.
 *
 * Vocabulary masking (grammar_vocab): the tokens' bytes are put in a trie
 * once; each step walks it depth first from the current state, advancing
 * the stack set one code point at a time and abandoning a subtree as soon
 * as no stack survives, so a token costs nothing once its first rejected
 * character is shared with others.
 */
#ifndef LMPIPE_GRAMMAR_H
#define LMPIPE_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
	GRAMMAR_MAX_REPEAT = 10000,
	GRAMMAR_MAX_SYMBOLS = 1 << 20,
	GRAMMAR_MAX_DEPTH = 1024,
};

struct grammar;

/* Compile SRC[0..LEN).  NAME (a file name) starts error messages, which
 * give the 1-based line and column: "NAME:3:14: expected '::='". */
int grammar_parse(struct grammar **g, const char *src, size_t len, const char *name, struct lm_error *err);
void grammar_free(struct grammar *g);

/* A match in progress. */
struct grammar_state;

int grammar_state_new(struct grammar_state **s, const struct grammar *g, struct lm_error *err);
void grammar_state_free(struct grammar_state *s);
/* Back to the start (nothing matched); LM_ENOMEM when out of memory. */
int grammar_state_reset(struct grammar_state *s);
/* Feed BYTES[0..N).  Returns 1 and advances when they are accepted (a
 * trailing partial character included), 0 and leaves S as it was when
 * they are not, LM_ENOMEM when out of memory. */
int grammar_accept(struct grammar_state *s, const char *bytes, size_t n);
/* 1 when the text so far is a complete sentence of the grammar (and no
 * partial character is pending). */
int grammar_can_end(const struct grammar_state *s);
/* 1 when nothing more can follow: complete and no stack wants a character. */
int grammar_done(const struct grammar_state *s);

/* The byte strings of a vocabulary, in a trie. */
struct grammar_vocab;

/* TEXT[i][0..LEN[i]) is token i's text (NULL or empty: never allowed). */
int grammar_vocab_new(struct grammar_vocab **v, const char *const *text, const size_t *len, size_t n,
		      struct lm_error *err);
void grammar_vocab_free(struct grammar_vocab *v);
/* Set ALLOWED[i] (n bytes, as in grammar_vocab_new) to 1 for the tokens
 * whose text S accepts, 0 for the others.  Returns the number allowed, or
 * LM_ENOMEM. */
long grammar_vocab_allowed(const struct grammar_vocab *v, struct grammar_state *s, uint8_t *allowed);

#endif

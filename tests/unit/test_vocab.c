/* test_vocab.c - token table, text lookup, merges. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "tokenize/vocab.h"

int main(void)
{
	struct vocab *v;
	struct lm_error err;
	size_t len;
	uint32_t rank;
	int32_t res;

	ok(vocab_new(&v, &err) == 0, "vocab_new");
	is_int(vocab_size(v), 0, "empty vocab has size 0");
	is_int(vocab_find(v, "a", 1), -1, "nothing found in an empty vocab");

	ok(vocab_set(v, 0, "hello", 5, -1.5f, VOCAB_NORMAL, &err) == 0, "set id 0");
	ok(vocab_set(v, 5, "\0x", 2, 2.0f, VOCAB_BYTE, &err) == 0, "set id 5 (sparse, NUL in text)");
	ok(vocab_set(v, 3, "", 0, 0.0f, VOCAB_CONTROL, &err) == 0, "set id 3 with empty text");
	is_int(vocab_size(v), 6, "size is highest id + 1");
	is_int(vocab_find(v, "hello", 5), 0, "find hello");
	is_int(vocab_find(v, "\0x", 2), 5, "find text with a NUL byte");
	is_int(vocab_find(v, "hell", 4), -1, "a prefix is not found");
	is_int(vocab_find(v, "", 0), 3, "empty text found");
	ok(vocab_text(v, 1, &len) == NULL && len == 0, "gap id 1 has no text");
	ok(vocab_text(v, 99, &len) == NULL, "id past the end has no text");
	ok(vocab_text(v, -1, &len) == NULL, "negative id has no text");
	const char *t = vocab_text(v, 0, &len);
	ok(t && len == 5 && memcmp(t, "hello", 5) == 0, "text of id 0");
	is_near(vocab_score(v, 0), -1.5, 0, "score of id 0");
	is_int(vocab_token_type(v, 5), VOCAB_BYTE, "type of id 5");
	is_int(vocab_token_type(v, 1), VOCAB_UNDEFINED, "type of a gap");

	is_int(vocab_set(v, 0, "again", 5, 0, VOCAB_NORMAL, &err), LM_EFORMAT, "setting an id twice fails");
	ok(strstr(err.msg, "token 0") != NULL, "message names the token: %s", err.msg);
	is_int(vocab_set(v, -2, "neg", 3, 0, VOCAB_NORMAL, &err), LM_EFORMAT, "negative id refused");

	/* same text twice: the first id stays the one found */
	ok(vocab_set(v, 6, "hello", 5, 0, VOCAB_NORMAL, &err) == 0, "duplicate text accepted");
	is_int(vocab_find(v, "hello", 5), 0, "first id wins for duplicate text");
	ok(vocab_set_hidden(v, 7, "world", 5, 0, VOCAB_CONTROL, &err) == 0, "hidden token");
	is_int(vocab_find(v, "world", 5), -1, "hidden token not found by text");
	t = vocab_text(v, 7, &len);
	ok(t && len == 5 && memcmp(t, "world", 5) == 0, "hidden token has its text");

	/* many tokens: the table grows and every one is still found */
	char buf[32];
	int all = 1;
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(buf, sizeof(buf), "tok%d", i);
		all &= vocab_set(v, 100 + i, buf, (size_t)n, 0, VOCAB_NORMAL, &err) == 0;
	}
	for (int i = 0; i < 20000; i++) {
		int n = snprintf(buf, sizeof(buf), "tok%d", i);
		all &= vocab_find(v, buf, (size_t)n) == 100 + i;
	}
	ok(all, "20000 tokens set and found after growth");

	/* merges */
	ok(vocab_add_merge(v, 0, 5, 6, 10, &err) == 0, "add merge (0,5)->6 rank 10");
	ok(vocab_merge(v, 0, 5, &rank, &res) && rank == 10 && res == 6, "look up merge");
	ok(!vocab_merge(v, 5, 0, &rank, &res), "pairs are ordered");
	ok(vocab_add_merge(v, 0, 5, 7, 3, &err) == 0, "same pair with lower rank");
	ok(vocab_merge(v, 0, 5, &rank, &res) && rank == 3 && res == 7, "lower rank kept");
	ok(vocab_add_merge(v, 0, 5, 6, 20, &err) == 0, "same pair with higher rank");
	ok(vocab_merge(v, 0, 5, &rank, &res) && rank == 3, "higher rank ignored");
	is_int(vocab_add_merge(v, -1, 5, 6, 1, &err), LM_EFORMAT, "merge with a bad id refused");
	all = 1;
	for (int i = 0; i < 5000; i++)
		all &= vocab_add_merge(v, 100 + i, 101 + i, 102 + i, (uint32_t)i, &err) == 0;
	for (int i = 0; i < 5000; i++)
		all &= vocab_merge(v, 100 + i, 101 + i, &rank, &res) && rank == (uint32_t)i && res == 102 + i;
	ok(all, "5000 merges added and found after growth");
	is_int(vocab_n_merges(v), 5001, "merge count");

	/* the hash changes with any text or merge */
	struct vocab *a, *b;
	vocab_new(&a, &err);
	vocab_new(&b, &err);
	vocab_set(a, 0, "x", 1, 0, VOCAB_NORMAL, &err);
	vocab_set(b, 0, "x", 1, 0, VOCAB_NORMAL, &err);
	ok(vocab_hash(a) == vocab_hash(b), "equal vocabs hash equal");
	vocab_set(a, 1, "y", 1, 0, VOCAB_NORMAL, &err);
	vocab_set(b, 1, "z", 1, 0, VOCAB_NORMAL, &err);
	ok(vocab_hash(a) != vocab_hash(b), "different text, different hash");
	uint64_t h = vocab_hash(a);
	vocab_add_merge(a, 0, 1, 1, 0, &err);
	ok(vocab_hash(a) != h, "a merge changes the hash");
	vocab_free(a);
	vocab_free(b);

	/* Texts alike in their first 8 bytes, or but for a trailing NUL, stay
	 * apart; vocab_reserve is only a hint. */
	vocab_new(&a, &err);
	ok(!vocab_reserve(a, 4, 40, &err), "reserve");
	ok(!vocab_set_unique(a, 0, "abcdefghX", 9, 0, VOCAB_NORMAL, &err) &&
	   !vocab_set_unique(a, 1, "abcdefghY", 9, 0, VOCAB_NORMAL, &err) &&
	   !vocab_set_unique(a, 2, "a", 1, 0, VOCAB_NORMAL, &err) &&
	   !vocab_set_unique(a, 3, "a\0", 2, 0, VOCAB_NORMAL, &err) &&
	   !vocab_set_unique(a, 4, "abcdefgh", 8, 0, VOCAB_NORMAL, &err), "set past the reserve");
	ok(vocab_find(a, "abcdefghX", 9) == 0 && vocab_find(a, "abcdefghY", 9) == 1 &&
	   vocab_find(a, "a", 1) == 2 && vocab_find(a, "a\0", 2) == 3 &&
	   vocab_find(a, "abcdefgh", 8) == 4 && vocab_find(a, "abcdefghZ", 9) == -1 &&
	   vocab_find(a, "abcdefg", 7) == -1, "finds by all bytes and the length");
	is_int(vocab_set_unique(a, 5, "a", 1, 0, VOCAB_NORMAL, &err), LM_EFORMAT,
	       "set_unique: a repeated text is an error");
	is_int((int)vocab_longest(a), 9, "longest findable text");
	vocab_set_hidden(a, 6, "0123456789abcdef", 16, 0, VOCAB_CONTROL, &err);
	is_int((int)vocab_longest(a), 9, "hidden texts do not count");
	for (int i = 0; i < 5000; i++) {
		char w[16];
		int n = snprintf(w, sizeof w, "w%d", i);

		vocab_set(a, 100 + i, w, (size_t)n, 0, VOCAB_NORMAL, &err);
	}
	{
		int found = 1;

		for (int i = 0; i < 5000; i++) {
			char w[16];
			int n = snprintf(w, sizeof w, "w%d", i);

			found &= vocab_find(a, w, (size_t)n) == 100 + i;
		}
		ok(found && vocab_find(a, "abcdefghY", 9) == 1, "5000 more: all found after growing");
	}
	vocab_free(a);
	vocab_free(v);
	return tap_done();
}

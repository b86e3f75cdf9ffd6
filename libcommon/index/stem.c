#include "index/stem.h"

#include <string.h>

/* The word being stemmed: b[0..k] is the current word (k is the index of
 * its last byte, as in Porter's description), and after a successful ends()
 * b[0..j] is the stem in front of the suffix matched. */
struct porter {
	char *b;
	int k, j;
};

static int vowel_letter(char c)
{
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* Porter section 2: a consonant is a letter other than A, E, I, O, U, and
 * other than Y preceded by a consonant.  A run of y's alternates from the
 * letter in front of it (a leading y is a consonant); walked back without
 * recursion so "yyyy..." cannot exhaust the stack. */
static int cons(const struct porter *z, int i)
{
	int i0 = i, c;

	if (z->b[i] != 'y')
		return !vowel_letter(z->b[i]);
	while (i0 > 0 && z->b[i0] == 'y')
		i0--;
	c = z->b[i0] == 'y' ? 1 : !vowel_letter(z->b[i0]);
	return (i - i0) % 2 ? !c : c;
}

/* m, the number of VC sequences in b[0..j]: the word is [C](VC)^m[V]. */
static int measure(const struct porter *z)
{
	int n = 0, i = 0;

	for (;;) {
		if (i > z->j)
			return n;
		if (!cons(z, i))
			break;
		i++;
	}
	i++;
	for (;;) {
		for (;;) {
			if (i > z->j)
				return n;
			if (cons(z, i))
				break;
			i++;
		}
		i++;
		n++;
		for (;;) {
			if (i > z->j)
				return n;
			if (!cons(z, i))
				break;
			i++;
		}
		i++;
	}
}

/* *v*: the stem b[0..j] contains a vowel. */
static int vowel_in_stem(const struct porter *z)
{
	for (int i = 0; i <= z->j; i++)
		if (!cons(z, i))
			return 1;
	return 0;
}

/* *d: b[i-1..i] is a double consonant. */
static int double_cons(const struct porter *z, int i)
{
	return i >= 1 && z->b[i] == z->b[i - 1] && cons(z, i);
}

/* *o: b[i-2..i] is consonant-vowel-consonant and the last is not w, x, y. */
static int cvc(const struct porter *z, int i)
{
	if (i < 2 || !cons(z, i) || cons(z, i - 1) || !cons(z, i - 2))
		return 0;
	return z->b[i] != 'w' && z->b[i] != 'x' && z->b[i] != 'y';
}

/* The word ends with S: then j marks the end of the stem in front of it. */
static int ends(struct porter *z, const char *s)
{
	int n = (int)strlen(s);

	if (n > z->k + 1 || memcmp(z->b + z->k - n + 1, s, n) != 0)
		return 0;
	z->j = z->k - n;
	return 1;
}

/* Replace the suffix after b[j] with S. */
static void set_to(struct porter *z, const char *s)
{
	int n = (int)strlen(s);

	memcpy(z->b + z->j + 1, s, n);
	z->k = z->j + n;
}

/* (m > 0) SUFFIX -> S, for the suffix ends() just matched. */
static void replace_m0(struct porter *z, const char *s)
{
	if (measure(z) > 0)
		set_to(z, s);
}

/* Step 1a (plurals) and 1b (-ed, -ing). */
static void step1ab(struct porter *z)
{
	if (z->b[z->k] == 's') {
		if (ends(z, "sses"))
			z->k -= 2;
		else if (ends(z, "ies"))
			set_to(z, "i");
		else if (z->b[z->k - 1] != 's')
			z->k--;
	}
	if (ends(z, "eed")) {
		if (measure(z) > 0)
			z->k--;
	} else if ((ends(z, "ed") || ends(z, "ing")) && vowel_in_stem(z)) {
		z->k = z->j;
		if (ends(z, "at"))
			set_to(z, "ate");
		else if (ends(z, "bl"))
			set_to(z, "ble");
		else if (ends(z, "iz"))
			set_to(z, "ize");
		else if (double_cons(z, z->k)) {
			char c = z->b[z->k];

			if (c != 'l' && c != 's' && c != 'z')
				z->k--;
		} else {
			z->j = z->k;
			if (measure(z) == 1 && cvc(z, z->k))
				set_to(z, "e");
		}
	}
}

/* Step 1c: (*v*) Y -> I. */
static void step1c(struct porter *z)
{
	if (ends(z, "y") && vowel_in_stem(z))
		z->b[z->k] = 'i';
}

/* Step 2, keyed on the penultimate letter as Porter's program does; the
 * first suffix that matches decides, whether or not m > 0 holds. */
static void step2(struct porter *z)
{
	static const char *const rules[][2] = {
		{ "ational", "ate" }, { "tional", "tion" },
		{ "enci", "ence" }, { "anci", "ance" },
		{ "izer", "ize" },
		{ "bli", "ble" }, { "alli", "al" }, { "entli", "ent" }, { "eli", "e" },
		{ "ousli", "ous" },
		{ "ization", "ize" }, { "ation", "ate" }, { "ator", "ate" },
		{ "alism", "al" }, { "iveness", "ive" }, { "fulness", "ful" },
		{ "ousness", "ous" },
		{ "aliti", "al" }, { "iviti", "ive" }, { "biliti", "ble" },
		{ "logi", "log" },
	};

	if (z->k < 1)
		return;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const char *suf = rules[i][0];

		if (suf[strlen(suf) - 2] != z->b[z->k - 1])
			continue;
		if (ends(z, suf)) {
			replace_m0(z, rules[i][1]);
			return;
		}
	}
}

/* Step 3, keyed on the last letter. */
static void step3(struct porter *z)
{
	static const char *const rules[][2] = {
		{ "icate", "ic" }, { "ative", "" }, { "alize", "al" },
		{ "iciti", "ic" },
		{ "ical", "ic" }, { "ful", "" },
		{ "ness", "" },
	};

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const char *suf = rules[i][0];

		if (suf[strlen(suf) - 1] != z->b[z->k])
			continue;
		if (ends(z, suf)) {
			replace_m0(z, rules[i][1]);
			return;
		}
	}
}

/* Step 4: (m > 1) removes a suffix; (m > 1 and (*S or *T)) ION. */
static void step4(struct porter *z)
{
	static const char *const suffixes[] = {
		"al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement",
		"ment", "ent", "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
	};
	size_t i;

	if (z->k < 1)
		return;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		const char *suf = suffixes[i];

		if (suf[strlen(suf) - 2] != z->b[z->k - 1])
			continue;
		if (!ends(z, suf))
			continue;
		if (!strcmp(suf, "ion") && !(z->j >= 0 && (z->b[z->j] == 's' || z->b[z->j] == 't')))
			return;
		break;
	}
	if (i == sizeof(suffixes) / sizeof(suffixes[0]))
		return;
	if (measure(z) > 1)
		z->k = z->j;
}

/* Step 5a: (m > 1) E ->, (m = 1 and not *o) E ->; 5b: (m > 1 and *d and *L)
 * -> single letter. */
static void step5(struct porter *z)
{
	z->j = z->k;
	if (z->b[z->k] == 'e') {
		int m = measure(z);

		if (m > 1 || (m == 1 && !cvc(z, z->k - 1)))
			z->k--;
	}
	if (z->b[z->k] == 'l' && double_cons(z, z->k)) {
		z->j = z->k;
		if (measure(z) > 1)
			z->k--;
	}
}

/* Longer words are left alone: no English word is, and int indexes suffice. */
size_t stem_porter(char *word, size_t len)
{
	struct porter z = { word, (int)len - 1, 0 };

	if (len <= 2 || len > 1u << 20)
		return len;
	step1ab(&z);
	if (z.k > 0) {
		step1c(&z);
		step2(&z);
		step3(&z);
		step4(&z);
		step5(&z);
	}
	return (size_t)z.k + 1;
}

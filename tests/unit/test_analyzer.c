/* test_analyzer.c - tokenization, folding, possessives, stop words and
 * stemming, with the expected terms worked out by hand from UAX #29,
 * CaseFolding.txt, Lucene's stop set and Porter's rules. */
#include <string.h>

#include "index/analyzer.h"
#include "tap.h"

/* The terms of TEXT joined by '|'. */
static const char *terms(unsigned flags, const char *text, size_t len)
{
	static char out[8192];
	struct analyzer_stream s;
	size_t n = 0;

	analyzer_begin(&s, flags, text, len);
	out[0] = '\0';
	while (analyzer_next(&s)) {
		if (n && n < sizeof out - 1)
			out[n++] = '|';
		if (s.len >= sizeof out - 1 - n)
			break;
		memcpy(out + n, s.tok, s.len);
		n += s.len;
		out[n] = '\0';
		if (strlen(s.tok) != s.len)
			return "(token not NUL-terminated at its length)";
	}
	return out;
}

#define T(flags, text, want) is_str(terms(flags, text, strlen(text)), want, "%s", text)

int main(void)
{
	const unsigned D = ANALYZER_DEFAULT, N = 0;
	char buf[400];

	/* the whole chain */
	T(D, "The quick brown foxes jumped over the lazy dogs",
	  "quick|brown|fox|jump|over|lazi|dog");
	T(D, "", "");
	T(D, "  ,;-- ", "");

	/* UAX #29 word boundaries */
	T(N, "don't stop", "don't|stop");
	T(N, "1,000 people in 3.14 U.S.A.", "1,000|people|in|3.14|u.s.a");
	T(N, "state-of-the-art", "state|of|the|art");
	T(N, "covid19 IL-6", "covid19|il|6");
	T(N, "a:b 1:2", "a:b|1|2");
	T(N, "a,b 1,2 a.b 1.b x.", "a|b|1,2|a.b|1|b|x");
	T(N, "foo_bar __ _x", "foo_bar|_x");
	T(N, "hello\xf0\x9f\x98\x80world", "hello|world");
	T(N, "email@example.com (x) [y] {z} \"q\"", "email|example.com|x|y|z|q");
	is_str(terms(N, "tab\tnew\nline\r\n", 15), "tab|new|line", "tabs and line ends separate");
	/* ideographs and Hiragana are one term each; Katakana runs join */
	T(N, "\xe4\xb8\xad\xe6\x96\x87" "abc", "\xe4\xb8\xad|\xe6\x96\x87|abc");
	T(N, "\xe3\x81\xb2\xe3\x82\x89", "\xe3\x81\xb2|\xe3\x82\x89");
	T(N, "\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a", "\xe3\x82\xab\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a");
	/* combining marks stay, format characters inside a word go */
	T(N, "cafe\xcc\x81 x", "cafe\xcc\x81|x");
	T(N, "co\xc2\xadoperate", "cooperate");
	/* ill-formed UTF-8 separates */
	T(N, "ab\xff" "cd\xc3", "ab|cd");
	/* right single quotation mark joins like an apostrophe */
	T(N, "rock\xe2\x80\x99n\xe2\x80\x99roll", "rock\xe2\x80\x99n\xe2\x80\x99roll");

	/* simple case folding */
	T(N, "\xc3\x89" "COLE Stra\xc3\x9f" "e", "\xc3\xa9" "cole|stra\xc3\x9f" "e");
	/* ΣΊΣΥΦΟΣ and σίσυφος (final sigma) fold to the same term */
	T(N, "\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",
	  "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x83");
	T(N, "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82",
	  "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x83");
	/* МОСКВА, Ё -> ё (U+0401 -> U+0451), Ѣ -> ѣ (U+0462 -> U+0463) */
	T(N, "\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90 \xd0\x81 \xd1\xa2",
	  "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0|\xd1\x91|\xd1\xa3");
	/* Ǆ -> ǆ, Ŀ -> ŀ (odd pairs), Ā -> ā (even pairs), ſ -> s, Kelvin
	 * sign -> k, µ -> μ, İ -> i, ẞ -> ß, Ⱥ (2 bytes) -> ⱥ (3 bytes) */
	T(N, "\xc7\x84 \xc4\xbf \xc4\x80 \xc5\xbf \xe2\x84\xaa \xc2\xb5 \xc4\xb0 \xe1\xba\x9e \xc8\xba",
	  "\xc7\x86|\xc5\x80|\xc4\x81|s|k|\xce\xbc|i|\xc3\x9f|\xe2\xb1\xa5");
	/* Greek Extended: Ἀ (U+1F08) -> ἀ (U+1F00), ᾼ (U+1FBC) -> ᾳ (U+1FB3) */
	T(N, "\xe1\xbc\x88 \xe1\xbe\xbc", "\xe1\xbc\x80|\xe1\xbe\xb3");
	/* fullwidth letters fold to fullwidth lowercase; fullwidth digits join */
	T(N, "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\x91\xef\xbc\x92",
	  "\xef\xbd\x81\xef\xbd\x82\xef\xbc\x91\xef\xbc\x92");

	/* possessives (EnglishPossessiveFilter), before stop words */
	T(N, "John's dog", "john|dog");
	T(N, "JOHN'S JOHN\xe2\x80\x99S john\xef\xbc\x87s", "john|john|john");
	T(N, "'s", "s");
	T(D, "it's", "");

	/* flags one at a time */
	T(ANALYZER_STOPWORDS, "this is not a running test", "running|test");
	T(ANALYZER_STEM, "the running dogs", "the|run|dog");
	T(N, "The Running Dogs", "the|running|dogs");
	is_str(analyzer_flags_name(D), "stopwords,stem", "flags name default");
	is_str(analyzer_flags_name(ANALYZER_STEM), "stem", "flags name stem");
	is_str(analyzer_flags_name(0), "none", "flags name none");

	/* Lucene's 33 English stop words, and some that are not */
	{
		static const char *const stop[] = {
			"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if",
			"in", "into", "is", "it", "no", "not", "of", "on", "or", "such", "that",
			"the", "their", "then", "there", "these", "they", "this", "to", "was",
			"will", "with",
		};
		static const char *const keep[] = { "", "i", "x", "with2", "thes", "wit", "was ", "THE" };
		int all = 1;

		for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
			all &= analyzer_is_stopword(stop[i], strlen(stop[i]));
		ok(all, "all 33 stop words are stop words");
		all = 1;
		for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
			all &= !analyzer_is_stopword(keep[i], strlen(keep[i]));
		ok(all, "near misses are not");
	}

	/* a word longer than ANALYZER_WORD_MAX is cut into pieces */
	memset(buf, 'a', 300);
	{
		struct analyzer_stream s;

		analyzer_begin(&s, N, buf, 300);
		ok(analyzer_next(&s) && s.len == ANALYZER_WORD_MAX, "first piece of a long word");
		ok(analyzer_next(&s) && s.len == 300 - ANALYZER_WORD_MAX, "second piece");
		ok(!analyzer_next(&s), "then the end");
		ok(!analyzer_next(&s) && s.len == 0, "and it stays at the end");
	}
	/* the longest token: 255 two-byte letters that fold to three bytes */
	{
		static char big[2 * ANALYZER_WORD_MAX];
		struct analyzer_stream s;

		for (int i = 0; i < ANALYZER_WORD_MAX; i++)
			memcpy(big + 2 * i, "\xc8\xba", 2);
		analyzer_begin(&s, N, big, sizeof big);
		ok(analyzer_next(&s) && s.len == 3 * ANALYZER_WORD_MAX, "folding may grow a token");
	}
	/* text need not be NUL-terminated: only LEN bytes are read */
	is_str(terms(N, "abcdef", 3), "abc", "length bounds the text");
	return tap_done();
}

/* test_utf8.c - utf8.c against RFC 3629 / Unicode Table 3-7 by hand. */
#include <string.h>

#include "tap.h"
#include "utf8.h"

static void check_validate(const char *s, size_t n, size_t want, const char *what)
{
	is_int(utf8_validate(s, n), want, "validate %s", what);
}

int main(void)
{
	char buf[4];
	uint32_t cp;
	size_t bad = 0;

	check_validate("", 0, 0, "empty");
	check_validate("plain ascii text, long enough for the fast path", 48, 48, "ascii");
	check_validate("\xc3\xa9", 2, 2, "U+00E9");
	check_validate("\xe2\x82\xac", 3, 3, "U+20AC");
	check_validate("\xf0\x9d\x84\x9e", 4, 4, "U+1D11E");
	check_validate("\xf4\x8f\xbf\xbf", 4, 4, "U+10FFFF");
	check_validate("\xed\x9f\xbf", 3, 3, "U+D7FF (last before surrogates)");
	check_validate("\xee\x80\x80", 3, 3, "U+E000 (first after surrogates)");
	check_validate("a\0b", 3, 3, "NUL is well-formed");
	check_validate("ab\x80", 3, 2, "stray continuation byte");
	check_validate("\xc0\xaf", 2, 0, "overlong C0");
	check_validate("\xc1\xbf", 2, 0, "overlong C1");
	check_validate("\xe0\x80\xaf", 3, 0, "overlong 3-byte");
	check_validate("\xf0\x80\x80\xaf", 4, 0, "overlong 4-byte");
	check_validate("x\xed\xa0\x80", 4, 1, "surrogate U+D800");
	check_validate("x\xed\xbf\xbf", 4, 1, "surrogate U+DFFF");
	check_validate("\xf4\x90\x80\x80", 4, 0, "U+110000");
	check_validate("\xf5\x80\x80\x80", 4, 0, "lead F5");
	check_validate("\xff", 1, 0, "byte FF");
	check_validate("x\xe2\x82", 3, 1, "truncated 3-byte at end");
	check_validate("x\xe2\x82y", 4, 1, "truncated 3-byte mid-text");
	check_validate("\xc3\xa9\xc3", 3, 2, "truncated 2-byte after a good one");
	check_validate("0123456789abcdef0123456789abcdef01234\xa9xyz", 41, 37,
		       "bad byte after 37 ASCII bytes (fast path boundary)");

	is_int(utf8_decode("A", 1, &cp), 1, "decode A length");
	is_int(cp, 0x41, "decode A value");
	is_int(utf8_decode("\xc3\xa9", 2, &cp), 2, "decode U+00E9 length");
	is_int(cp, 0xe9, "decode U+00E9 value");
	is_int(utf8_decode("\xe2\x82\xac", 3, &cp), 3, "decode U+20AC length");
	is_int(cp, 0x20ac, "decode U+20AC value");
	is_int(utf8_decode("\xf0\x9d\x84\x9e", 4, &cp), 4, "decode U+1D11E length");
	is_int(cp, 0x1d11e, "decode U+1D11E value");
	is_int(utf8_decode("\xf0\x9d\x84", 3, &cp), 0, "decode truncated");
	is_int(utf8_decode("\xed\xa0\x80", 3, &cp), 0, "decode surrogate");
	is_int(utf8_decode("", 0, &cp), 0, "decode nothing");

	is_int(utf8_encode(0x41, buf), 1, "encode U+0041");
	is_int(utf8_encode(0xe9, buf), 2, "encode U+00E9");
	is_mem(buf, "\xc3\xa9", 2, "encode U+00E9 bytes");
	is_int(utf8_encode(0x20ac, buf), 3, "encode U+20AC");
	is_mem(buf, "\xe2\x82\xac", 3, "encode U+20AC bytes");
	is_int(utf8_encode(0x1f600, buf), 4, "encode U+1F600");
	is_mem(buf, "\xf0\x9f\x98\x80", 4, "encode U+1F600 bytes");
	is_int(utf8_encode(0xd800, buf), 0, "encode refuses U+D800");
	is_int(utf8_encode(0xdfff, buf), 0, "encode refuses U+DFFF");
	is_int(utf8_encode(0x110000, buf), 0, "encode refuses U+110000");

	/* Every scalar value encodes, validates and decodes back to itself. */
	for (uint32_t c = 0; c <= 0x10ffff && !bad; c++) {
		int n;

		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		n = utf8_encode(c, buf);
		if (n == 0 || utf8_validate(buf, (size_t)n) != (size_t)n ||
		    utf8_decode(buf, (size_t)n, &cp) != n || cp != c)
			bad = c ? c : 1;
	}
	is_int(bad, 0, "all scalar values round-trip through encode/validate/decode");

	is_int(utf8_incomplete_tail("ab", 2), 0, "tail: complete ASCII");
	is_int(utf8_incomplete_tail("ab\xe2", 3), 1, "tail: 1 of 3");
	is_int(utf8_incomplete_tail("ab\xe2\x82", 4), 2, "tail: 2 of 3");
	is_int(utf8_incomplete_tail("ab\xe2\x82\xac", 5), 0, "tail: 3 of 3 complete");
	is_int(utf8_incomplete_tail("ab\xf0\x9f\x98", 5), 3, "tail: 3 of 4");
	is_int(utf8_incomplete_tail("\xe0\x80", 2), 0, "tail: E0 80 can never complete");
	is_int(utf8_incomplete_tail("a\x80", 2), 0, "tail: stray continuation");
	is_int(utf8_incomplete_tail("\xff", 1), 0, "tail: invalid lead");
	return tap_done();
}

#include "utf8.h"

#include <string.h>

/* Length of a well-formed sequence starting at P, 0 if none: Unicode 15,
 * Table 3-7 "Well-Formed UTF-8 Byte Sequences", row by row. */
static int utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	int len, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;               /* continuation byte or overlong C0/C1 */
	if (c < 0xe0)
		len = 2;
	else if (c < 0xf0) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;      /* overlong */
		else if (c == 0xed)
			hi = 0x9f;      /* surrogates */
	} else if (c < 0xf5) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;      /* overlong */
		else if (c == 0xf4)
			hi = 0x8f;      /* above U+10FFFF */
	} else
		return 0;
	if ((size_t)len > n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

size_t utf8_validate(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0;

	while (i < n) {
		if (p[i] < 0x80) {
			uint64_t w;

			while (i + 8 <= n) {
				memcpy(&w, p + i, 8);
				if (w & 0x8080808080808080ull)
					break;
				i += 8;
			}
			while (i < n && p[i] < 0x80)
				i++;
			if (i == n)
				break;
		}
		int len = utf8_seq(p + i, n - i);

		if (!len)
			return i;
		i += (size_t)len;
	}
	return n;
}

int utf8_decode(const void *s, size_t n, uint32_t *cp)
{
	const unsigned char *p = s;
	int len;

	if (n == 0)
		return 0;
	len = utf8_seq(p, n);
	switch (len) {
	case 1:
		*cp = p[0];
		break;
	case 2:
		*cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
		break;
	case 3:
		*cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
		break;
	case 4:
		*cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
		      (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
		break;
	}
	return len;
}

int utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp > 0x10ffff)
		return 0;
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t utf8_incomplete_tail(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t back;

	/* A sequence is at most 4 bytes, so only the last 3 can start an
	 * unfinished one.  It is unfinished when its lead byte asks for more
	 * bytes than remain and the bytes present are a valid beginning. */
	for (back = 1; back <= 3 && back <= n; back++) {
		unsigned c = p[n - back];
		size_t want;
		unsigned char full[4];

		if ((c & 0xc0) == 0x80)
			continue;
		if (c >= 0xc2 && c < 0xe0)
			want = 2;
		else if (c >= 0xe0 && c < 0xf0)
			want = 3;
		else if (c >= 0xf0 && c < 0xf5)
			want = 4;
		else
			return 0;
		if (want <= back)
			return 0;
		/* Pad with the smallest continuation the lead allows and check
		 * the prefix is well-formed so far. */
		memcpy(full, p + n - back, back);
		for (size_t i = back; i < want; i++)
			full[i] = 0x80;
		if (back >= 2 || want == 2)
			return utf8_seq(full, want) ? back : 0;
		return back;
	}
	return 0;
}

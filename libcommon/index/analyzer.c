#include "index/analyzer.h"

#include <stdlib.h>
#include <string.h>

#include "index/stem.h"
#include "utf8.h"

/* Word-break classes, a subset of UAX #29 table 3 (Word_Break property
 * values) as StandardTokenizer uses them. */
enum wb_class {
	WB_OTHER,       /* separates words */
	WB_LETTER,      /* ALetter, Hebrew_Letter, Katakana, Hangul, ... */
	WB_DIGIT,       /* Numeric */
	WB_MIDLETTER,   /* joins letter to letter */
	WB_MIDNUM,      /* joins digit to digit */
	WB_MIDNUMLET,   /* joins either (MidNumLet and Single_Quote) */
	WB_CONNECT,     /* ExtendNumLet */
	WB_EXTEND,      /* Extend, ZWJ: stays with the character before */
	WB_FORMAT,      /* Format: ignored inside a word, dropped */
	WB_IDEO,        /* Han, Hiragana: one token per character */
};

struct class_range {
	uint32_t lo, hi;
	uint8_t cls;
};

/* Non-ASCII code points not covered here are letters: the ranges list
 * punctuation, symbols, spaces, digits, marks and ideographs of the blocks
 * text is likely to contain (UAX #29 Word_Break values and the Unicode
 * general categories behind them).  Sorted, not overlapping. */
static const struct class_range class_ranges[] = {
	{ 0x0080, 0x00A9, WB_OTHER }, { 0x00AB, 0x00AC, WB_OTHER }, { 0x00AD, 0x00AD, WB_FORMAT },
	{ 0x00AE, 0x00B4, WB_OTHER }, { 0x00B6, 0x00B6, WB_OTHER }, { 0x00B7, 0x00B7, WB_MIDLETTER },
	{ 0x00B8, 0x00B9, WB_OTHER }, { 0x00BB, 0x00BF, WB_OTHER }, { 0x00D7, 0x00D7, WB_OTHER },
	{ 0x00F7, 0x00F7, WB_OTHER }, { 0x02C2, 0x02C5, WB_OTHER }, { 0x02D2, 0x02DF, WB_OTHER },
	{ 0x02E5, 0x02EB, WB_OTHER }, { 0x02ED, 0x02ED, WB_OTHER }, { 0x02EF, 0x02FF, WB_OTHER },
	{ 0x0300, 0x036F, WB_EXTEND }, { 0x0375, 0x0375, WB_OTHER }, { 0x037E, 0x037E, WB_MIDNUM },
	{ 0x0384, 0x0385, WB_OTHER }, { 0x0387, 0x0387, WB_MIDLETTER }, { 0x03F6, 0x03F6, WB_OTHER },
	{ 0x0482, 0x0482, WB_OTHER }, { 0x0483, 0x0489, WB_EXTEND }, { 0x055A, 0x055E, WB_OTHER },
	{ 0x055F, 0x055F, WB_MIDLETTER }, { 0x0589, 0x0589, WB_MIDNUM }, { 0x058A, 0x058F, WB_OTHER },
	{ 0x0591, 0x05BD, WB_EXTEND }, { 0x05BE, 0x05BE, WB_OTHER }, { 0x05BF, 0x05BF, WB_EXTEND },
	{ 0x05C0, 0x05C0, WB_OTHER }, { 0x05C1, 0x05C2, WB_EXTEND }, { 0x05C3, 0x05C3, WB_OTHER },
	{ 0x05C4, 0x05C5, WB_EXTEND }, { 0x05C6, 0x05C6, WB_OTHER }, { 0x05C7, 0x05C7, WB_EXTEND },
	{ 0x05F4, 0x05F4, WB_MIDLETTER }, { 0x0600, 0x0605, WB_FORMAT }, { 0x0606, 0x060B, WB_OTHER },
	{ 0x060C, 0x060D, WB_MIDNUM }, { 0x060E, 0x060F, WB_OTHER }, { 0x0610, 0x061A, WB_EXTEND },
	{ 0x061B, 0x061B, WB_OTHER }, { 0x061C, 0x061C, WB_FORMAT }, { 0x061D, 0x061F, WB_OTHER },
	{ 0x064B, 0x065F, WB_EXTEND }, { 0x0660, 0x0669, WB_DIGIT }, { 0x066A, 0x066A, WB_OTHER },
	{ 0x066B, 0x066B, WB_DIGIT }, { 0x066C, 0x066C, WB_MIDNUM }, { 0x066D, 0x066D, WB_OTHER },
	{ 0x0670, 0x0670, WB_EXTEND }, { 0x06D4, 0x06D4, WB_OTHER }, { 0x06D6, 0x06DC, WB_EXTEND },
	{ 0x06DD, 0x06DD, WB_FORMAT }, { 0x06DE, 0x06DE, WB_OTHER }, { 0x06DF, 0x06E4, WB_EXTEND },
	{ 0x06E7, 0x06E8, WB_EXTEND }, { 0x06E9, 0x06E9, WB_OTHER }, { 0x06EA, 0x06ED, WB_EXTEND },
	{ 0x06F0, 0x06F9, WB_DIGIT }, { 0x0700, 0x070D, WB_OTHER }, { 0x070F, 0x070F, WB_FORMAT },
	{ 0x07C0, 0x07C9, WB_DIGIT }, { 0x07F8, 0x07F8, WB_MIDNUM }, { 0x0964, 0x0965, WB_OTHER },
	{ 0x0966, 0x096F, WB_DIGIT }, { 0x0970, 0x0970, WB_OTHER }, { 0x09E6, 0x09EF, WB_DIGIT },
	{ 0x0A66, 0x0A6F, WB_DIGIT }, { 0x0AE6, 0x0AEF, WB_DIGIT }, { 0x0B66, 0x0B6F, WB_DIGIT },
	{ 0x0BE6, 0x0BEF, WB_DIGIT }, { 0x0C66, 0x0C6F, WB_DIGIT }, { 0x0CE6, 0x0CEF, WB_DIGIT },
	{ 0x0D66, 0x0D6F, WB_DIGIT }, { 0x0DE6, 0x0DEF, WB_DIGIT }, { 0x0E3F, 0x0E3F, WB_OTHER },
	{ 0x0E4F, 0x0E4F, WB_OTHER }, { 0x0E50, 0x0E59, WB_DIGIT }, { 0x0E5A, 0x0E5B, WB_OTHER },
	{ 0x0ED0, 0x0ED9, WB_DIGIT }, { 0x0F04, 0x0F12, WB_OTHER }, { 0x0F20, 0x0F29, WB_DIGIT },
	{ 0x1040, 0x1049, WB_DIGIT }, { 0x104A, 0x104F, WB_OTHER }, { 0x1090, 0x1099, WB_DIGIT },
	{ 0x10FB, 0x10FB, WB_OTHER }, { 0x1360, 0x1368, WB_OTHER }, { 0x166D, 0x166E, WB_OTHER },
	{ 0x1680, 0x1680, WB_OTHER }, { 0x169B, 0x169C, WB_OTHER }, { 0x16EB, 0x16ED, WB_OTHER },
	{ 0x1735, 0x1736, WB_OTHER }, { 0x17D4, 0x17DA, WB_OTHER }, { 0x17E0, 0x17E9, WB_DIGIT },
	{ 0x1800, 0x180A, WB_OTHER }, { 0x180B, 0x180D, WB_EXTEND }, { 0x180E, 0x180E, WB_FORMAT },
	{ 0x1810, 0x1819, WB_DIGIT }, { 0x1AB0, 0x1AFF, WB_EXTEND }, { 0x1DC0, 0x1DFF, WB_EXTEND },
	/* General Punctuation */
	{ 0x2000, 0x200B, WB_OTHER }, { 0x200C, 0x200D, WB_EXTEND }, { 0x200E, 0x200F, WB_FORMAT },
	{ 0x2010, 0x2017, WB_OTHER }, { 0x2018, 0x2019, WB_MIDNUMLET }, { 0x201A, 0x2023, WB_OTHER },
	{ 0x2024, 0x2024, WB_MIDNUMLET }, { 0x2025, 0x2026, WB_OTHER }, { 0x2027, 0x2027, WB_MIDLETTER },
	{ 0x2028, 0x2029, WB_OTHER }, { 0x202A, 0x202E, WB_FORMAT }, { 0x202F, 0x203E, WB_OTHER },
	{ 0x203F, 0x2040, WB_CONNECT }, { 0x2041, 0x2043, WB_OTHER }, { 0x2044, 0x2044, WB_MIDNUM },
	{ 0x2045, 0x2053, WB_OTHER }, { 0x2054, 0x2054, WB_CONNECT }, { 0x2055, 0x205F, WB_OTHER },
	{ 0x2060, 0x206F, WB_FORMAT },
	/* super/subscripts (letters stay letters), currency, combining marks
	 * for symbols, letterlike symbols (those that are not letters),
	 * number forms, arrows, mathematical and technical symbols, enclosed
	 * alphanumerics (circled letters are letters), box drawing, shapes,
	 * dingbats */
	{ 0x2070, 0x2070, WB_OTHER }, { 0x2072, 0x207E, WB_OTHER }, { 0x2080, 0x208F, WB_OTHER },
	{ 0x209D, 0x20CF, WB_OTHER }, { 0x20D0, 0x20FF, WB_EXTEND }, { 0x2100, 0x2101, WB_OTHER },
	{ 0x2103, 0x2106, WB_OTHER }, { 0x2108, 0x2109, WB_OTHER }, { 0x2114, 0x2114, WB_OTHER },
	{ 0x2116, 0x2118, WB_OTHER }, { 0x211E, 0x2123, WB_OTHER }, { 0x2125, 0x2125, WB_OTHER },
	{ 0x2127, 0x2127, WB_OTHER }, { 0x2129, 0x2129, WB_OTHER }, { 0x212E, 0x212E, WB_OTHER },
	{ 0x213A, 0x213B, WB_OTHER }, { 0x2140, 0x2144, WB_OTHER }, { 0x214A, 0x214D, WB_OTHER },
	{ 0x214F, 0x215F, WB_OTHER }, { 0x2189, 0x24B5, WB_OTHER }, { 0x24EA, 0x2BFF, WB_OTHER },
	{ 0x2CE5, 0x2CEA, WB_OTHER }, { 0x2CEF, 0x2CF1, WB_EXTEND }, { 0x2CF9, 0x2CFF, WB_OTHER },
	{ 0x2D70, 0x2D70, WB_OTHER }, { 0x2D7F, 0x2D7F, WB_EXTEND }, { 0x2DE0, 0x2DFF, WB_EXTEND },
	{ 0x2E00, 0x2FFF, WB_OTHER },
	/* CJK symbols and punctuation, Hiragana, Katakana, ideographs */
	{ 0x3000, 0x3004, WB_OTHER }, { 0x3006, 0x3007, WB_IDEO }, { 0x3008, 0x3020, WB_OTHER },
	{ 0x3021, 0x3029, WB_IDEO }, { 0x302A, 0x302F, WB_EXTEND }, { 0x3030, 0x3030, WB_OTHER },
	{ 0x3036, 0x3037, WB_OTHER }, { 0x3038, 0x303A, WB_IDEO }, { 0x303D, 0x303F, WB_OTHER },
	{ 0x3040, 0x3096, WB_IDEO }, { 0x3099, 0x309A, WB_EXTEND }, { 0x309D, 0x309F, WB_IDEO },
	{ 0x30A0, 0x30A0, WB_OTHER }, { 0x30FB, 0x30FB, WB_OTHER }, { 0x31C0, 0x31EF, WB_OTHER },
	{ 0x3200, 0x33FF, WB_OTHER }, { 0x3400, 0x4DBF, WB_IDEO }, { 0x4DC0, 0x4DFF, WB_OTHER },
	{ 0x4E00, 0x9FFF, WB_IDEO }, { 0xA490, 0xA4CF, WB_OTHER }, { 0xA4FE, 0xA4FF, WB_OTHER },
	{ 0xA60D, 0xA60F, WB_OTHER }, { 0xA620, 0xA629, WB_DIGIT }, { 0xA66F, 0xA672, WB_EXTEND },
	{ 0xA673, 0xA673, WB_OTHER }, { 0xA674, 0xA67D, WB_EXTEND }, { 0xA67E, 0xA67E, WB_OTHER },
	{ 0xA69E, 0xA69F, WB_EXTEND }, { 0xA6F0, 0xA6F1, WB_EXTEND }, { 0xA6F2, 0xA6F7, WB_OTHER },
	{ 0xA700, 0xA716, WB_OTHER }, { 0xA720, 0xA721, WB_OTHER }, { 0xA789, 0xA78A, WB_OTHER },
	{ 0xA828, 0xA82B, WB_OTHER }, { 0xA830, 0xA839, WB_OTHER }, { 0xA874, 0xA877, WB_OTHER },
	{ 0xA8CE, 0xA8CF, WB_OTHER }, { 0xA8D0, 0xA8D9, WB_DIGIT }, { 0xA8E0, 0xA8F1, WB_EXTEND },
	{ 0xA8F8, 0xA8FA, WB_OTHER }, { 0xA900, 0xA909, WB_DIGIT }, { 0xA92E, 0xA92F, WB_OTHER },
	{ 0xA9D0, 0xA9D9, WB_DIGIT }, { 0xA9F0, 0xA9F9, WB_DIGIT }, { 0xAA50, 0xAA59, WB_DIGIT },
	{ 0xABF0, 0xABF9, WB_DIGIT }, { 0xD800, 0xF8FF, WB_OTHER }, { 0xF900, 0xFAFF, WB_IDEO },
	{ 0xFB1E, 0xFB1E, WB_EXTEND }, { 0xFB29, 0xFB29, WB_OTHER }, { 0xFD3E, 0xFD3F, WB_OTHER },
	{ 0xFDFC, 0xFDFF, WB_OTHER }, { 0xFE00, 0xFE0F, WB_EXTEND }, { 0xFE10, 0xFE10, WB_MIDNUM },
	{ 0xFE11, 0xFE12, WB_OTHER }, { 0xFE13, 0xFE13, WB_MIDLETTER }, { 0xFE14, 0xFE14, WB_MIDNUM },
	{ 0xFE15, 0xFE1F, WB_OTHER }, { 0xFE20, 0xFE2F, WB_EXTEND }, { 0xFE30, 0xFE32, WB_OTHER },
	{ 0xFE33, 0xFE34, WB_CONNECT }, { 0xFE35, 0xFE4C, WB_OTHER }, { 0xFE4D, 0xFE4F, WB_CONNECT },
	{ 0xFE50, 0xFE50, WB_MIDNUM }, { 0xFE51, 0xFE51, WB_OTHER }, { 0xFE52, 0xFE52, WB_MIDNUMLET },
	{ 0xFE53, 0xFE53, WB_OTHER }, { 0xFE54, 0xFE54, WB_MIDNUM }, { 0xFE55, 0xFE55, WB_MIDLETTER },
	{ 0xFE56, 0xFE6F, WB_OTHER }, { 0xFEFF, 0xFEFF, WB_FORMAT }, { 0xFF00, 0xFF06, WB_OTHER },
	{ 0xFF07, 0xFF07, WB_MIDNUMLET }, { 0xFF08, 0xFF0B, WB_OTHER }, { 0xFF0C, 0xFF0C, WB_MIDNUM },
	{ 0xFF0D, 0xFF0D, WB_OTHER }, { 0xFF0E, 0xFF0E, WB_MIDNUMLET }, { 0xFF0F, 0xFF0F, WB_OTHER },
	{ 0xFF10, 0xFF19, WB_DIGIT }, { 0xFF1A, 0xFF1A, WB_MIDLETTER }, { 0xFF1B, 0xFF1B, WB_MIDNUM },
	{ 0xFF1C, 0xFF20, WB_OTHER }, { 0xFF3B, 0xFF3E, WB_OTHER }, { 0xFF3F, 0xFF3F, WB_CONNECT },
	{ 0xFF40, 0xFF40, WB_OTHER }, { 0xFF5B, 0xFF65, WB_OTHER }, { 0xFFE0, 0xFFF8, WB_OTHER },
	{ 0xFFF9, 0xFFFB, WB_FORMAT }, { 0xFFFC, 0xFFFF, WB_OTHER },
	/* musical and other symbols, math digits, emoji, supplementary
	 * ideographs, tags, variation selectors, private use */
	{ 0x1D000, 0x1D1FF, WB_OTHER }, { 0x1D300, 0x1D35F, WB_OTHER }, { 0x1D7CE, 0x1D7FF, WB_DIGIT },
	{ 0x1F000, 0x1FBFF, WB_OTHER }, { 0x20000, 0x3FFFF, WB_IDEO }, { 0xE0000, 0xE007F, WB_FORMAT },
	{ 0xE0100, 0xE01EF, WB_EXTEND }, { 0xF0000, 0x10FFFF, WB_OTHER },
};

static enum wb_class ascii_class(unsigned c)
{
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
		return WB_LETTER;
	if (c >= '0' && c <= '9')
		return WB_DIGIT;
	switch (c) {
	case '\'': case '.':
		return WB_MIDNUMLET;
	case ':':
		return WB_MIDLETTER;
	case ',': case ';':
		return WB_MIDNUM;
	case '_':
		return WB_CONNECT;
	default:
		return WB_OTHER;
	}
}

static enum wb_class cp_class(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(class_ranges) / sizeof(class_ranges[0]);

	if (cp < 0x80)
		return ascii_class(cp);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cp > class_ranges[mid].hi)
			lo = mid + 1;
		else if (cp < class_ranges[mid].lo)
			hi = mid;
		else
			return class_ranges[mid].cls;
	}
	return WB_LETTER;
}

/* Simple case folding, CaseFolding.txt (Unicode 15) statuses C and S, for
 * the blocks listed in analyzer.h.  A range maps every code point (or only
 * the even or odd ones, for the alternating upper/lower pairs of the Latin
 * and Cyrillic extensions) to cp + delta.  Sorted, not overlapping. */
enum { FOLD_ALL, FOLD_EVEN, FOLD_ODD };

struct fold_range {
	uint32_t lo, hi;
	int32_t delta;
	uint8_t which;
};

static const struct fold_range fold_ranges[] = {
	{ 0x0041, 0x005A, 32, FOLD_ALL }, { 0x00B5, 0x00B5, 775, FOLD_ALL },
	{ 0x00C0, 0x00D6, 32, FOLD_ALL }, { 0x00D8, 0x00DE, 32, FOLD_ALL },
	{ 0x0100, 0x012F, 1, FOLD_EVEN }, { 0x0130, 0x0130, -199, FOLD_ALL },
	{ 0x0132, 0x0137, 1, FOLD_EVEN }, { 0x0139, 0x0148, 1, FOLD_ODD },
	{ 0x014A, 0x0177, 1, FOLD_EVEN }, { 0x0178, 0x0178, -121, FOLD_ALL },
	{ 0x0179, 0x017E, 1, FOLD_ODD }, { 0x017F, 0x017F, -268, FOLD_ALL },
	{ 0x0181, 0x0181, 210, FOLD_ALL }, { 0x0182, 0x0185, 1, FOLD_EVEN },
	{ 0x0186, 0x0186, 206, FOLD_ALL }, { 0x0187, 0x0187, 1, FOLD_ALL },
	{ 0x0189, 0x018A, 205, FOLD_ALL }, { 0x018B, 0x018B, 1, FOLD_ALL },
	{ 0x018E, 0x018E, 79, FOLD_ALL }, { 0x018F, 0x018F, 202, FOLD_ALL },
	{ 0x0190, 0x0190, 203, FOLD_ALL }, { 0x0191, 0x0191, 1, FOLD_ALL },
	{ 0x0193, 0x0193, 205, FOLD_ALL }, { 0x0194, 0x0194, 207, FOLD_ALL },
	{ 0x0196, 0x0196, 211, FOLD_ALL }, { 0x0197, 0x0197, 209, FOLD_ALL },
	{ 0x0198, 0x0198, 1, FOLD_ALL }, { 0x019C, 0x019C, 211, FOLD_ALL },
	{ 0x019D, 0x019D, 213, FOLD_ALL }, { 0x019F, 0x019F, 214, FOLD_ALL },
	{ 0x01A0, 0x01A5, 1, FOLD_EVEN }, { 0x01A6, 0x01A6, 218, FOLD_ALL },
	{ 0x01A7, 0x01A7, 1, FOLD_ALL }, { 0x01A9, 0x01A9, 218, FOLD_ALL },
	{ 0x01AC, 0x01AC, 1, FOLD_ALL }, { 0x01AE, 0x01AE, 218, FOLD_ALL },
	{ 0x01AF, 0x01AF, 1, FOLD_ALL }, { 0x01B1, 0x01B2, 217, FOLD_ALL },
	{ 0x01B3, 0x01B6, 1, FOLD_ODD }, { 0x01B7, 0x01B7, 219, FOLD_ALL },
	{ 0x01B8, 0x01B8, 1, FOLD_ALL }, { 0x01BC, 0x01BC, 1, FOLD_ALL },
	{ 0x01C4, 0x01C4, 2, FOLD_ALL }, { 0x01C5, 0x01C5, 1, FOLD_ALL },
	{ 0x01C7, 0x01C7, 2, FOLD_ALL }, { 0x01C8, 0x01C8, 1, FOLD_ALL },
	{ 0x01CA, 0x01CA, 2, FOLD_ALL }, { 0x01CB, 0x01DC, 1, FOLD_ODD },
	{ 0x01DE, 0x01EF, 1, FOLD_EVEN }, { 0x01F1, 0x01F1, 2, FOLD_ALL },
	{ 0x01F2, 0x01F2, 1, FOLD_ALL }, { 0x01F4, 0x01F4, 1, FOLD_ALL },
	{ 0x01F6, 0x01F6, -97, FOLD_ALL }, { 0x01F7, 0x01F7, -56, FOLD_ALL },
	{ 0x01F8, 0x021F, 1, FOLD_EVEN }, { 0x0220, 0x0220, -130, FOLD_ALL },
	{ 0x0222, 0x0233, 1, FOLD_EVEN }, { 0x023A, 0x023A, 10795, FOLD_ALL },
	{ 0x023B, 0x023B, 1, FOLD_ALL }, { 0x023D, 0x023D, -163, FOLD_ALL },
	{ 0x023E, 0x023E, 10792, FOLD_ALL }, { 0x0241, 0x0241, 1, FOLD_ALL },
	{ 0x0243, 0x0243, -195, FOLD_ALL }, { 0x0244, 0x0244, 69, FOLD_ALL },
	{ 0x0245, 0x0245, 71, FOLD_ALL }, { 0x0246, 0x024F, 1, FOLD_EVEN },
	{ 0x0345, 0x0345, 116, FOLD_ALL }, { 0x0370, 0x0373, 1, FOLD_EVEN },
	{ 0x0376, 0x0376, 1, FOLD_ALL }, { 0x037F, 0x037F, 116, FOLD_ALL },
	{ 0x0386, 0x0386, 38, FOLD_ALL }, { 0x0388, 0x038A, 37, FOLD_ALL },
	{ 0x038C, 0x038C, 64, FOLD_ALL }, { 0x038E, 0x038F, 63, FOLD_ALL },
	{ 0x0391, 0x03A1, 32, FOLD_ALL }, { 0x03A3, 0x03AB, 32, FOLD_ALL },
	{ 0x03C2, 0x03C2, 1, FOLD_ALL }, { 0x03CF, 0x03CF, 8, FOLD_ALL },
	{ 0x03D0, 0x03D0, -30, FOLD_ALL }, { 0x03D1, 0x03D1, -25, FOLD_ALL },
	{ 0x03D5, 0x03D5, -15, FOLD_ALL }, { 0x03D6, 0x03D6, -22, FOLD_ALL },
	{ 0x03D8, 0x03EF, 1, FOLD_EVEN }, { 0x03F0, 0x03F0, -54, FOLD_ALL },
	{ 0x03F1, 0x03F1, -48, FOLD_ALL }, { 0x03F4, 0x03F4, -60, FOLD_ALL },
	{ 0x03F5, 0x03F5, -64, FOLD_ALL }, { 0x03F7, 0x03F7, 1, FOLD_ALL },
	{ 0x03F9, 0x03F9, -7, FOLD_ALL }, { 0x03FA, 0x03FA, 1, FOLD_ALL },
	{ 0x03FD, 0x03FF, -130, FOLD_ALL }, { 0x0400, 0x040F, 80, FOLD_ALL },
	{ 0x0410, 0x042F, 32, FOLD_ALL }, { 0x0460, 0x0481, 1, FOLD_EVEN },
	{ 0x048A, 0x04BF, 1, FOLD_EVEN }, { 0x04C0, 0x04C0, 15, FOLD_ALL },
	{ 0x04C1, 0x04CE, 1, FOLD_ODD }, { 0x04D0, 0x052F, 1, FOLD_EVEN },
	{ 0x0531, 0x0556, 48, FOLD_ALL }, { 0x1E00, 0x1E95, 1, FOLD_EVEN },
	{ 0x1E9B, 0x1E9B, -58, FOLD_ALL }, { 0x1E9E, 0x1E9E, -7615, FOLD_ALL },
	{ 0x1EA0, 0x1EFF, 1, FOLD_EVEN }, { 0x1F08, 0x1F0F, -8, FOLD_ALL },
	{ 0x1F18, 0x1F1D, -8, FOLD_ALL }, { 0x1F28, 0x1F2F, -8, FOLD_ALL },
	{ 0x1F38, 0x1F3F, -8, FOLD_ALL }, { 0x1F48, 0x1F4D, -8, FOLD_ALL },
	{ 0x1F59, 0x1F5F, -8, FOLD_ODD }, { 0x1F68, 0x1F6F, -8, FOLD_ALL },
	{ 0x1F88, 0x1F8F, -8, FOLD_ALL }, { 0x1F98, 0x1F9F, -8, FOLD_ALL },
	{ 0x1FA8, 0x1FAF, -8, FOLD_ALL }, { 0x1FB8, 0x1FB9, -8, FOLD_ALL },
	{ 0x1FBA, 0x1FBB, -74, FOLD_ALL }, { 0x1FBC, 0x1FBC, -9, FOLD_ALL },
	{ 0x1FBE, 0x1FBE, -7173, FOLD_ALL }, { 0x1FC8, 0x1FCB, -86, FOLD_ALL },
	{ 0x1FCC, 0x1FCC, -9, FOLD_ALL }, { 0x1FD8, 0x1FD9, -8, FOLD_ALL },
	{ 0x1FDA, 0x1FDB, -100, FOLD_ALL }, { 0x1FE8, 0x1FE9, -8, FOLD_ALL },
	{ 0x1FEA, 0x1FEB, -112, FOLD_ALL }, { 0x1FEC, 0x1FEC, -7, FOLD_ALL },
	{ 0x1FF8, 0x1FF9, -128, FOLD_ALL }, { 0x1FFA, 0x1FFB, -126, FOLD_ALL },
	{ 0x1FFC, 0x1FFC, -9, FOLD_ALL }, { 0x2126, 0x2126, -7517, FOLD_ALL },
	{ 0x212A, 0x212A, -8383, FOLD_ALL }, { 0x212B, 0x212B, -8262, FOLD_ALL },
	{ 0x2132, 0x2132, 28, FOLD_ALL }, { 0x2160, 0x216F, 16, FOLD_ALL },
	{ 0x2183, 0x2183, 1, FOLD_ALL }, { 0x24B6, 0x24CF, 26, FOLD_ALL },
	{ 0xFF21, 0xFF3A, 32, FOLD_ALL },
};

static uint32_t fold(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(fold_ranges) / sizeof(fold_ranges[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct fold_range *r = &fold_ranges[mid];

		if (cp > r->hi)
			lo = mid + 1;
		else if (cp < r->lo)
			hi = mid;
		else if (r->which == FOLD_ALL || (cp & 1) == (r->which == FOLD_ODD))
			return (uint32_t)((int32_t)cp + r->delta);
		else
			return cp;
	}
	return cp;
}

/* Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, sorted for bsearch. */
static const char *const stop_words[] = {
	"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
	"is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
	"there", "these", "they", "this", "to", "was", "will", "with",
};

struct word_key {
	const char *p;
	size_t len;
};

static int stop_cmp(const void *k, const void *e)
{
	const struct word_key *w = k;
	const char *s = *(const char *const *)e;
	size_t n = strlen(s);
	int c = memcmp(w->p, s, w->len < n ? w->len : n);

	if (c)
		return c;
	return w->len < n ? -1 : w->len > n;
}

int analyzer_is_stopword(const char *word, size_t len)
{
	struct word_key k = { word, len };

	if (len > 5)
		return 0;
	return bsearch(&k, stop_words, sizeof(stop_words) / sizeof(stop_words[0]),
		       sizeof(stop_words[0]), stop_cmp) != NULL;
}

const char *analyzer_flags_name(unsigned flags)
{
	switch (flags & ANALYZER_ALL_FLAGS) {
	case ANALYZER_STOPWORDS | ANALYZER_STEM:
		return "stopwords,stem";
	case ANALYZER_STOPWORDS:
		return "stopwords";
	case ANALYZER_STEM:
		return "stem";
	default:
		return "none";
	}
}

void analyzer_begin(struct analyzer_stream *s, unsigned flags, const char *text, size_t len)
{
	s->p = (const unsigned char *)text;
	s->end = s->p + len;
	s->flags = flags;
	s->len = 0;
	s->tok[0] = '\0';
}

struct code_point {
	uint32_t cp;
	unsigned len;
	enum wb_class cls;
};

/* The code point at P; an ill-formed byte is one separator. */
static void peek(const unsigned char *p, const unsigned char *end, struct code_point *c)
{
	int n;

	if (p[0] < 0x80) {
		c->cp = p[0];
		c->len = 1;
		c->cls = ascii_class(p[0]);
		return;
	}
	n = utf8_decode(p, (size_t)(end - p), &c->cp);
	if (n == 0) {
		c->cp = 0xFFFD;
		c->len = 1;
		c->cls = WB_OTHER;
		return;
	}
	c->len = (unsigned)n;
	c->cls = cp_class(c->cp);
}

static void append_folded(struct analyzer_stream *s, uint32_t cp)
{
	if (cp < 0x80) {
		s->tok[s->len++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
		return;
	}
	s->len += (size_t)utf8_encode(fold(cp), s->tok + s->len);
}

/* A mid character at P joins the word when the class before it (LAST) and
 * the class after it (ignoring Extend and Format) agree: UAX #29 WB6/7
 * (letters) and WB11/12 (digits). */
static int mid_joins(const unsigned char *p, const unsigned char *end, enum wb_class mid,
		     enum wb_class last)
{
	struct code_point n;

	do {
		if (p >= end)
			return 0;
		peek(p, end, &n);
		p += n.len;
	} while (n.cls == WB_EXTEND || n.cls == WB_FORMAT);
	if (last == WB_LETTER && n.cls == WB_LETTER)
		return mid == WB_MIDLETTER || mid == WB_MIDNUMLET;
	if (last == WB_DIGIT && n.cls == WB_DIGIT)
		return mid == WB_MIDNUM || mid == WB_MIDNUMLET;
	return 0;
}

/* Scan one word from s->p into s->tok, folded.  Returns 0 when it has no
 * letter or digit (a run of connectors), which is no token. */
static int scan_word(struct analyzer_stream *s, const struct code_point *first)
{
	enum wb_class last = first->cls;
	int alnum = first->cls != WB_CONNECT;
	unsigned ncp = 1;
	struct code_point c;

	s->len = 0;
	append_folded(s, first->cp);
	s->p += first->len;
	while (s->p < s->end && ncp < ANALYZER_WORD_MAX) {
		peek(s->p, s->end, &c);
		switch (c.cls) {
		case WB_FORMAT:
			s->p += c.len;
			continue;
		case WB_EXTEND:
			break;
		case WB_LETTER:
		case WB_DIGIT:
			if (first->cls == WB_IDEO)
				return 1;
			alnum = 1;
			last = c.cls;
			break;
		case WB_CONNECT:
			if (first->cls == WB_IDEO)
				return 1;
			last = c.cls;
			break;
		case WB_MIDLETTER:
		case WB_MIDNUM:
		case WB_MIDNUMLET:
			if (first->cls == WB_IDEO || !mid_joins(s->p + c.len, s->end, c.cls, last))
				return alnum;
			break;
		default:
			return alnum;
		}
		append_folded(s, c.cp);
		s->p += c.len;
		ncp++;
	}
	return alnum;
}

/* EnglishPossessiveFilter: drop a trailing 's after ', U+2019 or U+FF07. */
static void strip_possessive(struct analyzer_stream *s)
{
	size_t n = s->len;

	if (n < 2 || s->tok[n - 1] != 's')
		return;
	if (s->tok[n - 2] == '\'')
		s->len -= 2;
	else if (n >= 4 && (!memcmp(s->tok + n - 4, "\xe2\x80\x99", 3) ||
			    !memcmp(s->tok + n - 4, "\xef\xbc\x87", 3)))
		s->len -= 4;
}

int analyzer_next(struct analyzer_stream *s)
{
	struct code_point c;

	while (s->p < s->end) {
		peek(s->p, s->end, &c);
		if (c.cls != WB_LETTER && c.cls != WB_DIGIT && c.cls != WB_IDEO &&
		    c.cls != WB_CONNECT) {
			s->p += c.len;
			continue;
		}
		if (!scan_word(s, &c))
			continue;
		strip_possessive(s);
		if (s->len == 0)
			continue;
		if ((s->flags & ANALYZER_STOPWORDS) && analyzer_is_stopword(s->tok, s->len))
			continue;
		if (s->flags & ANALYZER_STEM)
			s->len = stem_porter(s->tok, s->len);
		s->tok[s->len] = '\0';
		return 1;
	}
	s->len = 0;
	s->tok[0] = '\0';
	return 0;
}

/* fuzz_filter.c - libFuzzer target for the --filter parser and evaluator.
 *
 * Input: an expression, optionally followed by a NUL byte and meta JSON
 * text.  Compilation must either succeed or fail with a message that names
 * a column inside (or just past) the expression; a compiled filter is run
 * against the given meta and a few fixed ones, and must answer 0 or 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/filter.h"

static const char *fixed[] = {
	"{}",
	"{\"lang\":\"en\",\"year\":2020,\"tags\":[\"a\",1,null,[2]],\"a\":{\"b\":true}}",
	"{\"meta\":{\"lang\":\"de\"},\"x\":-1e400,\"y\":\"\"}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_error err = { 0 };
	struct filter *f;
	const uint8_t *nul = memchr(data, 0, size);
	size_t elen = nul ? (size_t)(nul - data) : size, i;
	char *expr = malloc(elen + 1);
	int r;

	if (!expr)
		return 0;
	memcpy(expr, data, elen);
	expr[elen] = 0;
	r = filter_compile(expr, &f, &err);
	if (r) {
		const char *col = NULL, *c;

		/* the last one: a quoted token may contain the words too */
		for (c = err.msg; (c = strstr(c, "at column ")); c++)
			col = c;

		if (r != LM_EINVAL && r != LM_ENOMEM)
			abort();
		if (col && strtoul(col + 10, NULL, 10) > elen + 1)
			abort();
		free(expr);
		return 0;
	}
	for (i = 0; i < sizeof fixed / sizeof *fixed; i++) {
		r = filter_match_text(f, fixed[i], strlen(fixed[i]), &err);
		if (r != 0 && r != 1)
			abort();
	}
	if (nul) {
		r = filter_match_text(f, (const char *)nul + 1, size - elen - 1, &err);
		if (r != 0 && r != 1 && r != LM_EFORMAT)
			abort();
	}
	r = filter_match(f, NULL);
	if (r != 0 && r != 1)
		abort();
	(void)filter_unknown_field(f);
	filter_free(f);
	free(expr);
	return 0;
}

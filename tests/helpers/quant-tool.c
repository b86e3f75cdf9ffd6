/* quant-tool - quant.h on raw files, for tests/ref/ggml_quant.py and
 * tests/cli/t0800-quant-ggml.sh (the ggml byte-identity test).
 *
 *   quant-tool quantize TYPE N < floats > blocks
 *   quant-tool dequantize TYPE N < blocks > floats
 *   quant-tool from-float TYPE N < floats > blocks
 *
 * Standard input holds whole rows of N elements: little-endian float32 for
 * quantize (the reference quantiser, quant_quantize_row_ref) and
 * from-float (the activation conversion of the dispatched level, as
 * LMPIPE_CPU selects), blocks of TYPE for dequantize (the dispatched
 * dequantize_row).  TYPE is a ggml type name (q4_0, q6_K, bf16...). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

static int fail(const char *msg, const char *arg)
{
	fprintf(stderr, "quant-tool: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	return 1;
}

int main(int argc, char **argv)
{
	size_t row_bytes, in_bytes, out_bytes, got;
	struct lm_error err = { 0 };
	char *in = NULL, *out = NULL, *end;
	int type, rc = 1, mode;
	long long n;

	if (argc != 4)
		return fail("usage: quant-tool quantize|dequantize|from-float TYPE N", NULL);
	if (!strcmp(argv[1], "quantize"))
		mode = 0;
	else if (!strcmp(argv[1], "dequantize"))
		mode = 1;
	else if (!strcmp(argv[1], "from-float"))
		mode = 2;
	else
		return fail("unknown mode", argv[1]);
	type = dtype_from_name(argv[2]);
	if (type < 0 || !quant_supported((enum dtype)type))
		return fail("unsupported type", argv[2]);
	if (mode == 2 && quant_vec_dot_type((enum dtype)type) != type)
		return fail("not an activation type", argv[2]);
	n = strtoll(argv[3], &end, 10);
	if (*end || n <= 0)
		return fail("bad row length", argv[3]);
	if (dtype_row_size((enum dtype)type, n, &row_bytes, &err) < 0)
		return fail(err.msg, NULL);
	in_bytes = mode == 1 ? row_bytes : (size_t)n * sizeof(float);
	out_bytes = mode == 1 ? (size_t)n * sizeof(float) : row_bytes;
	/* zeroed, so any byte a kernel failed to write shows in the diff */
	in = malloc(in_bytes);
	out = calloc(1, out_bytes);
	if (!in || !out) {
		fail("out of memory", NULL);
		goto out;
	}
	while ((got = fread(in, 1, in_bytes, stdin)) == in_bytes) {
		if (mode == 0)
			quant_quantize_row_ref((enum dtype)type, (const float *)in, out, n);
		else if (mode == 1)
			quant_dequantize_row((enum dtype)type, in, (float *)out, n);
		else
			quant_from_float((enum dtype)type, (const float *)in, out, n);
		if (fwrite(out, 1, out_bytes, stdout) != out_bytes) {
			fail("write error", NULL);
			goto out;
		}
		memset(out, 0, out_bytes);
	}
	if (ferror(stdin) || got) {
		fail(got ? "input is not a whole number of rows" : "read error", NULL);
		goto out;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fail("write error", NULL);
		goto out;
	}
	rc = 0;
out:
	free(in);
	free(out);
	return rc;
}

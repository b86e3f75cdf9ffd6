/* test_quant - kernels/quant.h: hand-computed blocks, the type contract,
 * and every SIMD level against the scalar one on random rows of 1 to
 * several blocks; every level's quantize_row against the reference
 * quantiser on random and structured rows.  (Byte identity with llama.cpp
 * itself is tests/cli/t0800-quant-ggml.sh and, through quantize(1),
 * tests/cli/t0840-quantize.sh.) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "tap.h"

static const enum dtype all_types[] = {
	DTYPE_F32, DTYPE_F16, DTYPE_BF16, DTYPE_Q4_0, DTYPE_Q4_1, DTYPE_Q5_0, DTYPE_Q5_1, DTYPE_Q8_0,
	DTYPE_Q8_1, DTYPE_Q2_K, DTYPE_Q3_K, DTYPE_Q4_K, DTYPE_Q5_K, DTYPE_Q6_K, DTYPE_Q8_K,
};
#define N_TYPES (sizeof all_types / sizeof all_types[0])

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double uniform01(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static float normal(void)
{
	return (float)(sqrt(-2 * log(uniform01())) * cos(6.283185307179586 * uniform01()));
}

static size_t row_bytes(enum dtype t, int64_t n)
{
	size_t size = 0;
	struct lm_error err;

	if (dtype_row_size(t, n, &size, &err) < 0)
		return 0;
	return size;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Q8_0 with absmax 127: d = 127 / 127 = 1 (fp16 0x3c00), id = 1, codes
 * roundf(x): halves go away from zero. */
static void test_q8_0_by_hand(void)
{
	float x[32];
	int8_t want[32];
	uint8_t blk[34];
	float back[32];
	int j, same = 1;

	for (j = 0; j < 32; j++) {
		x[j] = (float)(j - 16) * 3.5f;      /* -56 .. 52.5 in steps of 3.5 */
		/* roundf by hand: k * 3.5 is an integer for even k, k*3 + 1.5 for odd */
		want[j] = (int8_t)((j - 16) % 2 == 0 ? (j - 16) * 7 / 2
					: (j - 16) > 0 ? ((j - 16) * 7 + 1) / 2 : ((j - 16) * 7 - 1) / 2);
	}
	x[0] = -127;
	want[0] = -127;
	x[31] = 0.5f;
	want[31] = 1;
	x[30] = -0.5f;
	want[30] = -1;
	x[29] = 2.5f;
	want[29] = 3;
	x[28] = 2.4999998f;
	want[28] = 2;
	quant_quantize_row_ref(DTYPE_Q8_0, x, blk, 32);
	is_int(rd16(blk), 0x3c00, "q8_0 by hand: d = 127 / 127 = 1.0 (fp16 0x3c00)");
	is_mem(blk + 2, want, 32, "q8_0 by hand: codes are roundf(x / 1), halves away from zero");
	quant_dequantize_row(DTYPE_Q8_0, blk, back, 32);
	for (j = 0; j < 32; j++)
		same &= back[j] == (float)want[j];
	ok(same, "q8_0 by hand: decodes to code * 1.0");

	/* amax 2: d = 2/127 (stored as fp16), 2 * (127/2) = 127, 1 * 63.5 = 63.5 -> 64 */
	for (j = 0; j < 32; j++)
		x[j] = j % 2 ? 2.0f : 1.0f;
	quant_quantize_row_ref(DTYPE_Q8_0, x, blk, 32);
	ok(blk[2] == 64 && blk[3] == 127, "q8_0 by hand: 1 -> 64 (63.5 rounds up), 2 -> 127 (got %d %d)",
	   (int8_t)blk[2], (int8_t)blk[3]);
}

/* Q4_0 with the largest magnitude -8: d = -8 / -8 = 1, code = min(15,
 * trunc(x + 8.5)); element j in the low nibble of byte j, j + 16 high. */
static void test_q4_0_by_hand(void)
{
	static const float x[32] = {
		-8, 7, 0, 3.4f, -0.5f, 7.6f, 0.49f, -3, 1, 2, 3, 4, 5, 6, -1, -2,
		-4, -5, -6, -7, 0.5f, 1.5f, -1.5f, 6.5f, -7.5f, 0, 0, 0, 0, 0, 0, 0,
	};
	static const int code[32] = {
		0, 15, 8, 11, 8, 15, 8, 5, 9, 10, 11, 12, 13, 14, 7, 6,
		4, 3, 2, 1, 9, 10, 7, 15, 1, 8, 8, 8, 8, 8, 8, 8,
	};
	uint8_t blk[18], want[16];
	float back[32];
	int j, same = 1;

	for (j = 0; j < 16; j++)
		want[j] = (uint8_t)(code[j] | code[j + 16] << 4);
	quant_quantize_row_ref(DTYPE_Q4_0, x, blk, 32);
	is_int(rd16(blk), 0x3c00, "q4_0 by hand: d = -8 / -8 = 1.0");
	is_mem(blk + 2, want, 16, "q4_0 by hand: codes trunc(x + 8.5) capped at 15, nibble order");
	quant_dequantize_row(DTYPE_Q4_0, blk, back, 32);
	for (j = 0; j < 32; j++)
		same &= back[j] == (float)(code[j] - 8);
	ok(same, "q4_0 by hand: decodes to (code - 8) * d");
}

static void test_zero_and_constant_rows(void)
{
	float x[512], y[512];
	uint8_t q[2048];
	size_t t, i;
	int64_t n = 512;

	for (t = 0; t < N_TYPES; t++) {
		enum dtype type = all_types[t];
		size_t size = row_bytes(type, n);
		int zero = 1, exact = 1;
		double err = 0;

		memset(x, 0, sizeof x);
		memset(q, 0xa5, sizeof q);
		quant_quantize_row_ref(type, x, q, n);
		/* Q4_0 and Q5_0 code zero as the middle level, 8 and 16, under
		 * d = 0 / -8 = -0.0 (fp16 0x8000): qs 0x88, or qs 0x00 with
		 * every fifth bit set */
		for (i = 0; i < size; i++) {
			size_t off = type == DTYPE_Q4_0 ? i % 18 : type == DTYPE_Q5_0 ? i % 22 : 0;
			int want = 0;

			if ((type == DTYPE_Q4_0 || type == DTYPE_Q5_0) && off == 1)
				want = 0x80;

			if (type == DTYPE_Q4_0 && off >= 2)
				want = 0x88;
			if (type == DTYPE_Q5_0 && off >= 2 && off < 6)
				want = 0xff;
			zero &= q[i] == want;
		}
		quant_dequantize_row(type, q, y, n);
		for (i = 0; i < (size_t)n; i++)
			exact &= y[i] == 0;
		ok(zero && exact, "%s: a zero row gives the zero code with d = 0 and decodes to zeros",
		   dtype_name(type));

		for (i = 0; i < (size_t)n; i++)
			x[i] = 1.75f;
		quant_quantize_row_ref(type, x, q, n);
		quant_dequantize_row(type, q, y, n);
		for (i = 0; i < (size_t)n; i++)
			err = fmax(err, fabs(y[i] - 1.75));
		/* fp16 scales: a few 2^-11 of the value at worst */
		ok(err < 1e-3, "%s: a constant row 1.75 decodes to 1.75 (max error %g)", dtype_name(type), err);
	}
	/* Q4_1 of a constant: d = 0, min = the constant, exactly */
	for (i = 0; i < 32; i++)
		x[i] = -2.5f;
	quant_quantize_row_ref(DTYPE_Q4_1, x, q, 32);
	ok(rd16(q) == 0 && rd16(q + 2) == 0xc100, "q4_1 constant -2.5: d = 0, m = -2.5 (fp16 0xc100)");
}

static void test_contract(void)
{
	int good = 1;
	size_t t;

	for (t = 0; t < N_TYPES; t++)
		good &= quant_supported(all_types[t]) && quant_vec_dot_type(all_types[t]) >= 0;
	ok(good, "every listed type is supported and has a dot type");
	ok(!quant_supported(DTYPE_IQ2_XXS) && quant_vec_dot_type(DTYPE_IQ2_XXS) == -1 &&
	   !quant_supported(DTYPE_I32), "iq2_xxs and i32 are not");
	ok(quant_vec_dot_type(DTYPE_Q4_0) == DTYPE_Q8_0 && quant_vec_dot_type(DTYPE_Q5_0) == DTYPE_Q8_0 &&
	   quant_vec_dot_type(DTYPE_Q8_0) == DTYPE_Q8_0 && quant_vec_dot_type(DTYPE_Q4_1) == DTYPE_Q8_1 &&
	   quant_vec_dot_type(DTYPE_Q5_1) == DTYPE_Q8_1 && quant_vec_dot_type(DTYPE_Q2_K) == DTYPE_Q8_K &&
	   quant_vec_dot_type(DTYPE_Q6_K) == DTYPE_Q8_K && quant_vec_dot_type(DTYPE_F16) == DTYPE_F16 &&
	   quant_vec_dot_type(DTYPE_BF16) == DTYPE_BF16 && quant_vec_dot_type(DTYPE_F32) == DTYPE_F32,
	   "dot types are ggml's vec_dot_type mapping");
	ok(quant_kernels_at(CPU_SCALAR) != NULL && quant_kernels_at(CPU_SCALAR)->level == CPU_SCALAR,
	   "the scalar level always exists");
	ok(quant_kernels() != NULL && quant_kernels()->level <= cpu_features()->level,
	   "dispatch picks a level the CPU allows (%s)", cpu_level_name(quant_kernels()->level));
}

/* The scalar dot product must match a float64 sum of the decoded rows to
 * float rounding: the block kernels are exact integer sums. */
static void test_scalar_dot_vs_decoded(void)
{
	const struct quant_kernels *s = quant_kernels_at(CPU_SCALAR);
	int64_t n = 1024, i;
	float *w = malloc(n * sizeof *w), *x = malloc(n * sizeof *x);
	float *wd = malloc(n * sizeof *wd), *xd = malloc(n * sizeof *xd);
	uint8_t *wq = malloc(n * 4), *xq = malloc(n * 4);
	size_t t;

	for (i = 0; i < n; i++) {
		w[i] = normal();
		x[i] = normal();
	}
	for (t = 0; t < N_TYPES; t++) {
		enum dtype type = all_types[t], dt = (enum dtype)quant_vec_dot_type(all_types[t]);
		double want = 0, mag = 0;
		float got;

		quant_quantize_row_ref(type, w, wq, n);
		s->from_float[dt](x, xq, n);
		s->dequantize_row[type](wq, wd, n);
		s->dequantize_row[dt](xq, xd, n);
		for (i = 0; i < n; i++) {
			want += (double)wd[i] * xd[i];
			mag += fabs((double)wd[i] * xd[i]);
		}
		got = s->vec_dot[type](n, wq, xq);
		/* Q8_1's s field is d * sum rounded to fp16, so Q4_1/Q5_1 carry
		 * that rounding: 2^-11 relative of the min terms */
		ok(fabs(got - want) <= 2e-4 * mag + 1e-6, "%s: scalar dot = decoded dot (%.7g vs %.7g)",
		   dtype_name(type), got, want);
	}
	free(w);
	free(x);
	free(wd);
	free(xd);
	free(wq);
	free(xq);
}

static void test_levels(void)
{
	static const int blocks[] = { 1, 2, 3, 5, 16 };
	const struct quant_kernels *s = quant_kernels_at(CPU_SCALAR);
	int64_t nmax = 16 * 256, n, i;
	float *w = malloc(nmax * sizeof *w), *x = malloc(nmax * sizeof *x);
	float *ys = malloc(nmax * sizeof *ys), *yl = malloc(nmax * sizeof *yl);
	uint8_t *wq = malloc(nmax * 4), *xq = malloc(nmax * 4), *xl = malloc(nmax * 4);
	int level;
	size_t t, b;

	for (level = CPU_AVX2; level < CPU_LEVEL_COUNT; level++) {
		const struct quant_kernels *k = quant_kernels_at((enum cpu_level)level);

		if (!k) {
			ok(1, "# SKIP %s: not available on this CPU", cpu_level_name((enum cpu_level)level));
			continue;
		}
		for (t = 0; t < N_TYPES; t++) {
			enum dtype type = all_types[t], dt = (enum dtype)quant_vec_dot_type(all_types[t]);
			int dot_ok = 1, deq_ok = 1, ff_ok = 1;
			double worst = 0;

			for (b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
				n = blocks[b] * dtype_block_size(type);
				for (i = 0; i < n; i++) {
					w[i] = normal() * (i % 97 == 0 ? 8 : 1);
					x[i] = normal();
				}
				quant_quantize_row_ref(type, w, wq, n);
				/* activation bytes: identical at every level */
				s->from_float[dt](x, xq, n);
				k->from_float[dt](x, xl, n);
				ff_ok &= !memcmp(xq, xl, row_bytes(dt, n));
				/* decoding: identical bits */
				s->dequantize_row[type](wq, ys, n);
				k->dequantize_row[type](wq, yl, n);
				deq_ok &= !memcmp(ys, yl, n * sizeof(float));
				/* dot products: agree to rounding of the magnitude */
				{
					float a = s->vec_dot[type](n, wq, xq), c = k->vec_dot[type](n, wq, xq);
					double mag = 0;

					s->dequantize_row[dt](xq, yl, n);
					for (i = 0; i < n; i++)
						mag += fabs((double)ys[i] * yl[i]);
					worst = fmax(worst, fabs(a - c) / (mag + 1e-30));
					dot_ok &= fabs(a - c) <= 1e-5 * mag + 1e-30;
				}
			}
			ok(dot_ok, "%s %s: vec_dot agrees with scalar (worst %.2g of magnitude)",
			   cpu_level_name((enum cpu_level)level), dtype_name(type), worst);
			ok(deq_ok, "%s %s: dequantize_row bitwise the scalar's", cpu_level_name((enum cpu_level)level),
			   dtype_name(type));
			ok(ff_ok, "%s %s: from_float(%s) bytes identical to the reference",
			   cpu_level_name((enum cpu_level)level), dtype_name(type), dtype_name(dt));
		}
	}
	free(w);
	free(x);
	free(ys);
	free(yl);
	free(wq);
	free(xq);
	free(xl);
}

/* Row I of the structured inputs for quantize_row: the cases where a
 * search or a tie-break could go another way. */
static void pattern_row(int pat, float *x, int64_t n)
{
	int64_t i;

	for (i = 0; i < n; i++) {
		float g = normal();

		switch (pat) {
		case 0: x[i] = g; break;
		case 1: x[i] = g * 0.02f; break;                              /* weight-like */
		case 2: x[i] = fabsf(g) + 0.5f; break;                         /* all positive: min > 0 */
		case 3: x[i] = -fabsf(g) * 3e4f; break;                        /* all negative, large */
		case 4: x[i] = 0.f; break;
		case 5: x[i] = 1e-20f; break;                                  /* constant below the group epsilon */
		case 6: x[i] = -3e4f; break;                                   /* constant */
		case 7: x[i] = i % 61 == 5 ? g * 100 : g * 0.01f; break;      /* outliers */
		case 8: x[i] = g * 1e-30f; break;
		case 9: x[i] = g * 1e6f; break;
		case 10: x[i] = (float)((i * 7) % 65 - 32) * 0.25f; break;     /* steps: rounding ties */
		case 11: x[i] = i % 32 < 4 ? 0.f : (i % 2 ? 1.f : -1.f); break; /* two levels */
		case 12: x[i] = i % 3 == 0 ? -0.0f : i % 16 == 1 ? g : 0.f; break; /* signed zeros, sparse */
		case 13: x[i] = i % 8 == 0 ? 2.f : i % 8 == 4 ? -2.f : g * 0.5f; break; /* +-amax ties */
		case 14: x[i] = g * 1e-36f; break;                             /* some subnormal */
		default: x[i] = g * (float)(1 + (i / 32) % 5) * (i % 2 ? 1e-3f : 1e-2f); break; /* mixed scales */
		}
	}
}

enum { N_PATTERNS = 16 };

static void test_quantize_row_levels(void)
{
	static const int blocks[] = { 1, 3, 8 };
	int64_t nmax = 8 * 256, n;
	float *x = malloc(nmax * sizeof *x);
	uint8_t *want = malloc(nmax * 4), *got = malloc(nmax * 4);
	int level, pat, rep, missing = 0;
	size_t t, b;

	for (t = 0; t < N_TYPES; t++)
		missing += quant_kernels()->quantize_row[all_types[t]] == NULL;
	ok(!missing, "every type has a quantize_row at the dispatched level");
	for (level = CPU_SCALAR; level < CPU_LEVEL_COUNT; level++) {
		const struct quant_kernels *k = quant_kernels_at((enum cpu_level)level);

		if (!k) {
			ok(1, "# SKIP %s: not available on this CPU", cpu_level_name((enum cpu_level)level));
			continue;
		}
		for (t = 0; t < N_TYPES; t++) {
			enum dtype type = all_types[t];
			int same = 1, rows = 0, first_bad = -1;

			for (b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
				n = blocks[b] * dtype_block_size(type);
				for (pat = 0; pat < N_PATTERNS + 40; pat++) {
					/* patterns past N_PATTERNS: more random rows of varied scale */
					for (rep = 0; rep < (pat < N_PATTERNS ? 2 : 1); rep++) {
						pattern_row(pat < N_PATTERNS ? pat : N_PATTERNS, x, n);
						quant_quantize_row_ref(type, x, want, n);
						memset(got, 0xA5, row_bytes(type, n));
						k->quantize_row[type](x, got, n);
						rows++;
						if (memcmp(want, got, row_bytes(type, n)) && same) {
							same = 0;
							first_bad = pat;
						}
					}
				}
			}
			ok(same, "%s %s: quantize_row bytes identical to the reference (%d rows%s)",
			   cpu_level_name((enum cpu_level)level), dtype_name(type), rows,
			   first_bad >= 0 ? ", first difference on a structured pattern" : "");
			if (first_bad >= 0)
				diag("pattern %d", first_bad);
		}
	}
	/* the public entry is the dispatched level's */
	pattern_row(0, x, 512);
	quant_quantize_row_ref(DTYPE_Q4_K, x, want, 512);
	quant_quantize_row(DTYPE_Q4_K, x, got, 512);
	ok(!memcmp(want, got, row_bytes(DTYPE_Q4_K, 512)), "quant_quantize_row gives the reference's bytes");
	free(x);
	free(want);
	free(got);
}

static void test_gemv(void)
{
	int64_t n = 512, rows = 9, r, i;
	float *w = malloc(rows * n * sizeof *w), *x = malloc(n * sizeof *x), y[9];
	size_t rb = row_bytes(DTYPE_Q4_K, n);
	uint8_t *wq = malloc(rows * rb), *xq = malloc(n * 4);
	const struct quant_kernels *k = quant_kernels();
	int good = 1;

	for (i = 0; i < rows * n; i++)
		w[i] = normal();
	for (i = 0; i < n; i++)
		x[i] = normal();
	for (r = 0; r < rows; r++)
		quant_quantize_row_ref(DTYPE_Q4_K, w + r * n, wq + r * rb, n);
	quant_from_float(DTYPE_Q8_K, x, xq, n);
	for (r = 0; r < rows; r++)
		y[r] = -12345;
	quant_gemv(DTYPE_Q4_K, n, wq, rb, 2, 7, xq, y);
	for (r = 0; r < rows; r++)
		good &= (r < 2 || r >= 7) ? y[r] == -12345 : y[r] == k->vec_dot[DTYPE_Q4_K](n, wq + r * rb, xq);
	ok(good, "gemv writes y[r] = dot(row r) for r in [r0, r1) only");
	free(w);
	free(x);
	free(wq);
	free(xq);
}

int main(void)
{
	test_contract();
	test_q8_0_by_hand();
	test_q4_0_by_hand();
	test_zero_and_constant_rows();
	test_scalar_dot_vs_decoded();
	test_levels();
	test_quantize_row_levels();
	test_gemv();
	return tap_done();
}

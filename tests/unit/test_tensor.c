/* test_tensor.c - dtype table, shapes and strides, views, and the scalar
 * f16/bf16 conversions against references computed here in double
 * arithmetic and, where the CPU has it, against the F16C instruction. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "half.h"
#include "tap.h"
#include "tensor.h"

/* ASan aborts on absurd allocations instead of returning NULL */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_X86 1

/* F16C: CPUID leaf 1 ECX bit 29; "avx" also checks that the OS saves YMM
 * state.  (Asked here directly rather than through kernels/cpu.h, and
 * clang's __builtin_cpu_supports has no "f16c".) */
static int cpu_has_f16c(void)
{
	unsigned a, b, c, d;

	__builtin_cpu_init();
	return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng32(void)
{
	/* xorshift64*: Vigna, "An experimental exploration of Marsaglia's
	 * xorshift generators" */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static float bits_f(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static uint32_t f_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

/* ---- dtype table ---- */

static void test_dtypes(void)
{
	struct lm_error err = { 0 };
	size_t sz = 0;

	/* ggml.h enum ggml_type */
	is_int(DTYPE_F32, 0, "F32 is ggml type 0");
	is_int(DTYPE_F16, 1, "F16 is ggml type 1");
	is_int(DTYPE_Q4_0, 2, "Q4_0 is 2");
	is_int(DTYPE_Q8_0, 8, "Q8_0 is 8");
	is_int(DTYPE_Q4_K, 12, "Q4_K is 12");
	is_int(DTYPE_Q6_K, 14, "Q6_K is 14");
	is_int(DTYPE_I8, 24, "I8 is 24");
	is_int(DTYPE_I32, 26, "I32 is 26");
	is_int(DTYPE_BF16, 30, "BF16 is 30");
	is_int(DTYPE_TQ2_0, 35, "TQ2_0 is 35");
	is_int(DTYPE_MXFP4, 39, "MXFP4 is 39");

	ok(!dtype_valid(4) && !dtype_valid(5), "retired Q4_2/Q4_3 ids are not valid");
	ok(!dtype_valid(31) && !dtype_valid(-1) && !dtype_valid(40) && !dtype_valid(1000),
	   "ids out of the table are not valid");
	ok(dtype_name((enum dtype)4) == NULL, "no name for a retired id");
	is_str(dtype_name(DTYPE_Q6_K), "q6_K", "name of Q6_K");
	is_str(dtype_name(DTYPE_BF16), "bf16", "name of BF16");
	is_int(dtype_from_name("Q4_K"), DTYPE_Q4_K, "name lookup is case-insensitive");
	is_int(dtype_from_name("iq4_xs"), DTYPE_IQ4_XS, "iq4_xs by name");
	is_int(dtype_from_name("q4_2"), -1, "unknown name");
	is_int(dtype_from_name(""), -1, "empty name");

	/* sizes from the block layouts in ggml-common.h, summed here by
	 * field: f16 scale = 2 bytes, QK_K = 256 */
	is_int(dtype_type_size(DTYPE_Q4_0), 2 + 32 / 2, "q4_0 block: d + 16 nibble bytes");
	is_int(dtype_type_size(DTYPE_Q4_1), 2 * 2 + 32 / 2, "q4_1 block: d, m + nibbles");
	is_int(dtype_type_size(DTYPE_Q5_0), 2 + 4 + 32 / 2, "q5_0 block: d + qh + nibbles");
	is_int(dtype_type_size(DTYPE_Q5_1), 2 * 2 + 4 + 32 / 2, "q5_1 block");
	is_int(dtype_type_size(DTYPE_Q8_0), 2 + 32, "q8_0 block: d + 32 int8");
	is_int(dtype_type_size(DTYPE_Q8_1), 2 * 2 + 32, "q8_1 block: d, s + 32 int8");
	is_int(dtype_type_size(DTYPE_Q2_K), 256 / 16 + 256 / 4 + 2 * 2, "q2_K block");
	is_int(dtype_type_size(DTYPE_Q3_K), 256 / 8 + 256 / 4 + 12 + 2, "q3_K block");
	is_int(dtype_type_size(DTYPE_Q4_K), 2 * 2 + 12 + 256 / 2, "q4_K block");
	is_int(dtype_type_size(DTYPE_Q5_K), 2 * 2 + 12 + 256 / 8 + 256 / 2, "q5_K block");
	is_int(dtype_type_size(DTYPE_Q6_K), 256 / 2 + 256 / 4 + 256 / 16 + 2, "q6_K block");
	is_int(dtype_type_size(DTYPE_Q8_K), 4 + 256 + 256 / 16 * 2, "q8_K block: f32 d + qs + bsums");
	is_int(dtype_type_size(DTYPE_IQ4_NL), 2 + 32 / 2, "iq4_nl block");
	is_int(dtype_type_size(DTYPE_IQ4_XS), 2 + 2 + 256 / 64 + 256 / 2, "iq4_xs block");
	is_int(dtype_type_size(DTYPE_IQ2_XXS), 2 + 256 / 8 * 2, "iq2_xxs block");
	is_int(dtype_type_size(DTYPE_TQ1_0), (256 - 4 * 256 / 64) / 5 + 256 / 64 + 2, "tq1_0 block");
	is_int(dtype_type_size(DTYPE_MXFP4), 1 + 32 / 2, "mxfp4 block");
	is_int(dtype_type_size(DTYPE_BF16), 2, "bf16 element");
	is_int(dtype_type_size(DTYPE_F64), 8, "f64 element");
	is_int(dtype_block_size(DTYPE_Q4_0), 32, "q4_0 has 32 per block");
	is_int(dtype_block_size(DTYPE_Q5_K), 256, "q5_K has 256 per block");
	is_int(dtype_block_size(DTYPE_F16), 1, "f16 is not blocked");
	is_int(dtype_block_size((enum dtype)33), 0, "invalid type: block size 0");
	ok(dtype_is_quantized(DTYPE_Q8_0) && !dtype_is_quantized(DTYPE_I8), "is_quantized");

	ok(dtype_row_size(DTYPE_Q4_0, 4096, &sz, &err) == 0 && sz == 4096 / 32 * 18, "q4_0 row of 4096");
	ok(dtype_row_size(DTYPE_F32, 0, &sz, &err) == 0 && sz == 0, "empty row");
	is_int(dtype_row_size(DTYPE_Q4_K, 100, &sz, &err), LM_EINVAL, "partial block rejected");
	ok(strstr(err.msg, "q4_K") && strstr(err.msg, "100"), "message names type and length: %s", err.msg);
	is_int(dtype_row_size(DTYPE_F32, -1, &sz, &err), LM_EINVAL, "negative length rejected");
	is_int(dtype_row_size(DTYPE_F64, INT64_MAX, &sz, &err), LM_EINVAL, "row size overflow rejected");
	ok(strstr(err.msg, "overflow") != NULL, "overflow message: %s", err.msg);
	is_int(dtype_row_size((enum dtype)5, 32, &sz, &err), LM_EINVAL, "invalid type rejected");

	/* dense sizes: row bytes times the outer dimensions */
	{
		int64_t ne[TENSOR_MAX_DIMS] = { 4096, 32, 1, 1 };

		ok(dtype_nbytes(DTYPE_Q8_0, ne, &sz, &err) == 0 && sz == (size_t)4096 / 32 * 34 * 32,
		   "q8_0 [4096, 32]: 128 blocks of 34 bytes per row, 32 rows");
		ne[1] = 3;
		ne[2] = 5;
		ne[3] = 7;
		ok(dtype_nbytes(DTYPE_F16, ne, &sz, &err) == 0 && sz == (size_t)4096 * 2 * 3 * 5 * 7,
		   "f16 [4096, 3, 5, 7]");
		ne[2] = 0;
		ok(dtype_nbytes(DTYPE_F16, ne, &sz, &err) == 0 && sz == 0, "an empty dimension gives 0 bytes");
		ne[0] = 100;
		ne[2] = 1;
		is_int(dtype_nbytes(DTYPE_Q8_0, ne, &sz, &err), LM_EINVAL, "partial block rejected");
		ok(strstr(err.msg, "q8_0") && strstr(err.msg, "100"), "message names type and length: %s", err.msg);
		ne[0] = 8;
		ne[3] = -1;
		is_int(dtype_nbytes(DTYPE_F32, ne, &sz, &err), LM_EINVAL, "negative dimension rejected");
		ok(strstr(err.msg, "dimension 3") != NULL, "message names the dimension: %s", err.msg);
		ne[0] = INT64_MAX / 4;
		ne[1] = 4;
		ne[3] = 1;
		is_int(dtype_nbytes(DTYPE_F32, ne, &sz, &err), LM_EINVAL,
		       "row fits, rows overflow: rejected");
		ok(strstr(err.msg, "overflow") != NULL, "overflow message: %s", err.msg);
		ne[0] = 1LL << 31;
		ne[1] = 1LL << 31;
		ne[3] = 1;
		is_int(dtype_nbytes(DTYPE_I8, ne, &sz, &err), 0, "2^62 bytes fit");
		ne[1] = 1LL << 32;
		is_int(dtype_nbytes(DTYPE_I8, ne, &sz, &err), LM_EINVAL, "2^63 bytes do not fit in int64");
		is_int(dtype_nbytes((enum dtype)31, ne, &sz, &err), LM_EINVAL, "invalid type rejected");
	}
}

/* ---- shapes, strides, views ---- */

static void test_shapes(void)
{
	struct lm_error err = { 0 };
	struct tensor t, v, w;
	float buf[60];
	char desc[64];
	int64_t ne3[3] = { 3, 4, 5 };
	int64_t i0, i1, i2;
	int good;

	for (i0 = 0; i0 < 60; i0++)
		buf[i0] = (float)i0;
	ok(tensor_init(&t, DTYPE_F32, 3, ne3, buf, &err) == 0, "init f32 [3,4,5]");
	ok(t.nb[0] == 4 && t.nb[1] == 12 && t.nb[2] == 48 && t.nb[3] == 240, "contiguous strides");
	ok(t.ne[3] == 1 && t.n_dims == 3, "unused dimension is 1");
	is_int(tensor_nelements(&t), 60, "nelements");
	is_int(tensor_nrows(&t), 20, "nrows");
	is_int(tensor_nbytes(&t), 240, "nbytes");
	is_int(tensor_row_bytes(&t), 12, "row bytes");
	ok(tensor_is_contiguous(&t), "is contiguous");
	ok(*(float *)tensor_at(&t, 2, 3, 4, 0) == 2 + 3 * 3 + 4 * 12, "element (2,3,4) is index 59");
	ok(tensor_row(&t, 1, 2, 0) == (void *)&buf[3 + 24], "row (1,2)");
	is_str(tensor_describe(&t, desc, sizeof desc), "f32 [3, 4, 5]", "describe");
	is_str(tensor_describe(&t, desc, 8), "f32 [3,", "describe truncates safely");

	/* slice rows 1..3 of dimension 1: same strides, offset start */
	ok(tensor_slice(&v, &t, 1, 1, 2, &err) == 0, "slice dim 1");
	ok(v.ne[1] == 2 && v.data == (void *)&buf[3] && v.nb[2] == 48, "slice shape and start");
	ok(!tensor_is_contiguous(&v), "slice of a middle dimension is not contiguous");
	is_int(tensor_nbytes(&v), 12 + 12 + 4 * 48, "slice span");
	ok(*(float *)tensor_at(&v, 1, 1, 2, 0) == 1 + 2 * 3 + 2 * 12, "slice element");
	ok(tensor_slice(&v, &t, 2, 4, 1, &err) == 0 && tensor_is_contiguous(&v), "slice of the outer dim stays contiguous");
	ok(tensor_slice(&v, &t, 0, 1, 2, &err) == 0 && v.data == (void *)&buf[1] && !tensor_is_contiguous(&v),
	   "slice of dim 0");
	is_int(tensor_slice(&v, &t, 1, 3, 2, &err), LM_EINVAL, "slice past the end rejected");
	ok(strstr(err.msg, "[3, 5)") != NULL, "slice message: %s", err.msg);
	is_int(tensor_slice(&v, &t, 4, 0, 1, &err), LM_EINVAL, "slice of dimension 4 rejected");
	is_int(tensor_slice(&v, &t, 1, -1, 1, &err), LM_EINVAL, "negative start rejected");
	ok(tensor_slice(&v, &t, 1, 4, 0, &err) == 0 && tensor_nbytes(&v) == 0, "empty slice at the end");

	/* transpose: element (i, j) of the view is (j, i) of the source */
	ok(tensor_transpose(&v, &t, 0, 1, &err) == 0, "transpose 0,1");
	ok(v.ne[0] == 4 && v.ne[1] == 3 && v.nb[0] == 12 && v.nb[1] == 4, "transposed shape and strides");
	ok(!tensor_is_contiguous(&v), "transpose is not contiguous");
	good = 1;
	for (i2 = 0; i2 < 5; i2++)
		for (i1 = 0; i1 < 3; i1++)
			for (i0 = 0; i0 < 4; i0++)
				if (*(float *)tensor_at(&v, i0, i1, i2, 0) != buf[i1 + 3 * i0 + 12 * i2])
					good = 0;
	ok(good, "every transposed element matches");
	is_int(tensor_nbytes(&v), 240, "transpose spans the same bytes");
	ok(tensor_transpose(&w, &v, 1, 0, &err) == 0 && tensor_is_contiguous(&w) && tensor_same_shape(&w, &t),
	   "transposing back restores the layout");
	ok(tensor_transpose(&v, &t, 2, 3, &err) == 0 && v.n_dims == 4 && v.ne[3] == 5 && v.ne[2] == 1,
	   "transpose into the unused dimension");
	ok(tensor_is_contiguous(&v), "moving a size-1 dimension keeps contiguity");
	v = t;
	ok(tensor_transpose(&v, &v, 0, 2, &err) == 0 && v.ne[0] == 5 && v.ne[2] == 3, "transpose in place");

	/* reshape */
	{
		int64_t ne2[2] = { 12, 5 }, bad[2] = { 7, 9 };

		ok(tensor_reshape(&v, &t, 2, ne2, &err) == 0 && v.nb[1] == 48 && v.data == t.data, "reshape to [12,5]");
		is_int(tensor_reshape(&v, &t, 2, bad, &err), LM_EINVAL, "reshape changing the count rejected");
		tensor_transpose(&w, &t, 0, 1, &err);
		is_int(tensor_reshape(&v, &w, 2, ne2, &err), LM_EINVAL, "reshape of a transpose rejected");
	}

	/* general views */
	{
		int64_t ne2[2] = { 2, 5 };
		size_t nb2[2] = { 4, 48 };

		ok(tensor_view(&v, &t, 2, ne2, nb2, 4 * 10, &err) == 0, "strided view");
		ok(*(float *)tensor_at(&v, 1, 4, 0, 0) == 10 + 1 + 4 * 12, "strided view element");
		/* last byte touched: 40 + 4 + 4*48 + 4 = 240: fits exactly */
		is_int(tensor_nbytes(&v), 4 + 4 + 4 * 48, "view span");
		ok(tensor_view(&v, &t, 2, ne2, nb2, 4 * 11, &err) == LM_EINVAL, "view one element too far rejected");
		ok(strstr(err.msg, "240") != NULL, "view message: %s", err.msg);
		nb2[1] = SIZE_MAX / 2;
		is_int(tensor_view(&v, &t, 2, ne2, nb2, 0, &err), LM_EINVAL, "view with overflowing stride rejected");
	}

	/* invalid shapes and overflow */
	{
		int64_t neg[2] = { 4, -1 }, big[2] = { INT64_MAX / 2, 4 }, bytes[2] = { INT64_MAX / 8, 3 };
		int64_t zero[3] = { 0, INT64_MAX, INT64_MAX };

		is_int(tensor_init(&v, DTYPE_F32, 0, ne3, NULL, &err), LM_EINVAL, "0 dimensions rejected");
		is_int(tensor_init(&v, DTYPE_F32, 5, ne3, NULL, &err), LM_EINVAL, "5 dimensions rejected");
		is_int(tensor_init(&v, DTYPE_F32, 2, neg, NULL, &err), LM_EINVAL, "negative dimension rejected");
		is_int(tensor_init(&v, DTYPE_F32, 2, big, NULL, &err), LM_EINVAL, "element count overflow rejected");
		ok(strstr(err.msg, "overflow") != NULL, "overflow message: %s", err.msg);
		is_int(tensor_init(&v, DTYPE_F32, 2, bytes, NULL, &err), LM_EINVAL, "byte size overflow rejected");
		is_int(tensor_init(&v, DTYPE_F32, 3, zero, NULL, &err), LM_EINVAL,
		       "huge outer dimensions rejected even when empty");
		is_int(tensor_init(&v, (enum dtype)31, 1, ne3, NULL, &err), LM_EINVAL, "invalid type rejected");
	}
}

static void test_quantized_shapes(void)
{
	struct lm_error err = { 0 };
	struct tensor t, v;
	static unsigned char mem[2 * 8 * 18];
	int64_t ne[2] = { 256, 2 }, bad[2] = { 100, 2 };

	ok(tensor_init(&t, DTYPE_Q4_0, 2, ne, mem, &err) == 0, "q4_0 [256, 2]");
	ok(t.nb[0] == 18 && t.nb[1] == 8 * 18, "q4_0 strides: block, row");
	is_int(tensor_nbytes(&t), 2 * 8 * 18, "q4_0 nbytes");
	ok(tensor_is_contiguous(&t), "q4_0 contiguous");
	is_int(tensor_init(&v, DTYPE_Q4_0, 2, bad, mem, &err), LM_EINVAL, "q4_0 row of 100 rejected");
	ok(tensor_slice(&v, &t, 0, 64, 128, &err) == 0 && v.data == (void *)(mem + 2 * 18) && v.ne[0] == 128,
	   "block-aligned slice of a row");
	is_int(tensor_row_bytes(&v), 4 * 18, "sliced row bytes");
	is_int(tensor_slice(&v, &t, 0, 16, 32, &err), LM_EINVAL, "slice inside a block rejected");
	is_int(tensor_transpose(&v, &t, 0, 1, &err), LM_EINVAL, "transpose of the block dimension rejected");
	ok(strstr(err.msg, "q4_0") != NULL, "message names the type: %s", err.msg);
	ok(tensor_transpose(&v, &t, 1, 2, &err) == 0, "transpose of outer dimensions allowed");
}

static void test_alloc(void)
{
	struct lm_error err = { 0 };
	struct tensor t;
	struct arena *a = arena_new(0);
	int64_t ne[2] = { 7, 3 };
	int64_t huge[2] = { INT64_MAX / 16, 1 };
	int zero = 1, i;

	ok(tensor_new(&t, DTYPE_F16, 2, ne, &err) == 0, "tensor_new f16 [7,3]");
	ok(((uintptr_t)t.data & 63) == 0, "64-byte aligned");
	for (i = 0; i < 21; i++)
		zero &= ((uint16_t *)t.data)[i] == 0;
	ok(zero, "zero-filled");
	tensor_free(&t);
	ok(t.data == NULL, "tensor_free clears");
	tensor_free(&t);
#ifndef UNDER_ASAN
	is_int(tensor_new(&t, DTYPE_F32, 2, huge, &err), LM_ENOMEM, "impossible allocation fails cleanly");
	ok(strstr(err.msg, "f32 [") != NULL, "message describes the tensor: %s", err.msg);
#else
	(void)huge;
#endif

	ok(tensor_alloc(&t, a, DTYPE_F32, 2, ne, &err) == 0 && ((uintptr_t)t.data & 63) == 0, "tensor_alloc from an arena");
	((float *)t.data)[20] = 1.0f;
	arena_free(a);
}

/* ---- f16 ---- */

/* binary16 value from its fields (IEEE 754-2008 3.4), in double */
static double f16_ref_value(uint16_t h)
{
	int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
	double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);

	return s ? -v : v;
}

/* nearest binary16 to x (finite float), ties to even, by scaling to the
 * quantum of x's binade and rounding with rint in double */
static uint16_t f16_ref_round(float f)
{
	double x = fabs((double)f), q, r;
	uint16_t sign = signbit(f) ? 0x8000 : 0;
	int e;

	if (x == 0)
		return sign;
	if (isinf(x))
		return sign | 0x7c00;
	e = ilogb(x);
	if (e < -14)
		e = -14;
	q = ldexp(1, e - 10);
	r = rint(x / q) * q;
	if (r >= 65536.0)
		return sign | 0x7c00;
	if (r < ldexp(1, -14))
		return sign | (uint16_t)(r / ldexp(1, -24));
	e = ilogb(r);
	return sign | (uint16_t)((e + 15) << 10) | (uint16_t)(r / ldexp(1, e - 10) - 1024);
}

#ifdef HAVE_X86
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f)
{
	return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), 0), 0);
}

__attribute__((target("f16c"))) static uint32_t hw_f16_to_f32(uint16_t h)
{
	return f_bits(_mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))));
}
#endif

static void test_f16(void)
{
	int bad_value = 0, bad_trip = 0, bad_nan = 0, bad_hw = 0, bad_round = 0, bad_hw_round = 0;
	int have_f16c = 0;
	uint32_t h, i, e, n_checked = 0;

#ifdef HAVE_X86
	have_f16c = cpu_has_f16c();
#endif
	for (h = 0; h < 65536; h++) {
		float f = f16_to_f32((uint16_t)h);
		uint16_t back = f32_to_f16(f);
		int is_nan = ((h >> 10) & 31) == 31 && (h & 1023);

		if (is_nan) {
			/* NaN stays NaN, sign and top payload kept, made quiet */
			if (!isnan(f) || (f_bits(f) >> 31) != (h >> 15) ||
			    ((f_bits(f) >> 13) & 0x1ff) != (h & 0x1ff) || !(f_bits(f) & 0x400000))
				bad_nan++;
			if (back != (h | 0x200))
				bad_trip++;
		} else {
			double want = ((h & 0x7fff) == 0x7c00) ? ((h >> 15) ? -INFINITY : INFINITY) : f16_ref_value((uint16_t)h);

			if ((double)f != want || (f == 0 && !!signbit(f) != (int)(h >> 15)))
				bad_value++;
			if (back != h)
				bad_trip++;
		}
#ifdef HAVE_X86
		if (have_f16c && hw_f16_to_f32((uint16_t)h) != f_bits(f))
			bad_hw++;
#endif
	}
	is_int(bad_value, 0, "all 63488 non-NaN f16 values convert exactly to f32");
	is_int(bad_nan, 0, "all 2046 f16 NaNs stay NaN, quiet, with sign and payload");
	is_int(bad_trip, 0, "all 65536 f16 -> f32 -> f16 round trips are bit-exact (NaNs quiet)");
	if (have_f16c)
		is_int(bad_hw, 0, "f16 -> f32 matches F16C VCVTPH2PS on all 65536 values");

	/* f32 -> f16: every exponent, with mantissas at and around each rounding
	 * point of the binary16 grid plus random ones, and random bit patterns */
	for (e = 0; e < 256; e++) {
		for (i = 0; i < 2048 + 64; i++) {
			uint32_t m, u;

			if (i < 2048) {
				m = rng32() & 0x7fffff;
			} else {
				/* the low bits that the binade's quantum cuts off, at
				 * half and around it, for every possible cut width */
				uint32_t cut = 13 + (i - 2048) / 4 % 12, half = 1u << (cut - 1);
				uint32_t d = (i - 2048) % 4;

				m = (rng32() & 0x7fffff & ~((half << 1) - 1)) | half;
				m = d == 0 ? m : d == 1 ? m - 1 : d == 2 ? m + 1 : (m | (half << 1)) & 0x7fffff;
			}
			u = (e << 23) | m | (rng32() & 0x80000000u);
			{
				float f = bits_f(u);
				uint16_t got = f32_to_f16(f);

				n_checked++;
				if (isnan(f)) {
					if (got != (((u >> 16) & 0x8000) | 0x7e00 | ((u >> 13) & 0x3ff)))
						bad_round++;
				} else if (got != f16_ref_round(f)) {
					if (bad_round++ < 5)
						diag("f32 %08" PRIx32 " -> %04x, want %04x", u, got, f16_ref_round(f));
				}
#ifdef HAVE_X86
				if (have_f16c && hw_f32_to_f16(f) != got)
					bad_hw_round++;
#endif
			}
		}
	}
	for (i = 0; i < 2000000; i++) {
		float f = bits_f(rng32());
		uint16_t got = f32_to_f16(f);

		n_checked++;
		if (!isnan(f) && got != f16_ref_round(f))
			bad_round++;
#ifdef HAVE_X86
		if (have_f16c && hw_f32_to_f16(f) != got)
			bad_hw_round++;
#endif
	}
	is_int(bad_round, 0, "f32 -> f16 matches the double-arithmetic reference on %u values", n_checked);
	if (have_f16c)
		is_int(bad_hw_round, 0, "f32 -> f16 matches F16C VCVTPS2PH (NaNs included)");
	else
		diag("no F16C on this CPU: hardware comparison skipped");

	/* hand-checked points: IEEE 754 binary16 table values */
	is_int(f32_to_f16(65504.0f), 0x7bff, "65504 is the largest f16");
	is_int(f32_to_f16(65519.99f), 0x7bff, "just below the tie stays finite");
	is_int(f32_to_f16(65520.0f), 0x7c00, "65520 ties to even: infinity");
	is_int(f32_to_f16(-1e10f), 0xfc00, "overflow to -inf");
	is_int(f32_to_f16(0x1p-24f), 0x0001, "smallest subnormal");
	is_int(f32_to_f16(0x1p-25f), 0x0000, "half the smallest subnormal ties to 0");
	is_int(f32_to_f16(0x1.000002p-25f), 0x0001, "just above rounds up");
	is_int(f32_to_f16(0x1.8p-24f), 0x0002, "1.5 quanta ties to 2 (even)");
	is_int(f32_to_f16(0x1.ff8p-15f), 0x03ff, "largest subnormal, 1023 * 2^-24");
	is_int(f32_to_f16(0x1.ffcp-15f), 0x0400, "1023.5 quanta ties to even: the smallest normal");
	is_int(f32_to_f16(1.0f + 0x1p-11f), 0x3c00, "1 + half ulp ties to 1");
	is_int(f32_to_f16(1.0f + 0x1.8p-10f), 0x3c02, "1 + 1.5 ulp ties to 1 + 2 ulp");
	is_int(f32_to_f16(-0.0f), 0x8000, "-0 keeps its sign");
	is_int(f32_to_f16(bits_f(0x7f800001)), 0x7e00, "signalling NaN with low payload becomes quiet NaN");
	is_int(f32_to_f16(bits_f(0xffc00000)), 0xfe00, "negative quiet NaN");
	ok(f16_to_f32(0x3555) == 0x1.554p-2f, "0x3555 is 0.333251953125");
}

/* ---- bf16 ---- */

/* nearest bfloat16 (8 significant bits, float32's exponent range) in
 * double, as the upper half of the float32 it is */
static uint16_t bf16_ref_round(float f)
{
	double x = fabs((double)f), q, r;
	int e;

	if (x == 0 || isinf(f))
		return (uint16_t)(f_bits(f) >> 16);
	e = ilogb(x);
	if (e < -126)
		e = -126;
	q = ldexp(1, e - 7);
	r = rint(x / q) * q;
	if (r >= ldexp(1, 128))
		return (uint16_t)((f_bits(f) >> 16 & 0x8000) | 0x7f80);
	return (uint16_t)(f_bits(signbit(f) ? -(float)r : (float)r) >> 16);
}

static void test_bf16(void)
{
	int bad_widen = 0, bad_round = 0, bad_nan = 0;
	uint32_t h, i;

	for (h = 0; h < 65536; h++) {
		float f = bf16_to_f32((uint16_t)h);

		if (f_bits(f) != h << 16)
			bad_widen++;
		if (!isnan(f) && f32_to_bf16(f) != h)
			bad_round++;
	}
	is_int(bad_widen, 0, "bf16 -> f32 is the upper half, all 65536 values");
	is_int(bad_round, 0, "bf16 -> f32 -> bf16 round trips for every non-NaN");
	bad_round = 0;
	for (i = 0; i < 4000000; i++) {
		uint32_t u = i < 2000000 ? rng32() : ((rng32() & 0xffff0000u) | 0x8000u | (i & 1 ? 1 : 0));
		float f = bits_f(u);
		uint16_t got = f32_to_bf16(f);

		if (isnan(f)) {
			/* ggml fp32_to_bf16: (bits >> 16) | 64 */
			if (got != (uint16_t)((u >> 16) | 0x40))
				bad_nan++;
		} else if (got != bf16_ref_round(f)) {
			if (bad_round++ < 5)
				diag("f32 %08" PRIx32 " -> %04x, want %04x", u, got, bf16_ref_round(f));
		}
	}
	is_int(bad_round, 0, "f32 -> bf16 rounds to nearest even (random and tie patterns)");
	is_int(bad_nan, 0, "f32 -> bf16 keeps NaNs quiet as ggml does");
	is_int(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80, "1 + half ulp ties to 1");
	is_int(f32_to_bf16(1.0f + 0x1.8p-7f), 0x3f82, "1 + 1.5 ulp ties to even");
	is_int(f32_to_bf16(FLT_MAX), 0x7f80, "FLT_MAX rounds to infinity");
	is_int(f32_to_bf16(0x1p-149f), 0x0000, "smallest subnormal rounds to 0");
	is_int(f32_to_bf16(bits_f(0x00018000)), 0x0002, "subnormal tie rounds to even, not flushed");
	is_int(f32_to_bf16(bits_f(0x7f800001)), 0x7fc0, "signalling NaN becomes quiet");
}

#ifdef HAVE_X86
/* LMPIPE_TEST_EXHAUSTIVE=1: every one of the 2^32 float32 patterns against
 * F16C (a few seconds; not part of the default run). */
__attribute__((target("avx,f16c"))) static void test_f16_exhaustive(void)
{
	uint64_t u, bad = 0;

	for (u = 0; u <= 0xffffffffull; u += 8) {
		uint32_t in[8];
		uint16_t hw[8];
		int k;

		for (k = 0; k < 8; k++)
			in[k] = (uint32_t)u + (uint32_t)k;
		_mm_storeu_si128((__m128i *)hw, _mm256_cvtps_ph(_mm256_loadu_ps((const float *)in), 0));
		for (k = 0; k < 8; k++)
			if (f32_to_f16(bits_f(in[k])) != hw[k])
				bad++;
	}
	is_int(bad, 0, "exhaustive: f32 -> f16 equals F16C on all 2^32 inputs");
}
#endif

int main(void)
{
	test_dtypes();
	test_shapes();
	test_quantized_shapes();
	test_alloc();
	test_f16();
	test_bf16();
#ifdef HAVE_X86
	if (getenv("LMPIPE_TEST_EXHAUSTIVE") && cpu_has_f16c())
		test_f16_exhaustive();
#endif
	return tap_done();
}

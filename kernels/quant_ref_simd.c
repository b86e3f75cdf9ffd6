/* quant_ref_simd.c - the reference quantisers of quant.c (ggml's
 * quantize_row_*_ref) with AVX2, giving the same bytes; the AVX2 level's
 * quantize_row entries (quant.h quant_quantize_row).
 *
 * Bit-identity comes from doing every float operation the scalar code does,
 * on the same operands, in the same order:
 *
 *  - Elementwise work (x * id + 8.5f, (x + dm) / d, nearest_int ...) runs
 *    eight elements at a time; each lane is the scalar sequence of IEEE
 *    operations.  nearest_int is ggml's: add 1.5 * 2^23, keep the low
 *    mantissa bits.
 *  - Sums keep their order.  The scale searches (make_qkx2_quants for
 *    Q2_K/Q4_K/Q5_K, make_qx_quants for Q6_K) try up to 21 candidate scales
 *    on one group: each lane follows one candidate through the group's
 *    elements in order, and the best is then picked scanning the lanes in
 *    the scalar loop's order.  (make_qkx2_quants' candidates depend on the
 *    min of the last winner; lanes computed with a min that a winner
 *    before them changed are computed again.)
 *  - Maxima and minima are exact in any order; where the reference keeps
 *    the first of equal values (the first element of largest magnitude, or
 *    +0 against -0), that element is looked up.
 *  - Casts of a float to int8_t or uint8_t keep the low byte of the
 *    truncated int32, as the scalar code compiles on x86-64.
 *  - Nothing may be contracted into a fused multiply-add: this file is
 *    compiled without -mfma (the Makefile gives FMA only to *_avx2.c and
 *    *_avx512.c files) and its functions target AVX2 and F16C alone, so
 *    the compiler has no FMA instruction to contract into.
 *
 * Q3_K (make_q3_quants' iterative search) keeps the scalar code. */
#include "quant_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,f16c")
#endif

#define GROUP_MAX_EPS 1e-15f

static inline float h2f(uint16_t h)
{
	return _cvtsh_ss(h);
}

static inline uint16_t f2h(float f)
{
	return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}


/* ggml's nearest_int on eight lanes. */
static inline __m256i nearest_int8(__m256 f)
{
	__m256i v = _mm256_castps_si256(_mm256_add_ps(f, _mm256_set1_ps(12582912.f)));

	return _mm256_sub_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}

/* (float)clamp(nearest_int(f), lo, hi) for |f| < 2^22, the range every
 * scale search stays in: f + 1.5 * 2^23 is exactly 1.5 * 2^23 plus the
 * rounded value (ulp 1, ties to even as nearest_int), clamped there and
 * brought back exactly. */
static inline __m256 nearest_clamped(__m256 f, float lo, float hi)
{
	const float magic = 12582912.f;
	__m256 v = _mm256_add_ps(f, _mm256_set1_ps(magic));

	v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(magic + lo)), _mm256_set1_ps(magic + hi));
	return _mm256_sub_ps(v, _mm256_set1_ps(magic));
}

static inline __m256i clamp8(__m256i v, int lo, int hi)
{
	return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

static inline __m256 abs8(__m256 v)
{
	return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

static inline float hmax8(__m256 m)
{
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));

	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline float hmin8(__m256 m)
{
	__m128 s = _mm_min_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));

	s = _mm_min_ps(s, _mm_movehl_ps(s, s));
	s = _mm_min_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* The largest |x[i]| of N (a multiple of 8) elements. */
static inline float amax_n(const float *x, int n)
{
	__m256 m = abs8(_mm256_loadu_ps(x));
	int i;

	for (i = 8; i < n; i += 8)
		m = _mm256_max_ps(m, abs8(_mm256_loadu_ps(x + i)));
	return hmax8(m);
}

/* The element the scalar scan `if (amax < fabsf(x[i])) { amax = ...;
 * max = x[i]; }` from amax = max = 0 keeps: the first of largest
 * magnitude, or +0 when all are zero.  (The strict `>` scans of the K
 * quantisers keep the same element.) */
static inline float signed_amax(const float *x, int n, float *amaxp)
{
	float amax = amax_n(x, n);
	__m256 va = _mm256_set1_ps(amax);
	unsigned hit;
	int i;

	*amaxp = amax;
	if (amax == 0)
		return 0.f;
	for (i = 0;; i += 8) {
		hit = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(abs8(_mm256_loadu_ps(x + i)), va, _CMP_EQ_OQ));
		if (hit)
			return x[i + __builtin_ctz(hit)];
	}
}

/* (int) truncation toward zero of each lane, as a C cast from float. */
static inline __m256i trunc8(__m256 v)
{
	return _mm256_cvttps_epi32(v);
}

/* The low bytes of four vectors of int32, in order: what a C cast of each
 * to int8_t or uint8_t keeps. */
static inline __m256i pack_low_bytes(__m256i a, __m256i b, __m256i c, __m256i d)
{
	const __m256i ff = _mm256_set1_epi32(0xFF);
	__m256i r = _mm256_packus_epi16(_mm256_packus_epi32(_mm256_and_si256(a, ff), _mm256_and_si256(b, ff)),
					_mm256_packus_epi32(_mm256_and_si256(c, ff), _mm256_and_si256(d, ff)));

	return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* (int)(int8_t)v: the low byte, sign-extended. */
static inline __m256i sext8(__m256i v)
{
	return _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24);
}

/* Levels of 0..15 (32 bytes, element order) into 16 bytes: element j in
 * the low nibble of byte j, element j + 16 in the high one. */
static inline __m128i pack_nibbles(__m256i q)
{
	__m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);

	return _mm_or_si128(_mm_and_si128(lo, _mm_set1_epi8(0xF)), _mm_slli_epi16(_mm_and_si128(hi, _mm_set1_epi8(0xF)), 4));
}

/* Bit 4 of each of 32 levels as a 32-bit mask, bit j for element j. */
static inline uint32_t fifth_bits(__m256i q)
{
	return (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(q, 3));
}

/* ---- blocks of 32 ---- */

/* roundf: halves away from zero (v - trunc(v) is exact). */
static inline __m256i round_away8(__m256 v)
{
	__m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	__m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
	__m256 up = _mm256_cmp_ps(abs8(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);

	return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(_mm256_set1_ps(1.0f), sign))));
}

static void quant_q8_0(const float *x, void *dst, int64_t n)
{
	struct block_q8_0 *y = dst;
	int64_t i, nb = n / QK8_0;
	int k;

	for (i = 0; i < nb; i++, x += QK8_0) {
		float amax = amax_n(x, QK8_0), d = amax / 127, id = d ? 1.0f / d : 0.0f;
		__m256 vid = _mm256_set1_ps(id);
		__m256i q[4];

		for (k = 0; k < 4; k++)
			q[k] = round_away8(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid));
		y[i].d = f2h(d);
		_mm256_storeu_si256((__m256i *)y[i].qs, pack_low_bytes(q[0], q[1], q[2], q[3]));
	}
}

/* Levels imin(cap, (int8_t)(x * id + add)) of a symmetric 32-block. */
static inline __m256i levels_sym(const float *x, float id, float add, int cap)
{
	__m256 vid = _mm256_set1_ps(id), va = _mm256_set1_ps(add);
	__m256i q[4], top = _mm256_set1_epi32(cap);
	int k;

	for (k = 0; k < 4; k++)
		q[k] = _mm256_min_epi32(sext8(trunc8(_mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid), va))),
					top);
	return pack_low_bytes(q[0], q[1], q[2], q[3]);
}

/* Levels of an affine 32-block: imin(CAP, (int8_t)((x - min) * id + 0.5f))
 * (Q4_1), or with CAP < 0 (uint8_t)(...) (Q5_1). */
static inline __m256i levels_affine(const float *x, float min, float id, int cap)
{
	__m256 vid = _mm256_set1_ps(id), vm = _mm256_set1_ps(min), half = _mm256_set1_ps(0.5f);
	__m256i q[4];
	int k;

	for (k = 0; k < 4; k++) {
		q[k] = trunc8(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + 8 * k), vm), vid), half));
		if (cap >= 0)
			q[k] = _mm256_min_epi32(sext8(q[k]), _mm256_set1_epi32(cap));
	}
	return pack_low_bytes(q[0], q[1], q[2], q[3]);
}

/* The first element equal to zero: the reference's scans keep the first
 * of equal values, and +0 and -0 are equal but not the same bits. */
static inline float first_zero(const float *x)
{
	int i;

	for (i = 0;; i += 8) {
		unsigned hit = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), _mm256_setzero_ps(),
									  _CMP_EQ_OQ));

		if (hit)
			return x[i + __builtin_ctz(hit)];
	}
}

static inline void min_max32(const float *x, float *minp, float *maxp)
{
	__m256 a = _mm256_loadu_ps(x), b = _mm256_loadu_ps(x + 8);
	__m256 c = _mm256_loadu_ps(x + 16), e = _mm256_loadu_ps(x + 24);

	*minp = hmin8(_mm256_min_ps(_mm256_min_ps(a, b), _mm256_min_ps(c, e)));
	*maxp = hmax8(_mm256_max_ps(_mm256_max_ps(a, b), _mm256_max_ps(c, e)));
	if (*minp == 0)
		*minp = first_zero(x);
	if (*maxp == 0)
		*maxp = first_zero(x);
}

static void quant_q4_0(const float *x, void *dst, int64_t n)
{
	struct block_q4_0 *y = dst;
	int64_t i, nb = n / QK4_0;

	for (i = 0; i < nb; i++, x += QK4_0) {
		float amax, max = signed_amax(x, QK4_0, &amax), d = max / -8, id = d ? 1.0f / d : 0.0f;

		y[i].d = f2h(d);
		_mm_storeu_si128((__m128i *)y[i].qs, pack_nibbles(levels_sym(x, id, 8.5f, 15)));
	}
}

static void quant_q5_0(const float *x, void *dst, int64_t n)
{
	struct block_q5_0 *y = dst;
	int64_t i, nb = n / QK5_0;

	for (i = 0; i < nb; i++, x += QK5_0) {
		float amax, max = signed_amax(x, QK5_0, &amax), d = max / -16, id = d ? 1.0f / d : 0.0f;
		__m256i q = levels_sym(x, id, 16.5f, 31);
		uint32_t qh = fifth_bits(q);

		y[i].d = f2h(d);
		_mm_storeu_si128((__m128i *)y[i].qs, pack_nibbles(q));
		memcpy(y[i].qh, &qh, sizeof qh);
	}
}

static void quant_q4_1(const float *x, void *dst, int64_t n)
{
	struct block_q4_1 *y = dst;
	int64_t i, nb = n / QK4_1;
	float min, max, d, id;

	for (i = 0; i < nb; i++, x += QK4_1) {
		min_max32(x, &min, &max);
		d = (max - min) / 15;
		id = d ? 1.0f / d : 0.0f;
		y[i].d = f2h(d);
		y[i].m = f2h(min);
		_mm_storeu_si128((__m128i *)y[i].qs, pack_nibbles(levels_affine(x, min, id, 15)));
	}
}

static void quant_q5_1(const float *x, void *dst, int64_t n)
{
	struct block_q5_1 *y = dst;
	int64_t i, nb = n / QK5_1;
	float min, max, d, id;

	for (i = 0; i < nb; i++, x += QK5_1) {
		__m256i q;
		uint32_t qh;

		min_max32(x, &min, &max);
		d = (max - min) / 31;
		id = d ? 1.0f / d : 0.0f;
		y[i].d = f2h(d);
		y[i].m = f2h(min);
		q = levels_affine(x, min, id, -1);
		qh = fifth_bits(q);
		_mm_storeu_si128((__m128i *)y[i].qs, pack_nibbles(q));
		memcpy(y[i].qh, &qh, sizeof qh);
	}
}

/* ---- K quants: the scale searches ---- */

/* make_qkx2_quants (quant.c) for N = 16 or 32 elements, NSTEP >= 0: the
 * first guess as the scalar code makes it, then the NSTEP + 1 candidate
 * scales eight at a time, one per lane.  On random weights a Q4_K group
 * takes about 5 rounds of 8 lanes for its 21 candidates. */
static float qkx2(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
		  float rmin, float rdelta, int nstep, int use_mad)
{
	float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
	float iscale, scale, best_error = 0;
	float e[32] __attribute__((aligned(32)));
	float laux[32][8] __attribute__((aligned(32))), xm[32] __attribute__((aligned(32)));
	float dv[8] __attribute__((aligned(32))), ce[8] __attribute__((aligned(32)));
	float tsv[8] __attribute__((aligned(32))), tmv[8] __attribute__((aligned(32)));
	__m256 vmin, vscale, sgn = _mm256_set1_ps(-0.0f);
	int i, k, s0;

	for (i = 1; i < n; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		sum_w += weights[i];
		sum_x += weights[i] * x[i];
	}
	if (min > 0)
		min = 0;
	if (max == min) {
		memset(L, 0, (size_t)n);
		*the_min = -min;
		return 0.f;
	}
	iscale = (float)nmax / (max - min);
	scale = 1 / iscale;
	vmin = _mm256_set1_ps(min);
	vscale = _mm256_set1_ps(scale);
	for (i = 0; i < n; i += 8) {
		__m256 xv = _mm256_loadu_ps(x + i);
		__m256i l = clamp8(nearest_int8(_mm256_mul_ps(_mm256_set1_ps(iscale), _mm256_sub_ps(xv, vmin))), 0, nmax);
		__m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(vscale, _mm256_cvtepi32_ps(l)), vmin), xv);
		__m128i b = _mm_packus_epi16(_mm_packs_epi32(_mm256_castsi256_si128(l), _mm256_extracti128_si256(l, 1)),
					     _mm_setzero_si128());

		diff = use_mad ? _mm256_andnot_ps(sgn, diff) : _mm256_mul_ps(diff, diff);
		_mm256_store_ps(e + i, _mm256_mul_ps(_mm256_loadu_ps(weights + i), diff));
		_mm_storel_epi64((__m128i *)(L + i), b);
	}
	for (i = 0; i < n; i++)
		best_error += e[i];

	/* A candidate that wins moves min, and later candidates are taken
	 * relative to the new min: lanes after a winner that moved it are
	 * recomputed from there. */
	s0 = 0;
	while (s0 <= nstep) {
		__m256 vis = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(s0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
		__m256 visc = _mm256_div_ps(_mm256_add_ps(_mm256_add_ps(_mm256_set1_ps(rmin),
									_mm256_mul_ps(_mm256_set1_ps(rdelta), vis)),
						    _mm256_set1_ps((float)nmax)),
					    _mm256_set1_ps(max - min));
		__m256 sl = _mm256_setzero_ps(), sl2 = sl, sxl = sl, err = sl, vsw = _mm256_set1_ps(sum_w);
		__m256 vsx = _mm256_set1_ps(sum_x), D, ts, tm, pos;
		int next = s0 + 8;

		for (i = 0; i < n; i += 8)
			_mm256_store_ps(xm + i, _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(min)));
		for (i = 0; i < n; i++) {
			__m256 xi = _mm256_broadcast_ss(x + i), wi = _mm256_broadcast_ss(weights + i);
			__m256 lf = nearest_clamped(_mm256_mul_ps(visc, _mm256_broadcast_ss(xm + i)), 0, (float)nmax);
			__m256 wl = _mm256_mul_ps(wi, lf);

			_mm256_store_ps(laux[i], lf);
			sl = _mm256_add_ps(sl, wl);
			sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(wl, lf));
			sxl = _mm256_add_ps(sxl, _mm256_mul_ps(wl, xi));
		}
		D = _mm256_sub_ps(_mm256_mul_ps(vsw, sl2), _mm256_mul_ps(sl, sl));
		ts = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(vsw, sxl), _mm256_mul_ps(vsx, sl)), D);
		tm = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sl2, vsx), _mm256_mul_ps(sl, sxl)), D);
		pos = _mm256_cmp_ps(tm, _mm256_setzero_ps(), _CMP_GT_OQ);
		tm = _mm256_andnot_ps(pos, tm);
		ts = _mm256_blendv_ps(ts, _mm256_div_ps(sxl, sl2), pos);
		for (i = 0; i < n; i++) {
			__m256 lf = _mm256_load_ps(laux[i]);
			__m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(ts, lf), tm), _mm256_broadcast_ss(x + i));

			diff = use_mad ? _mm256_andnot_ps(sgn, diff) : _mm256_mul_ps(diff, diff);
			err = _mm256_add_ps(err, _mm256_mul_ps(_mm256_broadcast_ss(weights + i), diff));
		}
		_mm256_store_ps(dv, D);
		_mm256_store_ps(ce, err);
		_mm256_store_ps(tsv, ts);
		_mm256_store_ps(tmv, tm);
		for (k = 0; k < 8 && s0 + k <= nstep; k++) {
			if (dv[k] > 0 && ce[k] < best_error) {
				uint32_t before, after;

				for (i = 0; i < n; i++)
					L[i] = (uint8_t)(int)laux[i][k];
				best_error = ce[k];
				scale = tsv[k];
				memcpy(&before, &min, sizeof before);
				memcpy(&after, &tmv[k], sizeof after);
				min = tmv[k];
				if (before != after) {
					next = s0 + k + 1;
					break;
				}
			}
		}
		s0 = next;
	}
	*the_min = -min;
	return scale;
}

/* make_qx_quants (quant.c) for Q6_K's groups: 16 elements, levels
 * -32..31; the 19 candidate scales (the first guess, then is = -9..9
 * without 0) in three vectors, lane 0 the first guess (is = 0 gives its
 * iscale exactly). */
static float qx_q6(const float *x, int8_t *L)
{
	enum { N = 16, NMAX = 32 };
	static const float tries[24] = { 0, -9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0 };
	float lv[3][N][8] __attribute__((aligned(32))), wx[N], w2[N];
	float slx[24] __attribute__((aligned(32))), sl2[24] __attribute__((aligned(32)));
	float amax, max = signed_amax(x, N, &amax), scale, best;
	int v, i, t, pick = 0;

	if (amax < GROUP_MAX_EPS) {
		memset(L, 0, N);
		return 0.f;
	}
	/* w = x * x; the sums take w * x * l and w * l * l */
	for (i = 0; i < N; i += 8) {
		__m256 xv = _mm256_loadu_ps(x + i), w = _mm256_mul_ps(xv, xv);

		_mm256_storeu_ps(w2 + i, w);
		_mm256_storeu_ps(wx + i, _mm256_mul_ps(w, xv));
	}
	for (v = 0; v < 3; v++) {
		__m256 isc = _mm256_div_ps(_mm256_xor_ps(_mm256_add_ps(_mm256_set1_ps((float)NMAX),
								       _mm256_mul_ps(_mm256_set1_ps(0.1f),
										     _mm256_loadu_ps(tries + 8 * v))),
							 _mm256_set1_ps(-0.0f)),
					   _mm256_set1_ps(max));
		__m256 sumlx = _mm256_setzero_ps(), suml2 = sumlx;

		for (i = 0; i < N; i++) {
			__m256 lf = nearest_clamped(_mm256_mul_ps(isc, _mm256_broadcast_ss(x + i)), -NMAX, NMAX - 1);

			_mm256_store_ps(lv[v][i], lf);
			sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_broadcast_ss(wx + i), lf));
			suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(_mm256_broadcast_ss(w2 + i), lf), lf));
		}
		_mm256_store_ps(slx + 8 * v, sumlx);
		_mm256_store_ps(sl2 + 8 * v, suml2);
	}
	scale = sl2[0] ? slx[0] / sl2[0] : 0.0f;
	best = scale * slx[0];
	for (t = 1; t < 19; t++) {
		if (sl2[t] > 0 && slx[t] * slx[t] > best * sl2[t]) {
			pick = t;
			scale = slx[t] / sl2[t];
			best = scale * slx[t];
		}
	}
	for (i = 0; i < N; i++)
		L[i] = (int8_t)(NMAX + (int)lv[pick / 8][i][pick % 8]);
	return scale;
}

static void quant_q6_K(const float *x, void *dst, int64_t n)
{
	struct block_q6_K *y = dst;
	int64_t i, nb = n / QK_K;
	int8_t L[QK_K] __attribute__((aligned(32)));
	float scales[QK_K / 16];
	int ib, j;

	for (i = 0; i < nb; i++, x += QK_K) {
		float max_scale = 0, max_abs_scale = 0, iscale, dsup;
		uint8_t *ql = y[i].ql, *qh = y[i].qh;

		for (ib = 0; ib < QK_K / 16; ib++) {
			scales[ib] = qx_q6(x + 16 * ib, L + 16 * ib);
			if (fabsf(scales[ib]) > max_abs_scale) {
				max_abs_scale = fabsf(scales[ib]);
				max_scale = scales[ib];
			}
		}
		if (max_abs_scale < GROUP_MAX_EPS) {
			memset(&y[i], 0, sizeof y[i]);
			continue;
		}
		iscale = -128.f / max_scale;
		y[i].d = f2h(1 / iscale);
		dsup = h2f(y[i].d);
		for (ib = 0; ib < QK_K / 16; ib++) {
			int q = nearest_int(iscale * scales[ib]);

			y[i].scales[ib] = (int8_t)(q < 127 ? q : 127);
		}
		for (j = 0; j < QK_K / 16; j++) {
			float d = dsup * (float)y[i].scales[j];
			__m256 vd = _mm256_set1_ps(d);
			__m256i a, b;

			if (!d)
				continue;
			a = clamp8(nearest_int8(_mm256_div_ps(_mm256_loadu_ps(x + 16 * j), vd)), -32, 31);
			b = clamp8(nearest_int8(_mm256_div_ps(_mm256_loadu_ps(x + 16 * j + 8), vd)), -32, 31);
			a = _mm256_add_epi32(a, _mm256_set1_epi32(32));
			b = _mm256_add_epi32(b, _mm256_set1_epi32(32));
			_mm_storeu_si128((__m128i *)(L + 16 * j),
					 _mm_packs_epi16(_mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)),
							 _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1))));
		}
		for (j = 0; j < QK_K; j += 128) {
			__m256i l0 = _mm256_load_si256((const __m256i *)(L + j));
			__m256i l1 = _mm256_load_si256((const __m256i *)(L + j + 32));
			__m256i l2 = _mm256_load_si256((const __m256i *)(L + j + 64));
			__m256i l3 = _mm256_load_si256((const __m256i *)(L + j + 96));
			__m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
			__m256i h;

			_mm256_storeu_si256((__m256i *)ql, _mm256_or_si256(_mm256_and_si256(l0, m4),
									   _mm256_slli_epi16(_mm256_and_si256(l2, m4), 4)));
			_mm256_storeu_si256((__m256i *)(ql + 32), _mm256_or_si256(_mm256_and_si256(l1, m4),
										  _mm256_slli_epi16(_mm256_and_si256(l3, m4), 4)));
			h = _mm256_and_si256(_mm256_srli_epi16(l0, 4), m2);
			h = _mm256_or_si256(h, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m2), 2));
			h = _mm256_or_si256(h, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(l2, 4), m2), 4));
			h = _mm256_or_si256(h, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(l3, 4), m2), 6));
			_mm256_storeu_si256((__m256i *)qh, h);
			ql += 64;
			qh += 32;
		}
	}
}

/* quant.c quant_k4_scales: Q4_K's and Q5_K's group search and packing. */
static void k4_scales(const float *x, int nmax, float rmin, int nstep, uint8_t *L, uint16_t *dp, uint16_t *dminp,
		      uint8_t *packed)
{
	float mins[QK_K / 32], scales[QK_K / 32], weights[32] __attribute__((aligned(32)));
	float sq[32] __attribute__((aligned(32)));
	float max_scale = 0, max_min = 0, sum_x2, av_x, d, dm;
	uint8_t sc, m;
	int j, l;

	for (j = 0; j < QK_K / 32; j++) {
		const float *xg = x + 32 * j;
		__m256 vav;

		for (l = 0; l < 32; l += 8) {
			__m256 v = _mm256_loadu_ps(xg + l);

			_mm256_store_ps(sq + l, _mm256_mul_ps(v, v));
		}
		sum_x2 = 0;
		for (l = 0; l < 32; l++)
			sum_x2 += sq[l];
		av_x = sqrtf(sum_x2 / 32);
		vav = _mm256_set1_ps(av_x);
		for (l = 0; l < 32; l += 8)
			_mm256_store_ps(weights + l, _mm256_add_ps(vav, abs8(_mm256_loadu_ps(xg + l))));
		scales[j] = qkx2(32, nmax, xg, weights, L + 32 * j, &mins[j], rmin, 0.1f, nstep, 0);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	quant_pack_scale_min_k4(packed, scales, mins, max_scale, max_min);
	*dp = f2h(max_scale / 63.f);
	*dminp = f2h(max_min / 63.f);
	for (j = 0; j < QK_K / 32; j++) {
		__m256 vd, vdm;
		__m256i q[4];
		int k;

		quant_scale_min_k4(j, packed, &sc, &m);
		d = h2f(*dp) * (float)sc;
		if (!d)
			continue;
		dm = h2f(*dminp) * (float)m;
		vd = _mm256_set1_ps(d);
		vdm = _mm256_set1_ps(dm);
		for (k = 0; k < 4; k++)
			q[k] = clamp8(nearest_int8(_mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + 32 * j + 8 * k), vdm), vd)),
				      0, nmax);
		_mm256_storeu_si256((__m256i *)(L + 32 * j), pack_low_bytes(q[0], q[1], q[2], q[3]));
	}
}

static void quant_q4_K(const float *x, void *dst, int64_t n)
{
	struct block_q4_K *y = dst;
	int64_t i, nb = n / QK_K;
	uint8_t L[QK_K] __attribute__((aligned(32)));
	int j;

	for (i = 0; i < nb; i++, x += QK_K) {
		memset(y[i].scales, 0, sizeof y[i].scales);
		k4_scales(x, 15, -1.f, 20, L, &y[i].d, &y[i].dmin, y[i].scales);
		for (j = 0; j < QK_K; j += 64) {
			__m256i lo = _mm256_load_si256((const __m256i *)(L + j));
			__m256i hi = _mm256_load_si256((const __m256i *)(L + j + 32));

			_mm256_storeu_si256((__m256i *)(y[i].qs + j / 2), _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)));
		}
	}
}

static void quant_q5_K(const float *x, void *dst, int64_t n)
{
	struct block_q5_K *y = dst;
	int64_t i, nb = n / QK_K;
	uint8_t L[QK_K] __attribute__((aligned(32)));
	int j;

	for (i = 0; i < nb; i++, x += QK_K) {
		__m256i qh = _mm256_setzero_si256(), m4 = _mm256_set1_epi8(0xF);

		memset(y[i].scales, 0, sizeof y[i].scales);
		k4_scales(x, 31, -0.5f, 15, L, &y[i].d, &y[i].dmin, y[i].scales);
		/* pair c (elements 64c .. 64c + 63): low nibbles of the first 32
		 * and high of the next in qs[32c ..], fifth bits at 2c, 2c + 1 */
		for (j = 0; j < QK_K / 64; j++) {
			__m256i lo = _mm256_load_si256((const __m256i *)(L + 64 * j));
			__m256i hi = _mm256_load_si256((const __m256i *)(L + 64 * j + 32));
			__m256i b0 = _mm256_and_si256(_mm256_srli_epi16(lo, 4), _mm256_set1_epi8(1));
			__m256i b1 = _mm256_and_si256(_mm256_srli_epi16(hi, 4), _mm256_set1_epi8(1));

			qh = _mm256_or_si256(qh, _mm256_slli_epi16(_mm256_or_si256(b0, _mm256_slli_epi16(b1, 1)), 2 * j));
			_mm256_storeu_si256((__m256i *)(y[i].qs + 32 * j),
					    _mm256_or_si256(_mm256_and_si256(lo, m4),
							    _mm256_slli_epi16(_mm256_and_si256(hi, m4), 4)));
		}
		_mm256_storeu_si256((__m256i *)y[i].qh, qh);
	}
}

static void quant_q2_K(const float *x, void *dst, int64_t n)
{
	struct block_q2_K *y = dst;
	int64_t i, nb = n / QK_K;
	uint8_t L[QK_K] __attribute__((aligned(32)));
	float weights[16] __attribute__((aligned(32))), mins[QK_K / 16], scales[QK_K / 16];
	int j, l;

	for (i = 0; i < nb; i++, x += QK_K) {
		float max_scale = 0, max_min = 0;

		for (j = 0; j < QK_K / 16; j++) {
			_mm256_store_ps(weights, abs8(_mm256_loadu_ps(x + 16 * j)));
			_mm256_store_ps(weights + 8, abs8(_mm256_loadu_ps(x + 16 * j + 8)));
			scales[j] = qkx2(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, 1);
			if (scales[j] > max_scale)
				max_scale = scales[j];
			if (mins[j] > max_min)
				max_min = mins[j];
		}
		quant_pack_scales_q2_K(&y[i], scales, mins, max_scale, max_min);
		for (j = 0; j < QK_K / 16; j++) {
			float d = h2f(y[i].d) * (float)(y[i].scales[j] & 0xF), dm;
			__m256 vd, vdm;
			__m256i a, b;

			if (!d)
				continue;
			dm = h2f(y[i].dmin) * (float)(y[i].scales[j] >> 4);
			vd = _mm256_set1_ps(d);
			vdm = _mm256_set1_ps(dm);
			a = clamp8(nearest_int8(_mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + 16 * j), vdm), vd)), 0, 3);
			b = clamp8(nearest_int8(_mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + 16 * j + 8), vdm), vd)), 0, 3);
			_mm_storeu_si128((__m128i *)(L + 16 * j),
					 _mm_packus_epi16(_mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1)),
							  _mm_packs_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1))));
		}
		for (j = 0; j < QK_K; j += 128)
			for (l = 0; l < 32; l++)
				y[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
							       (L[j + l + 96] << 6));
	}
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

void (*const quant_ref_simd_avx2[DTYPE_COUNT])(const float *, void *, int64_t) = {
	[DTYPE_Q4_0] = quant_q4_0, [DTYPE_Q4_1] = quant_q4_1, [DTYPE_Q5_0] = quant_q5_0,
	[DTYPE_Q5_1] = quant_q5_1, [DTYPE_Q8_0] = quant_q8_0, [DTYPE_Q2_K] = quant_q2_K,
	[DTYPE_Q4_K] = quant_q4_K, [DTYPE_Q5_K] = quant_q5_K, [DTYPE_Q6_K] = quant_q6_K,
};

#endif

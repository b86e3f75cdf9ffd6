/* quant_avx512.h - the AVX-512 kernels of quant.h, as a template built
 * twice: by quant_avx512.c (AVX-512 F/BW/VL/DQ) and by
 * quant_vnni_avx512.c with QUANT_VNNI defined (adds AVX512-VNNI, whose
 * VPDPBUSD does the byte dot products that otherwise take VPMADDUBSW +
 * VPMADDWD).  The includer defines QUANT_TABLE (the table's name) and
 * QUANT_LEVEL.
 *
 * Dot products sum each block's integer products exactly and scale in
 * float, as the scalar level does, in another order (agreement to
 * rounding).  Dequantisation and activation conversion give the scalar
 * level's bits exactly: products that ggml rounds before an add are kept
 * apart from the add (ROUNDED) so the compiler cannot fuse them, and
 * ggml's roundf is done exactly (round half away from zero). */
#include "quant_impl.h"

#include <immintrin.h>
#include <string.h>

/* Forces X to be materialised, so a multiply feeding it is rounded on its
 * own instead of being contracted into a fused multiply-add. */
#define ROUNDED(x) __asm__("" : "+v"(x))

static inline float h2f(uint16_t h)
{
	return _cvtsh_ss(h);
}

/* Sum of the four byte products u * s (u unsigned, s signed) in each 32-bit
 * lane, added to ACC.  Without VNNI the pairwise int16 step cannot
 * saturate for the ranges used here: |u| <= 128 with |s| <= 127, or
 * u <= 63. */
static inline __m512i dot_u8s8(__m512i acc, __m512i u, __m512i s)
{
#ifdef QUANT_VNNI
	return _mm512_dpbusd_epi32(acc, u, s);
#else
	return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
#endif
}

/* ---- float rows ---- */

static float vec_dot_f32(int64_t n, const void *w, const void *x)
{
	const float *a = w, *b = x;
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
	       s3 = _mm512_setzero_ps();
	int64_t i;

	for (i = 0; i + 64 <= n; i += 64) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
	}
	for (; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);

		s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static inline __m512 load_f16(__mmask16 m, const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline __m512 load_bf16(__mmask16 m, const uint16_t *p)
{
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

#define FLOAT16_DOT(name, load)                                                                          \
	static float name(int64_t n, const void *w, const void *x)                                       \
	{                                                                                                \
		const uint16_t *a = w, *b = x;                                                           \
		__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),     \
		       s3 = _mm512_setzero_ps();                                                         \
		int64_t i;                                                                               \
                                                                                                         \
		for (i = 0; i + 64 <= n; i += 64) {                                                      \
			s0 = _mm512_fmadd_ps(load(0xffff, a + i), load(0xffff, b + i), s0);              \
			s1 = _mm512_fmadd_ps(load(0xffff, a + i + 16), load(0xffff, b + i + 16), s1);    \
			s2 = _mm512_fmadd_ps(load(0xffff, a + i + 32), load(0xffff, b + i + 32), s2);    \
			s3 = _mm512_fmadd_ps(load(0xffff, a + i + 48), load(0xffff, b + i + 48), s3);    \
		}                                                                                        \
		for (; i < n; i += 16) {                                                                 \
			__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);           \
                                                                                                         \
			s0 = _mm512_fmadd_ps(load(m, a + i), load(m, b + i), s0);                        \
		}                                                                                        \
		return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3))); \
	}

FLOAT16_DOT(vec_dot_f16, load_f16)
FLOAT16_DOT(vec_dot_bf16, load_bf16)

/* ---- 32-element blocks, two per 512-bit register ---- */

/* The 32 nibbles of two Q4 blocks' qs (16 bytes each) as bytes 0..15 in
 * block order: [a low, a high, b low, b high] = elements a0..a31, b0..b31. */
static inline __m512i nibbles2(const uint8_t *qa, const uint8_t *qb)
{
	__m256i ab = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)qa)),
					     _mm_loadu_si128((const __m128i *)qb), 1);
	__m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(ab), _mm256_srli_epi16(ab, 4), 1);

	v = _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
	return _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));
}

static inline __m512i load2x32(const int8_t *a, const int8_t *b)
{
	return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
				  _mm256_loadu_si256((const __m256i *)b), 1);
}

/* Lanes 0..7 = sa, 8..15 = sb. */
static inline __m512 scale2(float sa, float sb)
{
	return _mm512_insertf32x8(_mm512_set1_ps(sa), _mm256_set1_ps(sb), 1);
}

/* Fifth bits of two Q5 blocks as 0x10 in the bytes of elements that have
 * them (bit j of qh is element j). */
static inline __m512i high2(const uint8_t *qha, const uint8_t *qhb)
{
	uint32_t a, b;

	memcpy(&a, qha, 4);
	memcpy(&b, qhb, 4);
	return _mm512_maskz_mov_epi8((__mmask64)a | (__mmask64)b << 32, _mm512_set1_epi8(0x10));
}

/* dot(q - off, y) for unsigned q: dot(q, y) - dot(off, y), exact. */
static inline __m512i dot_offset(__m512i q, __m512i y, int off)
{
	__m512i acc = dot_u8s8(_mm512_setzero_si512(), q, y);

	return _mm512_sub_epi32(acc, dot_u8s8(_mm512_setzero_si512(), _mm512_set1_epi8((char)off), y));
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q8_0 *a = w, *b = xv;
	int64_t i, nb = n / QK8_0;
	__m512 acc = _mm512_setzero_ps();
	float s = 0;

	for (i = 0; i + 2 <= nb; i += 2) {
		__m512i x = load2x32(a[i].qs, a[i + 1].qs), y = load2x32(b[i].qs, b[i + 1].qs);
		/* |x| unsigned against y carrying x's sign */
		__m512i ux = _mm512_abs_epi8(x);
		__m512i sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
		__m512i dot = dot_u8s8(_mm512_setzero_si512(), ux, sy);

		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
				      scale2(h2f(a[i].d) * h2f(b[i].d), h2f(a[i + 1].d) * h2f(b[i + 1].d)), acc);
	}
	for (; i < nb; i++) {
		int sumi = 0, j;

		for (j = 0; j < QK8_0; j++)
			sumi += a[i].qs[j] * b[i].qs[j];
		s += (float)sumi * (h2f(a[i].d) * h2f(b[i].d));
	}
	return _mm512_reduce_add_ps(acc) + s;
}

static float vec_dot_q4_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q4_0 *a = w;
	const struct block_q8_0 *b = xv;
	int64_t i, nb = n / QK4_0;
	__m512 acc = _mm512_setzero_ps();
	float s = 0;

	for (i = 0; i + 2 <= nb; i += 2) {
		__m512i dot = dot_offset(nibbles2(a[i].qs, a[i + 1].qs), load2x32(b[i].qs, b[i + 1].qs), 8);

		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
				      scale2(h2f(a[i].d) * h2f(b[i].d), h2f(a[i + 1].d) * h2f(b[i + 1].d)), acc);
	}
	for (; i < nb; i++) {
		int sumi = 0, j;

		for (j = 0; j < QK4_0 / 2; j++)
			sumi += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
		s += (float)sumi * (h2f(a[i].d) * h2f(b[i].d));
	}
	return _mm512_reduce_add_ps(acc) + s;
}

static float vec_dot_q4_1(int64_t n, const void *w, const void *xv)
{
	const struct block_q4_1 *a = w;
	const struct block_q8_1 *b = xv;
	int64_t i, nb = n / QK4_1;
	__m512 acc = _mm512_setzero_ps();
	float s = 0;

	for (i = 0; i + 2 <= nb; i += 2) {
		__m512i dot = dot_u8s8(_mm512_setzero_si512(), nibbles2(a[i].qs, a[i + 1].qs),
				       load2x32(b[i].qs, b[i + 1].qs));

		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
				      scale2(h2f(a[i].d) * h2f(b[i].d), h2f(a[i + 1].d) * h2f(b[i + 1].d)), acc);
		s += h2f(a[i].m) * h2f(b[i].s) + h2f(a[i + 1].m) * h2f(b[i + 1].s);
	}
	for (; i < nb; i++) {
		int sumi = 0, j;

		for (j = 0; j < QK4_1 / 2; j++)
			sumi += (a[i].qs[j] & 0xF) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
		s += (float)sumi * (h2f(a[i].d) * h2f(b[i].d)) + h2f(a[i].m) * h2f(b[i].s);
	}
	return _mm512_reduce_add_ps(acc) + s;
}

static float vec_dot_q5_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q5_0 *a = w;
	const struct block_q8_0 *b = xv;
	int64_t i, nb = n / QK5_0;
	__m512 acc = _mm512_setzero_ps();
	float s = 0;

	for (i = 0; i + 2 <= nb; i += 2) {
		__m512i q = _mm512_or_si512(nibbles2(a[i].qs, a[i + 1].qs), high2(a[i].qh, a[i + 1].qh));
		__m512i dot = dot_offset(q, load2x32(b[i].qs, b[i + 1].qs), 16);

		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
				      scale2(h2f(a[i].d) * h2f(b[i].d), h2f(a[i + 1].d) * h2f(b[i + 1].d)), acc);
	}
	for (; i < nb; i++) {
		uint32_t qh;
		int sumi = 0, j;

		memcpy(&qh, a[i].qh, 4);
		for (j = 0; j < QK5_0 / 2; j++)
			sumi += (((a[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - 16) * b[i].qs[j] +
				(((a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16) * b[i].qs[j + 16];
		s += (float)sumi * (h2f(a[i].d) * h2f(b[i].d));
	}
	return _mm512_reduce_add_ps(acc) + s;
}

static float vec_dot_q5_1(int64_t n, const void *w, const void *xv)
{
	const struct block_q5_1 *a = w;
	const struct block_q8_1 *b = xv;
	int64_t i, nb = n / QK5_1;
	__m512 acc = _mm512_setzero_ps();
	float s = 0;

	for (i = 0; i + 2 <= nb; i += 2) {
		__m512i q = _mm512_or_si512(nibbles2(a[i].qs, a[i + 1].qs), high2(a[i].qh, a[i + 1].qh));
		__m512i dot = dot_u8s8(_mm512_setzero_si512(), q, load2x32(b[i].qs, b[i + 1].qs));

		acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
				      scale2(h2f(a[i].d) * h2f(b[i].d), h2f(a[i + 1].d) * h2f(b[i + 1].d)), acc);
		s += h2f(a[i].m) * h2f(b[i].s) + h2f(a[i + 1].m) * h2f(b[i + 1].s);
	}
	for (; i < nb; i++) {
		uint32_t qh;
		int sumi = 0, j;

		memcpy(&qh, a[i].qh, 4);
		for (j = 0; j < QK5_1 / 2; j++)
			sumi += ((a[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) * b[i].qs[j] +
				((a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) * b[i].qs[j + 16];
		s += (float)sumi * (h2f(a[i].d) * h2f(b[i].d)) + h2f(a[i].m) * h2f(b[i].s);
	}
	return _mm512_reduce_add_ps(acc) + s;
}

/* ---- K blocks against Q8_K: exact integer sum per super-block ---- */

/* q (unsigned, <= 63) times y, each 128-bit lane's 16 products weighted
 * by that lane's int16 scale (SC16), summed into 32-bit lanes of ACC. */
static inline __m512i dot_scaled(__m512i acc, __m512i q, __m512i y, __m512i sc16)
{
	return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(q, y), sc16));
}

/* int16 vector: lanes of the low 256 bits = lo, high = hi. */
static inline __m512i scales_2x256(int lo, int hi)
{
	return _mm512_inserti64x4(_mm512_set1_epi16((short)lo), _mm256_set1_epi16((short)hi), 1);
}

/* Q4_K and Q5_K: 64 elements per step, [group 2c | group 2c + 1]. */
static inline float dot_k4(const uint8_t *qs, const uint8_t *qh, const uint8_t *packed, uint16_t d,
			   uint16_t dmin, const struct block_q8_K *b)
{
	uint8_t sc[8], m[8];
	__m512i isum = _mm512_setzero_si512();
	int c, g, summs = 0, total;

	quant_unpack_k4(packed, sc, m);
	for (g = 0; g < 8; g++)
		summs += m[g] * (b->bsums[2 * g] + b->bsums[2 * g + 1]);
	for (c = 0; c < 4; c++) {
		__m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
		__m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(raw), _mm256_srli_epi16(raw, 4), 1);

		q = _mm512_and_si512(q, _mm512_set1_epi8(0x0F));
		if (qh) {
			/* bit 2c of qh[l] for the low group, 2c + 1 for the high */
			__m256i h = _mm256_loadu_si256((const __m256i *)qh);
			__m512i hh = _mm512_inserti64x4(_mm512_castsi256_si512(h), h, 1);
			__m512i sel = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * c))),
							 _mm256_set1_epi8((char)(2 << (2 * c))), 1);

			q = _mm512_or_si512(q, _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(hh, sel),
								     _mm512_set1_epi8(0x10)));
		}
		isum = dot_scaled(isum, q, _mm512_loadu_si512((const void *)(b->qs + 64 * c)),
				  scales_2x256(sc[2 * c], sc[2 * c + 1]));
	}
	total = _mm512_reduce_add_epi32(isum);
	return b->d * h2f(d) * (float)total - b->d * h2f(dmin) * (float)summs;
}

static float vec_dot_q4_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q4_K *a = w;
	const struct block_q8_K *b = xv;
	int64_t i, nb = n / QK_K;
	float s = 0;

	for (i = 0; i < nb; i++)
		s += dot_k4(a[i].qs, NULL, a[i].scales, a[i].d, a[i].dmin, &b[i]);
	return s;
}

static float vec_dot_q5_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q5_K *a = w;
	const struct block_q8_K *b = xv;
	int64_t i, nb = n / QK_K;
	float s = 0;

	for (i = 0; i < nb; i++)
		s += dot_k4(a[i].qs, a[i].qh, a[i].scales, a[i].d, a[i].dmin, &b[i]);
	return s;
}

/* Q6_K: per 128 elements, [g0 | g1] from the low nibbles of ql[0..63] and
 * [g2 | g3] from the high ones, two bits each from qh[0..31]; every
 * 128-bit lane is one group of 16 with its own scale.  The levels are
 * stored +32, taken off at the end as 32 * sum(scale * bsum). */
static float vec_dot_q6_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q6_K *a = w;
	const struct block_q8_K *b = xv;
	const __m512i lo4 = _mm512_set1_epi8(0x0F), lo2 = _mm512_set1_epi8(0x03);
	const __m512i spread = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
						1, 0, 0, 0, 0, 0, 0, 0, 0);
	int64_t i, nb = n / QK_K;
	float s = 0;
	int c, g, bias, total;

	for (i = 0; i < nb; i++) {
		__m512i isum = _mm512_setzero_si512();
		__m128i sc8 = _mm_loadu_si128((const __m128i *)a[i].scales);
		__m512i sc16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc8));

		bias = 0;
		for (g = 0; g < 16; g++)
			bias += a[i].scales[g] * b[i].bsums[g];
		for (c = 0; c < 2; c++) {
			__m512i L = _mm512_loadu_si512((const void *)(a[i].ql + 64 * c));
			__m256i h = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * c));
			__m512i H = _mm512_inserti64x4(_mm512_castsi256_si512(h), _mm256_srli_epi16(h, 2), 1);
			__m512i qa = _mm512_or_si512(_mm512_and_si512(L, lo4),
						     _mm512_slli_epi16(_mm512_and_si512(H, lo2), 4));
			__m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), lo4),
						     _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(H, 4), lo2), 4));
			/* scales of groups 8c .. 8c + 3 and 8c + 4 .. 8c + 7, one per 128-bit lane */
			__m512i sa = _mm512_permutexvar_epi16(_mm512_add_epi16(spread, _mm512_set1_epi16((short)(8 * c))),
							      sc16);
			__m512i sb = _mm512_permutexvar_epi16(
				_mm512_add_epi16(spread, _mm512_set1_epi16((short)(8 * c + 4))), sc16);

			isum = dot_scaled(isum, qa, _mm512_loadu_si512((const void *)(b[i].qs + 128 * c)), sa);
			isum = dot_scaled(isum, qb, _mm512_loadu_si512((const void *)(b[i].qs + 128 * c + 64)), sb);
		}
		total = _mm512_reduce_add_epi32(isum) - 32 * bias;
		s += b[i].d * h2f(a[i].d) * (float)total;
	}
	return s;
}

/* ---- dequantisation, bitwise the scalar level's ---- */

static void dequant_f16(const void *src, float *dst, int64_t n)
{
	const uint16_t *h = src;
	int64_t i;

	for (i = 0; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);

		_mm512_mask_storeu_ps(dst + i, m, load_f16(m, h + i));
	}
}

static void dequant_bf16(const void *src, float *dst, int64_t n)
{
	const uint16_t *h = src;
	int64_t i;

	for (i = 0; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);

		_mm512_mask_storeu_ps(dst + i, m, load_bf16(m, h + i));
	}
}

/* 16 signed bytes as floats. */
static inline __m512 bytes_ps(__m128i v)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v));
}

static void dequant_q8_0(const void *src, float *y, int64_t n)
{
	const struct block_q8_0 *x = src;
	int64_t i, nb = n / QK8_0;

	for (i = 0; i < nb; i++, y += QK8_0) {
		__m512 d = _mm512_set1_ps(h2f(x[i].d));

		_mm512_storeu_ps(y, _mm512_mul_ps(bytes_ps(_mm_loadu_si128((const __m128i *)x[i].qs)), d));
		_mm512_storeu_ps(y + 16, _mm512_mul_ps(bytes_ps(_mm_loadu_si128((const __m128i *)(x[i].qs + 16))), d));
	}
}

/* Elements 0..15 and 16..31 of a Q4/Q5 block's levels as bytes. */
static inline void nibbles1(const uint8_t *qs, __m128i *lo, __m128i *hi)
{
	__m128i v = _mm_loadu_si128((const __m128i *)qs);

	*lo = _mm_and_si128(v, _mm_set1_epi8(0x0F));
	*hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
}

static inline void high1(const uint8_t *qh, __m128i *lo, __m128i *hi)
{
	uint32_t v;

	memcpy(&v, qh, 4);
	*lo = _mm_maskz_mov_epi8((__mmask16)(v & 0xffff), _mm_set1_epi8(0x10));
	*hi = _mm_maskz_mov_epi8((__mmask16)(v >> 16), _mm_set1_epi8(0x10));
}

static void dequant_q4_0(const void *src, float *y, int64_t n)
{
	const struct block_q4_0 *x = src;
	int64_t i, nb = n / QK4_0;
	__m128i lo, hi;

	for (i = 0; i < nb; i++, y += QK4_0) {
		__m512 d = _mm512_set1_ps(h2f(x[i].d));

		nibbles1(x[i].qs, &lo, &hi);
		_mm512_storeu_ps(y, _mm512_mul_ps(bytes_ps(_mm_sub_epi8(lo, _mm_set1_epi8(8))), d));
		_mm512_storeu_ps(y + 16, _mm512_mul_ps(bytes_ps(_mm_sub_epi8(hi, _mm_set1_epi8(8))), d));
	}
}

static inline __m512 mul_add(__m512 q, __m512 d, __m512 m)
{
	__m512 p = _mm512_mul_ps(q, d);

	ROUNDED(p);
	return _mm512_add_ps(p, m);
}

static inline __m512 mul_sub(__m512 q, __m512 d, __m512 m)
{
	__m512 p = _mm512_mul_ps(d, q);

	ROUNDED(p);
	return _mm512_sub_ps(p, m);
}

static void dequant_q4_1(const void *src, float *y, int64_t n)
{
	const struct block_q4_1 *x = src;
	int64_t i, nb = n / QK4_1;
	__m128i lo, hi;

	for (i = 0; i < nb; i++, y += QK4_1) {
		__m512 d = _mm512_set1_ps(h2f(x[i].d)), m = _mm512_set1_ps(h2f(x[i].m));

		nibbles1(x[i].qs, &lo, &hi);
		_mm512_storeu_ps(y, mul_add(bytes_ps(lo), d, m));
		_mm512_storeu_ps(y + 16, mul_add(bytes_ps(hi), d, m));
	}
}

static void dequant_q5_0(const void *src, float *y, int64_t n)
{
	const struct block_q5_0 *x = src;
	int64_t i, nb = n / QK5_0;
	__m128i lo, hi, hlo, hhi;

	for (i = 0; i < nb; i++, y += QK5_0) {
		__m512 d = _mm512_set1_ps(h2f(x[i].d));

		nibbles1(x[i].qs, &lo, &hi);
		high1(x[i].qh, &hlo, &hhi);
		lo = _mm_sub_epi8(_mm_or_si128(lo, hlo), _mm_set1_epi8(16));
		hi = _mm_sub_epi8(_mm_or_si128(hi, hhi), _mm_set1_epi8(16));
		_mm512_storeu_ps(y, _mm512_mul_ps(bytes_ps(lo), d));
		_mm512_storeu_ps(y + 16, _mm512_mul_ps(bytes_ps(hi), d));
	}
}

static void dequant_q5_1(const void *src, float *y, int64_t n)
{
	const struct block_q5_1 *x = src;
	int64_t i, nb = n / QK5_1;
	__m128i lo, hi, hlo, hhi;

	for (i = 0; i < nb; i++, y += QK5_1) {
		__m512 d = _mm512_set1_ps(h2f(x[i].d)), m = _mm512_set1_ps(h2f(x[i].m));

		nibbles1(x[i].qs, &lo, &hi);
		high1(x[i].qh, &hlo, &hhi);
		_mm512_storeu_ps(y, mul_add(bytes_ps(_mm_or_si128(lo, hlo)), d, m));
		_mm512_storeu_ps(y + 16, mul_add(bytes_ps(_mm_or_si128(hi, hhi)), d, m));
	}
}

/* Q4_K and Q5_K: 32 levels of one group (bytes 0..31 of LEVELS) as d * q - m. */
static inline void store_group32(float *y, __m256i levels, float d, float m)
{
	__m512 vd = _mm512_set1_ps(d), vm = _mm512_set1_ps(m);

	_mm512_storeu_ps(y, mul_sub(bytes_ps(_mm256_castsi256_si128(levels)), vd, vm));
	_mm512_storeu_ps(y + 16, mul_sub(bytes_ps(_mm256_extracti128_si256(levels, 1)), vd, vm));
}

static inline void dequant_k4(const uint8_t *qs, const uint8_t *qh, const uint8_t *packed, float d, float min,
			      float *y)
{
	const __m256i lo4 = _mm256_set1_epi8(0x0F);
	__m256i h = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
	uint8_t sc, m;
	int c;

	for (c = 0; c < 4; c++, y += 64) {
		__m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
		__m256i lo = _mm256_and_si256(raw, lo4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), lo4);
		float d1, m1, d2, m2;

		if (qh) {
			__m256i b16 = _mm256_set1_epi8(0x10);

			lo = _mm256_or_si256(lo, _mm256_maskz_mov_epi8(
							 _mm256_test_epi8_mask(h, _mm256_set1_epi8((char)(1 << (2 * c)))), b16));
			hi = _mm256_or_si256(hi, _mm256_maskz_mov_epi8(
							 _mm256_test_epi8_mask(h, _mm256_set1_epi8((char)(2 << (2 * c)))), b16));
		}
		quant_scale_min_k4(2 * c, packed, &sc, &m);
		d1 = d * (float)sc;
		m1 = min * (float)m;
		quant_scale_min_k4(2 * c + 1, packed, &sc, &m);
		d2 = d * (float)sc;
		m2 = min * (float)m;
		store_group32(y, lo, d1, m1);
		store_group32(y + 32, hi, d2, m2);
	}
}

static void dequant_q4_K(const void *src, float *y, int64_t n)
{
	const struct block_q4_K *x = src;
	int64_t i, nb = n / QK_K;

	for (i = 0; i < nb; i++, y += QK_K)
		dequant_k4(x[i].qs, NULL, x[i].scales, h2f(x[i].d), h2f(x[i].dmin), y);
}

static void dequant_q5_K(const void *src, float *y, int64_t n)
{
	const struct block_q5_K *x = src;
	int64_t i, nb = n / QK_K;

	for (i = 0; i < nb; i++, y += QK_K)
		dequant_k4(x[i].qs, x[i].qh, x[i].scales, h2f(x[i].d), h2f(x[i].dmin), y);
}

static void dequant_q6_K(const void *src, float *y, int64_t n)
{
	const struct block_q6_K *x = src;
	const __m256i lo4 = _mm256_set1_epi8(0x0F), lo2 = _mm256_set1_epi8(0x03), off = _mm256_set1_epi8(32);
	int64_t i, nb = n / QK_K;
	int c, g, h;

	for (i = 0; i < nb; i++) {
		float d = h2f(x[i].d);

		for (c = 0; c < 2; c++, y += 128) {
			const uint8_t *ql = x[i].ql + 64 * c;
			__m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * c));
			__m256i q[4];

			for (g = 0; g < 4; g++) {
				__m256i l = _mm256_loadu_si256((const __m256i *)(ql + 32 * (g & 1)));

				l = g < 2 ? _mm256_and_si256(l, lo4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), lo4);
				h = 2 * g;
				q[g] = _mm256_sub_epi8(
					_mm256_or_si256(l, _mm256_slli_epi16(
								   _mm256_and_si256(_mm256_srli_epi16(qh, h), lo2), 4)),
					off);
			}
			/* y = (d * scale) * q, as ggml rounds it */
			for (g = 0; g < 4; g++) {
				__m512 s0 = _mm512_set1_ps(d * (float)x[i].scales[8 * c + 2 * g]);
				__m512 s1 = _mm512_set1_ps(d * (float)x[i].scales[8 * c + 2 * g + 1]);

				_mm512_storeu_ps(y + 32 * g, _mm512_mul_ps(s0, bytes_ps(_mm256_castsi256_si128(q[g]))));
				_mm512_storeu_ps(y + 32 * g + 16,
						 _mm512_mul_ps(s1, bytes_ps(_mm256_extracti128_si256(q[g], 1))));
			}
		}
	}
}

/* ---- activation conversion, bytewise the reference's ---- */

static void from_float_f16(const float *x, void *dst, int64_t n)
{
	uint16_t *h = dst;
	int64_t i;

	for (i = 0; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);

		_mm256_mask_storeu_epi16(h + i, m,
					 _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
	}
}

/* ggml's fp32_to_bf16: round to nearest even on the bits; NaN made quiet. */
static void from_float_bf16(const float *x, void *dst, int64_t n)
{
	uint16_t *h = dst;
	int64_t i;

	for (i = 0; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, x + i));
		__m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
		__m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
		__mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
							_mm512_set1_epi32(0x7f800000));

		r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
		_mm256_mask_storeu_epi16(h + i, m, _mm512_cvtepi32_epi16(r));
	}
}

/* roundf: to nearest, halves away from zero.  v - trunc(v) is exact, so
 * the comparison with 0.5 decides the tie exactly. */
static inline __m512i round_away(__m512 v)
{
	__m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	__m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
	__mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
	__m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));

	return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, one));
}

/* One Q8_0/Q8_1 block: its scale (as the reference computes it) and the
 * codes of x * id in q; returns the sum of the codes. */
static inline int q8_block(const float *x, float *dp, int8_t *q)
{
	__m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
	float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
	float d = amax / 127, id = d ? 1.0f / d : 0.0f;
	__m512 vid = _mm512_set1_ps(id);
	__m512i qa = round_away(_mm512_mul_ps(a, vid)), qb = round_away(_mm512_mul_ps(b, vid));

	_mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(qa));
	_mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtepi32_epi8(qb));
	*dp = d;
	return _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
}

static void from_float_q8_0(const float *x, void *dst, int64_t n)
{
	struct block_q8_0 *y = dst;
	int64_t i, nb = n / QK8_0;
	float d;

	for (i = 0; i < nb; i++, x += QK8_0) {
		q8_block(x, &d, y[i].qs);
		y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
	}
}

static void from_float_q8_1(const float *x, void *dst, int64_t n)
{
	struct block_q8_1 *y = dst;
	int64_t i, nb = n / QK8_1;
	float d;
	int sum;

	for (i = 0; i < nb; i++, x += QK8_1) {
		sum = q8_block(x, &d, y[i].qs);
		y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
		y[i].s = _cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT);
	}
}

static void from_float_q8_K(const float *x, void *dst, int64_t n)
{
	struct block_q8_K *y = dst;
	int64_t i, nb = n / QK_K;
	int j;

	for (i = 0; i < nb; i++, x += QK_K) {
		__m512 vmax = _mm512_setzero_ps(), v;
		float amax, max = 0, iscale;

		for (j = 0; j < QK_K; j += 16)
			vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
		amax = _mm512_reduce_max_ps(vmax);
		if (!amax) {
			memset(&y[i], 0, sizeof y[i]);
			continue;
		}
		/* the reference keeps the first element of largest magnitude */
		for (j = 0; j < QK_K; j += 16) {
			__mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), _mm512_set1_ps(amax),
							   _CMP_EQ_OQ);

			if (hit) {
				max = x[j + __builtin_ctz(hit)];
				break;
			}
		}
		iscale = -127.f / max;
		for (j = 0; j < QK_K; j += 16) {
			__m512i q;

			/* nearest_int is round to nearest even, VCVTPS2DQ's default */
			v = _mm512_mul_ps(_mm512_set1_ps(iscale), _mm512_loadu_ps(x + j));
			q = _mm512_min_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(127));

			_mm_storeu_si128((__m128i *)(y[i].qs + j), _mm512_cvtepi32_epi8(q));
			y[i].bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(q);
		}
		y[i].d = 1 / iscale;
	}
}

const struct quant_kernels QUANT_TABLE = {
	.level = QUANT_LEVEL,
	.vec_dot = {
		[DTYPE_F32] = vec_dot_f32, [DTYPE_F16] = vec_dot_f16, [DTYPE_BF16] = vec_dot_bf16,
		[DTYPE_Q4_0] = vec_dot_q4_0, [DTYPE_Q4_1] = vec_dot_q4_1, [DTYPE_Q5_0] = vec_dot_q5_0,
		[DTYPE_Q5_1] = vec_dot_q5_1, [DTYPE_Q8_0] = vec_dot_q8_0,
		[DTYPE_Q4_K] = vec_dot_q4_K, [DTYPE_Q5_K] = vec_dot_q5_K, [DTYPE_Q6_K] = vec_dot_q6_K,
	},
	.dequantize_row = {
		[DTYPE_F16] = dequant_f16, [DTYPE_BF16] = dequant_bf16,
		[DTYPE_Q4_0] = dequant_q4_0, [DTYPE_Q4_1] = dequant_q4_1, [DTYPE_Q5_0] = dequant_q5_0,
		[DTYPE_Q5_1] = dequant_q5_1, [DTYPE_Q8_0] = dequant_q8_0,
		[DTYPE_Q4_K] = dequant_q4_K, [DTYPE_Q5_K] = dequant_q5_K, [DTYPE_Q6_K] = dequant_q6_K,
	},
	.from_float = {
		[DTYPE_F16] = from_float_f16, [DTYPE_BF16] = from_float_bf16,
		[DTYPE_Q8_0] = from_float_q8_0, [DTYPE_Q8_1] = from_float_q8_1, [DTYPE_Q8_K] = from_float_q8_K,
	},
};

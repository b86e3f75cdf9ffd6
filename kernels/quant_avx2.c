/* AVX2 kernels of quant.h (built with -mavx2 -mfma -mf16c, entered only
 * when cpu_features() reports CPU_AVX2).  One 32-element block per 256-bit
 * register; the byte dot products are VPMADDUBSW (unsigned x signed, pairs
 * summed to int16, which cannot saturate for the ranges used) and VPMADDWD.
 *
 * As in quant_avx512.h: dot products agree with the scalar level to
 * rounding; dequantisation and activation conversion give its bits. */
#include "quant_impl.h"

#include <immintrin.h>
#include <string.h>

/* Forces X to be materialised, so a multiply feeding it is rounded on its
 * own instead of being contracted into a fused multiply-add. */
#define ROUNDED(x) __asm__("" : "+x"(x))

static inline float h2f(uint16_t h)
{
	return _cvtsh_ss(h);
}

static inline float hsum_ps(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline int hsum_epi32(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	return _mm_cvtsi128_si32(s);
}

/* u (unsigned bytes) times s (signed bytes), summed per 32-bit lane. */
static inline __m256i dot_u8s8(__m256i u, __m256i s)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* ---- float rows ---- */

static inline __m256 load_f16(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load_bf16(const uint16_t *p)
{
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

static inline __m256 load_f32(const float *p)
{
	return _mm256_loadu_ps(p);
}

#define FLOAT_DOT(name, elem, load, tail)                                                               \
	static float name(int64_t n, const void *w, const void *x)                                      \
	{                                                                                               \
		const elem *a = w, *b = x;                                                              \
		__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),   \
		       s3 = _mm256_setzero_ps();                                                        \
		float s = 0;                                                                            \
		int64_t i;                                                                              \
                                                                                                        \
		for (i = 0; i + 32 <= n; i += 32) {                                                     \
			s0 = _mm256_fmadd_ps(load(a + i), load(b + i), s0);                             \
			s1 = _mm256_fmadd_ps(load(a + i + 8), load(b + i + 8), s1);                     \
			s2 = _mm256_fmadd_ps(load(a + i + 16), load(b + i + 16), s2);                   \
			s3 = _mm256_fmadd_ps(load(a + i + 24), load(b + i + 24), s3);                   \
		}                                                                                       \
		for (; i + 8 <= n; i += 8)                                                              \
			s0 = _mm256_fmadd_ps(load(a + i), load(b + i), s0);                             \
		for (; i < n; i++)                                                                      \
			s += tail(a[i]) * tail(b[i]);                                                   \
		return hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))) + s;        \
	}

static inline float same(float f)
{
	return f;
}

FLOAT_DOT(vec_dot_f32, float, load_f32, same)
FLOAT_DOT(vec_dot_f16, uint16_t, load_f16, h2f)
FLOAT_DOT(vec_dot_bf16, uint16_t, load_bf16, bf16_to_f32)

/* ---- 32-element blocks ---- */

/* A Q4 block's 32 levels in element order: low nibbles, then high. */
static inline __m256i nibbles(const uint8_t *qs)
{
	__m128i v = _mm_loadu_si128((const __m128i *)qs);
	__m256i r = _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);

	return _mm256_and_si256(r, _mm256_set1_epi8(0x0F));
}

/* 0x10 in byte j where bit j of the Q5 block's qh is set. */
static inline __m256i high_bits(const uint8_t *qh)
{
	const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2,
					      3, 3, 3, 3, 3, 3, 3, 3);
	const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
	uint32_t v;
	__m256i r;

	memcpy(&v, qh, 4);
	r = _mm256_shuffle_epi8(_mm256_set1_epi32((int)v), shuf);
	r = _mm256_cmpeq_epi8(_mm256_and_si256(r, bit), bit);
	return _mm256_and_si256(r, _mm256_set1_epi8(0x10));
}

static inline __m256i load32(const int8_t *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

/* dot(q - off, y) for unsigned q, exact. */
static inline __m256i dot_offset(__m256i q, __m256i y, int off)
{
	__m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, y), _mm256_maddubs_epi16(_mm256_set1_epi8((char)off), y));

	return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q8_0 *a = w, *b = xv;
	int64_t i, nb = n / QK8_0;
	__m256 acc = _mm256_setzero_ps();

	for (i = 0; i < nb; i++) {
		__m256i x = load32(a[i].qs), y = load32(b[i].qs);
		__m256i dot = dot_u8s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));

		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), acc);
	}
	return hsum_ps(acc);
}

static float vec_dot_q4_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q4_0 *a = w;
	const struct block_q8_0 *b = xv;
	int64_t i, nb = n / QK4_0;
	__m256 acc = _mm256_setzero_ps();

	for (i = 0; i < nb; i++) {
		__m256i dot = dot_offset(nibbles(a[i].qs), load32(b[i].qs), 8);

		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), acc);
	}
	return hsum_ps(acc);
}

static float vec_dot_q4_1(int64_t n, const void *w, const void *xv)
{
	const struct block_q4_1 *a = w;
	const struct block_q8_1 *b = xv;
	int64_t i, nb = n / QK4_1;
	__m256 acc = _mm256_setzero_ps();
	float s = 0;

	for (i = 0; i < nb; i++) {
		__m256i dot = dot_u8s8(nibbles(a[i].qs), load32(b[i].qs));

		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), acc);
		s += h2f(a[i].m) * h2f(b[i].s);
	}
	return hsum_ps(acc) + s;
}

static float vec_dot_q5_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q5_0 *a = w;
	const struct block_q8_0 *b = xv;
	int64_t i, nb = n / QK5_0;
	__m256 acc = _mm256_setzero_ps();

	for (i = 0; i < nb; i++) {
		__m256i q = _mm256_or_si256(nibbles(a[i].qs), high_bits(a[i].qh));
		__m256i dot = dot_offset(q, load32(b[i].qs), 16);

		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), acc);
	}
	return hsum_ps(acc);
}

static float vec_dot_q5_1(int64_t n, const void *w, const void *xv)
{
	const struct block_q5_1 *a = w;
	const struct block_q8_1 *b = xv;
	int64_t i, nb = n / QK5_1;
	__m256 acc = _mm256_setzero_ps();
	float s = 0;

	for (i = 0; i < nb; i++) {
		__m256i q = _mm256_or_si256(nibbles(a[i].qs), high_bits(a[i].qh));
		__m256i dot = dot_u8s8(q, load32(b[i].qs));

		acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d)), acc);
		s += h2f(a[i].m) * h2f(b[i].s);
	}
	return hsum_ps(acc) + s;
}

/* ---- K blocks against Q8_K: exact integer sum per super-block ---- */

/* q times y with every 16 products weighted by the int16 scale of their
 * 128-bit lane (SC), added to ACC. */
static inline __m256i dot_scaled(__m256i acc, __m256i q, __m256i y, __m256i sc)
{
	return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), sc));
}

static inline float dot_k4(const uint8_t *qs, const uint8_t *qh, const uint8_t *packed, uint16_t d,
			   uint16_t dmin, const struct block_q8_K *b)
{
	const __m256i lo4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
	__m256i isum = _mm256_setzero_si256(), h = _mm256_setzero_si256();
	uint8_t sc[8], m[8];
	int c, g, summs = 0;

	quant_unpack_k4(packed, sc, m);
	for (g = 0; g < 8; g++)
		summs += m[g] * (b->bsums[2 * g] + b->bsums[2 * g + 1]);
	if (qh)
		h = _mm256_loadu_si256((const __m256i *)qh);
	for (c = 0; c < 4; c++) {
		__m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
		__m256i lo = _mm256_and_si256(raw, lo4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), lo4);

		if (qh) {
			/* bit 2c of qh[l] is worth 16 in the low group, 2c + 1 in the high */
			lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * c), one), 4));
			hi = _mm256_or_si256(hi,
					     _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * c + 1), one), 4));
		}
		isum = dot_scaled(isum, lo, load32(b->qs + 64 * c), _mm256_set1_epi16(sc[2 * c]));
		isum = dot_scaled(isum, hi, load32(b->qs + 64 * c + 32), _mm256_set1_epi16(sc[2 * c + 1]));
	}
	return b->d * h2f(d) * (float)hsum_epi32(isum) - b->d * h2f(dmin) * (float)summs;
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

/* Q6_K: levels stored +32 (taken off as 32 * sum(scale * bsum)); group g
 * of a 128-element chunk is the low (g < 2) or high nibbles of
 * ql[32 (g & 1) ..], with bits 2g of qh. */
static float vec_dot_q6_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q6_K *a = w;
	const struct block_q8_K *b = xv;
	const __m256i lo4 = _mm256_set1_epi8(0x0F), lo2 = _mm256_set1_epi8(0x03);
	int64_t i, nb = n / QK_K;
	float s = 0;
	int c, g, bias;

	for (i = 0; i < nb; i++) {
		__m256i isum = _mm256_setzero_si256();

		bias = 0;
		for (g = 0; g < 16; g++)
			bias += a[i].scales[g] * b[i].bsums[g];
		for (c = 0; c < 2; c++) {
			const uint8_t *ql = a[i].ql + 64 * c;
			const int8_t *sc = a[i].scales + 8 * c;
			__m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * c));

			for (g = 0; g < 4; g++) {
				__m256i l = _mm256_loadu_si256((const __m256i *)(ql + 32 * (g & 1)));
				__m256i q;

				l = g < 2 ? _mm256_and_si256(l, lo4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), lo4);
				q = _mm256_or_si256(l, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), lo2), 4));
				isum = dot_scaled(isum, q, load32(b[i].qs + 128 * c + 32 * g),
						  _mm256_inserti128_si256(_mm256_set1_epi16(sc[2 * g]),
									  _mm_set1_epi16(sc[2 * g + 1]), 1));
			}
		}
		s += b[i].d * h2f(a[i].d) * (float)(hsum_epi32(isum) - 32 * bias);
	}
	return s;
}

/* ---- dequantisation, bitwise the scalar level's ---- */

static void dequant_f16(const void *src, float *dst, int64_t n)
{
	const uint16_t *h = src;
	int64_t i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, load_f16(h + i));
	for (; i < n; i++)
		dst[i] = h2f(h[i]);
}

static void dequant_bf16(const void *src, float *dst, int64_t n)
{
	const uint16_t *h = src;
	int64_t i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, load_bf16(h + i));
	for (; i < n; i++)
		dst[i] = bf16_to_f32(h[i]);
}

/* 16 signed bytes times d into y[0..15]. */
static inline void store16_mul(float *y, __m128i q, __m256 d)
{
	_mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
	_mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8))), d));
}

/* 32 signed bytes times d into y[0..31]. */
static inline void store32_mul(float *y, __m256i q, __m256 d)
{
	store16_mul(y, _mm256_castsi256_si128(q), d);
	store16_mul(y + 16, _mm256_extracti128_si256(q, 1), d);
}

/* 32 signed bytes as d * q - m (SUB) or q * d + m into y[0..31]. */
static inline void store32_affine(float *y, __m256i q, __m256 d, __m256 m, int sub)
{
	__m128i half[2] = { _mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1) };
	int k;

	for (k = 0; k < 4; k++) {
		__m128i b = k & 1 ? _mm_srli_si128(half[k >> 1], 8) : half[k >> 1];
		__m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d);

		ROUNDED(p);
		_mm256_storeu_ps(y + 8 * k, sub ? _mm256_sub_ps(p, m) : _mm256_add_ps(p, m));
	}
}

static void dequant_q8_0(const void *src, float *y, int64_t n)
{
	const struct block_q8_0 *x = src;
	int64_t i, nb = n / QK8_0;

	for (i = 0; i < nb; i++, y += QK8_0)
		store32_mul(y, load32(x[i].qs), _mm256_set1_ps(h2f(x[i].d)));
}

static void dequant_q4_0(const void *src, float *y, int64_t n)
{
	const struct block_q4_0 *x = src;
	int64_t i, nb = n / QK4_0;

	for (i = 0; i < nb; i++, y += QK4_0)
		store32_mul(y, _mm256_sub_epi8(nibbles(x[i].qs), _mm256_set1_epi8(8)), _mm256_set1_ps(h2f(x[i].d)));
}

static void dequant_q4_1(const void *src, float *y, int64_t n)
{
	const struct block_q4_1 *x = src;
	int64_t i, nb = n / QK4_1;

	for (i = 0; i < nb; i++, y += QK4_1)
		store32_affine(y, nibbles(x[i].qs), _mm256_set1_ps(h2f(x[i].d)), _mm256_set1_ps(h2f(x[i].m)), 0);
}

static void dequant_q5_0(const void *src, float *y, int64_t n)
{
	const struct block_q5_0 *x = src;
	int64_t i, nb = n / QK5_0;

	for (i = 0; i < nb; i++, y += QK5_0) {
		__m256i q = _mm256_or_si256(nibbles(x[i].qs), high_bits(x[i].qh));

		store32_mul(y, _mm256_sub_epi8(q, _mm256_set1_epi8(16)), _mm256_set1_ps(h2f(x[i].d)));
	}
}

static void dequant_q5_1(const void *src, float *y, int64_t n)
{
	const struct block_q5_1 *x = src;
	int64_t i, nb = n / QK5_1;

	for (i = 0; i < nb; i++, y += QK5_1)
		store32_affine(y, _mm256_or_si256(nibbles(x[i].qs), high_bits(x[i].qh)), _mm256_set1_ps(h2f(x[i].d)),
			       _mm256_set1_ps(h2f(x[i].m)), 0);
}

static inline void dequant_k4(const uint8_t *qs, const uint8_t *qh, const uint8_t *packed, float d, float min,
			      float *y)
{
	const __m256i lo4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
	__m256i h = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
	uint8_t sc, m;
	int c;

	for (c = 0; c < 4; c++, y += 64) {
		__m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
		__m256i lo = _mm256_and_si256(raw, lo4), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), lo4);

		if (qh) {
			lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * c), one), 4));
			hi = _mm256_or_si256(hi,
					     _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2 * c + 1), one), 4));
		}
		quant_scale_min_k4(2 * c, packed, &sc, &m);
		store32_affine(y, lo, _mm256_set1_ps(d * (float)sc), _mm256_set1_ps(min * (float)m), 1);
		quant_scale_min_k4(2 * c + 1, packed, &sc, &m);
		store32_affine(y + 32, hi, _mm256_set1_ps(d * (float)sc), _mm256_set1_ps(min * (float)m), 1);
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
	int c, g;

	for (i = 0; i < nb; i++) {
		float d = h2f(x[i].d);

		for (c = 0; c < 2; c++, y += 128) {
			const uint8_t *ql = x[i].ql + 64 * c;
			const int8_t *sc = x[i].scales + 8 * c;
			__m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * c));

			for (g = 0; g < 4; g++) {
				__m256i l = _mm256_loadu_si256((const __m256i *)(ql + 32 * (g & 1)));
				__m256i q;

				l = g < 2 ? _mm256_and_si256(l, lo4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), lo4);
				q = _mm256_or_si256(l, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), lo2), 4));
				q = _mm256_sub_epi8(q, off);
				/* (d * scale) * q, as ggml rounds it; 16 elements per scale */
				store16_mul(y + 32 * g, _mm256_castsi256_si128(q), _mm256_set1_ps(d * (float)sc[2 * g]));
				store16_mul(y + 32 * g + 16, _mm256_extracti128_si256(q, 1),
					    _mm256_set1_ps(d * (float)sc[2 * g + 1]));
			}
		}
	}
}

/* ---- activation conversion, bytewise the reference's ---- */

static void from_float_f16(const float *x, void *dst, int64_t n)
{
	uint16_t *h = dst;
	int64_t i;

	for (i = 0; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
	for (; i < n; i++)
		h[i] = f32_to_f16(x[i]);
}

/* roundf: halves away from zero; v - trunc(v) is exact. */
static inline __m256i round_away(__m256 v)
{
	__m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	__m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
	__m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));
	__m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);

	return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(_mm256_set1_ps(1.0f), sign))));
}

/* Four vectors of int32 in -128..127 as 32 bytes in order. */
static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d)
{
	__m256i r = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));

	return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline float amax32(const float *x)
{
	const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x), abs),
					       _mm256_and_ps(_mm256_loadu_ps(x + 8), abs)),
				 _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + 16), abs),
					       _mm256_and_ps(_mm256_loadu_ps(x + 24), abs)));
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));

	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static inline int q8_block(const float *x, float *dp, int8_t *q)
{
	float amax = amax32(x), d = amax / 127, id = d ? 1.0f / d : 0.0f;
	__m256 vid = _mm256_set1_ps(id);
	__m256i a = round_away(_mm256_mul_ps(_mm256_loadu_ps(x), vid));
	__m256i b = round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 8), vid));
	__m256i c = round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 16), vid));
	__m256i e = round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 24), vid));

	_mm256_storeu_si256((__m256i *)q, pack32(a, b, c, e));
	*dp = d;
	return hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(a, b), _mm256_add_epi32(c, e)));
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
		float amax = 0, max = 0, iscale;
		__m256 vs;

		for (j = 0; j < QK_K; j += 32) {
			float m = amax32(x + j);

			amax = m > amax ? m : amax;
		}
		if (!amax) {
			memset(&y[i], 0, sizeof y[i]);
			continue;
		}
		/* the reference keeps the first element of largest magnitude */
		for (j = 0; j < QK_K; j++) {
			if (__builtin_fabsf(x[j]) == amax) {
				max = x[j];
				break;
			}
		}
		iscale = -127.f / max;
		vs = _mm256_set1_ps(iscale);
		for (j = 0; j < QK_K; j += 32) {
			/* nearest_int is round to nearest even, VCVTPS2DQ's default */
			__m256i q[4];
			int k;

			for (k = 0; k < 4; k++)
				q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8 * k))),
							_mm256_set1_epi32(127));
			_mm256_storeu_si256((__m256i *)(y[i].qs + j), pack32(q[0], q[1], q[2], q[3]));
			y[i].bsums[j / 16] = (int16_t)hsum_epi32(_mm256_add_epi32(q[0], q[1]));
			y[i].bsums[j / 16 + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(q[2], q[3]));
		}
		y[i].d = 1 / iscale;
	}
}

const struct quant_kernels quant_kernels_avx2 = {
	.level = CPU_AVX2,
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
		[DTYPE_F16] = from_float_f16,
		[DTYPE_Q8_0] = from_float_q8_0, [DTYPE_Q8_1] = from_float_q8_1, [DTYPE_Q8_K] = from_float_q8_K,
	},
};

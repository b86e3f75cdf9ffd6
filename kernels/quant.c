/* quant.c - the scalar level of quant.h, the reference quantisers and the
 * dispatch.
 *
 * Everything that produces bytes or floats another program can observe
 * (quantize_row_*_ref, dequantize_row_*) follows ggml-quants.c operation
 * for operation, in the same order and precision, so results are bitwise
 * ggml's.  This file must not be built with floating-point contraction
 * into FMA (x86-64 without -mfma never contracts), or scale searches that
 * compare near-equal errors could pick another candidate. */
#include "quant_impl.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f

static inline int imin(int a, int b)
{
	return a < b ? a : b;
}

static inline int imax(int a, int b)
{
	return a > b ? a : b;
}


/* ---- dequantisation (ggml-quants.c dequantize_row_*) ---- */

static void dequant_f32(const void *src, float *dst, int64_t n)
{
	memcpy(dst, src, (size_t)n * sizeof(float));
}

static void dequant_f16(const void *src, float *dst, int64_t n)
{
	const uint16_t *h = src;
	int64_t i;

	for (i = 0; i < n; i++)
		dst[i] = f16_to_f32(h[i]);
}

static void dequant_bf16(const void *src, float *dst, int64_t n)
{
	const uint16_t *h = src;
	int64_t i;

	for (i = 0; i < n; i++)
		dst[i] = bf16_to_f32(h[i]);
}

static void dequant_q4_0(const void *src, float *y, int64_t n)
{
	const struct block_q4_0 *x = src;
	int64_t i, nb = n / QK4_0;
	int j;

	for (i = 0; i < nb; i++) {
		float d = f16_to_f32(x[i].d);

		for (j = 0; j < QK4_0 / 2; j++) {
			y[i * QK4_0 + j] = (float)((x[i].qs[j] & 0xF) - 8) * d;
			y[i * QK4_0 + j + QK4_0 / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
		}
	}
}

static void dequant_q4_1(const void *src, float *y, int64_t n)
{
	const struct block_q4_1 *x = src;
	int64_t i, nb = n / QK4_1;
	int j;

	for (i = 0; i < nb; i++) {
		float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);

		for (j = 0; j < QK4_1 / 2; j++) {
			y[i * QK4_1 + j] = (float)(x[i].qs[j] & 0xF) * d + m;
			y[i * QK4_1 + j + QK4_1 / 2] = (float)(x[i].qs[j] >> 4) * d + m;
		}
	}
}

static inline uint32_t load_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof v);
	return v;
}

static void dequant_q5_0(const void *src, float *y, int64_t n)
{
	const struct block_q5_0 *x = src;
	int64_t i, nb = n / QK5_0;
	int j;

	for (i = 0; i < nb; i++) {
		float d = f16_to_f32(x[i].d);
		uint32_t qh = load_u32(x[i].qh);

		for (j = 0; j < QK5_0 / 2; j++) {
			int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;

			y[i * QK5_0 + j] = (float)(((x[i].qs[j] & 0xF) | h0) - 16) * d;
			y[i * QK5_0 + j + QK5_0 / 2] = (float)(((x[i].qs[j] >> 4) | h1) - 16) * d;
		}
	}
}

static void dequant_q5_1(const void *src, float *y, int64_t n)
{
	const struct block_q5_1 *x = src;
	int64_t i, nb = n / QK5_1;
	int j;

	for (i = 0; i < nb; i++) {
		float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
		uint32_t qh = load_u32(x[i].qh);

		for (j = 0; j < QK5_1 / 2; j++) {
			int h0 = (int)((qh >> j) & 1) << 4, h1 = (int)((qh >> (j + 16)) & 1) << 4;

			y[i * QK5_1 + j] = (float)((x[i].qs[j] & 0xF) | h0) * d + m;
			y[i * QK5_1 + j + QK5_1 / 2] = (float)((x[i].qs[j] >> 4) | h1) * d + m;
		}
	}
}

static void dequant_q8_0(const void *src, float *y, int64_t n)
{
	const struct block_q8_0 *x = src;
	int64_t i, nb = n / QK8_0;
	int j;

	for (i = 0; i < nb; i++) {
		float d = f16_to_f32(x[i].d);

		for (j = 0; j < QK8_0; j++)
			y[i * QK8_0 + j] = (float)x[i].qs[j] * d;
	}
}

/* ggml has no dequantize_row_q8_1; this is the block's meaning, qs * d. */
static void dequant_q8_1(const void *src, float *y, int64_t n)
{
	const struct block_q8_1 *x = src;
	int64_t i, nb = n / QK8_1;
	int j;

	for (i = 0; i < nb; i++) {
		float d = f16_to_f32(x[i].d);

		for (j = 0; j < QK8_1; j++)
			y[i * QK8_1 + j] = (float)x[i].qs[j] * d;
	}
}

static void dequant_q2_K(const void *src, float *y, int64_t n)
{
	const struct block_q2_K *x = src;
	int64_t i, nb = n / QK_K;
	int c, j, l, is;

	for (i = 0; i < nb; i++) {
		float d = f16_to_f32(x[i].d), min = f16_to_f32(x[i].dmin);
		const uint8_t *q = x[i].qs;

		is = 0;
		for (c = 0; c < QK_K; c += 128) {
			for (j = 0; j < 4; j++) {
				int shift = 2 * j, h;

				for (h = 0; h < 2; h++) {
					uint8_t sc = x[i].scales[is++];
					float dl = d * (float)(sc & 0xF), ml = min * (float)(sc >> 4);

					for (l = 0; l < 16; l++)
						*y++ = dl * (float)((q[l + 16 * h] >> shift) & 3) - ml;
				}
			}
			q += 32;
		}
	}
}

static void dequant_q3_K(const void *src, float *y, int64_t n)
{
	const struct block_q3_K *x = src;
	int64_t i, nb = n / QK_K;
	int c, j, l, h, is;

	for (i = 0; i < nb; i++) {
		float d_all = f16_to_f32(x[i].d);
		const uint8_t *q = x[i].qs, *hm = x[i].hmask;
		uint8_t m = 1;

		is = 0;
		for (c = 0; c < QK_K; c += 128) {
			for (j = 0; j < 4; j++) {
				int shift = 2 * j;

				for (h = 0; h < 2; h++) {
					float dl = d_all * (float)quant_scale_q3_K(is++, x[i].scales);

					for (l = 16 * h; l < 16 * h + 16; l++)
						*y++ = dl * (float)(((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
				}
				m = (uint8_t)(m << 1);
			}
			q += 32;
		}
	}
}

static void dequant_q4_K(const void *src, float *y, int64_t n)
{
	const struct block_q4_K *x = src;
	int64_t i, nb = n / QK_K;
	int c, l, is;
	uint8_t sc, m;

	for (i = 0; i < nb; i++) {
		const uint8_t *q = x[i].qs;
		float d = f16_to_f32(x[i].d), min = f16_to_f32(x[i].dmin);

		is = 0;
		for (c = 0; c < QK_K; c += 64) {
			float d1, m1, d2, m2;

			quant_scale_min_k4(is, x[i].scales, &sc, &m);
			d1 = d * (float)sc;
			m1 = min * (float)m;
			quant_scale_min_k4(is + 1, x[i].scales, &sc, &m);
			d2 = d * (float)sc;
			m2 = min * (float)m;
			for (l = 0; l < 32; l++)
				*y++ = d1 * (float)(q[l] & 0xF) - m1;
			for (l = 0; l < 32; l++)
				*y++ = d2 * (float)(q[l] >> 4) - m2;
			q += 32;
			is += 2;
		}
	}
}

static void dequant_q5_K(const void *src, float *y, int64_t n)
{
	const struct block_q5_K *x = src;
	int64_t i, nb = n / QK_K;
	int c, l, is;
	uint8_t sc, m;

	for (i = 0; i < nb; i++) {
		const uint8_t *ql = x[i].qs, *qh = x[i].qh;
		float d = f16_to_f32(x[i].d), min = f16_to_f32(x[i].dmin);
		unsigned u1 = 1, u2 = 2;

		is = 0;
		for (c = 0; c < QK_K; c += 64) {
			float d1, m1, d2, m2;

			quant_scale_min_k4(is, x[i].scales, &sc, &m);
			d1 = d * (float)sc;
			m1 = min * (float)m;
			quant_scale_min_k4(is + 1, x[i].scales, &sc, &m);
			d2 = d * (float)sc;
			m2 = min * (float)m;
			for (l = 0; l < 32; l++)
				*y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
			for (l = 0; l < 32; l++)
				*y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
			ql += 32;
			is += 2;
			u1 <<= 2;
			u2 <<= 2;
		}
	}
}

static void dequant_q6_K(const void *src, float *y, int64_t n)
{
	const struct block_q6_K *x = src;
	int64_t i, nb = n / QK_K;
	int c, l;

	for (i = 0; i < nb; i++) {
		float d = f16_to_f32(x[i].d);
		const uint8_t *ql = x[i].ql, *qh = x[i].qh;
		const int8_t *sc = x[i].scales;

		for (c = 0; c < QK_K; c += 128) {
			for (l = 0; l < 32; l++) {
				int is = l / 16;
				int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
				int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
				int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;

				y[l] = d * (float)sc[is] * (float)q1;
				y[l + 32] = d * (float)sc[is + 2] * (float)q2;
				y[l + 64] = d * (float)sc[is + 4] * (float)q3;
				y[l + 96] = d * (float)sc[is + 6] * (float)q4;
			}
			y += 128;
			ql += 64;
			qh += 32;
			sc += 8;
		}
	}
}

static void dequant_q8_K(const void *src, float *y, int64_t n)
{
	const struct block_q8_K *x = src;
	int64_t i, nb = n / QK_K;
	int j;

	for (i = 0; i < nb; i++)
		for (j = 0; j < QK_K; j++)
			*y++ = x[i].d * (float)x[i].qs[j];
}

/* ---- reference quantisers (ggml-quants.c quantize_row_*_ref) ---- */

static void quant_ref_f16(const float *x, void *dst, int64_t n)
{
	uint16_t *h = dst;
	int64_t i;

	for (i = 0; i < n; i++)
		h[i] = f32_to_f16(x[i]);
}

static void quant_ref_bf16(const float *x, void *dst, int64_t n)
{
	uint16_t *h = dst;
	int64_t i;

	for (i = 0; i < n; i++)
		h[i] = f32_to_bf16(x[i]);
}

static void quant_ref_q4_0(const float *x, void *dst, int64_t n)
{
	struct block_q4_0 *y = dst;
	int64_t i, nb = n / QK4_0;
	int j;

	for (i = 0; i < nb; i++, x += QK4_0) {
		float amax = 0, max = 0, d, id;

		/* the signed value of largest magnitude, first one on ties */
		for (j = 0; j < QK4_0; j++) {
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		}
		d = max / -8;
		id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_f16(d);
		for (j = 0; j < QK4_0 / 2; j++) {
			int q0 = imin(15, (int8_t)(x[j] * id + 8.5f));
			int q1 = imin(15, (int8_t)(x[j + QK4_0 / 2] * id + 8.5f));

			y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

static void quant_ref_q4_1(const float *x, void *dst, int64_t n)
{
	struct block_q4_1 *y = dst;
	int64_t i, nb = n / QK4_1;
	int j;

	for (i = 0; i < nb; i++, x += QK4_1) {
		float min = FLT_MAX, max = -FLT_MAX, d, id;

		for (j = 0; j < QK4_1; j++) {
			if (x[j] < min)
				min = x[j];
			if (x[j] > max)
				max = x[j];
		}
		d = (max - min) / 15;
		id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_f16(d);
		y[i].m = f32_to_f16(min);
		for (j = 0; j < QK4_1 / 2; j++) {
			int q0 = imin(15, (int8_t)((x[j] - min) * id + 0.5f));
			int q1 = imin(15, (int8_t)((x[j + QK4_1 / 2] - min) * id + 0.5f));

			y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

static void quant_ref_q5_0(const float *x, void *dst, int64_t n)
{
	struct block_q5_0 *y = dst;
	int64_t i, nb = n / QK5_0;
	int j;

	for (i = 0; i < nb; i++, x += QK5_0) {
		float amax = 0, max = 0, d, id;
		uint32_t qh = 0;

		for (j = 0; j < QK5_0; j++) {
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		}
		d = max / -16;
		id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_f16(d);
		for (j = 0; j < QK5_0 / 2; j++) {
			unsigned q0 = (unsigned)imin(31, (int8_t)(x[j] * id + 16.5f));
			unsigned q1 = (unsigned)imin(31, (int8_t)(x[j + QK5_0 / 2] * id + 16.5f));

			y[i].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
			qh |= ((q0 & 0x10u) >> 4) << j;
			qh |= ((q1 & 0x10u) >> 4) << (j + QK5_0 / 2);
		}
		memcpy(y[i].qh, &qh, sizeof qh);
	}
}

static void quant_ref_q5_1(const float *x, void *dst, int64_t n)
{
	struct block_q5_1 *y = dst;
	int64_t i, nb = n / QK5_1;
	int j;

	for (i = 0; i < nb; i++, x += QK5_1) {
		float min = FLT_MAX, max = -FLT_MAX, d, id;
		uint32_t qh = 0;

		for (j = 0; j < QK5_1; j++) {
			if (x[j] < min)
				min = x[j];
			if (x[j] > max)
				max = x[j];
		}
		d = (max - min) / 31;
		id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_f16(d);
		y[i].m = f32_to_f16(min);
		for (j = 0; j < QK5_1 / 2; j++) {
			unsigned q0 = (uint8_t)((x[j] - min) * id + 0.5f);
			unsigned q1 = (uint8_t)((x[j + QK5_1 / 2] - min) * id + 0.5f);

			y[i].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
			qh |= ((q0 & 0x10u) >> 4) << j;
			qh |= ((q1 & 0x10u) >> 4) << (j + QK5_1 / 2);
		}
		memcpy(y[i].qh, &qh, sizeof qh);
	}
}

static void quant_ref_q8_0(const float *x, void *dst, int64_t n)
{
	struct block_q8_0 *y = dst;
	int64_t i, nb = n / QK8_0;
	int j;

	for (i = 0; i < nb; i++, x += QK8_0) {
		float amax = 0, d, id;

		for (j = 0; j < QK8_0; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		d = amax / 127;
		id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_f16(d);
		for (j = 0; j < QK8_0; j++)
			y[i].qs[j] = (int8_t)roundf(x[j] * id);
	}
}

static void quant_ref_q8_1(const float *x, void *dst, int64_t n)
{
	struct block_q8_1 *y = dst;
	int64_t i, nb = n / QK8_1;
	int j, sum;

	for (i = 0; i < nb; i++, x += QK8_1) {
		float amax = 0, d, id;

		for (j = 0; j < QK8_1; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		d = amax / 127;
		id = d ? 1.0f / d : 0.0f;
		y[i].d = f32_to_f16(d);
		sum = 0;
		for (j = 0; j < QK8_1; j++) {
			y[i].qs[j] = (int8_t)roundf(x[j] * id);
			sum += y[i].qs[j];
		}
		y[i].s = f32_to_f16((float)sum * d);
	}
}

static void quant_ref_q8_K(const float *x, void *dst, int64_t n)
{
	struct block_q8_K *y = dst;
	int64_t i, nb = n / QK_K;
	int j, l, sum;

	for (i = 0; i < nb; i++, x += QK_K) {
		float amax = 0, max = 0, iscale;

		for (j = 0; j < QK_K; j++) {
			if (fabsf(x[j]) > amax) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		}
		if (!amax) {
			/* ggml leaves bsums as they were; zero is what a
			 * zeroed buffer gives and what the block means */
			memset(&y[i], 0, sizeof y[i]);
			continue;
		}
		/* -127, not -128: ggml's choice, so the SIMD dot products
		 * never meet -128 */
		iscale = -127.f / max;
		for (j = 0; j < QK_K; j++)
			y[i].qs[j] = (int8_t)imin(127, nearest_int(iscale * x[j]));
		for (j = 0; j < QK_K / 16; j++) {
			sum = 0;
			for (l = 0; l < 16; l++)
				sum += y[i].qs[16 * j + l];
			y[i].bsums[j] = (int16_t)sum;
		}
		y[i].d = 1 / iscale;
	}
}

/* ggml's make_qx_quants for rmse_type 1 without weights (all Q6_K uses):
 * signed levels -nmax..nmax-1 for a group, trying 18 scales around
 * nmax / max and keeping the one with the best x^2-weighted fit. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
	float max = 0, amax = 0, iscale, sumlx, suml2, scale, best, w;
	int i, is, l;

	for (i = 0; i < n; i++) {
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			max = x[i];
		}
	}
	if (amax < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0.f;
	}
	iscale = -nmax / max;
	sumlx = suml2 = 0;
	for (i = 0; i < n; i++) {
		l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
		L[i] = (int8_t)(l + nmax);
		w = x[i] * x[i];
		sumlx += w * x[i] * (float)l;
		suml2 += w * (float)l * (float)l;
	}
	scale = suml2 ? sumlx / suml2 : 0.0f;
	best = scale * sumlx;
	for (is = -9; is <= 9; is++) {
		if (is == 0)
			continue;
		iscale = -((float)nmax + 0.1f * (float)is) / max;
		sumlx = suml2 = 0;
		for (i = 0; i < n; i++) {
			l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
			w = x[i] * x[i];
			sumlx += w * x[i] * (float)l;
			suml2 += w * (float)l * (float)l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (i = 0; i < n; i++)
				L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i]))));
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* ggml's make_q3_quants with do_rmse: start from nmax / max, then move
 * single levels while that improves the x^2-weighted fit (5 rounds). */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L)
{
	float max = 0, amax = 0, iscale, sumlx = 0, suml2 = 0, w, slx, sl2;
	int i, l, itry, n_changed, new_l;

	for (i = 0; i < n; i++) {
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			max = x[i];
		}
	}
	if (amax < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0.f;
	}
	iscale = -nmax / max;
	for (i = 0; i < n; i++) {
		l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
		L[i] = (int8_t)l;
		w = x[i] * x[i];
		sumlx += w * x[i] * (float)l;
		suml2 += w * (float)l * (float)l;
	}
	for (itry = 0; itry < 5; itry++) {
		n_changed = 0;
		for (i = 0; i < n; i++) {
			w = x[i] * x[i];
			slx = sumlx - w * x[i] * (float)L[i];
			if (slx > 0) {
				sl2 = suml2 - w * (float)L[i] * (float)L[i];
				new_l = imax(-nmax, imin(nmax - 1, nearest_int(x[i] * sl2 / slx)));
				if (new_l != L[i]) {
					slx += w * x[i] * (float)new_l;
					sl2 += w * (float)new_l * (float)new_l;
					if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
						L[i] = (int8_t)new_l;
						sumlx = slx;
						suml2 = sl2;
						n_changed++;
					}
				}
			}
		}
		if (!n_changed)
			break;
	}
	for (i = 0; i < n; i++)
		L[i] = (int8_t)(L[i] + nmax);
	return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ggml's make_qkx2_quants: levels 0..nmax with a scale and a min (stored
 * negated in *the_min), searching nstep + 1 scales around nmax / range for
 * the lowest weighted squared (or absolute, use_mad) error, each with its
 * least-squares scale and min. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
			      float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep, int use_mad)
{
	float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
	float iscale, scale, best_error = 0, diff, w;
	float sum_l, sum_l2, sum_xl, D, this_scale, this_min, cur_error;
	int i, is, l;

	for (i = 1; i < n; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		w = weights[i];
		sum_w += w;
		sum_x += w * x[i];
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
	for (i = 0; i < n; i++) {
		l = nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)imax(0, imin(nmax, l));
		diff = scale * (float)L[i] + min - x[i];
		diff = use_mad ? fabsf(diff) : diff * diff;
		best_error += weights[i] * diff;
	}
	if (nstep < 1) {
		*the_min = -min;
		return scale;
	}
	for (is = 0; is <= nstep; is++) {
		iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
		sum_l = sum_l2 = sum_xl = 0;
		for (i = 0; i < n; i++) {
			l = imax(0, imin(nmax, nearest_int(iscale * (x[i] - min))));
			Laux[i] = (uint8_t)l;
			w = weights[i];
			sum_l += w * (float)l;
			sum_l2 += w * (float)l * (float)l;
			sum_xl += w * (float)l * x[i];
		}
		D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0) {
			this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			cur_error = 0;
			for (i = 0; i < n; i++) {
				diff = this_scale * (float)Laux[i] + this_min - x[i];
				diff = use_mad ? fabsf(diff) : diff * diff;
				cur_error += weights[i] * diff;
			}
			if (cur_error < best_error) {
				memcpy(L, Laux, (size_t)n);
				best_error = cur_error;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*the_min = -min;
	return scale;
}

static void quant_ref_q2_K(const float *x, void *dst, int64_t n)
{
	struct block_q2_K *y = dst;
	int64_t i, nb = n / QK_K;
	uint8_t L[QK_K], Laux[16];
	float weights[16], mins[QK_K / 16], scales[QK_K / 16];
	int j, l, ii;

	for (i = 0; i < nb; i++, x += QK_K) {
		float max_scale = 0, max_min = 0;

		for (j = 0; j < QK_K / 16; j++) {
			for (l = 0; l < 16; l++)
				weights[l] = fabsf(x[16 * j + l]);
			scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
						     -0.5f, 0.1f, 15, 1);
			if (scales[j] > max_scale)
				max_scale = scales[j];
			if (mins[j] > max_min)
				max_min = mins[j];
		}
		quant_pack_scales_q2_K(&y[i], scales, mins, max_scale, max_min);
		for (j = 0; j < QK_K / 16; j++) {
			float d = f16_to_f32(y[i].d) * (float)(y[i].scales[j] & 0xF), dm;

			if (!d)
				continue;
			dm = f16_to_f32(y[i].dmin) * (float)(y[i].scales[j] >> 4);
			for (ii = 0; ii < 16; ii++)
				L[16 * j + ii] = (uint8_t)imax(0, imin(3, nearest_int((x[16 * j + ii] + dm) / d)));
		}
		for (j = 0; j < QK_K; j += 128)
			for (l = 0; l < 32; l++)
				y[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
							       (L[j + l + 96] << 6));
	}
}

static void quant_ref_q3_K(const float *x, void *dst, int64_t n)
{
	struct block_q3_K *y = dst;
	int64_t i, nb = n / QK_K;
	int8_t L[QK_K];
	float scales[QK_K / 16];
	int j, l, ii, m;

	for (i = 0; i < nb; i++, x += QK_K) {
		float max_scale = 0, amax = 0, iscale;
		uint8_t hm;

		for (j = 0; j < QK_K / 16; j++) {
			scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
			if (fabsf(scales[j]) > amax) {
				amax = fabsf(scales[j]);
				max_scale = scales[j];
			}
		}
		memset(y[i].scales, 0, sizeof y[i].scales);
		if (max_scale) {
			iscale = -32.f / max_scale;
			for (j = 0; j < QK_K / 16; j++) {
				int8_t l8 = (int8_t)nearest_int(iscale * scales[j]);

				l = imax(-32, imin(31, l8)) + 32;
				if (j < 8)
					y[i].scales[j] = (uint8_t)(l & 0xF);
				else
					y[i].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
				y[i].scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
			}
			y[i].d = f32_to_f16(1 / iscale);
		} else {
			y[i].d = f32_to_f16(0.f);
		}
		for (j = 0; j < QK_K / 16; j++) {
			float d = f16_to_f32(y[i].d) * (float)quant_scale_q3_K(j, y[i].scales);

			if (!d)
				continue;
			for (ii = 0; ii < 16; ii++)
				L[16 * j + ii] = (int8_t)(imax(-4, imin(3, nearest_int(x[16 * j + ii] / d))) + 4);
		}
		/* high bit of element j: bit j / 32 of hmask[j % 32] */
		memset(y[i].hmask, 0, sizeof y[i].hmask);
		m = 0;
		hm = 1;
		for (j = 0; j < QK_K; j++) {
			if (L[j] > 3) {
				y[i].hmask[m] |= hm;
				L[j] = (int8_t)(L[j] - 4);
			}
			if (++m == QK_K / 8) {
				m = 0;
				hm = (uint8_t)(hm << 1);
			}
		}
		for (j = 0; j < QK_K; j += 128)
			for (l = 0; l < 32; l++)
				y[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
							       (L[j + l + 96] << 6));
	}
}

/* The scale/min search and packing Q4_K and Q5_K share: 8 groups of 32
 * with weights av_x + |x|, six-bit scales and mins under two fp16 super
 * scales, then levels 0..nmax recomputed against the rounded scales. */
static void quant_k4_scales(const float *x, int nmax, float rmin, int nstep, uint8_t *L, uint16_t *dp,
			    uint16_t *dminp, uint8_t *packed)
{
	float mins[QK_K / 32], scales[QK_K / 32], weights[32];
	float max_scale = 0, max_min = 0, sum_x2, av_x, d, dm;
	uint8_t Laux[32], sc, m;
	int j, l;

	for (j = 0; j < QK_K / 32; j++) {
		sum_x2 = 0;
		for (l = 0; l < 32; l++)
			sum_x2 += x[32 * j + l] * x[32 * j + l];
		av_x = sqrtf(sum_x2 / 32);
		for (l = 0; l < 32; l++)
			weights[l] = av_x + fabsf(x[32 * j + l]);
		scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f,
					     nstep, 0);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	quant_pack_scale_min_k4(packed, scales, mins, max_scale, max_min);
	*dp = f32_to_f16(max_scale / 63.f);
	*dminp = f32_to_f16(max_min / 63.f);
	for (j = 0; j < QK_K / 32; j++) {
		quant_scale_min_k4(j, packed, &sc, &m);
		d = f16_to_f32(*dp) * (float)sc;
		if (!d)
			continue;
		dm = f16_to_f32(*dminp) * (float)m;
		for (l = 0; l < 32; l++)
			L[32 * j + l] = (uint8_t)imax(0, imin(nmax, nearest_int((x[32 * j + l] + dm) / d)));
	}
}

static void quant_ref_q4_K(const float *x, void *dst, int64_t n)
{
	struct block_q4_K *y = dst;
	int64_t i, nb = n / QK_K;
	uint8_t L[QK_K];
	int j, l;

	for (i = 0; i < nb; i++, x += QK_K) {
		uint8_t *q = y[i].qs;

		memset(y[i].scales, 0, sizeof y[i].scales);
		quant_k4_scales(x, 15, -1.f, 20, L, &y[i].d, &y[i].dmin, y[i].scales);
		for (j = 0; j < QK_K; j += 64, q += 32)
			for (l = 0; l < 32; l++)
				q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
	}
}

static void quant_ref_q5_K(const float *x, void *dst, int64_t n)
{
	struct block_q5_K *y = dst;
	int64_t i, nb = n / QK_K;
	uint8_t L[QK_K];
	int c, j;

	for (i = 0; i < nb; i++, x += QK_K) {
		uint8_t *ql = y[i].qs, *qh = y[i].qh, m1 = 1, m2 = 2;

		memset(y[i].scales, 0, sizeof y[i].scales);
		quant_k4_scales(x, 31, -0.5f, 15, L, &y[i].d, &y[i].dmin, y[i].scales);
		memset(qh, 0, QK_K / 8);
		for (c = 0; c < QK_K; c += 64) {
			for (j = 0; j < 32; j++) {
				int l1 = L[c + j], l2 = L[c + j + 32];

				if (l1 > 15) {
					l1 -= 16;
					qh[j] |= m1;
				}
				if (l2 > 15) {
					l2 -= 16;
					qh[j] |= m2;
				}
				ql[j] = (uint8_t)(l1 | (l2 << 4));
			}
			m1 = (uint8_t)(m1 << 2);
			m2 = (uint8_t)(m2 << 2);
			ql += 32;
		}
	}
}

static void quant_ref_q6_K(const float *x, void *dst, int64_t n)
{
	struct block_q6_K *y = dst;
	int64_t i, nb = n / QK_K;
	int8_t L[QK_K];
	float scales[QK_K / 16];
	int ib, j, ii, l;

	for (i = 0; i < nb; i++, x += QK_K) {
		float max_scale = 0, max_abs_scale = 0, iscale;
		uint8_t *ql = y[i].ql, *qh = y[i].qh;

		for (ib = 0; ib < QK_K / 16; ib++) {
			scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
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
		y[i].d = f32_to_f16(1 / iscale);
		for (ib = 0; ib < QK_K / 16; ib++)
			y[i].scales[ib] = (int8_t)imin(127, nearest_int(iscale * scales[ib]));
		for (j = 0; j < QK_K / 16; j++) {
			float d = f16_to_f32(y[i].d) * (float)y[i].scales[j];

			if (!d)
				continue;
			for (ii = 0; ii < 16; ii++)
				L[16 * j + ii] = (int8_t)(imax(-32, imin(31, nearest_int(x[16 * j + ii] / d))) + 32);
		}
		for (j = 0; j < QK_K; j += 128) {
			for (l = 0; l < 32; l++) {
				int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
				int q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;

				ql[l] = (uint8_t)(q1 | (q3 << 4));
				ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
				qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
						  ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
			}
			ql += 64;
			qh += 32;
		}
	}
}

static void from_float_f32(const float *x, void *dst, int64_t n)
{
	memcpy(dst, x, (size_t)n * sizeof(float));
}

/* ---- dot products, scalar ---- */

/* Float rows sum in double: the scalar level is the yardstick. */
static float vec_dot_f32(int64_t n, const void *w, const void *x)
{
	const float *a = w, *b = x;
	double s = 0;
	int64_t i;

	for (i = 0; i < n; i++)
		s += (double)a[i] * (double)b[i];
	return (float)s;
}

static float vec_dot_f16(int64_t n, const void *w, const void *x)
{
	const uint16_t *a = w, *b = x;
	double s = 0;
	int64_t i;

	for (i = 0; i < n; i++)
		s += (double)f16_to_f32(a[i]) * (double)f16_to_f32(b[i]);
	return (float)s;
}

static float vec_dot_bf16(int64_t n, const void *w, const void *x)
{
	const uint16_t *a = w, *b = x;
	double s = 0;
	int64_t i;

	for (i = 0; i < n; i++)
		s += (double)bf16_to_f32(a[i]) * (double)bf16_to_f32(b[i]);
	return (float)s;
}

/* The block kernels sum each block exactly in integers and accumulate the
 * scaled block sums in float, as ggml's generic kernels do. */
static float vec_dot_q4_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q4_0 *a = w;
	const struct block_q8_0 *b = xv;
	int64_t i, nb = n / QK4_0;
	float s = 0;
	int j, sumi;

	for (i = 0; i < nb; i++) {
		sumi = 0;
		for (j = 0; j < QK4_0 / 2; j++)
			sumi += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
		s += (float)sumi * (f16_to_f32(a[i].d) * f16_to_f32(b[i].d));
	}
	return s;
}

static float vec_dot_q4_1(int64_t n, const void *w, const void *xv)
{
	const struct block_q4_1 *a = w;
	const struct block_q8_1 *b = xv;
	int64_t i, nb = n / QK4_1;
	float s = 0;
	int j, sumi;

	for (i = 0; i < nb; i++) {
		sumi = 0;
		for (j = 0; j < QK4_1 / 2; j++)
			sumi += (a[i].qs[j] & 0xF) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
		s += (float)sumi * (f16_to_f32(a[i].d) * f16_to_f32(b[i].d)) +
		     f16_to_f32(a[i].m) * f16_to_f32(b[i].s);
	}
	return s;
}

static float vec_dot_q5_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q5_0 *a = w;
	const struct block_q8_0 *b = xv;
	int64_t i, nb = n / QK5_0;
	float s = 0;
	int j, sumi, q0, q1;

	for (i = 0; i < nb; i++) {
		uint32_t qh = load_u32(a[i].qh);

		sumi = 0;
		for (j = 0; j < QK5_0 / 2; j++) {
			q0 = ((a[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - 16;
			q1 = ((a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
			sumi += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
		}
		s += (float)sumi * (f16_to_f32(a[i].d) * f16_to_f32(b[i].d));
	}
	return s;
}

static float vec_dot_q5_1(int64_t n, const void *w, const void *xv)
{
	const struct block_q5_1 *a = w;
	const struct block_q8_1 *b = xv;
	int64_t i, nb = n / QK5_1;
	float s = 0;
	int j, sumi, q0, q1;

	for (i = 0; i < nb; i++) {
		uint32_t qh = load_u32(a[i].qh);

		sumi = 0;
		for (j = 0; j < QK5_1 / 2; j++) {
			q0 = (a[i].qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
			q1 = (a[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
			sumi += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
		}
		s += (float)sumi * (f16_to_f32(a[i].d) * f16_to_f32(b[i].d)) +
		     f16_to_f32(a[i].m) * f16_to_f32(b[i].s);
	}
	return s;
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *xv)
{
	const struct block_q8_0 *a = w, *b = xv;
	int64_t i, nb = n / QK8_0;
	float s = 0;
	int j, sumi;

	for (i = 0; i < nb; i++) {
		sumi = 0;
		for (j = 0; j < QK8_0; j++)
			sumi += a[i].qs[j] * b[i].qs[j];
		s += (float)sumi * (f16_to_f32(a[i].d) * f16_to_f32(b[i].d));
	}
	return s;
}

static float vec_dot_q8_1(int64_t n, const void *w, const void *xv)
{
	const struct block_q8_1 *a = w, *b = xv;
	int64_t i, nb = n / QK8_1;
	float s = 0;
	int j, sumi;

	for (i = 0; i < nb; i++) {
		sumi = 0;
		for (j = 0; j < QK8_1; j++)
			sumi += a[i].qs[j] * b[i].qs[j];
		s += (float)sumi * (f16_to_f32(a[i].d) * f16_to_f32(b[i].d));
	}
	return s;
}

static float vec_dot_q8_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q8_K *a = w, *b = xv;
	int64_t i, nb = n / QK_K;
	float s = 0;
	int j, sumi;

	for (i = 0; i < nb; i++) {
		sumi = 0;
		for (j = 0; j < QK_K; j++)
			sumi += a[i].qs[j] * b[i].qs[j];
		s += (float)sumi * (a[i].d * b[i].d);
	}
	return s;
}

/* Sum over the 16 groups of 16 of scale[g] * dot(q, y) for one K block
 * whose levels are unpacked in q[256]. */
static int dot_groups16(const int8_t *q, const int8_t *y, const int *scale)
{
	int g, l, sum, total = 0;

	for (g = 0; g < 16; g++) {
		sum = 0;
		for (l = 0; l < 16; l++)
			sum += q[16 * g + l] * y[16 * g + l];
		total += scale[g] * sum;
	}
	return total;
}

static float vec_dot_q2_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q2_K *a = w;
	const struct block_q8_K *b = xv;
	int64_t i, nb = n / QK_K;
	int8_t q[QK_K];
	int sc[16], e, g, summs;
	float s = 0;

	for (i = 0; i < nb; i++) {
		/* element e: bits 2 * ((e % 128) / 32) of qs[32 * (e / 128) + e % 32] */
		for (e = 0; e < QK_K; e++)
			q[e] = (int8_t)((a[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3);
		summs = 0;
		for (g = 0; g < 16; g++) {
			sc[g] = a[i].scales[g] & 0xF;
			summs += (a[i].scales[g] >> 4) * b[i].bsums[g];
		}
		s += b[i].d * f16_to_f32(a[i].d) * (float)dot_groups16(q, b[i].qs, sc) -
		     b[i].d * f16_to_f32(a[i].dmin) * (float)summs;
	}
	return s;
}

static float vec_dot_q3_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q3_K *a = w;
	const struct block_q8_K *b = xv;
	int64_t i, nb = n / QK_K;
	int8_t q[QK_K];
	int sc[16], e, g;
	float s = 0;

	for (i = 0; i < nb; i++) {
		for (e = 0; e < QK_K; e++) {
			int lo = (a[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
			int hi = (a[i].hmask[e % 32] >> (e / 32)) & 1;

			q[e] = (int8_t)(lo - (hi ? 0 : 4));
		}
		for (g = 0; g < 16; g++)
			sc[g] = quant_scale_q3_K(g, a[i].scales);
		s += b[i].d * f16_to_f32(a[i].d) * (float)dot_groups16(q, b[i].qs, sc);
	}
	return s;
}

/* Q4_K and Q5_K: 8 groups of 32 with six-bit scales and mins. */
static float dot_k4_block(const int8_t *q, const struct block_q8_K *b, const uint8_t *packed, uint16_t d,
			  uint16_t dmin)
{
	int sc16[16], g, summs = 0;
	uint8_t sc, m;

	for (g = 0; g < 8; g++) {
		quant_scale_min_k4(g, packed, &sc, &m);
		sc16[2 * g] = sc16[2 * g + 1] = sc;
		summs += m * (b->bsums[2 * g] + b->bsums[2 * g + 1]);
	}
	return b->d * f16_to_f32(d) * (float)dot_groups16(q, b->qs, sc16) - b->d * f16_to_f32(dmin) * (float)summs;
}

static float vec_dot_q4_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q4_K *a = w;
	const struct block_q8_K *b = xv;
	int64_t i, nb = n / QK_K;
	int8_t q[QK_K];
	int e;
	float s = 0;

	for (i = 0; i < nb; i++) {
		/* element e: nibble (e % 64) / 32 of qs[32 * (e / 64) + e % 32] */
		for (e = 0; e < QK_K; e++)
			q[e] = (int8_t)((a[i].qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 0xF);
		s += dot_k4_block(q, &b[i], a[i].scales, a[i].d, a[i].dmin);
	}
	return s;
}

static float vec_dot_q5_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q5_K *a = w;
	const struct block_q8_K *b = xv;
	int64_t i, nb = n / QK_K;
	int8_t q[QK_K];
	int e;
	float s = 0;

	for (i = 0; i < nb; i++) {
		/* as Q4_K, plus bit e / 32 of qh[e % 32] worth 16 */
		for (e = 0; e < QK_K; e++)
			q[e] = (int8_t)(((a[i].qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 0xF) |
					(((a[i].qh[e % 32] >> (e / 32)) & 1) << 4));
		s += dot_k4_block(q, &b[i], a[i].scales, a[i].d, a[i].dmin);
	}
	return s;
}

static float vec_dot_q6_K(int64_t n, const void *w, const void *xv)
{
	const struct block_q6_K *a = w;
	const struct block_q8_K *b = xv;
	int64_t i, nb = n / QK_K;
	int8_t q[QK_K];
	int sc[16], e, g;
	float s = 0;

	for (i = 0; i < nb; i++) {
		/* element e = 128 c + 32 g + l: low nibble of ql[64 c + l + 32 (g & 1)]
		 * (high nibble when g >= 2), bits 2 g of qh[32 c + l] */
		for (e = 0; e < QK_K; e++) {
			int c = e / 128, gg = (e % 128) / 32, l = e % 32;
			int lo = (a[i].ql[64 * c + l + 32 * (gg & 1)] >> (4 * (gg >> 1))) & 0xF;
			int hi = (a[i].qh[32 * c + l] >> (2 * gg)) & 3;

			q[e] = (int8_t)((lo | (hi << 4)) - 32);
		}
		for (g = 0; g < 16; g++)
			sc[g] = a[i].scales[g];
		s += b[i].d * f16_to_f32(a[i].d) * (float)dot_groups16(q, b[i].qs, sc);
	}
	return s;
}

const struct quant_kernels quant_kernels_scalar = {
	.level = CPU_SCALAR,
	.vec_dot = {
		[DTYPE_F32] = vec_dot_f32, [DTYPE_F16] = vec_dot_f16, [DTYPE_BF16] = vec_dot_bf16,
		[DTYPE_Q4_0] = vec_dot_q4_0, [DTYPE_Q4_1] = vec_dot_q4_1, [DTYPE_Q5_0] = vec_dot_q5_0,
		[DTYPE_Q5_1] = vec_dot_q5_1, [DTYPE_Q8_0] = vec_dot_q8_0, [DTYPE_Q8_1] = vec_dot_q8_1,
		[DTYPE_Q2_K] = vec_dot_q2_K, [DTYPE_Q3_K] = vec_dot_q3_K, [DTYPE_Q4_K] = vec_dot_q4_K,
		[DTYPE_Q5_K] = vec_dot_q5_K, [DTYPE_Q6_K] = vec_dot_q6_K, [DTYPE_Q8_K] = vec_dot_q8_K,
	},
	.dequantize_row = {
		[DTYPE_F32] = dequant_f32, [DTYPE_F16] = dequant_f16, [DTYPE_BF16] = dequant_bf16,
		[DTYPE_Q4_0] = dequant_q4_0, [DTYPE_Q4_1] = dequant_q4_1, [DTYPE_Q5_0] = dequant_q5_0,
		[DTYPE_Q5_1] = dequant_q5_1, [DTYPE_Q8_0] = dequant_q8_0, [DTYPE_Q8_1] = dequant_q8_1,
		[DTYPE_Q2_K] = dequant_q2_K, [DTYPE_Q3_K] = dequant_q3_K, [DTYPE_Q4_K] = dequant_q4_K,
		[DTYPE_Q5_K] = dequant_q5_K, [DTYPE_Q6_K] = dequant_q6_K, [DTYPE_Q8_K] = dequant_q8_K,
	},
	.from_float = {
		[DTYPE_F32] = from_float_f32, [DTYPE_F16] = quant_ref_f16, [DTYPE_BF16] = quant_ref_bf16,
		[DTYPE_Q8_0] = quant_ref_q8_0, [DTYPE_Q8_1] = quant_ref_q8_1, [DTYPE_Q8_K] = quant_ref_q8_K,
	},
	.quantize_row = {
		[DTYPE_F32] = from_float_f32, [DTYPE_F16] = quant_ref_f16, [DTYPE_BF16] = quant_ref_bf16,
		[DTYPE_Q4_0] = quant_ref_q4_0, [DTYPE_Q4_1] = quant_ref_q4_1, [DTYPE_Q5_0] = quant_ref_q5_0,
		[DTYPE_Q5_1] = quant_ref_q5_1, [DTYPE_Q8_0] = quant_ref_q8_0, [DTYPE_Q8_1] = quant_ref_q8_1,
		[DTYPE_Q2_K] = quant_ref_q2_K, [DTYPE_Q3_K] = quant_ref_q3_K, [DTYPE_Q4_K] = quant_ref_q4_K,
		[DTYPE_Q5_K] = quant_ref_q5_K, [DTYPE_Q6_K] = quant_ref_q6_K, [DTYPE_Q8_K] = quant_ref_q8_K,
	},
};

static void (*const quantize_ref[DTYPE_COUNT])(const float *, void *, int64_t) = {
	[DTYPE_F32] = from_float_f32, [DTYPE_F16] = quant_ref_f16, [DTYPE_BF16] = quant_ref_bf16,
	[DTYPE_Q4_0] = quant_ref_q4_0, [DTYPE_Q4_1] = quant_ref_q4_1, [DTYPE_Q5_0] = quant_ref_q5_0,
	[DTYPE_Q5_1] = quant_ref_q5_1, [DTYPE_Q8_0] = quant_ref_q8_0, [DTYPE_Q8_1] = quant_ref_q8_1,
	[DTYPE_Q2_K] = quant_ref_q2_K, [DTYPE_Q3_K] = quant_ref_q3_K, [DTYPE_Q4_K] = quant_ref_q4_K,
	[DTYPE_Q5_K] = quant_ref_q5_K, [DTYPE_Q6_K] = quant_ref_q6_K, [DTYPE_Q8_K] = quant_ref_q8_K,
};

/* ---- dispatch ---- */

/* Each level's table with its NULL entries filled from the level below,
 * built once; a level this build has no table for stays absent. */
static struct quant_kernels merged[CPU_LEVEL_COUNT];
static const void *tables[CPU_LEVEL_COUNT];
static struct cpu_dispatch dispatch = CPU_DISPATCH_INIT(tables);
static pthread_once_t merge_once = PTHREAD_ONCE_INIT;

static void merge_tables(void)
{
	const struct quant_kernels *own[CPU_LEVEL_COUNT] = {
		[CPU_SCALAR] = &quant_kernels_scalar,
#if defined(__x86_64__)
		[CPU_AVX2] = &quant_kernels_avx2,
		[CPU_AVX512] = &quant_kernels_avx512,
		[CPU_AVX512_VNNI] = &quant_kernels_avx512_vnni,
#endif
	};
	const struct quant_kernels *below = NULL;
	int level, t;

	for (level = 0; level < CPU_LEVEL_COUNT; level++) {
		struct quant_kernels *k = &merged[level];

		if (!own[level])
			continue;
		*k = *own[level];
		k->level = (enum cpu_level)level;
#if defined(__x86_64__)
		/* the reference quantisers have one SIMD version, AVX2 */
		if (level == CPU_AVX2)
			memcpy(k->quantize_row, quant_ref_simd_avx2, sizeof k->quantize_row);
#endif
		for (t = 0; below && t < DTYPE_COUNT; t++) {
			if (!k->vec_dot[t])
				k->vec_dot[t] = below->vec_dot[t];
			if (!k->dequantize_row[t])
				k->dequantize_row[t] = below->dequantize_row[t];
			if (!k->from_float[t])
				k->from_float[t] = below->from_float[t];
			if (!k->quantize_row[t])
				k->quantize_row[t] = below->quantize_row[t];
		}
		tables[level] = k;
		below = k;
	}
}

const struct quant_kernels *quant_kernels_at(enum cpu_level level)
{
	pthread_once(&merge_once, merge_tables);
	return cpu_table_at(tables, level);
}

const struct quant_kernels *quant_kernels(void)
{
	pthread_once(&merge_once, merge_tables);
	return cpu_dispatch(&dispatch);
}

int quant_supported(enum dtype type)
{
	return (unsigned)type < DTYPE_COUNT && quantize_ref[type] != NULL;
}

int quant_vec_dot_type(enum dtype type)
{
	switch (type) {
	case DTYPE_F32:
	case DTYPE_F16:
	case DTYPE_BF16:
	case DTYPE_Q8_1:
	case DTYPE_Q8_K:
		return type;
	case DTYPE_Q4_0:
	case DTYPE_Q5_0:
	case DTYPE_Q8_0:
		return DTYPE_Q8_0;
	case DTYPE_Q4_1:
	case DTYPE_Q5_1:
		return DTYPE_Q8_1;
	case DTYPE_Q2_K:
	case DTYPE_Q3_K:
	case DTYPE_Q4_K:
	case DTYPE_Q5_K:
	case DTYPE_Q6_K:
		return DTYPE_Q8_K;
	default:
		return -1;
	}
}

void quant_dequantize_row(enum dtype type, const void *src, float *dst, int64_t n)
{
	quant_kernels()->dequantize_row[type](src, dst, n);
}

void quant_quantize_row_ref(enum dtype type, const float *src, void *dst, int64_t n)
{
	quantize_ref[type](src, dst, n);
}

void quant_quantize_row(enum dtype type, const float *src, void *dst, int64_t n)
{
	quant_kernels()->quantize_row[type](src, dst, n);
}

void quant_from_float(enum dtype dot_type, const float *src, void *dst, int64_t n)
{
	const struct quant_kernels *k = quant_kernels();

	if (k->from_float[dot_type])
		k->from_float[dot_type](src, dst, n);
	else
		quantize_ref[dot_type](src, dst, n);
}

void quant_gemv(enum dtype type, int64_t n, const void *w, size_t row_bytes, int64_t r0, int64_t r1,
		const void *x, float *y)
{
	quant_vec_dot_fn *dot = quant_kernels()->vec_dot[type];
	const char *row = (const char *)w + (size_t)r0 * row_bytes;
	int64_t r;

	for (r = r0; r < r1; r++, row += row_bytes) {
		/* the next row streams in while this one is summed */
		__builtin_prefetch(row + row_bytes);
		__builtin_prefetch(row + row_bytes + 64);
		y[r] = dot(n, row, x);
	}
}

/* distance.h - vector distances for nearest-neighbour search, at the best
 * instruction set the CPU offers (kernels/cpu.h picks, as convert.h does).
 *
 * l2sq is the squared Euclidean distance sum (a[i] - b[i])^2; dot is the
 * inner product.  The levels sum in different orders, so they agree only to
 * rounding (about n * 2^-24 * the sum of the absolute terms).  Pointers need
 * no particular alignment; n may be 0.
 *
 * Hot loops (graph search, list scans) fetch the table once with
 * distance_kernels() and call through it, rather than paying the dispatch
 * on every pair; graph search scores a whole neighbour list per call with
 * the _rows kernels.
 */
#ifndef LMPIPE_DISTANCE_H
#define LMPIPE_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"

typedef float distance_fn(const float *a, const float *b, size_t n);
/* out[i] = fn(q, base + ids[i] * n, n) for i < count, bit for bit what the
 * level's one-pair kernel gives; the rows are prefetched ahead of use. */
typedef void distance_rows_fn(const float *q, const float *base, size_t n, const uint32_t *ids, size_t count,
	float *out);

struct distance_kernels {
	enum cpu_level level;
	distance_fn *l2sq;
	distance_fn *dot;
	/* sum over i of (a[i] - (lo[i] + code[i] * step[i]))^2 and
	 * sum of a[i] * (lo[i] + code[i] * step[i]): one vector against an
	 * 8-bit scalar-quantized one, decoded on the fly. */
	float (*l2sq_sq8)(const float *a, const uint8_t *code, const float *lo, const float *step, size_t n);
	float (*dot_sq8)(const float *a, const uint8_t *code, const float *lo, const float *step, size_t n);
	distance_rows_fn *l2sq_rows;
	distance_rows_fn *dot_rows;
};

const struct distance_kernels *distance_kernels(void);
/* The kernels of one level; NULL when this CPU lacks it or the level has
 * none of its own. */
const struct distance_kernels *distance_kernels_at(enum cpu_level level);

float distance_l2sq(const float *a, const float *b, size_t n);
float distance_dot(const float *a, const float *b, size_t n);

#endif

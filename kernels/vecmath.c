#include "vecmath.h"

#include "vecmath_impl.h"

extern const struct vecmath_kernels vecmath_avx2;
extern const struct vecmath_kernels vecmath_avx512;

static void softmax_scalar(float *x, size_t n)
{
	float max = -INFINITY, sum = 0.0f, inv;

	for (size_t i = 0; i < n; i++)
		max = x[i] > max ? x[i] : max;
	for (size_t i = 0; i < n; i++) {
		x[i] = vm_exp(x[i] - max);
		sum += x[i];
	}
	inv = 1.0f / sum;
	for (size_t i = 0; i < n; i++)
		x[i] *= inv;
}

static void gelu_scalar(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = vm_gelu(x[i]);
}

static void swiglu_scalar(float *gate, const float *up, size_t n)
{
	for (size_t i = 0; i < n; i++)
		gate[i] = vm_silu(gate[i]) * up[i];
}

static const struct vecmath_kernels vecmath_scalar = {
	CPU_SCALAR, softmax_scalar, gelu_scalar, swiglu_scalar,
};

static const void *const tables[CPU_LEVEL_COUNT] = {
	&vecmath_scalar, &vecmath_avx2, &vecmath_avx512, NULL,
};
static struct cpu_dispatch dispatch = CPU_DISPATCH_INIT(tables);

const struct vecmath_kernels *vecmath_kernels(void)
{
	return cpu_dispatch(&dispatch);
}

const struct vecmath_kernels *vecmath_kernels_at(enum cpu_level level)
{
	return cpu_table_at(tables, level);
}

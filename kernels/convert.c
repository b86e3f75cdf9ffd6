#include "convert.h"

#include "half.h"

static void f16_to_f32_scalar(const uint16_t *src, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = f16_to_f32(src[i]);
}

static void f32_to_f16_scalar(const float *src, uint16_t *dst, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = f32_to_f16(src[i]);
}

static void bf16_to_f32_scalar(const uint16_t *src, float *dst, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = bf16_to_f32(src[i]);
}

static void f32_to_bf16_scalar(const float *src, uint16_t *dst, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = f32_to_bf16(src[i]);
}

/* Four partial sums: shorter dependency chains for the compiler to
 * schedule, and a smaller rounding error than one running sum. */
static float dot_f32_scalar(const float *a, const float *b, size_t n)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

static const struct convert_kernels kernels_scalar = {
	.level = CPU_SCALAR,
	.f16_to_f32 = f16_to_f32_scalar,
	.f32_to_f16 = f32_to_f16_scalar,
	.bf16_to_f32 = bf16_to_f32_scalar,
	.f32_to_bf16 = f32_to_bf16_scalar,
	.dot_f32 = dot_f32_scalar,
};

#if defined(__x86_64__)
/* convert_avx2.c, convert_avx512.c: compiled with their ISA flags, called
 * only after cpu_features() has vouched for the instructions. */
extern const struct convert_kernels convert_kernels_avx2;
extern const struct convert_kernels convert_kernels_avx512;
#endif

static const void *const tables[CPU_LEVEL_COUNT] = {
	[CPU_SCALAR] = &kernels_scalar,
#if defined(__x86_64__)
	[CPU_AVX2] = &convert_kernels_avx2,
	[CPU_AVX512] = &convert_kernels_avx512,
#endif
};

static struct cpu_dispatch dispatch = CPU_DISPATCH_INIT(tables);

const struct convert_kernels *convert_kernels_at(enum cpu_level level)
{
	return cpu_table_at(tables, level);
}

const struct convert_kernels *convert_kernels(void)
{
	return cpu_dispatch(&dispatch);
}

void convert_f16_to_f32(const uint16_t *src, float *dst, size_t n)
{
	convert_kernels()->f16_to_f32(src, dst, n);
}

void convert_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
	convert_kernels()->f32_to_f16(src, dst, n);
}

void convert_bf16_to_f32(const uint16_t *src, float *dst, size_t n)
{
	convert_kernels()->bf16_to_f32(src, dst, n);
}

void convert_f32_to_bf16(const float *src, uint16_t *dst, size_t n)
{
	convert_kernels()->f32_to_bf16(src, dst, n);
}

float dot_f32(const float *a, const float *b, size_t n)
{
	return convert_kernels()->dot_f32(a, b, n);
}

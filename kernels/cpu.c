#include "cpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static const char *const level_names[CPU_LEVEL_COUNT] = {
	[CPU_SCALAR] = "scalar",
	[CPU_AVX2] = "avx2",
	[CPU_AVX512] = "avx512",
	[CPU_AVX512_VNNI] = "avx512_vnni",
};

/* The features a level requires; flags above the chosen level are masked. */
static const unsigned level_flags[CPU_LEVEL_COUNT] = {
	[CPU_SCALAR] = 0,
	[CPU_AVX2] = CPU_HAS_AVX2 | CPU_HAS_FMA | CPU_HAS_F16C,
	[CPU_AVX512] = CPU_HAS_AVX2 | CPU_HAS_FMA | CPU_HAS_F16C | CPU_HAS_AVX512F |
		       CPU_HAS_AVX512BW | CPU_HAS_AVX512VL | CPU_HAS_AVX512DQ,
	[CPU_AVX512_VNNI] = CPU_HAS_AVX2 | CPU_HAS_FMA | CPU_HAS_F16C | CPU_HAS_AVX512F |
			    CPU_HAS_AVX512BW | CPU_HAS_AVX512VL | CPU_HAS_AVX512DQ |
			    CPU_HAS_AVX512VNNI,
};

static struct cpu_features detected;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

const char *cpu_level_name(enum cpu_level level)
{
	return (unsigned)level < CPU_LEVEL_COUNT ? level_names[level] : "?";
}

#if defined(__x86_64__) || defined(__i386__)
/* XCR0 (Intel SDM vol. 1, 13.3): which register state the OS saves.
 * Encoded directly so that this file needs no -mxsave. */
static uint64_t read_xcr0(void)
{
	uint32_t eax, edx;

	__asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
	return ((uint64_t)edx << 32) | eax;
}

/* Intel SDM vol. 2A, CPUID: leaf 1 ECX bits 12 FMA, 27 OSXSAVE, 28 AVX,
 * 29 F16C; leaf 7 subleaf 0 EBX bits 5 AVX2, 16 AVX512F, 17 AVX512DQ,
 * 30 AVX512BW, 31 AVX512VL; ECX bit 11 AVX512_VNNI. */
static unsigned detect_flags(void)
{
	unsigned eax, ebx, ecx, edx, max, flags = 0;
	uint64_t xcr0;

	if (!__get_cpuid(0, &max, &ebx, &ecx, &edx) || max < 1)
		return 0;
	__cpuid(1, eax, ebx, ecx, edx);
	if (!(ecx & (1u << 27)) || !(ecx & (1u << 28)))
		return 0;
	xcr0 = read_xcr0();
	/* XCR0 bits 1 (SSE) and 2 (AVX upper halves) */
	if ((xcr0 & 0x6) != 0x6)
		return 0;
	if (ecx & (1u << 12))
		flags |= CPU_HAS_FMA;
	if (ecx & (1u << 29))
		flags |= CPU_HAS_F16C;
	if (max < 7)
		return flags;
	__cpuid_count(7, 0, eax, ebx, ecx, edx);
	if (ebx & (1u << 5))
		flags |= CPU_HAS_AVX2;
	/* XCR0 bits 5, 6, 7: opmask, upper ZMM0-15, ZMM16-31 */
	if ((xcr0 & 0xe0) != 0xe0)
		return flags;
	if (ebx & (1u << 16))
		flags |= CPU_HAS_AVX512F;
	if (ebx & (1u << 17))
		flags |= CPU_HAS_AVX512DQ;
	if (ebx & (1u << 30))
		flags |= CPU_HAS_AVX512BW;
	if (ebx & (1u << 31))
		flags |= CPU_HAS_AVX512VL;
	if (ecx & (1u << 11))
		flags |= CPU_HAS_AVX512VNNI;
	return flags;
}
#else
static unsigned detect_flags(void)
{
	return 0;
}
#endif

static void detect(void)
{
	unsigned flags = detect_flags();
	const char *env = getenv("LMPIPE_CPU");
	int level;

	detected.hw_level = CPU_SCALAR;
	for (level = CPU_LEVEL_COUNT - 1; level > CPU_SCALAR; level--)
		if ((flags & level_flags[level]) == level_flags[level])
			break;
	detected.hw_level = (enum cpu_level)level;
	detected.level = detected.hw_level;
	if (env && *env) {
		for (level = 0; level < CPU_LEVEL_COUNT; level++)
			if (!strcmp(env, level_names[level]))
				break;
		if (level == CPU_LEVEL_COUNT)
			detected.env_invalid = 1;
		else if ((enum cpu_level)level < detected.hw_level)
			detected.level = (enum cpu_level)level;
	}
	detected.flags = flags & level_flags[detected.level];
}

const struct cpu_features *cpu_features(void)
{
	pthread_once(&detect_once, detect);
	return &detected;
}

const void *cpu_table_at(const void *const *tables, enum cpu_level level)
{
	if ((unsigned)level >= CPU_LEVEL_COUNT || level > cpu_features()->hw_level)
		return NULL;
	return tables[level];
}

const void *cpu_dispatch(struct cpu_dispatch *d)
{
	const void *t = atomic_load_explicit(&d->chosen, memory_order_acquire);
	int level;

	if (t)
		return t;
	for (level = cpu_features()->level; level >= CPU_SCALAR && !t; level--)
		t = cpu_table_at(d->tables, (enum cpu_level)level);
	atomic_store_explicit(&d->chosen, t, memory_order_release);
	return t;
}

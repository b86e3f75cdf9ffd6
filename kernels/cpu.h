/* cpu.h - which x86-64 instruction sets this process may use.
 *
 * Detected once with cpuid, and xgetbv for the register state the operating
 * system saves (an AVX-512 CPU under an OS that does not save ZMM state
 * cannot use AVX-512).  Levels are cumulative: each includes the one below.
 *
 * LMPIPE_CPU=scalar|avx2|avx512|avx512_vnni in the environment lowers the
 * level for tests and benchmarks; it never raises it above what the CPU
 * and OS support (it clamps down), and the feature bits reported are
 * masked to the chosen level.  An unrecognised value is ignored and
 * flagged in env_invalid, for a program that wants to warn.
 *
 * Only kernels/ looks at this: the rest of the tree calls kernel interfaces
 * such as convert.h, which pick their implementation from it.
 */
#ifndef LMPIPE_CPU_H
#define LMPIPE_CPU_H

enum cpu_level {
	CPU_SCALAR = 0,
	CPU_AVX2 = 1,          /* AVX2 + FMA + F16C */
	CPU_AVX512 = 2,        /* + AVX-512 F, BW, VL, DQ */
	CPU_AVX512_VNNI = 3,   /* + AVX512-VNNI */
	CPU_LEVEL_COUNT = 4
};

enum cpu_feature {
	CPU_HAS_AVX2 = 1 << 0,
	CPU_HAS_FMA = 1 << 1,
	CPU_HAS_F16C = 1 << 2,
	CPU_HAS_AVX512F = 1 << 3,
	CPU_HAS_AVX512BW = 1 << 4,
	CPU_HAS_AVX512VL = 1 << 5,
	CPU_HAS_AVX512DQ = 1 << 6,
	CPU_HAS_AVX512VNNI = 1 << 7
};

struct cpu_features {
	unsigned flags;              /* enum cpu_feature bits usable at `level` */
	enum cpu_level level;        /* the level kernels use */
	enum cpu_level hw_level;     /* the best the CPU and OS support */
	int env_invalid;             /* LMPIPE_CPU was set to an unknown name */
};

/* Detected on first call (thread-safe); the same pointer ever after. */
const struct cpu_features *cpu_features(void);
/* "scalar", "avx2", "avx512", "avx512_vnni"; "?" when out of range. */
const char *cpu_level_name(enum cpu_level level);

/* Kernel selection shared by the kernel interfaces (convert.h,
 * distance.h): a module lists one kernel table per level, NULL where a
 * level has none of its own, and gets back the table to use.
 *
 * cpu_table_at gives tables[level], or NULL when the CPU and OS lack the
 * level or the level has no table.  cpu_dispatch gives the table of the
 * highest level at or below cpu_features()->level that has one (scalar
 * tables always exist); it is worked out on first call and cached in the
 * dispatch, which is safe from any thread: a race computes the same
 * answer twice. */
struct cpu_dispatch {
	const void *const *tables;   /* CPU_LEVEL_COUNT entries */
	const void *_Atomic chosen;
};

#define CPU_DISPATCH_INIT(tables) { (tables), NULL }

const void *cpu_table_at(const void *const *tables, enum cpu_level level);
const void *cpu_dispatch(struct cpu_dispatch *d);

#endif

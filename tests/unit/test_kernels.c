/* test_kernels.c - CPU level detection, the LMPIPE_CPU override, and every
 * instruction-set level of convert.h against the scalar kernels: bit-exact
 * conversions, dot products within the reassociation bound, on odd lengths
 * and unaligned pointers, with guard elements that must stay untouched. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "convert.h"
#include "cpu.h"
#include "half.h"
#include "tap.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint32_t rng32(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

/* Run cpu_features() in a child with LMPIPE_CPU=value; the exit status
 * packs the chosen level, the level convert_kernels() runs and whether the
 * value was flagged invalid.  A child is needed because detection happens
 * once per process, and the probes run before this process's own first
 * call so the children start undetected. */
static int probe_env(const char *value)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		const struct cpu_features *cpu;

		setenv("LMPIPE_CPU", value, 1);
		cpu = cpu_features();
		_exit((int)cpu->level | (int)convert_kernels()->level << 2 | cpu->env_invalid << 4);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

enum { PROBE_SCALAR, PROBE_AVX2, PROBE_AVX512, PROBE_VNNI, PROBE_BOGUS, PROBE_EMPTY, N_PROBES };
static const char *const probe_values[N_PROBES] = { "scalar", "avx2", "avx512", "avx512_vnni", "avx-9000", "" };
static int probes[N_PROBES];

static void test_cpu(void)
{
	const struct cpu_features *cpu = cpu_features();
	enum cpu_level hw = cpu->hw_level, want;
	int r;

	diag("cpu: hardware level %s, in use %s%s", cpu_level_name(hw), cpu_level_name(cpu->level),
	     getenv("LMPIPE_CPU") ? " (LMPIPE_CPU set)" : "");
	ok(cpu == cpu_features(), "cpu_features is computed once");
	ok(cpu->level <= hw, "level in use never exceeds the hardware level");
	is_str(cpu_level_name(CPU_SCALAR), "scalar", "level name scalar");
	is_str(cpu_level_name(CPU_AVX2), "avx2", "level name avx2");
	is_str(cpu_level_name(CPU_AVX512), "avx512", "level name avx512");
	is_str(cpu_level_name(CPU_AVX512_VNNI), "avx512_vnni", "level name avx512_vnni");
	is_str(cpu_level_name((enum cpu_level)9), "?", "out-of-range level name");

#if defined(__x86_64__)
	/* the compiler's own detection (which also checks OS support) as an
	 * independent witness */
	__builtin_cpu_init();
	want = CPU_SCALAR;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		want = CPU_AVX2;
	if (want == CPU_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
		want = CPU_AVX512;
	if (want == CPU_AVX512 && __builtin_cpu_supports("avx512vnni"))
		want = CPU_AVX512_VNNI;
	is_int(hw, want, "hardware level agrees with __builtin_cpu_supports");
#else
	is_int(hw, CPU_SCALAR, "non-x86: scalar only");
	(void)want;
#endif
	if (cpu->level >= CPU_AVX2)
		ok((cpu->flags & (CPU_HAS_AVX2 | CPU_HAS_FMA | CPU_HAS_F16C)) ==
		   (CPU_HAS_AVX2 | CPU_HAS_FMA | CPU_HAS_F16C), "avx2 level has AVX2, FMA, F16C flags");
	else
		is_int(cpu->flags & CPU_HAS_AVX2, 0, "below avx2 no AVX2 flag");

	r = probes[PROBE_SCALAR];
	is_int(r, CPU_SCALAR | CPU_SCALAR << 2, "LMPIPE_CPU=scalar selects scalar kernels");
	r = probes[PROBE_AVX2];
	want = hw < CPU_AVX2 ? hw : CPU_AVX2;
	is_int(r, (int)want | (int)want << 2, "LMPIPE_CPU=avx2 gives %s", cpu_level_name(want));
	r = probes[PROBE_AVX512];
	want = hw < CPU_AVX512 ? hw : CPU_AVX512;
	is_int(r, (int)want | (int)want << 2, "LMPIPE_CPU=avx512 gives %s (clamped to the CPU)", cpu_level_name(want));
	r = probes[PROBE_VNNI];
	want = hw;
	is_int(r & 3, want, "LMPIPE_CPU=avx512_vnni gives %s", cpu_level_name(want));
	is_int(r >> 2 & 3, want > CPU_AVX512 ? CPU_AVX512 : want, "vnni level runs the avx512 conversions");
	r = probes[PROBE_BOGUS];
	is_int(r & 3, hw, "unknown LMPIPE_CPU value is ignored");
	is_int(r >> 4, 1, "unknown LMPIPE_CPU value is flagged");
	r = probes[PROBE_EMPTY];
	is_int(r & 3, hw, "empty LMPIPE_CPU is ignored");
	is_int(r >> 4, 0, "empty LMPIPE_CPU is not flagged");

	ok(convert_kernels_at(CPU_SCALAR) != NULL, "scalar kernels always exist");
	ok(convert_kernels_at((enum cpu_level)(hw + 1)) == NULL || hw == CPU_LEVEL_COUNT - 1,
	   "no kernels above the hardware level");
	ok(convert_kernels()->level <= cpu->level, "kernels in use within the level in use");
}

/* Interesting float32 inputs for the narrowing conversions: random bit
 * patterns (all exponents, NaNs, infinities, subnormals) mixed with values
 * near the binary16 range and exact rounding ties. */
static uint32_t test_f32_bits(size_t i)
{
	switch (i % 4) {
	case 0:
		return rng32();
	case 1:	/* binary16's range: exponents 2^-26 .. 2^17 */
		return (rng32() & 0x807fffffu) | ((101u + rng32() % 44) << 23);
	case 2:	/* a tie for f16 (low 13 bits 0x1000) or bf16 (low 16 bits 0x8000) */
		return (rng32() & ~0x1fffu) | (rng32() & 1 ? 0x1000u : 0x8000u);
	default: /* low bits already zero: conversions that should be exact */
		return rng32() & (rng32() & 1 ? ~0x1fffu : 0xffff0000u);
	}
}

enum { GUARD = 16, MAXN = 4200 };

static int guard_ok(const void *buf, size_t elem, size_t off, size_t n, unsigned char fill)
{
	const unsigned char *p = buf;
	size_t i, start = (off + n) * elem;

	for (i = 0; i < off * elem; i++)
		if (p[i] != fill)
			return 0;
	for (i = start; i < start + GUARD * elem; i++)
		if (p[i] != fill)
			return 0;
	return 1;
}

static void compare_level(const struct convert_kernels *k, const struct convert_kernels *ref)
{
	static const size_t lens[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65,
				       100, 255, 1023, 1024, 1025, 4099 };
	static uint16_t h_src[MAXN + GUARD + 4], h_got[MAXN + GUARD + 4], h_want[MAXN + GUARD + 4];
	static float f_src[MAXN + GUARD + 4], f_got[MAXN + GUARD + 4], f_want[MAXN + GUARD + 4];
	static float f_b[MAXN + GUARD + 4];
	const char *name = cpu_level_name(k->level);
	int bad[5] = { 0 }, bad_guard[4] = { 0 }, bad_exact = 0;
	size_t li, off, i;

	for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		size_t n = lens[li];

		for (off = 0; off < 4; off++) {
			/* off elements shift the pointers off any vector alignment */
			for (i = 0; i < n; i++) {
				uint32_t u = test_f32_bits(i);

				h_src[off + i] = (uint16_t)rng32();
				memcpy(&f_src[off + i], &u, 4);
			}

			memset(f_got, 0xa5, sizeof f_got);
			memset(f_want, 0xa5, sizeof f_want);
			k->f16_to_f32(h_src + off, f_got + off, n);
			ref->f16_to_f32(h_src + off, f_want + off, n);
			bad[0] += memcmp(f_got + off, f_want + off, n * 4) != 0;
			bad_guard[0] += !guard_ok(f_got, 4, off, n, 0xa5);

			memset(f_got, 0xa5, sizeof f_got);
			memset(f_want, 0xa5, sizeof f_want);
			k->bf16_to_f32(h_src + off, f_got + off, n);
			ref->bf16_to_f32(h_src + off, f_want + off, n);
			bad[1] += memcmp(f_got + off, f_want + off, n * 4) != 0;
			bad_guard[1] += !guard_ok(f_got, 4, off, n, 0xa5);

			memset(h_got, 0x5a, sizeof h_got);
			memset(h_want, 0x5a, sizeof h_want);
			k->f32_to_f16(f_src + off, h_got + off, n);
			ref->f32_to_f16(f_src + off, h_want + off, n);
			bad[2] += memcmp(h_got + off, h_want + off, n * 2) != 0;
			bad_guard[2] += !guard_ok(h_got, 2, off, n, 0x5a);

			memset(h_got, 0x5a, sizeof h_got);
			memset(h_want, 0x5a, sizeof h_want);
			k->f32_to_bf16(f_src + off, h_got + off, n);
			ref->f32_to_bf16(f_src + off, h_want + off, n);
			bad[3] += memcmp(h_got + off, h_want + off, n * 2) != 0;
			bad_guard[3] += !guard_ok(h_got, 2, off, n, 0x5a);

			/* dot: random values in [-1, 1) against a double sum,
			 * within the recursive-summation bound n u sum|a b|
			 * (Higham, Accuracy and Stability, 3.1) */
			{
				double exact = 0, mag = 0;
				float got;

				for (i = 0; i < n; i++) {
					f_src[off + i] = (float)((int32_t)rng32() >> 8) * 0x1p-23f;
					f_b[off + 1 + i] = (float)((int32_t)rng32() >> 8) * 0x1p-23f;
					exact += (double)f_src[off + i] * f_b[off + 1 + i];
					mag += fabs((double)f_src[off + i] * f_b[off + 1 + i]);
				}
				got = k->dot_f32(f_src + off, f_b + off + 1, n);
				if (fabs(got - exact) > (double)(n + 2) * 0x1p-24 * mag) {
					if (bad[4]++ < 3)
						diag("%s dot n=%zu: %.9g vs %.9g", name, n, got, exact);
				}
				/* small integers: every partial sum is exact in
				 * float, so every order gives the same answer */
				exact = 0;
				for (i = 0; i < n; i++) {
					f_src[off + i] = (float)((int)(i % 7) - 3);
					f_b[off + 1 + i] = (float)((int)((i * 3) % 5) - 2);
					exact += f_src[off + i] * f_b[off + 1 + i];
				}
				bad_exact += k->dot_f32(f_src + off, f_b + off + 1, n) != (float)exact;
			}
		}
	}
	is_int(bad[0], 0, "%s f16->f32 bit-exact with scalar", name);
	is_int(bad[1], 0, "%s bf16->f32 bit-exact with scalar", name);
	is_int(bad[2], 0, "%s f32->f16 bit-exact with scalar", name);
	is_int(bad[3], 0, "%s f32->bf16 bit-exact with scalar", name);
	is_int(bad_guard[0] + bad_guard[1] + bad_guard[2] + bad_guard[3], 0,
	       "%s writes nothing outside [0, n)", name);
	is_int(bad[4], 0, "%s dot_f32 within the reassociation bound", name);
	is_int(bad_exact, 0, "%s dot_f32 exact on small integers", name);
}

/* Every f16 bit pattern in one row, through each level. */
static void compare_all_f16(const struct convert_kernels *k, const struct convert_kernels *ref)
{
	static uint16_t h[65536 + 1], back_k[65536 + 1], back_r[65536 + 1];
	static float f_k[65536 + 1], f_r[65536 + 1];
	uint32_t i;

	for (i = 0; i < 65536; i++)
		h[i + 1] = (uint16_t)i;
	k->f16_to_f32(h + 1, f_k + 1, 65536);
	ref->f16_to_f32(h + 1, f_r + 1, 65536);
	is_mem(f_k + 1, f_r + 1, sizeof(float) * 65536, "%s f16->f32 of all 65536 values matches scalar",
	       cpu_level_name(k->level));
	k->f32_to_f16(f_k + 1, back_k + 1, 65536);
	ref->f32_to_f16(f_r + 1, back_r + 1, 65536);
	is_mem(back_k + 1, back_r + 1, 2 * 65536, "%s f32->f16 of all 65536 back matches scalar",
	       cpu_level_name(k->level));
}

static void test_levels(void)
{
	const struct convert_kernels *ref = convert_kernels_at(CPU_SCALAR);
	int level, n = 0;

	for (level = CPU_SCALAR; level < CPU_LEVEL_COUNT; level++) {
		const struct convert_kernels *k = convert_kernels_at((enum cpu_level)level);

		if (!k)
			continue;
		is_int(k->level, level, "kernels for %s say so", cpu_level_name((enum cpu_level)level));
		compare_level(k, ref);
		compare_all_f16(k, ref);
		n++;
	}
	diag("compared %d level(s) against scalar", n);
}

static void test_public(void)
{
	uint16_t h[5] = { 0x3c00, 0xc000, 0x7c00, 0x0001, 0x8000 }, out[5];
	float f[5], a[3] = { 1, 2, 3 }, b[3] = { 4, -5, 6 };

	convert_f16_to_f32(h, f, 5);
	ok(f[0] == 1.0f && f[1] == -2.0f && isinf(f[2]) && f[3] == 0x1p-24f && f[4] == 0 && signbit(f[4]),
	   "convert_f16_to_f32: 1, -2, inf, 2^-24, -0");
	convert_f32_to_f16(f, out, 5);
	is_mem(out, h, sizeof h, "convert_f32_to_f16 inverts it");
	convert_f32_to_bf16(a, out, 3);
	ok(out[0] == 0x3f80 && out[1] == 0x4000 && out[2] == 0x4040, "convert_f32_to_bf16: 1, 2, 3");
	convert_bf16_to_f32(out, f, 3);
	ok(f[0] == 1 && f[1] == 2 && f[2] == 3, "convert_bf16_to_f32 inverts it");
	ok(dot_f32(a, b, 3) == 4 - 10 + 18, "dot_f32 of (1,2,3).(4,-5,6) = 12");
	ok(dot_f32(a, b, 0) == 0, "dot_f32 of nothing is 0");
}

int main(void)
{
	int i;

	for (i = 0; i < N_PROBES; i++)
		probes[i] = probe_env(probe_values[i]);
	test_cpu();
	test_levels();
	test_public();
	return tap_done();
}

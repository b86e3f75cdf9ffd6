/* AVX-512 + AVX512-VNNI kernels of quant.h: quant_avx512.h again, with
 * VPDPBUSD for the byte dot products.  The Makefile's AVX-512 flags lack
 * VNNI, so every function here is given it by pragma; the table is
 * entered only when cpu_features() reports CPU_AVX512_VNNI. */
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC target("avx512vnni")
#endif

#define QUANT_VNNI 1
#define QUANT_TABLE quant_kernels_avx512_vnni
#define QUANT_LEVEL CPU_AVX512_VNNI
#include "quant_avx512.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif

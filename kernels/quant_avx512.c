/* AVX-512 kernels of quant.h (built with -mavx512f -mavx512bw -mavx512vl
 * -mavx512dq -mfma -mf16c, entered only when cpu_features() reports
 * CPU_AVX512); the code is quant_avx512.h. */
#define QUANT_TABLE quant_kernels_avx512
#define QUANT_LEVEL CPU_AVX512
#include "quant_avx512.h"

/* crc32c.h - CRC-32C (Castagnoli), the checksum of index files.
 *
 * Polynomial 0x1EDC6F41, reflected (0x82F63B78), initial value and final
 * xor 0xFFFFFFFF: the CRC of RFC 3720 (iSCSI) appendix B.4, whose check
 * value for "123456789" is 0xE3069283.  Computed with the SSE4.2 crc32
 * instruction when the CPU level allows it (cpu.h; LMPIPE_CPU=scalar
 * forces the table version), else slicing-by-8 tables.
 */
#ifndef LMPIPE_CRC32C_H
#define LMPIPE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC of P continuing from CRC (0 to start): crc32c(crc32c(0, a), b) is the
 * CRC of a followed by b. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* The table version regardless of CPU, for tests. */
uint32_t crc32c_scalar(uint32_t crc, const void *p, size_t n);

#endif

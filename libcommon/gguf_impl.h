/* gguf_impl.h - helpers shared by gguf.c, gguf_write.c and gguf_dump.c only. */
#ifndef LMPIPE_GGUF_IMPL_H
#define LMPIPE_GGUF_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"

/* The files we accept are little-endian (v3 also allows big-endian files,
 * which gguf.c refuses); these work on any host. */
static inline uint16_t gguf_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t gguf_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t gguf_le64(const unsigned char *p)
{
	return (uint64_t)gguf_le32(p) | (uint64_t)gguf_le32(p + 4) << 32;
}

static inline void gguf_put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Bytes of one scalar of a fixed-size value type; 0 for string and array. */
static inline unsigned gguf_value_size(uint32_t type)
{
	static const unsigned char sizes[13] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

	return type < 13 ? sizes[type] : 0;
}

/* Keys and tensor names: well-formed UTF-8 (utf8.h) without NUL bytes. */
static inline int gguf_valid_name(const unsigned char *p, size_t n)
{
	return utf8_validate(p, n) == n && !memchr(p, 0, n);
}

#endif

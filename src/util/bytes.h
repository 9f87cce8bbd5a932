/* SPDX-License-Identifier: Apache-2.0 */
/* Internal: the one overflow-safe bounds check and little-endian accessors.
 * Every read of file data goes through NXP_FITS / nxpi_fits(). */
#ifndef NXP_UTIL_BYTES_H
#define NXP_UTIL_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* 1 when [off, off+size) lies inside a buffer of len bytes. Never computes
 * off + size: size <= len first, then off <= len - size. */
static inline int nxpi_fits(uint64_t off, uint64_t size, uint64_t len)
{
	return size <= len && off <= len - size;
}
#define NXP_FITS(off, size, len) nxpi_fits((uint64_t)(off), (uint64_t)(size), (uint64_t)(len))

/* Unchecked little-endian loads: callers have proven the range with NXP_FITS. */
static inline uint16_t nxpi_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t nxpi_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t nxpi_le64(const uint8_t *p)
{
	return (uint64_t)nxpi_le32(p) | (uint64_t)nxpi_le32(p + 4) << 32;
}
static inline void nxpi_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void nxpi_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}
/* The low size bytes of v (size <= 8), little-endian: a planned field's
 * new bytes. */
static inline void nxpi_put_le(uint8_t *p, uint32_t size, uint64_t v)
{
	for (uint32_t k = 0; k < size && k < 8; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

/* Checked loads: return 1 and store the value when the field fits. */
static inline int nxpi_rd16(const uint8_t *buf, size_t len, uint64_t off, uint16_t *v)
{
	if (!NXP_FITS(off, 2, len))
		return 0;
	*v = nxpi_le16(buf + off);
	return 1;
}
static inline int nxpi_rd32(const uint8_t *buf, size_t len, uint64_t off, uint32_t *v)
{
	if (!NXP_FITS(off, 4, len))
		return 0;
	*v = nxpi_le32(buf + off);
	return 1;
}
static inline int nxpi_rd64(const uint8_t *buf, size_t len, uint64_t off, uint64_t *v)
{
	if (!NXP_FITS(off, 8, len))
		return 0;
	*v = nxpi_le64(buf + off);
	return 1;
}

#define NXP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif

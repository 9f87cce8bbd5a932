/* SPDX-License-Identifier: Apache-2.0 */
/* The one walker of a certificate table's WIN_CERTIFICATE entries, for the
 * reader (which keeps them in img->certs) and the signature code (which
 * checks their revision and type on top). */
#include <stdint.h>

#include "pe/internal.h"
#include "util/bytes.h"

#define WIN_CERT_HEADER 8

int nxpi_cert_walk(const uint8_t *table, uint32_t table_offset, uint32_t table_size,
                   nxp_cert_entry *out, size_t max, size_t *n, nxp_error *err)
{
	*n = 0;
	uint32_t pos = 0;
	while (pos < table_size) {
		uint32_t left = table_size - pos, at = table_offset + pos;
		if (*n >= max)
			return nxp_fail(err, NXP_E_CERT_ENTRY,
			                "certificate table holds more than %zu entries", max);
		if (left < WIN_CERT_HEADER)
			return nxp_fail(err, NXP_E_CERT_ENTRY,
			                "certificate entry %zu at 0x%x: only %u bytes left in the "
			                "table, a WIN_CERTIFICATE header needs 8", *n, at, left);
		const uint8_t *p = table + pos;
		uint32_t length = nxpi_le32(p);
		if (length < WIN_CERT_HEADER)
			return nxp_fail(err, NXP_E_CERT_ENTRY,
			                "certificate entry %zu at 0x%x: dwLength %u is shorter than "
			                "its 8-byte header", *n, at, length);
		if (length == WIN_CERT_HEADER)
			return nxp_fail(err, NXP_E_CERT_ENTRY,
			                "certificate entry %zu at 0x%x: dwLength 8 holds no "
			                "certificate after its header", *n, at);
		if (length > left)
			return nxp_fail(err, NXP_E_CERT_ENTRY,
			                "certificate entry %zu at 0x%x: dwLength 0x%x runs past the "
			                "end of the table (0x%x bytes left)", *n, at, length, left);
		nxp_cert_entry *c = &out[(*n)++];
		c->offset = at;
		c->length = length;
		c->revision = nxpi_le16(p + 4);
		c->type = nxpi_le16(p + 6);
		/* Entries are 8-byte aligned; the padding of the last may be absent. */
		uint32_t padded = (length + 7u) & ~7u;
		pos += padded < left ? padded : left;
	}
	return NXP_OK;
}

/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nxpatch/error.h"

static const char *const code_names[] = {
	[NXP_OK] = "NXP_OK",
	[NXP_E_IO] = "NXP_E_IO",
	[NXP_E_NOMEM] = "NXP_E_NOMEM",
	[NXP_E_USAGE] = "NXP_E_USAGE",
	[NXP_E_INTERNAL] = "NXP_E_INTERNAL",
	[NXP_E_TOO_LARGE] = "NXP_E_TOO_LARGE",
	[NXP_E_FILE_TYPE] = "NXP_E_FILE_TYPE",
	[NXP_E_LOCKED] = "NXP_E_LOCKED",
	[NXP_E_NOT_PE] = "NXP_E_NOT_PE",
	[NXP_E_LFANEW] = "NXP_E_LFANEW",
	[NXP_E_PE_SIGNATURE] = "NXP_E_PE_SIGNATURE",
	[NXP_E_COFF_TRUNCATED] = "NXP_E_COFF_TRUNCATED",
	[NXP_E_TOO_MANY_SECTIONS] = "NXP_E_TOO_MANY_SECTIONS",
	[NXP_E_OPTHDR_SIZE] = "NXP_E_OPTHDR_SIZE",
	[NXP_E_OPTHDR_TRUNCATED] = "NXP_E_OPTHDR_TRUNCATED",
	[NXP_E_OPTHDR_MAGIC] = "NXP_E_OPTHDR_MAGIC",
	[NXP_E_DATA_DIRS] = "NXP_E_DATA_DIRS",
	[NXP_E_SECTION_TABLE] = "NXP_E_SECTION_TABLE",
	[NXP_E_SECTION_DATA] = "NXP_E_SECTION_DATA",
	[NXP_E_CERT_TABLE] = "NXP_E_CERT_TABLE",
	[NXP_E_CERT_ENTRY] = "NXP_E_CERT_ENTRY",
	[NXP_E_DIRECTORY] = "NXP_E_DIRECTORY",
	[NXP_E_NO_SECTIONS] = "NXP_E_NO_SECTIONS",
	[NXP_E_ALIGNMENT] = "NXP_E_ALIGNMENT",
	[NXP_E_HEADERS] = "NXP_E_HEADERS",
	[NXP_E_POLICY] = "NXP_E_POLICY",
	[NXP_E_REFUSED] = "NXP_E_REFUSED",
	[NXP_E_VERIFY] = "NXP_E_VERIFY",
	[NXP_E_CROSS_CHECK] = "NXP_E_CROSS_CHECK",
	[NXP_E_LIEF] = "NXP_E_LIEF",
	[NXP_E_CHANGED] = "NXP_E_CHANGED",
	[NXP_E_METADATA] = "NXP_E_METADATA",
	[NXP_E_BACKUP] = "NXP_E_BACKUP",
	[NXP_E_JOURNAL] = "NXP_E_JOURNAL",
	[NXP_E_REVERT] = "NXP_E_REVERT",
	[NXP_E_SIGN] = "NXP_E_SIGN",
	[NXP_E_SIGNATURE] = "NXP_E_SIGNATURE",
	[NXP_E_KEY] = "NXP_E_KEY",
};

const char *nxp_code_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0]) ||
	    !code_names[code])
		return "NXP_E_UNKNOWN";
	return code_names[code];
}

int nxp_fail(nxp_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int nxp_error_prefix(nxp_error *err, const char *fmt, ...)
{
	if (!err)
		return NXP_E_INTERNAL;
	char prefix[NXP_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return err->code;
	size_t plen = strlen(prefix);
	memcpy(prefix + plen, ": ", 3);
	plen += 2;
	size_t old = strnlen(err->msg, sizeof(err->msg) - 1);
	if (plen + old >= sizeof(err->msg))
		old = sizeof(err->msg) - 1 - plen;
	memmove(err->msg + plen, err->msg, old);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + old] = '\0';
	return err->code;
}

void nxp_error_clear(nxp_error *err)
{
	if (err) {
		err->code = NXP_OK;
		err->msg[0] = '\0';
	}
}

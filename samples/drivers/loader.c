/* SPDX-License-Identifier: Apache-2.0 */
/* drvload64.exe DRIVER.sys: the test harness for the sample drivers under
 * wine64. LoadLibrary maps the driver and Wine's ntoskrnl.exe resolves its
 * imports (Wine does not call a native driver's entry point there), then
 * DriverEntry is called with a zeroed DRIVER_OBJECT and a registry path.
 * Prints "loaded at 0x..." (the image base, so that return addresses in a
 * +relay log map to RVAs) and "DriverEntry returned 0x%08lx"; exits 0 only
 * for STATUS_SUCCESS, 2 when the driver does not load. */
#include <stdio.h>
#include <string.h>
#include <windows.h>

typedef LONG(WINAPI *driver_entry)(void *driver_object, void *registry_path);

typedef struct {
	USHORT Length, MaximumLength;
	PWSTR Buffer;
} ustr;

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: drvload64 DRIVER.sys\n");
		return 2;
	}
	HMODULE m = LoadLibraryA(argv[1]);
	if (!m) {
		printf("cannot load %s: error %lu\n", argv[1], GetLastError());
		return 2;
	}
	const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)m;
	const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)((const char *)m + dos->e_lfanew);
	if (nt->OptionalHeader.Subsystem != IMAGE_SUBSYSTEM_NATIVE) {
		printf("%s is not a driver (subsystem %u)\n", argv[1], nt->OptionalHeader.Subsystem);
		return 2;
	}
	printf("loaded at 0x%llx\n", (unsigned long long)(ULONG_PTR)m);
	fflush(stdout);
	driver_entry entry = (driver_entry)((char *)m + nt->OptionalHeader.AddressOfEntryPoint);
	static unsigned char driver_object[0x200]; /* > sizeof(DRIVER_OBJECT), zeroed */
	static WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\nxs";
	ustr reg = {(USHORT)(sizeof(path) - sizeof(WCHAR)), (USHORT)sizeof(path), path};
	LONG st = entry(driver_object, &reg);
	printf("DriverEntry returned 0x%08lx\n", (unsigned long)st);
	fflush(stdout);
	return st == 0 ? 0 : 1;
}

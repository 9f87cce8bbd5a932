/* SPDX-License-Identifier: Apache-2.0 */
/* trace_probe64.exe MODE [ARG...]: exercises `nxpatch trace` (tests/e2e/trace_*.sh).
 *   args A B ...  prints "arg: A" per argument and "cwd: DIR", exits 7
 *   data          calls a thunk in .data once (one fault there), exits 42
 *   flood N       N times: makes the .data thunk's page read-write again and
 *                 calls it (N faults on one page: one site, count N), exits 42
 *   heap          copies a thunk into VirtualAlloc'd read-write memory and
 *                 calls it (code generated at run time, outside every image), exits 42
 *   dll           LoadLibrary("thunkdll64.dll") after start and calls its thunk
 *                 (a fault in a DLL loaded later), exits 42
 *   loop          never exits
 * Nothing in the image says any of this is code, so only a trace finds it. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mov eax, 42; ret */
static unsigned char thunk[4096] __attribute__((aligned(4096))) = {0xB8, 0x2A, 0, 0, 0, 0xC3};

typedef int (*fn_t)(void);

static int call(void *p)
{
	fn_t volatile fn = (fn_t)p;
	return fn();
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: trace_probe64 args|data|flood N|heap|dll|loop\n", stderr);
		return 2;
	}
	const char *mode = argv[1];
	if (!strcmp(mode, "args")) {
		for (int i = 2; i < argc; i++)
			printf("arg: %s\n", argv[i]);
		char cwd[MAX_PATH];
		if (GetCurrentDirectoryA(sizeof(cwd), cwd))
			printf("cwd: %s\n", cwd);
		return 7;
	}
	if (!strcmp(mode, "data"))
		return call(thunk);
	if (!strcmp(mode, "flood") && argc > 2) {
		int n = atoi(argv[2]), r = 0;
		for (int i = 0; i < n; i++) {
			DWORD old;
			if (!VirtualProtect(thunk, sizeof(thunk), PAGE_READWRITE, &old))
				return 3;
			r = call(thunk);
		}
		printf("flood: %d calls\n", n);
		return r;
	}
	if (!strcmp(mode, "heap")) {
		unsigned char *p = VirtualAlloc(NULL, 4096, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
		if (!p)
			return 3;
		memcpy(p, thunk, 6);
		return call(p);
	}
	if (!strcmp(mode, "dll")) {
		HMODULE h = LoadLibraryA("thunkdll64.dll");
		if (!h)
			return 3;
		FARPROC f = GetProcAddress(h, "nxp_dll_thunk");
		if (!f)
			return 4;
		return ((fn_t)(void (*)(void))f)();
	}
	if (!strcmp(mode, "loop")) {
		for (;;)
			Sleep(1000);
	}
	fprintf(stderr, "trace_probe64: unknown mode %s\n", mode);
	return 2;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* nxpatch-trace.exe: a small Windows debugger that runs one program under DEP
 * and records every execute-access fault (docs/evidence.md, "nxpatch trace").
 *
 *   nxpatch-trace.exe [--timeout-ms N] [--cwd DIR] --out FILE -- PROGRAM [ARG...]
 *
 * It starts PROGRAM with DEBUG_ONLY_THIS_PROCESS and waits for debug events.
 * On EXCEPTION_ACCESS_VIOLATION with ExceptionInformation[0] == 8 (execute)
 * it records the fault, makes the page executable with VirtualProtectEx and
 * continues, so the program runs on and every later fault is seen too. Faults
 * are kept once per page (a busy loop re-faulting after re-protecting its
 * page only raises the page's count). Other exceptions go to the program.
 *
 * Under wine paths may be given as Unix paths (converted with kernel32's
 * wine_get_dos_file_name) and module paths are reported both ways. FILE
 * receives one line per record, tab-separated, strings hex-encoded (UTF-8):
 *   nxtrace 1
 *   start <pid>
 *   module <base> <size> <timestamp> <machine> <winpath-hex> <unixpath-hex>
 *   fault <id> <first:1|0> <address> <module-base|-> <rva> <section-hex>
 *         <section-characteristics> <region-base> <allocation-base> <region-size>
 *         <protect> <allocation-protect> <type> <state>       (one line)
 *   count <id> <n>                     (sites seen more than once, at the end)
 *   dropped <n>                        (faults on pages beyond the site cap)
 *   exit <code> | timeout <ms> | error <message-hex>
 * Numbers are hexadecimal without 0x. Exit status: 0 when the trace ran (the
 * program's own status is in the file), 2 usage, 3 the program did not start. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define MAX_SITES 4096
#define MAX_MODULES 1024
#define PAGE 0x1000u

typedef struct module {
	ULONG_PTR base;
	DWORD size;
	int live;
} module;

typedef struct site {
	ULONG_PTR page;
	int first;
	unsigned long long count;
} site;

static FILE *out;
static module modules[MAX_MODULES];
static int nmodules;
static site sites[MAX_SITES];
static int nsites;
static unsigned long long dropped;

static void put_hex_bytes(const unsigned char *p, size_t n)
{
	if (n == 0) {
		fputc('-', out);
		return;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

static void put_hex_wide(const wchar_t *w)
{
	if (!w || !*w) {
		fputc('-', out);
		return;
	}
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	char *s = n > 0 ? malloc((size_t)n) : NULL;
	if (!s) {
		fputc('-', out);
		return;
	}
	WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
	put_hex_bytes((const unsigned char *)s, strlen(s));
	free(s);
}

typedef WCHAR *(CDECL *dos_name_fn)(const char *);
typedef char *(CDECL *unix_name_fn)(const WCHAR *);
static dos_name_fn wine_dos_name;
static unix_name_fn wine_unix_name;

/* A path from the command line as a Windows path: under wine a Unix path
 * (starting with '/') goes through wine_get_dos_file_name. Caller frees. */
static wchar_t *win_path(const wchar_t *arg)
{
	if (wine_dos_name && arg[0] == L'/') {
		int n = WideCharToMultiByte(CP_UTF8, 0, arg, -1, NULL, 0, NULL, NULL);
		char *u = n > 0 ? malloc((size_t)n) : NULL;
		if (u) {
			WideCharToMultiByte(CP_UTF8, 0, arg, -1, u, n, NULL, NULL);
			WCHAR *d = wine_dos_name(u);
			free(u);
			if (d) {
				wchar_t *r = _wcsdup(d);
				HeapFree(GetProcessHeap(), 0, d);
				return r;
			}
		}
	}
	return _wcsdup(arg);
}

/* Quote one argument the way CommandLineToArgvW and the C runtimes split it. */
static void append_arg(wchar_t **buf, size_t *len, size_t *cap, const wchar_t *a)
{
	size_t need = *len + 2 * wcslen(a) + 4;
	if (need > *cap) {
		size_t ncap = need * 2;
		wchar_t *n = realloc(*buf, ncap * sizeof(wchar_t));
		if (!n)
			exit(3);
		*buf = n;
		*cap = ncap;
	}
	wchar_t *b = *buf;
	if (*len)
		b[(*len)++] = L' ';
	int quote = !*a || wcspbrk(a, L" \t\n\v\"") != NULL;
	if (quote)
		b[(*len)++] = L'"';
	for (const wchar_t *p = a;; p++) {
		size_t bs = 0;
		while (*p == L'\\') {
			p++;
			bs++;
		}
		if (!*p) {
			for (size_t i = 0; i < (quote ? 2 * bs : bs); i++)
				b[(*len)++] = L'\\';
			break;
		}
		if (*p == L'"') {
			for (size_t i = 0; i < 2 * bs + 1; i++)
				b[(*len)++] = L'\\';
		} else {
			for (size_t i = 0; i < bs; i++)
				b[(*len)++] = L'\\';
		}
		b[(*len)++] = *p;
	}
	if (quote)
		b[(*len)++] = L'"';
	b[*len] = 0;
}

/* The image's headers as loaded (the traced program's memory: hostile).
 * Returns e_lfanew when the PE signature, the file header and the optional
 * header's first 0x60 bytes lie within what was read (*got bytes), else 0. */
static int read_headers(HANDLE proc, ULONG_PTR base, unsigned char *hdr, SIZE_T n, SIZE_T *got)
{
	*got = 0;
	if (!ReadProcessMemory(proc, (LPCVOID)base, hdr, n, got) || *got < 0x40 || *got > n)
		return 0;
	DWORD lfanew;
	memcpy(&lfanew, hdr + 0x3c, 4);
	if (hdr[0] != 'M' || hdr[1] != 'Z' || lfanew > *got || *got - lfanew < 0x18 + 0x60 ||
	    memcmp(hdr + lfanew, "PE\0\0", 4) != 0)
		return 0;
	return (int)lfanew;
}

static void module_loaded(HANDLE proc, ULONG_PTR base, HANDLE file)
{
	unsigned char hdr[PAGE];
	SIZE_T got;
	int lfanew = read_headers(proc, base, hdr, sizeof(hdr), &got);
	DWORD size = 0, stamp = 0, machine = 0;
	if (lfanew) {
		machine = *(WORD *)(hdr + lfanew + 4);
		stamp = *(DWORD *)(hdr + lfanew + 8);
		size = *(DWORD *)(hdr + lfanew + 24 + 56); /* SizeOfImage, both formats */
	}
	wchar_t path[MAX_PATH * 4];
	path[0] = 0;
	if (file && file != INVALID_HANDLE_VALUE) {
		DWORD n = GetFinalPathNameByHandleW(file, path, (DWORD)(sizeof(path) / sizeof(path[0])),
		                                    FILE_NAME_NORMALIZED);
		if (n == 0 || n >= sizeof(path) / sizeof(path[0]))
			path[0] = 0;
	}
	const wchar_t *p = path;
	if (!wcsncmp(p, L"\\\\?\\", 4))
		p += 4;
	if (nmodules < MAX_MODULES)
		modules[nmodules++] = (module){base, size, 1};
	fprintf(out, "module\t%llx\t%lx\t%lx\t%lx\t", (unsigned long long)base, (unsigned long)size,
	        (unsigned long)stamp, (unsigned long)machine);
	put_hex_wide(p);
	fputc('\t', out);
	char *u = wine_unix_name && *p ? wine_unix_name(p) : NULL;
	if (u) {
		put_hex_bytes((const unsigned char *)u, strlen(u));
		HeapFree(GetProcessHeap(), 0, u);
	} else {
		fputc('-', out);
	}
	fputc('\n', out);
	fflush(out);
	if (file && file != INVALID_HANDLE_VALUE)
		CloseHandle(file);
}

static void module_unloaded(ULONG_PTR base)
{
	for (int i = 0; i < nmodules; i++)
		if (modules[i].live && modules[i].base == base)
			modules[i].live = 0;
}

/* The section of base+rva in the loaded headers: name and characteristics. */
static void find_section(HANDLE proc, ULONG_PTR base, DWORD rva, unsigned char name[8],
                         DWORD *chars)
{
	unsigned char hdr[PAGE];
	memset(name, 0, 8);
	*chars = 0;
	SIZE_T got;
	int lfanew = read_headers(proc, base, hdr, sizeof(hdr), &got);
	if (!lfanew)
		return;
	unsigned nsec = *(WORD *)(hdr + lfanew + 6);
	unsigned opt = *(WORD *)(hdr + lfanew + 20);
	size_t tab = (size_t)lfanew + 24 + opt;
	for (unsigned i = 0; i < nsec && tab + 40 * (size_t)(i + 1) <= got; i++) {
		const unsigned char *s = hdr + tab + 40 * i;
		DWORD vsize = *(DWORD *)(s + 8), va = *(DWORD *)(s + 12), raw = *(DWORD *)(s + 16);
		DWORD span = vsize ? vsize : raw;
		if (rva >= va && rva - va < span) {
			memcpy(name, s, 8);
			*chars = *(DWORD *)(s + 36);
			return;
		}
	}
}

static int find_module(ULONG_PTR addr)
{
	for (int i = nmodules - 1; i >= 0; i--)
		if (modules[i].live && addr >= modules[i].base && addr - modules[i].base < modules[i].size)
			return i;
	return -1;
}

/* Records the fault and returns the site; -1 when the cap was hit. */
static int record_fault(HANDLE proc, ULONG_PTR addr, int first)
{
	ULONG_PTR page = addr & ~(ULONG_PTR)(PAGE - 1);
	for (int i = 0; i < nsites; i++) {
		if (sites[i].page == page && sites[i].first == first) {
			sites[i].count++;
			return i;
		}
	}
	if (nsites >= MAX_SITES) {
		dropped++;
		return -1;
	}
	int id = nsites++;
	sites[id] = (site){page, first, 1};
	MEMORY_BASIC_INFORMATION mbi;
	memset(&mbi, 0, sizeof(mbi));
	VirtualQueryEx(proc, (LPCVOID)addr, &mbi, sizeof(mbi));
	int m = find_module(addr);
	unsigned char name[8];
	DWORD chars = 0, rva = 0;
	memset(name, 0, sizeof(name));
	if (m >= 0) {
		rva = (DWORD)(addr - modules[m].base);
		find_section(proc, modules[m].base, rva, name, &chars);
	}
	fprintf(out, "fault\t%x\t%d\t%llx\t", id, first, (unsigned long long)addr);
	if (m >= 0)
		fprintf(out, "%llx", (unsigned long long)modules[m].base);
	else
		fputc('-', out);
	fprintf(out, "\t%lx\t", (unsigned long)rva);
	put_hex_bytes(name, strnlen((const char *)name, 8));
	fprintf(out, "\t%lx\t%llx\t%llx\t%llx\t%lx\t%lx\t%lx\t%lx\n", (unsigned long)chars,
	        (unsigned long long)(ULONG_PTR)mbi.BaseAddress,
	        (unsigned long long)(ULONG_PTR)mbi.AllocationBase,
	        (unsigned long long)mbi.RegionSize, (unsigned long)mbi.Protect,
	        (unsigned long)mbi.AllocationProtect, (unsigned long)mbi.Type,
	        (unsigned long)mbi.State);
	fflush(out);
	return id;
}

/* The page's protection with execute added (PAGE_READWRITE -> PAGE_EXECUTE_READWRITE). */
static DWORD with_execute(DWORD prot)
{
	DWORD extra = prot & ~0xffu;
	switch (prot & 0xff) {
	case PAGE_NOACCESS: return PAGE_EXECUTE_READ | extra;
	case PAGE_READONLY: return PAGE_EXECUTE_READ | extra;
	case PAGE_READWRITE: return PAGE_EXECUTE_READWRITE | extra;
	case PAGE_WRITECOPY: return PAGE_EXECUTE_WRITECOPY | extra;
	default: return 0; /* already executable: not a fault we can fix */
	}
}

static void usage(void)
{
	fputs("usage: nxpatch-trace.exe [--timeout-ms N] [--cwd DIR] --out FILE -- PROGRAM [ARG...]\n",
	      stderr);
	exit(2);
}

/* long-function: the debugger's event loop, a case per debug event. */
int wmain(int argc, wchar_t **argv)
{
	HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
	if (k32) {
		wine_dos_name = (dos_name_fn)(void (*)(void))GetProcAddress(k32, "wine_get_dos_file_name");
		wine_unix_name = (unix_name_fn)(void (*)(void))GetProcAddress(k32, "wine_get_unix_file_name");
	}
	DWORD timeout_ms = INFINITE;
	const wchar_t *cwd = NULL, *outp = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (!wcscmp(argv[i], L"--") ) {
			i++;
			break;
		} else if (!wcscmp(argv[i], L"--timeout-ms") && i + 1 < argc) {
			timeout_ms = (DWORD)wcstoul(argv[++i], NULL, 10);
		} else if (!wcscmp(argv[i], L"--cwd") && i + 1 < argc) {
			cwd = argv[++i];
		} else if (!wcscmp(argv[i], L"--out") && i + 1 < argc) {
			outp = argv[++i];
		} else {
			usage();
		}
	}
	if (i >= argc || !outp)
		usage();
	wchar_t *outw = win_path(outp);
	out = outw ? _wfopen(outw, L"wb") : NULL;
	if (!out) {
		fwprintf(stderr, L"nxpatch-trace: cannot open %ls\n", outp);
		return 3;
	}
	fputs("nxtrace 1\n", out);

	wchar_t *prog = win_path(argv[i]);
	wchar_t *cmd = NULL;
	size_t len = 0, cap = 0;
	append_arg(&cmd, &len, &cap, prog);
	for (int j = i + 1; j < argc; j++)
		append_arg(&cmd, &len, &cap, argv[j]);
	wchar_t *dir = cwd ? win_path(cwd) : NULL;

	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	memset(&si, 0, sizeof(si));
	si.cb = sizeof(si);
	if (!CreateProcessW(prog, cmd, NULL, NULL, TRUE, DEBUG_ONLY_THIS_PROCESS, NULL, dir, &si,
	                    &pi)) {
		DWORD e = GetLastError();
		wchar_t msg[512];
		if (!FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e,
		                    0, msg, 512, NULL))
			msg[0] = 0;
		for (wchar_t *p = msg; *p; p++)
			if (*p == L'\r' || *p == L'\n')
				*p = 0;
		wchar_t full[700];
		_snwprintf(full, 700, L"cannot start the program (error %lu: %ls)", (unsigned long)e, msg);
		full[699] = 0;
		fputs("error\t", out);
		put_hex_wide(full);
		fputc('\n', out);
		fclose(out);
		return 3;
	}
	fprintf(out, "start\t%lx\n", (unsigned long)pi.dwProcessId);
	fflush(out);

	ULONGLONG deadline = timeout_ms == INFINITE ? 0 : GetTickCount64() + timeout_ms;
	int done = 0, timed_out = 0;
	DWORD exit_code = 0;
	while (!done) {
		DWORD wait = INFINITE;
		if (deadline) {
			ULONGLONG now = GetTickCount64();
			wait = now >= deadline ? 0 : (DWORD)(deadline - now);
		}
		DEBUG_EVENT ev;
		if (!WaitForDebugEvent(&ev, wait)) {
			if (GetLastError() == ERROR_SEM_TIMEOUT || (deadline && GetTickCount64() >= deadline)) {
				timed_out = 1;
				break;
			}
			continue;
		}
		DWORD cont = DBG_CONTINUE;
		switch (ev.dwDebugEventCode) {
		case CREATE_PROCESS_DEBUG_EVENT:
			module_loaded(pi.hProcess, (ULONG_PTR)ev.u.CreateProcessInfo.lpBaseOfImage,
			              ev.u.CreateProcessInfo.hFile);
			break;
		case LOAD_DLL_DEBUG_EVENT:
			module_loaded(pi.hProcess, (ULONG_PTR)ev.u.LoadDll.lpBaseOfDll, ev.u.LoadDll.hFile);
			break;
		case UNLOAD_DLL_DEBUG_EVENT:
			module_unloaded((ULONG_PTR)ev.u.UnloadDll.lpBaseOfDll);
			break;
		case EXCEPTION_DEBUG_EVENT: {
			EXCEPTION_RECORD *er = &ev.u.Exception.ExceptionRecord;
			cont = DBG_EXCEPTION_NOT_HANDLED;
			if (er->ExceptionCode == EXCEPTION_BREAKPOINT ||
			    er->ExceptionCode == 0x4000001F /* STATUS_WX86_BREAKPOINT */) {
				cont = DBG_CONTINUE; /* the loader's initial breakpoint */
			} else if (er->ExceptionCode == EXCEPTION_ACCESS_VIOLATION &&
			           er->NumberParameters >= 2 && er->ExceptionInformation[0] == 8) {
				ULONG_PTR addr = er->ExceptionInformation[1];
				int first = ev.u.Exception.dwFirstChance != 0;
				record_fault(pi.hProcess, addr, first);
				MEMORY_BASIC_INFORMATION mbi;
				DWORD old, prot = 0;
				if (first && VirtualQueryEx(pi.hProcess, (LPCVOID)addr, &mbi, sizeof(mbi)))
					prot = with_execute(mbi.Protect);
				if (prot && VirtualProtectEx(pi.hProcess,
				                             (LPVOID)(addr & ~(ULONG_PTR)(PAGE - 1)), PAGE,
				                             prot, &old))
					cont = DBG_CONTINUE;
			}
			break;
		}
		case EXIT_PROCESS_DEBUG_EVENT:
			exit_code = ev.u.ExitProcess.dwExitCode;
			done = 1;
			break;
		default:
			break;
		}
		ContinueDebugEvent(ev.dwProcessId, ev.dwThreadId, cont);
	}
	for (int s = 0; s < nsites; s++)
		if (sites[s].count > 1)
			fprintf(out, "count\t%x\t%llx\n", s, sites[s].count);
	if (dropped)
		fprintf(out, "dropped\t%llx\n", dropped);
	if (timed_out) {
		TerminateProcess(pi.hProcess, 0xC0000102 /* STATUS_TIMEOUT-ish marker */);
		fprintf(out, "timeout\t%lx\n", (unsigned long)timeout_ms);
	} else {
		fprintf(out, "exit\t%lx\n", (unsigned long)exit_code);
	}
	fclose(out);
	return 0;
}

#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The cross-compiled samples exist and have the PE properties the other tests rely
# on: machine, section flags (thunk sections writable but not executable), the
# thunk bytes themselves, DllCharacteristics, stripped relocations, the overlay,
# the DLL's exports and the exe's imports. Checked with python3-pefile.
. "$(dirname "$0")/lib.sh"
require_pefile

names="hello64.exe thunk_section64.exe thunk_data64.exe thunkdll64.dll calldll64.exe
       norelocs64.exe overlay64.exe nonx32.exe thunk_section32.exe"
for n in $names; do sample "$n" >/dev/null; done

"$PYTHON" - "$NXP_SAMPLES_DIR" <<'PY'
import os, sys, pefile

D = sys.argv[1]
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)

EXEC, READ, WRITE, CODE, IDATA = 0x20000000, 0x40000000, 0x80000000, 0x20, 0x40
NX, DYNBASE, HIGHENT = 0x100, 0x40, 0x20
RELOCS_STRIPPED, FILE_DLL = 0x0001, 0x2000
AMD64, I386 = 0x8664, 0x14C

def load(name):
    return pefile.PE(os.path.join(D, name))

def sec(pe, name):
    found = [s for s in pe.sections if s.Name.rstrip(b"\0") == name.encode()]
    return found[0] if len(found) == 1 else None

def dllch(pe):
    return pe.OPTIONAL_HEADER.DllCharacteristics

def reloc_targets(pe):
    """RVAs that base relocations patch."""
    out = []
    for block in getattr(pe, "DIRECTORY_ENTRY_BASERELOC", []):
        out += [e.rva for e in block.entries if e.type != 0]
    return out

def common(name, machine):
    pe = load(name)
    check(pe.FILE_HEADER.Machine == machine, f"{name}: machine {pe.FILE_HEADER.Machine:#x}")
    execs = [s.Name.rstrip(b"\0").decode() for s in pe.sections if s.Characteristics & EXEC]
    check(execs == [".text"], f"{name}: executable sections {execs}, want only .text")
    if name != "overlay64.exe":
        check(pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum(), f"{name}: checksum not valid")
    return pe

def data_section(pe, name, sname):
    s = sec(pe, sname)
    check(s is not None, f"{name}: no single {sname} section")
    if s is None:
        return None
    c = s.Characteristics
    check(c & (READ | WRITE | IDATA) == (READ | WRITE | IDATA), f"{name}: {sname} flags {c:#x} not RW data")
    check(not c & (EXEC | CODE), f"{name}: {sname} flags {c:#x} executable or code")
    return s

# hello64.exe: mingw-w64 (binutils 2.40) defaults.
pe = common("hello64.exe", AMD64)
check(dllch(pe) & (NX | DYNBASE | HIGHENT) == NX | DYNBASE | HIGHENT,
      f"hello64.exe: DllCharacteristics {dllch(pe):#x} lacks the mingw defaults")
check(sec(pe, ".reloc") is not None, "hello64.exe: no .reloc")

# thunk_section64.exe: mov rcx, imm64; mov rax, imm64; jmp rax in .thunk (RW, not X).
pe = common("thunk_section64.exe", AMD64)
check(dllch(pe) & NX, "thunk_section64.exe: NX_COMPAT not set")
s = data_section(pe, "thunk_section64.exe", ".thunk")
if s:
    b = s.get_data()
    check(b[0:2] == b"\x48\xb9" and b[10:12] == b"\x48\xb8" and b[20:22] == b"\xff\xe0",
          f"thunk_section64.exe: .thunk does not start with the x64 thunk: {b[:22].hex()}")
    rel = reloc_targets(pe)
    check(s.VirtualAddress + 2 in rel and s.VirtualAddress + 12 in rel,
          "thunk_section64.exe: the thunk's imm64 operands have no base relocations")
    imm = int.from_bytes(b[12:20], "little") - pe.OPTIONAL_HEADER.ImageBase
    t = sec(pe, ".text")
    check(t.VirtualAddress <= imm < t.VirtualAddress + t.Misc_VirtualSize,
          f"thunk_section64.exe: jump target {imm:#x} not in .text")

# thunk_data64.exe: mov eax, 42; ret in .data (RW, not X).
pe = common("thunk_data64.exe", AMD64)
check(dllch(pe) & NX, "thunk_data64.exe: NX_COMPAT not set")
s = data_section(pe, "thunk_data64.exe", ".data")
if s:
    check(b"\xb8\x2a\x00\x00\x00\xc3" in s.get_data(), "thunk_data64.exe: thunk bytes not in .data")
check(sec(pe, ".thunk") is None, "thunk_data64.exe: has a .thunk section")

# thunkdll64.dll: nxp_dll_thunk exported from .thunk (RW, not X), nxp_dll_version from .text.
pe = common("thunkdll64.dll", AMD64)
check(pe.FILE_HEADER.Characteristics & FILE_DLL, "thunkdll64.dll: not a DLL")
check(dllch(pe) & NX, "thunkdll64.dll: NX_COMPAT not set")
s = data_section(pe, "thunkdll64.dll", ".thunk")
exports = {e.name.decode(): e.address for e in pe.DIRECTORY_ENTRY_EXPORT.symbols if e.name}
check(set(exports) == {"nxp_dll_thunk", "nxp_dll_version"}, f"thunkdll64.dll: exports {exports}")
if s and "nxp_dll_thunk" in exports:
    rva = exports["nxp_dll_thunk"]
    check(s.VirtualAddress <= rva < s.VirtualAddress + s.Misc_VirtualSize,
          "thunkdll64.dll: nxp_dll_thunk is not in .thunk")
    b = pe.get_data(rva, 12)
    check(b[0:2] == b"\x48\xb8" and b[10:12] == b"\xff\xe0", f"thunkdll64.dll: thunk bytes {b.hex()}")
    check(rva + 2 in reloc_targets(pe), "thunkdll64.dll: thunk imm64 has no base relocation")
if "nxp_dll_version" in exports:
    check(sec(pe, ".text").contains_rva(exports["nxp_dll_version"]),
          "thunkdll64.dll: nxp_dll_version is not in .text")

# calldll64.exe imports both from thunkdll64.dll.
pe = common("calldll64.exe", AMD64)
check(dllch(pe) & NX, "calldll64.exe: NX_COMPAT not set")
imports = {e.dll.decode().lower(): {i.name.decode() for i in e.imports if i.name}
           for e in pe.DIRECTORY_ENTRY_IMPORT}
check(imports.get("thunkdll64.dll") == {"nxp_dll_thunk", "nxp_dll_version"},
      f"calldll64.exe: imports {imports}")

# norelocs64.exe: relocations stripped, no DYNAMIC_BASE / HIGH_ENTROPY_VA.
pe = common("norelocs64.exe", AMD64)
check(pe.FILE_HEADER.Characteristics & RELOCS_STRIPPED, "norelocs64.exe: RELOCS_STRIPPED not set")
dd = pe.OPTIONAL_HEADER.DATA_DIRECTORY[5]
check(dd.VirtualAddress == 0 and dd.Size == 0, "norelocs64.exe: base relocation directory not empty")
check(sec(pe, ".reloc") is None, "norelocs64.exe: has .reloc")
check(dllch(pe) & (NX | DYNBASE | HIGHENT) == NX, f"norelocs64.exe: DllCharacteristics {dllch(pe):#x}")

# overlay64.exe: exactly 1000 bytes of "0123456789"*100 after the last section; the
# CheckSum is the linker's, i.e. that of the image before the overlay was appended.
pe = common("overlay64.exe", AMD64)
raw = open(os.path.join(D, "overlay64.exe"), "rb").read()
check(pe.get_overlay_data_start_offset() == len(raw) - 1000, "overlay64.exe: overlay not 1000 bytes")
check(pe.get_overlay() == b"0123456789" * 100, "overlay64.exe: overlay is not the pattern")
check(pe.OPTIONAL_HEADER.CheckSum == pefile.PE(data=raw[:-1000]).generate_checksum(),
      "overlay64.exe: CheckSum is not that of the image without overlay")
check(dllch(pe) & NX, "overlay64.exe: NX_COMPAT not set")

# nonx32.exe: 32-bit, no NX_COMPAT.
pe = common("nonx32.exe", I386)
check(pe.OPTIONAL_HEADER.Magic == 0x10B, "nonx32.exe: not PE32")
check(not dllch(pe) & NX, f"nonx32.exe: NX_COMPAT set ({dllch(pe):#x})")
check(dllch(pe) & DYNBASE, "nonx32.exe: DYNAMIC_BASE not set")

# thunk_section32.exe: ATL-style thunk in .thunk (RW, not X), no NX_COMPAT.
pe = common("thunk_section32.exe", I386)
check(not dllch(pe) & NX, f"thunk_section32.exe: NX_COMPAT set ({dllch(pe):#x})")
s = data_section(pe, "thunk_section32.exe", ".thunk")
if s:
    b = s.get_data()
    check(b[0:4] == b"\xc7\x44\x24\x04" and b[8:9] == b"\xe9",
          f"thunk_section32.exe: .thunk does not start with the ATL thunk: {b[:13].hex()}")

for f in failures:
    print("FAIL:", f, file=sys.stderr)
sys.exit(1 if failures else 0)
PY
echo "all samples have the expected PE properties"

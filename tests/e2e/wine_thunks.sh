#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Proves the samples against a real loader, wine64 (which enforces DEP on every
# 64-bit process, whatever NX_COMPAT says):
#  - hello64, overlay64 and norelocs64 run and print their line;
#  - thunk_section64, thunk_data64 and calldll64 die with "page fault on execute
#    access" and do not print their line, also with NX_COMPAT cleared;
#  - after IMAGE_SCN_MEM_EXECUTE is set on the section holding the thunk (and the
#    checksum fixed, by a small pefile script, on a copy) they run and print it.
# The 32-bit samples are not run: wine64 alone cannot run them (it needs wine32,
# and without it exits 0 silently), so they are only checked by samples_built.sh.
. "$(dirname "$0")/lib.sh"
require_pefile
require_wine

for n in hello64.exe overlay64.exe norelocs64.exe thunk_section64.exe thunk_data64.exe \
         calldll64.exe thunkdll64.dll; do
  sample "$n" >/dev/null
  cp "$NXP_SAMPLES_DIR/$n" "$T/$n"
done

# patch SRC DST SECTION [clear-nx]: a copy of SRC with EXECUTE set on SECTION (or,
# with clear-nx, NX_COMPAT cleared instead) and the CheckSum recomputed; only those
# header bytes may differ.
patch() {
  "$PYTHON" - "$@" <<'PY'
import sys, pefile
src, dst, name = sys.argv[1:4]
clear_nx = len(sys.argv) > 4
pe = pefile.PE(src)
allowed = set(range(pe.OPTIONAL_HEADER.get_file_offset() + 64, pe.OPTIONAL_HEADER.get_file_offset() + 68))
if clear_nx:
    pe.OPTIONAL_HEADER.DllCharacteristics &= ~0x100
    off = pe.OPTIONAL_HEADER.get_field_absolute_offset("DllCharacteristics")
    allowed |= {off, off + 1}
else:
    s = [s for s in pe.sections if s.Name.rstrip(b"\0") == name.encode()]
    assert len(s) == 1, f"{src}: no single {name} section"
    assert not s[0].Characteristics & 0x20000000, f"{src}: {name} already executable"
    s[0].Characteristics |= 0x20000000
    off = s[0].get_field_absolute_offset("Characteristics")
    allowed |= set(range(off, off + 4))
pe.OPTIONAL_HEADER.CheckSum = pe.generate_checksum()
pe.write(dst)
a, b = open(src, "rb").read(), open(dst, "rb").read()
diff = {i for i in range(len(a)) if a[i] != b[i]}
assert len(a) == len(b) and diff and diff <= allowed, f"unexpected changes at {sorted(diff - allowed)}"
chk = pefile.PE(dst)
assert chk.OPTIONAL_HEADER.CheckSum == chk.generate_checksum()
PY
}

# One prefix for the whole script; initialise it once (the slow part).
timeout 300 "$WINE" wineboot -i >"$T/wineboot.log" 2>&1 ||
  { cat "$T/wineboot.log" >&2; fail "wineboot -i failed"; }

# Plain samples run.
expect_ok "$T" hello64.exe "hello64: ok"
expect_ok "$T" overlay64.exe "overlay64: ok"
expect_ok "$T" norelocs64.exe "norelocs64: ok"

# Thunks in non-executable sections fault.
expect_dep_fault "$T" thunk_section64.exe "thunk_section64: ok"
expect_dep_fault "$T" thunk_data64.exe "thunk_data64: ok"
expect_dep_fault "$T" calldll64.exe "calldll64: ok"

# Clearing NX_COMPAT does not help a 64-bit process.
echo "thunk_section64.exe with NX_COMPAT cleared:"
mkdir "$T/nonx"
patch "$T/thunk_section64.exe" "$T/nonx/thunk_section64.exe" .thunk clear-nx
expect_dep_fault "$T/nonx" thunk_section64.exe "thunk_section64: ok"

# Making the thunk's section executable fixes them.
mkdir "$T/fixed"
patch "$T/thunk_section64.exe" "$T/fixed/thunk_section64.exe" .thunk
patch "$T/thunk_data64.exe" "$T/fixed/thunk_data64.exe" .data
patch "$T/thunkdll64.dll" "$T/fixed/thunkdll64.dll" .thunk
cp "$T/calldll64.exe" "$T/fixed/"
expect_ok "$T/fixed" thunk_section64.exe "thunk_section64: ok"
expect_ok "$T/fixed" thunk_data64.exe "thunk_data64: ok"
expect_ok "$T/fixed" calldll64.exe "calldll64: ok"

echo "wine64: DEP faults reproduced and fixed by an executable thunk section"

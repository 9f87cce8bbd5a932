#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End to end under a real loader: each 64-bit thunk sample faults under wine64
# (DEP), `nxpatch apply` with a policy marks its thunk section executable, and
# the patched program runs and prints its known line. The output differs from
# the input only in the planned fields and the CheckSum, which python3-pefile
# confirms (new values, verify_checksum()).
. "$(dirname "$0")/lib.sh"
require_pefile
require_wine

POLICY="$NXP_SOURCE_DIR/tests/data/apply/thunks.yaml"
mkdir -p "$T/orig" "$T/patched"
for n in thunk_section64.exe thunk_data64.exe calldll64.exe thunkdll64.dll; do
  s=$(sample "$n"); cp "$s" "$T/orig/$n"
done
cp "$T/orig/calldll64.exe" "$T/patched/"

for n in thunk_section64.exe thunk_data64.exe calldll64.exe; do
  expect_dep_fault "$T/orig" "$n" "${n%.exe}: ok"
done

"$NXPATCH" apply --policy "$POLICY" --out-dir "$T/patched" \
  "$T/orig/thunk_section64.exe" "$T/orig/thunk_data64.exe" "$T/orig/thunkdll64.dll" > "$T/apply.txt" ||
  { cat "$T/apply.txt"; fail "apply exited $?"; }
cat "$T/apply.txt"
grep -q 'section .thunk characteristics 0xC0000040 -> 0xE0000040 (+execute) \[rule thunk-section\]' "$T/apply.txt" ||
  fail "the diff does not name the change and its rule"
grep -q 'section .data characteristics 0xC0000040 -> 0xE0000040 (+execute) \[rule data-thunk\]' "$T/apply.txt" ||
  fail "the .data change of thunk_data64 is missing"

for n in thunk_section64.exe thunk_data64.exe calldll64.exe; do
  expect_ok "$T/patched" "$n" "${n%.exe}: ok"
done

# Only the planned bytes changed; pefile sees the new values and a valid checksum.
for n in thunk_section64.exe thunk_data64.exe thunkdll64.dll; do
  "$PYTHON" - "$T/orig/$n" "$T/patched/$n" <<'PY' || fail "$n: byte or pefile check failed"
import sys, pefile
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
assert len(a) == len(b), "length changed"
pe = pefile.PE(sys.argv[2])
cs = pe.OPTIONAL_HEADER.get_file_offset() + 64
allowed = set(range(cs, cs + 4))
changed_sections = []
for s in pe.sections:
    off = s.get_file_offset() + 36
    if a[off:off + 4] != b[off:off + 4]:
        allowed |= set(range(off, off + 4))
        changed_sections.append(s)
diff = [i for i in range(len(a)) if a[i] != b[i]]
assert diff, "nothing changed"
assert set(diff) <= allowed, f"bytes outside the plan changed: {[hex(i) for i in diff if i not in allowed]}"
assert len(changed_sections) == 1, changed_sections
assert changed_sections[0].Characteristics & 0x20000000, "execute not set"
assert pe.verify_checksum(), "checksum not valid"
print(f"{sys.argv[2]}: {len(diff)} bytes changed, all planned; checksum valid")
PY
done

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `nxpatch scan` finds the code in data of every evidence sample
# (samples/evidence): the right kind, in the right section, at the RVA of
# the sample's symbol (from the mingw nm), and no evidence anywhere else.
# The text report says "code in data: yes" for that section only.
. "$(dirname "$0")/lib.sh"

# name:bits:section:kind:symbol[,symbol]
cases=(
  entry:64:.ecode:entry_point:data_entry
  entry:32:.ecode:entry_point:_data_entry
  export:64:.xcode:export:data_export
  export:32:.xcode:export:_data_export
  tls:64:.tcode:tls_callback:data_tls_cb
  tls:32:.tcode:tls_callback:_data_tls_cb@12
  call:64:.ccode:call_target:data_fn
  call:32:.ccode:call_target:_data_fn
  jump:64:.jcode:jump_target:data_target
  jump:32:.jcode:jump_target:_data_target
  absjmp:64:.data:absolute_jump:stub_a,stub_b
  absjmp:32:.data:absolute_jump:_stub_a,_stub_b
  x64thunk:64:.data:x64_thunk:x64_thunk
  atl:32:.data:atl_thunk:_atl_thunk
  fnptr:64:.pcode:call_target:data_fn
  fnptr:32:.pcode:call_target:_data_fn
  slot:64:.qcode:call_target:data_fn
  slot:32:.qcode:call_target:_data_fn
  stubjmp:64:.scode:call_target:data_stub
  stubjmp:32:.scode:call_target:_data_stub
  zerothunk:64:.data:x64_thunk:zero_thunk
  zerothunk:32:.data:atl_thunk:_zero_thunk
)

: > "$T/expect"
for c in "${cases[@]}"; do
  IFS=: read -r name bits sec kind syms <<<"$c"
  exe=$(sample "evidence/ev_${name}${bits}.exe")
  if [ "$bits" = 64 ]; then nm=x86_64-w64-mingw32-nm; else nm=i686-w64-mingw32-nm; fi
  require_cmd "$nm" binutils-mingw-w64
  for s in ${syms//,/ }; do
    va=$("$nm" "$exe" | awk -v s="$s" '$3 == s { print $1 }')
    [ -n "$va" ] || fail "$exe: no symbol $s"
    printf '%s\t%s\t%s\t%s\n' "$exe" "$sec" "$kind" "$va" >> "$T/expect"
  done
  printf '%s\n' "$exe" >> "$T/files"
done

mapfile -t files < <(sort -u "$T/files")
"$NXPATCH" scan --format json "${files[@]}" > "$T/scan.json" || fail "scan exited $?"
"$PYTHON" - "$T/scan.json" "$T/expect" <<'PY'
import json, sys
files = {f["path"]: f for f in json.load(open(sys.argv[1]))["files"]}
want = {}
for line in open(sys.argv[2]):
    path, sec, kind, va = line.rstrip("\n").split("\t")
    want.setdefault(path, []).append((sec, kind, int(va, 16)))
bad = 0
for path, items in want.items():
    f = files[path]
    base = f["image_base"]
    ev = {(e["section"], e["kind"], e["rva"]) for e in f["evidence"]}
    if not f["code_in_data"]:
        print(f"{path}: code_in_data is false"); bad += 1
    secs = {sec for sec, _, _ in items}
    for sec, kind, va in items:
        if (sec, kind, va - base) not in ev:
            print(f"{path}: no {kind} at rva {va - base:#x} in {sec}; found {sorted(ev)}"); bad += 1
    for e in f["evidence"]:
        if e["section"] not in secs:
            print(f"{path}: unexpected evidence {e}"); bad += 1
    for s in f["sections"]:
        flagged = s["code_in_data"]
        if flagged != (s["name"] in secs):
            print(f"{path}: section {s['name']} code_in_data={flagged}"); bad += 1
        if s["name"] in secs and s["evidence_count"] < 1:
            print(f"{path}: section {s['name']} evidence_count {s['evidence_count']}"); bad += 1
        if s["name"] in secs and "execute" in s["characteristics"]["attributes"]:
            print(f"{path}: section {s['name']} is already executable"); bad += 1
print(f"checked {sum(len(v) for v in want.values())} evidence records in {len(want)} samples")
sys.exit(1 if bad else 0)
PY

# The thunk samples (samples/, stripped: no symbols) are found by evidence
# in the section that holds their thunk, not by its name: exactly that
# section is flagged, with the kind given.
thunks=(
  thunk_data64.exe:.data:call_target
  thunk_section64.exe:.thunk:x64_thunk
  thunk_section32.exe:.thunk:atl_thunk
  thunkdll64.dll:.thunk:absolute_jump
)
for c in "${thunks[@]}"; do
  IFS=: read -r file sec kind <<<"$c"
  "$NXPATCH" scan --format json "$(sample "$file")" > "$T/thunk.json" || fail "scan $file exited $?"
  "$PYTHON" - "$T/thunk.json" "$sec" "$kind" <<'PY' || fail "$file: not found by evidence in $sec"
import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
sec, kind = sys.argv[2], sys.argv[3]
flagged = sorted(s["name"] for s in f["sections"] if s["code_in_data"])
kinds = {e["kind"] for e in f["evidence"] if e["section"] == sec}
assert flagged == [sec], f"flagged sections {flagged}, want [{sec}]"
assert kind in kinds, f"kinds in {sec}: {sorted(kinds)}, want {kind}"
PY
  echo "$file: $kind in $sec"
done

# The text report: a verdict per non-executable section.
"$NXPATCH" scan "$(sample evidence/ev_call64.exe)" > "$T/scan.txt" || fail "text scan exited $?"
grep -Eq '^    \.ccode .*code in data: yes \(1 evidence\)' "$T/scan.txt" || fail "no yes verdict for .ccode: $(cat "$T/scan.txt")"
grep -Eq '^    \.data .*code in data: no' "$T/scan.txt" || fail "no 'no' verdict for .data"
grep -Eq '^  code in data yes' "$T/scan.txt" || fail "no image verdict"
if grep -Eq '^    \.text .*code in data' "$T/scan.txt"; then fail "verdict on an executable section"; fi
grep -q 'evidence     call_target at 0x' "$T/scan.txt" || fail "evidence line missing"
echo "ok"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Under wine64 (which enforces DEP for every 64-bit process), each 64-bit
# evidence sample faults before patching: its code in data does not run.
# After `nxpatch apply --policy tests/data/evidence/code-in-data.yaml` (the
# sections holding evidence gain execute) each runs and exits 42.
. "$(dirname "$0")/lib.sh"
require_wine
# No crash dialog: the fault is reported on stderr and the process exits.
export WINEDLLOVERRIDES="$WINEDLLOVERRIDES;winedbg.exe=d"
WINE=/usr/lib/wine/wine64
POLICY="$NXP_SOURCE_DIR/tests/data/evidence/code-in-data.yaml"

names=(entry export tls call jump absjmp x64thunk fnptr slot stubjmp zerothunk)

run() { # run EXE: prints the exit code; stderr to $T/err
  local rc=0
  (cd "$(dirname "$1")" && timeout 120 "$WINE" "./$(basename "$1")") > "$T/out" 2> "$T/err" || rc=$?
  echo "$rc"
}

for n in "${names[@]}"; do
  exe=$(sample "evidence/ev_${n}64.exe")
  cp "$exe" "$T/ev_${n}64.exe"
  rc=$(run "$T/ev_${n}64.exe")
  [ "$rc" != 42 ] || fail "ev_${n}64.exe ran its code in data without faulting"
  if [ "$n" = tls ]; then
    # wine runs TLS callbacks under an exception handler: the fault is
    # swallowed, and main reports that the callback never ran (exit 4).
    [ "$rc" = 4 ] || fail "ev_tls64.exe: exit $rc, want 4 (callback faulted)"
  else
    grep -q 'page fault on execute access' "$T/err" ||
      fail "ev_${n}64.exe: exit $rc without an execute fault: $(cat "$T/err")"
  fi
  echo "ev_${n}64.exe: faults before patching (exit $rc)"
done

for n in "${names[@]}"; do
  in="$T/ev_${n}64.exe" out="$T/ev_${n}64.fixed.exe"
  "$NXPATCH" apply --policy "$POLICY" "$in" -o "$out" > "$T/apply.out" 2>&1 ||
    fail "apply ev_${n}64.exe exited $?: $(cat "$T/apply.out")"
  "$NXPATCH" scan --format json "$in" "$out" > "$T/scan.json" || fail "scan exited $?"
  "$PYTHON" - "$T/scan.json" <<'PY' || fail "ev_${n}64: patched sections"
import json, sys
before, after = json.load(open(sys.argv[1]))["files"]
flagged = [s["name"] for s in before["sections"] if s["code_in_data"]]
assert flagged, "no section with evidence before patching"
for s in after["sections"]:
    if s["name"] in flagged:
        assert "execute" in s["characteristics"]["attributes"], s["name"] + " lacks execute"
assert not after["code_in_data"], "patched image still has code in data"
PY
  rc=$(run "$out")
  [ "$rc" = 42 ] || fail "patched ev_${n}64.exe: exit $rc, want 42: $(cat "$T/err")"
  echo "ev_${n}64.exe: runs after apply (exit 42)"
done

# samples/thunk_data64.exe (a code array in .data called through a pointer)
# is patched because evidence names .data, not because of a section name.
in="$T/thunk_data64.exe" out="$T/thunk_data64.fixed.exe"
cp "$(sample thunk_data64.exe)" "$in"
rc=$(run "$in")
grep -q 'page fault on execute access' "$T/err" || fail "thunk_data64.exe: exit $rc without an execute fault"
"$NXPATCH" apply --policy "$POLICY" "$in" -o "$out" > "$T/apply.out" 2>&1 ||
  fail "apply thunk_data64.exe exited $?: $(cat "$T/apply.out")"
rc=$(run "$out")
[ "$rc" = 0 ] && grep -q 'thunk_data64: ok' "$T/out" ||
  fail "patched thunk_data64.exe: exit $rc: $(cat "$T/out" "$T/err")"
echo "thunk_data64.exe: faults before, runs after apply (code-in-data evidence)"
echo "ok"

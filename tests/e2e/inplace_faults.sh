#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# apply --in-place=bytes under injected faults (issue 17 §1): a test build
# (NXP_TEST_HOOKS, src/util/fault.h) crashes or fails at the Nth
# write/fsync/pwrite boundary of a run over two images, for every N:
#   kill   SIGKILL (the page cache keeps what was written),
#   power  a power cut (every write since its file's last fsync undone),
#   fail   the call fails with EIO and the run goes on.
# After each, recovery (revert, or the next apply with the journal) must
# leave every file byte for byte its original or its patched image; a
# failed call must leave that already. Crashes inside the recovery run are
# injected too.
. "$(dirname "$0")/lib.sh"
require_test_hooks
a=$(sample nonx32.exe); b=$(sample norelocs64.exe)
cat > "$T/p.yaml" <<'EOF'
nxpatch: 1
rules:
  - id: nx
    actions:
      - set: [nx_compat]
  - id: rdata-x
    actions:
      - section: ".rdata"
        add: [execute]
EOF
run_apply() { "$NXPATCH" apply --policy "$T/p.yaml" -j 1 --in-place=bytes --no-cross-check \
  --journal "$T/j" "$T/a.exe" "$T/b.exe" >/dev/null 2>&1; }
"$NXPATCH" apply --policy "$T/p.yaml" --no-cross-check "$a" -o "$T/a.ref" >/dev/null
"$NXPATCH" apply --policy "$T/p.yaml" --no-cross-check "$b" -o "$T/b.ref" >/dev/null
oa=$(sha "$a"); ob=$(sha "$b"); ra=$(sha "$T/a.ref"); rb=$(sha "$T/b.ref")
[ "$oa" != "$ra" ] && [ "$ob" != "$rb" ] || fail "the plan changes nothing"
reset() { cp "$a" "$T/a.exe"; cp "$b" "$T/b.exe"; rm -f "$T/j"; }

# How many boundaries a clean run has (journal lines, pwrites, fsyncs).
reset
NXP_FAULT_LOG="$T/log" run_apply || fail "the clean run failed"
[ -s "$T/log" ] || fail "NXP_TEST_HOOKS=ON, but the binary logs no boundary"
K=$(wc -l < "$T/log")
[ "$(grep -c ' pwrite ' "$T/log")" -ge 4 ] || fail "expected pwrites of both images: $(cat "$T/log")"
[ "$(sha "$T/a.exe")" = "$ra" ] && [ "$(sha "$T/b.exe")" = "$rb" ] || fail "the clean run's output"
echo "a clean run of two images crosses $K boundaries"

# state FILE ORIG REF: "orig", "patched" or "between".
state() {
  local h; h=$(sha "$1")
  if [ "$h" = "$2" ]; then echo orig; elif [ "$h" = "$3" ]; then echo patched; else echo between; fi
}
both() { echo "$(state "$T/a.exe" "$oa" "$ra") $(state "$T/b.exe" "$ob" "$rb")"; }
expect() { # WHAT MODE N: both files in one of the allowed states
  local s; s=$(both)
  case "$1" in
    orig) [ "$s" = "orig orig" ] ;;
    patched) [ "$s" = "patched patched" ] ;;
    whole) [[ "$s" != *between* ]] ;;
  esac || fail "$2 at boundary $3: the files are '$s' after $4, want $1"
}

between=0 runs=0
for mode in kill power fail; do
  for ((n = 1; n <= K; n++)); do
    reset
    NXP_FAULT_AT=$n NXP_FAULT_MODE=$mode run_apply || true
    [ -e "$T/j" ] || : > "$T/j" # killed before its first line
    runs=$((runs + 1))
    [[ "$(both)" == *between* ]] && between=$((between + 1))
    [ "$mode" = fail ] && expect whole "$mode" "$n" "the failed call"
    # Recovery: revert restores both originals; the next run patches both.
    cp "$T/a.exe" "$T/a.crash"; cp "$T/b.exe" "$T/b.crash"; cp "$T/j" "$T/j.crash"
    "$NXPATCH" revert --journal "$T/j" >/dev/null 2>&1 || fail "$mode at $n: revert failed: $("$NXPATCH" revert --journal "$T/j" 2>&1)"
    expect orig "$mode" "$n" "revert"
    cp "$T/a.crash" "$T/a.exe"; cp "$T/b.crash" "$T/b.exe"; cp "$T/j.crash" "$T/j"
    run_apply || fail "$mode at $n: the next run failed"
    expect patched "$mode" "$n" "the next run"
    "$NXPATCH" revert --journal "$T/j" >/dev/null 2>&1 || fail "$mode at $n: revert after the next run"
    expect orig "$mode" "$n" "the next run and a revert"
    [ "$mode" = fail ] && continue
    # Under ASan (several times slower) the nested loop runs for kill only.
    [ "${NXP_SANITIZE:-OFF}" = ON ] && [ "$mode" = power ] && continue
    # A crash inside the recovering run, at each of its boundaries.
    cp "$T/a.crash" "$T/a.exe"; cp "$T/b.crash" "$T/b.exe"; cp "$T/j.crash" "$T/j"
    rm -f "$T/log2"; NXP_FAULT_LOG="$T/log2" run_apply || fail "$mode at $n: counting the next run"
    M=$(wc -l < "$T/log2")
    for ((m = 1; m <= M; m++)); do
      cp "$T/a.crash" "$T/a.exe"; cp "$T/b.crash" "$T/b.exe"; cp "$T/j.crash" "$T/j"
      NXP_FAULT_AT=$m NXP_FAULT_MODE=$mode run_apply || true
      run_apply || fail "$mode at $n, then at $m of the next run: a third run failed"
      expect patched "$mode" "$n+$m" "a crashed recovery and another run"
      runs=$((runs + 2))
    done
  done
done
[ "$between" -gt 0 ] || fail "no crash ever left a file between original and patched: the test proves nothing"
echo "ok: $runs injected runs over $K boundaries (kill, power, fail; recovery crashed too): every file original or patched after recovery ($between crashes left a file in between until then)"

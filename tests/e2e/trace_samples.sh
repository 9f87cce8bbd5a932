#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `nxpatch trace` as ground truth, on every 64-bit sample and evidence sample:
#  - before apply, the trace records faults in exactly the expected sections
#    (module and section), each first chance, and nowhere else;
#  - `apply --evidence TRACE` with a policy that acts on code_in_data only
#    makes exactly those sections executable (plus the checksum);
#  - after apply, the trace records zero faults and the program prints its
#    line / exits with its status;
#  - verify --evidence fails the original (refused-traced-fault) and passes the copy.
# 32-bit samples: traced only when wine32 is installed, else the test says so.
. "$(dirname "$0")/lib.sh"
require_wine
require_pefile
[ -f "$NXP_BINARY_DIR/nxpatch-trace.exe" ] ||
  skip "nxpatch-trace.exe not built (apt-get install gcc-mingw-w64-x86-64)"
POLICY="$NXP_SOURCE_DIR/tests/data/evidence/code-in-data.yaml"
printf 'nxpatch: 1\nrules: []\n' >"$T/empty.yaml"

# name | program to run | faults expected before: module:section,... ("-": none)
#      | images to patch | expected exit status | expected stdout line ("-": none)
cases=(
  "hello64.exe|hello64.exe|-|-|0|hello64: ok"
  "overlay64.exe|overlay64.exe|-|-|0|overlay64: ok"
  "norelocs64.exe|norelocs64.exe|-|-|0|norelocs64: ok"
  "thunk_section64.exe|thunk_section64.exe|thunk_section64.exe:.thunk|thunk_section64.exe|0|thunk_section64: ok"
  "thunk_data64.exe|thunk_data64.exe|thunk_data64.exe:.data|thunk_data64.exe|0|thunk_data64: ok"
  "calldll64.exe|calldll64.exe|thunkdll64.dll:.thunk|thunkdll64.dll|0|calldll64: ok"
  "ev_entry64.exe|ev_entry64.exe|ev_entry64.exe:.ecode|ev_entry64.exe|42|-"
  "ev_export64.exe|ev_export64.exe|ev_export64.exe:.xcode|ev_export64.exe|42|-"
  "ev_tls64.exe|ev_tls64.exe|ev_tls64.exe:.tcode|ev_tls64.exe|42|-"
  "ev_call64.exe|ev_call64.exe|ev_call64.exe:.ccode|ev_call64.exe|42|-"
  "ev_jump64.exe|ev_jump64.exe|ev_jump64.exe:.jcode|ev_jump64.exe|42|-"
  "ev_absjmp64.exe|ev_absjmp64.exe|ev_absjmp64.exe:.data|ev_absjmp64.exe|42|-"
  "ev_x64thunk64.exe|ev_x64thunk64.exe|ev_x64thunk64.exe:.data|ev_x64thunk64.exe|42|-"
  "ev_fnptr64.exe|ev_fnptr64.exe|ev_fnptr64.exe:.pcode|ev_fnptr64.exe|42|-"
  "ev_slot64.exe|ev_slot64.exe|ev_slot64.exe:.qcode|ev_slot64.exe|42|-"
  "ev_stubjmp64.exe|ev_stubjmp64.exe|ev_stubjmp64.exe:.scode|ev_stubjmp64.exe|42|-"
  "ev_zerothunk64.exe|ev_zerothunk64.exe|ev_zerothunk64.exe:.data|ev_zerothunk64.exe|42|-"
)

# Every 64-bit sample built must be in the table (a new one must say what it does).
mkdir -p "$T/before" "$T/after"
for f in "$NXP_SAMPLES_DIR"/*64.exe "$NXP_SAMPLES_DIR"/*64.dll "$NXP_SAMPLES_DIR"/evidence/*64.exe; do
  [ -f "$f" ] || continue
  n=$(basename "$f")
  cp "$f" "$T/before/$n"
  cp "$f" "$T/after/$n"
  case "$n" in
    thunkdll64.dll|trace_probe64.exe) continue ;; # run by calldll64 / trace_options.sh
  esac
  grep -q "^$n|" <<<"$(printf '%s\n' "${cases[@]}")" && continue
  # An evidence sample without a row: it must fault in its own image, and
  # like every evidence sample exit 42 once patched (add a row to be exact).
  case "$f" in
    */evidence/*) cases+=("$n|$n|@self|$n|42|-"); echo "NOTE: $n has no row here: checked loosely" ;;
    *) fail "sample $n has no row in this test's table" ;;
  esac
done
[ -f "$T/before/thunk_data64.exe" ] || skip "64-bit samples not built (gcc-mingw-w64-x86-64)"

# faults JSONL: the "module:section" of each record, sorted, comma-joined;
# also checks every record's shape.
faults() {
  "$PYTHON" - "$1" <<'PY'
import json, sys
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    assert r["kind"] == "dep_fault", r
    assert r["chance"] == "first", r
    assert r["count"] >= 1, r
    assert r["module_name"], "fault outside every image: %r" % r
    assert r["section_characteristics"] & 0x20000000 == 0, "fault in an executable section: %r" % r
    out.append("%s:%s" % (r["module_name"], r["section"]))
print(",".join(sorted(set(out))) or "-")
PY
}

for row in "${cases[@]}"; do
  IFS='|' read -r name prog want patch status line <<<"$row"
  # Before: faults exactly where expected; the program still finishes (the
  # tracer makes each faulting page executable and lets it go on).
  rc=0
  "$NXPATCH" trace -o "$T/$name.jsonl" -C "$T/before" "$T/before/$prog" \
    >"$T/trace.out" 2>"$T/trace.err" || rc=$?
  got=$(faults "$T/$name.jsonl")
  if [ "$want" = @self ]; then
    case ",$got," in *",$name:"*) want=$got ;; esac
  fi
  [ "$got" = "$want" ] || fail "$name: traced faults $got, want $want: $(cat "$T/trace.out" "$T/trace.err")"
  [ "$rc" -eq "$([ "$want" = - ] && echo 0 || echo 1)" ] || fail "$name: trace exited $rc"
  grep -q "exited with status $status " "$T/trace.out" ||
    fail "$name: exit status not reported as $status: $(cat "$T/trace.out")"
  echo "$name: before apply, faults in $got"
  [ "$want" = - ] && continue

  # apply with the trace as evidence: exactly the faulting sections change.
  IFS=',' read -ra imgs <<<"$patch"
  for img in "${imgs[@]}"; do
    rm -f "$T/after/$img"
    "$NXPATCH" apply --policy "$POLICY" --evidence "$T/$name.jsonl" "$T/before/$img" \
      -o "$T/after/$img" >"$T/apply.out" 2>&1 || fail "$name: apply $img: $(cat "$T/apply.out")"
    secs=$(printf '%s\n' "${want//,/$'\n'}" | sed -n "s/^$img://p" | paste -sd,)
    "$PYTHON" - "$T/before/$img" "$T/after/$img" "$secs" <<'PY' || fail "$name: $img patched wrongly"
import sys, pefile
a, b = pefile.PE(sys.argv[1]), pefile.PE(sys.argv[2])
want = set(sys.argv[3].split(","))
for sa, sb in zip(a.sections, b.sections):
    n = sa.Name.rstrip(b"\0").decode()
    added = sb.Characteristics & ~sa.Characteristics
    if n in want:
        assert added == 0x20000000, f"{n}: added 0x{added:x}, want execute"
    else:
        assert sa.Characteristics == sb.Characteristics, f"{n} changed"
assert b.OPTIONAL_HEADER.CheckSum == b.generate_checksum()
PY
    # verify with the trace, under a policy that asks for nothing: the
    # original fails (a section that faulted stays non-executable), the copy
    # passes; and under the fixing policy too.
    for pol in "$T/empty.yaml" "$POLICY"; do
      vrc=0
      "$NXPATCH" verify --policy "$pol" --evidence "$T/$name.jsonl" "$T/before/$img" \
        >"$T/verify.out" 2>&1 || vrc=$?
      [ "$vrc" -eq 1 ] || fail "$name: verify --evidence on the original: exit $vrc: $(cat "$T/verify.out")"
      "$NXPATCH" verify --policy "$pol" --evidence "$T/$name.jsonl" "$T/after/$img" \
        >"$T/verify.out" 2>&1 || fail "$name: verify --evidence on the patched copy: $(cat "$T/verify.out")"
    done
    # (the last run: the fixing policy on the copy) the W+X it made stays sanctioned by
    # its allow_wx rule, through the trace's evidence
    grep -q "refused: a trace saw code run in section" "$T/verify.out" && fail "$name: copy still refused"
    grep -q "no rule allows it" "$T/verify.out" && fail "$name: W+X of the copy not sanctioned: $(cat "$T/verify.out")"
    "$NXPATCH" verify --policy "$T/empty.yaml" --evidence "$T/$name.jsonl" "$T/before/$img" \
      >"$T/verify.out" 2>&1 || true
    grep -q "refused: a trace saw code run in section" "$T/verify.out" ||
      fail "$name: verify does not name the traced fault: $(cat "$T/verify.out")"
  done

  # After: no fault at all, and the program does what it should.
  rc=0
  "$NXPATCH" trace -o "$T/$name.after.jsonl" -C "$T/after" "$T/after/$prog" \
    >"$T/trace.out" 2>"$T/trace.err" || rc=$?
  got=$(faults "$T/$name.after.jsonl")
  [ "$got" = - ] && [ "$rc" -eq 0 ] ||
    fail "$name: after apply, trace exit $rc, faults $got: $(cat "$T/trace.out" "$T/trace.err")"
  grep -q "exited with status $status " "$T/trace.out" ||
    fail "$name: after apply, exit status not $status: $(cat "$T/trace.out")"
  if [ "$line" != - ]; then
    grep -qxF "$line" <<<"$(tr -d '\r' <"$T/trace.out")" || fail "$name: after apply, no line '$line'"
  fi
  # And without the debugger, under plain wine64, too.
  run_wine "$T/after" "$prog"
  [ "$rc" -eq "$status" ] || fail "$name: patched copy under wine64: exit $rc, want $status: $(cat "$T/out")"
  echo "$name: after apply, no faults, exit $status"
done

# 32-bit samples.
if [ -x /usr/lib/wine/wine ]; then
  for n in thunk_section32.exe; do
    p=$(sample "$n")
    rc=0
    "$NXPATCH" trace -o "$T/$n.jsonl" "$p" >"$T/trace.out" 2>&1 || rc=$?
    [ "$rc" -le 1 ] || fail "$n: trace exited $rc: $(cat "$T/trace.out")"
    echo "$n: traced (32-bit): $(faults "$T/$n.jsonl")"
  done
else
  rc=0
  "$NXPATCH" trace "$(sample thunk_section32.exe)" >"$T/trace.out" 2>&1 || rc=$?
  [ "$rc" -eq 3 ] && grep -q "a 32-bit program: tracing it needs wine32, which is not installed" "$T/trace.out" ||
    fail "a 32-bit program without wine32: exit $rc, want 3 and a message: $(cat "$T/trace.out")"
  # Past that check (an explicit loader), a trace in which nothing ran is still refused.
  rc=0
  NXPATCH_WINE=/usr/lib/wine/wine64 "$NXPATCH" trace "$(sample thunk_section32.exe)" >"$T/trace.out" 2>&1 || rc=$?
  [ "$rc" -eq 3 ] && grep -q "the program never ran" "$T/trace.out" ||
    fail "a 32-bit program run by wine64 alone: exit $rc, want 3: $(cat "$T/trace.out")"
  echo "NOTE: 32-bit tracing was not run: wine32 is not installed (/usr/lib/wine/wine);" \
       "nxpatch trace refuses 32-bit programs with a clear message, checked"
fi
echo "trace: every 64-bit sample faults exactly where expected, and not at all after apply"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `nxpatch trace` options and edge cases, with samples/trace_probe64.exe:
# arguments after --, the working directory, the program's exit status, a
# fault flood kept as one site, a DLL loaded later, code in heap memory (and
# the planner's nx_compat refusal naming it, in plan and verify), a program that
# never exits, --format jsonl, and the errors (exit 2 and 3, clear messages).
. "$(dirname "$0")/lib.sh"
require_wine
[ -f "$NXP_BINARY_DIR/nxpatch-trace.exe" ] ||
  skip "nxpatch-trace.exe not built (apt-get install gcc-mingw-w64-x86-64)"
P="$T/d/trace_probe64.exe"
mkdir -p "$T/d" "$T/work dir"
cp "$(sample trace_probe64.exe)" "$(sample thunkdll64.dll)" "$T/d/"

# trace ARGS...: runs nxpatch trace; $rc, $T/o (stdout), $T/e (stderr).
trace() {
  rc=0
  "$NXPATCH" trace "$@" >"$T/o" 2>"$T/e" || rc=$?
  tr -d '\r' <"$T/o" >"$T/o2" && mv "$T/o2" "$T/o"
}
want_rc() { [ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1: $(cat "$T/o" "$T/e")"; }
jq_py() { "$PYTHON" -c "$1" "$T/$2"; }

# Arguments after --, quoting kept; working directory; exit status reported.
trace -C "$T/work dir" -o "$T/args.jsonl" "$P" -- args 'a b' 'c"d' '' 'e\f'
want_rc 0 "args"
grep -qxF 'arg: a b' "$T/o" && grep -qxF 'arg: c"d' "$T/o" && grep -qxF 'arg: ' "$T/o" &&
  grep -qxF 'arg: e\f' "$T/o" || fail "arguments not passed whole: $(cat "$T/o")"
grep -q '^cwd: .*\\work dir$' "$T/o" || fail "working directory not used: $(cat "$T/o")"
grep -q 'exited with status 7 (0x7)' "$T/o" || fail "exit status not reported: $(cat "$T/o")"
[ ! -s "$T/args.jsonl" ] || fail "faults recorded for a program without any"
echo "args, cwd and exit status: ok"

# Options after the program are rejected (arguments go after --).
trace "$P" args x
want_rc 2 "arguments without --"
grep -q "after '--'" "$T/e" || fail "no hint about --: $(cat "$T/e")"

# A flood: 300 faults on one page are one site with count 300.
trace -o "$T/flood.jsonl" "$P" -- flood 300
want_rc 1 "flood"
jq_py '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 1, r
assert r[0]["count"] == 300 and r[0]["section"] == ".data" and r[0]["chance"] == "first", r[0]
' flood.jsonl || fail "flood not kept as one site of 300: $(cat "$T/flood.jsonl")"
grep -q "1 fault site (300 faults)" "$T/o" || fail "flood summary: $(cat "$T/o")"
echo "flood of 300 faults: one site, count 300"

# A DLL loaded after start (LoadLibrary) is named as the faulting module.
trace -C "$T/d" -o "$T/dll.jsonl" "$P" -- dll
want_rc 1 "dll"
jq_py '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert [(x["module_name"], x["section"]) for x in r] == [("thunkdll64.dll", ".thunk")], r
assert r[0]["program"]["name"] == "trace_probe64.exe", r
assert r[0]["module"].endswith("/d/thunkdll64.dll"), r
' dll.jsonl || fail "late DLL not attributed: $(cat "$T/dll.jsonl")"
grep -q 'exited with status 42' "$T/o" || fail "dll mode did not finish: $(cat "$T/o")"
echo "DLL loaded later: fault attributed to thunkdll64.dll .thunk"

# Code generated in heap memory: recorded outside every image, with the
# region's protection and allocation; plan refuses nx_compat naming it.
trace -o "$T/heap.jsonl" "$P" -- heap
want_rc 1 "heap"
jq_py '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 1 and r[0]["module"] is None, r
g = r[0]["region"]
assert g["type"] == "private" and g["protect"] == 4 and g["allocation_protect"] == 4, g
assert r[0]["program"]["name"] == "trace_probe64.exe", r
' heap.jsonl || fail "heap fault record: $(cat "$T/heap.jsonl")"
grep -q "outside every image: private memory, PAGE_READWRITE" "$T/o" || fail "heap summary: $(cat "$T/o")"
"$NXPATCH" plan "$P" >"$T/plan.out" 2>&1 || fail "plan without evidence: $(cat "$T/plan.out")"
grep -q "+nx_compat" "$T/plan.out" || fail "without the trace, the default policy should opt in: $(cat "$T/plan.out")"
"$NXPATCH" plan --evidence "$T/heap.jsonl" "$P" >"$T/plan.out" 2>&1 || fail "plan: $(cat "$T/plan.out")"
grep -q "refused \[rule default-nx-compat\]: nx_compat would be set while a trace saw code run outside every image.*private memory, PAGE_READWRITE.*heap.jsonl:1" "$T/plan.out" ||
  fail "no nx_compat refusal naming the heap fault: $(cat "$T/plan.out")"
rc=0; "$NXPATCH" apply --evidence "$T/heap.jsonl" "$P" -o "$T/heap-out.exe" >"$T/apply.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ ! -e "$T/heap-out.exe" ] || fail "apply wrote an image the plan refuses: exit $rc"
# An image opted in anyway fails verify --evidence.
mkdir "$T/optin"
# (The static evidence finds the .data thunk, so .data gains execute, W+X
# allowed, before nx_compat is set: only the heap fault is left.)
printf 'nxpatch: 1\nrules:\n  - id: code\n    when: {code_in_data: true}\n    actions:\n      - section: "@code-in-data"\n        add: [execute]\n        allow_wx: true\n  - id: nx\n    actions:\n      - set: [nx_compat]\n' >"$T/optin.yaml"
"$NXPATCH" apply --policy "$T/optin.yaml" "$P" -o "$T/optin/trace_probe64.exe" >"$T/apply.out" 2>&1 ||
  fail "apply: $(cat "$T/apply.out")"
rc=0; "$NXPATCH" verify --evidence "$T/heap.jsonl" "$T/optin/trace_probe64.exe" >"$T/verify.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "nx_compat would stay set while a trace saw code run outside every image" "$T/verify.out" ||
  fail "verify --evidence on an opted-in heap-code image: exit $rc: $(cat "$T/verify.out")"
echo "heap code: recorded with its region, nx_compat refused, verify fails an opted-in copy"

# A program that never exits is ended at the timeout, clearly.
start=$(date +%s)
trace --timeout 3 -o "$T/loop.jsonl" "$P" -- loop
want_rc 0 "loop"
[ $(( $(date +%s) - start )) -lt 60 ] || fail "the timeout did not end the program"
grep -q "still running after the 3 s timeout: ended it" "$T/e" || fail "no timeout message: $(cat "$T/e")"
grep -q "was still running after 3 s and was ended" "$T/o" || fail "summary: $(cat "$T/o")"
echo "never-ending program: ended at the timeout"

# --format jsonl: records on stdout, the program's output moved to stderr.
trace --format jsonl "$P" -- data
want_rc 1 "jsonl"
"$PYTHON" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/o" ||
  fail "stdout is not JSONL: $(cat "$T/o")"
[ "$(wc -l <"$T/o")" -eq 1 ] || fail "want one record: $(cat "$T/o")"
trace --format jsonl "$P" -- args hello
grep -q "arg: hello" "$T/e" && ! grep -q "arg: hello" "$T/o" || fail "program output not on stderr"
echo "--format jsonl: ok"

# Errors.
trace "$T/nope.exe";                    want_rc 3 "missing program"; grep -q "not a file" "$T/e" || fail "$(cat "$T/e")"
echo notpe >"$T/x.exe"
trace "$T/x.exe";                       want_rc 3 "not PE";          grep -q "not a PE image" "$T/e" || fail "$(cat "$T/e")"
trace --timeout -1 "$P";                want_rc 2 "bad timeout"
trace --timeout 1x "$P";                want_rc 2 "bad timeout"
trace;                                  want_rc 2 "no program"
NXPATCH_TRACE_HELPER=$T/none.exe trace "$P" -- data
want_rc 3 "missing helper"; grep -q "NXPATCH_TRACE_HELPER=.* is not an executable file" "$T/e" || fail "$(cat "$T/e")"
NXPATCH_WINE=$T/no-wine trace "$P" -- data
want_rc 3 "missing wine"; grep -q "no-wine not found: tracing runs the program under wine64" "$T/e" || fail "$(cat "$T/e")"
trace -o "$T/no/such/dir/x.jsonl" "$P" -- data
want_rc 3 "unwritable output"
echo "errors: clear messages, exit 2 (usage) and 3 (cannot trace)"

# A trace of one build does not apply to another build with the same name.
mkdir "$T/other"
cp "$(sample thunk_section64.exe)" "$T/other/trace_probe64.exe"
"$NXPATCH" plan --evidence "$T/flood.jsonl" "$T/other/trace_probe64.exe" >"$T/plan.out" 2>&1 || true
grep -q "another build (SizeOfImage or TimeDateStamp differ); ignored" "$T/plan.out" ||
  fail "no warning for another build: $(cat "$T/plan.out")"
echo "another build of the same name: warned and ignored"
echo "trace options: ok"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The LIEF worker is a separate executable, nxpatch-lief-worker: nxpatch
# itself does not link LIEF, finds the worker next to itself (or through
# $NXP_LIEF_WORKER), and without it refuses every cross-check with a clear
# message instead of skipping it. Each patching command leaves the target
# untouched then; --no-cross-check (an explicit choice) still works.
. "$(dirname "$0")/lib.sh"

WORKER=$(dirname "$NXPATCH")/nxpatch-lief-worker
[ -x "$WORKER" ] || fail "$WORKER not built next to $NXPATCH"
if grep -qi lief <<<"$(ldd "$NXPATCH")"; then
  fail "nxpatch links LIEF: $(ldd "$NXPATCH" | grep -i lief)"
fi
grep -qi lief <<<"$(ldd "$WORKER")" || fail "the worker does not link LIEF"
echo "ok: nxpatch does not link LIEF, nxpatch-lief-worker does"

POL=$T/pol.yaml
printf 'nxpatch: 1\nrules:\n  - id: dep\n    actions:\n      - set: [nx_compat]\n' > "$POL"
cp "$(sample nonx32.exe)" "$T/a.exe"
before=$(sha "$T/a.exe")

# The build tree's binary, as it is: the worker next to it is found.
"$NXPATCH" apply -q --policy "$POL" -o "$T/ok.exe" "$T/a.exe" 2> "$T/ok.err" ||
  fail "apply with the worker next to nxpatch: $(cat "$T/ok.err")"
echo "ok: the worker next to nxpatch is found"

# A copy of nxpatch with no worker beside it (and none installed there).
mkdir "$T/bin"
cp "$NXPATCH" "$T/bin/nxpatch"
LONE=$T/bin/nxpatch
unset NXP_LIEF_WORKER
rc=0
"$LONE" apply -q --policy "$POL" --in-place "$T/a.exe" 2> "$T/lone.err" || rc=$?
[ "$rc" -ne 0 ] || fail "apply without a worker exited 0"
grep -q "nxpatch-lief-worker not found: not next to this program ($T/bin)" "$T/lone.err" ||
  fail "apply without a worker: no clear message: $(cat "$T/lone.err")"
grep -q "set NXP_LIEF_WORKER" "$T/lone.err" || fail "the message does not say what to do"
[ "$(sha "$T/a.exe")" = "$before" ] || fail "apply without a worker changed the file"
ls "$T" | grep -v '^\(a.exe\|ok.exe\|ok.err\|lone.err\|bin\|pol.yaml\)$' &&
  fail "apply without a worker left files behind"
echo "ok: without a worker apply refuses (exit $rc), the file is untouched: $(head -1 "$T/lone.err")"

rc=0
"$LONE" scan --cross-check --format json "$T/a.exe" > "$T/scan.json" 2> "$T/scan.err" || rc=$?
[ "$rc" -ne 0 ] || fail "scan --cross-check without a worker exited 0"
"$PYTHON" - "$T/scan.json" <<'PY' || fail "scan --cross-check without a worker (above)"
import json, sys
cc = json.load(open(sys.argv[1]))["files"][0]["cross_check"]
assert not cc["agree"] and "nxpatch-lief-worker not found" in cc["error"], cc
PY
echo "ok: scan --cross-check without a worker reports the error (exit $rc)"

# An override that names nothing is an error too, never a fallback.
rc=0
NXP_LIEF_WORKER=$T/nope "$NXPATCH" apply -q --policy "$POL" --in-place "$T/a.exe" \
  2> "$T/env.err" || rc=$?
[ "$rc" -ne 0 ] || fail "apply with NXP_LIEF_WORKER naming nothing exited 0"
grep -q "NXP_LIEF_WORKER=$T/nope is not an executable file" "$T/env.err" ||
  fail "no clear message for a bad NXP_LIEF_WORKER: $(cat "$T/env.err")"
[ "$(sha "$T/a.exe")" = "$before" ] || fail "apply with a bad NXP_LIEF_WORKER changed the file"
echo "ok: a bad NXP_LIEF_WORKER is refused"

# The override makes the lone copy work; so does the explicit opt-out.
NXP_LIEF_WORKER=$WORKER "$LONE" apply -q --policy "$POL" -o "$T/env.exe" "$T/a.exe" \
  2> "$T/env2.err" || fail "apply with NXP_LIEF_WORKER set: $(cat "$T/env2.err")"
"$LONE" apply -q --no-cross-check --policy "$POL" -o "$T/nocc.exe" "$T/a.exe" \
  2> "$T/nocc.err" || fail "apply --no-cross-check without a worker: $(cat "$T/nocc.err")"
cmp "$T/env.exe" "$T/ok.exe" || fail "outputs differ"
cmp "$T/nocc.exe" "$T/ok.exe" || fail "outputs differ"
echo "ok: NXP_LIEF_WORKER finds it; --no-cross-check needs none"
echo PASS

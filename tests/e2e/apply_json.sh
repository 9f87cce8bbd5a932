#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# apply's JSON report is plan's, judge's findings included, plus the
# result: one judge decides what apply writes and what every report says.
# Over the samples under the built-in policy and the shipped ones.
. "$(dirname "$0")/lib.sh"

imgs=()
for f in "$NXP_SAMPLES_DIR"/*.exe "$NXP_SAMPLES_DIR"/*.dll; do imgs+=("$f"); done
[ "${#imgs[@]}" -ge 8 ] || fail "samples missing: ${#imgs[@]} found"

n=0
for pol in "" "$NXP_SOURCE_DIR"/rules/*.yaml; do
  popt=()
  [ -n "$pol" ] && popt=(--policy "$pol")
  name=${pol:+$(basename "$pol")}
  rm -rf "$T/out"
  mkdir "$T/out"
  rc=0
  "$NXPATCH" plan --format json "${popt[@]}" "${imgs[@]}" >"$T/plan.json" || rc=$?
  [ $rc -le 1 ] || fail "${name:-default}: plan exit $rc"
  rc=0
  "$NXPATCH" apply --format json "${popt[@]}" --out-dir "$T/out" "${imgs[@]}" >"$T/apply.json" \
    2>"$T/apply.err" || rc=$?
  [ $rc -le 1 ] || fail "${name:-default}: apply exit $rc: $(head -3 "$T/apply.err")"
  out=$("$PYTHON" - "$T/plan.json" "$T/apply.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))["files"]
apply = json.load(open(sys.argv[2]))["files"]
assert len(plan) == len(apply), (len(plan), len(apply))
for p, a in zip(plan, apply):
    assert "result" in a, a["path"]
    assert "findings" in a, f"{a['path']}: apply reports no findings"
    a = {k: v for k, v in a.items() if k != "result"}
    if p != a:
        keys = sorted(k for k in set(p) | set(a) if p.get(k) != a.get(k))
        sys.exit(f"{p['path']}: apply's report differs from plan's in {keys}")
print(len(plan))
PY
) || fail "${name:-default}: $out"
  n=$((n + out))
done
echo "ok: $n reports: apply's is plan's, findings included, plus its result"
echo "apply_json: all checks passed"

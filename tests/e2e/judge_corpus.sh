#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One judge, tested as a property over real images (issue 13): for the
# built-in default and every shipped policy, over the Debian test corpus
# (wine amd64+i386, mingw, EFI, .NET, clamav-testfiles, win32-loader) and the
# samples:
#   1. verify reports an image compliant exactly when plan has nothing to do
#      (nothing pending, nothing refused); an image that cannot be read fails
#      both;
#   2. after apply writes an image, verify and plan --check with the same
#      policy pass on it.
# Then the safety refusals on the clamav images: a policy that sets
# nx_compat refuses clam-aspack/pespin/wwpack and names the entry point, and
# the default policy no longer opts the packed images with W+X sections in.
. "$(dirname "$0")/lib.sh"
require_corpus

IN=()
for d in wine64 wine32 mingw efi dotnet clamav other; do
  [ -d "$TC/$d" ] || fail "test corpus lacks $d/"
  IN+=("$TC/$d")
done
IN+=("$NXP_SAMPLES_DIR")

compare() { # NAME: plan-NAME.jsonl vs verify-NAME.jsonl
  "$PYTHON" - "$T/plan-$1.jsonl" "$T/verify-$1.jsonl" "$1" <<'PY'
import json, sys
def load(p):
    out = {}
    for line in open(p):
        d = json.loads(line)
        if "path" in d:
            out[d["path"]] = d
    return out
plan, verify, name = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
assert plan.keys() == verify.keys(), (name, sorted(plan.keys() ^ verify.keys())[:5])
bad = []
for p, d in plan.items():
    v = verify[p]
    pe, ve = d.get("status") == "error", v.get("status") == "error"
    if pe or ve:
        if pe != ve:
            bad.append((p, "read by one and not the other"))
        continue
    nothing = d["plan"] == "nothing_to_do"
    if nothing != v["compliant"]:
        bad.append((p, d["plan"], v["problems"][:2]))
    fails = [f for f in v["findings"] if f["verdict"] != "posture"]
    if bool(fails) == v["compliant"]:
        bad.append((p, "verdict disagrees with the findings"))
for b in bad[:10]:
    print("disagree:", name, b, file=sys.stderr)
n = len(plan)
print(f"{name}: {n} images, {sum(1 for d in plan.values() if d.get('plan') == 'nothing_to_do')} compliant, {len(bad)} disagreements")
sys.exit(1 if bad or n < 100 else 0)
PY
}

for p in default "$NXP_SOURCE_DIR"/rules/*.yaml; do
  if [ "$p" = default ]; then pol=(); n=builtin; else pol=(--policy "$p"); n=$(basename "$p" .yaml); fi
  "$NXPATCH" plan -r -q -j 2 "${pol[@]}" --format jsonl "${IN[@]}" >"$T/plan-$n.jsonl" 2>/dev/null || true
  "$NXPATCH" verify -r -q -j 2 "${pol[@]}" --format jsonl "${IN[@]}" >"$T/verify-$n.jsonl" 2>/dev/null || true
  compare "$n" || fail "verify and plan disagree under $n"

  # apply, then judge the outputs from the files alone (one output directory
  # per input directory).
  rm -rf "$T/out"
  written=0
  for d in "${IN[@]}"; do
    o="$T/out/$(basename "$d")"; mkdir -p "$o"
    rc=0; "$NXPATCH" apply -r -q -j 2 "${pol[@]}" --no-cross-check --out-dir "$o" "$d" \
      >"$T/apply.txt" 2>"$T/apply.err" || rc=$?
    [ $rc -le 3 ] || fail "apply under $n exited $rc: $(tail -3 "$T/apply.err")"
    w=$(find "$o" -type f | wc -l)
    changed=$(grep -o '[0-9]* changed' "$T/apply.txt" | tail -1 | cut -d' ' -f1)
    [ "$w" -eq "$changed" ] || fail "$n: apply changed $changed images of $d but wrote $w"
    written=$((written + w))
  done
  if [ "$written" -gt 0 ]; then
    "$NXPATCH" verify -r -q -j 2 "${pol[@]}" "$T/out" >"$T/v.txt" 2>&1 ||
      fail "$n: verify fails on apply's output: $(grep -A3 'does not comply' "$T/v.txt" | head -20)"
    "$NXPATCH" plan --check -r -q -j 2 "${pol[@]}" "$T/out" >"$T/p.txt" 2>&1 ||
      fail "$n: plan --check is not empty on apply's output: $(grep -v 'nothing to do' "$T/p.txt" | head -20)"
  fi
  echo "$n: apply wrote $written images; verify and plan --check pass on every one"
  rm -rf "$T/out"
done

# The unsafe cases: an entry point in a writable, non-executable section.
CL=$(find "$TC/clamav" -name clam-aspack.exe -printf '%h\n' | head -1)
[ -n "$CL" ] || fail "clamav-testfiles not in the test corpus"
cat >"$T/nx.yaml" <<'EOF'
nxpatch: 1
rules:
  - id: nx-everything
    actions:
      - set: [nx_compat]
EOF
for f in clam-aspack.exe clam-pespin.exe clam-wwpack.exe; do
  rc=0; "$NXPATCH" plan --check --policy "$T/nx.yaml" --format json "$CL/$f" >"$T/p.json" || rc=$?
  [ $rc -eq 1 ] || fail "$f: plan --check exited $rc, want 1"
  "$PYTHON" - "$T/p.json" "$f" <<'PY' || fail "$f: not refused with its entry point named"
import json, sys
d = json.load(open(sys.argv[1]))["files"][0]
assert d["plan"] == "refused", d["plan"]
r = [f for f in d["findings"] if f["id"] == "refused-code-outside-exec"]
assert r and "entry_point at 0x" in r[0]["message"] and r[0]["policy_rule"] == "nx-everything", r
assert r[0]["section"] and r[0]["rva"] is not None, r[0]
print(sys.argv[2], "refused:", r[0]["message"])
PY
  rc=0; "$NXPATCH" verify --policy "$T/nx.yaml" "$CL/$f" >"$T/v.txt" || rc=$?
  [ $rc -eq 1 ] && grep -q 'entry_point at 0x' "$T/v.txt" || fail "$f: verify: $(cat "$T/v.txt")"
  mkdir -p "$T/o"
  rc=0; "$NXPATCH" apply --policy "$T/nx.yaml" --no-cross-check "$CL/$f" -o "$T/o/$f" >/dev/null 2>&1 || rc=$?
  [ $rc -eq 1 ] && [ ! -e "$T/o/$f" ] || fail "$f: apply wrote it (rc $rc)"
done

# Packed images keep W+X sections: the default policy does not opt them in.
for f in clam-upx.exe clam-petite.exe clam-yc.exe clam.ea05.exe clam.ea06.exe; do
  rc=0; "$NXPATCH" plan --check --format json "$CL/$f" >"$T/p.json" || rc=$?
  [ $rc -eq 1 ] || fail "$f: plan --check exited $rc, want 1"
  "$PYTHON" - "$T/p.json" "$f" <<'PY' || fail "$f: W+X not refused"
import json, sys
d = json.load(open(sys.argv[1]))["files"][0]
assert d["plan"] == "refused", d["plan"]
assert any(f["id"] == "refused-wx-remains" and f["sarif"] == "BA2021" for f in d["findings"]), d["findings"]
PY
  rc=0; "$NXPATCH" verify "$CL/$f" >"$T/v.txt" || rc=$?
  [ $rc -eq 1 ] && grep -q 'stays writable and executable' "$T/v.txt" || fail "$f: verify: $(cat "$T/v.txt")"
done
echo "judge_corpus: all checks passed"

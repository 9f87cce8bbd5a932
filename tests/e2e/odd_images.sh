#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Odd but valid images (tests/tools/odd_images.h) through the CLI: scan never
# dies by a signal; an image the reader accepts scans with exit 0 and a JSON
# report listing every section; one it refuses exits 3 with a specific message
# and a JSON failure entry naming the code.
. "$(dirname "$0")/lib.sh"

GEN=$NXP_BINARY_DIR/fuzz/nxp_gen_images
[ -x "$GEN" ] || fail "$GEN not built"
mkdir -p "$T/odd"
"$GEN" odd "$T/odd"

# run OUT CMD...: sets RC; a signal is a failure.
run() {
  local out=$1; shift
  RC=0
  "$@" >"$out.stdout" 2>"$out.stderr" </dev/null || RC=$?
  [ "$RC" -lt 128 ] || fail "$* died by signal $((RC - 128)): $(tail -3 "$out.stderr")"
}

n=0
while read -r name code; do
  f=$T/odd/$name.exe
  run "$T/$name.text" "$NXPATCH" scan "$f"
  run "$T/$name.json" "$NXPATCH" scan --format json "$f"
  if [ "$code" -eq 0 ]; then
    [ "$RC" -eq 0 ] || fail "$name: scan exit $RC: $(cat "$T/$name.json.stderr")"
    "$PYTHON" - "$T/$name.json.stdout" <<'PY' || fail "$name: bad JSON report"
import json, sys
d = json.load(open(sys.argv[1]))["files"][0]
assert d["status"] == "ok", d
assert isinstance(d["sections"], list)
PY
    echo "ok       $name"
  else
    [ "$RC" -eq 3 ] || fail "$name: want exit 3 (refused), got $RC"
    [ -s "$T/$name.json.stderr" ] || fail "$name: refused without a message"
    "$PYTHON" - "$T/$name.json.stdout" <<'PY' || fail "$name: bad JSON failure entry"
import json, sys
d = json.load(open(sys.argv[1]))["files"][0]
assert d["status"] == "error" and d["code"].startswith("NXP_E_") and d["error"], d
PY
    echo "refused  $name: $(sed 's/.*: //' "$T/$name.json.stderr" | head -1)"
  fi
  n=$((n + 1))
done <"$T/odd/expect.txt"
[ "$n" -ge 10 ] || fail "only $n odd images generated"

# plan and apply (default policy, and a permissive one that strips
# signatures and allows W+X): each either succeeds and the output re-scans
# cleanly with nx_compat set, or refuses with a reason; never a signal.
cat >"$T/permissive.yaml" <<'YAML'
nxpatch: 1
settings:
  signature: strip
  checksum: always
rules:
  - id: odd-nx
    actions:
      - set: [nx_compat]
      - section: "@code-in-data"
        add: [execute]
        allow_wx: true
YAML
for pol in default permissive; do
  popt=()
  [ "$pol" = default ] || popt=(--policy "$T/permissive.yaml")
  while read -r name code; do
    f=$T/odd/$name.exe
    out=$T/out-$pol
    mkdir -p "$out"
    run "$T/$name.plan" "$NXPATCH" plan "${popt[@]}" "$f"
    run "$T/$name.apply" "$NXPATCH" apply "${popt[@]}" "$f" --out-dir "$out"
    case "$RC" in
      0)
        [ "$code" -eq 0 ] || fail "$pol/$name: apply accepted an image the reader refuses"
        if [ -f "$out/$name.exe" ]; then
          run "$T/$name.rescan" "$NXPATCH" scan --format json "$out/$name.exe"
          [ "$RC" -eq 0 ] || fail "$pol/$name: output does not re-scan: $(cat "$T/$name.rescan.stderr")"
          grep -q '"nx_compat"' "$T/$name.rescan.stdout" || fail "$pol/$name: output lacks nx_compat"
          echo "applied  $pol/$name"
        else
          grep -q 'nothing to do' "$T/$name.apply.stdout" "$T/$name.apply.stderr" ||
            fail "$pol/$name: exit 0, no output and not 'nothing to do'"
          echo "nothing  $pol/$name"
        fi ;;
      1)
        grep -q 'refused' "$T/$name.apply.stdout" || fail "$pol/$name: exit 1 without a refusal reason"
        [ ! -e "$out/$name.exe" ] || fail "$pol/$name: refused but wrote an output"
        echo "refused  $pol/$name: $(grep -m1 'refused \[' "$T/$name.apply.stdout" | sed 's/^ *//' | cut -c1-100)" ;;
      3)
        [ "$code" -ne 0 ] || fail "$pol/$name: apply could not process a valid image: $(cat "$T/$name.apply.stderr")"
        [ -s "$T/$name.apply.stderr" ] || fail "$pol/$name: exit 3 without a message" ;;
      *) fail "$pol/$name: apply exit $RC: $(cat "$T/$name.apply.stderr")" ;;
    esac
  done <"$T/odd/expect.txt"
done

# A path that is not UTF-8 stays in the JSON report (escaped).
cp "$T/odd/single_section.exe" "$T/odd/$(printf 'na\xffme.exe')"
run "$T/nonutf8" "$NXPATCH" scan --format json "$T/odd/$(printf 'na\xffme.exe')"
[ "$RC" -eq 0 ] || fail "non-UTF-8 path: exit $RC"
grep -q 'na\\\\xffme.exe' "$T/nonutf8.stdout" || fail "non-UTF-8 path lost: $(cat "$T/nonutf8.stdout")"
# ... and through the batch workers in text mode, the whole report survives.
"$NXPATCH" scan -j 2 "$T/odd/$(printf 'na\xffme.exe')" > "$T/nonutf8.txt" || fail "text scan of a non-UTF-8 path failed"
grep -q 'na\\xffme.exe$' "$T/nonutf8.txt" && grep -q '^  machine ' "$T/nonutf8.txt" ||
  fail "text report lost for a non-UTF-8 path: $(cat "$T/nonutf8.txt")"
echo "PASS ($n images)"

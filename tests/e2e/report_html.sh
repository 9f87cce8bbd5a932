#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scan, plan and verify --format html over a tree of samples (batch mode,
# -j 2), checked in headless Chromium through the DevTools protocol
# (tests/e2e/cdp.py, python3 only): the version, date and policy, counts
# equal to the JSON summary, every image listed, refusal reasons and
# findings visible without clicking, identical reasons grouped, evidence,
# the verdict/finding/text/reason filters changing the visible rows,
# screenshots at 1280 and 390 px (no horizontal scrolling on the phone
# width), no script errors. One image has a hostile name ('<!--<script>',
# '</script>' through a directory named '<', an <img onerror>, quotes, an
# ampersand, bytes that are not UTF-8): it must render as text and nothing
# in it may become markup or run.
. "$(dirname "$0")/lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || skip "chromium not installed (apt-get install chromium)"

mkdir -p "$T/imgs/sub" "$T/imgs/<"
for s in thunk_section64.exe thunk_section32.exe hello64.exe norelocs64.exe thunkdll64.dll \
         thunk_data64.exe; do
  cp "$(sample $s)" "$T/imgs/sub/$s"
done
cp "$(sample nonx32.exe)" "$T/imgs/nonx32.exe"
cp "$(sample evidence/ev_call64.exe)" "$T/imgs/sub/ev_call64.exe"
# The hostile name: with the directory '<' its path holds '</script>'.
HOSTILE=$'script><!--<script>x<img src=x onerror="window.__pwned=1">\'&amp;\xff\xfe.exe'
cp "$(sample nonx32.exe)" "$T/imgs/<"/"$HOSTILE"
# A damaged image (found by -r, not a PE image beyond its headers): a failure row.
head -c 1024 "$(sample hello64.exe)" > "$T/imgs/sub/cut<b>.exe"
# The policy's name is hostile too (it is shown in the page's header).
POL="$T/<i>pol\"'&amp;.yaml"
cat > "$POL" <<'Y'
nxpatch: 1
rules:
  - id: thunks
    when: {has_section: [".thunk"]}
    actions:
      - section: ".thunk"
        add: [execute]
        allow_wx: true
  - id: relocs
    when: {path: ["**/norelocs64.exe"]}
    actions:
      - set: [dynamic_base]
  - id: code-in-data
    when: {code_in_data: true}
    actions:
      - section: "@code-in-data"
        add: [execute]
Y
export SOURCE_DATE_EPOCH=1700000000
for cmd in scan plan verify; do
  pol=(--policy "$POL"); [ $cmd = scan ] && pol=()
  rc=0; "$NXPATCH" $cmd -r -q -j 2 --format html "${pol[@]}" "$T/imgs" > "$T/$cmd.html" 2>"$T/$cmd.err" || rc=$?
  # 3: the damaged image failed (the others still get their rows).
  [ $rc -eq 3 ] || fail "$cmd --format html exited $rc, want 3: $(cat "$T/$cmd.err")"
  rc=0; "$NXPATCH" $cmd -r -q -j 1 --format json "${pol[@]}" "$T/imgs" > "$T/$cmd.json" 2>/dev/null || rc=$?
  [ $rc -eq 3 ] || fail "$cmd --format json exited $rc"
  # Streamed like the other formats: -j 1 writes the same bytes as -j 2
  # (the summary's seconds aside).
  "$NXPATCH" $cmd -r -q -j 1 --format html "${pol[@]}" "$T/imgs" > "$T/$cmd.j1.html" 2>/dev/null || true
  sed -E 's|"seconds">[0-9.]+<|"seconds">S<|' "$T/$cmd.html" > "$T/a" 
  sed -E 's|"seconds">[0-9.]+<|"seconds">S<|' "$T/$cmd.j1.html" > "$T/b"
  cmp -s "$T/a" "$T/b" || fail "$cmd: -j 1 and -j 2 pages differ: $(diff "$T/a" "$T/b" | head -5)"
  # Self-contained: no external scripts, styles, images or fetches.
  grep -Eiq '<(script|link|img|iframe)[^>]*(src|href)=|https?://|@import|url\(' "$T/$cmd.html" &&
    fail "$cmd: the page references an external resource"
  # The hostile name never appears raw in the page's bytes.
  grep -aqF '<img src=x' "$T/$cmd.html" && fail "$cmd: the hostile name is in the page unescaped"
  grep -aqF '<!--<script>' "$T/$cmd.html" && fail "$cmd: the hostile name is in the page unescaped"
done
# Usage: html is for scan, plan and verify only.
rc=0; "$NXPATCH" apply --format html -o "$T/x.exe" "$(sample hello64.exe)" >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "apply --format html exited $rc, want 2 (usage)"

"$PYTHON" "$NXP_SOURCE_DIR/tests/e2e/report_html.py" check "$T" "$("$NXPATCH" --version)" \
  "$T/imgs/<"/"$HOSTILE" || fail "the HTML reports are not as expected"
echo "report_html: all checks passed"

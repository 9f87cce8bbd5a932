#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# plan --format html: one self-contained page (no external resources) for a
# batch dry run, loaded in headless Chromium. The dumped DOM holds a row per
# image; the page's script applies ?status= and ?rule= on load, so the
# filter is checked in the DOM Chromium dumps.
. "$(dirname "$0")/lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || skip "chromium not installed (apt-get install chromium)"

mkdir -p "$T/imgs/sub"
for s in thunk_section64.exe thunk_section32.exe hello64.exe norelocs64.exe thunkdll64.dll; do
  cp "$(sample $s)" "$T/imgs/sub/$s"
done
cp "$(sample nonx32.exe)" "$T/imgs/nonx32.exe"
cat > "$T/pol.yaml" <<'Y'
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
Y
rc=0; "$NXPATCH" plan -r -q --format html --policy "$T/pol.yaml" "$T/imgs" > "$T/plan.html" || rc=$?
[ $rc -eq 0 ] || fail "plan --format html exited $rc"
# Self-contained: no external scripts, styles, images or fetches.
grep -Eiq '<(script|link|img)[^>]*(src|href)=|https?://|@import|fetch\(' "$T/plan.html" &&
  fail "the page references an external resource: $(grep -Eio '(src|href)=[^ >]*|https?://[^ "]*' "$T/plan.html" | head -3)"

dump() { # URL-QUERY OUT
  local prof; prof=$(mktemp -d "$T/prof.XXXXXX")
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$prof" \
    --dump-dom "file://$T/plan.html$1" > "$2" 2>"$T/chromium.err" ||
    fail "chromium failed: $(tail -5 "$T/chromium.err")"
}
dump "" "$T/all.dom"
dump "?status=refused" "$T/refused.dom"
dump "?status=changes&rule=thunks" "$T/thunks.dom"

"$PYTHON" - "$T" <<'PY' || fail "the page's DOM is not as expected"
import sys
from html.parser import HTMLParser
class Rows(HTMLParser):
    def __init__(self):
        super().__init__(); self.rows = []; self.cell = None; self.ready = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body" and a.get("data-ready") == "1":
            self.ready = True
        if tag == "tr" and "img" in (a.get("class") or "").split():
            self.rows.append({"status": a["data-status"], "hidden": "hidden" in a,
                              "rules": a["data-rules"].split(), "path": ""})
        if tag == "td" and a.get("class") == "path":
            self.cell = self.rows[-1]
    def handle_endtag(self, tag):
        if tag == "td": self.cell = None
    def handle_data(self, d):
        if self.cell is not None: self.cell["path"] += d
def parse(name):
    p = Rows(); p.feed(open(f"{sys.argv[1]}/{name}.dom").read())
    assert p.ready, f"{name}: the page's script did not run"
    return p.rows
rows = parse("all")
names = sorted(r["path"].rsplit("/", 1)[1] for r in rows)
assert names == sorted(["thunk_section64.exe", "thunk_section32.exe", "hello64.exe",
                        "norelocs64.exe", "thunkdll64.dll", "nonx32.exe"]), names
assert not any(r["hidden"] for r in rows), "rows hidden without a filter"
st = {r["path"].rsplit("/", 1)[1]: r["status"] for r in rows}
assert st["norelocs64.exe"] == "refused" and st["thunk_section64.exe"] == "changes", st
assert st["hello64.exe"] == "nothing_to_do", st
shown = lambda rows: sorted(r["path"].rsplit("/", 1)[1] for r in rows if not r["hidden"])
assert shown(parse("refused")) == ["norelocs64.exe"], shown(parse("refused"))
t = shown(parse("thunks"))
assert t and all(st[n] == "changes" for n in t) and "thunk_section64.exe" in t, t
print("rows", len(rows), "refused filter", shown(parse("refused")), "changes+thunks", t)
PY
grep -q 'dynamic_base needs base relocations' "$T/all.dom" || fail "the refusal's diff is not on the page"
grep -q '0xC0000040 -&gt; 0xE0000040 (+execute)' "$T/all.dom" || fail "a change's diff is not on the page"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$T/prof-shot" \
  --screenshot="$T/shot.png" --window-size=1200,800 "file://$T/plan.html" >/dev/null 2>&1 || true
echo "plan_html: all checks passed"

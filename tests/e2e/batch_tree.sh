#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Batches over a generated tree of a few hundred images (samples and mingw-w64
# runtime DLLs, nested, with non-PE files, a hard link and symbolic links):
# -r and its usage error, what is skipped, -j 1 and -j 4 give identical
# reports and outputs, --from (lines, NUL, stdin), --shard K/N partitions the
# set, --out-dir mirrors the tree, jsonl streams, SARIF 2.1.0 structure, and
# apply --in-place --journal followed by revert restores every SHA-256 (and
# refuses a file changed since).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tree.bash"

POL=$T/pol.yaml
# Sections with code in data (thunk_section32, thunk_data64, ...) become
# executable first, so that nx_compat is not refused for them.
printf 'nxpatch: 1\nrules:\n  - id: code\n    when: {code_in_data: true}\n    actions:\n      - section: "@code-in-data"\n        add: [execute]\n        allow_wx: true\n  - id: dep\n    actions:\n      - set: [nx_compat, no_bind]\n' > "$POL"
make_tree "$T/tree" 8
echo "tree: $NPE images, $NSKIP entries to skip"
[ "$NPE" -ge 200 ] || fail "only $NPE images in the tree"

# A directory needs -r.
rc=0; "$NXPATCH" scan "$T/tree" >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 2 ] && grep -q -- '-r' "$T/err" || fail "a directory without -r: exit $rc, $(cat "$T/err")"

# scan -r: every image once, the rest skipped and counted.
"$NXPATCH" scan -r -q --format json "$T/tree" > "$T/scan.json" || fail "scan -r exited $?"
"$PYTHON" - "$T/scan.json" "$NPE" "$NSKIP" <<'PY' || fail "scan -r report"
import json, sys
d = json.load(open(sys.argv[1])); npe, nskip = int(sys.argv[2]), int(sys.argv[3])
paths = [f["path"] for f in d["files"]]
assert len(paths) == npe == len(set(paths)), (len(paths), npe)
assert not any("link" in p for p in paths), [p for p in paths if "link" in p]
s = d["summary"]
assert s["scanned"] == npe and s["skipped"] == nskip and s["failed"] == 0, s
assert s["bytes"] > 0 and "seconds" in s
PY
echo "ok: scan -r: $NPE images, $NSKIP skipped"

# Progress: on a terminal only (script(1) gives stderr a pty), never with -q
# or when stderr is not a terminal.
"$NXPATCH" scan -r "$T/tree" >/dev/null 2>"$T/err" || fail "scan -r"
[ ! -s "$T/err" ] || fail "progress or messages on a non-terminal stderr: $(head -c 200 "$T/err")"
if command -v script >/dev/null; then
  script -qc "'$NXPATCH' scan -r -j 2 '$T/tree' >/dev/null" /dev/null > "$T/tty" 2>&1 || true
  grep -q "scan: [0-9]*/[0-9]* images .* MB/s  ETA" "$T/tty" || fail "no progress bar on a terminal: $(head -c 300 "$T/tty")"
  script -qc "'$NXPATCH' scan -q -r -j 2 '$T/tree' >/dev/null" /dev/null > "$T/tty" 2>&1 || true
  [ ! -s "$T/tty" ] || fail "progress bar with --quiet"
  echo "ok: progress bar on a terminal only, not with -q"
fi

# An explicitly named non-PE file is an error (exit 3); found by --from it is skipped.
rc=0; "$NXPATCH" scan -q "$T/tree/c1/readme.txt" >/dev/null 2>&1 || rc=$?
[ $rc -eq 3 ] || fail "an explicitly named non-PE file: exit $rc, want 3"
echo "$T/tree/c1/readme.txt" | "$NXPATCH" scan -q --from - >"$T/out" || fail "--from a non-PE file failed"
grep -q '0 images scanned, 0 failed, 1 skipped' "$T/out" || fail "non-PE via --from: $(cat "$T/out")"

# -j 1 and -j 4: identical reports (but the time) and identical outputs.
for j in 1 4; do
  "$NXPATCH" plan -r -q -j $j --policy "$POL" --format json "$T/tree" | grep -v '"seconds"' > "$T/plan$j.json"
  "$NXPATCH" plan -r -q -j $j --policy "$POL" "$T/tree" | grep -v '^summary:' > "$T/plan$j.txt"
  "$NXPATCH" verify -r -q -j $j --policy "$POL" --format sarif "$T/tree" > "$T/verify$j.raw.sarif" || true
  grep -v '"seconds"' "$T/verify$j.raw.sarif" > "$T/verify$j.sarif"
  mkdir "$T/out$j"
  "$NXPATCH" apply -r -q -j $j --policy "$POL" --out-dir "$T/out$j" --format jsonl "$T/tree" > "$T/apply$j.jsonl" ||
    fail "apply -j $j exited $?"
  grep -v '"seconds"' "$T/apply$j.jsonl" | sed 's/"output":"[^"]*"//' > "$T/apply$j.cmp"
done
cmp "$T/plan1.json" "$T/plan4.json" || fail "plan --format json differs between -j 1 and -j 4"
cmp "$T/plan1.txt" "$T/plan4.txt" || fail "plan text differs between -j 1 and -j 4"
cmp "$T/verify1.sarif" "$T/verify4.sarif" || fail "verify SARIF differs between -j 1 and -j 4"
cmp "$T/apply1.cmp" "$T/apply4.cmp" || fail "apply jsonl differs between -j 1 and -j 4"
diff -r "$T/out1" "$T/out4" >/dev/null || fail "apply outputs differ between -j 1 and -j 4"
[ "$(wc -l < "$T/apply4.jsonl")" -eq $((NPE + 1)) ] || fail "jsonl: want one line per image and a summary"
grep -q "\"summary\":{\"scanned\":$NPE,\"changed\":$NPE," <<<"$(tail -1 "$T/apply4.jsonl")" ||
  fail "jsonl summary: $(tail -1 "$T/apply4.jsonl")"
# --out-dir mirrors the tree under each directory argument.
[ "$(cd "$T/out4" && find . -type f | sort)" = "$(cd "$T/tree" && find . -type f -name '*-*' ! -name 'zz-*' | sort)" ] ||
  fail "--out-dir does not mirror the tree"
"$NXPATCH" verify -r -q --policy "$POL" "$T/out4" >/dev/null || fail "the mirrored outputs do not comply"
echo "ok: -j 1 and -j 4 identical (plan json/text, verify sarif, apply jsonl and outputs); --out-dir mirrors"

# --from: the same set as -r, as lines, NUL-separated, and on standard input.
paths() { "$PYTHON" -c 'import json,sys; [print(json.loads(l)["path"]) for l in sys.stdin if "\"summary\"" not in l]'; }
"$NXPATCH" plan -r -q --format jsonl --policy "$POL" "$T/tree" | paths | sort > "$T/all.txt"
find "$T/tree" -type f | sort > "$T/list.txt"
"$NXPATCH" plan -q --format jsonl --policy "$POL" --from "$T/list.txt" | paths | sort > "$T/from.txt"
cmp "$T/all.txt" "$T/from.txt" || fail "--from FILE gives another set than -r"
find "$T/tree" -type f -print0 | "$NXPATCH" plan -q -0 --format jsonl --policy "$POL" --from - | paths | sort > "$T/from0.txt"
cmp "$T/all.txt" "$T/from0.txt" || fail "--from - -0 gives another set than -r"
echo "ok: --from (lines, -0, stdin)"

# --shard K/N: disjoint, their union is everything, stable.
for k in 1 2 3; do
  "$NXPATCH" plan -r -q --shard $k/3 --format jsonl --policy "$POL" "$T/tree" | paths | sort > "$T/shard$k.txt"
  [ -s "$T/shard$k.txt" ] || fail "shard $k/3 is empty"
done
sort "$T"/shard[123].txt > "$T/union.txt"
cmp "$T/all.txt" "$T/union.txt" || fail "the shards' union is not the whole set, or they overlap"
"$NXPATCH" plan -r -q --shard 2/3 --format jsonl --policy "$POL" "$T/tree" | paths | sort | cmp - "$T/shard2.txt" ||
  fail "--shard is not stable"
rc=0; "$NXPATCH" plan -r --shard 4/3 "$T/tree" 2>/dev/null || rc=$?
[ $rc -eq 2 ] || fail "--shard 4/3 exit $rc, want 2"
echo "ok: --shard 1..3/3: $(wc -l < "$T/shard1.txt") + $(wc -l < "$T/shard2.txt") + $(wc -l < "$T/shard3.txt") = $(wc -l < "$T/all.txt")"

# SARIF 2.1.0 structure for scan, plan --check and verify.
"$NXPATCH" scan -r -q --format sarif "$T/tree" > "$T/scan.sarif" || fail "scan sarif exited $?"
rc=0; "$NXPATCH" plan --check -r -q --format sarif --policy "$POL" "$T/tree" > "$T/plan.sarif" || rc=$?
[ $rc -eq 1 ] || fail "plan --check with pending changes exited $rc"
for f in scan plan verify1.raw; do
  "$PYTHON" - "$T/$f.sarif" "$f" <<'PY' || fail "$f: SARIF structure"
import json, sys
d = json.load(open(sys.argv[1])); what = sys.argv[2]
assert d["version"] == "2.1.0" and "sarif-2.1.0" in d["$schema"], d.get("version")
assert isinstance(d["runs"], list) and len(d["runs"]) == 1
run = d["runs"][0]
drv = run["tool"]["driver"]
assert drv["name"] == "nxpatch"
ids = [r["id"] for r in drv["rules"]]
assert len(ids) == len(set(ids)) and {"BA2016", "BA2021"} <= set(ids), ids
for r in drv["rules"]:
    assert r["shortDescription"]["text"] and r["name"]
assert run["results"], "no results"
for res in run["results"]:
    assert res["ruleId"] in ids and ids[res["ruleIndex"]] == res["ruleId"]
    assert res["level"] in ("error", "warning", "note", "none")
    assert res["message"]["text"]
    locs = res["locations"]
    assert locs and all(l["physicalLocation"]["artifactLocation"]["uri"] for l in locs)
got = {r["ruleId"] for r in run["results"]}
want = {"scan": {"BA2016"}, "plan": {"NXP1001"}, "verify1.raw": {"NXP1001"}}[what]
assert want <= got, (what, got)
print(what, len(run["results"]), "results", sorted(got))
PY
done
echo "ok: SARIF"

# apply --in-place --journal, then revert: every file is back, byte for byte.
cp -a "$T/tree" "$T/work"
sums "$T/work" > "$T/before.sums"
"$NXPATCH" apply -r -q -j 4 --policy "$POL" --in-place --journal "$T/journal" "$T/work" > "$T/apply.txt" ||
  fail "apply --in-place --journal exited $?: $(tail -3 "$T/apply.txt")"
grep -q "summary: $NPE images scanned, $NPE changed" "$T/apply.txt" || fail "$(tail -1 "$T/apply.txt")"
"$PYTHON" - "$T/journal" "$NPE" <<'PY' || fail "journal"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "last journal line incomplete"
L = [json.loads(l) for l in lines[:-1]]
w = [l for l in L if l["status"] == "written"]
assert len(w) == int(sys.argv[2]), len(w)
for l in w:
    assert l["path"].startswith("/") and l["backup"] == l["path"] + ".nxpatch-orig"
    assert len(l["sha256_before"]) == 64 and l["sha256_before"] != l["sha256_after"]
    assert l["rules"] in (["dep"], ["code", "dep"]), l["rules"]
PY
# The other name of the hard link keeps the original: in-place is a rename.
find "$T/work" -type f ! -name zz-hardlink.exe ! -name '*.nxpatch-orig' | "$NXPATCH" verify -q --from - --policy "$POL" >/dev/null ||
  fail "patched tree does not comply"
"$NXPATCH" verify -q --policy "$POL" "$T/work/c1/zz-hardlink.exe" >/dev/null &&
  fail "the hard link's other name was patched too (processed twice?)"
[ "$(readlink "$T/work/c1/zz-outside-link.exe")" = "$NXP_SAMPLES_DIR/hello64.exe" ] || fail "outside link touched"
"$NXPATCH" revert --journal "$T/journal" > "$T/revert.txt" || fail "revert exited $?: $(tail -3 "$T/revert.txt")"
sums "$T/work" | cmp - "$T/before.sums" || fail "revert did not restore every SHA-256"
echo "ok: apply --in-place --journal then revert: all $(wc -l < "$T/before.sums") files restored"

# revert refuses a file changed after apply and restores the others.
rm -f "$T/journal"
"$NXPATCH" apply -r -q --policy "$POL" --in-place --journal "$T/journal" "$T/work/c2" >/dev/null || fail "apply c2"
victim=$(find "$T/work/c2" -name '*.dll' ! -name '*.nxpatch-orig' | sort | head -1)
printf 'x' >> "$victim"
rc=0; "$NXPATCH" revert --journal "$T/journal" > "$T/revert.txt" 2> "$T/revert.err" || rc=$?
[ $rc -eq 1 ] && grep -q "$(basename "$victim"): refused: it changed since apply wrote it" "$T/revert.err" ||
  fail "revert of a changed file: exit $rc, $(cat "$T/revert.err")"
[ -f "$victim.nxpatch-orig" ] || fail "the refused file's backup is gone"
n=$(find "$T/work/c2" -name '*.nxpatch-orig' | wc -l)
[ "$n" -eq 1 ] || fail "$n backups left, want only the refused one"
echo "ok: revert refuses a changed file, restores the rest"
echo "batch_tree: all checks passed"

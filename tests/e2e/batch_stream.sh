#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Batch reports are streamed (issue 17 section 2): JSON, JSONL and SARIF are
# written as the images are done, so the memory of a run does not grow with
# the number of images; the streamed documents are the documents (parsed
# and compared, -j 1 and -j 3 byte for byte); an empty run still gives
# well-formed ones.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tree.bash"

POL=$T/pol.yaml
printf 'nxpatch: 1\nrules:\n  - id: dep\n    actions:\n      - set: [nx_compat, no_bind]\n' > "$POL"
make_tree "$T/small" 1
make_tree "$T/big" 12
echo "trees: $(find "$T/small" -type f | wc -l) and $(find "$T/big" -type f | wc -l) files"

# peak KB: the peak RSS (KiB) of the command and the processes it waited for.
peak() {
  "$PYTHON" - "$@" <<'PY'
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
print(ru.ru_maxrss)
PY
}

# opts CMD: the policy for the commands that take one.
opts() { [ "$1" = scan ] || echo "--policy $POL"; }

# Memory is measured in the normal build only: ASan's quarantine keeps freed
# memory (up to 256 MiB) on purpose, so its peak grows with any work done.
rss_cmds="scan plan verify"
if [ "${NXP_SANITIZE:-}" = ON ]; then
  echo "note: peak RSS is checked in the normal build (this is the sanitizer build)"
  rss_cmds=""
fi
for cmd in $rss_cmds; do
  for f in json jsonl sarif; do
    for j in 1 2; do
      a=$(peak "$NXPATCH" $cmd -r -q -j $j $(opts $cmd) --format $f "$T/small")
      b=$(peak "$NXPATCH" $cmd -r -q -j $j $(opts $cmd) --format $f "$T/big")
      [ "$b" -le $((a + 3072)) ] || fail "$cmd --format $f -j $j: peak RSS grows with the images: ${a} KiB for the small tree, ${b} KiB for 12 times as many"
      echo "ok: $cmd $f -j $j: peak RSS $a KiB, $b KiB for 12 times the images"
    done
  done
done

# The streamed documents: valid, complete, the same whatever -j.
for cmd in scan plan verify; do
  for f in json sarif; do
    "$NXPATCH" $cmd -r -q -j 1 $(opts $cmd) --format $f "$T/big" > "$T/$cmd.$f.1" || true
    "$NXPATCH" $cmd -r -q -j 3 $(opts $cmd) --format $f "$T/big" > "$T/$cmd.$f.3" || true
    diff <(grep -v '"seconds"' "$T/$cmd.$f.1") <(grep -v '"seconds"' "$T/$cmd.$f.3") >/dev/null ||
      fail "$cmd --format $f: -j 1 and -j 3 differ"
  done
  "$PYTHON" - "$T/$cmd.json.1" "$T/$cmd.sarif.1" <<'PY' || fail "$cmd: streamed documents"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
assert len(d["files"]) == s["scanned"] and s["failed"] == 0, (len(d["files"]), s)
assert all("path" in x for x in d["files"])
sa = json.load(open(sys.argv[2]))
run = sa["runs"][0]
assert sa["version"] == "2.1.0" and run["tool"]["driver"]["rules"]
assert run["properties"]["summary"]["scanned"] == s["scanned"]
assert run["invocations"][0]["executionSuccessful"] is True
locs = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
assert len(locs) > 10, len(locs)
PY
done
echo "ok: JSON and SARIF streamed documents parse, -j 1 equals -j 3"

# A failure is a SARIF notification (written after the results) and a
# JSON file entry; an empty run gives empty arrays.
printf 'MZ' > "$T/bad.exe"
"$NXPATCH" scan -q --format sarif "$T/bad.exe" "$(sample hello64.exe)" > "$T/bad.sarif" || true
"$NXPATCH" scan -q --format json --from /dev/null > "$T/empty.json" || true
"$NXPATCH" scan -q --format sarif --from /dev/null > "$T/empty.sarif" || true
"$PYTHON" - "$T/bad.sarif" "$T/empty.json" "$T/empty.sarif" <<'PY' || fail "failure and empty documents"
import json, sys
run = json.load(open(sys.argv[1]))["runs"][0]
inv = run["invocations"][0]
assert inv["executionSuccessful"] is False
assert len(inv["toolExecutionNotifications"]) == 1, inv
assert "bad.exe" in inv["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
e = json.load(open(sys.argv[2]))
assert e["files"] == [] and e["summary"]["scanned"] == 0, e
es = json.load(open(sys.argv[3]))["runs"][0]
assert es["results"] == [] and es["invocations"][0]["toolExecutionNotifications"] == []
PY
grep -q '"files": \[\]' "$T/empty.json" || fail "an empty files array is not written as []"
echo "ok: a failure is a notification; empty runs give empty arrays"

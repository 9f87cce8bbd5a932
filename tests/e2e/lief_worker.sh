#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The persistent LIEF worker through the CLI. `apply -j2 --out-dir` and
# `scan -j2 --cross-check` over samples, mingw DLLs and one image LIEF
# cannot read within its budget (so a worker dies mid-batch and is
# replaced), each run under a subreaper: a LIEF worker that its batch worker
# or nxpatch did not reap would be reparented to us, and fails the test, as
# does any process left running. The results are those of -j1, and the
# written images those of -j1 --no-cross-check (LIEF never involved).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tree.bash"
GEN=$NXP_BINARY_DIR/fuzz/nxp_gen_images
[ -x "$GEN" ] || fail "$GEN not built"

# reaped CMD...: run CMD with this test's helper as a subreaper; exit with
# CMD's status, or 99 when a process it started outlived it.
reaped() {
  "$PYTHON" -c '
import ctypes, os, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
rc = subprocess.call(sys.argv[1:])
time.sleep(0.3)
me, left = os.getpid(), []
for d in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{d}/status") as f:
            if f"\nPPid:\t{me}\n" in f.read():
                with open(f"/proc/{d}/cmdline") as c:
                    left.append(f"{d}: " + c.read().replace("\0", " "))
    except OSError:
        pass
while True:
    try:
        pid, status = os.waitpid(-1, os.WNOHANG | 0x40000000)  # __WALL
    except ChildProcessError:
        break
    if pid == 0:
        break
    left.append(f"{pid}: orphaned, ended with status {status:#x}")
if left:
    print("left behind:", *left, sep="\n  ", file=sys.stderr)
    sys.exit(99)
sys.exit(rc if rc >= 0 else 128 - rc)
' "$@"
}

# json_norm FILE [OUTDIR]: the JSON document without its timing, OUTDIR
# written as OUT.
json_norm() {
  "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["summary"].pop("seconds", None)
text = json.dumps(d, indent=1, sort_keys=True)
print(text.replace(sys.argv[2] + "/", "OUT/") if len(sys.argv) > 2 else text)
' "$@"
}

mkdir -p "$T/in"
for s in hello64.exe nonx32.exe calldll64.exe overlay64.exe thunk_section32.exe thunkdll64.dll; do
  cp "$(sample "$s")" "$T/in/"
done
n=0
while read -r f; do
  n=$((n + 1))
  cp "$f" "$T/in/$n-$(basename "$f")"
done < <(find /usr/lib/gcc/*-w64-mingw32 -name '*.dll' -size -2M 2>/dev/null | sort | head -12)
# 96 sections over the same 4 MiB: LIEF runs out of its 256 MiB, our reader
# is fine. Named to sort in the middle, so later images need a new worker.
"$GEN" amp overlap "$T/in/m-overlap.exe"
OVERLAP=$T/in/m-overlap.exe
mapfile -t IN < <(ls "$T/in"/* | sort)
echo "${#IN[@]} images"

POL=$T/pol.yaml
# Sections with code in data (thunk_section32, thunk_data64, ...) become
# executable first, so that nx_compat is not refused for them.
printf 'nxpatch: 1\nrules:\n  - id: code\n    when: {code_in_data: true}\n    actions:\n      - section: "@code-in-data"\n        add: [execute]\n        allow_wx: true\n  - id: dep\n    actions:\n      - set: [nx_compat, no_bind]\n' > "$POL"

# apply, with the cross-check: every image but the overlap is written.
mkdir "$T/j2" "$T/j1" "$T/plain"
rc=0
reaped "$NXPATCH" apply -q -j2 --format json --policy "$POL" --out-dir "$T/j2" "${IN[@]}" \
  > "$T/j2.json" 2> "$T/j2.err" || rc=$?
[ "$rc" -ne 99 ] || fail "apply -j2 left processes behind: $(cat "$T/j2.err")"
[ "$rc" -eq 3 ] || fail "apply -j2: exit $rc, want 3 (the overlap image): $(cat "$T/j2.err")"
grep -q "m-overlap.exe: verification failed.*lief child ran out of memory (limit 256 MiB)" \
  "$T/j2.err" || fail "apply -j2: no LIEF error for the overlap image: $(cat "$T/j2.err")"
[ "$(grep -c . "$T/j2.err")" -eq 1 ] || fail "apply -j2: other errors: $(cat "$T/j2.err")"
[ ! -e "$T/j2/m-overlap.exe" ] || fail "apply -j2 wrote the image LIEF could not check"
echo "ok: apply -j2 (cross-check): $(ls "$T/j2" | wc -l) written, the overlap image refused, nothing left behind"

rc=0
reaped "$NXPATCH" apply -q -j1 --format json --policy "$POL" --out-dir "$T/j1" "${IN[@]}" \
  > "$T/j1.json" 2> "$T/j1.err" || rc=$?
[ "$rc" -eq 3 ] || fail "apply -j1: exit $rc, want 3: $(cat "$T/j1.err")"
diff <(json_norm "$T/j1.json" "$T/j1") <(json_norm "$T/j2.json" "$T/j2") >&2 ||
  fail "apply: -j2 report differs from -j1"
diff <(sed "s|$T/j1/|OUT/|g" "$T/j1.err") <(sed "s|$T/j2/|OUT/|g" "$T/j2.err") >&2 ||
  fail "apply: -j2 messages differ from -j1"
diff <(sums "$T/j1") <(sums "$T/j2") >&2 || fail "apply: -j2 wrote other bytes than -j1"

"$NXPATCH" apply -q -j1 --no-cross-check --policy "$POL" --out-dir "$T/plain" "${IN[@]}" \
  > /dev/null 2> "$T/plain.err" || fail "apply --no-cross-check: $(cat "$T/plain.err")"
rm "$T/plain/m-overlap.exe"
diff <(sums "$T/plain") <(sums "$T/j2") >&2 || fail "apply: the cross-check changed the output"
echo "ok: apply -j2 = apply -j1 (reports, messages, bytes) = apply --no-cross-check (bytes)"

# scan --cross-check: LIEF agrees on every image but the overlap one.
for j in 1 2; do
  rc=0
  reaped "$NXPATCH" scan -q -j$j --cross-check --format json "${IN[@]}" \
    > "$T/scan$j.json" 2> "$T/scan$j.err" || rc=$?
  [ "$rc" -eq 3 ] || fail "scan -j$j --cross-check: exit $rc, want 3: $(cat "$T/scan$j.err")"
done
diff <(json_norm "$T/scan1.json") <(json_norm "$T/scan2.json") >&2 ||
  fail "scan --cross-check: -j2 report differs from -j1"
"$PYTHON" - "$T/scan2.json" "$OVERLAP" "${#IN[@]}" <<'EOF' || fail "scan --cross-check -j2 (above)"
import json, sys
files, overlap, want = json.load(open(sys.argv[1]))["files"], sys.argv[2], int(sys.argv[3])
assert len(files) == want, f"{len(files)} reports for {want} images"
for f in files:
    cc = f["cross_check"]
    if f["path"] == overlap:
        assert not cc["agree"] and "lief child ran out of memory (limit 256 MiB)" in cc["error"], cc
    else:
        assert cc["agree"] and cc["mismatches"] == [], (f["path"], cc)
print(f"ok: scan --cross-check -j2 = -j1; LIEF agrees on {want - 1} images, runs out of memory on one")
EOF

pgrep -f -- "$T/" >&2 && fail "processes naming $T are still running"
echo "PASS"

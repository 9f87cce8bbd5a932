#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Interrupted batches. SIGKILL of the whole process group at random points,
# ten times: every file is its original or the fully patched image (compared
# by SHA-256 with both known versions), the tree still scans, every journal
# line is complete, and revert brings back every original byte (temporary
# files included: none left). SIGTERM to nxpatch and SIGINT to its process
# group (a terminal's Ctrl-C): the images in flight finish, no new one
# starts, no temporary file is left, the journal matches the files, exit 3.
# A worker killed mid-run fails the image it held and the batch goes on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tree.bash"
require_cmd setsid util-linux

POL=$T/pol.yaml
# Sections with code in data (thunk_section32, thunk_data64, ...) become
# executable first, so that nx_compat is not refused for them.
printf 'nxpatch: 1\nrules:\n  - id: code\n    when: {code_in_data: true}\n    actions:\n      - section: "@code-in-data"\n        add: [execute]\n        allow_wx: true\n  - id: dep\n    actions:\n      - set: [nx_compat, no_bind]\n' > "$POL"
make_tree "$T/tree" 3
mkdir "$T/patched"
"$NXPATCH" apply -r -q --policy "$POL" --out-dir "$T/patched" "$T/tree" >/dev/null || fail "reference apply"
sums "$T/tree" > "$T/orig.sums"
sums "$T/patched" > "$T/patched.sums"

# check DIR JOURNAL: originals or patched only; complete journal lines.
check() {
  "$PYTHON" - "$T/orig.sums" "$T/patched.sums" "$1" "$2" <<'PY'
import hashlib, json, os, sys
def load(p):
    return {l.split("  ", 1)[1].strip(): l.split()[0] for l in open(p)}
orig, patched = load(sys.argv[1]), load(sys.argv[2])
root, journal = sys.argv[3], sys.argv[4]
n_orig = n_patched = n_tmp = 0
for dp, dn, fn in os.walk(root):
    for f in fn:
        p = os.path.join(dp, f)
        if os.path.islink(p):
            continue
        rel = "./" + os.path.relpath(p, root)
        if ".nxpatch-" in f:
            n_tmp += f.startswith(".")
            continue
        h = hashlib.sha256(open(p, "rb").read()).hexdigest()
        if h == orig[rel]:
            n_orig += 1
        elif h == patched.get(rel):
            n_patched += 1
        else:
            sys.exit(f"{rel}: neither the original nor the patched image")
data = open(journal).read() if os.path.exists(journal) else ""
assert data == "" or data.endswith("\n"), "incomplete journal line"
for l in data.splitlines():
    json.loads(l)
print(f"{n_orig} original, {n_patched} patched, {n_tmp} temporary files left")
PY
}

wait_group() { # PGID: until every process of the group is gone
  for _ in $(seq 200); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.05; done
  fail "process group $1 still alive"
}

for i in $(seq 1 10); do
  rm -rf "$T/work" "$T/journal"
  cp -a "$T/tree" "$T/work"
  # -j 1 and -j 2 in turn: each process holds two images between the halves
  # of their writes (the next written while LIEF reads one).
  setsid "$NXPATCH" apply -r -q -j $((i % 2 + 1)) --policy "$POL" --in-place \
    --journal "$T/journal" "$T/work" >/dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", (r % 300) / 1000 }')"
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  wait_group "$pid"
  res=$(check "$T/work" "$T/journal") || fail "SIGKILL run $i: $res"
  "$NXPATCH" scan -r -q "$T/work" >/dev/null || fail "SIGKILL run $i: the tree does not scan"
  # Killed before the journal was even created: nothing may have changed.
  if [ -e "$T/journal" ]; then
    "$NXPATCH" revert --journal "$T/journal" >/dev/null 2>"$T/revert.err" ||
      fail "SIGKILL run $i: revert failed: $(cat "$T/revert.err")"
  fi
  sums "$T/work" | cmp -s - "$T/orig.sums" || fail "SIGKILL run $i: revert did not restore every byte"
  echo "ok: SIGKILL run $i: $res; revert restored all"
done

# SIGTERM to nxpatch, SIGINT to its process group: a clean stop. Every image
# takes at least 150 ms (a test build's NXP_TEST_ITEM_DELAY_MS), so the run
# is certainly under way when the signal comes, and stopping must leave
# images undone.
require_test_hooks
total=$(grep -c . "$T/orig.sums")
for how in TERM INT; do
  rm -rf "$T/work" "$T/journal"
  cp -a "$T/tree" "$T/work"
  NXP_TEST_ITEM_DELAY_MS=150 setsid "$NXPATCH" apply -r -q -j 2 --policy "$POL" --in-place \
    --journal "$T/journal" "$T/work" >"$T/out" 2>"$T/err" &
  pid=$!
  # Signal once the first image is in the journal: the run is under way.
  for _ in $(seq 1000); do [ -s "$T/journal" ] && break; sleep 0.01; done
  if [ $how = TERM ]; then kill -TERM "$pid"; else kill -INT -- "-$pid"; fi
  rc=0; wait "$pid" || rc=$?
  wait_group "$pid"
  [ $rc -eq 3 ] || fail "SIG$how: exit $rc, want 3: $(cat "$T/err")"
  grep -q 'interrupted by signal' "$T/err" || fail "SIG$how: no message: $(cat "$T/err")"
  res=$(check "$T/work" "$T/journal") || fail "SIG$how: $res"
  case $res in *" 0 temporary"*) ;; *) fail "SIG$how: $res" ;; esac
  written=$(grep -c '"status":"written"' "$T/journal" || true)
  started=$(grep -c '"status":"started"' "$T/journal" || true)
  [ "$written" -eq "$started" ] || fail "SIG$how: $started started but $written written: an image was cut short"
  case $res in *" $written patched,"*) ;; *) fail "SIG$how: journal says $written written, tree: $res" ;; esac
  [ "$written" -lt "$((total / 2))" ] ||
    fail "SIG$how: $written of $total images written after the signal: the batch did not stop"
  grep -q '^summary:' "$T/out" || fail "SIG$how: no summary"
  echo "ok: SIG$how during the run: $res, exit 3"
done

# A worker that dies holding an image: that image fails with the reason,
# nothing of it is left half-written, and the rest of the batch goes on.
rm -rf "$T/work" "$T/journal"
cp -a "$T/tree" "$T/work"
NXP_TEST_ITEM_DELAY_MS=100 "$NXPATCH" apply -r -j 2 --policy "$POL" --in-place \
  --journal "$T/journal" "$T/work" >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 1000); do [ -s "$T/journal" ] && break; sleep 0.01; done
victim=$(pgrep -P "$pid" -x nxpatch | head -1)
[ -n "$victim" ] || fail "no worker process of $pid to kill"
kill -KILL "$victim"
rc=0; wait "$pid" || rc=$?
[ $rc -ne 0 ] || fail "a batch whose worker died exited 0"
grep -q 'the worker process died (signal 9)' "$T/err" "$T/out" ||
  fail "no image failed with the worker's death: $(tail -5 "$T/err")"
# Every file is its original or its patched image; the images the worker
# held may leave their own temporary files (nobody else knows their names),
# no more: two, since it writes the next image while LIEF reads one.
res=$(check "$T/work" "$T/journal") || fail "dead worker: $res"
case $res in *" "[012]" temporary"*) ;; *) fail "dead worker: temporary files left: $res" ;; esac
patched=$(sed -E 's/.* ([0-9]+) patched.*/\1/' <<<"$res")
[ "$patched" -ge "$((total / 2))" ] || fail "dead worker: the batch did not go on ($res)"
echo "ok: a worker killed mid-run: its image failed, $res"

echo "batch_kill: all checks passed"

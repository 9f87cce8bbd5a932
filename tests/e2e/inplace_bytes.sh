#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# apply --in-place=bytes (issue 17 §1): only the planned bytes are written
# into the file itself, after their undo record is durable in the journal.
# The result is byte for byte the rename mode's output; the inode, owner,
# mode, xattrs, ACL and hard links stay; it works in a directory the user
# cannot create files in; length-changing plans, signed images, links,
# FIFOs and bad option combinations are refused with the file untouched;
# revert and the next run undo it, and crafted journals are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_root
require_cmd setfattr attr
require_cmd setfacl acl
require_cmd setpriv util-linux
s=$(sample nonx32.exe)
chmod 755 "$T"
# Three runs of bytes: DllCharacteristics, a section header, the CheckSum.
cat > "$T/p.yaml" <<'EOF'
nxpatch: 1
rules:
  - id: nx
    actions:
      - set: [nx_compat]
  - id: rdata-x
    actions:
      - section: ".rdata"
        add: [execute]
EOF
pol=(--policy "$T/p.yaml")
"$NXPATCH" apply "${pol[@]}" "$s" -o "$T/ref.exe" >/dev/null || fail "reference apply -o"
ref=$(sha "$T/ref.exe"); orig=$(sha "$s")
[ "$ref" != "$orig" ] || fail "the reference is not patched"

# 1. Same bytes as the rename mode, same inode, a journal with the undo
#    record and its completion mark.
cp "$s" "$T/a.exe"; ino=$(stat -c %i "$T/a.exe")
out=$("$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j1" "$T/a.exe") ||
  fail "apply --in-place=bytes: $out"
[ "$(sha "$T/a.exe")" = "$ref" ] || fail "the byte patch differs from apply -o's output"
[ "$(stat -c %i "$T/a.exe")" = "$ino" ] || fail "the inode changed"
grep -q 'written: ' <<<"$out" || fail "no 'written' line: $out"
"$NXPATCH" verify "${pol[@]}" "$T/a.exe" >/dev/null || fail "verify after the byte patch"
[ "$(wc -l < "$T/j1")" = 2 ] || fail "journal: want the undo record and its mark: $(cat "$T/j1")"
"$PYTHON" - "$T/j1" "$T/a.exe" "$s" <<'PY' || fail "undo record"
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
st = os.stat(sys.argv[2])
r, m = recs
assert r["op"] == "patch" and r["status"] == "started", r
assert r["dev"] == st.st_dev and r["ino"] == st.st_ino and r["size"] == st.st_size, r
assert m == {"op": "patch", "id": r["id"], "path": r["path"], "status": "written"}, m
orig = open(sys.argv[3], "rb").read(); new = open(sys.argv[2], "rb").read()
changed = [i for i in range(len(orig)) if orig[i] != new[i]]
covered = set()
for e in r["edits"]:
    o, n = bytes.fromhex(e["old"]), bytes.fromhex(e["new"])
    assert orig[e["offset"]:e["offset"] + len(o)] == o and new[e["offset"]:e["offset"] + len(n)] == n, e
    covered |= set(range(e["offset"], e["offset"] + len(o)))
assert set(changed) <= covered, (changed, covered)
assert len(r["edits"]) == 3, r["edits"]
PY
echo "ok: the byte patch equals apply -o's output, same inode, undo record + mark"

# 2. revert writes the old bytes back; a second revert has nothing to do.
out=$("$NXPATCH" revert --journal "$T/j1") || fail "revert: $out"
[ "$(sha "$T/a.exe")" = "$orig" ] || fail "revert did not restore the original"
[ "$(stat -c %i "$T/a.exe")" = "$ino" ] || fail "revert changed the inode"
out=$("$NXPATCH" revert --journal "$T/j1") || fail "second revert: $out"
grep -q ' 0 restored' <<<"$out" || fail "second revert restored something: $out"
echo "ok: revert restores the original bytes, twice is harmless"

# 3. Owner, group, mode (setuid), xattrs, ACL and a hard link are kept.
meta() {
  stat -c '%i %u:%g %a %h' "$1"
  getfattr -d -m - --absolute-names "$1" 2>/dev/null | grep -v '^# file' | sort
  getfacl -c -p "$1" 2>/dev/null
}
cp "$s" "$T/m.exe"; chown 1000:1001 "$T/m.exe"
setfattr -n user.origin -v "built-by-ci" "$T/m.exe"
setfattr -n security.nxptest -v "label" "$T/m.exe"
setfattr -n trusted.nxptest -v "kept" "$T/m.exe"
setfacl -m u:1234:r-x "$T/m.exe"; chmod 4755 "$T/m.exe"
ln "$T/m.exe" "$T/m-link.exe"
want=$(meta "$T/m.exe")
out=$("$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j3" "$T/m.exe" 2>&1) ||
  fail "apply --in-place=bytes (metadata): $out"
grep -q 'hard link' <<<"$out" && fail "a byte patch warns about hard links: $out"
[ "$(meta "$T/m.exe")" = "$want" ] || { diff <(echo "$want") <(meta "$T/m.exe") >&2; fail "metadata changed"; }
[ "$(sha "$T/m-link.exe")" = "$ref" ] || fail "the other hard link does not see the patch"
echo "ok: inode, 1000:1001, 4755, xattrs, ACL and the hard link kept"

# 4. A writable file in a directory its user cannot create files in: the
#    byte mode works (with the LIEF cross-check), the rename mode cannot.
mkdir "$T/ro" "$T/jd"; cp "$s" "$T/ro/x.exe"; chown 1000:1000 "$T/ro/x.exe" "$T/jd"
chmod 755 "$T/ro"; cp "$T/ro/x.exe" "$T/ro/y.exe"; chown 1000:1000 "$T/ro/y.exe"
as_user() { setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"; }
rc=0; out=$(as_user "$NXPATCH" apply "${pol[@]}" --in-place --journal "$T/jd/r" "$T/ro/y.exe" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "the rename mode wrote in a read-only directory"
[ "$(sha "$T/ro/y.exe")" = "$orig" ] || fail "the failed rename-mode run touched y.exe"
out=$(as_user "$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/jd/b" "$T/ro/x.exe" 2>&1) ||
  fail "apply --in-place=bytes in a read-only directory: $out"
[ "$(sha "$T/ro/x.exe")" = "$ref" ] || fail "x.exe not patched in the read-only directory"
[ "$(ls -A "$T/ro" | wc -l)" = 2 ] || fail "files appeared in the read-only directory: $(ls -A "$T/ro")"
out=$(as_user "$NXPATCH" revert --journal "$T/jd/b" 2>&1) || fail "revert as the user: $out"
[ "$(sha "$T/ro/x.exe")" = "$orig" ] || fail "revert in the read-only directory"
echo "ok: a read-only directory: bytes mode and revert work (with LIEF), rename mode refused"

# 5. Refusals: the file is untouched every time.
cp "$s" "$T/r.exe"
expect_usage() {
  local rc=0; "$NXPATCH" apply "${pol[@]}" "$@" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "apply $* exited $rc, want 2 (usage)"
}
expect_usage --in-place=bytes "$T/r.exe"
expect_usage --in-place=bytes --journal "$T/j5" --backup .orig "$T/r.exe"
expect_usage --in-place=bytes --journal "$T/j5" --allow-metadata-loss "$T/r.exe"
expect_usage --in-place=sideways --journal "$T/j5" "$T/r.exe"
[ "$(sha "$T/r.exe")" = "$orig" ] || fail "a usage error touched the file"
ln -s r.exe "$T/l.exe"
rc=0; out=$("$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j5" "$T/l.exe" 2>&1) || rc=$?
[ "$rc" != 0 ] && [ -L "$T/l.exe" ] && [ "$(sha "$T/r.exe")" = "$orig" ] || fail "a symlink was followed: $out"
grep -q 'symbolic link' <<<"$out" || fail "symlink refusal message: $out"
mkfifo "$T/f.exe"
rc=0; out=$(timeout 20 "$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j5" "$T/f.exe" 2>&1) || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "a FIFO: exit $rc: $out"
# A signed image: refused under signature: refuse (the plan), and under
# strip because the plan changes the length.
sign_setup
"$NXPATCH" sign "$s" -o "$T/sg.exe" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" >/dev/null || fail "sign"
sg=$(sha "$T/sg.exe")
rc=0; out=$("$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j5" "$T/sg.exe" 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$(sha "$T/sg.exe")" = "$sg" ] || fail "signed image under refuse: exit $rc: $out"
{ cat "$T/p.yaml"; printf 'settings:\n  signature: strip\n'; } > "$T/strip.yaml"
rc=0; out=$("$NXPATCH" apply --policy "$T/strip.yaml" --in-place=bytes --journal "$T/j5" "$T/sg.exe" 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$(sha "$T/sg.exe")" = "$sg" ] || fail "signature strip in bytes mode: exit $rc: $out"
grep -q "changes the file's length" <<<"$out" || fail "length refusal message: $out"
grep -q '"status":"refused"' "$T/j5" || fail "the refusal is not in the journal: $(cat "$T/j5")"
echo "ok: usage errors, links, FIFOs, signed images and length changes refused, files untouched"

# 6. Crafted journals: another inode, bytes changed otherwise, a journal
#    others may write: refused, nothing written.
cp "$s" "$T/c.exe"
"$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j6" "$T/c.exe" >/dev/null || fail "apply c.exe"
"$PYTHON" - "$T/j6" "$T/j6-ino" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
recs[0]["ino"] += 1
open(sys.argv[2], "w").write("".join(json.dumps(r) + "\n" for r in recs))
PY
rc=0; out=$("$NXPATCH" revert --journal "$T/j6-ino" 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$(sha "$T/c.exe")" = "$ref" ] || fail "a record of another inode: exit $rc: $out"
grep -q 'not the file' <<<"$out" || fail "inode refusal message: $out"
cp "$T/j6" "$T/j6-open"; chmod 666 "$T/j6-open"
rc=0; out=$("$NXPATCH" revert --journal "$T/j6-open" 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$(sha "$T/c.exe")" = "$ref" ] || fail "a journal others may write: exit $rc: $out"
grep -q 'not trusted' <<<"$out" || fail "untrusted journal message: $out"
off=$("$PYTHON" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["edits"][0]["offset"])' "$T/j6")
printf '\x77' | dd of="$T/c.exe" bs=1 seek="$off" conv=notrunc status=none
changed=$(sha "$T/c.exe")
rc=0; out=$("$NXPATCH" revert --journal "$T/j6" 2>&1) || rc=$?
[ "$rc" = 1 ] && [ "$(sha "$T/c.exe")" = "$changed" ] || fail "bytes changed otherwise: exit $rc: $out"
grep -q 'neither the old' <<<"$out" || fail "changed-bytes refusal message: $out"
echo "ok: crafted journals (inode, writable by others, changed bytes) refused"

# 7. The next run finishes a killed one: an undo record without its mark
#    (the run died after writing some bytes) is undone first, then the
#    file is patched again; a run that cannot undo it does nothing else.
cp "$s" "$T/k.exe"
"$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j7" "$T/k.exe" >/dev/null || fail "apply k.exe"
head -n 1 "$T/j7" > "$T/j7-open"; chmod 644 "$T/j7-open"
cp "$s" "$T/k.exe"   # "killed" after its first run of bytes: write just that one
"$PYTHON" - "$T/j7-open" "$T/k.exe" <<'PY'
import json, sys
e = json.loads(open(sys.argv[1]).readline())["edits"][0]
with open(sys.argv[2], "r+b") as f:
    f.seek(e["offset"]); f.write(bytes.fromhex(e["new"]))
PY
out=$("$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j7-open" "$T/k.exe" 2>&1) ||
  fail "the next run: $out"
grep -q 'interrupted' <<<"$out" || fail "the next run did not say it restored: $out"
[ "$(sha "$T/k.exe")" = "$ref" ] || fail "the next run did not leave the patched image"
grep -q '"status":"reverted"' "$T/j7-open" || fail "the open record was not closed"
out=$("$NXPATCH" revert --journal "$T/j7-open") || fail "revert after recovery: $out"
[ "$(sha "$T/k.exe")" = "$orig" ] || fail "revert after recovery did not restore the original"
head -n 1 "$T/j7" > "$T/j7-bad"
cp "$s" "$T/k.exe"; printf '\x77' | dd of="$T/k.exe" bs=1 seek="$off" conv=notrunc status=none
bad=$(sha "$T/k.exe"); cp "$s" "$T/k2.exe"
rc=0; out=$("$NXPATCH" apply "${pol[@]}" --in-place=bytes --journal "$T/j7-bad" "$T/k2.exe" 2>&1) || rc=$?
[ "$rc" = 3 ] && [ "$(sha "$T/k.exe")" = "$bad" ] && [ "$(sha "$T/k2.exe")" = "$orig" ] ||
  fail "an open record that cannot be undone: exit $rc: $out"
echo "ok: the next run restores a killed run's file first; it stops when it cannot"

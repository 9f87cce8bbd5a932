#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The journal and revert under hostile conditions (issue 12, items 2, 6, 8):
# several runs in one journal revert in reverse order to the first original;
# a journal line that cannot be made durable (full disk) means the image is
# not written; non-UTF-8 paths are journaled losslessly and reverted; revert
# checks a crafted journal before touching anything (backup beside the
# image, SHA-256 of both), never deletes a file that is not a second name of
# the image, counts in --dry-run what the real run does, and treats a
# truncated journal or a directory as an error.
. "$(dirname "$0")/lib.sh"
s=$(sample nonx32.exe)
nx_policy "$T/nx.yaml" nx_compat
nx_policy "$T/nb.yaml" no_bind

# Item 2: two runs into one journal; revert goes back to the first original.
cp "$s" "$T/a.exe"; orig=$(sha "$T/a.exe")
"$NXPATCH" apply --policy "$T/nx.yaml" --in-place --journal "$T/j" "$T/a.exe" >/dev/null
"$NXPATCH" apply --policy "$T/nb.yaml" --in-place --journal "$T/j" "$T/a.exe" >/dev/null
[ "$(dllchars "$T/a.exe")" = 0x0940 ] || fail "the second run did not patch"
"$NXPATCH" revert --dry-run --journal "$T/j" > "$T/dry" || fail "revert --dry-run failed"
grep -q '2 to restore, 0 refused, 0 failed' "$T/dry" || fail "dry run of two runs: $(tail -1 "$T/dry")"
[ "$(dllchars "$T/a.exe")" = 0x0940 ] || fail "--dry-run changed the file"
rc=0; "$NXPATCH" revert --journal "$T/j" > "$T/rv" 2>&1 || rc=$?
[ $rc -eq 0 ] || fail "revert of two runs exited $rc: $(cat "$T/rv")"
[ "$(sha "$T/a.exe")" = "$orig" ] || fail "revert of two runs did not restore the first original"
grep -q '2 restored, 0 refused, 0 failed' "$T/rv" || fail "revert of two runs: $(tail -1 "$T/rv")"
grep -q 'a.exe.*nxpatch-' <<<"$(ls "$T")" && fail "backups or temporaries left: $(ls "$T")"
echo "ok: two runs in one journal revert to the first original (dry run counted 2)"

# Item 8: --dry-run counts what the real run does: 1 for 1 image.
cp "$s" "$T/one.exe"
"$NXPATCH" apply --policy "$T/nx.yaml" --in-place --journal "$T/j1" "$T/one.exe" >/dev/null
"$NXPATCH" revert --dry-run --journal "$T/j1" > "$T/dry"
grep -q '1 to restore' "$T/dry" || fail "dry run of one image: $(tail -1 "$T/dry")"
"$NXPATCH" revert --journal "$T/j1" > "$T/rv"
grep -q '1 restored' "$T/rv" || fail "revert of one image: $(tail -1 "$T/rv")"
cmp -s "$s" "$T/one.exe" || fail "one.exe not restored"
echo "ok: --dry-run and revert both count 1 for one image"

# Item 8: a truncated journal and a directory are errors; nothing reverted.
cp "$s" "$T/t.exe"
"$NXPATCH" apply --policy "$T/nx.yaml" --in-place --journal "$T/jt" "$T/t.exe" >/dev/null
patched=$(sha "$T/t.exe")
head -c -1 "$T/jt" > "$T/jt.cut"
rc=0; "$NXPATCH" revert --journal "$T/jt.cut" >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 3 ] && grep -q 'incomplete' "$T/err" || fail "truncated journal: exit $rc: $(cat "$T/err")"
[ "$(sha "$T/t.exe")" = "$patched" ] || fail "a truncated journal reverted something"
mkdir "$T/jdir"
rc=0; "$NXPATCH" revert --journal "$T/jdir" >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 3 ] && grep -q 'directory' "$T/err" || fail "directory as journal: exit $rc: $(cat "$T/err")"
echo "ok: a truncated journal and a directory are errors (exit 3)"

# Item 8: a crafted line that would rename an attacker's file over a victim.
echo "the victim's data" > "$T/victim"; echo "attacker's data" > "$T/attacker"
printf '{"path":"%s","status":"written","sha256_before":"%s","sha256_after":"%s","backup":"%s","rules":[]}\n' \
  "$T/victim" "$(sha "$T/attacker")" "$(sha "$T/victim")" "$T/attacker" > "$T/evil1"
rc=0; "$NXPATCH" revert --journal "$T/evil1" >/dev/null 2>"$T/err" || rc=$?
[ $rc -ne 0 ] || fail "a crafted journal was accepted"
grep -q "victim's data" "$T/victim" || fail "revert renamed the attacker's file over the victim"
[ -e "$T/attacker" ] || fail "the attacker's file was moved"
grep -q 'not the image.s name plus a suffix' "$T/err" || fail "no reason given: $(cat "$T/err")"
# ... and one whose "unused backup" is any file with the image's content.
cp "$T/victim" "$T/bait"
printf '{"path":"%s","status":"written","sha256_before":"%s","sha256_after":null,"backup":"%s","rules":[]}\n' \
  "$T/bait" "$(sha "$T/victim")" "$T/victim" > "$T/evil2"
"$NXPATCH" revert --journal "$T/evil2" >/dev/null 2>&1 || true
[ -e "$T/victim" ] || fail "revert deleted a file named as an unused backup"
# ... and a backup beside the image but owned by someone else.
cp "$s" "$T/own.exe"
"$NXPATCH" apply --policy "$T/nx.yaml" --in-place --journal "$T/jo" "$T/own.exe" >/dev/null
bk=$T/own.exe.nxpatch-orig
if [ "$(id -u)" = 0 ]; then
  chown 4242:4242 "$bk"
  rc=0; "$NXPATCH" revert --journal "$T/jo" >/dev/null 2>"$T/err" || rc=$?
  [ $rc -eq 1 ] && grep -q 'belongs to 4242:4242' "$T/err" || fail "foreign backup: exit $rc: $(cat "$T/err")"
  cmp -s "$s" "$T/own.exe" && fail "a backup owned by another user was restored"
  chown 0:0 "$bk"
fi
"$NXPATCH" revert --journal "$T/jo" >/dev/null || fail "revert of own.exe"
cmp -s "$s" "$T/own.exe" || fail "own.exe not restored"
echo "ok: crafted journals are refused before anything is touched"

# Item 6: non-UTF-8 names are journaled losslessly and revert restores them.
bad=$T/$'caf\xe9-\xff.exe'
cp "$s" "$bad"
rc=0; "$NXPATCH" apply --policy "$T/nx.yaml" --in-place --journal "$T/ju" "$bad" >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 0 ] || fail "non-UTF-8 name: apply exited $rc: $(cat "$T/err")"
"$PYTHON" - "$T/ju" "$bad" <<'PY' || fail "the journal does not record the non-UTF-8 path losslessly"
import json, os, sys
want = os.fsencode(sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[1], "rb")]
assert [l["status"] for l in lines] == ["started", "written"], lines
for l in lines:
    assert bytes.fromhex(l["path_hex"]) == want, l
    assert bytes.fromhex(l["backup_hex"]) == want + b".nxpatch-orig", l
    assert "\\xe9" in l["path"], l["path"]       # the escaped text, as in every report
PY
"$NXPATCH" revert --journal "$T/ju" >/dev/null || fail "revert of a non-UTF-8 name"
cmp -s "$s" "$bad" || fail "the non-UTF-8 name was not restored"
echo "ok: a non-UTF-8 name is journaled (path_hex) and reverted"

# Item 6: a journal line that cannot be made durable: the image is not written.
require_root
require_cmd unshare util-linux
cp "$s" "$T/full.exe"; orig=$(sha "$T/full.exe")
mkdir "$T/jfs"
rc=0
unshare -m bash -c '
  set -e
  mount -t tmpfs -o size=64k,nr_inodes=16 tmpfs "$1"
  touch "$1/j"
  dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null || true
  exec "$NXPATCH" apply --policy "$2" --in-place --journal "$1/j" "$3"
' _ "$T/jfs" "$T/nx.yaml" "$T/full.exe" >"$T/out" 2>"$T/err" || rc=$?
[ "$(sha "$T/full.exe")" = "$orig" ] || fail "the image was patched although its journal line was lost"
[ $rc -eq 3 ] || fail "journal on a full disk: exit $rc, want 3: $(cat "$T/err")"
grep -q 'not written: cannot write the journal' "$T/err" || fail "no clear message: $(cat "$T/err")"
grep -q 'full.exe.*nxpatch' <<<"$(ls -A "$T")" && fail "backup or temporary left: $(ls -A "$T")"
echo "ok: a journal line that is not durable leaves the image unwritten"
echo "hostile_journal: all checks passed"

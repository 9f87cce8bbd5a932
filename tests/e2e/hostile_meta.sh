#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What an in-place replacement keeps (issue 12, item 7; docs/pipeline.md
# "What in-place preserves"): owner, group, mode (setuid/setgid included),
# extended attributes (user.*, security.*, trusted.*) and the access ACL, for
# apply, sign and unsign alike. When they cannot be kept (not root, another
# owner) the image is refused and left alone, unless --allow-metadata-loss,
# which never leaves setuid/setgid on a file whose owner changed. A
# hard-linked target gets a warning.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_root
require_cmd setfattr attr
require_cmd setfacl acl
require_cmd setpriv util-linux
sign_setup
s=$(sample nonx32.exe)
nx_policy "$T/nx.yaml" nx_compat
chmod 755 "$T"

# meta FILE: owner, mode, every xattr, the ACL: what must survive.
meta() {
  stat -c '%u:%g %a' "$1"
  getfattr -d -m - --absolute-names "$1" 2>/dev/null | grep -v '^# file' | sort
  getfacl -c -p "$1" 2>/dev/null
}
prepare() {
  cp "$s" "$1"
  chown 1000:1001 "$1"
  chmod 6755 "$1"
  setfattr -n user.origin -v "built-by-ci" "$1"
  setfattr -n security.nxptest -v "label" "$1"
  setfattr -n trusted.nxptest -v "kept" "$1"
  setfacl -m u:1234:r-x "$1"
  chmod 6755 "$1"
}

prepare "$T/a.exe"; want=$(meta "$T/a.exe")
"$NXPATCH" apply --policy "$T/nx.yaml" --in-place "$T/a.exe" >/dev/null || fail "apply in place"
[ "$(dllchars "$T/a.exe")" = 0x0140 ] || fail "a.exe not patched"
[ "$(meta "$T/a.exe")" = "$want" ] || { diff <(echo "$want") <(meta "$T/a.exe") >&2; fail "apply --in-place changed the metadata"; }
echo "ok: apply --in-place keeps 1000:1001, 6755, xattrs and the ACL"

prepare "$T/b.exe"; want=$(meta "$T/b.exe")
"$NXPATCH" sign "$T/b.exe" -o "$T/b.exe" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" >/dev/null || fail "sign in place"
[ "$(meta "$T/b.exe")" = "$want" ] || { diff <(echo "$want") <(meta "$T/b.exe") >&2; fail "sign in place changed the metadata"; }
"$NXPATCH" unsign "$T/b.exe" -o "$T/b.exe" >/dev/null || fail "unsign in place"
[ "$(meta "$T/b.exe")" = "$want" ] || fail "unsign in place changed the metadata"
echo "ok: sign and unsign in place keep the metadata too"

# A new output (-o) of a setuid input owned by someone else: no setuid/setgid.
prepare "$T/c.exe"
"$NXPATCH" apply --policy "$T/nx.yaml" "$T/c.exe" -o "$T/c.out" >/dev/null
[ "$(stat -c '%u:%g %a' "$T/c.out")" = "0:0 755" ] || fail "-o output: $(stat -c '%u:%g %a' "$T/c.out"), want 0:0 755"
echo "ok: a new output owned by root is not setuid/setgid"

# Not root, another user's file in a directory we may write: refused.
mkdir "$T/d"; chown 1000:1000 "$T/d"
cp "$s" "$T/d/x.exe"; chown 1001:1001 "$T/d/x.exe"; chmod 6777 "$T/d/x.exe"
before=$(sha "$T/d/x.exe"); bmeta=$(meta "$T/d/x.exe")
asuser() { setpriv --reuid=1000 --regid=1000 --clear-groups "$@"; }
rc=0; asuser "$NXPATCH" apply --policy "$T/nx.yaml" --in-place "$T/d/x.exe" >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 3 ] && grep -q 'cannot keep its owner and group 1001:1001' "$T/err" ||
  fail "another user's file: exit $rc: $(cat "$T/err")"
[ "$(sha "$T/d/x.exe")" = "$before" ] && [ "$(meta "$T/d/x.exe")" = "$bmeta" ] || fail "the refused file changed"
grep -q nxpatch- <<<"$(ls -A "$T/d")" && fail "temporary file left"
mkdir "$T/k"; cp "$P/leaf-chain.pem" "$P/leaf.key" "$T/k/"; chown -R 1000:1000 "$T/k"; chmod 755 "$P" "$(dirname "$P")"
rc=0; asuser "$NXPATCH" sign "$T/d/x.exe" -o "$T/d/x.exe" --cert "$T/k/leaf-chain.pem" --key "$T/k/leaf.key" \
  >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 3 ] && grep -q 'cannot keep its owner' "$T/err" || fail "sign of another user's file: exit $rc: $(cat "$T/err")"
echo "ok: not root, another owner: refused, file untouched"
asuser "$NXPATCH" apply --policy "$T/nx.yaml" --in-place --allow-metadata-loss "$T/d/x.exe" >/dev/null 2>"$T/err" ||
  fail "--allow-metadata-loss: $(cat "$T/err")"
grep -q 'warning: cannot keep its owner' "$T/err" || fail "no warning about the lost owner: $(cat "$T/err")"
[ "$(stat -c '%u:%g %a' "$T/d/x.exe")" = "1000:1000 777" ] ||
  fail "--allow-metadata-loss left $(stat -c '%u:%g %a' "$T/d/x.exe"), want 1000:1000 777 (no setuid/setgid)"
echo "ok: --allow-metadata-loss replaces it, owned by the runner, setuid/setgid dropped"

# A hard-linked target: a warning; the other name keeps the old content.
cp "$s" "$T/h.exe"; ln "$T/h.exe" "$T/h2.exe"
"$NXPATCH" apply --policy "$T/nx.yaml" --in-place "$T/h.exe" >/dev/null 2>"$T/err" || fail "hard-linked apply"
grep -q 'has 2 hard links' "$T/err" || fail "no hard-link warning: $(cat "$T/err")"
cmp -s "$s" "$T/h2.exe" || fail "the other name changed"
echo "ok: a hard-linked target gets a warning"
echo "hostile_meta: all checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Only regular files are read, replaced or created over (issue 12, item 4):
# a character device, FIFO, socket or directory as input or output of apply,
# sign or unsign is refused with a message and left as it is; a FIFO is
# never opened for a blocking read (it would hang forever).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_root
sign_setup
s=$(sample nonx32.exe)
nx_policy "$T/nx.yaml" nx_compat
KEY=(--cert "$P/leaf-chain.pem" --key "$P/leaf.key")
mknod "$T/null" c 1 3
mkfifo "$T/fifo"
mkdir "$T/dir"
"$PYTHON" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/sock"
cp "$s" "$T/in.exe"
"$NXPATCH" sign "$T/in.exe" -o "$T/signed.exe" "${KEY[@]}" >/dev/null

kind() { stat -c %F "$1"; }
# refused CMD...: exit 3 within 20 s, a message, and no temporary file.
refused() {
  local rc=0
  timeout -k 5 20 "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$*: hung (a blocking read?)"
  [ $rc -eq 3 ] || fail "$*: exit $rc, want 3: $(cat "$T/err")"
  grep -Eq 'not a regular file|only regular files|is a (FIFO|character device|socket|directory)' "$T/err" ||
    fail "$*: no clear message: $(cat "$T/err")"
  grep -q 'nxpatch-' <<<"$(ls -A "$T" "$T/dir")" && fail "$*: temporary file left"
  return 0
}

for out in null fifo sock dir; do
  k=$(kind "$T/$out")
  refused "$NXPATCH" apply --policy "$T/nx.yaml" "$T/in.exe" -o "$T/$out"
  refused "$NXPATCH" sign "$T/in.exe" -o "$T/$out" "${KEY[@]}"
  refused "$NXPATCH" unsign "$T/signed.exe" -o "$T/$out"
  [ "$(kind "$T/$out")" = "$k" ] || fail "$out: a $k became a $(kind "$T/$out")"
  echo "ok: $k as output refused by apply, sign and unsign; still a $k"
done
for in in null fifo sock dir; do
  refused "$NXPATCH" sign "$T/$in" -o "$T/x.exe" "${KEY[@]}"
  refused "$NXPATCH" unsign "$T/$in" -o "$T/x.exe"
  [ "$in" = dir ] && continue   # a directory argument of a batch is a tree (-r)
  refused "$NXPATCH" apply --policy "$T/nx.yaml" "$T/$in" -o "$T/x.exe"
  refused "$NXPATCH" scan "$T/$in"
  echo "ok: $(kind "$T/$in") as input refused"
done
[ ! -e "$T/x.exe" ] || fail "an output was written from a special file"
# Through a list: the FIFO is reported, the run goes on with the next image.
printf '%s\n' "$T/fifo" "$T/in.exe" > "$T/list"
rc=0; timeout -k 5 20 "$NXPATCH" plan --policy "$T/nx.yaml" --from "$T/list" >"$T/out" 2>"$T/err" || rc=$?
[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "plan --from with a FIFO in the list hung"
grep -Eq 'fifo: (is )?a FIFO' "$T/err" && grep -q 'in.exe: 2 changes' "$T/out" ||
  fail "plan --from with a FIFO: exit $rc: $(cat "$T/out" "$T/err")"
echo "ok: a FIFO in --from is reported without blocking; the next image is planned"

# The literal /dev/null, in a private mount namespace with its own /dev.
require_cmd unshare util-linux
rc=0
unshare -m bash -c '
  set -e
  mount -t tmpfs tmpfs /dev
  mknod -m 666 /dev/null c 1 3
  rc=0; "$NXPATCH" apply --policy "$1" "$2" -o /dev/null 2>"$3" || rc=$?
  [ -c /dev/null ] || { echo "/dev/null is no longer a character device" >&2; exit 9; }
  exit $rc
' _ "$T/nx.yaml" "$T/in.exe" "$T/err" || rc=$?
[ $rc -eq 3 ] || fail "apply -o /dev/null: exit $rc, want 3: $(cat "$T/err")"
echo "ok: apply -o /dev/null is refused; /dev/null stays a character device"
echo "hostile_special: all checks passed"

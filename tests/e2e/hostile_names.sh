#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Names (issue 12, items 11 and 12): images whose names are 240 to 255 bytes
# long are patched, signed and unsigned (the temporary file then has a short
# name); --in-place on a symbolic link is refused and never turns the link
# into a file (sign and unsign too), and a link as -o OUT is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
sign_setup
s=$(sample nonx32.exe)
nx_policy "$T/nx.yaml" nx_compat
KEY=(--cert "$P/leaf-chain.pem" --key "$P/leaf.key")

long() { printf '%s.exe' "$(head -c $(($1 - 4)) /dev/zero | tr '\0' n)"; }
for n in 240 250 255; do
  name=$(long $n); [ ${#name} -eq $n ] || fail "name of ${#name} bytes"
  mkdir "$T/l$n"; f=$T/l$n/$name
  cp "$s" "$f"
  "$NXPATCH" apply --policy "$T/nx.yaml" --in-place "$f" >"$T/out" 2>&1 || fail "$n-byte name, in place: $(cat "$T/out")"
  [ "$(dllchars "$f")" = 0x0140 ] || fail "$n-byte name: not patched"
  "$NXPATCH" sign "$f" -o "$f" "${KEY[@]}" >"$T/out" 2>&1 || fail "$n-byte name, sign: $(cat "$T/out")"
  "$NXPATCH" unsign "$f" -o "$f" >"$T/out" 2>&1 || fail "$n-byte name, unsign: $(cat "$T/out")"
  rm "$f"
  "$NXPATCH" apply --policy "$T/nx.yaml" "$s" -o "$f" >"$T/out" 2>&1 || fail "$n-byte name, -o: $(cat "$T/out")"
  [ "$(ls -A "$T/l$n")" = "$name" ] || fail "$n-byte name: left $(ls -A "$T/l$n")"
  echo "ok: a $n-byte name is patched, signed, unsigned in place and written with -o"
done
# Temporary files of long names are recognised as such by a later run.
touch "$T/l255/.nxpatch-0123456789abcdef-Ab12Cd"
"$NXPATCH" scan -r "$T/l255" >"$T/out" 2>&1 || true
grep -q '1 skipped' "$T/out" || fail "a short-form temporary file is not skipped: $(tail -1 "$T/out")"

# Symbolic links in place: refused, the link stays a link, the target unchanged.
cp "$s" "$T/target.exe"; ln -s target.exe "$T/link.exe"
for cmd in "apply --policy $T/nx.yaml --in-place $T/link.exe" \
           "apply --policy $T/nx.yaml --in-place --journal $T/j $T/link.exe" \
           "sign $T/link.exe -o $T/link.exe ${KEY[*]}" \
           "unsign $T/link.exe -o $T/link.exe" \
           "apply --policy $T/nx.yaml $T/target.exe -o $T/link.exe" \
           "sign $T/target.exe -o $T/link.exe ${KEY[*]}"; do
  rc=0
  # shellcheck disable=SC2086
  "$NXPATCH" $cmd >"$T/out" 2>"$T/err" || rc=$?
  [ $rc -eq 3 ] || fail "$cmd: exit $rc, want 3: $(cat "$T/out" "$T/err")"
  grep -q 'symbolic link' "$T/err" || fail "$cmd: no clear message: $(cat "$T/err")"
  [ -L "$T/link.exe" ] || fail "$cmd: the link became a file"
  cmp -s "$s" "$T/target.exe" || fail "$cmd: the target changed"
  ls -A "$T" | grep -Eq 'nxpatch-|orig' && fail "$cmd: left $(ls -A "$T")"
done
echo "ok: --in-place, sign and unsign on a link, and a link as -o OUT, are refused; the link stays"
echo "hostile_names: all checks passed"

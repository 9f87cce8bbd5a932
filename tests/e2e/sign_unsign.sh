#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# unsign: the output has no certificate table, directory entry 4 is zero, the
# CheckSum is valid (an independent Python sum, and pefile when installed),
# and every other byte equals the image before signing. A table that is not
# at the end of the file is refused and nothing is written.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
sign_setup

for img in stripped64 hello64 hello32 overlay32; do
  nxsign "$I/$img.exe" "$T/$img.s.exe"
  "$NXPATCH" unsign "$T/$img.s.exe" -o "$T/$img.u.exe" > "$T/u.out" || fail "$img: unsign exited $?"
  grep -q 'removed 1 signature' "$T/u.out" || fail "$img: $(cat "$T/u.out")"
  [ "$(petool_get "$T/$img.u.exe" cert_off)" = 0 ] && [ "$(petool_get "$T/$img.u.exe" cert_size)" = 0 ] ||
    fail "$img: directory entry 4 not zero"
  # signing padded the input to 8 bytes; unsign keeps that zero padding
  osize=$(stat -c %s "$I/$img.exe")
  [ "$(stat -c %s "$T/$img.u.exe")" = $(( (osize + 7) / 8 * 8 )) ] || fail "$img: size is not the padded original"
  "$PYTHON" -c 'import sys; d=open(sys.argv[1],"rb").read(); sys.exit(any(d[int(sys.argv[2]):]))' \
    "$T/$img.u.exe" "$osize" || fail "$img: padding is not zero"
  petool cmp-except "$I/$img.exe" "$T/$img.u.exe" || fail "$img: bytes differ from the original"
  petool checksum-ok "$T/$img.u.exe" || fail "$img: CheckSum invalid"
  if "$PYTHON" -c 'import pefile' 2>/dev/null; then
    "$PYTHON" -c 'import pefile,sys; sys.exit(0 if pefile.PE(sys.argv[1]).verify_checksum() else 1)' "$T/$img.u.exe" ||
      fail "$img: pefile says the CheckSum is wrong"
  fi
  "$NXPATCH" sigcheck --trust "$P/root.pem" "$T/$img.u.exe" >/dev/null 2>&1 && fail "$img: still verifies"
  echo "ok: $img"
done

# An 8-aligned image comes back byte for byte (its CheckSum was valid).
"$NXPATCH" unsign "$T/stripped64.s.exe" -o "$T/again.exe" >/dev/null || fail "unsign stripped"
if petool checksum-ok "$I/stripped64.exe"; then
  cmp "$I/stripped64.exe" "$T/again.exe" || fail "sign + unsign is not the identity"
fi

# The odd-sized image keeps its padding: unsign gives input + zeros.
nxsign "$I/odd64.exe" "$T/odd.s.exe"
"$NXPATCH" unsign "$T/odd.s.exe" -o "$T/odd.u.exe" >/dev/null || fail "odd: unsign"
petool cmp-except "$I/odd64.exe" "$T/odd.u.exe" || fail "odd: bytes differ"
[ $(( $(stat -c %s "$T/odd.u.exe") % 8 )) = 0 ] || fail "odd: padding dropped"
petool checksum-ok "$T/odd.u.exe" || fail "odd: CheckSum invalid"

# In place, and an unsigned input is written unchanged.
cp "$T/hello64.s.exe" "$T/inplace.exe"
"$NXPATCH" unsign "$T/inplace.exe" -o "$T/inplace.exe" >/dev/null || fail "in-place unsign"
petool cmp-except "$I/hello64.exe" "$T/inplace.exe" || fail "in-place unsign bytes"
"$NXPATCH" unsign "$I/hello64.exe" -o "$T/plain.exe" > "$T/u.out" || fail "unsign of an unsigned image"
grep -q 'not signed' "$T/u.out" || fail "unsigned input not reported"
cmp "$I/hello64.exe" "$T/plain.exe" || fail "unsigned input changed"

# Table not at the end: refused, exit 3, nothing written.
petool append-after-table "$T/hello64.s.exe" "$T/trail.exe"
rc=0; "$NXPATCH" unsign "$T/trail.exe" -o "$T/trail.u.exe" 2> "$T/u.err" || rc=$?
[ "$rc" = 3 ] || fail "table not at end: exit $rc"
grep -q 'not at the end of the file' "$T/u.err" || fail "table not at end: $(cat "$T/u.err")"
[ ! -e "$T/trail.u.exe" ] || fail "output written although refused"
rc=0; "$NXPATCH" sigcheck --trust "$P/root.pem" "$T/trail.exe" > "$T/nx.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "sigcheck accepts a table that is not at the end"
rc=0; "$NXPATCH" sign "$T/trail.exe" -o "$T/trail.s.exe" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" 2>/dev/null || rc=$?
[ "$rc" = 3 ] && [ ! -e "$T/trail.s.exe" ] || fail "sign accepted a table that is not at the end (exit $rc)"
echo "unsign ok"

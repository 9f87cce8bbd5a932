#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Flipping any hashed byte of a signed image (section data, a DllCharacteristics
# bit, overlay, the padding) makes nxpatch sigcheck, osslsigncode and sbverify
# all fail; flipping the CheckSum makes none of them fail. A flipped byte in
# the PKCS#7 signature value fails as a bad signature, an untrusted root as
# untrusted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd osslsigncode
require_cmd sbverify sbsigntool
sign_setup

nxsign "$I/overlay32.exe" "$T/s.exe"
ossl_verify "$T/s.exe" && sb_verify "$T/s.exe" && nx_verify "$T/s.exe" || fail "baseline does not verify"

text=$(petool_get "$T/s.exe" text_off)
dllc=$(petool_get "$T/s.exe" dllchar_off)
csum=$(petool_get "$T/s.exe" checksum_off)
coff=$(petool_get "$T/s.exe" cert_off)
[ "$text" -gt 0 ] && [ "$coff" -gt 4096 ] || fail "unexpected layout"

# tampered NAME OFFSET MASK: every verifier rejects the image.
tampered() {
  cp "$T/s.exe" "$T/$1.exe"
  petool flip "$T/$1.exe" "$2" "$3"
  ossl_verify "$T/$1.exe" && fail "$1: osslsigncode accepts a changed image"
  sb_verify "$T/$1.exe" && fail "$1: sbverify accepts a changed image"
  nx_verify "$T/$1.exe" && fail "$1: nxpatch sigcheck accepts a changed image"
  local rc=0
  "$NXPATCH" sigcheck --trust "$P/root.pem" "$T/$1.exe" > "$T/nx.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "$1: sigcheck exit $rc, expected 1"
  grep -q 'FAILED (digest_mismatch' "$T/nx.log" || fail "$1: $(cat "$T/nx.log")"
  echo "ok: $1 rejected by all three"
}
tampered section $((text + 16)) 0x01
tampered nx_compat $((dllc + 1)) 0x01        # DllCharacteristics 0x0100
tampered header 2 0x01                      # a DOS header byte
tampered overlay $((coff - 100)) 0x80       # in the 4 KiB overlay

# CheckSum is not hashed: all accept.
cp "$T/s.exe" "$T/csum.exe"
petool flip "$T/csum.exe" "$csum" 0x5a
petool checksum-ok "$T/csum.exe" && fail "checksum flip had no effect"
ossl_verify "$T/csum.exe" || { cat "$T/ossl.log" >&2; fail "osslsigncode rejects a flipped CheckSum"; }
sb_verify "$T/csum.exe" || fail "sbverify rejects a flipped CheckSum"
nx_verify "$T/csum.exe" || fail "sigcheck rejects a flipped CheckSum: $(cat "$T/nx.log")"
echo "ok: CheckSum flip accepted by all three"

# The signature value itself: the last bytes of the PKCS#7 are the RSA signature
# (no unsigned attributes): flip one inside the entry, before the padding.
len=$(od -An -tu4 -j "$coff" -N4 "$T/s.exe" | tr -d ' ')
cp "$T/s.exe" "$T/sig.exe"
petool flip "$T/sig.exe" $((coff + len - 10)) 0x01
nx_verify "$T/sig.exe" && fail "sigcheck accepts a damaged signature value"
grep -q 'FAILED (bad_signature' "$T/nx.log" || fail "damaged signature: $(cat "$T/nx.log")"
ossl_verify "$T/sig.exe" && fail "osslsigncode accepts a damaged signature value"
echo "ok: damaged signature value rejected"

# Anchors that do not issue the signer.
"$NXPATCH" sigcheck --trust "$P/other-root.pem" "$T/s.exe" > "$T/nx.log" 2>&1 && fail "untrusted accepted"
grep -q 'FAILED (untrusted' "$T/nx.log" || fail "untrusted: $(cat "$T/nx.log")"

# Unsigned input: exit 1 with a reason; unreadable: exit 3.
rc=0; "$NXPATCH" sigcheck --trust "$P/root.pem" "$I/hello64.exe" > "$T/nx.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'not signed' "$T/nx.log" || fail "unsigned: exit $rc: $(cat "$T/nx.log")"
rc=0; "$NXPATCH" sigcheck --trust "$P/root.pem" "$T/missing.exe" > "$T/nx.log" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "missing file: exit $rc"
rc=0; "$NXPATCH" sigcheck --trust "$P/root.pem" "$P/root.pem" > "$T/nx.log" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "not a PE: exit $rc"
rc=0; "$NXPATCH" sigcheck "$T/s.exe" > "$T/nx.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "no --trust: exit $rc"
echo "tampering detected"

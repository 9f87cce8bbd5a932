#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Images signed by nxpatch verify with osslsigncode, sbverify and nxpatch
# sigcheck: PE32 and PE32+, an odd file size, an overlay, a chain through an
# intermediate, PKCS#12 key material, every digest; the embedded digest equals
# an independent hashlib computation and osslsigncode's. Re-signing replaces
# every earlier signature: nxpatch's, osslsigncode's, and a crafted table of
# two entries. nxpatch verifies osslsigncode-signed images.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd osslsigncode
require_cmd sbverify sbsigntool
sign_setup

# all_verify FILE [sbverify=1]: all three verifiers accept FILE.
all_verify() {
  ossl_verify "$1" || { cat "$T/ossl.log" >&2; fail "osslsigncode rejects $1"; }
  grep -q '^Succeeded' "$T/ossl.log" || fail "osslsigncode did not report success for $1"
  if [ "${2:-1}" = 1 ]; then
    sb_verify "$1" || { cat "$T/sb.log" >&2; fail "sbverify rejects $1"; }
  fi
  nx_verify "$1" || { cat "$T/nx.log" "$T/nx.err" >&2; fail "nxpatch sigcheck rejects $1"; }
}

# digest_check FILE ALG: nxpatch's signed digest == hashlib == osslsigncode's.
digest_check() {
  local want cur calc
  want=$(petool digest "$1" "$2")
  cur=$(sed -n 's/^Current message digest *: *\([0-9A-Fa-f]*\).*/\1/p' "$T/ossl.log" | head -1 | tr A-F a-f)
  calc=$(sed -n 's/^Calculated message digest *: *\([0-9A-Fa-f]*\).*/\1/p' "$T/ossl.log" | head -1 | tr A-F a-f)
  [ -n "$want" ] && [ "$want" = "$cur" ] || fail "$1: signed digest $cur, hashlib says $want"
  [ "$want" = "$calc" ] || fail "$1: osslsigncode computes $calc, hashlib says $want"
}

# entries FILE: number of nxpatch sigcheck lines (one per WIN_CERTIFICATE).
entries() {
  "$NXPATCH" sigcheck --trust "$P/root.pem" "$1" 2>/dev/null | grep -c $'\tentry ' || true
}

for img in hello64 hello32 odd64 overlay32; do
  nxsign "$I/$img.exe" "$T/$img.signed.exe"
  all_verify "$T/$img.signed.exe"
  digest_check "$T/$img.signed.exe" sha256
  [ "$(entries "$T/$img.signed.exe")" = 1 ] || fail "$img: expected one signature"
  size=$(stat -c %s "$T/$img.signed.exe")
  [ $((size % 8)) = 0 ] || fail "$img: signed size $size is not a multiple of 8"
  petool checksum-ok "$T/$img.signed.exe" || fail "$img: CheckSum not valid after signing"
  grep -q $'\tok\t.*digest=sha256' "$T/nx.log" || fail "$img: sigcheck line: $(cat "$T/nx.log")"
  echo "ok: $img"
done

# The odd image was padded: the bytes before the table are the input plus zeros.
orig=$(stat -c %s "$I/odd64.exe")
coff=$(petool_get "$T/odd64.signed.exe" cert_off)
[ "$coff" = $(( (orig + 7) / 8 * 8 )) ] || fail "odd64: table at $coff, input size $orig"
petool cmp-except "$I/odd64.exe" "$T/odd64.signed.exe" ||
  fail "odd64: signing changed bytes other than CheckSum and the directory entry"
"$PYTHON" -c 'import sys; d=open(sys.argv[1],"rb").read(); n=int(sys.argv[2]); sys.exit(any(d[n:int(sys.argv[3])]))' \
  "$T/odd64.signed.exe" "$orig" "$coff" || fail "odd64: padding is not zero"

# Overlay data is kept and hashed.
"$PYTHON" - "$I/overlay32.exe" "$T/overlay32.signed.exe" <<'PY' || fail "overlay not preserved"
import sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
assert b[len(a) - 4096:len(a)] == a[-4096:]
PY

# A chain through an intermediate, verified against the root only.
"$NXPATCH" sign "$I/hello32.exe" -o "$T/chain.exe" --cert "$P/leaf2-chain.pem" --key "$P/leaf2.key" >/dev/null ||
  fail "sign with intermediate chain"
all_verify "$T/chain.exe"

# PKCS#12 key material, passphrase from a file.
"$NXPATCH" sign "$I/hello64.exe" -o "$T/p12.exe" --pkcs12 "$P/leaf.p12" --pass-file "$P/pass.txt" >/dev/null ||
  fail "sign with pkcs12"
all_verify "$T/p12.exe"

# Every digest (sbverify only knows sha256).
for d in sha1 sha384 sha512; do
  nxsign "$I/hello64.exe" "$T/$d.exe" --digest "$d"
  all_verify "$T/$d.exe" 0
  digest_check "$T/$d.exe" "$d"
  grep -q "digest=$d" "$T/nx.log" || fail "sigcheck does not report $d"
done

# Program name and URL land in SpcSpOpusInfo.
nxsign "$I/hello64.exe" "$T/opus.exe" --program-name "nxpatch tést" --url "https://example.org/nxpatch"
all_verify "$T/opus.exe"
"$PYTHON" - "$T/opus.exe" <<'PY' || fail "program name or url missing from the signature"
import sys
d = open(sys.argv[1], 'rb').read()
assert 'nxpatch tést'.encode('utf-16-be') in d, 'program name'
assert b'https://example.org/nxpatch' in d, 'url'
assert '<<<Obsolete>>>'.encode('utf-16-be') in d, 'obsolete link'
PY
grep -q 'Microsoft Individual Code Signing purpose' "$T/ossl.log" || fail "statement type not individual"

# Sign twice: the second signature replaces the first.
nxsign "$T/hello64.signed.exe" "$T/twice.exe" --signing-time 2030-01-01T00:00:00Z
all_verify "$T/twice.exe"
[ "$(entries "$T/twice.exe")" = 1 ] || fail "re-signing left $(entries "$T/twice.exe") signatures"
grep -q 'signing-time=2030-01-01T00:00:00Z' "$T/nx.log" || fail "re-signed image keeps the old signature"

# osslsigncode-signed image: nxpatch verifies it (cross-direction), then re-signs.
osslsigncode sign -certs "$P/leaf-chain.pem" -key "$P/leaf.key" -h sha256 -n "by osslsigncode" \
  -in "$I/hello32.exe" -out "$T/ossl-signed.exe" > "$T/osslsign.log" 2>&1 ||
  { cat "$T/osslsign.log" >&2; fail "osslsigncode sign"; }
nx_verify "$T/ossl-signed.exe" || { cat "$T/nx.log" "$T/nx.err" >&2; fail "nxpatch rejects an osslsigncode signature"; }
grep -q $'\tok\t' "$T/nx.log" || fail "sigcheck did not report ok"
"$NXPATCH" sigcheck --trust "$P/other-root.pem" "$T/ossl-signed.exe" > "$T/nx.log" 2>&1 && fail "untrusted root accepted"
grep -q 'untrusted' "$T/nx.log" || fail "untrusted root: $(cat "$T/nx.log")"
nxsign "$T/ossl-signed.exe" "$T/ossl-resigned.exe"
all_verify "$T/ossl-resigned.exe"
[ "$(entries "$T/ossl-resigned.exe")" = 1 ] || fail "re-signing an osslsigncode image"

# Two WIN_CERTIFICATE entries (nxpatch's and osslsigncode's signature of the
# same image): nxpatch verifies both, re-signing leaves one.
petool add-entry "$T/hello32.signed.exe" "$T/ossl-signed.exe" "$T/two.exe"
nx_verify "$T/two.exe" || { cat "$T/nx.log" "$T/nx.err" >&2; fail "two entries: sigcheck failed"; }
[ "$(grep -c $'\tok\t' "$T/nx.log")" = 2 ] || fail "two entries: expected 2 ok lines: $(cat "$T/nx.log")"
nxsign "$T/two.exe" "$T/two-resigned.exe"
grep -q 'replaced 2 signatures' "$T/sign.out" || fail "sign did not report replacing 2: $(cat "$T/sign.out")"
all_verify "$T/two-resigned.exe"
[ "$(entries "$T/two-resigned.exe")" = 1 ] || fail "two entries: re-signing left $(entries "$T/two-resigned.exe")"

# In place: -o same as IN.
cp "$I/hello64.exe" "$T/inplace.exe"
nxsign "$T/inplace.exe" "$T/inplace.exe"
all_verify "$T/inplace.exe"
grep -q 'nxpatch-' <<<"$(ls -a "$T")" && fail "a temporary file was left behind"
echo "all verifiers agree"

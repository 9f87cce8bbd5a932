#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A signed sample through apply, under each signature setting:
#   refuse (the default): refused, nothing written;
#   strip: the signature is gone and everything else is what patching the
#          unsigned image gives (byte for byte);
#   resign: one new signature that osslsigncode, sbverify and nxpatch verify
#           accept, the planned change made, reproducible with SOURCE_DATE_EPOCH.
# Also: an image with two signature entries is re-signed into one, and the
# plan says so; and verify --trust checks every entry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd osslsigncode
require_cmd sbverify sbsigntool
require_pefile
require_cmd openssl
P=$T/pki
make_pki "$P"

s=$(sample thunk_section64.exe); cp "$s" "$T/plain.exe"
nxsign "$T/plain.exe" "$T/signed.exe" --signing-time 1700000000
ossl_verify "$T/signed.exe" || fail "the signed sample does not verify to begin with"

policy() { # signature-setting
  cat > "$T/$1.yaml" <<Y
nxpatch: 1
settings: {signature: $1}
rules:
  - id: thunks
    when: {has_section: [".thunk"]}
    actions:
      - section: ".thunk"
        add: [execute]
        allow_wx: true
Y
}
for m in refuse strip resign; do policy $m; done

# refuse
cp "$T/signed.exe" "$T/r.exe"; h=$(sha "$T/r.exe")
rc=0; "$NXPATCH" apply --policy "$T/refuse.yaml" --in-place "$T/r.exe" >"$T/out.txt" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "refuse: exit $rc, want 1"
grep -q 'refused \[rule thunks\]: image is signed (1 entry) and the policy says signature: refuse' "$T/out.txt" ||
  fail "refuse: no reason: $(cat "$T/out.txt")"
[ "$(sha "$T/r.exe")" = "$h" ] || fail "refuse: the image was changed"

# strip == unsign, then patch
"$NXPATCH" plan --policy "$T/strip.yaml" "$T/signed.exe" > "$T/plan.txt"
grep -q 'signature: 1 entry removed' "$T/plan.txt" || fail "strip: plan does not say so: $(cat "$T/plan.txt")"
"$NXPATCH" apply --policy "$T/strip.yaml" "$T/signed.exe" -o "$T/stripped.exe" >/dev/null ||
  fail "strip: apply failed"
"$NXPATCH" unsign "$T/signed.exe" -o "$T/unsigned.exe" >/dev/null || fail "unsign failed"
"$NXPATCH" apply --policy "$T/strip.yaml" "$T/unsigned.exe" -o "$T/unsigned-patched.exe" >/dev/null ||
  fail "patching the unsigned image failed"
cmp "$T/stripped.exe" "$T/unsigned-patched.exe" ||
  fail "strip: output differs from unsign + patch"
"$PYTHON" - "$T/stripped.exe" <<'PY' || fail "strip: pefile disagrees"
import sys, pefile
pe = pefile.PE(sys.argv[1])
d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[4]
assert d.VirtualAddress == 0 and d.Size == 0, "certificate entry not zero"
assert pe.verify_checksum()
assert [s for s in pe.sections if s.Name.startswith(b".thunk")][0].Characteristics == 0xE0000040
PY

# resign: verified by three independent verifiers, reproducible
export SOURCE_DATE_EPOCH=1700000000
"$NXPATCH" plan --policy "$T/resign.yaml" "$T/signed.exe" > "$T/plan.txt"
grep -q 'signature: 1 entry replaced by one new signature' "$T/plan.txt" || fail "resign: plan: $(cat "$T/plan.txt")"
rc=0; "$NXPATCH" apply --policy "$T/resign.yaml" "$T/signed.exe" -o "$T/nokey.exe" >"$T/out.txt" 2>&1 || rc=$?
[ $rc -eq 3 ] && grep -q 'no signing key was given' "$T/out.txt" && [ ! -e "$T/nokey.exe" ] ||
  fail "resign without a key: exit $rc: $(cat "$T/out.txt")"
for n in 1 2; do
  NXP_TEST_PASS="$PKI_PASS" "$NXPATCH" apply --policy "$T/resign.yaml" "$T/signed.exe" -o "$T/resigned$n.exe" \
    --cert "$P/leaf-chain.pem" --key "$P/leaf-enc.key" --pass-env NXP_TEST_PASS \
    > "$T/out.txt" 2>&1 < /dev/null || { cat "$T/out.txt"; fail "resign: apply failed"; }
done
grep -qF "$PKI_PASS" "$T/out.txt" && fail "the passphrase appeared in the output"
cmp "$T/resigned1.exe" "$T/resigned2.exe" || fail "resign is not reproducible with SOURCE_DATE_EPOCH"
ossl_verify "$T/resigned1.exe" || { cat "$T/ossl.log"; fail "osslsigncode rejects the re-signed image"; }
sb_verify "$T/resigned1.exe" || { cat "$T/sb.log"; fail "sbverify rejects the re-signed image"; }
"$NXPATCH" verify --policy "$T/resign.yaml" --trust "$P/root.pem" "$T/resigned1.exe" > "$T/v.txt" ||
  fail "nxpatch verify rejects the re-signed image: $(cat "$T/v.txt")"
grep -q 'signature 0: ok, signer .*CN=' "$T/v.txt" || fail "verify does not report the signer: $(cat "$T/v.txt")"
"$NXPATCH" verify --trust "$P/other-root.pem" --policy "$T/resign.yaml" "$T/resigned1.exe" >/dev/null &&
  fail "verify accepted a signature against an unrelated root"
"$PYTHON" - "$T/resigned1.exe" <<'PY' || fail "resign: patched field or checksum wrong"
import sys, pefile
pe = pefile.PE(sys.argv[1])
assert pe.verify_checksum()
assert [s for s in pe.sections if s.Name.startswith(b".thunk")][0].Characteristics == 0xE0000040
PY

# Two entries (a signed table plus a crafted second entry): one after re-signing.
"$PYTHON" - "$T/signed.exe" "$T/two.exe" <<'PY'
import struct, sys, pefile
data = bytearray(open(sys.argv[1], "rb").read())
pe = pefile.PE(data=bytes(data))
d = pe.OPTIONAL_HEADER.DATA_DIRECTORY[4]
first = data[d.VirtualAddress:d.VirtualAddress + d.Size]
data += first                      # the same entry again, 8-aligned already
off = pe.OPTIONAL_HEADER.get_file_offset() + 128 + 16 + 4  # PE32+ dir 4 size
struct.pack_into("<I", data, off, d.Size * 2)
open(sys.argv[2], "wb").write(data)
PY
grep -q '"entries": 2' <<<"$("$NXPATCH" scan --format json "$T/two.exe")" || fail "crafted image lacks 2 entries"
grep -q 'signature: 2 entries replaced by one new signature' <<<"$("$NXPATCH" plan --policy "$T/resign.yaml" "$T/two.exe")" ||
  fail "plan does not say both entries are replaced"
NXP_TEST_PASS="$PKI_PASS" "$NXPATCH" apply --policy "$T/resign.yaml" "$T/two.exe" -o "$T/two-resigned.exe" \
  --cert "$P/leaf-chain.pem" --key "$P/leaf-enc.key" --pass-env NXP_TEST_PASS >/dev/null || fail "resign two"
grep -q '"entries": 1' <<<"$("$NXPATCH" scan --format json "$T/two-resigned.exe")" || fail "re-signed image has more than one entry"
ossl_verify "$T/two-resigned.exe" || fail "osslsigncode rejects the re-signed two-entry image"

# A shipped policy's output, signed afterwards (issue 13 item 6): its rules
# say signed: false, which must not turn the W+X section they sanctioned
# (allow_wx) into a failure, and nothing becomes pending.
TS=$NXP_SOURCE_DIR/rules/thunk-sections.yaml
for pair in "$TS:$NXP_SAMPLES_DIR/evidence/ev_call64.exe" "$TS:$(sample thunk_section64.exe)" \
            "$T/resign.yaml:$(sample thunk_section64.exe)"; do
  pol=${pair%%:*} ev=${pair#*:}
  {
    rm -f "$T/ev.exe" "$T/ev-signed.exe"
    "$NXPATCH" apply --policy "$pol" "$ev" -o "$T/ev.exe" >/dev/null || fail "apply $pol $ev"
    [ -e "$T/ev.exe" ] || fail "apply $pol wrote nothing for $ev"
    nxsign "$T/ev.exe" "$T/ev-signed.exe"
    "$NXPATCH" verify --policy "$pol" --trust "$P/root.pem" "$T/ev-signed.exe" >"$T/v.txt" ||
      fail "verify fails on the signed output of $(basename "$pol") for $(basename "$ev"): $(cat "$T/v.txt")"
    grep -q 'writable and executable, allowed by rule' "$T/v.txt" ||
      fail "verify does not name the sanctioning rule: $(cat "$T/v.txt")"
    "$NXPATCH" plan --check --policy "$pol" "$T/ev-signed.exe" >/dev/null ||
      fail "plan --check is not empty on the signed output of $(basename "$pol")"
  }
done
echo "apply_signed: all checks passed"

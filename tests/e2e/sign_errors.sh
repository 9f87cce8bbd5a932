#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Key material and input problems: each gives a specific message and exit
# status (2 for key material and usage, 3 for the input image), no output file
# is created, and the passphrase never appears in any output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
sign_setup
IN=$I/hello64.exe

# expect STATUS PATTERN ARGS...: nxpatch sign IN -o $T/out.exe ARGS... fails so.
expect() {
  local want=$1 pat=$2 rc=0
  shift 2
  rm -f "$T/out.exe"
  "$NXPATCH" sign "$IN" -o "$T/out.exe" "$@" > "$T/e.out" 2> "$T/e.err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/e.err" >&2; fail "sign $*: exit $rc, expected $want"; }
  grep -q -- "$pat" "$T/e.err" || fail "sign $*: message '$(cat "$T/e.err")' lacks '$pat'"
  [ ! -e "$T/out.exe" ] || fail "sign $*: output created"
  ! grep -q -- "$PKI_PASS" "$T/e.out" "$T/e.err" || fail "sign $*: passphrase echoed"
  grep -q 'nxpatch-' <<<"$(ls -a "$T")" && fail "sign $*: temporary file left behind"
  echo "ok ($rc): $(head -1 "$T/e.err")"
}

export NXP_TEST_PASS=$PKI_PASS NXP_WRONG_PASS=not-the-passphrase
printf 'wrong-passphrase\n' > "$T/wrong.txt"

# encrypted key
expect 2 'encrypted and no passphrase' --cert "$P/leaf-chain.pem" --key "$P/leaf-enc.key"
expect 2 'wrong passphrase' --cert "$P/leaf-chain.pem" --key "$P/leaf-enc.key" --pass-env NXP_WRONG_PASS
expect 2 'wrong passphrase' --cert "$P/leaf-chain.pem" --key "$P/leaf-enc.key" --pass-file "$T/wrong.txt"
expect 2 'NXP_UNSET_VAR is not set' --cert "$P/leaf-chain.pem" --key "$P/leaf-enc.key" --pass-env NXP_UNSET_VAR
expect 2 'cannot open passphrase file' --cert "$P/leaf-chain.pem" --key "$P/leaf-enc.key" --pass-file "$T/nope.txt"
# PKCS#12
expect 2 'wrong passphrase for PKCS#12' --pkcs12 "$P/leaf.p12" --pass-env NXP_WRONG_PASS
expect 2 'needs a passphrase' --pkcs12 "$P/leaf.p12"
expect 2 'not a DER PKCS#12' --pkcs12 "$P/leaf.pem" --pass-env NXP_TEST_PASS
# wrong pair, missing files, no certificate, no codeSigning
expect 2 'does not match the leaf' --cert "$P/leaf-chain.pem" --key "$P/other.key"
expect 2 'cannot open certificate file' --cert "$T/missing.pem" --key "$P/leaf.key"
expect 2 'cannot open key file' --cert "$P/leaf-chain.pem" --key "$T/missing.key"
expect 2 'no PEM certificate' --cert "$P/leaf.key" --key "$P/leaf.key"
expect 2 'no usable PEM private key' --cert "$P/leaf-chain.pem" --key "$P/leaf.pem"
expect 2 'lacks the codeSigning' --cert "$P/noeku.pem" --key "$P/noeku.key"
# usage
expect 2 'needs --cert and --key' --cert "$P/leaf-chain.pem"
expect 2 'not both' --cert "$P/leaf-chain.pem" --key "$P/leaf.key" --pkcs12 "$P/leaf.p12"
expect 2 'unknown digest' --cert "$P/leaf-chain.pem" --key "$P/leaf.key" --digest md5
expect 2 'unknown option' --cert "$P/leaf-chain.pem" --key "$P/leaf.key" --pass "$PKI_PASS"
expect 2 'http://' --cert "$P/leaf-chain.pem" --key "$P/leaf.key" --timestamp-url https://tsa.example
rc=0; "$NXPATCH" sign "$IN" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "no -o: exit $rc"
# the input image
IN=$T/missing.exe expect 3 'cannot open' --cert "$P/leaf-chain.pem" --key "$P/leaf.key"
IN=$P/root.pem expect 3 '' --cert "$P/leaf-chain.pem" --key "$P/leaf.key"
printf 'MZ' > "$T/tiny.exe"
IN=$T/tiny.exe expect 3 '' --cert "$P/leaf-chain.pem" --key "$P/leaf.key"

# The right passphrases work (and are not echoed either).
for args in "--key $P/leaf-enc.key --pass-env NXP_TEST_PASS" "--key $P/leaf-enc.key --pass-file $P/pass.txt"; do
  # shellcheck disable=SC2086
  "$NXPATCH" sign "$IN" -o "$T/good.exe" --cert "$P/leaf-chain.pem" $args > "$T/g.out" 2>&1 ||
    fail "sign $args: $(cat "$T/g.out")"
  ! grep -q -- "$PKI_PASS" "$T/g.out" || fail "passphrase echoed"
  "$NXPATCH" sigcheck --trust "$P/root.pem" "$T/good.exe" >/dev/null || fail "signed with $args: no verify"
done
"$NXPATCH" sign "$IN" -o "$T/good.exe" --pkcs12 "$P/leaf.p12" --pass-env NXP_TEST_PASS > "$T/g.out" 2>&1 ||
  fail "pkcs12 with env passphrase: $(cat "$T/g.out")"
echo "errors ok"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# signature: sign (policy setting) and --signature sign: every output is
# signed, whether or not its input was, so a post-link step patches and signs
# in one command; osslsigncode and sbverify accept the outputs. Signing
# material that would not be used is a usage error (exit 2) and nothing is
# written: key options under refuse or strip, a key for an unsigned image
# under resign, sign without a key, --digest without a key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd osslsigncode
require_cmd sbverify sbsigntool
require_cmd openssl
P=$T/pki
make_pki "$P"
KEY=(--cert "$P/leaf-chain.pem" --key "$P/leaf.key")
THUNK=$(sample thunk_section64.exe)   # unsigned, a .thunk section without execute
HELLO=$(sample hello64.exe)           # unsigned, nothing to change under the edits below

run() { rc=0; "$NXPATCH" "$@" >"$T/out" 2>"$T/err" || rc=$?; }
all_verify() {
  ossl_verify "$1" || { cat "$T/ossl.log" >&2; fail "osslsigncode rejects $1"; }
  grep -q '^Succeeded' "$T/ossl.log" || fail "osslsigncode did not report success for $1"
  sb_verify "$1" || { cat "$T/sb.log" >&2; fail "sbverify rejects $1"; }
  nx_verify "$1" || { cat "$T/nx.log" "$T/nx.err" >&2; fail "nxpatch sigcheck rejects $1"; }
  [ "$(grep -c $'\tentry ' "$T/nx.log")" = 1 ] || fail "$1: want exactly one signature entry"
}
thunk_exec() { # FILE: is .thunk executable
  local c
  c=$(sec_chars "$1" .thunk)
  [ -n "$c" ] || fail "$1 has no .thunk section"
  (( c & 0x20000000 ))
}

# --- a YAML policy with signature: sign: patched and signed in one command ----
cat >"$T/sign.yaml" <<'Y'
nxpatch: 1
settings:
  signature: sign
rules:
  - id: thunks
    when: {has_section: [".thunk"]}
    actions:
      - section: ".thunk"
        add: [execute]
        allow_wx: true
Y
thunk_exec "$THUNK" && fail "the sample's .thunk is executable to begin with"
run apply --policy "$T/sign.yaml" "${KEY[@]}" "$THUNK" -o "$T/thunk.exe"
[ $rc = 0 ] || fail "apply signature: sign: exit $rc: $(cat "$T/out" "$T/err")"
grep -q 'signature: the unsigned image gets a new signature' "$T/out" || fail "plan text: $(cat "$T/out")"
thunk_exec "$T/thunk.exe" || fail "the planned change is missing from the signed output"
all_verify "$T/thunk.exe"
run verify --policy "$T/sign.yaml" --trust "$P/root.pem" "$T/thunk.exe"
[ $rc = 0 ] || fail "verify of the signed output: exit $rc: $(cat "$T/out")"
run verify --policy "$T/sign.yaml" "$THUNK"
[ $rc = 1 ] && grep -q 'pending: signature (the image is unsigned' "$T/out" ||
  fail "verify of the unsigned input: exit $rc: $(cat "$T/out")"
echo "ok: signature: sign patches and signs; osslsigncode and sbverify accept it"

# --- --signature sign on an image with nothing else to change -----------------
run plan --signature sign --format json "$HELLO"
"$PYTHON" - "$T/out" <<'PY' || fail "plan --signature sign: $(cat "$T/out")"
import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
assert f["plan"] == "changes" and f["changes"] == [], (f["plan"], f["changes"])
assert f["signature"]["action"] == "sign", f["signature"]
assert any("signing needs key material" in w for w in f["warnings"]), f["warnings"]
PY
export SOURCE_DATE_EPOCH=1700000000
run apply --signature sign "${KEY[@]}" "$HELLO" -o "$T/hello.exe"
[ $rc = 0 ] && grep -q 'a new signature only' "$T/out" || fail "sign only: exit $rc: $(cat "$T/out" "$T/err")"
all_verify "$T/hello.exe"
run apply --signature sign "${KEY[@]}" "$HELLO" -o "$T/hello2.exe"
cmp "$T/hello.exe" "$T/hello2.exe" || fail "--signature sign is not reproducible under SOURCE_DATE_EPOCH"
unset SOURCE_DATE_EPOCH
echo "ok: --signature sign signs an image with nothing else to change"

# --- signed inputs under sign: a changed one is re-signed, an unchanged one kept
nxsign "$THUNK" "$T/signed.exe"
run apply --signature sign --section '.thunk:+execute' --allow-wx "${KEY[@]}" "$T/signed.exe" -o "$T/resigned.exe"
[ $rc = 0 ] || fail "sign on a signed input: exit $rc: $(cat "$T/out" "$T/err")"
thunk_exec "$T/resigned.exe" || fail "re-signed output lacks the change"
all_verify "$T/resigned.exe"
run apply --signature sign "${KEY[@]}" "$T/signed.exe" -o "$T/kept.exe"
[ $rc = 0 ] && grep -q 'nothing to do' "$T/out" && [ ! -e "$T/kept.exe" ] ||
  fail "a signed image with nothing to change: exit $rc: $(cat "$T/out")"
echo "ok: signed inputs under sign"

# --- signing material that would not be used: exit 2, nothing written ---------
unused() { # WANT ARGS...
  local want=$1
  shift
  rm -rf "$T/o"
  mkdir -p "$T/o"
  run apply "$@"
  [ $rc = 2 ] || fail "apply $*: exit $rc, want 2 ($(cat "$T/err"))"
  grep -qF -- "$want" "$T/err" || fail "apply $*: message: $(cat "$T/err"); want: $want"
  [ -z "$(ls -A "$T/o")" ] || fail "apply $*: wrote $(ls "$T/o")"
}
unused "--cert: signing options were given, but signature: refuse (the built-in default policy" \
  "${KEY[@]}" "$THUNK" -o "$T/o/x.exe"
unused "--pkcs12: signing options were given, but signature: strip (--signature strip) never signs an output; --signature sign signs every output" \
  --signature strip --pkcs12 "$P/leaf.p12" --pass-file "$P/pass.txt" "$THUNK" -o "$T/o/x.exe"
unused "not written: key material was given (--cert), but the image is unsigned and signature: resign (--signature resign) re-signs only signed images; --signature sign signs every output" \
  --signature resign --section '.thunk:+execute' --allow-wx "${KEY[@]}" "$THUNK" -o "$T/o/x.exe"
unused "signature: sign ($T/sign.yaml:3:14) signs every output and needs key material" \
  --policy "$T/sign.yaml" "$THUNK" -o "$T/o/x.exe"
unused "signature: sign (--signature sign) signs every output and needs key material" \
  --signature sign "$THUNK" -o "$T/o/x.exe"
unused "--digest: signing options without key material (--cert and --key, or --pkcs12) sign nothing" \
  --signature resign --digest sha384 "$THUNK" -o "$T/o/x.exe"
# a batch under resign with a key: the signed image is re-signed, the unsigned one is not written
mkdir -p "$T/in"
cp "$T/signed.exe" "$T/in/a.exe"
cp "$THUNK" "$T/in/b.exe"
rm -rf "$T/o"; mkdir -p "$T/o"
run apply --signature resign --section '.thunk:+execute' --allow-wx "${KEY[@]}" "$T/in/a.exe" "$T/in/b.exe" --out-dir "$T/o"
[ $rc = 2 ] || fail "mixed batch under resign: exit $rc, want 2"
[ -e "$T/o/a.exe" ] && [ ! -e "$T/o/b.exe" ] || fail "mixed batch: outputs $(ls "$T/o")"
all_verify "$T/o/a.exe"
grep -q 'b.exe: not written: key material was given' "$T/err" || fail "mixed batch: $(cat "$T/err")"
echo "ok: unused signing material is an error"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# RFC 3161 timestamping against a TSA the test runs on 127.0.0.1 (python3
# http.server + `openssl ts -reply`, TSA certificate from the test PKI):
# the token is embedded, sigcheck reports its time, osslsigncode verifies it;
# a garbage reply, an HTTP error and a closed port fail with exit 3 and no
# output. The servers are killed at the end (and exit by themselves after 120 s).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd osslsigncode
[ -x "$PYTHON" ] || skip "python3 not installed"
sign_setup

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

# start_tsa MODE: sets PORT.
start_tsa() {
  rm -f "$T/port.$1"
  "$PYTHON" "$NXP_SOURCE_DIR/tests/e2e/tsa_server.py" "$P" "$T/port.$1" "$1" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$T/port.$1" ] && break; sleep 0.1; done
  [ -s "$T/port.$1" ] || fail "TSA ($1) did not start"
  PORT=$(cat "$T/port.$1")
}

start_tsa ok
nxsign "$I/hello64.exe" "$T/ts.exe" --timestamp-url "http://127.0.0.1:$PORT/tsa"
grep -q timestamped "$T/sign.out" || fail "sign output: $(cat "$T/sign.out")"
nx_verify "$T/ts.exe" || fail "sigcheck: $(cat "$T/nx.log" "$T/nx.err")"
grep -q 'timestamp=rfc3161@20' "$T/nx.log" || fail "timestamp not reported: $(cat "$T/nx.log")"
osslsigncode verify -CAfile "$P/root.pem" -TSA-CAfile "$P/root.pem" -in "$T/ts.exe" > "$T/ossl.log" 2>&1 ||
  { cat "$T/ossl.log" >&2; fail "osslsigncode rejects the timestamped image"; }
grep -q 'Timestamp Server Signature verification: ok' "$T/ossl.log" ||
  { cat "$T/ossl.log" >&2; fail "osslsigncode did not verify the timestamp"; }
if command -v sbverify >/dev/null; then
  sbverify --cert "$P/root.pem" "$T/ts.exe" > "$T/sb.log" 2>&1 || fail "sbverify rejects the timestamped image"
fi
# Every digest works with the TSA.
nxsign "$I/hello32.exe" "$T/ts384.exe" --digest sha384 --timestamp-url "http://127.0.0.1:$PORT/"
nx_verify "$T/ts384.exe" || fail "sha384 timestamped: $(cat "$T/nx.log")"

# failure modes: exit 3, no output
ts_fails() {
  local rc=0
  rm -f "$T/bad.exe"
  "$NXPATCH" sign "$I/hello64.exe" -o "$T/bad.exe" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" \
    --timestamp-url "$1" 2> "$T/bad.err" >/dev/null || rc=$?
  [ "$rc" = 3 ] || fail "$1: exit $rc: $(cat "$T/bad.err")"
  grep -q "$2" "$T/bad.err" || fail "$1: message $(cat "$T/bad.err") lacks $2"
  [ ! -e "$T/bad.exe" ] || fail "$1: output written"
  echo "ok: $(cat "$T/bad.err")"
}
start_tsa garbage
ts_fails "http://127.0.0.1:$PORT/" "not a TimeStampResp"
start_tsa http500
ts_fails "http://127.0.0.1:$PORT/" "HTTP status 500"
# a port nobody listens on (the first server's port after it is gone)
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
sleep 0.2
ts_fails "http://127.0.0.1:$(cat "$T/port.ok")/" "cannot connect"

# Credentials in the URL go out as HTTP Basic authentication and never into
# a message (shown as ***@host).
start_tsa auth
nxsign "$I/hello64.exe" "$T/auth.exe" --timestamp-url "http://tsauser:p%40ss%20w0rd@127.0.0.1:$PORT/tsa"
nx_verify "$T/auth.exe" || fail "timestamped with credentials: $(cat "$T/nx.log")"
! grep -q "w0rd" "$T/sign.out" || fail "the password is in the output: $(cat "$T/sign.out")"
ts_fails "http://tsauser:WRONGSECRET@127.0.0.1:$PORT/tsa" "HTTP status 401"
start_tsa garbage
ts_fails "http://tsauser:WRONGSECRET@127.0.0.1:$PORT/tsa" \
  "reply from http://\*\*\*@127.0.0.1:$PORT/tsa is not a TimeStampResp"
ts_fails "http://tsauser:WRONGSECRET@127.0.0.1:$PORT" "not a TimeStampResp"
rc=0
"$NXPATCH" sign "$I/hello64.exe" -o "$T/bad.exe" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" \
  --timestamp-url "http://tsauser:WRONGSECRET@127.0.0.1:99999999999999999/" 2> "$T/bad.err" \
  >/dev/null || rc=$?
[ "$rc" != 0 ] || fail "a bad port was accepted"
grep -q 'http://\*\*\*@127.0.0.1:99999999999999999/' "$T/bad.err" ||
  fail "the bad URL is not shown redacted: $(cat "$T/bad.err")"
for f in "$T"/*.err "$T"/*.out; do
  ! grep -l "WRONGSECRET" "$f" || fail "credentials echoed in $f: $(cat "$f")"
done
echo "ok: credentials in the timestamp URL work and are never shown"
echo "timestamping ok"

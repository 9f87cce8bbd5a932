#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reproducible signatures: the same input, key and --signing-time give
# byte-identical outputs; SOURCE_DATE_EPOCH gives the same bytes; ISO 8601 and
# unix seconds name the same time; another time gives other bytes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
sign_setup

nxsign "$I/hello64.exe" "$T/a.exe" --signing-time 1704164645
nxsign "$I/hello64.exe" "$T/b.exe" --signing-time 1704164645
cmp "$T/a.exe" "$T/b.exe" || fail "same inputs, different outputs"
nxsign "$I/hello64.exe" "$T/c.exe" --signing-time 2024-01-02T03:04:05Z
cmp "$T/a.exe" "$T/c.exe" || fail "ISO 8601 and unix seconds differ"
nxsign "$I/hello64.exe" "$T/c2.exe" --signing-time 2024-01-02T05:04:05+02:00
cmp "$T/a.exe" "$T/c2.exe" || fail "ISO 8601 with offset differs"
SOURCE_DATE_EPOCH=1704164645 nxsign "$I/hello64.exe" "$T/d.exe"
cmp "$T/a.exe" "$T/d.exe" || fail "SOURCE_DATE_EPOCH differs from --signing-time"
# --signing-time wins over SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=1 nxsign "$I/hello64.exe" "$T/e.exe" --signing-time 1704164645
cmp "$T/a.exe" "$T/e.exe" || fail "--signing-time does not override SOURCE_DATE_EPOCH"
nxsign "$I/hello64.exe" "$T/f.exe" --signing-time 1704164646
cmp -s "$T/a.exe" "$T/f.exe" && fail "a different signing time gave the same bytes"
"$NXPATCH" sigcheck --trust "$P/root.pem" "$T/a.exe" > "$T/nx.log" || fail "sigcheck: $(cat "$T/nx.log")"
grep -q 'signing-time=2024-01-02T03:04:05Z' "$T/nx.log" || fail "signing time not reported: $(cat "$T/nx.log")"
# Re-signing a signed image with the same time gives the same bytes again.
nxsign "$T/f.exe" "$T/g.exe" --signing-time 1704164645
cmp "$T/a.exe" "$T/g.exe" || fail "re-signing is not reproducible"
# Bad times are usage errors.
for bad in yesterday 2024-13-01 1704164645x; do
  rc=0; "$NXPATCH" sign "$I/hello64.exe" -o "$T/bad.exe" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" \
    --signing-time "$bad" 2>/dev/null || rc=$?
  [ "$rc" = 2 ] || fail "--signing-time $bad: exit $rc"
done
rc=0; SOURCE_DATE_EPOCH=soon "$NXPATCH" sign "$I/hello64.exe" -o "$T/bad.exe" --cert "$P/leaf-chain.pem" \
  --key "$P/leaf.key" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "SOURCE_DATE_EPOCH=soon: exit $rc"
[ ! -e "$T/bad.exe" ] || fail "output created on a usage error"
echo "reproducible"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every SARIF document nxpatch writes (scan, plan, verify, with and without a
# policy and --trust) validates against the SARIF 2.1.0 JSON schema, and has
# what GitHub code scanning needs (tests/tools/sarif_validate.js). Inputs:
# the samples and the packed/odd clamav and EFI images of the test corpus,
# which produce every kind of finding (pending, refused, W+X, code in data,
# reader warnings with non-UTF-8 section names, signatures). Also: NX
# findings carry BinSkim's BA2016 in verify too, and fingerprints are stable
# between runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_corpus
require_sarif_validator
require_cmd openssl
P=$T/pki
make_pki "$P"

IN=("$NXP_SAMPLES_DIR" "$TC/clamav" "$TC/efi" "$TC/other")
docs=()
run() { # NAME nxpatch-args...
  local n=$1; shift
  "$NXPATCH" "$@" -r -q --format sarif "${IN[@]}" >"$T/$n.sarif" 2>"$T/$n.err" || true
  [ -s "$T/$n.sarif" ] || fail "$n: no SARIF: $(head -3 "$T/$n.err")"
  docs+=("$T/$n.sarif")
}
run scan scan
run plan-default plan
run verify-default verify
for p in thunk-sections uefi driver-hvci; do
  run "plan-$p" plan --policy "$NXP_SOURCE_DIR/rules/$p.yaml"
  run "verify-$p" verify --policy "$NXP_SOURCE_DIR/rules/$p.yaml"
done
run verify-trust verify --trust "$P/root.pem"
SARIF_VALIDATE "${docs[@]}" || fail "SARIF does not validate"

"$PYTHON" - "$T/verify-default.sarif" "$T/scan.sarif" "$T/plan-default.sarif" "$T/verify-trust.sarif" <<'PY' || fail "SARIF content"
import json, sys
v, s, p, t = (json.load(open(f))["runs"][0] for f in sys.argv[1:])
def ids(run): return {r["ruleId"] for r in run["results"]}
assert "BA2016" in ids(v), "verify has no BA2016 result"
assert "BA2016" in ids(s) and "BA2021" in ids(s), ids(s)
assert any(r["ruleId"] == "BA2021" and r["properties"]["verdict"] == "refused" for r in p["results"]), ids(p)
assert {"NXP1001", "BA2016"} <= ids(p), ids(p)
assert "NXP1004" in ids(t), ids(t)
for run in (v, s, p, t):
    for r in run["results"]:
        assert r["properties"]["finding"] and r["properties"]["verdict"], r
# verify's errors are exactly its failing (pending/refused/signature) findings.
for r in v["results"]:
    assert (r["level"] == "error") == (r["properties"]["verdict"] != "posture"), r
print("sarif: BA2016 in scan and verify, refusals and W+X in plan, signatures with --trust")
PY

# Fingerprints are stable: a second run gives the same set.
"$NXPATCH" verify -r -q --format sarif "${IN[@]}" >"$T/again.sarif" 2>/dev/null || true
"$PYTHON" - "$T/verify-default.sarif" "$T/again.sarif" <<'PY' || fail "fingerprints differ between runs"
import json, sys
fp = [sorted(json.dumps(r["partialFingerprints"]) for r in json.load(open(f))["runs"][0]["results"]) for f in sys.argv[1:]]
assert fp[0] == fp[1] and fp[0]
PY
echo "sarif_schema: all checks passed"

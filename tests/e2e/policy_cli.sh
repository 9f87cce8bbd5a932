#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `nxpatch policy check` and `nxpatch policy show-default`: output formats
# and exit codes (0 ok, 2 invalid policy or usage, 3 unreadable file).
. "$(dirname "$0")/lib.sh"

# show-default prints the compiled-in rules/default.yaml byte for byte
"$NXPATCH" policy show-default >"$T/default.yaml"
cmp "$T/default.yaml" "$NXP_SOURCE_DIR/rules/default.yaml" || fail "show-default differs"
# ... and what it prints is a valid policy
out=$(cd "$T" && "$NXPATCH" policy check default.yaml)
[[ $out =~ ^default\.yaml:\ ok\ \([0-9]+\ rules?\)$ ]] || fail "default: $out"

# every shipped policy passes, one line each, in argument order
n=0
for f in "$NXP_SOURCE_DIR"/rules/*.yaml; do n=$((n + 1)); done
[ "$n" -ge 5 ] || fail "expected at least 5 shipped policies, found $n"
"$NXPATCH" policy check "$NXP_SOURCE_DIR"/rules/*.yaml >"$T/out" 2>"$T/err" ||
  fail "shipped rules do not check: $(cat "$T/err")"
[ ! -s "$T/err" ] || fail "stderr: $(cat "$T/err")"
[ "$(grep -c ': ok (' "$T/out")" -eq "$n" ] || fail "not one ok line per file: $(cat "$T/out")"

# a bad file among good ones: exit 2, the good ones still reported ok, the
# diagnostics in compiler format without the "nxpatch: " prefix
cat >"$T/bad.yaml" <<'Y'
nxpatch: 1
rules:
  - id: a
    actions:
      - set: [nx_compt]
Y
printf 'nxpatch: 1\nrules: []\n' >"$T/good.yaml"
rc=0
(cd "$T" && "$NXPATCH" policy check good.yaml bad.yaml) >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "exit $rc for an invalid policy, expected 2"
[ "$(cat "$T/out")" = "good.yaml: ok (0 rules)" ] || fail "stdout: $(cat "$T/out")"
cat >"$T/want" <<'Y'
bad.yaml:5:15: unknown dll characteristics flag 'nx_compt' (did you mean 'nx_compat'?)
      - set: [nx_compt]
              ^
Y
diff -u "$T/want" "$T/err" || fail "diagnostic format"

# an unreadable file: exit 3, reported as nxpatch: ... cannot open
rc=0
"$NXPATCH" policy check "$T/missing.yaml" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 3 ] || fail "exit $rc for a missing file, expected 3"
grep -q "^nxpatch: $T/missing.yaml: cannot open: " "$T/err" || fail "missing: $(cat "$T/err")"

# usage errors: exit 2
for args in "" "check" "frobnicate" "show-default extra"; do
  rc=0
  # shellcheck disable=SC2086
  "$NXPATCH" policy $args >/dev/null 2>"$T/err" || rc=$?
  [ "$rc" -eq 2 ] || fail "'policy $args' exit $rc, expected 2"
  grep -q "^nxpatch policy: usage" "$T/err" || fail "'policy $args': $(cat "$T/err")"
done

# listed in help
grep -q '^  policy ' <<<"$("$NXPATCH" help)" || fail "policy missing from help"
echo ok

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# --policy NAME finds a shipped rule set (build tree: share/nxpatch/rules beside
# the binary; NXPATCH_RULES_PATH first), `policy list` and `policy show`,
# `--policy -` reads standard input, and every --policy failure is exit 2.
. "$(dirname "$0")/lib.sh"
S=$NXP_SAMPLES_DIR
[ -f "$S/thunk_section64.exe" ] || fail "samples not built"
unset NXPATCH_RULES_PATH

"$NXPATCH" policy list >"$T/list" || fail "policy list"
for r in "$NXP_SOURCE_DIR"/rules/*.yaml; do
  n=$(basename "$r" .yaml)
  grep -Eq "^$n +[^ ]" "$T/list" || fail "policy list lacks '$n' with a description: $(cat "$T/list")"
done
[ "$(wc -l <"$T/list")" -eq "$(ls "$NXP_SOURCE_DIR"/rules/*.yaml | wc -l)" ] || fail "list: $(cat "$T/list")"
"$NXPATCH" policy show uefi >"$T/uefi.yaml" || fail "policy show uefi"
cmp -s "$T/uefi.yaml" "$NXP_SOURCE_DIR/rules/uefi.yaml" || fail "policy show differs from rules/uefi.yaml"
rc=0; "$NXPATCH" policy show nope 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "policy show of an unknown name: exit $rc"
grep -q 'policy list' <<<"$("$NXPATCH" policy --help)" || fail "policy --help"

# by name, with or without .yaml, gives the plan of the file
"$NXPATCH" plan --policy "$NXP_SOURCE_DIR/rules/thunk-sections.yaml" "$S/thunk_section64.exe" >"$T/byfile"
"$NXPATCH" plan --policy thunk-sections "$S/thunk_section64.exe" >"$T/byname" || fail "plan --policy NAME"
"$NXPATCH" plan --policy thunk-sections.yaml "$S/thunk_section64.exe" >"$T/byname2" || fail "NAME.yaml"
sed -i 's/in [0-9.]* s$//' "$T/byfile" "$T/byname" "$T/byname2"
cmp -s "$T/byfile" "$T/byname" || fail "plan by name differs: $(diff "$T/byfile" "$T/byname")"
cmp -s "$T/byfile" "$T/byname2" || fail "plan by NAME.yaml differs"
grep -q 'rule thunk-section\]' "$T/byname" || fail "by name: $(cat "$T/byname")"
# a file of that name in the current directory wins over the shipped set
printf 'nxpatch: 1\nrules: []\n' >"$T/uefi"
grep -q 'nothing to do' <<<"$( (cd "$T" && "$NXPATCH" plan --policy uefi "$S/thunk_section64.exe") )" ||
  fail "a file named like a rule set is not preferred"
# NXPATCH_RULES_PATH is searched first
mkdir -p "$T/rules"
printf 'nxpatch: 1\nrules:\n  - id: mine\n    actions:\n      - set: [nx_compat]\n' >"$T/rules/uefi.yaml"
NXPATCH_RULES_PATH=$T/rules "$NXPATCH" plan --policy uefi "$S/nonx32.exe" >"$T/mine" 2>&1 || true
grep -q 'rule mine' "$T/mine" || fail "NXPATCH_RULES_PATH not searched first: $(cat "$T/mine")"

# --policy - reads the policy from standard input; messages name <stdin>
"$NXPATCH" policy show thunk-sections | "$NXPATCH" plan --policy - "$S/thunk_section64.exe" >"$T/stdin" ||
  fail "plan --policy -"
sed -i 's/in [0-9.]* s$//' "$T/stdin"
cmp -s "$T/byfile" "$T/stdin" || fail "--policy - differs: $(diff "$T/byfile" "$T/stdin")"
rc=0; printf 'nxpatch: 1\nrules:\n  - id: a\n    actions:\n      - set: [nx_compt]\n' |
  "$NXPATCH" plan --policy - "$S/hello64.exe" 2>"$T/err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "invalid policy on stdin: exit $rc"
grep -q "^<stdin>:5:15: unknown dll characteristics flag 'nx_compt' (did you mean 'nx_compat'?)" "$T/err" ||
  fail "stdin diagnostics: $(cat "$T/err")"

# every --policy failure is a usage error (exit 2) on every command that takes it
for cmd in plan verify "apply -o $T/x.exe"; do
  for bad in "$T/missing.yaml" no-such-set; do
    rc=0; $NXPATCH $cmd --policy "$bad" "$S/hello64.exe" >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "$cmd --policy $bad: exit $rc, want 2"
  done
  grep -q "no shipped rule set of that name" "$T/err" || fail "$cmd: $(cat "$T/err")"
done
rc=0; "$NXPATCH" plan --policy uefy "$S/hello64.exe" 2>"$T/err" || rc=$?
grep -q "did you mean 'uefi'" "$T/err" || fail "no suggestion for a misspelt name: $(cat "$T/err")"
if [ "$(id -u)" -ne 0 ]; then
  cp "$NXP_SOURCE_DIR/rules/uefi.yaml" "$T/unreadable.yaml"; chmod 000 "$T/unreadable.yaml"
  rc=0; "$NXPATCH" plan --policy "$T/unreadable.yaml" "$S/hello64.exe" 2>/dev/null || rc=$?
  [ "$rc" -eq 2 ] || fail "unreadable --policy: exit $rc, want 2"
fi
rc=0; "$NXPATCH" plan --policy "$T" "$S/hello64.exe" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "--policy DIRECTORY: exit $rc, want 2"
echo "ok: --policy NAME, policy list/show, --policy -, exit 2 for every --policy failure"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Inline EDITBIN-style edits of plan, apply and verify: each option changes
# exactly what it says (checked with python, independently of nxpatch); they
# give the same plan JSON as the same policy written in YAML (rule names
# aside); with --policy they come after the file's rules; every refusal names
# the option that would allow the change; W+X needs --allow-wx; bad values
# exit 2 with a specific message and touch nothing.
. "$(dirname "$0")/lib.sh"
NONX=$(sample nonx32.exe)           # no nx_compat, relocations
NORELOC=$(sample norelocs64.exe)    # no relocations
THUNK=$(sample thunk_data64.exe)    # a thunk in writable .data
THUNK32=$(sample thunk_section32.exe) # no nx_compat, a thunk in writable .thunk
HELLO=$(sample hello64.exe)

# run CMD...: rc, $T/out, $T/err
run() { rc=0; "$NXPATCH" "$@" >"$T/out" 2>"$T/err" || rc=$?; }

# --- --set and --clear, apply then verify with the same options --------------
run apply --set nx_compat "$NONX" -o "$T/nonx.exe"
[ $rc = 0 ] || { cat "$T/err"; fail "apply --set nx_compat: exit $rc"; }
[ "$(dllchars "$T/nonx.exe")" = 0x0140 ] || fail "--set nx_compat: dllchars $(dllchars "$T/nonx.exe")"
grep -q 'dll_characteristics 0x0040 -> 0x0140 (+nx_compat) \[rule --set nx_compat\]' "$T/out" ||
  fail "the plan does not name the option: $(cat "$T/out")"
run verify --set nx_compat "$T/nonx.exe"
[ $rc = 0 ] || fail "verify --set nx_compat on the output: exit $rc: $(cat "$T/out")"
run verify --set nx_compat "$NONX"
[ $rc = 1 ] && grep -q 'pending: dll_characteristics' "$T/out" ||
  fail "verify --set nx_compat on the input: exit $rc: $(cat "$T/out")"
run apply --clear dynamic_base,nx_compat "$T/nonx.exe" -o "$T/cleared.exe"
[ $rc = 0 ] && [ "$(dllchars "$T/cleared.exe")" = 0x0000 ] ||
  fail "--clear dynamic_base,nx_compat: exit $rc, dllchars $(dllchars "$T/cleared.exe" 2>/dev/null)"
echo "ok: --set and --clear"

# --- --section: attributes added and removed, and W+X needs --allow-wx --------
before=$(sec_chars "$THUNK" .data)
run apply --section '.data:+execute' "$THUNK" -o "$T/wx.exe"
[ $rc = 1 ] || fail "W+X without --allow-wx: exit $rc"
[ ! -e "$T/wx.exe" ] || fail "a refused image was written"
grep -q 'refused \[rule --section .data:+execute\]: section .data would become writable and executable.*; --allow-wx allows it' "$T/out" ||
  fail "the W+X refusal does not name --allow-wx: $(cat "$T/out")"
run apply --section '.data:+execute' --allow-wx "$THUNK" -o "$T/wx.exe"
[ $rc = 0 ] || fail "W+X with --allow-wx: exit $rc: $(cat "$T/out" "$T/err")"
want=$(printf '0x%08x' $((before | 0x20000000)))
[ "$(sec_chars "$T/wx.exe" .data)" = "$want" ] || fail ".data is $(sec_chars "$T/wx.exe" .data), want $want"
run verify --section '.data:+execute' --allow-wx "$T/wx.exe"
[ $rc = 0 ] && grep -q 'allowed by rule --section .data:+execute (allow_wx)' "$T/out" ||
  fail "verify of the W+X output: exit $rc: $(cat "$T/out")"
# a glob and @code-in-data; -write then keeps it from being W+X
run apply --section '@code-in-data:+execute,-write' "$THUNK" -o "$T/cid.exe"
[ $rc = 0 ] || fail "@code-in-data:+execute,-write: exit $rc: $(cat "$T/out")"
want=$(printf '0x%08x' $(((before | 0x20000000) & ~0x80000000)))
[ "$(sec_chars "$T/cid.exe" .data)" = "$want" ] || fail "@code-in-data: .data is $(sec_chars "$T/cid.exe" .data), want $want"
run apply --section '.d?t*:-write' "$HELLO" -o "$T/glob.exe"
[ $rc = 0 ] || fail "glob: exit $rc: $(cat "$T/out")"
want=$(printf '0x%08x' $(($(sec_chars "$HELLO" .data) & ~0x80000000)))
[ "$(sec_chars "$T/glob.exe" .data)" = "$want" ] || fail "glob: .data is $(sec_chars "$T/glob.exe" .data)"
echo "ok: --section, glob, @code-in-data, --allow-wx"

# --- refusals name what would allow the change --------------------------------
run plan --set nx_compat "$THUNK32"
grep -q "refused \[rule --set nx_compat\]: nx_compat would make code outside executable sections fault.*--section '@code-in-data:+execute'" "$T/out" ||
  fail "code-in-data refusal: $(cat "$T/out")"
run plan --set dynamic_base --clear nx_compat "$NORELOC"
grep -q 'refused \[rule --set dynamic_base\]: dynamic_base needs base relocations' "$T/out" ||
  fail "dynamic_base refusal does not name the option: $(cat "$T/out")"
run plan --set nx_compat --section '@code-in-data:+execute' "$THUNK32"
grep -q "refused \[rule --section @code-in-data:+execute\]: section .thunk would become writable and executable.*; --allow-wx allows it" "$T/out" ||
  fail "W+X refusal of @code-in-data: $(cat "$T/out")"
run apply --set nx_compat --section '@code-in-data:+execute' --allow-wx "$THUNK32" -o "$T/t32.exe"
[ $rc = 0 ] && [ "$(dllchars "$T/t32.exe")" = 0x0140 ] && [ "$(sec_chars "$T/t32.exe" .thunk)" = 0xe0000040 ] ||
  fail "nx_compat with @code-in-data executable and --allow-wx: exit $rc: $(cat "$T/out")"
echo "ok: refusals name the option"

# --- same plan JSON as the equivalent YAML policy (rule names aside) ----------
cat >"$T/eq.yaml" <<'Y'
nxpatch: 1
settings: {checksum: always, signature: strip}
rules:
  - id: r1
    actions: [{set: [nx_compat]}]
  - id: r2
    actions: [{clear: [no_seh]}]
  - id: r3
    actions: [{section: "@code-in-data", add: [execute], allow_wx: true}]
  - id: r4
    actions: [{section: ".rdata", remove: [write], add: [read]}]
Y
norm() {
  "$PYTHON" - "$1" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
# What names the rules differs (ids, option texts, where the rule is, what
# allows a refused change); everything else must be the same.
def strip(o, key=None):
    if isinstance(o, dict):
        return {k: strip(v, k) for k, v in o.items()
                if k not in ("rule", "policy", "policy_rule", "seconds")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    if isinstance(o, str) and key in ("message", "reason"):
        return re.sub(r"\[rule [^\]]*\]", "[rule]", o.split(";")[0])
    return o
for f in d["files"]:
    f["rules_matched"] = len(f["rules_matched"])
print(json.dumps(strip(d), sort_keys=True, indent=1))
PY
}
# a copy of hello64 with CheckSum 0: checksum: always plans to write it, auto does not
"$PYTHON" - "$HELLO" "$T/zero.exe" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
pe = struct.unpack_from("<I", d, 0x3c)[0]
struct.pack_into("<I", d, pe + 24 + 64, 0)
open(sys.argv[2], "wb").write(d)
PY
for img in "$NONX" "$THUNK" "$THUNK32" "$HELLO" "$NORELOC" "$T/zero.exe"; do
  "$NXPATCH" plan --format json --policy "$T/eq.yaml" "$img" >"$T/a.json"
  "$NXPATCH" plan --format json --set nx_compat --clear no_seh --section '@code-in-data:+execute' \
    --section '.rdata:-write,+read' --allow-wx --checksum always --signature strip "$img" >"$T/b.json"
  norm "$T/a.json" >"$T/a.norm"
  norm "$T/b.json" >"$T/b.norm"
  diff -u "$T/a.norm" "$T/b.norm" || fail "$img: inline edits and the YAML policy plan differently"
  grep -q '"changes": \[\]' "$T/a.norm" && [ "$img" != "$HELLO" ] && [ "$img" != "$NORELOC" ] &&
    fail "$img: the equivalence compared empty plans"
  [ "$img" != "$T/zero.exe" ] || grep -q '"field": "checksum"' "$T/a.norm" ||
    fail "checksum: always does not plan the zero checksum"
  "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["policy"]=="<command line>", d["policy"]' "$T/b.json" ||
    fail "policy name of inline edits"
done
echo "ok: inline edits plan as the YAML policy does"

# --- with --policy: after the file's rules (the later rule wins) --------------
cat >"$T/nx.yaml" <<'Y'
nxpatch: 1
rules:
  - id: file-nx
    actions: [{set: [nx_compat, no_seh]}]
Y
run plan --format json --policy "$T/nx.yaml" --clear nx_compat "$NONX"
"$PYTHON" - "$T/out" <<'PY' || fail "--policy + --clear: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["policy"].endswith("nx.yaml + command line"), d["policy"]
f = d["files"][0]
assert f["rules_matched"] == ["file-nx", "--clear nx_compat"], f["rules_matched"]
bits = {b["name"]: (b["op"], b["rule"]) for c in f["changes"] for b in c.get("bits", [])}
assert bits == {"no_seh": ("set", "file-nx")}, bits
PY
echo "ok: inline edits follow the --policy file's rules"

# --- bad values: exit 2, a specific message, nothing written ------------------
bad() {
  local want=$1
  shift
  run "$@"
  [ $rc = 2 ] || fail "$*: exit $rc, want 2"
  grep -qF -- "$want" "$T/err" || fail "$*: message: $(cat "$T/err"), want: $want"
  [ ! -e "$T/bad.exe" ] || fail "$*: wrote an output"
}
for cmd in plan verify; do
  bad "--set nx_compt: unknown dll characteristics flag 'nx_compt' (did you mean 'nx_compat'?)" \
    $cmd --set nx_compt "$NONX"
done
bad "--set nx_compt: unknown dll characteristics flag 'nx_compt' (did you mean 'nx_compat'?)" \
  apply --set nx_compt "$NONX" -o "$T/bad.exe"
bad "--section .data:+exec: unknown section attribute 'exec' (did you mean 'execute'?)" \
  apply --section .data:+exec "$NONX" -o "$T/bad.exe"
bad "say '+execute' to add the attribute or '-execute' to remove it" \
  apply --section .data:execute "$NONX" -o "$T/bad.exe"
bad "expected SECTION:+attribute,-attribute" apply --section .data "$NONX" -o "$T/bad.exe"
bad "unknown selector '@code' (did you mean '@code-in-data'?)" \
  apply --section @code:+execute "$NONX" -o "$T/bad.exe"
bad "adding both write and execute makes the section writable and executable: add --allow-wx" \
  apply --section '.x:+write,+execute' "$NONX" -o "$T/bad.exe"
bad "--allow-wx lets --section edits make a section writable and executable, and no --section was given" \
  apply --allow-wx --set nx_compat "$NONX" -o "$T/bad.exe"
bad "nx_compat contradicts --set nx_compat" apply --set nx_compat --clear nx_compat "$NONX" -o "$T/bad.exe"
bad "--signature resgn: unknown signature mode 'resgn' (did you mean 'resign'?)" \
  plan --signature resgn "$NONX"
bad "--checksum sometimes: unknown checksum mode 'sometimes', expected one of: auto, always" \
  plan --checksum sometimes "$NONX"
bad "--clear : an empty flag name" plan --clear '' "$NONX"
echo "ok: bad values exit 2 with a specific message"

# --- the README's one-line EDITBIN-style example works as written -------------
line=$(grep -m1 -E "^nxpatch apply --set nx_compat --section '\.thunk:\+execute' --allow-wx app\.exe -o app-nx\.exe$" \
  "$NXP_SOURCE_DIR/README.md") || fail "README lost its one-line EDITBIN-style example"
cp "$THUNK32" "$T/app.exe"
(cd "$T" && eval "\"\$NXPATCH\" ${line#nxpatch }") >"$T/out" 2>&1 || fail "README example: $(cat "$T/out")"
[ "$(dllchars "$T/app-nx.exe")" = 0x0140 ] && [ "$(sec_chars "$T/app-nx.exe" .thunk)" = 0xe0000040 ] ||
  fail "README example: dllchars $(dllchars "$T/app-nx.exe"), .thunk $(sec_chars "$T/app-nx.exe" .thunk)"
"$NXPATCH" verify --set nx_compat --section '.thunk:+execute' --allow-wx "$T/app-nx.exe" >"$T/out" ||
  fail "README example output does not verify: $(cat "$T/out")"
echo "ok: the README example"

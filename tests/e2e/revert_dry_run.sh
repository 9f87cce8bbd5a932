#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `revert --dry-run` counts what `revert` then does, image for image, in every
# case a journal can hold: restored (one run and two runs into one journal),
# refused (changed since apply wrote it, backup gone, backup not the
# original), nothing to undo (nothing_to_do and refused entries, an image
# already original), and it changes nothing (every file's bytes, names and
# times stay).
. "$(dirname "$0")/lib.sh"
s=$(sample nonx32.exe)
nx_policy "$T/nx.yaml" nx_compat
nx_policy "$T/nb.yaml" no_bind
mkdir "$T/d"
for n in one two changed gone notorig same; do cp "$s" "$T/d/$n.exe"; done
cp "$(sample hello64.exe)" "$T/d/nothing.exe"
J=$T/j
apply() { "$NXPATCH" apply -q --policy "$1" --in-place --journal "$J" "${@:2}" >/dev/null; }
apply "$T/nx.yaml" "$T/d"/*.exe
apply "$T/nb.yaml" "$T/d/two.exe"
printf 'MZ changed' >>"$T/d/changed.exe"                  # changed since apply wrote it
rm "$T/d/gone.exe.nxpatch-orig"                            # backup gone
cp "$T/d/one.exe" "$T/d/notorig.exe.nxpatch-orig"          # backup is not the original
cp "$s" "$T/d/same.exe"                                    # already the original again

snapshot() { (cd "$T/d" && find . -printf '%p %s %T@ %i\n' | sort && sha256sum ./* | sort); }
before=$(snapshot)
rc_dry=0; "$NXPATCH" revert --dry-run --journal "$J" >"$T/dry" 2>"$T/dry.err" || rc_dry=$?
[ "$(snapshot)" = "$before" ] || fail "revert --dry-run changed files: $(diff <(echo "$before") <(snapshot))"
rc=0; "$NXPATCH" revert --journal "$J" >"$T/real" 2>"$T/real.err" || rc=$?

sum() { grep '^summary:' "$1" | sed 's/to restore/restored/'; }
[ -n "$(sum "$T/dry")" ] || fail "no dry-run summary: $(cat "$T/dry")"
[ "$(sum "$T/dry")" = "$(sum "$T/real")" ] ||
  fail "dry run counted '$(sum "$T/dry")', revert did '$(sum "$T/real")'"
[ "$rc_dry" = "$rc" ] || fail "dry run exited $rc_dry, revert $rc"
grep -q ' 3 restored, 2 refused, 1 failed' <<<"$(sum "$T/real")" ||
  fail "unexpected counts (want 3 restored: one, two twice; 2 refused: changed, notorig; 1 failed: gone; each once): $(sum "$T/real")"
# the same images, the same reasons
diff <(sed 's/: would restore from /: restored from /; s/ to restore,/ restored,/' "$T/dry") "$T/real" >/dev/null ||
  fail "dry-run lines differ from revert's: $(diff <(sed 's/: would restore from /: restored from /' "$T/dry") "$T/real")"
diff "$T/dry.err" "$T/real.err" >/dev/null || fail "dry-run refusals differ: $(diff "$T/dry.err" "$T/real.err")"
for n in changed gone notorig; do
  grep -q "d/$n.exe: " "$T/real.err" || fail "$n.exe: no refusal reported"
done
cmp -s "$s" "$T/d/one.exe" && cmp -s "$s" "$T/d/two.exe" || fail "one/two not restored to the original"
# a second dry run now has nothing to restore, as a second revert would
"$NXPATCH" revert --dry-run --journal "$J" >"$T/dry2" 2>/dev/null || true
"$NXPATCH" revert --journal "$J" >"$T/real2" 2>/dev/null || true
[ "$(sum "$T/dry2")" = "$(sum "$T/real2")" ] || fail "second runs: '$(sum "$T/dry2")' vs '$(sum "$T/real2")'"
grep -q ' 0 restored' <<<"$(sum "$T/real2")" || fail "a second revert restored again: $(sum "$T/real2")"
echo "ok: revert --dry-run counts what revert does ($(sum "$T/real"))"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Backups never replace or delete a file (issue 12, item 1): an unrelated
# NAME+SUFFIX is kept and the backup gets a fresh name, reported as made; a
# second run keeps the first run's true original; a suffix that would make
# one input the backup name of another is a usage error.
. "$(dirname "$0")/lib.sh"
s=$(sample nonx32.exe)
nx_policy "$T/nx.yaml" nx_compat
nx_policy "$T/nb.yaml" no_bind

# An unrelated a.exe.bak survives --backup .bak.
cp "$s" "$T/a.exe"; orig=$(sha "$T/a.exe")
echo "precious, not a backup" > "$T/a.exe.bak"; keep=$(sha "$T/a.exe.bak")
"$NXPATCH" apply --policy "$T/nx.yaml" --in-place --backup .bak "$T/a.exe" > "$T/out" ||
  fail "apply --backup .bak failed: $(cat "$T/out")"
[ "$(sha "$T/a.exe.bak")" = "$keep" ] || fail "an unrelated a.exe.bak was replaced by the backup"
[ "$(sha "$T/a.exe.1.bak")" = "$orig" ] || fail "the backup is not a.exe.1.bak: $(ls "$T")"
grep -qF "original kept as $T/a.exe.1.bak" "$T/out" || fail "the backup made is not reported: $(cat "$T/out")"
echo "ok: an existing a.exe.bak is kept, the backup is a.exe.1.bak (reported)"

# A second --backup .orig run keeps the first run's original.
cp "$s" "$T/b.exe"; orig=$(sha "$T/b.exe")
"$NXPATCH" apply --policy "$T/nx.yaml" --in-place --backup .orig "$T/b.exe" >/dev/null
mid=$(sha "$T/b.exe")
"$NXPATCH" apply --policy "$T/nb.yaml" --in-place --backup .orig "$T/b.exe" >/dev/null
[ "$(sha "$T/b.exe.orig")" = "$orig" ] || fail "run 2 replaced the true original b.exe.orig"
[ "$(sha "$T/b.exe.1.orig")" = "$mid" ] || fail "run 2's backup is not b.exe.1.orig"
[ "$(dllchars "$T/b.exe")" = 0x0940 ] || fail "b.exe does not carry both runs' flags"
echo "ok: a second run keeps b.exe.orig and backs up to b.exe.1.orig"

# --backup .exe: x.exe would be the backup name of x. Refused, nothing touched.
mkdir "$T/tree"; cp "$s" "$T/tree/x"; cp "$s" "$T/tree/x.exe"
before=$(cd "$T/tree" && sha256sum x x.exe)
for args in "-r $T/tree" "$T/tree/x $T/tree/x.exe"; do
  rc=0
  # shellcheck disable=SC2086
  "$NXPATCH" apply --policy "$T/nx.yaml" --in-place --backup .exe $args >/dev/null 2>"$T/err" || rc=$?
  [ $rc -eq 2 ] || fail "--backup .exe ($args): exit $rc, want 2: $(cat "$T/err")"
  grep -q 'backup name' "$T/err" || fail "--backup .exe: no reason: $(cat "$T/err")"
  [ "$(cd "$T/tree" && sha256sum x x.exe)" = "$before" ] || fail "--backup .exe ($args) changed a file"
  [ "$(ls "$T/tree" | wc -l)" = 2 ] || fail "--backup .exe ($args) left files: $(ls "$T/tree")"
done
echo "ok: --backup .exe is refused (exit 2), x and x.exe untouched"

# Two inputs where one is the other's backup name: refused.
cp "$s" "$T/c.exe"; cp "$s" "$T/c.exe.orig"
rc=0; "$NXPATCH" apply --policy "$T/nx.yaml" --in-place --backup .orig "$T/c.exe" "$T/c.exe.orig" \
  >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 2 ] && grep -q 'is an input and the backup name' "$T/err" ||
  fail "c.exe and c.exe.orig with --backup .orig: exit $rc: $(cat "$T/err")"
cmp -s "$s" "$T/c.exe" && cmp -s "$s" "$T/c.exe.orig" || fail "c.exe or c.exe.orig changed"
echo "ok: an input that is another input's backup name is refused"
echo "hostile_backup: all checks passed"

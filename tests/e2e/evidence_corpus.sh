#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Precision and recall on real images, through the script that writes
# docs/evidence.md's table (scripts/evidence-table.sh): over the Debian test
# corpus (scripts/test-corpus.sh: wine amd64+i386, mingw-w64 runtimes, shim,
# efitools, Mono, clamav-testfiles) no image has code in data except the
# clamav-testfiles images whose entry point is in a non-executable section
# (the packers clam-aspack, clam-pespin, clam-wwpack must be among them);
# every sample is found as it should be. The images that
# were false alarms before (wine i386 dxgi, user32, xinputuap, msvcp71;
# efitools HashTool.efi; shim fbia32.efi) must be in the corpus and
# analysed, so that the test keeps measuring them.
. "$(dirname "$0")/lib.sh"
require_corpus
sample evidence/ev_call64.exe >/dev/null

for want in 'wine32/.*/dxgi.dll' 'wine32/.*/user32.dll' 'wine32/.*/xinputuap.dll' \
            'wine32/.*/msvcp71.dll' 'efi/.*/HashTool.efi' 'efi/.*/fbia32.efi' \
            'clamav/.*/clam-aspack.exe'; do
  grep -Eq "^${want}"$'\t' "$TC/MANIFEST.tsv" || fail "test corpus lacks $want"
done

rc=0
NXPATCH="$NXPATCH" NXP_SAMPLES="$NXP_SAMPLES_DIR" \
  bash "$NXP_SOURCE_DIR/scripts/evidence-table.sh" "$TC" > "$T/table.md" || rc=$?
cat "$T/table.md"
[ "$rc" = 0 ] || fail "evidence-table.sh exited $rc: a false alarm or a missed sample (see the table)"
grep -Eq '^\| \*\*total\*\* \| \*\*[0-9]+\*\* \| \*\*[0-9]+\*\* \| \*\*([0-9]+)\*\* \| \*\*\1\*\* \| \*\*0\*\* \|$' "$T/table.md" ||
  fail "want every image flagged explained, no false alarm"
for real in clam-aspack.exe clam-pespin.exe clam-wwpack.exe; do
  grep -q "/$real\`: entry_point at .* Real:" "$T/table.md" || fail "$real: its entry point in data was not found"
done
echo "ok"

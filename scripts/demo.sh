#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job on the bundled samples: build nxpatch and the legacy-style
# samples, show each one's posture, the dry-run diff, then patch copies and
# verify them. Installs what is missing (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
bash scripts/deps.sh samples
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

nx=build/nxpatch
samples=(build/samples/*.exe build/samples/*.dll)
policy=rules/thunk-sections.yaml
out=out/patched
rm -rf "$out" && mkdir -p "$out"

echo "### nxpatch scan (the DEP/NX posture of each sample)"
"$nx" scan "${samples[@]}" | grep -E '^[^ ]|dll chars|W\+X|code in data|evidence|warning' || true
echo
echo "### nxpatch plan --policy $policy (dry run: nothing is written)"
"$nx" plan --policy "$policy" "${samples[@]}"
echo
echo "### nxpatch apply --policy $policy --out-dir $out"
"$nx" apply --policy "$policy" --out-dir "$out" "${samples[@]}"
echo
echo "### nxpatch verify --policy $policy (the patched copies comply)"
"$nx" verify --policy "$policy" "$out"/*

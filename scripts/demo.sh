#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The demo: a legacy program that breaks under DEP, found by running it, fixed
# by nxpatch, and run again. Builds nxpatch, the samples and the trace helper,
# installs what is missing (Debian packages, scripts/deps.sh demo), then:
#   1. runs samples' thunk_data64.exe under wine64: it dies with an execute fault;
#   2. `nxpatch trace` runs it under a debugger and records where code ran
#      from non-executable memory (module, RVA, section);
#   3. `nxpatch scan --evidence` and `plan --evidence` with the default policy:
#      the section holding the code is writable, so the default policy refuses
#      to make it writable and executable, and says why;
#   4. `apply` with a policy that allows W+X for code in data (rules/thunk-sections.yaml);
#   5. `verify --evidence`, then the patched copy runs under wine64, and a
#      second trace records no fault;
#   6. the same policy over every sample, in one batch.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh demo
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

nx=build/nxpatch
wine=/usr/lib/wine/wine64
prog=build/samples/thunk_data64.exe
out=out
policy=rules/thunk-sections.yaml
rm -rf "$out" && mkdir -p "$out/patched"
# nxpatch trace uses $WINEPREFIX, else its own prefix in ~/.cache/nxpatch/wine;
# the plain wine64 runs below share it. No crash dialog (winedbg) on a fault.
export WINEPREFIX="${WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/nxpatch/wine}"
export WINEDEBUG="${WINEDEBUG:--all}" WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"
if [ ! -d "$WINEPREFIX/drive_c" ]; then
  echo "(creating the wine prefix $WINEPREFIX, once)"
  mkdir -p "$WINEPREFIX"
  "$wine" wineboot -i >/dev/null 2>&1
fi

# The posture, short: sections without findings are counted, not listed.
posture() {
  awk 'function flush() { if (quiet) printf "    (%d more sections: no code in data, nothing to report)\n", quiet; quiet = 0 }
       /^    / && /code in data: no/ { quiet++; next }
       /^summary:/ { next }
       !/^    / { flush() }
       { print }
       END { flush() }'
}

echo "### 1. $prog under wine64, which enforces DEP for every 64-bit program"
rc=0
"$wine" "$prog" >"$out/run.out" 2>&1 || rc=$?
tr -d '\r' <"$out/run.out" | grep -E 'page fault|thunk_data64' | sed 's/^/  /' || true
echo "  exit status $rc: the thunk in .data never ran"
echo
echo "### 2. nxpatch trace -o $out/trace.jsonl $prog"
"$nx" trace -o "$out/trace.jsonl" "$prog" || true
echo "  $out/trace.jsonl, one record per fault site:"
sed 's/^/  /' "$out/trace.jsonl"
echo
echo "### 3. nxpatch scan --evidence $out/trace.jsonl $prog (the DEP/NX posture)"
"$nx" scan --evidence "$out/trace.jsonl" "$prog" | posture
echo
echo "### 4. nxpatch plan --evidence $out/trace.jsonl $prog (the default policy, a dry run)"
"$nx" plan --evidence "$out/trace.jsonl" "$prog" | grep -v '^summary:'
echo
echo "### 5. nxpatch apply --policy $policy --evidence $out/trace.jsonl (W+X allowed for code in data)"
"$nx" apply --policy "$policy" --evidence "$out/trace.jsonl" "$prog" \
  -o "$out/patched/thunk_data64.exe" | grep -v '^summary:'
echo
echo "### 6. nxpatch verify --policy $policy --evidence $out/trace.jsonl (the original, then the copy)"
"$nx" verify --policy "$policy" --evidence "$out/trace.jsonl" "$prog" "$out/patched/thunk_data64.exe" |
  grep -v '^summary:' || true
echo
echo "### 7. the patched copy under wine64, and traced again"
"$wine" "$out/patched/thunk_data64.exe" 2>&1 | tr -d '\r' | sed 's/^/  /'
"$nx" trace "$out/patched/thunk_data64.exe" | tail -n +2
echo
echo "### 8. every sample, in one batch: nxpatch apply --policy $policy --out-dir $out/batch"
samples=(build/samples/*.exe build/samples/*.dll)
mkdir -p "$out/batch"
"$nx" apply -q --policy "$policy" --out-dir "$out/batch" "${samples[@]}" | grep -E '^summary:|refused'
"$nx" verify -q --policy "$policy" "$out/batch"/* | grep -E '^summary:|does not comply'

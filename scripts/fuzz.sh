#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer targets with clang and run each for a bounded time.
#
#   scripts/fuzz.sh [TARGET...]        (default: every target that was built)
#
# Environment:
#   FUZZ_SECONDS    per-target time (-max_total_time), default 60
#   FUZZ_BUILD_DIR  build directory, default build-fuzz
#   FUZZ_KEEP_CORPUS=1  copy what the run learned back into fuzz/corpus/ (local
#                   use only; CI never grows the committed corpus)
#
# Every target first replays fuzz/regressions/<target>/, then fuzzes a copy of
# fuzz/corpus/<target>/ with -rss_limit_mb=2048 -timeout=10. Any crash, leak,
# timeout, out-of-memory or broken invariant is a finding: the artifact is
# kept under $FUZZ_BUILD_DIR/artifacts/<target>/ and the script exits 1.
# Minimise a finding with:  build-fuzz/fuzz/<target> -minimize_crash=1 -runs=10000 ARTIFACT
# then commit it under fuzz/regressions/<target>/ with the fix.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
all=(fuzz_pe fuzz_certs fuzz_policy fuzz_roundtrip)

command -v clang >/dev/null || { echo "fuzz: clang not installed (scripts/deps.sh test)" >&2; exit 1; }
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DNXP_FUZZ=ON -DNXP_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo </dev/null >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
# Only the fuzz targets (and the LIEF worker they may start): the shared
# library is not built for them (clang links no sanitizer runtime into it).
if [ $# -gt 0 ]; then mk=("$@"); else mk=("${all[@]}" nxpatch_lief_worker); fi
make -C "$build" -j"$(nproc)" "${mk[@]}" </dev/null >"$build/make.log" 2>&1 ||
  { tail -40 "$build/make.log" >&2; echo "fuzz: build failed" >&2; exit 1; }

targets=()
if [ $# -gt 0 ]; then
  targets=("$@")
else
  for t in "${all[@]}"; do
    if [ -x "$build/fuzz/$t" ]; then targets+=("$t"); else echo "fuzz: $t not built (its module has not landed)" >&2; fi
  done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
summary=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/$t
  art=$build/artifacts/$t
  work=$(mktemp -d "${TMPDIR:-/tmp}/nxp-fuzz-$t.XXXXXX")
  rm -rf "$art"
  mkdir -p "$art" "$work/corpus"
  find "$root/fuzz/corpus/$t" -type f ! -name '.*' -exec cp {} "$work/corpus/" \; 2>/dev/null || true
  log=$build/$t.log
  result=ok

  # 1. The regressions, each once.
  mapfile -t regs < <(find "$root/fuzz/regressions/$t" -type f ! -name '.*' 2>/dev/null | sort)
  if [ ${#regs[@]} -gt 0 ] &&
     ! "$bin" -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$art/" "${regs[@]}" </dev/null >"$log.regressions" 2>&1; then
    result="FAILED on a regression input (see $log.regressions)"
  fi

  # 2. Fuzz a copy of the corpus.
  echo "fuzz: $t for ${secs}s ($(find "$work/corpus" -type f | wc -l) seeds)" >&2
  rc=0
  "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
         -artifact_prefix="$art/" ${FUZZ_ARGS:-} "$work/corpus" </dev/null >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  findings=$(find "$art" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$findings" -gt 0 ]; then
    result="FINDING (exit $rc, $findings artifact(s) in $art)"
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz invariant failed' "$log" >&2 || true
    tail -30 "$log" >&2
  fi
  [ "$result" = ok ] || status=1
  if [ "${FUZZ_KEEP_CORPUS:-}" = 1 ] && [ "${CI:-}" != true ]; then
    cp -n "$work/corpus/"* "$root/fuzz/corpus/$t/" 2>/dev/null || true
  fi
  rm -rf "$work"
  summary+=("$(printf '%-15s %12s execs  peak %5s MB  %s' "$t" "${execs:-?}" "${rss:-?}" "$result")")
done

echo "fuzz summary (${secs}s per target):"
for s in "${summary[@]}"; do echo "  $s"; done
exit $status

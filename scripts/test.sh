#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build nxpatch twice (normal, ASan+UBSan) and run every test in both, then
# the fuzzers for a bounded time. Installs what is missing (Debian packages).
#   bash scripts/test.sh            everything (what CI runs)
#   NXP_FUZZ_SECONDS=0 ...          skip the timed fuzzing (corpus replays still run)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test

# Real PE images from Debian packages, downloaded once into a cache outside
# the tree; the e2e tests that measure nxpatch on them read NXP_TEST_CORPUS.
NXP_TEST_CORPUS=$(bash scripts/test-corpus.sh)
export NXP_TEST_CORPUS

jobs=$(nproc 2>/dev/null || echo 2)
run_suite() { # name, cmake args...
  local dir=$1; shift
  echo "== building $dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  echo "== testing $dir"
  (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 900)
}

# Test hooks (apply --test-corrupt-output, fault injection) exist only in
# these test builds; the packages built below have none (tests/package/deb.sh).
run_suite build -DNXP_TEST_HOOKS=ON
run_suite build-asan -DNXP_SANITIZE=ON -DNXP_TEST_HOOKS=ON

# The Debian packages: build, lintian, apt-get install, use, purge (needs root).
echo "== packaging"
rc=0; bash tests/package/deb.sh build || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || exit "$rc" # 77: skipped (not root, outside CI)

if [ -x scripts/fuzz.sh ] && [ "${NXP_FUZZ_SECONDS:-60}" != 0 ]; then
  echo "== fuzzing"
  FUZZ_SECONDS=${NXP_FUZZ_SECONDS:-60} bash scripts/fuzz.sh
fi
echo "== all tests passed"

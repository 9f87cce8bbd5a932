#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# nxpatch benchmarks (issue 8): one command, not part of the test suite.
#
#   bash bench/run.sh [--reps N] [--quick] [--only REGEX] [--corpus DIR]
#
# --corpus DIR (or NXP_BENCH_CORPUS=DIR): a directory of real PE files, e.g.
# one built by make-corpus.sh, for scan/plan/verify at -j 1 and -j 2 with
# peak RSS; without it those cases are skipped with a message.
#
# Environment:
#   BENCH_DIR   scratch directory for inputs and outputs (default build-bench/)
#   BENCH_BUILD the nxpatch build to measure (default build/, configured
#               Release and built here when it has no nxpatch binary)
#
# Prints a table and writes bench/results/latest.json (and a copy named after
# the date). Installs nothing itself except missing Debian packages through
# scripts/deps.sh. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

need=(x86_64-w64-mingw32-gcc osslsigncode openssl /usr/bin/time cc)
missing=0
for t in "${need[@]}"; do command -v "$t" >/dev/null 2>&1 || missing=1; done
/usr/bin/python3 -c 'import pefile' 2>/dev/null || missing=1
if [ "$missing" = 1 ]; then
  bash scripts/deps.sh test
fi

build=${BENCH_BUILD:-build}
if [ ! -x "$build/nxpatch" ] || [ ! -d "$build/samples" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  make -C "$build" -j"$(nproc)" >/dev/null
fi

# pefile is installed for Debian's python3; a python3 earlier on PATH
# (pyenv, a venv) may not have it.
exec /usr/bin/python3 bench/bench.py --build "$build" --dir "${BENCH_DIR:-build-bench}" "$@"

# Shared helpers for end-to-end tests. Source it first:  . "$(dirname "$0")/lib.sh"
set -euo pipefail

: "${NXPATCH:?NXPATCH must name the nxpatch binary (run through ctest)}"
: "${NXP_SOURCE_DIR:?}" "${NXP_BINARY_DIR:?}"
NXP_SAMPLES_DIR=${NXP_SAMPLES_DIR:-$NXP_BINARY_DIR/samples}
PYTHON=/usr/bin/python3

# A private scratch directory, removed at exit.
T=$(mktemp -d "${TMPDIR:-/tmp}/nxp-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# skip REASON: a developer without the tool is told and the test is skipped
# (exit 77); in CI (CI=true) a missing tool is a failure.
skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL (CI): cannot skip: $*" >&2
    exit 1
  fi
  echo "SKIPPED: $*" >&2
  exit 77
}

# require_cmd CMD [PACKAGE]
require_cmd() {
  command -v "$1" >/dev/null 2>&1 || skip "$1 not installed (apt-get install ${2:-$1})"
}

require_pefile() {
  [ -x "$PYTHON" ] && "$PYTHON" -c 'import pefile' 2>/dev/null ||
    skip "python3-pefile not installed (apt-get install python3-pefile)"
}

require_wine() {
  [ -x /usr/lib/wine/wine64 ] || skip "wine64 not installed (apt-get install wine64)"
  export WINEPREFIX="$T/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  mkdir -p "$WINEPREFIX"
}

# sample NAME: the path of a built sample, or skip when samples were not built.
sample() {
  local p="$NXP_SAMPLES_DIR/$1"
  [ -f "$p" ] || skip "sample $1 not built (needs gcc-mingw-w64-x86-64 and gcc-mingw-w64-i686)"
  printf '%s\n' "$p"
}

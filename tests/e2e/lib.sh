# SPDX-License-Identifier: Apache-2.0
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

# sha FILE: its SHA-256, hex.
sha() { sha256sum "$1" | cut -d' ' -f1; }

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

# require_corpus: TC names a directory of real PE images from Debian packages
# (scripts/test-corpus.sh: wine64/ wine32/ mingw/ efi/ dotnet/ clamav/ other/).
# scripts/test.sh prepares it once and exports NXP_TEST_CORPUS; run alone, a
# test builds (or reuses) it itself.
require_corpus() {
  TC=$(bash "$NXP_SOURCE_DIR/scripts/test-corpus.sh" ${NXP_TEST_CORPUS:+"$NXP_TEST_CORPUS"}) ||
    skip "cannot build the Debian test corpus (scripts/test-corpus.sh)"
  [ -s "$TC/MANIFEST.tsv" ] || fail "test corpus $TC has no MANIFEST.tsv"
}

# require_sarif_validator: SARIF_VALIDATE FILE... validates SARIF documents
# against the SARIF 2.1.0 JSON schema (tests/tools/sarif_validate.js). The
# schema (npm @microsoft/jest-sarif) and ajv come from the npm registry,
# installed once into a cache outside the repository:
# $NXP_NPM_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/nxpatch/npm.
require_sarif_validator() {
  require_cmd node nodejs
  require_cmd npm npm
  SARIF_NPM_DIR=${NXP_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nxpatch/npm}
  local dir=$SARIF_NPM_DIR
  mkdir -p "$dir"
  (
    flock 9
    [ -f "$dir/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" ] &&
      [ -f "$dir/node_modules/ajv/package.json" ] && exit 0
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --no-save \
      @microsoft/jest-sarif@1.0.0-beta.0 ajv@6.12.6 >"$dir/install.log" 2>&1
  ) 9>"$dir/.lock" || skip "cannot install the SARIF schema and ajv from npm ($(tail -3 "$dir/install.log" 2>/dev/null))"
  SARIF_VALIDATE() { node "$NXP_SOURCE_DIR/tests/tools/sarif_validate.js" "$SARIF_NPM_DIR" "$@"; }
}

require_pefile() {
  [ -x "$PYTHON" ] && "$PYTHON" -c 'import pefile' 2>/dev/null ||
    skip "python3-pefile not installed (apt-get install python3-pefile)"
}

# require_wine: a private WINEPREFIX under $T, wineserver stopped at exit, and
# run_wine / expect_ok / expect_dep_fault below.
require_wine() {
  [ -x /usr/lib/wine/wine64 ] || skip "wine64 not installed (apt-get install wine64)"
  export WINEPREFIX="$T/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  mkdir -p "$WINEPREFIX"
  WINE=/usr/lib/wine/wine64
  # No winedbg on a crash: with it attached, the crashed process's exit status is
  # sometimes 0 (measured: 3 of 6 runs); without it, it is always the exception
  # code's low byte (5 for 0xC0000005). The fault is still reported on stderr.
  export WINEDLLOVERRIDES="$WINEDLLOVERRIDES;winedbg.exe=d"
  WINESERVER=/usr/lib/wine/wineserver64
  [ -x "$WINESERVER" ] || WINESERVER=$(command -v wineserver64 || command -v wineserver || true)
  [ -n "$WINESERVER" ] || skip "wineserver not found (apt-get install wine64)"

  wine_cleanup() {
    "$WINESERVER" -k >/dev/null 2>&1 || true
    "$WINESERVER" -w >/dev/null 2>&1 || true
    rm -rf "$T"
  }
  trap wine_cleanup EXIT

  # run_wine DIR EXE: runs DIR/EXE from DIR; leaves its exit status in $rc, its
  # stdout in $T/stdout and stdout+stderr in $T/out (carriage returns removed).
  run_wine() {
    rc=0
    (cd "$1" && timeout 120 "$WINE" "./$2" >"$T/stdout.raw" 2>"$T/stderr.raw") || rc=$?
    tr -d '\r' <"$T/stdout.raw" >"$T/stdout"
    cat "$T/stdout" "$T/stderr.raw" | tr -d '\r' >"$T/out"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      cat "$T/out" >&2
      fail "$2 timed out under wine64"
    fi
  }

  # expect_ok DIR EXE LINE: exit 0 and LINE printed.
  expect_ok() {
    run_wine "$1" "$2"
    if [ "$rc" -ne 0 ] || ! grep -qxF "$3" "$T/stdout"; then
      cat "$T/out" >&2
      fail "$2 (in $1): exit $rc, want 0 and the line '$3'"
    fi
    echo "ok: $2 runs and prints '$3'"
  }

  # expect_dep_fault DIR EXE LINE: non-zero exit from an execute-access page fault,
  # and the line is not printed.
  expect_dep_fault() {
    run_wine "$1" "$2"
    if [ "$rc" -eq 0 ] || grep -qxF "$3" "$T/out" || ! grep -q 'page fault on execute access' "$T/out"; then
      cat "$T/out" >&2
      fail "$2 (in $1): exit $rc, want a DEP fault (execute access) and no '$3'"
    fi
    echo "ok: $2 faults under DEP (exit $rc, execute access)"
  }
}

# sample NAME: the path of a built sample, or skip when samples were not built.
sample() {
  local p="$NXP_SAMPLES_DIR/$1"
  [ -f "$p" ] || skip "sample $1 not built (needs gcc-mingw-w64-x86-64 and gcc-mingw-w64-i686)"
  printf '%s\n' "$p"
}

# have_test_hooks: the binary under test was built with NXP_TEST_HOOKS (test
# hooks such as apply --test-corrupt-output; scripts/test.sh builds so, a
# shipped build never does). require_test_hooks skips without them.
have_test_hooks() {
  local v; v=$("$NXPATCH" --version)
  [[ $v == *"(test hooks)"* ]]
}
require_test_hooks() {
  have_test_hooks || skip "built without test hooks (configure with -DNXP_TEST_HOOKS=ON, as scripts/test.sh does)"
}

# require_root: tests of ownership, devices and mounts run as root (CI does).
require_root() {
  [ "$(id -u)" = 0 ] || skip "needs root (ownership, device nodes, private mounts)"
}

# nx_policy FILE FLAG: a policy that sets one DllCharacteristics flag.
nx_policy() {
  printf 'nxpatch: 1\nrules:\n  - id: r-%s\n    actions:\n      - set: [%s]\n' "$2" "$2" > "$1"
}

# dllchars FILE: DllCharacteristics as 0xNNNN (python, independent of nxpatch).
dllchars() {
  "$PYTHON" - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
pe = struct.unpack_from("<I", d, 0x3c)[0]
print("0x%04x" % struct.unpack_from("<H", d, pe + 24 + 70)[0])
PY
}

# sec_chars FILE NAME: the Characteristics of section NAME as 0xNNNNNNNN
# (python, independent of nxpatch); nothing when there is no such section.
sec_chars() {
  "$PYTHON" - "$1" "$2" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
pe = struct.unpack_from("<I", d, 0x3c)[0]
n = struct.unpack_from("<H", d, pe + 6)[0]
opt = struct.unpack_from("<H", d, pe + 20)[0]
for i in range(n):
    o = pe + 24 + opt + 40 * i
    if d[o:o + 8].rstrip(b"\0").decode("latin-1") == sys.argv[2]:
        print("0x%08x" % struct.unpack_from("<I", d, o + 36)[0])
PY
}

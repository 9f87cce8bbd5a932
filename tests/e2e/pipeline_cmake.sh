#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The build pipeline: samples/pipeline (its own CMake project, cross-compiled
# with the mingw-w64 toolchain file there) uses nxpatch_post_link() from
# cmake/NxPatch.cmake with the nxpatch just built. After the build, the linked
# legacy.exe complies (nxpatch verify), pefile sees NX_COMPAT and an
# executable .thunk section with a valid checksum; with a signing key it is
# also signed and its signature verifies. A policy that refuses fails the build.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd cmake
require_cmd x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
require_pefile
require_cmd openssl

SRC=$NXP_SOURCE_DIR/samples/pipeline
TC=$SRC/mingw-w64-x86_64.cmake
configure() { # BUILD-DIR extra-args...
  local b=$1; shift
  cmake -S "$SRC" -B "$b" -DCMAKE_TOOLCHAIN_FILE="$TC" -DNXPATCH_EXECUTABLE="$NXPATCH" "$@" \
    >"$T/configure.log" 2>&1 || { cat "$T/configure.log"; fail "configure failed"; }
}

# Patch after link.
configure "$T/b1"
cmake --build "$T/b1" >"$T/build.log" 2>&1 || { cat "$T/build.log"; fail "build failed"; }
grep -q 'nxpatch: applying nx-policy.yaml to legacy' "$T/build.log" || fail "no post-link step in the build log"
EXE=$T/b1/legacy.exe
"$NXPATCH" verify --policy "$SRC/nx-policy.yaml" "$EXE" > "$T/v.txt" || fail "verify: $(cat "$T/v.txt")"
"$PYTHON" - "$EXE" <<'PY' || fail "pefile disagrees"
import sys, pefile
pe = pefile.PE(sys.argv[1])
assert pe.OPTIONAL_HEADER.DllCharacteristics & 0x0100, "no NX_COMPAT"
t = [s for s in pe.sections if s.Name.rstrip(b"\0") == b".thunk"][0]
assert t.Characteristics & 0x20000000, "thunk section not executable"
assert pe.OPTIONAL_HEADER.CheckSum == pe.generate_checksum(), "checksum"
print("pefile: NX_COMPAT set, .thunk executable, checksum valid")
PY
# Re-running the build does nothing (no relink, no second patch).
cmake --build "$T/b1" >"$T/build2.log" 2>&1 || fail "second build failed"
grep -q 'nxpatch: applying' "$T/build2.log" && fail "post-link step ran without a relink"
echo "ok: patched after link, verified"

# Patch and sign after link.
make_pki "$T/pki" >/dev/null 2>&1 || fail "cannot make a test PKI"
configure "$T/b2" -DSIGNING_CERT="$T/pki/leaf-chain.pem" -DSIGNING_KEY="$T/pki/leaf.key"
SOURCE_DATE_EPOCH=1700000000 cmake --build "$T/b2" >"$T/build.log" 2>&1 || { cat "$T/build.log"; fail "signed build failed"; }
"$NXPATCH" verify --policy "$SRC/nx-policy.yaml" --trust "$T/pki/root.pem" "$T/b2/legacy.exe" > "$T/v.txt" ||
  fail "verify of the signed build: $(cat "$T/v.txt")"
grep -q 'signature 0: ok' "$T/v.txt" || fail "no valid signature: $(cat "$T/v.txt")"
echo "ok: patched and signed after link, signature verifies"

# A refusal fails the build.
mkdir -p "$T/src3"
cp "$SRC"/CMakeLists.txt "$SRC"/legacy.c "$T/src3/"
printf 'nxpatch: 1\nrules:\n  - id: bad\n    actions:\n      - set: [force_integrity]\n' > "$T/src3/nx-policy.yaml"
sed -i "s|\${CMAKE_CURRENT_SOURCE_DIR}/../../cmake|$NXP_SOURCE_DIR/cmake|" "$T/src3/CMakeLists.txt"
cmake -S "$T/src3" -B "$T/b3" -DCMAKE_TOOLCHAIN_FILE="$TC" -DNXPATCH_EXECUTABLE="$NXPATCH" >/dev/null 2>&1 ||
  fail "configure of the refusing project failed"
cmake --build "$T/b3" >"$T/build3.log" 2>&1 && fail "a refused change did not fail the build"
grep -q 'refused' "$T/build3.log" || fail "the build log does not say why: $(tail -5 "$T/build3.log")"
echo "ok: a refused change fails the build"
echo "pipeline_cmake: all checks passed"

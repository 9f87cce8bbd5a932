#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages end to end (run by scripts/test.sh after the CTest suites,
# as root): build them with scripts/deb.sh, lintian must report no error,
# install them with apt-get, run the installed /usr/bin/nxpatch on the samples
# (scan, plan, apply, verify), and run the install/consumer test
# (tests/e2e/install.sh) against the installed files. The packages are purged
# at the end unless NXP_KEEP_PACKAGES=1.
#   bash tests/package/deb.sh BUILD_DIR     (BUILD_DIR has the built samples)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
export NXPATCH=/usr/bin/nxpatch NXP_SOURCE_DIR=$src NXP_BINARY_DIR=$build NXP_SAMPLES_DIR=$build/samples
. "$src/tests/e2e/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "installing packages needs root"
require_cmd dpkg-buildpackage dpkg-dev
require_cmd dh debhelper
require_cmd lintian
[ -f "$NXP_SAMPLES_DIR/thunk_section64.exe" ] || fail "samples not built in $build"
if grep -q 'install ok' <<<"$(dpkg-query -W -f='${Status}' nxpatch 2>/dev/null)"; then
  fail "nxpatch is already installed; this test installs and purges it (apt-get purge nxpatch)"
fi

bash "$src/scripts/deb.sh" "$T/deb" >"$T/deb.log" 2>&1 || { cat "$T/deb.log" >&2; fail "scripts/deb.sh"; }
version=$(cd "$src" && dpkg-parsechangelog -S Version)
D=$T/deb
for p in nxpatch libnxpatch0 libnxpatch-dev; do
  [ -f "$D/${p}_${version}_amd64.deb" ] || fail "no ${p}_${version}_amd64.deb: $(ls "$D")"
done

# lintian: no errors (warnings are shown)
lintian --fail-on error --tag-display-limit 0 "$D"/nxpatch_*.deb "$D"/libnxpatch0_*.deb \
  "$D"/libnxpatch-dev_*.deb >"$T/lintian" 2>&1 || { cat "$T/lintian" >&2; fail "lintian reports errors"; }
grep -v '^running with root' "$T/lintian" >&2 || true
grep -q '^E:' "$T/lintian" && fail "lintian errors: $(grep '^E:' "$T/lintian")"

# the split and the dependencies dpkg-shlibdeps computed
grep -q 'libyaml-0-2' <<<"$(dpkg-deb -f "$D/nxpatch_${version}_amd64.deb" Depends)" ||
  fail "nxpatch Depends lacks the shared libraries: $(dpkg-deb -f "$D/nxpatch_${version}_amd64.deb" Depends)"
grep -q 'libjansson4' <<<"$(dpkg-deb -f "$D/libnxpatch0_${version}_amd64.deb" Depends)" ||
  fail "libnxpatch0 Depends: $(dpkg-deb -f "$D/libnxpatch0_${version}_amd64.deb" Depends)"
grep -q "libnxpatch0 (= $version)" <<<"$(dpkg-deb -f "$D/libnxpatch-dev_${version}_amd64.deb" Depends)" ||
  fail "libnxpatch-dev does not depend on libnxpatch0 (= $version)"
for p in nxpatch libnxpatch0 libnxpatch-dev; do dpkg-deb -c "$D/${p}_${version}_amd64.deb" >"$T/$p.files"; done
grep -q 'libnxpatch.so.0.1.0$' "$T/libnxpatch0.files" || fail "lib package content"
grep -q '\.h$' "$T/libnxpatch0.files" && fail "headers in the library package"
grep -q 'include/nxpatch/pe.h$' "$T/libnxpatch-dev.files" || fail "dev package content"
grep -q 'libnxpatch.a$' "$T/libnxpatch-dev.files" || fail "dev package has no static library"
grep -q 'usr/bin/nxpatch$' "$T/nxpatch.files" || fail "nxpatch package content"
grep -q 'share/nxpatch/rules/uefi.yaml$' "$T/nxpatch.files" || fail "nxpatch package has no rules"

purge() {
  [ "${NXP_KEEP_PACKAGES:-0}" = 1 ] ||
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq nxpatch libnxpatch-dev libnxpatch0 >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap purge EXIT
export DEBIAN_FRONTEND=noninteractive
(cd "$D" && apt-get install -y -qq --no-install-recommends ./nxpatch_*.deb ./libnxpatch0_*.deb \
  ./libnxpatch-dev_*.deb) >"$T/apt.log" 2>&1 || { cat "$T/apt.log" >&2; fail "apt-get install ./nxpatch_*.deb"; }
[ -x /usr/bin/nxpatch ] || fail "/usr/bin/nxpatch not installed"
[ "$(/usr/bin/nxpatch --version)" = "nxpatch $version" ] || fail "installed version"
# the shipped binary has no test hooks (CMake NXP_TEST_HOOKS is OFF for packages)
rc=0; out=$(/usr/bin/nxpatch apply --test-corrupt-output --in-place "$T/none.exe" 2>&1) || rc=$?
[ "$rc" -eq 2 ] && [[ $out == *"unknown option --test-corrupt-output"* ]] ||
  fail "the installed nxpatch accepts the test hook --test-corrupt-output (exit $rc: $out)"
man -w nxpatch >/dev/null && man -w 5 nxpatch-policy >/dev/null || fail "man pages not found by man(1)"
# The fault injector (CMake NXP_TEST_HOOKS, src/util/fault.h) is in test
# builds only, never in what ships.
for f in /usr/bin/nxpatch /usr/lib/*/libnxpatch.so.0; do
  syms=$(strings "$f")
  ! grep -q NXP_FAULT_AT <<<"$syms" || fail "$f contains the test-only fault injector"
done

# the installed binary on the samples: scan, plan, apply, verify
S=$NXP_SAMPLES_DIR
NX=/usr/bin/nxpatch
$NX scan "$S"/*.exe >"$T/scan" || fail "installed scan: $(tail -3 "$T/scan")"
grep -q '^summary: ' "$T/scan" || fail "scan summary"
rc=0; $NX plan --check --policy thunk-sections "$S/thunk_section64.exe" >"$T/plan" || rc=$?
[ "$rc" -eq 1 ] || fail "installed plan --check: exit $rc (want 1: pending changes)"
$NX apply --policy thunk-sections "$S/thunk_section64.exe" -o "$T/t64.exe" >"$T/apply" ||
  fail "installed apply: $(cat "$T/apply")"
$NX verify --policy thunk-sections "$T/t64.exe" >"$T/verify" || fail "installed verify: $(cat "$T/verify")"
mkdir -p "$T/tree" "$T/patched" && cp "$S"/*.exe "$T/tree/"
$NX apply -r --policy legacy-dep --out-dir "$T/patched" "$T/tree" >"$T/apply-r" 2>&1 || true
$NX verify -r --policy legacy-dep "$T/patched" >"$T/verify-r" ||
  fail "installed verify -r of what apply -r wrote: $(tail -5 "$T/verify-r")"
cmp -s "$S/thunk_section64.exe" "$T/tree/thunk_section64.exe" || fail "apply --out-dir touched its input"

# the consumer projects against the installed files
NXP_INSTALL_PREFIX=/usr bash "$src/tests/e2e/install.sh" || fail "consumers of the installed package"
echo "ok: Debian packages built, lintian clean of errors, installed, used"

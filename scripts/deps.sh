#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what nxpatch needs from Debian's packages, only what is missing.
#   scripts/deps.sh build   - to build the library and the CLI
#   scripts/deps.sh samples - the mingw-w64 cross compilers that build samples/
#   scripts/deps.sh demo    - build + samples + wine64 (scripts/demo.sh runs a sample under it)
#   scripts/deps.sh deb     - to build the Debian packages (scripts/deb.sh)
#   scripts/deps.sh test    - to build and run every test (cross compilers, wine64, verifiers,
#                             and the install and package tests)
set -euo pipefail

build_pkgs=(cmake gcc make pkg-config liblief-dev libyaml-dev libssl-dev libjansson-dev
            libcriterion-dev libcapstone-dev)
sample_pkgs=(gcc-mingw-w64-x86-64 gcc-mingw-w64-i686)
test_pkgs=("${sample_pkgs[@]}" wine64 osslsigncode sbsigntool python3 python3-pefile llvm
           clang libclang-rt-14-dev time openssl chromium attr acl util-linux nodejs parallel zsh)
# Debian packaging (scripts/deb.sh) and the install tests: man(1) renders the pages.
deb_pkgs=(dpkg-dev debhelper lintian man-db binutils)

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  samples) want=("${sample_pkgs[@]}") ;;
  demo) want+=("${sample_pkgs[@]}" wine64) ;;
  deb) want+=("${deb_pkgs[@]}" gcc-mingw-w64-x86-64) ;;
  test) want+=("${test_pkgs[@]}" "${deb_pkgs[@]}") ;;
  *) echo "usage: scripts/deps.sh [build|samples|demo|deb|test]" >&2; exit 2 ;;
esac

missing=()
# npm (the SARIF schema validator comes from the npm registry): Debian's npm
# package, unless an npm is already there (a nodejs build that bundles it).
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1; then
  want+=(npm)
fi
for p in "${want[@]}"; do
  if ! grep -q '^install ok installed' <<<"$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run as root, or install them with: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

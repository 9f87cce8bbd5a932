#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `cmake --install` into a temporary prefix, then use what it installed the way
# a consumer would: the files and their layout, the shared library's SONAME and
# exports, the installed binary with its shipped rules (--policy NAME), a CMake
# project with find_package(nxpatch) linking the shared and the static library,
# a mingw-w64 project patched by the installed nxpatch_post_link(), a C program
# built with pkg-config, and every man page rendered by man(1) without warnings.
# NXP_INSTALL_PREFIX=DIR tests an already installed prefix (the Debian package:
# tests/package/deb.sh) instead of installing the build tree.
. "$(dirname "$0")/lib.sh"
require_cmd cmake
require_cmd pkg-config
require_cmd man man-db
require_cmd x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64

if [ -n "${NXP_INSTALL_PREFIX:-}" ]; then
  P=$NXP_INSTALL_PREFIX
else
  P=$T/prefix
  cmake --install "$NXP_BINARY_DIR" --prefix "$P" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log" >&2; fail "cmake --install failed"; }
fi
libdir=
for d in lib/x86_64-linux-gnu lib64 lib; do
  if [ -e "$P/$d/libnxpatch.so" ]; then libdir=$d; break; fi
done
[ -n "$libdir" ] || fail "no libnxpatch.so under $P/lib"
L=$P/$libdir

# --- the files
for f in bin/nxpatch "$libdir/libnxpatch.so.0.1.0" "$libdir/libnxpatch.a" \
         "$libdir/pkgconfig/nxpatch.pc" "$libdir/cmake/nxpatch/nxpatchConfig.cmake" \
         "$libdir/cmake/nxpatch/nxpatchConfigVersion.cmake" "$libdir/cmake/nxpatch/NxPatch.cmake" \
         share/man/man1/nxpatch.1 share/man/man5/nxpatch-policy.5 \
         share/bash-completion/completions/nxpatch; do
  [ -f "$P/$f" ] || [ -f "$P/$f.gz" ] || fail "not installed: $f" # a package compresses man pages
done
[ -x "$P/bin/nxpatch" ] || fail "bin/nxpatch is not executable"
[ -x "$P/libexec/nxpatch/nxpatch-lief-worker" ] || fail "libexec/nxpatch/nxpatch-lief-worker not installed"
# the trace helper is built wherever mingw-w64 is (the tests require it)
[ -x "$P/libexec/nxpatch/nxpatch-trace.exe" ] || fail "libexec/nxpatch/nxpatch-trace.exe not installed"
ls "$P"/share/zsh/*/_nxpatch >/dev/null 2>&1 || fail "no zsh completion installed"
[ "$(readlink "$L/libnxpatch.so.0")" = libnxpatch.so.0.1.0 ] || fail "libnxpatch.so.0 link"
[ "$(readlink "$L/libnxpatch.so")" = libnxpatch.so.0 ] || fail "libnxpatch.so link"
for h in "$NXP_SOURCE_DIR"/include/nxpatch/*; do
  cmp -s "$h" "$P/include/nxpatch/$(basename "$h")" || fail "header not installed: $(basename "$h")"
done
for r in "$NXP_SOURCE_DIR"/rules/*.yaml; do
  cmp -s "$r" "$P/share/nxpatch/rules/$(basename "$r")" || fail "rule set not installed: $(basename "$r")"
done

# the consumer program below includes every public header (each must compile on its own)
for h in "$NXP_SOURCE_DIR"/include/nxpatch/*.h; do
  grep -q "^#include <nxpatch/$(basename "$h")>" "$NXP_SOURCE_DIR/tests/consumer/consumer.c" ||
    fail "tests/consumer/consumer.c does not include <nxpatch/$(basename "$h")>: add it"
done

# SONAME, and only nxp_* exported (the dependencies stay inside)
soname=$(readelf -d "$L/libnxpatch.so.0.1.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libnxpatch.so.0 ] || fail "SONAME is '$soname', want libnxpatch.so.0"
nm -D --defined-only "$L/libnxpatch.so.0.1.0" | awk '$2 ~ /^[TDBRVWiu]$/ {sub(/@.*/, "", $3); print $3}' >"$T/exports"
grep -q '^nxp_input_open$' "$T/exports" || fail "nxp_input_open not exported"
grep -v '^nxp_' "$T/exports" >"$T/foreign" || true
[ ! -s "$T/foreign" ] || fail "non-nxp symbols exported: $(head -5 "$T/foreign" | tr '\n' ' ')"
# ... and every one of them is the public API: declared in include/nxpatch/
# (library internals are nxpi_*, which the version script keeps local)
cat "$NXP_SOURCE_DIR"/include/nxpatch/*.h >"$T/api"
while read -r sym; do
  grep -qw -- "$sym" "$T/api" || echo "$sym"
done <"$T/exports" >"$T/internal"
[ ! -s "$T/internal" ] ||
  fail "exported but not declared in include/nxpatch/ (name it nxpi_ or declare it): $(head -5 "$T/internal" | tr '\n' ' ')"

# --- the installed binary finds its shipped rules from the prefix
NX=$P/bin/nxpatch
unset NXPATCH_RULES_PATH
# (a test build says "nxpatch 0.1.0 (test hooks)"; the packages' binary must not: tests/package/deb.sh)
v=$("$NX" --version)
[ "${v% (test hooks)}" = 'nxpatch 0.1.0' ] || fail "installed --version: $v"
"$NX" policy list >"$T/list" || fail "policy list failed"
for r in "$NXP_SOURCE_DIR"/rules/*.yaml; do
  n=$(basename "$r" .yaml)
  grep -q "^$n " "$T/list" || fail "policy list lacks $n: $(cat "$T/list")"
done
S=$NXP_SAMPLES_DIR
[ -f "$S/thunk_section64.exe" ] || fail "samples not built"
"$NX" plan --policy thunk-sections "$S/thunk_section64.exe" >"$T/plan" || fail "plan --policy NAME"
grep -q 'rule thunk-section' "$T/plan" || fail "plan with the shipped rule set: $(cat "$T/plan")"
"$NX" apply --policy thunk-sections "$S/thunk_section64.exe" -o "$T/t64.exe" >/dev/null ||
  fail "installed apply"
"$NX" verify --policy thunk-sections "$T/t64.exe" >/dev/null || fail "installed verify"
# the installed LIEF worker is found from the prefix (not the build tree's)
env -u NXP_LIEF_WORKER "$NX" scan --cross-check "$S/thunk_section64.exe" >"$T/xc" 2>&1 ||
  fail "installed scan --cross-check: $(cat "$T/xc")"
rc=0; "$NX" plan --policy no-such-rules "$S/hello64.exe" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "unknown --policy name: exit $rc, want 2"

# --- man pages render without warnings (as lintian checks them)
man1=$(ls "$P"/share/man/man1/nxpatch.1*) man5=$(ls "$P"/share/man/man5/nxpatch-policy.5*)
for m in "$man1" "$man5"; do
  LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$m" \
    >"$T/man.out" 2>"$T/man.err" || fail "man -l $m failed: $(cat "$T/man.err")"
  [ ! -s "$T/man.err" ] || fail "man -l $(basename "$m") warns: $(cat "$T/man.err")"
  [ -s "$T/man.out" ] || fail "man -l $(basename "$m") rendered nothing"
done
# nxpatch(1) describes every command `nxpatch help` lists
"$NX" help | awk '/^  [a-z]/ {print $1}' >"$T/cmds"
[ "$(wc -l <"$T/cmds")" -ge 10 ] || fail "help lists too few commands"
zcat -f "$man1" >"$T/man1.roff"
while read -r c; do
  grep -q "^\.SS $c\$" "$T/man1.roff" || fail "nxpatch(1) does not describe '$c'"
done <"$T/cmds"
# ... and every option of plan, apply and verify (their --help lists them)
for c in plan apply verify; do
  "$NX" "$c" --help >"$T/help.$c"
  for o in $(grep -oE -- '--[a-z][a-z0-9-]*' "$T/help.$c" | sort -u); do
    grep -q "^  .*$o.*test hook:" "$T/help.$c" && continue # test builds only, not documented
    grep -qF -- "${o//-/\\-}" "$T/man1.roff" || fail "nxpatch(1) does not describe $c $o"
  done
done

# --- the bash completion completes commands, options and rule-set names
if [ -x /bin/bash ]; then
  comp() { # WORDS...: the completions bash offers for the last word
    PATH=$P/bin:$PATH bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
      _nxpatch; printf "%s\n" "${COMPREPLY[@]}"' _ "$P/share/bash-completion/completions/nxpatch" "$@"
  }
  grep -qx plan <<<"$(comp nxpatch pl)" || fail "bash completion: commands"
  grep -qx -- --in-place <<<"$(comp nxpatch apply --in)" || fail "bash completion: apply options"
  grep -qx uefi <<<"$(comp nxpatch plan --policy ue)" || fail "bash completion: --policy names"
  grep -qx -- --allow-wx <<<"$(comp nxpatch apply --allow)" || fail "bash completion: inline edits"
  grep -qx nx_compat,dynamic_base <<<"$(comp nxpatch plan --set nx_compat,dyn)" ||
    fail "bash completion: --set flag lists"
  grep -qx sign <<<"$(comp nxpatch apply --signature si)" || fail "bash completion: --signature"
fi

cflags=()
if [ "${NXP_SANITIZE:-OFF}" = ON ]; then cflags=(-fsanitize=address,undefined); fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# --- find_package(nxpatch): shared and static library, nxpatch::cli, nxpatch_post_link
cmake -S "$NXP_SOURCE_DIR/tests/consumer/lib" -B "$T/consumer" -DCMAKE_PREFIX_PATH="$P" \
  -DCMAKE_C_FLAGS="${cflags[*]}" -DCMAKE_EXE_LINKER_FLAGS="${cflags[*]}" \
  >"$T/cmake.log" 2>&1 || { cat "$T/cmake.log" >&2; fail "consumer project does not configure"; }
cmake --build "$T/consumer" >"$T/build.log" 2>&1 ||
  { cat "$T/build.log" >&2; fail "consumer project does not build"; }
[ "$(cat "$T/consumer/cli-location.txt")" = "$(cd "$P/bin" && pwd -P)/nxpatch" ] ||
  [ "$(cat "$T/consumer/cli-location.txt")" = "$P/bin/nxpatch" ] ||
  fail "nxpatch::cli is $(cat "$T/consumer/cli-location.txt")"
grep -q 'NEEDED.*libnxpatch.so.0' <<<"$(readelf -d "$T/consumer/consumer")" ||
  fail "consumer is not linked to libnxpatch.so.0"
grep -q 'libnxpatch' <<<"$(readelf -d "$T/consumer/consumer_static")" &&
  fail "consumer_static needs libnxpatch.so"
want="amd64 exe 0x0160 2 1" # thunk_section64: checksum + .thunk planned, W+X refused by the default
out=$(LD_LIBRARY_PATH=$L "$T/consumer/consumer" "$S/thunk_section64.exe") || fail "consumer failed"
[ "$out" = "$want" ] || fail "consumer printed '$out', want '$want'"
out=$("$T/consumer/consumer_static" "$S/thunk_section64.exe") || fail "consumer_static failed"
[ "$out" = "$want" ] || fail "consumer_static printed '$out', want '$want'"

# --- pkg-config --cflags --libs nxpatch builds a C program
export PKG_CONFIG_PATH=$L/pkgconfig
[ "$(pkg-config --modversion nxpatch)" = 0.1.0 ] || fail "pkg-config --modversion"
# shellcheck disable=SC2046
cc "${cflags[@]}" -Wall -Werror -o "$T/pc" "$NXP_SOURCE_DIR/tests/consumer/consumer.c" \
  $(pkg-config --cflags --libs nxpatch) 2>"$T/cc.err" || fail "pkg-config build: $(cat "$T/cc.err")"
out=$(LD_LIBRARY_PATH=$L "$T/pc" "$S/thunk_section64.exe") || fail "pkg-config program failed"
[ "$out" = "$want" ] || fail "pkg-config program printed '$out'"
# and statically: libnxpatch.a with the private dependencies of --static
# shellcheck disable=SC2046
cc "${cflags[@]}" -o "$T/pcs" "$NXP_SOURCE_DIR/tests/consumer/consumer.c" \
  $(pkg-config --cflags nxpatch) -Wl,-Bstatic -lnxpatch -Wl,-Bdynamic \
  $(pkg-config --static --libs nxpatch | sed 's/ -lnxpatch\b//') 2>"$T/cc.err" ||
  fail "pkg-config --static build: $(cat "$T/cc.err")"
out=$("$T/pcs" "$S/thunk_section64.exe") || fail "static pkg-config program failed"
[ "$out" = "$want" ] || fail "static pkg-config program printed '$out'"

# --- a mingw-w64 project patched after link by the installed nxpatch_post_link()
cmake -S "$NXP_SOURCE_DIR/tests/consumer/post-link" -B "$T/post" \
  -DCMAKE_TOOLCHAIN_FILE="$NXP_SOURCE_DIR/samples/pipeline/mingw-w64-x86_64.cmake" \
  -Dnxpatch_DIR="$L/cmake/nxpatch" >"$T/cmake2.log" 2>&1 ||
  { cat "$T/cmake2.log" >&2; fail "post-link project does not configure"; }
cmake --build "$T/post" >"$T/build2.log" 2>&1 ||
  { cat "$T/build2.log" >&2; fail "post-link project does not build"; }
grep -q "$P/bin/nxpatch" "$T/post/CMakeFiles/legacy.dir/build.make" 2>/dev/null ||
  grep -rq "$P/bin/nxpatch" "$T/post/build.ninja" 2>/dev/null ||
  grep -rqF "$P/bin/nxpatch" "$T/post/CMakeFiles" || fail "post-link step does not run the installed nxpatch"
"$NX" verify --policy thunk-sections "$T/post/legacy.exe" >"$T/verify" ||
  fail "post-linked legacy.exe does not comply: $(cat "$T/verify")"
"$NX" scan --format json "$T/post/legacy.exe" >"$T/scan.json" || fail "scan of legacy.exe"
grep -q '"nx_compat"' "$T/scan.json" ||
  fail "post-linked legacy.exe has no nx_compat: $(cat "$T/scan.json")"
echo "ok: install into $P, consumers (CMake shared+static, pkg-config, mingw post-link), man pages"

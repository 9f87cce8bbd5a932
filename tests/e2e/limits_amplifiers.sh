#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Limits: inputs whose naive handling costs far more than their size (the
# "amplifiers") must be refused or handled within a small multiple of the
# input's size in peak RSS, and in bounded time, never by a signal.
# Images come from nxp_gen_images (built with the tests); nothing is committed.
. "$(dirname "$0")/lib.sh"

[ -x /usr/bin/time ] || skip "/usr/bin/time not installed (apt-get install time)"
GEN=$NXP_BINARY_DIR/fuzz/nxp_gen_images
[ -x "$GEN" ] || fail "$GEN not built"

# measure OUT_PREFIX CMD...: runs CMD under /usr/bin/time; sets RC, RSS_KB, SECS.
measure() {
  local out=$1; shift
  RC=0
  /usr/bin/time -f '%M %e' -o "$out.time" "$@" >"$out.stdout" 2>"$out.stderr" || RC=$?
  read -r RSS_KB SECS < <(tail -1 "$out.time")
  [ "$RC" -lt 128 ] || fail "$* died by signal $((RC - 128)): $(tail -3 "$out.stderr")"
}

size_kb() { echo $(( ($(stat -c %s "$1") + 1023) / 1024 )); }

# Baseline: a small valid image (the process, libraries, sanitizer runtime).
"$GEN" amp header "$T/header.exe"
measure "$T/base" "$NXPATCH" scan --format json "$T/header.exe"
[ "$RC" -eq 0 ] || fail "baseline scan failed: $(cat "$T/base.stderr")"
BASE_KB=$RSS_KB
echo "baseline: ${BASE_KB} KB"

# check NAME WANT_RC WANT_MSG [CMD ARGS...]: run nxpatch CMD (default: scan
# --format json) on the amplifier, assert the exit status, a message naming
# the reason (when refused), RSS <= base + 2 x size + 8 MB, and under 30 s.
check() {
  local name=$1 want=$2 msg=$3 f=$T/$1.exe
  shift 3
  [ $# -gt 0 ] || set -- scan --format json
  measure "$T/$name" "$NXPATCH" "$@" "$f"
  local limit=$((BASE_KB + 2 * $(size_kb "$f") + 8192))
  report "$name ($1)" "$f" "$limit"
  [ "$RC" -eq "$want" ] || fail "$name: $1 exit $RC, want $want: $(cat "$T/$name.stderr")"
  [ -z "$msg" ] || grep -Eq -- "$msg" "$T/$name.stderr" ||
    fail "$name: message lacks '$msg': $(cat "$T/$name.stderr")"
  [ "$RSS_KB" -le "$limit" ] || fail "$name: peak RSS $RSS_KB KB over $limit KB"
  awk -v s="$SECS" 'BEGIN { exit !(s < 30) }' || fail "$name: took $SECS s"
}

report() {
  printf '%-28s %10d bytes  exit %d  peak %8d KB (limit %8d)  %6.2f s\n' \
    "$1" "$(stat -c %s "$2")" "$RC" "$RSS_KB" "$3" "$SECS"
}

# check_lief NAME: scan --cross-check. The LIEF child runs under its own
# limits (address space max(256 MiB, 8 x size), 10 s): whatever LIEF does
# with the amplifier, nxpatch reports success or an error for the file, never
# a signal or a hang. Peak RSS (the largest of nxpatch and its child) stays
# within the child's limit plus the parent's 2 x size.
check_lief() {
  local name=$1 f=$T/$1.exe
  local sz_kb; sz_kb=$(size_kb "$f")
  local child=$((8 * sz_kb)); [ "$child" -ge 262144 ] || child=262144
  measure "$T/$name.x" "$NXPATCH" scan --cross-check "$f"
  local limit=$((BASE_KB + child + 2 * sz_kb + 65536))
  report "$name (scan --cross-check)" "$f" "$limit"
  [ "$RC" -eq 0 ] || [ "$RC" -eq 3 ] || fail "$name: cross-check exit $RC"
  [ "$RC" -eq 0 ] || [ -s "$T/$name.x.stderr" ] || fail "$name: cross-check failed silently"
  [ "$RC" -eq 0 ] || echo "    $(head -1 "$T/$name.x.stderr")"
  [ "$RSS_KB" -le "$limit" ] || fail "$name: cross-check peak RSS $RSS_KB KB over $limit KB"
  awk -v s="$SECS" 'BEGIN { exit !(s < 30) }' || fail "$name: cross-check took $SECS s"
}

for k in sections65535 overlap hugedirs hugedirs-unread certs10000; do
  "$GEN" amp "$k" "$T/$k.exe"
done
check sections65535 3 "NumberOfSections 65535 exceeds the limit of 96"
check overlap 0 ""
check hugedirs 3 "export directory \\(rva 0x1000, size 0xffffffff\\) is not inside"
check hugedirs-unread 0 ""
check certs10000 3 "more than 32 entries"
check sections65535 3 "NumberOfSections 65535" plan
check overlap 0 "" plan
check hugedirs-unread 0 "" plan
check certs10000 3 "more than 32 entries" plan
for k in sections65535 overlap hugedirs hugedirs-unread certs10000; do
  check_lief "$k"
done

# A 1 GiB sparse file with a valid header: the reader maps it and touches
# only the headers, but the checksum reads every page, so the mapped (clean,
# file-backed, reclaimable) pages count in RSS: allow 2 x size + 64 MB and
# 30 s. The anonymous part must stay small: without sanitizers (whose shadow
# memory counts as data) the scan must also pass under a 64 MB data limit.
cp "$T/header.exe" "$T/sparse.exe"
truncate -s 1G "$T/sparse.exe"
measure "$T/sparse" "$NXPATCH" scan --format json "$T/sparse.exe"
SPARSE_LIMIT=$((2 * 1024 * 1024 + 65536))
report "sparse-1g (scan)" "$T/sparse.exe" "$SPARSE_LIMIT"
[ "$RC" -eq 0 ] || fail "sparse: exit $RC: $(cat "$T/sparse.stderr")"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1]))["files"][0]; assert d["status"]=="ok" and d["overlay"]["size"] > 1000000000, d' \
  "$T/sparse.stdout" || fail "sparse: unexpected report"
[ "$RSS_KB" -le "$SPARSE_LIMIT" ] || fail "sparse: peak RSS $RSS_KB KB over $SPARSE_LIMIT KB"
awk -v s="$SECS" 'BEGIN { exit !(s < 30) }' || fail "sparse: took $SECS s"
measure "$T/sparse.plan" "$NXPATCH" plan "$T/sparse.exe"
report "sparse-1g (plan)" "$T/sparse.exe" "$SPARSE_LIMIT"
[ "$RC" -eq 0 ] || fail "sparse: plan exit $RC: $(cat "$T/sparse.plan.stderr")"
[ "$RSS_KB" -le "$SPARSE_LIMIT" ] || fail "sparse: plan peak RSS $RSS_KB KB over $SPARSE_LIMIT KB"
awk -v s="$SECS" 'BEGIN { exit !(s < 30) }' || fail "sparse: plan took $SECS s"
check_lief sparse
if [ "${NXP_SANITIZE:-OFF}" != ON ]; then
  (ulimit -d 65536 && "$NXPATCH" scan "$T/sparse.exe" >/dev/null 2>"$T/sparse-ulimit.stderr") ||
    fail "sparse: scan needs more than 64 MB of data memory: $(cat "$T/sparse-ulimit.stderr")"
  echo "sparse-1g (scan)             passes under ulimit -d 64 MB"
fi
echo "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two `apply --in-place` runs on one file at once (issue 12, item 3): the
# target is locked from read to rename, so the second run waits and patches
# the first run's output. 400 tries, each two concurrent runs setting
# different flags: both flags must be there every time (0 lost updates),
# and no run may fail.
. "$(dirname "$0")/lib.sh"
s=$(sample nonx32.exe)
nx_policy "$T/nx.yaml" nx_compat
nx_policy "$T/nb.yaml" no_bind
# 400 tries (about a minute); the sanitizer build, 3-4 times slower per run,
# does 100.
default=400; [ "${NXP_SANITIZE:-OFF}" = ON ] && default=100
TRIES=${NXP_LOCK_TRIES:-$default}
lost=0 failed=0
for i in $(seq 1 "$TRIES"); do
  cp "$s" "$T/f.exe"
  "$NXPATCH" apply --no-cross-check --policy "$T/nx.yaml" --in-place "$T/f.exe" >"$T/a.out" 2>&1 &
  a=$!
  "$NXPATCH" apply --no-cross-check --policy "$T/nb.yaml" --in-place "$T/f.exe" >"$T/b.out" 2>&1 &
  b=$!
  ra=0; wait $a || ra=$?
  rb=0; wait $b || rb=$?
  if [ $ra -ne 0 ] || [ $rb -ne 0 ]; then
    failed=$((failed + 1))
    echo "try $i: exit $ra/$rb: $(cat "$T/a.out" "$T/b.out" | grep nxpatch: | head -2)" >&2
  fi
  [ "$(dllchars "$T/f.exe")" = 0x0940 ] || lost=$((lost + 1))
done
grep -q 'nxpatch-' <<<"$(ls -A "$T")" && fail "temporary files left: $(ls -A "$T")"
echo "$TRIES concurrent pairs: $lost lost updates, $failed failed runs"
[ $lost -eq 0 ] || fail "$lost of $TRIES concurrent pairs lost an update"
[ $failed -eq 0 ] || fail "$failed of $TRIES concurrent pairs had a failed run"
echo "hostile_lock: all checks passed"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An input cut short while it is processed (issue 12, item 5): no SIGBUS,
# that one image fails with "file changed while it was processed", its
# temporary file is removed, and a batch goes on (-j 1 included) and prints
# its summary. 50 races at random points, bounded; 0 crashes and 0
# temporary files left; every output that is written is complete.
. "$(dirname "$0")/lib.sh"
s=$(sample nonx32.exe)
nx_policy "$T/nx.yaml" nx_compat
# A 48 MiB image (the sample plus an overlay): long enough to be cut mid-way.
cp "$s" "$T/big.orig"
head -c 48M /dev/urandom >> "$T/big.orig"
"$NXPATCH" apply --no-cross-check --policy "$T/nx.yaml" "$T/big.orig" -o "$T/big.want" >/dev/null
want=$(sha "$T/big.want")
# How long one apply takes here, to spread the cuts over it.
t0=$(date +%s%N)
"$NXPATCH" apply --no-cross-check --policy "$T/nx.yaml" "$T/big.orig" -o "$T/big.tmp" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 + 1 ))
rm -f "$T/big.tmp"

RACES=${NXP_TRUNCATE_RACES:-50}
crashes=0 cut=0 done_first=0
mkdir "$T/w"
for i in $(seq 1 "$RACES"); do
  rm -f "$T/w/"* "$T/w/".[!.]* 2>/dev/null || true
  cp "$T/big.orig" "$T/w/in.exe"
  mode=$((i % 3))   # 0: -o, 1: --in-place, 2: a -j 1 batch of two images
  case $mode in
    0) args=("$T/w/in.exe" -o "$T/w/out.exe") ;;
    1) args=(--in-place "$T/w/in.exe") ;;
    2) cp "$s" "$T/w/small.exe"; mkdir -p "$T/w/o"
       args=(-j 1 --out-dir "$T/w/o" "$T/w/in.exe" "$T/w/small.exe") ;;
  esac
  "$NXPATCH" apply --no-cross-check --policy "$T/nx.yaml" "${args[@]}" >"$T/out" 2>"$T/err" &
  pid=$!
  sleep "$(awk -v r=$RANDOM -v ms="$ms" 'BEGIN { printf "%.3f", (r % (ms + 1)) / 1000 }')"
  # never below the sample itself (15 KiB): cut before it is read, it is still an image
  truncate -s $(( (RANDOM % 48 + 16) * 4096 )) "$T/w/in.exe"
  rc=0; wait $pid || rc=$?
  if [ $rc -gt 128 ]; then
    crashes=$((crashes + 1))
    echo "race $i (mode $mode): killed by signal $((rc - 128))" >&2
    continue
  fi
  tmp=$(find "$T/w" -name '.*nxpatch-*' | wc -l)
  [ "$tmp" -eq 0 ] || fail "race $i (mode $mode): $tmp temporary file(s) left"
  if [ $rc -eq 0 ]; then
    done_first=$((done_first + 1))   # finished before the cut
  else
    [ $rc -eq 3 ] || fail "race $i (mode $mode): exit $rc: $(cat "$T/err")"
    grep -q 'file changed while it was processed' "$T/err" ||
      fail "race $i (mode $mode): not reported as a changed file: $(cat "$T/err")"
    cut=$((cut + 1))
  fi
  case $mode in
    0) # the patched image, or (cut before it was read) the patched cut image
       if [ -e "$T/w/out.exe" ] && [ "$(sha "$T/w/out.exe")" != "$want" ]; then
         "$NXPATCH" apply --no-cross-check --policy "$T/nx.yaml" "$T/w/in.exe" -o "$T/w/ref.exe" >/dev/null 2>&1 || true
         cmp -s "$T/w/out.exe" "$T/w/ref.exe" ||
           fail "race $i: an output was written that is neither the patched image nor the patched cut one"
       fi ;;
    1) # patched then cut (or cut then patched, short), or cut and left alone
       [ "$(stat -c %s "$T/w/in.exe")" -le $((64 * 4096)) ] || [ "$(sha "$T/w/in.exe")" = "$want" ] ||
         fail "race $i: in place, neither cut nor the patched image"
       [ $rc -eq 0 ] || [ "$(stat -c %s "$T/w/in.exe")" -le $((64 * 4096)) ] ||
         fail "race $i: a failed in-place run replaced the cut file" ;;
    2) grep -q '^summary: 2 images scanned' "$T/out" || fail "race $i: the batch stopped: $(tail -2 "$T/out")"
       [ -s "$T/w/o/small.exe" ] || fail "race $i: the batch did not go on to the next image" ;;
  esac
done
echo "$RACES truncation races: $crashes crashes, $cut failed cleanly, $done_first finished first, 0 temporary files left"
[ $crashes -eq 0 ] || fail "$crashes of $RACES races crashed"
[ $cut -gt 0 ] || fail "no race cut an image while it was processed (timing?)"
echo "hostile_truncate: all checks passed"

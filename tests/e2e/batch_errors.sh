#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Resource errors in a batch: each affected image gets a clear error, its
# original is untouched, no temporary file stays, the other images are still
# processed, and the run exits 3.
#  - a file-size limit (ulimit -f): nxpatch ignores SIGXFSZ, so the write
#    fails with EFBIG ("File too large") instead of killing it;
#  - a full disk: a 1 MiB tmpfs filled up (needs mount, as root; skipped
#    otherwise);
#  - a read-only directory: root ignores permission bits, so the directory
#    is made immutable (chattr +i) or, failing that, a read-only bind mount.
. "$(dirname "$0")/lib.sh"

POL=$T/pol.yaml
# Sections with code in data (thunk_section32, thunk_data64, ...) become
# executable first, so that nx_compat is not refused for them.
printf 'nxpatch: 1\nrules:\n  - id: code\n    when: {code_in_data: true}\n    actions:\n      - section: "@code-in-data"\n        add: [execute]\n        allow_wx: true\n  - id: dep\n    actions:\n      - set: [nx_compat, no_bind]\n' > "$POL"
small=$(sample hello64.exe); big=$(sample thunk_section32.exe)   # 14848 and 44544 bytes
mounted=() immutable=()
cleanup() {
  for d in "${immutable[@]}"; do chattr -i "$d" 2>/dev/null || true; done
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

no_tmp() { ! grep -q . <<<"$(find "$1" -name '.*.nxpatch-*')" || fail "temporary file left in $1"; }

# 1. File-size limit: 20 KiB. The small image fits, the big one cannot be written.
mkdir -p "$T/fsize"
cp "$small" "$T/fsize/a-small.exe"; cp "$big" "$T/fsize/b-big.exe"; cp "$small" "$T/fsize/c-small.exe"
h=$(sha "$T/fsize/b-big.exe")
rc=0; (ulimit -f 20; exec "$NXPATCH" apply -r -q -j 2 --policy "$POL" --in-place "$T/fsize") \
  >"$T/out" 2>"$T/err" || rc=$?
[ $rc -eq 3 ] || fail "file-size limit: exit $rc, want 3: $(cat "$T/err")"
grep -q 'b-big.exe: cannot write .*: File too large' "$T/err" || fail "file-size limit: $(cat "$T/err")"
[ "$(sha "$T/fsize/b-big.exe")" = "$h" ] || fail "file-size limit: the original changed"
grep -q '2 changed, 0 unchanged, 0 refused, 1 failed' "$T/out" || fail "file-size limit: $(tail -1 "$T/out")"
no_tmp "$T/fsize"
echo "ok: file-size limit: $(grep -o 'cannot write.*' "$T/err" | sed 's/.nxpatch-[^:]*/.nxpatch-XXXXXX/')"

# 2. Disk full: a 1 MiB tmpfs, filled up after the images are in place.
mkdir -p "$T/full"
if mount -t tmpfs -o size=1m nxp-test "$T/full" 2>/dev/null; then
  mounted+=("$T/full")
  cp "$small" "$T/full/a.exe"; cp "$big" "$T/full/b.exe"
  ha=$(sha "$T/full/a.exe"); hb=$(sha "$T/full/b.exe")
  dd if=/dev/zero of="$T/full/filler" bs=4k 2>/dev/null || true
  rc=0; "$NXPATCH" apply -q --policy "$POL" --in-place "$T/full/a.exe" "$T/full/b.exe" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc -eq 3 ] || fail "disk full: exit $rc, want 3: $(cat "$T/err")"
  [ "$(grep -c 'No space left on device' "$T/err")" -eq 2 ] || fail "disk full: $(cat "$T/err")"
  [ "$(sha "$T/full/a.exe")" = "$ha" ] && [ "$(sha "$T/full/b.exe")" = "$hb" ] || fail "disk full: an original changed"
  no_tmp "$T/full"
  rm "$T/full/filler"
  "$NXPATCH" apply -q --policy "$POL" --in-place "$T/full/a.exe" "$T/full/b.exe" >/dev/null ||
    fail "with space again, apply failed"
  echo "ok: disk full: $(head -1 "$T/err" | sed 's/.nxpatch-[^:]*/.nxpatch-XXXXXX/')"
else
  echo "note: cannot mount a tmpfs here (not root?): disk-full case not run"
fi

# 3. A read-only directory next to a writable one.
mkdir -p "$T/ro" "$T/rw"
cp "$small" "$T/ro/a.exe"; cp "$small" "$T/rw/a.exe"
h=$(sha "$T/ro/a.exe")
how=
if chattr +i "$T/ro" 2>/dev/null; then
  immutable+=("$T/ro"); how="chattr +i"
elif mount --bind "$T/ro" "$T/ro" 2>/dev/null && mount -o remount,ro,bind "$T/ro" 2>/dev/null; then
  mounted+=("$T/ro"); how="read-only bind mount"
elif [ "$(id -u)" -ne 0 ]; then
  chmod a-w "$T/ro"; how="chmod a-w"
fi
if [ -n "$how" ]; then
  rc=0; "$NXPATCH" apply -r -q --policy "$POL" --in-place "$T/ro" "$T/rw" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc -eq 3 ] || fail "read-only directory ($how): exit $rc, want 3: $(cat "$T/err")"
  grep -q "ro/a.exe: cannot create a temporary file in .*/ro: " "$T/err" || fail "read-only directory: $(cat "$T/err")"
  [ "$(sha "$T/ro/a.exe")" = "$h" ] || fail "read-only directory: the original changed"
  [ "$(sha "$T/rw/a.exe")" != "$h" ] || fail "read-only directory: the writable one was not processed"
  echo "ok: read-only directory ($how): $(cat "$T/err")"
else
  echo "note: cannot make a directory read-only for root here: case not run"
fi
echo "batch_errors: all checks passed"

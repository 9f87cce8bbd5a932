#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# -r over a directory where other runs' temporary files and backups come and
# go (shards of one tree write theirs beside their images): one that is gone
# between reading the directory and looking at it is skipped, as it would
# have been, never "cannot stat". A real input that is gone is still an
# error.
. "$(dirname "$0")/lib.sh"

mkdir "$T/d"
for k in $(seq 400); do echo "not an image $k" >"$T/d/f$k.dll"; done
cp "$NXP_SAMPLES_DIR/hello64.exe" "$T/d/hello64.exe"

# Another run's temporary files and backups, made and removed all the time.
(
  while :; do
    for k in $(seq 40); do
      : >"$T/d/.f$k.dll.nxpatch-Ab12Cd"
      : >"$T/d/f$k.dll.nxpatch-orig"
    done
    rm -f "$T/d"/.f*.dll.nxpatch-Ab12Cd "$T/d"/f*.dll.nxpatch-orig
  done
) &
churn=$!
trap 'kill $churn 2>/dev/null || true; wait $churn 2>/dev/null || true; rm -rf "$T"' EXIT

for i in $(seq 40); do
  rc=0
  "$NXPATCH" scan -r -q "$T/d" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc -eq 0 ] || fail "run $i: exit $rc: $(head -3 "$T/err")"
  grep -q "cannot stat" "$T/err" && fail "run $i: $(head -3 "$T/err")"
done
kill $churn
wait $churn 2>/dev/null || true
echo "ok: 40 walks while temporary files and backups came and went: no errors"

# A file given by name that is gone is an error; so is a plain file found
# by -r and gone before it is looked at (nothing here can time that, so
# only the named case is run).
rc=0
"$NXPATCH" scan "$T/d/gone.exe" >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 3 ] || fail "a missing input: exit $rc, want 3"
echo "walk_vanishing: all checks passed"

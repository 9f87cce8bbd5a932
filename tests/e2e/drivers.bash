# SPDX-License-Identifier: Apache-2.0
# Helpers for the driver tests (source after lib.sh). Not a test itself.
#
# drv_run DRIVER: loads DRIVER with the sample harness drvload64.exe under
# wine64 with WINEDEBUG=+relay and calls its DriverEntry. Sets drv_rc (the
# harness's exit status: 0 only when DriverEntry returned STATUS_SUCCESS)
# and writes $T/drv.calls: one line "API RVA ARGS" per call the driver made
# to a pool or memory API of ntoskrnl.exe, in order, where RVA is the return
# address less the image base (the RVA just after the call instruction) and
# ARGS the arguments Wine's relay logs, as 0x... each.

drv_run() {
  local drv=$1 dir="$T/drvrun"
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$(sample drivers/drvload64.exe)" "$dir/"
  cp "$drv" "$dir/driver.sys"
  drv_rc=0
  (cd "$dir" && WINEDEBUG=-all,+relay timeout 120 "$WINE" ./drvload64.exe driver.sys \
     >"$T/drv.stdout.raw" 2>"$T/drv.relay") || drv_rc=$?
  tr -d '\r' <"$T/drv.stdout.raw" >"$T/drv.out"
  if [ "$drv_rc" -eq 124 ] || [ "$drv_rc" -eq 137 ]; then
    fail "$drv timed out under wine64"
  fi
  local base
  base=$(sed -n 's/^loaded at 0x\([0-9a-f]*\)$/\1/p' "$T/drv.out")
  if [ -z "$base" ]; then
    cat "$T/drv.out" >&2
    tail -20 "$T/drv.relay" >&2
    fail "$drv did not load under wine64"
  fi
  "$PYTHON" - "$base" "$T/drv.relay" >"$T/drv.calls" <<'PY'
import re, sys
base = int(sys.argv[1], 16)
pat = re.compile(r':Call ntoskrnl\.exe\.(\w+)\(([^)]*)\) ret=([0-9a-f]+)')
with open(sys.argv[2], 'rb') as f:
    for raw in f:
        m = pat.search(raw.decode('latin-1'))
        if not m:
            continue
        rva = int(m.group(3), 16) - base
        if 0 <= rva < 0x1000000:
            args = [hex(int(a, 16)) for a in m.group(2).split(',') if a]
            print(m.group(1), hex(rva), *args)
PY
}

# drv_types API: the first argument of every call to API, in order, as 0x...
drv_types() {
  awk -v api="$1" '$1 == api { print $3 }' "$T/drv.calls" | tr '\n' ' ' | sed 's/ $//'
}

# expect_types DRIVER API "0x0 0x4 ...": DriverEntry succeeds and API was
# called with exactly these pool types, in this order.
expect_types() {
  drv_run "$1"
  local got
  got=$(drv_types "$2")
  if [ "$drv_rc" -ne 0 ] || [ "$got" != "$3" ]; then
    cat "$T/drv.out" "$T/drv.calls" >&2
    fail "$(basename "$1"): exit $drv_rc, $2 types '$got'; want exit 0 and '$3'"
  fi
  echo "ok: $(basename "$1"): DriverEntry succeeds, $2 types $3"
}

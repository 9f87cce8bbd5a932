#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# No false positives on real code: `code_in_data` is false for every mingw
# runtime DLL in Debian's packages and every PE in wine's own directories
# (x86_64-windows, i386-windows), and each of them is analysed (no errors).
. "$(dirname "$0")/lib.sh"

mapfile -t files < <(
  find /usr/lib/gcc/x86_64-w64-mingw32 /usr/lib/gcc/i686-w64-mingw32 \
    /usr/x86_64-w64-mingw32 /usr/i686-w64-mingw32 -name '*.dll' -type f 2>/dev/null
  for d in /usr/lib/x86_64-linux-gnu/wine/x86_64-windows /usr/lib/x86_64-linux-gnu/wine/i386-windows \
           /usr/lib/i386-linux-gnu/wine/i386-windows; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -type f ! -name '*.a'
  done | sort)
[ ${#files[@]} -gt 0 ] || skip "no mingw runtime DLLs or wine PE DLLs (apt-get install gcc-mingw-w64 wine64)"

start=$(date +%s.%N)
"$NXPATCH" scan --format json "${files[@]}" > "$T/scan.json" || fail "scan exited $?"
end=$(date +%s.%N)
bytes=$(cat "${files[@]}" | wc -c)

"$PYTHON" - "$T/scan.json" "$start" "$end" "$bytes" <<'PY'
import json, sys
files = json.load(open(sys.argv[1]))["files"]
secs = float(sys.argv[3]) - float(sys.argv[2])
errors = [f for f in files if f["status"] != "ok"]
flagged = [f for f in files if f["status"] == "ok" and f["code_in_data"]]
for f in errors:
    print(f"not analysed: {f['path']}: {f['error']}")
for f in flagged:
    ev = ", ".join(f"{e['kind']}@{e['rva']:#x} in {e['section']}" for e in f["evidence"][:5])
    print(f"FALSE POSITIVE: {f['path']}: {ev}")
print(f"{len(files)} images, {int(sys.argv[4]) / 1e6:.0f} MB, {secs:.1f} s: "
      f"{len(flagged)} with code_in_data, {len(errors)} not analysed")
sys.exit(1 if errors or flagged else 0)
PY

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every field `nxpatch scan` reports, and the computed checksum, agree with
# python3-pefile on the built samples and on the mingw runtime DLLs shipped
# in Debian's mingw packages.
. "$(dirname "$0")/lib.sh"
require_pefile

mapfile -t files < <(find /usr/lib/gcc/x86_64-w64-mingw32 /usr/lib/gcc/i686-w64-mingw32 \
  /usr/x86_64-w64-mingw32/lib /usr/i686-w64-mingw32/lib -name '*.dll' 2>/dev/null | sort)
[ ${#files[@]} -gt 0 ] || skip "no mingw runtime DLLs (apt-get install gcc-mingw-w64-x86-64 gcc-mingw-w64-i686)"
if [ -d "$NXP_SAMPLES_DIR" ]; then
  mapfile -t -O ${#files[@]} files < <(find "$NXP_SAMPLES_DIR" -maxdepth 1 \( -name '*.exe' -o -name '*.dll' \) | sort)
fi
echo "comparing ${#files[@]} images with pefile"
"$NXPATCH" scan --format json "${files[@]}" > "$T/scan.json" || fail "scan exited $?"
"$PYTHON" "$NXP_SOURCE_DIR/tests/tools/pefile_compare.py" "$T/scan.json"

# mingw's ld writes a checksum into its DLLs: nxpatch's computed checksum must
# equal the stored one on every mingw runtime DLL that carries one.
"$PYTHON" - "$T/scan.json" <<'PY' || fail "computed checksum differs from the one mingw's ld wrote"
import json, sys
n = bad = 0
for f in json.load(open(sys.argv[1]))["files"]:
    if "-w64-mingw32" not in f["path"] or not f["checksum"]["stored"]:
        continue
    n += 1
    if f["checksum"]["stored"] != f["checksum"]["computed"]:
        bad += 1
        print(f"{f['path']}: stored 0x{f['checksum']['stored']:08x}, computed 0x{f['checksum']['computed']:08x}")
print(f"{n} ld-written checksums compared, {bad} differ")
sys.exit(1 if bad or n == 0 else 0)
PY

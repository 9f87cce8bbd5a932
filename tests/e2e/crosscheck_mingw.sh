#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# LIEF, run as the guarded second reader, agrees field by field with
# nxpatch's reader on every mingw runtime DLL shipped in Debian's mingw
# packages (PE32 and PE32+, long "/4" section names, 16 data directories),
# through the CLI contract:
#   nxpatch scan --cross-check --format json PATH...
#   -> {"files":[{"path", "status", "cross_check": {"agree": true|false,
#        "mismatches": [{"field", "reader", "lief"}]}}]}, exit 0 when all agree.
. "$(dirname "$0")/lib.sh"

mapfile -t files < <(find /usr/lib/gcc/x86_64-w64-mingw32 /usr/lib/gcc/i686-w64-mingw32 \
  /usr/x86_64-w64-mingw32 /usr/i686-w64-mingw32 -name '*.dll' 2>/dev/null | sort)
[ ${#files[@]} -gt 0 ] ||
  skip "no mingw runtime DLLs (apt-get install gcc-mingw-w64-x86-64 gcc-mingw-w64-i686)"
if [ -d "$NXP_SAMPLES_DIR" ]; then
  mapfile -t -O ${#files[@]} files < <(find "$NXP_SAMPLES_DIR" -maxdepth 1 \
    \( -name '*.exe' -o -name '*.dll' \) | sort)
fi


echo "cross-checking ${#files[@]} images with LIEF"
rc=0
"$NXPATCH" scan --cross-check --format json "${files[@]}" > "$T/scan.json" 2> "$T/scan.err" || rc=$?

"$PYTHON" - "$T/scan.json" "${#files[@]}" <<'EOF' || fail "cross-check disagreements (above)"
import json, sys
doc = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
files = doc["files"]
bad = 0
if len(files) != want:
    print(f"expected {want} entries, got {len(files)}")
    bad += 1
for f in files:
    if f.get("status") != "ok":
        print(f"{f.get('path')}: status {f.get('status')}: {f.get('error')}")
        bad += 1
        continue
    cc = f.get("cross_check")
    if not isinstance(cc, dict) or not isinstance(cc.get("agree"), bool):
        print(f"{f['path']}: no cross_check object with a boolean 'agree': {cc!r}")
        bad += 1
        continue
    mm = cc.get("mismatches")
    if not isinstance(mm, list):
        print(f"{f['path']}: cross_check.mismatches is not a list")
        bad += 1
        continue
    if not cc["agree"] or mm:
        bad += 1
        for m in mm:
            print(f"{f['path']}: {m['field']}: reader {m['reader']} lief {m['lief']}")
        if not mm:
            print(f"{f['path']}: agree is false but no mismatch is listed")
print(f"{len(files) - bad} of {len(files)} images agree")
sys.exit(1 if bad else 0)
EOF
[ "$rc" -eq 0 ] || { cat "$T/scan.err" >&2; fail "scan --cross-check exited $rc although all agree"; }

echo "ok"

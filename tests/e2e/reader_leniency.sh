#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Read what the Windows loader reads (issue 13 item 7). Four real images that
# the strict reader used to reject, and pefile accepts, scan with a warning
# naming what the loader tolerates, and patch: apply (with the LIEF
# cross-check) writes them, verify passes, and pefile confirms the checksum
# and that only the planned header bytes changed.
#   clam.exe          PointerToRawData 0x1, rounded down by the loader
#   clam-mew.exe      import terminator in the section's zero-filled tail
#   clam-upack.exe    garbage in directories the loader ignores (certificate,
#                     i386 exception, relocations of a relocs-stripped image)
#   win32-loader.exe  a stale base-relocation entry (in .ndata's zero fill)
. "$(dirname "$0")/lib.sh"
require_corpus
require_pefile

CL=$(find "$TC/clamav" -name clam.exe -printf '%h\n' | head -1)
WL=$(find "$TC/other" -name win32-loader.exe | head -1)
[ -n "$CL" ] && [ -n "$WL" ] || fail "clamav-testfiles or win32-loader missing from the test corpus"

cat >"$T/p.yaml" <<'EOF'
nxpatch: 1
settings: {checksum: always}
rules:
  - id: tsa
    actions:
      - set: [terminal_server_aware]
EOF

check() { # FILE WARNING-REGEX
  local f=$1 want=$2 n
  n=$(basename "$f")
  "$NXPATCH" scan --format json "$f" >"$T/s.json" || fail "$n: scan exited $?: $(cat "$T/s.json")"
  "$PYTHON" - "$T/s.json" "$want" "$n" <<'PY' || fail "$n: scan"
import json, re, sys
d = json.load(open(sys.argv[1]))["files"][0]
assert d["status"] == "ok", d
assert any(re.search(sys.argv[2], w) for w in d["warnings"]), d["warnings"]
assert any(f["id"] == "image-warning" and re.search(sys.argv[2], f["message"]) for f in d["findings"]), d["findings"]
print(sys.argv[3], "warns:", [w for w in d["warnings"] if re.search(sys.argv[2], w)][0])
PY
  rm -f "$T/o.exe"
  "$NXPATCH" apply --policy "$T/p.yaml" "$f" -o "$T/o.exe" >"$T/a.txt" 2>&1 ||
    fail "$n: apply exited $?: $(cat "$T/a.txt")"
  [ -s "$T/o.exe" ] || fail "$n: apply wrote nothing"
  "$NXPATCH" verify --policy "$T/p.yaml" "$T/o.exe" >"$T/v.txt" || fail "$n: verify: $(cat "$T/v.txt")"
  "$PYTHON" - "$f" "$T/o.exe" <<'PY' || fail "$n: pefile disagrees with the output"
import sys, pefile
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
pe = pefile.PE(data=b)
assert pe.verify_checksum(), "checksum"
assert pe.OPTIONAL_HEADER.DllCharacteristics & 0x8000
lo = pe.OPTIONAL_HEADER.get_file_offset()
fields = set(range(lo + 64, lo + 68)) | set(range(lo + 70, lo + 72))
diff = {i for i in range(len(a)) if a[i] != b[i]}
assert len(a) == len(b) and diff <= fields, sorted(diff)[:8]
PY
}

check "$CL/clam.exe" 'PointerToRawData 0x1 is not a multiple of 0x200; read from 0x0'
check "$CL/clam-mew.exe" 'import descriptor 1 .*the terminator, lies in the zero-filled part'
check "$CL/clam-upack.exe" 'certificate table entry .* ends past end of file; ignored'
check "$WL" 'base relocation directory \(rva 0x3a000, size 0x908\) lies in the zero-filled part of section \.ndata'

# Leniency does not reach what would make a write unsafe: the stale
# relocations count as none (so a plan setting dynamic_base is refused).
"$NXPATCH" scan --format json "$WL" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["files"][0]
assert d["relocations"]["present"] is False, d["relocations"]' ||
  fail "win32-loader: the stale relocation entry counts as relocations"
# clam-upack's garbage certificate entry: unsigned, so nothing to strip.
"$NXPATCH" scan --format json "$CL/clam-upack.exe" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["files"][0]
assert d["signature"]["present"] is False and d["signature"]["entries"] == 0, d["signature"]' ||
  fail "clam-upack: the garbage certificate entry is read as a signature"
echo "reader_leniency: all checks passed"

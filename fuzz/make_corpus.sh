#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerate the committed seed corpora under fuzz/corpus/<target>/.
#
#   fuzz/make_corpus.sh [BUILD_DIR [FUZZ_BUILD_DIR]]
#
# BUILD_DIR (default build/) supplies nxp_gen_images and the cross-compiled
# samples (BUILD_DIR/samples); FUZZ_BUILD_DIR (default build-fuzz/) the
# libFuzzer binaries. Seeds:
#   fuzz_pe, fuzz_roundtrip  generator variants, odd images, samples (< 256 KiB)
#   fuzz_certs               certificate tables (generated, and cut from signed
#                            samples when any has one)
#   fuzz_policy              rules/*.yaml, tests/data/policy/**/*.yaml
# With the libFuzzer binaries present, each corpus is minimised with
# -merge=1 (the current corpus plus the new seeds, keeping only inputs that add
# coverage), so the committed corpus stays small (< 2 MB in total).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
fbuild=${2:-$root/build-fuzz}
gen=$build/fuzz/nxp_gen_images
[ -x "$gen" ] || { echo "make_corpus: $gen not built (make -C $build nxp_gen_images)" >&2; exit 1; }

raw=$(mktemp -d "${TMPDIR:-/tmp}/nxp-corpus.XXXXXX")
trap 'rm -rf "$raw"' EXIT
targets=(fuzz_pe fuzz_certs fuzz_policy fuzz_roundtrip)
for t in "${targets[@]}"; do mkdir -p "$raw/$t" "$root/fuzz/corpus/$t"; done

"$gen" seeds "$raw/fuzz_pe"
"$gen" cert-seeds "$raw/fuzz_certs"
if [ -d "$build/samples" ]; then
  find "$build/samples" -maxdepth 1 -type f \( -name '*.exe' -o -name '*.dll' -o -name '*.efi' \) \
       -size -256k -exec cp {} "$raw/fuzz_pe/" \;
fi
# Signed seeds: a throw-away self-signed code-signing certificate (never
# committed) and nxpatch sign on two generated images.
if command -v openssl >/dev/null && [ -x "$build/nxpatch" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$raw/key.pem" -out "$raw/cert.pem" -days 30 \
    -subj "/CN=nxpatch fuzz seed" -addext "extendedKeyUsage=codeSigning" \
    -addext "keyUsage=critical,digitalSignature" >/dev/null 2>&1
  for s in gen_00 gen_01; do
    "$build/nxpatch" sign "$raw/fuzz_pe/$s.exe" -o "$raw/fuzz_pe/signed_$s.exe" \
      --cert "$raw/cert.pem" --key "$raw/key.pem" >/dev/null 2>&1 ||
      echo "make_corpus: signing $s failed (skipped)" >&2
  done
  rm -f "$raw/key.pem" "$raw/cert.pem"
fi
# Certificate tables of any signed seed (directory 4 is a file offset).
/usr/bin/python3 - "$raw/fuzz_pe" "$raw/fuzz_certs" <<'PY'
import os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    b = open(os.path.join(src, name), 'rb').read()
    try:
        e = struct.unpack_from('<I', b, 0x3c)[0]
        magic = struct.unpack_from('<H', b, e + 24)[0]
        d = e + 24 + (112 if magic == 0x20b else 96) + 32
        off, size = struct.unpack_from('<II', b, d)
    except struct.error:
        continue
    if off and size and off + size <= len(b) and size <= 65536:
        open(os.path.join(dst, 'table_' + name + '.bin'), 'wb').write(b[off:off + size])
PY
cp "$raw/fuzz_pe/"* "$raw/fuzz_roundtrip/"
for y in "$root"/rules/*.yaml; do [ -f "$y" ] && cp "$y" "$raw/fuzz_policy/rules_$(basename "$y")"; done
if [ -d "$root/tests/data/policy" ]; then
  find "$root/tests/data/policy" -type f \( -name '*.yaml' -o -name '*.yml' \) -size -16k |
    while read -r y; do cp "$y" "$raw/fuzz_policy/data_$(echo "${y#"$root"/tests/data/policy/}" | tr / _)"; done
fi

for t in "${targets[@]}"; do
  dest=$root/fuzz/corpus/$t
  if [ -x "$fbuild/fuzz/$t" ]; then
    merged=$raw/merged_$t
    mkdir -p "$merged"
    "$fbuild/fuzz/$t" -merge=1 -rss_limit_mb=2048 -timeout=10 "$merged" "$dest" "$raw/$t" \
      </dev/null >"$raw/merge_$t.log" 2>&1 ||
      { tail -20 "$raw/merge_$t.log" >&2; echo "make_corpus: merge failed for $t" >&2; exit 1; }
    find "$dest" -type f ! -name '.*' -delete
    cp "$merged"/* "$dest/" 2>/dev/null || true
  else
    echo "make_corpus: $t: no libFuzzer binary in $fbuild, copying seeds unminimised" >&2
    cp "$raw/$t/"* "$dest/" 2>/dev/null || true
  fi
  printf 'make_corpus: %-15s %4d files %6d KiB\n' "$t" "$(find "$dest" -type f ! -name '.*' | wc -l)" \
    "$(du -sk "$dest" | cut -f1)"
done

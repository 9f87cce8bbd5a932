# SPDX-License-Identifier: Apache-2.0
# Not a test: helpers for the batch tests, sourced after lib.sh.
# make_tree DIR COPIES: COPIES copies of every built sample and of the small
# mingw-w64 runtime DLLs (/usr/lib/gcc/*-w64-mingw32, /usr/*-w64-mingw32) in
# nested directories, plus files that are not PE images, a hard link, symbolic
# links to a file inside the tree, to a file outside it, and to a directory.
# Sets NPE (PE images processed once) and NSKIP (what -r skips).
make_tree() {
  local d=$1 copies=$2 n=0 f c
  sample hello64.exe >/dev/null
  local pes=()
  mapfile -t pes < <(ls "$NXP_SAMPLES_DIR"/*.exe "$NXP_SAMPLES_DIR"/*.dll 2>/dev/null;
                     find /usr/lib/gcc/*-w64-mingw32 /usr/*-w64-mingw32 -name '*.dll' -size -2M 2>/dev/null | sort)
  [ ${#pes[@]} -ge 10 ] || skip "fewer than 10 PE images to build a tree from"
  for c in $(seq 1 "$copies"); do
    for f in "${pes[@]}"; do
      n=$((n + 1))
      local sub="$d/c$c/d$((n % 3))/e$((n % 2))"
      mkdir -p "$sub"
      cp "$f" "$sub/$n-$(basename "$f")"
    done
  done
  NPE=$n
  echo "not an image" > "$d/c1/readme.txt"
  head -c 4096 /dev/urandom > "$d/c1/d0/random.bin"
  printf 'MZ' > "$d/c1/d1/short.exe"
  local first; first=$(find "$d/c1" -name '*.exe' | sort | head -1)
  ln "$first" "$d/c1/zz-hardlink.exe"
  ln -s "$first" "$d/c1/zz-inside-link.exe"
  ln -s "$NXP_SAMPLES_DIR/hello64.exe" "$d/c1/zz-outside-link.exe"
  ln -s ../c1 "$d/c1/zz-dirlink"
  NSKIP=7   # 3 not PE, 1 hard link, 3 symbolic links
}

# sums DIR: "sha256  path" of every regular file under DIR, sorted.
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

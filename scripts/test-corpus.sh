#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test-corpus.sh [DIR]: real PE images from Debian 12 packages, for the tests
# that measure nxpatch on binaries nobody here wrote. Prints DIR when done.
#
#   DIR          default: $NXP_TEST_CORPUS, else /var/cache/nxpatch/test-corpus
#                (as root) or ${XDG_CACHE_HOME:-~/.cache}/nxpatch/test-corpus.
#   The .debs are kept in DIR/.debs; a second run downloads nothing and only
#   re-extracts when the package list or a .deb changed (DIR/.stamp).
#
# Nothing is installed and no dpkg state changes: packages come from
# `apt-get download` with a private apt state per architecture (so i386 needs
# no multiarch set-up), and files come out of `dpkg-deb -x` (no maintainer
# scripts run). Only files that are PE images are kept, one directory per
# group:
#   wine64/ wine32/   Wine 8.0 PE DLLs and EXEs (amd64, i386)
#   mingw/            mingw-w64 runtime DLLs (x86-64, i686)
#   efi/              shim, fallback and efitools binaries (amd64, i386; signed and not)
#   dotnet/           Mono's core assemblies (.NET PE32)
#   clamav/           clamav-testfiles: packed, odd and legacy images
#   other/            win32-loader.exe
# DIR/MANIFEST.tsv lists each file with its package and version.
set -euo pipefail

if [ -n "${1:-}" ]; then OUT=$1
elif [ -n "${NXP_TEST_CORPUS:-}" ]; then OUT=$NXP_TEST_CORPUS
elif [ "$(id -u)" -eq 0 ]; then OUT=/var/cache/nxpatch/test-corpus
else OUT=${XDG_CACHE_HOME:-$HOME/.cache}/nxpatch/test-corpus
fi
case "$OUT" in ""|/) echo "test-corpus: refusing directory '$OUT'" >&2; exit 2 ;; esac

# group arch package...
PACKAGES="
wine64 amd64 libwine
wine32 i386 libwine
mingw amd64 gcc-mingw-w64-x86-64-win32-runtime gcc-mingw-w64-i686-win32-runtime libz-mingw-w64
efi amd64 shim-unsigned shim-helpers-amd64-signed efitools
efi i386 shim-unsigned shim-helpers-i386-signed efitools
dotnet amd64 libmono-corlib4.5-dll libmono-system4.0-cil
clamav amd64 clamav-testfiles
other amd64 win32-loader
"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
log() { echo "test-corpus: $*" >&2; }
die() { log "$*"; exit 1; }
for c in apt-get dpkg-deb flock /usr/bin/python3; do
  command -v "$c" >/dev/null || die "needs $c"
done
[ -r "$KEYRING" ] || die "needs $KEYRING (apt-get install debian-archive-keyring)"

mkdir -p "$OUT/.debs"
exec 9>"$OUT/.lock"
flock 9 # one run at a time per directory; a second run waits for the first

# The machine's own Debian mirrors (no host is named here).
mirror() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]+' | grep -E "$1" | head -n1 || true
}
MAIN=${NXP_DEBIAN_MIRROR:-$(mirror '/debian/?$')}
SEC=${NXP_DEBIAN_SECURITY_MIRROR:-$(mirror 'security')}
[ -n "$MAIN" ] || die "no Debian mirror in /etc/apt/sources.list*; set NXP_DEBIAN_MIRROR"

apt_opts() { # arch
  local d="$OUT/.apt/$1"
  printf '%s\n' -o "Dir::State=$d/state" -o "Dir::State::Lists=$d/lists" -o "Dir::State::status=$d/status" \
    -o "Dir::Cache=$d/cache" -o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/none" \
    -o "Dir::Etc::Preferences=$d/none" -o "Dir::Etc::PreferencesParts=$d/none" \
    -o "APT::Architecture=$1" -o "APT::Architectures::=$1" -o "Acquire::Languages=none" \
    -o "APT::Sandbox::User=root"
}
apt_ready() { # arch: private lists, refreshed once a day
  local a=$1 d="$OUT/.apt/$1"
  mkdir -p "$d/state" "$d/lists/partial" "$d/cache/archives/partial" "$d/none"
  [ -e "$d/status" ] || : >"$d/status"
  {
    echo "deb [signed-by=$KEYRING] $MAIN bookworm main"
    echo "deb [signed-by=$KEYRING] $MAIN bookworm-updates main"
    [ -z "$SEC" ] || echo "deb [signed-by=$KEYRING] $SEC bookworm-security main"
  } >"$d/sources.list"
  if [ ! -e "$d/lists/.updated" ] || [ -n "$(find "$d/lists/.updated" -mmin +1440)" ]; then
    local -a o
    mapfile -t o < <(apt_opts "$a")
    # One bad index (a mirror mid-sync) is not fatal: the others are used, and a
    # package that cannot be resolved fails below with its own message.
    apt-get "${o[@]}" -qq update >"$d/update.log" 2>&1 ||
      apt-get "${o[@]}" -qq update >"$d/update.log" 2>&1 ||
      log "apt-get update ($a) reported errors (see $d/update.log); going on"
    touch "$d/lists/.updated"
  fi
}

# Download what is missing; each wanted .deb is listed as "group<TAB>path".
want=$(mktemp)
trap 'rm -f "$want"' EXIT
while read -r group arch pkgs; do
  [ -n "$group" ] || continue
  apt_ready "$arch"
  mapfile -t o < <(apt_opts "$arch")
  # shellcheck disable=SC2086
  uris=$(apt-get "${o[@]}" download --print-uris $pkgs 2>"$OUT/.apt/$arch/uris.log") ||
    die "cannot resolve $pkgs ($arch); see $OUT/.apt/$arch/uris.log"
  while read -r _ file size hash; do
    [ -n "${file:-}" ] || continue
    f="$OUT/.debs/$file"
    if ! [ -s "$f" ] || [ "$(stat -c %s "$f")" != "$size" ]; then
      rm -f "$f"
      (cd "$OUT/.debs" && apt-get "${o[@]}" -qq download "${file%%_*}" >/dev/null 2>"$OUT/.apt/$arch/download.log") ||
        die "download of ${file%%_*} ($arch) failed; see $OUT/.apt/$arch/download.log"
      [ -s "$f" ] || die "download of ${file%%_*} ($arch) produced no $file"
      if [ "${hash%%:*}" = SHA256 ]; then
        echo "${hash#SHA256:}  $f" | sha256sum -c --status || { rm -f "$f"; die "$file: SHA-256 mismatch"; }
      fi
    fi
    printf '%s\t%s\n' "$group" "$f" >>"$want"
  done <<<"$(tr -d "'" <<<"$uris")"
done <<<"$PACKAGES"

# Extract only when the set of .debs changed.
stamp=$(sort "$want" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$OUT"
  exit 0
fi
log "extracting PE images into $OUT"
rm -f "$OUT/.stamp"
for g in wine64 wine32 mingw efi dotnet clamav other; do rm -rf "${OUT:?}/$g"; done
/usr/bin/python3 - "$OUT" "$want" <<'PY'
import os, struct, subprocess, sys, tarfile
out, listing = sys.argv[1], sys.argv[2]
def is_pe(data):
    if len(data) < 64 or data[:2] != b"MZ":
        return False
    off = struct.unpack_from("<I", data, 0x3C)[0]
    return 4 <= off <= len(data) - 4 and data[off:off + 4] == b"PE\0\0"
rows = []
for line in open(listing):
    group, deb = line.rstrip("\n").split("\t")
    pkg, ver, arch = os.path.basename(deb)[:-4].split("_")[:3]
    p = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=p.stdout, mode="r|") as tf:
        for m in tf:
            if not m.isreg() or m.size < 64:
                continue
            data = tf.extractfile(m).read()
            if not is_pe(data):
                continue
            name = m.name[2:] if m.name.startswith("./") else m.name
            rel = os.path.join(group, f"{pkg}_{arch}", name)
            dst = os.path.join(out, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "wb") as w:
                w.write(data)
            rows.append(f"{rel}\t{pkg}={ver.replace('%3a', ':')}\t{arch}\t{len(data)}")
    if p.wait():
        sys.exit(f"test-corpus: dpkg-deb failed on {deb}")
with open(os.path.join(out, "MANIFEST.tsv"), "w") as m:
    m.write("path\tpackage\tarch\tsize\n")
    m.write("\n".join(sorted(rows)) + "\n")
print(f"test-corpus: {len(rows)} PE images", file=sys.stderr)
PY
echo "$stamp" >"$OUT/.stamp"
echo "$OUT"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# evidence-table.sh [CORPUS_DIR...]: the precision/recall table of
# docs/evidence.md, measured, as markdown on stdout.
#
#   Recall:    every sample in build/samples/ and build/samples/evidence/
#              against what it holds (the section and kind of its code in
#              data, or none).
#   Precision: every PE file under each CORPUS_DIR, per top-level
#              directory: images analysed, images with code in data, and
#              each such image explained. Only the images known to start
#              in a non-executable section (clamav-testfiles' clam-aspack,
#              clam-pespin, clam-wwpack, clam-mew, clam.exe; the last two
#              are analysed since the reader became as lenient as the
#              loader) are explained; any other finding is a false alarm.
#
# CORPUS_DIR defaults to the Debian test corpus, built (or reused) by
# scripts/test-corpus.sh: it downloads wine (amd64, i386), mingw-w64
# runtimes, shim, efitools, Mono and clamav-testfiles with apt-get download
# and extracts their PE files with dpkg-deb -x, nothing installed. A larger
# one: /work/shared/tools/make-corpus.sh DIR, or any directory of PE files.
#
# Environment: NXPATCH (default build/nxpatch), NXP_SAMPLES (default
# build/samples), NXP_TABLE_NO_SAMPLES=1 to skip the samples.
# Exit status: 0 when every sample is found as expected and every corpus
# finding is explained; 1 otherwise (the table says which).
set -euo pipefail
cd "$(dirname "$0")/.."
NXPATCH=${NXPATCH:-build/nxpatch}
SAMPLES=${NXP_SAMPLES:-build/samples}
[ -x "$NXPATCH" ] || { echo "evidence-table: no $NXPATCH (build first: cmake -S . -B build && cmake --build build)" >&2; exit 2; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if [ $# -eq 0 ]; then
  set -- "$(bash scripts/test-corpus.sh)"
fi
for d in "$@"; do [ -d "$d" ] || { echo "evidence-table: $d: not a directory" >&2; exit 2; }; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in "$@"; do
  # One jsonl line per file; exit status 3 means some files were not analysed.
  rc=0
  "$NXPATCH" scan -r -q --format jsonl "$d" > "$tmp/corpus.$(basename "$d").jsonl" 2>/dev/null || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "evidence-table: scan of $d exited $rc" >&2; exit 2; }
  printf '%s\t%s\n' "$d" "$tmp/corpus.$(basename "$d").jsonl" >> "$tmp/corpora"
done
if [ -z "${NXP_TABLE_NO_SAMPLES:-}" ]; then
  [ -d "$SAMPLES/evidence" ] || { echo "evidence-table: no $SAMPLES/evidence (mingw-w64 needed)" >&2; exit 2; }
  mapfile -t samples < <(find "$SAMPLES" -maxdepth 2 -type f \( -name '*.exe' -o -name '*.dll' \) | sort)
  "$NXPATCH" scan --format jsonl "${samples[@]}" > "$tmp/samples.jsonl"
fi

"$PY" - "$tmp" <<'PY'
import json, os, sys
tmp = sys.argv[1]
bad = 0

def load(path):
    out = []
    for line in open(path, encoding="utf-8", errors="replace"):
        try:
            r = json.loads(line)
            if "path" in r:
                out.append(r)
        except ValueError:
            pass
    return out

# ---- recall: samples -----------------------------------------------------
# file name -> (section, kind) the code in data is in, or None: no code in data.
EXPECT = {
    "thunk_data64.exe": (".data", "call_target", "byte array called through a volatile pointer"),
    "thunk_section64.exe": (".thunk", "x64_thunk", "x64 thunk, imm64s relocated"),
    "thunk_section32.exe": (".thunk", "atl_thunk", "ATL thunk template, zero until filled at run time"),
    "thunkdll64.dll": (".thunk", "absolute_jump", "exported mov rax, imm64; jmp rax"),
    "trace_probe64.exe": (".data", "call_target", "thunk in .data called through a pointer (the trace tests' probe)"),
    "calldll64.exe": None, "hello64.exe": None, "nonx32.exe": None,
    "norelocs64.exe": None, "overlay64.exe": None,
    "overlay64.image": None,
}
EV = {
    "entry": (".ecode", "entry_point", "entry point in data"),
    "export": (".xcode", "export", "exported function in data"),
    "tls": (".tcode", "tls_callback", "TLS callback in data"),
    "call": (".ccode", "call_target", "call rel32 from .text"),
    "jump": (".jcode", "jump_target", "jmp rel32 from .text"),
    "absjmp": (".data", "absolute_jump", "jmp [slot] and push/ret or mov rax; jmp rax stubs"),
    "x64thunk": (".data", "x64_thunk", "mov rcx; mov rax; jmp rax"),
    "atl": (".data", "atl_thunk", "mov [esp+4], imm32; jmp rel32"),
    "fnptr": (".pcode", "call_target", "address loaded, kept in a stack slot, called through a register"),
    "slot": (".qcode", "call_target", "called through a global pointer slot the image relocates"),
    "stubjmp": (".scode", "call_target", "call rel32 into a stub ending in jmp reg"),
    "zerothunk": (".data", "x64_thunk|atl_thunk", "thunk template with zero immediates, filled at run time"),
}
if os.path.exists(os.path.join(tmp, "samples.jsonl")):
    print("### Samples (recall)\n")
    print("| sample | holds | expected | found | |")
    print("|---|---|---|---|---|")
    for r in sorted(load(os.path.join(tmp, "samples.jsonl")), key=lambda r: r["path"]):
        name = os.path.basename(r["path"])
        if name.startswith("ev_"):
            stem = name[3:].rsplit(".", 1)[0].rstrip("0123456789")
            exp = EV.get(stem)
        else:
            exp = EXPECT.get(name, "unknown")
        if exp == "unknown":
            # A sample this table does not know (another area's): none expected.
            exp = None
        if r.get("status") != "ok":
            print(f"| {name} | | | not analysed: {r.get('error')} | FAIL |")
            bad += 1
            continue
        ev = r["evidence"]
        found = sorted({f"{e['kind']} in {e['section']}" for e in ev})
        flagged = sorted({s["name"] for s in r["sections"] if s["code_in_data"]})
        if exp is None:
            ok = not r["code_in_data"]
            print(f"| {name} | no code in data | none | {', '.join(found) or 'none'} | {'ok' if ok else 'FAIL'} |")
        else:
            sec, kinds, what = exp
            ok = flagged == [sec] and any(e["section"] == sec and e["kind"] in kinds.split("|") for e in ev)
            print(f"| {name} | {what} | {kinds.replace('|', ' or ')} in {sec} | {', '.join(found) or 'none'} | {'ok' if ok else 'FAIL'} |")
        bad += not ok
    print()

# ---- precision: corpora ---------------------------------------------------
# Real code in data, by file name: these images start at an entry point in a
# section without IMAGE_SCN_MEM_EXECUTE (packers' stubs, ClamAV's test image);
# under DEP they fault at their first instruction.
REAL = {
    "clam-aspack.exe": ("entry_point", "ASPack stub: the entry point is in .aspack, which lacks execute"),
    "clam-pespin.exe": ("entry_point", "PESpin stub: the entry point is in a section without execute"),
    "clam-wwpack.exe": ("entry_point", "WWPack32 stub: the entry point is in .WWP32, which lacks execute"),
    "clam-mew.exe": ("entry_point", "MEW stub: both sections are RW (0xC00000E0), none executable"),
    "clam.exe": ("entry_point", "ClamAV's test image: its one section, [CLAMAV], is RW (0xC0000000), the entry point in it"),
}
for line in open(os.path.join(tmp, "corpora")):
    root, path = line.rstrip("\n").split("\t")
    recs = load(path)
    groups = {}
    for r in recs:
        rel = os.path.relpath(r["path"], root)
        g = rel.split(os.sep)[0] if os.sep in rel else "."
        groups.setdefault(g, []).append(r)
    print(f"### Corpus `{root}` (precision)\n")
    print("| directory | images | analysed | with code in data | explained | false alarms |")
    print("|---|---|---|---|---|---|")
    notes = []
    tot = [0, 0, 0, 0, 0]
    for g in sorted(groups):
        rs = groups[g]
        ok = [r for r in rs if r.get("status") == "ok"]
        flagged = [r for r in ok if r.get("code_in_data")]
        explained = 0
        for r in flagged:
            name = os.path.basename(r["path"])
            kinds = sorted({e["kind"] for e in r["evidence"]})
            where = ", ".join(f"{e['kind']} at {e['rva']:#x} in `{e['section']}`" for e in r["evidence"][:3])
            real = REAL.get(name)
            if real and kinds == [real[0]]:
                explained += 1
                notes.append(f"- `{g}/…/{name}`: {where}. Real: {real[1]}.")
            else:
                notes.append(f"- `{g}/…/{name}`: {where}. **False alarm** (not explained).")
        false = len(flagged) - explained
        bad += false
        row = [len(rs), len(ok), len(flagged), explained, false]
        tot = [a + b for a, b in zip(tot, row)]
        print(f"| {g} | " + " | ".join(str(x) for x in row) + " |")
    print("| **total** | " + " | ".join(f"**{x}**" for x in tot) + " |")
    print()
    if notes:
        print("\n".join(notes))
        print()
    missing = [n for n in REAL if not any(os.path.basename(r["path"]) == n and r.get("code_in_data")
                                             for r in recs)]
    present = [n for n in REAL if any(os.path.basename(r["path"]) == n and r.get("status") == "ok"
                                      for r in recs)]
    for n in missing:
        if n in present:
            print(f"- `{n}` is in the corpus but its code in data was **not found** (recall).")
            bad += 1
    if missing and present:
        print()
    notan = sum(1 for r in recs if r.get("status") != "ok")
    if notan:
        print(f"{notan} file(s) not analysed (the reader rejected them; they yield no finding either way).\n")
sys.exit(1 if bad else 0)
PY

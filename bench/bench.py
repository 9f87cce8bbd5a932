#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""nxpatch benchmarks: run by bench/run.sh (see docs/benchmarks.md).

Generates the inputs (a tree of small images, one large PE32+ image),
measures nxpatch against the floor (cp) and against its peers (a pefile
script, osslsigncode) with medians over repetitions, checks the targets of
issue 8, prints a table and writes bench/results/latest.json and
bench/results/latest.md.
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import random
import re
import shutil
import stat
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
PY = "/usr/bin/python3"  # Debian's, which has pefile
SMALL_MAX = 2 << 20      # "small" runtime DLLs: at most 2 MiB


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def out_of(cmd):
    try:
        return subprocess.run(cmd, check=False, capture_output=True, text=True).stdout
    except OSError:
        return ""


# ---------------------------------------------------------------- inputs

def small_pool(build):
    """The images the tree is made of: the built samples and Debian's mingw
    runtime DLLs up to SMALL_MAX, distinct by content, in a stable order."""
    cands = sorted(glob.glob(os.path.join(build, "samples", "*.exe")) +
                   glob.glob(os.path.join(build, "samples", "*.dll")))
    cands += sorted(glob.glob("/usr/lib/gcc/*-w64-mingw32/*/*.dll") +
                    glob.glob("/usr/lib/gcc/*-w64-mingw32/*/*/*.dll") +
                    glob.glob("/usr/*-w64-mingw32/lib/*.dll"))
    pool, seen = [], set()
    for p in cands:
        if os.path.getsize(p) > SMALL_MAX:
            continue
        with open(p, "rb") as f:
            data = f.read()
        if data[:2] != b"MZ":
            continue
        h = hashlib.sha256(data).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        pool.append(p)
    return pool


def make_tree(build, d, n):
    """n images in d/tree/gA/sB/NNNN-name: 10 x 10 directories, unique base
    names (so a flat --out-dir holds them all)."""
    pool = small_pool(build)
    if not pool:
        sys.exit("bench: no sample images; build the samples first (mingw-w64)")
    stamp = os.path.join(d, "tree.stamp")
    want = json.dumps({"n": n, "pool": pool})
    tree = os.path.join(d, "tree")
    listf = os.path.join(d, "tree.list")
    if os.path.exists(stamp) and open(stamp).read() == want:
        return tree, listf
    log(f"bench: generating {n} small images from {len(pool)} distinct sources")
    shutil.rmtree(tree, ignore_errors=True)
    paths = []
    for i in range(n):
        src = pool[i % len(pool)]
        sub = os.path.join(tree, f"g{i % 10}", f"s{(i // 10) % 10}")
        os.makedirs(sub, exist_ok=True)
        dst = os.path.join(sub, f"{i:04d}-{os.path.basename(src)}")
        shutil.copyfile(src, dst)
        paths.append(dst)
    with open(listf, "w") as f:
        f.write("".join(p + "\n" for p in paths))
    with open(stamp, "w") as f:
        f.write(want)
    return tree, listf


def make_big(d, mib):
    """A PE32+ image with mib MiB of pseudo-random bytes in .rdata
    (bench/big.c, .incbin), linked by x86_64-w64-mingw32-gcc."""
    big = os.path.join(d, f"big{mib}.exe")
    if os.path.exists(big):
        return big
    blob = os.path.join(d, "big.blob")
    log(f"bench: generating a {mib} MiB PE32+ image (mingw-w64, .incbin)")
    r = random.Random(8)
    with open(blob, "wb") as f:
        for _ in range(mib):
            f.write(r.randbytes(1 << 20))
    t0 = time.perf_counter()
    run(["x86_64-w64-mingw32-gcc", "-O1", "-s", "-Wl,--no-insert-timestamp",
         f'-DBLOB="{blob}"', "-o", big + ".tmp", os.path.join(BENCH, "big.c")])
    os.rename(big + ".tmp", big)
    os.unlink(blob)
    log(f"bench: linked in {time.perf_counter() - t0:.1f} s")
    return big


def pe_checksum(data_iter, length, csum_off):
    """The PE CheckSum of a file given as (offset, bytes) chunks at even
    offsets; bytes not given are zeros (a sparse tail adds nothing)."""
    s = 0
    for off, b in data_iter:
        if len(b) % 2:
            b += b"\0"
        for i in range(0, len(b), 2):
            if off + i == csum_off or off + i == csum_off + 2:
                continue
            s += b[i] | b[i + 1] << 8
            s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (s + length) & 0xFFFFFFFF


def csum_offset(head):
    pe = int.from_bytes(head[0x3C:0x40], "little")
    return pe + 24 + 64


def make_sparse(src, d, gib):
    """src with a sparse overlay of zeros up to gib GiB, its CheckSum valid
    again (zeros add nothing to the sum; the length changes it)."""
    out = os.path.join(d, f"sparse{gib}g.exe")
    if os.path.exists(out):
        return out
    data = open(src, "rb").read()
    size = gib << 30
    off = csum_offset(data)
    old = int.from_bytes(data[off:off + 4], "little")
    new = (old - len(data) + size) & 0xFFFFFFFF
    with open(out + ".tmp", "wb") as f:
        f.write(data[:off] + new.to_bytes(4, "little") + data[off + 4:])
        f.truncate(size)
    os.rename(out + ".tmp", out)
    return out


def make_badsum(src, d):
    """src with a CheckSum that is not valid (one bit off)."""
    out = os.path.join(d, os.path.basename(src).replace(".exe", "-badsum.exe"))
    if not os.path.exists(out):
        shutil.copyfile(src, out + ".tmp")
        with open(out + ".tmp", "r+b") as f:
            off = csum_offset(f.read(4096))
            f.seek(off)
            v = int.from_bytes(f.read(4), "little") ^ 0x100
            f.seek(off)
            f.write(v.to_bytes(4, "little"))
        os.rename(out + ".tmp", out)
    return out


def inplace_target(src, dst):
    """A working copy of src at dst for the in-place cases (sparse kept),
    and a prepare() that puts its first MiB (where the patch writes) back
    and removes the journal: the file is the original again, its pages warm."""
    if not os.path.exists(dst) or os.path.getsize(dst) != os.path.getsize(src):
        run(["cp", "--sparse=always", src, dst])
    with open(src, "rb") as f:
        head = f.read(1 << 20)
    journal = dst + ".journal"

    def prepare():
        with open(dst, "r+b") as f:
            if f.read(len(head)) != head:
                f.seek(0)
                f.write(head)
        if os.path.exists(journal):
            os.unlink(journal)
    return journal, prepare


def make_key(d):
    key, cert = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    if not (os.path.exists(key) and os.path.exists(cert)):
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=nxpatch bench (throw-away)", "-addext",
             "extendedKeyUsage=codeSigning", "-keyout", key, "-out", cert],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, cert


def build_csum_bench(build, d):
    exe = os.path.join(d, "csum_bench")
    run(["cc", "-std=c11", "-O2", "-Wall", "-Wextra", "-I", os.path.join(ROOT, "include"),
         os.path.join(BENCH, "csum_bench.c"), os.path.join(build, "libnxpatch.a"),
         "-lcrypto", "-o", exe])
    return exe


# ---------------------------------------------------------------- timing

class Case:
    def __init__(self, name, group, label, cmd, nbytes, nfiles, prepare=None,
                 floor=None, peers=(), ok=(0,)):
        self.name, self.group, self.label, self.cmd = name, group, label, cmd
        self.nbytes, self.nfiles, self.prepare = nbytes, nfiles, prepare
        self.floor, self.peers, self.ok = floor, list(peers), ok
        self.times, self.rss_kb, self.cpu = [], [], []


SLOW_S = 5.0  # a case whose warm-up run takes longer gets at most SLOW_REPS runs
SLOW_REPS = 3


def measure(case, reps, rssfile):
    """One discarded warm-up run, then reps timed runs (for a case whose
    first run takes over SLOW_S, that run counts and SLOW_REPS in all). Wall
    time around /usr/bin/time (which adds the same fork+exec to every case);
    CPU time is user+system of the process tree; peak RSS is /usr/bin/time's
    %M: the largest resident set of the process or any descendant it waited
    for (not their sum)."""
    i = 0
    while i <= reps:
        if case.prepare:
            case.prepare()
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", rssfile] + case.cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t = time.perf_counter() - t0
        if p.returncode not in case.ok:
            sys.exit(f"bench: {case.name}: exit {p.returncode}: {' '.join(case.cmd[:6])} ...\n"
                     + p.stderr.decode(errors="replace")[-2000:])
        rss, user, system = open(rssfile).read().split()[-3:]
        if i == 0 and t > SLOW_S:
            # Slow (the peers): the inputs are warm from earlier cases, so
            # this run counts; SLOW_REPS runs in all.
            reps, i = min(reps, SLOW_REPS), 1
        if i:
            case.times.append(t)
            case.rss_kb.append(int(rss))
            case.cpu.append(float(user) + float(system))
        i += 1
    return case


def fresh(path, mkdir=False):
    def f():
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)
        if mkdir:
            os.makedirs(path)
    return f


def median(xs):
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- machine

def machine(d):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    fs = out_of(["df", "--output=fstype", d]).split()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / (1 << 20), 1),
        "kernel": platform.release(),
        "filesystem": fs[-1] if fs else "unknown",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def versions(nx):
    v = {"nxpatch": out_of(["git", "-C", ROOT, "describe", "--always", "--dirty"]).strip()}
    v["osslsigncode"] = (out_of(["osslsigncode", "--version"]).splitlines() or ["?"])[0]
    v["pefile"] = out_of([PY, "-c", "import pefile; print(pefile.__version__)"]).strip()
    v["python"] = out_of([PY, "-c", "import sys; print(sys.version.split()[0])"]).strip()
    v["coreutils"] = (out_of(["cp", "--version"]).splitlines() or ["?"])[0]
    return v


def try_drop_caches():
    """Cold-cache runs need root outside a sandbox; report what happened."""
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- report

def fmt_s(s):
    return f"{s:.3f}" if s >= 0.1 else f"{s * 1000:.1f} ms"


def table(cases, by):
    rows = ["| case | median | min–max | CPU | MB/s | peak RSS | vs floor | vs peers |",
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for c in cases:
        m = median(c.times)
        mbps = c.nbytes / m / 1e6
        fl = f"{m / median(by[c.floor].times):.2f}x" if c.floor else ""
        peers = ", ".join(f"{m / median(by[p].times):.3g}x {by[p].label}" for p in c.peers)
        rows.append(f"| {c.label} | {fmt_s(m)} | {fmt_s(min(c.times))}–{fmt_s(max(c.times))} "
                    f"| {fmt_s(median(c.cpu))} | {mbps:,.0f} | {max(c.rss_kb) / 1024:,.0f} MiB | {fl} | {peers} |")
    return "\n".join(rows)


# ---------------------------------------------------------------- main

def batch_flags(nx):
    h = out_of([nx, "scan", "--help"]) + out_of([nx, "apply", "--help"])
    return {"jobs": bool(re.search(r"(^|[\s\[])-j\b", h)),
            "recursive": bool(re.search(r"(^|[\s\[])-r\b", h))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--dir", default="build-bench")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tree", type=int, default=1000, help="number of small images")
    ap.add_argument("--big-mib", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="3 reps, 200 images, 50 MiB")
    ap.add_argument("--only", help="run only cases whose name matches this regex")
    ap.add_argument("--json", default=os.path.join(BENCH, "results", "latest.json"))
    ap.add_argument("--corpus", default=os.environ.get("NXP_BENCH_CORPUS"),
                    help="a directory of real PE files (e.g. /work/shared/tools/make-corpus.sh "
                         "DIR) for scan/plan at -j 1 and -j 2; env NXP_BENCH_CORPUS")
    a = ap.parse_args()
    if a.quick:
        a.reps, a.tree, a.big_mib = 3, 200, 50
    build = os.path.abspath(a.build)
    d = os.path.abspath(a.dir)
    inp, out = os.path.join(d, "inputs"), os.path.join(d, "out")
    os.makedirs(inp, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    nx = os.path.join(build, "nxpatch")
    pol = os.path.join(BENCH, "policy.yaml")
    pfp = os.path.join(BENCH, "pefile_patch.py")

    tree, listf = make_tree(build, inp, a.tree)
    files = [line.rstrip("\n") for line in open(listf)]
    tree_bytes = sum(os.path.getsize(p) for p in files)
    big = make_big(inp, a.big_mib)
    big_bytes = os.path.getsize(big)
    key, cert = make_key(inp)
    csum = build_csum_bench(build, inp)
    bf = batch_flags(nx)
    rssfile = os.path.join(d, "rss.txt")

    o = lambda *p: os.path.join(out, *p)  # noqa: E731
    cases = []
    B, T = "big", "tree"
    mb = f"{big_bytes / 1e6:.0f} MB"
    # The big image: floor, nxpatch, pefile.
    cases += [
        Case("big.cp", B, f"cp ({mb})", ["cp", big, o("big-cp.exe")], big_bytes, 1,
             fresh(o("big-cp.exe"))),
        Case("big.cp_sync", B, "cp + sync FILE", ["sh", "-c", 'cp "$0" "$1" && sync "$1"',
             big, o("big-cps.exe")], big_bytes, 1, fresh(o("big-cps.exe"))),
        Case("big.apply_nocc", B, "nxpatch apply --no-cross-check",
             [nx, "apply", "--policy", pol, big, "-o", o("big-nx.exe"), "--no-cross-check"],
             big_bytes, 1, fresh(o("big-nx.exe")), floor="big.cp",
             peers=["big.cp_sync", "big.pefile"]),
        Case("big.apply", B, "nxpatch apply (LIEF cross-check)",
             [nx, "apply", "--policy", pol, big, "-o", o("big-nxcc.exe")],
             big_bytes, 1, fresh(o("big-nxcc.exe")), floor="big.cp",
             peers=["big.cp_sync", "big.pefile"]),
        Case("big.pefile", B, "pefile script", [PY, pfp, big, o("big-pefile.exe")],
             big_bytes, 1, fresh(o("big-pefile.exe")), floor="big.cp"),
        Case("big.scan", B, "nxpatch scan", [nx, "scan", big], big_bytes, 1),
        Case("big.sign_nx", B, "nxpatch sign (sha256)",
             [nx, "sign", big, "-o", o("big-signed-nx.exe"), "--cert", cert, "--key", key],
             big_bytes, 1, fresh(o("big-signed-nx.exe")), floor="big.cp",
             peers=["big.sign_osc"]),
        Case("big.sign_osc", B, "osslsigncode sign (sha256)",
             ["osslsigncode", "sign", "-certs", cert, "-key", key, "-h", "sha256",
              "-in", big, "-out", o("big-signed-osc.exe")],
             big_bytes, 1, fresh(o("big-signed-osc.exe")), floor="big.cp"),
    ]
    # In place (issue 17): --in-place=bytes writes only the planned bytes;
    # a 1 MB, the 210 MB and a 2 GiB image (the 1 MB one with a sparse
    # overlay), the 210 MB one also with an invalid stored CheckSum, with
    # the LIEF cross-check, and --in-place=rename for comparison. scan of
    # each is the read-and-judge part alone.
    I = "inplace"
    small = make_big(inp, 1)
    sparse = make_sparse(small, inp, 2)
    badsum = make_badsum(big, inp)
    ip = []
    for tag, src, what in (("1mb", small, "1 MB"), ("210mb", big, mb),
                           ("210mb-badsum", badsum, f"{mb}, checksum not valid"),
                           ("2gb", sparse, "2.1 GB sparse")):
        dst = o(f"ip-{tag}.exe")
        journal, prep = inplace_target(src, dst)
        ip.append(Case(f"inplace.bytes-{tag}", I, f"apply --in-place=bytes --no-cross-check ({what})",
                       [nx, "apply", "--policy", pol, "--in-place=bytes", "--journal", journal,
                        "--no-cross-check", dst], os.path.getsize(src), 1, prep,
                       floor="big.cp_sync" if tag.startswith("210mb") else None))
        # --trust-checksum: the stored CheckSum updated by the changed
        # bytes; with the plan's facts derived on demand nothing else is
        # read but the headers.
        ip.append(Case(f"inplace.trust-{tag}", I,
                       f"apply --in-place=bytes --trust-checksum --no-cross-check ({what})",
                       [nx, "apply", "--policy", pol, "--in-place=bytes", "--trust-checksum",
                        "--journal", journal, "--no-cross-check", dst], os.path.getsize(src), 1,
                       prep, floor="big.cp_sync" if tag.startswith("210mb") else None))
        ip.append(Case(f"inplace.scan-{tag}", I, f"nxpatch scan ({what})", [nx, "scan", dst],
                       os.path.getsize(src), 1, prep))
    dst = o("ip-210mb.exe")
    journal, prep = inplace_target(big, dst)
    ip.append(Case("inplace.bytes-210mb-cc", I, f"apply --in-place=bytes, LIEF cross-check ({mb})",
                   [nx, "apply", "--policy", pol, "--in-place=bytes", "--journal", journal, dst],
                   big_bytes, 1, prep, floor="big.cp_sync"))
    rdst = o("ip-rename.exe")

    def prep_rename():
        shutil.copyfile(big, rdst)
    ip.append(Case("inplace.rename-210mb", I, f"apply --in-place (rename) --no-cross-check ({mb})",
                   [nx, "apply", "--policy", pol, "--in-place", "--no-cross-check", rdst],
                   big_bytes, 1, prep_rename, floor="big.cp_sync"))
    cases += ip
    # The tree: floor, nxpatch apply/scan/plan, pefile. apply exits 1 when
    # the evidence refuses nx_compat for some samples (code in data).
    n = len(files)
    cases += [
        Case("tree.cp", T, f"cp -r ({n} files, {tree_bytes / 1e6:.0f} MB)",
             ["cp", "-r", tree, o("tree-cp")], tree_bytes, n, fresh(o("tree-cp"))),
        # The durable floor: every copy on disk, as apply leaves each output
        # (sync FILE... fsyncs each one).
        Case("tree.cp_sync", T, "cp -r + sync of every file",
             ["sh", "-c", 'cp -r "$0" "$1" && find "$1" -type f -exec sync {} +', tree,
              o("tree-cps")], tree_bytes, n, fresh(o("tree-cps"))),
    ]
    if bf["recursive"]:
        srcs = ["-r", tree]
    else:
        srcs = files
    apply_variants = [("", [])]
    if bf["jobs"]:
        apply_variants = [(" -j 1", ["-j", "1"]), (" -j 2", ["-j", "2"])]
    # -j 4 on 2 cores: while one worker waits for LIEF's answer (or for an
    # fsync), another reads, plans and writes the next file.
    extra = [(" -j 4", ["-j", "4"])] if bf["jobs"] else []
    for suffix, jopt in apply_variants + extra:
        tag = suffix.strip().replace(" ", "")
        cases += [
            Case(f"tree.apply_nocc{tag}", T, f"nxpatch apply --no-cross-check{suffix}",
                 [nx, "apply", "--policy", pol, "--out-dir", o("tree-nx"), "--no-cross-check"]
                 + jopt + srcs, tree_bytes, n, fresh(o("tree-nx"), mkdir=True),
                 floor="tree.cp", peers=["tree.pefile", "tree.pefile_fast"], ok=(0, 1)),
            Case(f"tree.apply{tag}", T, f"nxpatch apply (LIEF cross-check){suffix}",
                 [nx, "apply", "--policy", pol, "--out-dir", o("tree-nxcc")] + jopt + srcs,
                 tree_bytes, n, fresh(o("tree-nxcc"), mkdir=True),
                 floor="tree.cp", peers=["tree.pefile", "tree.pefile_fast"], ok=(0, 1)),
        ]
    cases += [
        Case("tree.pefile", T, "pefile script (one process)",
             [PY, pfp, "--list", listf, o("tree-pefile")], tree_bytes, n,
             fresh(o("tree-pefile"), mkdir=True), floor="tree.cp"),
        Case("tree.pefile_fast", T, "pefile script, fast_load=True",
             [PY, pfp, "--fast-load", "--list", listf, o("tree-pefile-fast")], tree_bytes, n,
             fresh(o("tree-pefile-fast"), mkdir=True), floor="tree.cp"),
    ]
    for sub in ("scan", "plan"):
        pp = ["--policy", pol] if sub == "plan" else []
        for suffix, jopt in apply_variants:
            tag = suffix.strip().replace(" ", "")
            # plan exits 0 whether or not changes are pending (no --check).
            cases.append(Case(f"tree.{sub}{tag}", T, f"nxpatch {sub}{suffix}",
                              [nx, sub] + pp + jopt + srcs, tree_bytes, n))

    # A corpus of real images (issue 17): scan, plan and verify at -j 1 and
    # -j 2, JSON reports (the format that once held every record in memory).
    corpus_n = corpus_bytes = 0
    if a.corpus and os.path.isdir(a.corpus):
        for root, _, fs in os.walk(a.corpus):
            for f in fs:
                st = os.lstat(os.path.join(root, f))
                if stat.S_ISREG(st.st_mode):
                    corpus_n += 1
                    corpus_bytes += st.st_size
        C = "corpus"
        for sub in ("scan", "plan", "verify"):
            pp = ["--policy", pol] if sub != "scan" else []
            for j in ("1", "2"):
                cases.append(Case(f"corpus.{sub}-j{j}", C,
                                  f"nxpatch {sub} -j {j} --format json ({corpus_n} files, "
                                  f"{corpus_bytes / 1e6:.0f} MB)",
                                  [nx, sub, "-r", "-q", "-j", j, "--format", "json"] + pp
                                  + [a.corpus], corpus_bytes, corpus_n, ok=(0, 1, 3)))
        # Peak RSS in every other format (streamed: it must not grow with
        # the number of images).
        for fmt in ("text", "jsonl", "sarif", "html"):
            cases.append(Case(f"corpus.plan-fmt-{fmt}", C,
                              f"nxpatch plan -j 2 --format {fmt} ({corpus_n} files)",
                              [nx, "plan", "-r", "-q", "-j", "2", "--format", fmt, "--policy", pol,
                               a.corpus], corpus_bytes, corpus_n, ok=(0, 1, 3)))
    else:
        log("bench: no corpus (--corpus DIR or NXP_BENCH_CORPUS): the corpus cases are skipped")

    if a.only:
        keep = re.compile(a.only)
        cases = [c for c in cases if keep.search(c.name)]
        names = {c.name for c in cases}
        for c in cases:  # compare only with what runs
            c.floor = c.floor if c.floor in names else None
            c.peers = [p for p in c.peers if p in names]

    dropped = try_drop_caches()
    load_before = os.getloadavg()
    log(f"bench: {len(cases)} cases x {a.reps} repetitions (+1 warm-up each), warm cache")
    for c in cases:
        t0 = time.perf_counter()
        measure(c, a.reps, rssfile)
        log(f"  {c.name:24s} median {median(c.times):8.4f} s  "
            f"peak RSS {max(c.rss_kb) / 1024:7.1f} MiB  ({time.perf_counter() - t0:.0f} s)")
    by = {c.name: c for c in cases}

    log("bench: checksum microbenchmark")
    micro = json.loads(out_of([csum, str(a.big_mib), str(max(a.reps, 5))]))

    # Same bytes? nxpatch's and pefile's outputs of the same patch.
    checks = {}
    if "big.apply_nocc" in by and "big.pefile" in by:
        checks["big_identical_to_pefile"] = (
            open(o("big-nx.exe"), "rb").read() == open(o("big-pefile.exe"), "rb").read())
    if os.path.isdir(o("tree-nx")) and os.path.isdir(o("tree-pefile")):
        same = refused = 0
        for p in files:
            b = os.path.basename(p)
            # -r mirrors the tree beneath --out-dir; the pefile script
            # writes flat.
            x = o("tree-nx", os.path.relpath(p, tree)) if bf["recursive"] else o("tree-nx", b)
            y = o("tree-pefile", b)
            if not os.path.exists(x):
                refused += 1    # nxpatch refused it (code in data); pefile patches blindly
            elif os.path.exists(y) and open(x, "rb").read() == open(y, "rb").read():
                same += 1
        checks["tree_identical_to_pefile"] = f"{same}/{n} ({refused} refused by nxpatch, not written)"

    def med(name):
        return median(by[name].times) if name in by else None

    targets = []

    def target(what, value, ok, note=""):
        targets.append({"target": what, "value": value, "met": ok, "note": note})

    if med("big.apply_nocc") and med("big.cp"):
        r = med("big.apply_nocc") / med("big.cp")
        rs = med("big.apply_nocc") / (med("big.cp_sync") or float("nan"))
        fs = (med("big.cp_sync") or float("nan")) - med("big.cp")
        target("apply (no cross-check) on the big image <= 1.5x cp", f"{r:.2f}x cp, "
               f"{rs:.2f}x cp+sync", r <= 1.5,
               f"apply fsyncs its output, cp does not; fsync of the copy costs {fs:.3f} s")
    if med("big.apply") and med("big.cp") and med("big.apply_nocc"):
        target("apply with the LIEF cross-check on the big image (report)",
               f"{med('big.apply') / med('big.cp'):.2f}x cp, "
               f"+{med('big.apply') - med('big.apply_nocc'):.2f} s for LIEF", None,
               f"peak RSS {max(by['big.apply'].rss_kb) / 1024:.0f} MiB (the LIEF child; "
               "its address space is limited to max(256 MiB, 8x file) <= 8 GiB)")
    for tag in ([""] if not bf["jobs"] else ["-j1", "-j2"]):
        for v in ("apply", "apply_nocc"):
            nm = f"tree.{v}{tag}"
            if med(nm) and med("tree.pefile") and med("tree.pefile_fast"):
                r = med("tree.pefile") / med(nm)
                target(f"tree: {by[nm].label} >= 20x faster than the pefile script",
                       f"{r:.1f}x (fast_load: {med('tree.pefile_fast') / med(nm):.1f}x)",
                       r >= 20)
    if med("tree.apply_nocc-j2") and med("tree.cp_sync"):
        target("tree: apply --no-cross-check -j 2 vs the durable floor (report)",
               f"{med('tree.apply_nocc-j2') / med('tree.cp_sync'):.2f}x cp -r + sync, "
               f"{med('tree.apply_nocc-j2') / med('tree.cp'):.2f}x cp -r", None)
    for j in ("1", "2", "4"):
        if med(f"tree.apply-j{j}") and med(f"tree.apply_nocc-j{j}"):
            target(f"tree: apply -j {j} with the LIEF cross-check vs --no-cross-check (report)",
                   f"{med(f'tree.apply-j{j}') / med(f'tree.apply_nocc-j{j}'):.2f}x", None)
    for sub in ("scan", "plan", "verify"):
        one, two = med(f"corpus.{sub}-j1"), med(f"corpus.{sub}-j2")
        if one and two:
            target(f"corpus: {sub} -j 2 wall <= 0.6x -j 1", f"{two / one:.2f}x "
                   f"({two:.2f} s vs {one:.2f} s)", two / one <= 0.6)
        for j in ("1", "2"):
            nm = f"corpus.{sub}-j{j}"
            if nm in by:
                mib = max(by[nm].rss_kb) / 1024
                target(f"corpus: {sub} -j {j} --format json peak RSS <= 64 MiB",
                       f"{mib:.0f} MiB", mib <= 64)
    for fmt in ("text", "jsonl", "sarif", "html"):
        nm = f"corpus.plan-fmt-{fmt}"
        if nm in by:
            mib = max(by[nm].rss_kb) / 1024
            target(f"corpus: plan -j 2 --format {fmt} peak RSS <= 64 MiB", f"{mib:.0f} MiB",
                   mib <= 64)
    def ms(nm):
        v = med(nm)
        return f"{v * 1000:.1f} ms" if v else "not run"
    if med("inplace.trust-210mb"):
        m = med("inplace.trust-210mb")
        target("apply --in-place=bytes --trust-checksum, 210 MB image, valid checksum <= 10 ms",
               f"{m * 1000:.1f} ms (without --trust-checksum, one read pass: "
               f"{ms('inplace.bytes-210mb')}; scan of it {ms('inplace.scan-210mb')}; "
               f"rename mode {ms('inplace.rename-210mb')}; cp + sync {ms('big.cp_sync')})",
               m <= 0.010, "process start, the journal's and the file's fsync")
    if med("inplace.bytes-210mb-badsum"):
        target("apply --in-place=bytes, 210 MB image, checksum not valid: one read pass (report)",
               f"{med('inplace.bytes-210mb-badsum') * 1000:.1f} ms", None)
    for kind in ("trust", "bytes"):
        if med(f"inplace.{kind}-1mb") and med(f"inplace.{kind}-2gb"):
            r = med(f"inplace.{kind}-2gb") / med(f"inplace.{kind}-1mb")
            what = "--trust-checksum" if kind == "trust" else "one read pass"
            target(f"apply --in-place=bytes ({what}): 2 GB within 2x of 1 MB"
                   + (" (report)" if kind == "bytes" else ""),
                   f"{r:.1f}x ({med(f'inplace.{kind}-2gb') * 1000:.0f} ms vs "
                   f"{med(f'inplace.{kind}-1mb') * 1000:.1f} ms)",
                   r <= 2.0 if kind == "trust" else None)
    if med("inplace.bytes-210mb-cc") and med("inplace.bytes-210mb"):
        target("apply --in-place=bytes with the LIEF cross-check (report)",
               f"{med('inplace.bytes-210mb-cc') * 1000:.0f} ms, "
               f"{med('inplace.bytes-210mb-cc') / med('inplace.bytes-210mb'):.1f}x --no-cross-check", None)
    if med("big.sign_nx") and med("big.sign_osc"):
        r = med("big.sign_nx") / med("big.sign_osc")
        target("nxpatch sign no slower than osslsigncode (big image)", f"{r:.2f}x", r <= 1.0)
    if micro:
        c, m = micro["nxp_pe_checksum"]["gb_per_s"], micro["memchr"]["gb_per_s"]
        target("checksum at memory bandwidth (>= 0.75x memchr's read rate)",
               f"{c:.1f} GB/s vs memchr {m:.1f} GB/s, memcpy {micro['memcpy']['gb_per_s']:.1f}"
               f" GB/s ({c / m:.2f}x memchr)", c / m >= 0.75,
               f"sha256 {micro['sha256']['gb_per_s']:.2f} GB/s")
    for nm in ("big.apply_nocc", "big.apply", "big.sign_nx", "big.sign_osc", "big.pefile"):
        if nm in by:
            r = max(by[nm].rss_kb) * 1024 / big_bytes
            target(f"peak RSS < 2x file size: {by[nm].label}", f"{r:.2f}x "
                   f"({max(by[nm].rss_kb) / 1024:.0f} MiB)",
                   r < 2.0 if nm in ("big.apply_nocc",) else None)

    mach = machine(d)
    mach["loadavg_before"] = [round(x, 2) for x in load_before]
    mach["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    res = {
        "machine": mach,
        "versions": versions(nx),
        "config": {"reps": a.reps, "tree_files": n, "tree_bytes": tree_bytes,
                   "big_bytes": big_bytes, "cache": "warm",
                   "drop_caches_writable": dropped, "batch_mode": bf,
                   "timing": "wall clock around /usr/bin/time; one warm-up run discarded"},
        "cases": {c.name: {"label": c.label, "group": c.group, "cmd": c.cmd[:3] + ["..."],
                           "bytes": c.nbytes, "files": c.nfiles,
                           "median_s": median(c.times), "min_s": min(c.times),
                           "max_s": max(c.times), "times_s": c.times,
                           "mb_per_s": c.nbytes / median(c.times) / 1e6,
                           "peak_rss_kib": max(c.rss_kb),
                           "cpu_s": median(c.cpu), "cpu_times_s": c.cpu,
                           "vs_floor": (median(c.times) / median(by[c.floor].times)
                                        if c.floor else None),
                           "vs_peers": {p: median(c.times) / median(by[p].times)
                                        for p in c.peers}}
                  for c in cases},
        "microbench": micro,
        "checks": checks,
        "targets": targets,
    }
    os.makedirs(os.path.dirname(a.json), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(res, f, indent=1)

    md = [f"Machine: {mach['nproc']} x {mach['cpu']}, {mach['ram_gib']} GiB RAM, Linux "
          f"{mach['kernel']}, {mach['filesystem']}; {mach['date']}; warm page cache; "
          f"median of {a.reps} runs after one warm-up ({SLOW_REPS} runs, no warm-up, for "
          f"cases over {SLOW_S:.0f} s). Load average before/after: {mach['loadavg_before'][0]}/"
          f"{mach['loadavg_after'][0]} (1 min). CPU = user+system time of the process tree.", ""]
    md.append(f"**Large image** ({big_bytes / 1e6:.0f} MB PE32+):\n")
    md.append(table([c for c in cases if c.group == B], by))
    md.append(f"\n**Tree** ({n} small images, {tree_bytes / 1e6:.0f} MB, 100 directories):\n")
    md.append(table([c for c in cases if c.group == T], by))
    if any(c.group == I for c in cases):
        md.append("\n**In place** (`--in-place=bytes` against `--in-place` and the floors):\n")
        md.append(table([c for c in cases if c.group == I], by))
    if any(c.group == "corpus" for c in cases):
        md.append(f"\n**Corpus** ({corpus_n} real PE files, {corpus_bytes / 1e6:.0f} MB, "
                  f"{a.corpus}):\n")
        md.append(table([c for c in cases if c.group == "corpus"], by))
    if micro:
        md.append("\n**Checksum microbenchmark** "
                  f"({micro['bytes'] / 1e6:.0f} MB warm buffer, GB/s): " +
                  ", ".join(f"{k} {v['gb_per_s']:.1f}" for k, v in micro.items()
                            if isinstance(v, dict)))
    md.append("\n**Targets:**\n")
    md.append("| target | value | met |\n|---|---|---|")
    for t in targets:
        met = {True: "yes", False: "**no**", None: "(report)"}[t["met"]]
        note = f" — {t['note']}" if t["note"] else ""
        md.append(f"| {t['target']} | {t['value']}{note} | {met} |")
    if checks:
        md.append("\nSame bytes as the pefile script: " +
                  ", ".join(f"{k} = {v}" for k, v in checks.items()))
    text = "\n".join(md) + "\n"
    with open(os.path.splitext(a.json)[0] + ".md", "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Key material stays where it belongs (issue 12 item 10):
# - a re-signing apply of two images, held inside the second image's
#   timestamp request (a slow TSA on 127.0.0.1) while the LIEF worker that
#   checked the first image is alive: the worker is nxpatch-lief-worker, its
#   environment and memory hold neither the passphrase nor the key, and
#   nxpatch's own environment no longer holds the passphrase (the variable
#   is overwritten and unset once read); nor does its memory;
# - a private key file readable by group or others gets a warning, a 0600
#   one none.
# The dumpable flag is checked in tests/unit/test_sign.c; timestamp URL
# credentials in sign_timestamp.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
require_cmd openssl
require_cmd osslsigncode
[ -x "$PYTHON" ] || skip "python3 not installed"
P=$T/pki
make_pki "$P"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

# --- the warning -----------------------------------------------------------
cp "$P/leaf.key" "$T/open.key"
chmod 0644 "$T/open.key"
"$NXPATCH" sign "$(sample hello64.exe)" -o "$T/w.exe" --cert "$P/leaf-chain.pem" \
  --key "$T/open.key" > /dev/null 2> "$T/w.err" || fail "sign: $(cat "$T/w.err")"
grep -qx "nxpatch: warning: key file $T/open.key is readable by group and others (mode 0644): chmod 600 it" \
  "$T/w.err" || fail "no warning for a 0644 key file: $(cat "$T/w.err")"
chmod 0640 "$T/open.key"
"$NXPATCH" sign "$(sample hello64.exe)" -o "$T/w2.exe" --cert "$P/leaf-chain.pem" \
  --key "$T/open.key" > /dev/null 2> "$T/w.err" || fail "sign: $(cat "$T/w.err")"
grep -q "key file $T/open.key is readable by its group (mode 0640)" "$T/w.err" ||
  fail "no warning for a 0640 key file: $(cat "$T/w.err")"
chmod 0600 "$T/open.key"
"$NXPATCH" sign "$(sample hello64.exe)" -o "$T/w3.exe" --cert "$P/leaf-chain.pem" \
  --key "$T/open.key" > /dev/null 2> "$T/w.err" || fail "sign: $(cat "$T/w.err")"
[ ! -s "$T/w.err" ] || fail "a 0600 key file got a message: $(cat "$T/w.err")"
echo "ok: key files readable by group/others are warned about, 0600 is not"

# --- a re-signing apply, inspected while it runs -----------------------------
rm -f "$T/port.slow"*
"$PYTHON" "$NXP_SOURCE_DIR/tests/e2e/tsa_server.py" "$P" "$T/port.slow" slow &
pids+=($!)
for _ in $(seq 100); do [ -s "$T/port.slow" ] && break; sleep 0.1; done
[ -s "$T/port.slow" ] || fail "TSA did not start"
PORT=$(cat "$T/port.slow")

cat > "$T/resign.yaml" <<'Y'
nxpatch: 1
settings: {signature: resign}
rules:
  - id: dep
    actions:
      - set: [nx_compat]
Y
mkdir "$T/in" "$T/out"
# Two signed images that need a change (resign applies to signed images).
for s in a.exe b.exe; do
  "$NXPATCH" sign "$(sample nonx32.exe)" -o "$T/in/$s" --cert "$P/leaf-chain.pem" \
    --key "$P/leaf.key" > /dev/null 2> "$T/sign.err" || fail "sign: $(cat "$T/sign.err")"
done

NXP_TEST_PASS="$PKI_PASS" "$NXPATCH" apply -j 1 --policy "$T/resign.yaml" --out-dir "$T/out" \
  --cert "$P/leaf-chain.pem" --key "$P/leaf-enc.key" --pass-env NXP_TEST_PASS \
  --timestamp-url "http://127.0.0.1:$PORT/tsa" "$T/in/a.exe" "$T/in/b.exe" \
  > "$T/apply.out" 2> "$T/apply.err" < /dev/null &
NX=$!
pids+=($NX)
for _ in $(seq 400); do [ -e "$T/port.slow.req2" ] && break; sleep 0.05; done
[ -e "$T/port.slow.req2" ] || fail "the second timestamp request never came: $(cat "$T/apply.err")"

# Inside the second request: one child, the worker.
# Key markers: a line of the encrypted key file's base64 body, unique to it.
KEYLINE=$(sed -n 3p "$P/leaf-enc.key")
# Under ASan the sanitizer runtime keeps its own copy of /proc/self/environ,
# read at startup before nxpatch could scrub anything: nxpatch's memory is
# then not scanned (its environment and the worker's memory still are).
"$PYTHON" - "$NX" "$PKI_PASS" "$(id -u)" "$KEYLINE" "${NXP_SANITIZE:-OFF}" <<'PY' ||
import os, sys
nx, secret, uid, keyline = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4].encode()
sanitized = sys.argv[5] in ("ON", "1", "TRUE", "true")
assert len(keyline) >= 40, keyline

def children(pid):
    out = []
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            st = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return out

def memory_holds(pid, needles):
    found = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if f[1][0] != "r" or hi - lo > 1 << 30 or line.rstrip().endswith(("[vvar]", "[vsyscall]")):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            for n in needles:
                if n in data:
                    found.add(n)
    return found

kids = children(nx)
assert len(kids) == 1, f"nxpatch {nx} has children {kids}, want the LIEF worker alone"
w = kids[0]
env = open(f"/proc/{w}/environ", "rb").read()
assert secret not in env and b"NXP_TEST_PASS" not in env, "the worker's environment holds the passphrase"
own = open(f"/proc/{nx}/environ", "rb").read()
assert secret not in own, "nxpatch's environment still holds the passphrase"
exe = os.readlink(f"/proc/{w}/exe")
assert exe.endswith("/nxpatch-lief-worker"), f"the worker runs {exe}"
print(f"ok: worker {w} ({exe}) has a clean environment; nxpatch's holds no passphrase")
if uid != 0:
    print("note: not root: the memory of the processes is not scanned")
    sys.exit(0)
marks = [secret, keyline]
hit = memory_holds(w, marks)
assert not hit, f"the LIEF worker's memory holds {hit}"
print("ok: the worker's memory holds neither the passphrase nor the key file")
hit = memory_holds(nx, [keyline] if sanitized else [secret, keyline])
assert not hit, f"nxpatch's memory still holds {hit}"
print("ok: nxpatch's memory holds neither" + (" the key file (ASan build)" if sanitized else ""))
PY
  fail "key material found (above)"
touch "$T/port.slow.release" # the TSA answers now: nxpatch was held until it was inspected

rc=0
wait "$NX" || rc=$?
[ "$rc" -eq 0 ] || fail "apply: exit $rc: $(cat "$T/apply.err")"
for s in a.exe b.exe; do
  osslsigncode verify -CAfile "$P/root.pem" -TSA-CAfile "$P/root.pem" -in "$T/out/$s" \
    > "$T/ossl.log" 2>&1 || { cat "$T/ossl.log" >&2; fail "$s: the re-signed image does not verify"; }
done
! grep -qF "$PKI_PASS" "$T/apply.out" "$T/apply.err" || fail "the passphrase was printed"
echo "ok: both images re-signed and timestamped"
echo PASS

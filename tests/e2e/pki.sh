# SPDX-License-Identifier: Apache-2.0
# A throw-away test PKI, made at run time with the openssl CLI. Source it
# after lib.sh, then call make_pki DIR. Nothing here is ever committed.
#
# DIR/root.pem root.key          self-signed root CA
# DIR/inter.pem inter.key        intermediate CA under the root
# DIR/leaf.pem leaf.key          code-signing leaf under the root (EKU codeSigning)
# DIR/leaf-chain.pem             leaf + root (what nxpatch sign --cert takes)
# DIR/leaf2.pem leaf2.key        code-signing leaf under the intermediate
# DIR/leaf2-chain.pem            leaf2 + intermediate + root
# DIR/leaf-enc.key               leaf.key encrypted with $PKI_PASS (AES-256)
# DIR/leaf.p12                   leaf + key + root, PKCS#12 with $PKI_PASS
# DIR/noeku.pem noeku.key        leaf without codeSigning (serverAuth only)
# DIR/other.key                  an unrelated key (wrong cert/key pair)
# DIR/tsa.pem tsa.key            time-stamping authority (EKU timeStamping, critical)
# DIR/other-root.pem             an unrelated root (untrusted anchors)

PKI_PASS='s3cret-Pa55-phrase'

make_pki() {
  local d=$1
  mkdir -p "$d"
  cat > "$d/ext.cnf" <<'CNF'
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[codesign]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
[tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  local q=""
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/root.key" -out "$d/root.pem" \
    -days 3650 -subj "/CN=nxpatch test root/O=nxpatch tests" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    $q 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/other-root.key" -out "$d/other-root.pem" \
    -days 3650 -subj "/CN=nxpatch unrelated root" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    $q 2>/dev/null
  # issue NAME CN CA_NAME SECTION
  issue() {
    openssl req -new -newkey rsa:2048 -nodes -keyout "$d/$1.key" -out "$d/$1.csr" \
      -subj "/CN=$2/O=nxpatch tests" $q 2>/dev/null
    openssl x509 -req -in "$d/$1.csr" -CA "$d/$3.pem" -CAkey "$d/$3.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 825 -extfile "$d/ext.cnf" -extensions "$4" -out "$d/$1.pem" 2>/dev/null
  }
  issue inter "nxpatch test intermediate" root ca
  issue leaf "nxpatch test signer" root codesign
  issue leaf2 "nxpatch test signer 2" inter codesign
  issue noeku "nxpatch test server" root server
  issue tsa "nxpatch test TSA" root tsa
  cat "$d/leaf.pem" "$d/root.pem" > "$d/leaf-chain.pem"
  cat "$d/leaf2.pem" "$d/inter.pem" "$d/root.pem" > "$d/leaf2-chain.pem"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/other.key" 2>/dev/null
  openssl pkey -in "$d/leaf.key" -aes256 -passout "pass:$PKI_PASS" -out "$d/leaf-enc.key"
  openssl pkcs12 -export -inkey "$d/leaf.key" -in "$d/leaf.pem" -certfile "$d/root.pem" \
    -passout "pass:$PKI_PASS" -out "$d/leaf.p12"
  printf '%s\n' "$PKI_PASS" > "$d/pass.txt"
  [ -s "$d/leaf.pem" ] && [ -s "$d/leaf2.pem" ] && [ -s "$d/tsa.pem" ] && [ -s "$d/leaf.p12" ] ||
    fail "could not make the test PKI"
}

# make_images DIR: small PE32+ and PE32 executables built with mingw-w64
# (hello64.exe, hello32.exe: unstripped, sizes not multiples of 8), a stripped
# one (stripped64.exe), plus odd-sized (odd64.exe) and overlay (overlay32.exe)
# variants.
make_images() {
  local d=$1
  mkdir -p "$d"
  cat > "$d/hello.c" <<'C'
#include <stdio.h>
static const char banner[] = "nxpatch signing test";
int main(void) { puts(banner); return 0; }
C
  x86_64-w64-mingw32-gcc -O1 -o "$d/hello64.exe" "$d/hello.c" || fail "x86_64 mingw build failed"
  i686-w64-mingw32-gcc -O1 -o "$d/hello32.exe" "$d/hello.c" || fail "i686 mingw build failed"
  # stripped: no COFF symbol table, the size a multiple of FileAlignment
  x86_64-w64-mingw32-strip -o "$d/stripped64.exe" "$d/hello64.exe" || fail "strip failed"
  # an odd size: 5 bytes of overlay that do not reach an 8-byte boundary
  cp "$d/hello64.exe" "$d/odd64.exe"
  printf 'ODD!!' >> "$d/odd64.exe"
  # an overlay: 4 KiB of data after the sections
  cp "$d/hello32.exe" "$d/overlay32.exe"
  head -c 4096 /dev/urandom >> "$d/overlay32.exe"
}

# petool CMD ARGS...: a small independent PE helper in Python (no pefile):
#   info FILE            key=value lines: checksum_off dllchar_off certdir_off
#                        cert_off cert_size text_off size checksum computed
#   checksum-ok FILE     exit 0 when the stored CheckSum equals the computed one
#   fix-checksum FILE    rewrite CheckSum in place
#   flip FILE OFF MASK   xor the byte at OFF with MASK, in place
#   add-entry IN DONOR OUT  append DONOR's first WIN_CERTIFICATE to IN's table
#   append-after-table IN OUT  add 16 bytes after the table (table no longer last)
#   set-entry FILE FIELD VALUE  patch the first entry's length|revision|type
#   cmp-except A B       B starts with A, except CheckSum and directory entry 4
#   digest FILE ALG      Authenticode digest (hashlib over the hashed ranges), hex
petool() {
  if [ ! -f "$T/petool.py" ]; then
    cat > "$T/petool.py" <<'PY'
import hashlib, struct, sys

def load(p):
    return bytearray(open(p, 'rb').read())

def layout(b):
    e = struct.unpack_from('<I', b, 0x3c)[0]
    magic = struct.unpack_from('<H', b, e + 24)[0]
    plus = 16 if magic == 0x20b else 0
    nsec = struct.unpack_from('<H', b, e + 6)[0]
    opt = struct.unpack_from('<H', b, e + 20)[0]
    st = e + 24 + opt
    text = 0
    for i in range(nsec):
        h = st + 40 * i
        size, off = struct.unpack_from('<II', b, h + 16)
        if size and not text:
            text = off
    cdir = e + 152 + plus
    coff, csize = struct.unpack_from('<II', b, cdir)
    return dict(checksum_off=e + 88, dllchar_off=e + 94, certdir_off=cdir,
                cert_off=coff, cert_size=csize, text_off=text, size=len(b))

def checksum(b, off):
    s = 0
    n = len(b)
    data = bytes(b) + (b'\0' if n % 2 else b'')
    for i in range(0, len(data), 2):
        if i == off or i == off + 2:
            continue
        s += data[i] | data[i + 1] << 8
        s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return (s + n) & 0xffffffff

def save(p, b):
    open(p, 'wb').write(b)

cmd = sys.argv[1]
b = load(sys.argv[2])
L = layout(b)
if cmd == 'info':
    for k, v in L.items():
        print('%s=%d' % (k, v))
    print('checksum=%d' % struct.unpack_from('<I', b, L['checksum_off'])[0])
    print('computed=%d' % checksum(b, L['checksum_off']))
elif cmd == 'checksum-ok':
    sys.exit(0 if struct.unpack_from('<I', b, L['checksum_off'])[0] == checksum(b, L['checksum_off']) else 1)
elif cmd == 'fix-checksum':
    struct.pack_into('<I', b, L['checksum_off'], checksum(b, L['checksum_off']))
    save(sys.argv[2], b)
elif cmd == 'flip':
    off = int(sys.argv[3], 0)
    b[off] ^= int(sys.argv[4], 0)
    save(sys.argv[2], b)
elif cmd == 'add-entry':
    d = load(sys.argv[3])
    D = layout(d)
    ln = struct.unpack_from('<I', d, D['cert_off'])[0]
    entry = bytes(d[D['cert_off']:D['cert_off'] + ln])
    entry += b'\0' * ((8 - len(entry) % 8) % 8)
    assert L['cert_off'] + L['cert_size'] == len(b)
    b += entry
    struct.pack_into('<I', b, L['certdir_off'] + 4, L['cert_size'] + len(entry))
    struct.pack_into('<I', b, L['checksum_off'], checksum(b, L['checksum_off']))
    save(sys.argv[3 + 1], b)
elif cmd == 'append-after-table':
    b += b'TRAILING-BYTES!!'
    save(sys.argv[3], b)
elif cmd == 'set-entry':
    field, value = sys.argv[3], int(sys.argv[4], 0)
    o = L['cert_off']
    if field == 'length':
        struct.pack_into('<I', b, o, value)
    elif field == 'revision':
        struct.pack_into('<H', b, o + 4, value)
    elif field == 'type':
        struct.pack_into('<H', b, o + 6, value)
    save(sys.argv[2], b)
elif cmd == 'cmp-except':
    # the first len(A) bytes of B equal A but for CheckSum and the directory entry
    o = load(sys.argv[3])
    skip = set(range(L['checksum_off'], L['checksum_off'] + 4)) | set(range(L['certdir_off'], L['certdir_off'] + 8))
    if len(o) < len(b):
        sys.exit('%s is shorter' % sys.argv[3])
    for i in range(len(b)):
        if b[i] != o[i] and i not in skip:
            sys.exit('first difference at 0x%x' % i)
elif cmd == 'digest':
    end = L['cert_off'] if L['cert_size'] else len(b)
    h = hashlib.new(sys.argv[3])
    h.update(b[:L['checksum_off']])
    h.update(b[L['checksum_off'] + 4:L['certdir_off']])
    h.update(b[L['certdir_off'] + 8:end])
    print(h.hexdigest())
else:
    sys.exit('unknown command ' + cmd)
PY
  fi
  "$PYTHON" "$T/petool.py" "$@"
}

# petool_get FILE KEY: one value of `petool info`.
petool_get() {
  petool info "$1" | sed -n "s/^$2=//p"
}

# sign_setup: the usual preamble of a sign_*.sh test: tools, PKI, images.
# Sets P (PKI dir) and I (image dir).
sign_setup() {
  require_cmd openssl
  require_cmd x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
  require_cmd i686-w64-mingw32-gcc gcc-mingw-w64-i686
  P=$T/pki
  I=$T/img
  make_pki "$P"
  make_images "$I"
}

# nxsign IN OUT [ARGS...]: sign with the test leaf (leaf + root embedded).
nxsign() {
  local in=$1 out=$2
  shift 2
  "$NXPATCH" sign "$in" -o "$out" --cert "$P/leaf-chain.pem" --key "$P/leaf.key" "$@" \
    > "$T/sign.out" 2> "$T/sign.err" || { cat "$T/sign.err" >&2; fail "nxpatch sign $in exited $?"; }
}

# ossl_verify FILE: osslsigncode verify against the test root; keeps the log.
ossl_verify() {
  osslsigncode verify -CAfile "$P/root.pem" -in "$1" > "$T/ossl.log" 2>&1
}
sb_verify() {
  sbverify --cert "$P/root.pem" "$1" > "$T/sb.log" 2>&1
}
nx_verify() {
  "$NXPATCH" sigcheck --trust "$P/root.pem" "$@" > "$T/nx.log" 2> "$T/nx.err"
}

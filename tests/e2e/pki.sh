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
# (hello64.exe, hello32.exe), plus odd-sized and overlay variants.
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
  # an odd size: 5 bytes of overlay that do not reach an 8-byte boundary
  cp "$d/hello64.exe" "$d/odd64.exe"
  printf 'ODD!!' >> "$d/odd64.exe"
  # an overlay: 4 KiB of data after the sections
  cp "$d/hello32.exe" "$d/overlay32.exe"
  head -c 4096 /dev/urandom >> "$d/overlay32.exe"
}

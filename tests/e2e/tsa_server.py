#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A test RFC 3161 time-stamping authority on 127.0.0.1.

usage: tsa_server.py DIR PORTFILE [MODE]
DIR holds tsa.pem, tsa.key, root.pem (from pki.sh). The chosen port is written
to PORTFILE. Each POST body is answered by `openssl ts -reply`. MODE "garbage"
answers with bytes that are not a TimeStampResp; "http500" with status 500;
"auth" answers 401 unless the request carries HTTP Basic credentials
tsauser / "p@ss w0rd"; "slow" creates PORTFILE.reqN when request N arrives; it holds
every request after the first until PORTFILE.release exists (the test creates
it once it has inspected the waiting client), or for 20 seconds at most (the
client's timeout is 30).
The server exits by itself after 120 seconds; the test kills it earlier.
"""
import base64
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time

d, portfile = sys.argv[1], sys.argv[2]
mode = sys.argv[3] if len(sys.argv) > 3 else 'ok'
work = tempfile.mkdtemp(prefix='nxp-tsa.')
cnf = os.path.join(work, 'tsa.cnf')
with open(os.path.join(work, 'serial'), 'w') as f:
    f.write('01\n')
with open(cnf, 'w') as f:
    f.write('''[tsa]
default_tsa = tsa_config
[tsa_config]
dir = %s
serial = $dir/serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha1, sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
ordering = no
tsa_name = no
ess_cert_id_chain = no
''' % work)


class Handler(http.server.BaseHTTPRequestHandler):
    seen = 0

    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(n)
        if mode == 'slow':
            Handler.seen += 1
            open('%s.req%d' % (portfile, Handler.seen), 'w').close()
            for _ in range(200 if Handler.seen > 1 else 0):
                if os.path.exists(portfile + '.release'):
                    break
                time.sleep(0.1)
        if mode == 'auth' and self.headers.get('Authorization') != \
                'Basic ' + base64.b64encode(b'tsauser:p@ss w0rd').decode():
            self.send_response(401)
            self.end_headers()
            return
        if mode == 'http500':
            self.send_response(500)
            self.end_headers()
            return
        if mode == 'garbage':
            out = b'this is not a timestamp reply'
        else:
            q = os.path.join(work, 'q.tsq')
            r = os.path.join(work, 'r.tsr')
            with open(q, 'wb') as f:
                f.write(body)
            subprocess.run(['openssl', 'ts', '-reply', '-config', cnf, '-queryfile', q,
                            '-signer', os.path.join(d, 'tsa.pem'),
                            '-inkey', os.path.join(d, 'tsa.key'),
                            '-chain', os.path.join(d, 'root.pem'), '-out', r],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(r, 'rb') as f:
                out = f.read()
        self.send_response(200)
        self.send_header('Content-Type', 'application/timestamp-reply')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(('127.0.0.1', 0), Handler)
with open(portfile + '.tmp', 'w') as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + '.tmp', portfile)
threading.Timer(120, lambda: os._exit(0)).start()
srv.serve_forever()

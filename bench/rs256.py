#!/usr/bin/env python3
"""bench/rs256.py: Firebase-shaped RS256 ID tokens for the benchmarks, as on Google.

  rs256.py keys DIR                 a throw-away RSA-2048 key and self-signed certificate in
                                    DIR (key.pem, cert.pem) and the key map DIR/keys.json
                                    ({"bench1": "<certificate PEM>"}), like Google's x509 endpoint
  rs256.py serve PORT FILE          serves FILE on 127.0.0.1:PORT with Cache-Control max-age=3600
                                    (FLUXORI_FIREBASE_KEYS_URL=http://127.0.0.1:PORT/certs);
                                    listen backlog SOMAXCONN, or BENCH_KEYS_BACKLOG
  rs256.py mint KEY UID [N] [CLAIMS_JSON]
                                    N tokens (default 1) for UID, one a line, signed with KEY;
                                    every token differs (a bench_n claim), so N > 1 gives N
                                    verified-token cache entries. CLAIMS_JSON adds claims, e.g.
                                    '{"organizationId":"...","role":"owner"}'.

The same shape as tests/integration/test_production_auth.c mints with its test key.
Needs the cryptography module (python3 -c 'import cryptography').
"""
import base64
import http.server
import json
import os
import socket
import subprocess
import sys
import time

PROJECT = os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-fluxori")
KID = "bench1"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def keys(d):
    os.makedirs(d, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/key.pem",
                    "-out", f"{d}/cert.pem", "-subj", "/CN=fluxori-bench", "-days", "2"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(f"{d}/cert.pem") as f:
        cert = f.read()
    with open(f"{d}/keys.json", "w") as f:
        json.dump({KID: cert}, f)


def serve(port, path):
    with open(path, "rb") as f:
        body = f.read()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=3600")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Server(http.server.ThreadingHTTPServer):
        # socketserver's default listen backlog is 5: a container's start has every worker
        # fetch the keys at once (one fetch per process), the connects past the accept queue
        # are dropped and their SYN resent 1 s later (TcpExtListenOverflows): one group's first
        # answer a second late. Google's endpoint has no such queue; nor does this one.
        # BENCH_KEYS_BACKLOG (bench/startup's before-and-after: 5 is the old default).
        request_queue_size = int(os.environ.get("BENCH_KEYS_BACKLOG") or socket.SOMAXCONN)

    Server(("127.0.0.1", int(port)), H).serve_forever()


def mint(keyfile, uid, n=1, extra=None):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    with open(keyfile, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    header = b64url(json.dumps({"alg": "RS256", "kid": KID, "typ": "JWT"}, separators=(",", ":")).encode())
    out = []
    for i in range(n):
        claims = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT, "sub": uid, "user_id": uid,
                  "auth_time": now, "iat": now, "exp": now + 3600, "email": f"{uid.lower()}@example.co.za",
                  "email_verified": False, "firebase": {"sign_in_provider": "password"}}
        claims.update(extra or {})
        if n > 1:
            claims["bench_n"] = i
        signing_input = header + "." + b64url(json.dumps(claims, separators=(",", ":")).encode())
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        out.append(signing_input + "." + b64url(sig))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["keys"] and len(a) == 2:
        keys(a[1])
    elif a[:1] == ["serve"] and len(a) == 3:
        serve(a[1], a[2])
    elif a[:1] == ["mint"] and 3 <= len(a) <= 5:
        mint(a[1], a[2], int(a[3]) if len(a) > 3 else 1, json.loads(a[4]) if len(a) > 4 else None)
    else:
        sys.exit(__doc__)

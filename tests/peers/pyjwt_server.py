"""A bearer-token resource server built on PyJWT, the conformance pack's real-library peer.

Started by tests/it/conformance.rs on 127.0.0.1:0; it prints `PORT <n>` on its first line of
stdout and serves until stdin closes. It verifies what a careful deployment of PyJWT
configures: the trusted certificate, `algorithms=["RS256"]`, the audience and the issuer, and
`exp`, `iat` and `nbf` required as the pack's profile says. Identity claims are read by their
exact names and must be non-empty strings. Whatever it then accepts or refuses is PyJWT's.

Usage: python3 pyjwt_server.py CERT_PEM AUDIENCE ISSUER
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography import x509

CERT, AUDIENCE, ISSUER = sys.argv[1], sys.argv[2], sys.argv[3]
with open(CERT, "rb") as f:
    PUBLIC_KEY = x509.load_pem_x509_certificate(f.read()).public_key()
PREFIX = "/jwt/"
USER_CLAIM, DIRECTORY_CLAIM = "UserId", "UserDirectory"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, challenge=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if not self.path.startswith(PREFIX):
            return self.reply(404, {"error": "not_found"})
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self.reply(401, {"error": "unauthorized"}, 'Bearer realm="pyjwt"')
        try:
            claims = jwt.decode(
                token.strip(),
                PUBLIC_KEY,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat"]},
            )
            for name in (USER_CLAIM, DIRECTORY_CLAIM):
                value = claims.get(name)
                if not isinstance(value, str) or not value.strip():
                    raise jwt.InvalidTokenError(f"claim {name} missing or empty")
        except Exception as e:  # every refusal, PyJWT's or ours, is invalid_token
            description = str(e).replace('"', "'")[:200]
            return self.reply(
                401,
                {"error": "invalid_token"},
                f'Bearer realm="pyjwt", error="invalid_token", error_description="{description}"',
            )
        self.reply(200, {"user": claims[USER_CLAIM], "directory": claims[DIRECTORY_CLAIM]})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    print(f"PYJWT {jwt.__version__}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # the test closes stdin (or dies) to stop the server
    server.shutdown()


if __name__ == "__main__":
    main()

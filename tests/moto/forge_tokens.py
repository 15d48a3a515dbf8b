"""Tokens an attacker might present, made from a real ID token's claims.

Reads the claims (JSON) on standard input and prints a JSON object of
named tokens, each wrong in one way: signed with the emulator's own private
key (the one that signs the pool's real tokens) but expired, of another
issuer, audience or token_use, or with a kid the pool does not publish; and
tokens that are not RS256 at all: `alg: none`, and HS256 keyed with the
pool's public key. The authorizer must refuse every one.
"""

import base64
import hashlib
import hmac
import json
import sys
import time

from joserfc import jwk, jwt
from moto.utilities.utils import load_resource


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict, claims: dict) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


def main() -> None:
    claims = json.load(sys.stdin)
    key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    now = int(time.time())

    def signed(changes: dict, kid: str = "dummy") -> str:
        return jwt.encode({"kid": kid, "alg": "RS256"}, {**claims, **changes}, key)

    public_pem = key.as_pem(private=False)
    hs_input = unsigned({"kid": "dummy", "alg": "HS256"}, claims)
    hs_signature = hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()
    tokens = {
        "expired": signed({"iat": now - 7200, "auth_time": now - 7200, "exp": now - 3600}),
        "another issuer": signed({"iss": claims["iss"] + "-other"}),
        "another audience": signed({"aud": "another-client"}),
        "an access token": signed({"token_use": "access"}),
        "an unknown kid": signed({}, kid="not-the-pools"),
        "alg none": unsigned({"kid": "dummy", "alg": "none"}, claims) + ".",
        "HS256 keyed with the public key": hs_input + "." + b64(hs_signature),
        "still valid (the control)": signed({}),
    }
    json.dump(tokens, sys.stdout)


if __name__ == "__main__":
    main()

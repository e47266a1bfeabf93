"""Signs a JWT for the example's HTTP API, as an identity provider would.

    python make_token.py [--scope "pets/read"] [--expires-in 3600] [--subject alice]

The first run makes the signing key (private-key.pem) and publishes its public half as jwks.json,
the file `lambdagate start-api --jwks https://auth.example.com=jwks.json` verifies tokens against.
Both stay in this directory (and out of version control): the key is for local use only.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = os.path.dirname(os.path.abspath(__file__))
ISSUER, AUDIENCE, KEY_ID = "https://auth.example.com", "lambdagate-example", "example-key-1"


def signing_key(key_path: str, jwks_path: str):
    """The example's RSA key, made (with its JWKS) on first use."""
    if os.path.exists(key_path) and os.path.exists(jwks_path):
        with open(key_path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid=KEY_ID, use="sig", alg="RS256")
    with open(jwks_path, "w") as f:
        json.dump({"keys": [public]}, f, indent=2)
    return key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scope", default="pets/read", help="space-separated scopes (default: pets/read)")
    parser.add_argument("--expires-in", type=int, default=3600, metavar="SECONDS", help="default: 3600")
    parser.add_argument("--subject", default="alice", help="the token's sub (default: alice)")
    parser.add_argument("--dir", default=HERE, help="where the key and jwks.json live (default: this directory)")
    args = parser.parse_args()
    key = signing_key(os.path.join(args.dir, "private-key.pem"), os.path.join(args.dir, "jwks.json"))
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": args.subject, "scope": args.scope,
              "iat": now, "nbf": now, "exp": now + args.expires_in}
    print(jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID}))


if __name__ == "__main__":
    main()

"""A throwaway identity provider for .ci/real_clients.sh: an ES256 key, its JWKS file, and tokens.

    python .ci/oauth_fixture.py DIR ISSUER AUDIENCE

writes DIR/jwks.json and DIR/token-{full,read,foreign}.txt: a token with the read and write scopes,
one with the read scope only, and one for another audience. Nothing here is a real secret.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm


def main() -> None:
    folder, issuer, audience = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "ci", "use": "sig", "alg": "ES256"}
    (folder / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    base = {"iss": issuer, "sub": "ci-agent", "team": "support-emea", "iat": now, "exp": now + 3600}
    tokens = {
        "full": {**base, "aud": audience, "scope": "escalations:read escalations:write"},
        "read": {**base, "aud": audience, "scope": "escalations:read"},
        "foreign": {**base, "aud": "https://elsewhere.example/mcp", "scope": "escalations:read"},
    }
    for name, claims in tokens.items():
        (folder / f"token-{name}.txt").write_text(jwt.encode(claims, key, algorithm="ES256", headers={"kid": "ci"}))


if __name__ == "__main__":
    main()

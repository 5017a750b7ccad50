"""The cryptographic suite of a deployment 密码套件: which algorithms sign records and queries and
seal results (``contracts.parties`` documents each format). One suite per deployment, chosen by
``YIDI_CRYPTO_SUITE`` (``runtime.config.Settings.crypto_suite``):

* ``ed25519`` (the default): Ed25519 signatures, results sealed with ECDH-ES to X25519 + A256GCM;
* ``sm``: the national algorithms (``runtime.sm``): SM2 signatures with SM3, results sealed with SM2
  encryption of a fresh SM4 key and SM4-GCM, keys as EC SM2 JWKs.

What a suite knows here is what key material looks like (JWKs, fixed test keys, the protected
header of a sealed result); signing, verifying and sealing themselves are ``runtime.parties``.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from runtime import sm

DEFAULT_SUITE = "ed25519"
SUITE_ENV = "YIDI_CRYPTO_SUITE"


def b64url(raw: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Suite:
    name: str
    deterministic_signatures: bool

    def signing_jwk_from_seed(self, seed: bytes) -> dict[str, Any]:
        """A private signing JWK made from 32 fixed bytes (test vectors only)."""
        key = Ed25519PrivateKey.from_private_bytes(seed)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "d": b64url(seed),
            "x": b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
        }

    def encryption_jwk_from_seed(self, seed: bytes) -> dict[str, Any]:
        key = X25519PrivateKey.from_private_bytes(seed)
        return {
            "kty": "OKP",
            "crv": "X25519",
            "d": b64url(seed),
            "x": b64url(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
        }

    def public_jwk(self, private: dict[str, Any]) -> dict[str, str]:
        return {k: str(private[k]) for k in ("kty", "crv", "x", "y") if k in private}


class SMSuite(Suite):
    """SM2 keys for both uses (one key pair signs, another decrypts)."""

    def signing_jwk_from_seed(self, seed: bytes) -> dict[str, Any]:
        return sm.SM2PrivateKey.from_seed(seed).jwk()

    def encryption_jwk_from_seed(self, seed: bytes) -> dict[str, Any]:
        return sm.SM2PrivateKey.from_seed(seed).jwk()


SUITES: dict[str, Suite] = {
    DEFAULT_SUITE: Suite(DEFAULT_SUITE, deterministic_signatures=True),
    "sm": SMSuite("sm", deterministic_signatures=False),
}


def suite_named(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise ValueError(f"unknown crypto suite {name!r}: one of {sorted(SUITES)}") from None


def active_suite() -> Suite:
    """This process's suite (``YIDI_CRYPTO_SUITE``, default ed25519)."""
    return suite_named(os.environ.get(SUITE_ENV, "").strip() or DEFAULT_SUITE)

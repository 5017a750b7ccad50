"""The national algorithms 国密算法 SM2 / SM3 / SM4 of the ``sm`` crypto suite (``runtime.suites``):
SM2 signatures with SM3 (SM3withSM2, GB/T 32918.2, user id GM/T 0009's default ``1234567812345678``),
SM2 public-key encryption (GB/T 32918.4, ciphertext C1‖C3‖C2) of a fresh SM4 key, SM4 in GCM mode
for the content. ``contracts.parties`` documents the formats.

SM3 and SM4-GCM come from ``cryptography`` (OpenSSL). SM2 comes from ``gmalg`` (pure Python, MIT):
``cryptography`` has no SM2; of the SM2 libraries on PyPI, gmalg takes the user id explicitly (the Z
value is computed with the id we give, never a hidden default), draws the signature's and the
encryption's random k from ``secrets`` (a CSPRNG), checks r and s are in [1, n-1] when verifying, has
a public-key validation (on the curve, not infinity, n·P = O) that we apply to every registry key
and every C1, and returns r and s as integers we encode ourselves. ``gmssl`` leaves k to the caller
and validates no point; ``tongsuopy`` exposes neither the user id nor SM2 encryption. gmalg is slow
(~30 ms a signature, ~60 ms a verification): fine for the rates a deployment of this suite runs at,
and the verified keys are cached per registry entry. ``tests/unit/test_sm_suite.py`` checks it against
another implementation: OpenSSL 3 verifies these signatures (and refuses them under another user id)
and opens these ciphertexts.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

import gmalg
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SIGN_ALG = "SM2SM3"  # JWS alg: SM2 signature over SM3(Z ‖ message), r ‖ s (32 bytes each)
KEY_ALG = "SM2ENC"  # JWE alg: the content key encrypted with SM2 to the recipient (C1 ‖ C3 ‖ C2)
CONTENT = "SM4-GCM"  # JWE enc: SM4 in GCM, 128-bit key, 96-bit IV, 128-bit tag
USER_ID = b"1234567812345678"  # GM/T 0009 §10 default user id, in Z of every signature
CURVE = "SM2"
_COORD = 32
_N = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)  # the curve's order


class SMError(ValueError):
    """A key, signature or sealed value of the SM suite that is malformed or does not check."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: Any, what: str) -> bytes:
    if not isinstance(text, str) or not text or "=" in text:
        raise SMError(f"{what} is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise SMError(f"{what} is not base64url") from None
    if _b64url(raw) != text:
        raise SMError(f"{what} is not canonical base64url")
    return raw


@dataclass(frozen=True)
class SM2PublicKey:
    """A validated SM2 public key: the uncompressed point 04 ‖ x ‖ y."""

    point: bytes

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> SM2PublicKey:
        """``{"kty": "EC", "crv": "SM2", "x", "y"}`` (32 bytes each), checked to be a point of the
        curve's group: an invalid point would let a forger or an eavesdropper choose the key."""
        if jwk.get("kty") != "EC" or jwk.get("crv") != CURVE:
            raise SMError(f"not an EC {CURVE} key ({jwk.get('kty')} {jwk.get('crv')})")
        x, y = _unb64url(jwk.get("x"), "x"), _unb64url(jwk.get("y"), "y")
        if len(x) != _COORD or len(y) != _COORD:
            raise SMError("x and y must be 32 bytes each")
        return cls.from_point(b"\x04" + x + y)

    @classmethod
    def from_point(cls, point: bytes) -> SM2PublicKey:
        if len(point) != 1 + 2 * _COORD or point[0] != 4 or not gmalg.SM2().verify_pk(point):
            raise SMError("not a valid SM2 public point")
        return cls(point)

    def jwk(self) -> dict[str, str]:
        return {"kty": "EC", "crv": CURVE, "x": _b64url(self.point[1:33]), "y": _b64url(self.point[33:])}

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raises ``InvalidSignature`` unless ``signature`` (r ‖ s) is this key's over ``data``."""
        if len(signature) != 2 * _COORD:
            raise InvalidSignature()
        ok = gmalg.SM2(pk=self.point, uid=USER_ID).verify(data, signature[:_COORD], signature[_COORD:])
        if not ok:
            raise InvalidSignature()

    def encrypt(self, plaintext: bytes) -> bytes:
        return gmalg.SM2(pk=self.point).encrypt(plaintext)


@dataclass(frozen=True)
class SM2PrivateKey:
    d: bytes
    public: SM2PublicKey

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        d, point = gmalg.SM2().generate_keypair()
        return cls(d.rjust(_COORD, b"\x00"), SM2PublicKey.from_point(point))

    @classmethod
    def from_seed(cls, seed: bytes) -> SM2PrivateKey:
        """A fixed key from 32 bytes (test vectors only): d = seed mod (n − 2) + 1, in [1, n − 2]."""
        d = (int.from_bytes(seed, "big") % (_N - 2) + 1).to_bytes(_COORD, "big")
        return cls(d, SM2PublicKey.from_point(gmalg.SM2().generate_pk(d)))

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> SM2PrivateKey:
        public = SM2PublicKey.from_jwk(jwk)
        d = _unb64url(jwk.get("d"), "d")
        if len(d) != _COORD or not 1 <= int.from_bytes(d, "big") <= _N - 2:
            raise SMError("d must be 32 bytes in [1, n-2]")
        if gmalg.SM2().generate_pk(d) != public.point:
            raise SMError("d does not match x, y")
        return cls(d, public)

    def jwk(self) -> dict[str, str]:
        return {**self.public.jwk(), "d": _b64url(self.d)}

    def sign(self, data: bytes) -> bytes:
        """SM3withSM2 over ``data`` with the default user id: r ‖ s, 32 bytes each, big-endian."""
        r, s = gmalg.SM2(sk=self.d, pk=self.public.point, uid=USER_ID).sign(data)
        return r.rjust(_COORD, b"\x00") + s.rjust(_COORD, b"\x00")

    def decrypt(self, ciphertext: bytes) -> bytes:
        return gmalg.SM2(sk=self.d, pk=self.public.point).decrypt(ciphertext)


def is_sm2_jwk(jwk: dict[str, Any]) -> bool:
    return jwk.get("kty") == "EC" and jwk.get("crv") == CURVE


# ---------------------------------------------------------------- sealing (compact, JWE-shaped)
def seal(header: dict[str, str], key: SM2PublicKey, plaintext: bytes) -> str:
    """``<protected>.<encrypted key>.<iv>.<ciphertext>.<tag>`` like a compact JWE: a fresh SM4 key
    encrypted with SM2 to ``key``, the plaintext under SM4-GCM with the protected segment's ASCII
    as associated data (a header changed in transit does not open)."""
    members = {"alg": KEY_ALG, "enc": CONTENT, **{k: v for k, v in header.items() if k not in ("alg", "enc")}}
    protected = _b64url(json.dumps(members, separators=(",", ":")).encode())
    cek, iv = os.urandom(16), os.urandom(12)
    encryptor = Cipher(algorithms.SM4(cek), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(protected.encode("ascii"))
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ".".join([protected, _b64url(key.encrypt(cek)), _b64url(iv), _b64url(ciphertext), _b64url(encryptor.tag)])


def open_sealed(key: SM2PrivateKey, token: str) -> tuple[dict[str, Any], bytes]:
    """(protected header, plaintext) of a value ``seal`` made to ``key``'s public key; ``SMError``
    for anything that is not exactly that (another alg or enc, ``zip``, a changed byte)."""
    parts = token.split(".")
    if len(parts) != 5:
        raise SMError("a sealed value has five segments")
    header = json.loads(_unb64url(parts[0], "protected header"))
    if not isinstance(header, dict) or header.get("alg") != KEY_ALG or header.get("enc") != CONTENT or "zip" in header:
        raise SMError(f"a sealed value is {KEY_ALG} with {CONTENT}, no zip")
    return header, _open_parts(key, token)


def seal_general(protected: dict[str, str], recipients: list[tuple[str, SM2PublicKey]], plaintext: bytes) -> dict:
    """The General JSON form (RFC 7516 §7.2.1's shape) for several readers, as ``runtime.wire`` seals a
    payload: one SM4 key, encrypted with SM2 to each reader (``header`` ``{"alg": "SM2ENC", "kid"}``);
    the protected header (``enc`` SM4-GCM and what the caller adds) is the associated data."""
    segment = _b64url(json.dumps({"enc": CONTENT, **protected}, separators=(",", ":")).encode())
    cek, iv = os.urandom(16), os.urandom(12)
    encryptor = Cipher(algorithms.SM4(cek), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(segment.encode("ascii"))
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return {
        "protected": segment,
        "recipients": [
            {"header": {"alg": KEY_ALG, "kid": kid}, "encrypted_key": _b64url(key.encrypt(cek))}
            for kid, key in recipients
        ],
        "iv": _b64url(iv),
        "ciphertext": _b64url(ciphertext),
        "tag": _b64url(encryptor.tag),
    }


def open_general(sealed: dict[str, Any], kid: str, key: SM2PrivateKey) -> tuple[dict[str, Any], bytes]:
    """(protected header, plaintext) of ``seal_general``'s value, opened as reader ``kid``."""
    mine = [
        r
        for r in sealed.get("recipients", [])
        if isinstance(r, dict) and isinstance(r.get("header"), dict) and r["header"].get("kid") == kid
    ]
    if not mine or mine[0]["header"].get("alg") != KEY_ALG:
        raise SMError(f"not sealed with {KEY_ALG} to {kid}")
    segment = sealed.get("protected")
    token = ".".join(
        [
            str(segment),
            str(mine[0].get("encrypted_key")),
            str(sealed.get("iv")),
            str(sealed.get("ciphertext")),
            str(sealed.get("tag")),
        ]
    )
    header = json.loads(_unb64url(segment, "protected header"))
    if not isinstance(header, dict) or header.get("enc") != CONTENT or "zip" in header or "alg" in header:
        raise SMError(f"a sealed payload is {CONTENT}, no zip")
    return header, _open_parts(key, token)


def _open_parts(key: SM2PrivateKey, token: str) -> bytes:
    parts = token.split(".")
    encrypted_key, iv = _unb64url(parts[1], "encrypted key"), _unb64url(parts[2], "iv")
    ciphertext = _unb64url(parts[3], "ciphertext") if parts[3] else b""
    tag = _unb64url(parts[4], "tag")
    if len(iv) != 12 or len(tag) != 16:
        raise SMError("iv is 12 bytes, tag 16")
    try:
        cek = key.decrypt(encrypted_key)
    except Exception:  # gmalg's errors: a point off the curve, a wrong C3, a truncated value
        raise SMError("the content key does not open with this key") from None
    if len(cek) != 16:
        raise SMError("the content key is not 16 bytes")
    decryptor = Cipher(algorithms.SM4(cek), modes.GCM(iv, tag)).decryptor()
    decryptor.authenticate_additional_data(parts[0].encode("ascii"))
    try:
        return decryptor.update(ciphertext) + decryptor.finalize()
    except InvalidTag:
        raise SMError("the sealed value was altered") from None

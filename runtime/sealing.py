"""Sealing personal data at rest: application-level AES-256-GCM (003 §5 (三) data security).

What the database stores of a personal aggregate's state, and of every pending message
(outbox entries, deadlines), is ``{"kid": "<region>:<version>", "nonce": b64, "ct": b64}``:
the ciphertext of its JSON under the *data key* of one insured region, with the key's id beside
it. Each region's data key is derived from a master secret, HKDF-SHA256(master,
info=b"yidi-data-key:" + region), so a leaked data key exposes one region only and no key per
region has to be distributed. The kid is the associated data: a ciphertext moved under another
kid, or altered, does not open.

Master secrets come by version from ``<keys_dir>/data-keys.json``::

    {"current": "v1", "keys": {"v1": "<base64 of 32 random bytes>"}}

or from ``YIDI_DATA_KEY_SECRET`` (that JSON, or one base64 master secret taken as ``v1``). With
neither, a development secret derived from a fixed string is used, with one WARNING.

Rotation: add a version (``"v2": "<new base64 32 bytes>"``), set ``"current": "v2"`` and
restart the services (the keyring is read once per process). New writes seal with v2;
documents sealed with v1 stay readable and are sealed again with v2 on their next write. To
retire v1, rewrite what still carries it (the kid is queryable: ``{"state.kid": {"$regex":
":v1$"}}``), then remove v1 from the file. Never change the bytes of an existing version: what
it sealed would no longer open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from runtime.privacy import DATA_KEYS_FILE, keys_dir

log = logging.getLogger(__name__)

SHARED_SCOPE = "000000"  # data not tied to one insured region (e.g. a deadline about no one's region)
_INFO = b"yidi-data-key:"
_SEALED_KEYS = frozenset({"kid", "nonce", "ct"})
_DEV_SEED = b"yidi development data-key master: not for production"


class SealError(ValueError):
    """A sealed value that cannot be opened: unknown key version, or altered data."""


def is_sealed(value: Any) -> bool:
    """Sealed values are dicts of exactly kid, nonce and ct (no domain state has that shape)."""
    return isinstance(value, dict) and value.keys() == _SEALED_KEYS


class DataKeyring:
    """Master secrets by version, and the data keys derived from them per region."""

    def __init__(self, masters: dict[str, bytes], current: str) -> None:
        if current not in masters:
            raise ValueError(f"current data-key version {current!r} is not among {sorted(masters)}")
        if any(":" in version for version in masters):
            raise ValueError("a data-key version must not contain ':' (it ends the kid)")
        self.masters, self.current = dict(masters), current
        self._keys: dict[tuple[str, str], AESGCM] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ loading
    @classmethod
    def from_json(cls, text: str) -> DataKeyring:
        data = json.loads(text)
        masters = {version: _b64_secret(value, f"data key {version}") for version, value in data["keys"].items()}
        return cls(masters, data["current"])

    @classmethod
    def from_secret(cls, secret: str) -> DataKeyring:
        """One master secret (base64, or any text) as version v1."""
        try:
            master = _b64_secret(secret, "YIDI_DATA_KEY_SECRET")
        except ValueError:
            master = secret.encode()
        return cls({"v1": master}, "v1")

    @classmethod
    def development(cls) -> DataKeyring:
        return cls({"v1": hashlib.sha256(_DEV_SEED).digest()}, "v1")

    @classmethod
    def generate(cls) -> DataKeyring:
        return cls({"v1": secrets.token_bytes(32)}, "v1")

    @classmethod
    def load(cls) -> DataKeyring:
        """This process's keyring: the environment, else the keys directory, else development."""
        from_env = os.environ.get("YIDI_DATA_KEY_SECRET", "").strip()
        if from_env:
            return cls.from_json(from_env) if from_env.startswith("{") else cls.from_secret(from_env)
        path = keys_dir() / DATA_KEYS_FILE
        if path.is_file():
            return cls.from_json(path.read_text(encoding="utf-8"))
        log.warning(
            "no data-key secret (YIDI_DATA_KEY_SECRET or %s): using the public development key; "
            "personal data at rest is NOT protected",
            path,
        )
        return cls.development()

    def with_version(self, version: str, master: bytes, *, current: bool = True) -> DataKeyring:
        """A keyring with one more version (rotation; tests)."""
        return DataKeyring({**self.masters, version: master}, version if current else self.current)

    # ------------------------------------------------------------ sealing
    def data_key(self, region: str, version: str) -> AESGCM:
        key = (region, version)
        cipher = self._keys.get(key)
        if cipher is None:
            if version not in self.masters:
                raise SealError(f"data-key version {version!r} is not in the keyring (rotated out?)")
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + region.encode()).derive(
                self.masters[version]
            )
            cipher = AESGCM(derived)
            with self._lock:
                self._keys[key] = cipher
        return cipher

    def seal(self, obj: dict | list | str, region: str) -> dict:
        """``obj`` (JSON-able) sealed under the current version of ``region``'s data key."""
        kid = f"{region}:{self.current}"
        nonce = os.urandom(12)  # 96-bit random nonce: safe for far more messages than a key seals
        plain = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        ct = self.data_key(region, self.current).encrypt(nonce, plain, kid.encode())
        return {"kid": kid, "nonce": _b64(nonce), "ct": _b64(ct)}

    def open(self, sealed: dict) -> Any:
        """The original of a sealed value; ``SealError`` if it does not open."""
        kid = sealed["kid"]
        region, _, version = kid.rpartition(":")
        if not region:
            raise SealError(f"malformed key id {kid!r}")
        cipher = self.data_key(region, version)
        try:
            plain = cipher.decrypt(base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ct"]), kid.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError(f"sealed data under {kid} does not open (wrong key or altered)") from None
        return json.loads(plain)

    def unseal(self, value: Any) -> Any:
        """``value`` opened if sealed, else as it is (documents written before sealing)."""
        return self.open(value) if is_sealed(value) else value


def region_of_kid(kid: str) -> str:
    """``"340200:v1"`` → ``"340200"``."""
    return kid.rpartition(":")[0]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _b64_secret(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(raw) < 32:
        raise ValueError(f"{what} must be at least 32 bytes, got {len(raw)}")
    return raw


# ---------------------------------------------------------------- the process's keyring
_lock = threading.Lock()
_keyring: DataKeyring | None = None


def keyring() -> DataKeyring:
    """Loaded once per process (restart to rotate)."""
    global _keyring
    if _keyring is None:
        with _lock:
            if _keyring is None:
                _keyring = DataKeyring.load()
    return _keyring


def configure(ring: DataKeyring | None) -> None:
    """Set this process's keyring (tests); ``None`` reloads it from the environment."""
    global _keyring
    with _lock:
        _keyring = ring


def write_keyring_file(path: str | Path, ring: DataKeyring) -> None:
    """The keyring as ``data-keys.json`` (tests and tools)."""
    text = json.dumps({"current": ring.current, "keys": {v: _b64(m) for v, m in ring.masters.items()}}, indent=2)
    Path(path).write_text(text + "\n", encoding="utf-8")

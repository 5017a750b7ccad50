"""Person pseudonyms: what Kafka keys and MongoDB ids show of an insured person (003 §5 (三)).

``pseudonym(person_id)`` is ``"p"`` + the first 32 hex characters (128 bits) of
HMAC-SHA-256(secret, normalised ID number). It is keyed, not a plain hash, because the space of
ID numbers is small (region, birth date, three digits, a check digit): an unkeyed hash could be
reversed by trying them all. It is stable, so everything about one person still shares a
partition and one document id; every service and instance of a deployment must therefore share
the same secret (one ``pseudonym.secret`` per deployment, never rotated in place: a new secret
means new ids for every stored aggregate).

The secret is read once per process: ``YIDI_PSEUDONYM_SECRET``, else
``<YIDI_KEYS_DIR or var/keys>/pseudonym.secret``; when neither exists a development secret
derived from a fixed string is used, with one WARNING, so unit tests and first runs need no
set-up. ``ensure_dev_secrets`` creates random secrets for a development deployment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "p"
HEX_CHARS = 32
SECRET_FILE = "pseudonym.secret"
DATA_KEYS_FILE = "data-keys.json"
DEFAULT_KEYS_DIR = "var/keys"
# Public on purpose: it only makes development runs reproducible; a deployment sets its own secret.
_DEV_SEED = b"yidi development pseudonym secret: not for production"

_lock = threading.Lock()
_secret: bytes | None = None


def keys_dir() -> Path:
    """The deployment's key directory, as ``runtime.config.Settings.keys_dir`` reads it."""
    return Path(os.environ.get("YIDI_KEYS_DIR") or DEFAULT_KEYS_DIR)


def configure(secret: str | bytes | None) -> None:
    """Set the secret of this process (tests); ``None`` reloads it from the environment."""
    global _secret
    with _lock:
        _secret = secret.encode() if isinstance(secret, str) else secret
    _pseudonym.cache_clear()


def _current_secret() -> bytes:
    global _secret
    if _secret is not None:
        return _secret
    warning = None
    with _lock:
        if _secret is None:
            _secret, warning = _load_secret()
    if warning:  # logged once the secret is set: the log formatter's redaction calls pseudonym()
        log.warning(warning)
    return _secret


def _load_secret() -> tuple[bytes, str | None]:
    """The secret, and the warning to log when it is the public development one."""
    from_env = os.environ.get("YIDI_PSEUDONYM_SECRET", "").strip()
    if from_env:
        return from_env.encode(), None
    path = keys_dir() / SECRET_FILE
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text.encode(), None
    return hashlib.sha256(_DEV_SEED).digest(), (
        f"no pseudonym secret (YIDI_PSEUDONYM_SECRET or {path}): using the public development secret; "
        "person pseudonyms are NOT protected"
    )


def normalise(person_id: str) -> str:
    """The form an ID number is hashed in: no surrounding blanks, check character X upper-case."""
    return str(person_id).strip().upper()


def pseudonym(person_id: str) -> str:
    """The person's pseudonym: Kafka key and MongoDB ``_id`` of what is about them."""
    return _pseudonym(normalise(person_id))


@lru_cache(maxsize=65_536)  # every hop of a settlement asks again for the same person
def _pseudonym(normalised: str) -> str:
    digest = hmac.new(_current_secret(), normalised.encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_CHARS]


def is_pseudonym(text: str) -> bool:
    return (
        len(text) == len(PREFIX) + HEX_CHARS
        and text.startswith(PREFIX)
        and all(c in "0123456789abcdef" for c in text[len(PREFIX) :])
    )


def ensure_dev_secrets(directory: str | Path) -> list[Path]:
    """Create ``pseudonym.secret`` and ``data-keys.json`` (random, mode 0600) where missing; the
    files that were created are returned. Existing files are never overwritten: replacing the
    pseudonym secret re-keys every person, replacing a data key makes sealed data unreadable."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = []
    if _create_private(directory / SECRET_FILE, secrets.token_hex(32) + "\n"):
        created.append(directory / SECRET_FILE)
    keyring = {"current": "v1", "keys": {"v1": base64.b64encode(secrets.token_bytes(32)).decode()}}
    if _create_private(directory / DATA_KEYS_FILE, json.dumps(keyring, indent=2) + "\n"):
        created.append(directory / DATA_KEYS_FILE)
    return created


def _create_private(path: Path, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return True

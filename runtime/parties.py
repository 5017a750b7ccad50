"""The participant registry at run time, and the signatures that tie a message to a party.

``ParticipantRegistry`` is the data file of ``contracts/data/participants.yaml`` with the
deployment's public keys merged in and the ``parties.change.v1`` changes applied in order.
``Signer`` signs what this instance publishes; ``authenticate`` is the first thing a consumer
does with a record: who sent it, and is the signature theirs with a key valid now (003 §5 (三)).
The wire format is documented in ``contracts.parties``. No business rules here: what each party
may do is each service's authority table.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from contracts.parties import (Agency, AgencyLevel, ChangeAction, ChangeParty, Institution, KeyUse,
                               ParticipantFile, Party, PublicKey, ServiceParty)

log = logging.getLogger(__name__)

PARTICIPANTS = Path(__file__).resolve().parents[1] / "contracts" / "data" / "participants.yaml"
SIGNATURE_HEADER = "yidi-signature"
SIGN_ALG = "Ed25519"            # RFC 9864's fully specified name for EdDSA over Ed25519
SEAL_ALG = {"alg": "ECDH-ES", "enc": "A256GCM"}   # JWE to an X25519 key, as India's HCX does
PUBLIC_KEYS = "public-keys.json"


def _jwk(public: dict[str, str]) -> dict[str, str | list[str]]:
    """A registry JWK as joserfc takes it (its values may also be lists)."""
    return dict(public)


class Unauthenticated(Exception):
    """The record cannot be tied to a registry party; ``reason`` classifies why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ParticipantRegistry:
    """Every party by its code. Read-mostly: changes come one at a time from the follower."""

    def __init__(self, parties: list[Institution | Agency | ServiceParty]) -> None:
        self.parties: dict[str, Institution | Agency | ServiceParty] = {p.code: p for p in parties}
        self._verifiers: dict[tuple[str, str], OKPKey] = {}

    @classmethod
    def load(cls, keys_dir: str | Path | None = None, path: Path = PARTICIPANTS) -> "ParticipantRegistry":
        data = ParticipantFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        parties: list = [*data.institutions, *data.agencies, *data.services]
        keys = _public_keys(Path(keys_dir)) if keys_dir else {}
        parties = [p.model_copy(update={"keys": (*p.keys, *keys.get(p.code, ()))}) for p in parties]
        registry = cls(parties)
        registry._check_parents()
        return registry

    def _check_parents(self) -> None:
        for agency in self.agencies():
            if agency.parent and not isinstance(self.parties.get(agency.parent), Agency):
                raise ValueError(f"agency {agency.code}: parent {agency.parent} is not an agency of the registry")

    # ------------------------------------------------------------ lookups
    def get(self, code: str) -> Institution | Agency | ServiceParty | None:
        return self.parties.get(code)

    def agencies(self) -> list[Agency]:
        return [p for p in self.parties.values() if isinstance(p, Agency)]

    def agency_of(self, region: str | None) -> Agency | None:
        """The agency that handles ``region`` (a city or province code; None: the national one)."""
        for agency in self.agencies():
            if (agency.region is None and region is None) or (region is not None and agency.region == region):
                return agency
        return None

    def level_above(self, region: str) -> Agency | None:
        """The agency one level above ``region``: its own agency's parent, or — for a region whose
        agency is not registered — its province's agency (a city) or the national one (a province)."""
        own = self.agency_of(region)
        if own is not None:
            return self.parent_of(own.code)
        return self.agency_of(None if region.endswith("0000") else region[:2] + "0000")

    def parent_of(self, code: str) -> Agency | None:
        party = self.parties.get(code)
        return self.parties.get(party.parent) if isinstance(party, Agency) and party.parent else None  # type: ignore[return-value]

    def speaks_for(self, code: str, region: str) -> bool:
        """The agency ``code`` handles ``region`` itself, or is the province or national level above it."""
        agency = self.parties.get(code)
        if not isinstance(agency, Agency):
            return False
        if agency.level is AgencyLevel.NATIONAL:
            return True
        if agency.region == region:
            return True
        return agency.level is AgencyLevel.PROVINCE and agency.region is not None and agency.region[:2] == region[:2]

    def verification_key(self, code: str, kid: str, at: datetime) -> OKPKey:
        party = self.parties.get(code)
        if party is None:
            raise Unauthenticated("unknown_sender", f"sender {code} is not in the participant registry")
        key = next((k for k in party.keys if k.kid == kid and k.use is KeyUse.SIGN), None)
        if key is None:
            raise Unauthenticated("unknown_key", f"key {kid} is not a signing key of {code}")
        if (key.valid_from and at < key.valid_from) or (key.valid_until and at >= key.valid_until):
            raise Unauthenticated("key_not_valid", f"key {code}/{kid} is not valid at {at.isoformat()}")
        cached = self._verifiers.get((code, kid))
        if cached is None:
            cached = self._verifiers[(code, kid)] = OKPKey.import_key(_jwk(key.jwk))
        return cached

    def encryption_key(self, code: str) -> tuple[str, OKPKey] | None:
        """The newest encryption key of ``code`` (kid, key), or None when it has none."""
        party = self.parties.get(code)
        keys = [k for k in (party.keys if party else ()) if k.use is KeyUse.ENCRYPT and not k.valid_until]
        return (keys[-1].kid, OKPKey.import_key(_jwk(keys[-1].jwk))) if keys else None

    # ------------------------------------------------------------ changes at run time
    def apply(self, change: ChangeParty) -> None:
        """A change the national agency signed (the follower checked who sent it)."""
        if change.action is ChangeAction.UPSERT and change.party is not None:
            self.parties[change.party.code] = change.party
        elif change.action is ChangeAction.REMOVE and change.code:
            self.parties.pop(change.code, None)
        self._verifiers = {k: v for k, v in self._verifiers.items()
                           if k[0] not in {change.code, change.party.code if change.party else None}}


# ---------------------------------------------------------------- signing and verifying
@dataclass(frozen=True)
class PrivateKeys:
    code: str
    sign_kid: str
    sign: OKPKey
    enc_kid: str | None = None
    enc: OKPKey | None = None


class Signer:
    """Signs record values as one party (detached JWS over the exact bytes)."""

    def __init__(self, keys: PrivateKeys) -> None:
        self.keys = keys
        self.code = keys.code
        self._protected = {"alg": SIGN_ALG, "kid": f"{keys.code}/{keys.sign_kid}"}

    def sign(self, value: bytes) -> str:
        return jws.detach_content(jws.serialize_compact(self._protected, value, self.keys.sign, algorithms=[SIGN_ALG]))

    def headers(self, value: bytes) -> dict[str, str]:
        return {SIGNATURE_HEADER: self.sign(value)}

    def open_sealed(self, token: str) -> bytes:
        """Decrypt a JWE addressed to this party."""
        if self.keys.enc is None:
            raise ValueError(f"{self.code} has no decryption key")
        plaintext = jwe.decrypt_compact(token, self.keys.enc).plaintext
        if plaintext is None:
            raise ValueError("the sealed value has no content")
        return plaintext


def authenticate(registry: ParticipantRegistry, value: bytes, signature: str | bytes | None,
                 at: datetime) -> Institution | Agency | ServiceParty:
    """The party that signed ``value``, or ``Unauthenticated``. The envelope's ``sender`` must then
    name the same party (checked by the caller once the envelope is parsed)."""
    if not signature:
        raise Unauthenticated("missing_signature", f"no {SIGNATURE_HEADER} header")
    token = signature.decode() if isinstance(signature, bytes) else signature
    try:
        header = jws.extract_compact(token.encode(), payload=value).headers()
    except (JoseError, ValueError, UnicodeDecodeError) as exc:
        raise Unauthenticated("malformed_signature", f"signature is not a compact JWS: {exc}") from None
    kid = str(header.get("kid", ""))
    code, _, key_id = kid.partition("/")
    if header.get("alg") != SIGN_ALG or not code or not key_id:
        raise Unauthenticated("malformed_signature", f"expected alg {SIGN_ALG} and kid '<party>/<key>', got {header}")
    key = registry.verification_key(code, key_id, at)
    try:
        jws.deserialize_compact(token, key, algorithms=[SIGN_ALG], payload=value)
    except (JoseError, ValueError) as exc:
        raise Unauthenticated("bad_signature", f"signature of {code}/{key_id} does not verify: {exc}") from None
    return registry.parties[code]


def seal_for(registry: ParticipantRegistry, code: str, plaintext: bytes) -> str:
    """JWE (ECDH-ES + A256GCM) of ``plaintext`` to the party's newest encryption key."""
    found = registry.encryption_key(code)
    if found is None:
        raise ValueError(f"{code} has no encryption key in the registry")
    kid, key = found
    return jwe.encrypt_compact({**SEAL_ALG, "kid": f"{code}/{kid}"}, plaintext, key)


# ---------------------------------------------------------------- key files
def generate_keys(code: str, kid: str) -> tuple[dict, list[dict]]:
    """A new Ed25519 signing and X25519 encryption key pair: (private file, public entries)."""
    sign = OKPKey.generate_key("Ed25519", parameters={"kid": kid})
    enc = OKPKey.generate_key("X25519", parameters={"kid": kid})
    private = {"code": code, "sign": sign.as_dict(private=True), "enc": enc.as_dict(private=True)}
    public = [{"kid": kid, "use": "sig", "jwk": _public_jwk(sign)}, {"kid": kid, "use": "enc", "jwk": _public_jwk(enc)}]
    return private, public


def _public_jwk(key: OKPKey) -> dict:
    return {k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x")}


def load_private_keys(keys_dir: str | Path, code: str) -> PrivateKeys:
    path = Path(keys_dir) / f"{code}.private.json"
    if not path.exists():
        raise FileNotFoundError(f"no private key for {code} at {path}: run `yidi keys init` (development) or "
                                f"`yidi keys new {code}` and register the public key")
    data = json.loads(path.read_text())
    sign, enc = data["sign"], data.get("enc")
    return PrivateKeys(code, sign["kid"], OKPKey.import_key(sign), enc["kid"] if enc else None,
                       OKPKey.import_key(enc) if enc else None)


def signer_for(keys_dir: str | Path, code: str) -> Signer:
    return Signer(load_private_keys(keys_dir, code))


def _public_keys(keys_dir: Path) -> dict[str, list[PublicKey]]:
    path = keys_dir / PUBLIC_KEYS
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {code: [PublicKey.model_validate(k) for k in keys] for code, keys in raw.items()}


def init_keys(keys_dir: str | Path, codes: list[str] | None = None, kid: str = "dev-1") -> list[str]:
    """Create keys for every registry party (or ``codes``) that has none yet; private files are
    0600 and belong in a directory that is never committed (``var/`` is git-ignored)."""
    root = Path(keys_dir)
    root.mkdir(parents=True, exist_ok=True)
    public_path = root / PUBLIC_KEYS
    public = json.loads(public_path.read_text()) if public_path.exists() else {}
    wanted = codes or list(ParticipantRegistry.load().parties)
    created = []
    for code in wanted:
        private_path = root / f"{code}.private.json"
        if private_path.exists() and code in public:
            continue
        private, entries = generate_keys(code, kid)
        _write_private(private_path, private)
        public[code] = entries
        created.append(code)
    if created:
        tmp = public_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(public, indent=1, ensure_ascii=False))
        tmp.replace(public_path)
    return created


def _write_private(path: Path, data: dict) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)


def registry_entry(party: Party) -> dict:
    return party.model_dump(mode="json", exclude_none=True)

"""The participant registry at run time, and the signatures that tie a message to a party.

``ParticipantRegistry`` is the data file of ``contracts/data/participants.yaml`` with the
deployment's public keys merged in and the ``parties.change.v2`` changes applied in order.
``Signer`` signs what this instance publishes; ``authenticate`` is the first thing a consumer
does with a record: who sent it, and is the signature theirs with a key valid now (003 §5 (三)).
The wire format is documented in ``contracts.parties``. No business rules here: what each party
may do is each service's authority table.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jwe, jws
from joserfc.jwk import OKPKey
from pydantic import BaseModel, ValidationError

from contracts.envelope import BROKER_MESSAGE_LIMIT, Envelope
from contracts.parties import (
    Agency,
    AgencyLevel,
    ChangeAction,
    ChangeParty,
    Channel,
    Institution,
    KeyUse,
    Operator,
    ParticipantFile,
    Party,
    PublicKey,
    ServiceParty,
)
from runtime import sm

log = logging.getLogger(__name__)

PARTICIPANTS = Path(__file__).resolve().parents[1] / "contracts" / "data" / "participants.yaml"
SIGNATURE_HEADER = "yidi-signature"
SIGN_ALG = "Ed25519"  # RFC 9864's fully specified name for EdDSA over Ed25519
# What a verifier accepts in "alg": RFC 9864's name, and RFC 8037's polymorphic "EdDSA" that adapters in
# the wild still send. joserfc registers both, but its "EdDSA" takes whatever curve the key has (Ed448
# too); here either name is verified as Ed25519, with a key checked to be OKP Ed25519 first.
SIGN_ALGS = frozenset({SIGN_ALG, "EdDSA"})
SEAL_ALG = {"alg": "ECDH-ES", "enc": "A256GCM"}  # JWE to an X25519 key, as India's HCX does
SEAL_ALGS = (SEAL_ALG["alg"], SEAL_ALG["enc"])  # all a sealed result may use: no key wrap, no "zip"


def jwe_registry(algorithms: Collection[str], **options: Any) -> jwe.JWERegistry:
    """joserfc's JWE registry for ``algorithms``, taking what the broker carries: its default refuses
    a ciphertext over 64 KB, which a large bill's sealed result or request would exceed."""
    registry = jwe.JWERegistry(algorithms=algorithms, **options)
    registry.max_ciphertext_length = BROKER_MESSAGE_LIMIT
    return registry


SEAL_REGISTRY = jwe_registry(SEAL_ALGS)
SUITES = ("ed25519", "sm")  # runtime.suites: one per deployment, YIDI_CRYPTO_SUITE
SUITE_SIGN_ALGS = {"ed25519": SIGN_ALGS, "sm": frozenset({sm.SIGN_ALG})}
PUBLIC_KEYS = "public-keys.json"
MAX_SIGNATURE = 1024  # a detached Ed25519 JWS with our header is ~200 characters
HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})  # anything else (crit, b64, jku, jwk, x5u, x5c…) is refused
KID = re.compile(r"^([A-Za-z0-9_.-]{2,32})/([A-Za-z0-9_.:-]{1,64})$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
AnyParty = Institution | Agency | ServiceParty | Operator | Channel
M = TypeVar("M", bound=BaseModel)


def suite_from_env() -> str:
    """The deployment's crypto suite (``YIDI_CRYPTO_SUITE``, ``runtime.config.Settings.crypto_suite``)."""
    name = os.environ.get("YIDI_CRYPTO_SUITE", "").strip() or "ed25519"
    if name not in SUITES:
        raise ValueError(f"YIDI_CRYPTO_SUITE must be one of {SUITES}, not {name!r}")
    return name


class Verifier(Protocol):
    def verify(self, signature: bytes, data: bytes) -> None: ...  # raises InvalidSignature


EncryptionKey = OKPKey | sm.SM2PublicKey
DecryptionKey = OKPKey | sm.SM2PrivateKey


def _jwk(public: dict[str, str]) -> dict[str, str | list[str]]:
    """A registry JWK as joserfc takes it (its values may also be lists)."""
    return dict(public)


class Unauthenticated(Exception):
    """The record cannot be tied to a registry party; ``reason`` classifies why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ParticipantRegistry:
    """Every party by its code. Read-mostly: changes come one at a time from the follower.
    ``versions`` is each party's registry version (0: as in the data file), kept after a removal
    (a tombstone), so that a change is applied only over an older version and never twice."""

    def __init__(self, parties: Iterable[AnyParty], suite: str | None = None) -> None:
        self.parties: dict[str, AnyParty] = {p.code: p for p in parties}
        self.versions: dict[str, int] = {code: 0 for code in self.parties}
        self.change_ids: set[str] = set()
        self._verifiers: dict[tuple[str, str], Verifier] = {}
        self.suite = suite or suite_from_env()  # the algorithms its keys and signatures must be of
        if self.suite not in SUITES:
            raise ValueError(f"crypto suite must be one of {SUITES}, not {self.suite!r}")

    @classmethod
    def load(
        cls, keys_dir: str | Path | None = None, path: Path = PARTICIPANTS, suite: str | None = None
    ) -> ParticipantRegistry:
        data = ParticipantFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        parties: list = [*data.institutions, *data.agencies, *data.services, *data.operators, *data.channels]
        keys = _public_keys(Path(keys_dir)) if keys_dir else {}
        parties = [p.model_copy(update={"keys": (*p.keys, *keys.get(p.code, ()))}) for p in parties]
        registry = cls(parties, suite)
        registry._check_parents()
        return registry

    def _check_parents(self) -> None:
        for agency in self.agencies():
            if agency.parent and not isinstance(self.parties.get(agency.parent), Agency):
                raise ValueError(f"agency {agency.code}: parent {agency.parent} is not an agency of the registry")

    # ------------------------------------------------------------ lookups
    def get(self, code: str) -> AnyParty | None:
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

    def verification_key(self, code: str, kid: str, at: datetime) -> Verifier:
        """The party's signing key ``kid``, valid at ``at``, checked to be a public key of the suite: OKP
        Ed25519, or EC SM2 (a valid point) in the ``sm`` suite."""
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
            cached = self._verifiers[(code, kid)] = (
                _sm2(code, kid, key.jwk) if self.suite == "sm" else _ed25519(code, kid, key.jwk)
            )
        return cached

    def encryption_key(self, code: str) -> tuple[str, EncryptionKey] | None:
        """The newest encryption key of ``code`` (kid, key), or None when it has none (an X25519 key
        only; in the ``sm`` suite an EC SM2 key, a valid point)."""
        party = self.parties.get(code)
        if self.suite == "sm":
            for entry in reversed(
                [
                    k
                    for k in (party.keys if party else ())
                    if k.use is KeyUse.ENCRYPT and not k.valid_until and sm.is_sm2_jwk(k.jwk) and "d" not in k.jwk
                ]
            ):
                try:
                    return entry.kid, sm.SM2PublicKey.from_jwk(entry.jwk)
                except sm.SMError:
                    log.warning("encryption key %s/%s is not a valid SM2 point: skipped", code, entry.kid)
            return None
        keys = [
            k
            for k in (party.keys if party else ())
            if k.use is KeyUse.ENCRYPT
            and not k.valid_until
            and k.jwk.get("kty") == "OKP"
            and k.jwk.get("crv") == "X25519"
            and "d" not in k.jwk
        ]
        return (keys[-1].kid, OKPKey.import_key(_jwk(keys[-1].jwk))) if keys else None

    # ------------------------------------------------------------ changes at run time
    def apply(self, change: ChangeParty) -> str | None:
        """A change the national agency signed (the follower checked who sent it and when). None when
        applied; else why it had no effect: ``repeated_change`` (its change_id was applied already) or
        ``stale_version`` (the party's version is already that or newer, a removal included: a
        removed party comes back only with a newer version)."""
        if change.change_id in self.change_ids:
            return "repeated_change"
        code = change.subject
        if change.version <= self.versions.get(code, 0):
            return "stale_version"
        self.change_ids.add(change.change_id)
        self.versions[code] = change.version
        if change.action is ChangeAction.UPSERT and change.party is not None:
            self.parties[code] = change.party
        else:
            self.parties.pop(code, None)
        self._verifiers = {k: v for k, v in self._verifiers.items() if k[0] != code}
        return None


# ---------------------------------------------------------------- signing and verifying
@dataclass(frozen=True)
class PrivateKeys:
    code: str
    sign_kid: str
    sign: OKPKey | sm.SM2PrivateKey
    enc_kid: str | None = None
    enc: DecryptionKey | None = None


class Signer:
    """Signs record values as one party (detached JWS over the exact bytes), with the algorithm of
    its key: Ed25519 (joserfc), or SM2 with SM3 (``runtime.sm``)."""

    def __init__(self, keys: PrivateKeys) -> None:
        self.keys = keys
        self.code = keys.code
        sm2 = isinstance(keys.sign, sm.SM2PrivateKey)
        self._protected = {"alg": sm.SIGN_ALG if sm2 else SIGN_ALG, "kid": f"{keys.code}/{keys.sign_kid}"}
        self._sm_header = _b64(json.dumps(self._protected, separators=(",", ":")).encode()) if sm2 else ""

    def sign(self, value: bytes) -> str:
        if isinstance(self.keys.sign, sm.SM2PrivateKey):  # same compact form, signed by runtime.sm
            signing_input = self._sm_header.encode("ascii") + b"." + _b64(value).encode("ascii")
            return f"{self._sm_header}..{_b64(self.keys.sign.sign(signing_input))}"
        return jws.detach_content(jws.serialize_compact(self._protected, value, self.keys.sign, algorithms=[SIGN_ALG]))

    def headers(self, value: bytes) -> dict[str, str]:
        return {SIGNATURE_HEADER: self.sign(value)}

    def open_sealed(self, token: str) -> bytes:
        """Decrypt a JWE addressed to this party."""
        if self.keys.enc is None:
            raise ValueError(f"{self.code} has no decryption key")
        if isinstance(self.keys.enc, sm.SM2PrivateKey):
            sealed_header, opened = sm.open_sealed(self.keys.enc, token)
            if str(sealed_header.get("kid", "")).partition("/")[0] != self.code:
                raise ValueError(f"sealed to {sealed_header.get('kid')}, not to {self.code}")
            return opened
        header = _segment_json(token.split(".", 1)[0])
        if header.get("alg") != SEAL_ALG["alg"] or header.get("enc") != SEAL_ALG["enc"] or "zip" in header:
            raise ValueError(f"a sealed value is {SEAL_ALG['alg']} with {SEAL_ALG['enc']}, no zip: got {header}")
        if str(header.get("kid", "")).partition("/")[0] != self.code:
            raise ValueError(f"sealed to {header.get('kid')}, not to {self.code}")
        plaintext = jwe.decrypt_compact(token, self.keys.enc, registry=SEAL_REGISTRY).plaintext
        if plaintext is None:
            raise ValueError("the sealed value has no content")
        return plaintext


def authenticate(registry: ParticipantRegistry, value: bytes, signature: str | bytes | None, at: datetime) -> AnyParty:
    """The party that signed ``value``, or ``Unauthenticated``: the one check of a signature, for
    records, signed queries, the registry's changes and the clock. The envelope's ``sender`` must then
    name the same party (``signed_envelope``, or the caller once the envelope is parsed).

    The token must be ``<protected>..<signature>`` (detached: the payload segment empty; a token that
    carries its own payload is refused, never verified over those bytes), its header a JSON object with
    only ``alg`` (Ed25519, or EdDSA), ``kid`` ``<party>/<key>`` and optionally ``typ``; the key an OKP
    Ed25519 signing key of that party valid at ``at``; the signature over exactly ``value``."""
    if not signature:
        raise Unauthenticated("missing_signature", f"no {SIGNATURE_HEADER} header")
    if not isinstance(value, bytes):
        raise Unauthenticated("malformed_signature", "no record value to verify")
    header_segment, code, key_id, sig = _read_token(signature, SUITE_SIGN_ALGS[registry.suite])
    key = registry.verification_key(code, key_id, at)
    signing_input = header_segment.encode("ascii") + b"." + base64.urlsafe_b64encode(value).rstrip(b"=")
    try:
        key.verify(sig, signing_input)
    except InvalidSignature:
        raise Unauthenticated("bad_signature", f"signature of {code}/{key_id} does not verify") from None
    return registry.parties[code]


def _read_token(signature: str | bytes, algs: frozenset[str] = SIGN_ALGS) -> tuple[str, str, str, bytes]:
    """(header segment, party code, key id, signature bytes) of a detached compact JWS, strictly."""
    try:
        token = signature.decode("ascii") if isinstance(signature, bytes) else str(signature)
    except UnicodeDecodeError:
        raise Unauthenticated("malformed_signature", "signature is not ASCII") from None
    if len(token) > MAX_SIGNATURE:
        raise Unauthenticated("malformed_signature", f"signature longer than {MAX_SIGNATURE} characters")
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise Unauthenticated("malformed_signature", "signature is not a compact JWS '<header>..<signature>'")
    if parts[1]:
        raise Unauthenticated(
            "attached_payload", "signature carries a payload: it must be detached and verify over the record's bytes"
        )
    try:
        header = _segment_json(parts[0])
        sig = _b64url(parts[2])
    except ValueError as exc:
        raise Unauthenticated("malformed_signature", f"signature is not a compact JWS: {exc}") from None
    extra = set(header) - HEADER_MEMBERS
    if extra:
        raise Unauthenticated("header_not_allowed", f"header members not allowed: {sorted(extra)}")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs:
        wanted = f"{SIGN_ALG} (or EdDSA)" if algs == SIGN_ALGS else " or ".join(sorted(algs))
        raise Unauthenticated("alg_not_allowed", f"alg must be {wanted}, got {header.get('alg')!r}")
    if "typ" in header and not isinstance(header["typ"], str):
        raise Unauthenticated("malformed_signature", "typ must be a string")
    kid = header.get("kid")
    match = KID.fullmatch(kid) if isinstance(kid, str) else None
    if match is None:
        raise Unauthenticated("malformed_kid", f"kid must be '<party>/<key>', got {kid!r}"[:200])
    if len(sig) != 64:  # Ed25519; SM2 as r ‖ s (32 bytes each, not DER)
        raise Unauthenticated("malformed_signature", f"an {alg} signature is 64 bytes")
    return parts[0], match.group(1), match.group(2), sig


def _b64url(segment: str) -> bytes:
    """Unpadded base64url (RFC 7515 §2), nothing else: no padding, no other characters, canonical."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error as exc:
        raise ValueError(f"not base64url: {exc}") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
        raise ValueError("not canonical base64url")
    return raw


def _segment_json(segment: str) -> dict[str, Any]:
    """A protected header: a JSON object without repeated members."""

    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("repeated header member")
        return dict(pairs)

    if len(segment) > 512:
        raise ValueError("header too long")
    try:
        header = json.loads(_b64url(segment), object_pairs_hook=no_repeats)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header


def _ed25519(code: str, kid: str, jwk: dict[str, str]) -> Ed25519PublicKey:
    """A registry signing JWK as a key, when it is what a signing key must be: OKP, Ed25519, public."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "d" in jwk:
        raise Unauthenticated(
            "bad_key_type", f"key {code}/{kid} is not an OKP Ed25519 public key ({jwk.get('kty')} {jwk.get('crv')})"
        )
    try:
        raw = _b64url(str(jwk.get("x", "")))
        if len(raw) != 32:
            raise ValueError("x is not 32 bytes")
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise Unauthenticated("bad_key_type", f"key {code}/{kid}: {exc}") from None


def _sm2(code: str, kid: str, jwk: dict[str, str]) -> sm.SM2PublicKey:
    """A registry signing JWK of the ``sm`` suite: EC SM2, public, a valid point of the curve."""
    if not sm.is_sm2_jwk(jwk) or "d" in jwk:
        raise Unauthenticated(
            "bad_key_type", f"key {code}/{kid} is not an EC SM2 public key ({jwk.get('kty')} {jwk.get('crv')})"
        )
    try:
        return sm.SM2PublicKey.from_jwk(jwk)
    except sm.SMError as exc:
        raise Unauthenticated("bad_key_type", f"key {code}/{kid}: {exc}") from None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signature_of(headers: Iterable[tuple[str, bytes]] | None) -> bytes | None:
    """The ``yidi-signature`` header of a Kafka record (the first, as every reader takes it)."""
    return next((v for k, v in (headers or ()) if k == SIGNATURE_HEADER), None)


def signed_envelope(
    registry: ParticipantRegistry, record: Any, message: type[M], at: datetime
) -> tuple[AnyParty, Envelope[M]]:
    """A record of a topic every instance follows (the registry's changes, refusals to the console),
    authenticated and parsed: its signer and its envelope, whose ``sender`` must be the signer.
    ``Unauthenticated`` (``invalid`` for a signed value that is not such an envelope) otherwise."""
    sender = authenticate(registry, record.value, signature_of(record.headers), at)
    try:
        envelope = Envelope[message].model_validate_json(record.value)  # type: ignore[valid-type]
    except (ValidationError, ValueError) as exc:
        raise Unauthenticated("invalid", f"not an envelope of {message.__name__}: {exc}"[:500]) from None
    if envelope.sender != sender.code:
        raise Unauthenticated("sender_mismatch", f"envelope names sender {envelope.sender}, signed by {sender.code}")
    return sender, envelope


def seal_for(registry: ParticipantRegistry, code: str, plaintext: bytes) -> str:
    """JWE (ECDH-ES + A256GCM) of ``plaintext`` to the party's newest encryption key; in the ``sm``
    suite its SM2 counterpart (SM2ENC + SM4-GCM, ``runtime.sm.seal``)."""
    found = registry.encryption_key(code)
    if found is None:
        raise ValueError(f"{code} has no encryption key in the registry")
    kid, key = found
    if isinstance(key, sm.SM2PublicKey):
        return sm.seal({"kid": f"{code}/{kid}"}, key, plaintext)
    return jwe.encrypt_compact({**SEAL_ALG, "kid": f"{code}/{kid}"}, plaintext, key, registry=SEAL_REGISTRY)


# ---------------------------------------------------------------- key files
def generate_keys(code: str, kid: str, suite: str | None = None) -> tuple[dict, list[dict]]:
    """A new Ed25519 signing and X25519 encryption key pair: (private file, public entries); in the
    ``sm`` suite two SM2 key pairs (one signs, one decrypts: keys are not shared between uses)."""
    if (suite or suite_from_env()) == "sm":
        sm_sign, sm_enc = sm.SM2PrivateKey.generate(), sm.SM2PrivateKey.generate()
        return (
            {"code": code, "sign": {"kid": kid, **sm_sign.jwk()}, "enc": {"kid": kid, **sm_enc.jwk()}},
            [
                {"kid": kid, "use": "sig", "jwk": sm_sign.public.jwk()},
                {"kid": kid, "use": "enc", "jwk": sm_enc.public.jwk()},
            ],
        )
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
        raise FileNotFoundError(
            f"no private key for {code} at {path}: run `yidi keys init` (development) or "
            f"`yidi keys new {code}` and register the public key"
        )
    data = json.loads(path.read_text())
    return private_keys(code, data["sign"], data.get("enc"))


def private_keys(code: str, sign: dict[str, Any], enc: dict[str, Any] | None) -> PrivateKeys:
    """A party's private keys from its private JWKs (each with its ``kid``), as its key file holds them:
    OKP Ed25519 and X25519, or EC SM2 (``runtime.sm``)."""
    if sm.is_sm2_jwk(sign):
        return PrivateKeys(
            code,
            sign["kid"],
            sm.SM2PrivateKey.from_jwk(sign),
            enc["kid"] if enc else None,
            sm.SM2PrivateKey.from_jwk(enc) if enc else None,
        )
    return PrivateKeys(
        code, sign["kid"], OKPKey.import_key(sign), enc["kid"] if enc else None, OKPKey.import_key(enc) if enc else None
    )


def signer_for(keys_dir: str | Path, code: str) -> Signer:
    return Signer(load_private_keys(keys_dir, code))


def _public_keys(keys_dir: Path) -> dict[str, list[PublicKey]]:
    path = keys_dir / PUBLIC_KEYS
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {code: [PublicKey.model_validate(k) for k in keys] for code, keys in raw.items()}


def init_keys(
    keys_dir: str | Path, codes: list[str] | None = None, kid: str = "dev-1", suite: str | None = None
) -> list[str]:
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
        private, entries = generate_keys(code, kid, suite)
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

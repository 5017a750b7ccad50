"""Parties 参与方: who may send what. Every message comes from a party of the participant
registry — an institution 定点医药机构, an agency 经办机构 or one of the platform's own services —
is signed with that party's key, and is checked against that party's authority (003 §5 (三):
boundary protection, identity checks; 000 第八十一条: agencies act on what is addressed to them).

The registry is a validated data file (``contracts/data/participants.yaml``), the deployment's
public keys (``<keys_dir>/public-keys.json``), and the changes published on
``parties.change.v2`` by the national agency, applied by every service instance in order of each
party's ``version`` (a change over an equal or newer version, a repeated ``change_id`` or one sent
outside the clock-skew window has no effect).

How a message is signed (what an adapter writer implements):

* the Kafka record value is the envelope JSON, whose ``sender`` is the party's registry code;
* the record header ``yidi-signature`` is a JWS (RFC 7515) in compact serialisation with a
  *detached* payload (``<protected>..<signature>``, the middle segment empty: a token carrying a
  payload of its own is refused): the payload is the record value, byte for byte; the protected
  header is ``{"alg": "Ed25519", "kid": "<party code>/<key id>"}`` (RFC 9864; ``"EdDSA"`` of RFC
  8037 is accepted too, with the same Ed25519 key) and nothing else but an optional ``typ`` (no
  ``crit``, ``b64``, ``jku``, ``jwk``, ``x5u``…); the key an OKP Ed25519 signing key of the party's
  registry entry whose validity covers the moment of receipt. The signing input is the header
  segment's ASCII, ``.``, and the unpadded base64url of the record value; the signature segment is
  the 64-byte Ed25519 signature, unpadded base64url. A verifier takes ``"Ed25519"`` and ``"EdDSA"``
  alike, both as Ed25519 (never Ed448); a signer sends ``"Ed25519"``.

A signed query (``runtime.query``) carries the same header value, in the HTTP header
``yidi-signature``, over the request target as sent: ``<path>?<raw query string>``, whose ``at`` is
the request's Unix seconds (accepted within the deployment's clock-skew limit).

A result sealed to a party (``settlement.result.v2``'s ``sealed``; an ID number in a query,
``runtime.query.seal_person``) is a JWE (RFC 7516) in compact serialisation with protected header
``{"alg": "ECDH-ES", "enc": "A256GCM", "kid": "<party code>/<key id>", "epk": {…}}``: direct key
agreement (RFC 7518 §4.6, Concat KDF) with the party's X25519 encryption key (``use`` ``enc``) of the
registry, AES-256-GCM content encryption, no ``zip``; the plaintext is UTF-8 JSON.

**The national algorithms** (国密, ``YIDI_CRYPTO_SUITE=sm``, one suite per deployment: a verifier
refuses every algorithm and key of the other suite, ``alg_not_allowed`` / ``bad_key_type``):

* keys are JWKs ``{"kty": "EC", "crv": "SM2", "x": "<b64url 32 bytes>", "y": "<b64url 32 bytes>"}``
  (``d`` too in a private key file), the GB/T 32918 recommended curve; one key pair signs (``use``
  ``sig``), another decrypts (``enc``); a registry key that is not a point of the curve's group is
  refused;
* signatures have the same detached compact form, protected header ``{"alg": "SM2SM3", "kid":
  "<party>/<key>"}``; the signature is SM2 over SM3(Z ‖ signing input), Z with the GM/T 0009 default
  user id ``1234567812345678``, encoded as r ‖ s (32 bytes each, big-endian; not DER: convert a GM/T
  0009 DER ``SEQUENCE {r, s}``), unpadded base64url. SM2 signatures are randomised: check them by
  verifying;
* a sealed result is ``<protected>.<encrypted key>.<iv>.<ciphertext>.<tag>`` (unpadded base64url
  each, the shape of a compact JWE) with protected header ``{"alg": "SM2ENC", "enc": "SM4-GCM",
  "kid": "<party>/<key id>"}``: a fresh 16-byte SM4 key encrypted with SM2 (GB/T 32918.4) to the
  party's encryption key, ciphertext C1 ‖ C3 ‖ C2 with C1 uncompressed (04 ‖ x ‖ y); the plaintext
  under SM4-GCM with a 12-byte IV and a 16-byte tag, the protected segment's ASCII as associated data.

``contracts/vectors/`` holds test vectors of the three (sample keys), with a README saying how to
check an implementation against them.

A message that fails any of this has no effect and is dead-lettered as ``UNAUTHENTICATED``. A
signed message its sender had no authority for is answered on ``party.refused.v1`` (keyed by the
sender's code) with a classified reason; HIS commands are answered on ``settlement.result.v2``.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from contracts.directory import PHARMACY_KINDS, InstitutionCategory, SettlementKind
from contracts.envelope import Contract
from contracts.topics import TopicSpec
from contracts.values import HospitalLevel, InstitutionCode, PersonId, RegionCode


class PartyKind(StrEnum):
    INSTITUTION = "institution"
    AGENCY = "agency"
    SERVICE = "service"
    OPERATOR = "operator"
    CHANNEL = "channel"


class AgencyLevel(StrEnum):
    """Agency levels of 000 and 004: the national centre, provincial and city agencies."""

    NATIONAL = "national"
    PROVINCE = "province"
    CITY = "city"


class KeyUse(StrEnum):
    SIGN = "sig"  # Ed25519 (SM2 in the sm suite), verifies the party's signatures
    ENCRYPT = "enc"  # X25519 (SM2 in the sm suite), results addressed to the party are encrypted to it


class PublicKey(Contract):
    """One public key of a party, as a JWK (RFC 8037: OKP Ed25519 or X25519; EC SM2 in the sm suite)."""

    kid: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Key id, unique within the party (the signature's kid is '<party code>/<kid>').",
        examples=["2026-12"],
    )
    use: KeyUse
    jwk: dict[str, str] = Field(
        description="Public JWK: kty OKP, crv Ed25519 or X25519, x; in the sm suite kty EC, crv SM2, x, y.",
        examples=[{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}],
    )
    valid_from: AwareDatetime | None = Field(default=None, description="Not valid before (none: always).")
    valid_until: AwareDatetime | None = Field(
        default=None,
        description="Not valid from this moment on "
        "(none: until replaced). Rotation: add the new key, then retire the old.",
    )


class _Party(Contract):
    code: str = Field(min_length=2, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$", description="Registry code.")
    name: str = Field(min_length=1, max_length=100, description="Name as agencies know it.")
    keys: tuple[PublicKey, ...] = Field(
        default=(), description="Public keys (usually from the deployment's key file, merged in at load)."
    )


class Institution(_Party):
    """A designated hospital or pharmacy. Only one opened for cross-region settlement (异地联网)
    may settle directly, and only in its own region, at its registered level, and only the kinds of
    settlement it is opened for (``opened``). Its entry is the directory's record of it (定点医疗机构查询,
    ``contracts.directory``; 002 第十二条, 000 第十八条)."""

    kind: Literal["institution"] = "institution"
    code: InstitutionCode
    region: RegionCode = Field(description="The pooling region it lies in (its treating region).")
    hospital_level: HospitalLevel = Field(description="Registered level: sets deductible and ratio (S-05).")
    category: InstitutionCategory | None = Field(
        default=None,
        description="类别 (000 第十八条): the kind of hospital, "
        "primary-care institution or retail pharmacy; none: not recorded.",
        examples=["general_hospital"],
    )
    address: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="注册地址, the registered address (000 第十八条).",
        examples=["武汉市江汉区中山大道215号"],
    )
    opened: dict[SettlementKind, date] = Field(
        default_factory=dict,
        description="The cross-region direct settlements it is opened for 开通, each from its "
        "date: inpatient 住院, outpatient 普通门诊 (pharmacy purchases included), chronic 门诊慢特病 (002 第十二条; "
        "000 第二十一条). A pharmacy is never opened for inpatient. Absent: see opened_on.",
        examples=[{"inpatient": "2020-01-01", "outpatient": "2021-03-01"}],
    )
    opened_on: date | None = Field(
        default=None,
        description="The earliest date in opened (none: not opened). "
        "Given without opened (an entry from before the directory), it opens every "
        "kind the institution can settle from that date: inpatient, outpatient and "
        "chronic for a hospital, outpatient and chronic for a pharmacy.",
    )

    @model_validator(mode="before")
    @classmethod
    def _opened_from_opened_on(cls, data: Any) -> Any:
        """An entry of before the directory (``opened_on`` only) is opened for every kind it can settle;
        one with ``opened`` only gets ``opened_on`` from it."""
        if not isinstance(data, dict):
            return data
        opened, opened_on = data.get("opened") or {}, data.get("opened_on")
        if not opened and opened_on is not None:
            pharmacy = _is_pharmacy(data.get("code"), data.get("category"), data.get("hospital_level"))
            kinds = PHARMACY_KINDS if pharmacy else tuple(SettlementKind)
            return {**data, "opened": {kind.value: opened_on for kind in kinds}}
        if opened and opened_on is None and isinstance(opened, dict):
            try:
                earliest = min(_as_date(day) for day in opened.values())
            except (TypeError, ValueError):
                return data  # the field's own validation names what is wrong
            return {**data, "opened_on": earliest}
        return data

    @model_validator(mode="after")
    def _opened_is_consistent(self) -> Institution:
        if self.opened and self.opened_on != min(self.opened.values()):
            raise ValueError(
                f"opened_on {self.opened_on} must be the earliest date of opened ({min(self.opened.values())})"
            )
        if SettlementKind.INPATIENT in self.opened and _is_pharmacy(self.code, self.category, self.hospital_level):
            raise ValueError("a pharmacy cannot be opened for inpatient settlement (it has no ward)")
        return self

    def opened_for(self, kind: SettlementKind, day: date) -> bool:
        """Opened for direct settlement of ``kind`` on ``day``."""
        since = self.opened.get(kind)
        return since is not None and since <= day

    def open_on(self, day: date) -> tuple[SettlementKind, ...]:
        """The settlements it is opened for on ``day`` (none: not networked that day)."""
        return tuple(kind for kind in SettlementKind if self.opened_for(kind, day))


def _is_pharmacy(code: Any, category: Any, level: Any) -> bool:
    """A retail pharmacy: its category, its level or its code (P…) says so."""
    return (
        str(category or "") == InstitutionCategory.PHARMACY.value
        or str(level or "") == HospitalLevel.PHARMACY.value
        or str(code or "").startswith("P")
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class Agency(_Party):
    """A handling agency 经办机构: national, provincial or city, with its parent (K-04)."""

    kind: Literal["agency"] = "agency"
    region: RegionCode | None = Field(default=None, description="The region it handles; none for the national level.")
    level: AgencyLevel
    parent: str | None = Field(default=None, description="Registry code of the agency one level up.")


class ServiceParty(_Party):
    """One of the platform's own services (its internal hops, deadlines and published facts)."""

    kind: Literal["service"] = "service"


class Operator(_Party):
    """Who runs the deployment: signs the business-time commands of ``ops.clock.v1`` (a system on the
    controlled clock) and may send nothing else (no authority table names it)."""

    kind: Literal["operator"] = "operator"


class AuthenticationMethod(StrEnum):
    """How a channel authenticated the person it acts for (实名认证)."""

    E_CREDENTIAL = "e_credential"  # 医保电子凭证: the national medical-insurance e-credential
    FACE = "face"  # 人脸识别 against the identity register
    OIDC = "oidc"  # an OpenID Connect provider the channel relies on (a province's identity service)
    ONE_TIME_CODE = "one_time_code"  # a one-time code to the person's registered phone (development)


class Channel(_Party):
    """A channel 线上办理渠道 through which insured persons act themselves: the national service
    platform's app and mini program, a province's app, a portal (000 第九条; 003 二(一)). It signs what
    it sends for a person it has authenticated, and may act only for that person (``PersonAuthentication``,
    carried in each command it sends and checked against its sender): never an agency's act (a decision,
    a suspension, a payment)."""

    kind: Literal["channel"] = "channel"
    methods: tuple[AuthenticationMethod, ...] = Field(
        min_length=1, description="How it authenticates persons; an authentication by any other is refused."
    )
    regions: tuple[RegionCode, ...] = Field(
        default=(),
        description="The insured regions whose persons it serves (a province: every region of it); "
        "empty: every region (the national platform).",
        examples=[["420000"]],
    )
    session_minutes: int = Field(
        default=30, ge=1, le=1440, description="The longest an authentication it vouches for may last."
    )

    def serves(self, region: str) -> bool:
        """It may act for persons insured in ``region``."""
        return not self.regions or any(
            str(r) == region or (str(r).endswith("0000") and str(r)[:2] == region[:2]) for r in self.regions
        )


class PersonAuthentication(Contract):
    """A channel's statement that it authenticated this person (实名认证) for this session: carried in
    every command the channel sends for the person, inside the sealed payload (the ID number never
    travels in clear). The platform accepts the command only from that channel, for that person, within
    the authentication's validity and the channel's session limit, by a method the channel is registered
    for; anything else is refused to the channel as ``UNAUTHORIZED`` (``NOT_AUTHENTICATED_PERSON``)."""

    channel: str = Field(min_length=2, max_length=32, description="Registry code of the channel that authenticated.")
    person_id: PersonId = Field(description="The person authenticated: the command must be about this person.")
    session: str = Field(
        min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$", description="The channel's session id (audit)."
    )
    method: AuthenticationMethod
    authenticated_at: AwareDatetime
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _expires_after(self) -> PersonAuthentication:
        if self.expires_at <= self.authenticated_at:
            raise ValueError("expires_at must be after authenticated_at")
        return self


Party = Annotated[Institution | Agency | ServiceParty | Operator | Channel, Field(discriminator="kind")]


class ParticipantFile(Contract):
    """The shape of ``participants.yaml``."""

    institutions: list[Institution] = Field(default_factory=list)
    agencies: list[Agency] = Field(default_factory=list)
    services: list[ServiceParty] = Field(default_factory=list)
    operators: list[Operator] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)


class ChangeAction(StrEnum):
    UPSERT = "upsert"  # add a party or replace its entry (keys included)
    REMOVE = "remove"  # the party may no longer send anything


class ChangeParty(Contract):
    """Change the participant registry at run time; only the national agency may (003 §5 (三)). v2
    adds ``version``: v1 changes could be replayed (a captured 'add' after a 'remove')."""

    change_id: str = Field(
        min_length=1, max_length=64, description="Idempotency key: a change_id applied once has no second effect."
    )
    action: ChangeAction
    version: int = Field(
        ge=1,
        le=2**53,
        description="The party's registry version after this change: greater "
        "than every earlier change of the same party (the data file's entries are version 0). "
        "A change whose version is not greater than the party's current one, a removal "
        "included, has no effect.",
        examples=[3],
    )
    party: Party | None = Field(default=None, description="The new entry, for upsert.")
    code: str | None = Field(default=None, description="The party removed, for remove.")

    @model_validator(mode="after")
    def _names_its_party(self) -> ChangeParty:
        if (self.action is ChangeAction.UPSERT) != (self.party is not None) or (
            self.action is ChangeAction.REMOVE
        ) != bool(self.code):
            raise ValueError("an upsert carries party (and no code), a remove carries code (and no party)")
        return self

    @property
    def subject(self) -> str:
        """The code of the party changed."""
        return self.party.code if self.party is not None else str(self.code)


class RefusalReason(StrEnum):
    """Why a signed message had no effect (S-19: classified, short, pinpointing the cause)."""

    UNAUTHORIZED = "UNAUTHORIZED"  # this party may not send this command, or not about this subject
    UNKNOWN_REGION = "UNKNOWN_REGION"  # a region code outside the GB/T 2260 pooling regions
    INVALID_MESSAGE = "INVALID_MESSAGE"  # the message does not validate against its contract
    CLOCK_SKEW = "CLOCK_SKEW"  # the time the sender claims lies too far from receipt
    NOT_ADDRESSED = "NOT_ADDRESSED"  # the item is addressed to another agency (000 第八十一条)
    REFUSED_BY_RULE = "REFUSED_BY_RULE"  # a business rule refused it (the message names the rule)
    CONFLICTING_COPY = "CONFLICTING_COPY"  # its event id was already applied with another payload: use a new id


class CommandRefused(Contract):
    """The answer to a sender whose command had no effect (not only a dead letter)."""

    refused_event_id: uuid.UUID = Field(description="event_id of the refused message.")
    topic: str = Field(description="Topic the refused message came on.", examples=["clearing.confirm-period.v1"])
    sender: str = Field(description="Registry code of the sender (the partition key).", examples=["A340200"])
    reason: RefusalReason
    rule: str = Field(default="", description="The rule applied (RULES.md ID or 003 §5).", examples=["C-02"])
    message: str = Field(max_length=2000, description="What exactly is wrong.")
    service: str = Field(description="The service that refused it.", examples=["clearing"])
    code: str = Field(
        default="",
        max_length=40,
        description="A finer classification where the reason has one (e.g. NOT_AUTHENTICATED_PERSON).",
        examples=["NOT_AUTHENTICATED_PERSON"],
    )


PARTY_CHANGES = "parties.change.v2"  # v1 (no version: replayable) is retired; nothing reads it

TOPICS: list[TopicSpec] = [
    TopicSpec(
        PARTY_CHANGES,
        ChangeParty,
        lambda p: "registry",
        "one key, one partition: every instance applies the changes in the order they were made",
        "agency",
        (),
        kind="command",
        partitions=1,
        description="Participant registry change, signed by the national agency. Not consumed by a group: "
        "every instance of every service reads it whole and applies it (runtime.follow).",
    ),
    TopicSpec(
        "party.refused.v1",
        CommandRefused,
        lambda p: p.sender,
        "the sender's code: a party reads its own refusals in order",
        "any",
        ("his", "agency"),
        description="A command that had no effect, answered to its sender with a classified reason.",
    ),
]

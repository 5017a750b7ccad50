"""The HIS API, part 2: what a hospital hears back, on one topic read by every hospital,
``settlement.result.v2``. Its payload :class:`SealedSettlementResult` shows only the routing fields
and carries the full :class:`SettlementResult` (a union discriminated by ``outcome``: completed |
refused | cancelled | refunded | admission_accepted) encrypted to the institution it answers
(003 §5 (三)). The commands it answers are ``contracts.his``; completed, cancelled and refunded are
the public events of ``contracts.settlement`` too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from contracts.envelope import Contract
from contracts.settlement import SettlementCancelled, SettlementCompleted, SettlementRefunded
from contracts.settlement_values import INSTITUTION_KEY_DOC, RefusalCode, institution_key
from contracts.topics import TopicSpec
from contracts.values import EligibilityBasis, InstitutionCode, PersonId


class PartyRefusalCode(StrEnum):
    """Refusals about who asks rather than what is asked (003 §5 (三), S-15, S-19): the sender is not
    the institution, may not settle directly here, or is not the one that made the settlement. A HIS
    hears them on the result topic like a :class:`RefusalCode`; they are kept apart from it because
    the hops between the two places and the manual claim carry ``RefusalCode``, and these codes never
    travel there."""

    NOT_AN_INSTITUTION = "NOT_AN_INSTITUTION"  # the sender is no institution of the registry
    NOT_THIS_INSTITUTION = "NOT_THIS_INSTITUTION"  # the request names another institution
    INSTITUTION_NOT_OPENED = "INSTITUTION_NOT_OPENED"  # not opened (异地联网), or not for this kind that day
    INSTITUTION_REGION_MISMATCH = "INSTITUTION_REGION_MISMATCH"  # treating region is not the institution's
    HOSPITAL_LEVEL_MISMATCH = "HOSPITAL_LEVEL_MISMATCH"  # level differs from the registered one (S-05)
    CLOCK_SKEW = "CLOCK_SKEW"  # the HIS's clock is too far from the platform's
    NOT_YOUR_SETTLEMENT = "NOT_YOUR_SETTLEMENT"  # cancel/refund of another institution's (S-15)


class SettlementRefused(Contract):
    """A refused request, with a classified reason the hospital can show the patient (S-19, S-12)."""

    outcome: Literal["refused"] = "refused"
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    settlement_id: str | None = Field(default=None, description="The settlement concerned, for cancel/refund.")
    code: RefusalCode | PartyRefusalCode = Field(
        description="What the rules refused (RefusalCode) or why the sender may not ask (PartyRefusalCode)."
    )
    title_zh: str = Field(
        description="Short Chinese title of the code, for the screen.", examples=["未办理异地就医备案"]
    )
    message: str = Field(description="What exactly is wrong.", examples=["no valid filing for 420100 on 2025-03-01"])
    line_no: int | None = Field(default=None, description="The fee line at fault, when one is.")
    manual_claim_possible: bool = Field(default=False, description="Pay now and claim at the insured place (S-17).")


class AdmissionAccepted(Contract):
    """入院登记 accepted: the person may be settled at discharge under this basis."""

    outcome: Literal["admission_accepted"] = "admission_accepted"
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    visit_id: str
    eligibility_basis: EligibilityBasis
    trauma_check: bool = False


_RESULT = Annotated[
    SettlementCompleted | SettlementRefused | SettlementCancelled | SettlementRefunded | AdmissionAccepted,
    Field(discriminator="outcome"),
]


class SettlementResult(RootModel[_RESULT]):
    """The full answer to the HIS, sealed inside ``settlement.result.v2`` (its ``sealed`` field): one of
    five outcomes, told apart by ``outcome``. Until v2 it travelled in clear on ``settlement.result.v1``."""

    model_config = ConfigDict(frozen=True)


class ResultOutcome(StrEnum):
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    ADMISSION_ACCEPTED = "admission_accepted"


class _SealedContent:
    """JSON Schema of a sealed string: the JWE, and (``contentSchema``) the model it decrypts to, so that
    the sealed contract is published and its compatibility checked like any other (contracts.schemas)."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    def __get_pydantic_json_schema__(self, core: Any, handler: Any) -> dict:
        schema = handler(core)
        schema.update(contentMediaType="application/jose", contentSchema=handler(self.model.__pydantic_core_schema__))
        return schema


JWE_COMPACT = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"

SealedResult = Annotated[str, Field(pattern=JWE_COMPACT), _SealedContent(SettlementResult)]


class SealedSettlementResult(Contract):
    """What the HIS hears on ``settlement.result.v2`` (003 §5 (三)). Every hospital reads the topic, so
    only what routes the answer is in clear; the answer itself is ``sealed``: a JWE (RFC 7516, compact
    serialisation) with ``alg`` ECDH-ES, ``enc`` A256GCM and ``kid`` ``<institution code>/<key id>``,
    encrypted to the institution's X25519 key of the participant registry. Its plaintext is the UTF-8
    JSON of :class:`SettlementResult`, whose fields repeat the routing fields below (an adapter checks
    they agree: ``runtime.client.open_result``)."""

    institution_code: InstitutionCode = Field(
        description="The institution answered: the only one that can open ``sealed``. Partition key.",
        examples=["H42010200001"],
    )
    request_id: str = Field(
        description="The HIS request answered; for a completed cancel or refund the original "
        "settlement's request id (as inside the seal).",
        examples=["H42010200001-20250312-000123"],
    )
    outcome: ResultOutcome = Field(description="completed | refused | cancelled | refunded | admission_accepted.")
    reversal_request_id: str | None = Field(
        default=None, description="For a completed cancel or refund: the HIS's request id of the cancel or refund."
    )
    sealed: SealedResult = Field(
        description="JWE compact: ECDH-ES + A256GCM to the institution's encryption key; "
        "plaintext: the SettlementResult JSON (schema: contentSchema)."
    )


TOPICS: list[TopicSpec] = [
    TopicSpec(
        "settlement.result.v2",
        SealedSettlementResult,
        institution_key,
        INSTITUTION_KEY_DOC,
        "settlement",
        ("his",),
        description="Outcome to the HIS, sealed to the institution it answers (003 §5 (三)): institution_code, "
        "request_id, outcome and reversal_request_id in clear, the SettlementResult in 'sealed' "
        "(JWE ECDH-ES + A256GCM). Replaces settlement.result.v1, whose results every hospital "
        "could read in clear.",
    ),
]

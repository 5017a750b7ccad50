"""The internal hops of one settlement between the treating place 就医地 and the insured place 参保地
(S-01): both run in the settlement service, one aggregate per person each, and talk only through
these topics. No hospital and no other service reads them.

The treating-place step turns the HIS's fee lines into a :class:`TreatingAssessed` (S-02..S-04); the
insured-place step answers with an :class:`InsuredDecided` (S-05..S-14), or is told to undo a late
decision by :class:`InsuredRollback`. A partial refund (S-15) is a second hop of the same kind:
:class:`RefundAssessed` of the remaining lines, answered by :class:`RefundDecided`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import AwareDatetime, Field, model_validator

from contracts.envelope import Contract
from contracts.settlement_values import (
    PERSON_KEY_DOC,
    AccumulationEntry,
    CategorySplit,
    FeeSplit,
    LineSplit,
    RefusalCode,
    SettlementSlip,
    person_key,
)
from contracts.topics import TopicSpec
from contracts.values import (
    EligibilityBasis,
    FilingCategory,
    HospitalLevel,
    InstitutionCode,
    InsuranceType,
    MedicalType,
    PersonId,
    RegionCode,
)


class TreatingAssessed(Contract):
    """Treating place → insured place (S-01, S-02): what is payable, line by line or by category."""

    settlement_id: str = Field(description="Id of this settlement, uuid5 of the HIS request.")
    request_id: str
    person_id: PersonId
    insurance_type: InsuranceType
    insured_region: RegionCode
    treating_region: RegionCode
    cross_province: bool
    institution_code: InstitutionCode
    hospital_level: HospitalLevel
    medical_type: MedicalType
    eligibility_basis: EligibilityBasis
    filing_category: FilingCategory | None = None
    emergency: bool = False
    trauma_no_third_party: bool = Field(default=False, description="Marked for treating-place checks (S-10).")
    chronic_disease_code: str | None = None
    service_date: date = Field(description="Discharge or visit date; its year is the settlement year (S-14).")
    catalogue_id: str = Field(description="Catalogue applied (S-02/S-03).", examples=["420000"])
    totals: FeeSplit
    categories: list[CategorySplit] = Field(default_factory=list, description="Inpatient: major categories.")
    lines: list[LineSplit] = Field(default_factory=list, description="Outpatient: every line split.")
    answer_by: AwareDatetime | None = Field(
        default=None,
        description="The HIS is answered 'not settled directly' "
        "after this moment; a later insured answer must not settle (S-01).",
    )

    @model_validator(mode="after")
    def _shape(self) -> TreatingAssessed:
        parts = self.categories if self.medical_type is MedicalType.INPATIENT else self.lines
        if not parts:
            raise ValueError("inpatient needs categories, outpatient needs lines (S-04)")
        for field in ("total", "in_scope", "b_class_self_pay", "over_limit_self_pay", "self_paid"):
            if sum((getattr(p, field) for p in parts), Decimal("0.00")) != getattr(self.totals, field):
                raise ValueError(f"{field} of the parts does not add up to the totals (M-01)")
        return self


class InsuredDecided(Contract):
    """Insured place → treating place (S-01, S-05): the money answer, or a refusal."""

    settlement_id: str
    request_id: str
    person_id: PersonId
    decided: bool = Field(description="True with a slip; false with a refusal.")
    slip: SettlementSlip | None = None
    refusal_code: RefusalCode | None = None
    refusal_message: str | None = None
    settlement_year: int = Field(ge=2000, le=2100, description="Year whose policy and accumulations applied (S-14).")
    ratio_applied: Decimal | None = Field(default=None, description="Primary fund ratio after reductions (S-08/S-09).")
    rate_basis: str | None = Field(
        default=None,
        description="Why that ratio: local, referral_emergency, other_temporary, trauma…",
        examples=["other_temporary"],
    )
    accumulation_delta: list[AccumulationEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of(self) -> InsuredDecided:
        if self.decided != (self.slip is not None) or self.decided == (self.refusal_code is not None):
            raise ValueError("a decision carries a slip, a refusal carries a refusal code")
        return self


class InsuredRollback(Contract):
    """Treating place → insured place: undo a decision that came after the HIS was already told
    'not settled directly' (S-01: a settlement never completes behind the hospital's back); with
    ``reversal_id``, undo a partial refund's re-decision the same way (S-15)."""

    settlement_id: str
    person_id: PersonId
    reason: str = Field(examples=["insured place answered after the timeout"])
    reversal_id: str | None = Field(default=None, description="The partial refund to undo, if it is one.")


class RefundAssessed(Contract):
    """Treating place → insured place (S-15, 000 第五十九条): a partial refund 部分退费. The insured
    place rolls back what settlement ``settlement_id`` consumed and decides ``assessment`` (the
    remaining lines) on the rolled-back accumulations, in one write."""

    reversal_id: str = Field(description="Id of the refund.", examples=["R-6d1f0c2a"])
    settlement_id: str = Field(description="The settlement whose lines are refunded.")
    person_id: PersonId
    line_nos: list[int] = Field(min_length=1, description="Lines refunded.")
    assessment: TreatingAssessed = Field(description="The remaining lines, assessed like a settlement.")


class RefundDecided(Contract):
    """Insured place → treating place (S-15): the decision on the remaining lines of a partial
    refund (its accumulation_delta is the replacement's own), or a refusal."""

    reversal_id: str
    settlement_id: str
    person_id: PersonId
    decision: InsuredDecided


TOPICS: list[TopicSpec] = [
    TopicSpec(
        "settlement.treating-assessed.v1",
        TreatingAssessed,
        person_key,
        PERSON_KEY_DOC,
        "settlement",
        ("settlement",),
        personal_key=True,
        description="Treating place → insured place hop (S-01..S-04).",
    ),
    TopicSpec(
        "settlement.insured-decided.v1",
        InsuredDecided,
        person_key,
        PERSON_KEY_DOC,
        "settlement",
        ("settlement",),
        personal_key=True,
        description="Insured place → treating place hop (S-01, S-05).",
    ),
    TopicSpec(
        "settlement.insured-rollback.v1",
        InsuredRollback,
        person_key,
        PERSON_KEY_DOC,
        "settlement",
        ("settlement",),
        personal_key=True,
        description="Internal (S-01): the insured place rolls back a decision the HIS never received.",
    ),
    TopicSpec(
        "settlement.refund-assessed.v1",
        RefundAssessed,
        person_key,
        PERSON_KEY_DOC,
        "settlement",
        ("settlement",),
        personal_key=True,
        description="Internal (S-15): the remaining lines of a partial refund, to the insured place.",
    ),
    TopicSpec(
        "settlement.refund-decided.v1",
        RefundDecided,
        person_key,
        PERSON_KEY_DOC,
        "settlement",
        ("settlement",),
        personal_key=True,
        description="Internal (S-15): the insured place's decision on a partial refund's remaining lines.",
    ),
]

"""The settlement service's public events, and the agencies' commands it reads.

Clearing and prepayment listen to ``settlement.completed.v1`` (:class:`SettlementCompleted`) and
``settlement.reversed.v1`` (:class:`SettlementReversed`: a cancel or a refund, with signed amounts);
the insured place's agency records a person's chronic qualification and groups (S-06, S-13). The
HIS API is ``contracts.his`` (commands) and ``contracts.his_result`` (the answer, which carries the
same completed, cancelled and refunded models); the hops between the treating place and the insured
place are ``contracts.settlement_hops``.

Every amount is yuan with two decimals, written as a string (M-01).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, RootModel

from contracts.envelope import Contract
from contracts.settlement_values import (
    PERSON_KEY_DOC,
    AccumulationEntry,
    ClearingMonth,
    FeeSplit,
    LineSplit,
    RefundKind,
    SettlementSlip,
    SlipDelta,
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
    NonNegativeMoney,
    PersonId,
    RegionCode,
)


# ---------------------------------------------------------------- what clearing and prepayment hear
class _SettlementFacts(Contract):
    settlement_id: str = Field(description="Settlement id.", examples=["S-6d1f0c2a"])
    request_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    hospital_level: HospitalLevel
    insurance_type: InsuranceType
    medical_type: MedicalType
    insured_region: RegionCode
    treating_region: RegionCode
    cross_province: bool
    clearing_month: ClearingMonth = Field(description="Clearing period the amounts belong to (C-01, S-15).")


class SettlementCompleted(_SettlementFacts):
    """A completed settlement with its 附件13 slip (S-04..S-07)."""

    outcome: Literal["completed"] = "completed"
    visit_id: str
    settled_on: date = Field(description="Settlement date; clearing_month is the month after it (C-02).")
    settlement_year: int = Field(ge=2000, le=2100, description="Policy/accumulation year (S-14).")
    eligibility_basis: EligibilityBasis
    filing_category: FilingCategory | None = None
    ratio_applied: Decimal = Field(description="Primary fund ratio applied (S-08/S-09).", examples=["0.70"])
    rate_basis: str = Field(
        description="One of contracts.settlement_values.RateBasis: local | referral_emergency | other_temporary | trauma",
        examples=["local"],
    )
    trauma_check: bool = Field(default=False, description="Trauma without third party: for checks (S-10).")
    chronic_disease_code: str | None = None
    slip: SettlementSlip
    admission_date: date | None = Field(default=None, description="Admission date of a stay (Q-01).")
    discharge_date: date | None = Field(default=None, description="Discharge date of a stay (Q-01).")
    invoice_no: str | None = Field(
        default=None,
        max_length=40,
        description="发票号码 the HIS gave the bill (a "
        "co-investigation names it, 000 第八十条); none: the settlement id stands in.",
    )


class FeeDetailUploaded(Contract):
    """S-18: after an inpatient settlement the treating place uploads the full fee detail, for the insured
    place to query and download: within 3 days of a cross-province one (000 第五十三条), in real time for
    an intra-province one (000 第四十七条; 001 第二十、二十六条)."""

    settlement_id: str
    person_id: PersonId
    institution_code: InstitutionCode
    insured_region: RegionCode
    treating_region: RegionCode
    settled_on: date
    upload_due: date = Field(
        description="Latest upload date: 3 days after a cross-province settlement (000 第五十三条), the day of an "
        "intra-province one (实时, 000 第四十七条)."
    )
    catalogue_id: str = Field(description="Catalogue the lines were split by (S-02/S-03).")
    totals: FeeSplit
    lines: list[LineSplit] = Field(min_length=1, description="Every fee line, split (S-04).")


class SettlementCancelled(_SettlementFacts):
    """撤销 done: the whole slip taken back (S-15)."""

    outcome: Literal["cancelled"] = "cancelled"
    reversal_id: str
    reversal_request_id: str | None = Field(
        default=None,
        description="The HIS's request id of this cancel or refund (request_id is the original settlement's).",
    )
    reversed_on: date
    compensation: SlipDelta = Field(description="Negatives of the original slip.")
    accumulation_delta: list[AccumulationEntry] = Field(default_factory=list, description="Rollback.")


class SettlementRefunded(_SettlementFacts):
    """退费 done (S-15). A partial refund re-settles the remaining lines: compensation is new − original."""

    outcome: Literal["refunded"] = "refunded"
    kind: RefundKind
    reversal_id: str
    reversal_request_id: str | None = Field(
        default=None,
        description="The HIS's request id of this cancel or refund (request_id is the original settlement's).",
    )
    reversed_on: date
    line_nos: list[int] | None = None
    compensation: SlipDelta = Field(description="Signed amounts going into clearing_month.")
    replacement: SettlementSlip | None = Field(default=None, description="Slip of the remaining lines, if any.")
    accumulation_delta: list[AccumulationEntry] = Field(default_factory=list, description="Net counter change.")


_REVERSAL = Annotated[SettlementCancelled | SettlementRefunded, Field(discriminator="outcome")]


class SettlementReversed(RootModel[_REVERSAL]):
    """What clearing and prepayment hear on ``settlement.reversed.v1``: a cancel or a refund."""

    model_config = ConfigDict(frozen=True)


# ---------------------------------------------------------------- the agencies' commands (S-06, S-13)
class ChronicQualificationRecorded(Contract):
    """门诊慢特病资格认定: the insured place records (or withdraws) a person's qualification for a
    chronic/special disease (F-05, S-13); the insured-place step consults it."""

    person_id: PersonId
    insured_region: RegionCode
    disease_code: str = Field(min_length=1, max_length=20, examples=["M03900"])
    qualified: bool = Field(default=True, description="False withdraws the qualification.")
    recorded_at: AwareDatetime


class InsuredGroup(StrEnum):
    """Person groups of the insured place that gate some funds of the slip (S-06): the names the
    policies' ``requires_group`` use."""

    CIVIL_SERVANT = "civil_servant"  # 公务员: 公务员医疗补助
    ASSISTANCE = "assistance"  # 医疗救助对象: 医疗救助


class InsuredPersonRecorded(Contract):
    """The insured place records what it knows of a person besides filings (S-06): the groups that
    open the civil-servant subsidy or medical assistance, and the personal-account balance 个人账户余额
    as of ``recorded_at``. The latest record replaces earlier ones; settlements then debit the
    balance by what they paid from the account (cancels and refunds credit it back)."""

    person_id: PersonId
    insured_region: RegionCode
    groups: list[InsuredGroup] = Field(default_factory=list, description="Groups the person belongs to.")
    personal_account_balance: NonNegativeMoney = Field(description="个人账户余额 at recorded_at.", examples=["300.00"])
    recorded_at: AwareDatetime


TOPICS: list[TopicSpec] = [
    TopicSpec(
        "settlement.chronic-qualification.v1",
        ChronicQualificationRecorded,
        person_key,
        PERSON_KEY_DOC,
        "agency",
        ("settlement",),
        kind="command",
        personal_key=True,
        description="Insured place records a chronic qualification (S-13).",
    ),
    TopicSpec(
        "settlement.insured-person.v1",
        InsuredPersonRecorded,
        person_key,
        PERSON_KEY_DOC,
        "agency",
        ("settlement",),
        kind="command",
        personal_key=True,
        description="Insured place records a person's groups and personal-account balance (S-06).",
    ),
    TopicSpec(
        "settlement.completed.v1",
        SettlementCompleted,
        person_key,
        PERSON_KEY_DOC,
        "settlement",
        ("clearing", "prepayment", "collab", "supervision"),
        personal_key=True,
        description="Completed settlements for clearing, prepayment, co-investigation (Q-01) and fund supervision (R-04).",
    ),
    TopicSpec(
        "settlement.fee-detail.v1",
        FeeDetailUploaded,
        person_key,
        PERSON_KEY_DOC,
        "settlement",
        ("agency", "supervision"),
        personal_key=True,
        description="Full fee detail of a stay, uploaded after settlement (S-18); its lines audited (R-04).",
    ),
    TopicSpec(
        "settlement.reversed.v1",
        SettlementReversed,
        person_key,
        PERSON_KEY_DOC,
        "settlement",
        ("clearing", "prepayment", "settlement", "supervision"),
        personal_key=True,
        description="Cancels and refunds with signed amounts (S-15); the insured place rolls back its accumulations; "
        "supervision takes them out of its indicators.",
    ),
]

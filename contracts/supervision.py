"""Fund supervision 基金监管 contracts: the workflow around a flag 疑点 the smart-audit rules raised on a
completed settlement (R-04; 000 第五十七条, 004 第五十七条).

* The treating place's agency reviews a flag (``supervision.review-flag.v1``): dismisses it 排除, or hands it
  to the insured place 移交参保地. A flag turned into an audit deduction 审核扣款 goes through clearing's own
  command, ``clearing.record-audit-deduction.v1`` (R-04), with ``deduction_id`` :func:`deduction_id_for` the
  flag and the rule as its reason: the supervision service reads that same command and records the step, so
  one signed command both deducts and closes the flag.
* The institution appeals 申诉 a flag of its own settlement (``his.flag-appealed.v1``) within the
  working days :data:`APPEAL_WORKING_DAYS` of its raising (M-02); the treating agency upholds the appeal
  申诉成立 or rejects it (``supervision.decide-appeal.v1``).

Flags are keyed by the treating region (its agency reviews them, in order)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract
from contracts.topics import TopicSpec
from contracts.values import InstitutionCode, RegionCode

APPEAL_WORKING_DAYS = 10
"""申诉期限: working days after a flag is raised (sample setting: no source text fixes it for flags)."""
DEDUCTION_PREFIX = "supervision:"
FLAG_ID = Field(min_length=3, max_length=160, pattern=r"^[^:\s]+:SV-\d{2}$", examples=["S-6d1f0c2a:SV-03"])


def deduction_id_for(flag_id: str) -> str:
    """The ``deduction_id`` of the audit deduction that a flag becomes (clearing.record-audit-deduction.v1)."""
    return f"{DEDUCTION_PREFIX}{flag_id}"


def flag_of_deduction(deduction_id: str) -> str | None:
    """The flag an audit deduction was made from, if it was made from one."""
    return deduction_id[len(DEDUCTION_PREFIX) :] if deduction_id.startswith(DEDUCTION_PREFIX) else None


class ReviewDecision(StrEnum):
    DISMISS = "dismiss"  # 排除: not a violation
    LEAD = "lead"  # 移交参保地: handed to the insured place to follow up


class ReviewFlag(Contract):
    """The treating place's agency reviews a flag of its region (R-04)."""

    flag_id: str = FLAG_ID
    treating_region: RegionCode = Field(description="the treating region whose agency reviews (the flag's)")
    decision: ReviewDecision
    note: str = Field(min_length=1, max_length=500, description="why: shown to the institution and the insured place")
    reviewed_at: AwareDatetime


class AppealFlag(Contract):
    """An institution appeals 申诉 a flag on one of its own settlements, with its reason."""

    flag_id: str = FLAG_ID
    institution_code: InstitutionCode = Field(description="the appealing institution: the flag's own")
    treating_region: RegionCode
    reason: str = Field(min_length=1, max_length=500)
    appealed_at: AwareDatetime


class DecideAppeal(Contract):
    """The treating place's agency upholds (申诉成立: the flag is withdrawn) or rejects an appeal."""

    flag_id: str = FLAG_ID
    treating_region: RegionCode
    upheld: bool
    note: str = Field(min_length=1, max_length=500)
    decided_at: AwareDatetime


class FlagChanged(Contract):
    """A flag raised, or one step of its workflow done (R-04): what agencies follow, and the console's
    confirmation that a review, deduction, appeal or decision took effect. No person in it."""

    flag_id: str = FLAG_ID
    rule_id: str
    settlement_id: str
    institution_code: InstitutionCode
    insured_region: RegionCode
    treating_region: RegionCode
    action: str = Field(description="raised, dismissed, lead, deducted, appealed, upheld or rejected")
    status: str = Field(description="the flag's status after the step")
    by: str = Field(description="the registry code of the party that signed the step")
    at: AwareDatetime


def _treating(payload: object) -> str:
    return str(payload.treating_region)  # type: ignore[attr-defined]


_KEY_DOC = "treating_region: one region's flag reviews stay in order"

TOPICS: list[TopicSpec] = [
    TopicSpec(
        "supervision.flag-changed.v1",
        FlagChanged,
        _treating,
        _KEY_DOC,
        "supervision",
        ("agency",),
        description="R-04 a flag raised by the smart-audit rules, or a step of its workflow",
    ),
    TopicSpec(
        "supervision.review-flag.v1",
        ReviewFlag,
        _treating,
        _KEY_DOC,
        "agency",
        ("supervision",),
        kind="command",
        description="R-04 the treating place's agency dismisses a flag or hands it to the insured place",
    ),
    TopicSpec(
        "his.flag-appealed.v1",
        AppealFlag,
        _treating,
        _KEY_DOC,
        "his",
        ("supervision",),
        kind="command",
        description="R-04 an institution appeals a flag on its own settlement (申诉)",
    ),
    TopicSpec(
        "supervision.decide-appeal.v1",
        DecideAppeal,
        _treating,
        _KEY_DOC,
        "agency",
        ("supervision",),
        kind="command",
        description="R-04 the treating place's agency upholds or rejects an appeal of a flag",
    ),
]

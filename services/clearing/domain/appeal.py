"""Appeals 申诉 of audit deductions (R-04; 000 第五十七、五十八条; 004 第四十一条 "错误的违规扣除费用" paid
back): pure decisions on the ``appeals`` aggregate, one per deduction record (keyed ``settlement:deduction``).

An institution appeals a deduction of one of its own settlements: the record must be in clearing's archive,
its settlement the institution's, and it must be the record in force (a correction replaces what it
corrects, so the correction is what is appealed) and deduct something. Whatever is wrong, the refusal says
only that the institution has no such deduction: it learns nothing of another's.

The treating place answers: upheld, the deduction stands; withdrawn, it is taken back by a new record
correcting the one in force to nothing (M-03: nothing deleted; the ledger takes its amounts out, as for
any correction). Where that pay-back goes (C-02): into the period of the record it corrects while that
period is not generated, so the deduction never reaches the month's figures; once generated, into the
first period not generated yet (R-05 补支 "纳入下一期清算"), like any late entry. Either way the pair's
periods together count the deduction exactly zero times, and the institution's ``owed`` shows the pay-back
in the month it enters.

The seeds set no appeal deadline (000, 001, 004 speak of none for deductions), so none is applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.clearing import (
    AnswerDeductionAppeal,
    AppealDeduction,
    AppealOutcome,
    AppealStatus,
    DeductionAppealRecorded,
    EntryKind,
    FundAmounts,
)
from contracts.values import RegionCode
from services.outcome import Decision

from .ledger import ZERO, LedgerEntry

WITHDRAWAL_PREFIX = "withdrawn:"  # the ref of a pay-back record: one per appeal


class AppealRefused(ValueError):
    """R-04: an appeal or answer that does not fit what clearing holds (answered to its sender)."""


class Appeal(BaseModel):
    """One appealed deduction record and its answer (the ``appeals`` aggregate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    appeal_id: str
    institution_code: str
    treating_region: RegionCode
    insured_region: RegionCode
    settlement_id: str
    deduction_id: str
    deducted: FundAmounts
    reason: str
    lodged_at: AwareDatetime
    status: AppealStatus = AppealStatus.LODGED
    answer: str | None = None
    answered_by: str | None = None
    answered_at: AwareDatetime | None = None
    answer_event: str | None = None
    paid_back_in: str | None = None
    version: int = 0

    def view(self, at: datetime) -> DeductionAppealRecorded:
        return DeductionAppealRecorded(
            appeal_id=self.appeal_id,
            institution_code=self.institution_code,
            treating_region=self.treating_region,
            insured_region=self.insured_region,
            settlement_id=self.settlement_id,
            deduction_id=self.deduction_id,
            status=self.status,
            deducted=self.deducted,
            reason=self.reason,
            answer=self.answer,
            paid_back_in=self.paid_back_in,
            recorded_at=at,
        )


def key(settlement_id: str, deduction_id: str) -> str:
    return f"{settlement_id}:{deduction_id}"


def _not_yours(institution: str, settlement_id: str, deduction_id: str) -> AppealRefused:
    # one answer for "no such deduction" and "another institution's": nothing is learnt of others
    return AppealRefused(
        f"R-04: {institution} has no audit deduction {deduction_id} of settlement "
        f"{settlement_id} in the clearing archive"
    )


def appealable(cmd: AppealDeduction, lines: Iterable[dict]) -> dict:
    """The archived deduction record ``cmd`` appeals, checked (see the module's text), or ``AppealRefused``.
    ``lines``: the archived lines of the settlement, as stored."""
    lines = list(lines)
    settlement = next((d for d in lines if d.get("kind") == EntryKind.SETTLEMENT.value), None)
    record = next(
        (d for d in lines if d.get("kind") == EntryKind.AUDIT_DEDUCTION.value and d.get("ref") == cmd.deduction_id),
        None,
    )
    if settlement is None or record is None or settlement.get("institution_code") != cmd.institution_code:
        raise _not_yours(cmd.institution_code, cmd.settlement_id, cmd.deduction_id)
    corrected = next(
        (
            d.get("ref")
            for d in lines
            if d.get("kind") == EntryKind.AUDIT_DEDUCTION.value and d.get("corrects") == cmd.deduction_id
        ),
        None,
    )
    if corrected:
        raise AppealRefused(f"R-05: deduction {cmd.deduction_id} is corrected by {corrected}; appeal that record")
    if not any(Decimal(str(a)) > ZERO for a in record["amounts"]["funds"].values()):
        raise AppealRefused(f"R-04: record {cmd.deduction_id} deducts nothing (a pay-back): nothing to appeal")
    return record


def lodge(state: Appeal | None, cmd: AppealDeduction, record: dict, now: datetime) -> Decision[Appeal]:
    """R-04: the appeal recorded (receipt time), once per deduction record."""
    if state is not None:
        raise AppealRefused(
            f"R-04: deduction {cmd.deduction_id} of settlement {cmd.settlement_id} is already "
            f"appealed ({state.appeal_id}, {state.status.value})"
        )
    appeal = Appeal(
        appeal_id=cmd.appeal_id,
        institution_code=cmd.institution_code,
        treating_region=record["treating_region"],
        insured_region=record["insured_region"],
        settlement_id=cmd.settlement_id,
        deduction_id=cmd.deduction_id,
        deducted=FundAmounts.model_validate(record["amounts"]),
        reason=cmd.reason,
        lodged_at=now,
        version=1,
    )
    return Decision(appeal, [appeal.view(now)], [])


def check_answer(state: Appeal | None, cmd: AnswerDeductionAppeal) -> Appeal:
    """R-04: the open appeal ``cmd`` answers, or ``AppealRefused``. The answering agency's authority is checked
    on the payload's treating region (``authority.py``); here that region must be the deduction's."""
    if state is None or state.appeal_id != cmd.appeal_id or state.institution_code != cmd.institution_code:
        raise AppealRefused(
            f"R-04: no appeal {cmd.appeal_id} of deduction {cmd.deduction_id} of settlement "
            f"{cmd.settlement_id} by {cmd.institution_code}"
        )
    if state.treating_region != cmd.treating_region:
        raise AppealRefused(
            f"R-04: the deduction was made by {state.treating_region}'s audit, not {cmd.treating_region}'s"
        )
    if state.status is not AppealStatus.LODGED:
        raise AppealRefused(f"R-04: appeal {state.appeal_id} is already answered ({state.status.value})")
    return state


def withdrawal(appeal: Appeal, history: Iterable[LedgerEntry], day: date) -> LedgerEntry:
    """R-04/R-05: the record that takes the appealed deduction back: a correction to nothing of the record
    in force of its chain (the appealed one, or a correction made of it since)."""
    deductions = [h for h in history if h.kind is EntryKind.AUDIT_DEDUCTION]
    corrected_by = {d.corrects: d.ref for d in deductions if d.corrects}
    current = appeal.deduction_id
    while current in corrected_by:
        current = corrected_by[current]
    return LedgerEntry(
        settlement_id=appeal.settlement_id,
        kind=EntryKind.AUDIT_DEDUCTION,
        ref=f"{WITHDRAWAL_PREFIX}{appeal.appeal_id}",
        insured_region=appeal.insured_region,
        treating_region=appeal.treating_region,
        business_day=day,
        corrects=current,
        amounts=FundAmounts(insurance_type=appeal.deducted.insurance_type, funds={}),
    )


def answer(
    state: Appeal | None,
    cmd: AnswerDeductionAppeal,
    answerer: str,
    event_id: str,
    paid_back_in: str | None,
    now: datetime,
) -> Decision[Appeal]:
    """R-04: the answer recorded; withdrawn, with the month its pay-back entered (``paid_back_in``)."""
    appeal = check_answer(state, cmd)
    status = AppealStatus.WITHDRAWN if cmd.outcome is AppealOutcome.WITHDRAWN else AppealStatus.UPHELD
    new = appeal.model_copy(
        update={
            "status": status,
            "answer": cmd.reason,
            "answered_by": answerer,
            "answered_at": now,
            "answer_event": event_id,
            "paid_back_in": paid_back_in,
            "version": appeal.version + 1,
        }
    )
    return Decision(new, [new.view(now)], [])


__all__ = [
    "Appeal",
    "AppealRefused",
    "WITHDRAWAL_PREFIX",
    "answer",
    "appealable",
    "check_answer",
    "key",
    "lodge",
    "withdrawal",
]

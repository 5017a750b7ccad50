"""An institution's money as clearing holds it (R-01..R-04, C-07; 000 第五十四、五十五、五十七、五十八、六十九条):
pure views over the archived lines (M-03), the reconciliations, the appeals and the notice, for the
institution's own queries (``query.py``).

* By day (R-01/R-02): the settlements it made in a month, per day the count, the total, the funds' amounts
  and the personal cash, and where the day's reconciliation stands.
* Owed for a clearing month (C-07, R-04): what its settlements cleared that month put on the funds, less
  the refunds cleared that month and the audit deduction lines the month carries — deductions, their
  corrections and the pay-backs of deductions withdrawn on appeal (``appeal.py``). These are the lines the
  pair ledgers summed, restricted to the institution, so the institution's figures add up to the treating
  region's receivable (M-01: Decimal throughout, sums of the lines).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from contracts.clearing import (
    DayReconciliation,
    EntryKind,
    InstitutionDay,
    InstitutionOwedAnswer,
    InstitutionPayment,
    InstitutionSettlementsAnswer,
    Obligation,
    OwedDeduction,
)

from .appeal import WITHDRAWAL_PREFIX, Appeal
from .ledger import ZERO
from .obligations import NoticeState
from .reconciliation import Reconciliation

SETTLEMENT, REFUND, DEDUCTION = (k.value for k in (EntryKind.SETTLEMENT, EntryKind.REFUND, EntryKind.AUDIT_DEDUCTION))


def funds_of(amounts: dict | None) -> Decimal:
    """Σ of an archived ``amounts`` (funds stored as yuan text)."""
    if not amounts:
        return ZERO
    return sum((Decimal(str(a)) for a in amounts.get("funds", {}).values()), ZERO)


def _optional_sum(lines: list[dict], field: str) -> Decimal | None:
    """Σ ``field`` of the lines, or None when one of them was archived without it."""
    values = [line.get(field) for line in lines]
    if any(v is None for v in values):
        return None
    return sum((Decimal(str(v)) for v in values), ZERO)


def settlements_by_day(
    institution: str, month: str, lines: Iterable[dict], recs: Iterable[Reconciliation], now: datetime
) -> InstitutionSettlementsAnswer:
    """R-01/R-02: the institution's settlements of ``month`` by day, each with its reconciliation. A day its
    HIS reported without any settlement on the platform's side appears too (with zeros)."""
    by_day: dict[date, list[dict]] = {}
    for line in lines:
        if line.get("kind") == SETTLEMENT and line.get("institution_code") == institution:
            by_day.setdefault(date.fromisoformat(line["business_day"]), []).append(line)
    states = {r.day: r for r in recs if r.institution_code == institution and r.day.strftime("%Y-%m") == month}
    days = []
    for day in sorted(set(by_day) | set(states)):
        day_lines, rec = by_day.get(day, []), states.get(day)
        days.append(
            InstitutionDay(
                day=day,
                settlements=len(day_lines),
                total=_optional_sum(day_lines, "total"),
                fund=sum((funds_of(line["amounts"]) for line in day_lines), ZERO),
                personal_cash=_optional_sum(day_lines, "personal_cash"),
                reconciliation=_state(rec),
                resolve_by=rec.resolve_by if rec is not None else None,
            )
        )
    totals = [d.total for d in days]
    cash = [d.personal_cash for d in days]
    return InstitutionSettlementsAnswer(
        institution_code=institution,
        month=month,
        as_of=now,
        days=days,
        settlements=sum(d.settlements for d in days),
        fund=sum((d.fund for d in days), ZERO),
        total=None if any(t is None for t in totals) else sum((t for t in totals if t is not None), ZERO),
        personal_cash=None if any(c is None for c in cash) else sum((c for c in cash if c is not None), ZERO),
    )


def _state(rec: Reconciliation | None) -> DayReconciliation:
    if rec is None or rec.his is None:  # only insured places reported: the HIS has not reconciled the day
        return DayReconciliation.NOT_RECONCILED
    return DayReconciliation(rec.status.value)


def deduction_amount(line: dict) -> Decimal:
    """What one archived deduction line takes from the amount owed: its amounts, less those of the record it
    replaces (a correction; a pay-back replaces them with nothing, so it is negative)."""
    return funds_of(line.get("amounts")) - funds_of(line.get("replaces"))


def owed(
    institution: str,
    region: str,
    month: str,
    lines: Iterable[dict],
    appeals: Iterable[Appeal],
    notice: NoticeState | None,
    now: datetime,
) -> InstitutionOwedAnswer:
    """C-07/R-04: what the treating place owes the institution for clearing month ``month`` (``lines``: its
    archived lines of that clearing month; ``appeals``: its appeals; ``notice``: its region's notice)."""
    mine = [
        line for line in lines if line.get("institution_code") == institution and line.get("clearing_month") == month
    ]
    by_record = {(a.settlement_id, a.deduction_id): a for a in appeals}
    by_id = {a.appeal_id: a for a in appeals}
    settled = sum((funds_of(line["amounts"]) for line in mine if line["kind"] == SETTLEMENT), ZERO)
    refunded = sum((funds_of(line["amounts"]) for line in mine if line["kind"] == REFUND), ZERO)
    deductions = []
    for line in sorted((x for x in mine if x["kind"] == DEDUCTION), key=lambda x: (x["settlement_id"], x["ref"])):
        ref = line["ref"]
        appeal = (
            by_id.get(ref.removeprefix(WITHDRAWAL_PREFIX))
            if ref.startswith(WITHDRAWAL_PREFIX)
            else by_record.get((line["settlement_id"], ref))
        )
        deductions.append(
            OwedDeduction(
                deduction_id=ref,
                settlement_id=line["settlement_id"],
                amount=deduction_amount(line),
                reason=line.get("reason", ""),
                rule="R-05" if line.get("corrects") else "R-04",
                corrects=line.get("corrects") or None,
                appeal=appeal.view(appeal.answered_at or appeal.lodged_at) if appeal is not None else None,
            )
        )
    deducted = sum((d.amount for d in deductions), ZERO)
    return InstitutionOwedAnswer(
        institution_code=institution,
        treating_region=region,
        clearing_month=month,
        as_of=now,
        settled=settled,
        refunded=refunded,
        deductions=deductions,
        deducted=deducted,
        net_owed=settled - refunded - deducted,
        payment=_payment(notice),
    )


def _payment(notice: NoticeState | None) -> InstitutionPayment:
    """C-07: the notice's issue and the city's payment of its institutions, as clearing recorded them."""
    if notice is None:
        return InstitutionPayment()
    step = Obligation.INSTITUTIONS_PAID
    return InstitutionPayment(
        notice_issued_at=notice.notice.get("issued_at"),
        pay_by=notice.due.get(step),
        paid_recorded_at=notice.done.get(step),
        breached=step in notice.breached,
    )


__all__ = ["deduction_amount", "funds_of", "owed", "settlements_by_day"]

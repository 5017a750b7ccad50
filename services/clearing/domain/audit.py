"""Audit deductions 审核扣款 (R-04, R-05; 000 第五十七、五十八、七十一条; 004 第四十一条): pure checks.

A deduction names the settlement it reduces. It is accepted only if clearing has that settlement
in its archive, for the same (insured, treating) pair and insurance type, and if, fund by fund, the
deductions in force on the settlement (the latest record of each correction chain, this one
included) do not exceed what the fund paid for it (the settlement minus its refunds). A deduction
may reach back to a settlement of any earlier month (004 第四十一条 "可以追溯已结算费用") and need not
match prescription lines (it is per fund).

A correction is a new record naming the one it corrects (M-03: nothing deleted); its amounts replace
the corrected one's in full, so the ledger takes out the old amounts and puts in the new: more is a
further deduction 补扣, less a pay-back 补支 of "错误的违规扣除费用" (004 第四十一条). One record can be
corrected once; a second change corrects the correction.

Period (R-04, 000 第五十七条 "每月16日前…确认后纳入清算"): a result confirmed (received) by the end of
the 16th enters the period generated on that month's 21st; later, the next month's. If that period is
already generated, the first one not yet generated takes it (R-05 补扣补支 "纳入下一期清算"). The day is
the treating region's (``kernel.clearing_calendar``: Wuhu and Liaoning audit by the 20th, 001 第三十二条,
004 第四十一条).

Who audits (R-04, 001 第三十条): cross-province costs the treating place, against its own scope;
intra-province costs the treating place too unless the insured region's text gives them to the insured
place (Wuhu: "省内异地就医发生的医疗费用由参保地经办机构…审核"). ``auditor_region`` says which; the
authority table refuses a deduction from the other side's agency with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from contracts.clearing import EntryKind, FundAmounts
from kernel.clearing_calendar import Auditor, calendars
from runtime.calendar import business_date

from .ledger import ZERO, LedgerEntry
from .period import next_month


class AuditRefused(Exception):
    """R-04: a deduction that does not fit the settlement it names; answered to its sender."""


def audit_month(received_at: datetime, auditor: str | None = None) -> str:
    """R-04: the clearing month a deduction confirmed at ``received_at`` enters first (by the audit day of the
    region that audits, ``auditor_region``: the 16th, Wuhu and Liaoning the 20th)."""
    day = business_date(received_at)
    label = f"{day.year:04d}-{day.month:02d}"
    by = calendars().value("audit_confirmation_day", auditor, day)
    return label if day.day <= by else next_month(label)


def auditor_region(insured: str, treating: str, on: date) -> str:
    """R-04: the region whose agency audits the pair's costs: the treating one, or for intra-province costs
    the insured one where its text says so (Wuhu, 001 第三十条)."""
    if insured[:2] != treating[:2]:
        return treating
    return insured if calendars().auditor(insured, on) is Auditor.INSURED else treating


def check_deduction(entry: LedgerEntry, history: Iterable[LedgerEntry]) -> LedgerEntry:
    """R-04: ``entry`` (a deduction or a correction) checked against the archived lines of its
    settlement (``history``: the settlement, its refunds, earlier deductions). Returns the entry as
    the ledger records it (a correction carries the amounts it replaces); raises ``AuditRefused``
    with the reason otherwise."""
    if entry.kind is not EntryKind.AUDIT_DEDUCTION:
        raise ValueError("only audit deductions are checked")
    history = list(history)
    sid = entry.settlement_id
    settlements = [h for h in history if h.kind is EntryKind.SETTLEMENT]
    if not settlements:
        raise AuditRefused(f"R-04: settlement {sid} is not in the clearing archive: nothing to deduct from")
    settlement = settlements[0]
    if (settlement.insured_region, settlement.treating_region) != (entry.insured_region, entry.treating_region):
        raise AuditRefused(
            f"R-04: settlement {sid} is of {settlement.insured_region}->{settlement.treating_region}, "
            f"not {entry.insured_region}->{entry.treating_region}"
        )
    if settlement.amounts.insurance_type is not entry.amounts.insurance_type:
        raise AuditRefused(
            f"R-04: settlement {sid} is of insurance type {settlement.amounts.insurance_type.value}, "
            f"not {entry.amounts.insurance_type.value}"
        )
    deductions = [h for h in history if h.kind is EntryKind.AUDIT_DEDUCTION]
    corrected_by = {d.corrects: d.ref for d in deductions if d.corrects}
    replaces: FundAmounts | None = None
    if entry.corrects:
        target = next((d for d in deductions if d.ref == entry.corrects), None)
        if target is None:
            raise AuditRefused(
                f"R-04: deduction {entry.corrects} of settlement {sid} is not in the archive: nothing to correct"
            )
        if entry.corrects in corrected_by:
            raise AuditRefused(
                f"M-03: deduction {entry.corrects} is already corrected by "
                f"{corrected_by[entry.corrects]}; correct that record instead"
            )
        replaces = target.amounts
    elif not any(a > ZERO for a in entry.amounts.funds.values()):
        raise AuditRefused("R-04: a deduction of nothing (a pay-back corrects an earlier deduction)")
    in_force = [d for d in deductions if d.ref not in corrected_by and d.ref != entry.corrects] + [entry]
    paid = _per_fund([settlement], [h for h in history if h.kind is EntryKind.REFUND])
    deducted = _per_fund(in_force, [])
    over = {fund: (amount, paid.get(fund, ZERO)) for fund, amount in deducted.items() if amount > paid.get(fund, ZERO)}
    if over:
        detail = ", ".join(f"{fund}: {amount} > {fund_paid}" for fund, (amount, fund_paid) in sorted(over.items()))
        raise AuditRefused(f"R-04: deductions on settlement {sid} would exceed what the fund paid ({detail})")
    return entry.model_copy(update={"replaces": replaces})


def _per_fund(plus: Iterable[LedgerEntry], minus: Iterable[LedgerEntry]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for sign, entries in ((1, plus), (-1, minus)):
        for e in entries:
            for fund, amount in e.amounts.funds.items():
                sums[fund.value] = sums.get(fund.value, ZERO) + sign * amount
    return sums


__all__ = ["AuditRefused", "audit_month", "auditor_region", "check_deduction"]

"""Cancels 撤销 and refunds 退费 (S-15): which are allowed, their signed amounts, the accumulation
rollback and the clearing month they go into.

Limits (004 第三十四条): a recall/re-settlement 召回重结 never happens after clearing between agencies.
Intra-province that is the only limit; cross-province (as treating place) a discharged stay is also
recalled only before the institution's monthly settlement, and never skipping over a later settlement
(不得隔次召回). General outpatient also has the special refunds of 000 第五十九条: non-latest 隔笔,
previous-year 跨年 and after-clearing 清算后; the last flows into the next open clearing period as
negative amounts (S-15, C-05).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from contracts.settlement import SettlementCancelled, SettlementCompleted, SettlementRefunded
from contracts.settlement_values import FundDelta, RefundKind, RefusalCode, SettlementSlip, SlipDelta
from contracts.values import MedicalType
from services.settlement.domain.accumulations import AccumulationDelta
from services.settlement.domain.insured import InsuredAnswer
from services.settlement.domain.refusal import Refused
from services.settlement.domain.treating import SettlementRequest

ZERO = Decimal("0.00")
SPECIAL_REFUND_TYPES = frozenset({MedicalType.GENERAL_OUTPATIENT, MedicalType.PHARMACY})
"""Who gets 隔笔/跨年/清算后 refunds: general outpatient (000 第五十九条), pharmacy purchases with it."""
_AMOUNTS = (
    "total",
    "in_scope",
    "b_class_self_pay",
    "over_limit_self_pay",
    "self_paid",
    "deductible_applied",
    "fund_total",
    "personal_account",
    "personal_cash",
)


@dataclass(frozen=True)
class SettlementRecord:
    """What the lead keeps per settlement: the completed fact, the request (for partial refunds)
    and the accumulation delta it applied."""

    completed: SettlementCompleted
    request: SettlementRequest
    delta: AccumulationDelta
    reversed: bool = False


@dataclass(frozen=True)
class ReversalContext:
    """Facts the lead looks up for a reversal."""

    today: date
    hospital_month_settled: bool  # the institution's monthly settlement 月结 already holds it
    cleared: bool  # its clearing period is closed between agencies
    is_latest: bool  # no later settlement of the person at this institution
    next_open_clearing_month: str  # where after-clearing refunds go (S-15)


# ---------------------------------------------------------------- what is allowed
def _check_recall(record: SettlementRecord, ctx: ReversalContext) -> None:
    """Re-settlement limits for a stay or any cancel (S-15; 004 第三十四条): "省内异地就医时，经办机构间已
    完成费用清算的，不予召回重结" is the only intra-province limit; cross-province adds the monthly
    settlement and no skipping recall."""
    if record.reversed:
        raise Refused(
            RefusalCode.ALREADY_REVERSED,
            f"settlement {record.completed.settlement_id} was already cancelled or fully refunded",
        )
    if ctx.cleared:
        raise Refused(
            RefusalCode.RESETTLE_AFTER_CLEARING,
            "already cleared between agencies: no recall or "
            "re-settlement; general outpatient may use an after_clearing refund (S-15)",
        )
    special = record.completed.medical_type in SPECIAL_REFUND_TYPES
    if special and not ctx.is_latest:
        raise Refused(RefusalCode.REFUND_KIND_MISMATCH, "a later settlement exists: use a non_latest refund")
    if record.completed.cross_province and not special:
        _check_cross_province_recall(record, ctx)


def _check_cross_province_recall(record: SettlementRecord, ctx: ReversalContext) -> None:
    """004 第三十四条, 跨省: "应在定点医药机构月结算之前完成，但不得隔次召回"."""
    if record.completed.medical_type is MedicalType.INPATIENT and ctx.hospital_month_settled:
        raise Refused(
            RefusalCode.RECALL_AFTER_MONTHLY_SETTLEMENT,
            "the hospital's monthly settlement already holds this cross-province stay: no recall (004 第三十四条)",
        )
    if not ctx.is_latest:
        raise Refused(
            RefusalCode.RECALL_NOT_LATEST,
            "a later settlement exists: no skipping recall 不得隔次召回 across provinces (004 第三十四条)",
        )


def check_refund_kind(record: SettlementRecord, ctx: ReversalContext, kind: RefundKind) -> None:
    """The kind named must fit the settlement's state (S-15)."""
    facts = record.completed
    if kind is RefundKind.ORDINARY:
        _check_recall(record, ctx)
        if facts.settled_on.year < ctx.today.year and facts.medical_type in SPECIAL_REFUND_TYPES:
            raise Refused(RefusalCode.REFUND_KIND_MISMATCH, "settled in an earlier year: use a previous_year refund")
        return
    if facts.medical_type not in SPECIAL_REFUND_TYPES:
        code = RefusalCode.RESETTLE_AFTER_CLEARING if ctx.cleared else RefusalCode.REFUND_NOT_OUTPATIENT
        raise Refused(
            code,
            f"{kind} refunds are for general outpatient only (000 第五十九条); "
            f"{facts.medical_type} follows the recall limits of 004 第三十四条",
        )
    if record.reversed:
        raise Refused(RefusalCode.ALREADY_REVERSED, f"settlement {facts.settlement_id} was already reversed")
    expected = _special_kind(record, ctx)
    if kind is not expected:
        raise Refused(RefusalCode.REFUND_KIND_MISMATCH, f"this settlement calls for a {expected} refund, not {kind}")


def _special_kind(record: SettlementRecord, ctx: ReversalContext) -> RefundKind:
    if ctx.cleared:
        return RefundKind.AFTER_CLEARING
    if record.completed.settled_on.year < ctx.today.year:
        return RefundKind.PREVIOUS_YEAR
    return RefundKind.ORDINARY if ctx.is_latest else RefundKind.NON_LATEST


def clearing_month_for(record: SettlementRecord, ctx: ReversalContext, kind: RefundKind | None) -> str:
    """Before clearing the reversal nets out in the original period; after it, the next open one (S-15)."""
    return ctx.next_open_clearing_month if kind is RefundKind.AFTER_CLEARING else record.completed.clearing_month


# ---------------------------------------------------------------- amounts
def slip_delta(before: SettlementSlip | None, after: SettlementSlip | None) -> SlipDelta:
    """after − before, amount by amount and fund by fund (a missing slip counts as zero)."""

    def get(slip: SettlementSlip | None, name: str) -> Decimal:
        return getattr(slip, name) if slip is not None else ZERO

    names: dict = {}
    sums: dict = {}
    for sign, slip in ((-1, before), (1, after)):
        for fund in slip.funds if slip is not None else ():
            names.setdefault(fund.code, fund.name)
            sums[fund.code] = sums.get(fund.code, ZERO) + sign * fund.amount
    return SlipDelta(
        **{n: get(after, n) - get(before, n) for n in _AMOUNTS},
        funds=[FundDelta(code=c, name=names[c], amount=a) for c, a in sums.items()],
    )


def cancel(record: SettlementRecord, ctx: ReversalContext, reversal_id: str) -> SettlementCancelled:
    """撤销: the whole slip taken back and the accumulations rolled back (S-15)."""
    _check_recall(record, ctx)
    facts = record.completed
    return SettlementCancelled(
        **_facts(facts),
        clearing_month=clearing_month_for(record, ctx, None),
        reversal_id=reversal_id,
        reversed_on=ctx.today,
        compensation=slip_delta(facts.slip, None),
        accumulation_delta=record.delta.negated().entries(),
    )


def refund(
    record: SettlementRecord,
    ctx: ReversalContext,
    kind: RefundKind,
    reversal_id: str,
    line_nos: list[int] | None = None,
    replacement: InsuredAnswer | None = None,
) -> SettlementRefunded:
    """退费: the whole settlement, or some lines with the rest re-settled in ``replacement`` (computed by
    ``decide`` on the remaining lines with the rolled-back accumulations). Net amounts go into the
    clearing month that fits the kind (S-15)."""
    check_refund_kind(record, ctx, kind)
    if (line_nos is None) != (replacement is None):
        raise ValueError("a partial refund comes with the re-settlement of the remaining lines, a whole one without")
    facts = record.completed
    net = record.delta.negated()
    if replacement is not None:
        net = net.then(replacement.delta)
    return SettlementRefunded(
        **_facts(facts),
        clearing_month=clearing_month_for(record, ctx, kind),
        kind=kind,
        reversal_id=reversal_id,
        reversed_on=ctx.today,
        line_nos=line_nos,
        compensation=slip_delta(facts.slip, replacement.slip if replacement else None),
        replacement=replacement.slip if replacement else None,
        accumulation_delta=net.entries(),
    )


def remaining_request(request: SettlementRequest, line_nos: list[int]) -> SettlementRequest | None:
    """The request without the refunded lines, to re-settle; None when nothing remains."""
    known = {line.line_no for line in request.fee_lines}
    unknown = sorted(set(line_nos) - known)
    if unknown:
        raise Refused(RefusalCode.INVALID_REQUEST, f"refund names lines {unknown} that the settlement does not have")
    kept = [line for line in request.fee_lines if line.line_no not in set(line_nos)]
    return request.model_copy(update={"fee_lines": kept}) if kept else None


def after_refund(
    record: SettlementRecord,
    refunded: SettlementRefunded,
    replacement: InsuredAnswer | None,
    remaining: SettlementRequest | None,
) -> SettlementRecord:
    """The record to keep after a refund: the remaining slip becomes current, or the record is closed."""
    if replacement is None or remaining is None:
        return replace(record, reversed=True)
    completed = record.completed.model_copy(update={"slip": replacement.slip})
    return SettlementRecord(completed, remaining, replacement.delta)


def _facts(facts: SettlementCompleted) -> dict:
    keep = (
        "settlement_id",
        "request_id",
        "person_id",
        "institution_code",
        "hospital_level",
        "insurance_type",
        "medical_type",
        "insured_region",
        "treating_region",
        "cross_province",
    )
    return {name: getattr(facts, name) for name in keep}

"""Completed settlements built to order for the supervision tests (unit and wire): a slip of the given
total, fund and fully self-paid amounts, an outpatient visit or a stay; a stay's fee detail (S-18) of
given lines; a cancel or a refund of a settlement (S-15)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from contracts.settlement import FeeDetailUploaded, SettlementCompleted, SettlementReversed
from contracts.settlement_values import FundAmount, LineSplit, SettlementSlip, SlipDelta
from kernel.clearing_month import clearing_month_of

WUHU, WUHAN = "340200", "420100"
HOSPITAL = "H42010200001"  # a Wuhan hospital of the sample registry
PERSON = "11010519491231002X"


def settlement(
    sid: str,
    *,
    total: str,
    fund: str,
    self_paid: str = "0.00",
    settled_on: date = date(2026, 10, 12),
    medical_type: str = "general_outpatient",
    stay: tuple[date, date] | None = None,
    person_id: str = PERSON,
    institution: str = HOSPITAL,
    insured: str = WUHU,
    treating: str = WUHAN,
) -> SettlementCompleted:
    """A completed settlement with the given slip: ``fund`` from the pooling fund, the rest in cash."""
    total_d, fund_d, own = Decimal(total), Decimal(fund), Decimal(self_paid)
    slip = SettlementSlip(
        total=total_d,
        in_scope=total_d - own,
        b_class_self_pay="0.00",
        over_limit_self_pay="0.00",
        self_paid=own,
        deductible_applied="0.00",
        funds=[FundAmount(code="pooling", name="职工基本医疗保险统筹基金", amount=fund_d)],
        fund_total=fund_d,
        personal_account="0.00",
        personal_cash=total_d - fund_d,
    )
    return SettlementCompleted(
        settlement_id=sid,
        request_id=f"R-{sid}",
        person_id=person_id,
        institution_code=institution,
        hospital_level="3",
        insurance_type="310",
        medical_type="inpatient" if stay else medical_type,
        insured_region=insured,
        treating_region=treating,
        cross_province=insured[:2] != treating[:2],
        clearing_month=clearing_month_of(settled_on),
        visit_id=f"V-{sid}",
        settled_on=settled_on,
        settlement_year=settled_on.year,
        eligibility_basis="long_term",
        ratio_applied="0.70",
        rate_basis="local",
        slip=slip,
        admission_date=stay[0] if stay else None,
        discharge_date=stay[1] if stay else None,
    )


def fee_detail(
    sid: str,
    lines: list[tuple[str, str, date | None]],
    *,
    settled_on: date = date(2026, 10, 12),
    person_id: str = PERSON,
    institution: str = HOSPITAL,
    insured: str = WUHU,
    treating: str = WUHAN,
) -> FeeDetailUploaded:
    """A stay's fee detail of ``lines`` (item code, quantity, date), each line 10.00 yuan in scope."""
    split = [
        LineSplit(
            line_no=n,
            item_code=code,
            catalogue_class="A",
            major_category="treatment",
            total="10.00",
            in_scope="10.00",
            b_class_self_pay="0.00",
            over_limit_self_pay="0.00",
            self_paid="0.00",
            quantity=Decimal(quantity),
            occurred_on=day,
        )
        for n, (code, quantity, day) in enumerate(lines, start=1)
    ]
    total = Decimal("10.00") * len(split)
    return FeeDetailUploaded(
        settlement_id=sid,
        person_id=person_id,
        institution_code=institution,
        insured_region=insured,
        treating_region=treating,
        settled_on=settled_on,
        upload_due=settled_on,
        catalogue_id="420000",
        totals={
            "total": total,
            "in_scope": total,
            "b_class_self_pay": "0",
            "over_limit_self_pay": "0",
            "self_paid": "0",
        },
        lines=split,
    )


def _delta(total: str, fund: str, self_paid: str) -> SlipDelta:
    t, f, own = Decimal(total), Decimal(fund), Decimal(self_paid)
    return SlipDelta(
        total=t,
        in_scope=t - own,
        b_class_self_pay="0.00",
        over_limit_self_pay="0.00",
        self_paid=own,
        deductible_applied="0.00",
        fund_total=f,
        personal_account="0.00",
        personal_cash=t - f,
    )


def reversed_(
    s: SettlementCompleted,
    rid: str,
    *,
    total: str,
    fund: str,
    self_paid: str = "0.00",
    refund: bool = False,
    remaining: SettlementSlip | None = None,
) -> SettlementReversed:
    """A cancel of ``s`` (or a refund, with the slip that remains, if any) taking back the signed amounts."""
    facts = s.model_dump(
        include={
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
            "clearing_month",
        }
    )
    reversal = {
        **facts,
        "reversal_id": rid,
        "reversed_on": s.settled_on,
        "compensation": _delta(total, fund, self_paid),
    }
    if refund:
        reversal |= {"outcome": "refunded", "kind": "ordinary", "replacement": remaining}
    else:
        reversal |= {"outcome": "cancelled"}
    return SettlementReversed.model_validate(reversal)

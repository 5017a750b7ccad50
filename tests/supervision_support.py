"""Completed settlements built to order for the supervision tests (unit and wire): a slip of the given
total, fund and fully self-paid amounts, an outpatient visit or a stay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from contracts.settlement import SettlementCompleted
from contracts.settlement_values import FundAmount, SettlementSlip
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

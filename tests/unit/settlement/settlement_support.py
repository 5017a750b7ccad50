"""Builders for settlement tests: requests, lines and the loaded reference data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache

from contracts.his import DischargeSettlementRequested, FeeLine, OutpatientVisitRequested
from contracts.values import make_person_id, money, round_fen
from services.settlement.domain.catalogue import CatalogueBook, choose_catalogue
from services.settlement.domain.policy import PolicyBook
from services.settlement.reference_data import load_catalogues, load_policies

WUHU_EMPLOYEE = make_person_id("34020219600101001")


@lru_cache
def catalogues() -> CatalogueBook:
    return load_catalogues()


@lru_cache
def policies() -> PolicyBook:
    return load_policies()


def line(no: int, code: str, qty: str, price: str, his_class: str | None = None, **extra) -> FeeLine:
    """A fee line whose amount is quantity × price to the fen, as a correct HIS sends it."""
    amount = round_fen(Decimal(qty) * Decimal(price))
    return FeeLine(
        line_no=no,
        item_code=code,
        item_name=code,
        his_class=his_class,
        quantity=qty,
        unit_price=price,
        amount=str(amount),
        **extra,
    )


def header(**overrides) -> dict:
    base = dict(
        request_id="REQ-1",
        person_id=WUHU_EMPLOYEE,
        credential_type="e_voucher",
        insurance_type="310",
        insured_region="340200",
        treating_region="420100",
        institution_code="H42010200001",
        hospital_level="3",
        visit_id="ZY0001",
        diagnoses=[{"code": "I25.1", "name": "冠状动脉粥样硬化性心脏病"}],
    )
    return {**base, **overrides}


def discharge(
    lines: list[FeeLine], *, admitted: date = date(2025, 3, 1), discharged: date = date(2025, 3, 10), **overrides
) -> DischargeSettlementRequested:
    return DischargeSettlementRequested(
        **header(medical_type="inpatient", **overrides),
        admission_date=admitted,
        discharge_date=discharged,
        fee_lines=lines,
    )


def outpatient(
    lines: list[FeeLine], *, visit: date = date(2025, 3, 12), medical_type: str = "general_outpatient", **overrides
) -> OutpatientVisitRequested:
    return OutpatientVisitRequested(
        **header(medical_type=medical_type, visit_id="MZ0001", **overrides), visit_date=visit, fee_lines=lines
    )


def catalogue_for(request, policy):
    return choose_catalogue(
        catalogues(), request.treating_region, request.insured_region, policy.intra_province_catalogue
    )


m = money

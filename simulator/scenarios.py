"""Builders of realistic messages: insured persons, filings, HIS visits with fee lines from the
treating place's catalogue. Shared by the simulator, the end-to-end tests and the benchmark."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from contracts.filing import RegisterFiling
from contracts.his import (
    AdmissionRegistered,
    DischargeSettlementRequested,
    FeeLine,
    OutpatientVisitRequested,
    RefundRequested,
)
from contracts.settlement import ChronicQualificationRecorded
from contracts.values import make_person_id, round_fen

# (insured region, treating region, hospital in the treating region)
ROUTES = [
    ("340200", "420100", "H42010200001"),  # Wuhu → Wuhan, cross-province
    ("210100", "110000", "H11010500003"),  # Shenyang → Beijing, cross-province
    ("430100", "420100", "H42010200001"),  # Changsha → Wuhan, cross-province
    ("420100", "110000", "H11010500003"),  # Wuhan → Beijing, cross-province
    ("340200", "340100", "H34010400002"),  # Wuhu → Hefei, intra-province (Wuhu's own catalogue, S-03)
]
# (item code, unit price) pairs found in every shipped catalogue, by role in a bill
STAY_LINES = [
    ("120100001", "45.00"),
    ("120200001", "30.00"),
    ("110200002", "20.00"),
    ("250101001", "25.00"),
    ("210300001", "200.00"),
    ("XJ01DDA001B002", "12.50"),
    ("C0101010101", "4.50"),
    ("311201001", "15.00"),
    ("480000002", "120.00"),
    ("XC10AAA001A001", "1.50"),
]
SURGERY_LINES = [("330801001", "9800.00"), ("C0208010101", "900.00")]
OUTPATIENT_LINES = [
    ("110200001", "12.00"),
    ("250302001", "8.00"),
    ("XA10BAD001A001", "0.35"),
    ("XC09AAC001A001", "0.80"),
    ("ZA12BAA001A001", "1.20"),
    ("XA11GAA001A001", "3.00"),
]
DIAGNOSES = [
    {"code": "I25.1", "name": "冠状动脉粥样硬化性心脏病"},
    {"code": "I63.9", "name": "脑梗死"},
    {"code": "J18.9", "name": "肺炎"},
    {"code": "E11.9", "name": "2型糖尿病"},
]


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    insured_region: str
    treating_region: str
    institution: str
    insurance_type: str = "310"


def person(n: int, route: tuple[str, str, str] | None = None, insurance_type: str = "310") -> Person:
    insured, treating, hospital = route or ROUTES[n % len(ROUTES)]
    birth = date(1950, 1, 1) + timedelta(days=(n * 37) % 15000)
    first17 = f"{insured[:6]}{birth:%Y%m%d}{n % 1000:03d}"
    return Person(make_person_id(first17), f"患者{n:05d}", insured, treating, hospital, insurance_type)


def fee_line(no: int, code: str, qty: str, price: str) -> FeeLine:
    amount = round_fen(Decimal(qty) * Decimal(price))
    return FeeLine(line_no=no, item_code=code, item_name=code, quantity=qty, unit_price=price, amount=str(amount))


def long_term_filing(p: Person, start: date, request_id: str) -> RegisterFiling:
    """异地长期居住 filed at the window with every proof (F-01, F-03)."""
    return RegisterFiling(
        request_id=request_id,
        person_id=p.person_id,
        name=p.name,
        insurance_type=p.insurance_type,
        insured_region=p.insured_region,
        treating_region=p.treating_region,
        category="long_term_resident",
        channel="window",
        start_date=start,
        proofs=("credential", "filing_form", "residence_proof"),
    )


def retroactive(filing: RegisterFiling, admitted: date) -> RegisterFiling:
    """补办: the same filing made after an admission it must cover, starting on that day (F-11)."""
    return filing.model_copy(update={"retroactive": True, "admission_date": admitted, "start_date": admitted})


def _header(p: Person, request_id: str, visit_id: str, medical_type: str, **flags) -> dict:
    return dict(
        request_id=request_id,
        person_id=p.person_id,
        credential_type="e_voucher",
        insurance_type=p.insurance_type,
        insured_region=p.insured_region,
        treating_region=p.treating_region,
        institution_code=p.institution,
        hospital_level="3",
        medical_type=medical_type,
        visit_id=visit_id,
        diagnoses=[DIAGNOSES[len(request_id) % len(DIAGNOSES)]],
        **flags,
    )


def stay(
    p: Person,
    request_id: str,
    admitted: date,
    days: int,
    *,
    surgery: bool = False,
    rng: random.Random | None = None,
    **flags,
) -> DischargeSettlementRequested:
    """出院结算 of a stay of ``days`` days; with surgery the bill passes 30,000 yuan (Q-01)."""
    rng = rng or random.Random(request_id)
    lines, no = [], 1
    for code, price in STAY_LINES:
        qty = str(days if code.startswith(("12", "11")) else rng.randint(1, 6))
        lines.append(fee_line(no, code, qty, price))
        no += 1
    if surgery:
        lines += [
            fee_line(no, SURGERY_LINES[0][0], "1", SURGERY_LINES[0][1]),
            fee_line(no + 1, SURGERY_LINES[1][0], "3", SURGERY_LINES[1][1]),
            fee_line(no + 2, "XL01FDA001B001", "12", "1500.00"),
        ]
    return DischargeSettlementRequested(
        **_header(p, request_id, f"ZY{request_id[-10:]}", "inpatient", **flags),
        admission_date=admitted,
        discharge_date=admitted + timedelta(days=days),
        fee_lines=lines,
    )


def admission(p: Person, request_id: str, visit_id: str, admitted: date, **flags) -> AdmissionRegistered:
    return AdmissionRegistered(**_header(p, request_id, visit_id, "inpatient", **flags), admission_date=admitted)


def outpatient(
    p: Person, request_id: str, visit: date, *, chronic: str | None = None, rng: random.Random | None = None
) -> OutpatientVisitRequested:
    rng = rng or random.Random(request_id)
    picks = rng.sample(OUTPATIENT_LINES, k=rng.randint(2, len(OUTPATIENT_LINES)))
    lines = [fee_line(i + 1, code, str(rng.randint(1, 30)), price) for i, (code, price) in enumerate(picks)]
    medical_type = "chronic_outpatient" if chronic else "general_outpatient"
    return OutpatientVisitRequested(
        **_header(p, request_id, f"MZ{request_id[-10:]}", medical_type, chronic_disease_code=chronic),
        visit_date=visit,
        fee_lines=lines,
    )


def chronic_qualification(p: Person, disease: str, at) -> ChronicQualificationRecorded:
    return ChronicQualificationRecorded(
        person_id=p.person_id, insured_region=p.insured_region, disease_code=disease, recorded_at=at
    )


def refund(p: Person, request_id: str, settlement_id: str, kind: str = "ordinary") -> RefundRequested:
    return RefundRequested(
        request_id=request_id,
        person_id=p.person_id,
        settlement_id=settlement_id,
        institution_code=p.institution,
        kind=kind,
        reason="patient returned unused drugs",
    )

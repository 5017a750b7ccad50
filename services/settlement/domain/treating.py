"""Treating-place step 就医地 (S-01..S-04, S-10..S-12, S-16, S-20): who may settle, and what of the bill
is payable at all, line by line, by the treating place's catalogue."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from contracts.his import (
    AdmissionRegistered,
    DischargeSettlementRequested,
    FeeLine,
    OutpatientVisitRequested,
    VisitHeader,
)
from contracts.his_result import AdmissionAccepted
from contracts.settlement import FeeDetailUploaded
from contracts.settlement_hops import TreatingAssessed
from contracts.settlement_values import (
    CatalogueClass,
    CategorySplit,
    FeeSplit,
    LineSplit,
    MajorFeeCategory,
    RefusalCode,
)
from contracts.values import EligibilityBasis, HospitalLevel, MedicalType, round_fen
from services.outcome import stable_id
from services.settlement.domain.catalogue import Catalogue, CatalogueItem, price_excess
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.refusal import Refused

SettlementRequest = OutpatientVisitRequested | DischargeSettlementRequested
ZERO = Decimal("0.00")
DETAIL_UPLOAD_DAYS = 3  # S-18: 000 第五十三条 "3日内" (cross-province)
INTRA_PROVINCE_DETAIL_UPLOAD_DAYS = 0  # S-18: 000 第四十七条, 001 第二十六条 "实时" (intra-province)
_NEEDS_FILING = {MedicalType.INPATIENT, MedicalType.CHRONIC_OUTPATIENT}


def settlement_id_for(institution_code: str, request_id: str) -> str:
    """Deterministic: a retried HIS request gets the same settlement id."""
    return f"S-{stable_id('settlement', institution_code, request_id)}"


# ---------------------------------------------------------------- who may settle
def check_eligibility(header: VisitHeader, eligibility: Entitlement) -> Entitlement:
    """Refuse what may not settle directly; return the basis that applies (S-10, S-11, S-12, F-04, F-05)."""
    if header.trauma and header.third_party_liability:
        raise Refused(
            RefusalCode.THIRD_PARTY_LIABILITY,
            "trauma with a liable third party is paid by that party, not settled directly (S-10)",
        )
    if header.trauma and not header.trauma_commitment_signed:
        raise Refused(
            RefusalCode.TRAUMA_COMMITMENT_MISSING,
            "trauma without third party needs the patient's signed commitment 外伤无第三方责任承诺书 (S-10)",
        )
    if eligibility.basis is None and header.emergency:
        return Entitlement(EligibilityBasis.DEEMED_EMERGENCY)  # F-04: deemed filed
    needs_filing = header.medical_type in _NEEDS_FILING
    if eligibility.basis is None or (needs_filing and eligibility.basis is EligibilityBasis.NO_FILING_NEEDED):
        raise Refused(
            RefusalCode.NOT_FILED,
            eligibility.message
            or f"no valid filing of insured region {header.insured_region} for treating region "
            f"{header.treating_region}; file (retroactively before discharge) or pay and claim at "
            "home (S-12)",
        )
    return eligibility


def register_admission(
    request: AdmissionRegistered, eligibility: Entitlement, *, admission_suspended: bool
) -> AdmissionAccepted:
    """入院登记: refused while the insured region is under the admission suspension (S-20, P-09)."""
    if request.medical_type is not MedicalType.INPATIENT:
        raise Refused(
            RefusalCode.INVALID_REQUEST, f"an admission has medical type inpatient, not {request.medical_type}"
        )
    if admission_suspended:
        raise Refused(
            RefusalCode.ADMISSION_SUSPENDED,
            f"new admissions of insureds of {request.insured_region} "
            "are suspended for unpaid clearing funds (S-20, P-09)",
        )
    applied = check_eligibility(request, eligibility)
    return AdmissionAccepted(
        request_id=request.request_id,
        person_id=request.person_id,
        institution_code=request.institution_code,
        visit_id=request.visit_id,
        eligibility_basis=applied.basis,
        trauma_check=_trauma_check(request),
    )


def _trauma_check(header: VisitHeader) -> bool:
    return header.trauma and not header.third_party_liability


# ---------------------------------------------------------------- the request itself
def check_request(request: SettlementRequest) -> None:
    """Header consistency and fee-line arithmetic (S-19: name the line at fault)."""
    inpatient = isinstance(request, DischargeSettlementRequested)
    if inpatient != (request.medical_type is MedicalType.INPATIENT):
        raise Refused(
            RefusalCode.INVALID_REQUEST,
            f"medical type {request.medical_type} does not fit a {'discharge' if inpatient else 'outpatient'} request",
        )
    if isinstance(request, DischargeSettlementRequested) and request.discharge_date < request.admission_date:
        raise Refused(
            RefusalCode.INVALID_REQUEST, f"discharge {request.discharge_date} before admission {request.admission_date}"
        )
    if request.medical_type is MedicalType.CHRONIC_OUTPATIENT and not request.chronic_disease_code:
        raise Refused(
            RefusalCode.CHRONIC_DISEASE_MISSING,
            "a chronic outpatient prescription names its disease code; several diseases settle separately (S-13)",
        )
    seen: set[int] = set()
    for line in request.fee_lines:
        _check_line(line, seen, request)


def _check_line(line: FeeLine, seen: set[int], request: SettlementRequest) -> None:
    if line.line_no in seen:
        raise Refused(RefusalCode.INVALID_FEE_LINE, f"line {line.line_no} appears twice", line.line_no)
    seen.add(line.line_no)
    expected = round_fen(line.quantity * line.unit_price)
    if line.amount != expected:
        raise Refused(
            RefusalCode.INVALID_FEE_LINE,
            f"line {line.line_no}: amount {line.amount} ≠ {line.quantity} × {line.unit_price} = {expected}",
            line.line_no,
        )
    if line.outside_form_no and request.medical_type is not MedicalType.INPATIENT:
        raise Refused(
            RefusalCode.INVALID_FEE_LINE,
            f"line {line.line_no}: outside purchases join inpatient stays only (S-16)",
            line.line_no,
        )
    if isinstance(request, DischargeSettlementRequested) and line.occurred_on is not None:
        if not request.admission_date <= line.occurred_on <= request.discharge_date:
            raise Refused(
                RefusalCode.INVALID_FEE_LINE,
                f"line {line.line_no}: date {line.occurred_on} outside the "
                f"stay {request.admission_date}..{request.discharge_date}",
                line.line_no,
            )


# ---------------------------------------------------------------- fee splitting (S-04)
def split_line(line: FeeLine, item: CatalogueItem | None) -> LineSplit:
    """Split one line into self-paid, B self-pay, over-limit and in-scope; the four add up to the amount."""
    if item is None:
        if line.his_class in (CatalogueClass.A, CatalogueClass.B):
            raise Refused(
                RefusalCode.CATALOGUE_UNKNOWN_ITEM,
                f"line {line.line_no}: item {line.item_code} "
                f"({line.item_name}) is not in the treating catalogue but was sent as class "
                f"{line.his_class}; map it or send it as self-paid",
                line.line_no,
            )
        return _line(line, None, MajorFeeCategory.OTHER, self_paid=line.amount)
    if item.catalogue_class is CatalogueClass.C:
        return _line(line, item.catalogue_class, item.major_category, self_paid=line.amount)
    over = min(round_fen(price_excess(line.unit_price, item.price_limit) * line.quantity), line.amount)
    allowed = line.amount - over
    b_share = round_fen(allowed * _b_ratio(item)) if item.catalogue_class is CatalogueClass.B else ZERO
    return _line(
        line, item.catalogue_class, item.major_category, over=over, b_share=b_share, in_scope=allowed - b_share
    )


def _b_ratio(item: CatalogueItem) -> Decimal:
    """乙类先行自付比例 of a class B item (S-04): the catalogue gives it for every class B item."""
    if item.b_self_pay_ratio is None:
        raise ValueError(f"S-04: class B item {item.code} has no b_self_pay_ratio")
    return item.b_self_pay_ratio


def _line(
    line: FeeLine,
    cls: CatalogueClass | None,
    category: MajorFeeCategory,
    *,
    self_paid: Decimal = ZERO,
    over: Decimal = ZERO,
    b_share: Decimal = ZERO,
    in_scope: Decimal = ZERO,
) -> LineSplit:
    return LineSplit(
        line_no=line.line_no,
        item_code=line.item_code,
        catalogue_class=cls,
        major_category=category,
        total=line.amount,
        in_scope=in_scope,
        b_class_self_pay=b_share,
        over_limit_self_pay=over,
        self_paid=self_paid,
        quantity=line.quantity,
        occurred_on=line.occurred_on,
    )


def split_lines(request: SettlementRequest, catalogue: Catalogue) -> list[LineSplit]:
    return [split_line(line, catalogue.lookup(line.item_code)) for line in request.fee_lines]


def fee_detail(
    request: DischargeSettlementRequested, catalogue: Catalogue, settlement_id: str, settled_on: date
) -> FeeDetailUploaded:
    """S-18: the full detail of a stay. Cross-province it is due 3 days after settlement (000 第五十三条);
    intra-province it goes to the provincial platform in real time, the day of settlement (000 第四十七条,
    001 第二十、二十六条: "省内异地直接结算后实时将医疗费用明细上传省异地就医管理子系统"). Uploaded as the
    settlement completes, so it is never late."""
    lines = split_lines(request, catalogue)
    days = DETAIL_UPLOAD_DAYS if request.cross_province else INTRA_PROVINCE_DETAIL_UPLOAD_DAYS
    return FeeDetailUploaded(
        settlement_id=settlement_id,
        person_id=request.person_id,
        institution_code=request.institution_code,
        insured_region=request.insured_region,
        treating_region=request.treating_region,
        settled_on=settled_on,
        upload_due=settled_on + timedelta(days=days),
        catalogue_id=catalogue.id,
        totals=sum_splits(lines),
        lines=lines,
    )


def sum_splits(parts: Sequence[FeeSplit]) -> FeeSplit:
    fields = ("total", "in_scope", "b_class_self_pay", "over_limit_self_pay", "self_paid")
    return FeeSplit(**{f: sum((getattr(p, f) for p in parts), ZERO) for f in fields})


def by_major_category(lines: list[LineSplit]) -> list[CategorySplit]:
    """Inpatient lines become the national major fee categories 大类费用 (S-04; 000 第四十五条)."""
    groups: dict[MajorFeeCategory, list[LineSplit]] = defaultdict(list)
    for line in lines:
        groups[line.major_category].append(line)
    return [CategorySplit(category=c, **sum_splits(groups[c]).model_dump()) for c in MajorFeeCategory if c in groups]


def service_date(request: SettlementRequest) -> date:
    """Discharge date for a stay (S-14), visit date otherwise."""
    return request.discharge_date if isinstance(request, DischargeSettlementRequested) else request.visit_date


def assess(
    request: SettlementRequest,
    eligibility: Entitlement,
    catalogue: Catalogue,
    *,
    hospital_level: HospitalLevel | None = None,
) -> TreatingAssessed:
    """The treating place's whole step: checks, per-line split, inpatient categories (S-02..S-04).
    ``hospital_level`` is the institution's registered level, which the service always passes (S-05:
    it sets deductible and ratio, so it is the registry's, never the HIS's word); the pure examples
    leave it out and use the request's."""
    check_request(request)
    applied = check_eligibility(request, eligibility)
    lines = split_lines(request, catalogue)
    inpatient = request.medical_type is MedicalType.INPATIENT
    return TreatingAssessed(
        settlement_id=settlement_id_for(request.institution_code, request.request_id),
        request_id=request.request_id,
        person_id=request.person_id,
        insurance_type=request.insurance_type,
        insured_region=request.insured_region,
        treating_region=request.treating_region,
        cross_province=request.cross_province,
        institution_code=request.institution_code,
        hospital_level=hospital_level or request.hospital_level,
        medical_type=request.medical_type,
        eligibility_basis=applied.basis,
        filing_category=applied.category,
        emergency=request.emergency,
        trauma_no_third_party=_trauma_check(request),
        chronic_disease_code=request.chronic_disease_code,
        service_date=service_date(request),
        catalogue_id=catalogue.id,
        totals=sum_splits(lines),
        categories=by_major_category(lines) if inpatient else [],
        lines=[] if inpatient else lines,
    )

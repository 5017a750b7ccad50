"""Turn domain answers into the contract messages the HIS, clearing and prepayment read."""

from __future__ import annotations

from datetime import date

from contracts.his_result import SettlementRefused
from contracts.settlement import SettlementCompleted
from contracts.settlement_hops import TreatingAssessed
from kernel.clearing_month import clearing_month_of
from services.settlement.domain.insured import InsuredAnswer
from services.settlement.domain.refusal import Refused


def completed(
    assessment: TreatingAssessed, decision: InsuredAnswer, *, visit_id: str, settled_on: date
) -> SettlementCompleted:
    """The completed settlement; its clearing month is the month it was settled in (C-01)."""
    return SettlementCompleted(
        settlement_id=assessment.settlement_id,
        request_id=assessment.request_id,
        person_id=assessment.person_id,
        institution_code=assessment.institution_code,
        hospital_level=assessment.hospital_level,
        insurance_type=assessment.insurance_type,
        medical_type=assessment.medical_type,
        insured_region=assessment.insured_region,
        treating_region=assessment.treating_region,
        cross_province=assessment.cross_province,
        clearing_month=clearing_month_of(settled_on),
        visit_id=visit_id,
        settled_on=settled_on,
        settlement_year=decision.settlement_year,
        eligibility_basis=assessment.eligibility_basis,
        filing_category=assessment.filing_category,
        ratio_applied=decision.ratio,
        rate_basis=decision.rate_basis,
        trauma_check=assessment.trauma_no_third_party,
        chronic_disease_code=assessment.chronic_disease_code,
        slip=decision.slip,
    )


def refused(
    refusal: Refused, *, request_id: str, person_id: str, institution_code: str, settlement_id: str | None = None
) -> SettlementRefused:
    """A classified refusal for the HIS screen (S-19), with the manual-claim hint (S-12, S-17)."""
    return SettlementRefused(
        request_id=request_id,
        person_id=person_id,
        institution_code=institution_code,
        settlement_id=settlement_id,
        code=refusal.code,
        title_zh=refusal.title_zh,
        message=refusal.message,
        line_no=refusal.line_no,
        manual_claim_possible=refusal.manual_claim_possible,
    )

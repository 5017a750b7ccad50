"""The insured agency's decision on a person's manual claim 手工报销审核 and its payment (S-17; 004 第三十三条).

A manual claim is reimbursed "按参保地支付范围及有关规定": the insured place's catalogue is its payment scope, and
the money is computed by the very rules of a direct settlement — the bill split line by line and checked
(``treating.assess``: S-04, S-10..S-12), then deductible, ratio, caps and funds on the person's year-to-date
accumulations (``insured.decide`` through ``InsuredPlace.manual_claim``: S-05..S-09, S-14). Nothing here computes
money: it turns the claim into the bill those rules read and records their answer on the claim.

A rule that refuses the claim itself (no valid filing, a liable third party…) decides it "not reimbursed" with
the reason, told to the person; such a claim may be decided again (a retroactive filing, F-11). A bill the
operator keyed in wrong (a line's arithmetic, an item the catalogue lacks sent as A/B) refuses the command:
nothing is decided. Pure: the caller gives the time.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from contracts.his import CredentialType, DischargeSettlementRequested, OutpatientVisitRequested
from contracts.manual_claims import ClaimDecision, ClaimPayment, DecideManualClaim, RecordClaimPayment
from contracts.settlement_hops import InsuredDecided, TreatingAssessed
from contracts.settlement_values import RefusalCode
from contracts.values import HospitalLevel, MedicalType
from services.outcome import stable_id
from services.settlement.domain.person_claims import (
    Claim,
    ClaimRefused,
    MaterialList,
    PersonClaims,
    missing,
    with_claim,
)
from services.settlement.domain.refusal import TITLES_ZH, Refused

SettlementRequest = DischargeSettlementRequested | OutpatientVisitRequested
RATE_BASIS_ZH = {  # why the ratio (S-08, S-09, S-10), as the person reads it
    "local": "参保地本地待遇",
    "referral_emergency": "转诊、急诊抢救人员",
    "other_temporary": "其他临时外出就医人员",
    "trauma": "外伤无第三方责任",
}

# The bill as keyed in is wrong: the operator corrects it, nothing is decided.
BILL_ERRORS = frozenset(
    {
        RefusalCode.INVALID_FEE_LINE,
        RefusalCode.CATALOGUE_UNKNOWN_ITEM,
        RefusalCode.INVALID_REQUEST,
        RefusalCode.CHRONIC_DISEASE_MISSING,
    }
)


def decidable(state: PersonClaims, cmd: DecideManualClaim, materials: MaterialList) -> tuple[str, Claim]:
    """The claim to decide: this place's, its materials complete, not decided to be reimbursed already."""
    key = str(cmd.claim_id)
    claim = state.claims.get(key)
    if claim is None or str(claim.submitted.insured_region) != str(cmd.insured_region):
        raise ClaimRefused("claim_not_found", f"no manual claim {key} of this person at {cmd.insured_region} (S-17)")
    if claim.settled:
        raise ClaimRefused("claim_decided", f"manual claim {key} is decided already (S-17)")
    if missing(claim, materials):
        raise ClaimRefused("claim_incomplete", f"manual claim {key}: its materials are not complete (S-17)")
    total = sum((line.amount for line in cmd.fee_lines), Decimal("0.00"))
    if total != claim.submitted.total:
        raise ClaimRefused(
            "bill_mismatch", f"the fee lines add up to {total}, the claim's total is {claim.submitted.total} (M-01)"
        )
    return key, claim


def bill_id(key: str, cmd: DecideManualClaim) -> str:
    """The bill's request id, which names the decision in the person's insured-place record: a retried
    command is the same decision, a new one (after a rejection) a new one."""
    return f"M-{stable_id('manual-claim', key, cmd.request_id)}"


def bill(key: str, claim: Claim, cmd: DecideManualClaim, level: HospitalLevel) -> SettlementRequest:
    """The claim's bill as a direct settlement would have received it. An accident claim is complete only with
    the accident's proof or the person's commitment (004 第三十三条), so it is trauma with the commitment."""
    s = claim.submitted
    header = {
        "request_id": bill_id(key, cmd),
        "person_id": s.person_id,
        "credential_type": CredentialType.ID_CARD,
        "insurance_type": cmd.insurance_type,
        "insured_region": s.insured_region,
        "treating_region": s.treating_region,
        "institution_code": s.institution_code,
        "hospital_level": level,
        "medical_type": s.medical_type,
        "visit_id": key,
        "emergency": cmd.emergency,
        "trauma": s.accident,
        "trauma_commitment_signed": s.accident,
        "diagnoses": cmd.diagnoses,
        "fee_lines": cmd.fee_lines,
    }
    if s.medical_type is MedicalType.INPATIENT:
        return DischargeSettlementRequested(**header, admission_date=s.start_date, discharge_date=s.end_date)
    return OutpatientVisitRequested(**header, visit_date=s.end_date)


def decided(
    state: PersonClaims,
    key: str,
    cmd: DecideManualClaim,
    assessment: TreatingAssessed,
    answer: InsuredDecided,
    today: date,
) -> PersonClaims:
    """The insured place's answer recorded on the claim: the slip and why, or the rule that refused it."""
    claim = state.claims[key]
    if answer.decided and answer.slip is not None:
        slip = answer.slip
        basis = RATE_BASIS_ZH.get(answer.rate_basis or "", answer.rate_basis)
        reason = (
            f"按参保地支付范围和待遇政策审核：起付标准 {slip.deductible_applied} 元，统筹基金支付比例 "
            f"{answer.ratio_applied}（{basis}），基金支付 {slip.fund_total} 元，个人负担 {slip.personal_cash} 元"
            " (S-05..S-09, S-17)"
        )
    else:
        reason = _refusal_zh(answer.refusal_code, answer.refusal_message or "")
    decision = ClaimDecision(
        reimbursed=answer.decided,
        slip=answer.slip,
        ratio_applied=answer.ratio_applied,
        rate_basis=answer.rate_basis,
        settlement_year=answer.settlement_year,
        catalogue_id=assessment.catalogue_id,
        refusal_code=answer.refusal_code,
        reason=reason[:500],
        decided_on=today,
    )
    return with_claim(state, key, _next(claim, decision=decision), cmd.request_id)


def rejected(state: PersonClaims, key: str, cmd: DecideManualClaim, refused: Refused, today: date) -> PersonClaims:
    """A rule refused the claim before any money was computed (S-10, S-12): not reimbursed, with the reason."""
    claim = state.claims[key]
    decision = ClaimDecision(
        reimbursed=False,
        settlement_year=claim.submitted.end_date.year,
        refusal_code=RefusalCode(refused.code),
        reason=_refusal_zh(RefusalCode(refused.code), refused.message),
        decided_on=today,
    )
    return with_claim(state, key, _next(claim, decision=decision), cmd.request_id)


def paid(state: PersonClaims, cmd: RecordClaimPayment, today: date) -> tuple[PersonClaims, str]:
    """The decided amount paid to the person, once; never before its decision nor in the future."""
    key = str(cmd.claim_id)
    claim = state.claims.get(key)
    if claim is None or str(claim.submitted.insured_region) != str(cmd.insured_region):
        raise ClaimRefused("claim_not_found", f"no manual claim {key} of this person at {cmd.insured_region} (S-17)")
    if claim.payment is not None:
        raise ClaimRefused("claim_paid", f"manual claim {key} was paid on {claim.payment.paid_on} (S-17)")
    decision = claim.decision
    if decision is None or not decision.reimbursed or decision.slip is None:
        raise ClaimRefused("claim_not_decided", f"manual claim {key} has no decision to pay (S-17)")
    if cmd.amount != decision.slip.fund_total:
        raise ClaimRefused(
            "amount_mismatch", f"paid {cmd.amount}, decided {decision.slip.fund_total}: pay what was decided (S-17)"
        )
    if not decision.decided_on <= cmd.paid_on <= today:
        raise ClaimRefused(
            "paid_on_out_of_range", f"paid_on {cmd.paid_on} is not between the decision {decision.decided_on} and today"
        )
    payment = ClaimPayment(amount=cmd.amount, paid_on=cmd.paid_on)
    return with_claim(state, key, _next(claim, payment=payment), cmd.request_id), key


def _refusal_zh(code: RefusalCode | None, message: str) -> str:
    title = TITLES_ZH.get(code, "") if code else ""
    return f"不予报销：{title}（{message}）(S-17)"[:500]


def _next(claim: Claim, **update: object) -> Claim:
    return claim.model_copy(update={**update, "version": claim.version + 1})

"""The insured agency's decision and payment of a manual claim, pure (S-17; S-05..S-09; F-11): the money of a
direct settlement on the same bill, the accumulations consumed once and no message to a treating place, a
claim without a valid filing decided not reimbursed and decided again after a retroactive filing, the payment
of exactly what was decided, once."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from contracts.his import Diagnosis, FeeLine
from contracts.manual_claims import ClaimDocument, DecideManualClaim, RecordClaimPayment, SubmitManualClaim
from contracts.settlement_hops import InsuredDecided
from contracts.values import SHANGHAI, EligibilityBasis, FilingCategory, make_person_id, round_fen
from runtime.calendar import default_calendar
from services.settlement.domain import claim_decision, person_claims, treating
from services.settlement.domain.insured_place import InsuredPlace, InsuredRecord
from services.settlement.domain.person_claims import ClaimRefused, PersonClaims, load_materials
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.refusal import Refused
from services.settlement.reference_data import load_catalogues, load_policies

CAL = default_calendar()
MATERIALS = load_materials().for_region("340200")  # the sample default: invoice, fee list, diagnosis
CATALOGUE, POLICIES = load_catalogues().for_region("340200"), load_policies()
PID = make_person_id("34020219580101077")
NOW = datetime(2025, 3, 20, 9, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()
TEMPORARY = Entitlement(EligibilityBasis.TEMPORARY, FilingCategory.OTHER_TEMPORARY)


def line(no: int, code: str, quantity: str, price: str) -> FeeLine:
    amount = round_fen(Decimal(quantity) * Decimal(price))
    return FeeLine(
        line_no=no, item_code=code, item_name=f"项目{no}", quantity=quantity, unit_price=price, amount=amount
    )


# in scope 6 035.00, B 48.00, over limit 20.00, self-paid 200.00 (test_manual_claim_wire computes it)
BILL = [
    line(1, "120100001", "7", "40.00"),
    line(2, "330801001", "1", "5000.00"),
    line(3, "XJ01DDA001B002", "10", "30.00"),
    line(4, "480000002", "1", "200.00"),
    line(5, "210300001", "1", "200.00"),
    line(6, "311201001", "17", "19.00"),
]


def submitted() -> tuple[PersonClaims, str]:
    cmd = SubmitManualClaim(
        request_id="window-0000077",
        person_id=PID,
        insured_region="340200",
        treating_region="420100",
        institution_code="H42010200001",
        medical_type="inpatient",
        start_date=date(2025, 3, 1),
        end_date=date(2025, 3, 8),
        total="6303.00",
        documents=(ClaimDocument.INVOICE, ClaimDocument.INPATIENT_FEE_LIST, ClaimDocument.DIAGNOSIS_CERTIFICATE),
    )
    return person_claims.submit(PersonClaims(person_id=PID), cmd, MATERIALS, NOW, CAL)


def decision(key: str, request_id: str = "decide-000001", lines: list[FeeLine] = BILL) -> DecideManualClaim:
    return DecideManualClaim(
        request_id=request_id,
        person_id=PID,
        insured_region="340200",
        claim_id=key,
        insurance_type="310",
        diagnoses=[Diagnosis(code="I25.1", name="冠心病")],
        fee_lines=lines,
    )


def decide(
    state: PersonClaims, record: InsuredRecord, cmd: DecideManualClaim, entitled: Entitlement
) -> tuple[PersonClaims, InsuredRecord]:
    """What the handler does: the claim decidable, the bill assessed, the money decided, the answer recorded."""
    key, claim = claim_decision.decidable(state, cmd, MATERIALS)
    request = claim_decision.bill(key, claim, cmd, "3")
    try:
        assessment = treating.assess(request, entitled, CATALOGUE, hospital_level="3")
    except Refused as refused:
        return claim_decision.rejected(state, key, cmd, refused, TODAY), record
    done = InsuredPlace(record, POLICIES).manual_claim(assessment)
    assert done.messages == []  # answered to no treating place: nothing of it leaves for clearing
    answer = InsuredDecided.model_validate(record.applied[assessment.settlement_id].decided)
    return claim_decision.decided(state, key, cmd, assessment, answer, TODAY), record


def test_decided_with_a_direct_settlements_money_and_the_accumulations_consumed_once():
    """Level 3, ratio 85 % − 20 points (other temporary, cross-province): (6 035.00 − 800.00) × 0.65 = 3 402.75."""
    state, key = submitted()
    record = InsuredRecord(person_id=PID)
    state, record = decide(state, record, decision(key), TEMPORARY)
    told = person_claims.changed(key, state.claims[key], MATERIALS, NOW, CAL)
    assert told.status.value == "decided" and told.decision and told.decision.slip
    assert (told.decision.slip.fund_total, told.decision.slip.personal_cash) == (Decimal("3402.75"), Decimal("2900.25"))
    assert "起付标准 800.00 元" in told.note and "其他临时外出就医人员" in told.note
    assert record.counters[2025]["fund/pooling/annual"] == Decimal("3402.75")
    # the same command again (a retry after a crash before the claim was written) consumes nothing more
    again = treating.assess(claim_decision.bill(key, state.claims[key], decision(key), "3"), TEMPORARY, CATALOGUE)
    assert InsuredPlace(record, POLICIES).manual_claim(again).state is None
    assert record.counters[2025]["fund/pooling/annual"] == Decimal("3402.75") and list(record.applied) == [
        again.settlement_id
    ]
    with pytest.raises(ClaimRefused, match="decided already"):
        claim_decision.decidable(state, decision(key, "decide-000002"), MATERIALS)


def test_without_a_valid_filing_not_reimbursed_with_the_reason_and_decided_again_after_a_retroactive_filing():
    """S-12, F-11: the stay had no filing on its admission day; a retroactive filing lets it be reimbursed."""
    state, key = submitted()
    record = InsuredRecord(person_id=PID)
    state, record = decide(state, record, decision(key), Entitlement(None))
    told = person_claims.changed(key, state.claims[key], MATERIALS, NOW, CAL)
    assert told.status.value == "rejected" and told.decision and told.decision.refusal_code == "NOT_FILED"
    assert "未办理异地就医备案" in told.note and record.counters == {}
    state, record = decide(state, record, decision(key, "decide-000002"), TEMPORARY)
    assert state.claims[key].decision and state.claims[key].decision.reimbursed


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"fee_lines": BILL[:-1]}, "bill_mismatch"),  # 5 980.00 ≠ 6 303.00 (M-01)
        ({"insured_region": "420100"}, "claim_not_found"),  # another place's agency
    ],
)
def test_a_claim_is_decided_only_by_its_place_on_its_own_bill(change, reason):
    state, key = submitted()
    with pytest.raises(ClaimRefused) as refused:
        claim_decision.decidable(state, decision(key).model_copy(update=change), MATERIALS)
    assert refused.value.reason == reason


def test_paid_exactly_what_was_decided_once_and_no_material_changes_after():
    state, key = submitted()
    pay = RecordClaimPayment(
        request_id="pay-00000001", person_id=PID, insured_region="340200", claim_id=key, amount="3402.75", paid_on=TODAY
    )
    with pytest.raises(ClaimRefused, match="no decision"):
        claim_decision.paid(state, pay, TODAY)
    state, _ = decide(state, InsuredRecord(person_id=PID), decision(key), TEMPORARY)
    for wrong, reason in (
        ({"amount": Decimal("3400.00")}, "amount_mismatch"),
        ({"paid_on": date(2025, 3, 21)}, "paid_on"),
    ):
        with pytest.raises(ClaimRefused) as refused:
            claim_decision.paid(state, pay.model_copy(update=wrong), TODAY)
        assert refused.value.reason.startswith(reason)
    state, _ = claim_decision.paid(state, pay, TODAY)
    told = person_claims.changed(key, state.claims[key], MATERIALS, NOW, CAL)
    assert (told.status.value, told.payment and told.payment.amount) == ("paid", Decimal("3402.75"))
    assert "支付 3402.75 元" in told.note
    with pytest.raises(ClaimRefused, match="was paid"):
        claim_decision.paid(state, pay.model_copy(update={"request_id": "pay-00000002"}), TODAY)

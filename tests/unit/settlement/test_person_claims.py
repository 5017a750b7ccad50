"""A person's manual claim at the insured place, pure (S-17; 004 第八、三十三条): the material lists, told once,
the 20 working days from complete materials."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import ValidationError

from contracts.manual_claims import AddClaimDocuments, ClaimDocument, RequestVerification, SubmitManualClaim
from contracts.values import SHANGHAI, make_person_id
from runtime.calendar import default_calendar
from services.settlement.domain import person_claims
from services.settlement.domain.person_claims import ClaimRefused, MaterialBook, PersonClaims, load_materials

BOOK = load_materials()
CAL = default_calendar()
PID = make_person_id("21010219600101001")
MONDAY = datetime(2025, 3, 10, 9, 0, tzinfo=SHANGHAI)


def claim(*documents: ClaimDocument, medical_type: str = "general_outpatient", accident: bool = False):
    return SubmitManualClaim(
        request_id="window-0000001",
        person_id=PID,
        insured_region="210100",
        treating_region="420100",
        institution_code="H42010200001",
        medical_type=medical_type,
        start_date=date(2025, 3, 3),
        end_date=date(2025, 3, 3),
        total="120.00",
        accident=accident,
        documents=documents,
    )


def test_every_list_names_its_source_and_only_liaonings_is_not_sample():
    assert BOOK.for_region("210100").source.startswith("004 第三十三条") and not BOOK.for_region("210100").sample
    assert BOOK.for_region("340200") is BOOK.default and BOOK.default.sample
    with pytest.raises(ValidationError):
        MaterialBook.model_validate({"default": {"source": "x", "inpatient": [], "outpatient": ["invoice"]}})


def test_an_outpatient_claim_is_told_at_once_everything_missing_and_has_no_clock():
    """004 第三十三条 门急诊: 医院收费票据、门急诊费用清单、处方底方, and for an accident its proof."""
    state, key = person_claims.submit(
        PersonClaims(person_id=PID), claim(ClaimDocument.INVOICE, accident=True), BOOK.for_region("210100"), MONDAY, CAL
    )
    told = person_claims.changed(key, state.claims[key], BOOK.for_region("210100"), MONDAY, CAL)
    assert [m.document for m in told.missing] == [
        ClaimDocument.OUTPATIENT_FEE_LIST,
        ClaimDocument.PRESCRIPTION,
        ClaimDocument.ACCIDENT_PROOF,
    ]
    assert (told.status.value, told.complete_on, told.decide_by) == ("incomplete", None, None)
    assert "门急诊费用清单、处方底方" in told.note


def test_complete_at_submission_the_clock_runs_from_that_day_and_a_letter_stops_it():
    """Monday 2025-03-10 + 20 working days = 2025-04-08 (04-04 清明 is a holiday)."""
    materials = BOOK.for_region("210100")
    full = claim(ClaimDocument.INVOICE, ClaimDocument.OUTPATIENT_FEE_LIST, ClaimDocument.PRESCRIPTION)
    state, key = person_claims.submit(PersonClaims(person_id=PID), full, materials, MONDAY, CAL)
    assert (state.claims[key].complete_on, state.claims[key].decide_by) == (date(2025, 3, 10), date(2025, 4, 8))
    letter = RequestVerification(
        request_id="verify-00001", person_id=PID, insured_region="210100", claim_id=key, reason="核查"
    )
    state, _ = person_claims.request_verification(state, letter, materials, MONDAY, CAL)
    assert (state.claims[key].complete_on, state.claims[key].verification_pending) == (None, True)
    with pytest.raises(ClaimRefused):  # another place's agency names it: as if it did not exist
        person_claims.request_verification(
            state, letter.model_copy(update={"insured_region": "340200"}), materials, MONDAY, CAL
        )
    reply = AddClaimDocuments(
        request_id="reply-000001",
        person_id=PID,
        insured_region="210100",
        claim_id=key,
        documents=(ClaimDocument.VERIFICATION_REPLY,),
    )
    state, _ = person_claims.add_documents(state, reply, materials, datetime(2025, 3, 12, tzinfo=SHANGHAI), CAL)
    assert state.claims[key].complete_on == date(2025, 3, 12)

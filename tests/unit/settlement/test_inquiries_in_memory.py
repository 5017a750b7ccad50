"""Before treating and before discharge (contracts.his_inquiry) on the settlement service's own handlers and
the in-memory store: the eligibility check, the pre-settlement and the in-stay fee detail are answered to the
asking institution only, sealed, and change nothing (S-05, S-13, S-02..S-04; national 1101, 2206, 2301, 2303)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from contracts.his_inquiry import (
    DischargePreSettlementRequested,
    EligibilityRequested,
    InStayFeeDetail,
    OutpatientPreSettlementRequested,
)
from contracts.settlement import ChronicQualificationRecorded
from runtime.client import SealedForAnother, open_result
from runtime.parties import signer_for

from .settlement_support import discharge, header, line, outpatient
from .test_saga_in_memory import KEYS, MARCH, PID, Service, _person, _results, mixed_bill

ANSWERED = "settlement.inquiry-answered.v1"
HOSPITAL = "H42010200001"


def _answers(heard) -> list[dict]:
    """The inquiry answers heard, opened with the key of the institution each is sealed to."""
    opened = []
    for topic, payload in heard:
        if topic == ANSWERED:
            content = json.loads(signer_for(KEYS, payload["institution_code"]).open_sealed(payload["sealed"]))
            assert (content["institution_code"], content["request_id"], content["kind"]) == (
                payload["institution_code"],
                payload["request_id"],
                payload["kind"],
            )
            opened.append(content)
    return opened


def _eligibility(**overrides) -> EligibilityRequested:
    fields = {**header(person_id=PID, medical_type="general_outpatient", visit_id="MZ0001"), **overrides}
    return EligibilityRequested(**fields, on=date(2025, 3, 12))


async def test_an_outpatient_needs_no_filing_an_inpatient_does_and_the_answer_carries_the_accumulations():
    svc = Service()
    await _person(svc, "300.00")
    await svc.send("his.outpatient-requested.v1", outpatient(mixed_bill(), request_id="R-1", person_id=PID))
    [outp] = _answers(await svc.send("his.eligibility-requested.v1", _eligibility(request_id="E-1")))
    assert outp["kind"] == "eligibility" and outp["eligible"] and outp["basis"] == "no_filing_needed"
    assert outp["rule"] == "F-05" and outp["person_id"] == PID and outp["personal_account_balance"] is not None
    assert outp["accumulations_year"] == 2025 and outp["accumulations"], "the first settlement's counters"
    [inp] = _answers(
        await svc.send(
            "his.eligibility-requested.v1", _eligibility(request_id="E-2", medical_type="inpatient", visit_id="ZY0001")
        )
    )
    assert not inp["eligible"] and inp["reason_code"] == "no_filing" and inp["basis"] is None


async def test_a_chronic_question_names_the_qualification_the_insured_place_recorded():
    svc = Service()
    await svc.send(
        "settlement.chronic-qualification.v1",
        ChronicQualificationRecorded(person_id=PID, insured_region="340200", disease_code="M03900", recorded_at=MARCH),
    )
    [answer] = _answers(
        await svc.send(
            "his.eligibility-requested.v1",
            _eligibility(request_id="E-3", medical_type="chronic_outpatient", chronic_disease_code="M03900"),
        )
    )
    assert answer["chronic_qualifications"] == ["M03900"] and answer["chronic_qualified"] is True
    [other] = _answers(
        await svc.send(
            "his.eligibility-requested.v1",
            _eligibility(request_id="E-4", medical_type="chronic_outpatient", chronic_disease_code="M01600"),
        )
    )
    assert other["chronic_qualified"] is False and not other["eligible"]


async def test_a_pre_settlement_gives_the_figures_of_the_settlement_that_follows_and_changes_nothing():
    svc = Service()
    await _person(svc, "50.00")
    await svc.send("his.outpatient-requested.v1", outpatient(mixed_bill(), request_id="R-1", person_id=PID))
    before = {c: svc.store.state(c, PID) for c in ("visits", "insured")}
    bill = outpatient(mixed_bill(), request_id="R-2", person_id=PID)
    heard = await svc.send(
        "his.outpatient-pre-settlement.v1", OutpatientPreSettlementRequested.model_validate(bill.model_dump())
    )
    [pre] = _answers(heard)
    assert [t for t, _ in heard if t != "his.outpatient-pre-settlement.v1"] == [ANSWERED], "nothing else left"
    assert {c: svc.store.state(c, PID) for c in ("visits", "insured")} == before, "no state changed"
    assert pre["kind"] == "pre_settlement" and pre["result"]["outcome"] == "completed"
    assert pre["basis"]["accumulations"] and pre["basis"]["changes_if"]
    [real] = _results(await svc.send("his.outpatient-requested.v1", bill))
    assert real["outcome"] == "completed"
    assert pre["result"] == real, "the same settlement, field by field, to the fen"


async def test_a_pre_settlement_the_rules_refuse_says_why():
    svc = Service()
    stay = discharge([line(1, "110200001", "1", "12.00")], request_id="R-9", person_id=PID)  # filed nowhere
    [pre] = _answers(
        await svc.send(
            "his.discharge-pre-settlement.v1", DischargePreSettlementRequested.model_validate(stay.model_dump())
        )
    )
    assert pre["result"]["outcome"] == "refused" and pre["result"]["code"] == "NOT_FILED"


async def test_in_stay_detail_is_checked_line_by_line_before_discharge():
    svc = Service()
    good = [line(1, "110200001", "1", "12.00"), line(2, "XC10AAA001A001", "28", "1.50", his_class="B")]
    detail = dict(**header(person_id=PID, medical_type="inpatient"), admission_date=date(2025, 3, 1))
    [ok] = _answers(
        await svc.send("his.fee-detail-uploaded.v1", InStayFeeDetail(**{**detail, "request_id": "D-1"}, fee_lines=good))
    )
    assert ok["accepted"] and [x["line_no"] for x in ok["lines"]] == [1, 2] and ok["totals"]["total"] == "54.00"
    wrong = good[1].model_copy(update={"amount": Decimal("43.00")})  # 28 × 1.50 is 42.00
    [bad] = _answers(
        await svc.send(
            "his.fee-detail-uploaded.v1", InStayFeeDetail(**{**detail, "request_id": "D-2"}, fee_lines=[good[0], wrong])
        )
    )
    assert not bad["accepted"] and bad["code"] == "INVALID_FEE_LINE" and bad["line_no"] == 2 and bad["title_zh"]


async def test_another_hospital_cannot_open_the_answer():
    svc = Service()
    heard = await svc.send("his.eligibility-requested.v1", _eligibility(request_id="E-9"))
    [payload] = [p for t, p in heard if t == ANSWERED]
    assert payload["institution_code"] == HOSPITAL and PID not in json.dumps(payload)
    with pytest.raises(SealedForAnother):
        open_result(signer_for(KEYS, "H42010200002"), {**payload, "institution_code": "H42010200002"})

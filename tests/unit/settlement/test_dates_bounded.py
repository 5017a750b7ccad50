"""S-12, F-11: the dates a hospital gives are bounded by the time of receipt. A visit of 2099-01-01 used
to settle and be cleared today; a visit older than the insured place's retroactive filing window (F-11:
6 months by default, 000 第十三条) no longer settles directly. Each is refused with a classified code and
its Chinese title, which the hospital hears on its result topic; nothing goes to the insured place."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts.his import AdmissionRegistered
from contracts.values import business_date
from services.settlement.domain.treating_place import months_before

from .settlement_support import discharge, header, outpatient
from .test_handlers_in_memory import ECG, his, published
from .test_saga_in_memory import MARCH, Service

TODAY = business_date(MARCH)


async def answer(topic: str, request) -> dict:
    svc = Service()
    await svc.handlers[topic](his(topic, request))
    [(sent, body)] = published(svc)
    assert sent == "settlement.result.v2"
    return body


@pytest.mark.parametrize(
    "request_",
    [
        outpatient(ECG, visit=date(2099, 1, 1)),
        outpatient(ECG, visit=TODAY + timedelta(days=1)),
        discharge(ECG, admitted=TODAY, discharged=date(2099, 1, 1)),
        discharge(ECG, admitted=date(2099, 1, 1), discharged=date(2099, 1, 2)),
    ],
    ids=["visit-2099", "visit-tomorrow", "discharge-2099", "admission-2099"],
)
async def test_a_date_after_receipt_is_refused(request_):
    topic = "his.outpatient-requested.v1" if request_.medical_type != "inpatient" else "his.settlement-requested.v1"
    refused = await answer(topic, request_)
    assert (refused["outcome"], refused["code"]) == ("refused", "DATE_IN_FUTURE")
    assert refused["title_zh"] == "就诊、入院或出院日期晚于当前日期" and "S-12" in refused["message"]


async def test_an_admission_registered_for_2099_is_refused():
    registered = AdmissionRegistered(**header(medical_type="inpatient"), admission_date=date(2099, 1, 1))
    refused = await answer("his.admission.v1", registered)
    assert refused["code"] == "DATE_IN_FUTURE"


async def test_a_visit_older_than_the_retroactive_window_is_refused_and_one_inside_it_is_not():
    too_old = months_before(TODAY, 6) - timedelta(days=1)
    refused = await answer("his.outpatient-requested.v1", outpatient(ECG, visit=too_old))
    assert refused["code"] == "DATE_TOO_OLD" and "F-11" in refused["message"]
    assert refused["manual_claim_possible"] is True  # S-17: the patient claims at home
    svc = Service()
    await svc.handlers["his.outpatient-requested.v1"](
        his("his.outpatient-requested.v1", outpatient(ECG, visit=months_before(TODAY, 6)))
    )
    [(topic, _)] = published(svc)
    assert topic == "settlement.treating-assessed.v1"


def test_months_before_keeps_the_day_or_the_end_of_a_shorter_month():
    assert months_before(date(2025, 3, 12), 6) == date(2024, 9, 12)
    assert months_before(date(2025, 8, 31), 6) == date(2025, 2, 28)
    assert months_before(date(2025, 1, 15), 0) == date(2025, 1, 15)
    assert months_before(date(2025, 6, 30), 6) == date(2024, 12, 30)

"""An institution settles directly only the kinds it is opened for (002 第十二条; 000 第十七、二十一条;
S-13 for chronic/special outpatient): the settlement service's authority (``runtime.authority.institution``
with the payload's medical type) refuses a visit, an admission or a discharge of a kind not opened — or
not yet opened that day — with INSTITUTION_NOT_OPENED naming the settlement and its rule, and the HIS
hears it with its Chinese title and that the patient may claim at home (S-17). Uploading a manual claim
(S-17) needs the institution networked, not opened for that kind: it is what follows such a refusal.
The sample registry: H42010200003 an eye hospital opened for general outpatient only (from 2023-03-01);
H42010200004 a TCM hospital (inpatient 2021-01-01, outpatient 2022-06-01, chronic 2023-01-01);
P42010200001 a pharmacy (outpatient 2022-01-01, chronic 2023-07-01).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.his import AdmissionRegistered, ManualClaimUploaded
from contracts.his_result import PartyRefusalCode
from contracts.parties import RefusalReason
from runtime.authority import Refusal
from runtime.envelopes import envelope_for
from runtime.parties import ParticipantRegistry
from services.settlement.authority import AUTHORITY
from services.settlement.boundary import refused_result

from .settlement_support import discharge, header, line, outpatient

REGISTRY = ParticipantRegistry.load()
NOW = datetime(2025, 3, 12, 1, 0, tzinfo=UTC)
EYE, TCM, PHARMACY = "H42010200003", "H42010200004", "P42010200001"
ECG = [line(1, "310701001", "10", "2.00")]


def check(topic: str, sender: str, payload, now: datetime = NOW) -> Refusal | None:
    party = REGISTRY.get(sender)
    assert party is not None, sender
    return AUTHORITY.check(topic, party, payload, REGISTRY, now)


def at(sender: str, level: str) -> dict:
    return {"institution_code": sender, "hospital_level": level}


def admission(sender: str, level: str) -> AdmissionRegistered:
    return AdmissionRegistered(**header(medical_type="inpatient", **at(sender, level)), admission_date=date(2025, 3, 1))


@pytest.mark.parametrize(
    "sender, level, topic, payload, refused_rule",
    [
        (EYE, "2", "his.outpatient-requested.v1", lambda s, lv: outpatient(ECG, **at(s, lv)), None),
        (EYE, "2", "his.admission.v1", admission, "000 第十七条"),
        (EYE, "2", "his.settlement-requested.v1", lambda s, lv: discharge(ECG, **at(s, lv)), "000 第十七条"),
        (
            EYE,
            "2",
            "his.outpatient-requested.v1",
            lambda s, lv: outpatient(
                ECG, medical_type="chronic_outpatient", chronic_disease_code="M03900", **at(s, lv)
            ),
            "S-13",
        ),
        (
            PHARMACY,
            "pharmacy",
            "his.outpatient-requested.v1",
            lambda s, lv: outpatient(ECG, medical_type="pharmacy", **at(s, lv)),
            None,
        ),  # 药店购药: outpatient
        (
            PHARMACY,
            "pharmacy",
            "his.outpatient-requested.v1",
            lambda s, lv: outpatient(
                ECG, medical_type="chronic_outpatient", chronic_disease_code="M03900", **at(s, lv)
            ),
            None,
        ),
        (PHARMACY, "pharmacy", "his.admission.v1", admission, "000 第十七条"),
        (TCM, "3", "his.admission.v1", admission, None),
        (TCM, "3", "his.settlement-requested.v1", lambda s, lv: discharge(ECG, **at(s, lv)), None),
    ],
)
def test_a_visit_settles_only_where_its_kind_is_opened(sender, level, topic, payload, refused_rule):
    refused = check(topic, sender, payload(sender, level))
    if refused_rule is None:
        assert refused is None, refused
        return
    assert refused is not None and (refused.reason, refused.code) == (
        RefusalReason.UNAUTHORIZED,
        "INSTITUTION_NOT_OPENED",
    )
    assert refused.rule == refused_rule and f"({refused_rule})" in refused.message
    kind = "chronic (门诊慢特病)" if refused_rule == "S-13" else "inpatient (住院)"
    assert (
        f"{sender} is not opened for cross-region direct settlement of {kind} on 2025-03-12: not at all"
        in refused.message
    )


def test_a_kind_opened_later_is_refused_before_its_date_saying_from_when():
    """The TCM hospital's chronic outpatient opens on 2023-01-01: a chronic visit received on 2022-12-31 is
    refused; its general outpatient (open from 2022-06-01) is not."""
    before = datetime(2022, 12, 31, 1, 0, tzinfo=UTC)
    chronic = outpatient(
        ECG, medical_type="chronic_outpatient", chronic_disease_code="M03900", visit=date(2022, 12, 30), **at(TCM, "3")
    )
    refused = check("his.outpatient-requested.v1", TCM, chronic, before)
    assert refused is not None and refused.code == "INSTITUTION_NOT_OPENED" and refused.rule == "S-13"
    assert "on 2022-12-31: only from 2023-01-01" in refused.message
    general = outpatient(ECG, visit=date(2022, 12, 30), **at(TCM, "3"))
    assert check("his.outpatient-requested.v1", TCM, general, before) is None
    assert check("his.outpatient-requested.v1", TCM, chronic, datetime(2023, 1, 1, 1, tzinfo=UTC)) is None


def test_the_manual_claim_of_a_kind_not_opened_may_be_uploaded():
    """S-17: the eye hospital could not settle the inpatient stay directly; it uploads it for the insured
    place to reimburse by hand."""
    base = header(medical_type="inpatient", **at(EYE, "2"))
    claim = ManualClaimUploaded(
        **{
            k: base[k]
            for k in (
                "request_id",
                "person_id",
                "insurance_type",
                "insured_region",
                "treating_region",
                "institution_code",
                "hospital_level",
                "medical_type",
                "diagnoses",
            )
        },
        failure="refused",
        refusal_code=None,
        start_date=date(2025, 3, 1),
        end_date=date(2025, 3, 10),
        uploaded_on=date(2025, 3, 12),
        fee_lines=ECG,
        total="20.00",
    )
    assert check("his.manual-claim.v1", EYE, claim) is None


def test_the_his_hears_the_refusal_classified_with_its_title_and_the_manual_claim():
    command = admission(EYE, "2")
    refusal = check("his.admission.v1", EYE, command)
    assert refusal is not None
    envelope = envelope_for("his.admission.v1", command, producer="his", now=NOW, sender=EYE)
    result = refused_result(envelope, refusal)
    assert result is not None
    refused = result.root
    assert (
        refused.code is PartyRefusalCode.INSTITUTION_NOT_OPENED and refused.title_zh == "本机构未开通异地就医直接结算"
    )
    assert "inpatient (住院)" in refused.message and refused.manual_claim_possible
    assert refused.institution_code == EYE

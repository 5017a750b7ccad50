"""Who may send what to the settlement service, and what the treating place believes of an answer
(003 §5 (三); S-01, S-05, S-07, S-15, S-17, S-19).

* every topic of ``services/settlement/authority.py``, allowed and refused, on real contract payloads
  and the sample participant registry (``contracts/data/participants.yaml``);
* how an authority refusal reaches the HIS: a classified code with its Chinese title, addressed to
  the sender (``services/settlement/boundary.py``);
* the consistency check of the insured place's answer (``domain/consistency.py``), on examples and,
  as a money path, on generated decisions: every genuine one passes, every tampered one is caught;
* in memory (no broker): the level is the registry's, another hospital's settlement cannot be
  cancelled, an answer that does not fit is not used, the answer deadline undoes what was decided.
The same over the wire, signed: ``tests/integration/test_settlement_parties.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from contracts import his_inquiry
from contracts.his import AdmissionRegistered, ManualClaimUploaded, RefundRequested, SettlementCancelRequested
from contracts.his_inquiry import (
    DischargePreSettlementRequested,
    EligibilityRequested,
    InStayFeeDetail,
    OutpatientPreSettlementRequested,
)
from contracts.his_result import PartyRefusalCode
from contracts.ops import DeadlineDue
from contracts.parties import ChangeAction, ChangeParty, KeyUse, PersonAuthentication, RefusalReason
from contracts.settlement_hops import InsuredDecided, TreatingAssessed
from contracts.settlement_values import AccumulationEntry, SettlementSlip
from contracts.values import EligibilityBasis, InsuranceType
from runtime.authority import Refusal
from runtime.client import open_result
from runtime.envelopes import envelope_for
from runtime.parties import ParticipantRegistry, signer_for
from runtime.service import Service as RuntimeService
from services.outcome import stable_id
from services.settlement.authority import AUTHORITY
from services.settlement.boundary import AUTHORITY_CODES, HIS_TOPICS, his_refusal, refused_result, refusers
from services.settlement.domain import insured, treating
from services.settlement.domain.accumulations import ACCOUNT_KEY, Accumulations
from services.settlement.domain.consistency import answer_problems
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.refusal import TITLES_ZH
from services.settlement.metrics import SettlementMetrics

from .settlement_support import WUHU_EMPLOYEE, catalogue_for, discharge, header, line, outpatient, policies
from .test_properties import PROPS, cases, run
from .test_saga_in_memory import KEYS, PARTIES, Service, _results

REGISTRY = ParticipantRegistry.load()
NOW = datetime(2025, 3, 12, 1, 0, tzinfo=UTC)
H1, H2 = "H42010200001", "H42010200002"  # Wuhan 420100: level 3, level 2
CLINIC, BEIJING_H = "H42010200009", "H11010500003"  # Wuhan level 1 never opened; Beijing level 3
A_WUHU, ANHUI, NATIONAL, A_WUHAN = "A340200", "A340000", "A000000", "A420100"
ECG = [line(1, "310701001", "10", "2.00")]  # 常规心电图 10 × 2.00 = 20.00, class A, all in scope


def check(topic: str, sender: str, payload) -> Refusal | None:
    party = REGISTRY.get(sender)
    assert party is not None, sender
    return AUTHORITY.check(topic, party, payload, REGISTRY, NOW)


# ---------------------------------------------------------------- payloads, as the HIS and the agencies send them
def admission(**o) -> AdmissionRegistered:
    return AdmissionRegistered(**header(medical_type="inpatient", **o), admission_date=date(2025, 3, 1))


def claim(**o) -> ManualClaimUploaded:
    base = header(medical_type="general_outpatient", **o)
    return ManualClaimUploaded(
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
        failure="network",
        start_date=date(2025, 3, 12),
        end_date=date(2025, 3, 12),
        uploaded_on=date(2025, 3, 12),
        fee_lines=ECG,
        total="20.00",
    )


def cancel(institution: str = H1) -> SettlementCancelRequested:
    return SettlementCancelRequested(
        request_id="CX-1", person_id=WUHU_EMPLOYEE, settlement_id="S-1", institution_code=institution
    )


def refund(institution: str = H1) -> RefundRequested:
    return RefundRequested(
        request_id="RF-1", person_id=WUHU_EMPLOYEE, settlement_id="S-1", institution_code=institution, kind="ordinary"
    )


def eligibility(**o) -> EligibilityRequested:
    return EligibilityRequested(**header(medical_type="inpatient", **o), on=date(2025, 3, 12))


def in_stay(**o) -> InStayFeeDetail:
    return InStayFeeDetail(**header(medical_type="inpatient", **o), admission_date=date(2025, 3, 1), fee_lines=ECG)


VISITS = {
    "his.admission.v1": admission,
    "his.outpatient-requested.v1": lambda **o: outpatient(ECG, **o),
    "his.settlement-requested.v1": lambda **o: discharge(ECG, **o),
    "his.manual-claim.v1": claim,
    # asked without effect (contracts.his_inquiry): the same rule as the settlement they precede
    "his.eligibility-requested.v1": eligibility,
    "his.fee-detail-uploaded.v1": in_stay,
    "his.outpatient-pre-settlement.v1": lambda **o: OutpatientPreSettlementRequested.model_validate(
        outpatient(ECG, **o).model_dump()
    ),
    "his.discharge-pre-settlement.v1": lambda **o: DischargePreSettlementRequested.model_validate(
        discharge(ECG, **o).model_dump()
    ),
}
OWN = {"his.cancel-requested.v1": cancel, "his.refund-requested.v1": refund}
# the hops between the two places, the deadlines, published facts: the rule looks at the sender only
OURS = (
    "settlement.treating-assessed.v1",
    "settlement.insured-decided.v1",
    "settlement.insured-rollback.v1",
    "settlement.refund-assessed.v1",
    "settlement.refund-decided.v1",
    "settlement.reversed.v1",
    "settlement.deadline-due.v1",
)
AGENCY_RECORDS = ("settlement.chronic-qualification.v1", "settlement.insured-person.v1")
FACTS = {"filing.changed.v1": "filing", "prepayment.sanction.v1": "prepayment"}
CLAIMS = ("settlement.manual-claim-submit.v1", "settlement.manual-claim-documents.v1")  # the person's (S-17)
VERIFY = "settlement.manual-claim-verify.v1"  # the insured agency's letter (S-17)
# the insured agency's decision and payment (S-17): never a channel's, never the treating agency's
DECISIONS = ("settlement.manual-claim-decide.v1", "settlement.manual-claim-pay.v1")


def test_every_topic_the_service_handles_has_a_rule_and_a_test_here():
    tested = {*VISITS, *OWN, *OURS, *AGENCY_RECORDS, *FACTS, *CLAIMS, VERIFY, *DECISIONS}
    assert tested == set(AUTHORITY.rules) == set(Service().handlers)
    # every HIS command is answered on the result topic; an inquiry refused for its sender on party.refused.v1
    assert set(HIS_TOPICS) == {*VISITS, *OWN} - {t for t in VISITS if t in his_inquiry.TOPIC_NAMES}


# ---------------------------------------------------------------- HIS visits: the institution itself (S-05)
@pytest.mark.parametrize("topic", sorted(VISITS))
@pytest.mark.parametrize(
    "sender, overrides, code",
    [
        (H1, {}, None),  # level 3 in Wuhan, naming itself
        (H2, {"institution_code": H2, "hospital_level": "2"}, None),  # level 2, its registered level
        (H2, {}, "NOT_THIS_INSTITUTION"),  # names H42010200001
        (H2, {"institution_code": H2, "hospital_level": "3"}, "HOSPITAL_LEVEL_MISMATCH"),  # S-05
        (CLINIC, {"institution_code": CLINIC, "hospital_level": "1"}, "INSTITUTION_NOT_OPENED"),
        (BEIJING_H, {"institution_code": BEIJING_H}, "INSTITUTION_REGION_MISMATCH"),  # treats in 420100?
        (A_WUHAN, {}, "NOT_AN_INSTITUTION"),
        ("settlement", {}, "NOT_AN_INSTITUTION"),
    ],
)
def test_his_visits_come_from_the_opened_institution_in_its_region_at_its_level(topic, sender, overrides, code):
    refused = check(topic, sender, VISITS[topic](**overrides))
    assert (refused.code if refused else None) == code, refused
    if refused:
        assert refused.reason is RefusalReason.UNAUTHORIZED and refused.message


@pytest.mark.parametrize("topic", sorted(OWN))
@pytest.mark.parametrize(
    "sender, institution, code",
    [
        (H1, H1, None),
        (H2, H2, None),  # names itself; whether it made the settlement: NOT_YOUR_SETTLEMENT below
        (BEIJING_H, BEIJING_H, None),  # no region to check: a cancel names none, the settlement does
        (H2, H1, "NOT_THIS_INSTITUTION"),
        (CLINIC, CLINIC, "INSTITUTION_NOT_OPENED"),
        (A_WUHU, H1, "NOT_AN_INSTITUTION"),
        ("settlement", H1, "NOT_AN_INSTITUTION"),
    ],
)
def test_cancels_and_refunds_come_from_an_opened_institution_naming_itself(topic, sender, institution, code):
    refused = check(topic, sender, OWN[topic](institution))
    assert (refused.code if refused else None) == code, refused


# ---------------------------------------------------------------- internal hops, agency records, facts
@pytest.mark.parametrize("topic", OURS)
@pytest.mark.parametrize("sender, ok", [("settlement", True), (H1, False), (NATIONAL, False), ("clearing", False)])
def test_the_hops_and_deadlines_come_only_from_the_settlement_service(topic, sender, ok):
    """A hospital's forged insured-decided (the 20.00 visit paid 1,000,000,000,000.00) or deadline-due
    is refused before any handler runs (S-01)."""
    refused = check(topic, sender, None)
    assert (refused is None) is ok
    if refused:
        assert (refused.reason, refused.code) == (RefusalReason.UNAUTHORIZED, "UNAUTHORIZED")


@pytest.mark.parametrize("topic", AGENCY_RECORDS)
@pytest.mark.parametrize(
    "sender, ok",
    [(A_WUHU, True), (ANHUI, True), (NATIONAL, True), (A_WUHAN, False), (H1, False), ("settlement", False)],
)
def test_the_insured_places_records_come_from_its_agency_or_the_levels_above(topic, sender, ok):
    payload = type("Record", (), {"insured_region": "340200"})()  # the rule reads insured_region only
    assert (check(topic, sender, payload) is None) is ok


@pytest.mark.parametrize("topic", CLAIMS)
@pytest.mark.parametrize(
    "sender, ok",
    [(A_WUHU, True), (ANHUI, True), ("CH-NHSA-APP", True), ("CH-420000-EHB", False), (A_WUHAN, False), (H1, False)],
)
def test_a_persons_manual_claim_comes_from_the_insured_agency_or_a_channel_for_that_person(topic, sender, ok):
    """S-17, 000 第九条: the window of the insured place, or a channel serving it acting for the person it
    authenticated (鄂汇办 serves Hubei's insured only)."""
    person = "340202195801010028"
    auth = PersonAuthentication(
        channel=sender,
        person_id=person,
        session="session-0001",
        method="e_credential",
        authenticated_at=NOW,
        expires_at=NOW + timedelta(minutes=10),
    )
    payload = type("Claim", (), {"insured_region": "340200", "person_id": person, "authentication": auth})()
    assert (check(topic, sender, payload) is None) is ok
    assert (check(VERIFY, sender, payload) is None) is (sender in (A_WUHU, ANHUI))  # the letter: agencies only
    for decision in DECISIONS:  # decided and paid by the insured agency alone (S-17)
        assert (check(decision, sender, payload) is None) is (sender in (A_WUHU, ANHUI))


@pytest.mark.parametrize("topic, producer", sorted(FACTS.items()))
@pytest.mark.parametrize("sender", ["filing", "prepayment", "settlement", A_WUHU, H1])
def test_read_model_facts_come_from_the_service_that_publishes_them(topic, producer, sender):
    assert (check(topic, sender, None) is None) is (sender == producer)


# ---------------------------------------------------------------- the HIS hears why (S-19)
def test_every_refusal_the_institution_rule_and_the_clock_make_has_a_code_and_a_title():
    for code in AUTHORITY_CODES.values():
        refused = his_refusal(Refusal(RefusalReason.UNAUTHORIZED, "x", code=code.value))
        assert refused.code is code and TITLES_ZH[code]
    skew = his_refusal(Refusal(RefusalReason.CLOCK_SKEW, "occurred_at is 3600s from receipt", code="CLOCK_SKEW"))
    assert (skew.code, skew.title_zh) == (PartyRefusalCode.CLOCK_SKEW, "医院系统时间与平台时间相差过大")
    assert his_refusal(Refusal(RefusalReason.UNAUTHORIZED, "x")) is None  # unclassified: party.refused.v1
    assert all(code in TITLES_ZH for code in PartyRefusalCode)


def test_the_refusal_is_addressed_to_the_sender_not_to_the_institution_it_names():
    """H42010200002 sends a visit naming H42010200001: the answer is H42010200002's, so H42010200001
    never hears of it and H42010200002 reads why (NOT_THIS_INSTITUTION)."""
    request = outpatient(ECG)
    envelope = envelope_for("his.outpatient-requested.v1", request, producer="his", now=NOW, sender=H2)
    result = refused_result(envelope, check("his.outpatient-requested.v1", H2, request)).root
    assert (result.institution_code, result.code, result.request_id) == (
        H2,
        PartyRefusalCode.NOT_THIS_INSTITUTION,
        request.request_id,
    )
    assert result.title_zh == "机构编码与发送机构不一致" and not result.manual_claim_possible


class _Published:
    """A service that records what it publishes (the refuser's only effect)."""

    name = "settlement"

    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    async def publish(self, topic: str, payload, *, cause=None, **_) -> None:
        self.sent.append((topic, payload))

    party_refused = RuntimeService.party_refused  # the runtime's own answer, published through the recorder


async def _refuse_as(sender: str, request, parties: ParticipantRegistry = PARTIES) -> list[tuple[str, object]]:
    """What the settlement service's refuser publishes for ``request`` from ``sender`` on a HIS topic."""
    published, topic = _Published(), "his.outpatient-requested.v1"
    envelope = envelope_for(topic, request, producer="his", now=NOW, sender=sender)
    refusal = AUTHORITY.check(topic, parties.get(sender), request, parties, NOW)
    metrics = SettlementMetrics(CollectorRegistry())
    await refusers(parties, metrics, published.publish, published.party_refused)[topic](topic, envelope, refusal)
    return published.sent


async def test_a_refused_his_command_is_answered_sealed_on_the_result_topic_and_nothing_else():
    [(topic, sealed)] = await _refuse_as(H2, outpatient(ECG))
    assert topic == "settlement.result.v2" and (sealed.institution_code, sealed.outcome) == (H2, "refused")
    opened = open_result(signer_for(KEYS, H2), sealed.model_dump(mode="json"))
    assert (opened["code"], opened["request_id"]) == ("NOT_THIS_INSTITUTION", "REQ-1")


async def test_a_sender_that_is_no_institution_or_has_no_key_hears_on_party_refused():
    [(topic, answer)] = await _refuse_as(A_WUHAN, outpatient(ECG))
    assert topic == "party.refused.v1" and (answer.sender, answer.reason) == (A_WUHAN, RefusalReason.UNAUTHORIZED)
    keyless = ParticipantRegistry.load(KEYS)  # H42010200002 registered without an encryption key
    h2 = keyless.get(H2)
    keyless.apply(
        ChangeParty(
            change_id="no-enc",
            action=ChangeAction.UPSERT,
            version=1,
            party=h2.model_copy(update={"keys": tuple(k for k in h2.keys if k.use is KeyUse.SIGN)}),
        )
    )
    [(topic, answer)] = await _refuse_as(H2, outpatient(ECG), keyless)
    assert topic == "party.refused.v1" and answer.sender == H2 and WUHU_EMPLOYEE not in answer.message


# ---------------------------------------------------------------- the answer fits the request (S-01, S-07)
def genuine(request=None) -> tuple[TreatingAssessed, InsuredDecided]:
    """The treating place's assessment of ``request`` (the 20.00 visit) and the insured place's genuine answer."""
    request = request or outpatient(ECG)
    policy = policies().select(request.insured_region, request.visit_date)
    assessment = treating.assess(
        request, Entitlement(EligibilityBasis.NO_FILING_NEEDED), catalogue_for(request, policy)
    )
    decision = insured.decide(assessment, policy, Accumulations(2025, {}))
    return assessment, insured.to_insured_decided(assessment, decision)


def forged(answer: InsuredDecided, **slip) -> InsuredDecided:
    """``answer`` with a slip changed yet valid by itself (S-07 holds inside it): consistent-looking."""
    body = {**answer.slip.model_dump(), **slip}
    return answer.model_copy(update={"slip": SettlementSlip.model_validate(body)})


TRILLION = "1000000000000.00"


def trillion(answer: InsuredDecided) -> InsuredDecided:
    """The forged answer: the 20.00 visit paid 1,000,000,000,000.00 by the pooling fund, S-07 kept."""
    return forged(
        answer,
        total=TRILLION,
        in_scope=TRILLION,
        deductible_applied="0.00",
        fund_total=TRILLION,
        personal_cash="0.00",
        funds=[{"code": "pooling", "name": "统筹", "amount": TRILLION}],
    )


def test_a_genuine_answer_fits():
    assessment, answer = genuine()
    assert answer_problems(assessment, answer) == []


def test_the_trillion_slip_for_a_20_yuan_visit_does_not_fit():
    """The forgery the authority table now stops (S-01), caught by the content too: a slip paying
    1,000,000,000,000.00 from the pooling fund for the 20.00 visit (S-02, S-04)."""
    assessment, answer = genuine()
    fake = trillion(answer)
    problems = answer_problems(assessment, fake)
    assert [p.check for p in problems] == ["split", "split"], problems  # total and in-scope
    assert "1000000000000.00 ≠ the assessed 20.00" in problems[0].message


@pytest.mark.parametrize(
    "change, failed",
    [
        (dict(settlement_id="S-other"), "request"),
        (dict(request_id="OTHER"), "request"),
        (dict(settlement_year=2024), "year"),
        (dict(ratio_applied=Decimal("1.5")), "ratio"),
        (dict(ratio_applied=None), "ratio"),
        (dict(rate_basis="whatever"), "ratio"),
        (
            dict(
                accumulation_delta=[
                    AccumulationEntry(year=2025, counter="fund/pooling/general_outpatient", amount="-50.00")
                ]
            ),
            "accumulations",
        ),
        (dict(accumulation_delta=[AccumulationEntry(year=2025, counter=ACCOUNT_KEY, amount="5.00")]), "accumulations"),
    ],
)
def test_an_answer_to_another_request_or_year_or_with_impossible_counters_does_not_fit(change, failed):
    assessment, answer = genuine()
    problems = answer_problems(assessment, answer.model_copy(update=change))
    assert failed in {p.check for p in problems}, problems


def test_funds_beyond_the_in_scope_amount_or_of_the_other_insurance_do_not_fit():
    """Same bill, same total, S-07 inside the slip: the pooling fund pays the whole 20.00 although the
    deductible takes it all (primary ≤ in-scope − deductible), or a resident fund pays an employee."""
    assessment, answer = genuine()
    assert answer.slip.deductible_applied == Decimal("20.00")  # Wuhu outpatient deductible 600.00
    greedy = forged(
        answer, fund_total="20.00", personal_cash="0.00", funds=[{"code": "pooling", "name": "统筹", "amount": "20.00"}]
    )
    assert {p.check for p in answer_problems(assessment, greedy)} == {"funds"}
    resident = forged(answer, funds=[{"code": "resident_basic", "name": "居民", "amount": "0.00"}])
    assert assessment.insurance_type is InsuranceType.EMPLOYEE
    assert "funds" in {p.check for p in answer_problems(assessment, resident)}


def test_a_slip_built_without_validation_is_checked_again():
    """S-07 on the values as they are: negative cash, funds not adding up (a model_construct'ed slip)."""
    assessment, answer = genuine()
    broken = answer.slip.model_construct(**{**dict(answer.slip), "personal_cash": Decimal("-5.00")})
    problems = answer_problems(assessment, answer.model_copy(update={"slip": broken}))
    assert {p.check for p in problems} == {"slip"} and any("-5.00" in p.message for p in problems)


@PROPS
@given(cases())
def test_every_genuine_decision_of_the_insured_place_fits(case):
    """Money path (M-01): whatever the bill, policy and history, the insured place's own answer passes."""
    assessment, decision = run(case)
    assert answer_problems(assessment, insured.to_insured_decided(assessment, decision)) == []


MUTATIONS = ("total", "primary", "year", "account", "negative", "request")


@PROPS
@given(cases(), st.sampled_from(MUTATIONS), st.decimals(Decimal("0.01"), Decimal(TRILLION), places=2))
def test_every_tampered_answer_is_caught(case, mutation, delta):
    """Each way of making a slip pay more than the insured place decided, or of answering another
    request, is caught however small or large the amount."""
    assessment, decision = run(case)
    answer = insured.to_insured_decided(assessment, decision)
    assert answer_problems(assessment, tamper(answer, mutation, delta)) != []


def tamper(answer: InsuredDecided, mutation: str, delta: Decimal) -> InsuredDecided:
    slip = answer.slip
    if mutation == "total":  # a bigger bill, S-07 kept: more cash and more in scope
        return forged(
            answer, total=slip.total + delta, in_scope=slip.in_scope + delta, personal_cash=slip.personal_cash + delta
        )
    if mutation == "primary":  # the primary fund beyond in-scope − deductible, the cash reduced to match
        raised = slip.in_scope - slip.deductible_applied + delta
        extra = raised - slip.funds[0].amount
        body = {
            **dict(slip),
            "funds": [slip.funds[0].model_copy(update={"amount": raised}), *slip.funds[1:]],
            "fund_total": slip.fund_total + extra,
            "personal_cash": slip.personal_cash - extra,
        }
        return answer.model_copy(update={"slip": slip.model_construct(**body)})
    if mutation == "year":
        return answer.model_copy(update={"settlement_year": answer.settlement_year + 1})
    if mutation == "account":  # the balance debited by another amount than the slip shows
        entries = [e for e in answer.accumulation_delta if e.counter != ACCOUNT_KEY]
        spent = slip.personal_account + delta
        return answer.model_copy(
            update={
                "accumulation_delta": [
                    *entries,
                    AccumulationEntry(year=answer.settlement_year, counter=ACCOUNT_KEY, amount=spent),
                ]
            }
        )
    if mutation == "negative":  # a settlement that takes from the counters
        return answer.model_copy(
            update={
                "accumulation_delta": [
                    *answer.accumulation_delta,
                    AccumulationEntry(year=answer.settlement_year, counter="fund/pooling/annual", amount=-delta),
                ]
            }
        )
    return answer.model_copy(update={"request_id": f"{answer.request_id}-{delta}"})


# ---------------------------------------------------------------- in memory: the service's side of it
async def _settle(svc: Service, request) -> dict:
    [answer] = _results(await svc.send(request_topic(request), request))
    assert answer["outcome"] == "completed", answer
    return answer


def request_topic(request) -> str:
    return "his.outpatient-requested.v1" if hasattr(request, "visit_date") else "his.settlement-requested.v1"


async def test_the_level_that_sets_deductible_and_ratio_is_the_registrys():
    """S-05: H42010200002 is registered at level 2. Even a request claiming level 3 (which the authority
    table refuses on the wire) is assessed at level 2, so the HIS's word can never set the ratio."""
    svc = Service()
    request = outpatient(ECG, institution_code=H2, hospital_level="3")
    await svc.send("his.outpatient-requested.v1", request)
    assessed = next(p for t, p in svc.heard if t == "settlement.treating-assessed.v1")
    assert assessed["hospital_level"] == "2"


async def test_only_the_institution_that_made_a_settlement_cancels_or_refunds_it():
    """S-15, S-17: H42010200002 names itself (the authority table lets it) and cancels, then refunds,
    H42010200001's settlement: NOT_YOUR_SETTLEMENT to H42010200002; the settlement stands."""
    svc = Service()
    done = await _settle(svc, outpatient(ECG))
    sid = done["settlement_id"]
    for topic, command in (
        (
            "his.cancel-requested.v1",
            SettlementCancelRequested(
                request_id="CX-H2", person_id=WUHU_EMPLOYEE, settlement_id=sid, institution_code=H2
            ),
        ),
        (
            "his.refund-requested.v1",
            RefundRequested(
                request_id="RF-H2", person_id=WUHU_EMPLOYEE, settlement_id=sid, institution_code=H2, kind="ordinary"
            ),
        ),
    ):
        heard = await svc.send(topic, command)
        [refused] = _results(heard)  # opened with H42010200002's key: it is addressed to the sender
        assert (refused["outcome"], refused["code"], refused["institution_code"]) == (
            "refused",
            "NOT_YOUR_SETTLEMENT",
            H2,
        ), refused
        assert refused["title_zh"] == "非本机构的结算，不能撤销或退费" and H1 in refused["message"]
        assert [t for t, _ in heard if t == "settlement.reversed.v1"] == []
    record = svc.state("visits", WUHU_EMPLOYEE)["settlements"][sid]
    assert not record["reversed"] and record["reversals"] == {}
    [cancelled] = _results(
        await svc.send(
            "his.cancel-requested.v1",
            SettlementCancelRequested(
                request_id="CX-H1", person_id=WUHU_EMPLOYEE, settlement_id=sid, institution_code=H1
            ),
        )
    )
    assert cancelled["outcome"] == "cancelled"  # its maker still can


async def test_an_answer_that_does_not_fit_is_not_used_and_the_genuine_one_still_completes():
    """S-01, S-07: while the insured place is slow, an answer signed as the service (the table lets it)
    pays 1,000,000,000,000.00 for the 20.00 visit. It is counted and not used; the request stays
    pending; the insured place's own answer then completes it with the genuine slip."""
    svc = Service()
    insured_step = svc.handlers.pop("settlement.treating-assessed.v1")  # the insured place is slow
    await svc.send("his.outpatient-requested.v1", outpatient(ECG))
    asked = TreatingAssessed.model_validate(next(p for t, p in svc.heard if t == "settlement.treating-assessed.v1"))
    _, answer = genuine()
    heard = await svc.send("settlement.insured-decided.v1", trillion(answer))
    assert _results(heard) == [] and [t for t, _ in heard if t == "settlement.completed.v1"] == []
    assert svc.metrics.inconsistent.labels("insured-decided", "split")._value.get() == 2  # total, in-scope
    assert svc.state("visits", WUHU_EMPLOYEE)["requests"][asked.settlement_id]["status"] == "pending"

    svc.handlers["settlement.treating-assessed.v1"] = insured_step
    [done] = _results(await svc.send("settlement.treating-assessed.v1", asked))
    assert done["outcome"] == "completed" and done["slip"]["total"] == "20.00"
    assert done["slip"]["fund_total"] == "0.00" and done["slip"]["personal_cash"] == "20.00"


async def test_the_answer_deadline_undoes_whatever_the_insured_place_decided():
    """S-01: the insured place decided (its answer is lost or did not fit); at the deadline the HIS is
    told "not settled directly" and the insured place rolls its decision back: counters as before."""
    svc = Service()
    decided_back = svc.handlers.pop("settlement.insured-decided.v1")  # the answer never arrives
    await svc.send("his.outpatient-requested.v1", outpatient([line(1, "310701001", "10", "70.00")]))
    [consumed] = svc.state("insured", WUHU_EMPLOYEE)["counters"].values()
    assert Decimal(consumed["deductible/general_outpatient"]) == Decimal("600.00")
    sid = next(p for t, p in svc.heard if t == "settlement.treating-assessed.v1")["settlement_id"]
    svc.handlers["settlement.insured-decided.v1"] = decided_back
    heard = await svc.send(
        "settlement.deadline-due.v1",
        DeadlineDue(
            deadline_id=stable_id("settlement", "insured_timeout", sid),
            kind="insured_timeout",
            subject=WUHU_EMPLOYEE,
            ref=sid,
            due_at=datetime(2025, 3, 12, 1, 0, 20, tzinfo=UTC),
            rule="S-01",
        ),
    )
    [timed_out] = _results(heard)
    assert (timed_out["outcome"], timed_out["code"]) == ("refused", "INSURED_TIMEOUT_NOT_SETTLED")
    assert [t for t, _ in heard].count("settlement.insured-rollback.v1") == 1
    assert list(svc.state("insured", WUHU_EMPLOYEE)["counters"].values()) == [{}]

"""The settlement service's handlers driven in memory (no broker, no database): the partial-refund
saga between the treating place's ``visits`` and the insured place's ``insured`` aggregates (S-15),
and the insured place's record of a person's groups and personal-account balance (S-06).

Bills are those of test_outpatient_examples.py and test_inpatient_examples.py; the over-the-wire
versions are in tests/integration/test_settlement_wire.py.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry
from support import default_sender

from contracts.his import RefundRequested, SettlementCancelRequested
from contracts.registry import ALL_TOPICS
from contracts.settlement import InsuredPersonRecorded
from contracts.settlement_hops import RefundAssessed
from contracts.values import SHANGHAI, make_person_id
from runtime.calendar import default_calendar
from runtime.client import open_result
from runtime.envelopes import envelope_for
from runtime.memory import MemoryStore
from runtime.parties import ParticipantRegistry, signer_for
from services.sanctions import SanctionsProjection
from services.settlement.adapters import inquiry_answers
from services.settlement.domain.accumulations import ACCOUNT_KEY
from services.settlement.domain.decision import RESULT
from services.settlement.handlers import registry
from services.settlement.metrics import SettlementMetrics

from .settlement_support import catalogues, discharge, line, m, outpatient, policies

MARCH = datetime(2025, 3, 12, 9, 0, tzinfo=SHANGHAI)
HOSPITAL = "H42010200001"
KEYS = os.environ["YIDI_KEYS_DIR"]  # the session's development keys (tests/conftest.py)
PARTIES = ParticipantRegistry.load(KEYS)


class Service:
    """The settlement service's own handlers (``handlers.registry``) on the in-memory store
    (``runtime.memory``): each message's decision is stored and what it emits is handled in turn."""

    def __init__(self, parties: ParticipantRegistry = PARTIES) -> None:
        self.metrics = SettlementMetrics(CollectorRegistry())
        self.store = MemoryStore(producer="settlement", now=lambda: MARCH)
        self.handlers = registry(
            self.store,
            now=lambda: MARCH,
            parties=parties,
            policies=policies(),
            catalogues=catalogues(),
            sanctions=SanctionsProjection(self.store),
            metrics=self.metrics,
            answer_ms=20_000,
            calendar=default_calendar(),
            answer=inquiry_answers(parties, self._publish),
        )
        self.heard: list[tuple[str, dict]] = []  # (topic, payload) of what left the service

    async def _publish(self, topic: str, payload, *, cause) -> None:
        """An answer published at once, as ``Service.publish`` does (no state change tied to it)."""
        self.store.published.append(
            envelope_for(topic, payload, producer="settlement", now=MARCH, cause=cause, sender="settlement")
        )

    async def send(self, topic: str, payload) -> list[tuple[str, dict]]:
        """Publish one message and run every message it causes; return what was published."""
        start = len(self.heard)
        # sent by the party the runtime would have authenticated (the HIS: the institution it names)
        queue = [envelope_for(topic, payload, producer="his", now=MARCH, sender=default_sender(topic, payload))]
        while queue:
            env = queue.pop(0)
            topic_of = TOPIC_OF_TYPE[env.type]
            self.heard.append((topic_of, env.payload.model_dump(mode="json")))
            if topic_of in self.handlers:
                mark = len(self.store.published)
                await self.handlers[topic_of](env)
                queue.extend(self.store.published[mark:])
        return self.heard[start:]

    def state(self, collection: str, person_id: str) -> dict:
        found = self.store.state(collection, person_id)
        assert found is not None, (collection, person_id)
        return found


TOPIC_OF_TYPE = {spec.type: name for name, spec in ALL_TOPICS.items()}


def _results(heard) -> list[dict]:
    """The results the HIS heard, each opened with the key of the institution it is sealed to."""
    return [open_result(signer_for(KEYS, p["institution_code"]), p) for t, p in heard if t == RESULT]


def _reversed(heard) -> list[dict]:
    return [p for t, p in heard if t == "settlement.reversed.v1"]


def mixed_bill():
    return [
        line(1, "110200001", "1", "12.00"),
        line(2, "XC10AAA001A001", "28", "1.50", his_class="B"),
        line(3, "XA11GAA001A001", "2", "15.00"),
        line(4, "250302001", "1", "8.00"),
        line(5, "ZZ9999", "1", "50.00"),
    ]


PID = make_person_id("34020219600101001")


async def _settled(svc: Service, request_id: str, lines, **overrides) -> dict:
    [answer] = _results(
        await svc.send("his.outpatient-requested.v1", outpatient(lines, request_id=request_id, **overrides))
    )
    assert answer["outcome"] == "completed", answer
    return answer


async def _person(svc: Service, balance: str, groups=(), at: datetime = MARCH) -> None:
    await svc.send(
        "settlement.insured-person.v1",
        InsuredPersonRecorded(
            person_id=PID,
            insured_region="340200",
            groups=list(groups),
            personal_account_balance=balance,
            recorded_at=at,
        ),
    )


def _refund(sid: str, request_id: str, line_nos=None, kind="ordinary") -> RefundRequested:
    return RefundRequested(
        request_id=request_id, person_id=PID, settlement_id=sid, institution_code=HOSPITAL, kind=kind, line_nos=line_nos
    )


def _counters(svc: Service) -> dict:
    return {k: Decimal(v) for k, v in svc.state("insured", PID)["counters"].get("2025", {}).items()}


# ---------------------------------------------------------------- partial refund saga (S-15)
async def test_partial_refund_resettles_the_remaining_lines_and_nets_the_accumulations_once():
    """The mixed bill with 1000.00 in the personal account and no deductible used yet:
    in-scope 48.24 all under the 600.00 deductible → pooling 0.00; account pays 142.00 − self 80.00 = 62.00;
    cash 80.00. Refund line 2 (in 30.24, B 3.36, over 8.40): remaining in-scope 18.00, deductible 18.00,
    pooling 0.00; account 100.00 − 80.00 = 20.00; cash 80.00. Compensation: total −42.00, account −42.00,
    deductible −30.24. Counters: deductible 18.00, account 20.00; balance 1000.00 − 20.00 = 980.00."""
    svc = Service()
    await _person(svc, "1000.00")
    first = await _settled(svc, "OP-1", mixed_bill())
    assert Decimal(first["slip"]["personal_account"]) == m("62.00")
    assert Decimal(svc.state("insured", PID)["personal_account_balance"]) == m("938.00")

    heard = await svc.send("his.refund-requested.v1", _refund(first["settlement_id"], "RF-1", [2]))
    [done] = _results(heard)
    assert (done["outcome"], done["kind"], done["line_nos"], done["reversal_request_id"]) == (
        "refunded",
        "ordinary",
        [2],
        "RF-1",
    ), done
    c, new = done["compensation"], done["replacement"]
    assert (m(c["total"]), m(c["personal_account"]), m(c["personal_cash"]), m(c["deductible_applied"])) == (
        m("-42.00"),
        m("-42.00"),
        m("0.00"),
        m("-30.24"),
    )
    assert (m(new["total"]), m(new["personal_account"]), m(new["personal_cash"]), m(new["fund_total"])) == (
        m("100.00"),
        m("20.00"),
        m("80.00"),
        m("20.00"),
    )
    assert _reversed(heard) == [done]
    assert _counters(svc) == {"deductible/general_outpatient": m("18.00"), ACCOUNT_KEY: m("20.00")}
    assert Decimal(svc.state("insured", PID)["personal_account_balance"]) == m("980.00")

    # the record now settles lines 1, 3, 4, 5: a later cancel takes back the replacement slip only
    [cancelled] = _results(
        await svc.send(
            "his.cancel-requested.v1",
            SettlementCancelRequested(
                request_id="CX-1", person_id=PID, settlement_id=first["settlement_id"], institution_code=HOSPITAL
            ),
        )
    )
    assert (cancelled["outcome"], m(cancelled["compensation"]["total"])) == ("cancelled", m("-100.00")), cancelled
    assert _counters(svc) == {}
    assert Decimal(svc.state("insured", PID)["personal_account_balance"]) == m("1000.00")


async def test_partial_refund_repeat_unknown_lines_and_all_lines():
    """A repeated refund request gets the same answer; lines the settlement lacks are refused
    INVALID_REQUEST naming them; naming every line is a whole refund."""
    svc = Service()
    first = await _settled(svc, "OP-2", mixed_bill())
    sid = first["settlement_id"]
    [unknown] = _results(await svc.send("his.refund-requested.v1", _refund(sid, "RF-X", [2, 7, 9])))
    assert (unknown["outcome"], unknown["code"]) == ("refused", "INVALID_REQUEST") and "[7, 9]" in unknown["message"]

    [done] = _results(await svc.send("his.refund-requested.v1", _refund(sid, "RF-2", [3])))
    [again] = _results(await svc.send("his.refund-requested.v1", _refund(sid, "RF-2", [3])))
    assert again == done and m(done["compensation"]["total"]) == m("-30.00")

    [whole] = _results(await svc.send("his.refund-requested.v1", _refund(sid, "RF-3", [1, 2, 4, 5])))
    assert (whole["outcome"], whole["replacement"], m(whole["compensation"]["total"])) == (
        "refunded",
        None,
        m("-112.00"),
    ), whole
    assert _counters(svc) == {}
    [late] = _results(await svc.send("his.refund-requested.v1", _refund(sid, "RF-4", [1])))
    assert (late["outcome"], late["code"]) == ("refused", "ALREADY_REVERSED")


async def test_a_refund_in_progress_blocks_other_reversals_of_the_settlement():
    """One reversal of a settlement at a time (S-15): while the insured place has not answered a
    partial refund, a cancel of the same settlement is refused; the refund then completes."""
    svc = Service()
    first = await _settled(svc, "OP-3", mixed_bill())
    sid = first["settlement_id"]
    refund_insured = svc.handlers.pop("settlement.refund-assessed.v1")  # the insured place is slow
    await svc.send("his.refund-requested.v1", _refund(sid, "RF-5", [2]))
    [blocked] = _results(
        await svc.send(
            "his.cancel-requested.v1",
            SettlementCancelRequested(request_id="CX-2", person_id=PID, settlement_id=sid, institution_code=HOSPITAL),
        )
    )
    assert (blocked["outcome"], blocked["code"]) == ("refused", "INVALID_REQUEST")
    assert "in progress" in blocked["message"]
    asked = next(p for t, p in svc.heard if t == "settlement.refund-assessed.v1")
    svc.handlers["settlement.refund-assessed.v1"] = refund_insured
    [done] = _results(await svc.send("settlement.refund-assessed.v1", RefundAssessed.model_validate(asked)))
    assert done["outcome"] == "refunded" and done["reversal_request_id"] == "RF-5"


# ---------------------------------------------------------------- insured person (S-06)
async def test_personal_account_balance_is_debited_and_bounds_the_next_settlement():
    """Wuhu employee, 310701001 10 × 70.00 = 700.00 in scope, deductible 600.00, 30%: pooling 30.00;
    the account pays the rest of the in-scope share 670.00 but holds 500.00: account 500.00, cash 170.00.
    A second visit: pooling 210.00, account 0.00 (nothing left), cash 490.00."""
    svc = Service()
    await _person(svc, "500.00")
    ecg = [line(1, "310701001", "10", "70.00")]
    one = await _settled(svc, "ACC-1", ecg)
    assert [(f["code"], m(f["amount"])) for f in one["slip"]["funds"]] == [
        ("pooling", m("30.00")),
        ("personal_account", m("500.00")),
    ]
    assert m(one["slip"]["personal_cash"]) == m("170.00")
    two = await _settled(svc, "ACC-2", ecg)
    assert (m(two["slip"]["personal_account"]), m(two["slip"]["personal_cash"])) == (m("0.00"), m("490.00"))
    assert Decimal(svc.state("insured", PID)["personal_account_balance"]) == m("0.00")


async def test_groups_open_the_civil_servant_subsidy_and_stale_records_are_ignored():
    """An emergency stay (deemed filed, F-04), 330801001 1 × 3000.00 (A), level 3: deductible 800.00,
    85% − 10 = 75%: pooling 2200.00 × 0.75 = 1650.00; residual in-scope 3000.00 − 1650.00 = 1350.00.
    As a civil servant the subsidy pays 50%: 675.00, cash 675.00 (S-06); an older record without the
    group arrives late and is ignored. Without the group: no subsidy line, cash 1350.00."""
    svc = Service()
    await _person(svc, "300.00", ["civil_servant"])
    await _person(svc, "9.00", [], at=datetime(2025, 3, 1, tzinfo=MARCH.tzinfo))
    state = svc.state("insured", PID)
    assert (state["groups"], Decimal(state["personal_account_balance"])) == (["civil_servant"], m("300.00"))
    stay = [line(1, "330801001", "1", "3000.00")]
    [civil] = _results(await svc.send("his.settlement-requested.v1", discharge(stay, emergency=True)))
    assert [(f["code"], m(f["amount"])) for f in civil["slip"]["funds"]] == [
        ("pooling", m("1650.00")),
        ("large_amount", m("0.00")),
        ("civil_servant", m("675.00")),
    ], civil
    assert m(civil["slip"]["personal_cash"]) == m("675.00")
    assert Decimal(svc.state("insured", PID)["personal_account_balance"]) == m("300.00")  # no account for stays

    await _person(svc, "300.00", [], at=datetime(2025, 3, 13, tzinfo=MARCH.tzinfo))
    [plain] = _results(
        await svc.send(
            "his.settlement-requested.v1", discharge(stay, emergency=True, request_id="REQ-2", visit_id="ZY0002")
        )
    )
    assert [f["code"] for f in plain["slip"]["funds"]] == ["pooling", "large_amount"], plain
    assert m(plain["slip"]["personal_cash"]) == m("1350.00")


async def test_a_partial_refund_the_insured_place_answers_too_late_is_not_made_behind_the_his_back():
    """S-01 for refunds: the answer deadline passes, the HIS is told the refund was not made and the
    settlement stands; when the insured place's re-decision arrives after all, it is undone, so the
    counters are those of the original settlement, and the settlement can be refunded again."""
    from contracts.ops import DeadlineDue
    from services.outcome import stable_id

    svc = Service()
    first = await _settled(svc, "OP-9", mixed_bill())
    sid = first["settlement_id"]
    before = _counters(svc)
    refund_insured = svc.handlers.pop("settlement.refund-assessed.v1")  # the insured place is slow
    await svc.send("his.refund-requested.v1", _refund(sid, "RF-9", [2]))
    asked = next(p for t, p in svc.heard if t == "settlement.refund-assessed.v1")
    ref = f"{sid}|{asked['reversal_id']}"
    [timed_out] = _results(
        await svc.send(
            "settlement.deadline-due.v1",
            DeadlineDue(
                deadline_id=stable_id("settlement", "refund_timeout", ref),
                kind="refund_timeout",
                subject=PID,
                ref=ref,
                due_at=MARCH,
                rule="S-01",
            ),
        )
    )
    assert (timed_out["outcome"], timed_out["code"]) == ("refused", "INSURED_TIMEOUT_NOT_SETTLED"), timed_out

    svc.handlers["settlement.refund-assessed.v1"] = refund_insured
    heard = await svc.send("settlement.refund-assessed.v1", RefundAssessed.model_validate(asked))
    assert _results(heard) == [] and _reversed(heard) == []  # nothing reaches the HIS or clearing
    assert [t for t, _ in heard].count("settlement.insured-rollback.v1") == 1
    assert _counters(svc) == before
    [again] = _results(await svc.send("his.refund-requested.v1", _refund(sid, "RF-10", [2])))
    assert again["outcome"] == "refunded"


async def test_a_late_answer_rolled_back_leaves_the_counters_as_they_were():
    """S-01, either order: the assessment reaches the insured place after its answer deadline and is
    refused (nothing consumed); the treating place's rollback of it, arriving before or after that
    refusal, changes no counter and leaves no empty year behind (the record reads as never touched)."""
    from contracts.settlement_hops import InsuredRollback, TreatingAssessed
    from services.settlement.domain.insured_place import InsuredPlace, InsuredRecord

    svc = Service()
    svc.handlers.pop("settlement.treating-assessed.v1")  # the insured place is slow
    await svc.send("his.outpatient-requested.v1", outpatient(mixed_bill(), request_id="LATE-1"))
    assessment = TreatingAssessed.model_validate(
        next(p for t, p in svc.heard if t == "settlement.treating-assessed.v1")
    )
    late = assessment.answer_by + timedelta(seconds=1)
    rollback = InsuredRollback(
        settlement_id=assessment.settlement_id, person_id=PID, reason="answered after the timeout"
    )
    for first_rollback in (False, True):
        place = InsuredPlace(InsuredRecord(person_id=PID), policies())
        if first_rollback:
            place.rollback(rollback)
        [answer] = place.assessed(assessment, late).messages
        assert answer.payload.refusal_code == "INSURED_TIMEOUT_NOT_SETTLED"
        place.rollback(rollback)
        assert place.person.counters == {} and place.person.personal_account_balance == 0

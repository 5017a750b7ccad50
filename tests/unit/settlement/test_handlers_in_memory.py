"""One handler at a time, on the in-memory store (``runtime.memory``): an envelope in, the stored
state, the messages and the answer deadline out (S-01, S-05, S-12, S-19), in milliseconds. The
handlers are the service's own (``services/settlement/handlers.py`` ``registry``); the chain of
hops is ``test_saga_in_memory.py``'s, the wire ``tests/integration/test_settlement_wire.py``'s.
"""

from __future__ import annotations

from datetime import timedelta

from support import default_sender

from runtime.client import open_result
from runtime.envelopes import envelope_for
from runtime.parties import signer_for
from services.settlement.domain.treating import settlement_id_for

from .settlement_support import WUHU_EMPLOYEE, discharge, line, outpatient
from .test_saga_in_memory import KEYS, MARCH, TOPIC_OF_TYPE, Service

ECG = [line(1, "310701001", "10", "2.00")]  # 常规心电图 10 × 2.00 = 20.00, class A, all in scope
H1 = "H42010200001"


def his(topic: str, payload):
    return envelope_for(topic, payload, producer="his", now=MARCH, sender=default_sender(topic, payload))


def published(svc: Service, since: int = 0) -> list[tuple[str, dict]]:
    """(topic, payload) of what the handlers' decisions emitted, a result opened with its institution's key."""
    out = []
    for env in svc.store.published[since:]:
        topic = TOPIC_OF_TYPE[env.type]
        body = env.payload.model_dump(mode="json")
        if topic == "settlement.result.v2":
            body = open_result(signer_for(KEYS, body["institution_code"]), body)
        out.append((topic, body))
    return out


async def test_a_his_request_is_assessed_stored_pending_and_its_answer_deadline_armed():
    """S-01..S-05: the treating place assesses the 20.00 visit (in scope 20.00), keeps the request pending,
    asks the insured place and arms the answer deadline: 20,000 ms after receipt."""
    svc = Service()
    handler = svc.handlers["his.outpatient-requested.v1"]
    assert await handler(his("his.outpatient-requested.v1", outpatient(ECG))) == "applied"

    sid = settlement_id_for(H1, "REQ-1")
    request = svc.state("visits", WUHU_EMPLOYEE)["requests"][sid]
    assert (request["status"], request["result"]) == ("pending", None)
    [(topic, asked)] = published(svc)
    assert topic == "settlement.treating-assessed.v1" and asked["settlement_id"] == sid
    assert asked["totals"]["in_scope"] == "20.00" and asked["hospital_level"] == "3"  # the registry's (S-05)
    [armed] = svc.store.deadlines.values()
    assert (armed.schedule.deadline_id, armed.schedule.due_at) == (
        f"insured_timeout:{sid}",
        MARCH + timedelta(milliseconds=20_000),
    )
    assert svc.metrics.settlements.labels("refused", "general_outpatient")._value.get() == 0


async def test_a_copy_of_the_same_message_changes_nothing():
    """Redelivery: the inbox knows the event id; nothing is decided, stored or sent again."""
    svc = Service()
    env = his("his.outpatient-requested.v1", outpatient(ECG))
    handler = svc.handlers["his.outpatient-requested.v1"]
    await handler(env)
    before = (svc.state("visits", WUHU_EMPLOYEE), len(svc.store.published))
    assert await handler(env) == "duplicate"
    assert (svc.state("visits", WUHU_EMPLOYEE), len(svc.store.published)) == before


async def test_a_stay_without_filing_is_refused_not_filed_counted_and_kept_for_repeats():
    """S-12, S-19: an inpatient stay needs a filing; none is in the read model. The HIS hears NOT_FILED
    with its Chinese title and the manual-claim hint (S-17); the refusal is counted once, after it was
    stored; nothing goes to the insured place and no deadline is armed."""
    svc = Service()
    await svc.handlers["his.settlement-requested.v1"](his("his.settlement-requested.v1", discharge(ECG)))
    [(topic, refused)] = published(svc)
    assert topic == "settlement.result.v2"
    assert (refused["outcome"], refused["code"], refused["manual_claim_possible"]) == ("refused", "NOT_FILED", True)
    assert refused["title_zh"] == "未办理异地就医备案"
    sid = settlement_id_for(H1, "REQ-1")
    assert svc.state("visits", WUHU_EMPLOYEE)["requests"][sid]["status"] == "refused"
    assert svc.store.deadlines == {}
    assert svc.metrics.refusals.labels("NOT_FILED")._value.get() == 1

    # the same request again (a new message, the same request id): the same answer, counted no more
    await svc.handlers["his.settlement-requested.v1"](his("his.settlement-requested.v1", discharge(ECG)))
    [(_, again)] = published(svc, since=1)
    assert again == refused and svc.metrics.refusals.labels("NOT_FILED")._value.get() == 1


async def test_the_answer_deadline_tells_the_his_not_settled_and_undoes_the_insured_decision():
    """S-01, S-17: the insured place never answers; the deadline the request armed fires: the HIS hears
    INSURED_TIMEOUT_NOT_SETTLED, a rollback goes to the insured place, one timeout is counted."""
    svc = Service()
    await svc.handlers["his.outpatient-requested.v1"](his("his.outpatient-requested.v1", outpatient(ECG)))
    [fired] = svc.store.due()
    mark = len(svc.store.published)
    assert await svc.handlers["settlement.deadline-due.v1"](fired) == "applied"
    [(result_topic, result), (rollback_topic, _)] = published(svc, since=mark)
    assert (result_topic, rollback_topic) == ("settlement.result.v2", "settlement.insured-rollback.v1")
    assert (result["outcome"], result["code"]) == ("refused", "INSURED_TIMEOUT_NOT_SETTLED")
    assert svc.metrics.timeouts._value.get() == 1
    sid = settlement_id_for(H1, "REQ-1")
    assert svc.state("visits", WUHU_EMPLOYEE)["requests"][sid]["status"] == "timed_out"

"""The sample month `make run` seeds (simulator.seed): every item an agency's command on a registry
topic, named once, and the same bytes on every start — a copy is then a copy to the services
(their inbox tells copies by event id and payload fingerprint), never a CONFLICTING_COPY."""

from __future__ import annotations

from contracts.registry import ALL_TOPICS
from simulator import seed as sample
from simulator.__main__ import FILING_DAY, SAMPLE_VISIT_DAY


def _all() -> list[sample.Seeded]:
    return [
        item
        for rounds in (sample.before(FILING_DAY), sample.after(SAMPLE_VISIT_DAY))
        for items in rounds
        for item in items
    ]


def test_each_item_is_an_agency_command_on_a_registry_topic_named_once() -> None:
    items = _all()
    names = [item.name for item in items]
    assert len(names) == len(set(names))
    for item in items:
        spec = ALL_TOPICS[item.topic]
        assert spec.kind == "command" and spec.producer == "agency", item.topic
        assert isinstance(item.payload, spec.message), item.name
        assert item.sender.startswith("A") and len(item.sender) == 7


def test_a_second_start_sends_the_same_messages() -> None:
    first, second = _all(), _all()
    assert [(i.name, i.payload.model_dump_json(), i.sender) for i in first] == [
        (i.name, i.payload.model_dump_json(), i.sender) for i in second
    ]
    assert [sample.event_id(i.name) for i in first] == [sample.event_id(i.name) for i in second]
    assert len({sample.event_id(i.name) for i in first}) == len(first)


def test_every_collaboration_state_and_one_red_candidate_are_seeded() -> None:
    topics = {item.topic for item in _all()}
    assert {
        "collab.open-request.v1",
        "collab.reply-request.v1",
        "collab.confirm-result.v1",
        "collab.propose-extension.v1",
        "collab.hand-over-lead.v1",
        "collab.take-up-lead.v1",
        "collab.report-lead-result.v1",
        "collab.request-coinvestigation.v1",
        "collab.submit-coinvestigation-result.v1",
        "collab.confirm-coinvestigation.v1",
        "collab.discuss-coinvestigation.v1",
        "collab.publish-notice.v1",
        "prepayment.set-annual-quota.v1",
    } <= topics
    confirms = [i.payload for i in _all() if i.topic == "collab.confirm-result.v1"]
    assert sorted(c.accepted for c in confirms) == [False, True]  # confirmed and disputed (K-04)
    [escalated] = [i.payload for i in _all() if getattr(i.payload, "escalated_from", None)]
    assert str(escalated.target_region) == sample.HUBEI  # one level up
    quotas = {
        (str(i.payload.insured_region), i.payload.scope.value): i.payload
        for i in _all()
        if i.topic == "prepayment.set-annual-quota.v1"
    }
    red = quotas[(sample.WUHU, "cross_province")]
    assert sum(red.last_year_monthly_funds.values()) / 3 * 2 < 5000  # a few stays pass 90 % (P-05)

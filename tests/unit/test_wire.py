"""Personal data on the wire (003 §5 (三)): a payload that names a person travels sealed to its
readers' registry keys, bound to its topic and envelope; nothing else can open it, and a payload
in clear on such a topic is refused."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from support import completed_settlement
from support import test_keys as keys_dir

from contracts.registry import ALL_TOPICS
from runtime.client import PartyClient
from runtime.envelopes import encode
from runtime.parties import ParticipantRegistry, load_private_keys
from runtime.wire import SEALED, SealingError, WireOpener, WireSealer, readers

NOW = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
ID_NUMBER = re.compile(rb"\d{17}[\dX]")


@pytest.fixture(scope="module")
def registry() -> ParticipantRegistry:
    return ParticipantRegistry.load(keys_dir())


@pytest.fixture(scope="module")
def client() -> PartyClient:
    return PartyClient(None, keys_dir())  # type: ignore[arg-type]   # sealing and signing only


def _completed(client: PartyClient) -> tuple[str, bytes]:
    payload = completed_settlement(
        "S-WIRE-1",
        insured_region="340200",
        treating_region="420100",
        settled_on=NOW.date(),
        funds={"pooling": "120.00"},
    )
    env = client.envelope("settlement.completed.v1", payload, sender="settlement", now=NOW)
    return str(env.event_id), client.wire_value("settlement.completed.v1", env)


def opener(*codes: str) -> WireOpener:
    return WireOpener.of(*(load_private_keys(keys_dir(), c) for c in codes))


def test_every_topic_that_names_a_person_is_sealed_and_no_other():
    sealed = {name for name, spec in ALL_TOPICS.items() if spec.sealed}
    assert {
        "his.outpatient-requested.v1",
        "settlement.completed.v1",
        "filing.register.v1",
        "filing.changed.v1",
        "settlement.treating-assessed.v1",
        "settlement.deadline-due.v1",
        "collab.lead-received.v1",
    } <= sealed
    assert (
        not {
            "settlement.result.v2",
            "party.refused.v1",
            "clearing.period-generated.v1",
            "prepayment.sanction.v1",
            "parties.change.v2",
        }
        & sealed
    )


def test_a_sealed_value_shows_the_metadata_and_no_id_number(client):
    event_id, value = _completed(client)
    assert not ID_NUMBER.search(value)
    envelope = json.loads(value)
    assert "payload" not in envelope and envelope["event_id"] == event_id and envelope["sender"] == "settlement"
    kids = [r["header"]["kid"].split("/")[0] for r in envelope[SEALED]["recipients"]]
    assert kids == ["clearing", "prepayment", "collab", "supervision"]  # the consumers the topic registry names


def test_each_reader_opens_it_and_nobody_else(client):
    _, value = _completed(client)
    for reader in ("clearing", "prepayment", "collab"):
        payload = json.loads(opener(reader).open("settlement.completed.v1", value))["payload"]
        assert payload["person_id"] == "11010519491231002X" and Decimal(payload["slip"]["fund_total"]) == 120
    for outsider in ("filing", "H34010400002", "A340200"):
        with pytest.raises(SealingError) as refused:
            opener(outsider).open("settlement.completed.v1", value)
        assert refused.value.reason == "payload_not_opened"


def test_a_sealed_payload_moved_to_another_topic_or_envelope_does_not_open(client):
    _, value = _completed(client)
    with pytest.raises(SealingError):  # same readers' keys, another topic
        opener("clearing").open("settlement.reversed.v1", value)
    envelope = json.loads(value)
    envelope["event_id"] = "0b6f3b1e-9a55-4c8e-a3c2-6b2f0e7f4d10"
    with pytest.raises(SealingError):
        opener("clearing").open("settlement.completed.v1", json.dumps(envelope).encode())


def test_an_altered_ciphertext_does_not_open(client):
    _, value = _completed(client)
    envelope = json.loads(value)
    text = envelope[SEALED]["ciphertext"]
    envelope[SEALED]["ciphertext"] = ("A" if text[0] != "A" else "B") + text[1:]
    with pytest.raises(SealingError):
        opener("clearing").open("settlement.completed.v1", json.dumps(envelope).encode())


def test_a_payload_in_clear_on_a_sealed_topic_is_refused(client):
    payload = completed_settlement(
        "S-WIRE-2", insured_region="340200", treating_region="420100", settled_on=NOW.date(), funds={"pooling": "1.00"}
    )
    clear = encode(client.envelope("settlement.completed.v1", payload, sender="settlement", now=NOW))
    with pytest.raises(SealingError) as refused:
        opener("clearing").open("settlement.completed.v1", clear)
    assert refused.value.reason == "payload_not_sealed"


def test_a_topic_without_personal_data_passes_as_it_is(client, registry):
    value = b'{"event_id": "x", "payload": {"region": "340200"}}'
    assert WireSealer(registry).seal("clearing.period-generated.v1", value) == value
    assert opener("clearing").open("clearing.period-generated.v1", value) == value


def test_bytes_that_are_no_envelope_are_left_for_the_consumer_to_refuse(registry):
    for junk in (b"not json", b"[1,2]", b'{"x":' * 3 + b"1" + b"}" * 3, b"\xff\xfe"):
        assert WireSealer(registry).seal("his.outpatient-requested.v1", junk) == junk


def test_a_reply_outside_the_platform_is_sealed_to_the_parties_it_names(registry):
    """filing.changed.v1 is read by settlement and by the agencies: the insured region's agency
    (and the treating region's, when registered) can open what is about their region."""
    spec = ALL_TOPICS["filing.changed.v1"]
    payload = {"person_id": "11010519491231002X", "insured_region": "340200", "treating_region": "420100"}
    codes = readers(spec, payload, registry)
    assert codes[0] == "settlement" and registry.agency_of("340200").code in codes


def test_a_large_payload_opens(client):
    """A bill of thousands of lines seals to far more than joserfc's default 64 KB ciphertext limit:
    the registry takes what the broker carries."""
    payload = completed_settlement(
        "S-WIRE-LARGE",
        insured_region="340200",
        treating_region="420100",
        settled_on=NOW.date(),
        funds={"pooling": "1.00"},
    )
    env = client.envelope("settlement.completed.v1", payload, sender="settlement", now=NOW)
    data = json.loads(env.model_dump_json())
    data["payload"]["request_id"] = "R" * 600_000
    value = client.sealer.seal("settlement.completed.v1", json.dumps(data).encode())
    assert len(value) > 600_000
    opened = json.loads(opener("clearing").open("settlement.completed.v1", value))
    assert opened["payload"]["request_id"] == "R" * 600_000

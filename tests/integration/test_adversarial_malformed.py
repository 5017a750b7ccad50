"""Malformed input over the wire: a hospital (signing with its genuine key, so the platform knows who
to tell) sends what no contract allows — bytes that are not JSON, invalid UTF-8, 5,000 levels of
nesting, huge values, wrong types, missing or extra fields, the wrong ``type`` or ``schema_version``
for the topic, absurd amounts and dates, unknown regions, invalid ID numbers, an empty or oversize
bill, a conflicting copy of an event id… Each case: dead-lettered with its reason and the original
(or a reference to it), the sender told on ``party.refused.v1`` with its code, nothing stored,
answered or published for it, and the hospital's next valid request on the same partition completed.

The settlement service runs once for the module, on its own prefix, at 2025-03-12 09:00. Every bad
message starts as a valid one built by the project's helpers (``runtime.client`` / ``envelope_for``
/ ``encode``) and is mutated; only the mutation is written here. The cases that can hold up a
partition (deep nesting) run last.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import pytest
from adversarial_support import DEAD, REFUSED, Seen, Tap
from support import Bus, ServiceProcess, eventually, new_prefix
from test_settlement_wire import HOSPITAL, MARCH, ecg_bill, outpatient, person

from contracts.envelope import Envelope
from contracts.his import MAX_LINES
from runtime.envelopes import encode

pytestmark = pytest.mark.integration

OUTPATIENT, RESULT, COMPLETED = "his.outpatient-requested.v1", "settlement.result.v2", "settlement.completed.v1"
ASSESSED = "settlement.treating-assessed.v1"
WATCHED = (REFUSED, DEAD, RESULT, COMPLETED, ASSESSED)


class Hospital:
    def __init__(self, bus: Bus, tap: Tap, proc: ServiceProcess) -> None:
        self.bus, self.tap, self.proc = bus, tap, proc

    def valid(self, ref: str, **overrides) -> tuple[Envelope, dict]:
        """A valid request of H42010200001 (the helpers), and its envelope as JSON to mutate."""
        assert self.bus.client
        env = self.bus.client.envelope(
            OUTPATIENT,
            outpatient(person(), ref, ecg_bill("2.00"), **overrides),
            sender=HOSPITAL,
            now=self.bus.business_now(),
        )
        return env, json.loads(encode(env))

    async def send(self, value: bytes) -> None:
        await self.bus.send_raw(OUTPATIENT, value, HOSPITAL, sign_as=HOSPITAL)

    async def next_completes(self, label: str) -> None:
        ref = f"{label}-{uuid.uuid4().hex[:6]}"
        await self.bus.publish(OUTPATIENT, outpatient(person(), ref, ecg_bill("1.00")), sender=HOSPITAL)
        done = await self.tap.wait(RESULT, lambda s: s.payload.get("request_id") == ref, timeout=60)
        assert self.bus.open_result(done.payload)["outcome"] == "completed"


@pytest.fixture(scope="module")
async def hospital(stack):
    prefix = new_prefix(stack, "adv-malformed")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        proc = ServiceProcess(stack, "settlement", prefix, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="20000").start()
        tap = await Tap(stack, prefix, WATCHED).start()
        try:
            yield Hospital(bus, tap, proc)
        finally:
            await tap.stop()
            proc.stop()


# ---------------------------------------------------------------- mutations of a valid request
def _set(path: str, value) -> Callable[[dict], dict]:
    def mutate(d: dict) -> dict:
        *parents, last = path.split(".")
        node = d
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return d

    return mutate


def _drop(path: str) -> Callable[[dict], dict]:
    def mutate(d: dict) -> dict:
        *parents, last = path.split(".")
        node = d
        for part in parents:
            node = node[part]
        del node[last]
        return d

    return mutate


def _lines(n: int) -> Callable[[dict], dict]:
    def mutate(d: dict) -> dict:
        first = {k: v for k, v in d["payload"]["fee_lines"][0].items() if v is not None}
        d["payload"]["fee_lines"] = [{**first, "line_no": i + 1} for i in range(n)]
        return d

    return mutate


def _duplicate_line(d: dict) -> dict:
    d["payload"]["fee_lines"] = d["payload"]["fee_lines"] * 2
    return d


def _nest_payload(d: dict) -> dict:
    d["payload"] = {"payload": d["payload"]}
    return d


def _price(price: str, amount: str | None = None) -> Callable[[dict], dict]:
    def mutate(d: dict) -> dict:
        line = d["payload"]["fee_lines"][0]
        line["unit_price"], line["amount"] = price, amount or price
        line["quantity"] = "1"
        return d

    return mutate


def _bad_id_number(d: dict) -> dict:
    pid = d["payload"]["person_id"]
    d["payload"]["person_id"] = pid[:-1] + ("0" if pid[-1] != "0" else "1")  # another check digit
    return d


JSON_CASES: dict[str, Callable[[dict], dict]] = {
    "wrong_type_fee_lines_a_string": _set("payload.fee_lines", "all of them"),
    "wrong_type_quantity_an_object": _set("payload.fee_lines.0.quantity", {"value": 1}),
    "wrong_type_amount_a_boolean": _set("payload.fee_lines.0.amount", True),
    "wrong_type_payload_a_list": _set("payload", []),
    "payload_null": _set("payload", None),
    "missing_person_id": _drop("payload.person_id"),
    "missing_institution_code": _drop("payload.institution_code"),
    "missing_envelope_event_id": _drop("event_id"),
    "missing_envelope_sender": _drop("sender"),
    "extra_nesting_of_the_payload": _nest_payload,
    "wrong_envelope_type_for_the_topic": _set("type", "his.admission"),
    "wrong_schema_version": _set("schema_version", 2),
    "event_id_not_a_uuid": _set("event_id", "not-a-uuid"),
    "occurred_at_without_timezone": _set("occurred_at", "2025-03-12T09:00:00"),
    "negative_unit_price": _price("-10.00"),
    "absurd_amount": _price("1000000000000000.00"),
    "amount_with_a_thousandth": _price("1.001"),
    "nan_amount": _price("NaN"),
    "far_future_visit_date": _set("payload.visit_date", "2999-01-01"),
    "very_old_visit_date": _set("payload.visit_date", "1900-01-01"),
    "unknown_insured_region": _set("payload.insured_region", "349900"),
    "unknown_treating_region": _set("payload.treating_region", "999999"),
    "invalid_id_number_check_digit": _bad_id_number,
    "invalid_id_number_birth_date": _set("payload.person_id", "34020219601301123X"),
    "empty_fee_lines": _set("payload.fee_lines", []),
    "duplicate_line_ids": _duplicate_line,
    "oversize_line_count": _lines(MAX_LINES + 1),
    "huge_string_value": _set("payload.visit_id", "V" * 600_000),
    "null_byte_in_a_string": _set("payload.visit_id", "V\u0000-1"),
    "negative_line_number": _set("payload.fee_lines.0.line_no", -1),
}


def _raw_cases(h: Hospital) -> dict[str, bytes]:
    _, valid = h.valid("RAW")
    text = json.dumps(valid)
    return {
        "not_json": b"this is not JSON at all",
        "invalid_utf8": b'{"event_id": "\xff\xfe\xfd"}',
        "empty_value": b"",
        "json_but_not_an_object": b"[1, 2, 3]",
        "two_json_documents": (text + text).encode(),
        "raw_null_byte": text.encode().replace(b'"V-RAW"', b'"V-\x00RAW"', 1),
        "huge_number": text.replace('"2.00"', "1" + "0" * 5000, 1).encode(),
    }


def _deep(depth: int = 5000) -> Callable[[Hospital], bytes]:
    def make(h: Hospital) -> bytes:
        _, valid = h.valid("DEEP")
        valid["payload"]["diagnoses"] = "<DEEP>"
        return json.dumps(valid).replace('"<DEEP>"', "[" * depth + "]" * depth).encode()

    return make


def _told(h: Hospital, since: int) -> Callable[[Seen], bool]:
    return lambda s: (s.payload.get("sender"), s.payload.get("topic")) == (HOSPITAL, OUTPATIENT)


async def _assert_refused_and_moves_on(
    h: Hospital,
    value: bytes,
    event_id: str | None,
    label: str,
    reasons: tuple[str, ...] = ("INVALID_MESSAGE", "UNKNOWN_REGION"),
) -> dict:
    """Dead-lettered with the original, the hospital told, nothing answered, the next request completes."""
    dead_mark, refused_mark = h.tap.mark(DEAD), h.tap.mark(REFUSED)
    result_mark, assessed_mark = h.tap.mark(RESULT), h.tap.mark(ASSESSED)
    await h.send(value)
    letter = (await h.tap.wait(DEAD, lambda s: (s.value or {}).get("topic") == OUTPATIENT, since=dead_mark)).value
    if event_id is not None and letter.get("event_id") is not None:
        assert letter["event_id"] == event_id, letter
    if letter.get("original") is not None:  # what was sent: its payload sealed on the way (runtime.wire)
        assert _same(letter["original"], value), letter["reason"]
    else:
        assert letter["original_ref"]["bytes"] >= len(value), letter
    refusal = (await h.tap.wait(REFUSED, _told(h, refused_mark), since=refused_mark)).payload
    assert refusal["reason"] in reasons, refusal
    if event_id is not None:
        assert refusal["refused_event_id"] == event_id, refusal
    await h.next_completes(label)
    # nothing answered or assessed for it: only the probe's records arrived
    assert [
        s for s in h.tap.all(RESULT, since=result_mark) if not s.payload.get("request_id", "").startswith(label)
    ] == []
    assert [
        s for s in h.tap.all(ASSESSED, since=assessed_mark) if not s.payload.get("request_id", "").startswith(label)
    ] == []
    return letter


def _same(original: str, value: bytes) -> bool:
    """The dead letter's original (opened) is the message sent: the same JSON, or the same bytes."""
    if not _utf8(value):
        return original == value.hex()
    try:
        return json.loads(original) == json.loads(value)
    except (ValueError, RecursionError):
        return original == value.decode()


def _utf8(value: bytes) -> bool:
    try:
        value.decode()
        return True
    except UnicodeDecodeError:
        return False


# ================================================================ the cases
@pytest.mark.parametrize("case", list(JSON_CASES))
async def test_a_request_that_breaks_its_contract_is_refused_and_the_partition_moves_on(hospital, case):
    h = hospital
    env, valid = h.valid(f"BAD-{case}"[:60])
    mutated = JSON_CASES[case](valid)
    value = json.dumps(mutated).encode()
    peeked = str(env.event_id) if mutated.get("event_id") == str(env.event_id) else None
    letter = await _assert_refused_and_moves_on(h, value, peeked, f"after-{case}"[:40])
    if case == "missing_envelope_sender":  # signed by the hospital, naming no sender: not tied to a party
        assert (letter["reason"], letter["detail"].split(":")[0]) == ("UNAUTHENTICATED", "sender_mismatch"), letter
    else:
        assert letter["reason"] in ("invalid_message", "wrong_type", "unreadable_message"), letter


@pytest.mark.parametrize(
    "case",
    [
        "not_json",
        "invalid_utf8",
        "empty_value",
        "json_but_not_an_object",
        "two_json_documents",
        "raw_null_byte",
        "huge_number",
    ],
)
async def test_bytes_that_are_no_envelope_are_dead_lettered_and_the_partition_moves_on(hospital, case):
    h = hospital
    value = _raw_cases(h)[case]
    letter = await _assert_refused_and_moves_on(h, value, None, f"after-{case}")
    assert letter["reason"] in ("invalid_message", "unreadable_message"), letter


async def test_a_conflicting_copy_is_dead_lettered_and_its_sender_told(hospital):
    """The same event id as a request already settled, with another payload: not taken for a copy
    (``conflicting_copy``), and the hospital hears that its message had no effect."""
    h = hospital
    assert h.bus.client
    pid = person()  # the same person: the copy reaches the aggregate that holds the first one's mark
    first = await h.bus.publish(OUTPATIENT, outpatient(pid, "COPY-1", ecg_bill("2.00")), sender=HOSPITAL)
    await h.tap.wait(RESULT, lambda s: s.payload.get("request_id") == "COPY-1", timeout=60)
    other = h.bus.client.envelope(
        OUTPATIENT,
        outpatient(pid, "COPY-1", ecg_bill("9.00")),
        sender=HOSPITAL,
        now=h.bus.business_now(),
        event_id=first.event_id,
    )
    letter = await _assert_refused_and_moves_on(
        h, encode(other), str(first.event_id), "after-conflict", reasons=("CONFLICTING_COPY",)
    )
    assert letter["reason"] == "conflicting_copy", letter
    results = h.tap.all(RESULT, lambda s: s.payload.get("request_id") == "COPY-1")
    assert len({s.value["event_id"] for s in results}) == 1


# ---------------------------------------------------------------- last: what may hold a partition up
async def test_deep_nesting_is_dead_lettered_and_does_not_stall_the_partition(hospital):
    """5,000 levels of nesting in a signed request: dead-lettered and told, not retried for ever."""
    h = hospital
    env, _ = h.valid("DEEP")
    value = _deep()(h)
    await asyncio.wait_for(_assert_refused_and_moves_on(h, value, None, "after-deep"), 90)
    await eventually(
        lambda: h.proc.metric("yidi_messages_handled_total", topic=OUTPATIENT, result="failed") == 0, timeout=5
    )

"""Nothing lost silently, over the wire (S-19; the runtime's failure classes, runtime.failures.classify):
a poison message is dead-lettered with its reason and answered to its sender while the next
message of its partition is handled; a handler that fails keeps its message — the offset does not
advance — until it succeeds."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from support import Bus, ServiceProcess, eventually, new_prefix
from test_settlement_wire import HOSPITAL, MARCH, OUTPATIENT, Wire, answers, ask, ecg_bill, outpatient, person

from runtime.envelopes import encode

pytestmark = pytest.mark.integration


async def test_a_line_of_1e30_is_refused_with_its_reason_and_the_next_request_settles(stack):
    prefix = new_prefix(stack, "poison")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        proc = ServiceProcess(stack, "settlement", prefix).start()
        try:
            w, pid = Wire(bus, proc), person()
            request = outpatient(pid, "POISON-1", ecg_bill("2.00"))
            raw = json.loads(encode(bus.client.envelope(OUTPATIENT, request, sender=HOSPITAL, now=bus.business_now())))
            raw["payload"]["fee_lines"][0].update(quantity="1e30", amount="1e30")  # what a broken HIS might send
            await bus.send_raw(OUTPATIENT, json.dumps(raw).encode(), HOSPITAL)  # same partition as the next
            after = await ask(w, OUTPATIENT, outpatient(pid, "POISON-2", ecg_bill("2.00")))
            assert after["outcome"] == "completed", after
            letters = await bus.read("ops.dead-letter.v1", lambda m: len(m) >= 1)
            assert letters[0]["reason"] == "invalid_message" and "quantity" in letters[0]["detail"]
            refused = await bus.read("party.refused.v1", lambda m: len(m) >= 1)
            assert (refused[0]["payload"]["sender"], refused[0]["payload"]["reason"]) == (HOSPITAL, "INVALID_MESSAGE")
            assert refused[0]["payload"]["refused_event_id"] == raw["event_id"]
            assert await answers(w, "POISON-1", 0, timeout=2) == []  # no result for the poison
        finally:
            proc.stop()


async def test_a_failing_handler_keeps_its_message_until_it_succeeds(stack):
    """Every handler raises (fault injection): the request is tried again and again, the group's
    committed offset stays before it, nothing is dead-lettered; restarted without the fault, the
    service handles it once and the HIS hears one answer."""
    prefix = new_prefix(stack, "fault")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        proc = ServiceProcess(stack, "settlement", prefix).start(YIDI_FAULT="handler_fault")
        try:
            w, pid = Wire(bus, proc), person()
            await bus.publish(OUTPATIENT, outpatient(pid, "FAULT-1", ecg_bill("2.00")))
            await eventually(
                lambda: proc.metric("yidi_messages_handled_total", topic=OUTPATIENT, result="failed") >= 3, timeout=30
            )
            assert await _committed(stack.bootstrap, f"{prefix}yidi-settlement", f"{prefix}{OUTPATIENT}") == 0
            assert proc.metric("yidi_dead_letters_total") == 0
            proc.stop()
            proc.start()
            answer = (await answers(w, "FAULT-1"))[0]
            assert answer["outcome"] == "completed"
            await asyncio.sleep(2)
            assert len(await answers(w, "FAULT-1")) == 1
        finally:
            proc.stop()


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offsets on ``topic``, summed over its partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or range(4)]
        return sum([await consumer.committed(tp) or 0 for tp in tps])
    finally:
        await consumer.stop()


async def test_the_same_id_with_another_payload_is_dead_lettered_as_a_conflict(stack):
    """A copy of an applied message is a duplicate (no second effect); the same event id with a
    different payload is neither applied nor counted as a duplicate: it is a conflict, dead-lettered."""
    from test_runtime import OPENED, open_request

    prefix = new_prefix(stack, "conflict")
    collab = ServiceProcess(stack, "collab", prefix).start()
    try:
        async with Bus(stack, prefix) as bus:
            first = await bus.publish("collab.open-request.v1", open_request("conflict-1"))
            copy = json.loads(first.model_dump_json())
            await bus.send_raw("collab.open-request.v1", json.dumps(copy).encode(), "340200:conflict-1")
            copy["payload"]["matter"] = "another matter under the same event id"
            await bus.send_raw("collab.open-request.v1", json.dumps(copy).encode(), "340200:conflict-1")
            letters = await bus.read("ops.dead-letter.v1", lambda m: len(m) >= 1)
            opened = await bus.read(OPENED, lambda m: len(m) >= 1)
        assert letters[0]["reason"] == "conflicting_copy" and letters[0]["event_id"] == str(first.event_id)
        assert len(opened) == 1 and opened[0]["payload"]["matter"] != copy["payload"]["matter"]
        await eventually(lambda: collab.metric("yidi_messages_handled_total", result="duplicate") == 1)
    finally:
        collab.stop()

"""No input stalls a partition, over the real broker (``runtime.consuming``): records an attacker
with broker access can write — 10 kB of unsigned nesting 5,000 levels deep, the same signed, an
event id that is itself deep nesting, a signature header that is not UTF-8, 600 kB of nesting (over
the dead letter's inline size), bytes that are not UTF-8 — are each dead-lettered with their reason,
and the valid request sent after them on the same partition is answered. Each of the first used to
raise out of the record's processing, be tried again every 30 s for ever and hold up everything
behind it. Unit tests of the same path: ``tests/unit/test_unreadable_records.py``.
"""

from __future__ import annotations

import pytest
from support import Bus, ServiceProcess, new_prefix
from test_runtime import OPENED, distinct, open_request

from runtime.envelopes import key_for
from runtime.parties import SIGNATURE_HEADER

pytestmark = pytest.mark.integration
TOPIC = "collab.open-request.v1"
DEEP = b'{"x":' + b"[" * 5000 + b"]" * 5000 + b"}"


async def test_each_unreadable_record_is_dead_lettered_and_the_next_request_is_answered(stack):
    prefix = new_prefix(stack, "unreadable")
    collab = ServiceProcess(stack, "collab", prefix).start()
    try:
        async with Bus(stack, prefix) as bus:
            valid = open_request("after-the-attack")
            key = key_for(TOPIC, valid)  # the valid request's partition
            deep_id = b'{"event_id":' + b"[" * 5000 + b"]" * 5000 + b', "sender": "A340200"}'
            await bus.send_raw(TOPIC, DEEP, key, sign_as=None)
            await bus.send_raw(TOPIC, DEEP, key, sign_as="A340200")
            await bus.send_raw(TOPIC, deep_id, key, sign_as="A340200")
            await bus.send_raw(TOPIC, b"[" * 600_000, key, sign_as=None)
            await bus.send_raw(TOPIC, b"\xff\xfe not utf-8", key, sign_as="A340200")
            assert bus.producer
            await bus.producer.send_and_wait(
                prefix + TOPIC, b"{}", key=key.encode(), headers=[(SIGNATURE_HEADER, b"\xff\xfe\xfa")]
            )
            sent = await bus.publish(TOPIC, valid)
            opened = await bus.read(OPENED, lambda ms: len(distinct(ms)) >= 1, timeout=60)
            dead = await bus.read("ops.dead-letter.v1", lambda ms: len(ms) >= 6)
        assert any(m["causation_id"] == str(sent.event_id) for m in opened)
        reasons = sorted(d["reason"] for d in dead)
        assert reasons.count("UNAUTHENTICATED") == 3, reasons  # unsigned twice, a header not UTF-8
        assert len(reasons) == 6 and all(d["detail"] for d in dead)
        big = next(d for d in dead if d.get("original_ref"))
        assert big["original"] is None and big["original_ref"]["bytes"] == 600_000
        assert collab.metric("yidi_dead_letters_total") == 6
    finally:
        collab.stop()

"""The participant registry changes at run time, over the wire (003 §5 (三)): a party unknown to a
running service has no effect until the national agency registers it on parties.change.v2; a
change signed by anyone else is ignored; once registered, the new party's signed commands are
handled; once removed, a captured 'add' sent again does not bring it back. Shown with a city agency
that joins and opens a collaboration request (K-01). The same service's business clock moves only
for a clock command its registry's operator signed (ops.clock.v1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from joserfc.jwk import OKPKey
from support import Bus, ServiceProcess, eventually, new_prefix

from contracts.collab import OpenCollabRequest, ProblemType
from contracts.parties import Agency, AgencyLevel, ChangeAction, ChangeParty, PublicKey
from contracts.values import SHANGHAI
from runtime.client import PartyClient
from runtime.clock import clock_command_set, clock_headers
from runtime.parties import PrivateKeys, Signer, generate_keys
from runtime.topics import CLOCK

pytestmark = pytest.mark.integration
NEW = "A340300"  # 蚌埠, not in the sample registry


def request(ref: str) -> OpenCollabRequest:
    return OpenCollabRequest(
        request_ref=ref,
        requester_region="340300",
        target_region="420100",
        matter="备案信息查询",
        problem_type=ProblemType.OTHER,
        opened_at=datetime.now(SHANGHAI),
    )


async def test_a_party_registered_at_run_time_is_heard_and_an_unsigned_change_is_not(stack):
    prefix = new_prefix(stack, "registry-change")
    collab = ServiceProcess(stack, "collab", prefix).start()
    private, public = generate_keys(NEW, "k1")
    newcomer = Signer(PrivateKeys(NEW, "k1", OKPKey.import_key(private["sign"])))
    entry = Agency(
        code=NEW,
        name="蚌埠市医疗保障事业管理中心",
        region="340300",
        level=AgencyLevel.CITY,
        parent="A340000",
        keys=tuple(PublicKey.model_validate(k) for k in public),
    )
    try:
        async with Bus(stack, prefix) as bus:
            client = PartyClient(bus.producer, stack.keys_dir, prefix)
            client._signers[NEW] = newcomer  # the newcomer holds its own private key
            await client.send("collab.open-request.v1", request("before"), sender=NEW, now=bus.business_now())
            await eventually(lambda: collab.metric("yidi_unauthenticated_total", reason="unknown_sender") >= 1)

            change = ChangeParty(change_id="add-bengbu", action=ChangeAction.UPSERT, version=1, party=entry)
            await bus.publish("parties.change.v2", change, sender="A340200")  # a city may not
            await eventually(lambda: collab.metric("yidi_refused_total", topic="parties.change.v2") >= 1)
            await client.send("collab.open-request.v1", request("still-unknown"), sender=NEW, now=bus.business_now())
            await eventually(lambda: collab.metric("yidi_unauthenticated_total", reason="unknown_sender") >= 2)

            known = collab.metric("yidi_registry_parties")
            await bus.publish("parties.change.v2", change, sender="A000000")  # the national agency may
            await eventually(lambda: collab.metric("yidi_registry_parties") == known + 1)
            await client.send("collab.open-request.v1", request("after"), sender=NEW, now=bus.business_now())
            opened = await bus.read("collab.request-opened.v1", lambda m: len(m) >= 1)
            assert [m["payload"]["requester_region"] for m in opened] == ["340300"]
            assert _applied(collab, "collab.open-request.v1") == 1

            # removed (version 2); then the captured 'add' is sent again (its change_id), and an 'add'
            # with a version not above the removal's: neither brings Bengbu back
            captured = [
                m for m in await bus.read("parties.change.v2", lambda m: len(m) >= 2) if m["sender"] == "A000000"
            ][0]
            remove = ChangeParty(change_id="remove-bengbu", action=ChangeAction.REMOVE, version=2, code=NEW)
            await bus.publish("parties.change.v2", remove, sender="A000000")
            await eventually(lambda: collab.metric("yidi_registry_parties") == known)
            await bus.send_raw("parties.change.v2", json.dumps(captured).encode(), "registry", sign_as="A000000")
            await bus.publish(
                "parties.change.v2", change.model_copy(update={"change_id": "add-bengbu-again"}), sender="A000000"
            )
            await eventually(
                lambda: _ignored(collab, "repeated_change") >= 1 and _ignored(collab, "stale_version") >= 1
            )
            assert collab.metric("yidi_registry_parties") == known
            await client.send("collab.open-request.v1", request("after-removal"), sender=NEW, now=bus.business_now())
            await eventually(lambda: collab.metric("yidi_unauthenticated_total", reason="unknown_sender") >= 3)
            assert _applied(collab, "collab.open-request.v1") == 1
    finally:
        collab.stop()


async def test_the_business_clock_moves_only_for_the_operator(stack):
    """ops.clock.v1: an unsigned command, or one an agency signed, has no effect; the operator's does."""
    prefix = new_prefix(stack, "clock-signed")
    collab = ServiceProcess(stack, "collab", prefix).start()
    target = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    try:
        async with Bus(stack, prefix) as bus:
            value = clock_command_set(target)
            await bus.producer.send_and_wait(prefix + CLOCK, value, partition=0)  # unsigned
            forged = clock_command_set(target, sender="A000000")
            await bus.producer.send_and_wait(
                prefix + CLOCK, forged, partition=0, headers=clock_headers(bus.signer("A000000"), forged)
            )
            await eventually(lambda: collab.metric("yidi_control_ignored_total", topic=CLOCK) >= 2)
            assert abs(collab.business_time() - datetime.now(UTC)) < timedelta(minutes=5)
            await bus.set_clock(target)  # the operator
            await eventually(lambda: abs(collab.business_time() - target) < timedelta(minutes=1))
    finally:
        collab.stop()


def _ignored(service: ServiceProcess, reason: str) -> float:
    return service.metric("yidi_control_ignored_total", topic="parties.change.v2", reason=reason)


def _applied(service: ServiceProcess, topic: str) -> float:
    return service.metric("yidi_messages_handled_total", topic=topic, result="applied")

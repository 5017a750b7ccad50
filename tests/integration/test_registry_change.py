"""The participant registry changes at run time, over the wire (003 §5 (三)): a party unknown to a
running service has no effect until the national agency registers it on parties.change.v2; a
change signed by anyone else is ignored; once registered, the new party's signed commands are
handled. Shown with a city agency that joins and opens a collaboration request (K-01)."""
from __future__ import annotations

from datetime import datetime

import pytest
from joserfc.jwk import OKPKey

from contracts.collab import OpenCollabRequest, ProblemType
from contracts.parties import Agency, AgencyLevel, ChangeAction, ChangeParty, PublicKey
from runtime.client import PartyClient
from runtime.parties import PrivateKeys, Signer, generate_keys
from support import Bus, ServiceProcess, eventually, new_prefix
from contracts.values import SHANGHAI

pytestmark = pytest.mark.integration
NEW = "A340300"   # 蚌埠, not in the sample registry


def request(ref: str) -> OpenCollabRequest:
    return OpenCollabRequest(request_ref=ref, requester_region="340300", target_region="420100",
                             matter="备案信息查询", problem_type=ProblemType.OTHER, opened_at=datetime.now(SHANGHAI))


async def test_a_party_registered_at_run_time_is_heard_and_an_unsigned_change_is_not(stack):
    prefix = new_prefix(stack, "registry-change")
    collab = ServiceProcess(stack, "collab", prefix).start()
    private, public = generate_keys(NEW, "k1")
    newcomer = Signer(PrivateKeys(NEW, "k1", OKPKey.import_key(private["sign"])))
    entry = Agency(code=NEW, name="蚌埠市医疗保障事业管理中心", region="340300", level=AgencyLevel.CITY,
                   parent="A340000", keys=tuple(PublicKey.model_validate(k) for k in public))
    try:
        async with Bus(stack, prefix) as bus:
            client = PartyClient(bus.producer, stack.keys_dir, prefix)
            client._signers[NEW] = newcomer            # the newcomer holds its own private key
            await client.send("collab.open-request.v1", request("before"), sender=NEW, now=bus.business_now())
            await eventually(lambda: collab.metric("yidi_unauthenticated_total", reason="unknown_sender") >= 1)

            change = ChangeParty(change_id="add-bengbu", action=ChangeAction.UPSERT, party=entry)
            await bus.publish("parties.change.v2", change, sender="A340200")          # a city may not
            await eventually(lambda: collab.metric("yidi_refused_total", topic="parties.change.v2") >= 1)
            await client.send("collab.open-request.v1", request("still-unknown"), sender=NEW, now=bus.business_now())
            await eventually(lambda: collab.metric("yidi_unauthenticated_total", reason="unknown_sender") >= 2)

            await bus.publish("parties.change.v2", change, sender="A000000")          # the national agency may
            known = collab.metric("yidi_registry_parties")
            await eventually(lambda: collab.metric("yidi_registry_parties") == known + 1)
            await client.send("collab.open-request.v1", request("after"), sender=NEW, now=bus.business_now())
            opened = await bus.read("collab.request-opened.v1", lambda m: len(m) >= 1)
        assert [m["payload"]["requester_region"] for m in opened] == ["340300"]
        assert _applied(collab, "collab.open-request.v1") == 1
    finally:
        collab.stop()


def _applied(service: ServiceProcess, topic: str) -> float:
    return service.metric("yidi_messages_handled_total", topic=topic, result="applied")

"""The directory of networked institutions 定点医疗机构查询 over the wire (002 第十二条): a running filing
service answers signed GETs on ``/filing/institutions`` from an institution and from an agency (the
directory holds nothing personal); a bad parameter is a 400 that names it, an unsigned request a 401.
The national agency opens inpatient settlement at the eye hospital on ``parties.change.v2`` (a change
the province signs has no effect): once the service has applied it, the eye hospital is listed among
those opened for inpatient, with the date.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from support import Bus, ServiceProcess, eventually, new_prefix

from contracts.parties import ChangeAction, ChangeParty, Institution
from runtime.parties import ParticipantRegistry
from runtime.query import sign_request

pytestmark = pytest.mark.integration
PATH = "/filing/institutions"
H1, H2, EYE, TCM = "H42010200001", "H42010200002", "H42010200003", "H42010200004"  # Wuhan, sample registry


async def test_institutions_and_agencies_read_the_directory_and_a_registry_change_shows_in_it(stack):
    prefix = new_prefix(stack, "directory")
    filing = ServiceProcess(stack, "filing", prefix).start()
    try:
        async with Bus(stack, prefix) as bus:

            def ask(sender: str, **params: str) -> tuple[int, bytes]:
                target, headers = sign_request(bus.signer(sender), PATH, at=bus.business_now(), **params)
                return filing.get(target, headers)

            def inpatient_codes(sender: str) -> list[str]:
                status, body = ask(sender, region="420100", open="inpatient")
                assert status == 200, body
                return [e["code"] for e in json.loads(body)["institutions"]]

            # an institution and an agency ask, signed; the eye hospital is opened for general outpatient only
            assert inpatient_codes(H1) == [H1, H2, TCM]
            status, body = ask("A420100", region="420000", type="specialist_hospital", format="csv")
            assert status == 200 and body.startswith("\ufeff".encode())
            rows = body.decode("utf-8-sig").splitlines()
            assert rows[1].split(",")[:2] == [EYE, "武汉市某眼科医院（样例，仅开通普通门诊）"]
            assert rows[1].split(",")[-3:] == ["", "2023-03-01", ""]  # inpatient, outpatient, chronic

            status, body = ask("A420100", region="349900")
            assert status == 400 and "region 349900 is not a pooling region" in json.loads(body)["message"]
            status, body = filing.get(f"{PATH}?region=420100&at=0", {})
            assert status == 401

            # the national agency opens inpatient at the eye hospital; the province may not
            today = bus.business_now().date()
            current = ParticipantRegistry.load(stack.keys_dir).get(EYE)
            assert isinstance(current, Institution)
            opened = {**current.opened, "inpatient": today - timedelta(days=1)}
            entry = Institution.model_validate({**current.model_dump(exclude={"opened_on"}), "opened": opened})
            change = ChangeParty(change_id="open-eye-inpatient", action=ChangeAction.UPSERT, version=1, party=entry)
            await bus.publish("parties.change.v2", change, sender="A420000")
            await eventually(lambda: filing.metric("yidi_refused_total", topic="parties.change.v2") >= 1)
            assert EYE not in inpatient_codes("A420100")
            await bus.publish(
                "parties.change.v2", change.model_copy(update={"change_id": "open-eye-inpatient-2"}), sender="A000000"
            )
            await eventually(lambda: EYE in inpatient_codes("A420100"))

            status, body = ask(EYE, region="420100", open="inpatient")
            eye = next(e for e in json.loads(body)["institutions"] if e["code"] == EYE)
            assert eye["opened"] == {"inpatient": (today - timedelta(days=1)).isoformat(), "outpatient": "2023-03-01"}
            assert eye["open_on"] == ["inpatient", "outpatient"] and "keys" not in eye
    finally:
        filing.stop()

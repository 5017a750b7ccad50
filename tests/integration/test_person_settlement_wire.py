"""What a person sees of their own settlements through a channel, over the real wire (000 第五十二条 附件13;
S-05, S-14; 003 §5 (三)): the settlement service answers a channel's signed query about the person its sealed
authentication names, sealed to that channel; nobody sees another's anything.

Two persons insured in Wuhu each settle a general outpatient visit in Wuhan (S-05: no filing needed); each
sees their own settlements, slip and year-to-date deductible through the national app, and not the other's.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from support import test_keys as keys_dir
from test_settlement_wire import OUTPATIENT, Wire, ask, ecg_bill, outpatient, person, wire

from contracts.parties import PersonAuthentication
from runtime.parties import ParticipantRegistry
from runtime.query import seal_authentication, sign_request

pytestmark = pytest.mark.integration
__all__ = ["wire"]  # the settlement service of test_settlement_wire's module fixture

APP, OTHER_APP = "CH-NHSA-APP", "CH-NHSA-MP"
REGISTRY = ParticipantRegistry.load(keys_dir())


def authentication(pid: str, now: datetime, channel: str = APP) -> PersonAuthentication:
    return PersonAuthentication(
        channel=channel,
        person_id=pid,
        session=f"s-{pid[-6:]}-{int(now.timestamp())}",
        method="e_credential",
        authenticated_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(minutes=10),
    )


def query(w: Wire, path: str, pid: str, channel: str = APP, made_by: str | None = None, **params: str):
    """A channel's signed query for ``pid``: (status, the answer opened with the channel's key or the error)."""
    assert w.bus.client
    now = w.bus.business_now()
    sealed = seal_authentication(REGISTRY, "settlement", authentication(pid, now, made_by or channel))
    target, headers = sign_request(w.bus.client.signer(channel), path, at=now, authentication=sealed, **params)
    status, body = w.proc.get(target, headers)
    if status != 200:
        return status, json.loads(body)
    return status, json.loads(w.bus.client.signer(channel).open_sealed(body.decode()))


async def test_a_person_sees_their_settlements_slip_and_accumulations_and_nobody_elses(wire):
    """A: 310701001 10 × 45.00 = 450.00 in scope, all under Wuhu's 600.00 deductible → cash 450.00.
    B: 10 × 30.00 = 300.00 → deductible 300.00, cash 300.00. Each sees only their own."""
    a, b = person(), person()
    first = await ask(wire, OUTPATIENT, outpatient(a, "MINE-A-1", ecg_bill("45.00"), date(2025, 3, 12)))
    other = await ask(wire, OUTPATIENT, outpatient(b, "MINE-B-1", ecg_bill("30.00"), date(2025, 3, 12)))
    assert first["outcome"] == other["outcome"] == "completed"
    settlement_a, settlement_b = first["settlement_id"], other["settlement_id"]

    status, mine = query(wire, "/settlement/mine", a, year="2025")
    assert status == 200
    assert [(r["settlement_id"], r["total"], r["personal_cash"]) for r in mine["settlements"]] == [
        (settlement_a, "450.00", "450.00")
    ]
    assert mine["accumulations"]["insured_region"] == "340200"
    deductible = [c for c in mine["accumulations"]["counters"] if c["key"].startswith("deductible")]
    assert [c["amount"] for c in deductible] == ["450.00"], mine["accumulations"]

    status, slip = query(wire, "/settlement/mine/slip", a, settlement=settlement_a)
    assert status == 200 and slip["settlement_id"] == settlement_a and Decimal(slip["total"]) == Decimal("450.00")

    status, refused = query(wire, "/settlement/mine/slip", b, settlement=settlement_a)  # A's, asked as B
    assert status == 404 and a not in json.dumps(refused)
    status, theirs = query(wire, "/settlement/mine", b, year="2025")
    assert [r["settlement_id"] for r in theirs["settlements"]] == [settlement_b]

    status, refused = query(wire, "/settlement/mine", a, made_by=OTHER_APP)  # another channel's authentication
    assert status == 403 and "NOT_AUTHENTICATED_PERSON" in refused["message"] and a not in refused["message"]
    status, refused = query(wire, "/settlement/mine", a, channel="A340200", made_by=APP)  # an agency is no channel
    assert status == 403

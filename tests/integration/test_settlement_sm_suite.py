"""A deployment on the national algorithms (YIDI_CRYPTO_SUITE=sm, 003 §5 (三)): every party's keys are
SM2; the hospital signs its request with SM2 and SM3, its payload travels sealed with SM2 and SM4-GCM,
the settlement service (its own OS process) settles it and seals the result to the hospital's SM2
key, which opens it. A request signed with Ed25519, the other suite, has no effect.

The bill: 310701001 常规心电图 10 × 70.00 = 700.00, class A, all in scope; the Wuhu insured (340200)
needs no filing for a general outpatient visit (F-05) and takes the other-temporary rate 50% − 20 =
30%: deductible 600.00, pooling (700.00 − 600.00) × 0.30 = 30.00, cash 700.00 − 30.00 = 670.00."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from support import Bus, ServiceProcess, eventually, new_prefix
from support import test_keys as ed25519_keys
from test_settlement_wire import HOSPITAL, MARCH, OUTPATIENT, RESULT, ecg_bill, outpatient, person

from runtime.envelopes import envelope_for, key_for
from runtime.parties import SIGNATURE_HEADER, init_keys, signer_for
from runtime.privacy import ensure_dev_secrets

pytestmark = pytest.mark.integration


def _header(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@pytest.fixture(scope="module")
async def sm_wire(stack):
    keys = Path(tempfile.mkdtemp(prefix="yidi-test-sm-keys-"))
    init_keys(keys, suite="sm")  # every registry party, SM2 key pairs (as `yidi keys init` in an sm deployment)
    ensure_dev_secrets(keys)
    sm_stack = dataclasses.replace(stack, keys_dir=keys)
    before = os.environ.get("YIDI_CRYPTO_SUITE")
    os.environ["YIDI_CRYPTO_SUITE"] = "sm"  # this process plays the hospital of the same deployment
    try:
        prefix = new_prefix(stack, "settle-sm")
        async with Bus(sm_stack, prefix) as bus:
            await bus.set_clock(MARCH)  # signed by the operator, with SM2
            proc = ServiceProcess(
                sm_stack, "settlement", prefix, YIDI_CRYPTO_SUITE="sm", YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="20000"
            ).start()
            try:
                yield bus, proc
            finally:
                proc.stop()
    finally:
        if before is None:
            os.environ.pop("YIDI_CRYPTO_SUITE", None)
        else:
            os.environ["YIDI_CRYPTO_SUITE"] = before


async def test_a_settlement_runs_end_to_end_on_sm2_sm3_sm4(sm_wire):
    bus, _ = sm_wire
    request = outpatient(person(), "SM-OP-1", ecg_bill("70.00"))
    env = bus.client.envelope(OUTPATIENT, request, sender=HOSPITAL, now=bus.business_now())
    value = bus.client.wire_value(OUTPATIENT, env)
    sealed = json.loads(value)["sealed_payload"]
    assert _header(sealed["protected"])["enc"] == "SM4-GCM" and request.person_id.encode() not in value
    signature = bus.signer(HOSPITAL).sign(value)
    assert _header(signature.split(".")[0]) == {"alg": "SM2SM3", "kid": f"{HOSPITAL}/dev-1"}
    await bus.client.send_bytes(OUTPATIENT, value, key_for(OUTPATIENT, request), sign_as=HOSPITAL, seal=False)

    mine = lambda msgs: [x["payload"] for x in msgs if x["payload"]["request_id"] == "SM-OP-1"]  # noqa: E731
    result = mine(await bus.read(RESULT, lambda msgs: len(mine(msgs)) >= 1, timeout=60))[0]
    assert _header(result["sealed"].split(".")[0]) == {"alg": "SM2ENC", "enc": "SM4-GCM", "kid": f"{HOSPITAL}/dev-1"}
    answer = bus.open_result(result)  # with the hospital's SM2 decryption key
    assert answer["outcome"] == "completed", (answer.get("code"), answer.get("message"))
    slip = answer["slip"]
    assert [Decimal(slip[k]) for k in ("total", "in_scope", "deductible_applied", "fund_total", "personal_cash")] == [
        Decimal("700.00"),
        Decimal("700.00"),
        Decimal("600.00"),
        Decimal("30.00"),
        Decimal("670.00"),
    ]
    assert answer["eligibility_basis"] == "no_filing_needed" and Decimal(answer["ratio_applied"]) == Decimal("0.30")


async def test_a_request_signed_with_ed25519_has_no_effect_in_an_sm_deployment(sm_wire):
    """The hospital's Ed25519 key of another deployment: refused as alg_not_allowed before anything is read."""
    bus, proc = sm_wire
    request = outpatient(person(), "SM-ED-1", ecg_bill("2.00"))
    env = envelope_for(OUTPATIENT, request, producer="his", now=bus.business_now(), sender=HOSPITAL)
    value = bus.client.wire_value(OUTPATIENT, env)
    ed25519 = signer_for(ed25519_keys(), HOSPITAL).sign(value)
    assert _header(ed25519.split(".")[0])["alg"] == "Ed25519"
    await bus.producer.send_and_wait(
        bus.prefix + OUTPATIENT,
        value,
        key=key_for(OUTPATIENT, request).encode(),
        headers=[(SIGNATURE_HEADER, ed25519.encode())],
    )
    await eventually(
        lambda: proc.metric("yidi_unauthenticated_total", topic=OUTPATIENT, reason="alg_not_allowed") >= 1, timeout=60
    )

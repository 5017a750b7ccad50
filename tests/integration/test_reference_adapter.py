"""The reference HIS adapter in TypeScript (``adapters/typescript``), held to the platform's own code.

First without a broker: the records it builds for the three commands of a visit are ones the runtime
authenticates (detached JWS, ``runtime.parties.authenticate``), opens with the settlement service's key
and only with it (``runtime.wire``: sealed to the topic's readers, bound to the topic and the event id),
and parses as the topic's contract; the person's ID number is nowhere in clear (003 §5 (三)).

Then over the real wire, against a running settlement service: the adapter, as its own Node.js process,
checks the eligibility of a person with no filing (general outpatient needs none: eligible,
``no_filing_needed``, F-05), pre-settles the bill, settles it (S-01..S-07) and checks the figures agree,
reading its answers with its own consumer group; what it prints is compared with the result the platform
sealed to the hospital, opened here with the Python client; a forged 'completed' result sealed to the
hospital but not signed by the settlement service is set aside, not believed. A chronic outpatient visit
without the qualification (S-13) makes it stop before anything is settled, a command stamped a year off the
platform's business time is refused (CLOCK_SKEW on ``party.refused.v1``), a float amount or a wrong check
digit is refused before anything is sent: each with a classified message and a non-zero exit.

The adapter is built here (``npm ci`` when its ``node_modules`` is missing, then ``npm run build``): Node.js
20 or newer and npm must be installed, and the test fails, not skips, when they are not.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import ROOT, Bus, ServiceProcess, new_prefix
from support import test_keys as development_keys
from test_settlement_wire import MARCH, RESULT

from contracts.values import make_person_id
from runtime.client import open_result
from runtime.envelopes import parse
from runtime.parties import (
    SIGNATURE_HEADER,
    ParticipantRegistry,
    Unauthenticated,
    authenticate,
    load_private_keys,
    seal_for,
    signer_for,
)
from runtime.wire import SEALED, SealingError, WireOpener

pytestmark = pytest.mark.integration

ADAPTER = ROOT / "adapters" / "typescript"
CLI = ADAPTER / "dist" / "cli.js"
HOSPITAL = "H42010200001"  # level 3, Wuhan (420100), as the sample bill says
COMMANDS = ("his.eligibility-requested.v1", "his.outpatient-pre-settlement.v1", "his.outpatient-requested.v1")
_seq = iter(range(500, 999))


def person() -> str:
    """A fresh Wuhu (340202) insured with no filing, no accumulations, no personal account."""
    return make_person_id(f"34020219600101{next(_seq):03d}")


@pytest.fixture(scope="module")
def adapter() -> Path:
    """The adapter built: its node modules installed when missing, then compiled."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail(
            "the reference HIS adapter needs Node.js 20+ and npm on the PATH (Debian: apt-get install nodejs "
            f"npm); missing: {', '.join(n for n, p in (('node', node), ('npm', npm)) if not p)}",
            pytrace=False,
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        pytest.fail(f"the reference HIS adapter needs Node.js 20 or newer, found {version}", pytrace=False)
    steps = ([[npm, "ci", "--no-audit", "--no-fund"]] if not (ADAPTER / "node_modules").is_dir() else []) + [
        [npm, "run", "--silent", "build"]
    ]
    for step in steps:
        done = subprocess.run(step, cwd=ADAPTER, capture_output=True, text=True, timeout=600)
        if done.returncode:
            pytest.fail(
                f"{' '.join(step[1:])} in {ADAPTER} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}",
                pytrace=False,
            )
    return CLI


def _sample_commands(person_id: str, request_id: str) -> dict[str, dict]:
    """The three commands of a visit, built from the adapter's sample bill as the adapter builds them."""
    bill = {
        k: v
        for k, v in json.loads((ADAPTER / "samples" / "outpatient-bill.json").read_text()).items()
        if not k.startswith("_")
    }
    header = {
        **{k: v for k, v in bill.items() if k != "fee_lines"},
        "person_id": person_id,
        "institution_code": HOSPITAL,
        "visit_id": "MZ20250312A1",
    }
    visit = {**header, "request_id": request_id, "visit_date": "2025-03-12", "fee_lines": bill["fee_lines"]}
    return {
        COMMANDS[0]: {**header, "request_id": f"{request_id}-E", "on": "2025-03-12"},
        COMMANDS[1]: visit,
        COMMANDS[2]: visit,
    }


def test_the_records_it_builds_are_authenticated_opened_by_their_reader_only_and_valid(adapter):
    keys = development_keys()
    registry = ParticipantRegistry.load(keys)
    settlement = WireOpener.of(load_private_keys(keys, "settlement"))
    hospital = WireOpener.of(load_private_keys(keys, HOSPITAL))
    pid = person()
    for topic, command in _sample_commands(pid, "H42010200001-20250312-conform").items():
        done = subprocess.run(
            [
                "node",
                str(adapter),
                "record",
                "--topic",
                topic,
                "--institution",
                HOSPITAL,
                "--keys-dir",
                str(keys),
                "--topic-prefix",
                "site-a.",
            ],
            input=json.dumps(command),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        record = json.loads(done.stdout)
        value = record["value"].encode()
        assert (record["topic"], record["key"]) == (f"site-a.{topic}", HOSPITAL)  # keyed by institution code
        assert pid not in record["value"] and SEALED in json.loads(value) and "payload" not in json.loads(value)
        assert authenticate(registry, value, record["headers"][SIGNATURE_HEADER], datetime.now(UTC)).code == HOSPITAL
        sealed = json.loads(value)[SEALED]
        assert [r["header"]["kid"] for r in sealed["recipients"]] == ["settlement/dev-1"]  # runtime.wire.readers
        envelope = parse(topic, settlement.open(topic, value))
        assert (envelope.type, envelope.schema_version, envelope.sender) == (topic.rsplit(".", 1)[0], 1, HOSPITAL)
        assert envelope.correlation_id == envelope.event_id and envelope.payload.person_id == pid
        assert envelope.payload.model_dump(mode="json", exclude_defaults=True) == command
        with pytest.raises(SealingError):  # sealed to the platform, not to the hospital itself
            hospital.open(topic, value)
        with pytest.raises(SealingError):  # bound to its topic: moved to another, it does not open
            settlement.open(COMMANDS[2] if topic != COMMANDS[2] else COMMANDS[1], value)
        tampered = value.replace(b'"schema_version":1', b'"schema_version":1 ')
        with pytest.raises(Unauthenticated, match="does not verify"):
            authenticate(registry, tampered, record["headers"][SIGNATURE_HEADER], datetime.now(UTC))


# ---------------------------------------------------------------- over the wire
@pytest.fixture(scope="module")
async def platform(stack):
    prefix = new_prefix(stack, "adapter")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        proc = ServiceProcess(stack, "settlement", prefix, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="20000").start()
        try:
            yield bus, proc
        finally:
            proc.stop()


async def _run(cli: Path, bus: Bus, person_id: str, **env: str) -> tuple[int, dict, str]:
    """The adapter's ``run`` as its own process: exit code, its one JSON line, what it said on stderr."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(cli),
        "run",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            "PATH": os.environ.get("PATH", ""),
            "KAFKA_BOOTSTRAP_SERVERS": bus.stack.bootstrap,
            "YIDI_TOPIC_PREFIX": bus.prefix,
            "YIDI_KEYS_DIR": str(bus.stack.keys_dir),
            "YIDI_HIS_INSTITUTION": HOSPITAL,
            "YIDI_HIS_PERSON_ID": person_id,
            "YIDI_HIS_BUSINESS_TIME": bus.business_now().isoformat(),
            "YIDI_HIS_TIMEOUT_SECONDS": "60",
            "YIDI_HIS_GROUP": f"{HOSPITAL}-adapter-{uuid.uuid4().hex[:6]}",
            **env,
        },
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    lines = out.decode().splitlines()
    assert len(lines) == 1, f"one JSON line expected on stdout, got {lines!r}; stderr:\n{err.decode()}"
    assert proc.returncode is not None
    return proc.returncode, json.loads(lines[0]), err.decode()


async def _forge_result(bus: Bus, request_id: str) -> None:
    """A 'completed' result for ``request_id`` sealed to the hospital, but signed by the hospital itself, not by
    the settlement service: anyone can encrypt to a public key, so the adapter must not believe it."""
    registry = ParticipantRegistry.load(bus.stack.keys_dir)
    content = {
        "outcome": "completed",
        "institution_code": HOSPITAL,
        "request_id": request_id,
        "slip": {"total": "0.01"},
    }
    payload = {
        "institution_code": HOSPITAL,
        "request_id": request_id,
        "outcome": "completed",
        "sealed": seal_for(registry, HOSPITAL, json.dumps(content).encode()),
    }
    envelope = {
        "event_id": str(uuid.uuid4()),
        "type": "settlement.result",
        "schema_version": 2,
        "occurred_at": bus.business_now().isoformat(),
        "correlation_id": str(uuid.uuid4()),
        "producer": "settlement",
        "sender": HOSPITAL,
        "payload": payload,
    }
    await bus.send_raw(RESULT, json.dumps(envelope).encode(), HOSPITAL, sign_as=HOSPITAL)


async def test_it_checks_pre_settles_and_settles_a_visit_and_the_figures_agree(adapter, platform):
    bus, _ = platform
    pid = person()
    request_id = f"{HOSPITAL}-20250312-{uuid.uuid4().hex[:8]}"
    await _forge_result(bus, request_id)
    code, summary, stderr = await _run(adapter, bus, pid, YIDI_HIS_REQUEST_ID=request_id)
    assert code == 0 and summary["ok"] is True, (summary, stderr)
    assert "settlement.result.v2 is sent by settlement, this one by H42010200001" in stderr  # set aside, not believed
    assert pid not in json.dumps(summary) and pid not in stderr  # the ID number never in what it prints
    eligibility, pre, settled = summary["eligibility"], summary["pre_settlement"], summary["settlement"]
    assert (eligibility["eligible"], eligibility["basis"], eligibility["rule"]) == (True, "no_filing_needed", "F-05")
    assert pre["outcome"] == settled["outcome"] == "completed" and summary["figures_agree"] is True
    assert (
        pre["settlement_id"] == settled["settlement_id"]
        and summary["request_id"] == settled["request_id"] == request_id
    )
    # the sample bill, for a person whose 600.00 deductible is untouched: 142.00 = in scope 48.24 (all deductible)
    # + B 3.36 + over-limit 10.40 + self-paid 80.00; the funds pay nothing, the person pays it all (S-04..S-07)
    assert (settled["total"], settled["fund_total"], settled["personal_cash"]) == ("142.00", "0.00", "142.00")
    assert (settled["settled_on"], settled["clearing_month"]) == ("2025-03-12", "2025-04")
    assert {k: pre[k] for k in ("total", "fund_total", "personal_account", "personal_cash", "funds")} == {
        k: settled[k] for k in ("total", "fund_total", "personal_account", "personal_cash", "funds")
    }

    # what the platform sealed to the hospital, opened by the Python client, is what the adapter reported
    def mine(ms: list) -> list:  # not the forgery
        return [m for m in ms if m["payload"]["request_id"] == request_id and m["sender"] == "settlement"]

    [heard] = mine(await bus.read(RESULT, lambda ms: bool(mine(ms))))
    result = open_result(signer_for(bus.stack.keys_dir, HOSPITAL), heard["payload"])
    assert heard["correlation_id"] == settled["correlation_id"]
    assert (result["settlement_id"], result["slip"]["total"], result["slip"]["personal_cash"]) == (
        settled["settlement_id"],
        settled["total"],
        settled["personal_cash"],
    )
    assert result["eligibility_basis"] == "no_filing_needed" and result["person_id"] == pid


async def test_a_visit_the_person_is_not_eligible_for_stops_before_it_is_settled(adapter, platform, tmp_path):
    bus, _ = platform
    bill = json.loads((ADAPTER / "samples" / "outpatient-bill.json").read_text())
    chronic = tmp_path / "chronic.json"
    chronic.write_text(json.dumps({**bill, "medical_type": "chronic_outpatient", "chronic_disease_code": "M03900"}))
    pid = person()
    code, summary, stderr = await _run(adapter, bus, pid, YIDI_HIS_BILL=str(chronic))
    assert code == 1 and summary["ok"] is False and summary["failure"] == "not_eligible", (summary, stderr)
    assert summary["eligibility"]["eligible"] is False and "pre_settlement" not in summary
    assert "not eligible for direct settlement" in stderr and pid not in stderr + json.dumps(summary)


async def test_a_broken_bill_or_person_is_refused_before_anything_is_sent(adapter, platform, tmp_path):
    bus, _ = platform
    bill = json.loads((ADAPTER / "samples" / "outpatient-bill.json").read_text())
    floats = tmp_path / "floats.json"
    floats.write_text(json.dumps({**bill, "fee_lines": [{**bill["fee_lines"][0], "amount": 12.0}]}))
    code, summary, stderr = await _run(adapter, bus, person(), YIDI_HIS_BILL=str(floats))
    assert (code, summary["failure"]) == (2, "config") and "fee_lines[0].amount" in summary["message"], stderr
    valid = person()
    wrong = valid[:17] + ("0" if valid[17] != "0" else "1")
    code, summary, stderr = await _run(adapter, bus, wrong)
    assert (code, summary["failure"]) == (2, "config") and "check digit" in summary["message"]
    assert wrong not in stderr + json.dumps(summary)


async def test_a_command_refused_for_when_it_was_sent_is_reported_with_the_reason(adapter, platform):
    """A HIS whose clock is a year and more off the platform's (the wall clock against the business time of the
    examples) is refused on party.refused.v1 (CLOCK_SKEW), and the adapter says so instead of waiting in vain."""
    bus, _ = platform
    code, summary, stderr = await _run(adapter, bus, person(), YIDI_HIS_BUSINESS_TIME=datetime.now(UTC).isoformat())
    assert (code, summary["ok"], summary["failure"]) == (1, False, "refused"), (summary, stderr)
    assert summary["message"].startswith("his.eligibility-requested.v1 refused by settlement: CLOCK_SKEW")

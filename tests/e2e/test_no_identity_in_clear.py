"""Personal data never rests, travels as a key, or is logged in clear (003 §5 (三)).

`yidi run` (what `make run` starts: every service and the HIS simulator) serves traffic for a
minute on an embedded stack of this test's own; then no citizen ID number may appear in any log
line, in any file the database wrote to disk, or in any Kafka record's key, headers or value, read
on every topic to its end (personal payloads travel sealed: runtime.wire)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from stdnum.cn import ric
from support import ROOT

from runtime.embedded import EmbeddedStack

pytestmark = pytest.mark.e2e
ID_NUMBER = re.compile(rb"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
SERVING_SECONDS = 60


def identity_numbers(data: bytes) -> set[str]:
    """Every valid citizen ID number (check digit and birth date, GB 11643) in ``data``."""
    found = set()
    for match in ID_NUMBER.finditer(data):
        text = match.group(0).decode().upper()
        try:
            ric.validate(text)
        except Exception:
            continue
        found.add(text)
    return found


async def kafka_records(bootstrap: str) -> tuple[list[bytes], list[bytes]]:
    """Every record of every topic: (keys, headers and values)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        topics = [t for t in await consumer.topics() if not t.startswith("__")]
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        keys: list[bytes] = []
        rest: list[bytes] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and await _behind(consumer, ends):
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                keys += [r.key or b"" for r in records]
                rest += [b"".join([r.value or b"", *(k.encode() + v for k, v in r.headers or ())]) for r in records]
        assert not await _behind(consumer, ends), "the topics were not read to their end"
        return keys, rest
    finally:
        await consumer.stop()


def _answered_after(log, *, at_least: int, within: float) -> int:
    """The simulator's count of answered requests once it passes ``at_least`` (its summary lines in the
    log: the event waited for), or the last count when ``within`` seconds have gone by."""
    deadline, answered = time.monotonic() + within, 0
    while time.monotonic() < deadline and answered <= at_least:
        counts = re.findall(rb"so far \(business time [^)]*\): sent \d+, answered (\d+)", log.read_bytes())
        answered = int(counts[-1]) if counts else 0
        time.sleep(1)
    return answered


async def _behind(consumer: AIOKafkaConsumer, ends: dict) -> bool:
    return any([await consumer.position(tp) < end for tp, end in ends.items()])


def test_after_a_minute_of_traffic_no_identity_number_is_in_clear(tmp_path):
    workdir = tmp_path / "stack"
    workdir.mkdir()
    stack = EmbeddedStack(workdir=workdir).start()
    log = tmp_path / "run.log"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
        "MONGODB_URI": stack.mongodb_uri,
        "YIDI_KAFKA_IDEMPOTENCE": "false",
        "YIDI_KEYS_DIR": str(tmp_path / "keys"),
        "YIDI_LOG_LEVEL": "INFO",
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "run", "--rate", "5"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        answered = _answered_after(log, at_least=50, within=SERVING_SECONDS + 240)  # start-up, filings, visits
        text = log.read_bytes()
        assert answered > 50, text[-3000:].decode(errors="replace")
        assert identity_numbers(text) == set(), "an ID number was logged in clear"
        on_disk = {path: identity_numbers(path.read_bytes()) for path in workdir.rglob("*") if path.is_file()}
        assert {str(p): ids for p, ids in on_disk.items() if ids} == {}, "an ID number rests in clear"
        keys, rest = asyncio.run(kafka_records(stack.bootstrap))
        assert len(keys) > 100
        assert identity_numbers(b"\n".join(keys)) == set(), "an ID number is a Kafka key"
        assert identity_numbers(b"\n".join(rest)) == set(), "an ID number travels in clear in a record"
    finally:
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
        stack.stop()

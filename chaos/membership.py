"""What the broker does to a consumer group when one member is killed and restarted, with and
without static membership (KIP-345, ``group_instance_id``).

    python -m chaos.membership [--static] [--rounds 3]

Two group members (each its own process, as two service instances are) consume one 4-partition
topic that a producer writes to every 50 ms on each partition; one member is killed with
SIGKILL and started again. Printed, per round, as one JSON line: how long each partition got
nothing (the stall), and when the restarted member had its partitions again. The consumer
settings are the services' (runtime/service.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from runtime.embedded import EmbeddedStack

TOPIC = "membership-probe"
PARTITIONS = 4


async def member(bootstrap: str, instance: str | None, session_timeout_ms: int) -> None:
    """One group member: prints a line per assignment, reads until killed."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="membership-probe",
        group_instance_id=instance,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=60000,
        fetch_max_wait_ms=20,
        auto_offset_reset="latest",
        auto_commit_interval_ms=100,
    )
    await consumer.start()
    try:
        while True:
            await consumer.getmany(timeout_ms=100)
    finally:
        await consumer.stop()


async def probe(bootstrap: str, static: bool, rounds: int, session_timeout_ms: int) -> list[dict]:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
    await admin.close()

    def start(n: int) -> subprocess.Popen:
        args = [
            sys.executable,
            "-m",
            "chaos.membership",
            "--member",
            bootstrap,
            "--session-timeout-ms",
            str(session_timeout_ms),
        ]
        if static:
            args += ["--instance", f"probe-{n}"]
        return subprocess.Popen(args)

    members = [start(0), start(1)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="membership-probe", enable_auto_commit=False)
    await reader.start()
    results = []
    try:
        await asyncio.sleep(15)  # both joined
        for r in range(rounds):
            members[1].send_signal(signal.SIGKILL)
            members[1].wait()
            killed = time.monotonic()
            await asyncio.sleep(1)
            members[1] = start(1)
            restarted = time.monotonic()
            stalls = await _stalls(producer, reader, killed)
            results.append(
                {
                    "static": static,
                    "session_timeout_ms": session_timeout_ms,
                    "round": r + 1,
                    "restart_after_s": round(restarted - killed, 1),
                    "partition_stall_s": stalls,
                    "stall_max_s": max(stalls.values()),
                }
            )
            print(json.dumps(results[-1]), flush=True)
            await asyncio.sleep(5)
    finally:
        await reader.stop()
        await producer.stop()
        for m in members:
            m.send_signal(signal.SIGTERM)
            m.wait()
    return results


async def _stalls(producer: AIOKafkaProducer, reader: AIOKafkaConsumer, killed: float) -> dict[str, float]:
    """Per partition: seconds from the kill until the group had committed past a record written after it."""
    from aiokafka import TopicPartition

    tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
    marks = {tp: (await producer.send_and_wait(TOPIC, b"x", partition=tp.partition)).offset for tp in tps}
    stalls: dict[str, float] = {}
    while len(stalls) < PARTITIONS and time.monotonic() - killed < 90:
        for tp in tps:
            await producer.send(TOPIC, b"x", partition=tp.partition)
        for tp in tps:
            if str(tp.partition) not in stalls and (await reader.committed(tp) or 0) > marks[tp]:
                stalls[str(tp.partition)] = round(time.monotonic() - killed, 1)
        await asyncio.sleep(0.05)
    return stalls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.membership", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--static", action="store_true", help="members use group_instance_id")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--session-timeout-ms", type=int, default=10000, help="the services use 10000")
    parser.add_argument("--member", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.member:
        asyncio.run(member(args.member, args.instance, args.session_timeout_ms))
        return 0
    stack = EmbeddedStack().start()
    try:
        asyncio.run(probe(stack.bootstrap, args.static, args.rounds, args.session_timeout_ms))
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

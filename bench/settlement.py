"""Benchmark (not a test): real-time settlement throughput and latency against the raw
four-hop Kafka relay on the same broker, in one run.

    make bench        (or: python -m bench.settlement [--n 1500] [--concurrency 4])

Starts the embedded stack (or uses KAFKA_BOOTSTRAP_SERVERS + MONGODB_URI), runs
``../shared/bench/relay_baseline.py`` on it, then all five services, and drives general
outpatient settlements (no filing needed, F-05) from simulated HIS adapters with a bounded
number in flight. Ends with one JSON line: settlements_per_s, relay_per_s, ratio, p50_ms,
p99_ms, max_rss_mb (largest service), per-service RSS, and whether every completed settlement
is durably stored."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from runtime.calendar import business_date
from runtime.embedded import EmbeddedStack, free_port
from runtime.client import PartyClient
from runtime.config import Settings
from runtime.envelopes import encode
from runtime.parties import ParticipantRegistry, authenticate, init_keys
from runtime.privacy import ensure_dev_secrets
from runtime.store import open_document
from runtime.topics import create_topics
from simulator import scenarios

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT.parent / "shared" / "bench" / "relay_baseline.py"
SERVICES = ("filing", "settlement", "clearing", "prepayment", "collab")


def relay(bootstrap: str, n: int) -> dict:
    out = subprocess.run([sys.executable, str(BASELINE), "--bootstrap", bootstrap, "--n", str(n)],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_services(env: dict, prefix: str) -> dict[str, tuple[subprocess.Popen, int]]:
    procs = {}
    for name in SERVICES:
        port = free_port()
        procs[name] = (subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "service", name], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=open(f"/tmp/yidi-bench-{name}.log", "w"),
            env={**env, "YIDI_SERVICE": name, "YIDI_METRICS_PORT": str(port), "YIDI_TOPIC_PREFIX": prefix,
                 "YIDI_MONGODB_DATABASE": f"bench_{prefix.strip('.')}_{name}", "YIDI_LOG_LEVEL": "WARNING"}), port)
    return procs


async def wait_healthy(procs: dict) -> None:
    import urllib.request
    for name, (proc, port) in procs.items():
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except Exception:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited")
                await asyncio.sleep(0.2)


async def drive(bootstrap: str, prefix: str, idempotence: bool, n: int, concurrency: int,
                rss: dict[str, float], procs: dict, keys_dir: str) -> dict:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotence, linger_ms=1)
    # request_id and outcome are in clear on v2: the benchmark never needs to open the sealed result
    results = AIOKafkaConsumer(prefix + "settlement.result.v2", bootstrap_servers=bootstrap,
                               group_id=f"bench-his-{uuid.uuid4().hex[:6]}", auto_offset_reset="latest",
                               fetch_max_wait_ms=5)
    await producer.start()
    await results.start()
    client = PartyClient(producer, keys_dir, prefix)
    pending: dict[str, asyncio.Future] = {}
    outcomes: dict[str, int] = {}
    completed_ids: set[str] = set()

    async def read() -> None:
        async for record in results:
            payload = json.loads(record.value)["payload"]
            fut = pending.pop(payload["request_id"], None)
            if fut is None:
                continue   # a repeated copy of an answer already counted (at-least-once delivery)
            outcomes[payload["outcome"]] = outcomes.get(payload["outcome"], 0) + 1
            if payload["outcome"] == "completed":
                completed_ids.add(payload["request_id"])
            if fut and not fut.done():
                fut.set_result(time.perf_counter())

    async def sample_rss() -> None:
        while True:
            for name, (proc, _) in procs.items():
                try:
                    rss[name] = max(rss.get(name, 0), psutil.Process(proc.pid).memory_info().rss / 2**20)
                except psutil.Error:
                    pass
            await asyncio.sleep(0.5)

    reader, sampler = asyncio.create_task(read()), asyncio.create_task(sample_rss())
    await asyncio.sleep(3)
    gate = asyncio.Semaphore(concurrency)
    today = business_date(datetime.now(UTC))

    async def one(i: int) -> float:
        async with gate:
            p = scenarios.person(i)
            request = scenarios.outpatient(p, f"{p.institution}-B{uuid.uuid4().hex[:12]}", today)
            fut = asyncio.get_running_loop().create_future()
            pending[request.request_id] = fut
            began = time.perf_counter()
            await client.send("his.outpatient-requested.v1", request, sender=request.institution_code,
                              now=datetime.now(UTC), producer="his:bench", wait=False)
            return await asyncio.wait_for(fut, 120) - began

    await asyncio.gather(*(one(i) for i in range(min(100, n))))            # warm-up
    began = time.perf_counter()
    latencies = sorted(await asyncio.gather(*(one(1000 + i) for i in range(n))))
    elapsed = time.perf_counter() - began
    reader.cancel()
    sampler.cancel()
    await producer.stop()
    await results.stop()
    return {"settlements_per_s": round(n / elapsed, 1), "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1), "outcomes": outcomes,
            "completed": len(completed_ids)}


def signature_cost(keys_dir: str, rounds: int = 2000) -> dict:
    """CPU µs to sign and to verify one HIS request as it travels (Ed25519 JWS, detached)."""
    p = scenarios.person(1)
    request = scenarios.outpatient(p, f"{p.institution}-COST", business_date(datetime.now(UTC)))
    client = PartyClient(None, keys_dir)   # type: ignore[arg-type]   (signing only)
    value = encode(client.envelope("his.outpatient-requested.v1", request, sender=p.institution,
                                   now=datetime.now(UTC)))
    signer, registry = client.signer(p.institution), ParticipantRegistry.load(keys_dir)
    began = time.process_time()
    for _ in range(rounds):
        signature = signer.sign(value)
    signed = time.process_time()
    for _ in range(rounds):
        authenticate(registry, value, signature, datetime.now(UTC))
    verified = time.process_time()
    return {"sign_us": round((signed - began) / rounds * 1e6, 1),
            "verify_us": round((verified - signed) / rounds * 1e6, 1), "message_bytes": len(value)}


async def stored(mongodb_uri: str, prefix: str) -> int:
    client = AsyncMongoClient(mongodb_uri)
    try:
        total = 0
        async for visit in client[f"bench_{prefix.strip('.')}_settlement"]["visits"].find({}):
            total += len(open_document(visit)["state"]["settlements"])   # sealed at rest (003 §5 (三))
        return total
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=4, help="settlements in flight (4: the knee here)")
    parser.add_argument("--relay-n", type=int, default=5000)
    args = parser.parse_args()
    stack = None
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("MONGODB_URI"):
        bootstrap, mongodb_uri, idempotence = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URI"], True
    else:
        stack = EmbeddedStack().start()
        bootstrap, mongodb_uri, idempotence = stack.bootstrap, stack.mongodb_uri, False
    procs: dict = {}
    try:
        baseline = relay(bootstrap, args.relay_n)
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        asyncio.run(create_topics(bootstrap, prefix, **Settings().topic_scale()))
        keys_dir = os.environ.get("YIDI_KEYS_DIR", "var/keys")
        init_keys(keys_dir)
        ensure_dev_secrets(keys_dir)
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "MONGODB_URI": mongodb_uri,
               "YIDI_KAFKA_IDEMPOTENCE": str(idempotence).lower(), "YIDI_KEYS_DIR": keys_dir}
        procs = start_services(env, prefix)
        asyncio.run(wait_healthy(procs))
        rss: dict[str, float] = {}
        figures = asyncio.run(drive(bootstrap, prefix, idempotence, args.n, args.concurrency, rss, procs, keys_dir))
        time.sleep(2)
        completed = figures["completed"]
        durable = asyncio.run(stored(mongodb_uri, prefix))
        print(json.dumps({
            "settlements_per_s": figures["settlements_per_s"], "relay_per_s": baseline["relay_rps"],
            "ratio": round(figures["settlements_per_s"] / baseline["relay_rps"], 3),
            "p50_ms": figures["p50_ms"], "p99_ms": figures["p99_ms"],
            "max_rss_mb": round(max(rss.values()), 1), "rss_mb": {k: round(v, 1) for k, v in rss.items()},
            "relay_p50_ms": baseline["p50_ms"], "relay_p99_ms": baseline["p99_ms"], "n": args.n,
            "concurrency": args.concurrency, "outcomes": figures["outcomes"],
            "completed_stored": durable, "all_completed_stored": durable >= completed,
            "signature_cpu": signature_cost(keys_dir)}))
    finally:
        for proc, _ in procs.values():
            proc.terminate()
        for proc, _ in procs.values():
            proc.wait(30)
        if stack:
            stack.stop()


if __name__ == "__main__":
    main()

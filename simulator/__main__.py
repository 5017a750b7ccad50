"""Run the HIS traffic simulator against a running system.

    python -m simulator [--rate 5] [--population 120] [--seconds 0]

Registers filings and chronic qualifications for a population, then sends a realistic mix of
visits (inpatient, outpatient, chronic, emergency, trauma, unfiled, refunds; cross- and
intra-province), reads every result and checks it, printing a summary every 10 seconds; at the end each
hospital sends its day's totals for the daily reconciliation (R-01, R-02)."""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.values import SHANGHAI
from runtime.background import consumed
from runtime.clock import OPERATOR, clock_command_set, clock_headers
from runtime.config import Settings
from runtime.client import PartyClient
from simulator import scenarios
from runtime.topics import CLOCK
from simulator.traffic import Expectation, Traffic, check, population

# Business time of the simulated day (the system runs on the controlled clock, YIDI_CLOCK=controlled)
FILING_DAY = datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI)   # a Monday, working day (M-02)
VISIT_DAY = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)     # three weeks later, a Monday


class Simulator:
    def __init__(self, settings: Settings, rate: float, size: int, seed: int) -> None:
        self.settings, self.rate, self.rng = settings, rate, random.Random(seed)
        self.pending: dict[str, tuple[Expectation, float, object]] = {}
        self.outcomes: Counter[str] = Counter()
        self.problems: list[str] = []
        self.latencies: list[float] = []
        self.size = size
        self.clock_offset = timedelta(0)

    def topic(self, name: str) -> str:
        return self.settings.topic_prefix + name

    async def send(self, topic: str, payload, sender: str) -> None:
        """As the hospital or agency ``sender`` would: signed with its key (contracts.parties)."""
        await self.client.send(topic, payload, sender=sender, now=self.business_now(), producer=f"simulator:{sender}")

    def business_now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    async def run(self, seconds: float) -> int:
        s = self.settings
        self.producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, acks="all",
                                         enable_idempotence=s.kafka_idempotence, linger_ms=2,
                                         **s.kafka_client_options())
        await self.producer.start()
        self.client = PartyClient(self.producer, s.keys_dir, s.topic_prefix)
        consumer = AIOKafkaConsumer(self.topic("settlement.result.v2"), bootstrap_servers=s.kafka_bootstrap_servers,
                                    group_id=f"{s.topic_prefix}his-simulator-{self.rng.getrandbits(32):08x}",
                                    auto_offset_reset="latest", **s.kafka_client_options())
        await consumer.start()
        try:
            traffic = Traffic(self.rng, VISIT_DAY.date(), population(self.rng, self.size))
            await self.prepare(traffic)
            reader = asyncio.create_task(self.read(consumer, traffic))
            await self.drive(traffic, seconds)
            await asyncio.sleep(5)
            reader.cancel()
            await self.reconcile(traffic)
            self.report(final=True)
            return 1 if self.problems else 0
        finally:
            await consumer.stop()
            await self.producer.stop()

    async def set_clock(self, when: datetime) -> None:
        value = clock_command_set(when)   # signed by the registry's operator party, as `yidi clock` does
        await self.producer.send_and_wait(self.topic(CLOCK), value, partition=0,
                                          headers=clock_headers(self.client.signer(OPERATOR), value))
        self.clock_offset = when - datetime.now(UTC)

    async def prepare(self, traffic: Traffic) -> None:
        """Three weeks before the simulated day, agencies file the long-term residents at the
        window (F-01, F-13: immediate) and record chronic qualifications (S-13); then business
        time moves to the simulated day, so that stays admitted since are covered (F-12)."""
        await self.set_clock(FILING_DAY)
        await asyncio.sleep(1)
        for n, p in enumerate(traffic.population.filed):
            await self.send("filing.register.v1", scenarios.long_term_filing(
                p, FILING_DAY.date(), f"AG{p.insured_region}-SIM-{n:06d}-{self.rng.getrandbits(24):06x}"),
                f"A{p.insured_region}")
        for p in traffic.population.qualified:
            await self.send("settlement.chronic-qualification.v1",
                            scenarios.chronic_qualification(p, "M03900", self.business_now()), f"A{p.insured_region}")
        print(f"filed {len(traffic.population.filed)} persons, {len(traffic.population.qualified)} chronic "
              "qualifications; waiting for the read models…", flush=True)
        # business time moves only once they took effect: moved first, they would be refused as
        # sent three weeks before receipt (CLOCK_SKEW), and the visits after them refused unfiled
        for service, topics in (("filing", ["filing.register.v1"]),
                                ("settlement", ["filing.changed.v1", "settlement.chronic-qualification.v1"])):
            group = self.settings.model_copy(update={"service": service}).group_id
            if not await consumed(self.settings, group, [self.topic(t) for t in topics]):
                print(f"the {service} service has not taken in everything sent yet; moving on", flush=True)
        await self.set_clock(VISIT_DAY)
        await asyncio.sleep(1)

    async def drive(self, traffic: Traffic, seconds: float) -> None:
        started, last_report = time.monotonic(), time.monotonic()
        interval = 1.0 / self.rate
        while not seconds or time.monotonic() - started < seconds:
            topic, payload, expected = traffic.next_visit()
            self.pending[payload.request_id] = (expected, time.perf_counter(), payload)
            await self.send(topic, payload, payload.institution_code)
            if time.monotonic() - last_report >= 10:
                self.report()
                last_report = time.monotonic()
            await asyncio.sleep(self.rng.expovariate(1 / interval))

    async def read(self, consumer: AIOKafkaConsumer, traffic: Traffic) -> None:
        async for record in consumer:
            sealed = json.loads(record.value)["payload"]
            entry = self.pending.pop(sealed.get("reversal_request_id") or sealed.get("request_id"), None)
            if entry is None:
                continue
            # the result is encrypted to the hospital it answers (003 §5 (三)); the simulator holds the
            # keys of every sample hospital, as each hospital's adapter holds its own
            result = self.client.open_result(sealed)
            expected, sent_at, payload = entry
            self.latencies.append(time.perf_counter() - sent_at)
            self.outcomes[f"{expected.kind} → {result['outcome']}"] += 1
            problem = check(result, expected)
            if problem:
                self.problems.append(problem)
            elif result["outcome"] == "completed":
                traffic.settled(result)

    async def reconcile(self, traffic: Traffic) -> None:
        """At the end of the day each hospital's HIS sends its totals for the daily reconciliation (R-01, R-02):
        per medical type its completed settlements and what each fund paid."""
        sent = traffic.totals.reconciliations(self.business_now())
        for totals in sent:
            await self.send("his.daily-reconciliation.v1", totals, str(totals.institution_code))
        print(f"sent the daily totals of {len(sent)} hospital-days for reconciliation", flush=True)

    def report(self, final: bool = False) -> None:
        lat = sorted(self.latencies)
        pct = (lambda q: f"{lat[min(len(lat) - 1, int(q * len(lat)))] * 1000:.0f} ms") if lat else (lambda q: "-")
        print(f"{'final' if final else 'so far'}: {sum(self.outcomes.values())} answered, {len(self.pending)} "
              f"waiting, {len(self.problems)} problems; latency p50 {pct(0.5)} p99 {pct(0.99)}", flush=True)
        for kind, n in sorted(self.outcomes.items()):
            print(f"    {n:6d}  {kind}", flush=True)
        for problem in self.problems[-5:]:
            print(f"  ! {problem}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=5.0, help="visits per second")
    parser.add_argument("--population", type=int, default=120)
    parser.add_argument("--seconds", type=float, default=0, help="0: until stopped")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(Simulator(Settings(service="simulator"), args.rate, args.population, args.seed)
                           .run(args.seconds))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

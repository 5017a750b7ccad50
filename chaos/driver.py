"""Drives the mix through the running system as the hospitals and agencies would, while services
are killed. Business time (the controlled clock): filings on 2026-10-12, visits on 2026-11-02
(the simulator's days), then the clock moves to 2026-12-21, when clearing generates the period the
November settlements belong to (C-02), and the rest of the requests, among them refunds of
cleared settlements (S-15 after_clearing), are made that day."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from chaos.mix import Mix, Request, acceptable
from chaos.system import System
from contracts.values import SHANGHAI
from runtime.client import PartyClient
from runtime.store import open_document
from simulator import scenarios
from simulator.__main__ import FILING_DAY, VISIT_DAY, Simulator
from simulator.traffic import CHRONIC, population

RESULTS = "settlement.result.v2"
CLEARING_DAY = datetime(2026, 12, 21, 9, 0, tzinfo=SHANGHAI)  # C-02: the 21st, a Monday
CLEARED_MONTH = "2026-12"  # what the 2026-11-02 settlements clear in
PHASE_ONE = 0.6  # share of the requests made before the 21st


@dataclass
class Sent:
    request: Request
    sent_at: float
    answered_at: float | None = None
    result: dict | None = None
    problem: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def waited(self) -> float | None:
        """Seconds from sending to the first answer (None: none came)."""
        return None if self.answered_at is None else self.answered_at - self.sent_at


@dataclass
class Driver:
    system: System
    requests: int
    kills: int
    seed: int
    in_flight: int = 8
    population_size: int = 300
    answer_wait: float = 180.0
    clearing_day: bool = True  # move to the 21st half-way (a short check may skip it)
    targets: list[str] | None = None  # the instances to kill, in order (default: every one in turn)
    max_seconds: float | None = None  # stop sending after this long (the report counts what was sent)
    rng: random.Random = field(init=False)
    sent: list[Sent] = field(default_factory=list)
    waiting: dict[str, Sent] = field(default_factory=dict)  # request id → the request awaiting its answer
    answers: dict[str, list[dict]] = field(default_factory=dict)  # request id → distinct answers received
    copies: Counter = field(default_factory=Counter)  # request id → answers received
    busy: set[str] = field(default_factory=set)
    period_generated_s: float | None = None
    phases: dict[str, float] = field(default_factory=dict)  # seconds each step of the run took

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    async def run(self) -> None:
        s = self.system.settings()
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap_servers, acks="all", enable_idempotence=s.kafka_idempotence, linger_ms=2
        )
        await producer.start()
        self.sim = Simulator(s, rate=1.0, size=self.population_size, seed=self.seed)
        self.sim.producer, self.sim.client = producer, PartyClient(producer, s.keys_dir, s.topic_prefix)
        reader = asyncio.create_task(self._read())
        mark = time.monotonic()
        self.until = mark + self.max_seconds if self.max_seconds else float("inf")

        def phase(name: str) -> None:
            nonlocal mark
            self.phases[name] = round(time.monotonic() - mark, 1)
            mark = time.monotonic()

        try:
            self.mix = Mix(self.rng, population(self.rng, self.population_size), VISIT_DAY.date())
            await self._prepare()
            phase("filings")
            killer = asyncio.create_task(self._killer())
            progress = asyncio.create_task(self._progress())
            if self.clearing_day:
                await self._drive(int(self.requests * PHASE_ONE), mark + PHASE_ONE * (self.until - mark))
                phase("before_the_21st")
                await self._clearing_day()
                phase("clearing_generation")
            await self._drive(self.requests)
            await killer
            await self._until_answered(self.answer_wait)
            phase("requests")
        finally:
            reader.cancel()
            if "progress" in locals():
                progress.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await producer.stop()

    async def _prepare(self) -> None:
        """The simulator's days (``simulator.__main__``): the agencies file the long-term residents and
        record chronic qualifications (F-01, S-13), then business time moves to the visit day. Each
        step waits until every instance has read it: a consumer group still forming would otherwise
        read a filing after the clock moved, and refuse it as CLOCK_SKEW."""
        sim, pop = self.sim, self.mix.population
        await sim.set_clock(FILING_DAY)
        await self.system.caught_up()
        for n, p in enumerate(pop.filed):
            await sim.send(
                "filing.register.v1",
                scenarios.long_term_filing(
                    p, FILING_DAY.date(), f"AG{p.insured_region}-CHAOS-{n:06d}-{self.rng.getrandbits(24):06x}"
                ),
                f"A{p.insured_region}",
            )
        for p in pop.qualified:
            await sim.send(
                "settlement.chronic-qualification.v1",
                scenarios.chronic_qualification(p, CHRONIC, sim.business_now()),
                f"A{p.insured_region}",
            )
        await self.system.caught_up()
        await sim.set_clock(VISIT_DAY)
        await self.system.caught_up()

    # ------------------------------------------------------------ sending
    async def _drive(self, upto: int, until: float | None = None) -> None:
        until = min(until or self.until, self.until)

        async def worker() -> None:
            while len(self.sent) < upto and time.monotonic() < until:
                request = self.mix.next(self.busy)
                if request is None:
                    await asyncio.sleep(0.05)
                    continue
                await self._send(request)

        await asyncio.gather(*(worker() for _ in range(self.in_flight)))
        await self._until_answered(self.answer_wait)

    async def _send(self, request: Request) -> None:
        entry = Sent(request, time.monotonic())
        self.sent.append(entry)
        self.busy.add(request.person.person_id)
        self.waiting[request.request_id] = entry
        await self.sim.send(request.topic, request.payload, request.sender)
        try:  # the HIS waits for its answer; one that never comes is counted unanswered at the end
            await asyncio.wait_for(entry.done.wait(), self.answer_wait)
        except TimeoutError:
            pass

    async def _until_answered(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    # ------------------------------------------------------------ the 21st (C-02)
    async def _clearing_day(self) -> None:
        """Business time to the 21st: clearing generates the period; then refunds of what it cleared."""
        started = time.monotonic()
        await self.sim.set_clock(CLEARING_DAY)
        while not await self._period_generated() and time.monotonic() - started < 180:
            await asyncio.sleep(0.5)
        self.period_generated_s = round(time.monotonic() - started, 1)
        self.mix.clearing_generated(CLEARING_DAY.date())

    async def _period_generated(self) -> bool:
        from pymongo import AsyncMongoClient

        client: AsyncMongoClient = AsyncMongoClient(self.system.stack.mongodb_uri)
        try:
            ledgers = [
                open_document(d)["state"] async for d in client[self.system.database("clearing")]["ledgers"].find({})
            ]
        finally:
            await client.close()
        month = [lg for lg in ledgers if lg["clearing_month"] == CLEARED_MONTH]
        return bool(month) and all(lg.get("status") != "open" for lg in month)

    # ------------------------------------------------------------ reading answers
    async def _read(self) -> None:
        s = self.system.settings()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await consumer.start()
        try:
            topic = s.topic_prefix + RESULTS
            await consumer.topics()
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or range(4))]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while True:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for record in records:
                        self._answer(json.loads(record.value)["payload"])
        finally:
            await consumer.stop()

    def _answer(self, sealed: dict) -> None:
        request_id = str(sealed.get("reversal_request_id") or sealed.get("request_id"))
        result = self.sim.client.open_result(sealed)  # each hospital opens its own (003 §5 (三))
        self.copies[request_id] += 1
        known = self.answers.setdefault(request_id, [])
        if result not in known:
            known.append(result)
        entry = self.waiting.pop(request_id, None)
        if entry is None:
            return
        entry.answered_at, entry.result = time.monotonic(), result
        entry.problem = acceptable(entry.request, result, known[0] if known[0] is not result else None)
        self.mix.answered(entry.request, result)
        self.busy.discard(entry.request.person.person_id)
        entry.done.set()

    def _progress_share(self) -> float:
        """How far the run is: the share of the requests sent, or of the time allowed, whichever is further."""
        share = len(self.sent) / self.requests
        if self.max_seconds:
            share = max(share, 1 - (self.until - time.monotonic()) / self.max_seconds)
        return share

    async def _progress(self, every: float = 30) -> None:
        """A line on stderr now and then, so that whoever runs it sees it move (the JSON goes to stdout)."""
        while True:
            await asyncio.sleep(every)
            answered = sum(1 for s in self.sent if s.result is not None)
            print(
                f"chaos: {len(self.sent)}/{self.requests} sent, {answered} answered, "
                f"{len(self.system.kills)}/{self.kills} kills",
                file=sys.stderr,
                flush=True,
            )

    # ------------------------------------------------------------ killing
    async def _killer(self) -> None:
        """``kills`` SIGKILLs at random points of the run, every instance in turn (shuffled each round)."""
        names = list(self.system.procs)
        order: list[str] = list(self.targets or [])
        while len(order) < self.kills:
            round_ = names[:]
            self.rng.shuffle(round_)
            order += round_
        points = sorted(self.rng.uniform(0.03, 0.93) for _ in range(self.kills))
        for name, point in zip(order[: self.kills], points):
            while self._progress_share() < point:
                await asyncio.sleep(0.05)
            await asyncio.sleep(self.rng.uniform(0, 1.0))  # at a random moment, not at a request boundary
            await self.system.kill(name, self.rng)

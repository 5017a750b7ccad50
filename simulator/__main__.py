"""Run the HIS traffic simulator against a running system.

    python -m simulator [--rate 5] [--population 120] [--seconds 0] [--in-flight 50]

Registers filings and chronic qualifications for a population, then sends a realistic mix of
visits (inpatient, outpatient, chronic, emergency, trauma, unfiled, refunds; cross- and
intra-province), reads every result and checks it, printing a summary every 10 seconds; at the end each
hospital sends its day's totals for the daily reconciliation (R-01, R-02).

It stamps every message with the platform's business time: it follows ops.clock.v1 as the services
do, so `yidi clock advance 3600` moves it too (no CLOCK_SKEW). At most --in-flight requests await an
answer: when the platform lags it waits for answers instead of sending more. A result it cannot open
(sealed to a key it no longer holds, say) is counted and reported, not fatal; refusals on
party.refused.v1 are counted by code."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from collections import Counter
from datetime import datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.values import SHANGHAI
from runtime.background import consumed
from runtime.client import PartyClient
from runtime.clock import OPERATOR, ClockCommands, ControlledClock, clock_command_set, clock_headers
from runtime.config import Settings
from runtime.follow import TopicFollower
from runtime.parties import ParticipantRegistry
from runtime.topics import CLOCK
from simulator import scenarios
from simulator import anomalies
from simulator import seed as sample
from simulator.flight import InFlight
from simulator.traffic import Traffic, check, population

log = logging.getLogger("simulator")
RESULTS, REFUSED = "settlement.result.v2", "party.refused.v1"

# Business time of the simulated day (the system runs on the controlled clock, YIDI_CLOCK=controlled)
FILING_DAY = datetime(2026, 10, 12, 9, 0, tzinfo=SHANGHAI)  # a Monday, working day (M-02)
VISIT_DAY = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)  # three weeks later, a Monday
# With the sample month (make run): a day of visits in October, then the visits on a Monday after the 21st, so
# that November's clearing period has been generated from October's settlements and awaits confirmation (C-02)
LAST_MONTH_DAY = datetime(2026, 10, 26, 9, 0, tzinfo=SHANGHAI)  # a Monday; its stays admitted after the filings
SAMPLE_VISIT_DAY = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # a Monday: 2026-11 generated on the 21st, to
LAST_MONTH_VISITS = 60  # confirm by the 25th


class Simulator:
    def __init__(
        self,
        settings: Settings,
        rate: float,
        size: int,
        seed: int,
        in_flight: int = 50,
        answer_timeout: float = 60.0,
        sample_month: bool = False,
    ) -> None:
        self.settings, self.rate, self.rng = settings, rate, random.Random(seed)
        self.sample_month = sample_month  # seed a month of a real region first (simulator.seed)
        self.visit_day = SAMPLE_VISIT_DAY if sample_month else VISIT_DAY
        self.sample_ids: dict[str, str] = {}  # event id → name of each sample command sent
        self._sending: set[asyncio.Task] = set()  # requests sent again, until sent
        self.flights = InFlight(in_flight, answer_timeout)
        self.outcomes: Counter[str] = Counter()
        self.problems: list[str] = []
        self.latencies: list[float] = []
        self.size = size
        # the platform's business time: the operator's signed commands on ops.clock.v1, read as every service reads them
        self.clock = ControlledClock()
        self.clock_commands = ClockCommands(
            self.clock,
            ParticipantRegistry.load(settings.keys_dir),
            lambda reason: log.warning("clock record ignored: %s", reason),
        )
        self.follower: TopicFollower | None = None  # started by start(); a driver without it sets the clock itself

    def topic(self, name: str) -> str:
        return self.settings.topic_prefix + name

    async def send(self, topic: str, payload, sender: str):
        """As the hospital or agency ``sender`` would: signed with its key (contracts.parties)."""
        return await self.client.send(
            topic, payload, sender=sender, now=self.business_now(), producer=f"simulator:{sender}"
        )

    def business_now(self) -> datetime:
        return self.clock.now()

    async def start(self) -> None:
        s = self.settings
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=s.kafka_idempotence,
            linger_ms=2,
            **s.kafka_client_options(),
        )
        await self.producer.start()
        self.client = PartyClient(self.producer, s.keys_dir, s.topic_prefix)
        self.follower = TopicFollower(
            s.kafka_bootstrap_servers, self.topic(CLOCK), self.clock_commands.apply, **s.kafka_client_options()
        )
        await self.follower.start()  # returns once the clock's history is applied
        self.consumer = AIOKafkaConsumer(
            self.topic(RESULTS),
            self.topic(REFUSED),
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=f"{s.topic_prefix}his-simulator-{self.rng.getrandbits(32):08x}",
            auto_offset_reset="latest",
            **s.kafka_client_options(),
        )
        await self.consumer.start()
        # its answers are read from the latest offset: it must hold its partitions before it asks
        deadline = time.monotonic() + 30
        while not self.consumer.assignment() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        await self.consumer.stop()
        if self.follower is not None:
            await self.follower.stop()
        await self.producer.stop()

    async def run(self, seconds: float) -> int:
        await self.start()
        try:
            traffic = Traffic(self.rng, self.visit_day.date(), population(self.rng, self.size))
            reader = asyncio.create_task(self.read(self.consumer, traffic))  # last month's answers too
            await self.prepare(traffic)
            await self.drive(traffic, seconds, reader)
            await self.drain(reader)
            reader.cancel()
            await self.reconcile(traffic)
            self.report(final=True)
            return 1 if self.problems else 0
        finally:
            await self.stop()

    async def set_clock(self, when: datetime) -> None:
        value = clock_command_set(when)  # signed by the registry's operator party, as `yidi clock` does
        await self.producer.send_and_wait(
            self.topic(CLOCK), value, partition=0, headers=clock_headers(self.client.signer(OPERATOR), value)
        )
        command = json.loads(value)
        if self.follower is None:  # a driver that only borrows this one (bench, chaos): no reading, its own clock
            self.clock.apply(command)
            return
        # the business time is what the topic says: wait until the follower has applied this command
        issued = datetime.fromisoformat(command["issued_at"])
        deadline = time.monotonic() + 30
        while (self.clock_commands.last_issued or issued - timedelta(days=1)) < issued and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def prepare(self, traffic: Traffic) -> None:
        """Three weeks before the simulated day, agencies file the long-term residents at the
        window (F-01, F-13: immediate) and record chronic qualifications (S-13); then business
        time moves to the simulated day, so that stays admitted since are covered (F-12)."""
        await self.set_clock(FILING_DAY)
        if self.sample_month:
            await self.send_sample(sample.before(FILING_DAY))
        for n, p in enumerate(traffic.population.filed):
            await self.send(
                "filing.register.v1",
                scenarios.long_term_filing(
                    p, FILING_DAY.date(), f"AG{p.insured_region}-SIM-{n:06d}-{self.rng.getrandbits(24):06x}"
                ),
                f"A{p.insured_region}",
            )
        for p in traffic.population.qualified:
            await self.send(
                "settlement.chronic-qualification.v1",
                scenarios.chronic_qualification(p, "M03900", self.business_now()),
                f"A{p.insured_region}",
            )
        print(
            f"filed {len(traffic.population.filed)} persons, {len(traffic.population.qualified)} chronic "
            "qualifications; waiting for the read models…",
            flush=True,
        )
        # business time moves only once they took effect: moved first, they would be refused as
        # sent three weeks before receipt (CLOCK_SKEW), and the visits after them refused unfiled
        for service, topics in (
            ("filing", ["filing.register.v1"]),
            ("settlement", ["filing.changed.v1", "settlement.chronic-qualification.v1"]),
        ):
            group = self.settings.model_copy(update={"service": service}).group_id
            if not await consumed(self.settings, group, [self.topic(t) for t in topics]):
                print(f"the {service} service has not taken in everything sent yet; moving on", flush=True)
        if self.sample_month:
            await self.last_month(traffic)
        await self.set_clock(self.visit_day)
        if self.sample_month:
            await self.send_sample(sample.after(self.visit_day))

    async def last_month(self, traffic: Traffic) -> None:
        """A day of visits in October, answered and taken in by clearing and prepayment before business
        time moves past the 21st: November's period is generated from them (C-02), and Wuhu's
        cross-province usage counts them (P-04)."""
        await self.set_clock(LAST_MONTH_DAY)
        month = Traffic(self.rng, LAST_MONTH_DAY.date(), traffic.population)
        for _ in range(LAST_MONTH_VISITS):
            await self.flights.acquire()
            await self.send_visit(month)
        planted = anomalies.planted(month)
        for request in planted:  # a few flags for the supervision pages (基金监管)
            await self.flights.acquire()
            await self.send_request(month, *request)
        deadline = time.monotonic() + 60
        while len(self.flights) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for service in ("clearing", "prepayment"):
            group = self.settings.model_copy(update={"service": service}).group_id
            if not await consumed(self.settings, group, [self.topic("settlement.completed.v1")]):
                print(f"the {service} service has not taken in October's settlements yet; moving on", flush=True)
        await self.reconcile(month)  # the hospitals' totals of that day (R-01, R-02)
        print(
            f"sent {LAST_MONTH_VISITS} visits of {LAST_MONTH_DAY:%Y-%m-%d} and {len(planted)} with planted anomalies "
            f"(基金监管): {self.flights.summary()}",
            flush=True,
        )

    async def send_sample(self, rounds: list[list[sample.Seeded]]) -> None:
        """The agencies' sample commands, round by round, each round taken in by its service before
        the next (a reply needs its request); fixed event ids, so a second start adds nothing."""
        for items in rounds:
            for item in items:
                self.sample_ids[str(sample.event_id(item.name))] = item.name
                await self.client.send(
                    item.topic,
                    item.payload,
                    sender=item.sender,
                    now=self.business_now(),
                    producer=f"seed:{item.sender}",
                    event_id=sample.event_id(item.name),
                )
            for service in sorted({item.topic.split(".")[0] for item in items}):
                group = self.settings.model_copy(update={"service": service}).group_id
                names = sorted({self.topic(item.topic) for item in items if item.topic.startswith(service + ".")})
                if not await consumed(self.settings, group, names):
                    print(f"the {service} service has not taken in the sample month yet; moving on", flush=True)
        print(f"seeded {sum(len(items) for items in rounds)} sample commands (quotas, collaboration)", flush=True)

    async def drive(self, traffic: Traffic, seconds: float, reader: asyncio.Task | None = None) -> None:
        started, last_report = time.monotonic(), time.monotonic()
        interval = 1.0 / self.rate
        while not seconds or time.monotonic() - started < seconds:
            if reader is not None and reader.done():  # said, not left to freeze "answered"
                raise RuntimeError(f"the result reader stopped: {reader.exception()!r}")
            await self.flights.acquire()  # at most --in-flight awaiting an answer: waits while the platform lags
            await self.send_visit(traffic)
            if time.monotonic() - last_report >= 10:
                self.report()
                last_report = time.monotonic()
            await asyncio.sleep(self.rng.expovariate(1 / interval))

    async def send_visit(self, traffic: Traffic) -> None:
        await self.send_request(traffic, *traffic.next_visit())

    async def send_request(self, traffic: Traffic, topic: str, payload, expected) -> None:
        """One HIS request, in flight until its answer is checked against ``expected``."""
        envelope = self.client.envelope(
            topic,
            payload,
            sender=payload.institution_code,
            now=self.business_now(),
            producer=f"simulator:{payload.institution_code}",
        )
        # in flight before it leaves: its answer may come before send_and_wait returns
        self.flights.sent(payload.request_id, str(envelope.event_id), expected, traffic, topic=topic, payload=payload)
        await self.client.send(
            topic,
            payload,
            sender=payload.institution_code,
            now=envelope.occurred_at,
            producer=envelope.producer,
            event_id=envelope.event_id,
        )

    def resend(self, request_id: str) -> bool:
        """A request refused CLOCK_SKEW had no effect: stamped before business time moved (``yidi clock
        advance``) and read after, it is sent again with the time now, as a HIS adapter does (at most
        twice). False: not one to send again (the refusal then stands as the answer)."""
        flight = self.flights.get(request_id)
        if flight is None or flight.payload is None or flight.attempts > 2:
            return False
        envelope = self.client.envelope(
            flight.topic,
            flight.payload,
            sender=flight.payload.institution_code,
            now=self.business_now(),
            producer=f"simulator:{flight.payload.institution_code}",
        )
        self.flights.again(flight, str(envelope.event_id))
        task = asyncio.get_running_loop().create_task(
            self.client.send(
                flight.topic,
                flight.payload,
                sender=flight.payload.institution_code,
                now=envelope.occurred_at,
                producer=envelope.producer,
                event_id=envelope.event_id,
            )
        )
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return True

    async def drain(self, reader: asyncio.Task, timeout: float = 10) -> None:
        """The answers still due, awaited for a while (not forever) before the day's totals."""
        deadline = time.monotonic() + timeout
        while len(self.flights) and not reader.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)

    async def read(self, consumer: AIOKafkaConsumer, traffic: Traffic) -> None:
        async for record in consumer:
            try:
                self.take(record, traffic)
            except Exception as exc:  # one record it cannot read must not stop the reading
                self.flights.tally.unopenable += 1
                log.warning(
                    "a record on %s at offset %s could not be read: %s", record.topic, record.offset, type(exc).__name__
                )

    def take(self, record, traffic: Traffic) -> None:
        """One answer: a refusal (party.refused.v1, in clear) or a result sealed to its hospital."""
        payload = json.loads(record.value)["payload"]
        if record.topic.endswith(REFUSED):
            refused = str(payload.get("refused_event_id"))
            if refused in self.sample_ids:  # a sample command refused: said, with the service's reason
                print(
                    f"  ! sample {self.sample_ids[refused]} refused by {payload.get('service')}: "
                    f"{payload.get('reason')} {payload.get('message', '')[:300]}",
                    flush=True,
                )
            self.flights.refused(refused, str(payload.get("reason")))
            return
        request_id = payload.get("reversal_request_id") or payload.get("request_id")
        if not self.flights.has(request_id):
            return
        # the result is encrypted to the hospital it answers (003 §5 (三)); the simulator holds the
        # keys of every sample hospital, as each hospital's adapter holds its own
        try:
            result = self.client.open_result(payload)
        except Exception as exc:  # sealed to a key it no longer holds (a rotation), or not what it says
            self.flights.unopenable(request_id)
            log.warning("a result for request %s could not be opened: %s", request_id, type(exc).__name__)
            return
        if result["outcome"] == "refused" and result.get("code") == "CLOCK_SKEW" and self.resend(request_id):
            return
        flight = self.flights.answered(request_id)
        if flight is None:
            return
        self.latencies.append(time.monotonic() - flight.sent_at)
        if result["outcome"] == "refused":
            self.flights.result_refused(str(result.get("code")))
        self.outcomes[f"{flight.expected.kind} → {result['outcome']}"] += 1
        problem = check(result, flight.expected)
        if problem:
            self.problems.append(problem)
        elif result["outcome"] == "completed":
            (flight.context or traffic).settled(result)

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
        business = self.business_now().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        print(
            f"{'final' if final else 'so far'} (business time {business}): {self.flights.summary()}; {len(self.problems)} problems; latency p50 {pct(0.5)} "
            f"p99 {pct(0.99)}",
            flush=True,
        )
        for kind, n in sorted(self.outcomes.items()):
            print(f"    {n:6d}  {kind}", flush=True)
        for problem in self.problems[-5:]:
            print(f"  ! {problem}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=5.0, help="visits per second (default 5)")
    parser.add_argument("--population", type=int, default=120, help="persons simulated (default 120)")
    parser.add_argument("--seconds", type=float, default=0, help="how long to send visits; 0: until stopped")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the population and the visits")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=50,
        help="at most this many requests awaiting an answer; sending waits beyond (default 50)",
    )
    parser.add_argument(
        "--sample-month",
        action="store_true",
        help="first seed a month of a real region: quotas (one red warning), collaboration requests, "
        "leads and co-investigations in every state; safe to repeat",
    )
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=60.0,
        help="seconds after which a request with no answer is counted unanswered (default 60)",
    )
    args = parser.parse_args(argv)
    if args.in_flight < 1 or args.rate <= 0 or args.answer_timeout <= 0:
        parser.error("--in-flight must be at least 1, --rate and --answer-timeout above 0")
    try:
        return asyncio.run(
            Simulator(
                Settings(service="simulator"),
                args.rate,
                args.population,
                args.seed,
                args.in_flight,
                args.answer_timeout,
                args.sample_month,
            ).run(args.seconds)
        )
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""The filing service 备案 over the real wire: commands published on ``filing.*.v1``, replies read
from ``filing.accepted.v1`` / ``filing.refused.v1``, every change from ``filing.changed.v1`` (F-15),
poison from ``ops.dead-letter.v1``, and the service's own MongoDB store. One filing process serves
the module; every test uses its own persons and sets the controlled business clock it needs at its
start (the clock barrier waits until the service itself reports the new time). Every command is
signed by an agency (003 §5 (三)): a registration by its insured region's, any later command by the
agency of the insured place the person was filed by (``Wire.sender_for``); refusals for authority
come on ``party.refused.v1`` (tests/integration/test_agency_parties.py).

Rules covered, by ID: F-01 … F-16 (each test name starts with the rules it checks), M-02, M-03.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from privacy_support import find_aggregate, person_key, plain
from support import Bus, ServiceProcess, eventually, new_prefix, wire_json

from contracts.filing import (
    CancelFiling,
    ChangeFiling,
    DecideFiling,
    DeliverProof,
    FilingChanged,
    FilingSnapshot,
    RegisterFiling,
    ResumeFiling,
    SuspendFiling,
    TerminateInsurance,
)
from contracts.prepayment import PrepaymentSanction, SanctionAction, SanctionKind
from contracts.registry import ALL_TOPICS
from contracts.values import SHANGHAI as SH
from contracts.values import FilingCategory, MedicalType, make_person_id
from kernel.eligibility import eligibility
from kernel.filings import FilingView
from runtime.envelopes import envelope_for
from runtime.parties import ParticipantRegistry
from runtime.topics import OPS_TOPICS
from services.filing.domain import load_policies

pytestmark = pytest.mark.integration

BASE = datetime(2026, 10, 12, 9, 0, tzinfo=SH)  # Monday, a working day after National Day
READ = ("filing.accepted.v1", "filing.refused.v1", "filing.changed.v1", "ops.dead-letter.v1", "party.refused.v1")
BOOK = load_policies()
PROBE_PERSON = make_person_id("11000019700101000")  # owns nothing: the clock probe is always refused

WUHAN, WUHU, SHENYANG, BEIJING, SHANGHAI, CHANGSHA = "420100", "340200", "210100", "110000", "310000", "430100"

REGISTRY = ParticipantRegistry.load()
INPATIENT, GENERAL, PHARMACY, CHRONIC = (
    MedicalType.INPATIENT,
    MedicalType.GENERAL_OUTPATIENT,
    MedicalType.PHARMACY,
    MedicalType.CHRONIC_OUTPATIENT,
)


def at(y: int, m: int, d: int, h: int = 10, minute: int = 0, s: int = 0) -> datetime:
    """A business moment in Asia/Shanghai."""
    return datetime(y, m, d, h, minute, s, tzinfo=SH)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------- builders
_people = itertools.count(1)
_requests = itertools.count(1)


def person(insured: str = WUHAN) -> str:
    """A fresh, valid ID number (GB 11643) registered in ``insured``: one per test scenario."""
    n = next(_people)
    birth = date(1955, 1, 1) + timedelta(days=n * 41)
    return make_person_id(f"{insured}{birth:%Y%m%d}{n % 1000:03d}")


def rid(label: str = "req") -> str:
    return f"wire-{label}-{next(_requests):05d}-{uuid.uuid4().hex[:6]}"


def full_proofs(category: str, insured: str) -> tuple[str, ...]:
    """The first alternative of every requirement of the insured region's policy (F-03)."""
    return tuple(group[0].value for group in BOOK.for_region(insured).proofs_for(FilingCategory(category)))


def register(
    pid: str,
    *,
    insured: str = WUHAN,
    treating: str = BEIJING,
    category: str = "other_temporary",
    start: date | None = None,
    channel: str = "window",
    insurance: str = "310",
    proofs: tuple[str, ...] | None = None,
    **extra: Any,
) -> RegisterFiling:
    return RegisterFiling(
        request_id=extra.pop("request_id", None) or rid("reg"),
        person_id=pid,
        name="测试参保人",
        insurance_type=insurance,
        insured_region=insured,
        treating_region=treating,
        category=category,
        channel=channel,
        start_date=start or BASE.date(),
        proofs=full_proofs(category, insured) if proofs is None else proofs,
        **extra,
    )


def snap(payload: dict) -> FilingSnapshot:
    return FilingSnapshot.model_validate(payload)


# ---------------------------------------------------------------- the wire client
class Wire:
    """Agency front end and F-15 consumer in one: publishes commands, follows the reply and change
    topics with one long-lived consumer, and sets the business clock with a barrier."""

    def __init__(self, bus: Bus, service: ServiceProcess, topics: tuple[str, ...] = READ) -> None:
        self.bus, self.service, self.prefix = bus, service, bus.prefix
        self.seen: dict[str, list[dict]] = {topic: [] for topic in topics}
        self.insured: dict[str, str] = {}  # person → insured region of their accepted registration
        self._ids: set[tuple[str, str]] = set()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None
        self._clock = (BASE, time.monotonic())
        self._mongo = None
        self.db = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bus.stack.bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        partitions = {
            **{t: ALL_TOPICS[t].partitions for t in self.seen if t in ALL_TOPICS},
            **{t: n for t, n in OPS_TOPICS.items() if t in self.seen},
        }
        tps = [TopicPartition(self.prefix + t, p) for t, n in partitions.items() for p in range(n)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._pump())
        self._mongo, self.db = await self.service.db()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()
        if self._mongo:
            await self._mongo.close()

    async def _pump(self) -> None:
        assert self._consumer
        while True:
            for tp, records in (await self._consumer.getmany(timeout_ms=100)).items():
                topic = tp.topic[len(self.prefix) :]
                for record in records:
                    message = wire_json(topic, record.value)
                    key = (topic, message.get("dead_letter_id") or message.get("event_id"))
                    if key not in self._ids:  # an outbox re-publish is a copy with the same id
                        self._ids.add(key)
                        self.seen[topic].append(message)

    async def wait(self, topic: str, match: Callable[[dict], bool], count: int = 1, timeout: float = 20) -> list[dict]:
        limit = time.monotonic() + timeout
        while True:
            hits = [m for m in self.seen[topic] if match(m)]
            if len(hits) >= count:
                return hits
            if time.monotonic() > limit:
                raise AssertionError(
                    f"{topic}: {len(hits)} of {count} expected messages after {timeout}s; "
                    f"service log:\n{self.service.tail(20)}"
                )
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------ business clock
    def now(self) -> datetime:
        """Business time as the service sees it (the controlled clock keeps flowing)."""
        start, mono = self._clock
        return start + timedelta(seconds=time.monotonic() - mono)

    async def set_clock(self, when: datetime) -> None:
        """Move the service's business clock and wait until the service itself reports it: a probe
        command is refused with ``refused_at`` = the service's now. The probe is stamped with the new
        time, so while the service still runs at the old one it answers CLOCK_SKEW on party.refused.v1
        (receipt time, 003 §5 (三)): then it is sent again."""
        await self.bus.set_clock(when)
        self._clock = (when, time.monotonic())
        limit = time.monotonic() + 60
        while time.monotonic() < limit:
            probe = SuspendFiling(request_id=rid("clock-probe"), person_id=PROBE_PERSON, reason="clock probe")
            sent = await self.bus.publish("filing.suspend.v1", probe, producer="agency:test", now=self.now())
            reply = await self.answer(probe.request_id, str(sent.event_id), timeout=60)
            if reply["type"] == "filing.refused":
                seen = moment(reply["payload"]["refused_at"])
                if when - timedelta(seconds=1) <= seen <= self.now() + timedelta(seconds=1):
                    return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the filing service never reported business time {when}")

    async def answer(self, request_id: str, event_id: str, timeout: float = 20) -> dict:
        """The first answer to one message: a filing reply to its request, or a refusal of the
        envelope on party.refused.v1."""
        limit = time.monotonic() + timeout
        while True:
            for m in (*self.replies(request_id), *self.seen["party.refused.v1"]):
                if m["type"] != "party.refused" or m["payload"]["refused_event_id"] == event_id:
                    return m
            if time.monotonic() > limit:
                raise AssertionError(f"no answer to {request_id} in {timeout}s; log:\n{self.service.tail(20)}")
            await asyncio.sleep(0.05)

    # ------------------------------------------------------------ commands and replies
    def sender_for(self, command: Any) -> str | None:
        """Whom a command is signed by: a registration by the agency of its insured region (F-01),
        or the national service platform when no agency has that region (an unknown code: the filing
        rules answer it, F-06); any other command by the agency of the insured place the person was
        filed by, which speaks for their filings (F-14); a person never filed by the national agency."""
        if isinstance(command, RegisterFiling):
            agency = REGISTRY.agency_of(command.insured_region)
            return agency.code if agency is not None else "A000000"
        region = self.insured.get(command.person_id)
        agency = REGISTRY.agency_of(region) if region else None
        return agency.code if agency is not None else None

    async def send(self, topic: str, command: Any, timeout: float = 20, sender: str | None = None) -> dict:
        """Publish a command, signed by ``sender`` (default ``sender_for``), and return its reply
        envelope (accepted or refused)."""
        earlier = {m["event_id"] for m in self.replies(command.request_id)}  # a retried request_id
        await self.bus.publish(
            topic, command, producer="agency:test", now=self.now(), sender=sender or self.sender_for(command)
        )
        reply = await self.reply(command.request_id, timeout, ignore=earlier)
        if isinstance(command, RegisterFiling) and reply["type"] == "filing.accepted":
            self.insured.setdefault(command.person_id, command.insured_region)
        return reply

    async def refused_by_party(self, topic: str, command: Any, sender: str, timeout: float = 20) -> dict:
        """Publish as ``sender`` and return the refusal answered to it on party.refused.v1 (003 §5 (三));
        the filing topics answer nothing for it."""
        earlier = {m["event_id"] for m in self.replies(command.request_id)}
        sent = await self.bus.publish(topic, command, producer="agency:test", now=self.now(), sender=sender)
        [answer] = await self.wait(
            "party.refused.v1", lambda m: m["payload"]["refused_event_id"] == str(sent.event_id), timeout=timeout
        )
        assert answer["payload"]["sender"] == sender and answer["payload"]["service"] == "filing"
        assert {m["event_id"] for m in self.replies(command.request_id)} == earlier, "no filing reply for it"
        return answer["payload"]

    def replies(self, request_id: str) -> list[dict]:
        return [
            m
            for topic in ("filing.accepted.v1", "filing.refused.v1")
            for m in self.seen[topic]
            if m["payload"]["request_id"] == request_id
        ]

    async def reply(self, request_id: str, timeout: float = 20, ignore: set[str] = frozenset()) -> dict:
        limit = time.monotonic() + timeout
        while True:
            for m in self.replies(request_id):
                if m["event_id"] not in ignore:
                    return m
            if time.monotonic() > limit:
                raise AssertionError(f"no reply to {request_id} in {timeout}s; log:\n{self.service.tail(20)}")
            await asyncio.sleep(0.05)

    async def accept(self, topic: str, command: Any) -> dict:
        """Send; expect acceptance; wait until every changed filing's FilingChanged arrived (F-15)."""
        reply = await self.send(topic, command)
        assert reply["type"] == "filing.accepted", (
            f"refused: {reply['payload'].get('reason')}: {reply['payload'].get('message')}"
        )
        payload = reply["payload"]
        changed = [s for s in (payload["filing"], *payload["others"]) if s]
        for s in changed:
            await self.change(lambda c, s=s: c.filing_id == uuid.UUID(s["filing_id"]) and c.version == s["version"])
        return payload

    async def refuse(self, topic: str, command: Any) -> dict:
        reply = await self.send(topic, command)
        assert reply["type"] == "filing.refused", f"expected a refusal, got {reply['payload']}"
        return reply["payload"]

    # ------------------------------------------------------------ F-15: what consumers see
    def changes(self, pid: str | None = None) -> list[FilingChanged]:
        found = [FilingChanged.model_validate(m["payload"]) for m in self.seen["filing.changed.v1"]]
        return [c for c in found if pid is None or c.person_id == pid]

    async def change(self, match: Callable[[FilingChanged], bool], timeout: float = 20) -> FilingChanged:
        hits = await self.wait(
            "filing.changed.v1", lambda m: match(FilingChanged.model_validate(m["payload"])), timeout=timeout
        )
        return FilingChanged.model_validate(hits[0]["payload"])

    def view(self) -> FilingView:
        """The read model every consumer of filing.changed.v1 folds (kernel.filings)."""
        view = FilingView()
        for change in self.changes():
            view.apply(change)
        return view

    def eligible(
        self,
        pid: str,
        insured: str,
        treating: str,
        medical_type: MedicalType,
        admission: date | datetime,
        **flags: bool,
    ):
        return eligibility(self.view(), pid, insured, treating, medical_type, admission, **flags)

    # ------------------------------------------------------------ the service's store
    async def stored(self, pid: str) -> dict | None:
        doc = await find_aggregate(self.db, "people", pid)  # under the pseudonym, state sealed
        return doc["state"] if doc else None

    async def stored_filings(self, pid: str) -> dict[str, FilingSnapshot]:
        """filing_id → newest stored version."""
        state = await self.stored(pid)
        return {r["filing_id"]: snap(r["versions"][-1]) for r in (state or {}).get("filings", [])}

    async def deadlines(self, pid: str, status: str, count: int) -> list[dict]:
        """The person's persisted deadlines in ``status``, once there are ``count`` of them (their
        messages opened)."""

        async def found() -> list[dict] | None:
            docs = await self.db["deadlines"].find({"key": person_key(pid), "status": status}).to_list()
            return [{**d, "value": plain(d["value"])} for d in docs] if len(docs) == count else None

        return await eventually(found, timeout=20)


@pytest.fixture(scope="module")
async def wire(stack):
    prefix = new_prefix(stack, "filing-wire")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(BASE)
        service = ServiceProcess(stack, "filing", prefix).start(wait=False)
        client = Wire(bus, service)
        try:
            await asyncio.to_thread(service.wait_healthy)
            await client.start()
            await client.set_clock(BASE)
            yield client
        finally:
            await client.stop()
            service.stop()


# ================================================================ F-01, F-07
async def test_F01_F07_every_category_is_filed_with_its_proofs_and_its_regions_validity(wire):
    await wire.set_clock(BASE)
    today = BASE.date()
    persons = {category.value: person(WUHAN) for category in FilingCategory}
    for category, pid in persons.items():
        await wire.bus.publish(
            "filing.register.v1", register(pid, category=category, request_id=f"F01-{pid}"), now=wire.now()
        )
    for category, pid in persons.items():
        reply = await wire.reply(f"F01-{pid}")
        assert reply["type"] == "filing.accepted", reply["payload"]
        filing = snap(reply["payload"]["filing"])
        assert (filing.category.value, filing.status.value, filing.rule) == (category, "active", "F-01")
        assert filing.valid_from == today and filing.decided_at is not None  # window: decided at once (F-13)
        assert filing.policy_region == WUHAN
        expected_end = None if filing.is_long_term else date(2027, 4, 11)  # Wuhan: 6 months (000 第十条)
        assert filing.valid_until == expected_end, category
    # F-07 validity is region policy: Wuhu 12 months for any temporary filing, Shenyang 1 year for referral
    wuhu = await wire.accept("filing.register.v1", register(person(WUHU), insured=WUHU, treating=WUHAN))
    assert snap(wuhu["filing"]).valid_until == date(2027, 10, 11)
    shenyang = await wire.accept(
        "filing.register.v1", register(person(SHENYANG), insured=SHENYANG, category="referral")
    )
    assert snap(shenyang["filing"]).valid_until == date(2027, 10, 11)
    shenyang_other = await wire.accept("filing.register.v1", register(person(SHENYANG), insured=SHENYANG))
    assert snap(shenyang_other["filing"]).valid_until == date(2027, 4, 11)
    # the store holds what was announced
    stored = await wire.stored_filings(persons["resettled_retiree"])
    [only] = stored.values()
    assert only.status.value == "active" and only.valid_until is None


async def test_F07_end_dates_are_bounded_by_the_region_policy(wire):
    await wire.set_clock(BASE)
    pid = person(WUHAN)
    beyond = await wire.refuse("filing.register.v1", register(pid, end_date=date(2027, 4, 12)))
    assert (beyond["reason"], beyond["rule"]) == ("end_beyond_validity", "F-07")
    assert "2027-04-11" in beyond["message"]
    long_term = await wire.refuse(
        "filing.register.v1", register(pid, category="long_term_resident", end_date=date(2027, 1, 1))
    )
    assert (long_term["reason"], long_term["rule"]) == ("end_date_not_allowed", "F-07")
    shorter = await wire.accept("filing.register.v1", register(pid, end_date=date(2026, 12, 31)))
    assert snap(shorter["filing"]).valid_until == date(2026, 12, 31)


# ================================================================ F-02
async def test_F02_resident_scheme_may_not_file_posted_work_where_its_policy_restricts_it(wire):
    """F-02 is region policy. Wuhu: "城乡居民医保参保人员仅限办理异地长期居住" (001 二(一)): a resident-scheme
    (390) posted-work filing is refused, long-term residence accepted. The national default has no such
    limit (003 二(二), 000 第七、八条 name the long-term categories with no scheme): a Wuhan (Hubei, no
    region limit) resident-scheme insured files posted work and resettlement. Liaoning names no scheme
    for resettlement and opens posted work to resident-scheme migrant workers (004 第四条(一), (三)2)."""
    await wire.set_clock(BASE)
    wuhu_resident = person(WUHU)
    refused = await wire.refuse(
        "filing.register.v1",
        register(wuhu_resident, insured=WUHU, treating=WUHAN, category="posted_worker", insurance="390"),
    )
    assert (refused["reason"], refused["rule"]) == ("category_not_allowed", "F-02")
    assert "posted_worker" in refused["message"] and "long_term_resident" in refused["message"]
    assert not ((await wire.stored(wuhu_resident)) or {}).get("filings"), "a refusal stores nothing"
    # the same person may file long-term residence …
    allowed = await wire.accept(
        "filing.register.v1",
        register(wuhu_resident, insured=WUHU, treating=WUHAN, category="long_term_resident", insurance="390"),
    )
    assert snap(allowed["filing"]).insurance_type.value == "390"
    # … and Liaoning lets resident-scheme migrant workers file posted work (004 第四条(三)2): region policy
    shenyang = await wire.accept(
        "filing.register.v1", register(person(SHENYANG), insured=SHENYANG, category="posted_worker", insurance="390")
    )
    assert snap(shenyang["filing"]).category.value == "posted_worker"
    shenyang_retiree = await wire.accept(
        "filing.register.v1",
        register(person(SHENYANG), insured=SHENYANG, category="resettled_retiree", insurance="390"),
    )
    assert snap(shenyang_retiree["filing"]).category.value == "resettled_retiree"
    # the national default (Wuhan has no limit of its own) refuses neither (26 item 4)
    for category in ("posted_worker", "resettled_retiree"):
        wuhan = await wire.accept(
            "filing.register.v1", register(person(WUHAN), insured=WUHAN, category=category, insurance="390")
        )
        filed = snap(wuhan["filing"])
        assert (filed.category.value, filed.insurance_type.value, filed.policy_region) == (category, "390", WUHAN)


# ================================================================ F-03
async def test_F03_missing_proof_is_refused_with_the_list_unless_an_alternative_is_given(wire):
    await wire.set_clock(BASE)
    pid = person(WUHU)
    refused = await wire.refuse(
        "filing.register.v1",
        register(pid, insured=WUHU, treating=WUHAN, category="posted_worker", proofs=("credential", "filing_form")),
    )
    assert (refused["reason"], refused["rule"]) == ("missing_proofs", "F-03")
    assert refused["missing_proofs"] == [["posting_letter", "employer_certificate", "work_contract"]]
    assert "posting_letter or employer_certificate or work_contract" in refused["message"]
    assert "personal commitment" in refused["message"]
    # a referral certificate can never be replaced by a commitment
    referral = await wire.refuse(
        "filing.register.v1",
        register(
            pid,
            insured=WUHU,
            treating=WUHAN,
            category="referral",
            proofs=("credential", "filing_form"),
            personal_commitment=True,
        ),
    )
    assert referral["reason"] == "missing_proofs" and referral["missing_proofs"] == [["referral_certificate"]]
    # any one alternative of a requirement satisfies it
    ok = await wire.accept(
        "filing.register.v1",
        register(
            pid,
            insured=WUHU,
            treating=WUHAN,
            category="posted_worker",
            proofs=("credential", "filing_form", "work_contract"),
        ),
    )
    assert snap(ok["filing"]).commitment is None and snap(ok["filing"]).proofs_delivered[-1].value == "work_contract"


# ================================================================ F-04, F-05, F-06
async def test_F04_F05_F06_who_may_settle_without_a_filing_at_the_treating_place(wire):
    await wire.set_clock(BASE)
    pid = person(WUHAN)
    filed = await wire.accept("filing.register.v1", register(pid, category="long_term_resident", treating=BEIJING))
    filing_id = uuid.UUID(filed["filing"]["filing_id"])
    day = BASE.date()

    # F-06: a provincial pool (Beijing) covers every district; a filing never names a hospital
    home = wire.eligible(pid, WUHAN, "110105", INPATIENT, day)
    assert (home.eligible, home.basis.value, home.filing_id) == (True, "long_term", filing_id)
    elsewhere = wire.eligible(pid, WUHAN, CHANGSHA, INPATIENT, day)
    assert (elsewhere.eligible, elsewhere.reason_code.value, elsewhere.rule) == (False, "filed_elsewhere", "F-06")
    assert "S-17" in elsewhere.message
    # F-04: the emergency flag is enough (视同已备案)
    emergency = wire.eligible(pid, WUHAN, CHANGSHA, INPATIENT, day, emergency_flag=True)
    assert (emergency.eligible, emergency.basis.value, emergency.rule) == (True, "deemed_emergency", "F-04")
    never_filed = person(WUHAN)
    assert (
        wire.eligible(never_filed, WUHAN, CHANGSHA, INPATIENT, day, emergency_flag=True).basis.value
        == "deemed_emergency"
    )
    assert wire.eligible(never_filed, WUHAN, CHANGSHA, INPATIENT, day).reason_code.value == "no_filing"
    # F-05: general outpatient and pharmacy need no filing; chronic outpatient needs filing + qualification
    for medical_type in (GENERAL, PHARMACY):
        answer = wire.eligible(never_filed, WUHAN, CHANGSHA, medical_type, day)
        assert (answer.eligible, answer.basis.value, answer.rule) == (True, "no_filing_needed", "F-05")
    unqualified = wire.eligible(pid, WUHAN, BEIJING, CHRONIC, day)
    assert (unqualified.eligible, unqualified.reason_code.value, unqualified.rule) == (
        False,
        "chronic_not_qualified",
        "F-05",
    )
    assert wire.eligible(pid, WUHAN, BEIJING, CHRONIC, day, chronic_qualified=True).basis.value == "long_term"
    assert not wire.eligible(pid, WUHAN, CHANGSHA, CHRONIC, day, chronic_qualified=True).eligible
    # the insured place itself is no cross-region care
    assert wire.eligible(pid, WUHAN, WUHAN, INPATIENT, day).reason_code.value == "not_cross_region"


async def test_F06_a_filing_names_a_pooling_region_and_never_a_county_or_province(wire):
    await wire.set_clock(BASE)
    pid = person(WUHAN)
    county = await wire.refuse("filing.register.v1", register(pid, treating="420102"))
    assert (county["reason"], county["rule"]) == ("unknown_region", "F-06") and "county" in county["message"]
    province = await wire.refuse("filing.register.v1", register(pid, insured=WUHU, treating="420000"))
    assert (province["reason"], province["rule"]) == ("not_a_pooling_region", "F-06")
    assert "420100" in province["message"]
    city = await wire.accept("filing.register.v1", register(pid, treating="430100"))
    assert snap(city["filing"]).treating_region == "430100"
    assert not wire.eligible(pid, WUHAN, "430200", INPATIENT, BASE.date()).eligible  # a city covers itself only


# ================================================================ F-08
async def test_F08_long_term_filing_is_locked_for_six_months_then_may_change_place(wire):
    await wire.set_clock(at(2026, 3, 2, 9, 30))
    pid = person(WUHAN)
    first = snap(
        (
            await wire.accept(
                "filing.register.v1",
                register(pid, category="long_term_resident", treating=BEIJING, start=date(2026, 3, 2)),
            )
        )["filing"]
    )
    assert first.place_since == date(2026, 3, 2)

    await wire.set_clock(at(2026, 6, 1))
    move = await wire.refuse(
        "filing.change.v1",
        ChangeFiling(request_id=rid(), person_id=pid, filing_id=first.filing_id, treating_region=SHANGHAI),
    )
    assert (move["reason"], move["rule"], move["earliest_date"]) == ("change_locked", "F-08", "2026-09-02")
    assert "2026-09-02" in move["message"]
    cancel = await wire.refuse(
        "filing.cancel.v1",
        CancelFiling(request_id=rid(), person_id=pid, filing_id=first.filing_id, reason="参保人申请取消"),
    )
    assert (cancel["reason"], cancel["earliest_date"]) == ("change_locked", "2026-09-02")
    replace = await wire.refuse(
        "filing.register.v1", register(pid, category="resettled_retiree", treating=SHANGHAI, start=date(2026, 6, 1))
    )
    assert (replace["reason"], replace["filing_id"]) == ("change_locked", str(first.filing_id))
    # F-14: address and phone change at once, even inside the lock
    phone = await wire.accept(
        "filing.change.v1",
        ChangeFiling(request_id=rid(), person_id=pid, filing_id=first.filing_id, phone="13900000001"),
    )
    assert (phone["filing"]["phone"], phone["filing"]["version"], phone["filing"]["rule"]) == ("13900000001", 2, "F-14")

    await wire.set_clock(at(2026, 9, 2))
    moved = await wire.accept(
        "filing.change.v1",
        ChangeFiling(
            request_id=rid(), person_id=pid, filing_id=first.filing_id, treating_region=SHANGHAI, reason="搬家"
        ),
    )
    new, [old] = snap(moved["filing"]), [snap(s) for s in moved["others"]]
    assert new.filing_id != first.filing_id and (new.treating_region, new.rule) == (SHANGHAI, "F-08")
    assert new.place_since == date(2026, 9, 2) and new.supersedes == first.filing_id and new.phone == "13900000001"
    assert (old.filing_id, old.status.value, old.superseded_by) == (first.filing_id, "superseded", new.filing_id)
    stored = await wire.stored_filings(pid)
    assert {str(k): v.status.value for k, v in stored.items()} == {
        str(first.filing_id): "superseded",
        str(new.filing_id): "active",
    }
    # the new place has its own lock; admissions at the old place before the move keep their filing
    relock = await wire.refuse(
        "filing.cancel.v1",
        CancelFiling(request_id=rid(), person_id=pid, filing_id=new.filing_id, reason="参保人申请取消"),
    )
    assert (relock["reason"], relock["earliest_date"]) == ("change_locked", "2027-03-02")
    assert wire.eligible(pid, WUHAN, BEIJING, INPATIENT, date(2026, 8, 1)).filing_id == first.filing_id
    assert wire.eligible(pid, WUHAN, BEIJING, INPATIENT, date(2026, 9, 10)).reason_code.value == "filing_ended"
    assert wire.eligible(pid, WUHAN, SHANGHAI, INPATIENT, date(2026, 9, 10)).filing_id == new.filing_id


# ================================================================ F-09
async def test_F08_in_liaoning_the_lock_holds_back_a_change_of_region_but_not_a_cancellation(wire):
    """F-08 is the insured place's choice, at most 6 months (003 二(三): "参保地可设置变更或取消备案的时限，
    原则上不超过6个月"). Liaoning locks only the region: "备案生效后，原则上至少6个月内不得变更备案统筹区"
    (004 第十条(二)). A Shenyang long-term filing to Beijing from 2026-03-02: on 2026-06-01 a move to
    Shanghai is refused until 2026-03-02 + 6 months = 2026-09-02, and a cancellation is accepted that day
    (Wuhan, the national default, refuses both: the test above)."""
    await wire.set_clock(at(2026, 3, 2, 9, 30))
    pid = person(SHENYANG)
    first = snap(
        (
            await wire.accept(
                "filing.register.v1",
                register(
                    pid, insured=SHENYANG, category="long_term_resident", treating=BEIJING, start=date(2026, 3, 2)
                ),
            )
        )["filing"]
    )
    await wire.set_clock(at(2026, 6, 1))
    move = await wire.refuse(
        "filing.change.v1",
        ChangeFiling(request_id=rid(), person_id=pid, filing_id=first.filing_id, treating_region=SHANGHAI),
    )
    assert (move["reason"], move["rule"], move["earliest_date"]) == ("change_locked", "F-08", "2026-09-02")
    assert "004 第十条(二)" in move["message"]
    cancelled = await wire.accept(
        "filing.cancel.v1",
        CancelFiling(request_id=rid(), person_id=pid, filing_id=first.filing_id, reason="参保人申请取消"),
    )
    ended = snap(cancelled["filing"])
    assert (ended.filing_id, ended.status.value, ended.rule) == (first.filing_id, "cancelled", "F-08")
    assert not wire.eligible(pid, SHENYANG, BEIJING, INPATIENT, date(2026, 6, 2)).eligible


async def test_F09_a_second_temporary_filing_for_the_same_place_supersedes_the_first(wire):
    await wire.set_clock(BASE)
    pid = person(WUHU)
    first = snap((await wire.accept("filing.register.v1", register(pid, insured=WUHU, treating=WUHAN)))["filing"])
    second_reply = await wire.accept("filing.register.v1", register(pid, insured=WUHU, treating=WUHAN))
    second = snap(second_reply["filing"])
    assert second.supersedes == first.filing_id and second.status.value == "active"
    [old] = [snap(s) for s in second_reply["others"]]
    assert (old.filing_id, old.status.value, old.superseded_by, old.version) == (
        first.filing_id,
        "superseded",
        second.filing_id,
        2,
    )
    superseded = await wire.change(lambda c: c.filing_id == first.filing_id and c.version == 2)
    assert (superseded.change_kind.value, superseded.rule) == ("superseded", "F-09")
    assert superseded.snapshot.ended_at is not None

    # a long-term filing elsewhere coexists with the temporary one …
    long_term = await wire.accept(
        "filing.register.v1", register(pid, insured=WUHU, treating=BEIJING, category="long_term_resident")
    )
    assert long_term["others"] == []
    # … but across places there is one temporary filing at most: a referral to Shanghai replaces it
    referral = await wire.accept(
        "filing.register.v1", register(pid, insured=WUHU, treating=SHANGHAI, category="referral")
    )
    assert [s["filing_id"] for s in referral["others"]] == [str(second.filing_id)]
    stored = await wire.stored_filings(pid)
    assert sorted(s.status.value for s in stored.values()) == ["active", "active", "superseded", "superseded"]
    live = {s.treating_region for s in stored.values() if s.status.value == "active"}
    assert live == {BEIJING, SHANGHAI}
    assert wire.eligible(pid, WUHU, WUHAN, INPATIENT, wire.now()).reason_code.value == "filing_ended"


# ================================================================ F-10
async def test_F10_commitment_not_met_by_its_deadline_revokes_the_filing_and_says_so(wire):
    """F-10: what an unmet commitment means is the region's. Promised on 2026-09-01, due 1 month later,
    the end of 2026-10-01 (Wuhu 001 三(二); Liaoning's term is the default 1 month). Wuhu: "当次可
    享受异地长期居住人员相关医保待遇" (001 三(二)): the filing ends, nothing is recovered. Liaoning:
    "即时取消备案资格" and what was settled directly is recovered (004 第七条)."""
    await wire.set_clock(at(2026, 9, 1))
    broken, kept, liaoning = person(WUHU), person(WUHU), person(SHENYANG)
    promise = dict(
        insured=WUHU,
        treating=WUHAN,
        category="long_term_resident",
        start=date(2026, 9, 1),
        proofs=("credential", "filing_form"),
        personal_commitment=True,
    )
    filing = snap((await wire.accept("filing.register.v1", register(broken, **promise)))["filing"])
    shenyang = snap(
        (await wire.accept("filing.register.v1", register(liaoning, **{**promise, "insured": SHENYANG})))["filing"]
    )
    assert shenyang.commitment is not None
    assert shenyang.commitment.due_at == datetime(2026, 10, 1, 23, 59, 59, 999999, tzinfo=SH)
    commitment = filing.commitment
    assert commitment is not None and [[p.value for p in g] for g in commitment.owed] == [["residence_proof"]]
    assert commitment.due_at == datetime(2026, 10, 1, 23, 59, 59, 999999, tzinfo=SH)  # Wuhu: 1 month (001)
    [armed] = await wire.deadlines(broken, "pending", count=1)  # persisted deadline
    assert json.loads(armed["value"])["payload"]["kind"] == "commitment_due"

    kept_filing = snap((await wire.accept("filing.register.v1", register(kept, **promise)))["filing"])
    delivered = await wire.accept(
        "filing.deliver-proof.v1",
        DeliverProof(request_id=rid(), person_id=kept, filing_id=kept_filing.filing_id, proofs=("residence_proof",)),
    )
    assert delivered["filing"]["commitment"]["met_at"] is not None and "commitment met" in delivered["filing"]["note"]
    # at most one commitment a year (Wuhu 001 三(二))
    again = await wire.refuse("filing.register.v1", register(broken, **{**promise, "treating": SHANGHAI}))
    assert (again["reason"], again["rule"], again["earliest_date"]) == ("commitment_limit", "F-10", "2027-01-01")
    assert wire.eligible(broken, WUHU, WUHAN, INPATIENT, date(2026, 9, 15)).eligible

    await wire.set_clock(at(2026, 10, 2, 0, 0, 5))  # past the deadline: it fires by itself
    revoked = await wire.change(lambda c: c.filing_id == filing.filing_id and c.change_kind.value == "revoked")
    s = revoked.snapshot
    assert (revoked.rule, s.status.value, s.benefits_recoverable, s.ended_at) == (
        "F-10",
        "revoked",
        False,
        commitment.due_at,
    )
    assert "not met" in s.note and "nothing is recovered" in s.note and "residence_proof" in s.note
    stored = (await wire.stored_filings(broken))[str(filing.filing_id)]
    assert (stored.status.value, stored.benefits_recoverable, stored.version) == ("revoked", False, 2)
    cancelled = await wire.change(lambda c: c.filing_id == shenyang.filing_id and c.change_kind.value == "revoked")
    assert (cancelled.snapshot.benefits_recoverable, cancelled.snapshot.ended_at) == (True, shenyang.commitment.due_at)
    assert "recoverable" in cancelled.snapshot.note and "004 第七条" in cancelled.snapshot.note
    await wire.deadlines(broken, "fired", count=1)

    # the kept promise: its deadline fired too and changed nothing
    async def kept_deadline_handled() -> bool:
        state = await wire.stored(kept)
        return any(h["command"] == "deadline_due" for h in state["handled"])

    await eventually(kept_deadline_handled, timeout=20)
    assert (await wire.stored_filings(kept))[str(kept_filing.filing_id)].status.value == "active"
    assert [c.change_kind.value for c in wire.changes(kept)] == ["registered", "changed"]
    # admissions before the deadline keep their filing (recoverable), after it there is none
    assert wire.eligible(broken, WUHU, WUHAN, INPATIENT, date(2026, 10, 5)).reason_code.value == "filing_ended"
    assert wire.service.metric("yidi_filing_changes_total", change_kind="revoked") >= 1


# ================================================================ F-11
async def test_F11_a_retroactive_filing_dated_before_admission_makes_that_admission_eligible(wire):
    await wire.set_clock(BASE)
    pid = person(WUHAN)
    admitted = date(2026, 10, 5)
    before = wire.eligible(pid, WUHAN, BEIJING, INPATIENT, admitted)
    assert (before.eligible, before.reason_code.value) == (False, "no_filing") and "F-11" in before.message

    past = await wire.refuse("filing.register.v1", register(pid, start=date(2026, 10, 4)))
    assert (past["reason"], past["rule"], past["earliest_date"]) == ("start_in_past", "F-11", "2026-10-12")
    desk = dict(channel="hospital_desk", retroactive=True)
    cases = {
        "retroactive_start_after_admission": register(pid, start=date(2026, 10, 6), admission_date=admitted, **desk),
        "admission_date_required": register(pid, start=date(2026, 10, 4), **desk),
        "admission_in_future": register(pid, start=date(2026, 10, 4), admission_date=date(2026, 10, 20), **desk),
        "retroactive_window_exceeded": register(pid, start=date(2026, 4, 1), admission_date=date(2026, 4, 2), **desk),
    }
    for reason, command in cases.items():
        refused = await wire.refuse("filing.register.v1", command)
        assert (refused["reason"], refused["rule"]) == (reason, "F-11")
    assert refused["earliest_date"] == "2026-04-12"  # 6 months back (000 第十三条)

    reply = await wire.accept(
        "filing.register.v1", register(pid, start=date(2026, 10, 4), admission_date=admitted, **desk)
    )
    filing = snap(reply["filing"])
    assert (filing.valid_from, filing.retroactive, filing.admission_date, filing.status.value) == (
        date(2026, 10, 4),
        True,
        admitted,
        "active",
    )
    after = wire.eligible(pid, WUHAN, BEIJING, INPATIENT, admitted)
    assert (after.eligible, after.basis.value, after.filing_id) == (True, "temporary", filing.filing_id)


# ================================================================ F-12
async def test_F12_an_admission_inside_validity_stays_eligible_after_expiry(wire):
    await wire.set_clock(BASE)
    pid = person(WUHAN)
    short = snap((await wire.accept("filing.register.v1", register(pid, end_date=date(2026, 10, 20))))["filing"])
    assert short.valid_until == date(2026, 10, 20)

    await wire.set_clock(at(2026, 10, 26))  # the filing has expired
    later = await wire.accept("filing.register.v1", register(pid, treating=SHANGHAI, start=date(2026, 10, 26)))
    assert later["others"] == [], "an expired temporary filing is not superseded: it simply ran out (F-09)"
    assert (await wire.stored_filings(pid))[str(short.filing_id)].status.value == "active"
    inside = wire.eligible(pid, WUHAN, BEIJING, INPATIENT, date(2026, 10, 20))  # discharged 10-28, after expiry
    assert (inside.eligible, inside.rule, inside.filing_id) == (True, "F-12", short.filing_id)
    outside = wire.eligible(pid, WUHAN, BEIJING, INPATIENT, date(2026, 10, 21))
    assert (outside.eligible, outside.reason_code.value, outside.rule) == (False, "filing_expired", "F-07")


# ================================================================ F-13, M-02
async def test_F13_online_filing_on_wednesday_30_september_2026_is_due_friday_9_october_and_decided_then(wire):
    """F-13. An online filing is decided within 2 working days (000 第九条): received Wednesday 30
    September 2026, the National Day holiday 1-8 October is skipped, due the end of Friday 9 October.
    What a filing received on a non-working day does is region policy: in Liaoning "在非工作日收到备案申请
    后，原则上应于上班后第1个工作日办结生效" (004 第九条): a Shenyang window filing on Saturday 3 October
    takes effect Thursday 8 October, the first working day; Wuhan (Hubei, the national default: 000
    第九条 defers nothing) files it in force on 3 October itself."""
    await wire.set_clock(at(2026, 9, 30, 16))  # the last working day before National Day
    online, rejected, holiday, make_up = person(WUHAN), person(WUHAN), person(SHENYANG), person(WUHAN)
    pending = snap(
        (await wire.accept("filing.register.v1", register(online, channel="online", start=date(2026, 9, 30))))["filing"]
    )
    assert pending.status.value == "pending" and pending.decided_at is None
    assert pending.decision_due_at == datetime(2026, 10, 9, 23, 59, 59, 999999, tzinfo=SH)  # Oct 1–7 off
    [armed] = await wire.deadlines(online, "pending", count=1)
    due = json.loads(armed["value"])["payload"]
    assert (due["kind"], due["due_date"]) == ("online_decision_due", "2026-10-09")
    assert due["calendar"].startswith("holidays ")  # the calendar used is recorded (M-02)
    assert wire.eligible(online, WUHAN, BEIJING, INPATIENT, date(2026, 10, 8)).reason_code.value == "filing_pending"
    # a clerk may decide earlier, and may reject
    other = snap(
        (await wire.accept("filing.register.v1", register(rejected, channel="online", start=date(2026, 9, 30))))[
            "filing"
        ]
    )
    decided = await wire.accept(
        "filing.decide.v1",
        DecideFiling(
            request_id=rid(), person_id=rejected, filing_id=other.filing_id, approve=False, reason="备案表字迹不清"
        ),
    )
    assert (decided["filing"]["status"], decided["filing"]["rule"]) == ("rejected", "F-13")

    await wire.set_clock(at(2026, 10, 3))  # a holiday: window filing dated later
    closed = snap(
        (await wire.accept("filing.register.v1", register(holiday, insured=SHENYANG, start=date(2026, 10, 3))))[
            "filing"
        ]
    )
    assert (closed.valid_from, closed.status.value) == (date(2026, 10, 8), "active")
    assert (
        wire.eligible(holiday, SHENYANG, BEIJING, INPATIENT, date(2026, 10, 5)).reason_code.value
        == "filing_not_yet_valid"
    )
    wuhan = snap((await wire.accept("filing.register.v1", register(person(WUHAN), start=date(2026, 10, 3))))["filing"])
    assert (wuhan.valid_from, wuhan.status.value) == (date(2026, 10, 3), "active")

    await wire.set_clock(at(2026, 10, 9, 18))  # 2nd working day: still pending
    effective = await wire.change(lambda c: c.filing_id == closed.filing_id and c.change_kind.value == "effective")
    assert effective.rule == "F-13" and "2026-10-08" in effective.snapshot.note
    assert (await wire.stored_filings(online))[str(pending.filing_id)].status.value == "pending"

    await wire.set_clock(at(2026, 10, 10, 0, 0, 30))  # deadline passed: decided by itself
    auto = await wire.change(lambda c: c.filing_id == pending.filing_id and c.change_kind.value == "decided")
    assert (auto.rule, auto.snapshot.status.value) == ("F-13", "active") and "deadline" in auto.snapshot.note
    assert auto.snapshot.decided_at >= at(2026, 10, 10, 0, 0, 30)
    assert wire.eligible(online, WUHAN, BEIJING, INPATIENT, date(2026, 10, 10)).eligible
    rejected_later = [c for c in wire.changes(rejected) if c.version > 2]
    assert rejected_later == [], "a decided filing's deadline changes nothing"
    # Saturday 10 October 2026 is a make-up working day 调休上班: a window filing is in force today
    saturday = snap((await wire.accept("filing.register.v1", register(make_up, start=date(2026, 10, 10))))["filing"])
    assert saturday.valid_from == date(2026, 10, 10)


async def test_F13_online_filings_on_the_fridays_before_national_day_are_due_on_the_right_working_day(wire):
    """Friday 25 September 2026, the Friday before National Day: due the end of Tuesday 29 September.
    Friday 18 September: the make-up working Sunday 20 September 调休 counts, so due Monday 21."""
    for friday, due_day in [(date(2026, 9, 25), date(2026, 9, 29)), (date(2026, 9, 18), date(2026, 9, 21))]:
        await wire.set_clock(at(friday.year, friday.month, friday.day, 15))
        filed = snap(
            (await wire.accept("filing.register.v1", register(person(WUHAN), channel="online", start=friday)))["filing"]
        )
        assert filed.status.value == "pending"
        assert filed.decision_due_at == datetime(
            due_day.year, due_day.month, due_day.day, 23, 59, 59, 999999, tzinfo=SH
        ), friday


# ================================================================ F-14
async def test_F14_suspend_resume_change_and_terminate_take_effect_at_once(wire):
    await wire.set_clock(BASE)
    pid = person(WUHAN)
    long_term = snap(
        (await wire.accept("filing.register.v1", register(pid, category="long_term_resident", treating=BEIJING)))[
            "filing"
        ]
    )
    temporary = snap((await wire.accept("filing.register.v1", register(pid, treating=SHANGHAI)))["filing"])

    suspended = await wire.accept(
        "filing.suspend.v1", SuspendFiling(request_id=rid(), person_id=pid, reason="参保人申请暂停")
    )
    both = [snap(s) for s in (suspended["filing"], *suspended["others"])]
    assert {s.filing_id for s in both} == {long_term.filing_id, temporary.filing_id}
    started = moment(suspended["accepted_at"])
    for s in both:
        assert (s.status.value, s.rule, s.suspensions[-1].start, s.suspensions[-1].end) == (
            "suspended",
            "F-14",
            started,
            None,
        )
    assert (
        wire.eligible(pid, WUHAN, BEIJING, INPATIENT, started + timedelta(seconds=1)).reason_code.value
        == "filing_suspended"
    )
    assert wire.eligible(pid, WUHAN, BEIJING, INPATIENT, started - timedelta(seconds=1)).eligible

    resumed = await wire.accept(
        "filing.resume.v1", ResumeFiling(request_id=rid(), person_id=pid, filing_id=long_term.filing_id, reason="恢复")
    )
    ended = moment(resumed["accepted_at"])
    assert (resumed["filing"]["status"], resumed["others"]) == ("active", [])
    assert moment(resumed["filing"]["suspensions"][-1]["end"]) == ended
    assert wire.eligible(pid, WUHAN, BEIJING, INPATIENT, ended + timedelta(seconds=1)).eligible
    assert (
        wire.eligible(pid, WUHAN, SHANGHAI, INPATIENT, ended + timedelta(seconds=1)).reason_code.value
        == "filing_suspended"
    )
    wrong = await wire.refuse(
        "filing.resume.v1", ResumeFiling(request_id=rid(), person_id=pid, filing_id=long_term.filing_id, reason="恢复")
    )
    assert (wrong["reason"], wrong["rule"]) == ("invalid_state", "F-14")

    terminated = await wire.accept(
        "filing.terminate.v1", TerminateInsurance(request_id=rid(), person_id=pid, reason="参保关系终止")
    )
    stopped = moment(terminated["accepted_at"])
    gone = [snap(s) for s in (terminated["filing"], *terminated["others"])]
    assert {(s.filing_id, s.status.value, s.ended_at) for s in gone} == {
        (long_term.filing_id, "terminated", stopped),
        (temporary.filing_id, "terminated", stopped),
    }
    assert all(i.end is not None for s in gone for i in s.suspensions)  # the open suspension is closed
    stored = await wire.stored_filings(pid)
    assert {s.status.value for s in stored.values()} == {"terminated"}
    assert (
        wire.eligible(pid, WUHAN, BEIJING, INPATIENT, stopped + timedelta(seconds=1)).reason_code.value
        == "filing_ended"
    )
    reopened = await wire.refuse(
        "filing.change.v1",
        ChangeFiling(request_id=rid(), person_id=pid, filing_id=long_term.filing_id, phone="13900000002"),
    )
    assert (reopened["reason"], reopened["rule"]) == ("filing_ended", "M-03")


# ================================================================ F-15
async def test_F15_every_change_is_published_with_its_full_snapshot_and_a_retry_changes_nothing(wire):
    await wire.set_clock(BASE)
    pid = person(CHANGSHA)
    command = register(pid, insured=CHANGSHA, treating=WUHAN, address="武汉市洪山区", phone="13700000000")
    first = await wire.accept("filing.register.v1", command)
    await wire.accept(
        "filing.change.v1",
        ChangeFiling(
            request_id=rid(), person_id=pid, filing_id=uuid.UUID(first["filing"]["filing_id"]), address="武汉市武昌区"
        ),
    )
    # the same request again (a clerk's retry, new envelope) and the same envelope twice: no second effect
    retry = await wire.bus.publish("filing.register.v1", command, now=wire.now())
    await wire.bus.send_raw("filing.register.v1", retry.model_dump_json().encode(), pid)
    await wire.set_clock(BASE + timedelta(minutes=1))  # barrier: everything before it is handled

    async def handled_twice() -> bool:
        return wire.service.metric("yidi_messages_handled_total", topic="filing.register.v1", result="duplicate") >= 2

    await eventually(handled_twice, timeout=20)
    # the retry is answered again, identically; the copy of the same envelope is not answered twice
    replies = wire.replies(command.request_id)
    assert len(replies) == 2 and replies[0]["payload"] == replies[1]["payload"]
    mine = wire.changes(pid)
    assert [(c.version, c.change_kind.value) for c in mine] == [(1, "registered"), (2, "changed")]
    assert len({c.change_id for c in mine}) == 2
    # the view every consumer folds is exactly the store's history (M-03: every version kept)
    state = await wire.stored(pid)
    [record] = state["filings"]
    history = wire.view().person(pid).history(record["filing_id"])
    assert [h.model_dump(mode="json") for h in history] == [snap(v).model_dump(mode="json") for v in record["versions"]]
    assert history[-1].address == "武汉市武昌区" and history[0].address == "武汉市洪山区"


# ================================================================ F-16
async def test_F16_new_filings_of_a_sanctioned_region_are_refused_until_the_sanction_is_lifted(wire):
    await wire.set_clock(BASE)
    suzhou, nanjing = "320500", "320100"  # used by no other test: the sanction is region-wide
    sanctioned, unaffected = person(suzhou), person(nanjing)
    existing = snap(
        (
            await wire.accept(
                "filing.register.v1",
                register(sanctioned, insured=suzhou, treating=SHANGHAI, category="long_term_resident"),
            )
        )["filing"]
    )
    sanction_id = uuid.uuid4()

    def sanction(action: SanctionAction, effective: datetime) -> PrepaymentSanction:
        return PrepaymentSanction(
            sanction_id=sanction_id,
            insured_region=suzhou,
            kind=SanctionKind.NEW_FILING_SUSPENSION,
            action=action,
            effective_at=effective,
            notice_ids=[uuid.uuid4()],
            reason="emergency top-up notice unpaid 10 working days after issue (P-09)",
        )

    async def period(field: str) -> bool:
        doc = await wire.db["sanctions"].find_one({"_id": "region-sanctions"})
        periods = doc["state"]["sanctions"]["periods"] if doc else []
        return any(p["sanction_id"] == str(sanction_id) and p.get(field) for p in periods)

    imposed = sanction(SanctionAction.IMPOSED, wire.now() - timedelta(minutes=1))
    await wire.bus.publish("prepayment.sanction.v1", imposed, producer="prepayment", now=wire.now())
    await eventually(lambda: period("imposed_at"), timeout=20)

    blocked_command = register(person(suzhou), insured=suzhou, treating=WUHAN)
    blocked = await wire.refuse("filing.register.v1", blocked_command)
    assert (blocked["reason"], blocked["rule"]) == ("new_filing_suspended", "F-16")
    assert suzhou in blocked["message"] and "P-09" in blocked["message"] and "lifted" in blocked["message"]
    assert (await wire.refuse("filing.register.v1", register(sanctioned, insured=suzhou, treating=WUHAN)))[
        "reason"
    ] == "new_filing_suspended"
    # other regions file as usual; existing filings of the region are untouched and still change
    await wire.accept("filing.register.v1", register(unaffected, insured=nanjing, treating=SHANGHAI))
    await wire.accept(
        "filing.change.v1",
        ChangeFiling(request_id=rid(), person_id=sanctioned, filing_id=existing.filing_id, phone="13600000000"),
    )
    assert wire.eligible(sanctioned, suzhou, SHANGHAI, INPATIENT, wire.now()).eligible

    await wire.bus.publish(
        "prepayment.sanction.v1", sanction(SanctionAction.LIFTED, wire.now()), producer="prepayment", now=wire.now()
    )
    await eventually(lambda: period("lifted_at"), timeout=20)
    await wire.set_clock(wire.now() + timedelta(minutes=1))
    retried = await wire.accept("filing.register.v1", blocked_command)  # the same request, retried
    assert snap(retried["filing"]).status.value == "active"


# ================================================================ bad input, poison, M-03
async def test_bad_input_is_refused_or_dead_lettered_with_its_reason_and_nothing_accepted_earlier_changes(wire):
    await wire.set_clock(BASE)
    pid = person(WUHU)
    earlier = snap(
        (
            await wire.accept(
                "filing.register.v1", register(pid, insured=WUHU, treating=WUHAN, category="long_term_resident")
            )
        )["filing"]
    )
    before_state = await wire.stored(pid)
    before_view = [v.model_dump(mode="json") for v in wire.view().person(pid).history(earlier.filing_id)]

    bad = {
        ("unknown_region", "F-06"): register(pid, insured="999999", treating=WUHAN),
        ("same_region", "F-06"): register(pid, insured=WUHU, treating=WUHU),
        ("end_before_start", "F-07"): register(
            pid, insured=WUHU, treating=BEIJING, start=date(2026, 10, 20), end_date=date(2026, 10, 15)
        ),
        ("category_not_allowed", "F-02"): register(
            pid, insured=WUHU, treating=BEIJING, category="posted_worker", insurance="390"
        ),
        ("missing_proofs", "F-03"): register(
            pid, insured=WUHU, treating=SHANGHAI, category="resettled_retiree", proofs=("credential",)
        ),
    }
    for (reason, rule), command in bad.items():
        refused = await wire.refuse("filing.register.v1", command)
        assert (refused["reason"], refused["rule"]) == (reason, rule), refused["message"]
        assert refused["message"] and refused["person_id"] == pid
        if reason == "unknown_region":
            assert "999999" in refused["message"] and "no province '99'" in refused["message"]
        if reason == "missing_proofs":
            assert refused["missing_proofs"] == [["filing_form"], ["household_register"]]
            assert "filing_form" in refused["message"] and "household_register" in refused["message"]

    # malformed messages go to the dead-letter topic with their reason; the consumer moves on
    marker = uuid.uuid4().hex
    await wire.bus.send_raw("filing.register.v1", f'{{"event_id": "{marker}", "payload": '.encode(), pid)
    envelope = json.loads(
        envelope_for(
            "filing.register.v1",
            register(pid, insured=WUHU, treating=SHANGHAI),
            producer="agency:test",
            now=wire.now(),
            sender="A340200",
        ).model_dump_json()
    )
    envelope["payload"]["person_id"] = pid[:17] + ("0" if pid[17] != "0" else "1")  # wrong check digit
    await wire.bus.send_raw("filing.register.v1", json.dumps(envelope).encode(), pid)
    wrong_type = json.loads(
        envelope_for(
            "filing.cancel.v1",
            CancelFiling(request_id=rid(), person_id=pid, filing_id=earlier.filing_id, reason="x"),
            producer="agency:test",
            now=wire.now(),
            sender="A340200",
        ).model_dump_json()
    )
    wrong_type["type"] = "filing.register"
    await wire.bus.send_raw("filing.cancel.v1", json.dumps(wrong_type).encode(), pid)

    [unreadable] = await wire.wait("ops.dead-letter.v1", lambda d: marker in d["original"])
    assert (unreadable["reason"], unreadable["topic"], unreadable["service"]) == (
        "invalid_message",
        "filing.register.v1",
        "filing",
    )
    assert "json" in unreadable["detail"].lower()
    [bad_id] = await wire.wait("ops.dead-letter.v1", lambda d: d.get("event_id") == envelope["event_id"])
    assert bad_id["reason"] == "invalid_message" and "payload.person_id" in bad_id["detail"]
    assert "check digit" in bad_id["detail"]
    [mistyped] = await wire.wait("ops.dead-letter.v1", lambda d: d.get("event_id") == wrong_type["event_id"])
    assert (mistyped["reason"], mistyped["topic"]) == ("wrong_type", "filing.cancel.v1")

    # the service went on: a later command is handled, and nothing accepted earlier changed
    await wire.set_clock(BASE + timedelta(minutes=5))
    assert await wire.stored(pid) == before_state
    after_view = [v.model_dump(mode="json") for v in wire.view().person(pid).history(earlier.filing_id)]
    assert after_view == before_view and [c.version for c in wire.changes(pid)] == [1]
    assert wire.eligible(pid, WUHU, WUHAN, INPATIENT, wire.now()).filing_id == earlier.filing_id
    assert wire.service.metric("yidi_dead_letters_total") >= 3

"""The mix of HIS requests a recovery run drives, and what each answer may be. Pure: the driver
sends, this decides. The messages come from the simulator's builders (``simulator.scenarios``),
the population and the slip checks from ``simulator.traffic``; what this adds is what a run under
fire needs besides: stays with many fee lines, cancels, partial refunds, refunds after clearing
(清算后退费, S-15), repeats of earlier requests, and one person never having two requests in
flight (a hospital serves a patient at one window at a time), so the HIS's own view of which
settlement is the latest stays true and a refusal by rule means the rule, not the race."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from pydantic import BaseModel

from contracts.his import SettlementCancelRequested
from contracts.settlement_values import RefusalCode
from simulator import scenarios
from simulator.scenarios import STAY_LINES, Person
from simulator.traffic import CHRONIC, Expectation, Population

SETTLE_TOPICS = ("his.settlement-requested.v1", "his.outpatient-requested.v1")
# the answers a request may get besides its expected one while services are killed: the insured
# place did not answer within the S-01 budget (a settlement, or a partial refund's re-decision)
NOT_SETTLED = RefusalCode.INSURED_TIMEOUT_NOT_SETTLED.value
# (kind, weight) of each phase; "after clearing" refunds exist once a period is generated
WEIGHTS = {
    "stay": 14,
    "long_stay": 7,
    "outpatient": 26,
    "chronic": 8,
    "chronic_unqualified": 3,
    "emergency": 5,
    "unfiled_stay": 4,
    "cancel": 5,
    "refund": 6,
    "partial_refund": 6,
    "repeat": 8,
    "after_clearing": 0,
}
AFTER_CLEARING_WEIGHT = 8


@dataclass
class Request:
    topic: str
    payload: BaseModel
    expected: Expectation
    person: Person
    repeat_of: str | None = None  # the request id a repeat copies (its answer must be the same)

    @property
    def request_id(self) -> str:
        return str(self.payload.request_id)

    @property
    def sender(self) -> str:
        """The hospital that sends it (every HIS message names its institution)."""
        return str(self.payload.institution_code)

    @property
    def settles(self) -> bool:
        """Whether the answer passes the insured place (and may be "not settled directly")."""
        return self.topic in SETTLE_TOPICS or self.expected.kind == "partial refund (S-15)"


@dataclass
class Mix:
    rng: random.Random
    population: Population
    today: date
    after_clearing: bool = False  # a clearing period has been generated (phase two)
    counter: int = 0
    # (person id, institution) → the settlements standing there, oldest first (what the HIS knows)
    standing: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    outpatient: dict[str, tuple[Person, dict]] = field(default_factory=dict)  # refundable, by settlement id
    cleared: dict[str, tuple[Person, dict]] = field(default_factory=dict)  # settled before the period
    sent: list[Request] = field(default_factory=list)  # settlement requests, to repeat

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-C{self.rng.getrandbits(32):08x}-{self.counter:07d}"

    def next(self, busy: set[str]) -> Request | None:
        """The next request of a person not waiting for an answer (None: everyone is busy)."""
        weights = dict(WEIGHTS, after_clearing=AFTER_CLEARING_WEIGHT if self.after_clearing else 0)
        for _ in range(20):
            kind = self.rng.choices(list(weights), list(weights.values()))[0]
            request = getattr(self, f"_{kind}")(busy)
            if request is not None:
                if request.topic in SETTLE_TOPICS and request.repeat_of is None:
                    self.sent.append(request)
                return request
        return None

    # ------------------------------------------------------------ what the HIS learns
    def answered(self, request: Request, result: dict) -> None:
        """The HIS's view after an answer: a completed settlement stands (outpatient ones may be
        cancelled or refunded); a cancel or a refund of the whole takes it away."""
        outcome = result.get("outcome")
        if outcome == "completed" and request.repeat_of is None:
            sid = result["settlement_id"]
            self.standing.setdefault((result["person_id"], result["institution_code"]), []).append(sid)
            if result["medical_type"] == "general_outpatient":
                self.outpatient[sid] = (request.person, result)
        elif outcome in ("cancelled", "refunded") and not result.get("replacement"):
            standing = self.standing.get((result["person_id"], result["institution_code"]), [])
            if result["settlement_id"] in standing:
                standing.remove(result["settlement_id"])

    def clearing_generated(self, today: date) -> None:
        """Business time moved past the 21st: what was settled before is cleared (S-15 after_clearing)."""
        self.after_clearing, self.today = True, today
        self.cleared.update(self.outpatient)
        self.outpatient.clear()

    # ------------------------------------------------------------ visits
    def _free(self, people: list[Person], busy: set[str]) -> Person | None:
        free = [p for p in people if p.person_id not in busy]
        return self.rng.choice(free) if free else None

    def _visit(self, people: list[Person], busy: set[str], topic: str, build, expected: Expectation) -> Request | None:
        p = self._free(people, busy)
        return Request(topic, build(p), expected, p) if p else None

    def _stay(self, busy: set[str]) -> Request | None:
        rng, today = self.rng, self.today
        return self._visit(
            self.population.filed,
            busy,
            "his.settlement-requested.v1",
            lambda p: scenarios.stay(
                p,
                self.next_id(p.institution),
                today - timedelta(days=rng.randint(2, 12)),
                rng.randint(1, 3),
                surgery=rng.random() < 0.2,
                rng=rng,
            ),
            Expectation("inpatient (filed)", "completed"),
        )

    def _long_stay(self, busy: set[str]) -> Request | None:
        return self._visit(
            self.population.filed,
            busy,
            "his.settlement-requested.v1",
            self._many_lines,
            Expectation("inpatient, many lines", "completed"),
        )

    def _many_lines(self, p: Person):
        """A stay of 8–20 days billed day by day: every item once per day, 80–200 lines (S-04 per line)."""
        days = self.rng.randint(8, 20)
        base = scenarios.stay(p, self.next_id(p.institution), self.today - timedelta(days=days + 1), days, rng=self.rng)
        lines = [
            scenarios.fee_line(day * len(STAY_LINES) + i + 1, code, str(self.rng.randint(1, 3)), price)
            for day in range(days)
            for i, (code, price) in enumerate(STAY_LINES)
        ]
        return base.model_copy(update={"fee_lines": lines})

    def _clinic(
        self, people: list[Person], busy: set[str], expected: Expectation, chronic: str | None = None
    ) -> Request | None:
        """An outpatient visit of today (S-04), chronic when ``chronic`` names the disease (S-13)."""
        return self._visit(
            people,
            busy,
            "his.outpatient-requested.v1",
            lambda p: scenarios.outpatient(p, self.next_id(p.institution), self.today, chronic=chronic, rng=self.rng),
            expected,
        )

    def _short_stay(
        self, people: list[Person], busy: set[str], expected: Expectation, admitted_days_ago: int, **flags
    ) -> Request | None:
        """Two days in hospital, admitted ``admitted_days_ago`` days before today."""
        return self._visit(
            people,
            busy,
            "his.settlement-requested.v1",
            lambda p: scenarios.stay(
                p, self.next_id(p.institution), self.today - timedelta(days=admitted_days_ago), 2, rng=self.rng, **flags
            ),
            expected,
        )

    def _outpatient(self, busy: set[str]) -> Request | None:
        pop = self.population
        return self._clinic(pop.filed + pop.unfiled, busy, Expectation("general outpatient (F-05)", "completed"))

    def _chronic(self, busy: set[str]) -> Request | None:
        return self._clinic(
            self.population.qualified, busy, Expectation("chronic outpatient (qualified)", "completed"), chronic=CHRONIC
        )

    def _chronic_unqualified(self, busy: set[str]) -> Request | None:
        pop = self.population
        people = [q for q in pop.filed if q not in pop.qualified]
        return self._clinic(
            people,
            busy,
            Expectation("chronic outpatient (not qualified)", "refused", "CHRONIC_NOT_QUALIFIED"),
            chronic=CHRONIC,
        )

    def _emergency(self, busy: set[str]) -> Request | None:
        return self._short_stay(
            self.population.unfiled,
            busy,
            Expectation("emergency, no filing (F-04, S-11)", "completed"),
            2,
            emergency=True,
        )

    def _unfiled_stay(self, busy: set[str]) -> Request | None:
        return self._short_stay(
            self.population.unfiled, busy, Expectation("inpatient without filing (S-12)", "refused", "NOT_FILED"), 4
        )

    # ------------------------------------------------------------ reversals and repeats
    def _pick(self, pool: dict[str, tuple[Person, dict]], busy: set[str]) -> tuple[str, Person, dict] | None:
        free = [sid for sid, (p, _) in pool.items() if p.person_id not in busy]
        if not free:
            return None
        sid = self.rng.choice(free)
        person, result = pool.pop(sid)
        return sid, person, result

    def _is_latest(self, person: Person, sid: str) -> bool:
        standing = self.standing.get((person.person_id, person.institution), [])
        return bool(standing) and standing[-1] == sid

    def _cancel(self, busy: set[str]) -> Request | None:
        """撤销 of the person's latest settlement (004 第三十四条: no skipping recall)."""
        latest = {sid: v for sid, v in self.outpatient.items() if self._is_latest(v[0], sid)}
        picked = self._pick(latest, busy)
        if picked is None:
            return None
        sid, p, _ = picked
        self.outpatient.pop(sid, None)
        payload = SettlementCancelRequested(
            request_id=self.next_id(p.institution),
            person_id=p.person_id,
            settlement_id=sid,
            institution_code=p.institution,
            reason="entered twice",
        )
        return Request("his.cancel-requested.v1", payload, Expectation("cancel (S-15)", "cancelled"), p)

    def _refund_of(
        self, pool: dict[str, tuple[Person, dict]], busy: set[str], what: str, kind: str | None = None, **update
    ) -> Request | None:
        """A refund (S-15) of a settlement picked from ``pool``: ``kind``, or ordinary when it is the
        person's latest and non_latest 隔笔退费 when not; ``what`` names the expectation ({kind} filled in)."""
        picked = self._pick(pool, busy)
        if picked is None:
            return None
        sid, p, _ = picked
        kind = kind or ("ordinary" if self._is_latest(p, sid) else "non_latest")
        payload = scenarios.refund(p, self.next_id(p.institution), sid, kind)
        payload = payload.model_copy(update=update) if update else payload
        return Request("his.refund-requested.v1", payload, Expectation(what.format(kind=kind), "refunded"), p)

    def _refund(self, busy: set[str]) -> Request | None:
        return self._refund_of(self.outpatient, busy, "refund {kind} (S-15)")

    def _partial_refund(self, busy: set[str]) -> Request | None:
        """Some lines back; the insured place re-decides the rest (S-15). An outpatient bill has at
        least two lines."""
        return self._refund_of(self.outpatient, busy, "partial refund (S-15)", line_nos=[1])

    def _after_clearing(self, busy: set[str]) -> Request | None:
        """A general outpatient settlement of a cleared month refunded: into the next open period (S-15, C-05)."""
        return self._refund_of(self.cleared, busy, "refund after clearing (S-15)", kind="after_clearing")

    def _repeat(self, busy: set[str]) -> Request | None:
        """The HIS sends an earlier request again (a new message, the same request): the same answer."""
        free = [r for r in self.sent[-2000:] if r.person.person_id not in busy]
        if not free:
            return None
        original = self.rng.choice(free)
        return Request(
            original.topic,
            original.payload,
            Expectation(f"repeat: {original.expected.kind}", "same"),
            original.person,
            repeat_of=original.request_id,
        )


def acceptable(request: Request, result: dict, first: dict | None) -> str | None:
    """What is wrong with an answer, or None. Under faults a request passing the insured place may
    also be answered "not settled directly" (S-01); a repeat must get the first answer again."""
    from simulator.traffic import check

    if request.repeat_of is not None:
        return (
            None if first is None or same_answer(first, result) else f"repeat of {request.repeat_of} answered otherwise"
        )
    if result.get("outcome") == "refused" and result.get("code") == NOT_SETTLED and request.settles:
        return None
    return check(result, request.expected)


def same_answer(a: dict, b: dict) -> bool:
    """Two answers to one request say the same (copies and repeats must)."""
    return a == b

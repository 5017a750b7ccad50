"""The simulated day of a few hospitals and agencies: who is filed where, what visits happen,
and what answer each visit must get. Pure: the runner sends, this decides and checks."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from contracts.clearing import DailyReconciliation, DailyTotalLine
from contracts.his import DischargeSettlementRequested, OutpatientVisitRequested, RefundRequested
from simulator import scenarios
from simulator.scenarios import Person

HisRequest = OutpatientVisitRequested | DischargeSettlementRequested | RefundRequested  # what a visit sends

CHRONIC = "M03900"  # 高血压, covered by every shipped insured-place policy (sample data)


@dataclass
class Expectation:
    kind: str  # scenario name, for the summary
    outcome: str  # completed | refused | admission_accepted | refunded
    code: str | None = None  # refusal code when refused


@dataclass
class Population:
    filed: list[Person]
    unfiled: list[Person]
    qualified: list[Person]


@dataclass
class DayTotals:
    """What each hospital's HIS counted of its completed settlements, per day, medical type and fund, for
    its daily reconciliation with the platform (R-01, R-02: refunds are not netted)."""

    cells: dict[tuple[str, str, str], dict[str, dict]] = field(default_factory=dict)

    def add(self, result: dict) -> None:
        day = self.cells.setdefault((result["institution_code"], result["treating_region"], result["settled_on"]), {})
        cell = day.setdefault(result["medical_type"], {"settlements": 0, "funds": {}})
        cell["settlements"] += 1
        for fund in result["slip"]["funds"]:
            if Decimal(fund["amount"]) > 0:
                cell["funds"][fund["code"]] = cell["funds"].get(fund["code"], Decimal("0.00")) + Decimal(fund["amount"])

    def reconciliations(self, sent_at) -> list[DailyReconciliation]:
        out = []
        for (institution, region, day), types in sorted(self.cells.items()):
            lines = [
                DailyTotalLine(medical_type=t, settlements=c["settlements"], funds=c["funds"])
                for t, c in sorted(types.items())
            ]
            out.append(
                DailyReconciliation(
                    institution_code=institution,
                    treating_region=region,
                    day=date.fromisoformat(day),
                    settlements=sum(ln.settlements for ln in lines),
                    fund_total=sum((a for ln in lines for a in ln.funds.values()), Decimal("0.00")),
                    lines=lines,
                    sent_at=sent_at,
                )
            )
        return out


@dataclass
class Traffic:
    rng: random.Random
    today: date
    population: Population
    settled_outpatient: list[tuple[Person, str]] = field(default_factory=list)
    standing: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (person, hospital) → settlements
    counter: int = 0
    totals: DayTotals = field(default_factory=DayTotals)

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.rng.getrandbits(32):08x}-{self.counter:07d}"

    def next_visit(self) -> tuple[str, HisRequest, Expectation]:
        """One HIS message and what its answer must be."""
        roll = self.rng.random()
        pop, rng, today = self.population, self.rng, self.today
        if roll < 0.25:
            p = rng.choice(pop.filed)
            return (
                "his.settlement-requested.v1",
                scenarios.stay(
                    p,
                    self.next_id(p.institution),
                    today - timedelta(days=rng.randint(2, 12)),
                    rng.randint(1, 2),
                    surgery=rng.random() < 0.2,
                    rng=rng,
                ),
                Expectation("inpatient (filed)", "completed"),
            )
        if roll < 0.55:
            p = rng.choice(pop.filed + pop.unfiled)
            return (
                "his.outpatient-requested.v1",
                scenarios.outpatient(p, self.next_id(p.institution), today, rng=rng),
                Expectation("general outpatient (no filing needed, F-05)", "completed"),
            )
        if roll < 0.65:
            p = rng.choice(pop.qualified)
            return (
                "his.outpatient-requested.v1",
                scenarios.outpatient(p, self.next_id(p.institution), today, chronic=CHRONIC, rng=rng),
                Expectation("chronic outpatient (qualified)", "completed"),
            )
        if roll < 0.70:
            p = rng.choice([q for q in pop.filed if q not in pop.qualified] or pop.filed)
            return (
                "his.outpatient-requested.v1",
                scenarios.outpatient(p, self.next_id(p.institution), today, chronic=CHRONIC, rng=rng),
                Expectation("chronic outpatient (not qualified)", "refused", "CHRONIC_NOT_QUALIFIED"),
            )
        if roll < 0.78:
            p = rng.choice(pop.unfiled)
            return (
                "his.settlement-requested.v1",
                scenarios.stay(p, self.next_id(p.institution), today - timedelta(days=2), 2, rng=rng, emergency=True),
                Expectation("emergency, no filing (F-04, S-11)", "completed"),
            )
        if roll < 0.84:
            p = rng.choice(pop.filed)
            return (
                "his.settlement-requested.v1",
                scenarios.stay(
                    p,
                    self.next_id(p.institution),
                    today - timedelta(days=3),
                    3,
                    rng=rng,
                    trauma=True,
                    trauma_commitment_signed=True,
                ),
                Expectation("trauma, no third party (S-10)", "completed"),
            )
        if roll < 0.92:
            p = rng.choice(pop.unfiled)
            return (
                "his.settlement-requested.v1",
                scenarios.stay(p, self.next_id(p.institution), today - timedelta(days=4), 2, rng=rng),
                Expectation("inpatient without filing (S-12)", "refused", "NOT_FILED"),
            )
        if self.settled_outpatient:
            p, settlement_id = self.settled_outpatient.pop(rng.randrange(len(self.settled_outpatient)))
            standing = self.standing.get((p.person_id, p.institution), [])
            kind = "ordinary" if standing and standing[-1] == settlement_id else "non_latest"  # 隔笔退费, S-15
            if settlement_id in standing:
                standing.remove(settlement_id)
            return (
                "his.refund-requested.v1",
                scenarios.refund(p, self.next_id(p.institution), settlement_id, kind),
                Expectation(f"refund {kind} (S-15)", "refunded"),
            )
        return self.next_visit()

    def settled(self, result: dict) -> None:
        """What the HIS knows after a completed settlement: it stands, outpatient ones may be refunded, and it
        counts in the day's totals (R-02)."""
        self.totals.add(result)
        self.standing.setdefault((result["person_id"], result["institution_code"]), []).append(result["settlement_id"])
        if result["medical_type"] == "general_outpatient":
            person = next(
                p for p in self.population.filed + self.population.unfiled if p.person_id == result["person_id"]
            )
            self.settled_outpatient.append((person, result["settlement_id"]))


def population(rng: random.Random, size: int) -> Population:
    people = [scenarios.person(n + rng.randint(0, 999) * 1000) for n in range(size)]
    filed = people[: size * 2 // 3]
    return Population(filed=filed, unfiled=people[size * 2 // 3 :], qualified=filed[: max(1, size // 6)])


def check(result: dict, expected: Expectation) -> str | None:
    """What is wrong with a result, or None (S-07 invariants on every completed slip)."""
    outcome = result.get("outcome")
    if outcome != expected.outcome:
        return f"{expected.kind}: expected {expected.outcome}, got {outcome} {result.get('code', '')} {result.get('message', '')}"
    if outcome == "refused" and expected.code and result.get("code") != expected.code:
        return f"{expected.kind}: expected refusal {expected.code}, got {result.get('code')}"
    slip = result.get("slip")
    if slip:
        total, funds, cash = (Decimal(slip[k]) for k in ("total", "fund_total", "personal_cash"))
        if funds + cash != total or min(total, funds, cash) < 0:
            return f"{expected.kind}: S-07 broken: {total} ≠ {funds} + {cash}"
        if sum(Decimal(f["amount"]) for f in slip["funds"]) != funds:
            return f"{expected.kind}: funds do not add up to the fund total"
    return None

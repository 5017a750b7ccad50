"""One recovery run: start the system, drive the mix while killing services, wait for the
services to settle, check, and make the one JSON line ``make chaos`` prints."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable

from chaos import audit
from chaos.driver import Driver, Sent
from chaos.system import Kill, System

SETTLE_SECONDS = 180  # how long clearing and prepayment may take to catch up after the last answer
STALL_WINDOW = 10.0  # a request sent up to this long after a killed instance is healthy again is affected


async def run(
    *,
    requests: int,
    kills: int,
    seed: int,
    in_flight: int = 8,
    population: int = 300,
    faults: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    stack,
    clearing_day: bool = True,
    targets: list[str] | None = None,
    max_seconds: float | None = None,
) -> dict:
    """A run on ``stack`` (``chaos.system.stack_for_run``), on topics and databases of its own."""
    started = time.monotonic()
    phases: dict[str, float] = {}
    os.environ["YIDI_KEYS_DIR"] = str(stack.keys_dir)  # this run's keys: hospitals sign, results open
    system = System(stack, f"chaos{uuid.uuid4().hex[:6]}.", faults=faults or {}, env=env or {})
    await system.start()
    phases["start"] = round(time.monotonic() - started, 1)
    try:
        driver = Driver(
            system,
            requests,
            kills,
            seed,
            in_flight=in_flight,
            population_size=population,
            clearing_day=clearing_day,
            targets=targets,
            max_seconds=max_seconds,
        )
        await driver.run()
        checked = time.monotonic()
        checks = await _settled_checks(system, driver)
        phases.update(driver.phases, checks=round(time.monotonic() - checked, 1))
    finally:
        system.stop()
    return {
        **_answers_summary(driver),
        **checks,
        **_kills_summary(driver.sent, system.kills),
        "clearing_period_generated_after_s": driver.period_generated_s,
        "seed": seed,
        "duration_s": round(time.monotonic() - started, 1),
        "phases_s": phases,
    }


async def _settled_checks(system: System, driver: Driver) -> dict:
    """The checks once clearing and prepayment have caught up: every group has committed all it was sent
    (a killed instance's group may take longer than the quiet window below to form again), then the
    sums agree or stop moving (an outbox still sending what a killed instance held)."""
    await system.caught_up(timeout=SETTLE_SECONDS)
    told = audit.answered_items(driver.answers)
    clearing_db, prepayment_db = system.database("clearing"), system.database("prepayment")
    deadline, last, steady = time.monotonic() + SETTLE_SECONDS, None, 0
    while True:
        held = await audit.stored(system.stack.mongodb_uri, clearing_db, prepayment_db)
        totals = audit.fund_totals(told, held["sums"])
        items = audit.items_check(
            told, audit.clearing_items(held["lines"]), audit.prepayment_items(held["counted"]), held["ledger_lines"]
        )
        if (totals["equal_to_the_fen"] and not items["lost"]) or time.monotonic() > deadline:
            break
        steady = steady + 1 if totals == last else 0
        if steady >= 20:  # nothing moved for 10 s: what is missing stays missing
            break
        last = totals
        await asyncio.sleep(0.5)
    bootstrap, prefix = system.stack.bootstrap, system.prefix
    completed_events = await audit.read_topic(bootstrap, "settlement.completed.v1", prefix)
    decided = await audit.read_topic(bootstrap, "settlement.insured-decided.v1", prefix)
    rollbacks = await audit.read_topic(bootstrap, "settlement.insured-rollback.v1", prefix)
    return {
        "completed_twice": audit.completed_twice(driver.answers, completed_events),
        "fund_totals": totals,
        **items,
        "late_insured_answers": audit.late_decisions(driver.answers, decided, rollbacks),
    }


def _answers_summary(driver: Driver) -> dict:
    sent = driver.sent
    answered = [s for s in sent if s.result is not None]
    results = [s.result for s in answered if s.result is not None]
    outcomes = Counter(r["outcome"] for r in results)
    refused = Counter(r.get("code") for r in results if r["outcome"] == "refused")
    problems = [s.problem for s in answered if s.problem]
    differ = sum(1 for results in driver.answers.values() if len(results) > 1)
    return {
        "requests": len(sent),
        "answered": len(answered),
        "unanswered": len(sent) - len(answered),
        "completed": outcomes.get("completed", 0),
        "outcomes": dict(sorted(outcomes.items())),
        "refused_by_code": dict(sorted(refused.items())),
        "not_settled_directly": refused.get(audit.NOT_SETTLED, 0),
        "repeats": sum(1 for s in sent if s.request.repeat_of),
        "answer_copies": sum(driver.copies.values()),
        "answers_differ_between_copies": differ,
        "unexpected_answers": len(problems),
        "unexpected_examples": problems[:3],
        "latency_p99_ms": _p99_ms(_waits(answered)),
    }


def _kills_summary(sent: list[Sent], kills: list[Kill]) -> dict:
    """Per killed service: how long the answers of the requests in flight around the kill took (the
    stall), and how many of them were answered "not settled directly"."""
    affected_all: set[int] = set()
    per_service: dict[str, dict] = {}
    for kill in kills:
        until = (kill.healthy_at or kill.at) + STALL_WINDOW
        affected = [i for i, s in enumerate(sent) if s.sent_at <= until and (s.answered_at or float("inf")) >= kill.at]
        affected_all.update(affected)
        service = kill.instance.rsplit("-", 1)[0] if kill.instance[-1].isdigit() else kill.instance
        waits = _waits(sent[i] for i in affected)
        row = per_service.setdefault(service, {"kills": 0, "worst_answer_s": [], "not_settled": 0, "down_s": []})
        row["kills"] += 1
        row["worst_answer_s"].append(round(max(waits, default=0.0), 1))
        row["down_s"].append(round((kill.healthy_at or kill.at) - kill.at, 1))
        row["not_settled"] += sum(1 for i in affected if (sent[i].result or {}).get("code") == audit.NOT_SETTLED)
    waits = _waits(sent[i] for i in affected_all)
    calm = _waits(s for i, s in enumerate(sent) if i not in affected_all)
    return {
        "kills": len(kills),
        "kills_by_service": {k: v["kills"] for k, v in sorted(per_service.items())},
        "stall_p99_after_kill_ms": _p99_ms(waits),
        "latency_p99_without_kill_ms": _p99_ms(calm),
        "stall_by_service": dict(sorted(per_service.items())),
    }


def _waits(sent: Iterable[Sent]) -> list[float]:
    return [w for s in sent if (w := s.waited) is not None]


def _p99_ms(values: list[float]) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000)


def verdict(report: dict) -> dict:
    """Whether the run passed: nothing lost, counted twice or behind the hospital's back, every request
    answered, copies alike, every total equal to the fen."""
    ok = (
        report["lost"] == 0
        and report["double_counted"] == 0
        and report["behind_the_hospitals_back"] == 0
        and report["unanswered"] == 0
        and report["answers_differ_between_copies"] == 0
        and report["completed_twice"] == 0
        and report["fund_totals"]["equal_to_the_fen"]
    )
    return {**report, "ok": ok}

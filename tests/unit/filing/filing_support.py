"""Builders shared by the filing unit tests (pure: no I/O beyond reading the policy files)."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any

from contracts.filing import (
    FilingAccepted,
    FilingChanged,
    FilingDeadlineDue,
    FilingRefused,
    FilingSnapshot,
    ProofKind,
    RegisterFiling,
)
from contracts.values import SHANGHAI, FilingCategory, make_person_id
from runtime.calendar import default_calendar
from services.filing.domain import FilingDecision, PersonFilings, RegionSanctions, decide, load_policies

CAL = default_calendar()  # the real calendar (M-02): National Day, make-up days

BOOK = load_policies()
PID = make_person_id("42010219600101001")
_ids = itertools.count(1)


def at(y: int, m: int, d: int, h: int = 10, minute: int = 0) -> datetime:
    """A business moment in Asia/Shanghai."""
    return datetime(y, m, d, h, minute, tzinfo=SHANGHAI)


def full_proofs(category: FilingCategory | str, region: str = "420100") -> list[ProofKind]:
    """The first alternative of every requirement of the region's policy (F-03)."""
    return [group[0] for group in BOOK.for_region(region).proofs_for(FilingCategory(category))]


def reg(**overrides: Any) -> RegisterFiling:
    fields: dict[str, Any] = dict(
        request_id=f"test-req-{next(_ids):06d}",
        person_id=PID,
        name="张三",
        insurance_type="310",
        insured_region="420100",
        treating_region="110000",
        category="other_temporary",
        channel="window",
        start_date=date(2026, 9, 29),
    )
    fields.update(overrides)
    if "proofs" not in overrides:
        fields["proofs"] = full_proofs(fields["category"], fields["insured_region"])
    return RegisterFiling(**fields)


def rid() -> str:
    return f"test-req-{next(_ids):06d}"


def run(
    cmd: Any, state: PersonFilings | None, now: datetime, sanctions: RegionSanctions | None = None
) -> FilingDecision:
    return decide(cmd, state, BOOK, CAL, now, sanctions)


def accepted(decision: FilingDecision) -> FilingSnapshot:
    assert decision.refusal is None, decision.refusal and decision.refusal.message
    reply = decision.events[-1]
    assert isinstance(reply, FilingAccepted)
    return reply.filing


def refused(decision: FilingDecision) -> FilingRefused:
    assert decision.refusal is not None, "expected a refusal"
    assert decision.events == [decision.refusal]
    return decision.refusal


def changes(decision: FilingDecision) -> list[FilingChanged]:
    return [e for e in decision.events if isinstance(e, FilingChanged)]


def fire(decision: FilingDecision, kind: str) -> FilingDeadlineDue:
    """The FilingDeadlineDue message a decision asked to be fired later."""
    matches = [d.message for d in decision.deadlines if d.message.kind == kind]
    assert matches, f"no {kind} deadline in {decision.deadlines}"
    return matches[0]

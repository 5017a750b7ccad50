"""The clearing service's handlers one message at a time, on the in-memory store (``runtime.memory``)
and an in-memory implementation of its reads (``clearing_support.py`` beside it): an envelope in, the stored
ledger, archive or reconciliation, the messages and the deadlines out (C-02, C-04, R-02, R-04, M-03),
in milliseconds. The handlers are the service's own (``services/clearing/handlers.py`` ``registry``);
the same flows over the wire are ``tests/integration/test_clearing_*_wire.py``'s.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

import pytest
from support import completed_settlement, default_sender

from contracts.clearing import (
    ClearingSide,
    ConfirmClearingPeriod,
    DailyReconciliation,
    FundAmounts,
    RecordAuditDeduction,
)
from contracts.values import SHANGHAI
from runtime.authority import RefusalReason
from runtime.envelopes import envelope_for
from runtime.failures import NotYet, PoisonMessage, classify
from runtime.parties import ParticipantRegistry
from services.clearing.authority import AUTHORITY

from .clearing_support import Clearing

WUHU, WUHAN = "340200", "420100"  # insured place (Anhui), treating place (Hubei)
H1 = "H42010200001"  # a Wuhan hospital
AUGUST_20 = datetime(2026, 8, 20, 10, 0, tzinfo=SHANGHAI)
SEPTEMBER = "2026-09"  # clears August's settlements (C-02)
LEDGER = f"{SEPTEMBER}:{WUHU}:{WUHAN}"
PARTIES = ParticipantRegistry.load(os.environ["YIDI_KEYS_DIR"])  # the session's development keys


def message(topic: str, payload, at: datetime, sender: str | None = None):
    return envelope_for(topic, payload, producer="test", now=at, sender=sender or default_sender(topic, payload))


def settled(settlement_id: str = "S-A", pooling: str = "1000.00", on: date = date(2026, 8, 20)):
    return completed_settlement(
        settlement_id,
        insured_region=WUHU,
        treating_region=WUHAN,
        settled_on=on,
        funds={"pooling": pooling},
        institution_code=H1,
    )


def deduction(deduction_id: str, settlement_id: str, pooling: str, at: datetime) -> RecordAuditDeduction:
    return RecordAuditDeduction(
        deduction_id=deduction_id,
        settlement_id=settlement_id,
        insured_region=WUHU,
        treating_region=WUHAN,
        reason="超限价收费",
        decided_at=at,
        amounts=FundAmounts(insurance_type="310", funds={"pooling": pooling}),
    )


async def test_a_settlement_is_recorded_in_its_clearing_month_archived_and_the_period_deadlines_armed():
    """C-02, C-04: an August settlement is a line of the pair's 2026-09 ledger, announced on
    clearing.entry.v1; M-03: the line is archived with what R-02/R-03 match it by; the ledger's first
    line arms the 21st's generation (C-02), both regions' month-end notices (C-02), their provinces'
    roll-ups (C-01) and the insured place's close of August at the end of 09-03 (R-01)."""
    c = Clearing(AUGUST_20)
    env = message("settlement.completed.v1", settled(), AUGUST_20)
    assert await c.handlers["settlement.completed.v1"](env) == "applied"

    ledger = c.state("ledgers", LEDGER)
    assert (ledger["status"], ledger["entry_count"], ledger["settled"]) == ("open", 1, {"310/pooling": "1000.00"})
    [(topic, entry)] = c.published()
    assert topic == "clearing.entry.v1"
    assert (entry["clearing_month"], entry["kind"], entry["signed_total"]) == (SEPTEMBER, "settlement", "1000.00")
    [line] = c.store.archives["entries"].values()
    assert (line["_id"], line["ledger"], line["institution_code"], line["settled_month"], line["business_day"]) == (
        entry["entry_id"],
        LEDGER,
        H1,
        "2026-08",
        "2026-08-20",
    )
    midnight = datetime(2026, 9, 21, tzinfo=SHANGHAI)
    assert c.armed() == {
        ("generate", LEDGER): midnight,
        ("issue_notice", f"{WUHU}:{SEPTEMBER}"): datetime(2026, 9, 30, tzinfo=SHANGHAI),
        ("issue_notice", f"{WUHAN}:{SEPTEMBER}"): datetime(2026, 9, 30, tzinfo=SHANGHAI),
        ("issue_rollup", f"340000:{SEPTEMBER}"): datetime(2026, 9, 30, tzinfo=SHANGHAI),
        ("issue_rollup", f"420000:{SEPTEMBER}"): datetime(2026, 9, 30, tzinfo=SHANGHAI),
        ("reconciliation_close", f"{WUHU}:2026-08"): datetime(2026, 9, 4, tzinfo=SHANGHAI) - timedelta(microseconds=1),
    }
    assert c.metrics.entries.labels("settlement")._value.get() == 1


async def test_a_copy_of_the_same_settlement_changes_nothing():
    """Redelivery (M-03): the same envelope again, or the settlement sent again under a new event id,
    finds its line in the archive: nothing is recorded, archived, sent or counted twice."""
    c = Clearing(AUGUST_20)
    handler = c.handlers["settlement.completed.v1"]
    env = message("settlement.completed.v1", settled(), AUGUST_20)
    await handler(env)
    before = (c.state("ledgers", LEDGER), len(c.store.published), len(c.store.archives["entries"]))
    assert await handler(env) == "duplicate"
    assert await handler(message("settlement.completed.v1", settled(), AUGUST_20)) == "duplicate"
    assert (c.state("ledgers", LEDGER), len(c.store.published), len(c.store.archives["entries"])) == before
    assert c.metrics.entries.labels("settlement")._value.get() == 1


async def test_an_audit_deduction_is_checked_against_the_archived_lines_or_refused_to_its_sender():
    """R-04: Wuhan's deduction of 300.00 on S-A, decided 09-10 (by the 16th), enters the 2026-09 run as a
    deducted amount. One naming a settlement the archive does not hold is refused by rule: no effect, the
    refusal counted, and the handler's ``PoisonMessage("refused_by_rule", …)`` is what the runtime answers
    the agency with on party.refused.v1 (REFUSED_BY_RULE, the rule's words)."""
    c = Clearing(AUGUST_20)
    await c.handlers["settlement.completed.v1"](message("settlement.completed.v1", settled(), AUGUST_20))
    c.clock.at = datetime(2026, 9, 10, 15, 0, tzinfo=SHANGHAI)
    deduct = c.handlers["clearing.record-audit-deduction.v1"]
    mark = len(c.store.published)
    ok = deduction("D1", "S-A", "300.00", c.clock.at)
    assert await deduct(message("clearing.record-audit-deduction.v1", ok, c.clock.at, sender="A420100")) == "applied"
    assert c.state("ledgers", LEDGER)["deducted"] == {"310/pooling": "300.00"}
    [(topic, entry)] = c.published(mark)
    assert (topic, entry["kind"], entry["signed_total"]) == ("clearing.entry.v1", "audit_deduction", "300.00")

    unknown = deduction("D2", "S-X", "50.00", c.clock.at)
    with pytest.raises(PoisonMessage) as refused:
        await deduct(message("clearing.record-audit-deduction.v1", unknown, c.clock.at, sender="A420100"))
    assert refused.value.reason == "refused_by_rule"
    assert str(refused.value).startswith("AuditRefused: R-04: settlement S-X is not in the clearing archive")
    assert c.metrics.refused_deductions._value.get() == 1
    assert len(c.store.published) == mark + 1 and len(c.store.archives["entries"]) == 2


async def test_the_21st_generates_the_period_and_a_later_settlement_goes_to_the_next_month():
    """C-02: the generation deadline the first line armed fires at 00:00 on 09-21: the period's figures are
    fixed (clearing.period-generated.v1) and the end of the 25th's silent confirmation is armed. A late
    August settlement received on 09-22 never reopens it: it is a line of the 2026-10 ledger."""
    c = Clearing(AUGUST_20)
    await c.handlers["settlement.completed.v1"](message("settlement.completed.v1", settled(), AUGUST_20))
    [generation] = [env for env in c.store.due() if env.payload.kind == "generate"]
    c.clock.at = generation.payload.due_at
    mark = len(c.store.published)
    assert await c.handlers["clearing.deadline-due.v1"](generation) == "applied"

    assert c.state("ledgers", LEDGER)["status"] == "generated"
    [(topic, period)] = c.published(mark)
    assert topic == "clearing.period-generated.v1"
    assert (period["settled_total"], period["net_total"], period["entry_count"]) == ("1000.00", "1000.00", 1)
    end_of_25th = datetime(2026, 9, 26, tzinfo=SHANGHAI) - timedelta(microseconds=1)
    assert c.armed()[("silent_confirmation", LEDGER)] == end_of_25th

    c.clock.at = datetime(2026, 9, 22, 9, 0, tzinfo=SHANGHAI)
    late = message("settlement.completed.v1", settled("S-B", "200.00", on=date(2026, 8, 31)), c.clock.at)
    assert await c.handlers["settlement.completed.v1"](late) == "applied"
    assert c.state("ledgers", LEDGER)["entry_count"] == 1
    assert c.state("ledgers", f"2026-10:{WUHU}:{WUHAN}")["settled"] == {"310/pooling": "200.00"}


async def test_a_notice_due_with_its_periods_generation_waits_for_it():
    """C-02 after an outage: the 21st's generation and the month-end notice fall due together and go
    to different partitions. A notice handled first would leave the pair's open period out (a notice
    of nothing); it waits (transient: tried again) until the period is generated, then has its line."""
    c = Clearing(AUGUST_20)
    await c.handlers["settlement.completed.v1"](message("settlement.completed.v1", settled(), AUGUST_20))
    due = {env.payload.kind: env for env in c.store.due() if env.payload.subject in (LEDGER, f"{WUHU}:{SEPTEMBER}")}
    c.clock.at = datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)
    with pytest.raises(NotYet) as waiting:
        await c.handlers["clearing.deadline-due.v1"](due["issue_notice"])
    assert classify(waiting.value) == "transient" and c.published(1) == []

    assert await c.handlers["clearing.deadline-due.v1"](due["generate"]) == "applied"
    mark = len(c.store.published)
    assert await c.handlers["clearing.deadline-due.v1"](due["issue_notice"]) == "applied"
    [notice] = [payload for topic, payload in c.published(mark) if topic == "clearing.notice.v1"]
    assert (
        notice["region"],
        notice["payable_total"],
        [line["counterpart_region"] for line in notice["counterparts"]],
    ) == (WUHU, "1000.00", [WUHAN])


async def test_a_mismatched_day_arms_its_resolution_deadline_and_falls_overdue():
    """R-02: H1's HIS reports two settlements (1500.00) on 08-20 where the platform holds one (1000.00):
    the day is mismatched, clearing.reconciliation.v1 says so and the 5-working-day resolution deadline
    is armed. Unresolved when it fires, the day is overdue and one breach is counted; the gauges count
    it among the unreconciled days (metrics.py)."""
    c = Clearing(AUGUST_20)
    await c.handlers["settlement.completed.v1"](message("settlement.completed.v1", settled(), AUGUST_20))
    c.clock.at = datetime(2026, 8, 21, 9, 0, tzinfo=SHANGHAI)
    report = DailyReconciliation(
        institution_code=H1,
        treating_region=WUHAN,
        day=date(2026, 8, 20),
        settlements=2,
        fund_total="1500.00",
        sent_at=c.clock.at,
    )
    mark = len(c.store.published)
    assert (
        await c.handlers["his.daily-reconciliation.v1"](message("his.daily-reconciliation.v1", report, c.clock.at))
        == "applied"
    )

    key = f"{H1}:2026-08-20"
    day = c.state("reconciliations", key)
    assert (day["status"], day["insured_regions"]) == ("mismatched", [WUHU])
    [(topic, checked)] = c.published(mark)
    assert (topic, checked["status"], checked["platform_fund_total"]) == (
        "clearing.reconciliation.v1",
        "mismatched",
        "1000.00",
    )
    [due] = [env for env in c.store.due() if env.payload.kind == "reconciliation_due"]
    assert due.payload.subject == key and due.payload.due_at.isoformat() == checked["resolve_by"]

    c.clock.at = due.payload.due_at
    assert await c.handlers["clearing.deadline-due.v1"](due) == "applied"
    assert c.state("reconciliations", key)["status"] == "overdue"
    assert c.metrics.breaches.labels("reconciliation")._value.get() == 1
    await c.metrics.recount()
    assert (
        c.metrics.unreconciled.labels("0-5d", "overdue")._value.get()
        + c.metrics.unreconciled.labels("6-30d", "overdue")._value.get()
        == 1
    )
    assert c.metrics.periods.labels("open")._value.get() == 1


async def test_a_confirmation_is_for_its_own_side_and_of_a_generated_period():
    """C-02: Wuhan (the treating side) may not confirm Wuhu's payable: the authority table refuses it
    UNAUTHORIZED before any handler. Wuhu's own confirmation of a period not generated yet is refused by
    rule, and changes nothing."""
    c = Clearing(AUGUST_20)
    await c.handlers["settlement.completed.v1"](message("settlement.completed.v1", settled(), AUGUST_20))
    confirm = ConfirmClearingPeriod(
        clearing_month=SEPTEMBER,
        insured_region=WUHU,
        treating_region=WUHAN,
        side=ClearingSide.INSURED,
        confirmed_at=AUGUST_20,
    )
    counterpart = AUTHORITY.check("clearing.confirm-period.v1", PARTIES.get("A420100"), confirm, PARTIES, AUGUST_20)
    assert counterpart is not None and (counterpart.reason, counterpart.rule) == (RefusalReason.UNAUTHORIZED, "C-02")
    assert AUTHORITY.check("clearing.confirm-period.v1", PARTIES.get("A340200"), confirm, PARTIES, AUGUST_20) is None

    before = (c.state("ledgers", LEDGER), len(c.store.published))
    with pytest.raises(PoisonMessage) as refused:
        await c.handlers["clearing.confirm-period.v1"](
            message("clearing.confirm-period.v1", confirm, AUGUST_20, sender="A340200")
        )
    assert refused.value.reason == "refused_by_rule" and "is not generated yet" in str(refused.value)
    assert (c.state("ledgers", LEDGER), len(c.store.published)) == before

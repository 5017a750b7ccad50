"""Replay (M-03): a period's ledgers, notices and C-04 tables rebuilt from its archived lines alone are
identical to what was issued; a line missing from the archive, or a ledger whose sums drifted, shows up
as differences, figure by figure."""

from __future__ import annotations

from datetime import date

from contracts.clearing import EntryKind, Fund, FundAmounts
from contracts.values import InsuranceType, money
from runtime.calendar import at_business_start, default_calendar
from services.clearing.domain import LedgerEntry, generate, issue_notice, new_ledger, record_entry
from services.clearing.domain.replay import rebuild_ledgers, replay

CAL = default_calendar()
WUHU, WUHAN, HEFEI = "340200", "420100", "340100"
MONTH = "2026-09"
ISSUED = at_business_start(date(2026, 9, 30))


def entry(
    sid,
    kind=EntryKind.SETTLEMENT,
    pooling="100.00",
    insured=WUHU,
    ref="",
    insurance=InsuranceType.EMPLOYEE,
    replaces=None,
    corrects="",
):
    fund = Fund.POOLING if insurance is InsuranceType.EMPLOYEE else Fund.RESIDENT_BASIC
    return LedgerEntry(
        settlement_id=sid,
        kind=kind,
        ref=ref,
        insured_region=insured,
        treating_region=WUHAN,
        amounts=FundAmounts(insurance_type=insurance, funds={fund: money(pooling)}),
        business_day=date(2026, 8, 20),
        replaces=replaces,
        corrects=corrects,
    )


ENTRIES = [
    entry("s1", pooling="1000.00"),
    entry("s2", pooling="250.50", insurance=InsuranceType.RESIDENT),
    entry("s1", EntryKind.REFUND, "100.00"),
    entry("s1", EntryKind.AUDIT_DEDUCTION, "300.00", ref="D1"),
    entry(
        "s1",
        EntryKind.AUDIT_DEDUCTION,
        "100.00",
        ref="D1b",
        corrects="D1",
        replaces=FundAmounts(insurance_type=InsuranceType.EMPLOYEE, funds={Fund.POOLING: money("300.00")}),
    ),
    entry("s3", pooling="500.00", insured=HEFEI),
]


def issued():
    """What the service did: every line recorded and archived (``handlers._archive``), the ledgers
    generated, the notices issued from them."""
    ledgers, lines = {}, []
    for n, e in enumerate(ENTRIES):
        key = f"{MONTH}:{e.insured_region}:{e.treating_region}"
        ledgers[key] = record_entry(
            ledgers.get(key) or new_ledger(MONTH, e.insured_region, e.treating_region), e, CAL, ISSUED
        ).state
        lines.append(
            {
                "_id": str(e.entry_id),
                "ledger": key,
                "clearing_month": MONTH,
                **e.model_dump(mode="json"),
                "recorded_at": f"2026-09-{10 + n:02d}T02:00:00+00:00",
            }
        )
    stored = [generate(lg, CAL, ISSUED).state for lg in ledgers.values()]
    notices = [issue_notice(r, MONTH, stored, CAL, ISSUED).model_dump(mode="json") for r in (WUHU, WUHAN, HEFEI)]
    return lines, stored, notices


def test_the_period_rebuilt_from_its_lines_is_identical_to_what_was_issued() -> None:
    lines, stored, notices = issued()
    rebuilt = rebuild_ledgers(MONTH, reversed(lines), stored)  # order of reading does not matter
    assert {k: (lg.settled, lg.deducted, lg.entry_count) for k, lg in rebuilt.items()} == {
        lg.key: (lg.settled, lg.deducted, lg.entry_count) for lg in stored
    }
    result = replay(MONTH, lines, stored, notices, CAL)
    assert result["identical"] is True and result["differences"] == []
    assert (result["ledgers"], result["notices"]) == (2, 3) and result["tables"] > 0
    assert rebuilt[f"{MONTH}:{WUHU}:{WUHAN}"].deducted == {"310/pooling": money("100.00")}  # the correction


def test_a_missing_line_or_a_drifted_ledger_is_shown_figure_by_figure() -> None:
    lines, stored, notices = issued()
    missing = [ln for ln in lines if ln["settlement_id"] != "s2"]
    result = replay(MONTH, missing, stored, notices, CAL)
    assert result["identical"] is False
    where = {d["where"] for d in result["differences"]}
    assert f"ledger {MONTH}:{WUHU}:{WUHAN}" in where
    assert f"notice {WUHU}:{MONTH} payable_total" in where and f"notice {WUHAN}:{MONTH} receivable_total" in where
    assert f"tables {WUHU}:{MONTH} intra_province" not in where and f"tables {WUHU}:{MONTH} cross_province" in where
    [payable] = [d for d in result["differences"] if d["where"] == f"notice {WUHU}:{MONTH} payable_total"]
    assert (payable["issued"], payable["rebuilt"]) == (
        "1050.50",
        "800.00",
    )  # 1000 + 250.50 − 100 refunded − 100 deducted

    drifted = [
        lg.model_copy(update={"settled": {**lg.settled, "310/pooling": money("1.00")}})
        if lg.insured_region == HEFEI
        else lg
        for lg in stored
    ]
    result = replay(MONTH, lines, drifted, notices, CAL)
    [ledger] = [d for d in result["differences"] if d["where"].startswith("ledger")]
    assert ledger["where"] == f"ledger {MONTH}:{HEFEI}:{WUHAN}"
    assert (ledger["issued"]["settled"], ledger["rebuilt"]["settled"]) == (
        {"310/pooling": "1.00"},
        {"310/pooling": "500.00"},
    )

"""Where a late entry goes (C-02, R-05) and audit deductions (R-04, R-05; 000 第五十七、七十一条; 004
第四十一条): checked against the settlement they name, corrected by new records (M-03), entering the
period of the 21st run after their confirmation; the year's close (C-06); every figure to the fen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.clearing import EntryKind, Fund, FundAmounts, RecordAuditDeduction
from contracts.values import SHANGHAI as SH
from contracts.values import InsuranceType, money
from runtime.calendar import at_business_start, default_calendar
from services.clearing.domain import (
    AuditRefused,
    LedgerEntry,
    PeriodClosed,
    audit_month,
    check_deduction,
    fund_totals,
    generate,
    new_ledger,
    open_for_entries,
    record_entry,
    sum_totals,
)

CAL = default_calendar()
WUHU, WUHAN, HEFEI = "340200", "420100", "340100"
EMP, RES = InsuranceType.EMPLOYEE, InsuranceType.RESIDENT
NOW = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)


def amounts(pooling="0.00", account=None, insurance=EMP) -> FundAmounts:
    funds = {Fund.POOLING if insurance is EMP else Fund.RESIDENT_BASIC: money(pooling)}
    if account is not None:
        funds[Fund.PERSONAL_ACCOUNT] = money(account)
    return FundAmounts(insurance_type=insurance, funds=funds)


def settlement(sid="S1", pooling="1000.00", account="200.00", insured=WUHU, treating=WUHAN) -> LedgerEntry:
    return LedgerEntry(
        settlement_id=sid,
        kind=EntryKind.SETTLEMENT,
        insured_region=insured,
        treating_region=treating,
        amounts=amounts(pooling, account),
        business_day=date(2026, 3, 5),
    )


def refund(sid="S1", ref="R1", pooling="100.00") -> LedgerEntry:
    return LedgerEntry(
        settlement_id=sid,
        kind=EntryKind.REFUND,
        ref=ref,
        insured_region=WUHU,
        treating_region=WUHAN,
        amounts=amounts(pooling),
        business_day=date(2026, 3, 9),
    )


def deduction(
    ref="D1", pooling="30.00", account=None, sid="S1", corrects="", insured=WUHU, insurance=EMP
) -> LedgerEntry:
    return LedgerEntry(
        settlement_id=sid,
        kind=EntryKind.AUDIT_DEDUCTION,
        ref=ref,
        insured_region=insured,
        treating_region=WUHAN,
        amounts=amounts(pooling, account, insurance),
        business_day=date(2026, 9, 10),
        corrects=corrects,
    )


# ================================================================ C-02 / R-05: the roll-forward bug
def test_a_late_entry_never_opens_a_ledger_in_a_generated_month() -> None:
    """C-02: a pair without a ledger in 2026-09 may open one only before the 21st's run; from then the
    month is generated (its notices follow at month end), so the entry goes to 2026-10."""
    gen = at_business_start(date(2026, 9, 21))
    assert open_for_entries(None, "2026-09", CAL, gen - timedelta(seconds=1))
    assert not open_for_entries(None, "2026-09", CAL, gen)
    assert not open_for_entries(None, "2026-09", CAL, datetime(2026, 10, 1, 4, tzinfo=UTC))  # notice issued
    assert open_for_entries(None, "2026-10", CAL, gen)
    ledger = record_entry(new_ledger("2026-09", WUHU, WUHAN), settlement(), CAL, NOW).state
    assert open_for_entries(ledger, "2026-09", CAL, gen)  # existing, not generated yet: still takes it
    generated = generate(ledger, CAL, gen).state
    assert not open_for_entries(generated, "2026-09", CAL, gen)
    with pytest.raises(PeriodClosed):
        record_entry(generated, settlement("S2"), CAL, gen)


# ================================================================ R-04 period: by the 16th
def test_a_deduction_enters_the_period_of_the_21st_run_after_its_confirmation() -> None:
    """R-04 (000 第五十七条 每月16日前确认后纳入清算): by the end of the 16th → this month's run."""
    assert audit_month(datetime(2026, 9, 16, 23, 59, 59, tzinfo=SH)) == "2026-09"
    assert audit_month(datetime(2026, 9, 17, 0, 0, tzinfo=SH)) == "2026-10"
    assert audit_month(datetime(2026, 9, 16, 16, 30, tzinfo=UTC)) == "2026-10"  # 00:30 on the 17th in Shanghai
    assert audit_month(datetime(2026, 12, 20, tzinfo=SH)) == "2027-01"
    assert audit_month(datetime(2026, 10, 8, tzinfo=SH)) == "2026-10"  # on National Day too: calendar days


# ================================================================ R-04 checks
def test_a_deduction_is_checked_against_the_settlement_it_names() -> None:
    history = [settlement(), refund()]  # pooling paid 1000 − 100 = 900, account 200
    checked = check_deduction(deduction(pooling="900.00", account="200.00"), history)
    assert checked.replaces is None
    with pytest.raises(AuditRefused, match="not in the clearing archive"):
        check_deduction(deduction(sid="S-UNKNOWN"), [])
    with pytest.raises(AuditRefused, match="is of 340200->420100, not 340100->420100"):
        check_deduction(deduction(insured=HEFEI), history)
    with pytest.raises(AuditRefused, match="insurance type 310, not 390"):
        check_deduction(deduction(insurance=RES), history)
    with pytest.raises(AuditRefused, match=r"exceed what the fund paid \(pooling: 900.01 > 900.00\)"):
        check_deduction(deduction(pooling="900.01"), history)
    with pytest.raises(AuditRefused, match="a deduction of nothing"):
        check_deduction(deduction(pooling="0.00"), history)


def test_deductions_in_force_together_may_not_exceed_what_the_fund_paid() -> None:
    history = [settlement(pooling="100.00", account="0.00"), deduction("D1", pooling="60.00")]
    check_deduction(deduction("D2", pooling="40.00"), history)
    with pytest.raises(AuditRefused, match="pooling: 100.01 > 100.00"):
        check_deduction(deduction("D2", pooling="40.01"), history)
    with pytest.raises(AuditRefused, match="personal_account: 0.01 > 0.00"):
        check_deduction(deduction("D2", pooling="0.00", account="0.01"), history)


def test_a_correction_replaces_the_record_it_corrects_and_is_a_new_record() -> None:
    """M-03 / 004 第四十一条 (错误的违规扣除费用予以追加): the correction's amounts replace the corrected
    record's in the checks; one record is corrected once; a correction can itself be corrected."""
    history = [settlement(pooling="100.00", account="0.00"), deduction("D1", pooling="60.00")]
    fix = check_deduction(deduction("D1b", pooling="100.00", corrects="D1"), history)  # 60 → 100: 补扣
    assert fix.replaces == amounts("60.00")
    payback = check_deduction(deduction("D1b", pooling="0.00", corrects="D1"), history)  # 60 → 0: all paid back
    assert payback.replaces == amounts("60.00")
    with pytest.raises(AuditRefused, match="deduction D9 of settlement S1 is not in the archive"):
        check_deduction(deduction("D1b", corrects="D9"), history)
    history.append(fix)
    with pytest.raises(AuditRefused, match="D1 is already corrected by D1b"):
        check_deduction(deduction("D1c", pooling="10.00", corrects="D1"), history)
    again = check_deduction(deduction("D1c", pooling="10.00", corrects="D1b"), history)
    assert again.replaces == amounts("100.00")
    with pytest.raises(AuditRefused, match="pooling: 100.01 > 100.00"):
        check_deduction(deduction("D2", pooling="0.01"), history)  # D1b's 100 is in force


def test_a_correction_in_a_later_period_is_a_negative_deduction_there() -> None:
    """R-05 (000 第七十一条): the 2026-09 period deducted 60; the correction to 25 found after clearing
    pays 35 back in 2026-10 (deducted −35), and 2026-10's settled figures are untouched."""
    sep = record_entry(new_ledger("2026-09", WUHU, WUHAN), settlement(pooling="100.00", account="0.00"), CAL, NOW).state
    d1 = check_deduction(deduction("D1", pooling="60.00"), [settlement(pooling="100.00", account="0.00")])
    sep, events, _ = record_entry(sep, d1, CAL, NOW)
    assert events[0].signed_total == money("60.00") and events[0].corrects is None
    assert sum_totals(fund_totals(sep)) == (money("100.00"), money("60.00"), money("40.00"))
    fix = check_deduction(
        deduction("D2", pooling="25.00", corrects="D1"), [settlement(pooling="100.00", account="0.00"), d1]
    )
    october, events, _ = record_entry(new_ledger("2026-10", WUHU, WUHAN), fix, CAL, NOW)
    (event,) = events
    assert (event.signed_total, event.corrects, event.replaces) == (money("-35.00"), "D1", amounts("60.00"))
    assert sum_totals(fund_totals(october)) == (money("0.00"), money("-35.00"), money("35.00"))
    assert record_entry(october, fix, CAL, NOW).events == []  # a redelivered correction: nothing
    # the two periods together deduct what is in force: 25
    assert sum_totals(fund_totals(sep))[1] + sum_totals(fund_totals(october))[1] == money("25.00")


def test_a_correction_names_the_deduction_it_corrects_on_the_wire() -> None:
    cmd = RecordAuditDeduction(
        deduction_id="D2",
        settlement_id="S1",
        insured_region=WUHU,
        treating_region=WUHAN,
        amounts=amounts("25.00"),
        reason="复核更正",
        decided_at=NOW,
        corrects="D1",
    )
    assert cmd.corrects == "D1"
    assert RecordAuditDeduction.model_validate({**cmd.model_dump(mode="json"), "corrects": None}).corrects is None


# ================================================================ property: money path (M-01, R-04)
fen = st.decimals(min_value=0, max_value=2000, places=2)
steps = st.lists(st.tuples(st.booleans(), fen, fen), min_size=1, max_size=12)


@settings(max_examples=120, deadline=None)
@given(pooling_paid=fen, account_paid=fen, seq=steps, months=st.lists(st.integers(0, 2), min_size=12, max_size=12))
def test_deductions_and_corrections_never_exceed_the_payment_and_the_periods_sum_to_what_is_in_force(
    pooling_paid, account_paid, seq, months
) -> None:
    """Whatever the sequence of deductions and corrections (each either accepted or refused with its
    reason) and however they spread over periods, the periods' deducted sums add up to the amounts in
    force, fund by fund, which never exceed what the fund paid (R-04, R-05, M-01)."""
    paid = settlement(pooling=str(pooling_paid), account=str(account_paid))
    history: list[LedgerEntry] = [paid]
    ledgers = [new_ledger(m, WUHU, WUHAN) for m in ("2026-09", "2026-10", "2026-11")]
    for i, ((correct, pooling, account), month) in enumerate(zip(seq, months)):
        corrected = {h.corrects for h in history if h.corrects}
        tips = [h.ref for h in history if h.kind is EntryKind.AUDIT_DEDUCTION and h.ref not in corrected]
        candidate = deduction(
            f"D{i}", pooling=str(pooling), account=str(account), corrects=tips[-1] if correct and tips else ""
        )
        try:
            checked = check_deduction(candidate, history)
        except AuditRefused:
            continue
        history.append(checked)
        ledgers[month] = record_entry(ledgers[month], checked, CAL, NOW).state
    corrected = {h.corrects for h in history if h.corrects}
    in_force = [h for h in history if h.kind is EntryKind.AUDIT_DEDUCTION and h.ref not in corrected]
    for fund, limit in ((Fund.POOLING, pooling_paid), (Fund.PERSONAL_ACCOUNT, account_paid)):
        force = sum((h.amounts.funds.get(fund, Decimal("0.00")) for h in in_force), Decimal("0.00"))
        assert force <= limit
        periods = sum((t.deducted for lg in ledgers for t in fund_totals(lg) if t.fund is fund), Decimal("0.00"))
        assert periods == force


# ================================================================ C-06: the year's close
def test_a_settlement_cleared_after_its_years_first_quarter_is_flagged() -> None:
    """C-06 (000 第七十条): 2026's settlements are cleared by 2027-03; one that reaches a later period is
    still recorded (the money must move) and flagged; deductions, dated by the audit, are not."""
    from services.clearing.domain.ledger import after_year_close, year_close_month

    assert year_close_month(2026) == "2027-03"
    late = settlement().model_copy(update={"business_day": date(2026, 12, 30)})
    assert not after_year_close(late, "2027-03")
    (event,) = record_entry(new_ledger("2027-04", WUHU, WUHAN), late, CAL, NOW).events
    assert event.after_year_close and event.signed_total == money("1200.00")
    assert not record_entry(new_ledger("2027-01", WUHU, WUHAN), late, CAL, NOW).events[0].after_year_close
    assert not after_year_close(deduction().model_copy(update={"business_day": date(2025, 1, 5)}), "2027-04")

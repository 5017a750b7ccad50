"""The prepayment ledger (P-01..P-10, C-05, M-01, M-03): movements never edited, in double entry; any
past balance is a query; the account's figures always equal the ledger's balances; P-02 quota from
the service's own records of settlements (an agency's figure only as a recorded override); a
settlement delivered twice is counted once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.prepayment import (
    PaymentNoticeKind,
    PrepaymentQuotaSet,
    PrepaymentScope,
    RecordPrepaymentPayment,
    RequestBalance,
    SetAnnualQuota,
)
from contracts.values import money
from runtime.calendar import default_calendar
from services.prepayment.domain import (
    ClearingNoticeReceived,
    PrepaymentAccount,
    SettlementFunds,
    answer_balance,
    new_account,
    record_clearing_notice,
    record_interest,
    record_payment,
    record_settlement,
    set_annual_quota,
)
from services.prepayment.domain import (
    LedgerAccount as L,
)
from services.prepayment.domain import (
    MovementKind as K,
)
from services.prepayment.domain.ledger import RECENT_MOVEMENTS, balance, daily_balances, monthly_settled, trial_balance

CAL = default_calendar()
WUHU, WUHAN, SHENYANG, BEIJING = "340200", "420100", "210100", "110000"
SCOPE = PrepaymentScope.CROSS_PROVINCE
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # Monday 2026-01-05 10:00 in Shanghai


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def settle(acc, sid: str, amount: str, at: datetime, reversed: bool = False, region: str = WUHU, treating: str = WUHAN):
    item = SettlementFunds(
        settlement_id=sid,
        insured_region=region,
        treating_region=treating,
        fund_total=money(amount),
        reversed=reversed,
        occurred_at=at,
    )
    return record_settlement(acc, item, CAL, at).state


def quota_cmd(year: int, at: datetime, region: str = WUHU, **typed) -> SetAnnualQuota:
    return SetAnnualQuota(insured_region=region, scope=SCOPE, year=year, issued_at=at, **typed)


def pay(acc, notice_id, payment_id: str, amount: str, at: datetime):
    cmd = RecordPrepaymentPayment(
        payment_id=payment_id, insured_region=WUHU, scope=SCOPE, notice_id=notice_id, amount=money(amount), paid_at=at
    )
    return record_payment(acc, cmd, CAL, at).state


def clearing(acc, month: str, settled: str, payable: str, at: datetime):
    item = ClearingNoticeReceived(
        notice_id=uuid.uuid5(uuid.NAMESPACE_URL, month),
        insured_region=WUHU,
        scope=SCOPE,
        clearing_month=month,
        settlements_total=money(settled),
        payable=money(payable),
        issued_at=at,
    )
    return record_clearing_notice(acc, item, CAL, at).state


def ledger_of(acc: PrepaymentAccount) -> tuple:
    """The whole ledger of an account no handler archived: all its movements are still recent."""
    assert acc.archived_seq == 0 and [m.seq for m in acc.recent] == list(range(1, acc.seq + 1))
    return acc.recent


def assert_figures_are_the_ledger(acc: PrepaymentAccount, movements=None) -> None:
    """The account's running figures are nothing but its ledger's balances; its bounded state
    (running balances, P-10 days, P-02 months) is nothing but sums of its movements."""
    movements = ledger_of(acc) if movements is None else sorted(movements, key=lambda m: m.seq)
    for account in L:
        assert acc.balance(account) == balance(movements, account)
    if movements:
        last = max(m.on for m in movements)
        for year in (last.year - 1, last.year):
            assert acc.monthly_settled(year) == monthly_settled(movements, year)
        start = acc.prepaid.since or min(m.on for m in movements)
        assert acc.prepaid.balances(start, last) == daily_balances(movements, L.PREPAID, start, last)
    assert acc.quota == acc.balance(L.QUOTA)
    assert acc.uncleared == acc.balance(L.UNCLEARED)
    assert acc.cleared_unpaid == acc.balance(L.CLEARED_UNPAID)
    assert acc.top_ups == acc.top_ups_from_ledger()
    assert acc.balance(L.CALLED) == sum(
        (n.amount - min(n.paid, n.amount) for n in acc.notices.values() if n.kind is not PaymentNoticeKind.CLEARING),
        Decimal("0.00"),
    )
    assert trial_balance(movements) == 0
    assert [m.seq for m in movements] == list(range(1, acc.seq + 1))


def test_a_year_of_movements_and_balances_on_past_dates() -> None:
    """Worked example, Wuhu's cross-province account kept by Anhui, 2026:
    01-05 quota 10,000.00 (2 × Q4 average 5,000.00, typed: the account is new) + its notice
    01-06 the adjustment paid 10,000.00 → prepaid 10,000.00
    01-07 settlements 3,000.00 + 700.00, 01-08 the 700.00 cancelled → uncleared 3,000.00
    02-25 clearing notice of 2026-01: settled 3,000.00, 30.00 deducted in audit → cleared unpaid 2,970.00
    03-02 the clearing payment 2,970.00 → cleared unpaid 0."""
    acc = new_account(WUHU, SCOPE, 2026)
    out = set_annual_quota(
        acc,
        quota_cmd(
            2026, day(0), last_year_quota="0.00", last_year_monthly_funds={10: "5000.00", 11: "5000.00", 12: "5000.00"}
        ),
        CAL,
        day(0),
    )
    acc, notice_id = out.state, out.state.notices and next(iter(out.state.notices))
    acc = pay(acc, uuid.UUID(notice_id), "BANK-1", "10000.00", day(1))
    acc = settle(acc, "s1", "3000.00", day(2))
    acc = settle(acc, "s2", "700.00", day(2))
    acc = settle(acc, "s2", "700.00", day(3), reversed=True)
    acc = clearing(acc, "2026-01", "3000.00", "2970.00", day(51))
    acc = pay(acc, uuid.uuid5(uuid.NAMESPACE_URL, "2026-01"), "BANK-2", "2970.00", day(56))

    movements = ledger_of(acc)
    assert [m.kind for m in movements] == [
        K.QUOTA,
        K.ADJUSTMENT_NOTICE,
        K.ADJUSTMENT_PAYMENT,
        K.NOTICE_PAID,
        K.SETTLEMENT,
        K.SETTLEMENT,
        K.REVERSAL,
        K.CLEARING_NOTICE,
        K.AUDIT_DEDUCTION,
        K.CLEARING_PAYMENT,
    ]
    assert all(m.amount > 0 and m.debit is not m.credit for m in movements)  # double entry
    on = {
        d: {a: balance(movements, a, d) for a in (L.PREPAID, L.UNCLEARED, L.CLEARED_UNPAID, L.EXPENSE, L.FUND)}
        for d in (date(2026, 1, 5), date(2026, 1, 7), date(2026, 1, 8), date(2026, 2, 25), date(2026, 3, 2))
    }
    assert on[date(2026, 1, 5)] == {L.PREPAID: 0, L.UNCLEARED: 0, L.CLEARED_UNPAID: 0, L.EXPENSE: 0, L.FUND: 0}
    assert on[date(2026, 1, 7)] == {
        L.PREPAID: money("10000"),
        L.UNCLEARED: money("3700"),
        L.CLEARED_UNPAID: 0,
        L.EXPENSE: money("3700"),
        L.FUND: money("-10000"),
    }
    assert on[date(2026, 1, 8)][L.UNCLEARED] == money("3000")
    assert on[date(2026, 2, 25)] == {
        L.PREPAID: money("10000"),
        L.UNCLEARED: 0,
        L.CLEARED_UNPAID: money("2970"),
        L.EXPENSE: money("2970"),
        L.FUND: money("-10000"),
    }
    assert on[date(2026, 3, 2)][L.CLEARED_UNPAID] == 0 and on[date(2026, 3, 2)][L.FUND] == money("-12970")
    assert_figures_are_the_ledger(acc)

    # the same past balance as the answer to a request over the wire carries it
    [answer] = answer_balance(
        acc,
        RequestBalance(request_id="q1", insured_region=WUHU, scope=SCOPE, as_of=date(2026, 1, 7), requested_at=day(60)),
        day(60),
    ).events
    assert answer.balances["uncleared"] == money("3700") and answer.movements == 6
    # … the same once every movement is in the archive and the account keeps none of them
    bare = acc.archived(acc.seq, keep=0)
    assert bare.recent == ()
    [again] = answer_balance(
        bare,
        RequestBalance(request_id="q1", insured_region=WUHU, scope=SCOPE, as_of=date(2026, 1, 7), requested_at=day(60)),
        day(60),
        archived=movements,
    ).events
    assert again == answer
    assert bare.prepaid.balances(date(2026, 1, 4), date(2026, 1, 7)) == daily_balances(
        movements, L.PREPAID, date(2026, 1, 4), date(2026, 1, 7)
    )
    assert daily_balances(movements, L.PREPAID, date(2026, 1, 4), date(2026, 1, 7)) == {
        date(2026, 1, 4): 0,
        date(2026, 1, 5): 0,
        date(2026, 1, 6): money("10000"),
        date(2026, 1, 7): money("10000"),
    }


def test_reverse_clearing_money_coming_back_is_recorded_not_dropped() -> None:
    """C-05 (004 第五十一条): a month whose refunds and deductions exceed its settlements ends with the
    treating side owing the region: settled 100.00, net payable −40.00 → nothing to pay, 40.00 due back."""
    acc = settle(new_account(WUHU, SCOPE, 2026), "s1", "100.00", day(0))
    acc = clearing(acc, "2026-01", "100.00", "-40.00", day(50))
    assert acc.cleared_unpaid == 0 and acc.balance(L.RETURNS_DUE) == money("40.00")
    assert [(m.kind, m.amount) for m in ledger_of(acc) if m.ref.startswith("clearing:")] == [
        (K.CLEARING_NOTICE, money("100")),
        (K.AUDIT_DEDUCTION, money("100")),
        (K.REVERSE_CLEARING_RETURN, money("40")),
    ]
    assert_figures_are_the_ledger(acc)


def test_p02_quota_from_the_services_own_records_of_last_years_q4() -> None:
    """P-02: Q4 2025 settled (net of reversals) Oct 6,000.00, Nov 3,000.00 + 1,000.00 − 1,000.00 cancelled,
    Dec 3,000.00 → monthly average 4,000.00, quota 2 × 4,000.00 = 8,000.00; a September settlement is
    outside the basis. Nothing typed, nothing overridden."""
    acc = new_account(WUHU, SCOPE, 2025)
    for sid, amount, when in (
        ("sep", "9000.00", datetime(2025, 9, 10, 2, tzinfo=UTC)),
        ("oct", "6000.00", datetime(2025, 10, 10, 2, tzinfo=UTC)),
        ("nov", "3000.00", datetime(2025, 11, 10, 2, tzinfo=UTC)),
        ("nov2", "1000.00", datetime(2025, 11, 11, 2, tzinfo=UTC)),
        ("dec", "3000.00", datetime(2025, 12, 10, 2, tzinfo=UTC)),
    ):
        acc = settle(acc, sid, amount, when)
    acc = settle(acc, "nov2", "1000.00", datetime(2025, 11, 30, 2, tzinfo=UTC), reversed=True)
    assert (
        monthly_settled(ledger_of(acc), 2025)
        == acc.monthly_settled(2025)
        == {9: money("9000"), 10: money("6000"), 11: money("3000"), 12: money("3000")}
    )
    out = set_annual_quota(acc, quota_cmd(2026, day(0)), CAL, day(0))
    [event] = [e for e in out.events if isinstance(e, PrepaymentQuotaSet)]
    assert (event.computed_quota, event.quota, event.adjustment, event.last_year_quota) == (
        money("8000"),
        money("8000"),
        money("8000"),
        money("0"),
    )
    assert event.overridden == [] and event.last_year_monthly_funds == event.recorded_monthly_funds
    assert_figures_are_the_ledger(out.state)

    # P-03 the next year: 2026 Q4 settled 15,000.00 a month → 30,000.00, adjustment 30,000 − 8,000 = 22,000.00
    acc = out.state
    for month in (10, 11, 12):
        acc = settle(acc, f"q4-{month}", "15000.00", datetime(2026, month, 5, 2, tzinfo=UTC))
    out = set_annual_quota(
        acc, quota_cmd(2027, datetime(2027, 1, 4, 2, tzinfo=UTC)), CAL, datetime(2027, 1, 4, 2, tzinfo=UTC)
    )
    [event] = [e for e in out.events if isinstance(e, PrepaymentQuotaSet)]
    assert (event.last_year_quota, event.quota, event.adjustment) == (money("8000"), money("30000"), money("22000"))
    assert [m.kind for m in ledger_of(out.state)[-2:]] == [K.ADJUSTMENT, K.ADJUSTMENT_NOTICE]
    assert_figures_are_the_ledger(out.state)


def test_p02_a_typed_figure_is_a_recorded_override() -> None:
    """P-02: the agency types Q4 at 5,000.00 a month while the ledger recorded 4,000.00 (Oct only 12,000):
    the typed figure is used and the event says it overrode the records."""
    acc = settle(new_account(WUHU, SCOPE, 2025), "oct", "12000.00", datetime(2025, 10, 10, 2, tzinfo=UTC))
    out = set_annual_quota(
        acc, quota_cmd(2026, day(0), last_year_monthly_funds={10: "5000.00", 11: "5000.00", 12: "5000.00"}), CAL, day(0)
    )
    [event] = [e for e in out.events if isinstance(e, PrepaymentQuotaSet)]
    assert event.quota == money("10000") and event.overridden == ["last_year_monthly_funds"]
    assert event.recorded_monthly_funds == {10: money("12000"), 11: 0, 12: 0}
    assert_figures_are_the_ledger(out.state)


def test_p02_liaoning_quota_is_four_months_of_last_years_average() -> None:
    """P-02 region policy (004 第十九条): Shenyang, 2025 settled 36,000.00 in all → 3,000.00 a month × 4 =
    12,000.00."""
    acc = new_account(SHENYANG, SCOPE, 2025)
    for month in range(1, 13):
        acc = settle(
            acc, f"m{month}", "3000.00", datetime(2025, month, 15, 2, tzinfo=UTC), region=SHENYANG, treating=BEIJING
        )
    out = set_annual_quota(acc, quota_cmd(2026, day(0), region=SHENYANG), CAL, day(0))
    assert out.state.quota == money("12000") and "第十九条" in out.events[0].policy_source


def test_interest_share_counts_as_this_years_top_up() -> None:
    """P-10 (004 第二十九条(三)): a 42.86 share is a movement prepaid ← interest income and raises the P-04
    base as a top-up of this year; the same interest again is nothing."""
    acc = set_annual_quota(
        new_account(WUHU, SCOPE, 2026),
        quota_cmd(2026, day(0), last_year_quota="0.00", last_year_monthly_funds={10: "500.00"}),
        CAL,
        day(0),
    ).state
    out = record_interest(acc, "INT-2026-Q1", money("42.86"), CAL, day(90))
    assert out.state.top_ups == money("42.86") and out.state.balance(L.INTEREST_INCOME) == money("42.86")
    assert out.events[0].top_ups == money("42.86")
    assert record_interest(out.state, "INT-2026-Q1", money("42.86"), CAL, day(91)).events == []
    assert_figures_are_the_ledger(out.state)


# ---------------------------------------------------------------- properties
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50000"), places=2)
signed = st.decimals(min_value=Decimal("-5000"), max_value=Decimal("50000"), places=2)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("settle"), st.integers(0, 9), amounts),
        st.tuples(st.just("reverse"), st.integers(0, 9), amounts),
        st.tuples(st.just("clear"), signed, signed),
        st.tuples(st.just("pay"), amounts),
        st.tuples(st.just("interest"), amounts),
        st.tuples(st.just("quota"), st.integers(0, 2)),
    ),
    max_size=30,
)


def run(ops, archive: dict | None = None, keep: int = 2) -> PrepaymentAccount:
    """``ops`` applied in turn; with ``archive``, as the handler does: after each write the new
    movements go to the archive (seq → movement) and the account keeps only ``keep`` of them."""
    acc = new_account(WUHU, SCOPE, 2026)
    for i, op in enumerate(ops):
        now = day(i)
        if archive is not None and i:
            archive.update((m.seq, m) for m in acc.unarchived())
            acc = acc.archived(acc.seq, keep=keep)
        if op[0] == "settle":
            acc = settle(acc, f"s{op[1]}", str(op[2]), now)
        elif op[0] == "reverse":
            acc = settle(acc, f"s{op[1]}", str(op[2]), now, reversed=True)
        elif op[0] == "clear":
            acc = clearing(acc, f"{2100 + i}-01", str(op[1]), str(op[2]), now)
        elif op[0] == "pay" and acc.notices:
            notice = sorted(acc.notices.values(), key=lambda n: str(n.notice_id))[i % len(acc.notices)]
            acc = pay(acc, notice.notice_id, f"p{i}", str(op[1]), now)
        elif op[0] == "interest":
            acc = record_interest(acc, f"i{i}", op[1], CAL, now).state
        elif op[0] == "quota":
            acc = set_annual_quota(acc, quota_cmd(2026 + op[1], now), CAL, now).state
    return acc


@settings(max_examples=150, deadline=None)
@given(steps)
def test_balances_always_equal_the_sum_of_their_movements(ops) -> None:
    """Whatever happens to an account, its figures are its ledger's balances, the ledger balances
    (试算平衡), and a past balance is the balance of the movements up to that day."""
    acc = run(ops)
    assert_figures_are_the_ledger(acc)
    archive: dict = {}
    kept = run(ops, archive)
    archive.update((m.seq, m) for m in kept.unarchived())  # the write after the last one
    assert kept.model_dump(exclude={"recent", "archived_seq"}) == acc.model_dump(exclude={"recent", "archived_seq"})
    assert len(kept.recent) <= 2 + len(kept.unarchived())
    assert sorted(archive) == list(range(1, acc.seq + 1))
    assert_figures_are_the_ledger(kept, archive.values())  # running balances = Σ archived movements
    for cut in range(len(ops) + 1):
        earlier = run(ops[:cut])
        on = day(cut - 1).date() if cut else date(2025, 12, 31)
        for account in L:
            assert balance(archive.values(), account, on) == earlier.balance(account)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), amounts, st.booleans()), min_size=1, max_size=20), st.randoms())
def test_usage_never_counts_a_settlement_delivered_twice(items, rnd) -> None:
    """P-04: every settlement (and reversal) delivered two or three times, in any order, is counted
    once: uncleared = Σ distinct completions − Σ distinct reversals, one ledger movement each."""
    distinct = {}
    for sid, amount, reversed in items:
        distinct.setdefault((f"s{sid}", reversed), amount)
    deliveries = [key for key in distinct for _ in range(rnd.randint(2, 3))]
    rnd.shuffle(deliveries)
    acc = new_account(WUHU, SCOPE, 2026)
    for i, (sid, reversed) in enumerate(deliveries):
        acc = settle(acc, sid, str(distinct[(sid, reversed)]), day(i), reversed=reversed)
    expected = sum((-a if rev else a for (_, rev), a in distinct.items()), Decimal("0.00"))
    assert acc.uncleared == expected == acc.balance(L.UNCLEARED)
    assert len([m for m in ledger_of(acc) if m.kind in (K.SETTLEMENT, K.REVERSAL)]) == len(distinct)


def test_an_account_stored_before_the_ledger_carries_its_figures_in_as_opening_movements() -> None:
    """M-03: nothing is lost — an account document without movements loads with its quota, payables
    and top-ups as opening movements against ``opening``; from then on the figures are the ledger's."""
    acc = settle(new_account(WUHU, SCOPE, 2026), "s1", "10.00", day(0))
    stored = acc.model_dump(mode="json")
    for key in ("totals", "seq", "recent", "archived_seq", "prepaid", "settled", "year_top_ups", "interests"):
        stored.pop(key)
    stored.update(quota="1000.00", uncleared="250.00", cleared_unpaid="-5.00", top_ups="30.00")
    old = PrepaymentAccount.model_validate(stored)
    assert {m.kind for m in ledger_of(old)} == {K.OPENING, K.OPENING_TOP_UPS}
    assert_figures_are_the_ledger(old)
    assert_figures_are_the_ledger(settle(old, "s2", "1.00", day(1)))


def test_an_account_stored_with_its_movements_inside_moves_them_to_the_archive() -> None:
    """M-03: an account document of the previous release (the ledger's movements inside it, and the
    quota year's first seq) loads with the same balances, months and days; its movements are recent
    and not archived, so the next write archives them all, then the account keeps only the latest."""
    acc = set_annual_quota(
        new_account(WUHU, SCOPE, 2026),
        quota_cmd(2026, day(0), last_year_quota="0.00", last_year_monthly_funds={10: "500.00"}),
        CAL,
        day(0),
    ).state
    acc = record_interest(acc, "INT-1", money("3.00"), CAL, day(1)).state
    for i in range(300):
        acc = settle(acc, f"s{i}", "10.00", day(2 + i // 100))
    stored = acc.model_dump(mode="json")
    for key in ("totals", "seq", "recent", "archived_seq", "prepaid", "settled", "year_top_ups", "interests"):
        stored.pop(key)
    stored.update(movements=[m.model_dump(mode="json") for m in acc.recent], year_start_seq=0)
    old = PrepaymentAccount.model_validate(stored)
    assert old.model_dump() == acc.model_dump()
    assert len(old.unarchived()) == old.seq == 304  # quota, its notice, interest, 300 settlements
    assert record_interest(old, "INT-1", money("3.00"), CAL, day(9)).events == []  # still counted once
    archive = {m.seq: m for m in old.unarchived()}  # the handler's next write
    after = old.archived(old.seq)
    assert after.unarchived() == [] and len(after.recent) == RECENT_MOVEMENTS
    assert_figures_are_the_ledger(after, archive.values())


def _size(acc: PrepaymentAccount) -> int:
    import json

    return len(json.dumps(acc.model_dump(mode="json")).encode())


def test_the_account_document_stays_bounded_however_many_settlements() -> None:
    """The growth of the previous release is gone: with each write archived as the handler does, the
    document no longer grows with the settlements. In one day: the 300-settlement document is smaller
    only because fewer than 512 settlement ids are counted yet (RECENT_ITEMS); from 1,000 on the size is
    the same (aside from the digits of the seqs and sums). Over many days: one entry per day of prepaid changes (the
    current and previous year: ≤ 731) and one per month (≤ 24) is all that is added."""

    def account_after(count: int, per_day: int) -> PrepaymentAccount:
        acc = set_annual_quota(
            new_account(WUHU, SCOPE, 2026),
            quota_cmd(2026, day(0), last_year_quota="0.00", last_year_monthly_funds={10: "50000.00"}),
            CAL,
            day(0),
        ).state
        for i in range(count):
            now = T0 + timedelta(days=i // per_day, seconds=i % per_day)
            acc = settle(acc, f"settlement-{i:06d}", "12345.67", now)
            if i % per_day == 0:  # interest on each day: the prepaid balance changes daily
                acc = record_interest(acc, f"INT-{i}", money("0.01"), CAL, now).state
            acc = acc.archived(acc.seq)
        assert acc.seq > count and len(acc.recent) == RECENT_MOVEMENTS
        return acc

    one_day = {n: _size(account_after(n, n)) for n in (300, 1000, 5000)}
    many_days = {n: _size(account_after(n, 10)) for n in (300, 1000, 5000)}
    print(f"account document bytes: all in one day {one_day}, ten a day {many_days}")
    assert one_day[300] < one_day[1000] and abs(one_day[5000] - one_day[1000]) < 512  # seq and sum digits
    # 5,000 settlements ten a day: 500 days kept (2026-01-05 .. 2027-05-19) and 17 months, not 5,000 movements
    days = len(account_after(5000, 10).prepaid.changes)
    assert days == 500 and many_days[5000] - one_day[5000] < days * 40 + 24 * 40 + 60 * 1024
    assert max(one_day.values()) < 64 * 1024 and max(many_days.values()) < 96 * 1024

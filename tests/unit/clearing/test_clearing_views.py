"""What the agencies' console reads: a region's periods (C-02..C-05, C-07) and reconciliation mismatches
(R-01, R-02), and who may ask (003 §5 (三)): the region's agency, its province or the national level."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.clearing import (
    ClearingSide,
    DailyReconciliation,
    EntryKind,
    Fund,
    FundAmounts,
    MismatchesAnswer,
    ObjectClearingPeriod,
)
from contracts.values import InsuranceType, money
from runtime.calendar import at_business_start, default_calendar, end_of_business_day
from runtime.parties import SIGNATURE_HEADER, ParticipantRegistry, init_keys, signer_for
from runtime.query import read_signed
from services.clearing.domain import (
    LedgerEntry,
    generate,
    issue_notice,
    new_ledger,
    obligations,
    reconciliation,
    record_entry,
    views,
)
from services.clearing.domain.objection import object_to
from services.clearing.query import MISMATCHES_PATH, PERIODS_PATH, QueryRefused, checked_region, sign_region_request

CAL = default_calendar()
WUHU, WUHAN, HEFEI = "340200", "420100", "340100"
NOW = datetime(2026, 9, 30, 4, tzinfo=UTC)


def ledger(month, insured, treating, *amounts, deduct="0.00", generated=True):
    lg = new_ledger(month, insured, treating)
    for i, a in enumerate(amounts):
        lg = record_entry(
            lg,
            LedgerEntry(
                settlement_id=f"{insured}-{treating}-{i}",
                kind=EntryKind.SETTLEMENT,
                insured_region=insured,
                treating_region=treating,
                business_day=date(2026, 8, 3),
                amounts=FundAmounts(insurance_type=InsuranceType.EMPLOYEE, funds={Fund.POOLING: money(a)}),
            ),
            CAL,
            NOW,
        ).state
    if money(deduct):
        lg = record_entry(
            lg,
            LedgerEntry(
                settlement_id=f"{insured}-{treating}-0",
                kind=EntryKind.AUDIT_DEDUCTION,
                ref="d",
                insured_region=insured,
                treating_region=treating,
                business_day=date(2026, 9, 10),
                amounts=FundAmounts(insurance_type=InsuranceType.EMPLOYEE, funds={Fund.POOLING: money(deduct)}),
            ),
            CAL,
            NOW,
        ).state
    return generate(lg, CAL, at_business_start(date(2026, 9, 21))).state if generated else lg


def test_a_regions_periods_newest_first_with_dates_totals_and_sides() -> None:
    sept = [
        ledger("2026-09", WUHU, WUHAN, "100.00"),
        ledger("2026-09", WUHAN, WUHU, "30.00"),
        ledger("2026-09", WUHU, HEFEI, "7.00"),
    ]
    sept[0] = object_to(
        sept[0],
        ObjectClearingPeriod(
            objection_id="O1",
            clearing_month="2026-09",
            insured_region=WUHU,
            treating_region=WUHAN,
            side=ClearingSide.INSURED,
            reasons=["未对账"],
            objected_at=NOW,
        ),
        "A340200",
        at_business_start(date(2026, 9, 22)),
    ).state
    octo = [ledger("2026-10", WUHU, WUHAN, "5.00", generated=False)]
    notice_at = at_business_start(date(2026, 9, 30))
    notice = issue_notice(WUHU, "2026-09", sept, CAL, notice_at)
    state, _ = obligations.start(notice, CAL)
    got = views.period_views(WUHU, [*sept, *octo, ledger("2026-09", HEFEI, WUHAN, "1.00")], {"2026-09": state}, CAL)
    assert [(p.clearing_month, p.scope, p.state) for p in got] == [
        ("2026-10", "cross_province", "open"),
        ("2026-09", "intra_province", "notified"),
        ("2026-09", "cross_province", "notified"),
    ]
    cross = got[2]
    assert (cross.payable_total, cross.receivable_total, cross.net_payable) == (money("100"), money("30"), money("70"))
    assert cross.deadlines.confirm_by == end_of_business_day(date(2026, 9, 25))
    # C-03 from the notice of 09-30 across National Day: 5 working days → 10-13 (10-08, 09, 10, 12, 13)
    assert (
        cross.deadlines.submit_to_finance_by == end_of_business_day(date(2026, 10, 13)) == notice.submit_to_finance_by
    )
    assert [o.obligation.value for o in cross.obligations] == ["submitted_to_finance", "institutions_paid"]
    [paying, receiving] = cross.counterparts
    assert (paying.direction, paying.counterpart_region, receiving.direction) == ("payable", WUHAN, "receivable")
    insured = next(s for s in paying.sides if s.side is ClearingSide.INSURED)
    assert [o.objection_id for o in insured.objections] == ["O1"] and insured.confirmed is None
    # before its notice, a period shows the C-03 dates it will have from its notice day
    assert got[0].obligations == [] and got[0].deadlines.notice_at == at_business_start(date(2026, 10, 31))


def test_reverse_clearing_is_a_receivable_of_the_payer() -> None:
    """C-05 (004 第五十一条): a pair whose deductions exceed what was settled owes money back."""
    lg = ledger("2026-09", WUHU, WUHAN, "10.00", deduct="25.00")
    [period] = views.period_views(WUHU, [lg], {}, CAL)
    [line] = period.counterparts
    assert (line.direction, line.reverse_clearing, line.net, line.amount) == (
        "receivable",
        True,
        money("-15"),
        money("15"),
    )
    assert (period.payable_total, period.receivable_total) == (money("0"), money("15"))
    [theirs] = views.period_views(WUHAN, [lg], {}, CAL)
    assert (theirs.counterparts[0].direction, theirs.payable_total) == ("payable", money("15"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([(WUHU, WUHAN), (WUHAN, WUHU), (WUHU, HEFEI), (HEFEI, WUHU)]),
            st.decimals(0, 10**6, places=2),
            st.decimals(0, 10**6, places=2),
        ),
        max_size=4,
        unique_by=lambda t: t[0],
    )
)
def test_a_periods_totals_are_the_sums_of_its_lines_in_either_direction(pairs) -> None:
    ledgers = [ledger("2026-09", i, t, str(a), deduct=str(d)) for (i, t), a, d in pairs]
    for region in (WUHU, WUHAN, HEFEI):
        nets = [views.counterpart(region, lg) for lg in ledgers if region in (lg.insured_region, lg.treating_region)]
        expected = sum((lg_net.net if lg_net.insured_region == region else -lg_net.net for lg_net in nets), money("0"))
        periods = views.period_views(region, ledgers, {}, CAL)
        assert sum((p.net_payable for p in periods), money("0")) == expected
        assert all(p.payable_total >= 0 and p.receivable_total >= 0 for p in periods)


def recon(institution, region, *, lines_off=False):
    settled = [
        reconciliation.Settled(
            settlement_id="S1", insured_region=WUHU, medical_type="inpatient", funds={"pooling": money("10")}
        )
    ]
    cmd = DailyReconciliation(
        institution_code=institution,
        treating_region=region,
        day=date(2026, 9, 29),
        settlements=1,
        fund_total=money("9" if lines_off else "10"),
        sent_at=NOW,
    )
    return reconciliation.check(None, cmd, settled, CAL, NOW).state


def test_mismatches_of_the_treating_and_the_insured_places() -> None:
    off, fine = recon("H42010200001", WUHAN, lines_off=True), recon("H42010200002", WUHAN)
    resolved = reconciliation.check(
        off,
        DailyReconciliation(
            institution_code="H42010200001",
            treating_region=WUHAN,
            day=date(2026, 9, 29),
            settlements=1,
            fund_total=money("10"),
            sent_at=NOW,
        ),
        [
            reconciliation.Settled(
                settlement_id="S1", insured_region=WUHU, medical_type="inpatient", funds={"pooling": money("10")}
            )
        ],
        CAL,
        NOW + timedelta(hours=1),
    ).state
    for region in (WUHAN, WUHU):  # the treating place, and the insured place of S1
        [m] = views.mismatch_views(region, [off, fine], "open")
        assert (m.status, m.lines[0].settlement_ids, m.insured_regions) == ("mismatched", ["S1"], [WUHU])
    assert views.mismatch_views(HEFEI, [off], "all") == []
    [r] = views.mismatch_views(WUHAN, [resolved, fine], "resolved")
    assert r.lines == [] and r.last_mismatch[0].his == money("9")
    MismatchesAnswer(region=WUHAN, status="all", as_of=NOW, mismatches=[r])  # the answer validates


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    init_keys(root, ["A340200", "A340000", "A000000", "A420100", "H34020200001"])
    return root


def ask(keys, code, path, region=WUHU, **extra):
    parties = ParticipantRegistry.load(keys)
    target, headers = sign_region_request(signer_for(keys, code), path, region, at=NOW, **extra)
    p, _, query = target.partition("?")
    return checked_region(read_signed(parties, p, query, headers[SIGNATURE_HEADER], NOW, 300), parties)


def test_the_region_its_province_and_the_national_level_may_ask(keys) -> None:
    for code in ("A340200", "A340000", "A000000"):
        assert ask(keys, code, PERIODS_PATH).agency == code
    assert ask(keys, "A340200", MISMATCHES_PATH).status == "open"
    assert ask(keys, "A340200", MISMATCHES_PATH, status="resolved").status == "resolved"


@pytest.mark.parametrize(
    "code, path", [("A420100", PERIODS_PATH), ("A420100", MISMATCHES_PATH), ("H34020200001", PERIODS_PATH)]
)
def test_another_agency_or_an_institution_is_refused(keys, code, path) -> None:
    with pytest.raises(QueryRefused, match=f"{code} does not speak for region 340200") as exc:
        ask(keys, code, path)
    assert exc.value.status == 403


def test_bad_parameters_are_refused(keys) -> None:
    with pytest.raises(QueryRefused, match="status is one of") as exc:
        ask(keys, "A340200", MISMATCHES_PATH, status="closed")
    assert exc.value.status == 400
    with pytest.raises(QueryRefused, match="region \\(6 digits\\)"):
        ask(keys, "A340200", PERIODS_PATH, region="34")
    with pytest.raises(QueryRefused, match="since is a month"):
        ask(keys, "A340200", PERIODS_PATH, since="2026-13")
    assert ask(keys, "A340200", PERIODS_PATH, since="2026-09").since == "2026-09"

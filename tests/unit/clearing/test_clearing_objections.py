"""C-02 objections (004 第四十六条 "如有确认不通过的，…协调解决"): a side objects with reasons by the 25th
(receipt time), its open objection holds that side — no confirmation, explicit or by silence — until the
coordinating level resolves it; resolved after the 25th, the resolution confirms the side. Periods of 2026-10,
whose 21st–25th lie after National Day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from contracts.clearing import (
    ClearingObjectionRecorded,
    ClearingObjectionResolved,
    ClearingPeriodConfirmed,
    ClearingSide,
    ConfirmClearingPeriod,
    EntryKind,
    Fund,
    FundAmounts,
    ObjectClearingPeriod,
    PeriodConfirmedBy,
    ResolveClearingObjection,
)
from contracts.values import InsuranceType, money
from runtime.calendar import at_business_start, default_calendar, end_of_business_day
from services.clearing.domain import (
    SILENT_CONFIRMATION,
    LateConfirmation,
    LedgerEntry,
    PeriodStatus,
    confirm,
    deadline_fired,
    generate,
    new_ledger,
    record_entry,
)
from services.clearing.domain.objection import ObjectionRefused, coordinator, object_to, resolve
from services.outcome import deadline

CAL = default_calendar()
WUHU, WUHAN, HEFEI = "340200", "420100", "340100"
GENERATED_AT = at_business_start(date(2026, 10, 21))
DUE = end_of_business_day(date(2026, 10, 25))
INSURED, TREATING = ClearingSide.INSURED, ClearingSide.TREATING


def generated(insured=WUHU, treating=WUHAN):
    entry = LedgerEntry(
        settlement_id="s1",
        kind=EntryKind.SETTLEMENT,
        insured_region=insured,
        treating_region=treating,
        amounts=FundAmounts(insurance_type=InsuranceType.EMPLOYEE, funds={Fund.POOLING: money("10")}),
        business_day=date(2026, 9, 3),
    )
    lg = record_entry(new_ledger("2026-10", insured, treating), entry, CAL, GENERATED_AT - timedelta(days=5)).state
    return generate(lg, CAL, GENERATED_AT).state


def objection(oid="O1", side=INSURED, at=GENERATED_AT) -> ObjectClearingPeriod:
    return ObjectClearingPeriod(
        objection_id=oid,
        clearing_month="2026-10",
        insured_region=WUHU,
        treating_region=WUHAN,
        side=side,
        reasons=["9月3日结算未对账"],
        objected_at=at,
    )


def resolution(oid="O1", outcome="dismissed", at=GENERATED_AT) -> ResolveClearingObjection:
    return ResolveClearingObjection(
        objection_id=oid,
        clearing_month="2026-10",
        insured_region=WUHU,
        treating_region=WUHAN,
        outcome=outcome,
        resolution="数据无误",
        resolved_at=at,
    )


def confirmation(side=INSURED, at=GENERATED_AT) -> ConfirmClearingPeriod:
    return ConfirmClearingPeriod(
        clearing_month="2026-10", insured_region=WUHU, treating_region=WUHAN, side=side, confirmed_at=at
    )


def silence(lg, at=DUE + timedelta(seconds=1)):
    request = deadline("clearing", SILENT_CONFIRMATION, lg.key, DUE, "C-02", CAL.source)
    return deadline_fired(lg, request, CAL, at)


def test_an_open_objection_holds_its_side_against_confirmation_and_silence() -> None:
    lg, (event,), _ = object_to(generated(), objection(), "A340200", GENERATED_AT + timedelta(hours=1))
    assert isinstance(event, ClearingObjectionRecorded) and event.coordinator_region is None
    assert (event.objection.objector, event.objection.outcome) == ("A340200", None)
    with pytest.raises(LateConfirmation, match="open objection \\(O1\\)"):
        confirm(lg, confirmation(), GENERATED_AT + timedelta(hours=2))
    lg, events, _ = silence(lg)  # the treating side stayed silent: confirmed
    assert [(e.side, e.by) for e in events] == [(TREATING, PeriodConfirmedBy.SILENCE)]
    assert lg.status is PeriodStatus.GENERATED and INSURED not in lg.confirmations
    lg, (done, confirmed), _ = resolve(lg, resolution(), "A000000", DUE + timedelta(days=1))
    assert isinstance(done, ClearingObjectionResolved) and done.side_confirmed
    assert (done.objection.outcome, done.objection.resolver) == ("dismissed", "A000000")
    assert isinstance(confirmed, ClearingPeriodConfirmed) and confirmed.by is PeriodConfirmedBy.RESOLUTION
    assert lg.status is PeriodStatus.CONFIRMED


def test_resolved_by_the_25th_the_side_confirms_as_any_other() -> None:
    lg = object_to(generated(), objection(), "A340200", GENERATED_AT).state
    lg, (done,), _ = resolve(lg, resolution(outcome="upheld"), "A000000", GENERATED_AT + timedelta(days=1))
    assert not done.side_confirmed and lg.confirmations == {}
    lg, (event,), _ = confirm(lg, confirmation(), GENERATED_AT + timedelta(days=2))
    assert event.side is INSURED and event.by is PeriodConfirmedBy.PROVINCE


def test_refusals_with_their_reason() -> None:
    with pytest.raises(LateConfirmation, match="after the end of the 25th"):  # 10-26 00:00:01
        object_to(generated(), objection(), "A340200", DUE + timedelta(seconds=1))
    with pytest.raises(ObjectionRefused, match="not generated yet"):
        object_to(new_ledger("2026-10", WUHU, WUHAN), objection(), "A340200", GENERATED_AT)
    lg = confirm(generated(), confirmation(), GENERATED_AT).state
    with pytest.raises(ObjectionRefused, match="already confirmed"):
        object_to(lg, objection(), "A340200", GENERATED_AT)
    lg = object_to(generated(), objection(), "A340200", GENERATED_AT).state
    with pytest.raises(ObjectionRefused, match="already recorded"):
        object_to(lg, objection(), "A340200", GENERATED_AT)
    with pytest.raises(ObjectionRefused, match="no objection O9"):
        resolve(lg, resolution("O9"), "A000000", GENERATED_AT)
    lg = resolve(lg, resolution(), "A000000", GENERATED_AT).state
    with pytest.raises(ObjectionRefused, match="was resolved \\(dismissed\\)"):
        resolve(lg, resolution(), "A000000", GENERATED_AT)


def test_the_national_level_coordinates_across_provinces_the_province_within_one() -> None:
    assert coordinator(WUHU, WUHAN) is None and coordinator(WUHU, HEFEI) == "340000"

"""The clearing ledger of one clearing month and one (insured, treating) pair (C-01, C-04).

Lines are kept per entry id (settlement id + kind + reference), so a redelivered settlement,
refund or deduction is recorded once. Totals are always recomputed from the lines, so the
tables' sums equal the sums of their lines (M-01).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.clearing import (
    ClearingEntryRecorded,
    ClearingPeriodConfirmed,
    ClearingPeriodGenerated,
    ClearingSide,
    ConfirmClearingPeriod,
    EntryKind,
    FundAmounts,
    FundTotal,
    ObjectionView,
    PeriodConfirmedBy,
)
from contracts.values import Money, RegionCode
from kernel.clearing_calendar import calendars
from runtime.calendar import WorkingCalendar
from services.outcome import RECENT_ITEMS, DeadlineRequest, Decision, deadline, remember, stable_id

from .period import confirmation_due, period_calendar

SERVICE = "clearing"
GENERATE = "generate"
SILENT_CONFIRMATION = "silent_confirmation"
ZERO = Decimal("0.00")


class PeriodStatus(StrEnum):
    OPEN = "open"
    GENERATED = "generated"
    CONFIRMED = "confirmed"


class PeriodClosed(Exception):
    """The period is generated; the entry belongs to the next open period (R-05, S-15)."""


class LateConfirmation(ValueError):
    """C-02: a confirmation received after the 25th; the silent side is confirmed by silence."""


class LedgerEntry(BaseModel):
    """Domain input: one settlement, refund or audit deduction, amounts non-negative."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    settlement_id: str = Field(min_length=1)
    kind: EntryKind
    ref: str = Field("", description="deduction id for audit deductions; else empty")
    insured_region: RegionCode
    treating_region: RegionCode
    amounts: FundAmounts
    business_day: date = Field(description="Asia/Shanghai date of the settlement, refund or decision")
    corrects: str = Field("", description="deductions: the deduction id this record corrects (M-03)")
    replaces: FundAmounts | None = Field(
        None, description="deductions: the corrected record's amounts, taken out as this one's are put in (R-04, R-05)"
    )

    @property
    def entry_id(self):
        return stable_id(SERVICE, self.settlement_id, self.kind.value, self.ref)

    @property
    def sign(self) -> int:
        return -1 if self.kind is EntryKind.REFUND else 1


class LedgerLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    settlement_id: str
    kind: EntryKind
    amounts: FundAmounts

    replaces: FundAmounts | None = None

    def signed(self) -> Iterable[tuple[tuple, Decimal]]:
        """Per (type, fund): what the line adds to its sum — refunds negative, a corrected deduction's
        earlier amounts taken out (R-04 correction, R-05 补支)."""
        sign = -1 if self.kind is EntryKind.REFUND else 1
        for fund, amount in self.amounts.funds.items():
            yield (self.amounts.insurance_type, fund), sign * amount
        if self.replaces is not None:
            for fund, amount in self.replaces.funds.items():
                yield (self.replaces.insurance_type, fund), -amount


class ClearingLedger(BaseModel):
    """One month and pair: how many entries were recorded, the ids of the latest ones, and their
    running sums per insurance type and fund. The lines themselves are archived by the service
    one document each after they are recorded, and a line already archived is not recorded again;
    the latest ids catch the one case the archive cannot (a line recorded, then a crash before its
    archive). So the ledger stays small however many settlements a month brings."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    clearing_month: str
    insured_region: RegionCode
    treating_region: RegionCode
    status: PeriodStatus = PeriodStatus.OPEN
    entry_count: int = Field(0, ge=0)
    recent_entry_ids: tuple[str, ...] = Field((), description=f"the last {RECENT_ITEMS} entries recorded")
    settled: dict[str, Money] = Field(default_factory=dict, description="'type/fund' → settlements − refunds")
    deducted: dict[str, Money] = Field(default_factory=dict, description="'type/fund' → audit deductions")
    generated_at: AwareDatetime | None = None
    confirmations: dict[ClearingSide, PeriodConfirmedBy] = Field(
        default_factory=dict, description="C-02: the sides confirmed so far, and how (004 第四十六条)"
    )
    confirmed_by: PeriodConfirmedBy | None = Field(None, description="how the last side was confirmed, once both are")
    objections: tuple[ObjectionView, ...] = Field((), description="C-02: objections, open until resolved")
    version: int = 0

    @property
    def key(self) -> str:
        return ledger_key(self.clearing_month, self.insured_region, self.treating_region)

    @model_validator(mode="before")
    @classmethod
    def _from_every_id(cls, data: Any) -> Any:
        """Ledgers stored with every entry id (before the archive took that role) still load."""
        if isinstance(data, dict) and "entry_ids" in data:
            data = dict(data)
            ids = list(data.pop("entry_ids"))
            data.update(entry_count=len(ids), recent_entry_ids=tuple(ids[-RECENT_ITEMS:]))
        return data

    def contains(self, entry: LedgerEntry) -> bool:
        """Recorded lately (older entries are found in the archive by the service)."""
        return str(entry.entry_id) in self.recent_entry_ids

    def plus(self, line: LedgerLine, entry_id: str) -> ClearingLedger:
        """The ledger with one more line: its signed amounts added to the running sums."""
        field = "deducted" if line.kind is EntryKind.AUDIT_DEDUCTION else "settled"
        sums = dict(getattr(self, field))
        for (insurance, fund), amount in line.signed():
            key = f"{insurance.value}/{fund.value}"
            sums[key] = sums.get(key, ZERO) + amount
        return self.model_copy(
            update={
                field: sums,
                "entry_count": self.entry_count + 1,
                "recent_entry_ids": remember(self.recent_entry_ids, entry_id),
                "version": self.version + 1,
            }
        )


def ledger_key(month: str, insured: str, treating: str) -> str:
    return f"{month}:{insured}:{treating}"


def new_ledger(month: str, insured: str, treating: str) -> ClearingLedger:
    return ClearingLedger(
        clearing_month=month, insured_region=RegionCode(insured), treating_region=RegionCode(treating)
    )


# ---------------------------------------------------------------- totals (C-04, M-01)
def fund_totals(ledger: ClearingLedger) -> list[FundTotal]:
    """Per insurance type and fund: settled (refunds negative), deducted, net (C-04)."""
    keys = sorted(set(ledger.settled) | set(ledger.deducted))
    totals = []
    for key in keys:
        insurance, fund = key.split("/")
        settled, deducted = ledger.settled.get(key, ZERO), ledger.deducted.get(key, ZERO)
        totals.append(
            FundTotal(insurance_type=insurance, fund=fund, settled=settled, deducted=deducted, net=settled - deducted)
        )
    return totals


def sum_totals(totals: Iterable[FundTotal]) -> tuple[Decimal, Decimal, Decimal]:
    totals = list(totals)
    return (
        sum((t.settled for t in totals), ZERO),
        sum((t.deducted for t in totals), ZERO),
        sum((t.net for t in totals), ZERO),
    )


# ---------------------------------------------------------------- decisions
def record_entry(
    ledger: ClearingLedger, entry: LedgerEntry, calendar: WorkingCalendar, now: datetime
) -> Decision[ClearingLedger]:
    """C-04: add a line; a redelivered entry changes nothing. A generated period refuses with
    ``PeriodClosed`` and the caller records the entry in the next month's ledger (S-15, R-05).
    The first line of a ledger arms its generation deadline (C-02)."""
    _check_pair(ledger, entry)
    if ledger.contains(entry):
        return Decision(ledger, [], [])
    if ledger.status is not PeriodStatus.OPEN:
        raise PeriodClosed(f"clearing period {ledger.key} is {ledger.status.value}")
    line = LedgerLine(
        settlement_id=entry.settlement_id, kind=entry.kind, amounts=entry.amounts, replaces=entry.replaces
    )
    new = ledger.plus(line, str(entry.entry_id))
    signed = sum((a for _, a in line.signed()), ZERO)
    event = ClearingEntryRecorded(
        entry_id=entry.entry_id,
        clearing_month=ledger.clearing_month,
        insured_region=ledger.insured_region,
        treating_region=ledger.treating_region,
        settlement_id=entry.settlement_id,
        kind=entry.kind,
        amounts=entry.amounts,
        signed_total=signed,
        recorded_at=now,
        corrects=entry.corrects or None,
        replaces=entry.replaces,
        after_year_close=after_year_close(entry, ledger.clearing_month),
    )
    deadlines = [] if ledger.entry_count else [_generation_deadline(ledger, calendar)]
    return Decision(new, [event], deadlines)


def generate(ledger: ClearingLedger, calendar: WorkingCalendar, now: datetime) -> Decision[ClearingLedger]:
    """C-02: on the 21st the period's figures are fixed; the 25th's silent confirmation is armed."""
    if ledger.status is not PeriodStatus.OPEN:
        return Decision(ledger, [], [])
    totals = fund_totals(ledger)
    settled, deducted, net = sum_totals(totals)
    new = ledger.model_copy(
        update={"status": PeriodStatus.GENERATED, "generated_at": now, "version": ledger.version + 1}
    )
    event = ClearingPeriodGenerated(
        clearing_month=ledger.clearing_month,
        insured_region=ledger.insured_region,
        treating_region=ledger.treating_region,
        totals=totals,
        settled_total=settled,
        deducted_total=deducted,
        net_total=net,
        entry_count=ledger.entry_count,
        confirm_by=max(side_due(ledger, side) for side in ClearingSide),
        generated_at=now,
    )
    return Decision(new, [event], _silent_confirmations(ledger, calendar))


def ordinal(day: int) -> str:
    """The 1st, 24th, 25th: a day of the month as a refusal says it."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def side_due(ledger: ClearingLedger, side: ClearingSide) -> datetime:
    """C-02: the end of the day by which ``side`` confirms (the 25th; a side whose region's text sets
    another day, that one: a Liaoning city's cross-province payable the 24th, 004 第四十六条)."""
    return confirmation_due(ledger.clearing_month, ledger.insured_region, ledger.treating_region, side)


def _silent_confirmations(ledger: ClearingLedger, calendar: WorkingCalendar) -> list[DeadlineRequest]:
    """The moments silence confirms (004 第四十五、四十六条): the last side's day (ref "", as periods have always
    armed it), and before it each side whose own day is earlier (ref: the side)."""
    dues = {side: side_due(ledger, side) for side in ClearingSide}
    last = max(dues.values())
    early = [
        deadline(SERVICE, SILENT_CONFIRMATION, ledger.key, due, "C-02", calendar.source, ref=side.value)
        for side, due in dues.items()
        if due < last
    ]
    return [*early, deadline(SERVICE, SILENT_CONFIRMATION, ledger.key, last, "C-02", calendar.source)]


def confirm(ledger: ClearingLedger, cmd: ConfirmClearingPeriod, now: datetime) -> Decision[ClearingLedger]:
    """C-02: one side's explicit confirmation of a generated period — it binds that side only (the
    insured place its payable, the treating place its receivable: 004 第四十六条); the period is
    confirmed once both sides are. Received (``now``) after the end of the 25th it is refused
    (``LateConfirmation``): that side is confirmed by silence (004 第四十五条)."""
    if ledger.status is PeriodStatus.OPEN:
        raise ValueError(f"clearing period {ledger.key} is not generated yet")
    due = side_due(ledger, cmd.side)
    if now > due:  # a redelivered copy never gets here: the store's inbox drops it
        how = ledger.confirmations.get(cmd.side)
        raise LateConfirmation(
            f"C-02: the {cmd.side.value} side's confirmation of {ledger.key} was received at "
            f"{now.isoformat()}, after the end of the {ordinal(due.day)} ({due.isoformat()}); "
            + (
                f"that side is confirmed ({how.value})"
                if how
                else "its open objection confirms it when resolved"
                if held(ledger, cmd.side)
                else "silence confirms it"
            )
        )
    if held(ledger, cmd.side):
        open_ = ", ".join(o.objection_id for o in ledger.objections if o.side is cmd.side and o.outcome is None)
        raise LateConfirmation(
            f"C-02: the {cmd.side.value} side of {ledger.key} has an open objection ({open_}): "
            f"it confirms once the objection is resolved"
        )
    return _confirmed(ledger, (cmd.side,), PeriodConfirmedBy.PROVINCE, cmd.confirmed_at)


def held(ledger: ClearingLedger, side: ClearingSide) -> bool:
    """C-02 (004 第四十六条): an open objection holds its side: no confirmation, explicit or by silence."""
    return any(o.side is side and o.outcome is None for o in ledger.objections)


def deadline_fired(
    ledger: ClearingLedger, request: DeadlineRequest, calendar: WorkingCalendar, now: datetime
) -> Decision[ClearingLedger]:
    """The 21st generates; the end of the 25th confirms by silence (C-02)."""
    if now < request.due_at:
        return Decision(ledger, [], [request])
    if request.kind == GENERATE:
        return generate(ledger, calendar, now)
    if request.kind == SILENT_CONFIRMATION and ledger.status is PeriodStatus.GENERATED:
        silent = [  # whoever stayed silent past its day
            side for side in pending_sides(ledger) if not held(ledger, side) and side_due(ledger, side) <= now
        ]
        return _confirmed(ledger, silent, PeriodConfirmedBy.SILENCE, now)
    return Decision(ledger, [], [])


def pending_sides(ledger: ClearingLedger) -> list[ClearingSide]:
    """The sides that have not confirmed yet (none once the period is confirmed)."""
    if ledger.status is PeriodStatus.CONFIRMED:
        return []
    return [side for side in ClearingSide if side not in ledger.confirmations]


def _confirmed(
    ledger: ClearingLedger, sides: Iterable[ClearingSide], by: PeriodConfirmedBy, at: datetime
) -> Decision[ClearingLedger]:
    """One event per side newly confirmed; a side already confirmed changes nothing."""
    confirmations, events = dict(ledger.confirmations), []
    for side in sides:
        if side not in pending_sides(ledger) or side in confirmations:
            continue
        confirmations[side] = by
        left = [s for s in ClearingSide if s not in confirmations]
        events.append(
            ClearingPeriodConfirmed(
                clearing_month=ledger.clearing_month,
                insured_region=ledger.insured_region,
                treating_region=ledger.treating_region,
                by=by,
                side=side,
                pending_sides=left,
                confirmed_at=at,
            )
        )
    if not events:
        return Decision(ledger, [], [])
    done = len(confirmations) == len(ClearingSide)
    new = ledger.model_copy(
        update={
            "confirmations": confirmations,
            "status": PeriodStatus.CONFIRMED if done else ledger.status,
            "confirmed_by": by if done else None,
            "version": ledger.version + 1,
        }
    )
    return Decision(new, events, [])


def year_close_month(year: int) -> str:
    """C-06 (000 第七十条): the last clearing month of year ``year``'s settlements: March of the next year."""
    return f"{year + 1:04d}-03"


def after_year_close(entry: LedgerEntry, month: str) -> bool:
    """C-06: a settlement or refund cleared in a month after its year's close (deductions are dated by the
    audit's decision, not by the settlement, and may reach back: 004 第四十一条)."""
    return entry.kind is not EntryKind.AUDIT_DEDUCTION and month > year_close_month(entry.business_day.year)


def open_for_entries(
    ledger: ClearingLedger | None, month: str, calendar: WorkingCalendar, now: datetime, treating: str | None = None
) -> bool:
    """Whether an entry received at ``now`` may go into the ``month`` ledger of its pair (C-02, R-05).
    A ledger that exists takes entries until it is generated. A ledger that does not exist yet may be
    opened only before its month's 21st run: once the month is generated (and its notices follow at
    month end), a new ledger there would never be generated in time nor reach a notice, so the entry
    goes to the first period not yet generated. Where the treating region's text fixes its receivable
    applications earlier (Liaoning: at 00:00 on the 1st, 004 第四十四条), an entry received after that
    goes to the next period too."""
    if treating is not None and now >= calendars().intake_closes_at(month, treating):
        return False
    if ledger is not None:
        return ledger.status is PeriodStatus.OPEN
    return now < period_calendar(month, calendar).generation_at


def _generation_deadline(ledger: ClearingLedger, calendar: WorkingCalendar) -> DeadlineRequest:
    dates = period_calendar(ledger.clearing_month, calendar)
    return deadline(SERVICE, GENERATE, ledger.key, dates.generation_at, "C-02", calendar.source)


def _check_pair(ledger: ClearingLedger, entry: LedgerEntry) -> None:
    if (entry.insured_region, entry.treating_region) != (ledger.insured_region, ledger.treating_region):
        raise ValueError(f"entry of {entry.insured_region}->{entry.treating_region} is not for ledger {ledger.key}")


__all__ = [
    "ClearingLedger",
    "LateConfirmation",
    "held",
    "side_due",
    "LedgerEntry",
    "LedgerLine",
    "PeriodClosed",
    "PeriodStatus",
    "after_year_close",
    "confirm",
    "open_for_entries",
    "year_close_month",
    "deadline_fired",
    "fund_totals",
    "generate",
    "ledger_key",
    "new_ledger",
    "pending_sides",
    "record_entry",
    "sum_totals",
]

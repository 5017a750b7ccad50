"""Co-investigation periods 费用协查期 (Q-02, Q-03): the summary table cut at 00:00 on the 26th and
each agency's completion statistics, kept by one aggregate per period.

000 第八十条: "每月26日零时生成上月26日至当月25日…费用协查申请汇总表" (Q-02, the cut), "原则上需于
次月26日前完成本期费用协查工作…确需延期办理的，自动记录至下一期，并记入本期完成情况统计监测"
(Q-03). RULES.md Q-03 says late items "count as late in the statistics"; the source says in
*this* period's statistics (本期), so an item unanswered at its period's completion deadline is
counted late in that period, and in the next one as rolled in (where it is answered, on time or
late by that period's deadline).

The items' own steps come as ``CoInvestigationCounted`` (each item's aggregate decides them at
receipt time and emits them through its outbox; this aggregate only counts). Nothing here is
personal: ids and regions. The aggregate arms two deadlines when it is created: the cut
(``cut_at``) publishes the summary; the close (``complete_by``) marks every item still open late
and publishes the statistics. A step that arrives after either (it was in flight) gives a new
revision of what was published (M-03: corrections are new records)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.collab import (
    AgencyPeriodStatistics,
    CoInvestigationCounted,
    CoInvestigationStatistics,
    CoInvestigationSummary,
    SummaryRow,
    TallyKind,
)
from contracts.values import RegionCode
from runtime.calendar import WorkingCalendar
from services.collab.domain.coinvestigation import SERVICE, complete_by, cut_at
from services.outcome import DeadlineRequest, Decision, deadline

CUT_DUE = "period_cut_due"
CLOSE_DUE = "period_close_due"
ROLES = ("insured", "treating")


def period_key(period: str) -> str:
    return f"period:{period}"


class ItemStatus(StrEnum):
    OPEN = "open"
    ANSWERED_ON_TIME = "answered_on_time"
    LATE = "late"
    WITHDRAWN = "withdrawn"


class PeriodItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    insured_region: RegionCode
    treating_region: RegionCode
    rolled_in: bool = False
    status: ItemStatus = ItemStatus.OPEN
    disputed: bool = False
    escalated: bool = False


class Period(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    period: str
    cut_at: AwareDatetime
    complete_by: AwareDatetime
    items: dict[str, PeriodItem] = Field(default_factory=dict)
    cut: bool = False
    closed: bool = False
    summary_revision: int = 0
    statistics_revision: int = 0
    version: int = 0


def new_period(period: str) -> Period:
    return Period(period=period, cut_at=cut_at(period), complete_by=complete_by(period))


def _deadlines(p: Period, calendar: WorkingCalendar) -> list[DeadlineRequest]:
    key = period_key(p.period)
    return [
        deadline(SERVICE, CUT_DUE, key, p.cut_at, "Q-02", calendar.source),
        deadline(SERVICE, CLOSE_DUE, key, p.complete_by, "Q-03", calendar.source),
    ]


def count(
    state: Period | None, step: CoInvestigationCounted, calendar: WorkingCalendar, now: datetime
) -> Decision[Period]:
    """One item's step. The first step of a period creates it and arms its cut and close."""
    armed = [] if state is not None else _deadlines(new_period(step.period), calendar)
    p = state or new_period(step.period)
    rid = str(step.request_id)
    item = p.items.get(rid) or PeriodItem(insured_region=step.insured_region, treating_region=step.treating_region)
    kind = step.kind
    if kind is TallyKind.ROLLED_IN:
        item = item.model_copy(update={"rolled_in": True})
    elif kind is TallyKind.WITHDRAWN:
        item = item.model_copy(update={"status": ItemStatus.WITHDRAWN})
    elif kind is TallyKind.ANSWERED and item.status is ItemStatus.OPEN:
        # late once closed stays late: the close read the receipt time, which the step's on_time confirms
        item = item.model_copy(update={"status": ItemStatus.ANSWERED_ON_TIME if step.on_time else ItemStatus.LATE})
    elif kind is TallyKind.ANSWERED and item.status is ItemStatus.LATE and step.on_time:
        # answered in time but counted after the close had marked it (in flight): corrected
        item = item.model_copy(update={"status": ItemStatus.ANSWERED_ON_TIME})
    elif kind is TallyKind.DISPUTED:
        item = item.model_copy(update={"disputed": True})
    elif kind is TallyKind.ESCALATED:
        item = item.model_copy(update={"escalated": True})
    if p.items.get(rid) == item:
        return Decision(p, [], armed) if armed else Decision(p, [], [])
    new = p.model_copy(update={"items": {**p.items, rid: item}, "version": p.version + 1})
    events: list[BaseModel] = []
    if new.cut and (rid not in p.items or kind is TallyKind.WITHDRAWN):  # a row the cut table missed
        new, summary = _summary(new)
        events.append(summary)
    if new.closed:
        new, stats = _statistics(new)
        events.append(stats)
    return Decision(new, events, armed)


def deadline_fired(p: Period, request: DeadlineRequest, calendar: WorkingCalendar, now: datetime) -> Decision[Period]:
    """Q-02 at the cut: the summary table; Q-03 at the close: every item still open is late and
    the statistics are published. Fired early: armed again."""
    if request.kind == CUT_DUE and not p.cut:
        if now < p.cut_at:
            return Decision(p, [], [request])
        new, summary = _summary(p.model_copy(update={"cut": True}))
        return Decision(new, [summary], [])
    if request.kind == CLOSE_DUE and not p.closed:
        if now <= p.complete_by:
            return Decision(p, [], [request])
        items = {
            rid: (i.model_copy(update={"status": ItemStatus.LATE}) if i.status is ItemStatus.OPEN else i)
            for rid, i in p.items.items()
        }
        new, stats = _statistics(p.model_copy(update={"items": items, "closed": True}))
        return Decision(new, [stats], [])
    return Decision(p, [], [])


def _summary(p: Period) -> tuple[Period, CoInvestigationSummary]:
    revision = p.summary_revision + 1
    rows = [
        SummaryRow(
            request_id=uuid.UUID(rid),
            insured_region=i.insured_region,
            treating_region=i.treating_region,
            rolled_in=i.rolled_in,
        )
        for rid, i in sorted(p.items.items())
        if i.status is not ItemStatus.WITHDRAWN
    ]
    new = p.model_copy(update={"summary_revision": revision, "version": p.version + 1})
    return new, CoInvestigationSummary(
        period=p.period, revision=revision, cut_at=p.cut_at, complete_by=p.complete_by, rows=rows
    )


def statistics(p: Period) -> list[AgencyPeriodStatistics]:
    """Q-03: per agency and role (the insured place that asked, the treating place that checks)."""
    counts: dict[tuple[str, str], Counter] = {}
    for item in p.items.values():
        for role, region in zip(ROLES, (item.insured_region, item.treating_region)):
            c = counts.setdefault((str(region), role), Counter())
            c["rolled_in" if item.rolled_in else "opened"] += 1
            c[item.status.value] += 1
            c["disputed"] += item.disputed
            c["escalated"] += item.escalated
    return [
        AgencyPeriodStatistics(
            period=p.period,
            agency_region=region,
            role=role,
            opened=c["opened"],
            rolled_in=c["rolled_in"],
            answered_on_time=c[ItemStatus.ANSWERED_ON_TIME.value],
            late=c[ItemStatus.LATE.value],
            open=c[ItemStatus.OPEN.value],
            withdrawn=c[ItemStatus.WITHDRAWN.value],
            disputed=c["disputed"],
            escalated=c["escalated"],
        )
        for (region, role), c in sorted(counts.items())
    ]


def _statistics(p: Period) -> tuple[Period, CoInvestigationStatistics]:
    revision = p.statistics_revision + 1
    new = p.model_copy(update={"statistics_revision": revision, "version": p.version + 1})
    return new, CoInvestigationStatistics(
        period=p.period, revision=revision, complete_by=p.complete_by, rows=statistics(p)
    )


def published_statistics(p: Period) -> CoInvestigationStatistics:
    """The statistics as last published (the query API answers these)."""
    return CoInvestigationStatistics(
        period=p.period, revision=max(p.statistics_revision, 1), complete_by=p.complete_by, rows=statistics(p)
    )

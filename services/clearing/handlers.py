"""Clearing 清算: which topic is handled by which function (the registry is ``registry()``, at the bottom)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal


from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict

from contracts.clearing import (
    ClearingObligationBreached, ClearingPeriodsAnswer, ConfirmClearingPeriod, DailyReconciliation, EntryKind,
    FundAmounts, InsuredDailyTotals, MismatchesAnswer, MonthlyDeclaration, ObjectClearingPeriod, ReconciliationChecked,
    ReconciliationStatus, RecordAuditDeduction, RecordClearingObligation, ResolveClearingObjection,
)
from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.settlement import SettlementCompleted, SettlementReversed
from contracts.settlement_values import SlipDelta
from runtime.calendar import WorkingCalendar, business_date
from runtime.failures import PoisonMessage
from runtime.service import Service
from services.clearing import domain, query
from services.clearing.domain import (
    ClearingLedger, LedgerEntry, PeriodClosed, declaration, objection, obligations, reconciliation, views,
)
from services.clearing.domain import report as tables
from services.clearing.domain.ledger import after_year_close
from services.clearing.metrics import ClearingMetrics
from services.outcome import Decision, deadline
from services.wiring import Aggregates, Archive, Handler, request_of

ISSUE_NOTICE = "issue_notice"
ISSUE_ROLLUP = "issue_rollup"


class Rollups(BaseModel):
    """A province's roll-up reports of one month, issued (the ``rollups`` aggregate, keyed ``province:month``)."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    report_ids: tuple[str, ...] = ()


class ClearingHandlers:
    def __init__(self, service: Service, calendar: WorkingCalendar) -> None:
        self.svc, self.calendar = service, calendar
        self.ledgers = Aggregates(service.store, "ledgers", ClearingLedger, refusals=(ValueError,))
        self.notices = Aggregates(service.store, "notices", obligations.NoticeState,
                                  refusals=(obligations.ObligationRefused,))
        self.reconciliations = Aggregates(service.store, "reconciliations", reconciliation.Reconciliation,
                                          refusals=(reconciliation.ReconciliationRefused,))
        self.declarations = Aggregates(service.store, "declarations", declaration.Declaration,
                                       refusals=(declaration.DeclarationRefused,))
        self.closes = Aggregates(service.store, "reconciliation_closes", reconciliation.MonthClose)
        self.rollups = Aggregates(service.store, "rollups", Rollups)                                 # C-01
        self.archive = Archive(service.store, "entries")   # every line, one document each (M-03)
        self._archive_indexed = False
        self.refused_deductions = Counter("yidi_clearing_deductions_refused_total",
                                          "Audit deductions refused by R-04 checks", registry=service.registry)
        service.add_query(query.PATH, self._report, summary="C-04: a region's clearing tables (附件15-1..16-1)",
                          params=query.REPORT_PARAMS, required=("region", "month", "at"), formats=("json", "xlsx", "csv"))
        service.add_query(query.PERIODS_PATH, self._periods, summary=(
            "C-02..C-05, C-07: every clearing period of a region: state, deadlines, receivable and payable, "
            "confirmations and objections per side"), params=query.PERIODS_PARAMS, required=("region", "at"))
        service.add_query(query.MISMATCHES_PATH, self._mismatches, summary=(
            "R-01/R-02: a region's reconciliation mismatches, line by line with the settlements involved"),
            params=query.MISMATCHES_PARAMS, required=("region", "at"))
        self.after_year_close = Counter("yidi_clearing_after_year_close_total",
                                        "C-06: settlements and refunds cleared after their year's first quarter",
                                        registry=service.registry)
        self.entries = Counter("yidi_clearing_entries_total", "Ledger lines recorded, by kind",
                               ["kind"], registry=service.registry)
        self.metrics = ClearingMetrics(service)

    # ------------------------------------------------------------ settlements in (C-04, S-15)
    async def settlement_completed(self, env: Envelope[SettlementCompleted]) -> str:
        s = env.payload
        amounts = FundAmounts(insurance_type=s.insurance_type,
                              funds={f.code: f.amount for f in s.slip.funds if f.amount > 0})
        entry = LedgerEntry(
            settlement_id=s.settlement_id, kind=EntryKind.SETTLEMENT, insured_region=s.insured_region,
            treating_region=s.treating_region, amounts=amounts, business_day=s.settled_on)
        return await self._record(env, entry, domain.home_month(entry.business_day),
                                  archived={"institution_code": s.institution_code,   # match by these
                                            "medical_type": s.medical_type.value,
                                            "settled_month": s.settled_on.strftime("%Y-%m")})

    async def settlement_reversed(self, env: Envelope[SettlementReversed]) -> str:
        r = env.payload.root
        entry = LedgerEntry(
            settlement_id=r.settlement_id, kind=EntryKind.REFUND, ref=r.reversal_id, insured_region=r.insured_region,
            treating_region=r.treating_region, amounts=_taken_back(r.insurance_type, r.compensation),
            business_day=r.reversed_on)
        return await self._record(env, entry, domain.home_month(entry.business_day))

    async def audit_deduction(self, env: Envelope[RecordAuditDeduction]) -> str:
        """R-04/R-05: checked against the archived lines of the settlement it names (refused to the
        sender with the reason), then recorded in the period of the 21st run after its confirmation
        (receipt time; by the 16th: this month's) or the first later one not generated."""
        d = env.payload
        entry = LedgerEntry(
            settlement_id=d.settlement_id, kind=EntryKind.AUDIT_DEDUCTION, ref=d.deduction_id,
            insured_region=d.insured_region, treating_region=d.treating_region, amounts=d.amounts,
            business_day=business_date(d.decided_at), corrects=d.corrects or "")
        if await self.archive.has(str(entry.entry_id)):
            return "duplicate"
        history = [_archived(doc) for doc in await self._archived_lines({"settlement_id": d.settlement_id})]
        try:
            entry = domain.check_deduction(entry, history)
        except domain.AuditRefused as exc:
            self.refused_deductions.inc()
            raise PoisonMessage("refused_by_rule", f"AuditRefused: {exc}") from exc
        return await self._record(env, entry, domain.audit_month(self.svc.clock.now()))

    async def _record(self, env: Envelope, entry: LedgerEntry, month: str, archived: dict | None = None) -> str:
        """Route the entry to its clearing month: ``month`` (the home month; a deduction's audit
        month), or the first later month still open — a ledger not generated yet, or a pair without
        a ledger in a month whose 21st has not come (R-03 late declarations, R-05, S-15 refunds
        after clearing). A late entry never opens a ledger in a generated month (C-02)."""
        if await self.archive.has(str(entry.entry_id)):
            return "duplicate"
        now = self.svc.clock.now()
        doc, ledger = await self.ledgers.load_document(self._key(month, entry))
        while not domain.open_for_entries(ledger, month, self.calendar, now):
            if ledger is not None and ledger.contains(entry):   # recorded before its period closed
                return "duplicate"
            month = domain.next_month(month)
            doc, ledger = await self.ledgers.load_document(self._key(month, entry))

        def decide(state: ClearingLedger | None) -> Decision:
            ledger = state or domain.new_ledger(month, entry.insured_region, entry.treating_region)
            outcome = domain.record_entry(ledger, entry, self.calendar, now)
            if not ledger.entry_count:   # a new ledger: its regions' month-end notices are due too (C-02)
                outcome.deadlines.extend(self._notice_deadlines(month, entry))
                if entry.kind is EntryKind.SETTLEMENT:     # and the insured place's close of its month
                    outcome.deadlines.append(reconciliation.close_deadline(
                        entry.insured_region, entry.business_day.strftime("%Y-%m"), self.calendar))
            return outcome
        try:
            result = await self.ledgers.apply(env, self._key(month, entry), decide, loaded=doc)
        except PeriodClosed:       # generated between our look and our write: route again
            return await self._record(env, entry, month)
        if ledger is None:
            self.metrics.changed()          # a new period of the pair (C-02)
        await self._archive(entry, month, archived or {})
        self.entries.labels(entry.kind.value).inc()
        if result != "duplicate" and entry.kind is not EntryKind.AUDIT_DEDUCTION:
            self.metrics.observe_lag(env.occurred_at)
        if result != "duplicate" and after_year_close(entry, month):
            self.after_year_close.inc()
        return result

    async def _archive(self, entry: LedgerEntry, month: str, extra: dict) -> None:
        """Every line is kept, one document each, for audit (M-03); the ledger keeps only sums."""
        line = {"ledger": self._key(month, entry), "clearing_month": month, **extra,
                **entry.model_dump(mode="json"), "recorded_at": self.svc.clock.now()}
        await self.archive.keep(str(entry.entry_id), line)

    def _notice_deadlines(self, month: str, entry: LedgerEntry) -> list:
        """The pair's regions' month-end notices (C-02), and the roll-ups of their provinces (C-01)."""
        at = domain.period_calendar(month, self.calendar).notice_at
        regions = (entry.insured_region, entry.treating_region)
        provinces = sorted({tables.province_of(r) for r in regions} - set(regions))
        return [*(deadline("clearing", ISSUE_NOTICE, _notice_key(region, month), at, "C-02", self.calendar.source)
                  for region in regions),
                *(deadline("clearing", ISSUE_ROLLUP, _notice_key(province, month), at, "C-01", self.calendar.source)
                  for province in provinces if tables.is_rolled_up_province(province))]

    @staticmethod
    def _key(month: str, entry: LedgerEntry) -> str:
        return domain.ledger_key(month, entry.insured_region, entry.treating_region)

    # ------------------------------------------------------------ agency commands (C-02)
    async def confirm_period(self, env: Envelope[ConfirmClearingPeriod]) -> str:
        return await self._on_ledger(env, lambda ledger, now: domain.confirm(ledger, env.payload, now))

    async def object_period(self, env: Envelope[ObjectClearingPeriod]) -> str:
        """C-02: one side does not confirm (by the 25th); its side is held until resolved."""
        return await self._on_ledger(env, lambda ledger, now: objection.object_to(ledger, env.payload, env.sender, now))

    async def resolve_objection(self, env: Envelope[ResolveClearingObjection]) -> str:
        return await self._on_ledger(env, lambda ledger, now: objection.resolve(ledger, env.payload, env.sender, now))

    async def _on_ledger(self, env: Envelope, decide: Callable[[ClearingLedger, datetime], Decision[ClearingLedger]]) -> str:
        """An agency's command on one pair's clearing month: load its ledger (which must exist),
        decide, store."""
        c = env.payload
        key = domain.ledger_key(c.clearing_month, c.insured_region, c.treating_region)
        result = await self.ledgers.apply(env, key, lambda ledger: decide(_exists(ledger, key), self.svc.clock.now()))
        self.metrics.changed()
        return result

    # ------------------------------------------------------------ deadlines (C-02, C-03)
    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        result = await self._deadline(env)
        self.metrics.changed()
        return result

    def _counted(self, decide, what: str):
        """``decide`` whose written outcome's breaches are counted (the last run is the one stored)."""
        last: list = []

        def run(state):
            out = decide(state)
            last[:] = [out]
            return out

        async def count(result: str) -> str:
            if result != "duplicate" and last and last[0] is not None:
                late = [e for e in last[0].events if isinstance(e, ClearingObligationBreached) or (
                    isinstance(e, ReconciliationChecked) and e.status is ReconciliationStatus.OVERDUE)]
                if late:
                    self.metrics.breaches.labels(what).inc(len(late))
            return result
        return run, count

    async def _deadline(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload
        now = self.svc.clock.now()
        if due.kind == ISSUE_NOTICE:
            return await self._issue_notice(env, due, now)
        if due.kind == ISSUE_ROLLUP:
            return await self._issue_rollup(env, due, now)
        if due.kind == reconciliation.RECONCILIATION_DUE:
            institution, day = due.subject.split(":")
            settled = await self._settled(institution, date.fromisoformat(day))
            run, count = self._counted(lambda state: reconciliation.fell_due(
                state, request_of(due, "clearing"), settled, self.calendar, now) if state else None, "reconciliation")
            return await count(await self.reconciliations.apply(env, due.subject, run))
        if due.kind == reconciliation.MONTH_CLOSE:
            return await self._close_month(env, due, now)
        if due.kind == obligations.OBLIGATION_DUE:
            run, count = self._counted(lambda state: obligations.fell_due(
                state, request_of(due, "clearing"), self.calendar, now) if state else None, due.ref or "obligation")
            return await count(await self.notices.apply(env, due.subject, run))
        return await self.ledgers.apply(env, due.subject, lambda ledger: domain.deadline_fired(
            _exists(ledger, due.subject), request_of(due, "clearing"), self.calendar, now))

    async def _issue_notice(self, env: Envelope[DeadlineDue], due: DeadlineDue, now) -> str:
        region, month = due.subject.split(":")
        ledgers = await self._ledgers_of(month)
        notice = domain.issue_notice(region, month, ledgers, self.calendar, now)
        reports = domain.issue_reports(region, month, ledgers, now)    # C-04: the tables with the notice
        state, deadlines = obligations.start(notice, self.calendar)    # C-03 / C-07 from the notice on
        return await self.notices.apply(env, due.subject, lambda stored: None if stored else Decision(
            state, [notice, *reports], deadlines))

    async def _issue_rollup(self, env: Envelope[DeadlineDue], due: DeadlineDue, now) -> str:
        """C-01: a province's roll-ups (附件14, 附件17) at month end, as events. A province that is itself party to
        a ledger that month has them in its own reports, issued with its notice."""
        province, month = due.subject.split(":")
        ledgers = await self._ledgers_of(month)
        if any(province in (lg.insured_region, lg.treating_region) for lg in ledgers):
            return "with its notice"
        reports = domain.issue_reports(province, month, ledgers, now)
        return await self.rollups.apply(env, due.subject, lambda stored: None if stored else Decision(
            Rollups(report_ids=tuple(str(r.report_id) for r in reports)), reports, []))

    # ------------------------------------------------------------ daily reconciliation
    async def daily_reconciliation(self, env: Envelope[DailyReconciliation]) -> str:
        return await self._reconcile(env, reconciliation.check)

    async def insured_daily_totals(self, env: Envelope[InsuredDailyTotals]) -> str:
        """R-01: the insured place's record of the day, the third party of the reconciliation."""
        return await self._reconcile(env, reconciliation.insured_reported)

    async def _reconcile(self, env: Envelope, decide) -> str:
        """A report of one institution's day: load its reconciliation and what the platform settled
        that day there, decide, store (R-01, R-02)."""
        c = env.payload
        settled = await self._settled(c.institution_code, c.day)
        now = self.svc.clock.now()
        result = await self.reconciliations.apply(env, reconciliation.key(c.institution_code, c.day), lambda state:
                                                decide(state, c, settled, self.calendar, now))
        self.metrics.changed()
        return result

    async def _close_month(self, env: Envelope[DeadlineDue], due: DeadlineDue, now) -> str:
        """R-01: the insured region's last month closed at the end of the 3rd, with what is still open."""
        region, month = due.subject.split(":")
        days = {(doc["institution_code"], date.fromisoformat(doc["business_day"])) for doc in await self._archived_lines(
            {"kind": EntryKind.SETTLEMENT.value, "insured_region": region, "settled_month": month})}
        found = self.svc.db["reconciliations"].find({"state.insured_regions": region,
                                                     "state.day": {"$gte": f"{month}-01", "$lte": f"{month}-31"}})
        recs = [reconciliation.Reconciliation.model_validate(doc["state"]) async for doc in found]
        return await self.closes.apply(env, due.subject, lambda state: reconciliation.close_month(
            state, region, month, days, recs, request_of(due, "clearing"), now))

    async def _settled(self, institution: str, day) -> list[reconciliation.Settled]:
        """The treating place's record of an institution's day: the settlements clearing archived."""
        lines = await self._archived_lines(
            {"kind": EntryKind.SETTLEMENT.value, "institution_code": institution, "business_day": day.isoformat()})
        return reconciliation.settled_lines(lines)

    async def _archived_lines(self, query: dict) -> list[dict]:
        """Archived lines matching ``query`` (R-02, R-03, R-04), on indexes made once per process."""
        entries = self.svc.db[self.archive.collection]
        if not self._archive_indexed:
            for keys in (["settlement_id"], ["kind", "institution_code", "business_day"],
                         ["kind", "institution_code", "settled_month"], ["kind", "insured_region", "settled_month"]):
                await entries.create_index([(k, 1) for k in keys])
            self._archive_indexed = True
        return [doc async for doc in entries.find(query)]

    # ------------------------------------------------------------ monthly declaration
    async def monthly_declaration(self, env: Envelope[MonthlyDeclaration]) -> str:
        c = env.payload
        archived = await self._archived_lines(
            {"kind": EntryKind.SETTLEMENT.value, "institution_code": c.institution_code, "settled_month": c.month})
        platform = declaration.platform_lines(archived)
        now = self.svc.clock.now()
        return await self.declarations.apply(env, declaration.key(c.institution_code, c.month), lambda state:
                                             declaration.declare(state, c, platform, now))

    # ------------------------------------------------------------ after the notice (C-03, C-07)
    async def record_obligation(self, env: Envelope[RecordClearingObligation]) -> str:
        c = env.payload
        key = _notice_key(c.region, c.clearing_month)
        now = self.svc.clock.now()

        def decide(state: obligations.NoticeState | None) -> Decision:
            if state is None:
                raise obligations.ObligationRefused(f"C-03: no notice of {c.region} for {c.clearing_month} yet")
            return obligations.record(state, c, self.calendar, now)
        return await self.notices.apply(env, key, decide)

    async def _ledgers_of(self, month: str) -> list[ClearingLedger]:
        return [ClearingLedger.model_validate(doc["state"]) async for doc in self.svc.db["ledgers"].find(
            {"state.clearing_month": month})]

    # ------------------------------------------------------------ query API: periods and mismatches
    async def _periods(self, signed) -> tuple[bytes, str, str]:
        """C-02..C-05, C-07: every period of a region, for an agency that speaks for it."""
        q = query.checked_region(signed, self.svc.parties)
        where: dict = {"$or": [{"state.insured_region": q.region}, {"state.treating_region": q.region}]}
        if q.since:
            where["state.clearing_month"] = {"$gte": q.since}
        ledgers = [ClearingLedger.model_validate(doc["state"]) async for doc in self.svc.db["ledgers"].find(where)]
        notices = {doc["state"]["notice"]["clearing_month"]: obligations.NoticeState.model_validate(doc["state"])
                   async for doc in self.svc.db["notices"].find({"state.notice.region": q.region})}
        answer = ClearingPeriodsAnswer(region=q.region, as_of=self.svc.clock.now(),
                                       periods=views.period_views(q.region, ledgers, notices, self.calendar))
        return answer.model_dump_json().encode(), query.FORMATS["json"], f"clearing-periods-{q.region}.json"

    async def _mismatches(self, signed) -> tuple[bytes, str, str]:
        """R-01/R-02: the region's reconciliation mismatches, for an agency that speaks for it."""
        q = query.checked_region(signed, self.svc.parties)
        found = self.svc.db["reconciliations"].find({
            "state.status": {"$in": ["mismatched", "overdue", "resolved"]},
            "$or": [{"state.treating_region": q.region}, {"state.insured_regions": q.region}]})
        recs = [reconciliation.Reconciliation.model_validate(doc["state"]) async for doc in found]
        answer = MismatchesAnswer(region=q.region, status=q.status, as_of=self.svc.clock.now(),
                                  mismatches=views.mismatch_views(q.region, recs, q.status))
        return answer.model_dump_json().encode(), query.FORMATS["json"], f"clearing-mismatches-{q.region}.json"

    # ------------------------------------------------------------ query API (C-04): the tables over HTTP
    async def _report(self, signed) -> tuple[bytes, str, str]:
        """C-04: a region's clearing tables (JSON, XLSX, one table as CSV) for an agency that speaks
        for it, the request signed with the agency's key (services/clearing/query.py)."""
        q = query.checked(signed, self.svc.parties)
        reports = [r for r in domain.issue_reports(q.region, q.month, await self._ledgers_of(q.month),
                                                   self.svc.clock.now()) if r.scope == q.scope]
        if not reports:
            raise query.QueryRefused(404, f"no generated {q.scope} clearing of {q.region} in {q.month}")
        body, name = self._rendered(reports[0], q)
        return body, query.FORMATS[q.format], name

    @staticmethod
    def _rendered(report, q) -> tuple[bytes, str]:
        stem = f"clearing-{q.region}-{q.month}-{q.scope}"
        if q.format == "xlsx":
            return domain.to_xlsx(report), f"{stem}.xlsx"
        if q.format == "csv":
            table = next((t for t in report.tables if t.code == q.table), None)
            if table is None:
                raise query.QueryRefused(404, f"no table {q.table}: {[t.code for t in report.tables]}")
            return domain.to_csv(table).encode("utf-8"), f"{stem}-{table.code.removeprefix('附件')}.csv"
        return report.model_dump_json().encode(), f"{stem}.json"




def _notice_key(region: str, month: str) -> str:
    return f"{region}:{month}"


def _archived(doc: dict) -> LedgerEntry:
    """An archived line as the domain sees it (lines archived before corrections existed load too)."""
    return LedgerEntry.model_validate({k: doc[k] for k in LedgerEntry.model_fields if k in doc})


def _exists(ledger: ClearingLedger | None, key: str) -> ClearingLedger:
    if ledger is None:
        raise ValueError(f"no clearing ledger {key}")
    return ledger


def _taken_back(insurance_type, delta: SlipDelta) -> FundAmounts:
    """A reversal's fund deltas are negative; the ledger records them as a refund line (sign −1)."""
    return FundAmounts(insurance_type=insurance_type,
                       funds={f.code: -f.amount for f in delta.funds if f.amount < Decimal("0.00")})


def registry(service: Service, calendar: WorkingCalendar) -> dict[str, Handler]:
    """Who handles each topic the clearing service consumes (``contracts/registry.py``): one handler each."""
    h = ClearingHandlers(service, calendar)
    return {
        "settlement.completed.v1": h.settlement_completed,
        "settlement.reversed.v1": h.settlement_reversed,
        "clearing.record-audit-deduction.v1": h.audit_deduction,
        "clearing.confirm-period.v1": h.confirm_period,
        "clearing.object-period.v1": h.object_period,
        "clearing.resolve-objection.v1": h.resolve_objection,
        "clearing.insured-daily-totals.v1": h.insured_daily_totals,
        "clearing.deadline-due.v1": h.deadline_due,
        "clearing.record-obligation.v1": h.record_obligation,
        "his.daily-reconciliation.v1": h.daily_reconciliation,
        "his.monthly-declaration.v1": h.monthly_declaration,
    }

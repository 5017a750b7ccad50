"""Clearing 清算: which topic is handled by which function (the registry is ``HANDLERS``)."""
from __future__ import annotations


from datetime import date
from decimal import Decimal


from prometheus_client import Counter

from contracts.clearing import (
    ConfirmClearingPeriod, DailyReconciliation, EntryKind, FundAmounts, MonthlyDeclaration, RecordAuditDeduction,
    RecordClearingObligation,
)
from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.settlement import SettlementCompleted, SettlementReversed, SlipDelta
from runtime.calendar import WorkingCalendar, business_date
from runtime.service import PoisonMessage, Service
from services.clearing import domain, query
from services.clearing.domain.ledger import after_year_close
from services.clearing.domain import ClearingLedger, LedgerEntry, PeriodClosed, declaration, obligations, reconciliation
from services.outcome import Outcome, deadline
from services.wiring import Aggregates, Archive, request_of

ISSUE_NOTICE = "issue_notice"


class ClearingHandlers:
    def __init__(self, service: Service, calendar: WorkingCalendar) -> None:
        self.svc, self.calendar = service, calendar
        self.ledgers = Aggregates(service, "ledgers", ClearingLedger, refusals=(ValueError,))
        self.notices = Aggregates(service, "notices", obligations.NoticeState,
                                  refusals=(obligations.ObligationRefused,))
        self.reconciliations = Aggregates(service, "reconciliations", reconciliation.Reconciliation,
                                          refusals=(reconciliation.ReconciliationRefused,))
        self.declarations = Aggregates(service, "declarations", declaration.Declaration,
                                       refusals=(declaration.DeclarationRefused,))
        self.archive = Archive(service, "entries")   # every line, one document each (M-03)
        self._archive_indexed = False
        self.refused_deductions = Counter("yidi_clearing_deductions_refused_total",
                                          "Audit deductions refused by R-04 checks", registry=service.registry)
        service.add_query(query.PATH, self._report)
        self.after_year_close = Counter("yidi_clearing_after_year_close_total",
                                        "C-06: settlements and refunds cleared after their year's first quarter",
                                        registry=service.registry)
        self.entries = Counter("yidi_clearing_entries_total", "Ledger lines recorded, by kind",
                               ["kind"], registry=service.registry)

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

        def decide(state: ClearingLedger | None) -> Outcome:
            ledger = state or domain.new_ledger(month, entry.insured_region, entry.treating_region)
            outcome = domain.record_entry(ledger, entry, self.calendar, now)
            if not ledger.entry_count:   # a new ledger: its regions' month-end notices are due too (C-02)
                outcome.deadlines.extend(self._notice_deadlines(month, entry))
            return outcome
        try:
            result = await self.ledgers.apply(env, self._key(month, entry), decide, loaded=doc)
        except PeriodClosed:       # generated between our look and our write: route again
            return await self._record(env, entry, month)
        await self._archive(entry, month, archived or {})
        self.entries.labels(entry.kind.value).inc()
        if result != "duplicate" and after_year_close(entry, month):
            self.after_year_close.inc()
        return result

    async def _archive(self, entry: LedgerEntry, month: str, extra: dict) -> None:
        """Every line is kept, one document each, for audit (M-03); the ledger keeps only sums."""
        line = {"ledger": self._key(month, entry), "clearing_month": month, **extra,
                **entry.model_dump(mode="json"), "recorded_at": self.svc.clock.now()}
        await self.archive.keep(str(entry.entry_id), line)

    def _notice_deadlines(self, month: str, entry: LedgerEntry) -> list:
        at = domain.period_calendar(month, self.calendar).notice_at
        return [deadline("clearing", ISSUE_NOTICE, _notice_key(region, month), at, "C-02", self.calendar.source)
                for region in (entry.insured_region, entry.treating_region)]

    @staticmethod
    def _key(month: str, entry: LedgerEntry) -> str:
        return domain.ledger_key(month, entry.insured_region, entry.treating_region)

    # ------------------------------------------------------------ agency commands (C-02)
    async def confirm_period(self, env: Envelope[ConfirmClearingPeriod]) -> str:
        c = env.payload
        key = domain.ledger_key(c.clearing_month, c.insured_region, c.treating_region)
        return await self.ledgers.apply(env, key, lambda ledger: domain.confirm(_exists(ledger, key), c, self.svc.clock.now()))

    # ------------------------------------------------------------ deadlines (C-02, C-03)
    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload
        now = self.svc.clock.now()
        if due.kind == ISSUE_NOTICE:
            return await self._issue_notice(env, due, now)
        if due.kind == reconciliation.RECONCILIATION_DUE:
            institution, day = due.subject.split(":")
            platform = await self._platform_totals(institution, date.fromisoformat(day))
            return await self.reconciliations.apply(env, due.subject, lambda state: reconciliation.fell_due(
                state, request_of(due, "clearing"), platform, self.calendar, now) if state else None)
        if due.kind == obligations.OBLIGATION_DUE:
            return await self.notices.apply(env, due.subject, lambda state: obligations.fell_due(
                state, request_of(due, "clearing"), self.calendar, now) if state else None)
        return await self.ledgers.apply(env, due.subject, lambda ledger: domain.deadline_fired(
            _exists(ledger, due.subject), request_of(due, "clearing"), self.calendar, now))

    async def _issue_notice(self, env: Envelope[DeadlineDue], due: DeadlineDue, now) -> str:
        region, month = due.subject.split(":")
        ledgers = await self._ledgers_of(month)
        notice = domain.issue_notice(region, month, ledgers, self.calendar, now)
        reports = domain.issue_reports(region, month, ledgers, now)    # C-04: the tables with the notice
        state, deadlines = obligations.start(notice, self.calendar)    # C-03 / C-07 from the notice on
        return await self.notices.apply(env, due.subject, lambda stored: None if stored else Outcome(
            state, [notice, *reports], deadlines))

    # ------------------------------------------------------------ daily reconciliation
    async def daily_reconciliation(self, env: Envelope[DailyReconciliation]) -> str:
        c = env.payload
        platform = await self._platform_totals(c.institution_code, c.day)
        now = self.svc.clock.now()
        return await self.reconciliations.apply(env, reconciliation.key(c.institution_code, c.day), lambda state:
                                                reconciliation.check(state, c, platform, self.calendar, now))

    async def _platform_totals(self, institution: str, day) -> reconciliation.Totals:
        lines = await self._archived_lines(
            {"kind": EntryKind.SETTLEMENT.value, "institution_code": institution, "business_day": day.isoformat()})
        return reconciliation.platform_totals(lines)

    async def _archived_lines(self, query: dict) -> list[dict]:
        """Archived lines matching ``query`` (R-02, R-03, R-04), on indexes made once per process."""
        entries = self.svc.db[self.archive.collection]
        if not self._archive_indexed:
            for keys in (["settlement_id"], ["kind", "institution_code", "business_day"],
                         ["kind", "institution_code", "settled_month"]):
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

        def decide(state: obligations.NoticeState | None) -> Outcome:
            if state is None:
                raise obligations.ObligationRefused(f"C-03: no notice of {c.region} for {c.clearing_month} yet")
            return obligations.record(state, c, self.calendar, now)
        return await self.notices.apply(env, key, decide)

    async def _ledgers_of(self, month: str) -> list[ClearingLedger]:
        return [ClearingLedger.model_validate(doc["state"]) async for doc in self.svc.db["ledgers"].find(
            {"state.clearing_month": month})]

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

    def registry(self) -> dict:
        return {
            "settlement.completed.v1": self.settlement_completed,
            "settlement.reversed.v1": self.settlement_reversed,
            "clearing.record-audit-deduction.v1": self.audit_deduction,
            "clearing.confirm-period.v1": self.confirm_period,
            "clearing.deadline-due.v1": self.deadline_due,
            "clearing.record-obligation.v1": self.record_obligation,
            "his.daily-reconciliation.v1": self.daily_reconciliation,
            "his.monthly-declaration.v1": self.monthly_declaration,
        }



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




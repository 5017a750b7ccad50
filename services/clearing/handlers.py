"""Clearing 清算: which topic is handled by which function (the registry is ``registry()``, at the bottom).

Every handler reads what the rules need (the archived lines, the month's ledgers, the reconciliations:
``adapters.ClearingReads``; the time: ``now``), has the pure ``domain/`` decide once and the store keep the
decision (state, messages and deadlines in one write); the metrics count what was stored afterwards. A
settlement, for example: :meth:`ClearingHandlers.settlement_completed` → the ledger of its clearing month
(``domain/ledger.py``, C-02/C-04) → the store → the ``entries`` archive (M-03) → ``metrics.py``. The query API
is ``query.py``'s.

(A little over 300 lines: clearing has the most topics of any service (entries, agency commands, five
kinds of deadline, reconciliation, declarations, obligations); each handler is a few lines of load →
decide → store, and one registry lists them all.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from contracts.clearing import (
    AnswerDeductionAppeal,
    AppealDeduction,
    AppealOutcome,
    ClearingObligationBreached,
    ConfirmClearingPeriod,
    DailyReconciliation,
    EntryKind,
    FundAmounts,
    InsuredDailyTotals,
    MonthlyDeclaration,
    ObjectClearingPeriod,
    ReconciliationChecked,
    ReconciliationStatus,
    RecordAuditDeduction,
    RecordClearingObligation,
    ResolveClearingObjection,
)
from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.settlement import SettlementCompleted, SettlementReversed
from contracts.settlement_values import SlipDelta
from runtime.calendar import WorkingCalendar, business_date
from runtime.failures import NotYet, PoisonMessage
from services.clearing import domain
from services.clearing.adapters import ClearingReads
from services.clearing.domain import (
    ClearingLedger,
    LedgerEntry,
    PeriodClosed,
    appeal,
    declaration,
    objection,
    obligations,
    reconciliation,
)
from services.clearing.domain import report as tables
from services.clearing.domain.ledger import after_year_close
from services.clearing.metrics import ClearingMetrics
from services.outcome import Decision, deadline
from services.wiring import Aggregates, Archive, Handler, Now, Store, request_of, sender_of

ISSUE_NOTICE = "issue_notice"
ISSUE_ROLLUP = "issue_rollup"


class Rollups(BaseModel):
    """A province's roll-up reports of one month, issued (the ``rollups`` aggregate, keyed ``province:month``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    report_ids: tuple[str, ...] = ()


class ClearingHandlers:
    """The clearing service's handlers: the pair ledgers of a month (C-02, C-04, R-04/R-05), the notices and the
    steps after them (C-03, C-07), the institutions' reconciliations and declarations (R-01..R-03), the
    province roll-ups (C-01), each decided in ``domain/`` and kept by the store."""

    def __init__(
        self, store: Store, *, now: Now, calendar: WorkingCalendar, reads: ClearingReads, metrics: ClearingMetrics
    ) -> None:
        self.now, self.calendar, self.reads, self.metrics = now, calendar, reads, metrics
        self.ledgers = Aggregates(store, "ledgers", ClearingLedger, refusals=(ValueError,))
        self.notices = Aggregates(store, "notices", obligations.NoticeState, refusals=(obligations.ObligationRefused,))
        self.reconciliations = Aggregates(
            store, "reconciliations", reconciliation.Reconciliation, refusals=(reconciliation.ReconciliationRefused,)
        )
        self.declarations = Aggregates(
            store, "declarations", declaration.Declaration, refusals=(declaration.DeclarationRefused,)
        )
        self.closes = Aggregates(store, "reconciliation_closes", reconciliation.MonthClose)
        self.rollups = Aggregates(store, "rollups", Rollups)  # C-01
        self.appeals = Aggregates(store, "appeals", appeal.Appeal, refusals=(appeal.AppealRefused,))
        self.archive = Archive(store, "entries")  # every line, one document each (M-03)

    # ------------------------------------------------------------ settlements in (C-04, S-15)
    async def settlement_completed(self, env: Envelope[SettlementCompleted]) -> str:
        s = env.payload
        amounts = FundAmounts(
            insurance_type=s.insurance_type, funds={f.code: f.amount for f in s.slip.funds if f.amount > 0}
        )
        entry = LedgerEntry(
            settlement_id=s.settlement_id,
            kind=EntryKind.SETTLEMENT,
            insured_region=s.insured_region,
            treating_region=s.treating_region,
            amounts=amounts,
            business_day=s.settled_on,
        )
        return await self._record(
            env,
            entry,
            domain.home_month(entry.business_day),
            archived={
                "institution_code": s.institution_code,  # match by these
                "medical_type": s.medical_type.value,
                "settled_month": s.settled_on.strftime("%Y-%m"),
                # the institution's day as it sees it (R-01/R-02 query)
                "total": str(s.slip.total),
                "personal_cash": str(s.slip.personal_cash),
            },
        )

    async def settlement_reversed(self, env: Envelope[SettlementReversed]) -> str:
        r = env.payload.root
        entry = LedgerEntry(
            settlement_id=r.settlement_id,
            kind=EntryKind.REFUND,
            ref=r.reversal_id,
            insured_region=r.insured_region,
            treating_region=r.treating_region,
            amounts=_taken_back(r.insurance_type, r.compensation),
            business_day=r.reversed_on,
        )
        return await self._record(
            env, entry, domain.home_month(entry.business_day), archived={"institution_code": r.institution_code}
        )  # C-07: what it is owed

    async def audit_deduction(self, env: Envelope[RecordAuditDeduction]) -> str:
        """R-04/R-05: checked against the archived lines of the settlement it names (refused to the
        sender with the reason), then recorded in the period of the 21st run after its confirmation
        (receipt time; by the 16th: this month's) or the first later one not generated."""
        d = env.payload
        entry = LedgerEntry(
            settlement_id=d.settlement_id,
            kind=EntryKind.AUDIT_DEDUCTION,
            ref=d.deduction_id,
            insured_region=d.insured_region,
            treating_region=d.treating_region,
            amounts=d.amounts,
            business_day=business_date(d.decided_at),
            corrects=d.corrects or "",
        )
        if await self.archive.has(str(entry.entry_id)):
            return "duplicate"
        docs = await self.reads.lines_of_settlement(d.settlement_id)
        try:
            entry = domain.check_deduction(entry, [_archived(doc) for doc in docs])
        except domain.AuditRefused as exc:
            self.metrics.refused_deductions.inc()
            raise PoisonMessage("refused_by_rule", f"AuditRefused: {exc}") from exc
        return await self._record(
            env,
            entry,
            # by the audit day of the region that audits the pair (R-04: Wuhu its intra-province costs, by the 20th)
            domain.audit_month(
                self.now(),
                domain.auditor_region(str(d.insured_region), str(d.treating_region), entry.business_day),
            ),
            archived={"institution_code": _institution_of(docs), "reason": d.reason},
        )

    async def _record(self, env: Envelope, entry: LedgerEntry, month: str, archived: dict | None = None) -> str:
        """Route the entry to its clearing month: ``month`` (the home month; a deduction's audit
        month), or the first later month still open — a ledger not generated yet, or a pair without
        a ledger in a month whose 21st has not come (R-03 late declarations, R-05, S-15 refunds
        after clearing). A late entry never opens a ledger in a generated month (C-02)."""
        if await self.archive.has(str(entry.entry_id)):
            return "duplicate"
        return (await self._recorded_in(env, entry, month, archived))[0]

    async def _recorded_in(
        self, env: Envelope, entry: LedgerEntry, month: str, archived: dict | None = None
    ) -> tuple[str, str]:
        """``_record``'s routing and write: the result and the clearing month the entry went to."""
        now = self.now()
        doc, ledger = await self.ledgers.load_document(self._key(month, entry))
        # receivable applications fixed early (C-02, 004 第四十四条) hold settlements and refunds, not deductions
        fixed = None if entry.kind is EntryKind.AUDIT_DEDUCTION else str(entry.treating_region)
        while not domain.open_for_entries(ledger, month, self.calendar, now, fixed):
            if ledger is not None and ledger.contains(entry):  # recorded before its period closed
                return "duplicate", month
            month = domain.next_month(month)
            doc, ledger = await self.ledgers.load_document(self._key(month, entry))

        def decide(state: ClearingLedger | None) -> Decision:
            ledger = state or domain.new_ledger(month, entry.insured_region, entry.treating_region)
            outcome = domain.record_entry(ledger, entry, self.calendar, now)
            if not ledger.entry_count:  # a new ledger: its regions' month-end notices are due too (C-02)
                outcome.deadlines.extend(self._notice_deadlines(month, entry))
                if entry.kind is EntryKind.SETTLEMENT:  # and the insured place's close of its month
                    outcome.deadlines.append(
                        reconciliation.close_deadline(
                            entry.insured_region, entry.business_day.strftime("%Y-%m"), self.calendar
                        )
                    )
            return outcome

        try:
            result = await self.ledgers.apply(env, self._key(month, entry), decide, loaded=doc)
        except PeriodClosed:  # generated between our look and our write: route again
            return await self._recorded_in(env, entry, month, archived)
        if ledger is None:
            self.metrics.changed()  # a new period of the pair (C-02)
        await self._archive(entry, month, archived or {})
        self.metrics.entries.labels(entry.kind.value).inc()
        if result != "duplicate" and entry.kind is not EntryKind.AUDIT_DEDUCTION:
            self.metrics.observe_lag(env.occurred_at)
        if result != "duplicate" and after_year_close(entry, month):
            self.metrics.after_year_close.inc()
        return result, month

    async def _archive(self, entry: LedgerEntry, month: str, extra: dict) -> None:
        """Every line is kept, one document each, for audit (M-03); the ledger keeps only sums."""
        line = {
            "ledger": self._key(month, entry),
            "clearing_month": month,
            **extra,
            **entry.model_dump(mode="json"),
            "recorded_at": self.now(),
        }
        await self.archive.keep(str(entry.entry_id), line)

    def _notice_deadlines(self, month: str, entry: LedgerEntry) -> list:
        """The pair's regions' month-end notices (C-02), and the roll-ups of their provinces (C-01)."""
        at = domain.period_calendar(month, self.calendar).notice_at
        regions = (entry.insured_region, entry.treating_region)
        provinces = sorted({tables.province_of(r) for r in regions} - set(regions))
        return [
            *(
                deadline("clearing", ISSUE_NOTICE, _notice_key(region, month), at, "C-02", self.calendar.source)
                for region in regions
            ),
            *(
                deadline("clearing", ISSUE_ROLLUP, _notice_key(province, month), at, "C-01", self.calendar.source)
                for province in provinces
                if tables.is_rolled_up_province(province)
            ),
        ]

    @staticmethod
    def _key(month: str, entry: LedgerEntry) -> str:
        return domain.ledger_key(month, entry.insured_region, entry.treating_region)

    # ------------------------------------------------------------ agency commands (C-02)
    async def confirm_period(self, env: Envelope[ConfirmClearingPeriod]) -> str:
        return await self._on_ledger(env, lambda ledger, now: domain.confirm(ledger, env.payload, now))

    async def object_period(self, env: Envelope[ObjectClearingPeriod]) -> str:
        """C-02: one side does not confirm (by the 25th); its side is held until resolved."""
        objector = sender_of(env)
        return await self._on_ledger(env, lambda ledger, now: objection.object_to(ledger, env.payload, objector, now))

    async def resolve_objection(self, env: Envelope[ResolveClearingObjection]) -> str:
        resolver = sender_of(env)
        return await self._on_ledger(env, lambda ledger, now: objection.resolve(ledger, env.payload, resolver, now))

    async def _on_ledger(
        self, env: Envelope, decide: Callable[[ClearingLedger, datetime], Decision[ClearingLedger]]
    ) -> str:
        """An agency's command on one pair's clearing month: load its ledger (which must exist),
        decide, store."""
        c = env.payload
        key = domain.ledger_key(c.clearing_month, c.insured_region, c.treating_region)
        result = await self.ledgers.apply(env, key, lambda ledger: decide(_exists(ledger, key), self.now()))
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
                late = [
                    e
                    for e in last[0].events
                    if isinstance(e, ClearingObligationBreached)
                    or (isinstance(e, ReconciliationChecked) and e.status is ReconciliationStatus.OVERDUE)
                ]
                if late:
                    self.metrics.breaches.labels(what).inc(len(late))
            return result

        return run, count

    async def _deadline(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload
        now = self.now()
        if due.kind == ISSUE_NOTICE:
            return await self._issue_notice(env, due, now)
        if due.kind == ISSUE_ROLLUP:
            return await self._issue_rollup(env, due, now)
        if due.kind == reconciliation.RECONCILIATION_DUE:
            institution, day = due.subject.split(":")
            settled = await self._settled(institution, date.fromisoformat(day))
            run, count = self._counted(
                lambda state: reconciliation.fell_due(state, request_of(due, "clearing"), settled, self.calendar, now)
                if state
                else None,
                "reconciliation",
            )
            return await count(await self.reconciliations.apply(env, due.subject, run))
        if due.kind == reconciliation.MONTH_CLOSE:
            return await self._close_month(env, due, now)
        if due.kind == obligations.OBLIGATION_DUE:
            run, count = self._counted(
                lambda state: obligations.fell_due(state, request_of(due, "clearing"), self.calendar, now)
                if state
                else None,
                due.ref or "obligation",
            )
            return await count(await self.notices.apply(env, due.subject, run))
        return await self.ledgers.apply(
            env,
            due.subject,
            lambda ledger: domain.deadline_fired(
                _exists(ledger, due.subject), request_of(due, "clearing"), self.calendar, now
            ),
        )

    async def _issue_notice(self, env: Envelope[DeadlineDue], due: DeadlineDue, now) -> str:
        region, month = due.subject.split(":")
        ledgers = await self.reads.ledgers_of(month)
        _generated(domain.generation_pending(month, ledgers))
        notice = domain.issue_notice(region, month, ledgers, self.calendar, now)
        reports = domain.issue_reports(region, month, ledgers, now)  # C-04: the tables with the notice
        state, deadlines = obligations.start(notice, self.calendar)  # C-03 / C-07 from the notice on
        return await self.notices.apply(
            env, due.subject, lambda stored: None if stored else Decision(state, [notice, *reports], deadlines)
        )

    async def _issue_rollup(self, env: Envelope[DeadlineDue], due: DeadlineDue, now) -> str:
        """C-01: a province's roll-ups (附件14, 附件17) at month end, as events. A province that is itself party to
        a ledger that month has them in its own reports, issued with its notice."""
        province, month = due.subject.split(":")
        ledgers = await self.reads.ledgers_of(month)
        if any(province in (lg.insured_region, lg.treating_region) for lg in ledgers):
            return "with its notice"
        _generated(domain.generation_pending(month, ledgers))
        reports = domain.issue_reports(province, month, ledgers, now)
        return await self.rollups.apply(
            env,
            due.subject,
            lambda stored: None
            if stored
            else Decision(Rollups(report_ids=tuple(str(r.report_id) for r in reports)), reports, []),
        )

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
        now = self.now()
        result = await self.reconciliations.apply(
            env,
            reconciliation.key(c.institution_code, c.day),
            lambda state: decide(state, c, settled, self.calendar, now),
        )
        self.metrics.changed()
        return result

    async def _close_month(self, env: Envelope[DeadlineDue], due: DeadlineDue, now) -> str:
        """R-01: the insured region's last month closed at the end of the 3rd, with what is still open."""
        region, month = due.subject.split(":")
        days = {
            (doc["institution_code"], date.fromisoformat(doc["business_day"]))
            for doc in await self.reads.settled_for_insured(region, month)
        }
        recs = await self.reads.reconciliations_of_month(region, month)
        return await self.closes.apply(
            env,
            due.subject,
            lambda state: reconciliation.close_month(
                state, region, month, days, recs, request_of(due, "clearing"), now
            ),
        )

    async def _settled(self, institution: str, day) -> list[reconciliation.Settled]:
        """The treating place's record of an institution's day: the settlements clearing archived."""
        return reconciliation.settled_lines(await self.reads.settled_on_day(institution, day))

    # ------------------------------------------------------------ monthly declaration
    async def monthly_declaration(self, env: Envelope[MonthlyDeclaration]) -> str:
        c = env.payload
        platform = declaration.platform_lines(await self.reads.settled_in_month(c.institution_code, c.month))
        now = self.now()
        return await self.declarations.apply(
            env,
            declaration.key(c.institution_code, c.month),
            lambda state: declaration.declare(state, c, platform, now),
        )

    # ------------------------------------------------------------ after the notice (C-03, C-07)
    async def record_obligation(self, env: Envelope[RecordClearingObligation]) -> str:
        c = env.payload
        key = _notice_key(c.region, c.clearing_month)
        now = self.now()

        def decide(state: obligations.NoticeState | None) -> Decision:
            if state is None:
                raise obligations.ObligationRefused(f"C-03: no notice of {c.region} for {c.clearing_month} yet")
            return obligations.record(state, c, self.calendar, now)

        return await self.notices.apply(env, key, decide)

    # ------------------------------------------------------------ appeals of deductions
    async def deduction_appealed(self, env: Envelope[AppealDeduction]) -> str:
        """R-04 申诉: checked against the archived deduction and its settlement (the institution's own, the
        record in force), then recorded once per deduction record."""
        c = env.payload
        try:
            record = appeal.appealable(c, await self.reads.lines_of_settlement(c.settlement_id))
        except appeal.AppealRefused as exc:
            raise PoisonMessage("refused_by_rule", f"AppealRefused: {exc}") from exc
        now = self.now()
        result = await self.appeals.apply(
            env, appeal.key(c.settlement_id, c.deduction_id), lambda state: appeal.lodge(state, c, record, now)
        )
        if result != "duplicate":
            self.metrics.appeals.labels("lodged").inc()
        return result

    async def answer_appeal(self, env: Envelope[AnswerDeductionAppeal]) -> str:
        """R-04: the treating place's answer. Withdrawn, the deduction is taken back first (a correction to
        nothing, in its own period while not generated, else the first open one: ``domain/appeal.py``), then
        the answer is recorded with the month the pay-back entered. A crash between the two finds the
        pay-back archived on redelivery and only records the answer."""
        c = env.payload
        key = appeal.key(c.settlement_id, c.deduction_id)
        stored = await self.appeals.load(key)
        if stored is not None and stored.answer_event == str(env.event_id):
            return "duplicate"
        try:
            current = appeal.check_answer(stored, c)
        except appeal.AppealRefused as exc:
            raise PoisonMessage("refused_by_rule", f"AppealRefused: {exc}") from exc
        paid_back_in = None
        if c.outcome is AppealOutcome.WITHDRAWN:
            paid_back_in = await self._pay_back(env, current, c.reason)
        answerer, now = sender_of(env), self.now()
        result = await self.appeals.apply(
            env, key, lambda state: appeal.answer(state, c, answerer, str(env.event_id), paid_back_in, now)
        )
        if result != "duplicate":
            self.metrics.appeals.labels(c.outcome.value).inc()
        return result

    async def _pay_back(self, env: Envelope, current: appeal.Appeal, why: str) -> str:
        """R-05: the withdrawal recorded in the ledgers (once); the clearing month it entered."""
        docs = await self.reads.lines_of_settlement(current.settlement_id)
        ref = f"{appeal.WITHDRAWAL_PREFIX}{current.appeal_id}"
        done = next((d for d in docs if d.get("kind") == EntryKind.AUDIT_DEDUCTION.value and d.get("ref") == ref), None)
        if done is not None:
            return str(done["clearing_month"])
        history = [_archived(doc) for doc in docs]
        entry = appeal.withdrawal(current, history, business_date(self.now()))
        try:
            entry = domain.check_deduction(entry, history)
        except domain.AuditRefused as exc:
            raise PoisonMessage("refused_by_rule", f"AuditRefused: {exc}") from exc
        corrected = next(
            d for d in docs if d.get("kind") == EntryKind.AUDIT_DEDUCTION.value and d.get("ref") == entry.corrects
        )
        # its own period while not generated (the deduction never reaches the figures), else the next open
        _, month = await self._recorded_in(
            env,
            entry,
            str(corrected["clearing_month"]),
            {
                "institution_code": current.institution_code,
                "reason": f"申诉撤销：{why}",
                "appeal_id": current.appeal_id,
            },
        )
        return month


def _institution_of(docs: list[dict]) -> str | None:
    """The institution of a settlement's archived lines (its settlement line names it)."""
    return next((d.get("institution_code") for d in docs if d.get("kind") == EntryKind.SETTLEMENT.value), None)


def _notice_key(region: str, month: str) -> str:
    return f"{region}:{month}"


def _archived(doc: dict) -> LedgerEntry:
    """An archived line as the domain sees it (lines archived before corrections existed load too)."""
    return LedgerEntry.model_validate({k: doc[k] for k in LedgerEntry.model_fields if k in doc})


def _generated(pending: list[str]) -> None:
    """C-02: a notice or roll-up is made of generated periods only; one still being generated
    (its deadline fell due with the notice's) is waited for, the message tried again."""
    if pending:
        raise NotYet(f"not generated yet: {', '.join(pending)}")


def _exists(ledger: ClearingLedger | None, key: str) -> ClearingLedger:
    if ledger is None:
        raise ValueError(f"no clearing ledger {key}")
    return ledger


def _taken_back(insurance_type, delta: SlipDelta) -> FundAmounts:
    """A reversal's fund deltas are negative; the ledger records them as a refund line (sign −1)."""
    return FundAmounts(
        insurance_type=insurance_type, funds={f.code: -f.amount for f in delta.funds if f.amount < Decimal("0.00")}
    )


def registry(
    store: Store, *, now: Now, calendar: WorkingCalendar, reads: ClearingReads, metrics: ClearingMetrics
) -> dict[str, Handler]:
    """Who handles each topic the clearing service consumes (``contracts/registry.py``): one handler each,
    given the store, the clock, the working calendar, what it reads besides its aggregates and the metrics
    (``app.py`` passes the runtime's)."""
    h = ClearingHandlers(store, now=now, calendar=calendar, reads=reads, metrics=metrics)
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
        "his.deduction-appealed.v1": h.deduction_appealed,
        "clearing.answer-appeal.v1": h.answer_appeal,
    }

"""Clearing 清算: which topic is handled by which function (the registry is ``HANDLERS``)."""
from __future__ import annotations


from decimal import Decimal

from prometheus_client import Counter
from pydantic import BaseModel

from contracts.clearing import ConfirmClearingPeriod, EntryKind, FundAmounts, RecordAuditDeduction
from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.settlement import SettlementCompleted, SettlementReversed, SlipDelta
from runtime.calendar import WorkingCalendar, business_date
from runtime.service import Service
from services.clearing import domain
from services.clearing.domain import ClearingLedger, LedgerEntry, PeriodClosed
from services.outcome import Outcome, deadline
from services.wiring import Aggregates, Archive, request_of

ISSUE_NOTICE = "issue_notice"


class ClearingHandlers:
    def __init__(self, service: Service, calendar: WorkingCalendar) -> None:
        self.svc, self.calendar = service, calendar
        self.ledgers = Aggregates(service, "ledgers", ClearingLedger, refusals=(ValueError,))
        self.notices = Aggregates(service, "notices", _NoticeState)
        self.archive = Archive(service, "entries")   # every line, one document each (M-03)
        self.entries = Counter("yidi_clearing_entries_total", "Ledger lines recorded, by kind",
                               ["kind"], registry=service.registry)

    # ------------------------------------------------------------ settlements in (C-04, S-15)
    async def settlement_completed(self, env: Envelope[SettlementCompleted]) -> str:
        s = env.payload
        amounts = FundAmounts(insurance_type=s.insurance_type,
                              funds={f.code: f.amount for f in s.slip.funds if f.amount > 0})
        return await self._record(env, LedgerEntry(
            settlement_id=s.settlement_id, kind=EntryKind.SETTLEMENT, insured_region=s.insured_region,
            treating_region=s.treating_region, amounts=amounts, business_day=s.settled_on))

    async def settlement_reversed(self, env: Envelope[SettlementReversed]) -> str:
        r = env.payload.root
        return await self._record(env, LedgerEntry(
            settlement_id=r.settlement_id, kind=EntryKind.REFUND, ref=r.reversal_id, insured_region=r.insured_region,
            treating_region=r.treating_region, amounts=_taken_back(r.insurance_type, r.compensation),
            business_day=r.reversed_on))

    async def audit_deduction(self, env: Envelope[RecordAuditDeduction]) -> str:
        d = env.payload
        return await self._record(env, LedgerEntry(
            settlement_id=d.settlement_id, kind=EntryKind.AUDIT_DEDUCTION, ref=d.deduction_id,
            insured_region=d.insured_region, treating_region=d.treating_region, amounts=d.amounts,
            business_day=business_date(d.decided_at)))

    async def _record(self, env: Envelope, entry: LedgerEntry) -> str:
        """Route the entry to its clearing month: the home month, or the first later month not
        yet generated (R-03 late declarations, R-05, S-15 refunds after clearing)."""
        if await self.archive.has(str(entry.entry_id)):
            return "duplicate"
        month = domain.home_month(entry.business_day)
        doc, ledger = await self.ledgers.load_document(self._key(month, entry))
        while ledger and ledger.status is not domain.PeriodStatus.OPEN:
            if ledger.contains(entry):   # recorded before its period closed
                return "duplicate"
            month = domain.next_month(month)
            doc, ledger = await self.ledgers.load_document(self._key(month, entry))
        now = self.svc.clock.now()

        def decide(state: ClearingLedger | None) -> Outcome:
            ledger = state or domain.new_ledger(month, entry.insured_region, entry.treating_region)
            outcome = domain.record_entry(ledger, entry, self.calendar, now)
            if not ledger.entry_count:   # a new ledger: its regions' month-end notices are due too (C-02)
                outcome.deadlines.extend(self._notice_deadlines(month, entry))
            return outcome
        try:
            result = await self.ledgers.apply(env, self._key(month, entry), decide, loaded=doc)
        except PeriodClosed:       # generated between our look and our write: route again
            return await self._record(env, entry)
        await self._archive(entry, month)
        self.entries.labels(entry.kind.value).inc()
        return result

    async def _archive(self, entry: LedgerEntry, month: str) -> None:
        """Every line is kept, one document each, for audit (M-03); the ledger keeps only sums."""
        line = {"ledger": self._key(month, entry), "clearing_month": month,
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
        return await self.ledgers.apply(env, due.subject, lambda ledger: domain.deadline_fired(
            _exists(ledger, due.subject), request_of(due, "clearing"), self.calendar, now))

    async def _issue_notice(self, env: Envelope[DeadlineDue], due: DeadlineDue, now) -> str:
        region, month = due.subject.split(":")
        ledgers = [ClearingLedger.model_validate(doc["state"]) async for doc in self.svc.db["ledgers"].find(
            {"state.clearing_month": month})]
        notice = domain.issue_notice(region, month, ledgers, self.calendar, now)
        return await self.notices.apply(env, due.subject, lambda state: None if state else Outcome(
            _NoticeState(notice=notice.model_dump(mode="json")), [notice], []))

    def registry(self) -> dict:
        return {
            "settlement.completed.v1": self.settlement_completed,
            "settlement.reversed.v1": self.settlement_reversed,
            "clearing.record-audit-deduction.v1": self.audit_deduction,
            "clearing.confirm-period.v1": self.confirm_period,
            "clearing.deadline-due.v1": self.deadline_due,
        }



class _NoticeState(BaseModel):
    notice: dict


def _notice_key(region: str, month: str) -> str:
    return f"{region}:{month}"


def _exists(ledger: ClearingLedger | None, key: str) -> ClearingLedger:
    if ledger is None:
        raise ValueError(f"no clearing ledger {key}")
    return ledger


def _taken_back(insurance_type, delta: SlipDelta) -> FundAmounts:
    """A reversal's fund deltas are negative; the ledger records them as a refund line (sign −1)."""
    return FundAmounts(insurance_type=insurance_type,
                       funds={f.code: -f.amount for f in delta.funds if f.amount < Decimal("0.00")})




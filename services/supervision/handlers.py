"""Fund supervision 基金监管: which topic is handled by which function (the registry is ``registry()``,
at the bottom).

A completed settlement (``settlement.completed.v1``, sealed to its readers) is counted once (the
``counted`` archive): its rules read the person's recent visits and the stays of its institution and
treating region (``domain.audit``, R-04); then it is added to its indicator cell (``domain.indicators``,
000 第七十八条), each hit is stored as a flag with its evidence, and the histories the next settlement
is compared against take it in. The person is kept only under their pseudonym, sealed at rest.

A stay's fee detail (``settlement.fee-detail.v1``, S-18) is audited once (the ``fee_details`` archive) by
the fee-line rules (``domain.fee_lines``): the person's sex and age are read from the ID number for that
check only, never stored. A cancel or refund (``settlement.reversed.v1``, S-15) is taken out of the cell its
settlement was counted in, once per ``reversal_id``; one that comes before its settlement is taken out as
the settlement is counted (``reversals``, one record per settlement: ``indicators.Reversals``)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from contracts.clearing import RecordAuditDeduction
from contracts.envelope import Envelope
from contracts.settlement import FeeDetailUploaded, SettlementCompleted, SettlementReversed
from contracts.supervision import APPEAL_WORKING_DAYS, AppealFlag, DecideAppeal, ReviewFlag, flag_of_deduction
from runtime.calendar import WorkingCalendar
from runtime.privacy import pseudonym
from runtime.store import Personal
from services.outcome import Decision
from services.supervision.adapters import CELLS, COUNTED, DETAILS, FLAGS, HISTORIES, PEERS, REVERSALS
from services.supervision.domain import audit, fee_lines, indicators, workflow
from services.supervision.domain.inputs import audited_fee_detail, audited_settlement, reversal, settled_visit
from services.supervision.domain.rules import RuleBase
from services.supervision.metrics import SupervisionMetrics
from services.wiring import Aggregates, Archive, Handler, Now, Store


class SupervisionHandlers:
    """The indicator cells, the flags and the histories the rules compare against, in ``store``."""

    def __init__(
        self, store: Store, *, now: Now, calendar: WorkingCalendar, rules: RuleBase, metrics: SupervisionMetrics
    ) -> None:
        self.now, self.calendar, self.rules, self.metrics = now, calendar, rules, metrics
        self.cells = Aggregates(store, CELLS, indicators.Cell)  # sums of many settlements: no person
        self.flags = Aggregates(
            store,
            FLAGS,
            audit.Flag,
            refusals=(ValueError,),
            personal=Personal(lambda s: s.get("insured_region"), keyed_by_person=False),
        )
        # a person's recent visits, stored under their pseudonym and sealed (003 §5 (三))
        self.histories = Aggregates(store, HISTORIES, audit.PersonHistory, personal=Personal())
        self.peers = Aggregates(store, PEERS, audit.Peers)  # stay totals of a group: no person
        self.counted = Archive(store, COUNTED)  # every settlement counted once (M-03)
        self.details = Archive(store, DETAILS)  # every fee detail audited once
        self.reversals = Aggregates(store, REVERSALS, indicators.Reversals)  # amounts and ids only: no person

    async def settlement_completed(self, env: Envelope[SettlementCompleted]) -> str:
        s = env.payload
        if await self.counted.has(s.settlement_id):
            return "duplicate"
        visit, audited = settled_visit(s), audited_settlement(s, pseudonym(str(s.person_id)))
        ctx = audit.Context(
            history=await self.histories.load(str(s.person_id)) or audit.PersonHistory(),
            institution_peers=await self.peers.load(_institution(audited)) or audit.Peers(),
            region_peers=await self.peers.load(_region(audited)) or audit.Peers(),
        )
        hits = audit.audit(audited, ctx, self.rules)
        await self.reversals.apply(
            env,
            s.settlement_id,
            lambda r: _maybe((r or indicators.Reversals()).counted(visit.cell_key, visit.bed_days)),
        )
        ledger = await self.reversals.load(s.settlement_id)
        early = ledger.early if ledger else []  # fixed once counted: later reversals go out on their own
        result = await self.cells.apply(env, visit.cell_key, lambda c: _kept(_counted(c, visit, early)))
        await self._raise(env, audited, hits)
        await self.histories.apply(env, str(s.person_id), lambda h: _kept((h or audit.PersonHistory()).plus(audited)))
        if audited.is_stay:
            for key in (_institution(audited), _region(audited)):
                await self.peers.apply(env, key, lambda p: _kept((p or audit.Peers()).plus(audited)))
        counted = {"cell": visit.cell_key, "bed_days": visit.bed_days, "flags": [h.rule_id for h in hits]}
        await self.counted.keep(s.settlement_id, counted)
        if result == "applied":
            self.metrics.settlements.inc()
        return result

    async def fee_detail_uploaded(self, env: Envelope[FeeDetailUploaded]) -> str:
        """The fee-line rules on a stay's detail (R-04); each hit a flag with its evidence."""
        d = env.payload
        if await self.details.has(d.settlement_id):
            return "duplicate"
        detail = audited_fee_detail(d, pseudonym(str(d.person_id)))
        # sex and age from the ID number, for this check only: never stored, never logged
        hits = fee_lines.audit_lines(detail, fee_lines.person_of(str(d.person_id)), self.rules)
        await self._raise(env, detail.settlement, hits)
        await self.details.keep(d.settlement_id, {"flags": [h.rule_id for h in hits]})
        return "applied"

    async def settlement_reversed(self, env: Envelope[SettlementReversed]) -> str:
        """A cancel or refund (S-15) out of its settlement's cell once; before its settlement, with it."""
        r = reversal(env.payload)
        late = again = False

        def decide(ledger: indicators.Reversals | None) -> Decision | None:
            nonlocal late, again
            ledger = ledger or indicators.Reversals()
            after = ledger.plus(r)
            late, again = after is not None and ledger.cell is not None, after is None
            return _maybe(after)

        result = await self.reversals.apply(env, r.settlement_id, decide)
        if again:  # another copy of a reversal already taken in
            return "duplicate"
        ledger = await self.reversals.load(r.settlement_id)
        if result == "duplicate":  # this very message again: finish its step on the cell (the cell drops a copy)
            late = ledger is not None and r.reversal_id in ledger.late
        if not late or ledger is None or ledger.cell is None:
            return result
        bed_days, cell_key = ledger.bed_days, ledger.cell

        def take_out(cell: indicators.Cell | None) -> Decision:
            if cell is None:
                raise ValueError(f"settlement {r.settlement_id} was counted in {cell_key}, which is gone")
            return _kept(indicators.reverse(cell, r, bed_days))

        return await self.cells.apply(env, cell_key, take_out)

    async def _raise(self, env: Envelope, s: audit.AuditedSettlement, hits: list[audit.Hit]) -> None:
        """Each hit a flag, made once however many copies of the settlement come."""
        now = self.now()
        appeal_by = self.calendar.deadline(now, APPEAL_WORKING_DAYS)  # M-02
        for hit in hits:
            flag = audit.raise_flag(s, hit, now, appeal_by)
            result = await self.flags.apply(env, flag.flag_id, _once(flag))
            if result == "applied":
                self.metrics.flags.labels(hit.rule_id).inc()

    # ------------------------------------------------------------ the workflow around a flag
    async def _step(self, env: Envelope, flag_id: str, step: Callable[[audit.Flag, str], audit.Flag | None]) -> str:
        """One signed step on a stored flag, by the envelope's authenticated sender."""
        by = str(env.sender)

        def decide(flag: audit.Flag | None) -> Decision | None:
            if flag is None:
                raise ValueError(f"no flag {flag_id}")
            changed = step(flag, by)
            return None if changed is None else _told(changed)

        return await self.flags.apply(env, flag_id, decide)

    async def review_flag(self, env: Envelope[ReviewFlag]) -> str:
        c, now = env.payload, self.now()
        return await self._step(env, c.flag_id, lambda flag, by: workflow.review(flag, c, by, now))

    async def flag_appealed(self, env: Envelope[AppealFlag]) -> str:
        c, now = env.payload, self.now()
        return await self._step(env, c.flag_id, lambda flag, by: workflow.appeal(flag, c, by, now))

    async def decide_appeal(self, env: Envelope[DecideAppeal]) -> str:
        c, now = env.payload, self.now()
        return await self._step(env, c.flag_id, lambda flag, by: workflow.decide_appeal(flag, c, by, now))

    async def audit_deduction(self, env: Envelope[RecordAuditDeduction]) -> str:
        """Clearing's audit deduction (R-04): one made from a flag (its ``deduction_id``) closes the flag."""
        d, now = env.payload, self.now()
        flag_id = flag_of_deduction(d.deduction_id)
        if flag_id is None or await self.flags.load(flag_id) is None:
            return "ignored"  # a deduction of a manual audit: clearing's alone
        return await self._step(env, flag_id, lambda flag, by: workflow.deducted(flag, d, by, now))


def _maybe(state: BaseModel | None) -> Decision | None:
    return None if state is None else _kept(state)


def _counted(
    cell: indicators.Cell | None, visit: indicators.SettledVisit, pending: list[indicators.Reversal]
) -> indicators.Cell:
    """The cell with the settlement, less the reversals of it that came first: one decision, one message."""
    counted = indicators.record(cell, visit)
    for r in pending:
        counted = indicators.reverse(counted, r, visit.bed_days)
    return counted


def _kept(state: BaseModel) -> Decision:
    return Decision(state, [], [])


def _told(flag: audit.Flag) -> Decision:
    """The flag stored and its last step published (``supervision.flag-changed.v1``)."""
    return Decision(flag, [audit.changed(flag)], [])


def _once(flag: audit.Flag) -> Callable[[audit.Flag | None], Decision | None]:
    """A flag stored the first time its hit is found; a stored one is left as its workflow made it."""
    return lambda stored: None if stored is not None else _told(flag)


def _institution(s: audit.AuditedSettlement) -> str:
    return f"institution:{s.institution_code}"


def _region(s: audit.AuditedSettlement) -> str:
    return f"region:{s.treating_region}"


def registry(
    store: Store, *, now: Now, calendar: WorkingCalendar, rules: RuleBase, metrics: SupervisionMetrics
) -> dict[str, Handler]:
    """Who handles each topic the supervision service consumes (``contracts/registry.py``): one handler each."""
    h = SupervisionHandlers(store, now=now, calendar=calendar, rules=rules, metrics=metrics)
    return {
        "settlement.completed.v1": h.settlement_completed,
        "settlement.fee-detail.v1": h.fee_detail_uploaded,  # R-04 fee-line rules (S-18)
        "settlement.reversed.v1": h.settlement_reversed,  # S-15 out of the indicators
        "clearing.record-audit-deduction.v1": h.audit_deduction,
        "supervision.review-flag.v1": h.review_flag,
        "his.flag-appealed.v1": h.flag_appealed,  # R-04 申诉
        "supervision.decide-appeal.v1": h.decide_appeal,
    }

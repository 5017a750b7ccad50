"""Cancels and refunds at the treating place 撤销与退费 (S-15; 000 第五十九条, 004 第三十四条): a cancel
or whole refund is decided at once within the re-settlement limits; a partial refund asks the
insured place to re-decide the remaining lines first, with the same answer deadline as a
settlement (S-01): if it passes, the HIS is told the refund was not made and a late re-decision
is undone."""
from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, datetime, timedelta

from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.settlement import (DischargeSettlementRequested, InsuredRollback, OutpatientVisitRequested,
                                  PartyRefusalCode, RefundAssessed, RefundDecided, RefundKind, RefundRequested,
                                  RefusalCode, SettlementCancelRequested, SettlementCompleted, SettlementResult,
                                  SettlementReversed, TreatingAssessed, clearing_month_of)
from contracts.values import MedicalType
from runtime.calendar import business_date
from runtime.outcome import Emit, Outcome
from services.settlement.domain import insured, results, reversal, treating
from services.settlement.domain.accumulations import AccumulationDelta
from services.settlement.domain.catalogue import choose_catalogue
from services.settlement.domain.consistency import Inconsistency, answer_problems
from services.settlement.domain.rates import Eligibility
from services.settlement.domain.refusal import Refused
from services.settlement.flow import REFUND_ASSESSED, REFUND_TIMEOUT, RESULT, REVERSED, ROLLBACK, dump, timeout, timeout_key
from services.settlement.ports import SettlementContext
from services.settlement.state import PendingRefund, Record, Visits

SettlementRequest = DischargeSettlementRequested | OutpatientVisitRequested
log = logging.getLogger(__name__)


class Reversals:
    def __init__(self, ctx: SettlementContext) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------ cancel and refund (S-15)
    async def cancel_requested(self, env: Envelope[SettlementCancelRequested]) -> str:
        return await self._reverse(env, None)

    async def refund_requested(self, env: Envelope[RefundRequested]) -> str:
        return await self._reverse(env, env.payload.kind)

    async def _reverse(self, env: Envelope, kind: RefundKind | None) -> str:
        """撤销 or 退费 (S-15): a cancel or whole refund is decided here at once; a partial refund starts
        the re-settlement of the remaining lines at the insured place (``_start_partial_refund``)."""
        cmd = env.payload
        now = self.ctx.now()
        reversal_id = f"R-{treating.settlement_id_for(cmd.institution_code, cmd.request_id)[2:]}"
        line_nos = sorted(set(cmd.line_nos)) if getattr(cmd, "line_nos", None) else None

        def decide(visits: Visits) -> Outcome:
            record = visits.settlements.get(cmd.settlement_id)
            try:
                if record is None:
                    raise Refused(RefusalCode.SETTLEMENT_NOT_FOUND, f"no settlement {cmd.settlement_id} of this person")
                self._made_by_sender(record, env.sender)
                if reversal_id in record.reversals:
                    return Outcome(emits=[Emit(RESULT, SettlementResult.model_validate(record.reversals[reversal_id]),
                                               name="repeat")])
                if reversal_id in record.pending_refunds:
                    return Outcome()          # the insured place's answer is on its way
                _no_refund_in_progress(record)
                rec, rctx = _settlement_record(visits, record), self._context(visits, record, now)
                remaining = reversal.remaining_request(rec.request, line_nos) if line_nos else None
                if remaining is not None:
                    return self._start_partial_refund(visits, record, rec, rctx, cmd, reversal_id, line_nos, remaining)
                done = reversal.cancel(rec, rctx, reversal_id) if kind is None else reversal.refund(
                    rec, rctx, kind, reversal_id)
            except Refused as refusal:
                refused = results.refused(refusal, request_id=cmd.request_id, person_id=cmd.person_id,
                                          institution_code=cmd.institution_code, settlement_id=cmd.settlement_id)
                return Outcome(emits=[Emit(RESULT, SettlementResult(refused))])
            done = done.model_copy(update={"reversal_request_id": cmd.request_id, "line_nos": line_nos}
                                   if kind is not None else {"reversal_request_id": cmd.request_id})
            return self._reversed(visits, record.model_copy(update={"reversed": True}), done)
        return await self.ctx.visits(env, cmd.person_id, decide)

    def _made_by_sender(self, record: Record, sender: str | None) -> None:
        """S-15, S-17: only the institution that made a settlement cancels or refunds it. The authority
        table saw that the sender names itself; which institution made the settlement only the stored
        settlement knows."""
        made_by = record.completed["institution_code"]
        if sender != made_by:
            self.ctx.metrics.refused_sender(PartyRefusalCode.NOT_YOUR_SETTLEMENT, None)
            raise Refused(PartyRefusalCode.NOT_YOUR_SETTLEMENT, f"settlement {record.completed['settlement_id']} was "
                          f"made by {made_by}; {sender} may not cancel or refund it (S-15)")

    def _context(self, visits: Visits, record: Record, now: datetime) -> reversal.ReversalContext:
        """The facts the S-15 limits look at (004 第三十四条), as of ``now``."""
        completed = SettlementCompleted.model_validate(record.completed)
        today = business_date(now)
        return reversal.ReversalContext(
            today=today, hospital_month_settled=completed.settled_on.replace(day=1) < today.replace(day=1),
            cleared=self.ctx.cleared(completed.settled_on, now), is_latest=_is_latest(visits, completed),
            next_open_clearing_month=clearing_month_of(today))

    def _reversed(self, visits: Visits, record: Record, done) -> Outcome:
        """Keep the answer for repeats and tell the HIS, clearing and prepayment (S-15)."""
        result = SettlementResult(done)
        visits.settlements[done.settlement_id] = record.model_copy(update={
            "reversals": {**record.reversals, done.reversal_id: result.model_dump(mode="json")}})
        self.ctx.metrics.reversed(done)
        return Outcome(state=dump(visits), emits=[Emit(RESULT, result), Emit(REVERSED, reversal_payload(done))])

    # ------------------------------------------------------------ partial refund saga (S-15, 000 第五十九条)
    def _start_partial_refund(self, visits: Visits, record: Record, rec: reversal.SettlementRecord,
                              rctx: reversal.ReversalContext, cmd: RefundRequested, reversal_id: str,
                              line_nos: list[int], remaining: SettlementRequest) -> Outcome:
        """Step 1: check the refund's limits now, assess the remaining lines with the catalogue and the
        eligibility the settlement had, and send them to the insured place; the record waits."""
        reversal.check_refund_kind(rec, rctx, cmd.kind)
        answer_by = self.ctx.now() + timedelta(milliseconds=self.ctx.timeout_ms)
        assessment = self._reassess(visits, record, remaining).model_copy(update={"answer_by": answer_by})
        pending = PendingRefund(request_id=cmd.request_id, kind=cmd.kind.value, line_nos=line_nos,
                                remaining=remaining.model_dump(mode="json"), context=_context_json(rctx),
                                assessment=assessment.model_dump(mode="json"))
        visits.settlements[cmd.settlement_id] = record.model_copy(update={
            "pending_refunds": {**record.pending_refunds, reversal_id: pending}})
        ask = RefundAssessed(reversal_id=reversal_id, settlement_id=cmd.settlement_id, person_id=cmd.person_id,
                             line_nos=line_nos, assessment=assessment)
        deadline = timeout(REFUND_TIMEOUT, cmd.person_id, f"{cmd.settlement_id}|{reversal_id}", answer_by)
        return Outcome(state=dump(visits), emits=[Emit(REFUND_ASSESSED, ask)], schedules=[deadline])

    def _reassess(self, visits: Visits, record: Record, remaining: SettlementRequest) -> TreatingAssessed:
        """The remaining lines split like the original (S-02..S-04), under the original's eligibility."""
        original = TreatingAssessed.model_validate(visits.requests[record.completed["settlement_id"]].assessment)
        policy = self.ctx.policies.select(remaining.insured_region, treating.service_date(remaining))
        catalogue = choose_catalogue(self.ctx.catalogues, remaining.treating_region, remaining.insured_region,
                                     policy.intra_province_catalogue)
        return treating.assess(remaining, Eligibility(original.eligibility_basis, original.filing_category), catalogue,
                               hospital_level=original.hospital_level)   # the registry's, as settled (S-05)

    async def refund_decided(self, env: Envelope[RefundDecided]) -> str:
        """Step 2: the insured place re-decided the remaining lines (and already netted its
        accumulations): complete the refund with compensation = new slip − old slip (S-15)."""
        answer = env.payload

        def decide(visits: Visits) -> Outcome:
            record = visits.settlements.get(answer.settlement_id)
            pending = record.pending_refunds.get(answer.reversal_id) if record else None
            if pending is None:
                late = record is not None and answer.reversal_id in record.timed_out_refunds
                return self._undo_late_refund(answer) if late and answer.decision.decided else Outcome()
            if self._inconsistent(visits, record, pending, answer):
                return Outcome()      # left to the refund's answer deadline, as a settlement's (S-01)
            left = {k: v for k, v in record.pending_refunds.items() if k != answer.reversal_id}
            record = record.model_copy(update={"pending_refunds": left})
            outcome = (self._partial_refund_done(visits, record, pending, answer) if answer.decision.decided
                       else self._partial_refund_refused(visits, record, pending, answer))
            outcome.cancels.append(timeout_key(REFUND_TIMEOUT, f"{answer.settlement_id}|{answer.reversal_id}"))
            return outcome
        return await self.ctx.visits(env, answer.person_id, decide)

    def _inconsistent(self, visits: Visits, record: Record, pending: PendingRefund, answer: RefundDecided) -> bool:
        """The insured place's re-decision is used only when it answers this refund and fits the remaining
        lines as they were assessed (``domain.consistency``); otherwise it is counted and not used."""
        assessment = (TreatingAssessed.model_validate(pending.assessment) if pending.assessment
                      else self._reassess(visits, record, _parse_request(pending.remaining)))  # stored before v2
        problems = answer_problems(assessment, answer.decision)
        if answer.settlement_id != record.completed["settlement_id"]:
            problems.append(Inconsistency("request", f"answers settlement {answer.settlement_id}"))
        for problem in problems:
            self.ctx.metrics.inconsistent.labels("refund-decided", problem.check).inc()
        if problems:
            log.warning("refund answer %s not used: %s", answer.reversal_id, "; ".join(p.message for p in problems))
        return bool(problems)

    @staticmethod
    def _undo_late_refund(answer: RefundDecided) -> Outcome:
        return Outcome(emits=[Emit(ROLLBACK, InsuredRollback(
            settlement_id=answer.settlement_id, person_id=answer.person_id, reversal_id=answer.reversal_id,
            reason="the insured place re-decided after the HIS was told the refund was not done (S-01, S-15)"))])

    async def refund_timed_out(self, env: Envelope[DeadlineDue]) -> str:
        """The answer deadline of a partial refund fell (S-01, S-15)."""
        return await self.ctx.visits(env, env.payload.subject, lambda visits: self._timed_out(visits, env.payload.ref))

    def _timed_out(self, visits: Visits, ref: str) -> Outcome:
        """A partial refund the insured place did not answer in time: the HIS is told it was not
        done, the settlement stands as it was, and a late answer will be undone."""
        settlement_id, reversal_id = ref.split("|")
        record = visits.settlements.get(settlement_id)
        pending = record.pending_refunds.get(reversal_id) if record else None
        if pending is None:
            return Outcome()
        visits.settlements[settlement_id] = record.model_copy(update={
            "pending_refunds": {k: v for k, v in record.pending_refunds.items() if k != reversal_id},
            "timed_out_refunds": [*record.timed_out_refunds, reversal_id]})
        refusal = Refused(RefusalCode.INSURED_TIMEOUT_NOT_SETTLED,
                          f"the insured place did not answer the refund within {self.ctx.timeout_ms} ms: the "
                          "refund was not made; the settlement stands as it was")
        self.ctx.metrics.timeouts.inc()
        refused = results.refused(refusal, request_id=pending.request_id, person_id=visits.person_id,
                                  institution_code=record.completed["institution_code"], settlement_id=settlement_id)
        # what the insured place re-decided (on its way, or not used because it did not fit) is undone (S-01)
        undo = InsuredRollback(settlement_id=settlement_id, person_id=visits.person_id, reversal_id=reversal_id,
                               reason="the insured place did not answer the refund in time (S-01, S-15)")
        return Outcome(state=dump(visits), emits=[Emit(RESULT, SettlementResult(refused)), Emit(ROLLBACK, undo)])

    def _partial_refund_done(self, visits: Visits, record: Record, pending: PendingRefund,
                             answer: RefundDecided) -> Outcome:
        d = answer.decision
        replacement = insured.Decision(d.slip, AccumulationDelta.from_entries(d.settlement_year, d.accumulation_delta),
                                       d.ratio_applied, d.rate_basis, d.settlement_year)
        remaining = _parse_request(pending.remaining)
        rec = _settlement_record(visits, record)
        done = reversal.refund(rec, _context_from(pending.context), RefundKind(pending.kind), answer.reversal_id,
                               pending.line_nos, replacement)
        done = done.model_copy(update={"reversal_request_id": pending.request_id})
        after = reversal.after_refund(rec, done, replacement, remaining)
        kept = record.model_copy(update={"completed": after.completed.model_dump(mode="json"), "year": after.delta.year,
                                         "increments": dict(after.delta.increments), "request": pending.remaining})
        return self._reversed(visits, kept, done)

    def _partial_refund_refused(self, visits: Visits, record: Record, pending: PendingRefund,
                                answer: RefundDecided) -> Outcome:
        """The insured place could not re-decide the remaining lines: nothing changed, the HIS is told why."""
        refusal = Refused(answer.decision.refusal_code, answer.decision.refusal_message or "")
        refused = results.refused(refusal, request_id=pending.request_id, person_id=answer.person_id,
                                  institution_code=record.completed["institution_code"],
                                  settlement_id=answer.settlement_id)
        visits.settlements[answer.settlement_id] = record
        return Outcome(state=dump(visits), emits=[Emit(RESULT, SettlementResult(refused))])


def _no_refund_in_progress(record: Record) -> None:
    """One reversal of a settlement at a time: a partial refund waiting for the insured place blocks
    other cancels and refunds of the same settlement until it completes (S-15)."""
    if record.pending_refunds:
        raise Refused(RefusalCode.INVALID_REQUEST, f"refund {next(iter(record.pending_refunds))} of settlement "
                      f"{record.completed['settlement_id']} is still in progress; try again when it is answered")


def _settlement_record(visits: Visits, record: Record) -> reversal.SettlementRecord:
    """The domain's view of a record: the completed fact, the lines it still settles, its delta."""
    raw = record.request or visits.requests[record.completed["settlement_id"]].request
    return reversal.SettlementRecord(SettlementCompleted.model_validate(record.completed), _parse_request(raw),
                                     AccumulationDelta(record.year, record.increments), reversed=record.reversed)


def _parse_request(raw: dict) -> SettlementRequest:
    if raw["medical_type"] == MedicalType.INPATIENT.value:
        return DischargeSettlementRequested.model_validate(raw)
    return OutpatientVisitRequested.model_validate(raw)


def _context_json(rctx: reversal.ReversalContext) -> dict:
    return {**asdict(rctx), "today": rctx.today.isoformat()}


def _context_from(raw: dict) -> reversal.ReversalContext:
    return reversal.ReversalContext(**{**raw, "today": date.fromisoformat(str(raw["today"]))})


def reversal_payload(done) -> SettlementReversed:
    return SettlementReversed(done)


def _is_latest(visits: Visits, completed: SettlementCompleted) -> bool:
    """No later settlement of the person at the same institution is still standing (S-15).
    Records are kept in the order they were settled."""
    ids = list(visits.settlements)
    later = ids[ids.index(completed.settlement_id) + 1:]
    return not any(not visits.settlements[i].reversed
                   and visits.settlements[i].completed["institution_code"] == completed.institution_code
                   for i in later)

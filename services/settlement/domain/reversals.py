"""Cancels and refunds at the treating place 撤销与退费 (S-15; 000 第五十九条, 004 第三十四条), as methods
of the person's ``Visits`` aggregate: a cancel or whole refund is decided at once within the
re-settlement limits; a partial refund asks the insured place to re-decide the remaining lines
first, with the same answer deadline as a settlement (S-01): if it passes, the HIS is told the
refund was not made and a late re-decision is undone.

Pure: the limits and the amounts are ``reversal.py``'s; this module keeps the saga's steps on the
aggregate and returns a :class:`SettlementDecision` for each.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta

from contracts.his import RefundRequested, SettlementCancelRequested
from contracts.his_result import PartyRefusalCode, SettlementResult
from contracts.ops import DeadlineDue
from contracts.settlement import SettlementCompleted, SettlementReversed
from contracts.settlement_hops import InsuredRollback, RefundAssessed, RefundDecided, TreatingAssessed
from contracts.settlement_values import RefundKind, RefusalCode
from kernel.clearing_calendar import generation_at
from kernel.clearing_month import clearing_month_of
from runtime.calendar import business_date
from services.settlement.domain import insured, results, reversal, treating
from services.settlement.domain.consistency import Inconsistency, answer_problems
from services.settlement.domain.decision import (
    REFUND_ASSESSED,
    REFUND_TIMEOUT,
    RESULT,
    REVERSED,
    ROLLBACK,
    AnswerDeadline,
    Inconsistent,
    Message,
    RefusedSender,
    Reversed,
    SettlementDecision,
    TimedOut,
    timeout_key,
)
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.refusal import Refused
from services.settlement.domain.treating_place import Reference
from services.settlement.domain.visits import PendingRefund, Record, SettlementRequest, Visits, parse_request

Decided = SettlementDecision[Visits]


def reversal_id_for(cmd: SettlementCancelRequested | RefundRequested) -> str:
    """Deterministic, like the settlement id: a retried cancel or refund is the same reversal."""
    return f"R-{treating.settlement_id_for(cmd.institution_code, cmd.request_id)[2:]}"


def cleared(settled_on: date, now: datetime) -> bool:
    """Cleared between agencies (S-15, 004 第三十四条): the settlement month's clearing data is
    generated on the next month's generation day (C-02, the shared calendar: the 21st); from then on it
    cannot be recalled."""
    return now >= generation_at(clearing_month_of(settled_on))


class Reversals:
    """The cancels and refunds of one person's settlements, over their ``Visits``."""

    def __init__(self, visits: Visits, reference: Reference) -> None:
        self.visits, self.reference = visits, reference

    # ------------------------------------------------------------ cancel and refund (S-15)
    def reverse(self, cmd: SettlementCancelRequested | RefundRequested, sender: str | None, now: datetime) -> Decided:
        """撤销 (a cancel) or 退费 (a refund, ``cmd.kind``) of a settlement the sender made: a cancel or whole
        refund is decided at once; a partial refund starts the re-settlement of the remaining lines."""
        kind = cmd.kind if isinstance(cmd, RefundRequested) else None
        reversal_id = reversal_id_for(cmd)
        line_nos = sorted(set(cmd.line_nos)) if isinstance(cmd, RefundRequested) and cmd.line_nos else None
        record = self.visits.settlements.get(cmd.settlement_id)
        counts: list = []
        try:
            if record is None:
                raise Refused(RefusalCode.SETTLEMENT_NOT_FOUND, f"no settlement {cmd.settlement_id} of this person")
            if sender != record.completed["institution_code"]:
                counts.append(RefusedSender(PartyRefusalCode.NOT_YOUR_SETTLEMENT))
                raise self._not_yours(record, sender)
            if reversal_id in record.reversals:
                return SettlementDecision(
                    messages=[Message(RESULT, SettlementResult.model_validate(record.reversals[reversal_id]), "repeat")]
                )
            if reversal_id in record.pending_refunds:
                return SettlementDecision()  # the insured place's answer is on its way
            _no_refund_in_progress(record)
            rec, facts = self.visits.record(record), self._facts(record, now)
            remaining = reversal.remaining_request(rec.request, line_nos) if line_nos else None
            if remaining is not None and isinstance(cmd, RefundRequested) and line_nos:
                return self._start_partial_refund(record, rec, facts, cmd, reversal_id, line_nos, remaining, now)
            done = (
                reversal.cancel(rec, facts, reversal_id)
                if kind is None
                else reversal.refund(rec, facts, kind, reversal_id)
            )
        except Refused as refusal:
            refused = results.refused(
                refusal,
                request_id=cmd.request_id,
                person_id=cmd.person_id,
                institution_code=cmd.institution_code,
                settlement_id=cmd.settlement_id,
            )
            return SettlementDecision(messages=[Message(RESULT, SettlementResult(refused))], counts=counts)
        done = done.model_copy(
            update={"reversal_request_id": cmd.request_id, "line_nos": line_nos}
            if kind is not None
            else {"reversal_request_id": cmd.request_id}
        )
        return self._reversed(record.model_copy(update={"reversed": True}), done)

    @staticmethod
    def _not_yours(record: Record, sender: str | None) -> Refused:
        """S-15, S-17: only the institution that made a settlement cancels or refunds it. The authority
        table saw that the sender names itself; which institution made the settlement only the stored
        settlement knows."""
        made_by = record.completed["institution_code"]
        return Refused(
            PartyRefusalCode.NOT_YOUR_SETTLEMENT,
            f"settlement {record.completed['settlement_id']} was "
            f"made by {made_by}; {sender} may not cancel or refund it (S-15)",
        )

    def _facts(self, record: Record, now: datetime) -> reversal.ReversalContext:
        """The facts the S-15 limits look at (004 第三十四条), as of ``now``."""
        completed = SettlementCompleted.model_validate(record.completed)
        today = business_date(now)
        return reversal.ReversalContext(
            today=today,
            hospital_month_settled=completed.settled_on.replace(day=1) < today.replace(day=1),
            cleared=cleared(completed.settled_on, now),
            is_latest=self.visits.is_latest(completed),
            next_open_clearing_month=clearing_month_of(today),
        )

    def _reversed(self, record: Record, done) -> Decided:
        """Keep the answer for repeats and tell the HIS, clearing and prepayment (S-15)."""
        result = SettlementResult(done)
        self.visits.settlements[done.settlement_id] = record.model_copy(
            update={"reversals": {**record.reversals, done.reversal_id: result.model_dump(mode="json")}}
        )
        if record.reversed:
            self.visits.unsettled(record.completed)
        return SettlementDecision(
            self.visits, [Message(RESULT, result), Message(REVERSED, SettlementReversed(done))], counts=[Reversed(done)]
        )

    # ------------------------------------------------------------ partial refund saga (S-15, 000 第五十九条)
    def _start_partial_refund(
        self,
        record: Record,
        rec: reversal.SettlementRecord,
        facts: reversal.ReversalContext,
        cmd: RefundRequested,
        reversal_id: str,
        line_nos: list[int],
        remaining: SettlementRequest,
        now: datetime,
    ) -> Decided:
        """Step 1: check the refund's limits now, assess the remaining lines with the catalogue and the
        eligibility the settlement had, and send them to the insured place; the record waits (S-01)."""
        reversal.check_refund_kind(rec, facts, cmd.kind)
        answer_by = now + timedelta(milliseconds=self.reference.answer_ms)
        assessment = self._reassess(record, remaining).model_copy(update={"answer_by": answer_by})
        pending = PendingRefund(
            request_id=cmd.request_id,
            kind=cmd.kind.value,
            line_nos=line_nos,
            remaining=remaining.model_dump(mode="json"),
            context=_context_json(facts),
            assessment=assessment.model_dump(mode="json"),
        )
        self.visits.settlements[cmd.settlement_id] = record.model_copy(
            update={"pending_refunds": {**record.pending_refunds, reversal_id: pending}}
        )
        ask = RefundAssessed(
            reversal_id=reversal_id,
            settlement_id=cmd.settlement_id,
            person_id=cmd.person_id,
            line_nos=line_nos,
            assessment=assessment,
        )
        return SettlementDecision(
            self.visits,
            [Message(REFUND_ASSESSED, ask)],
            deadlines=[AnswerDeadline(REFUND_TIMEOUT, cmd.person_id, f"{cmd.settlement_id}|{reversal_id}", answer_by)],
        )

    def _reassess(self, record: Record, remaining: SettlementRequest) -> TreatingAssessed:
        """The remaining lines split like the original (S-02..S-04), under the original's eligibility."""
        original = TreatingAssessed.model_validate(self.visits.requests[record.completed["settlement_id"]].assessment)
        return treating.assess(
            remaining,
            Entitlement(original.eligibility_basis, original.filing_category),
            self.reference.catalogue(remaining),
            hospital_level=original.hospital_level,
        )  # the registry's, as settled (S-05)

    def refund_decided(self, answer: RefundDecided) -> Decided:
        """Step 2: the insured place re-decided the remaining lines (and already netted its
        accumulations): complete the refund with compensation = new slip − old slip (S-15). An answer
        that does not fit is not used and left to the refund's answer deadline, as a settlement's (S-01)."""
        record = self.visits.settlements.get(answer.settlement_id)
        pending = record.pending_refunds.get(answer.reversal_id) if record else None
        if record is None or pending is None:
            late = record is not None and answer.reversal_id in record.timed_out_refunds
            return self._undo_late_refund(answer) if late and answer.decision.decided else SettlementDecision()
        problems = self._problems(record, pending, answer)
        if problems:
            return SettlementDecision(
                counts=[Inconsistent("refund-decided", p.check, p.message, answer.reversal_id) for p in problems]
            )
        left = {k: v for k, v in record.pending_refunds.items() if k != answer.reversal_id}
        record = record.model_copy(update={"pending_refunds": left})
        decided = (
            self._partial_refund_done(record, pending, answer)
            if answer.decision.decided
            else self._partial_refund_refused(record, pending, answer)
        )
        decided.cancels.append(timeout_key(REFUND_TIMEOUT, f"{answer.settlement_id}|{answer.reversal_id}"))
        return decided

    def _problems(self, record: Record, pending: PendingRefund, answer: RefundDecided) -> list[Inconsistency]:
        """The re-decision is used only when it answers this refund and fits the remaining lines as they
        were assessed (``consistency.py``)."""
        assessment = (
            TreatingAssessed.model_validate(pending.assessment)
            if pending.assessment
            else self._reassess(record, parse_request(pending.remaining))
        )  # stored before v2
        problems = answer_problems(assessment, answer.decision)
        if answer.settlement_id != record.completed["settlement_id"]:
            problems.append(Inconsistency("request", f"answers settlement {answer.settlement_id}"))
        return problems

    @staticmethod
    def _undo_late_refund(answer: RefundDecided) -> Decided:
        return SettlementDecision(
            messages=[
                Message(
                    ROLLBACK,
                    InsuredRollback(
                        settlement_id=answer.settlement_id,
                        person_id=answer.person_id,
                        reversal_id=answer.reversal_id,
                        reason="the insured place re-decided after the HIS was told the refund was not done (S-01, S-15)",
                    ),
                )
            ]
        )

    def refund_deadline(self, due: DeadlineDue) -> Decided:
        """The answer deadline of a partial refund fell (S-01, S-15): the HIS is told it was not done,
        the settlement stands as it was, and a late answer will be undone."""
        settlement_id, reversal_id = due.ref.split("|")
        record = self.visits.settlements.get(settlement_id)
        pending = record.pending_refunds.get(reversal_id) if record else None
        if record is None or pending is None:
            return SettlementDecision()
        self.visits.settlements[settlement_id] = record.model_copy(
            update={
                "pending_refunds": {k: v for k, v in record.pending_refunds.items() if k != reversal_id},
                "timed_out_refunds": [*record.timed_out_refunds, reversal_id],
            }
        )
        refusal = Refused(
            RefusalCode.INSURED_TIMEOUT_NOT_SETTLED,
            f"the insured place did not answer the refund within {self.reference.answer_ms} ms: the "
            "refund was not made; the settlement stands as it was",
        )
        refused = results.refused(
            refusal,
            request_id=pending.request_id,
            person_id=self.visits.person_id,
            institution_code=record.completed["institution_code"],
            settlement_id=settlement_id,
        )
        # what the insured place re-decided (on its way, or not used because it did not fit) is undone (S-01)
        undo = InsuredRollback(
            settlement_id=settlement_id,
            person_id=self.visits.person_id,
            reversal_id=reversal_id,
            reason="the insured place did not answer the refund in time (S-01, S-15)",
        )
        return SettlementDecision(
            self.visits, [Message(RESULT, SettlementResult(refused)), Message(ROLLBACK, undo)], counts=[TimedOut()]
        )

    def _partial_refund_done(self, record: Record, pending: PendingRefund, answer: RefundDecided) -> Decided:
        """The refund with its replacement slip; the record now settles the remaining lines (S-15)."""
        replacement = insured.answer_of(answer.decision)
        remaining = parse_request(pending.remaining)
        rec = self.visits.record(record)
        done = reversal.refund(
            rec,
            _context_from(pending.context),
            RefundKind(pending.kind),
            answer.reversal_id,
            pending.line_nos,
            replacement,
        )
        done = done.model_copy(update={"reversal_request_id": pending.request_id})
        after = reversal.after_refund(rec, done, replacement, remaining)
        kept = record.model_copy(
            update={
                "completed": after.completed.model_dump(mode="json"),
                "year": after.delta.year,
                "increments": dict(after.delta.increments),
                "request": pending.remaining,
            }
        )
        return self._reversed(kept, done)

    def _partial_refund_refused(self, record: Record, pending: PendingRefund, answer: RefundDecided) -> Decided:
        """The insured place could not re-decide the remaining lines: nothing changed, the HIS is told why."""
        refusal = insured.refusal_of(answer.decision)
        refused = results.refused(
            refusal,
            request_id=pending.request_id,
            person_id=answer.person_id,
            institution_code=record.completed["institution_code"],
            settlement_id=answer.settlement_id,
        )
        self.visits.settlements[answer.settlement_id] = record
        return SettlementDecision(self.visits, [Message(RESULT, SettlementResult(refused))])


def _no_refund_in_progress(record: Record) -> None:
    """One reversal of a settlement at a time: a partial refund waiting for the insured place blocks
    other cancels and refunds of the same settlement until it completes (S-15)."""
    if record.pending_refunds:
        raise Refused(
            RefusalCode.INVALID_REQUEST,
            f"refund {next(iter(record.pending_refunds))} of settlement "
            f"{record.completed['settlement_id']} is still in progress; try again when it is answered",
        )


def _context_json(facts: reversal.ReversalContext) -> dict:
    return {**asdict(facts), "today": facts.today.isoformat()}


def _context_from(raw: dict) -> reversal.ReversalContext:
    return reversal.ReversalContext(**{**raw, "today": date.fromisoformat(str(raw["today"]))})

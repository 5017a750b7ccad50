"""The treating place's side of real-time settlement 就医地 (S-01..S-04, S-10..S-12, S-15..S-20):
HIS requests in, the payability assessment out to the insured place, its answer back to the HIS.
A request the insured place does not answer in time is answered 'not settled directly' and can
never settle later (a late answer is rolled back). Cancels and whole refunds are decided here; a
partial refund asks the insured place to re-decide the remaining lines first (S-15)."""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict
from datetime import date, datetime, timedelta  # noqa: F401

from contracts.envelope import Envelope
from contracts.filing_view import PersonFilingView, eligibility
from contracts.ops import DeadlineDue
from contracts.settlement import (AdmissionRegistered, DischargeSettlementRequested, InsuredDecided, InsuredRollback,
                                  OutpatientVisitRequested, RefundAssessed, RefundDecided, RefundKind, RefundRequested,
                                  RefusalCode, SettlementCancelRequested, SettlementCompleted, SettlementResult,
                                  SettlementReversed, TreatingAssessed, clearing_month_of)
from contracts.values import MedicalType
from runtime.calendar import business_date
from runtime.outcome import Emit, Outcome, Schedule
from services.outcome import stable_id
from services.settlement.domain import insured, results, reversal, treating
from services.settlement.domain.accumulations import AccumulationDelta
from services.settlement.domain.catalogue import choose_catalogue
from services.settlement.domain.rates import Eligibility
from services.settlement.domain.refusal import Refused
from services.settlement.ports import SettlementContext
from services.settlement.state import Admission, PendingRefund, Record, Request, RequestStatus, Visits

RESULT, ASSESSED, COMPLETED, REVERSED = ("settlement.result.v1", "settlement.treating-assessed.v1",
                                         "settlement.completed.v1", "settlement.reversed.v1")
REFUND_ASSESSED = "settlement.refund-assessed.v1"
TIMEOUT = "insured_timeout"
REFUND_TIMEOUT = "refund_timeout"
SettlementRequest = DischargeSettlementRequested | OutpatientVisitRequested


class TreatingPlace:
    def __init__(self, ctx: SettlementContext) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------ admission (S-11, S-20)
    async def admission(self, env: Envelope[AdmissionRegistered]) -> str:
        req = env.payload
        view, sanctions, now = await self.ctx.filing_view(req.person_id), await self.ctx.sanctions.current(), self.ctx.now()
        key = f"{req.institution_code}:{req.visit_id}"

        def decide(visits: Visits) -> Outcome:
            if key in visits.admissions:
                return Outcome(emits=[Emit(RESULT, SettlementResult(visits.admissions[key].result), name="repeat")])
            try:
                accepted = treating.register_admission(
                    req, self._eligibility(view, req, req.admission_date),
                    admission_suspended=bool(sanctions.admission_suspended(req.insured_region, now)))
            except Refused as refusal:
                refused = results.refused(refusal, request_id=req.request_id, person_id=req.person_id,
                                          institution_code=req.institution_code)
                self.ctx.metrics.refused(req.medical_type, refusal.code)
                return Outcome(emits=[Emit(RESULT, SettlementResult(refused))])
            visits.admissions[key] = Admission(visit_id=req.visit_id, institution_code=req.institution_code,
                                               admission_date=req.admission_date,
                                               result=accepted.model_dump(mode="json"))
            return Outcome(state=_dump(visits), emits=[Emit(RESULT, SettlementResult(accepted))])
        return await self.ctx.visits(env, req.person_id, decide)

    # ------------------------------------------------------------ settlement request (S-01..S-04)
    async def settlement_requested(self, env: Envelope[SettlementRequest]) -> str:
        req = env.payload
        view, sanctions, now = await self.ctx.filing_view(req.person_id), await self.ctx.sanctions.current(), self.ctx.now()
        sid = treating.settlement_id_for(req.institution_code, req.request_id)
        fingerprint = hashlib.sha256(req.model_dump_json().encode()).hexdigest()

        def decide(visits: Visits) -> Outcome:
            known = visits.requests.get(sid)
            if known is not None:
                return self._repeat(known, req, fingerprint)
            request = Request(settlement_id=sid, request_id=req.request_id, fingerprint=fingerprint,
                              request=req.model_dump(mode="json"), status=RequestStatus.PENDING,
                              received_at=now, received_wall=time.time())
            try:
                self._admission_allowed(visits, req, sanctions, now)
                assessment = self._assess(req, view, now)
            except Refused as refusal:
                return self._refuse(visits, request, req, refusal)
            visits.requests[sid] = request.model_copy(update={"assessment": assessment.model_dump(mode="json")})
            timeout = _timeout(TIMEOUT, req.person_id, sid, assessment.answer_by)
            return Outcome(state=_dump(visits), emits=[Emit(ASSESSED, assessment)], schedules=[timeout])
        return await self.ctx.visits(env, req.person_id, decide)

    def _assess(self, req: SettlementRequest, view: PersonFilingView | None, now: datetime) -> TreatingAssessed:
        when = req.admission_date if isinstance(req, DischargeSettlementRequested) else req.visit_date
        policy = self.ctx.policies.select(req.insured_region, treating.service_date(req))
        catalogue = choose_catalogue(self.ctx.catalogues, req.treating_region, req.insured_region,
                                     policy.intra_province_catalogue)
        assessment = treating.assess(req, self._eligibility(view, req, when), catalogue)
        return assessment.model_copy(update={"answer_by": now + timedelta(milliseconds=self.ctx.timeout_ms)})

    @staticmethod
    def _eligibility(view: PersonFilingView | None, req, when: date) -> Eligibility:
        """The shared eligibility function over this service's own filing read model (F-04, F-05,
        F-12, S-11, S-12). The chronic qualification is the insured place's to check (S-13)."""
        answer = eligibility(view.current() if view else [], req.person_id, req.insured_region, req.treating_region,
                             req.medical_type, when, emergency_flag=req.emergency, chronic_qualified=True)
        return Eligibility.from_view(answer)

    @staticmethod
    def _admission_allowed(visits: Visits, req: SettlementRequest, sanctions, now: datetime) -> None:
        """S-20: a stay not registered before the suspension is a new admission and is refused."""
        if req.medical_type is not MedicalType.INPATIENT:
            return
        if f"{req.institution_code}:{req.visit_id}" in visits.admissions:
            return
        if sanctions.admission_suspended(req.insured_region, now):
            raise Refused(RefusalCode.ADMISSION_SUSPENDED, f"new admissions of insureds of {req.insured_region} are "
                                                           "suspended for unpaid clearing funds (S-20, P-09)")

    def _repeat(self, known: Request, req: SettlementRequest, fingerprint: str) -> Outcome:
        """A repeated HIS request: the same answer again, never a second settlement."""
        if known.fingerprint != fingerprint:
            refusal = Refused(RefusalCode.DUPLICATE_CONFLICT, f"request {req.request_id} was already received with "
                              "different content; use a new request id")
            refused = results.refused(refusal, request_id=req.request_id, person_id=req.person_id,
                                      institution_code=req.institution_code, settlement_id=known.settlement_id)
            return Outcome(emits=[Emit(RESULT, SettlementResult(refused), name="conflict")])
        if known.result is None:
            return Outcome()          # still pending: the answer is on its way
        return Outcome(emits=[Emit(RESULT, SettlementResult.model_validate(known.result), name="repeat")])

    def _refuse(self, visits: Visits, request: Request, req, refusal: Refused,
                status: RequestStatus = RequestStatus.REFUSED) -> Outcome:
        refused = results.refused(refusal, request_id=req.request_id, person_id=req.person_id,
                                  institution_code=req.institution_code,
                                  settlement_id=None if status is RequestStatus.REFUSED else request.settlement_id)
        visits.requests[request.settlement_id] = request.model_copy(update={
            "status": status, "result": SettlementResult(refused).model_dump(mode="json")})
        self.ctx.metrics.refused(req.medical_type, refusal.code)
        return Outcome(state=_dump(visits), emits=[Emit(RESULT, SettlementResult(refused))])

    # ------------------------------------------------------------ the insured place's answer (S-05..S-07)
    async def insured_decided(self, env: Envelope[InsuredDecided]) -> str:
        answer = env.payload

        def decide(visits: Visits) -> Outcome:
            request = visits.requests.get(answer.settlement_id)
            if request is None:
                return Outcome()
            if request.status is RequestStatus.TIMED_OUT:
                if not answer.decided:
                    return Outcome()
                return Outcome(emits=[Emit("settlement.insured-rollback.v1", InsuredRollback(
                    settlement_id=answer.settlement_id, person_id=answer.person_id,
                    reason="the insured place answered after the HIS was told 'not settled directly' (S-01)"))])
            if request.status is not RequestStatus.PENDING:
                return Outcome()
            outcome = self._complete(visits, request, answer) if answer.decided else self._refused_by_insured(
                visits, request, answer)
            outcome.cancels.append(_timeout_key(TIMEOUT, answer.settlement_id))
            return outcome
        return await self.ctx.visits(env, answer.person_id, decide)

    def _complete(self, visits: Visits, request: Request, answer: InsuredDecided) -> Outcome:
        assessment = TreatingAssessed.model_validate(request.assessment)
        delta = AccumulationDelta.from_entries(answer.settlement_year, answer.accumulation_delta)
        decision = insured.Decision(answer.slip, delta, answer.ratio_applied, answer.rate_basis, answer.settlement_year)
        req = request.request
        done = results.completed(assessment, decision, visit_id=req["visit_id"], settled_on=business_date(self.ctx.now()))
        # the stored request is JSON: validate its dates instead of copying strings into date fields
        done = SettlementCompleted.model_validate({**done.model_dump(), "admission_date": req.get("admission_date"),
                                                   "discharge_date": req.get("discharge_date")})
        result = SettlementResult(done)
        visits.requests[request.settlement_id] = request.model_copy(update={
            "status": RequestStatus.COMPLETED, "result": result.model_dump(mode="json")})
        visits.settlements[done.settlement_id] = Record(completed=done.model_dump(mode="json"), year=delta.year,
                                                        increments=dict(delta.increments))
        self.ctx.metrics.completed(done, time.time() - request.received_wall)
        return Outcome(state=_dump(visits), emits=[Emit(RESULT, result), Emit(COMPLETED, done)])

    def _refused_by_insured(self, visits: Visits, request: Request, answer: InsuredDecided) -> Outcome:
        refusal = Refused(answer.refusal_code, answer.refusal_message or "")
        return self._refuse(visits, request, StoredRequest(request), refusal)

    # ------------------------------------------------------------ timeout (S-01, S-17)
    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload
        if due.kind == REFUND_TIMEOUT:
            return await self.ctx.visits(env, due.subject, lambda visits: self._refund_timed_out(visits, due.ref))
        if due.kind != TIMEOUT:
            return "ignored"

        def decide(visits: Visits) -> Outcome:
            request = visits.requests.get(due.ref)
            if request is None or request.status is not RequestStatus.PENDING:
                return Outcome()
            refusal = Refused(RefusalCode.INSURED_TIMEOUT_NOT_SETTLED,
                              f"the insured place {request.request['insured_region']} did not answer within "
                              f"{self.ctx.timeout_ms} ms: not settled directly; pay and claim at home (S-17)")
            self.ctx.metrics.timeouts.inc()
            return self._refuse(visits, request, StoredRequest(request), refusal, RequestStatus.TIMED_OUT)
        return await self.ctx.visits(env, due.subject, decide)

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
        return Outcome(state=_dump(visits), emits=[Emit(RESULT, result), Emit(REVERSED, reversal_payload(done))])

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
                                remaining=remaining.model_dump(mode="json"), context=_context_json(rctx))
        visits.settlements[cmd.settlement_id] = record.model_copy(update={
            "pending_refunds": {**record.pending_refunds, reversal_id: pending}})
        ask = RefundAssessed(reversal_id=reversal_id, settlement_id=cmd.settlement_id, person_id=cmd.person_id,
                             line_nos=line_nos, assessment=assessment)
        timeout = _timeout(REFUND_TIMEOUT, cmd.person_id, f"{cmd.settlement_id}|{reversal_id}", answer_by)
        return Outcome(state=_dump(visits), emits=[Emit(REFUND_ASSESSED, ask)], schedules=[timeout])

    def _reassess(self, visits: Visits, record: Record, remaining: SettlementRequest) -> TreatingAssessed:
        """The remaining lines split like the original (S-02..S-04), under the original's eligibility."""
        original = TreatingAssessed.model_validate(visits.requests[record.completed["settlement_id"]].assessment)
        policy = self.ctx.policies.select(remaining.insured_region, treating.service_date(remaining))
        catalogue = choose_catalogue(self.ctx.catalogues, remaining.treating_region, remaining.insured_region,
                                     policy.intra_province_catalogue)
        return treating.assess(remaining, Eligibility(original.eligibility_basis, original.filing_category), catalogue)

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
            left = {k: v for k, v in record.pending_refunds.items() if k != answer.reversal_id}
            record = record.model_copy(update={"pending_refunds": left})
            outcome = (self._partial_refund_done(visits, record, pending, answer) if answer.decision.decided
                       else self._partial_refund_refused(visits, record, pending, answer))
            outcome.cancels.append(_timeout_key(REFUND_TIMEOUT, f"{answer.settlement_id}|{answer.reversal_id}"))
            return outcome
        return await self.ctx.visits(env, answer.person_id, decide)

    @staticmethod
    def _undo_late_refund(answer: RefundDecided) -> Outcome:
        return Outcome(emits=[Emit("settlement.insured-rollback.v1", InsuredRollback(
            settlement_id=answer.settlement_id, person_id=answer.person_id, reversal_id=answer.reversal_id,
            reason="the insured place re-decided after the HIS was told the refund was not done (S-01, S-15)"))])

    def _refund_timed_out(self, visits: Visits, ref: str) -> Outcome:
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
        return Outcome(state=_dump(visits), emits=[Emit(RESULT, SettlementResult(refused))])

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
        return Outcome(state=_dump(visits), emits=[Emit(RESULT, SettlementResult(refused))])


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


class StoredRequest:
    """The few request fields a refusal needs, read from a stored request."""

    def __init__(self, request: Request) -> None:
        self.request_id = request.request_id
        self.person_id = request.request["person_id"]
        self.institution_code = request.request["institution_code"]
        self.medical_type = MedicalType(request.request["medical_type"])


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


def _timeout_key(kind: str, ref: str) -> str:
    return f"{kind}:{ref}"


def _timeout(kind: str, person_id: str, ref: str, due_at: datetime) -> Schedule:
    """The persisted deadline after which the HIS is told the insured place did not answer (S-01)."""
    return Schedule(deadline_id=_timeout_key(kind, ref), due_at=due_at, topic="settlement.deadline-due.v1",
                    payload=DeadlineDue(deadline_id=stable_id("settlement", kind, ref), kind=kind, subject=person_id,
                                        ref=ref, due_at=due_at, rule="S-01"), key=person_id)


def _dump(visits: Visits) -> dict:
    return visits.model_dump(mode="json")


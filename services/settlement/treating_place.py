"""The treating place's side of real-time settlement 就医地 (S-01..S-04, S-10..S-12, S-16..S-20):
HIS requests in, the payability assessment out to the insured place, its answer back to the HIS.
A request the insured place does not answer in time is answered 'not settled directly' and can
never settle later (a late answer is rolled back). Cancels and refunds: ``reversals.py``."""
from __future__ import annotations

import hashlib
import logging
import time
from datetime import date, datetime, timedelta  # noqa: F401

from contracts.envelope import Envelope
from contracts.filing_view import PersonFilingView, eligibility
from contracts.ops import DeadlineDue
from contracts.settlement import (AdmissionRegistered, DischargeSettlementRequested, InsuredDecided, InsuredRollback,
                                  OutpatientVisitRequested, RefusalCode, SettlementCompleted, SettlementResult,
                                  TreatingAssessed)
from contracts.values import MedicalType
from runtime.calendar import business_date
from runtime.outcome import Emit, Outcome
from services.settlement.domain import insured, results, treating
from services.settlement.domain.accumulations import AccumulationDelta
from services.settlement.domain.consistency import answer_problems
from services.settlement.domain.catalogue import choose_catalogue
from services.settlement.domain.rates import Eligibility
from services.settlement.domain.refusal import Refused
from services.settlement.ports import SettlementContext
from services.settlement.flow import ASSESSED, COMPLETED, FEE_DETAIL, RESULT, ROLLBACK, TIMEOUT, dump, timeout, timeout_key
from services.settlement.state import Admission, Record, Request, RequestStatus, Visits

SettlementRequest = DischargeSettlementRequested | OutpatientVisitRequested
log = logging.getLogger(__name__)


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
            return Outcome(state=dump(visits), emits=[Emit(RESULT, SettlementResult(accepted))])
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
            deadline = timeout(TIMEOUT, req.person_id, sid, assessment.answer_by)
            return Outcome(state=dump(visits), emits=[Emit(ASSESSED, assessment)], schedules=[deadline])
        return await self.ctx.visits(env, req.person_id, decide)

    def _assess(self, req: SettlementRequest, view: PersonFilingView | None, now: datetime) -> TreatingAssessed:
        when = req.admission_date if isinstance(req, DischargeSettlementRequested) else req.visit_date
        level = self.ctx.institution(req.institution_code).hospital_level   # the registry's, S-05
        assessment = treating.assess(req, self._eligibility(view, req, when), self._catalogue(req),
                                     hospital_level=level)
        return assessment.model_copy(update={"answer_by": now + timedelta(milliseconds=self.ctx.timeout_ms)})

    def _catalogue(self, req: SettlementRequest):
        """The treating region's catalogue, or the province's for an intra-province visit (S-02, S-03)."""
        policy = self.ctx.policies.select(req.insured_region, treating.service_date(req))
        return choose_catalogue(self.ctx.catalogues, req.treating_region, req.insured_region,
                                policy.intra_province_catalogue)

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
        return Outcome(state=dump(visits), emits=[Emit(RESULT, SettlementResult(refused))])

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
                return Outcome(emits=[Emit(ROLLBACK, InsuredRollback(
                    settlement_id=answer.settlement_id, person_id=answer.person_id,
                    reason="the insured place answered after the HIS was told 'not settled directly' (S-01)"))])
            if request.status is not RequestStatus.PENDING:
                return Outcome()
            if self._inconsistent(request, answer):
                return Outcome()      # left to the answer deadline: see _inconsistent
            outcome = self._complete(visits, request, answer) if answer.decided else self._refused_by_insured(
                visits, request, answer)
            outcome.cancels.append(timeout_key(TIMEOUT, answer.settlement_id))
            return outcome
        return await self.ctx.visits(env, answer.person_id, decide)

    def _inconsistent(self, request: Request, answer: InsuredDecided) -> bool:
        """An answer that does not fit what was asked (``domain.consistency``: same request, the treating
        place's split, S-07) is not used and is counted. The request stays pending: a forged answer
        that came first cannot decide it, the genuine one still can; if none fits, the answer deadline
        tells the HIS "not settled directly" and rolls back whatever the insured place decided (S-01)."""
        problems = answer_problems(TreatingAssessed.model_validate(request.assessment), answer)
        for problem in problems:
            self.ctx.metrics.inconsistent.labels("insured-decided", problem.check).inc()
        if problems:
            log.warning("insured answer to %s not used: %s", answer.settlement_id,
                        "; ".join(p.message for p in problems))
        return bool(problems)

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
        return Outcome(state=dump(visits), emits=[Emit(RESULT, result), Emit(COMPLETED, done),
                                                  *self._fee_detail(req, done)])

    def _fee_detail(self, stored: dict, done: SettlementCompleted) -> list[Emit]:
        """S-18: a cross-province stay's full detail goes up with its settlement."""
        if not (done.cross_province and done.medical_type is MedicalType.INPATIENT):
            return []
        req = DischargeSettlementRequested.model_validate(stored)
        return [Emit(FEE_DETAIL, treating.fee_detail(req, self._catalogue(req), done.settlement_id, done.settled_on))]

    def _refused_by_insured(self, visits: Visits, request: Request, answer: InsuredDecided) -> Outcome:
        refusal = Refused(answer.refusal_code, answer.refusal_message or "")
        return self._refuse(visits, request, StoredRequest(request), refusal)

    # ------------------------------------------------------------ timeout (S-01, S-17)
    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload

        def decide(visits: Visits) -> Outcome:
            request = visits.requests.get(due.ref)
            if request is None or request.status is not RequestStatus.PENDING:
                return Outcome()
            refusal = Refused(RefusalCode.INSURED_TIMEOUT_NOT_SETTLED,
                              f"the insured place {request.request['insured_region']} did not answer within "
                              f"{self.ctx.timeout_ms} ms: not settled directly; pay and claim at home (S-17)")
            self.ctx.metrics.timeouts.inc()
            outcome = self._refuse(visits, request, StoredRequest(request), refusal, RequestStatus.TIMED_OUT)
            # whatever the insured place decided (an answer still on its way, or one not used because it
            # did not fit) is undone: the HIS was told "not settled" (S-01); a rollback of nothing is a no-op
            outcome.emits.append(Emit(ROLLBACK, InsuredRollback(
                settlement_id=request.settlement_id, person_id=visits.person_id,
                reason="the insured place did not answer in time: not settled directly (S-01)")))
            return outcome
        return await self.ctx.visits(env, due.subject, decide)


class StoredRequest:
    """The few request fields a refusal needs, read from a stored request."""

    def __init__(self, request: Request) -> None:
        self.request_id = request.request_id
        self.person_id = request.request["person_id"]
        self.institution_code = request.request["institution_code"]
        self.medical_type = MedicalType(request.request["medical_type"])

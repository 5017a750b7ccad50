"""The treating place's side of real-time settlement 就医地 (S-01..S-04, S-10..S-12, S-16..S-20), as
methods of the person's ``Visits`` aggregate: a HIS request in, the payability assessment out to
the insured place, its answer back to the HIS. A request the insured place does not answer in time
is answered 'not settled directly' and can never settle later (a late answer is rolled back).

Pure: every method takes what the handler read (the filing read model, the sanctions, the
registry's level of the institution, the time) and returns a :class:`SettlementDecision`; the
rules themselves are ``treating.py`` (checks and fee split), ``kernel.eligibility``,
``catalogue.py``, ``consistency.py`` and ``results.py``. Cancels and refunds: ``reversals.py``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from contracts.his import AdmissionRegistered, DischargeSettlementRequested
from contracts.his_result import PartyRefusalCode, SettlementResult
from contracts.ops import DeadlineDue
from contracts.settlement import SettlementCompleted
from contracts.settlement_hops import InsuredDecided, InsuredRollback, TreatingAssessed
from contracts.settlement_values import RefusalCode
from contracts.values import HospitalLevel, MedicalType
from kernel.eligibility import eligibility
from kernel.filings import PersonFilingView
from kernel.sanctions import RegionSanctions
from runtime.calendar import business_date
from services.settlement.domain import insured, results, treating
from services.settlement.domain.catalogue import Catalogue, CatalogueBook, choose_catalogue
from services.settlement.domain.consistency import answer_problems
from services.settlement.domain.decision import (
    ASSESSED,
    COMPLETED,
    FEE_DETAIL,
    RESULT,
    ROLLBACK,
    TIMEOUT,
    AnswerDeadline,
    Completed,
    Inconsistent,
    Message,
    RefusedRequest,
    SettlementDecision,
    TimedOut,
    timeout_key,
)
from services.settlement.domain.policy import PolicyBook
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.refusal import Refused
from services.settlement.domain.visits import Admission, Record, Request, RequestStatus, SettlementRequest, Visits

Decided = SettlementDecision[Visits]


@dataclass(frozen=True)
class Reference:
    """What the treating place decides with besides the person's aggregate, fixed at start-up: the
    regions' policies and catalogues (S-02, S-03, S-05) and how long the insured place has to answer (S-01)."""

    policies: PolicyBook
    catalogues: CatalogueBook
    answer_ms: int
    max_skew: timedelta = timedelta(seconds=300)  # YIDI_MAX_CLOCK_SKEW_SECONDS: how far a sender's clock may be off

    def catalogue(self, req: SettlementRequest) -> Catalogue:
        """The treating region's catalogue, or the province's for an intra-province visit (S-02, S-03)."""
        policy = self.policies.select(req.insured_region, treating.service_date(req))
        return choose_catalogue(
            self.catalogues, req.treating_region, req.insured_region, policy.intra_province_catalogue
        )


@dataclass(frozen=True)
class Received:
    """What the handler read when a HIS command arrived."""

    now: datetime  # business time of receipt
    filings: PersonFilingView | None  # this service's read model of the person's filings (F-15)
    sanctions: RegionSanctions  # the P-09 projection
    registered_level: HospitalLevel | None = None  # the registry's level of the institution; None: no institution
    received_wall: float = 0.0  # wall seconds at receipt, for the latency histogram


def _dates(req: SettlementRequest | AdmissionRegistered) -> list[tuple[str, date]]:
    """The dates a request names, the one that dates it last (visit, admission registered, discharge)."""
    if isinstance(req, DischargeSettlementRequested):
        return [("admission_date", req.admission_date), ("discharge_date", req.discharge_date)]
    if isinstance(req, AdmissionRegistered):
        return [("admission_date", req.admission_date)]
    return [("visit_date", req.visit_date)]


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day where it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - timedelta(days=1)).day))


def fingerprint(req: SettlementRequest) -> str:
    """The hash of a request's content: a repeat under the same request id must match it."""
    return hashlib.sha256(req.model_dump_json().encode()).hexdigest()


def entitlement(view: PersonFilingView | None, req, when: date) -> Entitlement:
    """The shared eligibility function over this service's own filing read model (F-04, F-05, F-12,
    S-11, S-12). The chronic qualification is the insured place's to check (S-13)."""
    answer = eligibility(
        view.current() if view else [],
        req.person_id,
        req.insured_region,
        req.treating_region,
        req.medical_type,
        when,
        emergency_flag=req.emergency,
        chronic_qualified=True,
    )
    return Entitlement.from_view(answer)


class TreatingPlace:
    """The rules of the treating place over one person's ``Visits``."""

    def __init__(self, visits: Visits, reference: Reference) -> None:
        self.visits, self.reference = visits, reference

    # ------------------------------------------------------------ admission (S-11, S-20)
    def admission(self, req: AdmissionRegistered, got: Received) -> Decided:
        """入院登记: eligibility (S-11) and the admission suspension (S-20, P-09); a repeat is answered again."""
        key = f"{req.institution_code}:{req.visit_id}"
        known = self.visits.admissions.get(key)
        if known is not None:
            return SettlementDecision(messages=[Message(RESULT, SettlementResult(known.result), "repeat")])
        try:
            self._dates_allowed(req, got.now)
            accepted = treating.register_admission(
                req,
                entitlement(got.filings, req, req.admission_date),
                admission_suspended=bool(got.sanctions.admission_suspended(req.insured_region, got.now)),
            )
        except Refused as refusal:
            refused = results.refused(
                refusal, request_id=req.request_id, person_id=req.person_id, institution_code=req.institution_code
            )
            return SettlementDecision(
                messages=[Message(RESULT, SettlementResult(refused))],
                counts=[RefusedRequest(req.medical_type, refusal.code)],
            )
        self.visits.admissions[key] = Admission(
            visit_id=req.visit_id,
            institution_code=req.institution_code,
            admission_date=req.admission_date,
            result=accepted.model_dump(mode="json"),
        )
        return SettlementDecision(self.visits, [Message(RESULT, SettlementResult(accepted))])

    # ------------------------------------------------------------ settlement request (S-01..S-04)
    def settlement_requested(self, req: SettlementRequest, got: Received) -> Decided:
        """A HIS request: assessed here (S-02..S-04, S-10..S-12, S-20) and sent to the insured place with
        its answer deadline (S-01); a repeat gets the same answer, never a second settlement."""
        sid = treating.settlement_id_for(req.institution_code, req.request_id)
        known = self.visits.requests.get(sid)
        if known is not None:
            return self._repeat(known, req)
        request = Request(
            settlement_id=sid,
            request_id=req.request_id,
            fingerprint=fingerprint(req),
            request=req.model_dump(mode="json"),
            status=RequestStatus.PENDING,
            received_at=got.now,
            received_wall=got.received_wall,
        )
        answer_by = got.now + timedelta(milliseconds=self.reference.answer_ms)
        try:
            self._dates_allowed(req, got.now)
            self._admission_allowed(req, got)
            assessment = self._assess(req, got, answer_by)
        except Refused as refusal:
            return self._refuse(request, refusal)
        self.visits.requests[sid] = request.model_copy(update={"assessment": assessment.model_dump(mode="json")})
        return SettlementDecision(
            self.visits,
            [Message(ASSESSED, assessment)],
            deadlines=[AnswerDeadline(TIMEOUT, req.person_id, sid, answer_by)],
        )

    def _dates_allowed(self, req: SettlementRequest | AdmissionRegistered, now: datetime) -> None:
        """S-12, F-11: the dates a hospital gives are bounded by the time of receipt. None may lie after
        the day the receipt's clock-skew window reaches (a visit in 2099 is refused, not settled and
        cleared today); the visit, the admission being registered or the discharge may not lie before the
        insured place's retroactive filing window (F-11: 6 months by default): what is older no longer
        settles directly, the patient claims at home (S-17)."""
        dated = _dates(req)
        latest = business_date(now + self.reference.max_skew)
        for field, day in dated:
            if day > latest:
                raise Refused(
                    RefusalCode.DATE_IN_FUTURE,
                    f"{field} {day} is after the day of receipt "
                    f"{business_date(now)} (S-12: dates are bounded by the receipt time)",
                )
        policy = self.reference.policies.select(req.insured_region, business_date(now))
        earliest = months_before(business_date(now - self.reference.max_skew), policy.retroactive_months)
        field, day = dated[-1]  # the visit, the admission registered, or the discharge
        if day < earliest:
            raise Refused(
                RefusalCode.DATE_TOO_OLD,
                f"{field} {day} is before {earliest}, "
                f"{policy.retroactive_months} months before receipt: too old to settle directly (F-11, "
                "S-12); the patient may claim at the insured place (S-17)",
            )

    def _admission_allowed(self, req: SettlementRequest, got: Received) -> None:
        """S-20: a stay not registered before the suspension is a new admission and is refused."""
        if req.medical_type is not MedicalType.INPATIENT:
            return
        if f"{req.institution_code}:{req.visit_id}" in self.visits.admissions:
            return
        if got.sanctions.admission_suspended(req.insured_region, got.now):
            raise Refused(
                RefusalCode.ADMISSION_SUSPENDED,
                f"new admissions of insureds of {req.insured_region} are "
                "suspended for unpaid clearing funds (S-20, P-09)",
            )

    def _assess(self, req: SettlementRequest, got: Received, answer_by: datetime) -> TreatingAssessed:
        """S-02..S-05: assessed at the registry's level of the institution, never the HIS's word (S-05);
        the insured place answers by ``answer_by`` (S-01)."""
        if got.registered_level is None:
            raise Refused(
                PartyRefusalCode.NOT_AN_INSTITUTION,
                f"{req.institution_code} is no institution of the participant registry",
            )
        when = req.admission_date if isinstance(req, DischargeSettlementRequested) else req.visit_date
        assessment = treating.assess(
            req, entitlement(got.filings, req, when), self.reference.catalogue(req), hospital_level=got.registered_level
        )
        return assessment.model_copy(update={"answer_by": answer_by})

    def _repeat(self, known: Request, req: SettlementRequest) -> Decided:
        """A repeated HIS request: the same answer again; other content under the same id is refused."""
        if known.fingerprint != fingerprint(req):
            refusal = Refused(
                RefusalCode.DUPLICATE_CONFLICT,
                f"request {req.request_id} was already received with different content; use a new request id",
            )
            refused = results.refused(
                refusal,
                request_id=req.request_id,
                person_id=req.person_id,
                institution_code=req.institution_code,
                settlement_id=known.settlement_id,
            )
            return SettlementDecision(messages=[Message(RESULT, SettlementResult(refused), "conflict")])
        if known.result is None:
            return SettlementDecision()  # still pending: the answer is on its way
        return SettlementDecision(messages=[Message(RESULT, SettlementResult.model_validate(known.result), "repeat")])

    def _refuse(self, request: Request, refusal: Refused, status: RequestStatus = RequestStatus.REFUSED) -> Decided:
        """S-19: the classified refusal, kept for repeats; the patient may claim manually (S-17)."""
        stored = request.request
        refused = results.refused(
            refusal,
            request_id=request.request_id,
            person_id=stored["person_id"],
            institution_code=stored["institution_code"],
            settlement_id=None if status is RequestStatus.REFUSED else request.settlement_id,
        )
        self.visits.requests[request.settlement_id] = request.model_copy(
            update={"status": status, "result": SettlementResult(refused).model_dump(mode="json")}
        )
        return SettlementDecision(
            self.visits,
            [Message(RESULT, SettlementResult(refused))],
            counts=[RefusedRequest(MedicalType(stored["medical_type"]), refusal.code)],
        )

    # ------------------------------------------------------------ the insured place's answer (S-05..S-07)
    def insured_decided(self, answer: InsuredDecided, now: datetime) -> Decided:
        """The insured place's answer completes or refuses a pending request; a late one is rolled back
        (S-01); one that does not fit what was asked is not used (S-01, S-07)."""
        request = self.visits.requests.get(answer.settlement_id)
        if request is None:
            return SettlementDecision()
        if request.status is RequestStatus.TIMED_OUT:
            if not answer.decided:
                return SettlementDecision()
            return SettlementDecision(
                messages=[
                    Message(
                        ROLLBACK,
                        InsuredRollback(
                            settlement_id=answer.settlement_id,
                            person_id=answer.person_id,
                            reason="the insured place answered after the HIS was told 'not settled directly' (S-01)",
                        ),
                    )
                ]
            )
        if request.status is not RequestStatus.PENDING:
            return SettlementDecision()
        problems = answer_problems(TreatingAssessed.model_validate(request.assessment), answer)
        if problems:
            # not used, and counted: the request stays pending, so a forged answer that came first cannot
            # decide it and the genuine one still can; if none fits, the answer deadline tells the HIS
            # "not settled directly" and rolls back whatever the insured place decided (S-01)
            return SettlementDecision(
                counts=[Inconsistent("insured-decided", p.check, p.message, answer.settlement_id) for p in problems]
            )
        if answer.decided:
            decided = self._complete(request, answer, now)
        else:
            decided = self._refuse(request, insured.refusal_of(answer))
        decided.cancels.append(timeout_key(TIMEOUT, answer.settlement_id))
        return decided

    def _complete(self, request: Request, answer: InsuredDecided, now: datetime) -> Decided:
        """The completed settlement to the HIS, clearing and prepayment (S-05..S-07, C-01); its record
        is kept for cancels and refunds (S-15) and a cross-province stay's detail goes up (S-18)."""
        assessment = TreatingAssessed.model_validate(request.assessment)
        decision = insured.answer_of(answer)
        delta = decision.delta
        req = request.request
        done = results.completed(assessment, decision, visit_id=req["visit_id"], settled_on=business_date(now))
        # the stored request is JSON: validate its dates instead of copying strings into date fields
        done = SettlementCompleted.model_validate(
            {
                **done.model_dump(),
                "admission_date": req.get("admission_date"),
                "discharge_date": req.get("discharge_date"),
                "invoice_no": req.get("invoice_no"),
            }
        )
        result = SettlementResult(done)
        self.visits.requests[request.settlement_id] = request.model_copy(
            update={"status": RequestStatus.COMPLETED, "result": result.model_dump(mode="json")}
        )
        self.visits.settlements[done.settlement_id] = Record(
            completed=done.model_dump(mode="json"), year=delta.year, increments=dict(delta.increments)
        )
        self.visits.settled(done)
        return SettlementDecision(
            self.visits,
            [Message(RESULT, result), Message(COMPLETED, done), *self._fee_detail(req, done)],
            counts=[Completed(done, request.received_wall)],
        )

    def _fee_detail(self, stored: dict, done: SettlementCompleted) -> list[Message]:
        """S-18: a stay's full detail goes up with its settlement, cross-province and intra-province alike
        (000 第四十七条, 第五十三条; 001 第二十六条)."""
        if done.medical_type is not MedicalType.INPATIENT:
            return []
        req = DischargeSettlementRequested.model_validate(stored)
        detail = treating.fee_detail(req, self.reference.catalogue(req), done.settlement_id, done.settled_on)
        return [Message(FEE_DETAIL, detail)]

    # ------------------------------------------------------------ the answer deadline (S-01, S-17)
    def answer_deadline(self, due: DeadlineDue) -> Decided:
        """The insured place did not answer in time: the HIS is told "not settled directly" (the patient
        pays and claims at home, S-17), and whatever the insured place decided is undone (S-01)."""
        request = self.visits.requests.get(due.ref)
        if request is None or request.status is not RequestStatus.PENDING:
            return SettlementDecision()
        refusal = Refused(
            RefusalCode.INSURED_TIMEOUT_NOT_SETTLED,
            f"the insured place {request.request['insured_region']} did not answer within "
            f"{self.reference.answer_ms} ms: not settled directly; pay and claim at home (S-17)",
        )
        decided = self._refuse(request, refusal, RequestStatus.TIMED_OUT)
        # an answer still on its way, or one not used because it did not fit; a rollback of nothing is a no-op
        decided.messages.append(
            Message(
                ROLLBACK,
                InsuredRollback(
                    settlement_id=request.settlement_id,
                    person_id=self.visits.person_id,
                    reason="the insured place did not answer in time: not settled directly (S-01)",
                ),
            )
        )
        decided.counts.append(TimedOut())
        return decided

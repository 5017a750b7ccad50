"""Collaboration 业务协同 and co-investigation 费用协查: which topic is handled by which function
(the registry is ``registry()``).

Each command about a stored item: load it → who may act on it (``domain.addressing``: the
target replies, the requester confirms, K-03/K-04, Q-02..Q-05) → the pure decision at the
receipt time ``now`` → store. A sender the item is not addressed to is answered on
``party.refused.v1`` (counted in ``yidi_refused_total``) and nothing is stored."""
from __future__ import annotations

from prometheus_client import Counter
from pydantic import BaseModel

from contracts.collab import (AgreeCollabExtension, CoInvestigationCandidate, ConfirmCoInvestigationResult,
                              ConfirmCollabResult, OpenCollabRequest, ReplyCollabRequest, RequestCoInvestigation,
                              StayDetails, SubmitCoInvestigationResult, WithdrawCoInvestigation)
from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.settlement import SettlementCompleted
from runtime.authority import Refusal
from runtime.calendar import WorkingCalendar
from runtime.service import Service
from runtime.store import Personal
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import requests as req
from services.collab.domain.addressing import Actor, Misaddressed
from services.outcome import Outcome
from services.wiring import Aggregates, request_of


class Candidate(BaseModel):
    candidate: CoInvestigationCandidate


class CollabHandlers:
    def __init__(self, service: Service, calendar: WorkingCalendar) -> None:
        self.svc, self.calendar = service, calendar
        self.requests = Aggregates(service, "requests", req.CollabRequest, refusals=(ValueError,))
        # what they keep may describe a person (a candidate's stay carries the ID number): sealed at rest
        self.coinvestigations = Aggregates(service, "coinvestigations", coinv.CoInvestigation, refusals=(ValueError,),
                                           personal=Personal(lambda s: s.get("insured_region"), keyed_by_person=False))
        self.candidates = Aggregates(service, "candidates", Candidate, personal=Personal(
            lambda s: (s.get("candidate") or {}).get("insured_region"), keyed_by_person=False))
        self.opened = Counter("yidi_collab_opened_total", "Collaboration requests and co-investigations opened",
                              ["kind"], registry=service.registry)

    def _now(self):
        return self.svc.clock.now()

    def _actor(self, env: Envelope) -> Actor:
        """The sender and the region its agency handles (the table let only agencies through)."""
        party = self.svc.parties.get(str(env.sender))
        region = getattr(party, "region", None)
        return Actor(str(env.sender), str(region) if region else None)

    async def _refused(self, topic: str, env: Envelope, exc: Misaddressed) -> str:
        await self.svc.refuse(topic, env, Refusal(exc.reason, exc.message, rule=exc.rule))
        return "refused"

    async def _addressed(self, aggregates: Aggregates, what: str, topic: str, env: Envelope, check, step) -> str:
        """A command about a stored item, from an agency it is addressed to (``check``)."""
        actor = self._actor(env)

        def checked(state, now):
            check(state, actor)
            return step(state, now)
        try:
            return await _on_existing(aggregates, what, env, checked, self._now())
        except Misaddressed as exc:   # raised before anything is written
            return await self._refused(topic, env, exc)

    # ------------------------------------------------------------ Q-01 candidates from settlements
    async def settlement_completed(self, env: Envelope[SettlementCompleted]) -> str:
        s = env.payload
        if s.admission_date is None or s.discharge_date is None:
            return "ignored"   # outpatient: not a stay
        candidate = coinv.candidate_from_settlement(coinv.InpatientSettlement(
            settlement_id=s.settlement_id, medical_type=s.medical_type, insured_region=s.insured_region,
            treating_region=s.treating_region, completed_at=env.occurred_at, stay=StayDetails(
                person_id=s.person_id, institution=s.institution_code, admission_no=s.visit_id,
                invoice_no=s.settlement_id, admission_date=s.admission_date, discharge_date=s.discharge_date,
                total=s.slip.total)))
        if candidate is None:
            return "ignored"
        self.opened.labels("candidate").inc()
        return await self.candidates.apply(env, s.settlement_id, lambda state: None if state else Outcome(
            Candidate(candidate=candidate), [candidate], []))

    # ------------------------------------------------------------ K-01..K-04
    async def open_request(self, env: Envelope[OpenCollabRequest]) -> str:
        c = env.payload
        key = str(req.request_id_for(c.requester_region, c.request_ref))
        now, actor = self._now(), self._actor(env)
        original, parent = await self._escalation(c)

        def decide(state):
            if state:
                return None
            if c.escalated_from is not None:   # K-04: raised by its requester to the level above
                req.may_escalate(c, original, parent, actor, now)
            return req.open_request(c, self.calendar, now)
        try:
            result = await self.requests.apply(env, key, decide)
        except Misaddressed as exc:
            return await self._refused("collab.open-request.v1", env, exc)
        self.opened.labels("collab").inc()
        return result

    async def _escalation(self, cmd: OpenCollabRequest) -> tuple[req.CollabRequest | None, str | None]:
        """K-04: the request raised, and the region of the agency one level above its target in the
        participant registry (None: no such request, or the level above has no region code)."""
        if cmd.escalated_from is None:
            return None, None
        original = await self.requests.load(str(cmd.escalated_from))
        target = self.svc.parties.agency_of(str(original.target_region)) if original else None
        parent = self.svc.parties.parent_of(target.code) if target else None
        return original, (str(parent.region) if parent is not None and parent.region else None)

    async def agree_extension(self, env: Envelope[AgreeCollabExtension]) -> str:
        return await self._on_request("collab.agree-extension.v1", env, req.may_extend,
                                      lambda r, now: req.agree_extension(r, env.payload, self.calendar, now))

    async def reply(self, env: Envelope[ReplyCollabRequest]) -> str:
        return await self._on_request("collab.reply-request.v1", env, req.may_reply,
                                      lambda r, now: req.reply(r, env.payload, self.calendar, now))

    async def confirm_result(self, env: Envelope[ConfirmCollabResult]) -> str:
        return await self._on_request("collab.confirm-result.v1", env, req.may_confirm,
                                      lambda r, now: req.confirm_result(r, env.payload, now))

    async def _on_request(self, topic: str, env: Envelope, check, step) -> str:
        return await self._addressed(self.requests, "collaboration request", topic, env, check, step)

    # ------------------------------------------------------------ Q-01..Q-05
    async def request_coinvestigation(self, env: Envelope[RequestCoInvestigation]) -> str:
        c = env.payload
        key = str(coinv.request_id_for(c.insured_region, c.request_ref))
        self.opened.labels("coinvestigation").inc()
        return await self.coinvestigations.apply(env, key, lambda state: None if state else coinv.request(
            c, self.calendar, self._now()))

    async def withdraw_coinvestigation(self, env: Envelope[WithdrawCoInvestigation]) -> str:
        return await self._on_coinv("collab.withdraw-coinvestigation.v1", env, coinv.may_withdraw,
                                    lambda s, now: coinv.withdraw(s, env.payload, now))

    async def submit_coinvestigation_result(self, env: Envelope[SubmitCoInvestigationResult]) -> str:
        return await self._on_coinv("collab.submit-coinvestigation-result.v1", env, coinv.may_submit_result,
                                    lambda s, now: coinv.submit_result(s, env.payload, self.calendar, now))

    async def confirm_coinvestigation(self, env: Envelope[ConfirmCoInvestigationResult]) -> str:
        return await self._on_coinv("collab.confirm-coinvestigation.v1", env, coinv.may_confirm,
                                    lambda s, now: coinv.confirm(s, env.payload, now))

    async def _on_coinv(self, topic: str, env: Envelope, check, step) -> str:
        return await self._addressed(self.coinvestigations, "co-investigation", topic, env, check, step)

    # ------------------------------------------------------------ deadlines (K-02, K-04, Q-02, Q-03, Q-05)
    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload
        now = self._now()
        request = request_of(due, "collab")
        if await self.requests.load(due.subject):
            return await self.requests.apply(env, due.subject, lambda r: req.deadline_fired(r, request, self.calendar, now))
        return await self.coinvestigations.apply(env, due.subject, lambda s: s and coinv.deadline_fired(
            s, request, self.calendar, now))

    def registry(self) -> dict:
        return {
            "settlement.completed.v1": self.settlement_completed,
            "collab.open-request.v1": self.open_request,
            "collab.agree-extension.v1": self.agree_extension,
            "collab.reply-request.v1": self.reply,
            "collab.confirm-result.v1": self.confirm_result,
            "collab.request-coinvestigation.v1": self.request_coinvestigation,
            "collab.withdraw-coinvestigation.v1": self.withdraw_coinvestigation,
            "collab.submit-coinvestigation-result.v1": self.submit_coinvestigation_result,
            "collab.confirm-coinvestigation.v1": self.confirm_coinvestigation,
            "collab.deadline-due.v1": self.deadline_due,
        }


async def _on_existing(aggregates: Aggregates, what: str, env: Envelope, step, now) -> str:
    """A command about a request that must exist: an unknown id is refused (dead-lettered with why)."""
    key = str(env.payload.request_id)

    def decide(state):
        if state is None:
            raise ValueError(f"no {what} {key}")
        return step(state, now)
    return await aggregates.apply(env, key, decide)

"""Collaboration 业务协同 (K-01..K-04), leads 问题线索 (K-05), notices 公告 (K-06) and
co-investigation 费用协查 with its periods (Q-01..Q-05): which topic is handled by which function
(the registry is ``registry()``, at the bottom). The query API on the service's HTTP port is
``query.py``'s, not a handler.

Each command about a stored item: load it → who may act on it (``domain.addressing``: the
target replies, the requester confirms, K-03/K-04, Q-02..Q-05) → the pure decision at the
receipt time ``now`` → store. A sender the item is not addressed to is answered through
``refuse`` (the runtime's: ``party.refused.v1``, counted in ``yidi_refused_total``) and nothing
is stored. The handlers are given the store, the business clock, the participant registry, the
working calendar, the refusal channel and the metrics (``app.py`` passes the runtime's; the fast
tests, the in-memory store's)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from contracts.collab import (
    AcceptCollabExtension,
    AmendCoInvestigation,
    CoInvestigationCandidate,
    CoInvestigationCounted,
    ConfirmCoInvestigationResult,
    ConfirmCollabResult,
    DiscussCoInvestigation,
    HandOverLead,
    OpenCollabRequest,
    ProposeCollabExtension,
    PublishNotice,
    ReplyCollabRequest,
    ReportLeadResult,
    RequestCoInvestigation,
    StayDetails,
    SubmitCoInvestigationResult,
    TakeUpLead,
    TallyKind,
    WithdrawCoInvestigation,
)
from contracts.envelope import Envelope
from contracts.ops import DeadlineDue
from contracts.settlement import SettlementCompleted
from runtime.authority import Refusal
from runtime.calendar import WorkingCalendar
from runtime.parties import ParticipantRegistry
from runtime.store import Personal
from services.collab.domain import coinvestigation as coinv
from services.collab.domain import leads, notices, periods
from services.collab.domain import requests as req
from services.collab.domain.addressing import Actor, Misaddressed
from services.collab.metrics import CollabMetrics
from services.outcome import Decision
from services.wiring import Aggregates, Handler, Now, Refuse, Store, request_of


class Candidate(BaseModel):
    candidate: CoInvestigationCandidate


class CollabHandlers:
    """Every collab aggregate (requests, co-investigations and their candidates, periods, leads,
    notices) in ``store``; the rules read the receipt time ``now()`` and the working ``calendar``."""

    def __init__(
        self,
        store: Store,
        *,
        now: Now,
        parties: ParticipantRegistry,
        calendar: WorkingCalendar,
        refuse: Refuse,
        metrics: CollabMetrics,
    ) -> None:
        self.now, self.parties, self.calendar, self.refuse = now, parties, calendar, refuse
        self.opened = metrics.opened
        # a request keeps its matter (free text that may name a person, K-01): sealed at rest too
        self.requests = Aggregates(
            store,
            "requests",
            req.CollabRequest,
            refusals=(ValueError,),
            personal=Personal(lambda s: s.get("requester_region"), keyed_by_person=False),
        )
        # what they keep may describe a person (a candidate's stay carries the ID number): sealed at rest
        self.coinvestigations = Aggregates(
            store,
            "coinvestigations",
            coinv.CoInvestigation,
            refusals=(ValueError,),
            personal=Personal(lambda s: s.get("insured_region"), keyed_by_person=False),
        )
        self.candidates = Aggregates(
            store,
            "candidates",
            Candidate,
            personal=Personal(lambda s: (s.get("candidate") or {}).get("insured_region"), keyed_by_person=False),
        )
        # one aggregate per period (ids and regions only: not personal)
        self.periods = Aggregates(store, "periods", periods.Period)
        # K-05: a lead concerns one insured person (their stay): declared personal, sealed at rest
        self.leads = Aggregates(
            store,
            "leads",
            leads.Lead,
            refusals=(ValueError,),
            personal=Personal(lambda s: s.get("insured_region"), keyed_by_person=False),
        )
        self.notices = Aggregates(store, "notices", notices.Notice)  # K-06: public by nature

    def _actor(self, env: Envelope) -> Actor:
        """The sender and the region its agency handles (the table let only agencies through)."""
        party = self.parties.get(str(env.sender))
        region = getattr(party, "region", None)
        return Actor(str(env.sender), str(region) if region else None)

    async def _refused(self, topic: str, env: Envelope, exc: Misaddressed) -> str:
        await self.refuse(topic, env, Refusal(exc.reason, exc.message, rule=exc.rule))
        return "refused"

    async def _addressed(
        self, aggregates: Aggregates, what: str, topic: str, env: Envelope, check, step, key: str | None = None
    ) -> str:
        """A command about a stored item, from an agency it is addressed to (``check``)."""
        actor = self._actor(env)

        def checked(state, now):
            check(state, actor)
            return step(state, now)

        try:
            return await _on_existing(aggregates, what, env, checked, self.now(), key)
        except Misaddressed as exc:  # raised before anything is written
            return await self._refused(topic, env, exc)

    # ------------------------------------------------------------ Q-01 candidates from settlements
    async def settlement_completed(self, env: Envelope[SettlementCompleted]) -> str:
        s = env.payload
        if s.admission_date is None or s.discharge_date is None:
            return "ignored"  # outpatient: not a stay
        candidate = coinv.candidate_from_settlement(
            coinv.InpatientSettlement(
                settlement_id=s.settlement_id,
                medical_type=s.medical_type,
                insured_region=s.insured_region,
                treating_region=s.treating_region,
                completed_at=env.occurred_at,
                stay=StayDetails(
                    person_id=s.person_id,
                    institution=s.institution_code,
                    admission_no=s.visit_id,
                    invoice_no=s.invoice_no or s.settlement_id,
                    admission_date=s.admission_date,
                    discharge_date=s.discharge_date,
                    total=s.slip.total,
                ),
            )
        )
        if candidate is None:
            return "ignored"
        return await self._open(
            self.candidates,
            env,
            s.settlement_id,
            "candidate",
            lambda: Decision(Candidate(candidate=candidate), [candidate], []),
        )

    # ------------------------------------------------------------ K-01..K-04
    async def open_request(self, env: Envelope[OpenCollabRequest]) -> str:
        c = env.payload
        key = str(req.request_id_for(c.requester_region, c.request_ref))
        now, actor = self.now(), self._actor(env)
        original, parent = await self._escalation(c)

        def decide():
            if isinstance(original, coinv.CoInvestigation):  # K-04 of a disputed co-investigation
                req.may_escalate_coinvestigation(c, original, parent, actor)
                opened = req.open_request(c, self.calendar, now)
                return opened._replace(events=[*opened.events, coinv.tally(original, TallyKind.ESCALATED, now)])
            if c.escalated_from is not None:  # K-04: raised by its requester to the level above
                req.may_escalate(c, original, parent, actor, now)
            return req.open_request(c, self.calendar, now)

        try:
            return await self._open(self.requests, env, key, "collab", decide)
        except Misaddressed as exc:
            return await self._refused("collab.open-request.v1", env, exc)

    async def _open(
        self, aggregates: Aggregates, env: Envelope, key: str, kind: str, new: Callable[[], Decision | None]
    ) -> str:
        """A new item (K-01, K-05, K-06, Q-01): made once however many copies of its command come (a second
        finds it stored and does nothing), counted in ``yidi_collab_opened_total`` once it is stored."""
        made: list[bool] = []

        def decide(state):
            made[:] = [] if state is not None else [True]
            return None if state is not None else new()

        result = await aggregates.apply(env, key, decide)
        if made and result != "duplicate":
            self.opened.labels(kind).inc()
        return result

    async def _escalation(
        self, cmd: OpenCollabRequest
    ) -> tuple[req.CollabRequest | coinv.CoInvestigation | None, str | None]:
        """K-04: the request (or disputed co-investigation) raised, and the region of the agency one
        level above its target (a co-investigation's: its treating place) in the participant
        registry (None: no such item, or the level above has no region code)."""
        if cmd.escalated_from is None:
            return None, None
        original = await self.requests.load(str(cmd.escalated_from))
        if original is None:
            item = await self.coinvestigations.load(str(cmd.escalated_from))
            if item is not None:
                return item, self._parent_region(str(item.treating_region))
            return None, None
        return original, self._parent_region(str(original.target_region))

    def _parent_region(self, region: str) -> str | None:
        target = self.parties.agency_of(region)
        parent = self.parties.parent_of(target.code) if target else None
        return str(parent.region) if parent is not None and parent.region else None

    async def propose_extension(self, env: Envelope[ProposeCollabExtension]) -> str:
        return await self._on_request(
            "collab.propose-extension.v1",
            env,
            req.may_propose_extension,
            lambda r, now: req.propose_extension(r, env.payload, self.calendar, now),
        )

    async def accept_extension(self, env: Envelope[AcceptCollabExtension]) -> str:
        return await self._on_request(
            "collab.accept-extension.v1",
            env,
            req.may_accept_extension,
            lambda r, now: req.accept_extension(r, env.payload, self.calendar, now),
        )

    async def reply(self, env: Envelope[ReplyCollabRequest]) -> str:
        return await self._on_request(
            "collab.reply-request.v1", env, req.may_reply, lambda r, now: req.reply(r, env.payload, self.calendar, now)
        )

    async def confirm_result(self, env: Envelope[ConfirmCollabResult]) -> str:
        return await self._on_request(
            "collab.confirm-result.v1", env, req.may_confirm, lambda r, now: req.confirm_result(r, env.payload, now)
        )

    async def _on_request(self, topic: str, env: Envelope, check, step) -> str:
        return await self._addressed(self.requests, "collaboration request", topic, env, check, step)

    # ------------------------------------------------------------ Q-01..Q-05
    async def request_coinvestigation(self, env: Envelope[RequestCoInvestigation]) -> str:
        c = env.payload
        key = str(coinv.request_id_for(c.insured_region, c.request_ref))
        return await self._open(
            self.coinvestigations, env, key, "coinvestigation", lambda: coinv.request(c, self.calendar, self.now())
        )

    async def amend_coinvestigation(self, env: Envelope[AmendCoInvestigation]) -> str:
        return await self._on_coinv(
            "collab.amend-coinvestigation.v1", env, coinv.may_amend, lambda s, now: coinv.amend(s, env.payload, now)
        )

    async def withdraw_coinvestigation(self, env: Envelope[WithdrawCoInvestigation]) -> str:
        return await self._on_coinv(
            "collab.withdraw-coinvestigation.v1",
            env,
            coinv.may_withdraw,
            lambda s, now: coinv.withdraw(s, env.payload, now),
        )

    async def submit_coinvestigation_result(self, env: Envelope[SubmitCoInvestigationResult]) -> str:
        return await self._on_coinv(
            "collab.submit-coinvestigation-result.v1",
            env,
            coinv.may_submit_result,
            lambda s, now: coinv.submit_result(s, env.payload, self.calendar, now),
        )

    async def confirm_coinvestigation(self, env: Envelope[ConfirmCoInvestigationResult]) -> str:
        return await self._on_coinv(
            "collab.confirm-coinvestigation.v1",
            env,
            coinv.may_confirm,
            lambda s, now: coinv.confirm(s, env.payload, now),
        )

    async def discuss_coinvestigation(self, env: Envelope[DiscussCoInvestigation]) -> str:
        speaker = self._actor(env).region or ""
        return await self._on_coinv(
            "collab.discuss-coinvestigation.v1",
            env,
            coinv.may_discuss,
            lambda s, now: coinv.discuss(s, env.payload, speaker, now),
        )

    async def _on_coinv(self, topic: str, env: Envelope, check, step) -> str:
        return await self._addressed(self.coinvestigations, "co-investigation", topic, env, check, step)

    # ------------------------------------------------------------ K-05 leads
    async def hand_over_lead(self, env: Envelope[HandOverLead]) -> str:
        c = env.payload
        key = str(leads.lead_id_for(str(c.insured_region), c.lead_ref))
        return await self._open(self.leads, env, key, "lead", lambda: leads.hand_over(c, self.calendar, self.now()))

    async def take_up_lead(self, env: Envelope[TakeUpLead]) -> str:
        return await self._addressed(
            self.leads,
            "lead",
            "collab.take-up-lead.v1",
            env,
            leads.may_act,
            lambda s, now: leads.take_up(s, env.payload, self.calendar, now),
            key=str(env.payload.lead_id),
        )

    async def report_lead_result(self, env: Envelope[ReportLeadResult]) -> str:
        return await self._addressed(
            self.leads,
            "lead",
            "collab.report-lead-result.v1",
            env,
            leads.may_act,
            lambda s, now: leads.report(s, env.payload, now),
            key=str(env.payload.lead_id),
        )

    # ------------------------------------------------------------ K-06 notices
    async def publish_notice(self, env: Envelope[PublishNotice]) -> str:
        c = env.payload
        key = str(notices.notice_id_for(c.publisher, c.notice_ref))
        return await self._open(self.notices, env, key, "notice", lambda: notices.publish(None, c, self.now()))

    # ------------------------------------------------------------ period summary and statistics
    async def coinvestigation_counted(self, env: Envelope[CoInvestigationCounted]) -> str:
        step = env.payload
        return await self.periods.apply(
            env, periods.period_key(step.period), lambda p: periods.count(p, step, self.calendar, self.now())
        )

    # ------------------------------------------------------------ deadlines (K-02, K-04, Q-02, Q-03, Q-05)
    async def deadline_due(self, env: Envelope[DeadlineDue]) -> str:
        due = env.payload
        now = self.now()
        request = request_of(due, "collab")
        if due.kind in (leads.TAKE_UP_DUE, leads.RESULT_DUE):
            return await self.leads.apply(
                env, due.subject, lambda s: None if s is None else leads.deadline_fired(s, request, self.calendar, now)
            )
        if due.kind in (periods.CUT_DUE, periods.CLOSE_DUE):
            return await self.periods.apply(
                env,
                due.subject,
                lambda p: None if p is None else periods.deadline_fired(p, request, self.calendar, now),
            )
        if await self.requests.load(due.subject):
            return await _on_existing(
                self.requests,
                "request",
                env,
                lambda r, at: req.deadline_fired(r, request, self.calendar, at),
                now,
                key=due.subject,
            )
        return await self.coinvestigations.apply(
            env, due.subject, lambda s: None if s is None else coinv.deadline_fired(s, request, self.calendar, now)
        )


async def _on_existing(aggregates: Aggregates, what: str, env: Envelope, step, now, key: str | None = None) -> str:
    """A command about a request that must exist: an unknown id is refused (dead-lettered with why)."""
    key = key or str(env.payload.request_id)

    def decide(state):
        if state is None:
            raise ValueError(f"no {what} {key}")
        return step(state, now)

    return await aggregates.apply(env, key, decide)


def registry(
    store: Store,
    *,
    now: Now,
    parties: ParticipantRegistry,
    calendar: WorkingCalendar,
    refuse: Refuse,
    metrics: CollabMetrics,
) -> dict[str, Handler]:
    """Who handles each topic the collab service consumes (``contracts/registry.py``): one handler each,
    given what it needs (``app.py`` passes the runtime's)."""
    h = CollabHandlers(store, now=now, parties=parties, calendar=calendar, refuse=refuse, metrics=metrics)
    return {
        "settlement.completed.v1": h.settlement_completed,
        "collab.open-request.v1": h.open_request,
        "collab.propose-extension.v1": h.propose_extension,
        "collab.accept-extension.v1": h.accept_extension,
        "collab.reply-request.v1": h.reply,
        "collab.confirm-result.v1": h.confirm_result,
        "collab.request-coinvestigation.v1": h.request_coinvestigation,
        "collab.amend-coinvestigation.v1": h.amend_coinvestigation,
        "collab.withdraw-coinvestigation.v1": h.withdraw_coinvestigation,
        "collab.submit-coinvestigation-result.v1": h.submit_coinvestigation_result,
        "collab.confirm-coinvestigation.v1": h.confirm_coinvestigation,
        "collab.discuss-coinvestigation.v1": h.discuss_coinvestigation,
        "collab.coinvestigation-counted.v1": h.coinvestigation_counted,
        "collab.hand-over-lead.v1": h.hand_over_lead,
        "collab.take-up-lead.v1": h.take_up_lead,
        "collab.report-lead-result.v1": h.report_lead_result,
        "collab.publish-notice.v1": h.publish_notice,
        "collab.deadline-due.v1": h.deadline_due,
    }

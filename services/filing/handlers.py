"""Filing 备案: which topic is handled by which function (the registry is ``registry()``, at the bottom).

A command other than registration is checked against the stored filings before anything is
decided: the sender must speak for their insured place (``domain/authority.py``). Refused for
authority → answered on ``party.refused.v1`` like every authority refusal of the platform (the
table's, clock skew), counted in ``yidi_refused_total``, nothing stored; ``filing.refused.v1``
answers what the filing rules refuse.

Each handler is given what it reads: the store, the clock (``now``), the participant registry,
the region policies, the working calendar, the sanctions projection (F-16), the metrics and how
an outside sender hears a refusal (``refuse``); ``app.py`` passes the runtime's."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.filing import FilingAccepted, FilingChanged, FilingDeadlineDue, FilingRefused
from contracts.parties import Channel, RefusalReason
from runtime.authority import Refusal
from runtime.calendar import WorkingCalendar
from runtime.outcome import Emit, Outcome, Schedule
from runtime.parties import ParticipantRegistry
from services.filing.domain import FilingDecision, PersonFilings, PolicyBook, decide
from services.filing.domain.authority import Unauthorized, sender_refusal
from services.filing.metrics import FilingMetrics
from services.sanctions import SanctionsProjection
from services.wiring import Handler, Now, Refuse, Store

PEOPLE = "people"


def latest_insured_region(state: dict) -> str | None:
    """The insured region of the person's newest filing: whose data key seals their document."""
    for record in reversed(state.get("filings") or []):
        versions = record.get("versions") or []
        if versions:
            return versions[-1].get("insured_region")
    return None


class FilingHandlers:
    """One person's filings (``people``): every command and fired deadline is one decision."""

    def __init__(
        self,
        store: Store,
        *,
        now: Now,
        parties: ParticipantRegistry,
        policies: PolicyBook,
        calendar: WorkingCalendar,
        sanctions: SanctionsProjection,
        metrics: FilingMetrics,
        refuse: Refuse,
    ) -> None:
        self.store, self.now, self.parties = store, now, parties
        self.policies, self.calendar, self.sanctions = policies, calendar, sanctions  # F-16
        self.metrics, self.refuse = metrics, refuse
        # one document per person: stored under their pseudonym, sealed (003 §5 (三))
        store.protect(PEOPLE, latest_insured_region)

    async def command(self, env: Envelope) -> str:
        """Every filing command and fired deadline: one person's aggregate, one decision."""
        person = env.payload.person_id
        sanctions = await self.sanctions.current()
        now = self.now()
        decisions: list[FilingDecision] = []
        sender = str(env.sender)

        party = self.parties.get(sender)

        def speaks_for(region: str) -> bool:
            if isinstance(party, Channel):  # a person through a channel: the table checked who (000 第九条)
                return party.serves(region)
            return self.parties.speaks_for(sender, region)

        def run(raw: dict | None) -> Outcome:
            state = PersonFilings.model_validate(raw) if raw else None
            refusal = sender_refusal(env.payload, state, sender, speaks_for)
            if refusal:  # before deciding (and before a retry is answered): nothing is written
                raise refusal
            if isinstance(env.payload, FilingDeadlineDue) and now < env.payload.due_at:
                # fired by an instance whose clock ran ahead of ours: ask again for the due moment
                return Outcome(
                    schedules=[
                        Schedule(
                            str(env.payload.deadline_id),
                            env.payload.due_at,
                            "filing.deadline-due.v1",
                            env.payload,
                            key=person,
                        )
                    ]
                )
            decision = decide(env.payload, state, self.policies, self.calendar, now, sanctions)
            decisions[:] = [decision]
            if decision.duplicate:  # a retried request: the same answer again, no change
                return Outcome(emits=[Emit(_topic_of(e), e, name=f"again:{i}") for i, e in enumerate(decision.events)])
            return Outcome(
                state=decision.state.model_dump(mode="json"),
                emits=[Emit(_topic_of(e), e, name=str(i)) for i, e in enumerate(decision.events)],
                schedules=[
                    Schedule(str(d.deadline_id), d.due_at, d.topic, d.message, key=person) for d in decision.deadlines
                ],
            )

        try:
            outcome = await self.store.apply(PEOPLE, person, env, run)
        except Unauthorized as exc:
            topic = f"{env.type}.v{env.schema_version}"
            await self.refuse(topic, env, Refusal(RefusalReason.UNAUTHORIZED, exc.message, rule=exc.rule))
            return "refused"
        if outcome.duplicate or not decisions or decisions[0].duplicate:
            return "duplicate"
        self.metrics.count(decisions[0], env.payload)
        return "applied"


def _topic_of(event: BaseModel) -> str:
    return {
        FilingChanged: "filing.changed.v1",
        FilingAccepted: "filing.accepted.v1",
        FilingRefused: "filing.refused.v1",
    }[type(event)]


def registry(
    store: Store,
    *,
    now: Now,
    parties: ParticipantRegistry,
    policies: PolicyBook,
    calendar: WorkingCalendar,
    sanctions: SanctionsProjection,
    metrics: FilingMetrics,
    refuse: Refuse,
) -> dict[str, Handler]:
    """Who handles each topic the filing service consumes (``contracts/registry.py``): every command and
    fired deadline is one decision on the person's filings (``FilingHandlers.command``)."""
    h = FilingHandlers(
        store,
        now=now,
        parties=parties,
        policies=policies,
        calendar=calendar,
        sanctions=sanctions,
        metrics=metrics,
        refuse=refuse,
    )
    return {
        "filing.register.v1": h.command,
        "filing.change.v1": h.command,
        "filing.suspend.v1": h.command,
        "filing.resume.v1": h.command,
        "filing.cancel.v1": h.command,
        "filing.deliver-proof.v1": h.command,  # F-10
        "filing.terminate.v1": h.command,
        "filing.decide.v1": h.command,
        "filing.deadline-due.v1": h.command,
        "prepayment.sanction.v1": sanctions.apply,  # F-16
    }

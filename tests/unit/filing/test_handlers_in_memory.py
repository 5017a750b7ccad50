"""The filing service's handlers (``services/filing/handlers.py`` ``registry``) on the in-memory
store (``runtime.memory``): a command in, the person's stored filings, the messages the agencies
hear and the deadlines armed out (F-01, F-10, F-14, F-16), in milliseconds. The rules themselves
are test_filing_register.py's and test_filing_lifecycle.py's; the wire is
tests/integration/test_filing_wire.py's.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime

from prometheus_client import CollectorRegistry
from support import default_sender

from contracts.envelope import Envelope
from contracts.filing import ChangeFiling
from contracts.parties import RefusalReason
from contracts.prepayment import PrepaymentSanction, SanctionAction, SanctionKind
from contracts.registry import ALL_TOPICS
from runtime.authority import Refusal
from runtime.calendar import default_calendar
from runtime.envelopes import envelope_for
from runtime.memory import MemoryStore
from runtime.parties import ParticipantRegistry
from services.filing.handlers import PEOPLE, registry
from services.filing.metrics import FilingMetrics
from services.sanctions import SanctionsProjection

from .filing_support import BOOK, PID, at, reg

NOW = at(2026, 9, 29)  # a Tuesday, a working day
PARTIES = ParticipantRegistry.load(os.environ["YIDI_KEYS_DIR"])  # the session's development keys
TOPIC_OF_TYPE = {spec.type: name for name, spec in ALL_TOPICS.items()}


class Service:
    """The filing service's own handlers on the in-memory store, with a clock the test moves and
    the refusals an outside sender would hear on ``party.refused.v1`` kept in ``refused``."""

    def __init__(self) -> None:
        self.clock: list[datetime] = [NOW]
        self.store = MemoryStore(producer="filing", now=lambda: self.clock[0])
        self.metrics = FilingMetrics(CollectorRegistry())
        self.refused: list[tuple[str, Envelope, Refusal]] = []
        self.handlers = registry(
            self.store,
            now=lambda: self.clock[0],
            parties=PARTIES,
            policies=BOOK,
            calendar=default_calendar(),
            sanctions=SanctionsProjection(self.store, max_age=0),
            metrics=self.metrics,
            refuse=self._refuse,
        )

    async def _refuse(self, topic: str, env: Envelope, refusal: Refusal) -> None:
        self.refused.append((topic, env, refusal))

    def envelope(self, topic: str, payload, sender: str | None = None) -> Envelope:
        return envelope_for(
            topic, payload, producer="test", now=self.clock[0], sender=sender or default_sender(topic, payload)
        )

    async def send(self, topic: str, payload, sender: str | None = None) -> str:
        return await self.handlers[topic](self.envelope(topic, payload, sender))

    def published(self, since: int = 0) -> list[tuple[str, dict]]:
        return [(TOPIC_OF_TYPE[env.type], env.payload.model_dump(mode="json")) for env in self.store.published[since:]]

    def filings(self) -> list[dict]:
        state = self.store.state(PEOPLE, PID)
        assert state is not None
        return state["filings"]


async def test_a_window_registration_is_stored_announced_answered_and_counted():
    """F-01, F-07, F-15: a Wuhan agency files a temporary stay in Beijing at the window: the person's
    filings hold one active version, the change is published for treating places to query (F-15)
    before the agency's answer; one acceptance is counted, after it was stored."""
    svc = Service()
    assert await svc.send("filing.register.v1", reg(category="other_temporary")) == "applied"
    [record] = svc.filings()
    [version] = record["versions"]
    assert (version["status"], version["insured_region"], version["treating_region"]) == ("active", "420100", "110000")
    [(changed, change), (answered, answer)] = svc.published()
    assert (changed, change["change_kind"]) == ("filing.changed.v1", "registered")
    assert (answered, answer["command"], answer["filing"]["filing_id"]) == (
        "filing.accepted.v1",
        "register",
        version["filing_id"],
    )
    assert svc.metrics.filings.labels("register", "other_temporary", "accepted")._value.get() == 1
    assert svc.metrics.changes.labels("registered")._value.get() == 1


async def test_a_copy_of_the_same_message_changes_nothing():
    """Redelivery: the inbox knows the event id; nothing is decided, stored, sent or counted again."""
    svc = Service()
    env = svc.envelope("filing.register.v1", reg())
    await svc.handlers["filing.register.v1"](env)
    before = (svc.filings(), len(svc.store.published))
    assert await svc.handlers["filing.register.v1"](env) == "duplicate"
    assert (svc.filings(), len(svc.store.published)) == before
    assert svc.metrics.filings.labels("register", "other_temporary", "accepted")._value.get() == 1


async def test_a_change_from_an_agency_of_another_insured_place_is_refused_to_its_sender():
    """F-14, 003 §5 (三): Wuhu's agency may not change a Wuhan filing. It hears UNAUTHORIZED under
    F-14 (``party.refused.v1``, through ``refuse``), without the filing's region; nothing is stored,
    published or counted."""
    svc = Service()
    await svc.send("filing.register.v1", reg())
    before, mark = svc.filings(), len(svc.store.published)
    wuhu = PARTIES.agency_of("340200")
    assert wuhu is not None
    change = ChangeFiling(
        request_id="change-0001", person_id=PID, filing_id=before[0]["versions"][-1]["filing_id"], phone="13800000000"
    )
    assert await svc.send("filing.change.v1", change, sender=wuhu.code) == "refused"
    [(topic, env, refusal)] = svc.refused
    assert (topic, env.sender, refusal.reason, refusal.rule) == (
        "filing.change.v1",
        wuhu.code,
        RefusalReason.UNAUTHORIZED,
        "F-14",
    )
    assert "420100" not in refusal.message
    assert svc.filings() == before and len(svc.store.published) == mark
    assert svc.metrics.filings.labels("change", "none", "refused")._value.get() == 0


async def test_a_new_filing_of_a_sanctioned_region_is_refused_on_the_filing_topic():
    """F-16, P-09: once the prepayment service suspends Wuhan's new filings, a registration is
    refused on ``filing.refused.v1`` with the sanction's reason and rule, counted once; nothing is stored."""
    svc = Service()
    sanction = PrepaymentSanction(
        sanction_id=uuid.uuid4(),
        insured_region="420100",
        kind=SanctionKind.NEW_FILING_SUSPENSION,
        action=SanctionAction.IMPOSED,
        effective_at=at(2026, 9, 28),
        notice_ids=[uuid.uuid4()],
        reason="emergency top-up notice unpaid 10 working days after issue (P-09)",
    )
    assert await svc.send("prepayment.sanction.v1", sanction) == "applied"
    assert await svc.send("filing.register.v1", reg()) == "applied"
    [(topic, refused)] = svc.published()
    assert (topic, refused["reason"], refused["rule"]) == ("filing.refused.v1", "new_filing_suspended", "F-16")
    assert "P-09" in refused["message"]
    assert svc.metrics.refusals.labels("new_filing_suspended", "F-16")._value.get() == 1
    assert svc.filings() == []


async def test_a_commitment_arms_its_deadline_which_revokes_the_filing_when_it_passes():
    """F-10: a Shenyang resettled retiree files without the household register on a personal commitment;
    the deadline is armed for one month later (2026-10-29); fired once it has passed unmet, the filing
    is revoked and, in Liaoning, the benefits settled on it become recoverable (004 第七条)."""
    svc = Service()
    await svc.send(
        "filing.register.v1",
        reg(
            insured_region="210100",
            category="resettled_retiree",
            proofs=["credential", "filing_form"],
            personal_commitment=True,
        ),
    )
    [armed] = svc.store.deadlines.values()
    assert armed.schedule.topic == "filing.deadline-due.v1" and armed.schedule.key == PID
    assert armed.envelope.payload.kind == "commitment_due"
    assert armed.schedule.due_at.date().isoformat() == "2026-10-29"
    [fired] = svc.store.due()

    svc.clock[0], mark = at(2026, 10, 30, 0, 5), len(svc.store.published)
    assert await svc.handlers["filing.deadline-due.v1"](fired) == "applied"
    [(topic, change)] = svc.published(since=mark)
    assert (topic, change["change_kind"], change["rule"]) == ("filing.changed.v1", "revoked", "F-10")
    version = svc.filings()[0]["versions"][-1]
    assert (version["status"], version["benefits_recoverable"]) == ("revoked", True)
    assert svc.metrics.changes.labels("revoked")._value.get() == 1

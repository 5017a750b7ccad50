"""How a hospital hears that its command was refused for who sent it (003 §5 (三), S-19).

The runtime checks every HIS command against the authority table (``authority.py``) and the clock
skew before any handler runs; a refusal has no effect: nothing is stored, nothing else published.
The HIS reads its answers on the result topic, not on ``party.refused.v1``, so for the ``his.*``
topics the settlement service answers there: a :class:`SettlementRefused` with a classified code
and its Chinese title, sealed to the sender like every result. A sender that is no institution has
no HIS to read results (and no institution code to address them to): it hears the runtime's
``party.refused.v1`` like any other party; so does an institution the registry gives no encryption
key (its answer cannot be sealed, and ``party.refused.v1`` names no patient).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from contracts.envelope import Envelope
from contracts.his_result import PartyRefusalCode, SealedSettlementResult, SettlementResult
from contracts.parties import Institution
from runtime.authority import Refusal
from runtime.parties import ParticipantRegistry
from services.settlement.adapters import seal_result
from services.settlement.domain import results
from services.settlement.domain.decision import RESULT
from services.settlement.domain.refusal import Refused
from services.settlement.metrics import SettlementMetrics
from services.wiring import Refuse

HIS_TOPICS = (
    "his.admission.v1",
    "his.outpatient-requested.v1",
    "his.settlement-requested.v1",
    "his.cancel-requested.v1",
    "his.refund-requested.v1",
    "his.manual-claim.v1",
)
PARTY_REFUSED = "party.refused.v1"
log = logging.getLogger(__name__)

# the codes of runtime.authority's institution() rule and of the runtime's clock-skew check
AUTHORITY_CODES: dict[str, PartyRefusalCode] = {
    code.value: code for code in PartyRefusalCode if code is not PartyRefusalCode.NOT_YOUR_SETTLEMENT
}


def his_code(refusal: Refusal) -> PartyRefusalCode | None:
    """The HIS's classified code for an authority refusal (S-19), or None for one it has none for."""
    return AUTHORITY_CODES.get(refusal.code or refusal.reason.value)


def his_refusal(refusal: Refusal) -> Refused | None:
    """The HIS's classified refusal for an authority refusal (S-19), or None for one it has no code for."""
    code = his_code(refusal)
    return Refused(code, refusal.message) if code else None


def refused_result(envelope: Envelope, refusal: Refusal) -> SettlementResult | None:
    """The answer to the sender (an institution), whatever institution the command names: the command
    was its own, and so is the answer (NOT_THIS_INSTITUTION must not reach the institution named)."""
    refused = his_refusal(refusal)
    if refused is None:
        return None
    cmd = envelope.payload
    return SettlementResult(
        results.refused(
            refused,
            request_id=cmd.request_id,
            person_id=cmd.person_id,
            institution_code=str(envelope.sender),
            settlement_id=getattr(cmd, "settlement_id", None),
        )
    )


Publish = Callable[..., Awaitable[Any]]  # Service.publish(topic, payload, cause=...)


def refusers(parties: ParticipantRegistry, metrics: SettlementMetrics, publish: Publish, party_refused: Refuse) -> dict:
    """``Service.refusers`` for the HIS topics."""

    async def refuse(topic: str, envelope: Envelope, refusal: Refusal) -> None:
        sender = parties.get(str(envelope.sender))
        code = his_code(refusal)
        result = refused_result(envelope, refusal) if isinstance(sender, Institution) else None
        sealed = _sealed(parties, result)
        if result is None or code is None or sealed is None:  # a result has a code: both come from his_code
            await party_refused(topic, envelope, refusal)
            return
        metrics.refused_sender(code, getattr(envelope.payload, "medical_type", None))
        await publish(RESULT, sealed, cause=envelope)

    return {topic: refuse for topic in HIS_TOPICS}


def _sealed(parties: ParticipantRegistry, result: SettlementResult | None) -> SealedSettlementResult | None:
    """The result sealed to the sender; None when there is none, or the registry gives the sender no
    encryption key (then it hears on party.refused.v1, whose answer names no patient)."""
    if result is None:
        return None
    try:
        return seal_result(parties, result)
    except ValueError:
        log.warning("%s has no encryption key: refusal answered on %s", result.root.institution_code, PARTY_REFUSED)
        return None

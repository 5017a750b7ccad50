"""Who may send what to the collaboration service (003 §5 (三); 000 第八十一条; K-01..K-04, Q-01..Q-05).

A request is opened by the requester's own agency; a co-investigation by the insured place's.
Replies, extension proposals and their acceptance, confirmations, withdrawals and results name
only the request: that the sender is its target (replies, extension proposals, results) or its
requester (accepting an extension, confirmations, withdrawals) is checked against the stored
request (``domain/addressing.py``), because agencies act on what is addressed to them. An
escalation (``escalated_from``, K-04) is opened by the original requester and must
target the parent, in the participant registry, of the original target's agency.

Levels: on collaboration items the agency of the named region acts itself, exactly
(``exact=True`` here, ``must_be`` in the domain): the province does not reply, confirm or
withdraw for one of its cities, nor the national level for anyone. K-03 makes the receiver the
first responder and 000 第八十一条 has each agency handle and confirm what it sent or received
(第七十九条: cities "做好问题响应和处理", provinces organise and coordinate); a province
coordinates when a matter is raised to it (K-04), as the target of a request of its own, and
then answers that one. Refused: NOT_ADDRESSED (the item names another agency) or
UNAUTHORIZED (a side of the item in the other role), on ``party.refused.v1``, nothing stored.

Time: rules read the receipt time (the service's business clock), never a claimed ``*_at``."""

from __future__ import annotations

from contracts.parties import Agency, RefusalReason
from runtime.authority import AuthorityTable, Refusal, Rule, agency_for, any_agency, service


def _stored(rule: str, who: str) -> Rule:
    """Any agency passes the table; ``who``, the agency the stored item names, is checked by the domain."""
    return Rule(f"{who} (checked on the stored item; rule {rule})", any_agency(rule).check)


def _publisher_itself(sender, payload, registry, now) -> Refusal | None:
    """K-06: any agency publishes, in its own name only (``publisher`` is the sender)."""
    if isinstance(sender, Agency) and sender.code == str(payload.publisher):
        return None
    return any_agency("K-06").check(sender, payload, registry, now) or Refusal(
        RefusalReason.UNAUTHORIZED,
        f"K-06: {sender.code} publishes only in its own name, not as {payload.publisher}",
        "K-06",
        "UNAUTHORIZED",
    )


_OPEN = agency_for("requester_region", rule="K-01", exact=True)

AUTHORITY = AuthorityTable(
    "collab",
    {
        "settlement.completed.v1": service("settlement"),
        "collab.open-request.v1": Rule(
            f"{_OPEN.who}; an escalation (`escalated_from`) only by the original requester, "
            "to the parent agency of the original target (K-04, checked on the stored request)",
            _OPEN.check,
        ),
        "collab.reply-request.v1": _stored("K-03", "the request's target agency itself, its first responder"),
        "collab.propose-extension.v1": _stored("K-03", "the request's target agency itself"),
        "collab.accept-extension.v1": _stored("K-03", "the request's requester agency itself"),
        "collab.confirm-result.v1": _stored("K-04", "the request's requester agency itself"),
        "collab.request-coinvestigation.v1": agency_for("insured_region", rule="Q-01", exact=True),
        "collab.amend-coinvestigation.v1": _stored("Q-02", "the requesting insured place's agency itself"),
        "collab.withdraw-coinvestigation.v1": _stored("Q-02", "the requesting insured place's agency itself"),
        "collab.submit-coinvestigation-result.v1": _stored("Q-04", "the treating place's agency itself"),
        "collab.confirm-coinvestigation.v1": _stored("Q-05", "the insured place's agency itself"),
        "collab.discuss-coinvestigation.v1": _stored("Q-05", "the insured or the treating place's agency itself"),
        "collab.hand-over-lead.v1": agency_for("insured_region", rule="K-05", exact=True),
        "collab.take-up-lead.v1": _stored("K-05", "the treating place's agency itself"),
        "collab.report-lead-result.v1": _stored("K-05", "the treating place's agency itself"),
        "collab.publish-notice.v1": Rule("any agency, naming itself in `publisher` (K-06)", _publisher_itself),
        "collab.coinvestigation-counted.v1": service("collab"),
        "collab.deadline-due.v1": service("collab"),
    },
)

"""Who may act on a stored request or co-investigation (000 第八十条, 第八十一条; K-03, K-04,
Q-02..Q-05): the stateful half of ``services/collab/authority.py``.

The authority table sees only the message (the sender is an agency). Which agency an item is
addressed to is in the stored item, so the check is here, pure: the handler passes the sender as
an :class:`Actor` and, when a check raises :class:`Misaddressed`, answers the sender with the
classified reason (``party.refused.v1``) and stores nothing.

Exactly the agency of the stored region acts: the receiver is first responder (K-03), the
requester confirms (K-04), the treating side answers a co-investigation and the insured side
confirms it (Q-04, Q-05). The province above a city, or the national level, does not act for it
on an item addressed to it: when a province is to coordinate, the requester raises the matter to
it (K-04) and it becomes the target of a request of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.parties import RefusalReason


@dataclass(frozen=True)
class Actor:
    """The sender as the domain sees it: its registry code and the region its agency handles
    (``None`` for the national agency)."""

    code: str
    region: str | None


class Misaddressed(Exception):
    """The sender may not act on this item. Not a ``ValueError``: a rule refusal is dead-lettered,
    this one is answered to the sender (the issue: "a classified refusal event it can read")."""

    def __init__(self, reason: RefusalReason, rule: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.rule, self.message = reason, rule, message


def must_be(actor: Actor, region: str, *, role: str, act: str, sides: Iterable[str], rule: str) -> None:
    """``actor`` must be the agency of ``region`` itself. One of the item's other ``sides`` in the
    wrong role is UNAUTHORIZED; an agency the item does not name at all is NOT_ADDRESSED."""
    if actor.region is not None and actor.region == str(region):
        return
    named = [str(s) for s in sides]
    if actor.region is not None and actor.region in named:
        raise Misaddressed(
            RefusalReason.UNAUTHORIZED,
            rule,
            f"{rule}: only the {role} ({region}) may {act}; {actor.code} is another side of it",
        )
    raise Misaddressed(
        RefusalReason.NOT_ADDRESSED,
        rule,
        f"{rule}: this item is addressed to the agencies of {' and '.join(named)}, not to {actor.code}",
    )

"""Who may act on a person's filings (003 §5 (三); F-01, F-08, F-10, F-13, F-14): the stateful half
of ``services/filing/authority.py``, pure.

Registration names its insured region and is checked by the authority table. Every other command
names only the person (and perhaps one filing), so the region it acts in is in the stored
filings: the sender must speak for the insured place of what the command acts on — that place's
own agency, its province, or the national level (the levels that may register, F-01):

* a command naming a filing (change, cancel, deliver proof, decide, a suspension or resumption of
  one filing): that filing's insured region, whatever its status;
* a person-wide suspension or resumption (no ``filing_id``) and termination (F-14: every filing
  of the person ends): the insured region of every live filing of the person.

A person with nothing to act on is left to the rules, which refuse it (no such filing, nothing to
change). The check comes before the retry check, so a request id reused by another agency is not
answered with the filings it made. The refusal does not say which region the filings belong to.
"""

from __future__ import annotations

from collections.abc import Callable

from contracts.filing import (
    CancelFiling,
    ChangeFiling,
    CommandModel,
    DecideFiling,
    DeliverProof,
    ResumeFiling,
    SuspendFiling,
    TerminateInsurance,
)
from services.filing.domain.model import PersonFilings

SpeaksFor = Callable[[str], bool]
"""region → whether the sender speaks for it (``ParticipantRegistry.speaks_for`` bound to the sender; for a
channel, ``Channel.serves``: the persons of that region may act through it)."""

RULE_OF: dict[type, str] = {
    ChangeFiling: "F-14",
    SuspendFiling: "F-14",
    ResumeFiling: "F-14",
    TerminateInsurance: "F-14",
    CancelFiling: "F-08",
    DeliverProof: "F-10",
    DecideFiling: "F-13",
}
"""The commands checked here, with the rule each acts under."""


class Unauthorized(Exception):
    """The sender may not act on these filings: answered to the sender, nothing is stored."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule, self.message = rule, message


def regions_acted_on(command: CommandModel, state: PersonFilings | None) -> set[str]:
    """The insured regions of the filings ``command`` acts on (see the module docstring)."""
    if state is None:
        return set()
    filing_id = getattr(command, "filing_id", None)
    if filing_id is not None:
        filing = state.find(filing_id)
        return {str(filing.insured_region)} if filing else set()
    return {str(f.insured_region) for f in state.live()}


def sender_refusal(
    command: CommandModel, state: PersonFilings | None, sender: str, speaks_for: SpeaksFor
) -> Unauthorized | None:
    """None when ``sender`` may send ``command`` about these stored filings, else why not."""
    rule = RULE_OF.get(type(command))
    if rule is None:  # registration: the table; fired deadlines: the service itself
        return None
    if all(speaks_for(region) for region in regions_acted_on(command, state)):
        return None
    filing_id = getattr(command, "filing_id", None)
    what = f"filing {filing_id}" if filing_id else "this person's filings"
    if getattr(command, "authentication", None) is not None:  # a channel (the table checked the person)
        return Unauthorized(rule, f"{rule}: channel {sender} does not serve the insured place of {what} (003 §5 (三))")
    return Unauthorized(
        rule,
        f"{rule}: agency {sender} does not handle the insured place of {what}; only that "
        "place's agency, its province or the national level may (003 §5 (三))",
    )

"""This service's own read model of filings (F-15), fed by ``filing.changed.v1``, so eligibility
needs no call to the filing service on the hot path (F-04, F-05, F-12, S-11, S-12)."""

from __future__ import annotations

from contracts.envelope import Envelope
from contracts.filing import FilingChanged
from kernel.filings import PersonFilingView
from runtime.outcome import Outcome
from services.wiring import Store

FILING_VIEW = "filing_view"


def view_region(state: dict) -> str | None:
    """The insured region of a filing in the person's read model (its newest version)."""
    for versions in (state.get("filings") or {}).values():
        if versions:
            return versions[-1].get("insured_region")
    return None


class FilingViews:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.protect(FILING_VIEW, view_region)  # a person's filings: sealed at rest (003 §5 (三))

    async def load(self, person_id: str) -> PersonFilingView | None:
        raw = await self.store.load(FILING_VIEW, person_id)
        return PersonFilingView.model_validate(raw) if raw else None

    async def changed(self, env: Envelope[FilingChanged]) -> str:
        """A filing's new version folded into the person's view (idempotent: an older one changes nothing)."""
        event = env.payload

        def run(raw: dict | None) -> Outcome:
            view = PersonFilingView.model_validate(raw) if raw else PersonFilingView(person_id=event.person_id)
            return Outcome(state=view.model_dump(mode="json")) if view.apply(event) else Outcome()

        outcome = await self.store.apply(FILING_VIEW, event.person_id, env, run)
        return outcome.result

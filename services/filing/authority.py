"""Who may send what to the filing service (003 §5 (三); F-01, F-15, F-16).

A filing is registered by the insured region's agency, or its province or the national level.
The other commands name only the person: that the sender speaks for the region the person's
filings belong to is checked against the stored filings (``domain``)."""
from __future__ import annotations

from runtime.authority import AuthorityTable, agency_for, any_agency, service

_AGENCY = any_agency("F-14")

AUTHORITY = AuthorityTable("filing", {
    "filing.register.v1": agency_for("insured_region", rule="F-01"),
    "filing.change.v1": _AGENCY,
    "filing.suspend.v1": _AGENCY,
    "filing.resume.v1": _AGENCY,
    "filing.cancel.v1": _AGENCY,
    "filing.deliver-proof.v1": _AGENCY,
    "filing.terminate.v1": _AGENCY,
    "filing.decide.v1": _AGENCY,
    "filing.deadline-due.v1": service("filing"),
    "prepayment.sanction.v1": service("prepayment"),
})

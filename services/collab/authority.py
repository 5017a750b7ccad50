"""Who may send what to the collaboration service (003 §5 (三); 000 第八十一条; K-01..K-04, Q-01..Q-05).

A request is opened by the requester's own agency; a co-investigation by the insured place's.
Replies, extensions, confirmations, withdrawals and results name only the request: that the
sender is its target (replies, results) or its requester (confirmations, withdrawals) is checked
against the stored request (``domain``), because agencies act on what is addressed to them."""
from __future__ import annotations

from runtime.authority import AuthorityTable, agency_for, any_agency, service

AUTHORITY = AuthorityTable("collab", {
    "settlement.completed.v1": service("settlement"),
    "collab.open-request.v1": agency_for("requester_region", rule="K-01", exact=True),
    "collab.reply-request.v1": any_agency("K-03"),
    "collab.agree-extension.v1": any_agency("K-03"),
    "collab.confirm-result.v1": any_agency("K-04"),
    "collab.request-coinvestigation.v1": agency_for("insured_region", rule="Q-01", exact=True),
    "collab.withdraw-coinvestigation.v1": any_agency("Q-02"),
    "collab.submit-coinvestigation-result.v1": any_agency("Q-04"),
    "collab.confirm-coinvestigation.v1": any_agency("Q-05"),
    "collab.deadline-due.v1": service("collab"),
})

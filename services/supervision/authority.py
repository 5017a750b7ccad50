"""Who may send what to the supervision service: it reads the settlements the settlement service
completed (R-04, 000 第七十八条), from that service alone."""

from __future__ import annotations

from runtime.authority import AuthorityTable, service

AUTHORITY = AuthorityTable(
    "supervision",
    {
        "settlement.completed.v1": service("settlement"),
    },
)

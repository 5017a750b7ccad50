"""Who may send what to the clearing service (003 §5 (三); C-02, R-04).

A period is confirmed by the agency of a side it binds (C-02); audit deductions come from the
treating side, whose audit found them (R-04). Settlements come only from the settlement service."""
from __future__ import annotations

from runtime.authority import AuthorityTable, agency_for, service

AUTHORITY = AuthorityTable("clearing", {
    "settlement.completed.v1": service("settlement"),
    "settlement.reversed.v1": service("settlement"),
    "clearing.record-audit-deduction.v1": agency_for("treating_region", rule="R-04"),
    "clearing.confirm-period.v1": agency_for("insured_region", "treating_region", rule="C-02"),
    "clearing.deadline-due.v1": service("clearing"),
})

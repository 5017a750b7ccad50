"""Who may send what to the prepayment service (003 §5 (三); P-02, P-08, P-09).

The quota of an account is set by the level above it (a city's by its province, a province's by
the national level, P-02); the payment into it is recorded by that receiving level; a delay is
reported by the paying region itself. Sanctions are the prepayment service's own."""
from __future__ import annotations

from runtime.authority import AuthorityTable, agency_above, agency_for, service

AUTHORITY = AuthorityTable("prepayment", {
    "settlement.completed.v1": service("settlement"),
    "settlement.reversed.v1": service("settlement"),
    "clearing.notice.v1": service("clearing"),
    "prepayment.set-annual-quota.v1": agency_above("insured_region", rule="P-02"),
    "prepayment.record-payment.v1": agency_above("insured_region", rule="P-08"),
    "prepayment.report-delay.v1": agency_for("insured_region", rule="P-09", exact=True),
    "prepayment.deadline-due.v1": service("prepayment"),
})

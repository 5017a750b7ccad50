"""Who may send what to the supervision service (R-04; 000 第五十七条, 第七十八条): the settlements the
settlement service completed, a stay's fee detail (S-18) and the cancels and refunds (S-15), from that
service alone; a flag's review, the decision on its appeal and the
audit deductions clearing records, from an agency that speaks for the treating region (its audit found the
flag); an appeal 申诉, from an institution naming itself in the treating region it names. That the flag is
of that region and institution is checked on the stored flag."""

from __future__ import annotations

from runtime.authority import AuthorityTable, agency_for, institution, service

AUTHORITY = AuthorityTable(
    "supervision",
    {
        "settlement.completed.v1": service("settlement"),
        "settlement.fee-detail.v1": service("settlement"),
        "settlement.reversed.v1": service("settlement"),
        "clearing.record-audit-deduction.v1": agency_for("treating_region", rule="R-04"),
        "supervision.review-flag.v1": agency_for("treating_region", rule="R-04"),
        "his.flag-appealed.v1": institution(region_field="treating_region", level_field=None),
        "supervision.decide-appeal.v1": agency_for("treating_region", rule="R-04"),
    },
)

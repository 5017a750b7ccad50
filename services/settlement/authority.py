"""Who may send what to the settlement service (003 §5 (三); S-01, S-05, S-15, S-17).

The HIS commands come from the institution itself: opened for cross-region settlement — a visit,
admission or discharge for the kind its medical type needs (inpatient, general or chronic outpatient:
the registry's ``Institution.opened``; S-13, 000 第十七条) — in the request's treating region, at its
registered level (the level sets deductible and ratio, so it is the registry's, never the HIS's word). That the institution cancelling or refunding made the
settlement is checked against the stored settlement (``reversals``). The hops between the two
places come only from this service.

A person's own manual claim (S-17) is made at the insured agency's window or through a channel for the
person it authenticated (000 第九条; ``runtime.authority.person_channel``), for a person insured in a region
it serves; the verification letter that holds the claim's clock, the decision and the payment are the insured
agency's alone."""

from __future__ import annotations

from runtime.authority import AuthorityTable, agency_for, institution, person_channel, service

_HIS_VISIT = institution(region_field="treating_region", kind_field="medical_type")  # opened for that kind
# a manual claim uploads what could not settle directly (S-17), a visit of a kind not opened included
_HIS_UPLOAD = institution(region_field="treating_region")
_HIS_OWN = institution(region_field=None, level_field=None)
_OURS = service("settlement")
_CLAIMANT = agency_for("insured_region", rule="S-17") | person_channel(rule="S-17", region_field="insured_region")

AUTHORITY = AuthorityTable(
    "settlement",
    {
        "his.admission.v1": _HIS_VISIT,
        "his.outpatient-requested.v1": _HIS_VISIT,
        "his.settlement-requested.v1": _HIS_VISIT,
        "his.cancel-requested.v1": _HIS_OWN,
        "his.refund-requested.v1": _HIS_OWN,
        "his.manual-claim.v1": _HIS_UPLOAD,
        "his.eligibility-requested.v1": _HIS_VISIT,  # asked and answered without effect (his_inquiry)
        "his.outpatient-pre-settlement.v1": _HIS_VISIT,
        "his.discharge-pre-settlement.v1": _HIS_VISIT,
        "his.fee-detail-uploaded.v1": _HIS_VISIT,
        "settlement.treating-assessed.v1": _OURS,
        "settlement.insured-decided.v1": _OURS,
        "settlement.insured-rollback.v1": _OURS,
        "settlement.refund-assessed.v1": _OURS,
        "settlement.refund-decided.v1": _OURS,
        "settlement.reversed.v1": _OURS,
        "settlement.deadline-due.v1": _OURS,
        "settlement.chronic-qualification.v1": agency_for("insured_region", rule="S-13"),
        "settlement.insured-person.v1": agency_for("insured_region", rule="S-06"),
        "settlement.manual-claim-submit.v1": _CLAIMANT,
        "settlement.manual-claim-documents.v1": _CLAIMANT,
        "settlement.manual-claim-verify.v1": agency_for("insured_region", rule="S-17"),
        "settlement.manual-claim-decide.v1": agency_for("insured_region", rule="S-17"),
        "settlement.manual-claim-pay.v1": agency_for("insured_region", rule="S-17"),
        "filing.changed.v1": service("filing"),
        "prepayment.sanction.v1": service("prepayment"),
    },
)

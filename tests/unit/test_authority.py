"""Authority tables (003 §5 (三)): every building block of ``runtime.authority`` and every rule of the
clearing (C-02, R-04) and prepayment (P-02, P-08, P-09) tables, allowed and refused, against the
sample participant registry; and every service's table covers exactly the topics it handles."""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from contracts.clearing import ClearingSide, ConfirmClearingPeriod, FundAmounts, RecordAuditDeduction
from contracts.parties import RefusalReason
from contracts.prepayment import PrepaymentScope, RecordPrepaymentPayment, ReportPaymentDelay, SetAnnualQuota
from contracts.topics import SERVICES
from runtime.authority import (
    AuthorityTable,
    Refusal,
    Rule,
    agency_above,
    agency_for,
    any_agency,
    institution,
    national_agency,
    service,
)
from runtime.parties import ParticipantRegistry
from services.clearing.authority import AUTHORITY as CLEARING
from services.prepayment.authority import AUTHORITY as PREPAYMENT

NOW = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)
REGISTRY = ParticipantRegistry.load()
WUHU, HEFEI, WUHAN, BEIJING = "340200", "340100", "420100", "110000"
# agencies of the sample registry: cities, their provinces, the national level
NATIONAL, ANHUI, HUBEI, A_BEIJING = "A000000", "A340000", "A420000", "A110000"
A_WUHU, A_HEFEI, A_WUHAN = "A340200", "A340100", "A420100"
HOSPITAL, SMALL_CLINIC = "H42010200001", "H42010200009"  # Wuhan level 3 opened; level 1 never opened


def party(code: str):
    found = REGISTRY.get(code)
    assert found is not None, code
    return found


def allowed(rule: Rule, sender: str, payload) -> bool:
    return rule(party(sender), payload, REGISTRY, NOW) is None


def refusal(rule: Rule, sender: str, payload) -> Refusal:
    refused = rule(party(sender), payload, REGISTRY, NOW)
    assert refused is not None, f"{sender} was allowed"
    return refused


# ================================================================ building blocks
def test_service_lets_only_the_named_services_send():
    rule = service("settlement", "clearing")
    assert allowed(rule, "settlement", None) and allowed(rule, "clearing", None)
    for sender in ("prepayment", NATIONAL, HOSPITAL):
        refused = refusal(rule, sender, None)
        assert refused.reason is RefusalReason.UNAUTHORIZED and sender in refused.message
    assert rule.who == "the settlement / clearing service"


def visit(**overrides) -> SimpleNamespace:
    return SimpleNamespace(
        **{"institution_code": HOSPITAL, "treating_region": WUHAN, "hospital_level": "3", **overrides}
    )


@pytest.mark.parametrize(
    "sender, payload, code",
    [
        (NATIONAL, visit(), "NOT_AN_INSTITUTION"),
        ("settlement", visit(), "NOT_AN_INSTITUTION"),
        ("H42010200002", visit(), "NOT_THIS_INSTITUTION"),  # acts for another hospital
        (SMALL_CLINIC, visit(institution_code=SMALL_CLINIC, hospital_level="1"), "INSTITUTION_NOT_OPENED"),
        (HOSPITAL, visit(treating_region=WUHU), "INSTITUTION_REGION_MISMATCH"),
        (HOSPITAL, visit(hospital_level="2"), "HOSPITAL_LEVEL_MISMATCH"),  # S-05: level decides the ratios
    ],
)
def test_institution_refusals(sender, payload, code):
    refused = refusal(institution(region_field="treating_region"), sender, payload)
    assert (refused.reason, refused.code) == (RefusalReason.UNAUTHORIZED, code)
    assert refused.rule == ("S-05" if code == "HOSPITAL_LEVEL_MISMATCH" else "003 §5 (三)")


def test_institution_allowed_and_its_optional_checks():
    assert allowed(institution(region_field="treating_region"), HOSPITAL, visit())
    # no region field: the institution's own region; no level field: any level
    assert allowed(
        institution(region_field=None, level_field=None), HOSPITAL, SimpleNamespace(institution_code=HOSPITAL)
    )
    opened = party(HOSPITAL).opened_on
    before = datetime(opened.year - 1, 1, 1, tzinfo=UTC)
    early = institution(region_field="treating_region")(party(HOSPITAL), visit(), REGISTRY, before)
    assert early and early.code == "INSTITUTION_NOT_OPENED"  # not yet opened (异地联网)


PAIR = SimpleNamespace(insured_region=WUHU, treating_region=WUHAN)


@pytest.mark.parametrize(
    "sender, ok",
    [
        (A_WUHU, True),
        (ANHUI, True),
        (NATIONAL, True),  # the region, its province, the national level
        (A_HEFEI, False),
        (A_WUHAN, False),
        (HUBEI, False),
        ("settlement", False),
        (HOSPITAL, False),
    ],
)
def test_agency_for_the_region_or_the_levels_above(sender, ok):
    assert allowed(agency_for("insured_region", rule="X-01"), sender, PAIR) is ok


@pytest.mark.parametrize("sender, ok", [(A_WUHU, True), (ANHUI, False), (NATIONAL, False), (A_HEFEI, False)])
def test_agency_for_exact_is_the_regions_own_agency_only(sender, ok):
    assert allowed(agency_for("insured_region", rule="X-01", exact=True), sender, PAIR) is ok


def test_agency_for_any_of_several_fields_and_its_refusal():
    rule = agency_for("insured_region", "treating_region", rule="X-01")
    assert allowed(rule, A_WUHU, PAIR) and allowed(rule, A_WUHAN, PAIR) and allowed(rule, HUBEI, PAIR)
    refused = refusal(rule, A_HEFEI, PAIR)
    assert (refused.reason, refused.rule) == (RefusalReason.UNAUTHORIZED, "X-01")
    assert "340200 or 420100" in refused.message
    assert refusal(rule, "collab", PAIR).message == "collab is not an agency"
    assert rule.who == "the agency of `insured_region` or `treating_region`, or its province or the national level"


@pytest.mark.parametrize(
    "region, sender, ok",
    [
        (WUHU, ANHUI, True),  # a city: its province
        (WUHU, NATIONAL, False),
        (WUHU, A_WUHU, False),
        (WUHU, HUBEI, False),
        (WUHU, A_HEFEI, False),
        (BEIJING, NATIONAL, True),  # a province-level region: the national level
        (BEIJING, A_BEIJING, False),
        ("340300", ANHUI, True),  # a region without an agency of its own: its province is above it
        ("340300", WUHU_AGENCY_OF_OTHER_CITY := A_WUHU, False),
    ],
)
def test_agency_above_is_exactly_the_parent_of_the_regions_agency(region, sender, ok):
    assert allowed(agency_above("insured_region", rule="P-02"), sender, SimpleNamespace(insured_region=region)) is ok


def test_agency_above_refuses_a_party_that_is_not_an_agency():
    refused = refusal(agency_above("insured_region", rule="P-02"), "prepayment", SimpleNamespace(insured_region=WUHU))
    assert refused.rule == "P-02" and "not an agency" in refused.message


@pytest.mark.parametrize("sender, ok", [(A_WUHU, True), (NATIONAL, True), (HOSPITAL, False), ("collab", False)])
def test_any_agency(sender, ok):
    assert allowed(any_agency("K-01"), sender, None) is ok


@pytest.mark.parametrize("sender, ok", [(NATIONAL, True), (ANHUI, False), (A_WUHU, False), ("filing", False)])
def test_national_agency(sender, ok):
    assert allowed(national_agency(), sender, None) is ok


def test_rules_combine_and_the_first_refusal_wins():
    both = any_agency("K-01") & agency_for("insured_region", rule="X-01", exact=True)
    assert allowed(both, A_WUHU, PAIR)
    assert refusal(both, HOSPITAL, PAIR).rule == "K-01"
    assert refusal(both, ANHUI, PAIR).rule == "X-01"
    assert both.who == "any agency; the agency of `insured_region`"


def test_a_table_dispatches_by_topic_and_describes_itself_sorted():
    table = AuthorityTable("demo", {"b.topic.v1": any_agency("K-01"), "a.topic.v1": service("demo")})
    assert table.check("a.topic.v1", party("settlement"), None, REGISTRY, NOW) is not None
    assert table.check("b.topic.v1", party(A_WUHU), None, REGISTRY, NOW) is None
    with pytest.raises(KeyError):
        table.check("c.topic.v1", party(A_WUHU), None, REGISTRY, NOW)
    assert table.describe().splitlines() == [
        "**demo**",
        "",
        "| topic | who may send it |",
        "|---|---|",
        "| `a.topic.v1` | the demo service |",
        "| `b.topic.v1` | any agency |",
    ]


# ================================================================ clearing (C-02, R-04)
def confirmation(insured: str = WUHU, treating: str = HEFEI, side: ClearingSide | None = None):
    extra = {"side": side} if side else {}
    return ConfirmClearingPeriod(
        clearing_month="2026-10", insured_region=insured, treating_region=treating, confirmed_at=NOW, **extra
    )


def deduction(insured: str = WUHU, treating: str = HEFEI) -> RecordAuditDeduction:
    return RecordAuditDeduction(
        deduction_id="D-1",
        settlement_id="S-1",
        insured_region=insured,
        treating_region=treating,
        reason="超标准收费",
        amounts=FundAmounts(insurance_type="310", funds={"pooling": "10.00"}),
        decided_at=NOW,
    )


CONFIRM, DEDUCT = "clearing.confirm-period.v1", "clearing.record-audit-deduction.v1"


@pytest.mark.parametrize(
    "side, sender, ok",
    [
        # Wuhu (insured) ↔ Hefei (treating), both in Anhui: each side confirms its own figures
        (ClearingSide.INSURED, A_WUHU, True),
        (ClearingSide.INSURED, ANHUI, True),
        (ClearingSide.INSURED, NATIONAL, True),
        (ClearingSide.INSURED, A_HEFEI, False),  # the counterpart may not confirm Wuhu's payable
        (ClearingSide.INSURED, A_WUHAN, False),
        (ClearingSide.INSURED, HUBEI, False),
        (ClearingSide.TREATING, A_HEFEI, True),
        (ClearingSide.TREATING, ANHUI, True),
        (ClearingSide.TREATING, A_WUHU, False),
        (ClearingSide.TREATING, A_WUHAN, False),
        (ClearingSide.TREATING, HOSPITAL, False),
        (ClearingSide.TREATING, "settlement", False),
    ],
)
def test_c02_a_confirmation_comes_from_the_agency_of_the_side_it_binds(side, sender, ok):
    assert allowed(CLEARING.rules[CONFIRM], sender, confirmation(side=side)) is ok


def test_c02_across_provinces_each_province_speaks_only_for_its_own_side():
    cross = {side: confirmation(WUHU, WUHAN, side) for side in ClearingSide}
    assert allowed(CLEARING.rules[CONFIRM], HUBEI, cross[ClearingSide.TREATING])
    assert allowed(CLEARING.rules[CONFIRM], A_WUHAN, cross[ClearingSide.TREATING])
    assert not allowed(CLEARING.rules[CONFIRM], HUBEI, cross[ClearingSide.INSURED])
    assert not allowed(CLEARING.rules[CONFIRM], ANHUI, cross[ClearingSide.TREATING])


def test_c02_a_confirmation_without_a_side_is_the_payers_and_a_refusal_says_which_side():
    assert allowed(CLEARING.rules[CONFIRM], A_WUHU, confirmation())
    refused = refusal(CLEARING.rules[CONFIRM], A_WUHAN, confirmation())
    assert (refused.reason, refused.rule) == (RefusalReason.UNAUTHORIZED, "C-02")
    assert "A420100" in refused.message and "340200" in refused.message and "insured side" in refused.message


@pytest.mark.parametrize(
    "insured, treating, sender, ok",
    [
        # intra-province, Wuhu insured: Wuhu's text gives the audit to the insured place (001 第三十条)
        (WUHU, HEFEI, A_WUHU, True),
        (WUHU, HEFEI, ANHUI, True),
        (WUHU, HEFEI, NATIONAL, True),
        (WUHU, HEFEI, A_HEFEI, False),  # the treating place does not audit Wuhu's intra-province costs
        # intra-province, Hefei insured (no text of its own): the treating place audits, the national default
        (HEFEI, WUHU, A_WUHU, True),
        (HEFEI, WUHU, A_HEFEI, False),
        # cross-province: always the treating place (000 第五十七、五十八条; 001 第三十条 二款)
        (WUHU, WUHAN, A_WUHAN, True),
        (WUHU, WUHAN, HUBEI, True),
        (WUHU, WUHAN, A_WUHU, False),
        (WUHU, WUHAN, ANHUI, False),
        (WUHU, HEFEI, "settlement", False),
    ],
)
def test_r04_audit_deductions_by_the_auditing_side(insured, treating, sender, ok):
    """R-04 (corrected 2026-12): who audits intra-province costs is the insured region's choice."""
    assert allowed(CLEARING.rules[DEDUCT], sender, deduction(insured, treating)) is ok
    if not ok:
        assert refusal(CLEARING.rules[DEDUCT], sender, deduction(insured, treating)).rule == "R-04"


@pytest.mark.parametrize(
    "topic, sender",
    [
        ("settlement.completed.v1", "settlement"),
        ("settlement.reversed.v1", "settlement"),
        ("clearing.deadline-due.v1", "clearing"),
    ],
)
def test_clearing_internal_topics_only_from_their_service(topic, sender):
    rule = CLEARING.rules[topic]
    assert allowed(rule, sender, None)
    for other in ({"settlement", "clearing", "prepayment"} - {sender}) | {NATIONAL, A_WUHU, HOSPITAL}:
        assert not allowed(rule, other, None), other


# ================================================================ prepayment (P-02, P-08, P-09)
NOTICE = uuid.UUID("7b7d3b0e-2f51-4d5e-9d3c-6f1b1b8a3c11")


def quota(region: str = WUHU, scope: PrepaymentScope = PrepaymentScope.CROSS_PROVINCE) -> SetAnnualQuota:
    return SetAnnualQuota(
        insured_region=region,
        scope=scope,
        year=2026,
        last_year_quota="0.00",
        last_year_monthly_funds={10: "5000.00", 11: "5000.00", 12: "5000.00"},
        issued_at=NOW,
    )


def payment(region: str = WUHU, scope: PrepaymentScope = PrepaymentScope.CROSS_PROVINCE) -> RecordPrepaymentPayment:
    return RecordPrepaymentPayment(
        payment_id="BANK-1", insured_region=region, scope=scope, notice_id=NOTICE, amount="100.00", paid_at=NOW
    )


def delay(region: str = WUHU) -> ReportPaymentDelay:
    return ReportPaymentDelay(
        insured_region=region,
        scope=PrepaymentScope.CROSS_PROVINCE,
        notice_id=NOTICE,
        reason="财政审批中",
        reported_at=NOW,
    )


QUOTA, PAYMENT, DELAY = "prepayment.set-annual-quota.v1", "prepayment.record-payment.v1", "prepayment.report-delay.v1"
CROSS, INTRA = PrepaymentScope.CROSS_PROVINCE, PrepaymentScope.INTRA_PROVINCE


@pytest.mark.parametrize("topic, build, rule", [(QUOTA, quota, "P-02"), (PAYMENT, payment, "P-08")])
@pytest.mark.parametrize(
    "region, scope, sender, ok",
    [
        (WUHU, CROSS, ANHUI, True),
        (WUHU, INTRA, ANHUI, True),  # a city's accounts: its province
        (WUHU, CROSS, A_WUHU, False),  # not the payer itself
        (WUHU, CROSS, NATIONAL, False),  # not two levels up
        (WUHU, CROSS, HUBEI, False),
        (WUHU, CROSS, A_WUHAN, False),  # not another province's agencies
        (WUHU, CROSS, "prepayment", False),
        (WUHU, CROSS, HOSPITAL, False),
        (BEIJING, CROSS, NATIONAL, True),  # a province-level region: national
        (BEIJING, CROSS, A_BEIJING, False),
        (BEIJING, INTRA, NATIONAL, False),
        (BEIJING, INTRA, A_BEIJING, False),  # no intra-province account at all
    ],
)
def test_p02_p08_quotas_and_payments_by_the_level_that_keeps_the_account(topic, build, rule, region, scope, sender, ok):
    payload = build(region, scope)
    assert allowed(PREPAYMENT.rules[topic], sender, payload) is ok
    if not ok:
        refused = refusal(PREPAYMENT.rules[topic], sender, payload)
        assert (refused.reason, refused.rule) == (RefusalReason.UNAUTHORIZED, rule)


def test_an_intra_province_account_is_never_kept_by_the_national_level():
    refused = refusal(PREPAYMENT.rules[QUOTA], NATIONAL, quota(BEIJING, INTRA))
    assert "intra-province" in refused.message and "110000" in refused.message


@pytest.mark.parametrize(
    "sender, ok",
    [
        (A_WUHU, True),  # the paying region itself reports (报备)
        (ANHUI, False),
        (NATIONAL, False),
        (A_HEFEI, False),
        (A_WUHAN, False),
        ("prepayment", False),
    ],
)
def test_p09_a_delay_is_reported_by_the_paying_regions_own_agency(sender, ok):
    assert allowed(PREPAYMENT.rules[DELAY], sender, delay()) is ok


@pytest.mark.parametrize(
    "topic, sender",
    [
        ("settlement.completed.v1", "settlement"),
        ("settlement.reversed.v1", "settlement"),
        ("clearing.notice.v1", "clearing"),
        ("clearing.obligation-breached.v1", "clearing"),
        ("prepayment.deadline-due.v1", "prepayment"),
    ],
)
def test_prepayment_internal_topics_only_from_their_service(topic, sender):
    rule = PREPAYMENT.rules[topic]
    assert allowed(rule, sender, None)
    for other in ({"settlement", "clearing", "prepayment"} - {sender}) | {NATIONAL, ANHUI, HOSPITAL}:
        assert not allowed(rule, other, None), other


@pytest.mark.parametrize("name", ["filing", "settlement"])
def test_p09_sanctions_reach_filing_and_settlement_only_from_the_prepayment_service(name):
    rule = importlib.import_module(f"services.{name}.authority").AUTHORITY.rules["prepayment.sanction.v1"]
    assert allowed(rule, "prepayment", None)
    assert not allowed(rule, NATIONAL, None) and not allowed(rule, A_WUHU, None)


# ================================================================ tables and handlers agree
@pytest.mark.parametrize("name", SERVICES)
def test_every_services_table_covers_exactly_the_topics_its_handlers_register(name):
    """As services/<name>/app.py builds it: a handler without a rule would not start; a rule without
    a handler would be a promise about a topic nobody consumes."""
    from runtime.config import Settings

    built = importlib.import_module(f"services.{name}.app").build(Settings(service=name))
    table = importlib.import_module(f"services.{name}.authority").AUTHORITY
    assert built.authority is table
    assert set(built.handlers) == set(table.rules)

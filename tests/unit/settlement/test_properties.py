"""Property tests: for every generated bill, policy and history the S-04 / S-07 invariants hold,
caps are never passed, and a refund followed by a re-settlement restores the accumulations (S-15)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.settlement_values import FundCode
from contracts.values import EligibilityBasis, FilingCategory
from services.settlement.domain.accumulations import Accumulations, fund_key, threshold_key
from services.settlement.domain.insured import InsuredProfile, decide
from services.settlement.domain.policy import RegionPolicy
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.treating import assess

from .settlement_support import catalogues, discharge, line, outpatient

CATALOGUE = catalogues().by_region["420000"]
CODES = [item.code for item in CATALOGUE.items] + ["UNKNOWN1", "UNKNOWN2"]
LEVELS = ["community", "1", "2", "3"]
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def money_st(low: str, high: str):
    return st.decimals(Decimal(low), Decimal(high), places=2, allow_nan=False, allow_infinity=False)


ratio_st = st.decimals(Decimal("0"), Decimal("1"), places=2)


@st.composite
def bills(draw):
    n = draw(st.integers(1, 12))
    lines = []
    for no in range(1, n + 1):
        qty = draw(st.decimals(Decimal("0.5"), Decimal("40"), places=1))
        price = draw(money_st("0.01", "3000.00"))
        lines.append(line(no, draw(st.sampled_from(CODES)), str(qty), str(price)))
    return lines


@st.composite
def level_terms(draw):
    terms = {"deductible": str(draw(money_st("0", "2000"))), "ratio": str(draw(ratio_st))}
    if draw(st.booleans()):
        terms["floor_ratio"] = str(draw(ratio_st))
    return terms


@st.composite
def insurance_terms(draw, primary: str, second: dict):
    """One insurance type's terms; the drawn level terms serve every level (fewer draws, same coverage)."""
    cap = str(draw(money_st("0", "100000")))
    benefits = []
    for mt, basis, group in (
        ("inpatient", "per_visit", "annual"),
        ("general_outpatient", "annual", "general_outpatient"),
    ):
        terms = draw(level_terms())
        benefits.append(
            {
                "medical_type": mt,
                "sample": True,
                "deductible_basis": basis,
                "cap_group": group,
                "annual_cap": cap if group == "annual" else str(draw(money_st("0", "5000"))),
                "levels": {lv: terms for lv in LEVELS},
            }
        )
    cut = lambda pts: {"points": str(pts), "sample": True}  # noqa: E731
    return {
        "benefits": benefits,
        "funds": [
            {"code": primary, "name": primary, "kind": "primary", "sample": True},
            second,
            {
                "code": "medical_assistance",
                "name": "救助",
                "kind": "personal_share",
                "sample": True,
                "ratio": str(draw(ratio_st)),
                "annual_cap": str(draw(money_st("0", "3000"))),
                "requires_group": "assistance",
            },
        ],
        "personal_account": {
            "applies_to": ["general_outpatient"],
            "sample": True,
            "covers_self_paid": draw(st.booleans()),
        },
        "unfiled_outpatient": {"rate": draw(st.sampled_from(["local", "other_temporary"])), "sample": True},
        "reductions": {
            scope: {
                "referral_emergency": cut(draw(st.decimals(0, Decimal("0.10"), places=2))),
                "other_temporary": cut(draw(st.decimals(0, Decimal("0.20"), places=2))),
            }
            for scope in ("intra_province", "cross_province")
        }
        | {"trauma_no_third_party": {"same_as": "referral_emergency", "sample": True}},
    }


@st.composite
def policies_st(draw):
    large = {
        "code": "large_amount",
        "name": "大额",
        "kind": "above_primary_cap",
        "sample": True,
        "ratio": str(draw(ratio_st)),
        "annual_cap": str(draw(money_st("0", "300000"))),
    }
    critical = {
        "code": "critical_illness",
        "name": "大病",
        "kind": "above_threshold",
        "sample": True,
        "ratio": str(draw(ratio_st)),
        "threshold": str(draw(money_st("0", "20000"))),
        "annual_cap": str(draw(money_st("0", "300000"))),
    }
    employee = draw(st.booleans())  # only the insurance type under test is generated
    terms = draw(insurance_terms("pooling", large) if employee else insurance_terms("resident_basic", critical))
    return RegionPolicy.model_validate(
        {
            "region": "340200",
            "name": "generated",
            "follows": "sample: generated",
            "effective_from": "2020-01-01",
            "employee" if employee else "resident": terms,
        }
    )


ELIGIBILITIES = st.sampled_from(
    [
        Entitlement(EligibilityBasis.LONG_TERM, FilingCategory.RESETTLED_RETIREE),
        Entitlement(EligibilityBasis.TEMPORARY, FilingCategory.REFERRAL),
        Entitlement(EligibilityBasis.TEMPORARY, FilingCategory.OTHER_TEMPORARY),
        Entitlement(None),
    ]
)


@st.composite
def cases(draw):
    policy = draw(policies_st())
    lines = draw(bills())
    common = dict(
        insurance_type="310" if policy.employee else "390",
        hospital_level=draw(st.sampled_from(LEVELS)),
        emergency=True,
        treating_region=draw(st.sampled_from(["420100", "340100"])),
    )
    if draw(st.booleans()):
        request = discharge(lines, **common)
    else:
        request = outpatient(lines, **common)
    eligibility = draw(ELIGIBILITIES)
    terms = policy.for_insurance(request.insurance_type)
    counters = {}
    for benefit in terms.benefits:  # a history below every cap (S-07)
        counters[fund_key(terms.funds[0].code, benefit.cap_group)] = draw(money_st("0", str(benefit.annual_cap)))
    for fund in terms.funds[1:]:
        counters[fund_key(fund.code, fund.cap_group)] = draw(money_st("0", str(fund.annual_cap)))
        if fund.threshold is not None:
            counters[threshold_key(fund.code)] = draw(money_st("0", "30000"))
    counters["deductible/general_outpatient"] = draw(money_st("0", "2000"))
    person = InsuredProfile(
        groups=frozenset(draw(st.sampled_from([(), ("assistance",)]))),
        personal_account_balance=draw(money_st("0", "500")),
    )
    return policy, request, eligibility, Accumulations(2025, counters), person


def run(case):
    policy, request, eligibility, acc, person = case
    assessment = assess(request, eligibility, CATALOGUE)
    return assessment, decide(assessment, policy, acc, person)


def caps(policy, request) -> dict[str, Decimal]:
    terms = policy.for_insurance(request.insurance_type)
    limits = {fund_key(terms.funds[0].code, b.cap_group): b.annual_cap for b in terms.benefits}
    limits.update({fund_key(f.code, f.cap_group): f.annual_cap for f in terms.funds[1:] if f.annual_cap is not None})
    return limits


def amounts(slip):
    yield from (
        slip.total,
        slip.in_scope,
        slip.b_class_self_pay,
        slip.over_limit_self_pay,
        slip.self_paid,
        slip.deductible_applied,
        slip.fund_total,
        slip.personal_account,
        slip.personal_cash,
    )
    yield from (f.amount for f in slip.funds)


@PROPS
@given(cases())
def test_slip_invariants_s07(case):
    _, d = run(case)
    slip = d.slip
    assert slip.total == slip.fund_total + slip.personal_cash  # S-07
    assert slip.total == slip.in_scope + slip.b_class_self_pay + slip.over_limit_self_pay + slip.self_paid
    for amount in amounts(slip):
        assert amount >= 0 and amount.as_tuple().exponent == -2  # M-01


@PROPS
@given(cases())
def test_treating_split_sums_to_total_per_line_and_in_sum(case):
    assessment, _ = run(case)
    parts = assessment.lines or assessment.categories
    for part in parts:
        assert part.total == part.in_scope + part.b_class_self_pay + part.over_limit_self_pay + part.self_paid
    assert sum(p.total for p in parts) == assessment.totals.total == sum(fl.amount for fl in case[1].fee_lines)


@PROPS
@given(cases())
def test_no_fund_passes_its_cap_and_accumulations_stay_below_caps(case):
    policy, request, _, acc, _ = case
    _, d = run(case)
    after = acc.plus(d.delta)
    for key, cap in caps(policy, request).items():
        assert after.get(key) <= cap, key
        assert d.delta.increments.get(key, Decimal(0)) <= max(cap - acc.get(key), Decimal(0))
    paid_by_fund = {f.code: f.amount for f in d.slip.funds}
    assert paid_by_fund.get(FundCode.PERSONAL_ACCOUNT, Decimal(0)) <= case[4].personal_account_balance


@PROPS
@given(cases())
def test_refund_then_resettle_restores_accumulations(case):
    policy, request, eligibility, acc, person = case
    _, first = run(case)
    rolled_back = acc.plus(first.delta).plus(first.delta.negated())  # S-15 cancel
    assert rolled_back == Accumulations(acc.year, {k: v for k, v in acc.counters.items() if v})
    _, again = run((policy, request, eligibility, rolled_back, person))
    assert again.slip == first.slip and again.delta == first.delta

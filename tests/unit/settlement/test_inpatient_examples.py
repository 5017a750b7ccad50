"""Worked inpatient examples, amounts checked to the fen and computed by hand in the comments.

The bill: a Wuhu (340200) employee treated at a level-3 hospital in Wuhan (420100), cross-province,
so the Hubei catalogue applies (S-02) and Wuhu's policy decides the money (S-05).

 line item                     qty × price        class / limit          split
  1   普通病房床位费  120100001   10 × 45.00 =  450.00  A, limit 45.00       in 450.00
  2   单人间床位费    120100002   10 × 80.00 =  800.00  A, limit 45.00       over (80−45)×10=350.00, in 450.00
  3   CT平扫          210300001    1 × 200.00 = 200.00  B 10%, limit 180      over 20.00; B 180×10%=18.00; in 162.00
  4   支架置入术      330801001    1 × 3000.00=3000.00  A                    in 3000.00
  5   药物洗脱支架    C0208010101  1 × 780.00 = 780.00  B 30%, limit 800      B 234.00; in 546.00
  6   头孢曲松钠      XJ01DDA001B002 6 × 25.50 = 153.00 B 10%                 B 15.30; in 137.70
  7   院内陪护        480000002    5 × 100.00 = 500.00  C                    self 500.00
  8   冬虫夏草        T009900001  0.5 × 120.00 = 60.00  C                    self 60.00
  9   血常规          250101001    3 × 20.00  =  60.00  A                    in 60.00
 10   一级护理        120200001   10 × 30.00  = 300.00  A                    in 300.00
 total 6303.00 = in-scope 5105.70 + B 267.30 + over-limit 370.00 + self-paid 560.00   (S-04)
"""

from __future__ import annotations

from datetime import date

import pytest

from contracts.settlement_values import FundCode, MajorFeeCategory, RefusalCode
from contracts.values import EligibilityBasis, FilingCategory, make_person_id
from services.settlement.domain.accumulations import Accumulations
from services.settlement.domain.insured import InsuredProfile, decide
from services.settlement.domain.policy import PolicyBook
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.refusal import Refused
from services.settlement.domain.treating import assess, fee_detail, register_admission

from .settlement_support import catalogue_for, discharge, line, m, policies

LONG_TERM = Entitlement(EligibilityBasis.LONG_TERM, FilingCategory.RESETTLED_RETIREE)
OTHER_TEMP = Entitlement(EligibilityBasis.TEMPORARY, FilingCategory.OTHER_TEMPORARY)
NO_FILING = Entitlement(None)


def bill(**dates):
    return [
        line(1, "120100001", "10", "45.00"),
        line(2, "120100002", "10", "80.00"),
        line(3, "210300001", "1", "200.00"),
        line(4, "330801001", "1", "3000.00"),
        line(5, "C0208010101", "1", "780.00"),
        line(6, "XJ01DDA001B002", "6", "25.50"),
        line(7, "480000002", "5", "100.00"),
        line(8, "T009900001", "0.5", "120.00"),
        line(9, "250101001", "3", "20.00"),
        line(10, "120200001", "10", "30.00"),
    ]


def settle(
    request,
    eligibility,
    *,
    book: PolicyBook | None = None,
    acc: Accumulations | None = None,
    person: InsuredProfile = InsuredProfile(),
):
    book = book or policies()
    policy = book.select(request.insured_region, request.discharge_date)
    assessment = assess(request, eligibility, catalogue_for(request, policy))
    acc = acc or Accumulations(request.discharge_date.year)
    return assessment, decide(assessment, policy, acc, person)


def funds(slip) -> dict:
    return {f.code: f.amount for f in slip.funds}


def test_treating_split_and_major_categories():
    assessment, _ = settle(discharge(bill()), LONG_TERM)
    t = assessment.totals
    assert (t.total, t.in_scope, t.b_class_self_pay, t.over_limit_self_pay, t.self_paid) == (
        m("6303.00"),
        m("5105.70"),
        m("267.30"),
        m("370.00"),
        m("560.00"),
    )
    assert assessment.catalogue_id == "420000" and assessment.cross_province and assessment.lines == []
    cats = {c.category: c for c in assessment.categories}
    # 床位费: lines 1+2 = 1250.00, over-limit 350.00; 卫生材料费: line 5; 其他费: line 7
    assert cats[MajorFeeCategory.BED].total == m("1250.00") and cats[MajorFeeCategory.BED].over_limit_self_pay == m(
        "350.00"
    )
    assert cats[MajorFeeCategory.MEDICAL_MATERIAL].b_class_self_pay == m("234.00")
    assert cats[MajorFeeCategory.HERBAL_PIECES].self_paid == m("60.00")


def test_long_term_filer_gets_local_rates():
    """S-08. Level 3: deductible 800.00, ratio 85%.
    pooling = (5105.70 − 800.00) × 0.85 = 4305.70 × 0.85 = 3659.845 → 3659.85
    cash = 6303.00 − 3659.85 = 2643.15"""
    _, d = settle(discharge(bill()), LONG_TERM)
    assert d.rate_basis == "local" and d.ratio == m("0.85")
    assert d.slip.deductible_applied == m("800.00")
    assert funds(d.slip)[FundCode.POOLING] == m("3659.85")
    assert funds(d.slip)[FundCode.LARGE_AMOUNT] == m("0.00")  # cap not reached
    assert d.slip.fund_total == m("3659.85") and d.slip.personal_cash == m("2643.15")
    assert d.delta.increments == {"fund/pooling/annual": m("3659.85")}


def test_unreferred_temporary_cross_province_minus_20_points():
    """S-09, Wuhu employee cross-province other temporary: 85% − 20 = 65%.
    pooling = 4305.70 × 0.65 = 2798.705 → 2798.71; cash = 6303.00 − 2798.71 = 3504.29"""
    _, d = settle(discharge(bill()), OTHER_TEMP)
    assert (d.rate_basis, d.ratio) == ("other_temporary", m("0.65"))
    assert funds(d.slip)[FundCode.POOLING] == m("2798.71") and d.slip.personal_cash == m("3504.29")


def test_emergency_without_filing_is_deemed_filed_minus_10():
    """F-04, S-11: no filing + emergency flag → deemed; 85% − 10 = 75%.
    pooling = 4305.70 × 0.75 = 3229.275 → 3229.28; cash = 6303.00 − 3229.28 = 3073.72"""
    assessment, d = settle(discharge(bill(), emergency=True), NO_FILING)
    assert assessment.eligibility_basis is EligibilityBasis.DEEMED_EMERGENCY
    assert (d.rate_basis, d.ratio) == ("referral_emergency", m("0.75"))
    assert funds(d.slip)[FundCode.POOLING] == m("3229.28") and d.slip.personal_cash == m("3073.72")


def test_no_filing_and_no_emergency_is_refused():
    with pytest.raises(Refused) as refused:
        settle(discharge(bill()), NO_FILING)
    assert refused.value.code is RefusalCode.NOT_FILED and refused.value.manual_claim_possible


def test_trauma_without_third_party_employee_minus_20():
    """S-10; 001 三(三): employee trauma −20 points. Level 2: deductible 500.00, ratio 88% → 68%.
    pooling = (5105.70 − 500.00) × 0.68 = 4605.70 × 0.68 = 3131.876 → 3131.88
    cash = 6303.00 − 3131.88 = 3171.12"""
    request = discharge(bill(), hospital_level="2", trauma=True, trauma_commitment_signed=True)
    assessment, d = settle(request, OTHER_TEMP)
    assert assessment.trauma_no_third_party  # marked for treating-place checks
    assert (d.rate_basis, d.ratio) == ("trauma", m("0.68"))
    assert funds(d.slip)[FundCode.POOLING] == m("3131.88") and d.slip.personal_cash == m("3171.12")


def test_trauma_resident_as_emergency_with_floor():
    """Resident trauma follows emergency (001 三(三)): cross-province fixed 60%, floor kept (保底 45% at level 3).
    by ratio: (5105.70 − 800.00) × 0.60 = 2583.42; floor: 6303.00 × 0.45 = 2836.35 (≤ 4305.70 payable)
    basic = max(2583.42, 2836.35) = 2836.35. 大病: burden 5105.70 − 2836.35 = 2269.35 < 15000 threshold → 0.00
    cash = 6303.00 − 2836.35 = 3466.65"""
    person = make_person_id("34020219800101002")
    request = discharge(bill(), person_id=person, insurance_type="390", trauma=True, trauma_commitment_signed=True)
    _, d = settle(request, OTHER_TEMP)
    assert (d.rate_basis, d.ratio) == ("trauma", m("0.60"))
    assert funds(d.slip) == {FundCode.RESIDENT_BASIC: m("2836.35"), FundCode.CRITICAL_ILLNESS: m("0.00")}
    assert d.slip.personal_cash == m("3466.65")
    assert d.delta.increments["threshold/critical_illness"] == m("2269.35")


@pytest.mark.parametrize(
    "flags, code",
    [
        (dict(trauma=True, trauma_commitment_signed=False), RefusalCode.TRAUMA_COMMITMENT_MISSING),
        (
            dict(trauma=True, trauma_commitment_signed=True, third_party_liability=True),
            RefusalCode.THIRD_PARTY_LIABILITY,
        ),
    ],
)
def test_trauma_refusals(flags, code):
    with pytest.raises(Refused) as refused:
        settle(discharge(bill(), **flags), OTHER_TEMP)
    assert refused.value.code is code


def test_stay_across_new_year_uses_discharge_years_policy_and_accumulations():
    """S-14. Admitted 2024-12-28, discharged 2025-01-05. A 2025 version of Wuhu's policy raises the
    level-3 deductible to 1000.00; 2025 accumulations show 78000.00 pooling paid (cap 80000.00).
    pooling due = (5105.70 − 1000.00) × 0.85 = 4105.70 × 0.85 = 3489.845 → 3489.85, cap left 2000.00 → 2000.00
    cost left by the cap = 4105.70 × (3489.85 − 2000.00) / 3489.85 = 1752.762… → 1752.76
    大额补助 = 1752.76 × 0.90 = 1577.484 → 1577.48
    cash = 6303.00 − 2000.00 − 1577.48 = 2725.52"""
    base = policies()
    v2023 = base.select("340200", date(2024, 6, 1))
    inpatient = v2023.employee.benefits[0]
    levels = {**inpatient.levels, "3": inpatient.levels["3"].model_copy(update={"deductible": m("1000.00")})}
    v2025 = v2023.model_copy(
        update={
            "effective_from": date(2025, 1, 1),
            "employee": v2023.employee.model_copy(
                update={"benefits": (inpatient.model_copy(update={"levels": levels}), *v2023.employee.benefits[1:])}
            ),
        }
    )
    book = PolicyBook({"340200": (v2023, v2025)})
    lines = [
        replace_date(fl, date(2024, 12, 30)) if fl.line_no <= 5 else replace_date(fl, date(2025, 1, 3)) for fl in bill()
    ]
    request = discharge(lines, admitted=date(2024, 12, 28), discharged=date(2025, 1, 5))
    acc = Accumulations(2025, {"fund/pooling/annual": m("78000.00")})
    _, d = settle(request, LONG_TERM, book=book, acc=acc)
    assert d.settlement_year == 2025 and d.slip.deductible_applied == m("1000.00")
    assert funds(d.slip) == {FundCode.POOLING: m("2000.00"), FundCode.LARGE_AMOUNT: m("1577.48")}
    assert d.slip.personal_cash == m("2725.52")
    assert acc.plus(d.delta).get("fund/pooling/annual") == m("80000.00")  # cap reached, never passed
    with pytest.raises(ValueError):  # 2024's counters do not apply
        settle(request, LONG_TERM, book=book, acc=Accumulations(2024))


def replace_date(fee_line, day):
    return fee_line.model_copy(update={"occurred_on": day})


def test_admission_refused_while_insured_region_suspended():
    """S-20: new admissions of a sanctioned insured region are refused."""
    from contracts.his import AdmissionRegistered

    from .settlement_support import header

    request = AdmissionRegistered(**header(medical_type="inpatient"), admission_date=date(2025, 3, 1))
    with pytest.raises(Refused) as refused:
        register_admission(request, LONG_TERM, admission_suspended=True)
    assert refused.value.code is RefusalCode.ADMISSION_SUSPENDED
    accepted = register_admission(request, LONG_TERM, admission_suspended=False)
    assert accepted.eligibility_basis is EligibilityBasis.LONG_TERM


def test_civil_servant_subsidy_applies_only_to_its_group():
    """S-06 fund order: after pooling, 公务员医疗补助 pays 50% of the in-scope personal share.
    in-scope personal share = 5105.70 − 3659.85 = 1445.85 → 722.925 → 722.93"""
    _, d = settle(discharge(bill()), LONG_TERM, person=InsuredProfile(groups=frozenset({"civil_servant"})))
    assert funds(d.slip)[FundCode.CIVIL_SERVANT] == m("722.93")
    assert d.slip.personal_cash == m("6303.00") - m("3659.85") - m("722.93")


def test_fee_detail_of_a_cross_province_stay_is_due_three_calendar_days_later():
    """S-18 (000 第五十三条 "3日内"): calendar days, so a stay settled the day before National Day
    is due on 2026-10-03, inside the holiday."""
    request = discharge(bill())
    policy = policies().select(request.insured_region, request.discharge_date)
    detail = fee_detail(request, catalogue_for(request, policy), "S-1", date(2026, 9, 30))
    assert detail.upload_due == date(2026, 10, 3)
    assert [x.line_no for x in detail.lines] == list(range(1, 11))
    assert (detail.totals.total, detail.totals.in_scope, detail.totals.self_paid) == (
        m("6303.00"),
        m("5105.70"),
        m("560.00"),
    )

"""Worked outpatient, chronic and reversal examples, to the fen, computed by hand in the comments.

General outpatient bill of a Wuhu employee at a level-3 hospital in Wuhan, no filing needed (F-05):
 line item                         qty × price       class / limit        split
  1  门诊诊查费    110200001        1 × 12.00 = 12.00  A, limit 10.00     over 2.00; in 10.00
  2  阿托伐他汀    XC10AAA001A001  28 × 1.50 = 42.00   B 10%, limit 1.20  over 0.30×28 = 8.40; B 33.60×10% = 3.36; in 30.24
  3  维C泡腾片     XA11GAA001A001   2 × 15.00 = 30.00  C                  self 30.00
  4  血糖测定      250302001        1 × 8.00  =  8.00  A                  in 8.00
  5  unknown item  ZZ9999           1 × 50.00 = 50.00  not in catalogue   self 50.00
 total 142.00 = in 48.24 + B 3.36 + over 10.40 + self 80.00 (S-04)
"""

from __future__ import annotations

from datetime import date

import pytest

from contracts.settlement_values import FundCode, RefundKind, RefusalCode
from contracts.values import EligibilityBasis, FilingCategory, MedicalType
from services.settlement.domain.accumulations import Accumulations
from services.settlement.domain.catalogue import choose_catalogue
from services.settlement.domain.insured import InsuredProfile, decide
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.refusal import Refused
from services.settlement.domain.results import completed, refused
from services.settlement.domain.reversal import ReversalContext, SettlementRecord, cancel, refund, remaining_request
from services.settlement.domain.treating import assess

from .settlement_support import catalogue_for, catalogues, line, m, outpatient, policies

NO_FILING_NEEDED = Entitlement(EligibilityBasis.NO_FILING_NEEDED)
LONG_TERM = Entitlement(EligibilityBasis.LONG_TERM, FilingCategory.LONG_TERM_RESIDENT)
ACCOUNT = InsuredProfile(personal_account_balance=m("1000.00"))
# Earlier visits this year used 580.00 of the 600.00 annual outpatient deductible.
ACC_2025 = Accumulations(2025, {"deductible/general_outpatient": m("580.00")})


def mixed_bill():
    return [
        line(1, "110200001", "1", "12.00"),
        line(2, "XC10AAA001A001", "28", "1.50", his_class="B"),
        line(3, "XA11GAA001A001", "2", "15.00"),
        line(4, "250302001", "1", "8.00"),
        line(5, "ZZ9999", "1", "50.00"),
    ]


def settle(request, eligibility, acc=ACC_2025, person=ACCOUNT):
    policy = policies().select(request.insured_region, request.visit_date)
    assessment = assess(request, eligibility, catalogue_for(request, policy))
    return assessment, decide(assessment, policy, acc, person)


def test_general_outpatient_mixed_classes_line_by_line():
    assessment, _ = settle(outpatient(mixed_bill()), NO_FILING_NEEDED)
    split = {
        fl.line_no: (fl.in_scope, fl.b_class_self_pay, fl.over_limit_self_pay, fl.self_paid) for fl in assessment.lines
    }
    assert split == {
        1: (m("10.00"), m("0"), m("2.00"), m("0")),
        2: (m("30.24"), m("3.36"), m("8.40"), m("0")),
        3: (m("0"), m("0"), m("0"), m("30.00")),
        4: (m("8.00"), m("0"), m("0"), m("0")),
        5: (m("0"), m("0"), m("0"), m("50.00")),
    }
    assert assessment.totals.total == m("142.00") and assessment.categories == []


def test_general_outpatient_money():
    """Unfiled outpatient takes the other-temporary rate (Wuhu: cross-province −20): 50% → 30%.
    deductible left this year 600.00 − 580.00 = 20.00 → applied 20.00
    pooling = (48.24 − 20.00) × 0.30 = 8.472 → 8.47
    personal share 142.00 − 8.47 = 133.53; account may pay all but self-paid 80.00 → 53.53
    cash = 80.00; fund total 8.47 + 53.53 = 62.00; 62.00 + 80.00 = 142.00 (S-07)"""
    _, d = settle(outpatient(mixed_bill()), NO_FILING_NEEDED)
    assert (d.rate_basis, d.ratio) == ("other_temporary", m("0.30"))
    assert d.slip.deductible_applied == m("20.00")
    assert [(f.code, f.amount) for f in d.slip.funds] == [
        (FundCode.POOLING, m("8.47")),
        (FundCode.PERSONAL_ACCOUNT, m("53.53")),
    ]
    assert (d.slip.fund_total, d.slip.personal_account, d.slip.personal_cash) == (m("62.00"), m("53.53"), m("80.00"))
    assert d.delta.increments == {
        "deductible/general_outpatient": m("20.00"),
        "fund/pooling/general_outpatient": m("8.47"),
        "account/personal_account": m("53.53"),
    }


@pytest.mark.parametrize(
    "bad, code",
    [
        (line(1, "110200001", "1", "12.00").model_copy(update={"amount": m("13.00")}), RefusalCode.INVALID_FEE_LINE),
        (line(1, "NOPE01", "1", "12.00", his_class="A"), RefusalCode.CATALOGUE_UNKNOWN_ITEM),
    ],
)
def test_bad_lines_are_refused_naming_the_line(bad, code):
    with pytest.raises(Refused) as caught:
        settle(outpatient([bad]), NO_FILING_NEEDED)
    assert caught.value.code is code and caught.value.line_no == 1
    answer = refused(
        caught.value, request_id="REQ-1", person_id=outpatient([bad]).person_id, institution_code="H42010200001"
    )
    assert answer.title_zh and answer.line_no == 1  # S-19


def test_chronic_without_qualification_is_refused():
    """S-13, F-05: a chronic prescription for hypertension needs the insured place's qualification."""
    request = outpatient(
        [line(1, "XC09AAC001A001", "30", "0.50")], medical_type="chronic_outpatient", chronic_disease_code="M03900"
    )
    with pytest.raises(Refused) as caught:
        settle(request, LONG_TERM, acc=Accumulations(2025))
    assert caught.value.code is RefusalCode.CHRONIC_NOT_QUALIFIED


def test_chronic_with_qualification_counts_on_its_own_cap():
    """Hypertension has its own 3000.00 cap at Wuhu; 2990.00 already paid this year.
    in-scope 30 × 0.50 = 15.00, deductible 0, ratio 85% → 12.75, cap left 10.00 → pooling 10.00
    account pays the rest 5.00 (chronic allowed), cash 0.00. The disease limit is not the pooling cap, so
    大额补助 takes nothing over (0.00)."""
    request = outpatient(
        [line(1, "XC09AAC001A001", "30", "0.50")], medical_type="chronic_outpatient", chronic_disease_code="M03900"
    )
    acc = Accumulations(2025, {"fund/pooling/chronic_M03900": m("2990.00")})
    person = InsuredProfile(chronic_qualifications=frozenset({"M03900"}), personal_account_balance=m("100.00"))
    _, d = settle(request, LONG_TERM, acc=acc, person=person)
    assert [(f.code, f.amount) for f in d.slip.funds] == [
        (FundCode.POOLING, m("10.00")),
        (FundCode.LARGE_AMOUNT, m("0.00")),
        (FundCode.PERSONAL_ACCOUNT, m("5.00")),
    ]
    assert d.slip.personal_cash == m("0.00")


def test_chronic_needs_a_filing():
    request = outpatient(
        [line(1, "XC09AAC001A001", "30", "0.50")], medical_type="chronic_outpatient", chronic_disease_code="M03900"
    )
    with pytest.raises(Refused) as caught:
        settle(request, NO_FILING_NEEDED)
    assert caught.value.code is RefusalCode.NOT_FILED


def test_wuhu_intra_province_uses_its_own_catalogue_and_others_the_province():
    """S-03 with Wuhu's region policy (001 第十九条): Wuhu insured in Hefei → Anhui list via Wuhu;
    Wuhan insured in Xiaogan → Hubei's unified list; Wuhu insured in Wuhan → Hubei's (S-02)."""
    book = catalogues()
    assert choose_catalogue(book, "340100", "340200", "insured_place").id == "340000"
    assert choose_catalogue(book, "420900", "420100", "province").id == "420000"
    assert choose_catalogue(book, "420100", "340200", "insured_place").id == "420000"
    with pytest.raises(Refused):
        choose_catalogue(book, "510100", "340200", "province")  # no Sichuan catalogue


# ---------------------------------------------------------------- reversals (S-15)
def record_of(settled_on=date(2025, 3, 12)):
    request = outpatient(mixed_bill(), visit=settled_on)
    assessment, d = settle(
        request, NO_FILING_NEEDED, acc=Accumulations(settled_on.year, {"deductible/general_outpatient": m("580.00")})
    )
    return SettlementRecord(
        completed(assessment, d, visit_id=request.visit_id, settled_on=settled_on), request, d.delta
    ), d


def ctx(**overrides):
    base = dict(
        today=date(2025, 5, 10),
        hospital_month_settled=True,
        cleared=True,
        is_latest=True,
        next_open_clearing_month="2025-06",
    )  # clearing_month_of(today), C-02
    return ReversalContext(**{**base, **overrides})


def test_refund_after_clearing_goes_negative_into_next_period():
    """S-15: settled 2025-03 (cleared in period 2025-04), refunded 2025-05-10 → all amounts negative in
    the next open period, 2025-06 (generated on 2025-06-21, C-02).
    compensation: total −142.00, pooling −8.47, personal account −53.53, cash −80.00; counters rolled back."""
    record, d = record_of()
    assert record.completed.clearing_month == "2025-04"
    out = refund(record, ctx(), RefundKind.AFTER_CLEARING, "R-1")
    assert out.clearing_month == "2025-06"
    c = out.compensation
    assert (c.total, c.fund_total, c.personal_account, c.personal_cash) == (
        m("-142.00"),
        m("-62.00"),
        m("-53.53"),
        m("-80.00"),
    )
    assert {f.code: f.amount for f in c.funds} == {FundCode.POOLING: m("-8.47"), FundCode.PERSONAL_ACCOUNT: m("-53.53")}
    assert ACC_2025.plus(d.delta).plus(_delta(out)) == ACC_2025


def _delta(out):
    from services.settlement.domain.accumulations import AccumulationDelta

    return AccumulationDelta.from_entries(2025, out.accumulation_delta)


@pytest.mark.parametrize(
    "kind, overrides, code",
    [
        (RefundKind.ORDINARY, {}, RefusalCode.RESETTLE_AFTER_CLEARING),  # cleared: only after_clearing
        (RefundKind.AFTER_CLEARING, dict(cleared=False), RefusalCode.REFUND_KIND_MISMATCH),
        (RefundKind.ORDINARY, dict(cleared=False, is_latest=False), RefusalCode.REFUND_KIND_MISMATCH),
    ],
)
def test_refund_kind_must_fit(kind, overrides, code):
    record, _ = record_of()
    with pytest.raises(Refused) as caught:
        refund(record, ctx(**overrides), kind, "R-1")
    assert caught.value.code is code


def test_non_latest_and_previous_year_refunds_stay_in_their_period():
    record, _ = record_of()
    out = refund(record, ctx(cleared=False, is_latest=False), RefundKind.NON_LATEST, "R-2")
    assert out.clearing_month == "2025-04"
    old, _ = record_of(date(2024, 12, 20))
    out = refund(old, ctx(cleared=False, today=date(2025, 1, 3)), RefundKind.PREVIOUS_YEAR, "R-3")
    assert out.clearing_month == "2025-01" and all(e.year == 2024 for e in out.accumulation_delta)


def test_partial_refund_resettles_remaining_lines():
    """Refund line 2 (阿托伐他汀): remaining in-scope 48.24 − 30.24 = 18.00, deductible 20.00 left → applied 18.00,
    pooling 0.00; personal 142.00 − 42.00 = 100.00, account pays 100.00 − self 80.00 = 20.00; cash 80.00.
    compensation = new − old: total −42.00, pooling −8.47, account 20.00 − 53.53 = −33.53, cash 0.00."""
    record, d = record_of()
    rolled_back = ACC_2025.plus(d.delta).plus(d.delta.negated())
    rest = remaining_request(record.request, [2])
    policy = policies().select("340200", rest.visit_date)
    again = decide(assess(rest, NO_FILING_NEEDED, catalogue_for(rest, policy)), policy, rolled_back, ACCOUNT)
    out = refund(
        record,
        ctx(cleared=False, hospital_month_settled=False),
        RefundKind.ORDINARY,
        "R-4",
        line_nos=[2],
        replacement=again,
    )
    c = out.compensation
    assert (c.total, c.personal_account, c.personal_cash) == (m("-42.00"), m("-33.53"), m("0.00"))
    assert {f.code: f.amount for f in c.funds}[FundCode.POOLING] == m("-8.47")
    assert ACC_2025.plus(d.delta).plus(_delta(out)) == ACC_2025.plus(again.delta)


def test_inpatient_recall_limits():
    """004 第三十四条: no recall after the hospital's monthly settlement, none skipping a later one,
    none after clearing; special refunds are outpatient only."""
    record, _ = record_of()
    inpatient = SettlementRecord(
        record.completed.model_copy(update={"medical_type": MedicalType.INPATIENT}), record.request, record.delta
    )
    cases = [
        (ctx(cleared=False), RefusalCode.RECALL_AFTER_MONTHLY_SETTLEMENT),
        (ctx(cleared=False, hospital_month_settled=False, is_latest=False), RefusalCode.RECALL_NOT_LATEST),
        (ctx(), RefusalCode.RESETTLE_AFTER_CLEARING),
    ]
    for context, code in cases:
        with pytest.raises(Refused) as caught:
            cancel(inpatient, context, "C-1")
        assert caught.value.code is code
    with pytest.raises(Refused) as caught:
        refund(inpatient, ctx(), RefundKind.AFTER_CLEARING, "R-5")
    assert caught.value.code is RefusalCode.RESETTLE_AFTER_CLEARING
    done = cancel(inpatient, ctx(cleared=False, hospital_month_settled=False), "C-2")
    assert done.compensation.total == m("-142.00") and done.clearing_month == "2025-04"


def test_intra_province_recall_is_refused_only_once_cleared():
    """S-15, 004 第三十四条: "省内异地就医时，经办机构间已完成费用清算的，不予召回重结": an intra-province
    stay already in the hospital's monthly settlement and followed by a later one is still recalled
    (−142.00 back into its own period 2025-04); once cleared it is not."""
    record, _ = record_of()
    intra = SettlementRecord(
        record.completed.model_copy(update={"medical_type": MedicalType.INPATIENT, "cross_province": False}),
        record.request,
        record.delta,
    )
    done = cancel(intra, ctx(cleared=False, hospital_month_settled=True, is_latest=False), "C-3")
    assert done.compensation.total == m("-142.00") and done.clearing_month == "2025-04"
    with pytest.raises(Refused) as caught:
        cancel(intra, ctx(), "C-4")
    assert caught.value.code is RefusalCode.RESETTLE_AFTER_CLEARING

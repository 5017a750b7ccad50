"""Insured-place step 参保地 (S-05..S-09, S-13, S-14): from the treating assessment, the person's
year-to-date accumulations and the region's policy, compute the slip and the accumulation delta."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.settlement_hops import InsuredDecided, TreatingAssessed
from contracts.settlement_values import FeeSplit, FundAmount, FundCode, RefusalCode, SettlementSlip
from contracts.values import InsuranceType, MedicalType
from services.settlement.domain.accumulations import (
    ACCOUNT_KEY,
    AccumulationDelta,
    Accumulations,
    deductible_key,
    fund_key,
)
from services.settlement.domain.funds import pay_primary, pay_supplementary, remaining
from services.settlement.domain.policy import (
    Benefit,
    ChronicDisease,
    FundRule,
    InsurancePolicy,
    LevelTerms,
    RegionPolicy,
)
from services.settlement.domain.rates import Entitlement, RateBasis, RateTerms, is_rate_basis, rate_basis, rate_terms
from services.settlement.domain.refusal import Refused

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class InsuredProfile:
    """What the insured place knows of the person besides the filing."""

    chronic_qualifications: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()  # e.g. civil_servant, assistance: gate some funds (S-06)
    personal_account_balance: Decimal = ZERO


@dataclass(frozen=True)
class InsuredAnswer:
    """The insured place's answer: slip, counter changes, and the rate that applied."""

    slip: SettlementSlip
    delta: AccumulationDelta
    ratio: Decimal
    rate_basis: RateBasis
    settlement_year: int


def settlement_year(assessment: TreatingAssessed) -> int:
    """A stay settles in its discharge year, with that year's accumulations (S-14)."""
    return assessment.service_date.year


def decide(
    assessment: TreatingAssessed, policy: RegionPolicy, acc: Accumulations, person: InsuredProfile = InsuredProfile()
) -> InsuredAnswer:
    """The money answer (S-05): deductible, ratio, caps, funds in the region's order, personal share."""
    year = settlement_year(assessment)
    if acc.year != year:
        raise ValueError(f"accumulations of {acc.year} given for a settlement of {year} (S-14)")
    terms = policy.for_insurance(assessment.insurance_type)
    disease = _chronic_gate(assessment, policy, person)
    benefit = terms.benefit(assessment.medical_type)
    cap_group, cap = _cap(benefit, disease)
    level = _level(benefit, assessment)
    basis = rate_basis(
        Entitlement(assessment.eligibility_basis, assessment.filing_category),
        emergency=assessment.emergency,
        trauma_no_third_party=assessment.trauma_no_third_party,
        unfiled_outpatient_rate=terms.unfiled_outpatient.rate,
    )
    rate = rate_terms(
        level, terms, basis, cross_province=assessment.cross_province, medical_type=assessment.medical_type
    )
    totals = assessment.totals
    increments: dict[str, Decimal] = {}
    deductible = _deductible(benefit, level, totals.in_scope, acc, increments)
    funds, paid_total = _funds(
        terms, (cap_group, cap), benefit.cap_group, assessment, deductible, rate, acc, person, increments
    )
    account = _personal_account(terms, assessment, totals, paid_total, person, increments)
    if account:
        if terms.personal_account is None:  # _personal_account pays nothing without the region's rule
            raise ValueError("004 第十四条: the personal account paid without a personal-account rule")
        funds.append(FundAmount(code=FundCode.PERSONAL_ACCOUNT, name=terms.personal_account.name, amount=account))
    fund_total = paid_total + account
    slip = SettlementSlip(
        **totals.model_dump(),
        deductible_applied=deductible,
        funds=funds,
        fund_total=fund_total,
        personal_account=account,
        personal_cash=totals.total - fund_total,
    )
    delta = AccumulationDelta(year, {k: v for k, v in increments.items() if v})
    return InsuredAnswer(slip, delta, rate.ratio, rate.basis, year)


def _chronic_gate(assessment: TreatingAssessed, policy: RegionPolicy, person: InsuredProfile) -> ChronicDisease | None:
    """Chronic outpatient only for a disease the insured place covers and the person is qualified for
    (S-13, F-05); the request names one disease, so each prescription settles on its own."""
    if assessment.medical_type is not MedicalType.CHRONIC_OUTPATIENT:
        return None
    code = assessment.chronic_disease_code or ""
    disease = policy.chronic(code)
    if disease is None:
        raise Refused(
            RefusalCode.CHRONIC_NOT_COVERED,
            f"insured region {policy.region} does not cover chronic disease {code} (S-13)",
        )
    if code not in person.chronic_qualifications:
        raise Refused(
            RefusalCode.CHRONIC_NOT_QUALIFIED,
            f"no chronic qualification for disease {code} at the insured place {policy.region} (F-05, S-13)",
        )
    return disease


def _cap(benefit: Benefit, disease: ChronicDisease | None) -> tuple[str, Decimal]:
    """The primary fund's cap group and annual cap; a chronic disease with its own cap counts apart."""
    if disease is not None and disease.annual_cap is not None:
        return f"chronic_{disease.code}", disease.annual_cap
    return benefit.cap_group, benefit.annual_cap


def _level(benefit: Benefit, assessment: TreatingAssessed) -> LevelTerms:
    level = benefit.levels.get(assessment.hospital_level)
    if level is None:
        raise Refused(
            RefusalCode.HOSPITAL_LEVEL_NOT_COVERED,
            f"the insured place's {benefit.medical_type} terms name no level {assessment.hospital_level}",
        )
    return level


def _deductible(
    benefit: Benefit, level: LevelTerms, in_scope: Decimal, acc: Accumulations, increments: dict[str, Decimal]
) -> Decimal:
    """起付标准: per stay/visit, or once a year for annual outpatient deductibles (S-05)."""
    if benefit.deductible_basis == "per_visit":
        return min(in_scope, level.deductible)
    key = deductible_key(benefit.medical_type)
    applied = min(in_scope, max(level.deductible - acc.get(key), ZERO))
    increments[key] = applied
    return applied


def _funds(
    terms: InsurancePolicy,
    cap: tuple[str, Decimal],
    benefit_group: str,
    assessment: TreatingAssessed,
    deductible: Decimal,
    rate: RateTerms,
    acc: Accumulations,
    person: InsuredProfile,
    increments: dict[str, Decimal],
) -> tuple[list[FundAmount], Decimal]:
    """The funds in the region's order (S-06); returns their amounts and their total."""
    totals = assessment.totals
    primary_rule, *others = terms.funds
    key = fund_key(primary_rule.code, cap[0])
    primary = pay_primary(
        totals.in_scope - deductible, totals.total, rate.ratio, rate.floor_ratio, remaining(cap[1], acc.get(key))
    )
    increments[key] = primary.paid
    funds = [FundAmount(code=primary_rule.code, name=primary_rule.name, amount=primary.paid)]
    residual = totals.in_scope - primary.paid
    # A chronic disease's own limit is not the pooling cap: what it leaves is not the large-amount fund's.
    over_cap = primary.over_cap_cost if cap[0] == benefit_group else ZERO
    for rule in others:
        if not _applies(rule, assessment.medical_type, person):
            continue
        payment = pay_supplementary(rule, over_cap_cost=over_cap, residual=residual, acc=acc)
        for k, v in payment.increments.items():
            increments[k] = increments.get(k, ZERO) + v
        funds.append(FundAmount(code=rule.code, name=rule.name, amount=payment.paid))
        residual -= payment.paid
    return funds, totals.in_scope - residual


def _applies(rule: FundRule, medical_type: MedicalType, person: InsuredProfile) -> bool:
    """A fund pays for its medical types, and only persons of its group when it names one (S-06)."""
    return medical_type in rule.applies_to and (rule.requires_group is None or rule.requires_group in person.groups)


def _personal_account(
    terms: InsurancePolicy,
    assessment: TreatingAssessed,
    totals: FeeSplit,
    paid: Decimal,
    person: InsuredProfile,
    increments: dict[str, Decimal],
) -> Decimal:
    """个人账户 pays the personal share where the region allows it, within the balance (004 第十四条)."""
    rule = terms.personal_account
    if (
        rule is None
        or assessment.insurance_type is not InsuranceType.EMPLOYEE
        or assessment.medical_type not in rule.applies_to
    ):
        return ZERO
    personal = totals.total - paid
    coverable = personal if rule.covers_self_paid else personal - totals.self_paid
    used = min(max(coverable, ZERO), max(person.personal_account_balance, ZERO))
    increments[ACCOUNT_KEY] = used
    return used


def answer_of(decided: InsuredDecided) -> InsuredAnswer:
    """The insured place's answer as the treating place received it (the inverse of
    ``to_insured_decided``). Only this service sends it, always with a slip, a ratio and a basis."""
    if decided.slip is None or decided.ratio_applied is None or not is_rate_basis(decided.rate_basis):
        raise ValueError(
            f"settlement {decided.settlement_id}: the insured place's answer lacks its slip, "
            f"ratio or rate basis (got basis {decided.rate_basis!r})"
        )
    delta = AccumulationDelta.from_entries(decided.settlement_year, decided.accumulation_delta)
    return InsuredAnswer(
        decided.slip, delta, decided.ratio_applied, RateBasis(decided.rate_basis), decided.settlement_year
    )


def refusal_of(decided: InsuredDecided) -> Refused:
    """The insured place's refusal as the treating place received it: a refusal carries its code."""
    if decided.refusal_code is None:
        raise ValueError(f"settlement {decided.settlement_id}: the insured place's refusal carries no code")
    return Refused(decided.refusal_code, decided.refusal_message or "")


def to_insured_decided(assessment: TreatingAssessed, decision: InsuredAnswer) -> InsuredDecided:
    return InsuredDecided(
        settlement_id=assessment.settlement_id,
        request_id=assessment.request_id,
        person_id=assessment.person_id,
        decided=True,
        slip=decision.slip,
        settlement_year=decision.settlement_year,
        ratio_applied=decision.ratio,
        rate_basis=decision.rate_basis,
        accumulation_delta=decision.delta.entries(),
    )


def refusal_to_insured_decided(assessment: TreatingAssessed, refused: Refused) -> InsuredDecided:
    return InsuredDecided(
        settlement_id=assessment.settlement_id,
        request_id=assessment.request_id,
        person_id=assessment.person_id,
        decided=False,
        refusal_code=refused.code,
        refusal_message=refused.message,
        settlement_year=settlement_year(assessment),
    )

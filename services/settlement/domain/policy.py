"""The insured place's policy 参保地政策 (S-05..S-09, S-13): validated data, never constants in code.

A region's file holds one or more versions; the version in force on the discharge (or visit)
date applies, so a stay across New Year settles under the discharge year's policy (S-14).
Every block names its ``source`` or says ``sample: true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from contracts.settlement_values import FUNDS_BY_INSURANCE, FundCode, RefusalCode
from contracts.values import HospitalLevel, InsuranceType, MedicalType, RegionCode
from services.settlement.domain.refusal import Refused
from services.settlement.domain.values import Amount, Data, Ratio

NATIONAL_CEILING = {"referral_emergency": Decimal("0.10"), "other_temporary": Decimal("0.20")}
"""Largest ratio cut for temporary patients (S-09; 003 二(六))."""

RateClass = Literal["referral_emergency", "other_temporary"]


class Sourced(Data):
    """A block of values with where they come from: a source note, or ``sample: true``."""

    source: str | None = None
    sample: bool = False

    @model_validator(mode="after")
    def _provenance(self) -> Sourced:
        if not self.source and not self.sample:
            raise ValueError("give a 'source:' (document and article) or mark the block 'sample: true'")
        return self


class LevelTerms(Data):
    """Deductible 起付标准 and ratio 支付比例 at one hospital level; optional floor 保底比例 of the total."""

    deductible: Amount
    ratio: Ratio
    floor_ratio: Ratio | None = Field(
        default=None,
        description="保底: the fund pays at least this share of "
        "the total, within the in-scope amount (resident schemes in Anhui)",
    )


class Benefit(Sourced):
    """Terms of one medical type for one insurance type (S-05)."""

    medical_type: MedicalType
    deductible_basis: Literal["per_visit", "annual"] = Field(
        description="per_visit: each admission/visit; annual: once a year (outpatient)"
    )
    cap_group: str = Field(pattern=r"^[a-z_]+$", description="benefits sharing one annual cap share a group")
    annual_cap: Amount = Field(description="最高支付限额 of the primary fund in this group")
    levels: dict[HospitalLevel, LevelTerms] = Field(min_length=1)


class FundRule(Sourced):
    """One fund of the slip and how it pays (S-06). The list order is the order the region applies.

    kinds: ``primary`` pays ratio × (in-scope − deductible) up to the benefit cap; ``above_primary_cap``
    pays its ratio of the in-scope cost the primary fund left because of its cap (大额补助);
    ``above_threshold`` pays its ratio of the year's personal in-scope burden above a threshold
    (大病保险); ``personal_share`` pays its ratio of the personal in-scope share left (公务员补助, 救助…).
    """

    code: FundCode
    name: str
    kind: Literal["primary", "above_primary_cap", "above_threshold", "personal_share"]
    ratio: Ratio | None = None
    threshold: Amount | None = None
    annual_cap: Amount | None = Field(default=None, description="none: no cap of its own")
    cap_group: str = Field(default="annual", pattern=r"^[a-z_]+$")
    applies_to: tuple[MedicalType, ...] = tuple(MedicalType)
    requires_group: str | None = Field(default=None, description="person group needed, e.g. civil_servant")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> FundRule:
        if self.kind == "primary" and (self.ratio is not None or self.annual_cap is not None):
            raise ValueError(f"fund {self.code}: the primary fund takes ratio and cap from the benefits")
        if self.kind != "primary" and self.ratio is None:
            raise ValueError(f"fund {self.code}: kind {self.kind} needs a ratio")
        if (self.kind == "above_threshold") != (self.threshold is not None):
            raise ValueError(f"fund {self.code}: a threshold is needed by, and only by, kind above_threshold")
        return self


class Reduction(Sourced):
    """Rate for temporary patients (S-09): minus ``points`` or a ``fixed_ratio``; the floor 保底 is kept,
    cut by ``floor_points``, or dropped."""

    points: Ratio | None = None
    fixed_ratio: Ratio | None = None
    floor: Literal["keep", "reduce", "none"] = "keep"
    floor_points: Ratio | None = None
    applies_to: tuple[MedicalType, ...] = tuple(MedicalType)
    ceiling_exception: str | None = Field(
        default=None,
        description="why a fixed ratio may cut deeper than the national ceiling at some level (reported, S-09)",
    )

    @model_validator(mode="after")
    def _one_way(self) -> Reduction:
        if (self.points is None) == (self.fixed_ratio is None):
            raise ValueError("a reduction gives exactly one of 'points' or 'fixed_ratio'")
        if (self.floor == "reduce") != (self.floor_points is not None):
            raise ValueError("floor_points is needed by, and only by, floor: reduce")
        return self


class ScopeReductions(Data):
    referral_emergency: Reduction
    other_temporary: Reduction


class TraumaRule(Sourced):
    """Trauma without third-party liability (S-10; 001 三(三)): own cut, or the same as a rate class."""

    points: Ratio | None = None
    same_as: RateClass | None = None

    @model_validator(mode="after")
    def _one_way(self) -> TraumaRule:
        if (self.points is None) == (self.same_as is None):
            raise ValueError("trauma rule gives exactly one of 'points' or 'same_as'")
        if self.points is not None and self.points > NATIONAL_CEILING["other_temporary"]:
            raise ValueError(f"trauma cut {self.points} is above the national ceiling of 0.20 (S-09)")
        return self


class Reductions(Data):
    intra_province: ScopeReductions
    cross_province: ScopeReductions
    trauma_no_third_party: TraumaRule


class UnfiledOutpatient(Sourced):
    """The rate of a general-outpatient or pharmacy visit that needs no filing 无需备案 (F-05; 000 第十一条):
    ``local``, or the cut of an unreferred temporary patient (S-09) where the region's text ties it."""

    rate: Literal["local", "other_temporary"]


class PersonalAccountRule(Sourced):
    """个人账户 may pay the personal share of these medical types (004 第十四条)."""

    name: str = "职工基本医疗保险个人账户"
    applies_to: tuple[MedicalType, ...]
    covers_self_paid: bool = Field(default=False, description="may it also pay fully self-paid items")


class InsurancePolicy(Data):
    """Everything one insurance type of one region decides (S-05..S-09)."""

    benefits: tuple[Benefit, ...] = Field(min_length=1)
    funds: tuple[FundRule, ...] = Field(min_length=1)
    reductions: Reductions
    unfiled_outpatient: UnfiledOutpatient = Field(
        description="rate for outpatient visits that need no filing (F-05, S-09): data, with its source"
    )
    personal_account: PersonalAccountRule | None = None

    @model_validator(mode="after")
    def _coherent(self) -> InsurancePolicy:
        if self.funds[0].kind != "primary" or sum(f.kind == "primary" for f in self.funds) != 1:
            raise ValueError("the first fund, and only it, must be of kind primary (S-06)")
        types = [b.medical_type for b in self.benefits]
        if len(types) != len(set(types)):
            raise ValueError("one benefit per medical type")
        caps: dict[str, Decimal] = {}
        for benefit in self.benefits:
            if caps.setdefault(benefit.cap_group, benefit.annual_cap) != benefit.annual_cap:
                raise ValueError(f"benefits of cap group {benefit.cap_group} must share one annual cap")
        for scope in (self.reductions.intra_province, self.reductions.cross_province):
            for rate_class in ("referral_emergency", "other_temporary"):
                self._within_ceiling(rate_class, getattr(scope, rate_class))
        return self

    def _within_ceiling(self, rate_class: str, reduction: Reduction) -> None:
        """S-09: no cut above the national ceiling; a fixed ratio is checked against every level's ratio."""
        ceiling = NATIONAL_CEILING[rate_class]
        if reduction.points is not None and reduction.points > ceiling:
            raise ValueError(f"{rate_class} cut {reduction.points} is above the national ceiling {ceiling} (S-09)")
        if reduction.fixed_ratio is None or reduction.ceiling_exception:
            return
        for benefit in self.benefits:
            if benefit.medical_type not in reduction.applies_to:
                continue
            for level, terms in benefit.levels.items():
                if terms.ratio - reduction.fixed_ratio > ceiling:
                    raise ValueError(
                        f"{rate_class} fixed ratio {reduction.fixed_ratio} cuts {benefit.medical_type} level "
                        f"{level} ({terms.ratio}) by more than {ceiling} (S-09); fix it or state a "
                        f"ceiling_exception"
                    )

    def benefit(self, medical_type: MedicalType) -> Benefit:
        for benefit in self.benefits:
            if benefit.medical_type is medical_type:
                return benefit
        raise Refused(
            RefusalCode.BENEFIT_NOT_OFFERED,
            f"the insured place offers no {medical_type} benefit to this insurance type across regions",
        )


class ChronicDisease(Sourced):
    """A chronic/special outpatient disease 门诊慢特病 the insured place covers (S-13)."""

    code: str = Field(min_length=1)
    name: str
    annual_cap: Amount | None = Field(default=None, description="own cap of the disease; none: the benefit's")


class RegionPolicy(Data):
    """One version of an insured region's policy; ``region`` None only in the default template."""

    region: RegionCode | None
    name: str
    follows: str = Field(
        min_length=3,
        description="the text this version follows (document, or 'sample' when no source gives its numbers)",
    )
    effective_from: date
    effective_until: date | None = Field(
        default=None,
        description="last day in force, as its text says (002 第三十八条: a two-year trial); none: until the next "
        "version, or open",
    )
    intra_province_catalogue: Literal["province", "insured_place"] = Field(
        default="province", description="S-03; Wuhu applies its own catalogue intra-province (001 第十九条)"
    )
    catalogue_source: str | None = None
    employee: InsurancePolicy | None = None
    resident: InsurancePolicy | None = None
    chronic_diseases: tuple[ChronicDisease, ...] = ()
    retroactive_months: int = Field(
        default=6,
        ge=0,
        le=6,
        description=(
            "F-11, S-12: how far back before receipt a visit, an admission or a discharge may still settle "
            "directly: the retroactive filing window (000 第十三条: 原则上允许补办6个月内的备案); default 6"
        ),
    )

    @model_validator(mode="after")
    def _funds_fit_insurance(self) -> RegionPolicy:
        if self.effective_until is not None and self.effective_until < self.effective_from:
            raise ValueError(f"effective_until {self.effective_until} is before effective_from {self.effective_from}")
        for insurance in InsuranceType:
            terms = self.for_insurance_or_none(insurance)
            for fund in terms.funds if terms else ():
                if fund.code not in FUNDS_BY_INSURANCE[insurance]:
                    raise ValueError(f"fund {fund.code} is not a fund of {insurance.name.lower()} insurance (S-06)")
        if self.employee is None and self.resident is None:
            raise ValueError(f"policy {self.region}: give employee and/or resident terms")
        return self

    def for_insurance_or_none(self, insurance: InsuranceType) -> InsurancePolicy | None:
        return self.employee if insurance is InsuranceType.EMPLOYEE else self.resident

    def for_insurance(self, insurance: InsuranceType) -> InsurancePolicy:
        terms = self.for_insurance_or_none(insurance)
        if terms is None:
            raise Refused(
                RefusalCode.POLICY_UNAVAILABLE, f"region {self.region} has no {insurance.name.lower()} policy loaded"
            )
        return terms

    def chronic(self, code: str) -> ChronicDisease | None:
        return next((d for d in self.chronic_diseases if d.code == code), None)


@dataclass(frozen=True)
class PolicyBook:
    """All policy versions by insured region, and the default template for regions without a file."""

    by_region: Mapping[str, tuple[RegionPolicy, ...]]
    default: tuple[RegionPolicy, ...] = ()

    def select(self, region: str, on: date) -> RegionPolicy:
        """The version in force on the discharge or visit date: the discharge year's policy (S-14)."""
        own = self.by_region.get(str(region))
        versions = [v for v in (own if own is not None else self.default) if v.effective_from <= on]
        if not versions:
            raise Refused(RefusalCode.POLICY_UNAVAILABLE, f"no policy of insured region {region} in force on {on}")
        chosen = max(versions, key=lambda v: v.effective_from)
        if chosen.effective_until is not None and on > chosen.effective_until:
            raise Refused(
                RefusalCode.POLICY_UNAVAILABLE,
                f"no policy of insured region {region} in force on {on}: the version following "
                f"{chosen.follows} ended on {chosen.effective_until}",
            )
        return chosen if own is not None else chosen.model_copy(update={"region": RegionCode(region)})

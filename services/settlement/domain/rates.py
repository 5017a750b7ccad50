"""Which payment ratio applies: local for long-term filers (S-08), reduced for temporary patients,
emergencies and trauma (S-09, S-10, S-11), as the insured place's policy sets it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeGuard

from contracts.settlement_values import RateBasis  # the bases have one home: the contracts
from contracts.values import EligibilityBasis, FilingCategory, MedicalType
from services.settlement.domain.policy import InsurancePolicy, LevelTerms, Reduction


def is_rate_basis(value: object) -> TypeGuard[str]:
    """Whether ``value`` (a basis as received on the wire, a plain string) is one of ``RateBasis``."""
    return isinstance(value, str) and value in RateBasis._value2member_map_


@dataclass(frozen=True)
class Entitlement:
    """What the settlement rules take of the eligibility answer (``kernel.eligibility``) for this
    person, place and date: ``basis`` None: no valid filing; ``message`` carries the answer's
    explanation of a "no" to the refusal (S-19)."""

    basis: EligibilityBasis | None
    category: FilingCategory | None = None
    message: str | None = None

    @classmethod
    def from_view(cls, answer) -> Entitlement:
        """From ``kernel.eligibility.eligibility(...)``'s answer."""
        return cls(
            answer.basis if answer.eligible else None, answer.category, None if answer.eligible else answer.message
        )


@dataclass(frozen=True)
class RateTerms:
    ratio: Decimal
    floor_ratio: Decimal | None
    basis: RateBasis


def rate_basis(
    eligibility: Entitlement,
    *,
    emergency: bool,
    trauma_no_third_party: bool,
    unfiled_outpatient_rate: Literal["local", "other_temporary"],
) -> RateBasis:
    """Classify the case. Long-term filers keep local rates even for trauma: Wuhu's trauma cut sits
    among the temporary patients' rules (001 三(二) vs 三(三))."""
    basis = eligibility.basis
    if basis is EligibilityBasis.LONG_TERM:
        return RateBasis.LOCAL  # S-08
    if trauma_no_third_party:
        return RateBasis.TRAUMA  # S-10; 001 三(三)
    if basis is EligibilityBasis.DEEMED_EMERGENCY or emergency:
        return RateBasis.REFERRAL_EMERGENCY  # S-11, F-04
    if basis is EligibilityBasis.TEMPORARY:
        referral = eligibility.category in (FilingCategory.REFERRAL, FilingCategory.EMERGENCY)
        return RateBasis.REFERRAL_EMERGENCY if referral else RateBasis.OTHER_TEMPORARY  # S-09
    return RateBasis(unfiled_outpatient_rate)  # F-05: outpatient needing no filing


def rate_terms(
    level: LevelTerms, policy: InsurancePolicy, basis: RateBasis, *, cross_province: bool, medical_type: MedicalType
) -> RateTerms:
    """The ratio and floor after the region's cut for ``basis`` (S-09)."""
    if basis == "local":
        return RateTerms(level.ratio, level.floor_ratio, basis)
    scope = policy.reductions.cross_province if cross_province else policy.reductions.intra_province
    if basis == "trauma":
        trauma = policy.reductions.trauma_no_third_party
        if trauma.same_as is not None:
            return _reduced(level, getattr(scope, trauma.same_as), medical_type, basis)
        if trauma.points is None:  # TraumaRule gives exactly one of points or same_as
            raise ValueError("S-10: the trauma rule gives neither points nor same_as")
        return RateTerms(max(level.ratio - trauma.points, Decimal(0)), level.floor_ratio, basis)
    return _reduced(level, getattr(scope, basis), medical_type, basis)


def _reduced(level: LevelTerms, cut: Reduction, medical_type: MedicalType, basis: RateBasis) -> RateTerms:
    if medical_type not in cut.applies_to:
        return RateTerms(level.ratio, level.floor_ratio, basis)
    if cut.fixed_ratio is not None:
        ratio = cut.fixed_ratio
    elif cut.points is not None:
        ratio = max(level.ratio - cut.points, Decimal(0))
    else:  # Reduction gives exactly one of points or fixed_ratio
        raise ValueError("S-09: the reduction gives neither points nor fixed_ratio")
    return RateTerms(ratio, _floor(level.floor_ratio, cut), basis)


def _floor(floor: Decimal | None, cut: Reduction) -> Decimal | None:
    """保底: kept (享受保底待遇), cut by the same points (含保底比例), or none (001 三(三))."""
    if floor is None or cut.floor == "none":
        return None
    if cut.floor == "reduce":
        if cut.floor_points is None:  # Reduction needs floor_points with floor: reduce
            raise ValueError("S-09: the reduction cuts the floor without floor_points")
        return max(floor - cut.floor_points, Decimal(0))
    return floor

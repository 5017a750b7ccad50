"""Prepayment region policy 预付金地区政策 (P-02, P-04, P-10, P-11, P-12), read from
``services/prepayment/data/region_policy.yaml`` and validated when the service starts.

Each text names its source and the dates it is in force. A region's aspect (quota, usage, interest,
deposit, yellow top-up) is the one of the region's own text in force on the date, else of its
province's, else of the national default's; a date no text covers is refused (``PolicyNotInForce``),
never decided on a guess. Two texts in force for one region on one date refuse the file at load."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.prepayment import PrepaymentScope
from contracts.values import RegionCode

POLICY_FILE = Path(__file__).parent.parent / "data" / "region_policy.yaml"
Aspect = Literal[
    "quota", "usage", "interest", "deposit", "yellow_top_up", "emergency_application", "adjustment_payment"
]
T = TypeVar("T")


class _Sourced(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    source: str = Field(min_length=1, description="document and article")
    sample: bool = Field(False, description="no source gives this value: the platform's reading")
    note: str | None = None


class QuotaPolicy(_Sourced):
    """P-02/P-11: quota = months × the monthly average of ``measure`` over ``basis`` of last year."""

    basis: Literal["q4", "year"] = Field(description="q4: Oct–Dec of last year; year: all twelve months")
    months: int = Field(ge=1, le=12)
    measure: Literal["fund", "total_cost"] = Field(
        "fund", description="fund: 医保基金支付; total_cost: 实际发生费用 (funds and the person's cash)"
    )
    scopes: tuple[PrepaymentScope, ...] = Field(
        tuple(PrepaymentScope), description="the prepayments the text sizes (002 sizes the cross-province one)"
    )

    @property
    def basis_months(self) -> tuple[int, ...]:
        return (10, 11, 12) if self.basis == "q4" else tuple(range(1, 13))


class UsagePolicy(_Sourced):
    """P-04: what the usage rate measures against annual quota + this year's top-ups."""

    formula: Literal["payables", "monthly_clearing"]


class InterestPolicy(_Sourced):
    """P-10: whether the keeper shares interest, and how soon each share is published."""

    sharing: Literal["daily_products", "none"]
    publish_within_working_days: int | None = Field(None, ge=1, le=60)


class DepositPolicy(_Sourced):
    """P-12: whether institutions lodge a performance deposit 履约保证金."""

    required: bool


class YellowTopUpPolicy(_Sourced):
    """004 第二十四条: a yellow warning asks the region to add funds on its own."""

    proactive: bool


class EmergencyApplicationPolicy(_Sourced):
    """004 第二十六条: red at a clearing signing, the province's application to the national agency is due
    within this many working days of the signing (none where the text sets no such step)."""

    apply_within_working_days: int | None = Field(None, ge=1, le=60)


class AdjustmentPaymentPolicy(_Sourced):
    """The day the year's adjustment notice is to be paid by (Liaoning 1-20, Hubei the end of February),
    besides P-09's 20 working days; none where the text sets none."""

    due_month: int | None = Field(None, ge=1, le=12)
    due_day: int | None = Field(None, ge=1, le=31, description="omitted: the month's last day")

    def due_on(self, year: int) -> date | None:
        if self.due_month is None:
            return None
        first_of_next = date(year + self.due_month // 12, self.due_month % 12 + 1, 1)
        last = (first_of_next - timedelta(days=1)).day
        return date(year, self.due_month, min(self.due_day or last, last))


class InForce(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    start: date = Field(alias="from")
    until: date | None = Field(None, description="last day in force, inclusive")

    @model_validator(mode="after")
    def _ordered(self) -> InForce:
        if self.until is not None and self.until < self.start:
            raise ValueError(f"until {self.until} is before from {self.start}")
        return self

    def covers(self, on: date) -> bool:
        return self.start <= on and (self.until is None or on <= self.until)

    def overlaps(self, other: InForce) -> bool:
        end, other_end = self.until or date.max, other.until or date.max
        return self.start <= other_end and other.start <= end


class PolicyText(BaseModel):
    """One source text's prepayment values and the dates it is in force."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    source: str = Field(min_length=1)
    in_force: InForce
    quota: QuotaPolicy | None = None
    usage: UsagePolicy | None = None
    interest: InterestPolicy | None = None
    deposit: DepositPolicy | None = None
    yellow_top_up: YellowTopUpPolicy | None = None
    emergency_application: EmergencyApplicationPolicy | None = None
    adjustment_payment: AdjustmentPaymentPolicy | None = None


class PolicyNotInForce(ValueError):
    """No text gives the region's value on that date: the input is refused, never decided on a guess."""


class PrepaymentPolicies(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    default: PolicyText
    regions: dict[str, list[PolicyText]] = Field(default_factory=dict)

    @field_validator("default")
    @classmethod
    def _complete(cls, text: PolicyText) -> PolicyText:
        missing = [name for name in Aspect.__args__ if getattr(text, name) is None]  # type: ignore[attr-defined]
        if missing:
            raise ValueError(f"the national default must give every aspect; missing {missing}")
        return text

    @field_validator("regions")
    @classmethod
    def _one_in_force(cls, regions: dict[str, list[PolicyText]]) -> dict[str, list[PolicyText]]:
        for code, texts in regions.items():
            RegionCode(code)  # raises with the GB/T 2260 explanation
            for i, a in enumerate(texts):
                for b in texts[i + 1 :]:
                    if a.in_force.overlaps(b.in_force):
                        raise ValueError(
                            f"{code}: two texts in force on one date: {a.source!r} and {b.source!r} (in_force)"
                        )
        return regions

    def _texts(self, region: str, on: date) -> list[PolicyText]:
        code = RegionCode(region)
        found = [
            t
            for key in dict.fromkeys((str(code), code.province))
            for t in self.regions.get(key, ())
            if t.in_force.covers(on)
        ]
        if self.default.in_force.covers(on):
            found.append(self.default)
        return found

    def aspect(self, region: str, on: date, name: Aspect, scope: PrepaymentScope | None = None) -> _Sourced:
        """The region's ``name`` in force on ``on``: its own text's, its province's, the default's."""
        for text in self._texts(region, on):
            value = getattr(text, name)
            if value is None or (scope is not None and scope not in getattr(value, "scopes", (scope,))):
                continue
            return value
        raise PolicyNotInForce(
            f"no prepayment policy text gives {name} for {region} on {on}: nothing is decided on a guess"
        )

    def _typed(self, kind: type[T], region: str, on: date, name: Aspect, scope: PrepaymentScope | None = None) -> T:
        value = self.aspect(region, on, name, scope)
        if not isinstance(value, kind):  # the model's field types make this unreachable
            raise TypeError(f"{name} of {region} is a {type(value).__name__}")
        return value

    def quota(self, region: str, on: date, scope: PrepaymentScope | None = None) -> QuotaPolicy:
        return self._typed(QuotaPolicy, region, on, "quota", scope)

    def usage(self, region: str, on: date) -> UsagePolicy:
        return self._typed(UsagePolicy, region, on, "usage")

    def interest(self, region: str, on: date) -> InterestPolicy:
        return self._typed(InterestPolicy, region, on, "interest")

    def deposit(self, region: str, on: date) -> DepositPolicy:
        return self._typed(DepositPolicy, region, on, "deposit")

    def yellow_top_up(self, region: str, on: date) -> YellowTopUpPolicy:
        return self._typed(YellowTopUpPolicy, region, on, "yellow_top_up")

    def adjustment_payment(self, region: str, on: date) -> AdjustmentPaymentPolicy:
        return self._typed(AdjustmentPaymentPolicy, region, on, "adjustment_payment")

    def emergency_application(self, region: str, on: date) -> EmergencyApplicationPolicy:
        return self._typed(EmergencyApplicationPolicy, region, on, "emergency_application")


class PolicyDataError(ValueError):
    """The policy file is invalid; the service refuses to start."""


def load_policies(path: Path | str = POLICY_FILE) -> PrepaymentPolicies:
    try:
        return PrepaymentPolicies.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise PolicyDataError(f"prepayment region policy {path} is invalid: {exc}") from None


@lru_cache(maxsize=1)
def default_policies() -> PrepaymentPolicies:
    return load_policies(POLICY_FILE)

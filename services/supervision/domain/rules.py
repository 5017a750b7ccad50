"""The smart-audit rule base 智能审核规则库 as data (``services/supervision/data/audit_rules.yaml``),
validated at load: each rule names its source article or says it is a sample setting (R-04; 000
第五十七条, 004 第五十七条). A rule's numbers are data, never constants in code."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.values import MedicalType

RULES_FILE = Path(__file__).parent.parent / "data" / "audit_rules.yaml"


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RepeatVisits(_Params):
    """Repeated visits of one person at one institution within a short window."""

    window_days: int = Field(ge=1, le=31)
    min_visits: int = Field(ge=2, le=50)
    medical_types: tuple[MedicalType, ...] = Field(min_length=1)


class StayCostOutlier(_Params):
    """A stay's total far above its peers: above median + ``mad_factor`` × MAD and above ``min_ratio``
    × median, both in the institution's and in the treating region's history of stays."""

    min_peers: int = Field(ge=3, le=1000)
    mad_factor: Decimal = Field(gt=0, le=100)
    min_ratio: Decimal = Field(ge=1, le=100)


class BelowThreshold(_Params):
    """A stay whose total lies in the band just below a threshold (Q-01's co-investigation start)."""

    threshold: Decimal = Field(gt=0)
    band_percent: Decimal = Field(gt=0, lt=100)


ItemCode = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9._-]+$")]


class OnceADay(_Params):
    """Items billed at most once a day (a bed day, a day's ward round): the same item on more than one line
    of one day, or with a quantity above one, is billed twice (重复收费). ``items``: code → name."""

    items: dict[ItemCode, str] = Field(min_length=1)


class ItemLimit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=60)
    per_day: Decimal = Field(gt=0, le=1000000, description="the most one day may bill of the item")
    unit: str = Field(min_length=1, max_length=10)


class DailyLimit(_Params):
    """A day's quantity of an item above its limit (超量). ``limits``: code → limit."""

    limits: dict[ItemCode, ItemLimit] = Field(min_length=1)


class PersonRestriction(BaseModel):
    """Who an item is for: one sex, an age range (in whole years at the line's date, bounds included)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=60)
    sex: Literal["female", "male"] | None = None
    min_age: int | None = Field(default=None, ge=0, le=150)
    max_age: int | None = Field(default=None, ge=0, le=150)

    @model_validator(mode="after")
    def _restricts(self) -> PersonRestriction:
        if self.sex is None and self.min_age is None and self.max_age is None:
            raise ValueError(f"item {self.name}: restrict it by sex, min_age or max_age")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError(f"item {self.name}: min_age is above max_age")
        return self


class SexAgeRestricted(_Params):
    """An item billed for a person its restriction excludes (与性别、年龄不符). ``items``: code → restriction."""

    items: dict[ItemCode, PersonRestriction] = Field(min_length=1)


Settings = RepeatVisits | StayCostOutlier | BelowThreshold | OnceADay | DailyLimit | SexAgeRestricted
FEE_LINE_KINDS = frozenset({"once_a_day", "daily_limit", "sex_age_restricted"})  # run on the S-18 fee detail


class AuditRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(pattern=r"^SV-\d{2}$")
    name: str = Field(min_length=1, max_length=60)
    kind: Literal[
        "repeat_visits", "stay_cost_outlier", "below_threshold", "once_a_day", "daily_limit", "sex_age_restricted"
    ]
    params: dict
    source: str | None = Field(default=None, min_length=1)
    sample: bool = False
    basis: str | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _sourced_and_typed(self) -> AuditRule:
        if not self.source and not self.sample:
            raise ValueError(f"rule {self.id}: name its source article or mark it sample: true")
        PARAMS[self.kind].model_validate(self.params)
        return self

    @property
    def settings(self) -> Settings:
        return PARAMS[self.kind].model_validate(self.params)


PARAMS: dict[str, type[Settings]] = {
    "repeat_visits": RepeatVisits,
    "stay_cost_outlier": StayCostOutlier,
    "below_threshold": BelowThreshold,
    "once_a_day": OnceADay,
    "daily_limit": DailyLimit,
    "sex_age_restricted": SexAgeRestricted,
}


class RuleBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    rules: Annotated[tuple[AuditRule, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> RuleBase:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids are unique")
        return self

    def get(self, rule_id: str) -> AuditRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def parse_rules(text: str) -> RuleBase:
    """The rule base from its YAML text, or ``ValueError`` naming what is wrong."""
    try:
        return RuleBase.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ValueError(f"audit rule base: {exc}") from exc


@lru_cache(maxsize=1)
def rule_base(path: Path = RULES_FILE) -> RuleBase:
    return parse_rules(path.read_text(encoding="utf-8"))

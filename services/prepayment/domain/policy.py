"""P-02 region policy for the annual quota, read from ``services/prepayment/data/quota_policy.yaml``
and validated at load (a region's numbers are data, never constants in code)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts.values import RegionCode

POLICY_FILE = Path(__file__).parent.parent / "data" / "quota_policy.yaml"


class QuotaPolicy(BaseModel):
    """quota = months × average monthly fund amount over ``basis`` of last year."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    basis: Literal["q4", "year"] = Field(description="q4: Oct–Dec of last year; year: all twelve months")
    months: int = Field(ge=1, le=12)
    source: str = Field(min_length=1)

    @property
    def basis_months(self) -> tuple[int, ...]:
        return (10, 11, 12) if self.basis == "q4" else tuple(range(1, 13))


class QuotaPolicies(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    default: QuotaPolicy
    regions: dict[str, QuotaPolicy] = Field(default_factory=dict)

    @field_validator("regions")
    @classmethod
    def _codes(cls, regions: dict[str, QuotaPolicy]) -> dict[str, QuotaPolicy]:
        for code in regions:
            RegionCode(code)  # raises with the GB/T 2260 explanation
        return regions

    def for_region(self, region: str) -> QuotaPolicy:
        """The region's own entry, else its province's, else the national default."""
        code = RegionCode(region)
        return self.regions.get(str(code)) or self.regions.get(code.province) or self.default


class PolicyDataError(ValueError):
    """The policy file is invalid; the service refuses to start."""


def load_policies(path: Path | str = POLICY_FILE) -> QuotaPolicies:
    try:
        return QuotaPolicies.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise PolicyDataError(f"prepayment quota policy {path} is invalid: {exc}") from None


@lru_cache(maxsize=1)
def default_policies() -> QuotaPolicies:
    return load_policies(POLICY_FILE)

"""Region filing policy 参保地备案政策: the numbers the sources leave to the insured place.

Each region's values live in ``services/filing/policies/<region>.yaml`` beside the document and
article they come from; ``default.yaml`` is the national default. A region file names only what
differs or what its own documents confirm; every other field is inherited from the default.
At load every value is checked against the national bounds below; a breach refuses to load
with the region, field, value and bound named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python

from contracts.filing import ProofKind
from contracts.values import FilingCategory, RegionCode

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
DEFAULT = "default"

T = TypeVar("T")
ProofGroups = list[list[ProofKind]]
LockedAct = Literal["change_region", "cancel"]
"""What the F-08 lock may hold back: a change of the filed region 变更备案统筹区, a cancellation 取消备案."""


class Sourced(BaseModel, Generic[T]):
    """A policy value and where it comes from (document and article), or that it is a default."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: T
    source: str = Field(min_length=3, description="document and article, e.g. '001 芜湖经办规程 第十条'")
    default: bool = Field(default=False, description="True when no source gives it: a labelled default")
    sample: bool = Field(default=False, description="True when the value is the deployment's sample, not a source's")


class RegionPolicy(BaseModel):
    """The filing numbers of one insured region (F-02, F-03, F-07, F-08, F-10, F-11, F-13)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    region: str = Field(description="6-digit insured region, or 'default' for the national default")
    name: str
    label: Literal["national_default", "region"]
    temporary_validity_months: Sourced[int]  # F-07
    referral_validity_months: Sourced[int]  # F-07 (Liaoning: 1 year)
    change_lock_months: Sourced[int]  # F-08
    change_lock_covers: Sourced[list[LockedAct]]  # F-08 (Liaoning: the region change only)
    commitment_months: Sourced[int]  # F-10
    commitments_per_year: Sourced[int]  # F-10
    commitment_replaces: Sourced[list[ProofKind]]  # F-10: proofs a 个人承诺书 may stand in for
    unmet_commitment: Sourced[Literal["revoke_and_recover", "end_without_recovery"]]  # F-10, per region
    retroactive_months: Sourced[int]  # F-11
    online_decision_working_days: Sourced[int]  # F-13
    non_working_day_effect: Sourced[Literal["at_once", "next_working_day"]]  # F-13 (Liaoning: next working day)
    self_service_categories: Sourced[list[FilingCategory]]  # F-13: a person's own online application of
    # these categories is decided and effective at once (000 第九条 即时办理、即时生效, a region option)
    resident_long_term_categories: Sourced[list[FilingCategory]]  # F-02
    required_proofs: Sourced[dict[FilingCategory, ProofGroups]]  # F-03: all groups; any proof per group

    def validity_months(self, category: FilingCategory) -> int | None:
        """F-07: None for long-term (indefinite), else months from the first valid day."""
        if category.is_long_term:
            return None
        if category is FilingCategory.REFERRAL:
            return self.referral_validity_months.value
        return self.temporary_validity_months.value

    def proofs_for(self, category: FilingCategory) -> list[list[ProofKind]]:
        return self.required_proofs.value[category]


class PolicyBoundError(ValueError):
    """A policy file breaks a national bound, or cannot be read; the service refuses to start."""


# ---------------------------------------------------------------- national bounds
@dataclass(frozen=True)
class Bound:
    field: str
    check: Callable[[Any], bool]
    text: str  # the bound in words, with its source


_NEVER_BY_COMMITMENT = {ProofKind.CREDENTIAL, ProofKind.FILING_FORM, ProofKind.REFERRAL_CERTIFICATE}
_LONG_TERM = {c for c in FilingCategory if c.is_long_term}

BOUNDS: tuple[Bound, ...] = (
    Bound(
        "temporary_validity_months", lambda v: v >= 6, "national floor ≥ 6 months (003 医保发〔2022〕22号 二(三); F-07)"
    ),
    Bound(
        "referral_validity_months",
        lambda v: v >= 6,
        "national floor ≥ 6 months for temporary filings (003 二(三); F-07)",
    ),
    Bound("change_lock_months", lambda v: 0 <= v <= 6, "national ceiling 0..6 months (003 二(三); F-08)"),
    Bound(
        "commitment_months",
        lambda v: 1 <= v <= 12,
        "1..12 months (project bound: 004 第七条 leaves the term to the insured place; F-10)",
    ),
    Bound("commitments_per_year", lambda v: v >= 1, "≥ 1: a commitment must remain possible (003 二(五); F-10)"),
    Bound(
        "commitment_replaces",
        lambda v: not (set(v) & _NEVER_BY_COMMITMENT),
        "a commitment never replaces credential, filing form or referral certificate (000 第八条; F-03)",
    ),
    Bound("retroactive_months", lambda v: 0 <= v <= 6, "back-dating window 0..6 months (000 第十三条; F-11)"),
    Bound(
        "online_decision_working_days",
        lambda v: 0 <= v <= 2,
        "online decision within ≤ 2 working days (000 第九条, 004 第九条; F-13)",
    ),
    Bound(
        "resident_long_term_categories",
        lambda v: set(v) <= _LONG_TERM,
        "only long-term categories can be restricted for resident-scheme insureds (F-02)",
    ),
    Bound(
        "required_proofs",
        lambda v: set(v) == set(FilingCategory) and all(v.values()),
        "every category of F-01 has at least one requirement (000 第八条; F-03)",
    ),
)


def check_bounds(policy: RegionPolicy) -> None:
    """Raise :class:`PolicyBoundError` naming region, field, value and bound for every breach."""
    breaches = [
        f"{b.field} = {to_jsonable_python(getattr(policy, b.field).value)!r} breaks {b.text}"
        for b in BOUNDS
        if not b.check(getattr(policy, b.field).value)
    ]
    if breaches:
        raise PolicyBoundError(f"filing policy {policy.region} ({policy.name}): " + "; ".join(breaches))


# ---------------------------------------------------------------- loading
def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyBoundError(f"filing policy file {path.name} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyBoundError(f"filing policy file {path.name} must hold a mapping")
    return data


def build_policy(data: dict[str, Any], base: dict[str, Any] | None = None, origin: str = "?") -> RegionPolicy:
    """Validate one policy (a region's fields over the default's) and check national bounds."""
    merged = {**(base or {}), **data}
    try:
        policy = RegionPolicy.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PolicyBoundError(
            f"filing policy {merged.get('region', origin)} ({origin}) is invalid: {problems}"
        ) from None
    if policy.region != DEFAULT:
        try:
            RegionCode(policy.region)
        except ValueError as exc:
            raise PolicyBoundError(f"filing policy {origin}: {exc}") from None
    check_bounds(policy)
    return policy


@dataclass(frozen=True)
class PolicyBook:
    """Every loaded region policy; unknown insured regions fall back to the national default."""

    default: RegionPolicy
    regions: dict[str, RegionPolicy]

    def for_region(self, region: str) -> RegionPolicy:
        return self.regions.get(str(region), self.default)


def load_policies(directory: Path | str = POLICY_DIR) -> PolicyBook:
    """Load ``default.yaml`` and every ``<region>.yaml`` beside it; the file name must be the region."""
    directory = Path(directory)
    base = _read(directory / "default.yaml")
    default = build_policy(base, origin="default.yaml")
    if default.region != DEFAULT or default.label != "national_default":
        raise PolicyBoundError("default.yaml must have region 'default' and label 'national_default'")
    inherited = {k: v for k, v in base.items() if k not in ("region", "name", "label")}
    regions: dict[str, RegionPolicy] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.stem == DEFAULT:
            continue
        policy = build_policy(_read(path), inherited, origin=path.name)
        if policy.region != path.stem:
            raise PolicyBoundError(f"filing policy file {path.name} declares region {policy.region}")
        regions[policy.region] = policy
    return PolicyBook(default=default, regions=regions)

"""Load the catalogues and region policies from their YAML files, validated at load (STYLE: data in
validated files, not code). YAML numbers are read as Decimal, never float (M-01). Errors name the
file and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.settlement.domain.catalogue import Catalogue, CatalogueBook
from services.settlement.domain.policy import PolicyBook, RegionPolicy

HERE = Path(__file__).parent
CATALOGUES = HERE / "catalogues"
POLICIES = HERE / "policies"


class ReferenceDataError(ValueError):
    """A catalogue or policy file that does not validate; the message names file and field."""


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader that reads YAML floats as Decimal from their text, so 0.1 stays exactly 0.1."""


def _decimal(loader: _DecimalLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def read_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict):
        raise ReferenceDataError(f"{path.name}: expected a mapping at the top")
    return data


def _explain(path: Path, error: ValidationError) -> ReferenceDataError:
    lines = [f"{path.name}: {len(error.errors())} problem(s)"]
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"])
        lines.append(f"  {where}: {problem['msg']}")
    return ReferenceDataError("\n".join(lines))


def load_catalogue(path: Path) -> Catalogue:
    try:
        return Catalogue.model_validate(read_yaml(path))
    except ValidationError as error:
        raise _explain(path, error) from None


def load_catalogues(folder: Path = CATALOGUES) -> CatalogueBook:
    catalogues = [load_catalogue(path) for path in sorted(folder.glob("*.yaml"))]
    return CatalogueBook({c.id: c for c in catalogues})


def load_policy(path: Path) -> tuple[RegionPolicy, ...]:
    """A region file: ``region``, ``name`` and a list of ``versions`` (each a full policy)."""
    data = read_yaml(path)
    head = {"region": data.get("region"), "name": data.get("name")}
    versions = data.get("versions")
    if not isinstance(versions, list) or not versions:
        raise ReferenceDataError(f"{path.name}: give a non-empty list 'versions'")
    try:
        loaded = tuple(RegionPolicy.model_validate({**head, **version}) for version in versions)
    except ValidationError as error:
        raise _explain(path, error) from None
    if len({v.effective_from for v in loaded}) != len(loaded):
        raise ReferenceDataError(f"{path.name}: two versions share an effective_from date")
    _no_overlap(path, loaded)
    return loaded


def _no_overlap(path: Path, versions: tuple[RegionPolicy, ...]) -> None:
    """Two versions in force on one date stop the service at start (issue 31): a version's
    ``effective_until`` must end before the next version's ``effective_from``."""
    ordered = sorted(versions, key=lambda v: v.effective_from)
    for earlier, later in zip(ordered, ordered[1:], strict=False):
        if earlier.effective_until is not None and earlier.effective_until >= later.effective_from:
            raise ReferenceDataError(
                f"{path.name}: versions overlap: effective_until {earlier.effective_until} of the version from "
                f"{earlier.effective_from} is on or after effective_from {later.effective_from} of the next"
            )


def load_policies(folder: Path = POLICIES) -> PolicyBook:
    """Every ``<region>.yaml``, plus ``default.yaml`` for insured regions without their own file."""
    by_region: dict[str, tuple[RegionPolicy, ...]] = {}
    default: tuple[RegionPolicy, ...] = ()
    for path in sorted(folder.glob("*.yaml")):
        versions = load_policy(path)
        if path.stem == "default":
            default = versions
            continue
        if str(versions[0].region) != path.stem:
            raise ReferenceDataError(f"{path.name}: file name must be its region code {versions[0].region}")
        by_region[path.stem] = versions
    return PolicyBook(by_region, default)

"""JSON Schema snapshots of every topic's envelope, and the compatibility check.

``yidi schemas write`` refreshes ``contracts/schemas/*.json``; ``yidi schemas check`` (and a
test) fails when a schema changed in a way that old consumers cannot read, unless the topic's
major version changed too. Compatible: adding an optional field, adding a topic. Breaking:
removing or retyping a field, making an optional field required, adding a required field,
changing an enum's values. A topic may be removed only when its next major version replaces it
(``settlement.result.v1`` → ``v2``); its snapshot stays as the record of what its consumers read.
A sealed field's ``contentSchema`` (what it decrypts to) is checked like the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from contracts.envelope import envelope_of
from contracts.registry import ALL_TOPICS

SNAPSHOTS = Path(__file__).with_name("schemas")


def current() -> dict[str, dict]:
    return {
        name: envelope_of(spec.message).model_json_schema(mode="serialization")
        for name, spec in sorted(ALL_TOPICS.items())
    }


def write() -> int:
    SNAPSHOTS.mkdir(exist_ok=True)
    for name, schema in current().items():
        (SNAPSHOTS / f"{name}.json").write_text(json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"wrote {len(ALL_TOPICS)} schemas to {SNAPSHOTS}")
    return 0


def check() -> int:
    problems = breaking_changes()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def breaking_changes() -> list[str]:
    problems: list[str] = []
    now = current()
    for path in sorted(SNAPSHOTS.glob("*.json")):
        name = path.stem
        if name not in now:
            if not successor(name, now):
                problems.append(f"{name}: topic removed; keep it until its consumers have moved to a new major version")
            continue
        old = json.loads(path.read_text())
        problems += [f"{name}: {p}" for p in compare(old, now[name], old.get("$defs", {}), now[name].get("$defs", {}))]
    for name in now:
        if not (SNAPSHOTS / f"{name}.json").exists():
            problems.append(f"{name}: no snapshot yet; run `yidi schemas write` and commit it")
    return problems


def successor(name: str, topics) -> str | None:
    """The topic of a later major version of the same type, which replaced ``name`` (if any)."""
    kind, _, version = name.rpartition(".v")
    later = [
        t
        for t in topics
        if t.rpartition(".v")[0] == kind
        and t.rpartition(".v")[2].isdigit()
        and version.isdigit()
        and int(t.rpartition(".v")[2]) > int(version)
    ]
    return min(later, key=lambda t: int(t.rpartition(".v")[2])) if later else None


def _resolve(node: dict, defs: dict) -> dict:
    ref = node.get("$ref")
    return defs.get(ref.rsplit("/", 1)[-1], {}) if ref else node


def compare(
    old: dict, new: dict, old_defs: dict, new_defs: dict, path: str = "$", seen: set | None = None
) -> list[str]:
    seen = seen or set()
    key = (path, json.dumps(old, sort_keys=True))
    if key in seen:
        return []
    seen.add(key)
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    problems: list[str] = []
    for attr in ("type", "format", "pattern", "const"):
        if old.get(attr) != new.get(attr):
            problems.append(f"{path}: {attr} changed from {old.get(attr)!r} to {new.get(attr)!r}")
    if set(map(str, old.get("enum", []))) != set(map(str, new.get("enum", []))):
        problems.append(f"{path}: allowed values changed from {old.get('enum')} to {new.get('enum')}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for field, schema in old_props.items():
        if field not in new_props:
            problems.append(f"{path}.{field}: removed")
        else:
            problems += compare(schema, new_props[field], old_defs, new_defs, f"{path}.{field}", seen)
    for field in new_req - old_req:
        problems.append(
            f"{path}.{field}: now required" if field in old_props else f"{path}.{field}: new required field"
        )
    for combo in ("anyOf", "oneOf", "allOf"):
        old_alts, new_alts = old.get(combo, []), new.get(combo, [])
        if len(old_alts) != len(new_alts):
            problems.append(f"{path}: {combo} alternatives changed ({len(old_alts)} → {len(new_alts)})")
        else:
            for i, (a, b) in enumerate(zip(old_alts, new_alts)):
                problems += compare(a, b, old_defs, new_defs, f"{path}<{combo}{i}>", seen)
    if "items" in old or "items" in new:
        problems += compare(old.get("items", {}), new.get("items", {}), old_defs, new_defs, f"{path}[]", seen)
    if "contentSchema" in old or "contentSchema" in new:  # inside a seal is a contract too
        problems += compare(
            old.get("contentSchema", {}), new.get("contentSchema", {}), old_defs, new_defs, f"{path}<sealed>", seen
        )
    return problems

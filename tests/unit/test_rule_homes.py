"""One home per rule (STYLE.md: "a rule with two homes … one home per rule, the others import it"):
``rule_homes.yaml`` names, for every rule id of RULES.md, the module where it is decided, or why none does yet."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT.parent / "shared" / "spec" / "RULES.md"
HOMES = yaml.safe_load((ROOT / "rule_homes.yaml").read_text(encoding="utf-8"))
RULE_ID = re.compile(r"^[FSRCPKQM]-\d\d$")


def _entries() -> list[tuple[str, str | None]]:
    return [(e["rule"], e["home"]) for e in HOMES["homes"]] + [(e["rule"], None) for e in HOMES["pending"]]


def test_every_rule_has_exactly_one_entry():
    counts = Counter(rule for rule, _ in _entries())
    assert all(RULE_ID.match(rule) for rule in counts), sorted(counts)
    assert [rule for rule, n in counts.items() if n > 1] == []  # homed twice, or homed and pending


def test_the_mapping_lists_every_rule_of_rules_md_and_no_other():
    if not RULES.exists():
        pytest.skip(f"{RULES} is not beside this checkout")
    ids = set(re.findall(r"^- \*\*([A-Z]-\d\d)\*\*", RULES.read_text(encoding="utf-8"), re.M))
    assert {rule for rule, _ in _entries()} == ids


@pytest.mark.parametrize("rule, home", [(e["rule"], e["home"]) for e in HOMES["homes"]])
def test_each_home_exists_and_cites_its_rule(rule, home):
    path = ROOT / home
    assert path.is_file(), home
    assert re.search(rf"\b{rule}\b", path.read_text(encoding="utf-8")), f"{home} does not cite {rule}"


def test_pending_rules_say_why():
    assert all(e["why"].strip() for e in HOMES["pending"])

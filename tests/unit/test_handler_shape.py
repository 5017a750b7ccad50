"""Every service's handlers have one shape (STYLE.md, "what to keep, what to grow out of"):

* one registry per service, built one way: a function ``registry`` at the bottom of its
  ``handlers.py`` returning a dict from topic to handler (no ``.registry()`` methods, no topic tuples);
* each registered handler is an async method taking one envelope: it loads, has the domain decide
  once, and stores;
* handlers are given what they use (the store, the time, the participant registry, reference data,
  their metrics), never the whole service: ``handlers.py`` does not import ``runtime.service`` and
  reads no database of its own (a read model is an adapter the app gives it);
* the ``domain/`` packages are pure: they import nothing of the runtime's I/O (service, store,
  database, broker, metrics) and never read a clock — the time is passed in.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest
import yaml
from support import imports_of

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("filing", "settlement", "clearing", "prepayment", "collab")
IO_MODULES = (
    "runtime.service",
    "runtime.store",
    "runtime.memory",
    "runtime.consuming",
    "runtime.outbox",
    "runtime.deadlines",
    "services.wiring",
    "pymongo",
    "aiokafka",
    "faststream",
    "prometheus_client",
)
CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("datetime", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "time_ns"),
}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@pytest.mark.parametrize("name", SERVICES)
def test_the_registry_is_one_function_at_the_bottom_of_handlers_py(name):
    tree = _tree(ROOT / "services" / name / "handlers.py")
    definitions = [
        node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    ]
    assert definitions and isinstance(definitions[-1], ast.FunctionDef) and definitions[-1].name == "registry", (
        f"services/{name}/handlers.py ends with def registry(...)"
    )
    returned = [node.value for node in ast.walk(definitions[-1]) if isinstance(node, ast.Return)]
    assert len(returned) == 1 and isinstance(returned[0], ast.Dict), "registry() returns one dict literal"
    assert all(isinstance(key, ast.Constant) and isinstance(key.value, str) for key in returned[0].keys), (
        "each key of the registry is a topic written out"
    )
    methods = [
        f"{cls.name}.{fn.name}"
        for cls in tree.body
        if isinstance(cls, ast.ClassDef)
        for fn in cls.body
        if isinstance(fn, ast.FunctionDef) and fn.name == "registry"
    ]
    assert methods == [], f"a second way of building the registry: {methods}"


@pytest.mark.parametrize("name", SERVICES)
def test_each_registered_handler_is_an_async_method_taking_one_envelope(name):
    from runtime.config import Settings

    service = importlib.import_module(f"services.{name}.app").build(Settings(service=name))
    assert service.handlers
    for topic, handler in service.handlers.items():
        assert inspect.ismethod(handler), f"{name} {topic}: {handler!r} is no method of a handler class"
        assert inspect.iscoroutinefunction(handler), f"{name} {topic}: {handler.__qualname__} is not async"
        params = list(inspect.signature(handler).parameters.values())
        assert len(params) == 1 and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, (
            f"{name} {topic}: {handler.__qualname__} takes one envelope, not {[p.name for p in params]}"
        )


@pytest.mark.parametrize("name", SERVICES)
def test_handlers_are_given_their_dependencies_not_the_service(name):
    tree = _tree(ROOT / "services" / name / "handlers.py")
    imported = set(imports_of(ROOT / "services" / name / "handlers.py"))
    assert not imported & {"runtime.service", "pymongo", "aiokafka"}, (
        f"services/{name}/handlers.py reaches for {sorted(imported & {'runtime.service', 'pymongo', 'aiokafka'})}"
    )
    located = [
        f"{_name(node.value)}.{node.attr} line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in {"db", "add_query", "clock", "refuse"}
        and _name(node.value) in {"svc", "service"}
    ]
    assert located == [], f"services/{name}/handlers.py looks things up on the service: {located}"


@pytest.mark.parametrize("name", SERVICES)
def test_the_signed_reads_are_given_their_dependencies_and_registered_by_the_app(name):
    """Each service's ``query.py`` is built one way: a class given what it reads (store or reads, the
    time, the participant registry, the service's key), whose ``register(add_query)`` the app calls;
    it never holds the service."""
    tree = _tree(ROOT / "services" / name / "query.py")
    assert "runtime.service" not in imports_of(ROOT / "services" / name / "query.py"), (
        f"services/{name}/query.py imports the service"
    )
    [queries] = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Queries")]
    methods = {node.name for node in queries.body if isinstance(node, ast.FunctionDef)}
    assert "register" in methods, f"{queries.name} has no register(add_query)"
    held = [
        node.attr for node in ast.walk(queries) if isinstance(node, ast.Attribute) and node.attr in {"svc", "service"}
    ]
    assert held == [], f"{queries.name} holds the service ({held})"
    assert f"{queries.name}(" in (
        app := (ROOT / "services" / name / "app.py").read_text()
    ) and ".register(service.add_query)" in "".join(app.split()), (
        f"services/{name}/app.py does not register {queries.name}"
    )


def _name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _domain_modules() -> list[Path]:
    return sorted(path for name in SERVICES for path in (ROOT / "services" / name / "domain").rglob("*.py"))


def test_there_are_domain_modules_to_check():
    assert {path.parts[-3] for path in _domain_modules()} == set(SERVICES)


@pytest.mark.parametrize("path", _domain_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_modules_import_no_io_and_read_no_clock(path):
    tree = _tree(path)
    bad = [m for m in imports_of(path) if any(m == io or m.startswith(io + ".") for io in IO_MODULES)]
    assert bad == [], f"{path.name} imports {bad}: the domain decides, the handler does the I/O"
    clocks = [
        f"{node.func.value.id}.{node.func.attr}() line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and (node.func.value.id, node.func.attr) in CLOCK_CALLS
    ]
    clocks += [
        f".clock line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "clock"
    ]
    assert clocks == [], f"{path.name} reads a clock: {clocks}; pass ``now`` in"


def _classes_of(paths) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        for node in _tree(path).body:
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    return found


def test_one_name_one_meaning_in_what_services_share():
    """What every service imports (the contracts, the kernel, the runtime, ``services/*.py``) names
    each class once: an adapter writer reading ``RefusalReason`` or ``ConfirmedBy`` finds one of it."""
    shared = [
        *(ROOT / "contracts").glob("*.py"),
        *(ROOT / "kernel").rglob("*.py"),
        *(ROOT / "runtime").glob("*.py"),
        *(ROOT / "services").glob("*.py"),
    ]
    twice = {name: where for name, where in _classes_of(shared).items() if len(where) > 1}
    assert twice == {}, f"one name, two meanings: {twice}"


def test_no_service_imports_another_services_code():
    """Each deployable (the five services and the console) reaches the others only through the
    contracts: their events and their signed queries, never their modules (shared code lives in
    ``contracts``, ``kernel``, ``runtime`` and ``services/*.py``)."""
    deployables = {p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists()}
    crossing = []
    for name in sorted(deployables):
        for path in (ROOT / "services" / name).rglob("*.py"):
            crossing += [
                f"{path.relative_to(ROOT)}: {m}"
                for m in imports_of(path)
                if m.split(".")[:1] == ["services"]
                and len(m.split(".")) > 1
                and m.split(".")[1] in deployables - {name}
            ]
    assert crossing == [], f"a deployable imports another's code: {crossing}"


# ---------------------------------------------------------------- region policy is data (issue 31)
POLICY_FILES = [
    *(ROOT / "services").glob("*/policies/*.yaml"),
    *(ROOT / "contracts" / "data" / "clearing_calendars").glob("*.yaml"),
]
# what a region's text sets in the clearing calendar: a module constant of that name would be a second home
CALENDAR_CONSTANTS = re.compile(
    r"(DECLARATION|GENERATION|CONFIRMATION|AUDIT|RECEIVABLES?_FIXED)_DAY|INSTITUTIONS_(PAID_)?WD|REMITTANCE"
)


def _policy_regions() -> set[str]:
    """The regions that have a policy file of their own (its name, and the regions a calendar lists)."""
    regions = {p.stem for p in POLICY_FILES if p.stem.isdigit()}
    for path in POLICY_FILES:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        regions |= {str(r) for r in data.get("regions", []) if str(r).isdigit()}
    return regions


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are docstrings (words, not values)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _service_code() -> list[Path]:
    return [
        *(ROOT / "kernel").rglob("*.py"),
        *(p for p in (ROOT / "services").rglob("*.py") if "console" not in p.parts),
    ]


def _region_literals(path: Path, regions: set[str], root: Path = ROOT) -> list[str]:
    """Each region literal and calendar constant of ``path``, as ``file:line: what``."""
    tree = _tree(path)
    where = path.relative_to(root)
    words = _docstrings(tree)
    provinces = {r[:2] for r in regions if r.endswith("0000")}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in words:
            if node.value in regions or node.value in provinces:
                found.append(f"{where}:{node.lineno}: {node.value!r}")
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int):
            for target in node.targets:
                if isinstance(target, ast.Name) and CALENDAR_CONSTANTS.search(target.id):
                    found.append(f"{where}:{node.lineno}: {target.id} = {node.value.value}")
    return found


def test_there_are_region_policies_to_check():
    assert {"340200", "210000", "430000"} <= _policy_regions()


def test_no_region_value_is_a_literal_in_a_services_code():
    """A region's values live in its policy file, with its text and the dates in force (issue 31): no service or
    kernel module names a region that has a policy (``"340200"``, a province's ``"21"``) to branch on it, nor
    keeps a day of the clearing calendar as a constant of its own (the C-02 day had two homes: clearing's
    ``GENERATION_DAY`` and settlement's). Docstrings may name them; code reads the policy."""
    regions = _policy_regions()
    found = [hit for path in _service_code() for hit in _region_literals(path, regions)]
    assert found == []


def test_the_check_finds_a_region_literal_and_a_calendar_constant(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Wuhu 340200 in words is fine."""\n'
        "GENERATION_DAY = 21\n"
        "def f(region):\n"
        '    """340200 again, in words."""\n'
        '    return region == "340200" or region[:2] == "21"\n',
        encoding="utf-8",
    )
    hits = sorted(_region_literals(sample, {"340200", "210000"}, tmp_path), key=lambda hit: int(hit.split(":")[1]))
    assert [hit.split(": ", 1)[1] for hit in hits] == ["GENERATION_DAY = 21", "'340200'", "'21'"]

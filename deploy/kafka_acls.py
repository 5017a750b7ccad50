"""Kafka principals and their ACLs, generated from the topic registry (``contracts.registry``) so
that who may write or read a topic can never drift from who produces and consumes it.

    python deploy/kafka_acls.py table      the ACLs as a Markdown table (deploy/SECURITY.md)
    python deploy/kafka_acls.py script     the shell script the compose ``kafka-init`` container runs:
                                           SCRAM credentials, then ACLs, with Kafka's own tools
    python deploy/kafka_acls.py variables  the password variable of every principal
    (--prefix P: for a deployment with YIDI_TOPIC_PREFIX=P)

Kafka's tools, because aiokafka 0.14's admin client has neither CreateAcls nor
AlterUserScramCredentials. The script holds no secret: each password is read from
``KAFKA_PASSWORD_<PRINCIPAL>`` when it runs.

Principals: one per service (its name), one per sample party (its registry code, as the
envelope's ``sender``), and ``simulator``, the HIS simulator of the compose ``simulator`` profile,
which speaks for every sample hospital and agency and moves the controlled clock from one
connection. Kafka ACLs stop at the topic; which region or institution a message may be about is
each service's authority table, after the signature check (contracts.parties).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

import contracts
from contracts.parties import Agency, AgencyLevel, Institution, ParticipantFile
from contracts.registry import ALL_TOPICS
from contracts.topics import SERVICES
from runtime.topics import CLOCK, DEAD_LETTER
from simulator.scenarios import ROUTES

REFUSED, PARTY_CHANGES = "party.refused.v1", "parties.change.v2"
# Every service dead-letters and answers refusals, and follows the business clock and the registry.
EVERY_SERVICE_WRITES = frozenset({DEAD_LETTER, REFUSED})
EVERY_SERVICE_READS = frozenset({CLOCK, PARTY_CHANGES})
# Only the national agency changes the participant registry (003 §5 (三)), although its TopicSpec
# names the producer "agency" like every agency command.
NATIONAL_ONLY = frozenset({PARTY_CHANGES})
SCRAM = "SCRAM-SHA-512"
PARTICIPANTS = Path(contracts.__file__).parent / "data" / "participants.yaml"


@dataclass(frozen=True)
class Principal:
    name: str
    roles: tuple[str, ...]  # a service name, "his", "agency", "national" or "clock"
    group: str  # the consumer group (services) or group-name prefix (the others)

    @property
    def password_variable(self) -> str:
        return "KAFKA_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper())

    @property
    def group_is_prefix(self) -> bool:
        return self.name not in SERVICES


@dataclass(frozen=True, order=True)
class Acl:
    principal: str
    operation: str  # "Write" | "Read"
    resource: str  # "topic" | "group"
    name: str
    pattern: str = "literal"  # "literal" | "prefixed"


def sample_parties() -> list[Institution | Agency]:
    """The hospitals and agencies on the simulator's routes, and the national agency, as the
    participant registry has them (a route naming a party it lacks is an error here)."""
    registry = ParticipantFile.model_validate(yaml.safe_load(PARTICIPANTS.read_text(encoding="utf-8")))
    by_code = {p.code: p for p in (*registry.institutions, *registry.agencies)}
    national = [a.code for a in registry.agencies if a.level == AgencyLevel.NATIONAL]
    codes = {*national, *(h for _, _, h in ROUTES), *(f"A{r}" for ins, tre, _ in ROUTES for r in (ins, tre))}
    missing = codes - by_code.keys()
    if missing:
        raise ValueError(f"simulator routes name parties the registry lacks: {sorted(missing)}")
    return [by_code[c] for c in sorted(codes)]


def _role(party: Institution | Agency) -> str:
    if isinstance(party, Institution):
        return "his"
    return "national" if party.level == AgencyLevel.NATIONAL else "agency"


def principals(prefix: str = "") -> list[Principal]:
    services = [Principal(s, (s,), f"{prefix}yidi-{s}") for s in SERVICES]
    # the "-" keeps one party's prefix from covering a longer code
    parties = [Principal(p.code, (_role(p),), f"{prefix}{p.code}-") for p in sample_parties()]
    # group as the simulator names it (simulator/__main__.py)
    simulator = Principal("simulator", ("his", "agency", "clock"), f"{prefix}his-simulator-")
    return [*services, *parties, simulator]


def writes(role: str) -> set[str]:
    if role in SERVICES:
        return ({n for n, s in ALL_TOPICS.items() if s.producer == role} | EVERY_SERVICE_WRITES) - NATIONAL_ONLY
    if role == "his":
        return {n for n, s in ALL_TOPICS.items() if s.producer == "his"}
    if role == "agency":
        return {
            n for n, s in ALL_TOPICS.items() if s.producer == "agency" or (s.kind == "command" and s.producer != "his")
        } - NATIONAL_ONLY
    if role == "national":
        return set(NATIONAL_ONLY)
    if role == "clock":
        return {CLOCK}
    raise ValueError(f"unknown role {role}")


def reads(role: str) -> set[str]:
    if role in SERVICES:
        return {n for n, s in ALL_TOPICS.items() if role in s.consumers} | EVERY_SERVICE_READS
    if role in ("his", "agency"):
        return {n for n, s in ALL_TOPICS.items() if role in s.consumers} | {REFUSED}
    if role == "national":
        return {REFUSED}
    if role == "clock":
        return set()
    raise ValueError(f"unknown role {role}")


def acls(prefix: str = "") -> set[Acl]:
    out: set[Acl] = set()
    for p in principals(prefix):
        for role in p.roles:
            out |= {Acl(p.name, "Write", "topic", prefix + t) for t in writes(role)}
            out |= {Acl(p.name, "Read", "topic", prefix + t) for t in reads(role)}
        out.add(Acl(p.name, "Read", "group", p.group, "prefixed" if p.group_is_prefix else "literal"))
    return out


def script(prefix: str = "") -> str:
    """Each kafka-acls.sh call is a JVM start: one call per operation and resource set, for every
    principal with exactly that set (the sample hospitals share theirs, so do the agencies)."""
    lines = [_SCRIPT_HEAD]
    lines += [f'user {p.name} "${{{p.password_variable}:?}}"' for p in principals(prefix)]
    resources: dict[tuple[str, str, str], list[str]] = {}
    for a in sorted(acls(prefix)):
        resources.setdefault((a.principal, a.operation, a.pattern), []).append(f"--{a.resource} {a.name}")
    calls: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for (principal, operation, pattern), names in resources.items():
        calls.setdefault((operation, pattern, tuple(names)), []).append(principal)
    for (operation, pattern, names), who in calls.items():
        pattern_flag = " --resource-pattern-type prefixed" if pattern == "prefixed" else ""
        lines.append(f'allow {operation} "{" ".join(who)}"{pattern_flag} {" ".join(names)}')
    lines.append('echo "kafka-init: SCRAM users and ACLs are in place"')
    return "\n".join(lines) + "\n"


_SCRIPT_HEAD = f"""#!/usr/bin/env bash
# Generated by deploy/kafka_acls.py from the topic registry: do not edit. The compose kafka-init
# container runs it against the broker as the super user. Idempotent: run it again after a
# registry change, or to rotate a password. Passwords come from the environment, never from here.
set -euo pipefail
BOOTSTRAP=${{KAFKA_BOOTSTRAP:-kafka:9092}}
TOOLS=${{KAFKA_TOOLS:-/opt/kafka/bin}}
safe() {{  # the passwords go into SCRAM config syntax and JAAS unescaped: keep them plain
  case "$2" in
    CHANGE_ME) echo "password of $1 is the placeholder of deploy/.env.example" >&2; exit 1;;
    *[!A-Za-z0-9_.~-]*) echo "password of $1: use only letters, digits and _.~-" >&2; exit 1;;
  esac
}}
safe admin "${{KAFKA_ADMIN_PASSWORD:?}}"
ADMIN=$(mktemp)
trap 'rm -f "$ADMIN"' EXIT
cat > "$ADMIN" <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism={SCRAM}
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
EOF
user() {{   # principal, password: its SCRAM credential, created or replaced
  safe "$1" "$2"
  "$TOOLS/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" --alter \\
    --entity-type users --entity-name "$1" --add-config "{SCRAM}=[password=$2]"
}}
allow() {{  # operation, "principal...", resources...
  local operation=$1 principals=()
  for principal in $2; do principals+=(--allow-principal "User:$principal"); done
  shift 2
  "$TOOLS/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN" --add --force \\
    "${{principals[@]}}" --operation "$operation" "$@"
}}"""


def table(prefix: str = "") -> str:
    """One row per set of principals with the same rights (the sample agencies share one)."""
    rights: dict[str, dict[str, list[str]]] = {}
    for a in sorted(acls(prefix)):
        cell = rights.setdefault(a.principal, {"Write": [], "Read": []})
        if a.resource == "topic":
            cell[a.operation].append(f"`{a.name}`")
    rows: dict[tuple, list[Principal]] = {}
    for p in principals(prefix):
        # a party's group prefix is its own code: shown as a pattern, so that parties can share a row
        if p.group == f"{prefix}{p.name}-":
            group = "`<code>-*`"
        else:
            group = f"`{p.group}*`" if p.group_is_prefix else f"`{p.group}`"
        cell = rights[p.name]
        key = (p.roles, ", ".join(cell["Write"]) or "–", ", ".join(cell["Read"]) or "–", group)
        rows.setdefault(key, []).append(p)
    lines = ["| principal | writes | reads | consumer groups |", "|---|---|---|---|"]
    for (roles, write, read, group), members in rows.items():
        names = ", ".join(f"`{m.name}`" for m in members)
        lines.append(f"| {names} ({', '.join(roles)}) | {write} | {read} | {group} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["table", "script", "variables"])
    parser.add_argument("--prefix", default="", help="the deployment's YIDI_TOPIC_PREFIX")
    parser.add_argument("--out", help="write here instead of standard output")
    args = parser.parse_args(argv)
    if args.what == "variables":
        text = "".join(f"{p.password_variable}\n" for p in principals(args.prefix))
    else:
        text = (table if args.what == "table" else script)(args.prefix)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``yidi``: run the whole system, one service, or the tooling around the contracts.
(Over 300 lines because it is the one entry point of every command below; each is a small function.)

    yidi run [--observe]      embedded stack + all services + HIS simulator (Ctrl-C stops); --observe: a
                              local Prometheus with the alert rules, scraping every process (runtime/observe.py)
    yidi service NAME         one service instance (what the container runs)
    yidi topics create        create every registry topic
    yidi schemas write|check  JSON Schema snapshots of every contract
    yidi asyncapi [--out-dir D]   AsyncAPI 3.0 documents of what every service, and a HIS, receives and
                              sends: D/<name>.json (default contracts/asyncapi)
    yidi clock set ISO | advance SECONDS   move business time of a controlled-clock system (signed as
                              --as, the registry's operator party ``ops``)
    yidi keys init            development keys for every registry party that has none (var/keys)
    yidi keys new CODE        a new key pair for one party: private file + its public registry entry
    yidi party upsert FILE | remove CODE   change the participant registry (signed as --as, the national agency;
                              --version: the party's new version, default one more than the topic's highest)
    yidi vectors write|check  the signature and sealing test vectors of contracts/vectors (sample keys)
    yidi authority            every service's authority table, as the README shows it
    yidi console user add NAME --agency CODE --role operator|reviewer   a console login (password asked)
    yidi clearing replay --month YYYY-MM   rebuild a period's ledgers and tables from the archived lines
                              and print whether they are identical to what was issued (JSON line)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from runtime.cli_errors import RUN_ENV, quiet_client_logs, run_env_lines, started, unreachable

SERVICE_PORTS = {"filing": 9101, "settlement": 9102, "clearing": 9103, "prepayment": 9104, "collab": 9105}
CONSOLE_PORT = 9106  # the agencies' console (services/console), a deployable of its own
# A second instance of the service on the hospital's path (S-01): it holds half the partitions and
# takes the others over while the first restarts (README "Recovery"). Its metrics port:
SECOND_INSTANCES = {"settlement": 9112}


def _service(name: str) -> None:
    from importlib import import_module

    import_module(f"services.{name}.app").main()


def _topics_create() -> None:
    from runtime.config import Settings
    from runtime.topics import create_topics

    s = Settings()
    created = asyncio.run(
        create_topics(s.kafka_bootstrap_servers, s.topic_prefix, **s.topic_scale(), **s.kafka_client_options())
    )
    print(f"created {len(created)} topics" + (": " + ", ".join(created) if created else ""))


def _keys(args: argparse.Namespace) -> int:
    """Keys for the people who run it: private files stay in the key directory (0600, git-ignored);
    public entries go to its public-keys.json, which the registry merges at load."""
    from runtime.config import Settings
    from runtime.parties import generate_keys, init_keys
    from runtime.privacy import ensure_dev_secrets

    settings = Settings()
    keys_dir = args.dir or settings.keys_dir
    if args.action == "init":
        created = init_keys(keys_dir, suite=settings.crypto_suite)
        ensure_dev_secrets(keys_dir)
        print(
            f"keys in {keys_dir}: created for {len(created)} parties" + (f" ({', '.join(created)})" if created else "")
        )
        return 0
    import json
    from pathlib import Path

    import yaml

    from runtime.parties import PUBLIC_KEYS, ParticipantRegistry, registry_entry

    root = Path(keys_dir)
    path = root / f"{args.code}.private.json"
    if path.exists():
        print(f"{path} exists; to rotate, choose a new --kid: the new key is added beside the old one")
    private, public = generate_keys(args.code, args.kid, settings.crypto_suite)
    root.mkdir(parents=True, exist_ok=True)
    rotated = root / f"{args.code}.private.json"
    fd = os.open(rotated, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(private, f)
    keys_file = root / PUBLIC_KEYS
    known = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    known[args.code] = [k for k in known.get(args.code, []) if k["kid"] != args.kid] + public
    keys_file.write_text(json.dumps(known, indent=1, ensure_ascii=False))
    print(f"private key: {rotated} (keep it there, 0600); public keys added to {keys_file}")
    party = ParticipantRegistry.load(root).get(args.code)
    if party is not None:  # the entry to publish with `yidi party upsert` so running services learn the key
        print(yaml.safe_dump(registry_entry(party), allow_unicode=True, sort_keys=False))
    else:
        print(
            f"{args.code} is not in the registry yet: write its entry (kind, code, name, region, ...) with these "
            f"keys and publish it with `yidi party upsert FILE`:"
        )
        print(yaml.safe_dump({"keys": public}, allow_unicode=True, sort_keys=False))
    return 0


def _party(args: argparse.Namespace) -> int:
    """Publish a registry change on parties.change.v2, signed as the national agency. Its version is
    --version, or one more than the highest the topic holds for that party (its changes that
    authenticate; the data file's entries are version 0)."""
    import json
    import uuid
    from datetime import UTC

    import yaml
    from aiokafka import AIOKafkaProducer
    from pydantic import TypeAdapter

    from contracts.parties import PARTY_CHANGES, ChangeParty, Party
    from runtime.config import Settings
    from runtime.envelopes import encode, envelope_for
    from runtime.parties import ParticipantRegistry, signer_for
    from runtime.topics import physical

    s = Settings()
    keys_dir = args.keys_dir or s.keys_dir
    topic = physical(PARTY_CHANGES, s.topic_prefix)
    if args.action == "upsert":
        party = TypeAdapter(Party).validate_python(yaml.safe_load(open(args.target, encoding="utf-8")))
        code = party.code
    else:
        code = args.target
    version = args.version or 1 + asyncio.run(
        highest_version(s, topic, code, ParticipantRegistry.load(keys_dir), datetime.now(UTC))
    )
    if args.action == "upsert":
        change = ChangeParty(change_id=uuid.uuid4().hex, action="upsert", version=version, party=party)
    else:
        change = ChangeParty(change_id=uuid.uuid4().hex, action="remove", version=version, code=code)
    signer = signer_for(keys_dir, args.sign_as)
    at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    value = encode(envelope_for(PARTY_CHANGES, change, producer="yidi-cli", now=at, sender=signer.code))

    async def send() -> None:
        producer = await started(
            AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, acks="all", **s.kafka_client_options())
        )
        try:
            await producer.send_and_wait(
                topic, value, key=b"registry", headers=[(k, v.encode()) for k, v in signer.headers(value).items()]
            )
        finally:
            await producer.stop()

    asyncio.run(send())
    print(json.dumps({"published": change.change_id, "action": change.action.value, "code": code, "version": version}))
    return 0


async def highest_version(s, topic: str, code: str, registry, now: datetime) -> int:
    """The highest version of ``code`` among the authenticated changes on ``topic`` (0: none)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from contracts.parties import ChangeParty
    from runtime.parties import Unauthenticated, signed_envelope

    consumer = await started(
        AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers, enable_auto_commit=False, **s.kafka_client_options()
        )
    )
    highest = 0
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    try:
                        _, envelope = signed_envelope(registry, record, ChangeParty, now)
                    except Unauthenticated:
                        continue
                    if envelope.payload.subject == code:
                        highest = max(highest, envelope.payload.version)
    finally:
        await consumer.stop()
    return highest


def authority_tables() -> str:
    """Every service's authority table (services/<name>/authority.py), in README form."""
    from importlib import import_module

    return "\n\n".join(import_module(f"services.{name}.authority").AUTHORITY.describe() for name in SERVICE_PORTS)


def _start_console(env: dict[str, str]) -> subprocess.Popen:
    """The agencies' console on its port, with an operator and a reviewer login for each sample agency."""
    from services.console.cli import create_samples

    logins = create_samples()
    urls = {f"YIDI_CONSOLE_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in SERVICE_PORTS.items()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "service", "console"],
        env={**env, **urls, "YIDI_CONSOLE_PORT": str(CONSOLE_PORT), "YIDI_CONSOLE_COOKIE_SECURE": "false"},
    )  # plain http on this machine
    print(f"  console     http://127.0.0.1:{CONSOLE_PORT}/   sample logins (reset on every start):", flush=True)
    for username, password, agency, role in logins:
        print(f"              {username:<22} {password}   {agency} {role}", flush=True)
    return proc


def _prometheus_found() -> bool:
    """Before anything starts: ``--observe`` needs the ``prometheus`` binary."""
    import shutil

    if shutil.which("prometheus"):
        return True
    print(
        "--observe needs Debian's prometheus package: apt-get install prometheus (make run OBSERVE=1 does it as root)"
    )
    return False


def _start_prometheus() -> subprocess.Popen:
    """``--observe``: a local Prometheus with the project's alert rules over every process started here."""
    from runtime.observe import start

    targets: dict[str, list[int]] = {name: [port] for name, port in SERVICE_PORTS.items()}
    for name, port in SECOND_INSTANCES.items():
        targets[name].append(port)
    targets["console"] = [CONSOLE_PORT]
    proc, address = start(targets, Path(RUN_ENV).parent / "observe")
    print(f"  prometheus  {address}   rules deploy/alerts.yml, every process above scraped", flush=True)
    print(f"              alerts: {address}/classic/alerts (Debian's build), {address}/api/v1/alerts", flush=True)
    return proc


def _write_run_env(env: dict[str, str]) -> None:
    """The exports a second terminal needs for every README command, printed and written to var/run.env."""
    lines = run_env_lines(env)
    os.makedirs(os.path.dirname(RUN_ENV), exist_ok=True)
    with open(RUN_ENV, "w", encoding="utf-8") as f:
        f.write("# written by `yidi run` (make run): `. var/run.env` in another terminal to reach it\n")
        f.write("\n".join(lines) + "\n")
    print(f"in another terminal, `. {RUN_ENV}` (or paste):", flush=True)
    for line in lines:
        print(f"  {line}", flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.observe and not _prometheus_found():
        return 2
    stack = None
    env = dict(os.environ)
    from runtime.config import Settings
    from runtime.parties import init_keys
    from runtime.privacy import ensure_dev_secrets

    keys_dir = env.setdefault("YIDI_KEYS_DIR", Settings().keys_dir)
    created = init_keys(keys_dir)  # first start: development keys for the sample parties (never committed)
    ensure_dev_secrets(keys_dir)
    print(f"keys in {keys_dir}" + (f" (created for {len(created)} parties)" if created else ""), flush=True)
    if not (env.get("KAFKA_BOOTSTRAP_SERVERS") and env.get("MONGODB_URI")):
        from runtime.embedded import EmbeddedStack

        print("starting the embedded stack (Tansu broker, nx-27017)…", flush=True)
        stack = EmbeddedStack().start()
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap, MONGODB_URI=stack.mongodb_uri, YIDI_KAFKA_IDEMPOTENCE="false"
        )
    env.setdefault("YIDI_CLOCK", "controlled")
    env.setdefault("YIDI_LOG_LEVEL", "WARNING")  # keep the console for the simulator's summaries
    env.setdefault("YIDI_TOPIC_PREFIX", "")
    env["YIDI_KEYS_DIR"] = os.path.abspath(keys_dir)  # the same keys from any directory
    print(f"kafka {env['KAFKA_BOOTSTRAP_SERVERS']}  mongodb {env['MONGODB_URI']}", flush=True)
    _write_run_env(env)
    os.environ.update(env)
    _topics_create()
    procs: dict[str, subprocess.Popen] = {}
    for name, port in SERVICE_PORTS.items():
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "service", name],
            env={**env, "YIDI_SERVICE": name, "YIDI_METRICS_PORT": str(port)},
        )
        print(f"  {name:<11} http://127.0.0.1:{port}/metrics   /health", flush=True)
    for name, port in SECOND_INSTANCES.items():
        procs[f"{name}-2"] = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "service", name],
            env={**env, "YIDI_SERVICE": name, "YIDI_METRICS_PORT": str(port), "YIDI_INSTANCE": f"{name}-2"},
        )
        print(f"  {name + '-2':<11} http://127.0.0.1:{port}/metrics   /health", flush=True)
    procs["console"] = _start_console(env)
    if args.observe:
        procs["prometheus"] = _start_prometheus()
    if not args.no_simulator:
        seeding = [] if args.no_seed else ["--sample-month"]
        procs["simulator"] = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--rate", str(args.rate), *seeding], env=env
        )
        print(
            f"  simulator   {args.rate} visits/s, results checked and summarised every 10 s"
            + (
                ""
                if args.no_seed
                else "; first seeds a sample month (quotas, a red warning, collaboration items in every state)"
            ),
            flush=True,
        )
    print("Ctrl-C stops everything.", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with code {proc.returncode}; stopping", flush=True)
                    stopping, code = True, 1
            time.sleep(0.5)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(25)
            except subprocess.TimeoutExpired:
                proc.kill()
        if stack:
            stack.stop()
        print("stopped.", flush=True)
    return code


def _clock(args: argparse.Namespace) -> None:
    """Move the business time of a controlled-clock system, signed as the registry's operator party."""
    from aiokafka import AIOKafkaProducer

    from runtime.clock import clock_command_advance, clock_command_set, clock_headers
    from runtime.config import Settings
    from runtime.parties import signer_for
    from runtime.topics import CLOCK, physical

    s = Settings()
    signer = signer_for(args.keys_dir or s.keys_dir, args.sign_as)
    value = (
        clock_command_set(datetime.fromisoformat(args.value), signer.code)
        if args.op == "set"
        else clock_command_advance(float(args.value), signer.code)
    )

    async def send() -> None:
        producer = await started(
            AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, acks="all", **s.kafka_client_options())
        )
        try:
            await producer.send_and_wait(
                physical(CLOCK, s.topic_prefix), value, partition=0, headers=clock_headers(signer, value)
            )
        finally:
            await producer.stop()

    asyncio.run(send())


def _clearing_replay(month: str) -> int:
    """Replay: the month's ledgers and tables rebuilt from the archived lines (MONGODB_URI,
    YIDI_MONGODB_DATABASE) and compared with what was issued; exit 1 when they differ."""
    import json

    from services.clearing.replay import replay_month

    result = asyncio.run(replay_month(month))
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0 if result["identical"] else 1


def build_parser() -> argparse.ArgumentParser:
    """Every command, each with its help text (``yidi <command> --help``)."""
    parser = argparse.ArgumentParser(
        prog="yidi", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text)

    run = command(
        "run",
        "the embedded stack (unless KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI are set), every "
        f"service, the console and the HIS simulator; seeds a month of sample data; writes {RUN_ENV}",
    )
    run.add_argument("--no-simulator", action="store_true", help="start no HIS simulator")
    run.add_argument("--no-seed", action="store_true", help="send no sample quotas, collaboration items or periods")
    run.add_argument("--rate", type=float, default=5.0, help="the simulator's visits per second (default 5)")
    run.add_argument(
        "--observe",
        action="store_true",
        help="also a local Prometheus (Debian's package) with the alert rules of deploy/alerts.yml, scraping every "
        "process; its address is printed",
    )
    svc = command("service", "one service instance (what its container runs), configured by the environment")
    svc.add_argument("name", choices=sorted([*SERVICE_PORTS, "console"]), help="the service")
    topics = command("topics", "create every topic of the registry (KAFKA_BOOTSTRAP_SERVERS, YIDI_TOPIC_PREFIX)")
    topics.add_argument("action", choices=["create"])
    schemas = command("schemas", "the JSON Schema snapshots of every contract: write them, or check they are current")
    schemas.add_argument("action", choices=["write", "check"])
    asyncapi = command("asyncapi", "AsyncAPI 3.0 documents of what every service, and a HIS, receives and sends")
    asyncapi.add_argument("--out-dir", default="contracts/asyncapi", help="where <name>.json go")
    clock = command(
        "clock",
        "move the business time of a controlled-clock system (ops.clock.v1): `set ISO-TIME` or `advance SECONDS`",
    )
    clock.add_argument("op", choices=["set", "advance"], help="set: to a time; advance: by seconds")
    clock.add_argument("value", help="an ISO time with its offset (set), or seconds (advance)")
    clock.add_argument("--as", dest="sign_as", default="ops", help="the registry's operator party (signs the command)")
    clock.add_argument("--keys-dir", default=None, help="key directory (default YIDI_KEYS_DIR or var/keys)")
    keys = command("keys", "development keys: `init` for every registry party without one, `new CODE` for one party")
    keys.add_argument("action", choices=["init", "new"])
    keys.add_argument("code", nargs="?", help="the party's registry code (for 'new')")
    keys.add_argument("--kid", default=datetime.now().strftime("%Y-%m"), help="key id (for 'new')")
    keys.add_argument("--dir", default=None, help="key directory (default YIDI_KEYS_DIR or var/keys)")
    party = command("party", "change the participant registry (parties.change.v2), signed as the national agency")
    party.add_argument("action", choices=["upsert", "remove"])
    party.add_argument("target", help="a YAML file with one party entry (upsert), or a party code (remove)")
    party.add_argument("--as", dest="sign_as", default="A000000", help="the national agency's code")
    party.add_argument("--keys-dir", default=None, help="key directory (default YIDI_KEYS_DIR or var/keys)")
    party.add_argument(
        "--version",
        type=int,
        default=None,
        help="the party's new registry version (default: one more than the highest on the topic for that party)",
    )
    party.add_argument(
        "--at",
        default=None,
        help="occurred_at of the change (ISO; default now): on a controlled-clock "
        "system, its business time, which every instance checks the change against",
    )
    vectors = command("vectors", "the signature and sealing test vectors of contracts/vectors (sample keys)")
    vectors.add_argument("action", choices=["write", "check"])
    vectors.add_argument("--suite", action="append", default=None, help="a crypto suite (default: every suite)")
    command("authority", "every service's authority table: who may send what, as the README shows it")
    from services.console.cli import add_parser as add_console_parser

    add_console_parser(sub)
    clearing = command("clearing", "rebuild a clearing period from its archived lines and compare (JSON line)")
    clearing.add_argument("action", choices=["replay"])
    clearing.add_argument("--month", required=True, help="the clearing month, YYYY-MM")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cmd not in ("run", "service"):  # a one-shot command: its connection error is one line
        quiet_client_logs()
    try:
        return _dispatch(parser, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        line = unreachable(exc)
        if line is None:
            raise
        print(f"yidi {args.cmd}: {line}", file=sys.stderr)
        return 2


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.cmd == "run":
        return _run(args)
    if args.cmd == "service":
        _service(args.name)
    elif args.cmd == "topics":
        _topics_create()
    elif args.cmd == "schemas":
        from contracts.schemas import check, write

        return write() if args.action == "write" else check()
    elif args.cmd == "asyncapi":
        from runtime.asyncapi import write_asyncapi

        write_asyncapi(args.out_dir)
    elif args.cmd == "clock":
        _clock(args)
    elif args.cmd == "keys":
        if args.action == "new" and not args.code:
            parser.error("keys new needs the party's code")
        return _keys(args)
    elif args.cmd == "party":
        return _party(args)
    elif args.cmd == "vectors":
        from runtime.vectors import main as vectors_main

        return vectors_main(args.action, args.suite)
    elif args.cmd == "authority":
        print(authority_tables())
    elif args.cmd == "console":
        from services.console.cli import main as console_main

        return console_main(args)
    elif args.cmd == "clearing":
        return _clearing_replay(args.month)
    return 0


if __name__ == "__main__":
    sys.exit(main())

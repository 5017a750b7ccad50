"""``make chaos``: the whole system under fire.

    python -m chaos [--requests 10000] [--kills 24] [--seed 2026] [--in-flight 16]
                    [--fault SERVICE=FAULT] [--timeout-ms N] [--max-minutes M]

Starts the embedded stack and every service (settlement twice), files a population, drives a
realistic mix of HIS requests (chaos/mix.py) while killing a random service instance with SIGKILL
at random moments and starting it again, moves business time to the 21st so clearing generates a
period, then checks by independent sums (chaos/audit.py) and prints one JSON line. Exit code 0
when nothing was lost or double-counted, every request was answered and every total agrees to the
fen; 1 otherwise. ``--fault clearing=drop_one:settlement.completed.v1`` breaks a service on
purpose (runtime/config.py ``fault``) to show that the checks see it."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from chaos.run import run, verdict
from chaos.system import stack_for_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10000, help="HIS requests to send")
    parser.add_argument(
        "--kills", type=int, default=24, help="SIGKILLs, every service instance in turn (six instances: four each)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--in-flight", type=int, default=16, help="requests waiting for their answer at once")
    parser.add_argument("--population", type=int, default=300, help="insured persons (two thirds filed)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SERVICE=FAULT",
        help="YIDI_FAULT for one service (runtime/config.py), e.g. clearing=drop_one:settlement.completed.v1",
    )
    parser.add_argument(
        "--timeout-ms",
        type=int,
        default=None,
        help="the S-01 answer budget (YIDI_SETTLEMENT_INSURED_TIMEOUT_MS) for this run",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop sending after this long, then check what was sent (a busy machine)",
    )
    args = parser.parse_args(argv)
    faults = dict(f.split("=", 1) for f in args.fault)
    env = {"YIDI_SETTLEMENT_INSURED_TIMEOUT_MS": str(args.timeout_ms)} if args.timeout_ms else {}
    with stack_for_run() as stack:
        report = verdict(
            asyncio.run(
                run(
                    requests=args.requests,
                    kills=args.kills,
                    seed=args.seed,
                    in_flight=args.in_flight,
                    population=args.population,
                    faults=faults,
                    env=env,
                    stack=stack,
                    max_seconds=args.max_minutes * 60 if args.max_minutes else None,
                )
            )
        )
    print(json.dumps(report, ensure_ascii=False, default=str), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""``yidi console …``: the console's users, created by the people who run it.

    yidi console user add NAME --agency A340200 --role operator   (the password is asked, or read from
                                                                    stdin with --password-stdin)
    yidi console samples                                           the sample logins `make run` prints

Users live in the console's database (MONGODB_URI, YIDI_MONGODB_DATABASE, default ``yidi_console``).
"""

from __future__ import annotations

import asyncio
import getpass
import secrets
import sys

from pymongo import AsyncMongoClient

from runtime.parties import ParticipantRegistry
from services.console.config import shared
from services.console.users import Role, UserStore

# the sample agencies of `make run`: Wuhu, Wuhan, Hubei, Anhui and the national level
SAMPLE_AGENCIES = (
    ("wuhu", "A340200"),
    ("wuhan", "A420100"),
    ("hubei", "A420000"),
    ("anhui", "A340000"),
    ("national", "A000000"),
)


async def _with_store(job):
    base = shared()
    client = AsyncMongoClient(base.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=15000)
    try:
        return await job(UserStore(client[base.database], ParticipantRegistry.load(base.keys_dir)))
    finally:
        await client.close()


def add_user(username: str, agency: str, role: str, password: str | None, replace: bool = False) -> int:
    if password is None:
        password = getpass.getpass(f"password for {username}: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    try:
        user = asyncio.run(_with_store(lambda store: store.add(username, password, agency, role, replace=replace)))
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(f"user {user.username}: {user.display} ({user.agency}), {user.role.value}")
    return 0


def create_samples() -> list[tuple[str, str, str, str]]:
    """An operator and a reviewer for each sample agency, with fresh random passwords (reset on every
    `make run`, so no password is ever fixed in the code): (username, password, agency, role)."""
    logins = [
        (f"{name}.{role.value}", secrets.token_urlsafe(9), agency, role.value)
        for name, agency in SAMPLE_AGENCIES
        for role in Role
    ]

    async def job(store: UserStore):
        for username, password, agency, role in logins:
            await store.add(username, password, agency, role, replace=True)

    asyncio.run(_with_store(job))
    return logins


def main(args) -> int:
    if args.action == "user":
        if not args.username or not args.agency:
            print("usage: yidi console user add NAME --agency CODE [--role operator|reviewer]", file=sys.stderr)
            return 2
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
        return add_user(args.username, args.agency, args.role, password, replace=args.replace)
    for username, password, agency, role in create_samples():
        print(f"{username:<22} {password}  {agency} {role}")
    return 0


def add_parser(sub) -> None:
    console = sub.add_parser(
        "console",
        help="the agencies' console: its users",
        description="the agencies' console: `user add NAME --agency CODE --role R` adds a login "
        "(password asked), `samples` the sample logins",
    )
    console.add_argument("action", choices=["user", "samples"])
    console.add_argument("verb", nargs="?", choices=["add"], default="add")
    console.add_argument("username", nargs="?")
    console.add_argument("--agency", help="the user's agency (registry code, e.g. A340200)")
    console.add_argument("--role", choices=[r.value for r in Role], default=Role.OPERATOR.value)
    console.add_argument("--password-stdin", action="store_true")
    console.add_argument("--replace", action="store_true", help="reset an existing user")

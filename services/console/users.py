"""Console users and their sessions, in the console's own database.

A user belongs to one registry agency and has one role (``Role``); passwords are hashed with argon2id
(argon2-cffi's defaults, RFC 9106's second recommended parameters), never stored or logged in clear.
After ``max_failures`` failed logins in a row the account is locked for ``lockout_minutes``
(a correct password during the lock is refused too, so guessing gains nothing). Every refused login
gets the same answer (``REFUSED``), whether the name is unknown, the password wrong or the account
locked, so the answer tells no one which names exist. Sessions are random
256-bit tokens; the database keeps only their SHA-256, with the user, the session's CSRF token and its
expiry (absolute and idle). Each change is one single-document update (the embedded MongoDB-wire
server keeps no multi-document transactions).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from contracts.parties import Agency
from runtime.parties import ParticipantRegistry

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
MIN_PASSWORD = 10
REFUSED = "用户名或密码错误；连续失败多次的账户将暂时锁定，请稍后再试"  # one answer for every refused login


class Role(StrEnum):
    """operator 经办: day-to-day work (replies, extensions asked, leads, lookups); reviewer 复核: the
    binding decisions (accept an extension, confirm or dispute a result, escalate, confirm or object
    to a clearing period), and everything an operator sees."""

    OPERATOR = "operator"
    REVIEWER = "reviewer"


ROLE_ZH = {Role.OPERATOR: "经办", Role.REVIEWER: "复核"}


@dataclass(frozen=True)
class User:
    username: str
    agency: str
    role: Role
    display: str


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: datetime


class LoginRefused(Exception):
    """Why a login failed, in words a user may see (never whether the name exists)."""


class UserStore:
    def __init__(
        self,
        db: AsyncDatabase,
        parties: ParticipantRegistry,
        *,
        max_failures: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        session_for: timedelta = timedelta(hours=8),
        idle: timedelta = timedelta(minutes=30),
    ) -> None:
        self.users, self.sessions = db["users"], db["sessions"]
        self.parties, self.max_failures, self.lockout = parties, max_failures, lockout
        self.session_for, self.idle = session_for, idle
        self.hasher = PasswordHasher()
        # the cost of a hash for unknown names, so that timing does not tell which names exist
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    # ------------------------------------------------------------ users
    async def add(
        self, username: str, password: str, agency: str, role: Role | str, display: str = "", *, replace: bool = False
    ) -> User:
        """A new user of ``agency`` (a registry agency code); ``replace`` resets an existing one."""
        if not USERNAME.fullmatch(username):
            raise ValueError("username: 3–32 of a-z 0-9 . _ -, starting with a letter or digit")
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"password: at least {MIN_PASSWORD} characters")
        party = self.parties.get(agency)
        if not isinstance(party, Agency):
            raise ValueError(f"{agency} is not an agency of the participant registry")
        user = User(username, agency, Role(role), display or party.name)
        doc = {
            "_id": username,
            "agency": agency,
            "role": user.role.value,
            "display": user.display,
            "hash": self.hasher.hash(password),
            "failures": 0,
            "locked_until": None,
        }
        if replace:
            await self.users.replace_one({"_id": username}, doc, upsert=True)
        elif await self.users.find_one({"_id": username}) is not None:
            raise ValueError(f"user {username} exists (use --replace to reset it)")
        else:
            await self.users.insert_one(doc)
        return user

    async def get(self, username: str) -> User | None:
        doc = await self.users.find_one({"_id": username})
        return _user(doc) if doc else None

    async def login(self, username: str, password: str, now: datetime) -> tuple[str, Session]:
        """A new session for a correct password of an unlocked user, else ``LoginRefused``."""
        doc = await self.users.find_one({"_id": username})
        if doc is None:
            _verify(self.hasher, self._dummy, password)
            raise LoginRefused(REFUSED)
        locked = doc.get("locked_until")
        if locked and _aware(locked) > now:
            _verify(self.hasher, self._dummy, password)  # the same work as any refusal: no timing tells
            raise LoginRefused(REFUSED)
        if not _verify(self.hasher, doc["hash"], password):
            await self._failed(username, now)
            raise LoginRefused(REFUSED)
        update: dict = {"failures": 0, "locked_until": None}
        if self.hasher.check_needs_rehash(doc["hash"]):
            update["hash"] = self.hasher.hash(password)
        await self.users.update_one({"_id": username}, {"$set": update})
        return await self._open(_user(doc), now)

    async def _failed(self, username: str, now: datetime) -> None:
        doc = await self.users.find_one_and_update(
            {"_id": username}, {"$inc": {"failures": 1}}, return_document=ReturnDocument.AFTER
        )
        if doc and doc.get("failures", 0) >= self.max_failures:
            await self.users.update_one(
                {"_id": username}, {"$set": {"locked_until": now + self.lockout, "failures": 0}}
            )

    # ------------------------------------------------------------ sessions
    async def _open(self, user: User, now: datetime) -> tuple[str, Session]:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + self.session_for
        await self.sessions.insert_one(
            {"_id": _digest(token), "user": user.username, "csrf": csrf, "expires_at": expires, "seen_at": now}
        )
        return token, Session(user, csrf, expires)

    async def session(self, token: str | None, now: datetime) -> Session | None:
        """The live session of a cookie's token (absolute and idle expiry), touched; else None."""
        if not token:
            return None
        doc = await self.sessions.find_one({"_id": _digest(token)})
        if doc is None or _aware(doc["expires_at"]) <= now or _aware(doc["seen_at"]) + self.idle <= now:
            return None
        user = await self.get(doc["user"])
        if user is None:
            return None
        await self.sessions.update_one({"_id": doc["_id"]}, {"$set": {"seen_at": now}})
        return Session(user, doc["csrf"], _aware(doc["expires_at"]))

    async def logout(self, token: str | None) -> None:
        if token:
            await self.sessions.delete_one({"_id": _digest(token)})


def csrf_ok(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected, given)


def _verify(hasher: PasswordHasher, hashed: str, password: str) -> bool:
    try:
        return hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(doc: dict) -> User:
    return User(doc["_id"], doc["agency"], Role(doc["role"]), doc.get("display") or doc["agency"])


def _aware(moment: datetime | str) -> datetime:
    """A stored moment, aware (a server may hand back a ``$set`` datetime as its ISO text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

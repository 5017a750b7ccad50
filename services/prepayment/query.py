"""The prepayment query API on the service's HTTP port (P-01..P-09; 003 §5 (三)): an agency reads the
prepayment account of a region it speaks for (its own, its province's cities, every region for the
national level: ``ParticipantRegistry.speaks_for``).

* ``GET /prepayment/account?region=&scope=cross_province|intra_province&at=``: the account's figures
  (quota, top-ups, uncleared and cleared-unpaid payables, the P-04 usage rate, the P-05 level), its
  payment notices with their P-08/P-09 deadlines, and the latest movements.
* ``GET /prepayment/usage?region=&scope=&year=&at=``: the P-04 usage rate after each business day
  with movements (the ledger's balances that day), the 70 % and 90 % lines (P-05) and every change of
  warning level (the warnings), for the usage chart.
* ``GET /prepayment/movements?region=&scope=&from=&to=&at=``: the ledger movements of business days
  ``from``..``to`` (ISO dates, both optional), oldest first (M-03: never edited). With ``page`` (and
  ``size``) a page of them, newest first, each with its kind, accounts and source in Chinese words
  (``movement_words.py``) and the totals; with ``format=csv`` or ``xlsx`` all of them as a file.

Answers: 200 JSON, 400 bad query, 401 unsigned or stale, 403 an agency that does not speak for the
region (or not an agency), 404 no account of that region and scope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from contracts.prepayment import PrepaymentScope
from runtime.calendar import business_date
from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, QueryRefused, SignedQuery, table_answer
from services.prepayment.adapters import MovementLedger
from services.prepayment.domain import formulas as f
from services.prepayment.domain.ledger import LedgerAccount, Movement, balances
from services.prepayment.domain.model import _TOP_UPS, PrepaymentAccount, account_key
from services.prepayment.movement_words import COLUMNS, in_words
from services.wiring import Aggregates

ACCOUNT_PATH = "/prepayment/account"
USAGE_PATH = "/prepayment/usage"
MOVEMENTS_PATH = "/prepayment/movements"
_REGION = {"region": "the insured region (6 digits)", "scope": "cross_province (default) or intra_province"}
SPECS = {
    ACCOUNT_PATH: dict(
        summary="预付金账户：额度、调增、应付、使用率、预警级别、付款通知书及期限 (P-04, P-05, P-08, P-09)",
        params=_REGION,
        required=("region",),
    ),
    USAGE_PATH: dict(
        summary="预付金使用率走势，含70%与90%预警线及预警变化 (P-04, P-05)",
        params={**_REGION, "year": "the year (default: the account's)"},
        required=("region",),
    ),
    MOVEMENTS_PATH: dict(
        summary="预付金台账流水，按业务日期 (M-03)",
        params={
            **_REGION,
            "from": "first business day, YYYY-MM-DD",
            "to": "last business day",
            "page": "a page, newest first (from 1)",
            "size": "1..500 (default 20)",
            "format": "json, csv or xlsx (every movement, in Chinese words)",
        },
        required=("region",),
        formats=("json", "csv", "xlsx"),
    ),
}


def account_of(q: SignedQuery, parties) -> tuple[str, PrepaymentScope]:
    """The region and scope asked, by an agency that speaks for the region (else 403)."""
    region, scope = q.params.get("region", ""), q.params.get("scope", PrepaymentScope.CROSS_PROVINCE.value)
    if not re.fullmatch(r"\d{6}", region):
        raise QueryRefused(400, "region (6 digits) is required")
    if scope not in {s.value for s in PrepaymentScope}:
        raise QueryRefused(400, "scope is cross_province or intra_province")
    agency = q.agency()
    if not parties.speaks_for(agency.code, region):
        raise QueryRefused(
            403,
            f"UNAUTHORIZED: {agency.code} does not speak for region {region} "
            "(its agency, province or the national level may ask)",
        )
    return region, PrepaymentScope(scope)


def summary(acc: PrepaymentAccount) -> dict:
    """P-04/P-05 figures as the account holds them, its notices (P-08/P-09) and latest movements."""
    # P-04 as the region's text measured it at the account's last change (Hubei: the month's clearing funds)
    if acc.usage_formula == "monthly_clearing":
        used = f.monthly_clearing_used(acc.monthly_clearing)
    else:
        used = f.usage_used(acc.uncleared, acc.cleared_unpaid)
    base = f.usage_base(acc.quota, acc.top_ups)
    percent = f.usage_percent(used, base)
    notices = sorted(
        (
            dict(n.model_dump(mode="json"), settled=n.settled, sanction=n.sanction.value if n.sanction else None)
            for n in acc.notices.values()
        ),
        key=lambda n: n["issued_at"],
        reverse=True,
    )
    return {
        "insured_region": str(acc.insured_region),
        "scope": acc.scope.value,
        "year": acc.year,
        "quota": str(acc.quota),
        "top_ups": str(acc.top_ups),
        "uncleared": str(acc.uncleared),
        "cleared_unpaid": str(acc.cleared_unpaid),
        "used": str(used),
        "base": str(base),
        "usage_percent": str(percent) if percent is not None else None,
        "level": acc.level.value,
        "usage_formula": acc.usage_formula,
        "yellow_percent": str(f.YELLOW_PERCENT),
        "red_percent": str(f.RED_PERCENT),
        "notices": notices,
        "recent_movements": [m.model_dump(mode="json") for m in reversed(acc.recent)],
    }


def merged(archived: list[Movement], acc: PrepaymentAccount) -> list[Movement]:
    """The archive plus the movements the account holds that are not archived yet, once each."""
    by_seq = {m.seq: m for m in archived}
    for m in acc.recent:
        by_seq.setdefault(m.seq, m)
    return [by_seq[s] for s in sorted(by_seq)]


def usage_history(movements: list[Movement], year: int, today: date) -> list[dict]:
    """P-04 after each business day of ``year`` with movements (and today): used, base, rate, level."""
    days = sorted({m.on for m in movements if m.on.year == year} | ({today} if today.year == year else set()))
    points = []
    for day in days:
        b = balances(movements, day)
        used = b[LedgerAccount.UNCLEARED] + b[LedgerAccount.CLEARED_UNPAID]
        tops = sum(
            (m.amount for m in movements if m.kind in _TOP_UPS and m.on.year == year and m.on <= day), Decimal("0.00")
        )
        base = b[LedgerAccount.QUOTA] + tops
        percent = f.usage_percent(used, base)
        points.append(
            {
                "on": day.isoformat(),
                "used": str(used),
                "base": str(base),
                "usage_percent": str(percent) if percent is not None else None,
                "level": f.warning_level(used, base).value,
            }
        )
    return points


def warnings(points: list[dict]) -> list[dict]:
    """P-05: every day the warning level changed (the first point counts when it is not 'none')."""
    out, level = [], "none"
    for p in points:
        if p["level"] != level:
            out.append({"on": p["on"], "from": level, "to": p["level"], "usage_percent": p["usage_percent"]})
            level = p["level"]
    return out


def date_param(q: SignedQuery, name: str) -> date | None:
    raw = q.params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise QueryRefused(400, f"{name} is a date, YYYY-MM-DD") from None


def as_json(data, name: str) -> tuple[bytes, str, str]:
    return json.dumps(data, ensure_ascii=False).encode(), FORMATS["json"], name


class PrepaymentQueries:
    """The three reads: the accounts as the store keeps them, the movements from the ledger
    (``adapters.py``); :meth:`register` adds them to the service's port (``app.py``)."""

    def __init__(
        self,
        accounts: Aggregates[PrepaymentAccount],
        movements: MovementLedger,
        *,
        now: Callable[[], datetime],
        parties: ParticipantRegistry,
    ) -> None:
        self.accounts, self.movements, self.now, self.parties = accounts, movements, now, parties

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(ACCOUNT_PATH, self.account, **SPECS[ACCOUNT_PATH])
        add_query(USAGE_PATH, self.usage, **SPECS[USAGE_PATH])
        add_query(MOVEMENTS_PATH, self.ledger, **SPECS[MOVEMENTS_PATH])

    async def _load(self, q: SignedQuery) -> tuple[str, PrepaymentAccount]:
        region, scope = account_of(q, self.parties)
        key = account_key(region, scope)
        acc = await self.accounts.load(key)
        if acc is None:
            raise QueryRefused(404, f"no {scope.value} prepayment account of region {region}")
        return key, acc

    async def account(self, q: SignedQuery) -> tuple[bytes, str, str]:
        key, acc = await self._load(q)
        return as_json(summary(acc), f"prepayment-{key}.json")

    async def usage(self, q: SignedQuery) -> tuple[bytes, str, str]:
        key, acc = await self._load(q)
        year = q.params.get("year") or str(acc.year)
        if not re.fullmatch(r"\d{4}", year):
            raise QueryRefused(400, "year is YYYY")
        movements = merged(await self.movements.find(key), acc)
        points = usage_history(movements, int(year), business_date(self.now()))
        return as_json(
            {
                "insured_region": str(acc.insured_region),
                "scope": acc.scope.value,
                "year": int(year),
                "yellow_percent": str(f.YELLOW_PERCENT),
                "red_percent": str(f.RED_PERCENT),
                "level": acc.level.value,
                "points": points,
                "warnings": warnings(points),
            },
            f"prepayment-usage-{key}-{year}.json",
        )

    async def ledger(self, q: SignedQuery) -> tuple[bytes, str, str]:
        key, acc = await self._load(q)
        start, end = date_param(q, "from"), date_param(q, "to")
        rows = [
            m
            for m in merged(await self.movements.find(key), acc)
            if (start is None or m.on >= start) and (end is None or m.on <= end)
        ]
        if q.params.get("page") or q.params.get("format", "json") != "json":
            return table_answer(
                q,
                [in_words(m) for m in reversed(rows)],
                COLUMNS,
                f"prepayment-movements-{key.replace(':', '-')}",
                "movements",
            )
        return as_json([m.model_dump(mode="json") for m in rows], f"prepayment-movements-{key}.json")

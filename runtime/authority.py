"""Authority tables: which party may send each topic a service consumes (003 §5 (三)).

Each service declares one ``AuthorityTable`` beside its handlers (``services/<name>/authority.py``):
a topic → a ``Rule`` that looks at the authenticated sender, the payload and the registry, and
answers ``None`` (allowed) or a ``Refusal``. Checks that need stored state (the institution that
made a settlement, the agency a request is addressed to) belong to the domain, which receives the
sender; these rules see only the message. ``describe()`` renders the table the README shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from contracts.directory import SettlementKind
from contracts.parties import (
    Agency,
    AgencyLevel,
    Channel,
    Institution,
    PersonAuthentication,
    RefusalReason,
    ServiceParty,
)
from runtime.parties import AnyParty, ParticipantRegistry

Sender = AnyParty  # an Operator (the clock's signer) is named by no rule: it may send nothing here


@dataclass(frozen=True)
class Refusal:
    reason: RefusalReason
    message: str
    rule: str = "003 §5 (三)"
    code: str = ""  # a finer, service-specific code (e.g. the HIS refusal code)


Check = Callable[[Sender, Any, ParticipantRegistry, datetime], "Refusal | None"]


@dataclass(frozen=True)
class Rule:
    """``who`` in words for the README; ``check`` decides."""

    who: str
    check: Check

    def __call__(self, sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        return self.check(sender, payload, registry, now)

    def __and__(self, other: Rule) -> Rule:
        return Rule(f"{self.who}; {other.who}", lambda s, p, r, n: self.check(s, p, r, n) or other.check(s, p, r, n))

    def __or__(self, other: Rule) -> Rule:
        """Either may send it (``agency_for(…) | person_channel(…)``): a refused channel hears why the
        right-hand rule refused it, any other sender why the left-hand one did."""

        def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
            first = self.check(sender, payload, registry, now)
            if first is None:
                return None
            second = other.check(sender, payload, registry, now)
            if second is None:
                return None
            return second if isinstance(sender, Channel) else first

        return Rule(f"{self.who}; or {other.who}", check)


def _unauthorized(message: str, rule: str = "003 §5 (三)", code: str = "UNAUTHORIZED") -> Refusal:
    return Refusal(RefusalReason.UNAUTHORIZED, message, rule, code)


def service(*codes: str) -> Rule:
    """Only the platform's own service(s) ``codes``: internal hops, deadlines, published facts."""

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        if isinstance(sender, ServiceParty) and sender.code in codes:
            return None
        return _unauthorized(f"only the {' or '.join(codes)} service may send this; {sender.code} may not")

    return Rule(f"the {' / '.join(codes)} service", check)


def institution(
    *,
    region_field: str | None,
    code_field: str = "institution_code",
    level_field: str | None = "hospital_level",
    kind_field: str | None = None,
) -> Rule:
    """An institution opened for cross-region settlement (异地联网), in the payload's region,
    naming itself, at its registered level; with ``kind_field`` (the payload's medical type), opened
    for the settlement that medical type needs (inpatient, outpatient or chronic: ``Institution.opened``),
    else opened for any."""

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        if not isinstance(sender, Institution):
            return _unauthorized(f"{sender.code} is not an institution", code="NOT_AN_INSTITUTION")
        if getattr(payload, code_field) != sender.code:
            return _unauthorized(
                f"{sender.code} may not act for institution {getattr(payload, code_field)}", code="NOT_THIS_INSTITUTION"
            )
        refused = _not_opened(sender, getattr(payload, kind_field) if kind_field else None, now.date())
        if refused:
            return refused
        region = getattr(payload, region_field) if region_field else sender.region
        if region != sender.region:
            return _unauthorized(
                f"{sender.code} lies in {sender.region}, not in the treating region {region}",
                code="INSTITUTION_REGION_MISMATCH",
            )
        if level_field and getattr(payload, level_field) != sender.hospital_level:
            return _unauthorized(
                f"{sender.code} is registered at level {sender.hospital_level.value}, not "
                f"{getattr(payload, level_field)}",
                rule="S-05",
                code="HOSPITAL_LEVEL_MISMATCH",
            )
        return None

    level = ", at its registered level" if level_field else ""
    where = f", located in `{region_field}`" if region_field else ""
    opened = f" of the kind `{kind_field}` needs" if kind_field else ""
    return Rule(
        f"an institution opened for cross-region settlement{opened}{where}, naming itself in `{code_field}`{level}",
        check,
    )


def _not_opened(sender: Institution, medical_type: Any, day: date) -> Refusal | None:
    """INSTITUTION_NOT_OPENED unless ``sender`` is opened on ``day`` for the settlement ``medical_type``
    needs (for any, without one), naming the settlement and its rule (S-19)."""
    if medical_type is None:
        if sender.open_on(day):
            return None
        return _unauthorized(
            f"{sender.code} is not opened for cross-region direct settlement", code="INSTITUTION_NOT_OPENED"
        )
    kind = SettlementKind.of(medical_type)
    if sender.opened_for(kind, day):
        return None
    since = sender.opened.get(kind)
    when = f"only from {since}" if since else "not at all"
    return _unauthorized(
        f"{sender.code} is not opened for cross-region direct settlement of {kind.value} "
        f"({kind.zh}) on {day}: {when} ({kind.rule})",
        rule=kind.rule,
        code="INSTITUTION_NOT_OPENED",
    )


def agency_for(*region_fields: str, rule: str, exact: bool = False) -> Rule:
    """The agency of the payload's region (of any of ``region_fields``), or — unless ``exact`` — the
    province or national level above it."""

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        regions = [str(getattr(payload, f)) for f in region_fields]
        if not isinstance(sender, Agency):
            return _unauthorized(f"{sender.code} is not an agency", rule)
        if exact and any(sender.region == region for region in regions):
            return None
        if not exact and any(registry.speaks_for(sender.code, region) for region in regions):
            return None
        return _unauthorized(
            f"agency {sender.code} does not handle {' or '.join(regions)} ({' / '.join(region_fields)})", rule
        )

    fields = " or ".join(f"`{f}`" for f in region_fields)
    return Rule(f"the agency of {fields}" + ("" if exact else ", or its province or the national level"), check)


def person_channel(*, rule: str, region_field: str | None = None, online_field: str | None = None) -> Rule:
    """A channel (``contracts.parties.Channel``) acting for the one person it authenticated: the payload's
    ``authentication`` names this channel and the payload's ``person_id``, by a method the channel is
    registered for, valid at receipt and no longer than the channel's session limit; with ``region_field``,
    a region the channel serves; with ``online_field``, the payload says it came online (a channel is no
    agency window). Who the person is travels only inside the sealed payload (``runtime.wire``)."""

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        if not isinstance(sender, Channel):
            return _unauthorized(f"{sender.code} is not a channel", rule, code="NOT_A_CHANNEL")
        refused = _not_authenticated(sender, payload, now, rule)
        if refused:
            return refused
        region = str(getattr(payload, region_field)) if region_field else None
        if region is not None and not sender.serves(region):
            return _unauthorized(f"channel {sender.code} does not serve persons insured in {region}", rule)
        if online_field and str(getattr(payload, online_field)) != "online":
            return _unauthorized(f"channel {sender.code} files online only, not at a {getattr(payload, online_field)}")
        return None

    where = f", for a person insured in a region it serves (`{region_field}`)" if region_field else ""
    return Rule(f"a channel acting for the person it authenticated (`authentication`){where}", check)


def _not_authenticated(sender: Channel, payload: Any, now: datetime, rule: str) -> Refusal | None:
    """NOT_AUTHENTICATED_PERSON unless the payload carries this channel's live authentication of its person."""
    why = authentication_flaw(
        sender, getattr(payload, "authentication", None), str(getattr(payload, "person_id", "")), now
    )
    if why is None:
        return None
    return _unauthorized(
        f"channel {sender.code} may act only for a person it authenticated: {why}", rule, "NOT_AUTHENTICATED_PERSON"
    )


def authentication_flaw(sender: Channel, auth: Any, person_id: str, now: datetime) -> str | None:
    """What is wrong with ``auth`` for this channel acting for ``person_id`` at ``now``, in words naming no
    person; None: nothing (commands here, a channel's signed queries in ``runtime.query``)."""
    if not isinstance(auth, PersonAuthentication):
        return "the command carries no authentication"
    flaws = (
        (auth.channel != sender.code, f"the authentication was made by {auth.channel}"),
        (str(auth.person_id) != person_id, "the authentication is of another person"),
        (auth.method not in sender.methods, f"{auth.method.value} is not a method it is registered for"),
        (
            (auth.expires_at - auth.authenticated_at).total_seconds() > sender.session_minutes * 60,
            f"the session is longer than its {sender.session_minutes} minutes",
        ),
        (not auth.authenticated_at <= now < auth.expires_at, f"the authentication is not valid at {now.isoformat()}"),
    )
    return next((why for flawed, why in flaws if flawed), None)


def agency_above(region_field: str, *, rule: str) -> Rule:
    """The level above the region: the province agency for a city, the national one for a province."""

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        region = str(getattr(payload, region_field))
        if not isinstance(sender, Agency):
            return _unauthorized(f"{sender.code} is not an agency", rule)
        above = registry.level_above(region)
        if above is None or above.code != sender.code:
            return _unauthorized(f"only the level above {region} may do this, not {sender.code}", rule)
        return None

    return Rule(f"the agency one level above `{region_field}`", check)


def any_agency(rule: str) -> Rule:
    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        return None if isinstance(sender, Agency) else _unauthorized(f"{sender.code} is not an agency", rule)

    return Rule("any agency", check)


def national_agency() -> Rule:
    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        if isinstance(sender, Agency) and sender.level is AgencyLevel.NATIONAL:
            return None
        return _unauthorized(f"only the national agency may change the participant registry, not {sender.code}")

    return Rule("the national agency", check)


class AuthorityTable:
    """One service's table: every topic it consumes → who may send it."""

    def __init__(self, service: str, rules: dict[str, Rule]) -> None:
        self.service, self.rules = service, rules

    def check(
        self, topic: str, sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime
    ) -> Refusal | None:
        return self.rules[topic](sender, payload, registry, now)

    def describe(self) -> str:
        """The README's table for this service."""
        rows = [f"| `{topic}` | {rule.who} |" for topic, rule in sorted(self.rules.items())]
        return "\n".join([f"**{self.service}**", "", "| topic | who may send it |", "|---|---|", *rows])

"""K-03, K-06, Q-03: the collab query API's authentication and what an agency sees (services/collab/query.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import test_keys as keys_dir

from contracts.collab import AgencyPeriodStatistics, OpenCollabRequest, ProblemType, ReplyCollabRequest
from runtime.calendar import default_calendar
from runtime.parties import ParticipantRegistry, Signer, load_private_keys
from services.collab import query
from services.collab.domain import requests as k

NOW = datetime(2026, 10, 27, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def parties() -> ParticipantRegistry:
    return ParticipantRegistry.load(keys_dir())


def signer(code: str) -> Signer:
    return Signer(load_private_keys(keys_dir(), code))


def ask(parties, code: str, path: str = query.STATISTICS_PATH, at: datetime = NOW, **params):
    target, headers = query.sign_request(signer(code), path, at=at, **params)
    path_, _, raw = target.partition("?")
    return query.authorize(parties, path_, raw, headers["yidi-signature"], NOW, 300)


def refused(call) -> int:
    with pytest.raises(query.QueryRefused) as exc:
        call()
    return exc.value.status


def test_a_signed_agency_asks_and_its_parameters_are_checked(parties) -> None:
    q = ask(parties, "A420100", period="2026-09", format="xlsx")
    assert (q.agency, q.params["period"], q.params["format"]) == ("A420100", "2026-09", "xlsx")
    assert ask(parties, "A340200", period="2026-09").params["format"] == "json"
    assert ask(parties, "A430100", query.NOTICES_PATH).agency == "A430100"  # K-06: any agency
    assert refused(lambda: ask(parties, "A420100", period="2026-13")) == 400
    assert refused(lambda: ask(parties, "A420100", period="2026-09", format="pdf")) == 400
    assert refused(lambda: ask(parties, "A420100", at=NOW - timedelta(minutes=10), period="2026-09")) == 401
    assert refused(lambda: ask(parties, "H42010200001", query.NOTICES_PATH)) == 403  # not an agency


def test_a_forged_or_missing_signature_is_401(parties) -> None:
    target, headers = query.sign_request(signer("A420100"), query.STATISTICS_PATH, at=NOW, period="2026-09")
    path, _, raw = target.partition("?")
    assert (
        refused(
            lambda: query.authorize(
                parties, path, raw.replace("2026-09", "2026-08"), headers["yidi-signature"], NOW, 300
            )
        )
        == 401
    )  # another target
    assert refused(lambda: query.authorize(parties, path, raw, None, NOW, 300)) == 401


def row(region: str) -> AgencyPeriodStatistics:
    return AgencyPeriodStatistics(
        period="2026-09",
        agency_region=region,
        role="treating",
        opened=1,
        rolled_in=0,
        answered_on_time=1,
        late=0,
        open=0,
        withdrawn=0,
        disputed=0,
        escalated=0,
    )


def test_Q03_an_agency_sees_the_rows_of_the_regions_it_speaks_for(parties) -> None:
    rows = [row("340200"), row("420100"), row("430100")]
    assert [r.agency_region for r in query.visible_rows(parties, "A420100", rows)] == ["420100"]
    assert [r.agency_region for r in query.visible_rows(parties, "A420000", rows)] == ["420100"]  # Hubei
    assert len(query.visible_rows(parties, "A000000", rows)) == 3  # national


def test_K03_a_request_is_seen_by_the_agencies_it_names_and_the_ones_the_target_listed(parties) -> None:
    cal, t = default_calendar(), datetime(2026, 9, 30, 2, tzinfo=UTC)
    state = k.open_request(
        OpenCollabRequest(
            request_ref="r",
            requester_region="340200",
            target_region="420100",
            matter="m",
            problem_type=ProblemType.OTHER,
            opened_at=t,
        ),
        cal,
        t,
    ).state
    assert [query.may_see_request(parties, a, state) for a in ("A340200", "A420100", "A430100", "A420000")] == [
        True,
        True,
        False,
        False,
    ]
    state = k.reply(
        state,
        ReplyCollabRequest(request_id=state.request_id, result="x", other_agencies=["430100"], replied_at=t),
        cal,
        t,
    ).state
    assert query.may_see_request(parties, "A430100", state)
    assert ask(parties, "A430100", query.REQUEST_PATH, id=str(state.request_id)).params["id"] == str(state.request_id)
    assert refused(lambda: ask(parties, "A430100", query.REQUEST_PATH, id="x")) == 400

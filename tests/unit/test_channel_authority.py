"""Channels 线上办理渠道 as registry parties (000 第九条; 003 §5 (三)): a channel acts only for the person it
authenticated, within its session limit, by a method it is registered for, for the regions it serves;
its replies and the filings applied through it are sealed to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.filing import FilingAccepted, RegisterFiling
from contracts.parties import AuthenticationMethod, Channel, PersonAuthentication
from contracts.registry import ALL_TOPICS
from contracts.values import make_person_id
from runtime.parties import ParticipantRegistry
from runtime.wire import readers
from services.filing.authority import AUTHORITY

NOW = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
REGISTRY = ParticipantRegistry.load()
A, B = make_person_id("42010019600101001"), make_person_id("42010019600101002")
C = make_person_id("34020019600101003")  # insured in Wuhu


def auth(person: str = A, channel: str = "CH-NHSA-APP", **changes: object) -> PersonAuthentication:
    base = PersonAuthentication(
        channel=channel,
        person_id=person,
        session="session-0001",
        method="e_credential",
        authenticated_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(minutes=20),
    )
    return base.model_copy(update=changes)


def application(person: str = A, insured: str = "420100", channel: str = "online", **changes: object) -> RegisterFiling:
    return RegisterFiling(
        request_id="portal-0000001",
        person_id=person,
        name="测试",
        insurance_type="310",
        insured_region=insured,
        treating_region="110000",
        category="long_term_resident",
        channel=channel,
        start_date=NOW.date(),
        proofs=("credential", "filing_form", "residence_proof"),
        **changes,
    )


def check(sender: str, payload: RegisterFiling, topic: str = "filing.register.v1"):
    party = REGISTRY.get(sender)
    assert party is not None
    return AUTHORITY.check(topic, party, payload, REGISTRY, NOW)


def test_the_registry_lists_channels_with_their_methods_and_regions():
    app, hubei = REGISTRY.get("CH-NHSA-APP"), REGISTRY.get("CH-420000-EHB")
    assert isinstance(app, Channel) and isinstance(hubei, Channel)
    assert app.serves("340200") and hubei.serves("420100") and hubei.serves("420000") and not hubei.serves("340200")


def test_a_channel_applies_for_the_person_it_authenticated():
    assert check("CH-NHSA-APP", application(authentication=auth())) is None
    assert check("A420100", application()) is None  # the agency, as before


@pytest.mark.parametrize(
    ("sender", "payload", "words"),
    [
        ("CH-NHSA-APP", application(), "carries no authentication"),
        ("CH-NHSA-APP", application(B, authentication=auth()), "another person"),
        ("CH-NHSA-APP", application(authentication=auth(channel="CH-NHSA-MP")), "made by CH-NHSA-MP"),
        ("CH-NHSA-APP", application(authentication=auth(method=AuthenticationMethod.ONE_TIME_CODE)), "not a method"),
        (
            "CH-NHSA-APP",
            application(authentication=auth(expires_at=NOW + timedelta(hours=2))),
            "longer than its 30 minutes",
        ),
        ("CH-NHSA-APP", application(authentication=auth(expires_at=NOW)), "not valid at"),
    ],
)
def test_anything_but_its_own_live_authentication_of_that_person_is_refused(sender, payload, words):
    refused = check(sender, payload)
    assert refused is not None and refused.code == "NOT_AUTHENTICATED_PERSON" and words in refused.message
    assert A not in refused.message and B not in refused.message  # no ID number in a refusal


def test_a_channel_serves_its_regions_files_online_only_and_never_decides():
    hubei = application(C, insured="340200", authentication=auth(C, "CH-420000-EHB"))
    assert "does not serve" in check("CH-420000-EHB", hubei).message  # type: ignore[union-attr]
    window = check("CH-NHSA-APP", application(channel="window", authentication=auth()))
    assert window is not None and "online only" in window.message
    assert check("CH-NHSA-APP", application(authentication=auth()), "filing.decide.v1") is not None


def test_the_answer_to_a_channel_and_its_filing_are_sealed_to_it():
    spec = ALL_TOPICS["filing.accepted.v1"]
    accepted = FilingAccepted(
        request_id="portal-0000001", person_id=A, command="register", filing=None, accepted_at=NOW
    ).model_dump(mode="json")
    assert "CH-NHSA-MP" in readers(spec, accepted, REGISTRY, reply_to="CH-NHSA-MP")
    assert "CH-NHSA-MP" not in readers(spec, accepted, REGISTRY, reply_to="CH-NOBODY")
    assert "CH-NHSA-MP" in readers(spec, {"filing": {"applied_through": "CH-NHSA-MP"}}, REGISTRY)

"""Who may send what to filing and collab (003 §5 (三); F-01, F-08, F-10, F-13, F-14; 000 第八十、八十一条,
K-01..K-04, Q-01..Q-05): every rule of ``services/filing/authority.py`` and
``services/collab/authority.py`` allowed and refused, then the checks on stored state as pure
domain functions, and the receipt time that decides a rule (not the time a sender claims), over
the 2026 Mid-Autumn (Fri 25 Sep off) and National Day (1–7 Oct off, Sun 20 Sep and Sat 10 Oct
worked) holidays.

Agencies of the sample registry used here: A000000 national; A420000 Hubei → A420100 Wuhan;
A340000 Anhui → A340200 Wuhu; A430000 Hunan → A430100 Changsha; A110000 Beijing (province level).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import pytest

from contracts.collab import (
    AcceptCollabExtension,
    AmendCoInvestigation,
    CheckResult,
    ConfirmCoInvestigationResult,
    ConfirmCollabResult,
    DiscussCoInvestigation,
    OpenCollabRequest,
    ProblemType,
    ProposeCollabExtension,
    ReplyCollabRequest,
    RequestCoInvestigation,
    Sex,
    StayDetails,
    SubmitCoInvestigationResult,
    WithdrawCoInvestigation,
)
from contracts.filing import (
    CancelFiling,
    ChangeFiling,
    DecideFiling,
    DeliverProof,
    FilingDeadlineDue,
    RegisterFiling,
    ResumeFiling,
    SuspendFiling,
    TerminateInsurance,
)
from contracts.ops import DeadlineDue
from contracts.parties import RefusalReason, ServiceParty
from contracts.values import SHANGHAI, make_person_id, money
from runtime.calendar import at_business_start, default_calendar, end_of_business_day
from runtime.parties import ParticipantRegistry
from services.collab.authority import AUTHORITY as COLLAB
from services.collab.domain import coinvestigation as q
from services.collab.domain import requests as k
from services.collab.domain.addressing import Actor, Misaddressed
from services.filing.authority import AUTHORITY as FILING
from services.filing.domain import PersonFilings, decide, load_policies
from services.filing.domain.authority import Unauthorized, sender_refusal

REGISTRY = ParticipantRegistry.load()
CAL = default_calendar()
BOOK = load_policies()
NOW = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI)  # Tuesday, a working day before National Day
PID = make_person_id("42010219600101001")
WUHAN, WUHU, CHANGSHA, BEIJING, SHANGHAI_ = "420100", "340200", "430100", "110000", "310000"


def sh(y: int, m: int, d: int, h: int = 10, minute: int = 0, s: int = 0) -> datetime:
    """A business moment in Asia/Shanghai."""
    return datetime(y, m, d, h, minute, s, tzinfo=SHANGHAI)


def party(code: str):
    found = REGISTRY.get(code)
    assert found is not None, code
    return found


def actor(code: str) -> Actor:
    agency = party(code)
    return Actor(code, str(agency.region) if agency.region else None)


def allowed(table, topic: str, sender: str, payload) -> bool:
    refusal = table.check(topic, party(sender), payload, REGISTRY, NOW)
    return refusal is None


# ================================================================ the filing table (F-01)
def register(
    insured: str = WUHAN,
    treating: str = BEIJING,
    category: str = "other_temporary",
    request_id: str | None = None,
    start: date | None = None,
) -> RegisterFiling:
    proofs = [g[0] for g in BOOK.for_region(insured).proofs_for(category)]
    return RegisterFiling(
        request_id=request_id or f"unit-{uuid.uuid4().hex[:12]}",
        person_id=PID,
        name="张三",
        insurance_type="310",
        insured_region=insured,
        treating_region=treating,
        category=category,
        channel="window",
        start_date=start or NOW.date(),
        proofs=proofs,
    )


@pytest.mark.parametrize(
    "sender, ok",
    [
        ("A420100", True),  # the insured city itself
        ("A420000", True),  # its province (F-01: a filing channel above the city)
        ("A000000", True),  # the national service platform (003 二(一))
        ("A340200", False),  # another city
        ("A340000", False),  # another province
        ("A110000", False),  # a province-level region, not Hubei
        ("H42010200001", False),  # a hospital in Wuhan files nothing
        ("filing", False),  # nor does a service
    ],
)
def test_F01_a_filing_is_registered_by_the_insured_region_its_province_or_the_national_level(sender, ok):
    assert allowed(FILING, "filing.register.v1", sender, register()) is ok


STORED_FILING_COMMANDS = {
    "filing.change.v1": ChangeFiling(request_id="unit-change-1", person_id=PID, filing_id=uuid.uuid4(), phone="1"),
    "filing.suspend.v1": SuspendFiling(request_id="unit-suspend-1", person_id=PID, reason="暂停"),
    "filing.resume.v1": ResumeFiling(request_id="unit-resume-1", person_id=PID, reason="恢复"),
    "filing.cancel.v1": CancelFiling(request_id="unit-cancel-1", person_id=PID, filing_id=uuid.uuid4(), reason="取消"),
    "filing.deliver-proof.v1": DeliverProof(
        request_id="unit-proof-1", person_id=PID, filing_id=uuid.uuid4(), proofs=["residence_proof"]
    ),
    "filing.terminate.v1": TerminateInsurance(request_id="unit-term-1", person_id=PID, reason="参保关系终止"),
    "filing.decide.v1": DecideFiling(request_id="unit-decide-1", person_id=PID, filing_id=uuid.uuid4(), approve=True),
}


@pytest.mark.parametrize("topic", sorted(STORED_FILING_COMMANDS))
def test_F14_commands_naming_only_the_person_pass_the_table_for_agencies_and_nobody_else(topic):
    """The table lets any agency through: the stored filings decide (below). Hospitals and services never."""
    command = STORED_FILING_COMMANDS[topic]
    assert allowed(FILING, topic, "A340200", command) and allowed(FILING, topic, "A000000", command)
    assert not allowed(FILING, topic, "H42010200001", command)
    assert not allowed(FILING, topic, "settlement", command)
    assert "checked on the stored filings" in FILING.rules[topic].who


def test_filing_internal_topics_come_from_their_services_only():
    due = FilingDeadlineDue(
        deadline_id=uuid.uuid4(),
        person_id=PID,
        filing_id=uuid.uuid4(),
        kind="commitment_due",
        due_at=NOW,
        due_date=NOW.date(),
        calendar="CN",
        scheduled_by="r",
    )
    assert allowed(FILING, "filing.deadline-due.v1", "filing", due)
    assert not allowed(FILING, "filing.deadline-due.v1", "A000000", due)
    assert not allowed(FILING, "filing.deadline-due.v1", "settlement", due)
    sanction = object()  # the rule looks only at the sender
    assert allowed(FILING, "prepayment.sanction.v1", "prepayment", sanction)
    assert not allowed(FILING, "prepayment.sanction.v1", "A000000", sanction)


def test_every_consumed_topic_has_a_rule():
    assert set(FILING.rules) == {
        *STORED_FILING_COMMANDS,
        "filing.register.v1",
        "filing.deadline-due.v1",
        "prepayment.sanction.v1",
    }


# ================================================================ filing: the stored filings decide (F-14)
def filed(*commands: RegisterFiling) -> PersonFilings:
    state = None
    for command in commands:
        decision = decide(command, state, BOOK, CAL, NOW)
        assert decision.refusal is None, decision.refusal and decision.refusal.message
        state = decision.state
    return state


def refusal_for(command, state, sender: str) -> Unauthorized | None:
    return sender_refusal(command, state, sender, lambda region: REGISTRY.speaks_for(sender, region))


@pytest.fixture(scope="module")
def two_places() -> PersonFilings:
    """A long-term filing insured in Wuhan and a temporary one insured in Wuhu (a change of insured
    place needs a new filing, F-09; until one ends the person has both)."""
    return filed(register(WUHAN, BEIJING, "long_term_resident"), register(WUHU, SHANGHAI_))


def _filing(state: PersonFilings, insured: str):
    return next(f for f in state.live() if f.insured_region == insured)


@pytest.mark.parametrize(
    "sender, ok",
    [
        ("A420100", True),
        ("A420000", True),
        ("A000000", True),
        ("A340200", False),
        ("A430000", False),
        ("A110000", False),
    ],
)
def test_F08_a_cancel_is_sent_for_the_insured_place_of_the_named_filing(two_places, sender, ok):
    wuhan = _filing(two_places, WUHAN)
    cancel = CancelFiling(request_id="unit-cancel-2", person_id=PID, filing_id=wuhan.filing_id, reason="取消")
    refusal = refusal_for(cancel, two_places, sender)
    assert (refusal is None) is ok
    if not ok:
        assert refusal.rule == "F-08" and sender in refusal.message
        assert WUHAN not in refusal.message, "the refusal does not tell another agency where the person is insured"


@pytest.mark.parametrize("topic", ["filing.change.v1", "filing.deliver-proof.v1", "filing.decide.v1"])
def test_F10_F13_F14_a_command_naming_a_filing_is_checked_on_that_filing(two_places, topic):
    wuhu = _filing(two_places, WUHU)
    command = STORED_FILING_COMMANDS[topic].model_copy(update={"filing_id": wuhu.filing_id})
    assert refusal_for(command, two_places, "A340200") is None  # Wuhu's own filing
    assert refusal_for(command, two_places, "A340000") is None  # Anhui, above it
    refused = refusal_for(command, two_places, "A420100")  # Wuhan: the person's other place
    assert (
        refused is not None
        and refused.rule
        == {"filing.change.v1": "F-14", "filing.deliver-proof.v1": "F-10", "filing.decide.v1": "F-13"}[topic]
    )


def test_F14_a_person_wide_suspension_or_termination_needs_every_live_filings_insured_place(two_places):
    """Terminate ends every filing of the person: Wuhan alone may not end Wuhu's, nor the reverse; the
    national level speaks for both. One named filing is its own place's business."""
    terminate = STORED_FILING_COMMANDS["filing.terminate.v1"]
    suspend_all = STORED_FILING_COMMANDS["filing.suspend.v1"]
    for command in (terminate, suspend_all):
        assert refusal_for(command, two_places, "A420100").rule == "F-14"
        assert refusal_for(command, two_places, "A340200") is not None
        assert refusal_for(command, two_places, "A420000") is not None  # Hubei does not speak for Wuhu
        assert refusal_for(command, two_places, "A000000") is None
    one = SuspendFiling(
        request_id="unit-suspend-2", person_id=PID, filing_id=_filing(two_places, WUHAN).filing_id, reason="暂停"
    )
    assert refusal_for(one, two_places, "A420100") is None


def test_F14_an_ended_filing_is_checked_too_and_a_person_without_filings_is_left_to_the_rules(two_places):
    wuhan = _filing(two_places, WUHAN)
    ended = decide(
        TerminateInsurance(request_id="unit-term-2", person_id=PID, reason="参保关系终止"), two_places, BOOK, CAL, NOW
    ).state
    change = ChangeFiling(request_id="unit-change-2", person_id=PID, filing_id=wuhan.filing_id, phone="2")
    assert refusal_for(change, ended, "A340200") is not None  # not "filing ended" to a stranger
    assert refusal_for(terminate := STORED_FILING_COMMANDS["filing.terminate.v1"], ended, "A340200") is None
    assert refusal_for(terminate, None, "A340200") is None  # nothing to act on: the rules answer
    unknown = change.model_copy(update={"filing_id": uuid.uuid4()})
    assert refusal_for(unknown, two_places, "A340200") is None  # FILING_NOT_FOUND from the rules


def test_F01_registration_and_fired_deadlines_are_not_checked_on_stored_filings(two_places):
    assert refusal_for(register(WUHU, WUHAN), two_places, "A430100") is None  # the table's business
    due = FilingDeadlineDue(
        deadline_id=uuid.uuid4(),
        person_id=PID,
        filing_id=uuid.uuid4(),
        kind="commitment_due",
        due_at=NOW,
        due_date=NOW.date(),
        calendar="CN",
        scheduled_by="r",
    )
    assert refusal_for(due, two_places, "filing") is None


# ================================================================ the collab table (K-01, Q-01)
def open_cmd(
    requester: str = WUHU,
    target: str = WUHAN,
    ref: str = "r1",
    problem=ProblemType.FILING,
    at: datetime = NOW,
    escalated_from: uuid.UUID | None = None,
) -> OpenCollabRequest:
    return OpenCollabRequest(
        request_ref=ref,
        requester_region=requester,
        target_region=target,
        matter="备案信息不一致",
        problem_type=problem,
        opened_at=at,
        escalated_from=escalated_from,
    )


def stay(total: str = "31000.00") -> StayDetails:
    return StayDetails(
        person_id=make_person_id("34020219600101123"),
        institution="H42010200001",
        admission_no="A1",
        invoice_no="I1",
        admission_date=date(2026, 9, 1),
        discharge_date=date(2026, 9, 20),
        total=money(total),
    )


def coinv_cmd(at: datetime = NOW, ref: str = "q1") -> RequestCoInvestigation:
    return RequestCoInvestigation(
        request_ref=ref,
        insured_region=WUHU,
        treating_region=WUHAN,
        settlement_id="s1",
        name="张三",
        sex=Sex.MALE,
        stay=stay(),
        requested_at=at,
    )


@pytest.mark.parametrize(
    "sender, ok",
    [
        ("A340200", True),  # the requester itself (K-01)
        ("A340000", False),  # its province does not open in its name
        ("A000000", False),
        ("A420100", False),  # the target
        ("H34020200001", False),
        ("collab", False),
    ],
)
def test_K01_a_request_is_opened_by_the_requesters_own_agency(sender, ok):
    assert allowed(COLLAB, "collab.open-request.v1", sender, open_cmd()) is ok


@pytest.mark.parametrize("sender, ok", [("A340200", True), ("A340000", False), ("A420100", False), ("A000000", False)])
def test_Q01_a_coinvestigation_is_asked_for_by_the_insured_places_own_agency(sender, ok):
    assert allowed(COLLAB, "collab.request-coinvestigation.v1", sender, coinv_cmd()) is ok


RID = uuid.uuid4()
STORED_COLLAB_COMMANDS = {
    "collab.reply-request.v1": ReplyCollabRequest(request_id=RID, result="已处理", replied_at=NOW),
    "collab.propose-extension.v1": ProposeCollabExtension(
        request_id=RID, extra_working_days=2, reason="r", proposed_at=NOW
    ),
    "collab.accept-extension.v1": AcceptCollabExtension(request_id=RID, answered_at=NOW),
    "collab.confirm-result.v1": ConfirmCollabResult(request_id=RID, accepted=True, confirmed_at=NOW),
    "collab.withdraw-coinvestigation.v1": WithdrawCoInvestigation(request_id=RID, withdrawn_at=NOW),
    "collab.submit-coinvestigation-result.v1": SubmitCoInvestigationResult(
        request_id=RID, result=CheckResult.CORRECT, submitted_at=NOW
    ),
    "collab.confirm-coinvestigation.v1": ConfirmCoInvestigationResult(request_id=RID, agreed=True, confirmed_at=NOW),
    "collab.amend-coinvestigation.v1": AmendCoInvestigation(
        request_id=RID, name="张三", sex=Sex.MALE, stay=stay(), amended_at=NOW
    ),
    "collab.discuss-coinvestigation.v1": DiscussCoInvestigation(request_id=RID, message="沟通", said_at=NOW),
}


@pytest.mark.parametrize("topic", sorted(STORED_COLLAB_COMMANDS))
def test_K03_K04_Q02_Q05_commands_on_a_stored_item_pass_the_table_for_agencies_only(topic):
    command = STORED_COLLAB_COMMANDS[topic]
    assert allowed(COLLAB, topic, "A430100", command)  # the stored item decides (below)
    assert not allowed(COLLAB, topic, "H42010200001", command)
    assert not allowed(COLLAB, topic, "settlement", command)
    assert "checked on the stored item" in COLLAB.rules[topic].who


def test_collab_internal_topics_come_from_their_services_only():
    due = DeadlineDue(deadline_id=uuid.uuid4(), kind="reply_due", subject="s", due_at=NOW, rule="K-02")
    assert allowed(COLLAB, "collab.deadline-due.v1", "collab", due)
    assert not allowed(COLLAB, "collab.deadline-due.v1", "A340200", due)
    assert allowed(COLLAB, "settlement.completed.v1", "settlement", object())
    assert not allowed(COLLAB, "settlement.completed.v1", "A420100", object())
    assert set(COLLAB.rules) == {
        *STORED_COLLAB_COMMANDS,
        "collab.open-request.v1",
        "collab.deadline-due.v1",
        "collab.request-coinvestigation.v1",
        "settlement.completed.v1",
        "collab.coinvestigation-counted.v1",
        "collab.hand-over-lead.v1",
        "collab.take-up-lead.v1",
        "collab.report-lead-result.v1",
        "collab.publish-notice.v1",
    }
    assert isinstance(party("collab"), ServiceParty)


# ================================================================ collab: the stored item decides (K-03, K-04)
@pytest.fixture(scope="module")
def request_() -> k.CollabRequest:
    return k.open_request(open_cmd(), CAL, NOW).state  # Wuhu asks Wuhan


def reason_of(check, *args) -> RefusalReason | None:
    try:
        check(*args)
    except Misaddressed as refused:
        return refused.reason
    return None


@pytest.mark.parametrize("check", [k.may_reply, k.may_propose_extension])
@pytest.mark.parametrize(
    "sender, reason",
    [
        ("A420100", None),  # the target: first responder (K-03)
        ("A340200", RefusalReason.UNAUTHORIZED),  # the requester does not answer itself
        ("A430100", RefusalReason.NOT_ADDRESSED),  # a third agency
        ("A420000", RefusalReason.NOT_ADDRESSED),  # Hubei does not answer for Wuhan
        ("A000000", RefusalReason.NOT_ADDRESSED),
    ],
)
def test_K03_only_the_target_agency_replies_and_proposes_an_extension(request_, check, sender, reason):
    assert reason_of(check, request_, actor(sender)) == reason


@pytest.mark.parametrize(
    "sender, reason",
    [
        ("A340200", None),
        ("A420100", RefusalReason.UNAUTHORIZED),
        ("A340000", RefusalReason.NOT_ADDRESSED),
        ("A430100", RefusalReason.NOT_ADDRESSED),
    ],
)
def test_K04_only_the_requester_confirms_or_disputes(request_, sender, reason):
    assert reason_of(k.may_confirm, request_, actor(sender)) == reason


@pytest.mark.parametrize(
    "sender, reason",
    [("A340200", None), ("A420100", RefusalReason.UNAUTHORIZED), ("A340000", RefusalReason.NOT_ADDRESSED)],
)
def test_K03_only_the_requester_accepts_the_targets_proposed_extension(request_, sender, reason):
    assert reason_of(k.may_accept_extension, request_, actor(sender)) == reason


def test_K04_a_refusal_names_the_rule_and_the_sides():
    replied = k.open_request(open_cmd(), CAL, NOW).state
    with pytest.raises(Misaddressed) as refused:
        k.may_confirm(replied, actor("A420100"))
    assert refused.value.rule == "K-04" and "requester (340200)" in refused.value.message


def _disputed(at: datetime = NOW) -> k.CollabRequest:
    state = k.open_request(open_cmd(at=at), CAL, at).state
    state = k.reply(state, ReplyCollabRequest(request_id=state.request_id, result="x", replied_at=at), CAL, at).state
    return k.confirm_result(
        state, ConfirmCollabResult(request_id=state.request_id, accepted=False, comment="未解决", confirmed_at=at), at
    ).state


def escalation(original: k.CollabRequest, target: str, requester: str = WUHU) -> OpenCollabRequest:
    return open_cmd(requester=requester, target=target, ref="esc-1", escalated_from=original.request_id)


def parent_region(region: str) -> str | None:
    """What the handler asks the registry: the region of the parent of the region's agency."""
    parent = REGISTRY.parent_of(REGISTRY.agency_of(region).code)
    return str(parent.region) if parent and parent.region else None


def test_K04_a_disputed_request_is_raised_to_the_parent_of_its_target_in_the_registry():
    original = _disputed()
    assert parent_region(WUHAN) == "420000"
    k.may_escalate(escalation(original, "420000"), original, parent_region(WUHAN), actor("A340200"), NOW)
    for wrong in ("110000", "340000", "430000"):  # Beijing, the requester's own province, Hunan
        with pytest.raises(Misaddressed) as refused:
            k.may_escalate(escalation(original, wrong), original, parent_region(WUHAN), actor("A340200"), NOW)
        assert (refused.value.reason, refused.value.rule) == (RefusalReason.UNAUTHORIZED, "K-04")
        assert "420000" in refused.value.message


def test_K04_only_the_requester_escalates_and_only_an_existing_request():
    original = _disputed()
    with pytest.raises(Misaddressed) as target:  # Wuhan raising its own case
        k.may_escalate(escalation(original, "420000", requester=WUHAN), original, "420000", actor("A420100"), NOW)
    assert target.value.reason is RefusalReason.UNAUTHORIZED
    with pytest.raises(Misaddressed) as third:
        k.may_escalate(escalation(original, "420000", requester=CHANGSHA), original, "420000", actor("A430100"), NOW)
    assert third.value.reason is RefusalReason.NOT_ADDRESSED
    with pytest.raises(Misaddressed) as missing:
        k.may_escalate(escalation(original, "420000"), None, None, actor("A340200"), NOW)
    assert missing.value.reason is RefusalReason.NOT_ADDRESSED


def test_K04_beyond_a_province_the_national_level_cannot_be_named_yet():
    """Beijing is a province-level target: its parent is the national agency, which has no region code."""
    original = k.open_request(open_cmd(target=BEIJING), CAL, NOW).state
    assert parent_region(BEIJING) is None
    with pytest.raises(Misaddressed, match="national agency"):
        k.may_escalate(escalation(original, "110000"), original, None, actor("A340200"), NOW)


def test_K04_an_unanswered_request_may_be_raised_once_its_reply_deadline_passed_over_national_day():
    """Opened Wed 30 Sep 10:00, a filing problem: 2 working days → Oct 8, Oct 9: due end of Fri 9 Oct
    (Oct 1–7 off). Still within it on the holiday and on Oct 9; unresolved from Sat 10 Oct (a make-up
    working day) 00:00. A replied, undisputed request is the requester's to confirm first."""
    opened_at = sh(2026, 9, 30)
    original = k.open_request(open_cmd(at=opened_at), CAL, opened_at).state
    assert original.reply_by == end_of_business_day(date(2026, 10, 9))
    cmd = escalation(original, "420000")
    for early in (sh(2026, 10, 5), sh(2026, 10, 9, 23, 59)):
        with pytest.raises(ValueError, match="K-04"):
            k.may_escalate(cmd, original, "420000", actor("A340200"), early)
    k.may_escalate(cmd, original, "420000", actor("A340200"), sh(2026, 10, 10, 0, 0, 1))
    replied = k.reply(
        original,
        ReplyCollabRequest(request_id=original.request_id, result="x", replied_at=sh(2026, 10, 8)),
        CAL,
        sh(2026, 10, 8),
    ).state
    with pytest.raises(ValueError, match="replied"):
        k.may_escalate(cmd, replied, "420000", actor("A340200"), sh(2026, 10, 12))


# ================================================================ collab: receipt time decides (K-02, K-04)
def test_K02_the_reply_deadline_runs_from_receipt_not_from_the_claimed_opening():
    """Claimed Tue 29 Sep 23:58, received Wed 30 Sep 00:02 (within the 300 s skew): a system fault is
    due 1 working day after receipt, Thu 8 Oct (1–7 Oct off), not Wed 30 Sep as the claim would make it."""
    claimed, received = sh(2026, 9, 29, 23, 58), sh(2026, 9, 30, 0, 2)
    out = k.open_request(open_cmd(problem=ProblemType.SYSTEM_FAULT, at=claimed), CAL, received)
    assert out.state.reply_by == end_of_business_day(date(2026, 10, 8))
    assert out.events[0].opened_at == claimed  # what the sender said is recorded


def test_K03_K04_a_reply_received_after_its_deadline_is_late_and_silence_counts_from_receipt():
    """Opened Wed 30 Sep, system fault: due end of Thu 8 Oct. A reply claiming 23:59 on the 8th that is
    received at 00:00:30 on the 9th is late; K-04's 10 working days run from Fri 9 Oct: Sat 10 (make-up)
    1, 12–16 → 6, 19–22 → 10: confirmed by silence after the end of Thu 22 Oct."""
    opened = k.open_request(open_cmd(problem=ProblemType.SYSTEM_FAULT, at=sh(2026, 9, 30)), CAL, sh(2026, 9, 30)).state
    claimed, received = sh(2026, 10, 8, 23, 59), sh(2026, 10, 9, 0, 0, 30)
    state, (replied,), _ = k.reply(
        opened, ReplyCollabRequest(request_id=opened.request_id, result="已恢复", replied_at=claimed), CAL, received
    )
    assert replied.late and replied.replied_at == claimed
    assert replied.confirm_by == end_of_business_day(date(2026, 10, 22))
    on_time = k.reply(
        opened,
        ReplyCollabRequest(request_id=opened.request_id, result="已恢复", replied_at=sh(2026, 10, 9, 0, 1)),
        CAL,
        sh(2026, 10, 8, 23, 58),
    )
    assert not on_time.events[0].late  # a clock running ahead at the sender changes nothing either


# ================================================================ co-investigation: who may act (Q-02..Q-05)
@pytest.fixture(scope="module")
def coinv() -> q.CoInvestigation:
    return q.request(coinv_cmd(at=sh(2026, 9, 20)), CAL, sh(2026, 9, 20)).state  # Wuhu asks Wuhan, period 2026-09


@pytest.mark.parametrize(
    "check, sender, reason",
    [
        (q.may_withdraw, "A340200", None),  # the requesting insured place
        (q.may_withdraw, "A420100", RefusalReason.UNAUTHORIZED),
        (q.may_withdraw, "A340000", RefusalReason.NOT_ADDRESSED),  # Anhui does not withdraw for Wuhu
        (q.may_submit_result, "A420100", None),  # the treating place
        (q.may_submit_result, "A340200", RefusalReason.UNAUTHORIZED),
        (q.may_submit_result, "A420000", RefusalReason.NOT_ADDRESSED),
        (q.may_submit_result, "A430100", RefusalReason.NOT_ADDRESSED),
        (q.may_confirm, "A340200", None),  # the insured place
        (q.may_confirm, "A420100", RefusalReason.UNAUTHORIZED),
        (q.may_confirm, "A000000", RefusalReason.NOT_ADDRESSED),
    ],
)
def test_Q02_Q04_Q05_each_side_acts_in_its_own_role(coinv, check, sender, reason):
    assert reason_of(check, coinv, actor(sender)) == reason


# ================================================================ co-investigation: receipt time
def test_Q02_a_withdrawal_backdated_before_the_cut_is_refused_by_its_receipt_time(coinv):
    """The cut is 00:00 on Sat 26 Sep 2026 (Mid-Autumn weekend). A withdrawal claiming 23:59:30 on the
    25th that is received at 00:00:10 on the 26th is after the cut: refused, whatever it claims."""
    assert coinv.cut_at == at_business_start(date(2026, 9, 26))
    backdated = WithdrawCoInvestigation(request_id=coinv.request_id, withdrawn_at=sh(2026, 9, 25, 23, 59, 30))
    with pytest.raises(ValueError, match="Q-02"):
        q.withdraw(coinv, backdated, sh(2026, 9, 26, 0, 0, 10))
    out = q.withdraw(coinv, backdated, sh(2026, 9, 25, 23, 59, 50))  # received before the cut: deleted
    assert out.state.status is q.CoInvestigationStatus.WITHDRAWN
    assert out.events[0].withdrawn_at == backdated.withdrawn_at  # the claim is recorded


def test_Q02_a_request_joins_the_period_of_its_receipt():
    """Claimed 23:58 on Fri 25 Sep (a Mid-Autumn holiday), received 00:01 on the 26th: it belongs to the
    period 2026-10, cut at 00:00 on 26 Oct and due by the end of 26 Nov (Q-03 "次月26日前", read as
    clearing reads C-02's "25日前": the day itself included)."""
    out = q.request(coinv_cmd(at=sh(2026, 9, 25, 23, 58)), CAL, sh(2026, 9, 26, 0, 1))
    assert (out.state.period, out.state.cut_at, out.state.complete_by) == (
        "2026-10",
        at_business_start(date(2026, 10, 26)),
        end_of_business_day(date(2026, 11, 26)),
    )
    assert out.events[0].requested_at == sh(2026, 9, 25, 23, 58)


def test_Q03_Q05_lateness_and_the_confirmation_window_go_by_receipt(coinv):
    """Period 2026-09 must be completed by the end of Mon 26 Oct (Q-03 "次月26日前", the 26th
    included). A result claiming 23:59 on the 26th, received 00:01 on Tue 27 Oct, is late and counts
    in 2026-10; Q-05's 5 working days run from the 27th: 28, 29, 30 Oct, 2, 3 Nov."""
    result = SubmitCoInvestigationResult(
        request_id=coinv.request_id, result=CheckResult.CORRECT, submitted_at=sh(2026, 10, 26, 23, 59)
    )
    state, (event, *counted), (due,) = q.submit_result(coinv, result, CAL, sh(2026, 10, 27, 0, 1))
    assert (event.late, event.counted_in_period, event.submitted_at) == (True, "2026-10", result.submitted_at)
    assert event.confirm_by == end_of_business_day(date(2026, 11, 3)) == due.due_at
    assert [c.kind.value for c in counted] == ["rolled_in", "answered"]
    confirmation = ConfirmCoInvestigationResult(
        request_id=coinv.request_id, agreed=True, confirmed_at=sh(2026, 11, 3, 23, 59)
    )
    assert q.confirm(state, confirmation, sh(2026, 11, 4, 0, 0, 20)).events[0].late
    assert not q.confirm(state, confirmation, sh(2026, 11, 3, 23, 59, 50)).events[0].late


def test_Q05_the_confirmation_window_across_national_day():
    """A result received Wed 30 Sep 10:00: 5 working days → Oct 8, 9, 10 (make-up Saturday), 12, 13."""
    state = q.request(coinv_cmd(at=sh(2026, 9, 1)), CAL, sh(2026, 9, 1)).state
    received = sh(2026, 9, 30)
    _, (event, _counted), _ = q.submit_result(
        state,
        SubmitCoInvestigationResult(
            request_id=state.request_id, result=CheckResult.WRONG, reason="发票号不符", submitted_at=received
        ),
        CAL,
        received,
    )
    assert event.confirm_by == end_of_business_day(date(2026, 10, 13)) and not event.late

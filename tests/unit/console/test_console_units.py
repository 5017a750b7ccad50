"""The console's pure parts: the usage chart (P-04, P-05), the actions offered per role and request
state (K-03, K-04), the prepayment usage history and its warnings, the sealed person parameter, the
附件13 patient fields, the vendored htmx file, and every template rendering."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from contracts.values import make_person_id
from runtime.parties import ParticipantRegistry
from runtime.query import QueryRefused, SignedQuery, open_person, seal_person
from services.collab.domain.requests import CollabRequest, RequestStatus
from services.collab.query_lists import by_due, request_actions, request_row
from services.console.chart import usage_svg
from services.console.pages import ACTION_ROLES, allowed
from services.console.users import Role, csrf_ok
from services.prepayment.domain.ledger import Movement, MovementKind, movements_for
from services.prepayment.query import usage_history, warnings
from services.settlement.query import sex_and_age

STATIC = Path(__file__).resolve().parents[3] / "services" / "console" / "static"
NOW = datetime(2026, 11, 5, 1, 0, tzinfo=UTC)


def test_chart_draws_both_warning_lines_and_each_point() -> None:
    svg = usage_svg(
        [
            {"on": "2026-11-02", "usage_percent": "0.00"},
            {"on": "2026-11-04", "usage_percent": "75.00"},
            {"on": "2026-11-05", "usage_percent": "92.00"},
        ]
    )
    assert 'class="warn-yellow" data-level="70"' in svg and 'class="warn-red" data-level="90"' in svg
    assert svg.count('class="usage-point"') == 3 and "黄色预警 70%" in svg and "红色预警 90%" in svg
    empty = usage_svg([])
    assert "暂无使用记录" in empty and 'data-level="90"' in empty  # the lines are there even without data


def test_the_chart_scales_above_100_percent() -> None:
    svg = usage_svg([{"on": "2026-11-02", "usage_percent": "130.00"}])
    assert ">120%<" in svg


def test_vendored_htmx_matches_its_recorded_digest() -> None:
    table = (STATIC / "VENDORED.md").read_text()
    name, digest = re.search(r"`(htmx-[\d.]+\.min\.js)`.*?\| ([0-9a-f]{64}) \|", table).groups()
    assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest


def _request(status=RequestStatus.OPEN, proposed=None) -> CollabRequest:
    return CollabRequest(
        request_id=uuid.uuid4(),
        requester_region="340200",
        target_region="420100",
        problem_type="filing",
        status=status,
        opened_at=NOW,
        reply_by=NOW + timedelta(days=1),
        confirm_by=NOW + timedelta(days=10) if status is RequestStatus.REPLIED else None,
        proposed_extension=proposed,
    )


@pytest.fixture(scope="module")
def parties() -> ParticipantRegistry:
    return ParticipantRegistry.load()


def test_actions_follow_the_rules_for_each_side(parties) -> None:
    assert request_actions(_request(), "420100", parties) == ["reply", "propose_extension"]  # K-03 target
    assert request_actions(_request(), "340200", parties) == []  # waits
    assert request_actions(_request(proposed=3), "340200", parties) == ["accept_extension"]  # K-03 requester
    assert request_actions(_request(RequestStatus.REPLIED), "340200", parties) == ["confirm", "dispute"]  # K-04
    assert request_actions(_request(RequestStatus.REPLIED), "420100", parties) == []
    assert request_actions(_request(RequestStatus.DISPUTED), "340200", parties) == ["escalate"]  # to Hubei
    assert request_actions(_request(RequestStatus.OPEN), "430100", parties) == []  # not a side


def test_rows_are_ordered_by_running_deadline_and_marked_overdue(parties) -> None:
    late = _request()
    rows = [request_row(r, "420100", parties, NOW + timedelta(days=2)) for r in (_request(RequestStatus.REPLIED), late)]
    ordered = by_due(rows)
    assert ordered[0]["request_id"] == str(late.request_id) and ordered[0]["overdue"]
    assert not ordered[1]["overdue"]
    assert request_row(_request(RequestStatus.DISPUTED), "340200", parties, NOW)["escalate_to"] == "420000"


def test_roles_operator_works_reviewer_decides() -> None:
    class S:
        def __init__(self, role):
            self.user = type("U", (), {"role": role})()

    for action in ("reply", "propose_extension", "take_up"):
        assert allowed(S(Role.OPERATOR), action) and allowed(S(Role.REVIEWER), action)
    for action in (
        "accept_extension",
        "confirm",
        "dispute",
        "escalate",
        "clearing_confirm",
        "clearing_object",
        "clearing_answer_appeal",
    ):
        assert not allowed(S(Role.OPERATOR), action) and allowed(S(Role.REVIEWER), action)
    assert set(ACTION_ROLES) >= {"reply", "confirm", "clearing_confirm"}


def test_csrf_tokens_compare_exactly() -> None:
    assert csrf_ok("abc", "abc") and not csrf_ok("abc", "abd") and not csrf_ok("abc", "") and not csrf_ok(None, None)


def _moves(*items: tuple[MovementKind, str, date]) -> list[Movement]:
    out: list[Movement] = []
    for kind, amount, day in items:
        when = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
        out += movements_for(kind, Decimal(amount), f"r{len(out)}", when, len(out) + 1)
    return out


def test_usage_history_and_warnings_follow_p04_p05() -> None:
    d = date(2026, 11, 2)
    moves = _moves(
        (MovementKind.QUOTA, "1000.00", d),
        (MovementKind.SETTLEMENT, "700.00", d + timedelta(days=1)),
        (MovementKind.SETTLEMENT, "250.00", d + timedelta(days=2)),
        (MovementKind.TOP_UP_PAYMENT, "500.00", d + timedelta(days=3)),
    )
    points = usage_history(moves, 2026, d + timedelta(days=3))
    assert [p["usage_percent"] for p in points] == ["0.00", "70.00", "95.00", "63.33"]  # the top-up raises the base
    assert [(w["from"], w["to"]) for w in warnings(points)] == [("none", "yellow"), ("yellow", "red"), ("red", "none")]


def test_the_person_parameter_is_sealed_to_the_service(tmp_path) -> None:
    from runtime.parties import init_keys, signer_for

    init_keys(tmp_path, ["filing", "settlement", "A340200"])
    parties = ParticipantRegistry.load(tmp_path)
    pid = make_person_id("34020219600101123")
    token = seal_person(parties, "filing", pid)
    assert pid not in token and token != seal_person(parties, "filing", pid)  # a fresh key each time
    q = SignedQuery(parties.get("A340200"), "/filing/filings", {"person": token})
    assert open_person(signer_for(tmp_path, "filing"), q) == pid
    with pytest.raises(QueryRefused) as other:  # sealed to filing: settlement cannot open it
        open_person(signer_for(tmp_path, "settlement"), q)
    assert other.value.status == 400
    with pytest.raises(ValueError):
        seal_person(parties, "filing", "340202196001011230")  # a wrong check digit never leaves


def test_sex_and_age_come_from_the_id_number() -> None:
    pid = make_person_id("34020219600101123")  # 17th digit 3: male, born 1960-01-01
    assert sex_and_age(pid, date(2026, 11, 2)) == ("男", 66)
    assert sex_and_age(pid, date(2025, 12, 31)) == ("男", 65)


def test_every_template_renders() -> None:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined  # noqa: F401

    from services.console.pages import TEMPLATE_GLOBALS

    env = Environment(loader=FileSystemLoader(str(STATIC.parent / "templates")), autoescape=True)
    env.globals.update(TEMPLATE_GLOBALS)
    for name in sorted(p.name for p in (STATIC.parent / "templates").glob("*.html")):
        env.get_template(name)  # parses


def test_the_clearing_page_offers_a_reviewer_the_answer_to_each_open_appeal() -> None:
    """R-04: each appeal of the region's institutions is listed with a form whose fields are exactly what
    ``clearing.answer-appeal.v1`` takes (``AnswerDeductionAppeal``, the time added on sending), in Chinese."""
    from jinja2 import Environment, FileSystemLoader

    from contracts.clearing import AnswerDeductionAppeal
    from services.console.pages import TEMPLATE_GLOBALS

    env = Environment(loader=FileSystemLoader(str(STATIC.parent / "templates")), autoescape=True)
    env.globals.update(TEMPLATE_GLOBALS)
    appeal = {
        "appeal_id": "AP-1",
        "institution_code": "H42010200001",
        "treating_region": "420100",
        "insured_region": "340200",
        "settlement_id": "S-A",
        "deduction_id": "D1",
        "status": "lodged",
        "deducted": {"insurance_type": "310", "funds": {"pooling": "300.00"}},
        "reason": "符合限定支付范围",
    }
    page = dict(appeals=[appeal], session=type("S", (), {"csrf": "t"})())
    html = env.get_template("clearing_appeals.html").render(**page, can_answer=True)
    assert "扣款申诉" in html and "维持扣款" in html and "撤销扣款" in html and "符合限定支付范围" in html
    form = html[html.index('action="/clearing/appeals/answer"') :]
    form = form[: form.index("</form>")]
    names = set(re.findall(r'name="(\w+)"', form))
    assert names == {"csrf"} | set(AnswerDeductionAppeal.model_fields) - {"answered_at"}
    assert 'action="/clearing/appeals/answer"' not in env.get_template("clearing_appeals.html").render(
        **page, can_answer=False
    )


def test_the_slip_prints_every_field_of_attachment_13() -> None:
    """附件13: every heading is on the printed slip, and the amounts obey its notes 2 and 3."""
    from jinja2 import Environment, FileSystemLoader
    from support import completed_settlement

    from services.console.pages import TEMPLATE_GLOBALS
    from services.settlement.query import slip_fields

    pid = make_person_id("34020219600101123")
    done = completed_settlement(
        "S-9",
        insured_region="340200",
        treating_region="420100",
        settled_on=date(2026, 11, 9),
        funds={"pooling": "700.00", "personal_account": "100.00"},
        cash="200.00",
        person_id=pid,
    )
    done = done.model_copy(update={"admission_date": date(2026, 11, 2), "discharge_date": date(2026, 11, 9)})
    request = {
        "emergency": True,
        "diagnoses": [{"code": "I63.900", "name": "脑梗死"}, {"code": "I10.x00", "name": "高血压"}],
    }
    slip = slip_fields({"completed": done.model_dump(mode="json")}, request, pid, "武汉市第一医院", Decimal("300.00"))
    assert slip["stay_days"] == 7 and slip["admission_way"] == "急诊" and slip["sex"] == "男"
    assert Decimal(slip["fund_total"]) + Decimal(slip["personal_cash"]) == Decimal(slip["total"]) == Decimal("1000.00")
    assert pid not in str(slip)  # masked on the slip
    env = Environment(loader=FileSystemLoader(str(STATIC.parent / "templates")), autoescape=True)
    env.globals.update(TEMPLATE_GLOBALS)
    html = env.get_template("slip.html").render(slip=slip, session=None)
    for heading in (
        "患者姓名",
        "性别",
        "年龄",
        "社会保障号码",
        "社会保障卡卡号",
        "就医地",
        "医院名称",
        "参保地",
        "险种类型",
        "医院等级",
        "入院方式",
        "住院号",
        "出院科室",
        "主要诊断",
        "次要诊断",
        "入院日期",
        "出院日期",
        "住院天数",
        "总费用",
        "统筹基金支付范围内费用",
        "乙类先行自付费用",
        "超限价自付费用",
        "自费费用",
        "基金支付合计金额",
        "医院承担",
        "参保地基金1",
        "参保地基金2",
        "个人现金支付金额",
        "本次起付标准",
        "结算后个人账户余额",
    ):
        assert heading in html, heading
    assert "脑梗死" in html and "高血压" in html and "（未报送）" in html and "武汉市第一医院" in html


def test_coinvestigation_actions_follow_q04_q05() -> None:
    from services.collab.domain.coinvestigation import CoInvestigation, CoInvestigationStatus
    from services.collab.query_lists import coinvestigation_actions

    def item(status):
        return CoInvestigation(
            request_id=uuid.uuid4(),
            insured_region="340200",
            treating_region="420100",
            period="2026-11",
            cut_at=NOW,
            complete_by=NOW + timedelta(days=30),
            status=status,
        )

    assert coinvestigation_actions(item(CoInvestigationStatus.REQUESTED), "treating") == ["submit_result"]
    assert coinvestigation_actions(item(CoInvestigationStatus.REQUESTED), "insured") == []
    assert coinvestigation_actions(item(CoInvestigationStatus.ANSWERED), "insured") == ["confirm_coinvestigation"]
    assert coinvestigation_actions(item(CoInvestigationStatus.DISPUTED), "treating") == ["discuss"]
    assert coinvestigation_actions(item(CoInvestigationStatus.CONFIRMED), "insured") == []


def test_the_console_applies_only_registry_changes_the_national_agency_signed(tmp_path) -> None:
    """As every service does (runtime.service._party_change): a change signed by another agency is ignored."""
    import uuid as _uuid
    from types import SimpleNamespace

    from contracts.parties import ChangeParty
    from runtime.envelopes import encode, envelope_for
    from runtime.parties import init_keys, signer_for
    from services.console.backend import registry_follower

    init_keys(tmp_path, ["A000000", "A340200"])
    parties = ParticipantRegistry.load(tmp_path)
    follower = registry_follower(parties, "unused:9092", "parties.change.v2", lambda: NOW, 300)

    def record(code: str, signer: str):
        change = ChangeParty(change_id=_uuid.uuid4().hex, action="remove", version=1, code=code)
        value = encode(envelope_for("parties.change.v2", change, producer="test", now=NOW, sender=signer))
        headers = [(k, v.encode()) for k, v in signer_for(tmp_path, signer).headers(value).items()]
        return SimpleNamespace(value=value, headers=headers, offset=0)

    follower.apply(record("A430100", "A340200"))
    assert parties.get("A430100") is not None  # not the national agency: ignored
    follower.apply(record("A430100", "A000000"))
    assert parties.get("A430100") is None

"""业务办理: every command an agency may send is offered (the authority tables), each form is generated
from its contract with a Chinese label for every field and a Chinese name for every choice, a submitted
form is validated by the contract with the errors beside their fields in Chinese, what will be sent is
summarised with ID numbers masked, and the services' refusals read in Chinese."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader
from starlette.datastructures import FormData

from contracts.values import make_person_id
from runtime.authority import AuthorityTable
from services.console.backend import ActionOutcome
from services.console.pages import TEMPLATE_GLOBALS
from services.console.pages.tasks import _may_start, outcome_words, summary
from services.console.tasks import forms
from services.console.tasks.catalogue import BY_SLUG, BY_TOPIC, TASKS, formed
from services.console.tasks.words import ENUM_ZH, enum_zh, field_zh, message_zh, reason_zh
from services.console.users import Role

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
PID = make_person_id("34020219600101123")
TEMPLATES = Path(__file__).resolve().parents[3] / "services" / "console" / "templates"


def _tables() -> list[AuthorityTable]:
    from services.clearing.authority import AUTHORITY as clearing
    from services.collab.authority import AUTHORITY as collab
    from services.filing.authority import AUTHORITY as filing
    from services.prepayment.authority import AUTHORITY as prepayment
    from services.settlement.authority import AUTHORITY as settlement
    from services.supervision.authority import AUTHORITY as supervision

    return [filing, settlement, clearing, prepayment, collab, supervision]


def _agency_topics() -> set[str]:
    """Every topic an authority table lets an agency send: not a service's own, not an institution's."""
    found = set()
    for table in _tables():
        for topic, rule in table.rules.items():
            first = rule.who.split(";")[0]
            if re.fullmatch(r"the [\w / -]+ service", first) or first.startswith("an institution"):
                continue
            found.add(topic)
    return found


def test_every_topic_an_agency_may_send_is_offered() -> None:
    topics = _agency_topics()
    assert len(topics) > 35
    assert topics == set(BY_TOPIC), (topics - set(BY_TOPIC), set(BY_TOPIC) - topics)


def _offered_fields(task) -> list[forms.Field]:
    return [f for f in forms.fields(task.model) if f.name not in task.omit]


@pytest.mark.parametrize("task", formed(), ids=lambda t: t.slug)
def test_every_field_of_every_offered_command_has_a_chinese_label(task) -> None:
    for key in forms.label_keys(_offered_fields(task)):
        label = field_zh(task.topic, key)
        assert label and re.search(r"[\u4e00-\u9fff]", label), f"{task.topic}: no Chinese label for {key}"
    assert re.search(r"[\u4e00-\u9fff]", task.title)


@pytest.mark.parametrize("task", formed(), ids=lambda t: t.slug)
def test_every_choice_has_a_chinese_name(task) -> None:
    def walk(fields):
        for f in fields:
            if f.enum:
                for choice in f.choices:
                    assert choice in ENUM_ZH.get(f.enum, {}), f"{task.topic}: {f.enum}.{choice} has no Chinese name"
            walk(f.children)

    walk(_offered_fields(task))


def test_the_moment_of_sending_and_the_sender_are_not_asked() -> None:
    fields = {f.name: f.kind for f in forms.fields(BY_SLUG["collab-publish-notice"].model)}
    assert fields["published_at"] == "stamp" and fields["publisher"] == "self"
    assert fields["effective_from"] == "datetime" and fields["kind"] == "enum"
    visible = {f.name for f in forms.visible(forms.fields(BY_SLUG["collab-publish-notice"].model))}
    assert "published_at" not in visible and "publisher" not in visible
    payload, _, errors = forms.read(
        BY_SLUG["collab-publish-notice"].model,
        FormData(
            [("notice_ref", "N-000001"), ("kind", "policy"), ("title", "关于调整备案流程的通知"), ("body", "正文")]
        ),
        now=NOW,
        agency="A340200",
    )
    assert errors == {} and payload.publisher == "A340200" and payload.published_at == NOW


def _register(**changes) -> FormData:
    fields = {
        "request_id": "REG-000000001",
        "person_id": PID,
        "name": "张三",
        "insurance_type": "310",
        "insured_region": "340200",
        "treating_region": "420100",
        "category": "resettled_retiree",
        "channel": "window",
        "start_date": "2026-11-03",
        "personal_commitment": "0",
        "retroactive": "0",
    }
    fields.update(changes)
    return FormData([*fields.items(), ("proofs", "credential"), ("proofs", "filing_form")])


def test_a_filled_form_becomes_the_contract_payload() -> None:
    payload, _, errors = forms.read(BY_SLUG["filing-register"].model, _register(), now=NOW, agency="A340200")
    assert errors == {}
    data = payload.model_dump(mode="json")
    assert data["proofs"] == ["credential", "filing_form"] and data["insured_region"] == "340200"
    assert data["start_date"] == "2026-11-03" and data["personal_commitment"] is False


def test_errors_come_back_beside_their_fields_in_chinese() -> None:
    _, values, errors = forms.read(
        BY_SLUG["filing-register"].model,
        _register(person_id="340202196001011234", name="", insured_region="34020x", start_date="2026-13-40"),
        now=NOW,
        agency="A340200",
    )
    assert errors["name"] == "必填"
    assert "身份证号码" in errors["person_id"]
    assert errors["insured_region"] == "格式不正确"
    assert "日期" in errors["start_date"]
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in errors.values())
    assert values["name"] == "" and values["insured_region"] == "34020x"  # the form is filled again as typed


def test_nested_models_amount_tables_and_rows() -> None:
    deduction = BY_SLUG["clearing-record-audit-deduction"].model
    payload, _, errors = forms.read(
        deduction,
        FormData(
            [
                ("deduction_id", "D-1"),
                ("settlement_id", "S-1"),
                ("insured_region", "340200"),
                ("treating_region", "420100"),
                ("amounts.insurance_type", "310"),
                ("amounts.funds.pooling", "120.50"),
                ("reason", "超限定支付范围"),
            ]
        ),
        now=NOW,
        agency="A420100",
    )
    assert errors == {} and payload.model_dump(mode="json")["amounts"]["funds"] == {"pooling": "120.50"}
    _, _, errors = forms.read(deduction, FormData([("amounts.funds.pooling", "12x")]), now=NOW, agency="A420100")
    assert errors["amounts.funds.pooling"].startswith("应为金额")
    totals = BY_SLUG["clearing-insured-daily-totals"].model
    payload, _, errors = forms.read(
        totals,
        FormData(
            [
                ("insured_region", "340200"),
                ("institution_code", "H42010200001"),
                ("treating_region", "420100"),
                ("day", "2026-11-01"),
                ("lines.0.medical_type", "inpatient"),
                ("lines.0.settlements", "3"),
                ("lines.2.medical_type", "general_outpatient"),
                ("lines.2.settlements", "x"),
            ]
        ),
        now=NOW,
        agency="A340200",
    )
    assert payload is None and errors == {"lines.2.settlements": "应为整数"}  # beside the row typed in


def test_a_summary_repeats_what_will_be_sent_with_the_id_number_masked() -> None:
    task = BY_SLUG["filing-register"]
    payload, _, _ = forms.read(task.model, _register(), now=NOW, agency="A340200")
    rows = dict(summary(task, payload))
    assert rows["参保人身份证号码"] == PID[:6] + "********" + PID[-4:]
    assert rows["备案人员类别"] == "异地安置退休人员" and rows["参保地"].startswith("340200 芜湖")
    assert rows["备案材料"].startswith("有效身份凭证") and PID not in str(rows)


def test_roles_two_step_and_final_tasks() -> None:
    op = type("S", (), {"user": type("U", (), {"role": Role.OPERATOR})()})()
    rev = type("S", (), {"user": type("U", (), {"role": Role.REVIEWER})()})()
    decide, publish, register = BY_SLUG["filing-decide"], BY_SLUG["collab-publish-notice"], BY_SLUG["filing-register"]
    assert decide.review and decide.final and _may_start(op, decide)  # the operator drafts, a reviewer approves
    assert publish.final and not publish.review and not _may_start(op, publish) and _may_start(rev, publish)
    assert _may_start(op, register) and not register.review
    for topic in (
        "filing.decide.v1",
        "clearing.record-audit-deduction.v1",
        "prepayment.record-payment.v1",
        "prepayment.set-annual-quota.v1",
    ):
        assert BY_TOPIC[topic].review


def test_refusals_read_in_chinese() -> None:
    assert (
        message_zh("UNAUTHORIZED: A320100 does not speak for region 340200") == "机构 A320100 不负责区划 340200 的业务"
    )
    assert (
        message_zh("agency A340200 does not handle 420100 (requester_region)")
        == "机构 A340200 不负责区划 420100 的业务"
    )
    assert (
        message_zh("only the level above 340200 may do this, not A340200")
        == "只有 340200 的上一级经办机构可以办理，A340200 不能办理"
    )
    assert re.search(r"[\u4e00-\u9fff]", message_zh("something entirely new happened"))
    assert reason_zh("UNAUTHORIZED") == "无权办理" and reason_zh("REFUSED_BY_RULE") == "业务规则不允许"
    words = outcome_words(
        ActionOutcome(
            "refused",
            "only the level above 340200 may do this, not A340200",
            {"reason": "UNAUTHORIZED", "rule": "P-02"},
        )
    )
    assert words["state"] == "被拒绝" and words["reason"] == "无权办理" and words["rule"] == "P-02"
    assert words["message"].startswith("只有")
    late = outcome_words(
        ActionOutcome(
            "refused",
            "C-02: objection O-1 is already recorded on 2026-11:340200:420100",
            {"reason": "REFUSED_BY_RULE", "rule": ""},
        )
    )
    assert late["rule"] == "C-02" and late["message"] == "该异议已登记"


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True)
    env.globals.update(TEMPLATE_GLOBALS)
    return env


def test_the_rows_of_a_list_can_be_left_empty() -> None:
    """A list offers a few rows; those not used are left empty and dropped. So no input of a row is
    required by the browser, and a row's choices start with an empty one: a day with no settlements is
    sent with no line (the rows' selects would otherwise always hold a value and count as filled)."""
    task = BY_SLUG["clearing-insured-daily-totals"]
    [rows] = [f for f in forms.fields(task.model) if f.kind == "rows"]
    html = (
        _env()
        .get_template("_task_field.html")
        .render(f=rows, values={}, errors={}, regions={}, enum_zh=enum_zh, label=lambda key: key)
    )
    assert " required" not in html
    assert html.count('<option value="">') == len(rows.rows)  # each row's medical type
    empty = [(f"lines.{i}.medical_type", "") for i in range(len(rows.rows))]
    payload, _, errors = forms.read(
        task.model,
        FormData(
            [
                ("insured_region", "340200"),
                ("institution_code", "H42010200001"),
                ("treating_region", "420100"),
                ("day", "2026-11-01"),
                *empty,
            ]
        ),
        now=NOW,
        agency="A340200",
    )
    assert errors == {} and payload.model_dump()["lines"] == []


@pytest.mark.parametrize("task", formed(), ids=lambda t: t.slug)
def test_each_form_renders_an_input_per_field_with_its_chinese_label(task) -> None:
    fields = forms.visible(_offered_fields(task))
    regions = {f.name: [("340200", "340200 芜湖市")] for f in _offered_fields(task) if f.kind in ("region", "regions")}
    html = _env().get_template("_task_field.html")
    out = "".join(
        html.render(
            f=f,
            values={},
            errors={},
            regions=regions,
            enum_zh=enum_zh,
            label=lambda key: field_zh(task.topic, key) or key,
        )
        for f in fields
    )
    names = set(re.findall(r'name="([\w.]+)"', out))

    def expected(fs):
        for f in fs:
            if f.kind == "group":
                yield from expected(f.children)
            elif f.kind == "rows":
                for row in f.rows:
                    yield from expected(row)
            elif f.kind == "enum_dict":
                yield from (f"{f.name}.{c}" for c in f.choices)
            elif f.kind not in ("stamp", "self"):
                yield f.name

    assert names == set(expected(fields))
    assert not re.search(r">\s*[a-z_]+\s*<", out)  # no bare field name shown as a label


def test_the_task_list_and_pages_parse() -> None:
    for name in (
        "tasks.html",
        "task_form.html",
        "task_confirm.html",
        "task_draft.html",
        "task_drafted.html",
        "task_outcome.html",
        "task_returned.html",
    ):
        _env().get_template(name)
    assert len(TASKS) == len(BY_TOPIC)


def test_no_rule_id_in_a_heading() -> None:
    """Rule ids go to a tooltip (``title=``), never into the words of a heading."""
    for template in TEMPLATES.glob("*.html"):
        for heading in re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", template.read_text(), re.S):
            words = re.sub(r"<[^>]*>", "", heading)  # the text a reader sees: tags and their title= aside
            assert not re.search(r"\b[FCKPQRS]-\d{2}\b", words), f"{template.name}: {heading}"


def test_a_clearing_period_reads_in_the_clearing_domains_words() -> None:
    from services.console.pages.labels import period_state_zh

    assert period_state_zh({"state": "open"}) == "归集中"
    assert period_state_zh({"state": "generated", "counterparts": []}) == "待确认"
    assert period_state_zh({"state": "confirmed"}) == "已确认"
    objected = {
        "state": "generated",
        "counterparts": [{"sides": [{"side": "treating", "confirmed": None, "objections": [{"objection_id": "O-1"}]}]}],
    }
    assert period_state_zh(objected) == "有异议"


def test_irreversible_actions_on_the_existing_pages_ask_first() -> None:
    for name, count in (
        ("clearing.html", 2),
        ("clearing_appeals.html", 1),
        ("coinvestigations.html", 1),
        ("leads.html", 1),
        ("request.html", 1),
    ):
        assert (TEMPLATES / name).read_text().count("hx-confirm=") == count, name


def test_several_regions_are_chosen_from_those_offered() -> None:
    task = BY_SLUG["prepayment-share-interest"]
    payload, values, errors = forms.read(
        task.model,
        FormData(
            [
                ("interest_id", "INT-2026-Q3"),
                ("scope", "cross_province"),
                ("regions", "340200"),
                ("regions", "340100"),
                ("period_start", "2026-07-01"),
                ("period_end", "2026-09-30"),
                ("interest", "1234.56"),
            ]
        ),
        now=NOW,
        agency="A340000",
    )
    assert errors == {} and [str(r) for r in payload.regions] == ["340200", "340100"]
    _, _, errors = forms.read(task.model, FormData([("interest_id", "INT-1")]), now=NOW, agency="A340000")
    assert "regions" in errors

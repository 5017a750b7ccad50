"""Every documented query of every service, over the wire (003 §5 (三); F-15, S-05/S-07, C-02/C-04,
R-01/R-02, P-04/P-05, K-03..K-06, Q-02/Q-03): each service serves a valid OpenAPI 3.1 document at
/openapi.json, and each path in it is called here as the agency whose data it is (200, or the
documented 404 while there is nothing yet) and as an agency whose data it is not (403, or 404 where
the answer must not even tell that the item exists).

A Wuhu (340200) employee is filed long-term to Wuhan (420100) and settles a stay there; Wuhu asks
Wuhan a question. The ID number is sent sealed to the answering service (runtime.query.seal_person):
it is in no request target, and no service log holds it.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openapi_spec_validator import validate
from privacy_support import document_id
from support import Bus, eventually

from contracts.clearing import AppealDeduction, FundAmounts, RecordAuditDeduction
from contracts.collab import OpenCollabRequest, ProblemType
from contracts.parties import PersonAuthentication
from runtime.cli import SERVICE_PORTS
from runtime.parties import ParticipantRegistry
from runtime.query import seal_authentication, seal_person, sign_request
from simulator import scenarios

pytestmark = pytest.mark.e2e

OWN, OTHER, TREATING, NATIONAL = "A340200", "A430100", "A420100", "A000000"
NEIGHBOUR = "H42010200002"  # another Wuhan hospital


async def filing_view(proc, person_id: str):
    client, db = await proc.db()
    try:
        return await db["filing_view"].find_one({"_id": document_id("filing_view", person_id)})
    finally:
        await client.close()


async def console_for(stack, prefix: str, procs: dict):
    """The console as its own process against these services, with a Wuhu operator and a Wuhan reviewer."""
    import subprocess
    import sys

    from support import ROOT, ServiceProcess

    urls = {f"YIDI_CONSOLE_{name.upper()}_URL": f"http://127.0.0.1:{p.port}" for name, p in procs.items()}
    console = ServiceProcess(stack, "console", prefix, YIDI_CONSOLE_COOKIE_SECURE="false", **urls)
    console.env["YIDI_CONSOLE_PORT"] = str(console.port)
    for user, agency, role in (("wuhu.operator", "A340200", "operator"), ("wuhan.reviewer", "A420100", "reviewer")):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "runtime.cli",
                "console",
                "user",
                "add",
                user,
                "--agency",
                agency,
                "--role",
                role,
                "--password-stdin",
            ],
            input="a-long-enough-password\n",
            env=console.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    return console.start()


def console_session(console, username: str):
    """An HTTP client logged in to the console, with the session's CSRF token as ``csrf``."""
    import re

    import httpx

    client = httpx.Client(base_url=f"http://127.0.0.1:{console.port}", timeout=30)
    login = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    answer = client.post("/login", data={"csrf": token, "username": username, "password": "a-long-enough-password"})
    assert answer.status_code == 303, answer.text
    client.csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/filing").text).group(1)
    return client


def served_document(proc) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.port}/openapi.json", timeout=10) as r:
        return json.loads(r.read())


class Caller:
    def __init__(self, bus: Bus, procs: dict, parties: ParticipantRegistry) -> None:
        self.bus, self.procs, self.parties = bus, procs, parties
        self.targets: list[str] = []

    def get(self, service: str, agency: str, path: str, **params) -> tuple[int, bytes]:
        target, headers = sign_request(self.bus.signer(agency), path, at=self.bus.business_now(), **params)
        self.targets.append(target)
        return self.procs[service].get(target, headers)

    def ok(self, service: str, agency: str, path: str, **params):
        status, body = self.get(service, agency, path, **params)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)


async def test_every_documented_query_answers_only_its_agency(stack, system) -> None:
    procs, prefix = system
    parties = ParticipantRegistry.load(stack.keys_dir)
    patient = scenarios.person(11, scenarios.ROUTES[0])  # Wuhu employee treated in Wuhan
    pid = patient.person_id
    async with Bus(stack, prefix) as bus:
        bus.follow_clock(procs["filing"])
        await bus.publish(
            "filing.register.v1",
            scenarios.retroactive(  # admitted 10-28, discharged 11-02 (F-11)
                scenarios.long_term_filing(patient, date(2026, 10, 28), "AG-Q-0001"), date(2026, 10, 28)
            ),
            producer="agency:340200",
        )
        await bus.read("filing.changed.v1", lambda m: any(c["payload"]["snapshot"]["person_id"] == pid for c in m))
        await eventually(lambda: filing_view(procs["settlement"], pid), timeout=60)  # F-15 read model first
        request = scenarios.stay(patient, "H42010200001-Q-000001", date(2026, 10, 28), 5)
        sent = await bus.publish("his.settlement-requested.v1", request, producer="his:H42010200001")
        results = await bus.read(
            "settlement.result.v2",
            lambda m: any(r["payload"]["request_id"] == request.request_id for r in m),
            timeout=60,
        )
        result = bus.open_result(
            next(r for r in results if r["payload"]["request_id"] == request.request_id)["payload"]
        )
        assert result["outcome"] == "completed", (result.get("code"), result.get("message"))
        await bus.publish(
            "collab.open-request.v1",
            OpenCollabRequest(
                request_ref="Q-REQ-1",
                requester_region="340200",
                target_region="420100",
                matter="备案信息核对",
                problem_type=ProblemType.FILING,
                opened_at=bus.business_now(),
            ),
            sender=OWN,
        )
        opened = await bus.read("collab.request-opened.v1", lambda m: len(m) >= 1)
        request_id = opened[0]["payload"]["request_id"]
        assert sent.correlation_id

        c = Caller(bus, procs, parties)
        sid = result["settlement_id"]
        exercised: dict[str, set[str]] = {}

        def seen(service: str, path: str) -> None:
            exercised.setdefault(service, set()).add(path)

        # ---- filing (F-15)
        status = c.ok(
            "filing",
            OWN,
            "/filing/status",
            person=seal_person(parties, "filing", pid),
            region="420100",
            on="2026-11-03",
        )
        assert status["covered"] is True and status["category_zh"] and status["filing"]["treating_region"] == "420100"
        assert pid not in json.dumps(status, ensure_ascii=False)  # the number comes back masked
        assert c.ok("filing", TREATING, "/filing/filings", person=seal_person(parties, "filing", pid))["filings"]
        assert c.get("filing", OTHER, "/filing/filings", person=seal_person(parties, "filing", pid))[0] == 404
        clear = sign_request(bus.signer(OWN), "/filing/filings", at=bus.business_now(), person=pid)
        assert procs["filing"].get(*clear)[0] == 400  # a number sent in clear is refused, not read
        seen("filing", "/filing/status"), seen("filing", "/filing/filings")
        directory = c.ok("filing", OTHER, "/filing/institutions", region="420100")  # published to any party
        assert directory["total"] >= 1 and all(i["region"] == "420100" for i in directory["institutions"])
        seen("filing", "/filing/institutions")

        # ---- settlement (S-05, S-07; 附件13)
        slip = c.ok(
            "settlement", TREATING, "/settlement/slip", person=seal_person(parties, "settlement", pid), settlement=sid
        )
        assert Decimal(slip["total"]) == Decimal(result["slip"]["total"])
        assert Decimal(slip["fund_total"]) + Decimal(slip["personal_cash"]) == Decimal(slip["total"])  # note 3
        parts = ("in_scope", "b_class_self_pay", "over_limit_self_pay", "self_paid")
        assert sum(Decimal(slip[k]) for k in parts) == Decimal(slip["total"])  # note 2
        assert slip["main_diagnosis"] and slip["stay_days"] == 5 and slip["sex"] in ("男", "女")
        assert (
            c.get(
                "settlement", OTHER, "/settlement/slip", person=seal_person(parties, "settlement", pid), settlement=sid
            )[0]
            == 404
        )
        acc = c.ok(
            "settlement", OWN, "/settlement/accumulations", person=seal_person(parties, "settlement", pid), year="2026"
        )
        assert acc["insured_region"] == "340200" and acc["counters"]
        assert (
            c.get(
                "settlement",
                TREATING,
                "/settlement/accumulations",
                person=seal_person(parties, "settlement", pid),
                year="2026",
            )[0]
            == 404
        )  # the insured place's
        seen("settlement", "/settlement/slip"), seen("settlement", "/settlement/accumulations")
        # a person's settlements, found by ID number, filtered and paged (S-05..S-07), downloaded
        mine = c.ok(
            "settlement",
            OWN,
            "/settlement/settlements",
            person=seal_person(parties, "settlement", pid),
            institution="H42010200001",
            medical_type="inpatient",
            page="1",
            size="10",
        )
        assert (mine["total"], mine["pages"], mine["settlements"][0]["settlement_id"]) == (1, 1, sid)
        assert (
            c.ok(
                "settlement",
                TREATING,
                "/settlement/settlements",
                person=seal_person(parties, "settlement", pid),
                medical_type="general_outpatient",
            )["total"]
            == 0
        )
        assert (
            c.get("settlement", OTHER, "/settlement/settlements", person=seal_person(parties, "settlement", pid))[0]
            == 404
        )
        status, csv_body = c.get(
            "settlement", OWN, "/settlement/settlements", person=seal_person(parties, "settlement", pid), format="csv"
        )
        assert status == 200 and csv_body.startswith("\ufeff".encode()) and sid in csv_body.decode("utf-8-sig")
        assert (
            c.get(
                "settlement",
                OWN,
                "/settlement/settlements",
                person=seal_person(parties, "settlement", pid),
                size="9999",
            )[0]
            == 400
        )
        seen("settlement", "/settlement/settlements")

        # ---- the person, through a channel that authenticated them (004 第六条, F-13, S-05..S-07): their own
        # filings, settlements, slip and accumulations, sealed to the channel
        app = "CH-NHSA-APP"

        def as_person(service: str, path: str, **params: str) -> dict:
            now = bus.business_now()
            said = PersonAuthentication(
                channel=app,
                person_id=pid,
                session=f"s-q-{int(now.timestamp())}",
                method="e_credential",
                authenticated_at=now - timedelta(minutes=1),
                expires_at=now + timedelta(minutes=10),
            )
            sealed = seal_authentication(parties, service, said)
            target, headers = sign_request(bus.signer(app), path, at=now, authentication=sealed, **params)
            c.targets.append(target)
            status, body = procs[service].get(target, headers)
            assert status == 200, (path, status, body[:300])
            return json.loads(bus.signer(app).open_sealed(body.decode()))

        assert as_person("filing", "/filing/mine")["filings"]
        own = as_person("settlement", "/settlement/mine", year="2026")
        assert [r["settlement_id"] for r in own["settlements"]] == [sid]
        assert Decimal(as_person("settlement", "/settlement/mine/slip", settlement=sid)["total"]) == Decimal(
            result["slip"]["total"]
        )
        assert c.get("settlement", OWN, "/settlement/mine", year="2026")[0] in (400, 403)  # an agency is no channel
        (
            seen("filing", "/filing/mine"),
            seen("settlement", "/settlement/mine"),
            seen("settlement", "/settlement/mine/slip"),
        )

        # ---- fund supervision (000 第七十八条, R-04): the treating place's indicators, flags, rules and report
        assert c.ok("supervision", TREATING, "/supervision/indicators", month="2026-10") is not None
        assert c.ok("supervision", TREATING, "/supervision/flags") is not None
        assert c.ok("supervision", TREATING, "/supervision/rules") is not None
        assert c.ok("supervision", TREATING, "/supervision/report", region="420100", month="2026-10") is not None
        for path in ("/supervision/indicators", "/supervision/flags", "/supervision/rules", "/supervision/report"):
            seen("supervision", path)
        # filings by category and state (F-15), paged
        found = c.ok(
            "filing",
            OWN,
            "/filing/filings",
            person=seal_person(parties, "filing", pid),
            category="long_term_resident",
            status="active",
            page="1",
        )
        assert found["total"] == 1 and found["filings"][0]["status_zh"] == "有效"
        assert (
            c.ok("filing", OWN, "/filing/filings", person=seal_person(parties, "filing", pid), category="referral")[
                "total"
            ]
            == 0
        )

        # ---- prepayment (P-04, P-05)
        async def counted():
            return c.get("prepayment", OWN, "/prepayment/account", region="340200")[0] == 200

        await eventually(counted, timeout=60)
        account = c.ok("prepayment", OWN, "/prepayment/account", region="340200")
        assert Decimal(account["uncleared"]) == Decimal(result["slip"]["fund_total"])
        usage = c.ok("prepayment", NATIONAL, "/prepayment/usage", region="340200")
        assert usage["yellow_percent"] == "70" and usage["red_percent"] == "90" and usage["points"]
        movements = c.ok("prepayment", "A340000", "/prepayment/movements", region="340200")  # its province
        assert any(m["ref"].startswith(f"settlement:{sid}") for m in movements)
        ledger = c.ok("prepayment", OWN, "/prepayment/movements", region="340200", page="1", size="5")
        assert ledger["total"] >= 1 and any(m["source_zh"] == f"异地结算 {sid}" for m in ledger["movements"])
        status, book = c.get("prepayment", OWN, "/prepayment/movements", region="340200", format="xlsx")
        assert status == 200 and book[:2] == b"PK"
        for path in ("/prepayment/account", "/prepayment/usage", "/prepayment/movements"):
            assert c.get("prepayment", TREATING, path, region="340200")[0] == 403
            seen("prepayment", path)

        # ---- collab (K-03..K-06, Q-02, Q-03)
        inbox = c.ok("collab", TREATING, "/collab/requests", box="inbox")
        assert [r["request_id"] for r in inbox] == [request_id] and inbox[0]["actions"] == [
            "reply",
            "propose_extension",
        ]
        outbox = c.ok("collab", OWN, "/collab/requests", box="outbox")
        assert outbox[0]["request_id"] == request_id and outbox[0]["actions"] == []
        assert c.ok("collab", OTHER, "/collab/requests", box="inbox") == []
        assert c.get("collab", NATIONAL, "/collab/requests", box="inbox")[0] == 403  # no region of its own
        assert c.ok("collab", OWN, "/collab/request", id=request_id)["request_id"] == request_id
        assert c.get("collab", OTHER, "/collab/request", id=request_id)[0] == 404
        assert c.ok("collab", TREATING, "/collab/leads", box="inbox") == []
        assert c.ok("collab", OWN, "/collab/coinvestigations", period="2026-11") == []  # none requested
        assert isinstance(c.ok("collab", OWN, "/collab/notices"), list)
        assert c.get("collab", OWN, "/collab/statistics", period="2026-11")[0] == 404  # published when it closes
        filtered = c.ok(
            "collab",
            TREATING,
            "/collab/requests",
            box="inbox",
            status="open",
            type="filing",
            counterpart="340200",
            page="1",
        )
        assert filtered["total"] == 1 and filtered["items"][0]["status_zh"] == "待答复"
        assert c.ok("collab", TREATING, "/collab/requests", box="inbox", counterpart="430100") == []
        overdue = c.ok("collab", NATIONAL, "/collab/overdue")
        assert overdue == {"regions": []}  # nothing late yet (K-02: 2 working days)
        for path in (
            "/collab/requests",
            "/collab/request",
            "/collab/leads",
            "/collab/coinvestigations",
            "/collab/notices",
            "/collab/statistics",
            "/collab/overdue",
        ):
            seen("collab", path)

        # ---- clearing (C-02, C-04, R-01/R-02): owned by the clearing service, called as the console does
        assert c.get("clearing", OWN, "/clearing/report", region="340200", month="2026-12")[0] == 404  # not yet
        assert c.get("clearing", TREATING, "/clearing/report", region="340200", month="2026-12")[0] == 403
        periods = c.ok("clearing", OWN, "/clearing/periods", region="340200")
        assert any(p["clearing_month"] == "2026-12" for p in periods["periods"])
        assert c.get("clearing", TREATING, "/clearing/periods", region="340200")[0] == 403
        assert "mismatches" in c.ok("clearing", TREATING, "/clearing/mismatches", region="420100")
        for path in ("/clearing/report", "/clearing/periods", "/clearing/mismatches"):
            seen("clearing", path)

        # ---- a hospital's money (R-01..R-04, C-07): sealed to the hospital itself, clear to its region's agency
        hospital = request.institution_code
        fund_total = Decimal(result["slip"]["fund_total"])

        async def owed_known() -> bool:
            status, body = c.get(
                "clearing", hospital, "/clearing/institution/owed", institution=hospital, month="2026-12"
            )
            return (
                status == 200
                and Decimal(json.loads(bus.signer(hospital).open_sealed(body.decode()))["settled"]) == fund_total
            )

        await eventually(owed_known, timeout=60)
        assert (
            c.get("clearing", NEIGHBOUR, "/clearing/institution/owed", institution=hospital, month="2026-12")[0] == 404
        )  # another hospital learns nothing
        days = c.ok("clearing", TREATING, "/clearing/institution/settlements", institution=hospital, month="2026-11")
        assert days["settlements"] == 1 and Decimal(days["fund"]) == fund_total
        assert (
            c.get("clearing", OWN, "/clearing/institution/settlements", institution=hospital, month="2026-11")[0] == 403
        )  # Wuhu does not speak for Wuhan
        assert c.ok("clearing", TREATING, "/clearing/appeals", region="420100")["appeals"] == []
        assert c.get("clearing", OWN, "/clearing/appeals", region="420100")[0] == 403
        for path in ("/clearing/institution/owed", "/clearing/institution/settlements", "/clearing/appeals"):
            seen("clearing", path)
        # Wuhan's audit deducts 10.00; the hospital appeals (申诉); Wuhan's reviewer answers it in the console below
        pooling = next(f["code"] for f in result["slip"]["funds"] if Decimal(f["amount"]) >= Decimal("10.00"))
        await bus.publish(
            "clearing.record-audit-deduction.v1",
            RecordAuditDeduction(
                deduction_id="D-Q-1",
                settlement_id=sid,
                insured_region="340200",
                treating_region="420100",
                reason="超限价收费",
                decided_at=bus.business_now(),
                amounts=FundAmounts(insurance_type=result["insurance_type"], funds={pooling: "10.00"}),
            ),
            sender=TREATING,
        )
        await bus.read("clearing.entry.v1", lambda m: any(e["payload"]["kind"] == "audit_deduction" for e in m))
        await bus.publish(
            "his.deduction-appealed.v1",
            AppealDeduction(
                appeal_id="AP-Q-1",
                institution_code=hospital,
                treating_region="420100",
                settlement_id=sid,
                deduction_id="D-Q-1",
                reason="限价依据有误",
                appealed_at=bus.business_now(),
            ),
        )
        await bus.read("clearing.appeal.v1", lambda m: any(a["payload"]["appeal_id"] == "AP-Q-1" for a in m))

        # ---- the console's filing lookup and printable slip, as Wuhu's operator (a POST: the number is in no URL)
        console = await console_for(stack, prefix, procs)
        try:
            page = console_session(console, "wuhu.operator")
            found = page.post(
                "/filing", data={"csrf": page.csrf, "person_id": pid, "region": "420100", "on": "2026-11-03"}
            )
            assert found.status_code == 200 and "已备案：异地长期居住人员" in found.text
            listed = page.post("/filing", data={"csrf": page.csrf, "person_id": pid})  # no place: every filing
            assert listed.status_code == 200 and "有效" in listed.text and "已备案" not in listed.text
            printed = page.post("/slip", data={"csrf": page.csrf, "person_id": pid, "settlement_id": sid})
            assert printed.status_code == 200 and "湖北省异地就医住院结算单" in printed.text
            assert f"{Decimal(result['slip']['total']):,.2f}" in printed.text and "@media print" not in printed.text
            assert pid not in printed.text and pid not in found.text  # masked on the page
            hidden = page.post("/slip", data={"csrf": page.csrf, "person_id": pid, "settlement_id": "S-none"})
            assert hidden.status_code == 404
            listed = page.post(
                "/find/settlements", data={"csrf": page.csrf, "person_id": pid, "medical_type": "inpatient"}
            )
            assert (
                listed.status_code == 200
                and sid in listed.text
                and "共 1 条" in listed.text
                and pid not in listed.text.replace(f'name="person_id" value="{pid}"', "")
            )  # only in the form the user filled
            sheet = page.post("/find/settlements", data={"csrf": page.csrf, "person_id": pid, "format": "csv"})
            assert sheet.status_code == 200 and sheet.content.startswith("\ufeff".encode())
            page.close()
            # Wuhan's reviewer sees the appeal on the clearing page and withdraws the deduction there
            wuhan = console_session(console, "wuhan.reviewer")
            shown = wuhan.get("/clearing", params={"region": "420100"})
            assert "扣款申诉" in shown.text and "AP-Q-1" in shown.text and "撤销扣款" in shown.text
            answered = wuhan.post(
                "/clearing/appeals/answer",
                data={
                    "csrf": wuhan.csrf,
                    "appeal_id": "AP-Q-1",
                    "institution_code": hospital,
                    "treating_region": "420100",
                    "settlement_id": sid,
                    "deduction_id": "D-Q-1",
                    "outcome": "withdrawn",
                    "reason": "经复核，撤销扣款",
                },
            )
            assert answered.status_code == 200 and "已生效" in answered.text, answered.text[:500]
            [heard] = c.ok("clearing", TREATING, "/clearing/appeals", region="420100", status="all")["appeals"]
            assert (heard["appeal_id"], heard["status"]) == ("AP-Q-1", "withdrawn")
            status, body = c.get(
                "clearing", hospital, "/clearing/institution/owed", institution=hospital, month=heard["paid_back_in"]
            )
            owed = json.loads(bus.signer(hospital).open_sealed(body.decode()))
            [deducted] = [d for d in owed["deductions"] if d["deduction_id"] == "D-Q-1"]
            assert deducted["appeal"]["status"] == "withdrawn"  # the deduction and its pay-back cancel out
            assert Decimal(owed["net_owed"]) == Decimal(owed["settled"]) - Decimal(owed["refunded"])
            wuhan.close()
            assert pid not in console.log.read_text(errors="replace")
        finally:
            console.stop()

    # every service's served document validates, and every path it documents was called above
    for name in SERVICE_PORTS:
        doc = served_document(procs[name])
        validate(doc)
        documented = set(doc["paths"])
        assert documented <= exercised.get(name, set()), f"{name}: not exercised: {documented - exercised[name]}"
    # the ID number is in no request target, and in no service's log
    assert not [t for t in c.targets if pid in t]
    for name, proc in procs.items():
        assert pid not in proc.log.read_text(errors="replace"), name

"""Fund supervision over the real wire (R-04; 000 第五十七、七十八条): a month of completed settlements with
planted anomalies reaches the supervision and clearing services; the smart-audit rules flag each anomaly with
its evidence; the treating place (Wuhan A420100) dismisses one, turns one into an audit deduction through
clearing's own command (it enters the November clearing period), hands one to the insured place (Wuhu); the
hospital appeals one and Wuhan upholds the appeal; the per-rule measures and the indicators, read and
downloaded over signed HTTP, say so.

October 2026, Wuhu insured people treated at a Wuhan hospital: 12 ordinary outpatient visits of 12 people;
8 ordinary stays of 16 000..16 700 (the peers, sent first); planted: one person's 3 visits in 3 days (SV-01), a stay of
60 000.00 (SV-02), and a series of 3 stays of 29 8xx just below the 30 000 co-investigation start (SV-03).

A second test sends a stay and its fee detail (S-18) with a bed day billed twice on one day: flagged SV-04
with the lines as evidence, the person by pseudonym only; and a cancelled visit (S-15) comes off October's
indicators once, however often the cancel is delivered."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from supervision_support import HOSPITAL, WUHAN, WUHU, fee_detail, reversed_, settlement
from support import Bus, ServiceProcess, at, caught_up, eventually, new_prefix

from contracts.clearing import FundAmounts, RecordAuditDeduction
from contracts.supervision import AppealFlag, DecideAppeal, ReviewFlag, deduction_id_for
from contracts.values import make_person_id
from runtime.query import sign_request

pytestmark = pytest.mark.integration

A_WUHAN, A_WUHU = "A420100", "A340200"
DAY = date(2026, 10, 12)


def person(n: int) -> str:
    return make_person_id(f"34020219700101{n:03d}")


def peers() -> list:
    return [
        settlement(
            f"S-p{n}",
            total=f"{16000 + 100 * n}.00",
            fund="7000.00",
            person_id=person(100 + n),
            stay=(DAY - timedelta(days=6), DAY - timedelta(days=1)),
            settled_on=DAY - timedelta(days=1),
        )
        for n in range(8)
    ]


def month_of_traffic() -> list:
    ordinary = [
        settlement(f"S-o{n}", total="150.00", fund="105.00", self_paid="15.00", person_id=person(n), settled_on=DAY)
        for n in range(12)
    ]
    repeated = [
        settlement(f"S-r{n}", total="80.00", fund="56.00", person_id=person(200), settled_on=DAY + timedelta(days=n))
        for n in range(3)
    ]
    outlier = settlement(
        "S-big", total="60000.00", fund="42000.00", person_id=person(300), stay=(DAY, DAY + timedelta(days=9))
    )
    hugging = [
        settlement(
            f"S-h{n}",
            total=f"{29800 + 50 * n}.00",
            fund="20000.00",
            person_id=person(400 + n),
            stay=(DAY, DAY + timedelta(days=7)),
            settled_on=DAY + timedelta(days=8),
        )
        for n in range(3)
    ]
    return [*ordinary, *repeated, outlier, *hugging]


def ask(proc: ServiceProcess, bus: Bus, party: str, path: str, **params: str) -> tuple[int, bytes]:
    return proc.get(*sign_request(bus.signer(party), path, at=bus.business_now(), **params))


def flags_of(proc: ServiceProcess, bus: Bus, party: str = A_WUHAN) -> dict[str, dict]:
    status, body = ask(proc, bus, party, "/supervision/flags", size="100")
    assert status == 200, body
    return {f["flag_id"]: f for f in json.loads(body)["flags"]}


WANTED = {"S-r2:SV-01", "S-big:SV-02", "S-h0:SV-03", "S-h1:SV-03", "S-h2:SV-03"}


async def send_the_month(bus: Bus, supervision: ServiceProcess) -> None:
    for s in peers():  # the stays the outlier test compares against come first
        await bus.publish("settlement.completed.v1", s)
    assert await caught_up(supervision)
    traffic = month_of_traffic()
    # the outlier is compared with the stays before it: the hugging series (other people, so other
    # partitions, processed in any order with it) comes once the outlier is in
    for s in traffic[:-3]:
        await bus.publish("settlement.completed.v1", s)
    assert await caught_up(supervision)
    for s in traffic[-3:]:
        await bus.publish("settlement.completed.v1", s)
    await bus.publish("settlement.completed.v1", traffic[-3])  # a copy of S-h0: counted once


def check_the_flags(supervision: ServiceProcess, bus: Bus, flags: dict[str, dict]) -> None:
    assert flags["S-r2:SV-01"]["evidence"]["就诊日期"] == "2026-10-12、2026-10-13、2026-10-14"
    assert flags["S-big:SV-02"]["evidence"]["机构历史中位数"] == "16350.00"
    assert flags["S-h1:SV-03"]["evidence"]["距起点"] == "150.00"
    assert all(f["status"] == "open" and f["person_ref"].startswith("p") for f in flags.values())
    assert not any(person(n) in json.dumps(flags) for n in (200, 300, 400))
    status, body = ask(supervision, bus, "A430100", "/supervision/flags")  # Changsha: neither place
    assert status == 200 and json.loads(body)["flags"] == []


async def work_the_flags(bus: Bus, supervision: ServiceProcess) -> None:
    """Dismissed, deducted through clearing (R-04), handed over, appealed and upheld."""
    now = bus.business_now()
    review = "supervision.review-flag.v1"
    await bus.publish(
        review,
        ReviewFlag(flag_id="S-r2:SV-01", treating_region=WUHAN, decision="dismiss", note="复诊换药", reviewed_at=now),
    )
    deduction = RecordAuditDeduction(
        deduction_id=deduction_id_for("S-h0:SV-03"),
        settlement_id="S-h0",
        insured_region=WUHU,
        treating_region=WUHAN,
        amounts=FundAmounts(insurance_type="310", funds={"pooling": "2000.00"}),
        reason="SV-03 单次住院费用贴近协查起点：分解收费",
        decided_at=now,
    )
    await bus.publish("clearing.record-audit-deduction.v1", deduction, sender=A_WUHAN)  # the treating place's audit
    await bus.publish(
        review,
        ReviewFlag(flag_id="S-h1:SV-03", treating_region=WUHAN, decision="lead", note="请参保地核实", reviewed_at=now),
    )
    appeal = AppealFlag(
        flag_id="S-big:SV-02",
        institution_code=HOSPITAL,
        treating_region=WUHAN,
        reason="危重抢救，附病历",
        appealed_at=now,
    )
    await bus.publish("his.flag-appealed.v1", appeal)
    await eventually(lambda: flags_of(supervision, bus)["S-big:SV-02"]["status"] == "appealed")
    decision = DecideAppeal(flag_id="S-big:SV-02", treating_region=WUHAN, upheld=True, note="病历支持", decided_at=now)
    await bus.publish("supervision.decide-appeal.v1", decision)


def check_the_measures(supervision: ServiceProcess, bus: Bus) -> None:
    status, body = ask(supervision, bus, A_WUHAN, "/supervision/rules")
    measures = {r["id"]: r for r in json.loads(body)["rules"]}
    sv03 = {k: measures["SV-03"][k] for k in ("hits", "open", "deducted", "lead")}
    assert sv03 == {"hits": 3, "open": 1, "deducted": 1, "lead": 1}
    assert {k: measures["SV-02"][k] for k in ("hits", "appealed", "upheld")} == {"hits": 1, "appealed": 1, "upheld": 1}
    assert (measures["SV-01"]["hits"], measures["SV-01"]["dismissed"]) == (1, 1)


def check_the_indicators(supervision: ServiceProcess, bus: Bus) -> None:
    """October's indicators by medical type, read and downloaded (000 第七十八条)."""
    status, body = ask(supervision, bus, A_WUHAN, "/supervision/indicators", month="2026-10", by="medical_type")
    rows = {r["medical_type"]: r for r in json.loads(body)["rows"]}
    outpatient, stays = rows["general_outpatient"], rows["inpatient"]
    # 12 × 150.00 + 3 × 80.00 = 2 040.00 in 15 visits: 136.00 a visit
    assert (outpatient["visits"], outpatient["total"], outpatient["cost_per_visit"]) == (15, "2040.00", "136.00")
    # 8 peers 16 000..16 700 (130 800.00), 60 000.00 and 29 800 + 29 850 + 29 900 = 89 550.00: 280 350.00 in 12
    assert (stays["stays"], stays["total"], stays["cost_per_stay"]) == (12, "280350.00", "23362.50")
    status, xlsx = ask(
        supervision, bus, A_WUHAN, "/supervision/indicators", month="2026-10", by="medical_type", format="xlsx"
    )
    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert sheet is not None and sheet.cell(1, 1).value == "月份" and sheet.cell(2, 8).number_format == "#,##0.00"
    status, _ = ask(supervision, bus, A_WUHAN, "/supervision/indicators", month=quote("2026-1x"))
    assert status == 400


async def test_a_month_with_planted_anomalies_flagged_reviewed_deducted_handed_over_and_appealed(stack) -> None:
    prefix = new_prefix(stack, "supervision")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(11, 2))  # Mon 2 Nov 2026: October's settlements come in
        supervision = ServiceProcess(stack, "supervision", prefix).start()
        clearing = ServiceProcess(stack, "clearing", prefix).start()
        try:
            await send_the_month(bus, supervision)
            flags = await eventually(lambda: (f := flags_of(supervision, bus)) and set(f) == WANTED and f)
            check_the_flags(supervision, bus, flags)

            assert await caught_up(clearing)  # clearing has the settlement the deduction names
            await work_the_flags(bus, supervision)
            done = {"S-r2:SV-01": "dismissed", "S-h0:SV-03": "deducted", "S-h1:SV-03": "lead", "S-big:SV-02": "upheld"}
            flags = await eventually(
                lambda: (f := flags_of(supervision, bus)) and all(f[k]["status"] == v for k, v in done.items()) and f
            )
            steps = [(s["action"], s["by"]) for s in flags["S-big:SV-02"]["steps"]]
            assert steps == [("raised", "supervision"), ("appealed", HOSPITAL), ("upheld", A_WUHAN)]
            assert flags["S-h0:SV-03"]["deduction_id"] == "supervision:S-h0:SV-03"
            # the hospital sees its own flags; Wuhu, the insured place, sees the one handed to it
            assert set(flags_of(supervision, bus, HOSPITAL)) == WANTED
            assert flags_of(supervision, bus, A_WUHU)["S-h1:SV-03"]["status_words"] == "已移交参保地"
            check_the_measures(supervision, bus)

            # the deduction reached clearing's next period: October's settlements clear in 2026-11 (C-02)
            entries = await bus.read(
                "clearing.entry.v1", lambda m: any(e["payload"]["kind"] == "audit_deduction" for e in m)
            )
            [deducted] = [e["payload"] for e in entries if e["payload"]["kind"] == "audit_deduction"]
            assert (deducted["settlement_id"], deducted["clearing_month"]) == ("S-h0", "2026-11")
            assert deducted["signed_total"] == "2000.00"
            check_the_indicators(supervision, bus)
        finally:
            supervision.stop()
            clearing.stop()


async def test_a_bed_day_billed_twice_is_flagged_from_the_fee_detail_and_a_cancel_comes_off_the_month(stack) -> None:
    prefix = new_prefix(stack, "supervision-lines")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(at(11, 2))
        supervision = ServiceProcess(stack, "supervision", prefix).start()
        try:
            stay = settlement(
                "S-bed", total="30.00", fund="21.00", person_id=person(500), stay=(DAY, DAY + timedelta(2))
            )
            visit = settlement("S-gone", total="150.00", fund="105.00", person_id=person(501), settled_on=DAY)
            bed, second = DAY + timedelta(days=1), DAY + timedelta(days=2)
            lines = [("120100001", "1", DAY), ("120100001", "1", bed), ("120100001", "1", bed)]
            detail = fee_detail("S-bed", lines, person_id=person(500), settled_on=second)
            for topic, payload in (("settlement.completed.v1", stay), ("settlement.completed.v1", visit)):
                await bus.publish(topic, payload)
            await bus.publish("settlement.fee-detail.v1", detail)
            cancel = reversed_(visit, "RV-gone", total="-150.00", fund="-105.00")
            for _ in range(2):  # delivered twice: taken off once
                await bus.publish("settlement.reversed.v1", cancel)

            flags = await eventually(lambda: (f := flags_of(supervision, bus)) and "S-bed:SV-04" in f and f)
            assert set(flags) == {"S-bed:SV-04"}
            flag = flags["S-bed:SV-04"]
            assert (flag["rule_name"], flag["status_words"]) == ("同一项目同日重复收费", "待审核")
            assert flag["evidence"] == {
                "项目编码": "120100001",
                "项目名称": "普通病房床位费（三人间）",
                "日期": "2026-10-13",
                "当日数量": "2",
                "明细行号": "2、3",
                "其他重复": "无",
            }
            assert person(500) not in json.dumps(flags) and flag["person_ref"].startswith("p")

            def october() -> dict[str, dict]:
                status, body = ask(
                    supervision, bus, A_WUHAN, "/supervision/indicators", month="2026-10", by="medical_type"
                )
                assert status == 200, body
                return {r["medical_type"]: r for r in json.loads(body)["rows"]}

            rows = await eventually(lambda: (r := october()) and r["general_outpatient"]["visits"] == 0 and r)
            assert await caught_up(supervision)  # the second copy of the cancel is in too: taken off once
            rows = october()
            assert (rows["general_outpatient"]["visits"], rows["general_outpatient"]["total"]) == (0, "0.00")
            assert (rows["inpatient"]["stays"], rows["inpatient"]["total"]) == (1, "30.00")
        finally:
            supervision.stop()

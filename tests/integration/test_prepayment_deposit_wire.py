"""P-12 over the real wire: the performance deposit 履约保证金 of Hunan's text (002 第二十条: 跨省异地就医门诊费用
直接结算实行履约保证金制度。医保经办机构每年根据协议医疗机构履行医疗服务协议情况，确定年度履约保证金返还额度; 002 in
force 2021-05-14 for two years, 第三十八条, so to 2023-05-13), the prepayment service as its own process.

Zhuzhou's agency (A430200) records the 2022 deposit of its hospital H43020200001 (opened for outpatient
settlement from 2021-06-01): 30,000.00 on 2022-03-01 and 20,000.00 on 2022-03-02, the first receipt sent
twice and recorded once → 50,000.00 lodged. On 2023-01-16 it decides the 2022 return from how the agreement
was kept: 60,000.00 is refused (more than the 50,000.00 lodged); 40,000.00 is recorded, 50,000.00 −
40,000.00 = 10,000.00 retained. Refused too: Changsha's agency recording Zhuzhou's hospital (not its
region), Wuhu's hospital's deposit (on 2022-03-01 no text covers Anhui: 003 is in force from 2022-06-30;
on 2023-01-16 the national default, 003, sets none), and a 2023 deposit lodged on 2023-05-14, the day
after 002 ended."""

from __future__ import annotations

from datetime import datetime

import pytest
from support import Bus, ServiceProcess, answer_to, move, new_prefix

from contracts.prepayment import LodgeDeposit, SettleDeposit
from contracts.values import SHANGHAI as SH

pytestmark = pytest.mark.integration

ZHUZHOU, HOSPITAL, A_ZHUZHOU = "430200", "H43020200001", "A430200"
DEPOSITS = "prepayment.deposit.v1"


def moment(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 10, 0, tzinfo=SH)


def lodge(bus: Bus, receipt: str, amount: str, year: int = 2022, **other: str) -> LodgeDeposit:
    fields = {"institution_code": HOSPITAL, "region": ZHUZHOU, **other}
    return LodgeDeposit(deposit_id=receipt, year=year, amount=amount, lodged_at=bus.business_now(), **fields)


def settle(bus: Bus, returned: str) -> SettleDeposit:
    return SettleDeposit(
        institution_code=HOSPITAL,
        region=ZHUZHOU,
        year=2022,
        returned=returned,
        assessment="2022年度协议考核：违规结算2例，扣减返还额度",
        decided_at=bus.business_now(),
    )


async def refusal(bus: Bus, topic: str, payload, sender: str) -> dict:
    return await answer_to(bus, await bus.publish(topic, payload, sender=sender))


async def test_a_hunan_institutions_deposit_is_lodged_and_returned_by_how_it_kept_its_agreement(stack):
    prefix = new_prefix(stack, "pp-p12")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(moment(2022, 3, 1))
        proc = ServiceProcess(stack, "prepayment", prefix).start()
        try:
            await move(bus, proc, moment(2022, 3, 1))
            first = lodge(bus, "ZZ-2022-001", "30000.00")
            await bus.publish("prepayment.lodge-deposit.v1", first, sender=A_ZHUZHOU)
            await bus.publish("prepayment.lodge-deposit.v1", first, sender=A_ZHUZHOU)  # again: recorded once
            answer = await refusal(bus, "prepayment.lodge-deposit.v1", lodge(bus, "CS-1", "1.00"), "A430100")
            assert (answer["reason"], answer["rule"]) == ("UNAUTHORIZED", "P-12"), answer
            wuhu = lodge(bus, "WH-1", "1.00", institution_code="H34020200001", region="340200")
            answer = await refusal(bus, "prepayment.lodge-deposit.v1", wuhu, "A340200")
            assert answer["reason"] == "REFUSED_BY_RULE" and "no prepayment policy text" in answer["message"]

            await move(bus, proc, moment(2022, 3, 2))
            await bus.publish("prepayment.lodge-deposit.v1", lodge(bus, "ZZ-2022-002", "20000.00"), sender=A_ZHUZHOU)
            seen = await bus.read(DEPOSITS, lambda m: len(m) >= 2)
            assert [(d["payload"]["status"], d["payload"]["lodged"]) for d in seen] == [
                ("lodged", "30000.00"),
                ("lodged", "50000.00"),
            ]
            assert "002 第二十条" in seen[-1]["payload"]["policy_source"]

            await move(bus, proc, moment(2023, 1, 16))
            wuhu = lodge(bus, "WH-2", "1.00", year=2023, institution_code="H34020200001", region="340200")
            answer = await refusal(bus, "prepayment.lodge-deposit.v1", wuhu, "A340200")
            assert answer["reason"] == "REFUSED_BY_RULE" and "003 sets no performance deposit" in answer["message"]
            answer = await refusal(bus, "prepayment.settle-deposit.v1", settle(bus, "60000.00"), A_ZHUZHOU)
            assert answer["reason"] == "REFUSED_BY_RULE" and "more than the 50000.00 lodged" in answer["message"]
            await bus.publish("prepayment.settle-deposit.v1", settle(bus, "40000.00"), sender=A_ZHUZHOU)
            seen = await bus.read(DEPOSITS, lambda m: len(m) >= 3)
            done = seen[-1]["payload"]
            assert (done["status"], done["lodged"], done["returned"], done["retained"]) == (
                "settled",
                "50000.00",
                "40000.00",
                "10000.00",
            )

            await move(bus, proc, moment(2023, 5, 14))
            late = lodge(bus, "ZZ-2023-001", "30000.00", year=2023)
            answer = await refusal(bus, "prepayment.lodge-deposit.v1", late, A_ZHUZHOU)
            assert answer["reason"] == "REFUSED_BY_RULE" and "on 2023-05-14" in answer["message"], answer
            assert len(await bus.read(DEPOSITS, lambda m: len(m) >= 3)) == 3  # nothing recorded by a refusal
        finally:
            proc.stop()

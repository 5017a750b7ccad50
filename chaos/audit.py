"""The checks after a run, by independent sums: what the hospitals were told (their answers)
against what clearing and prepayment hold (their databases, read directly as an auditor would,
never through the services) and what went over the broker (the topics, read from their start).

Per item: every settlement the HIS was told completed and every cancel and refund it was told
done must be in clearing's archive of lines (``entries``, M-03) and in prepayment's (``counted``)
once: missing is *lost*; counted more than once (a ledger holding more lines than the archive, a
settlement completed under two ids or published twice with different content) is
*double-counted*; in the archives without the HIS having been told is *behind the hospital's
back* (S-01 forbids it). In money: the fund totals of the answers, of the clearing ledgers and of
the prepayment accounts (``bench.totals``) must agree to the fen."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from bench.totals import AnsweredFunds, held
from runtime.privacy import keys_dir
from runtime.store import open_document
from runtime.wire import WireOpener

NOT_SETTLED = "INSURED_TIMEOUT_NOT_SETTLED"


def answered_items(answers: dict[str, list[dict]]) -> dict[str, dict]:
    """What the HIS was told was done, by item: ``S:<settlement id>`` and ``R:<reversal id>``."""
    items: dict[str, dict] = {}
    for results in answers.values():
        for result in results:
            if result.get("outcome") == "completed":
                items[f"S:{result['settlement_id']}"] = result
            elif result.get("outcome") in ("cancelled", "refunded"):
                items[f"R:{result['reversal_id']}"] = result
    return items


def clearing_items(lines: list[dict]) -> Counter:
    """The archived clearing lines of settlements and refunds, by item (audit deductions aside)."""
    kinds = {"settlement": "S:{settlement_id}", "refund": "R:{ref}"}
    return Counter(kinds[line["kind"]].format(**line) for line in lines if line.get("kind") in kinds)


def prepayment_items(counted_ids: list[str]) -> Counter:
    """Prepayment's counted marks (``<sid>:completed``, ``<sid>/<reversal id>:reversed``), by item."""
    items: Counter = Counter()
    for key in counted_ids:
        subject, _, what = key.rpartition(":")
        items[f"R:{subject.split('/', 1)[1]}" if what == "reversed" else f"S:{subject}"] += 1
    return items


def completed_twice(answers: dict[str, list[dict]], completed_events: list[dict]) -> int:
    """Settlements completed twice: one request answered completed under two settlement ids or two
    slips, or one settlement published on settlement.completed.v1 with two different contents."""
    twice = sum(
        1
        for results in answers.values()
        if len({json.dumps(r, sort_keys=True) for r in results if r.get("outcome") == "completed"}) > 1
    )
    contents: dict[str, set[str]] = defaultdict(set)
    for event in completed_events:
        contents[event["payload"]["settlement_id"]].add(json.dumps(event["payload"], sort_keys=True))
    return twice + sum(1 for seen in contents.values() if len(seen) > 1)


def late_decisions(answers: dict[str, list[dict]], decided: list[dict], rollbacks: list[dict]) -> dict:
    """S-01 under fire: settlements the HIS was told "not settled directly" for which the insured place
    had decided (its answer came late), and how many of those were rolled back."""
    completed = {r["settlement_id"] for results in answers.values() for r in results if r.get("outcome") == "completed"}
    timed_out = (
        {
            r["settlement_id"]
            for results in answers.values()
            for r in results  # a partial refund's names
            if r.get("outcome") == "refused" and r.get("code") == NOT_SETTLED
        }
        - completed
        - {None}
    )  # its settlement
    decided_ids = {e["payload"]["settlement_id"] for e in decided if e["payload"].get("decided")}
    rolled_back = {e["payload"]["settlement_id"] for e in rollbacks if not e["payload"].get("reversal_id")}
    late_rollbacks = {
        e["payload"]["settlement_id"] for e in rollbacks if "answered after" in e["payload"].get("reason", "")
    }
    late = timed_out & decided_ids
    return {
        "not_settled": len(timed_out),
        "not_settled_with_a_decision": len(late),
        "rolled_back": len(late & rolled_back),
        "rolled_back_on_late_answer": len(late_rollbacks & late),
        "insured_decisions": len(decided_ids),
        "rollbacks": len(rolled_back),
    }


def items_check(told: dict[str, dict], clearing: Counter, prepayment: Counter, ledger_lines: int) -> dict:
    """Lost, double-counted and behind-the-back items, in clearing and in prepayment."""
    expected = set(told)
    lost = {"clearing": sorted(expected - set(clearing)), "prepayment": sorted(expected - set(prepayment))}
    double = {
        "clearing": sorted(k for k, n in clearing.items() if n > 1),
        "prepayment": sorted(k for k, n in prepayment.items() if n > 1),
    }
    behind = {"clearing": sorted(set(clearing) - expected), "prepayment": sorted(set(prepayment) - expected)}
    over = max(0, ledger_lines - sum(clearing.values()))  # lines a ledger holds that the archive does not explain
    return {
        "lost": len(lost["clearing"]) + len(lost["prepayment"]),
        "lost_funds": {side: str(sum((_funds(told[k]) for k in keys), Decimal("0"))) for side, keys in lost.items()},
        "double_counted": len(double["clearing"]) + len(double["prepayment"]) + over,
        "behind_the_hospitals_back": len(behind["clearing"]) + len(behind["prepayment"]),
        "examples": {
            k: v[:3]
            for k, v in {
                **{f"lost_{n}": lost[n] for n in lost},
                **{f"double_{n}": double[n] for n in double},
                **{f"behind_{n}": behind[n] for n in behind},
            }.items()
            if v
        },
    }


def _funds(result: dict) -> Decimal:
    """The fund part of an answer: a slip's fund total, a reversal's (signed) compensation."""
    part = result["slip"] if result["outcome"] == "completed" else result["compensation"]
    return Decimal(str(part["fund_total"]))


def fund_totals(told: dict[str, dict], sums: dict[str, Decimal]) -> dict:
    """The fund totals from the answers, the clearing ledgers and the prepayment accounts."""
    answered = AnsweredFunds()
    for result in told.values():
        answered.add(result)
    clearing = sums["clearing_cross_province"] + sums["clearing_intra_province"]
    return {
        "answers": str(answered.total),
        "clearing_ledgers": str(clearing),
        "prepayment_accounts": str(sums["prepayment_used"]),
        "answers_cross_province": str(answered.cross_province),
        "clearing_cross_province": str(sums["clearing_cross_province"]),
        "equal_to_the_fen": answered.total == clearing == sums["prepayment_used"]
        and answered.cross_province == sums["clearing_cross_province"],
    }


# ------------------------------------------------------------ reading what the services hold
async def stored(mongodb_uri: str, clearing_db: str, prepayment_db: str) -> dict:
    """Clearing's archived lines and ledger line counts, prepayment's counted marks, and the sums."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb_uri)
    try:
        lines = [doc async for doc in client[clearing_db]["entries"].find({}, {"_id": 0})]
        ledgers = [open_document(d)["state"] async for d in client[clearing_db]["ledgers"].find({})]
        counted = [doc["_id"] async for doc in client[prepayment_db]["counted"].find({}, {"_id": 1})]
    finally:
        await client.close()
    return {
        "lines": lines,
        "ledger_lines": sum(lg.get("entry_count", 0) for lg in ledgers),
        "counted": counted,
        "sums": await held(mongodb_uri, clearing_db, prepayment_db),
    }


async def read_topic(bootstrap: str, topic: str, prefix: str = "") -> list[dict]:
    """Every record of ``prefix + topic`` from its start to its end now, as JSON, personal payloads
    opened with the deployment's keys (``runtime.wire``: the development key directory holds every
    party's)."""
    opener = WireOpener.from_keys_dir(keys_dir())
    topic = prefix + topic
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        seen: list[dict] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += [json.loads(opener.open(topic.removeprefix(prefix), r.value)) for r in records]
        return seen
    finally:
        await consumer.stop()

"""Finding collaboration items (K-03..K-05, Q-02..Q-05): the agency's lists filtered by state, type,
counterpart and running deadline, paged with totals or downloaded; a bad filter is refused."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from runtime.query import QueryRefused, SignedQuery
from services.collab import query_lists as lists

from .collab_support import PARTIES
from .test_handlers_in_memory import A_WUHAN, A_WUHU, RID, WUHU, opened


async def _box(agency: str, **params: str):
    collab = await opened()
    return await collab.queries.requests(
        SignedQuery(PARTIES.get(agency), lists.REQUESTS_PATH, {"box": "inbox", **params})
    )


async def test_K03_the_inbox_filtered_by_state_type_counterpart_and_deadline():
    [row] = json.loads(
        (
            await _box(
                A_WUHAN, status="open", type="filing", counterpart=WUHU, due_from="2026-10-09", due_to="2026-10-09"
            )
        )[0]
    )
    assert (row["request_id"], row["counterpart"], row["status_zh"], row["type_zh"]) == (
        str(RID),
        WUHU,
        "待答复",
        "备案类",
    )
    for miss in (
        {"status": "replied"},
        {"type": "other"},
        {"counterpart": "110000"},
        {"due_to": "2026-10-08"},
        {"overdue": "1"},
    ):
        assert json.loads((await _box(A_WUHAN, **miss))[0]) == []


async def test_K03_a_page_with_totals_and_a_download_of_the_whole_list():
    page = json.loads((await _box(A_WUHAN, page="1", size="10"))[0])
    assert (page["total"], page["pages"], [r["request_id"] for r in page["items"]]) == (1, 1, [str(RID)])
    body, content_type, name = await _box(A_WUHAN, format="csv")
    assert body.startswith("\ufeff".encode()) and name == "requests-inbox.csv"
    assert "待答复" in body.decode("utf-8-sig")
    sheet = load_workbook(io.BytesIO((await _box(A_WUHAN, format="xlsx"))[0])).active
    header = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=header.index("当前期限") + 1).is_date


async def test_a_bad_filter_is_refused():
    for bad in ({"counterpart": "wuhan"}, {"due_from": "9 Oct"}, {"page": "0", "format": "json"}, {"format": "pdf"}):
        with pytest.raises(QueryRefused) as refused:
            await _box(A_WUHU, **bad)
        assert refused.value.status == 400


async def test_K02_overdue_items_are_counted_for_the_region_that_owes_the_step_for_those_above_it():
    from datetime import timedelta

    from services.collab.query_attention import OVERDUE_PATH, OverdueByAgency

    collab = await opened()
    late = lambda: collab.clock + timedelta(days=30)  # noqa: E731  long past the reply deadline
    ask = OverdueByAgency(collab.queries.reads, PARTIES, late)

    async def rows(agency: str) -> list[dict]:
        return json.loads((await ask(SignedQuery(PARTIES.get(agency), OVERDUE_PATH, {})))[0])["regions"]

    expected = [{"region": "420100", "requests": 1, "leads": 0, "coinvestigations": 0, "total": 1}]
    assert await rows("A420000") == expected and await rows("A000000") == expected and await rows(A_WUHAN) == expected
    assert await rows(A_WUHU) == [] and await rows("A340000") == []
    on_time = OverdueByAgency(collab.queries.reads, PARTIES, lambda: collab.clock)
    assert json.loads((await on_time(SignedQuery(PARTIES.get("A000000"), OVERDUE_PATH, {})))[0]) == {"regions": []}


async def test_K02_the_overdue_gauge_counts_what_the_overdue_query_counts():
    """``yidi_collab_overdue`` (the CollabOverdue alert, deploy/alerts.yml): the request past its reply
    deadline, owed by Wuhan; nothing once it is on time again (the old series cleared)."""
    from datetime import timedelta

    from prometheus_client import CollectorRegistry

    from services.collab.metrics import CollabMetrics, OverdueGauge

    collab = await opened()
    registry = CollectorRegistry()
    moments = [collab.clock + timedelta(days=30)]
    gauge = OverdueGauge(CollabMetrics(registry), collab.queries.reads, PARTIES, lambda: moments[0])
    await gauge.recount()
    value = lambda kind: registry.get_sample_value("yidi_collab_overdue", {"kind": kind, "region": "420100"})  # noqa: E731
    assert (value("requests"), value("leads"), value("coinvestigations")) == (1, 0, 0)
    moments[0] = collab.clock
    await gauge.recount()
    assert value("requests") is None

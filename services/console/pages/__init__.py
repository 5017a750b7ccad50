"""The console's pages and actions. Each handler takes the console, the request and the session; the
services decide what the agency may see (their signed queries) and do (their authority tables and
rules): the console only offers what the query says the rules allow (``actions``) and the user's role
permits (``ACTION_ROLES``), and shows the service's answer either way.

By concern: ``collab`` (K-03..K-06), ``clearing`` (C-01..C-04, R-04 appeals), ``prepayment`` (P-04..P-09), ``filing``
(the filing lookup and the slip); ``common`` holds what they share and ``labels`` what they call things."""

from __future__ import annotations

from services.console.pages.clearing import clearing, clearing_act, clearing_answer_appeal, clearing_download
from services.console.pages.collab import (
    coinvestigation_action,
    coinvestigations,
    collab,
    lead_result,
    lead_take_up,
    leads,
    request_action,
    request_detail,
    statistics_download,
)
from services.console.pages.collab_find import collab_download, collab_find
from services.console.pages.common import ACTION_ROLES, allowed, home
from services.console.pages.filing import filing_form, filing_lookup, slip, slip_form
from services.console.pages.finding import (
    filings_find,
    filings_form,
    ledger,
    ledger_download,
    settlements_find,
    settlements_form,
)
from services.console.pages.hospital import hospital, hospital_download
from services.console.pages.labels import (
    ACTION_ZH,
    FILING_STATUS_ZH,
    LEDGER_ZH,
    LEVEL_ZH,
    MOVEMENT_ZH,
    PROBLEM_ZH,
    SCOPE_ZH,
    STATUS_ZH,
    local,
    period_state_zh,
    region_name,
    yuan,
)
from services.console.pages.prepayment import prepayment
from services.console.pages.supervision import supervision, supervision_download, supervision_report
from services.console.pages.regions import region, regions
from services.console.pages.tasks import draft_decide, draft_view, task_form, task_submit, tasks
from services.console.tasks.words import message_zh, reason_zh
from services.console.users import ROLE_ZH

__all__ = ["ACTION_ROLES", "ROUTES", "TEMPLATE_GLOBALS", "allowed"]


TEMPLATE_GLOBALS = {
    "FILING_STATUS_ZH": FILING_STATUS_ZH,
    "MOVEMENT_ZH": MOVEMENT_ZH,
    "LEDGER_ZH": LEDGER_ZH,
    "local": local,
    "yuan": yuan,
    "region_name": region_name,
    "STATUS_ZH": STATUS_ZH,
    "ACTION_ZH": ACTION_ZH,
    "PROBLEM_ZH": PROBLEM_ZH,
    "LEVEL_ZH": LEVEL_ZH,
    "SCOPE_ZH": SCOPE_ZH,
    "ROLE_ZH": ROLE_ZH,
}
TEMPLATE_GLOBALS.update({"period_state_zh": period_state_zh, "reason_zh": reason_zh, "message_zh": message_zh})


ROUTES = [
    ("/", home, ["GET"]),
    ("/collab", collab, ["GET"]),
    ("/collab/requests/{request_id}", request_detail, ["GET"]),
    ("/collab/requests/{request_id}/{action}", request_action, ["POST"]),
    ("/collab/leads", leads, ["GET"]),
    ("/collab/leads/{lead_id}/take-up", lead_take_up, ["POST"]),
    ("/collab/leads/{lead_id}/result", lead_result, ["POST"]),
    ("/coinvestigations", coinvestigations, ["GET"]),
    ("/coinvestigations/statistics", statistics_download, ["GET"]),
    ("/coinvestigations/{request_id}/{action}", coinvestigation_action, ["POST"]),
    ("/clearing", clearing, ["GET"]),
    ("/clearing/download", clearing_download, ["GET"]),
    ("/clearing/appeals/answer", clearing_answer_appeal, ["POST"]),
    ("/clearing/{action}", clearing_act, ["POST"]),
    ("/prepayment", prepayment, ["GET"]),
    ("/supervision", supervision, ["GET"]),
    ("/supervision/report", supervision_report, ["GET"]),
    ("/supervision/download", supervision_download, ["GET"]),
    ("/filing", filing_form, ["GET"]),
    ("/filing", filing_lookup, ["POST"]),
    ("/slip", slip_form, ["GET"]),
    ("/slip", slip, ["POST"]),
    ("/regions", regions, ["GET"]),
    ("/regions/{region}", region, ["GET"]),
    ("/find/settlements", settlements_form, ["GET"]),
    ("/find/settlements", settlements_find, ["POST"]),
    ("/find/filings", filings_form, ["GET"]),
    ("/find/filings", filings_find, ["POST"]),
    ("/ledger", ledger, ["GET"]),
    ("/ledger/download", ledger_download, ["GET"]),
    ("/find/hospital", hospital, ["GET"]),
    ("/find/hospital/download", hospital_download, ["GET"]),
    ("/find/collab", collab_find, ["GET"]),
    ("/find/collab/download", collab_download, ["GET"]),
    ("/tasks", tasks, ["GET"]),
    ("/tasks/drafts/{draft_id}", draft_view, ["GET"]),
    ("/tasks/drafts/{draft_id}/{action}", draft_decide, ["POST"]),
    ("/tasks/{slug}", task_form, ["GET"]),
    ("/tasks/{slug}", task_submit, ["POST"]),
]

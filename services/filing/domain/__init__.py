"""Pure domain of the filing service 备案 (RULES.md F-01..F-16): no I/O.

Entry points the runtime wires:

* :func:`decide` — apply a command or fired deadline to one person's aggregate;
* :class:`PersonFilings` / :func:`state_at` — the aggregate and its history (M-03);
* :func:`load_policies` / :class:`PolicyBook` — validated region policies;
* :class:`RegionSanctions` / :class:`SanctionNotice` — F-16 sanction state;
* deadlines in working days of ``runtime.calendar.WorkingCalendar`` (M-02);
* :mod:`services.filing.domain.directory` — the directory of networked institutions 定点医疗机构查询
  (002 第十二条): which registry institutions match a query, a page at a time.
"""

from kernel.sanctions import RegionSanctions, SanctionNotice, SanctionPeriod
from services.filing.domain.decide import decide, request_key
from services.filing.domain.model import FilingRecord, HandledRequest, PersonFilings, filing_at, state_at
from services.filing.domain.policy import PolicyBook, PolicyBoundError, RegionPolicy, load_policies
from services.filing.domain.work import DEADLINE_TOPIC, FilingDeadline, FilingDecision

__all__ = [
    "DEADLINE_TOPIC",
    "FilingDecision",
    "FilingDeadline",
    "FilingRecord",
    "HandledRequest",
    "PersonFilings",
    "PolicyBook",
    "PolicyBoundError",
    "RegionPolicy",
    "RegionSanctions",
    "SanctionNotice",
    "SanctionPeriod",
    "decide",
    "filing_at",
    "load_policies",
    "request_key",
    "state_at",
]

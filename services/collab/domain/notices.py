"""Notices 公告 (K-06, 000 第八十三条 "发布停机公告、医保政策等信息，实现医保经办信息共享"): an agency
publishes a notice to every other; ``collab.notice-published.v1`` is the list (every agency reads
it, from the start for all notices). The publisher is the sending agency itself (authority
table); the notice id derives from its code and reference, so a repeat publishes nothing."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from contracts.collab import NoticeKind, NoticePublished, PublishNotice
from services.outcome import Decision, stable_id

SERVICE = "collab"


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    notice_id: uuid.UUID
    publisher: str
    kind: NoticeKind
    title: str
    body: str = ""
    effective_from: AwareDatetime | None = None
    effective_until: AwareDatetime | None = None
    published_at: AwareDatetime | None = None
    received_at: AwareDatetime
    version: int = 0

    def published(self) -> NoticePublished:
        """As it was announced (the query API lists these)."""
        return NoticePublished(
            notice_id=self.notice_id,
            publisher=self.publisher,
            kind=self.kind,
            title=self.title,
            body=self.body,
            effective_from=self.effective_from,
            effective_until=self.effective_until,
            published_at=self.published_at or self.received_at,
            received_at=self.received_at,
        )


def notice_id_for(publisher: str, notice_ref: str) -> uuid.UUID:
    return stable_id(SERVICE, "notice", publisher, notice_ref)


def publish(state: Notice | None, cmd: PublishNotice, now: datetime) -> Decision[Notice] | None:
    """K-06: once per (publisher, reference); M-03: a correction is a new notice."""
    if state is not None:
        return None
    notice = Notice(
        notice_id=notice_id_for(cmd.publisher, cmd.notice_ref),
        publisher=cmd.publisher,
        kind=cmd.kind,
        title=cmd.title,
        body=cmd.body,
        effective_from=cmd.effective_from,
        effective_until=cmd.effective_until,
        published_at=cmd.published_at,
        received_at=now,
    )
    return Decision(notice, [notice.published()], [])

"""The mails sent to applicants: written by the notifier (workers/), read by the API; not rebuilt from the log.

Like the API tokens, this table is not a projection: `projections rebuild` leaves it alone (no
`read_model` info), because a mail that was sent stays sent.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from sqlalchemy import Column, Engine, Index, Integer, String, Table, select

from projections.database import ReadStore, UTCDateTime, metadata

notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(200), nullable=False, unique=True),
    Column("dossier_id", String(36), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("to", String(320), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Index("ix_notifications_dossier", "dossier_id", "sent_at", "id"),
)
"""One row per mail the SMTP server accepted; `message_id` is the broker message it answered."""

_ensured: set[int] = set()
_ensured_lock = threading.Lock()


def ensure_table(read: ReadStore) -> None:
    """Creates the table once per engine if it is missing (a process that never ran the notifier may read it)."""
    engine: Engine = read.engine
    with _ensured_lock:
        if id(engine) in _ensured:
            return
        with read.write() as conn:
            notifications.create(conn, checkfirst=True)
        _ensured.add(id(engine))


def notifications_for(read: ReadStore, dossier_id: UUID | str) -> list[dict[str, Any]]:
    """The mails sent about one dossier, oldest first: `[{kind, to, subject, sent_at}]`."""
    ensure_table(read)
    t = notifications
    query = (select(t.c.kind, t.c.to, t.c.subject, t.c.sent_at)
             .where(t.c.dossier_id == str(dossier_id)).order_by(t.c.sent_at, t.c.id))
    with read.begin() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]

"""The workers' own tables in the read store: relay position, message ledger, scheduled messages.

None of them is rebuilt from the log (`projections rebuild` leaves them alone): they record what
was published and sent, which replaying events cannot tell.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from projections.database import ReadStore, UTCDateTime, metadata
from projections.notifications import notifications

log = logging.getLogger(__name__)

relay_position = Table(
    "relay_position", metadata,
    Column("name", String(200), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""The last log position whose messages the broker confirmed (ADR 0005)."""

sent_notifications = Table(
    "sent_notifications", metadata,
    Column("message_id", String(200), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
)
"""Every broker message the notifier has answered with a mail: a redelivery finds its row and sends nothing."""

scheduled_messages = Table(
    "scheduled_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(200), nullable=False, unique=True),
    Column("routing_key", String(100), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    Index("ix_scheduled_messages_pending", "published_at", "id"),
)
"""The outbox of messages that are not events (reminders): the relay publishes them with confirms."""

TABLES = (relay_position, sent_notifications, scheduled_messages, notifications)


def now() -> datetime:
    return datetime.now(UTC)


def create_tables(read: ReadStore) -> None:
    """Creates the workers' tables if missing; tolerates another process creating them at the same time."""
    for attempt in range(3):
        try:
            with read.write() as conn:
                metadata.create_all(conn, tables=list(TABLES))
            return
        except DBAPIError:
            if attempt == 2:
                raise
            log.info("tables created concurrently by another process; checking again")


def load_position(read: ReadStore, name: str) -> int:
    with read.begin() as conn:
        stored = conn.execute(select(relay_position.c.position).where(relay_position.c.name == name)).scalar()
    return int(stored or 0)


def store_position(read: ReadStore, name: str, old: int, new: int) -> bool:
    """Moves the position from `old` to `new`; False if another relay moved it first."""
    with read.write() as conn:
        moved = conn.execute(update(relay_position)
                             .where(relay_position.c.name == name, relay_position.c.position == old)
                             .values(position=new, updated_at=now())).rowcount
        if moved:
            return True
        exists = conn.execute(select(relay_position.c.position).where(relay_position.c.name == name)).first()
        if exists is not None or old != 0:
            return False
        conn.execute(insert(relay_position).values(name=name, position=new, updated_at=now()))
        return True

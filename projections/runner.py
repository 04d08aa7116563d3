"""Follows the application's notification log and applies it to the read models, exactly once.

Each batch writes its rows and the new position in one transaction, and moves the position only if
it still is where this runner read it (`UPDATE ... WHERE position = :old`): when two processes
race, the loser's transaction changes nothing and it re-reads the position.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.utils import resolve_topic
from sqlalchemy import Connection, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.application import Subventio
from projections.database import ReadStore, tracking
from projections.decoding import EventDecoder
from projections.log import LogReader, collector_paused
from projections.read_models import Handler, Projection, RowSet, default_projections

log = logging.getLogger(__name__)

DEFAULT_NAME = "read_models"


class PositionMoved(Exception):
    """Another process applied this batch first; nothing was written."""


class ProjectionRunner:
    """Applies the notification log to its projections; its position lives in `projection_tracking`."""

    def __init__(self, app: Subventio, read: ReadStore, *, name: str = DEFAULT_NAME,
                 projections: Sequence[Projection] | None = None) -> None:
        self.app = app
        self.read = read
        self.name = name
        self.projections = list(projections) if projections is not None else default_projections()
        self._dispatch: dict[type[Any], list[tuple[Projection, Handler]]] = {}
        for projection in self.projections:
            for cls, handler in projection.handlers().items():
                self._dispatch.setdefault(cls, []).append((projection, handler))
        self._by_topic: dict[str, list[tuple[Projection, Handler]]] = {}
        self.log = LogReader(app.recorder)
        self.decode = EventDecoder(app.mapper)
        self._known: int | None = None  # the stored position as this instance last saw it
        self._lock = threading.Lock()  # one batch at a time per instance (threads of one process)

    # --- position ---------------------------------------------------------------------------

    def position(self) -> int:
        """The last notification id applied (0 when nothing is)."""
        with self.read.begin() as conn:
            stored = conn.execute(select(tracking.c.position).where(tracking.c.name == self.name)).scalar()
        return int(stored or 0)

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)

    def lag(self) -> int:
        """How many notifications are recorded but not yet applied."""
        return max(0, self.head() - self.position())

    def _ensure_row(self, conn: Connection, position: int = 0) -> bool:
        """Creates this runner's tracking row at `position` unless it exists; True if it created it."""
        insert = sqlite_insert if self.read.is_sqlite else pg_insert
        statement = (insert(tracking).values(name=self.name, position=position).on_conflict_do_nothing()
                     .returning(tracking.c.name))
        return conn.execute(statement).first() is not None  # (rowcount is not reliable for INSERT)

    # --- applying ---------------------------------------------------------------------------

    def catch_up(self, limit: int = 500, *, reread: bool = False) -> int:
        """Applies everything recorded up to now; returns how many notifications it consumed.

        With nothing new it costs one query: it starts from the position it last saw (another process
        may have moved it since: then its conditional update fails and it re-reads). `reread` starts
        from the stored position instead.
        """
        consumed = 0
        with self._lock:
            if self._known is None or reread:
                self._known = self.position()
            while True:
                notifications = self.log.page(self._known, limit)
                if not notifications:
                    return consumed
                try:
                    self._apply(notifications, self._known)
                except PositionMoved:
                    self._known = self.position()
                    continue
                consumed += len(notifications)
                if len(notifications) < limit:
                    return consumed

    def _handlers_for(self, topic: str) -> list[tuple[Projection, Handler]]:
        handlers = self._by_topic.get(topic)
        if handlers is None:
            try:
                cls = resolve_topic(topic)
            except Exception:  # noqa: BLE001 - an unknown or removed event type is skipped, not fatal
                log.warning("unknown event topic %s: skipped by the projections", topic)
                cls = None
            handlers = self._dispatch.get(cls, []) if cls is not None else []
            self._by_topic[topic] = handlers
        return handlers

    def _apply(self, notifications: Sequence[Any], old: int) -> None:
        """One transaction: move the position (only from `old`), load the rows, apply, write them."""
        new = notifications[-1].id
        work: list[tuple[Handler, RowSet, Any, str]] = []
        rowsets = {id(p): RowSet(p.table) for p in self.projections}
        keys: dict[int, set[str]] = {id(p): set() for p in self.projections}
        to_domain_event = self.decode
        for notification in notifications:
            handlers = self._handlers_for(notification.topic)
            if not handlers:
                continue
            event = to_domain_event(notification)
            for projection, handler in handlers:
                key = projection.key(event)
                keys[id(projection)].add(key)
                work.append((handler, rowsets[id(projection)], event, key))
        with self.read.write() as conn:
            moved = conn.execute(update(tracking).where(tracking.c.name == self.name, tracking.c.position == old)
                                 .values(position=new)).rowcount
            if not moved and (old != 0 or not self._ensure_row(conn, new)):
                raise PositionMoved  # rolls back: another process applied these events
            for projection in self.projections:
                if keys[id(projection)]:
                    rowsets[id(projection)].load(conn, keys[id(projection)])
            for handler, rows, event, key in work:
                handler(rows, event, key)
            for rows in rowsets.values():
                rows.flush(conn)
        self._known = new

    # --- rebuilding -------------------------------------------------------------------------

    REBUILD_BATCH = 10_000
    """Notifications per transaction when rebuilding: fewer, larger batches cost less (measured on the realistic
    log of bench/seed.py: 10 000 is ~10 % faster than 5 000, which is ~15 % faster than 2 000: fewer row loads,
    rewrites of the same rows, statements and commits); memory stays bounded by one batch."""

    def rebuild(self, progress: Callable[[int], None] | None = None, batch: int = REBUILD_BATCH) -> int:
        """Drops and recreates the read models, then re-applies the whole log; returns the events read.

        The secondary (non-unique) indexes are built once the rows are in, not maintained row by row
        (~10 % less time); they are built again even if the rebuild fails half-way.
        """
        tables = [p.table for p in self.projections]
        indexes = [index for table in tables for index in table.indexes if not index.unique]
        with self._lock:
            with self.read.write() as conn:
                self.read.lock_schema(conn)
                self.read.metadata.drop_all(conn, tables=tables)
                self.read.metadata.create_all(conn, tables=[tracking, *tables])
                for index in indexes:
                    index.drop(conn)
                self._ensure_row(conn)
                conn.execute(update(tracking).where(tracking.c.name == self.name).values(position=0))
            try:
                return self._replay(progress, batch)
            finally:
                with self.read.write() as conn:
                    self.read.lock_schema(conn)
                    for index in indexes:
                        index.create(conn, checkfirst=True)

    def _replay(self, progress: Callable[[int], None] | None, batch: int) -> int:
        self._known = 0
        consumed = 0
        with collector_paused(every=5) as tick:
            while True:
                notifications = self.log.page(self._known, batch)
                if not notifications:
                    return consumed
                try:
                    self._apply(notifications, self._known)
                except PositionMoved:  # another runner is applying the log too: follow it
                    self._known = self.position()
                    continue
                consumed += len(notifications)
                tick()
                if progress is not None:
                    progress(len(notifications))

    # --- running ----------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Polls the log until `stop` is set; a failing batch is logged and retried at the next poll."""
        while not stop.is_set():
            try:
                self.catch_up(reread=True)
            except Exception:
                log.exception("projection runner %s: catch-up failed; retrying", self.name)
            stop.wait(interval)

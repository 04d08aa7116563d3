"""The relay: follows the event log by position and publishes the contracts (workers/contracts.py).

Its position (`relay_position`) moves only after the broker has confirmed every message up to it,
so a crash republishes rather than loses; consumers deduplicate by `message_id`. It also publishes
the scheduled messages (reminders) written to `scheduled_messages`, marking them published after
the confirm. On PostgreSQL one relay leads (advisory lock); others stand by.

With the embedded broker (in memory, gone with the process) a confirm proves nothing: there the
position moves only past messages that the notifier of the same process has finished with
(`InFlight`), so a restart republishes whatever was still in memory.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from kombu import Producer
from sqlalchemy import select, update

from domain.application import Subventio
from domain.errors import NotFound
from projections.database import ReadStore
from workers.broker import Broker, is_connection_error
from workers.contracts import PUBLISHED_TOPICS_PREFIX, ContractError, from_event
from workers.leader import Leader
from workers.tables import load_position, now, scheduled_messages, store_position

log = logging.getLogger("subventio.relay")

CONFIRM_TIMEOUT = 30.0


class InFlight:
    """Embedded broker only: messages published and not yet finished by this process's notifier."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int | None] = {}

    def started(self, message_id: str, position: int | None) -> None:
        with self._lock:
            self._open[message_id] = position

    def finished(self, message_id: str) -> None:
        with self._lock:
            self._open.pop(message_id, None)

    def is_open(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._open

    def low_water(self, cursor: int) -> int:
        """The position below every unfinished message (the cursor when none is open)."""
        with self._lock:
            positions = [p for p in self._open.values() if p is not None]
        return min(positions) - 1 if positions else cursor


class AppLookup:
    """Aggregates for the contract builders, read from the event store."""

    def __init__(self, app: Subventio) -> None:
        self.app = app

    def dossier(self, dossier_id: UUID, version: int | None = None) -> Any:
        if version is None:
            return self.app.repository.get(dossier_id)
        return self.app.repository.get(dossier_id, version=version)

    def applicant(self, applicant_id: UUID) -> Any:
        return self.app.repository.get(applicant_id, deepcopy_from_cache=False)

    def deliberation(self, deliberation_id: UUID) -> Any:
        return self.app.repository.get(deliberation_id, deepcopy_from_cache=False)


class Relay:
    """Event log (and scheduled messages) → broker, at least once, in log order."""

    def __init__(self, app: Subventio, read: ReadStore, broker: Broker, *, name: str = "relay", batch: int = 200,
                 interval: float = 0.2, pace: float = 0.05, in_flight: InFlight | None = None) -> None:
        self.app = app
        self.read = read
        self.broker = broker
        prefix = broker.topology.prefix
        self.name = f"{name}:{prefix}" if prefix else name
        self.batch = batch
        self.interval = interval
        self.pace = pace
        """After a step that found something but less than a batch: a short pause, so the next step takes the
        commands of that pause together (each step costs four queries whatever it publishes; unpaced, a steady
        stream of commands made one step per command or two)."""
        self.in_flight = in_flight
        self.lookup = AppLookup(app)
        self.published = 0
        self._stored: int | None = None
        self._cursor = 0
        self._scheduled_open: dict[str, int] = {}

    # --- loop ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        leader = Leader(self.read, f"relay:{self.name}")
        backoff = 0.5
        try:
            while not stop.is_set():
                if not leader.acquire():
                    stop.wait(2.0)
                    continue
                try:
                    with self.broker.connection() as conn:
                        conn.connect()
                        channel = conn.channel()
                        self.broker.topology.declare(channel)
                        producer = Producer(channel, exchange=self.broker.topology.events, serializer="json")
                        backoff = 0.5
                        log.info("relay %s: publishing to %s from position %d", self.name, self.broker.describe(),
                                 self.position())
                        while not stop.is_set() and leader.acquire():
                            read = self.step(producer)
                            if read < self.batch:  # caught up (a full batch: more may be waiting, go on)
                                stop.wait(self.pace if read else self.interval)
                except Exception as exc:  # log, back off, reconnect; resume from the stored position
                    log.warning("relay %s: %s: %s; retrying in %.1f s", self.name, type(exc).__name__, exc, backoff,
                                exc_info=not is_connection_error(exc))
                    self._stored = None  # re-read the position: what was not confirmed is published again
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            leader.release()

    @property
    def cursor(self) -> int:
        """The last log position published (the stored position may lag it on the embedded broker)."""
        return self._cursor

    def position(self) -> int:
        """The stored position: every message up to it is confirmed (or, embedded, finished)."""
        if self._stored is None:
            self._stored = load_position(self.read, self.name)
            self._cursor = self._stored
        return self._stored

    # --- one step -----------------------------------------------------------------------------

    def step(self, producer: Producer) -> int:
        """Publishes the next batch, waiting for each confirm, then moves the position; returns what it read."""
        self.position()
        notifications = self.app.recorder.select_notifications(self._cursor, self.batch, inclusive_of_start=False)
        for notification in notifications:
            if not notification.topic.startswith(PUBLISHED_TOPICS_PREFIX):
                continue
            body = self._build(notification)
            if body is None:
                continue
            if self.in_flight is not None:
                self.in_flight.started(body["message_id"], notification.id)
            self._publish(producer, body, {"x-position": notification.id})
        if notifications:
            self._cursor = notifications[-1].id
        scheduled = self._publish_scheduled(producer)
        self._save()
        return len(notifications) + scheduled

    def _build(self, notification: Any) -> dict[str, Any] | None:
        event = self.app.mapper.to_domain_event(notification)
        try:
            return from_event(event, self.lookup)
        except (ContractError, NotFound, AggregateNotFoundError, LookupError, AttributeError, TypeError,
                ValueError):
            # A message that cannot be built would stop every later one: log it loudly and go on.
            log.exception("relay %s: no message for event %s (position %d); skipped",
                          self.name, notification.topic, notification.id)
            return None

    def _publish(self, producer: Producer, body: dict[str, Any], headers: dict[str, Any]) -> None:
        producer.publish(body, routing_key=body["type"], exchange=self.broker.topology.events,
                         message_id=body["message_id"], delivery_mode=2, headers=headers, serializer="json",
                         confirm_timeout=CONFIRM_TIMEOUT, retry=False)
        self.published += 1

    def _publish_scheduled(self, producer: Producer) -> int:
        t = scheduled_messages
        with self.read.begin() as conn:
            rows = conn.execute(select(t.c.id, t.c.message_id, t.c.body).where(t.c.published_at.is_(None))
                                .order_by(t.c.id).limit(self.batch)).all()
        done: list[int] = []
        published = 0
        for row_id, message_id, body in rows:
            if self.in_flight is not None:
                if message_id in self._scheduled_open:
                    continue
                self.in_flight.started(message_id, None)
                self._scheduled_open[message_id] = row_id
            self._publish(producer, body, {})
            published += 1
            if self.in_flight is None:
                done.append(row_id)
        if self.in_flight is not None:
            finished = [m for m in self._scheduled_open if not self.in_flight.is_open(m)]
            done += [self._scheduled_open.pop(m) for m in finished]
        if done:
            with self.read.write() as conn:
                conn.execute(update(t).where(t.c.id.in_(done)).values(published_at=now()))
        return published

    def _save(self) -> None:
        stored = self.position()
        target = self.in_flight.low_water(self._cursor) if self.in_flight is not None else self._cursor
        if target == stored:
            return
        if store_position(self.read, self.name, stored, target):
            self._stored = target
        else:
            log.warning("relay %s: another relay moved the position; following it", self.name)
            self._stored = None

"""The notifier: consumes `subventio.notifications`, mails the applicant in French, then acknowledges.

- A message is acknowledged only after the SMTP server accepted the mail (or it was sent before).
- `sent_notifications` holds one row per answered message id, written in the same transaction as
  the `notifications` row and committed the moment the mail is handed over (see workers/mail.py):
  a redelivery, a republished duplicate, or a copy held by another notifier process sends nothing.
- A failure is retried after 1, 5, 30, 120 s while the message stays unacknowledged (its prefetch
  slot is the back-pressure); the 5th failure, a permanent refusal (5xx) or a message that breaks
  its contract goes to `subventio.dead`.
- Several notifier processes may consume the same queue (competing consumers).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kombu import Consumer, Producer
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from projections.database import ReadStore
from projections.notifications import notifications
from workers.broker import DEAD_ROUTING_KEY, Broker, is_connection_error
from workers.contracts import ContractError, validate
from workers.mail import Mail, Mailer, MailError, masked
from workers.render import Renderer
from workers.tables import now, sent_notifications

log = logging.getLogger("subventio.notifier")

RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0)
MAX_ATTEMPTS = 5


class AlreadySent(Exception):
    """Another delivery of the same message recorded its mail first."""


class _Record:
    """The handover of one mail on one connection: claims the message id when the server is ready to take
    the message, commits the moment the whole message is handed over."""

    def __init__(self, read: ReadStore, conn: Connection, mail: Mail) -> None:
        self.read = read
        self.conn = conn
        self.mail = mail
        self.committed = False

    def _driver(self) -> Any:
        return self.conn.connection.driver_connection

    def prepare(self) -> None:
        insert_ignore = sqlite_insert if self.read.is_sqlite else pg_insert
        sent_at = now()
        if self.read.is_sqlite:
            # The write lock is taken here, after DATA's 354, and held only while the body is written; and
            # no checkpoint inside commit(): it would widen the window in which a crash sends twice.
            self.conn.execution_options(sqlite_begin="IMMEDIATE")
            self._driver().execute("PRAGMA wal_autocheckpoint=0")
        self.conn.begin()
        # On PostgreSQL a concurrent, uncommitted claim of the same id makes this wait for its outcome.
        claimed = self.conn.execute(insert_ignore(sent_notifications).values(
            message_id=self.mail.message_id, kind=self.mail.kind, sent_at=sent_at).on_conflict_do_nothing()
            .returning(sent_notifications.c.message_id)).first()
        if claimed is None:
            raise AlreadySent(self.mail.message_id)
        self.conn.execute(insert(notifications).values(
            message_id=self.mail.message_id, dossier_id=self.mail.dossier_id, kind=self.mail.kind,
            to=self.mail.to, subject=self.mail.subject, sent_at=sent_at))

    def commit(self) -> None:
        """Runs between the final dot leaving and the server's verdict: the driver's commit and nothing else."""
        self._driver().commit()
        self.committed = True
        self.conn.commit()  # SQLAlchemy's bookkeeping; the driver has nothing left to commit

    def close(self) -> None:
        if self.conn.invalidated:
            return
        self.conn.rollback()  # what was not committed
        if self.read.is_sqlite:
            self._driver().execute("PRAGMA wal_autocheckpoint=1000")
            self.conn.execution_options(sqlite_begin="")


class Ledger:
    """Which messages have been answered with a mail (`sent_notifications`), and the mails (`notifications`)."""

    def __init__(self, read: ReadStore) -> None:
        self.read = read

    @staticmethod
    def _sent(conn: Connection, message_id: str) -> bool:
        found = conn.execute(select(sent_notifications.c.message_id)
                             .where(sent_notifications.c.message_id == message_id)).first()
        conn.rollback()  # end the read: the claim is a transaction of its own
        return found is not None

    def was_sent(self, message_id: str) -> bool:
        with self.read.engine.connect() as conn:
            return self._sent(conn, message_id)

    def deliver(self, mail: Mail, mailer: Mailer) -> bool:
        """Sends the mail unless its message was answered before; True if it was sent now."""
        with self.read.engine.connect() as conn:
            if self._sent(conn, mail.message_id):
                return False
            record = _Record(self.read, conn, mail)
            try:
                mailer.send(mail, record)
                return True
            except AlreadySent:
                return False
            except BaseException:
                if record.committed:  # handed over, then refused: it was not sent after all
                    self.forget(mail.message_id)
                raise
            finally:
                record.close()

    def forget(self, message_id: str) -> None:
        with self.read.write() as conn:
            conn.execute(delete(notifications).where(notifications.c.message_id == message_id))
            conn.execute(delete(sent_notifications).where(sent_notifications.c.message_id == message_id))


@dataclass(order=True)
class _Retry:
    due: float
    seq: int
    attempt: int
    body: Any = None
    message: Any = None


@dataclass
class Counters:
    sent: int = 0
    duplicates: int = 0
    ignored: int = 0
    retried: int = 0
    dead: int = 0


class Notifier:
    """Broker → mail; `run(stop)` consumes until `stop` is set, reconnecting whenever the broker goes away."""

    def __init__(self, broker: Broker, read: ReadStore, mailer: Mailer, *, renderer: Renderer | None = None,
                 prefetch: int = 10, max_attempts: int = MAX_ATTEMPTS,
                 retry_delays: Sequence[float] = RETRY_DELAYS,
                 on_finished: Callable[[str], None] | None = None) -> None:
        self.broker = broker
        self.ledger = Ledger(read)
        self.mailer = mailer
        self.renderer = renderer or Renderer()
        self.prefetch = prefetch
        self.max_attempts = max_attempts
        self.retry_delays = tuple(retry_delays)
        self.on_finished = on_finished
        self.counters = Counters()
        self.connected = threading.Event()
        self._retries: list[_Retry] = []
        self._seq = itertools.count()
        self._dead_connection: Any = None

    # --- loop ---------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                with self.broker.connection() as conn:
                    conn.connect()
                    backoff = 0.5
                    self._consume(conn, stop)
            except Exception as exc:  # any failure: log, back off, reconnect; unacked messages return
                log.warning("notifier: %s: %s; reconnecting in %.1f s", type(exc).__name__, exc, backoff,
                            exc_info=not is_connection_error(exc))
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.connected.clear()
                self._retries.clear()  # their deliveries died with the channel: the broker redelivers them
                self._close_dead_connection()
        self.mailer.close()

    def _consume(self, conn: Any, stop: threading.Event) -> None:
        channel = conn.channel()
        self.broker.topology.declare(channel)
        consumer = Consumer(channel, queues=[self.broker.topology.notifications], callbacks=[self._on_message],
                            accept=["json"], prefetch_count=self.prefetch, on_decode_error=self._on_decode_error)
        with consumer:
            self.connected.set()
            log.info("notifier: consuming %s on %s", self.broker.topology.notifications.name, self.broker.describe())
            while not stop.is_set():
                self._retry_due()
                with contextlib.suppress(TimeoutError):
                    conn.drain_events(timeout=self._next_wait())

    def _next_wait(self) -> float:
        if not self._retries:
            return 0.25
        return max(0.0, min(0.25, self._retries[0].due - time.monotonic())) or 0.001

    # --- one message --------------------------------------------------------------------------

    def _on_message(self, body: Any, message: Any) -> None:
        self._handle(body, message, attempt=1)

    def _handle(self, body: Any, message: Any, attempt: int) -> None:
        message_id = message.properties.get("message_id") or (
            body.get("message_id", "?") if isinstance(body, dict) else "?")
        try:
            body = validate(body)
        except ContractError as exc:
            self._dead_letter(body, message, f"contract: {exc}", attempt)
            return
        if Renderer.kind_of(body) is None:
            self.counters.ignored += 1
            self._ack(message, message_id)
            return
        try:
            mail = self.renderer.render(body)
            sent = self.ledger.deliver(mail, self.mailer)
        except MailError as exc:
            if not exc.temporary:
                self._dead_letter(body, message, f"refused: {exc}", attempt)
            else:
                self._retry_later(body, message, attempt, exc)
            return
        except Exception as exc:  # a template, database or unexpected error: retried, then dead
            log.exception("notifier: %s failed", message_id)
            self._retry_later(body, message, attempt, exc)
            return
        if sent:
            self.counters.sent += 1
            log.info("notifier: %s mail sent to %s (%s)", mail.kind, masked(mail.to), message_id)
        else:
            self.counters.duplicates += 1
            log.info("notifier: %s already answered; not sent again", message_id)
        self._ack(message, message_id)

    def _ack(self, message: Any, message_id: str) -> None:
        message.ack()
        if self.on_finished is not None:
            self.on_finished(message_id)

    def _retry_later(self, body: Any, message: Any, attempt: int, exc: BaseException) -> None:
        if attempt >= self.max_attempts:
            self._dead_letter(body, message, f"{attempt} attempts; last: {exc}", attempt)
            return
        delay = self.retry_delays[min(attempt - 1, len(self.retry_delays) - 1)] if self.retry_delays else 0.0
        self.counters.retried += 1
        log.warning("notifier: %s attempt %d failed (%s); retrying in %.1f s",
                    body.get("message_id"), attempt, exc, delay)
        heapq.heappush(self._retries, _Retry(time.monotonic() + delay, next(self._seq), attempt + 1, body, message))

    def _retry_due(self) -> None:
        while self._retries and self._retries[0].due <= time.monotonic():
            retry = heapq.heappop(self._retries)
            self._handle(retry.body, retry.message, retry.attempt)

    # --- dead letters -------------------------------------------------------------------------

    def _dead_letter(self, body: Any, message: Any, reason: str, attempts: int) -> None:
        """Publishes the message to `subventio.dead` with the reason, then acknowledges it."""
        message_id = message.properties.get("message_id") or "?"
        log.error("notifier: %s dead-lettered: %s", message_id, reason)
        try:
            if self._dead_connection is None:
                self._dead_connection = self.broker.connection()
            producer = Producer(self._dead_connection.default_channel)
            producer.publish(body, exchange=self.broker.topology.dead_exchange, routing_key=DEAD_ROUTING_KEY,
                             serializer="json", delivery_mode=2, message_id=message_id, confirm_timeout=30,
                             headers={"x-error": reason[:1000], "x-attempts": attempts,
                                      "x-original-routing-key": message.delivery_info.get("routing_key", "")})
        except Exception:  # fall back on the queue's own dead-letter exchange
            log.exception("notifier: could not publish %s to the dead-letter queue; rejecting it", message_id)
            self._close_dead_connection()
            message.reject(requeue=False)
        else:
            message.ack()
        self.counters.dead += 1
        if self.on_finished is not None:
            self.on_finished(message_id)

    def _on_decode_error(self, message: Any, exc: Exception) -> None:
        log.error("notifier: undecodable message %s (%s): rejected to the dead-letter queue",
                  message.properties.get("message_id"), exc)
        message.reject(requeue=False)
        self.counters.dead += 1
        if self.on_finished is not None:
            self.on_finished(message.properties.get("message_id") or "?")

    def _close_dead_connection(self) -> None:
        if self._dead_connection is not None:
            try:
                self._dead_connection.close()
            except Exception:  # closing a broken connection
                log.debug("notifier: closing the dead-letter connection failed", exc_info=True)
            self._dead_connection = None

"""The scheduler: once a day, the deadlines. Lapses and terminations are commands (`Subventio.tick`);
report reminders (30 and 7 days before the due date) are messages written to `scheduled_messages`,
which the relay publishes.

A reminder is due on its day or within the `CATCH_UP_DAYS` after it, so a scheduler that was down
for a few days still sends it (late rather than never); its message id
(`reminder:<dossier>:<due date>:<days>`) makes every later run a no-op for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.applicant import Applicant
from domain.application import Subventio
from domain.dossier import Dossier
from domain.errors import NotFound
from projections.database import ReadStore
from workers.contracts import REMINDER_DAYS, report_reminder
from workers.leader import Leader
from workers.tables import now, scheduled_messages

log = logging.getLogger("subventio.scheduler")

PARIS = ZoneInfo("Europe/Paris")
CATCH_UP_DAYS = 7
REMINDABLE = ("granted", "convention_drafted", "convention_signed")
"""A report can still be missing: the grant is neither settled, ended nor has its report."""


def reminders_due(dossier: Any, today: date, catch_up_days: int = CATCH_UP_DAYS) -> list[tuple[date, int]]:
    """(due date, days before) of the reminders this dossier should have had by `today`."""
    if dossier.status not in REMINDABLE or dossier.report or not dossier.convention:
        return []
    due: date | None = dossier.convention.get("report_due_on")
    if due is None or today > due:
        return []
    found = []
    for index, days in enumerate(REMINDER_DAYS):
        send_on = due - timedelta(days=days)
        later = REMINDER_DAYS[index + 1] if index + 1 < len(REMINDER_DAYS) else None
        superseded = later is not None and today >= due - timedelta(days=later)
        if send_on <= today <= send_on + timedelta(days=catch_up_days) and not superseded:
            found.append((due, days))
    return found


def remind(app: Subventio, read: ReadStore, today: date, dossier_ids: Iterable[UUID], *,
           catch_up_days: int = CATCH_UP_DAYS) -> list[str]:
    """Writes the reminders due `today` to the outbox; returns the message ids that were new."""
    rows = []
    recorded_at = now()
    for dossier_id in dossier_ids:
        try:
            dossier = app.load(Dossier, dossier_id, what="Dossier", read_only=True)
        except NotFound:
            continue
        for due, days in reminders_due(dossier, today, catch_up_days):
            applicant = app.load(Applicant, dossier.applicant_id, what="Porteur", read_only=True)
            body = report_reminder(dossier, applicant, due=due, days_before=days, today=today,
                                   recorded_at=recorded_at)
            rows.append({"message_id": body["message_id"], "routing_key": body["type"], "body": body,
                         "created_at": recorded_at, "published_at": None})
    if not rows:
        return []
    insert_ignore = sqlite_insert if read.is_sqlite else pg_insert
    created = []
    with read.write() as conn:
        for row in rows:
            inserted = conn.execute(insert_ignore(scheduled_messages).values(**row).on_conflict_do_nothing()
                                    .returning(scheduled_messages.c.message_id)).first()
            if inserted is not None:  # (rowcount is not reliable for INSERT … ON CONFLICT DO NOTHING)
                created.append(row["message_id"])
    return created


class Scheduler:
    """Runs the day's deadlines at start-up and then once a day after `at` (Paris time)."""

    def __init__(self, app: Subventio, read: ReadStore, *, dossier_ids: Callable[[], Iterable[UUID]],
                 catch_up: Callable[[], Any], today: Callable[[], date], at: clock = clock(6, 0),
                 interval: float = 30.0) -> None:
        self.app = app
        self.read = read
        self.dossier_ids = dossier_ids
        self.catch_up = catch_up
        self.today = today
        self.at = at
        self.interval = interval
        self.last_run: date | None = None

    def tick(self, today: date) -> dict[str, list[str]]:
        """The deadline run of one day: lapses and terminations (commands), then reminders (messages)."""
        self.catch_up()
        done = self.app.tick(today, list(self.dossier_ids()))
        self.catch_up()
        done["reminders"] = remind(self.app, self.read, today, list(self.dossier_ids()))
        log.info("scheduler: %s: %d lapsed, %d terminated, %d reminders", today, len(done["lapsed"]),
                 len(done["terminated"]), len(done["reminders"]))
        return done

    def _due(self, today: date) -> bool:
        if self.last_run is None:
            return True  # at start-up: catch up at once
        return today != self.last_run and datetime.now(UTC).astimezone(PARIS).time() >= self.at

    def run(self, stop: threading.Event) -> None:
        leader = Leader(self.read, "scheduler")
        try:
            while not stop.is_set():
                today = self.today()
                if leader.acquire() and self._due(today):
                    try:
                        self.tick(today)
                        self.last_run = today
                    except Exception:  # the run is idempotent: log and try again at the next wake-up
                        log.exception("scheduler: the run of %s failed; retrying", today)
                stop.wait(self.interval)
        finally:
            leader.release()

"""subventio.PostgresRecorder: eventsourcing's inserts in one locked statement, with eventsourcing's guarantees.

PostgreSQL only (on SQLite the store inserts with eventsourcing's own statements): the table lock that keeps
notification ids in commit order, the ids returned, all-or-nothing batches, the duplicate version refused as
eventsourcing's IntegrityError, and the NOTIFY on the recorder's channel.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from tests.conftest import BACKEND


@pytest.fixture
def recorder(app: Any) -> Any:
    if BACKEND != "postgres":
        pytest.skip("PostgreSQL only: the SQLite store inserts with eventsourcing's own statements")
    return app.recorder


def raw_connection(app: Any) -> Any:
    import psycopg

    d = app.recorder.datastore
    conn = psycopg.connect(host=d.pool.kwargs["host"], port=d.pool.kwargs["port"], user=d.pool.kwargs["user"],
                           password=d.pool.kwargs["password"] or None, dbname=d.pool.kwargs["dbname"],
                           autocommit=True, options=f"-csearch_path={d.schema}")
    return conn


def events(n: int, version: int = 1) -> list[StoredEvent]:
    return [StoredEvent(uuid.uuid4(), version, "tests:Event", os.urandom(64)) for _ in range(n)]


def test_the_store_uses_it_and_it_returns_the_ids_it_gave(app, recorder):
    assert type(recorder).__name__ == "PostgresRecorder"
    ids = recorder.insert_events(events(3))
    stored = recorder.select_notifications(ids[0], 10)
    assert [n.id for n in stored] == ids == sorted(ids)
    assert recorder.insert_events([]) is None


def test_a_batch_with_a_duplicate_version_is_refused_whole(app, recorder):
    first = events(1)
    recorder.insert_events(first)
    head = recorder.max_notification_id()
    with pytest.raises(IntegrityError):
        recorder.insert_events([*events(2), first[0]])
    assert recorder.max_notification_id() == head


def test_an_insert_takes_the_exclusive_table_lock(app, recorder):
    """The lock that makes ids commit in order. ROW SHARE (what SELECT … FOR UPDATE takes) lets a plain INSERT
    through but conflicts with EXCLUSIVE: the insert waits only because it takes the table lock first."""
    holder = raw_connection(app)
    done: list[Any] = []
    try:
        holder.execute("BEGIN")
        holder.execute(f'LOCK TABLE "{recorder.events_table_name}" IN ROW SHARE MODE')
        writer = threading.Thread(target=lambda: done.append(recorder.insert_events(events(1))))
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive() and not done
        holder.execute("COMMIT")
        writer.join(timeout=10)
        assert done and done[0]
    finally:
        holder.close()


def test_listeners_of_the_recorders_channel_are_notified(app, recorder):
    listener = raw_connection(app)
    try:
        listener.execute(f'LISTEN "{recorder.channel_name}"')
        recorder.insert_events(events(1))
        received = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in received] == [recorder.channel_name]
    finally:
        listener.close()

"""projections.log.LogReader reads exactly what the recorder's select_notifications returns (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.log import LogReader
from tests.unit.factories import APPLICANT, INSTRUCTOR, applicant, attach, ctx, dossier, programme, sworn


def as_tuple(n: Any) -> tuple[Any, ...]:
    return (n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state))


def test_pages_are_the_recorders_own(app):
    prog = programme(app)
    owner = applicant(app)
    for _ in range(3):
        d = dossier(app, prog, owner)
        attach(app, d.id, "statuts", "rib")
        app.submit_dossier(ctx(APPLICANT), d.id, sworn_statement=sworn())
        app.instruct_dossier(ctx(INSTRUCTOR), d.id, opinion="favourable", proposed_amount=Decimal("7000.00"),
                             eligible_cost=Decimal("18695.00"))
    reader = LogReader(app.recorder)
    assert reader._page != reader._generic, "the store's own query is used, not the generic fallback"
    head = app.recorder.max_notification_id()
    expected = [as_tuple(n) for n in app.recorder.select_notifications(0, 1000, inclusive_of_start=False)]
    assert len(expected) == head > 20
    assert [as_tuple(e) for e in reader.entries(batch=7)] == expected
    assert [as_tuple(e) for e in reader.entries(5, 12, batch=3)] == [t for t in expected if 5 < t[0] <= 12]
    assert [as_tuple(e) for e in reader.page(head - 2, 10)] == expected[-2:]
    assert reader.page(head, 10) == []
    assert type(reader.page(0, 1)[0].originator_id) is type(expected[0][1])


def test_version_is_the_last_stored_version_and_survives_lost_prepared_statements(app):
    prog = programme(app)
    owner = applicant(app)
    d = dossier(app, prog, owner)
    reader = LogReader(app.recorder)
    stored = app.recorder.select_events(d.id, desc=True, limit=1)[0].originator_version
    assert reader.version(d.id) == stored > 0
    attach(app, d.id, "statuts", "rib")
    assert reader.version(d.id) == stored + 2
    assert reader.version(prog.id) == app.recorder.select_events(prog.id, desc=True, limit=1)[0].originator_version
    from uuid import uuid4

    assert reader.version(uuid4()) == 0
    if type(app.recorder).__name__ == "PostgresRecorder":  # the statement is prepared per connection, by name
        pool = app.recorder.datastore.pool
        for _ in range(pool.get_stats().get("pool_size", 1) + 1):
            with pool.connection() as conn:
                conn.execute("DEALLOCATE ALL")  # (as a connection reset by a pooler would)
        assert reader.version(d.id) == stored + 2
        other = LogReader(app.recorder)  # a second reader of the same table shares the statement's name
        assert other.version(d.id) == stored + 2 and other._version_name == reader._version_name

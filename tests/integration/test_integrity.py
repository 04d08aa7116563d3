"""Tamper tests on the real store (SQLite file or PostgreSQL table): verify names the broken event."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.application import Subventio
from tests.unit.factories import APPLICANT, INSTRUCTOR, applicant, attach, ctx, dossier, programme, sworn


@pytest.fixture
def store(settings: Any) -> Iterator[tuple[Subventio, Any]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Subventio(env=settings.event_store_env())
    yield app, settings
    app.close()


@contextmanager
def raw(settings: Any) -> Iterator[tuple[Any, str, str]]:
    """A raw connection to the event table: (connection, table, placeholder)."""
    if settings.is_postgres:
        import psycopg

        url = settings.database_url.split("?")[0]
        with psycopg.connect(url, autocommit=True,
                             options=f"-csearch_path={settings.database_schema}") as conn:
            yield conn, "subventio_events", "%s"
    else:
        conn = sqlite3.connect(settings.data_dir / "events.sqlite")
        try:
            yield conn, "stored_events", "?"
            conn.commit()
        finally:
            conn.close()


def full_dossier(app: Subventio) -> Any:
    prog = programme(app)
    d = dossier(app, prog, applicant(app))
    attach(app, d.id, "statuts", "rib")
    app.submit_dossier(ctx(APPLICANT), d.id, sworn_statement=sworn())
    app.instruct_dossier(ctx(INSTRUCTOR, date(2025, 6, 3)), d.id, opinion="favourable",
                         proposed_amount=Decimal("7000.00"), eligible_cost=Decimal("18695.00"))
    return d


def rows(conn: Any, table: str, ph: str, dossier_id: Any) -> list[tuple[int, bytes, str]]:
    cur = conn.execute(f"SELECT originator_version, state, topic FROM {table} WHERE originator_id={ph} "
                       "ORDER BY originator_version", (key(ph, dossier_id),))
    return [(int(v), bytes(s), t) for v, s, t in cur.fetchall()]


def key(ph: str, dossier_id: Any) -> Any:
    return dossier_id.hex if ph == "?" else dossier_id


def set_state(conn: Any, table: str, ph: str, dossier_id: Any, version: int, state: bytes) -> None:
    conn.execute(f"UPDATE {table} SET state={ph} WHERE originator_id={ph} AND originator_version={ph}",
                 (state, key(ph, dossier_id), version))


def test_untouched_store_verifies(store):
    app, _ = store
    full_dossier(app)
    result = app.verify_chains()
    assert result.ok and result.first_broken is None
    assert result.events_checked == app.recorder.max_notification_id()


def test_changed_payload_is_named(store):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        version, state, _ = next(r for r in rows(conn, table, ph, d.id) if b"7000.00" in r[1])
        set_state(conn, table, ph, d.id, version, state.replace(b"7000.00", b"7900.00"))
    result = app.verify_chains()
    assert not result.ok
    assert result.first_broken.aggregate_id == str(d.id)
    assert result.first_broken.version == version
    assert "hash" in result.first_broken.reason


def test_changed_metadata_is_named(store):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        version, state, _ = rows(conn, table, ph, d.id)[2]
        document = json.loads(state)
        document["effective_on"] = {"_type_": "date_iso", "_data_": "2020-01-01"}
        set_state(conn, table, ph, d.id, version, json.dumps(document).encode())
    broken = app.verify_chains().first_broken
    assert (broken.aggregate_id, broken.version) == (str(d.id), version)


def test_removed_event_is_named(store):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        conn.execute(f"DELETE FROM {table} WHERE originator_id={ph} AND originator_version=2",
                     (key(ph, d.id),))
    broken = app.verify_chains().first_broken
    assert broken.aggregate_id == str(d.id)
    assert broken.version == 3
    assert "missing" in broken.reason


def test_swapped_events_are_named(store):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        chain = rows(conn, table, ph, d.id)
        (v2, s2, _), (v3, s3, _) = chain[1], chain[2]
        set_state(conn, table, ph, d.id, v2, s3)
        set_state(conn, table, ph, d.id, v3, s2)
    broken = app.verify_chains().first_broken
    assert (broken.aggregate_id, broken.version) == (str(d.id), 2)


def test_forged_event_inserted_in_the_middle_is_named(store):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        chain = rows(conn, table, ph, d.id)
        last = chain[-1][0]
        # Make room after version 2 by moving the tail up one version, then insert a forged copy.
        for version, _state, _ in reversed(chain[2:]):
            conn.execute(f"DELETE FROM {table} WHERE originator_id={ph} AND originator_version={ph}",
                         (key(ph, d.id), version))
        forged = chain[1][1].replace(b'"Rib"', b'"Faux"')
        inserts = [(3, forged, chain[1][2])] + [(v + 1, s, t) for v, s, t in chain[2:]]
        for version, state, topic in inserts:
            conn.execute(f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
                         f"VALUES ({ph},{ph},{ph},{ph})", (key(ph, d.id), version, topic, state))
        assert len(rows(conn, table, ph, d.id)) == last + 1
    broken = app.verify_chains().first_broken
    assert broken is not None
    assert broken.aggregate_id == str(d.id)
    assert broken.version == 3


def test_a_seal_detects_the_truncation_of_a_chain(store):
    from domain.values import Actor, Ctx

    app, settings = store
    d = full_dossier(app)
    day = date(2025, 6, 30)
    app.seal(Ctx(Actor("Contrôle interne", "auditor"), day, day), day)
    assert app.verify_seal(day)["ok"]
    with raw(settings) as (conn, table, ph):
        last = rows(conn, table, ph, d.id)[-1][0]
        conn.execute(f"DELETE FROM {table} WHERE originator_id={ph} AND originator_version={ph}",
                     (key(ph, d.id), last))
    assert app.verify_chains().ok  # the chain alone cannot see that its last event is gone
    report = app.verify_seal(day)
    assert not report["ok"]
    assert report["recomputed_root"] != report["sealed_root"]

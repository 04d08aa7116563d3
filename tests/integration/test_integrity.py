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
from projections.integrity import verify
from tests.unit.factories import APPLICANT, INSTRUCTOR, applicant, attach, ctx, dossier, programme, sworn


def parallel(app: Subventio) -> Any:
    """The CLI's and API's check, forced to cut even this small log into three segments walked by three processes."""
    return verify(app, workers=3, parallel_from=6)


CHECKS = {"reference": Subventio.verify_chains, "fast": lambda app: verify(app, workers=1), "parallel": parallel}


@pytest.fixture(params=list(CHECKS))
def check(request: Any) -> Any:
    """Each tamper test runs against the domain's reference walk and against projections.integrity.verify."""
    return CHECKS[request.param]


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


def test_untouched_store_verifies(store, check):
    app, _ = store
    full_dossier(app)
    result = check(app)
    assert result.ok and result.first_broken is None
    assert result.events_checked == app.recorder.max_notification_id()


def test_changed_payload_is_named(store, check):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        version, state, _ = next(r for r in rows(conn, table, ph, d.id) if b"7000.00" in r[1])
        set_state(conn, table, ph, d.id, version, state.replace(b"7000.00", b"7900.00"))
    result = check(app)
    assert not result.ok
    assert result.first_broken.aggregate_id == str(d.id)
    assert result.first_broken.version == version
    assert "hash" in result.first_broken.reason


def test_changed_metadata_is_named(store, check):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        version, state, _ = rows(conn, table, ph, d.id)[2]
        document = json.loads(state)
        document["effective_on"] = {"_type_": "date_iso", "_data_": "2020-01-01"}
        set_state(conn, table, ph, d.id, version, json.dumps(document).encode())
    broken = check(app).first_broken
    assert (broken.aggregate_id, broken.version) == (str(d.id), version)


def test_removed_event_is_named(store, check):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        conn.execute(f"DELETE FROM {table} WHERE originator_id={ph} AND originator_version=2",
                     (key(ph, d.id),))
    broken = check(app).first_broken
    assert broken.aggregate_id == str(d.id)
    assert broken.version == 3
    assert "missing" in broken.reason


def test_swapped_events_are_named(store, check):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        chain = rows(conn, table, ph, d.id)
        (v2, s2, _), (v3, s3, _) = chain[1], chain[2]
        set_state(conn, table, ph, d.id, v2, s3)
        set_state(conn, table, ph, d.id, v3, s2)
    broken = check(app).first_broken
    assert (broken.aggregate_id, broken.version) == (str(d.id), 2)


def test_forged_event_inserted_in_the_middle_is_named(store, check):
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
    broken = check(app).first_broken
    assert broken is not None
    assert broken.aggregate_id == str(d.id)
    assert broken.version == 3


def test_a_seal_detects_the_truncation_of_a_chain(store, check):
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
    assert check(app).ok  # the chain alone cannot see that its last event is gone
    report = app.verify_seal(day)
    assert not report["ok"]
    assert report["recomputed_root"] != report["sealed_root"]


# --- the fast check's verdict is the reference's, whatever was done to the stored JSON ---------------------------


def _reformatted(state: bytes) -> bytes:
    return json.dumps(json.loads(state), indent=2, ensure_ascii=True).encode()  # same values, other text


def _edit(change: Any) -> Any:
    def edit(state: bytes) -> bytes:
        document = json.loads(state)
        change(document)
        return json.dumps(document, ensure_ascii=False).encode()

    return edit


def _upper_uuid(d: dict[str, Any]) -> None:
    d["programme_id"]["_data_"] = d["programme_id"]["_data_"].upper()


def _actor_extra(d: dict[str, Any]) -> None:
    d["actor"]["_data_"]["extra"] = "x"


def _plain_timestamp(d: dict[str, Any]) -> None:
    d["timestamp"] = d["timestamp"]["_data_"]


def _unknown_transcoding(d: dict[str, Any]) -> None:
    d["total_budget"] = {"_type_": "money_cents", "_data_": 1869500}


def _class_version(d: dict[str, Any]) -> None:
    d["class_version"] = 1


def _injected_envelope(d: dict[str, Any]) -> None:
    d["originator_id"] = "not the row's"
    d["originator_version"] = 99


def _transcoding_in_a_list(d: dict[str, Any]) -> None:
    d["project_name"] = [{"_type_": "decimal_str", "_data_": "1.00"}]


# (name, version of the dossier's event changed, change): each is judged alike by the reference and the fast check.
MUTATIONS = [
    ("same values, other text", 1, _reformatted),
    ("upper-case UUID hex", 1, _edit(_upper_uuid)),
    ("decimal written otherwise", 1, lambda s: s.replace(b'"18695.00"', b'"18695.0"')),
    ("decimal with blanks", 1, lambda s: s.replace(b'"18695.00"', b'" 18695.00 "')),
    ("actor with an extra field", 1, _edit(_actor_extra)),
    ("instant not transcoded", 1, _edit(_plain_timestamp)),
    ("unknown transcoding", 1, _edit(_unknown_transcoding)),
    ("class_version written", 1, _edit(_class_version)),
    ("envelope keys injected", 1, _edit(_injected_envelope)),
    ("transcoded value in a list", 1, _edit(_transcoding_in_a_list)),
    ("escaped non-ASCII", 1, lambda s: s.replace("É".encode(), b"\\u00c9")),
    ("lone surrogate escape", 1, lambda s: s.replace("É".encode(), b"\\ud800")),
    ("float for an integer", 2, lambda s: s.replace(b'"size":1234', b'"size":1234.0')),
    ("NaN for an integer", 2, lambda s: s.replace(b'"size":1234', b'"size":NaN')),
    ("huge integer", 2, lambda s: s.replace(b'"size":1234', b'"size":' + b"9" * 30)),
    ("duplicate key, original last", 2, lambda s: s.replace(b'"size":1234', b'"size":5,"size":1234')),
    ("duplicate key, original first", 2, lambda s: s.replace(b'"size":1234', b'"size":1234,"size":5')),
    ("not JSON", 2, lambda s: s[:-1]),
    ("not UTF-8", 2, lambda s: s.replace(b'"size"', b'"\xff\xfe"')),
]


@pytest.mark.parametrize(("version", "mutate"), [(v, m) for _, v, m in MUTATIONS], ids=[n for n, _, _ in MUTATIONS])
def test_the_fast_check_judges_a_changed_event_as_the_reference_does(store, version, mutate):
    app, settings = store
    d = full_dossier(app)
    with raw(settings) as (conn, table, ph):
        state = next(s for v, s, _ in rows(conn, table, ph, d.id) if v == version)
        set_state(conn, table, ph, d.id, version, mutate(state))
    reference = app.verify_chains().as_dict()
    assert verify(app, workers=1).as_dict() == reference
    assert parallel(app).as_dict() == reference


def test_the_fast_check_vouches_for_every_untouched_event_itself(store):
    """Without this, a fast path that always fell back on the domain would pass every other test."""
    from projections.integrity import StoredLinks
    from projections.log import LogReader

    app, _ = store
    full_dossier(app)
    reader = StoredLinks(app)
    links = [reader(entry) for entry in LogReader(app.recorder).entries()]
    assert reader.slow == 0 and len(links) == app.recorder.max_notification_id()
    assert links == [app.link_of(n) for n in app.recorder.select_notifications(0, 1000, inclusive_of_start=False)]

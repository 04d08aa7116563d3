"""The sealed export verified offline by the stdlib-only tools/verify_export.py, on a copy of the store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from domain.application import Subventio
from domain.values import Actor, Ctx
from tests.integration.test_integrity import full_dossier, key, raw, rows

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_export.py"
DAY = date(2025, 6, 30)


@pytest.fixture
def sealed(settings: Any, tmp_path: Path) -> tuple[Subventio, Any, Any, Path]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Subventio(env=settings.event_store_env())
    dossier = full_dossier(app)
    app.seal(Ctx(Actor("Chambre régionale des comptes", "auditor"), DAY, DAY), DAY)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(app.seal_export(DAY), default=str), encoding="utf-8")
    yield app, settings, dossier, export
    app.close()


def store_copy(settings: Any, tmp_path: Path) -> Path:
    """A copy of the store as an auditor would receive it: the SQLite file, or a CSV dump of the table."""
    if not settings.is_postgres:
        copy = tmp_path / "copy.sqlite"
        with sqlite3.connect(settings.data_dir / "events.sqlite") as source, sqlite3.connect(copy) as target:
            source.backup(target)  # a consistent copy, WAL included (what `sqlite3 .backup` gives)
        return copy
    copy = tmp_path / "events.csv"
    with raw(settings) as (conn, table, _), copy.open("wb") as out, conn.cursor().copy(
            f"COPY (SELECT notification_id, originator_id, originator_version, topic, state FROM {table} "
            "ORDER BY notification_id) TO STDOUT WITH CSV HEADER") as stream:
        for block in stream:
            out.write(block)
    return copy


def run_tool(export: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(TOOL), str(export), str(store)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_an_untouched_copy_verifies_offline(sealed, tmp_path):
    _, settings, _, export = sealed
    done = run_tool(export, store_copy(settings, tmp_path))
    assert done.returncode == 0, done.stderr
    assert "OK:" in done.stdout
    assert json.loads(export.read_text())["seal"]["merkle_root"] in done.stdout


def test_a_truncated_chain_is_named_offline(sealed, tmp_path):
    _, settings, dossier, export = sealed
    with raw(settings) as (conn, table, ph):
        last = rows(conn, table, ph, dossier.id)[-1][0]
        conn.execute(f"DELETE FROM {table} WHERE originator_id={ph} AND originator_version={ph}",
                     (key(ph, dossier.id), last))
    done = run_tool(export, store_copy(settings, tmp_path))
    assert done.returncode == 1
    assert f"aggregate {dossier.id}: sealed head v{last}" in done.stderr


def test_an_altered_payload_is_named_offline(sealed, tmp_path):
    _, settings, dossier, export = sealed
    with raw(settings) as (conn, table, ph):
        version, state, _ = next(r for r in rows(conn, table, ph, dossier.id) if b"7000.00" in r[1])
        conn.execute(f"UPDATE {table} SET state={ph} WHERE originator_id={ph} AND originator_version={ph}",
                     (state.replace(b"7000.00", b"7900.00"), key(ph, dossier.id), version))
    done = run_tool(export, store_copy(settings, tmp_path))
    assert done.returncode == 1
    assert f"event {dossier.id} v{version}" in done.stderr
    assert "hash" in done.stderr


def test_verify_checks_every_seal(sealed):
    app, _, _, _ = sealed
    assert app.seal_days() == [DAY]
    assert app.verify_seal(DAY)["ok"]

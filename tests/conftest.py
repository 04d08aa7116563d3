"""Fixtures shared by every tier: the backend (SQLite or PostgreSQL), the services, the Flask client.

SUBVENTIO_TEST_BACKEND=sqlite (default) or postgres. On PostgreSQL the session creates its own
database and drops it after; each test gets its own schema. When CI=true a missing server fails
the run instead of skipping it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

BACKEND = os.environ.get("SUBVENTIO_TEST_BACKEND", "sqlite")
PG_URL = os.environ.get("SUBVENTIO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() == "true"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skips with a reason when a server is absent, but fails when CI=true."""
    if reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: service tests must run)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """A PostgreSQL database for this session (None on SQLite); dropped at the end."""
    if BACKEND != "postgres":
        yield None
        return
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = f"subventio_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL}/{name}"
    finally:
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, pg_database: str | None) -> Any:
    """Settings for one test: its own data directory, and its own schema on PostgreSQL."""
    from subventio import Settings

    if pg_database is None:
        return Settings(data_dir=tmp_path / "var")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return Settings(data_dir=tmp_path / "var", database_url=f"{pg_database}?schema={schema}")


@pytest.fixture
def services(settings: Any) -> Iterator[Any]:
    from subventio import build

    built = build(settings)
    yield built
    built.app.close()
    built.read.dispose()


@pytest.fixture
def app(services: Any) -> Any:
    """The event-sourced application (domain commands)."""
    return services.app


@pytest.fixture
def flask_app(services: Any) -> Any:
    from api import create_app

    flask_app = create_app(services)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(flask_app: Any) -> Any:
    return flask_app.test_client()


@pytest.fixture
def token(services: Any) -> Any:
    """token(role, applicant_id=None) → Authorization headers for a fresh token of that role."""

    def make(role: str, applicant_id: Any = None, name: str | None = None) -> dict[str, str]:
        value = services.tokens.create(role=role, name=name or f"{role}-test",
                                       applicant_id=uuid.UUID(str(applicant_id)) if applicant_id else None)
        return {"Authorization": f"Bearer {value}"}

    return make


@pytest.fixture
def today() -> date:
    from subventio import today_in_paris

    return today_in_paris()


def event_count(services: Any) -> int:
    """How many events the store holds: used to assert that a refused command recorded nothing."""
    return int(services.app.recorder.max_notification_id() or 0)

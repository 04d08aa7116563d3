"""Rebuild proof (issue 6): `subventio projections checksum` and `projections verify-rebuild`.

The read models are rebuilt from the log into a scratch store (a temporary SQLite file, or a temporary
PostgreSQL schema dropped afterwards) and their checksum compared with the live one: equal after any
history, different as soon as a live row is changed by hand.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
from sqlalchemy import text, update

import subventio
from projections import queries
from projections.read_models import rm_dossiers
from tests.integration.audit_story import grant_2023_with_refund, grant_2025_paid_twice
from tests.integration.test_api_deliberations import Acts


@pytest.fixture
def acts(client: Any, services: Any, token: Any) -> Acts:
    return Acts(client, services, token)


def cli(settings: Any, capsys: Any, command: str) -> tuple[int, str]:
    code = subventio.cmd_projections(settings, argparse.Namespace(projections_command=command))
    return code, capsys.readouterr().out


def scratch_schemas(services: Any) -> list[str]:
    with services.read.begin() as conn:
        return list(conn.execute(text("SELECT schema_name FROM information_schema.schemata "
                                      "WHERE schema_name LIKE 'rebuild_%'")).scalars())


def test_the_rebuilt_read_models_match_the_live_ones_until_a_row_is_changed(acts, services, settings, capsys):
    story = grant_2025_paid_twice(acts)
    grant_2023_with_refund(acts)
    acts.call("GET", "/dossiers", acts.auditor, 200)  # lists catch the projections up

    code, out = cli(settings, capsys, "checksum")
    assert code == 0
    assert out.strip() == queries.checksum(services.read)
    assert len(out.strip()) == 64

    code, out = cli(settings, capsys, "verify-rebuild")
    proof = json.loads(out)
    assert code == 0, proof
    assert proof["ok"] is True
    assert proof["live_checksum"] == proof["rebuilt_checksum"] == queries.checksum(services.read)
    assert proof["position"] == proof["events_replayed"] == services.app.recorder.max_notification_id()

    with services.read.begin() as conn:
        conn.execute(update(rm_dossiers).where(rm_dossiers.c.id == story.grant.dossier).values(status="granted"))
    code, out = cli(settings, capsys, "verify-rebuild")
    proof = json.loads(out)
    assert code == 1
    assert proof["ok"] is False
    assert proof["live_checksum"] == queries.checksum(services.read) != proof["rebuilt_checksum"]
    if settings.is_postgres:
        assert scratch_schemas(services) == []  # the temporary schema is gone


def test_events_recorded_but_not_yet_projected_are_caught_up_before_comparing(acts, services, settings, capsys):
    grant_2025_paid_twice(acts)  # commands do not project: the live read models lag behind
    assert services.runner.lag() > 0
    code, out = cli(settings, capsys, "verify-rebuild")
    assert code == 0
    assert json.loads(out)["position"] == services.app.recorder.max_notification_id()
    assert services.runner.lag() == 0


def test_an_empty_store_gives_equal_empty_read_models(services, settings, capsys):
    code, out = cli(settings, capsys, "verify-rebuild")
    proof = json.loads(out)
    assert (code, proof["ok"], proof["position"], proof["events_replayed"]) == (0, True, 0, 0)

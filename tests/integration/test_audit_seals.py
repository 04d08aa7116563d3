"""Integrity through the API (issue 6): the daily seal written by an admin, checked by `GET /audit/verify`,
and its export downloaded by an auditor and verified offline by tools/verify_export.py on a copy of the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.audit_story import grant_2025_paid_twice
from tests.integration.test_api_deliberations import Acts
from tests.integration.test_integrity import key, raw, rows
from tests.integration.test_seal_export import run_tool, store_copy


@pytest.fixture
def acts(client: Any, services: Any, token: Any) -> Acts:
    return Acts(client, services, token)


def seal_today(acts: Acts) -> dict[str, Any]:
    response = acts.call("POST", "/audit/seals", acts.admin, 201)
    assert response.headers["Location"] == f"/audit/seals/{acts.today.isoformat()}"
    sealed: dict[str, Any] = response.json
    return sealed


def download(acts: Acts, tmp_path: Path) -> Path:
    response = acts.call("GET", f"/audit/seals/{acts.today.isoformat()}/export", acts.auditor, 200)
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="subventio-seal-{acts.today.isoformat()}.json"'
    path = tmp_path / "export.json"
    path.write_bytes(response.data)
    return path


def test_an_admin_seals_the_day_and_an_auditor_verifies_the_export_offline(acts, services, settings, tmp_path):
    story = grant_2025_paid_twice(acts)
    events = services.app.recorder.max_notification_id()

    # Auditors write nothing, not even a seal.
    assert acts.refused("POST", "/audit/seals", acts.auditor, 403, "forbidden")
    acts.refused("POST", "/audit/seals", acts.finance, 403, "forbidden")
    sealed = seal_today(acts)
    assert (sealed["day"], sealed["events"], sealed["last_position"]) == (acts.today.isoformat(), events, events)
    assert sealed["aggregates"] == len(services.app.chain_heads(until=events)[0])
    assert len(sealed["merkle_root"]) == 64
    assert acts.refused("POST", "/audit/seals", acts.admin, 409, "already_exists")

    assert acts.call("GET", f"/audit/seals/{acts.today.isoformat()}", acts.auditor, 200).json == sealed
    assert acts.call("GET", "/audit/seals", acts.auditor, 200).json == {"items": [sealed]}
    acts.call("GET", "/audit/seals/2020-01-01", acts.auditor, 404)
    acts.call("GET", "/audit/seals/hier/export", acts.auditor, 404)
    acts.call("GET", "/audit/seals", acts.instructor, 403)

    report = acts.call("GET", "/audit/verify", acts.auditor, 200).json
    assert (report["ok"], report["first_broken"]) == (True, None)
    assert report["events_checked"] == events + 1  # the seal is itself a chained event
    assert [(s["day"], s["ok"], s["sealed_root"], s["recomputed_root"]) for s in report["seals"]] == [
        (acts.today.isoformat(), True, sealed["merkle_root"], sealed["merkle_root"])]

    export_path = download(acts, tmp_path)
    export = json.loads(export_path.read_text(encoding="utf-8"))
    assert export["format"] == "subventio-seal-export/1"
    assert export["seal"]["merkle_root"] == sealed["merkle_root"]
    assert [a for a, _, _ in export["heads"]].count(story.grant.dossier) == 1
    done = run_tool(export_path, store_copy(settings, tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"OK: {events} events" in done.stdout and sealed["merkle_root"] in done.stdout

    # Events recorded after the seal are not covered by it: the copy still verifies against the export.
    acts.call("POST", f"/budget-lines/{story.grant.line}/credits", acts.finance, 200,
              json={"amount": "500.00", "reason": "Décision modificative n° 2"})
    later = tmp_path / "later"
    later.mkdir()
    assert run_tool(export_path, store_copy(settings, later)).returncode == 0


def test_a_truncated_chain_passes_the_chains_but_fails_the_seal(acts, settings, tmp_path):
    story = grant_2025_paid_twice(acts)
    seal_today(acts)
    export_path = download(acts, tmp_path)
    with raw(settings) as (conn, table, ph):
        last = rows(conn, table, ph, _uuid(story.grant.dossier))[-1][0]
        conn.execute(f"DELETE FROM {table} WHERE originator_id={ph} AND originator_version={ph}",
                     (key(ph, _uuid(story.grant.dossier)), last))

    report = acts.call("GET", "/audit/verify", acts.auditor, 200).json
    assert report["first_broken"] is None  # what remains of the chain is a valid, shorter chain
    assert report["ok"] is False
    assert [(s["ok"], s["sealed_events"] - s["events_now_before_position"]) for s in report["seals"]] == [(False, 1)]
    assert report["seals"][0]["recomputed_root"] != report["seals"][0]["sealed_root"]
    done = run_tool(export_path, store_copy(settings, tmp_path))
    assert done.returncode == 1
    assert f"aggregate {story.grant.dossier}: sealed head v{last}" in done.stderr


def test_a_changed_payload_is_named_by_the_verification(acts, settings):
    story = grant_2025_paid_twice(acts)
    with raw(settings) as (conn, table, ph):
        version, state, _ = next(r for r in rows(conn, table, ph, _uuid(story.grant.dossier)) if b"4690.00" in r[1])
        conn.execute(f"UPDATE {table} SET state={ph} WHERE originator_id={ph} AND originator_version={ph}",
                     (state.replace(b"4690.00", b"4960.00"), key(ph, _uuid(story.grant.dossier)), version))
    report = acts.call("GET", "/audit/verify", acts.admin, 200).json
    assert report["ok"] is False
    assert report["seals"] == []
    assert (report["first_broken"]["aggregate_id"], report["first_broken"]["version"]) == (
        story.grant.dossier, version)
    assert "hash" in report["first_broken"]["reason"]


def _uuid(text: str) -> Any:
    from uuid import UUID

    return UUID(text)

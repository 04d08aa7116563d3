"""A world with one resource of every kind, built through the API, for the access matrix, the fuzzer and the
log test (issue 8). No test lives here.

Lianes coopération (the owner) holds the 2023 grant of seed 003 carried to a refund (convention signed, a
payment made, the report accepted, a titre issued) and a draft dossier with a document; a second applicant
(the other) holds a draft of its own; today is sealed. `ids` fills every path parameter of the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_api import OTHER_SIRET
from tests.integration.test_api_deliberations import Acts
from tests.integration.test_api_execution import convention_2023, pay, settle, url

ROLES = ("admin", "instructor", "secretary", "finance", "auditor", "applicant")


@dataclass
class Scene:
    acts: Acts
    ids: dict[str, str]
    owner: dict[str, str]
    other: dict[str, str]
    other_ids: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        """A role's headers; `applicant` is the owner of the scene's resources, `other` another applicant."""
        if role == "applicant":
            return self.owner
        if role == "other":
            return self.other
        headers: dict[str, str] = getattr(self.acts, role)
        return headers

    def path(self, template: str, ids: dict[str, str] | None = None) -> str:
        """An OpenAPI path template with the scene's ids: /dossiers/{dossier_id} → /dossiers/…"""
        return template.format(**(ids or self.ids))


def build_scene(acts: Acts) -> Scene:
    grant = acts.grant_2023()
    convention_2023(acts, grant)
    paid = pay(acts, grant, "single", "2023-10-16")
    settle(acts, grant, "2024-04-15", "11879.54")
    refund = acts.call("POST", url(grant, "/refunds"), acts.finance, 201, json={
        "title_number": "TITRE-2024-0001", "issued_on": "2024-05-02", "received_by_beneficiary_on": "2024-05-06",
        "reason": "Reversement au prorata"}).json
    owner = acts.owner(acts.lianes())
    programme = acts.programme(code="RELIABILITY")
    draft = acts.dossier(programme, owner)
    document = acts.attach(draft["id"], owner, "statuts").json
    other_applicant = acts.applicant(OTHER_SIRET, "Jumelages de Nice")
    other = acts.owner(other_applicant)
    other_draft = acts.dossier(programme, other)
    seal = acts.call("POST", "/audit/seals", acts.admin, 201).json
    ids = {"budget_line_id": grant.line, "programme_id": grant.programme, "applicant_id": grant.applicant,
           "dossier_id": grant.dossier, "deliberation_id": grant.deliberation,
           "payment_id": paid["payments"][0]["id"], "refund_id": refund["id"], "document_id": document["id"],
           "day": seal["day"], "draft_id": draft["id"]}
    other_ids = {**ids, "applicant_id": other_applicant["id"], "dossier_id": other_draft["id"]}
    return Scene(acts, ids, owner, other, other_ids)


def scoped_settings(directory: Path, pg_database: str | None) -> Any:
    """Settings like the `settings` fixture's, for fixtures of a wider scope: a directory, and its own schema."""
    from subventio import Settings

    if pg_database is None:
        return Settings(data_dir=directory / "var")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return Settings(data_dir=directory / "var", database_url=f"{pg_database}?schema={schema}")


def token_maker(services: Any) -> Any:
    """The `token` fixture's callable: token(role, applicant_id=None, name=None) → Authorization headers."""

    def make(role: str, applicant_id: Any = None, name: str | None = None) -> dict[str, str]:
        value = services.tokens.create(role=role, name=name or f"{role}-test",
                                       applicant_id=uuid.UUID(str(applicant_id)) if applicant_id else None)
        return {"Authorization": f"Bearer {value}"}

    return make


@pytest.fixture
def mail_workers(services: Any, broker_url: str, prefix: str, smtp_sink: Any) -> Any:
    """The relay and the notifier in this process, mailing to the test's SMTP sink (the backend's broker)."""
    from projections.queries import dossier_ids_for_tick
    from tests.integration.test_workers_support import delete_topology
    from workers.runtime import Workers

    workers = Workers(app=services.app, read=services.read, runner=services.runner, today=date.today,
                      dossier_ids=lambda: dossier_ids_for_tick(services.read), broker_url=broker_url,
                      smtp_url=smtp_sink.url, prefix=prefix, retry_delays=(0.05, 0.1), poll_interval=0.05)
    workers.start("relay", "notify")
    assert workers.notifier is not None and workers.notifier.connected.wait(30), "the notifier did not connect"
    yield workers
    workers.close()
    delete_topology(broker_url, prefix)

"""Who may call what: ONE table, endpoint × role, for every operation of /openapi.json (issue 8).

The table is the contract's "Auth" and resource headings written down once. The test fails if /openapi.json
serves an operation the table does not list (or the table lists one no longer served), then calls every
operation with a token of each role, another applicant's token, and none:

- a role the table allows gets past the gate: a read answers 200; a write (sent a body with an unknown field)
  answers 422 and records nothing, or 409 when the write needs no body (POST /audit/seals, sealed already);
- a role it does not allow gets 403 and records nothing; no token gets 401;
- an applicant asking for another applicant's resource gets 404 exactly as for a resource that does not exist,
  so existence does not leak; lists, the web view and history never show it another applicant's dossiers.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.conftest import event_count
from tests.integration.reliability_scene import ROLES, Scene, build_scene
from tests.integration.test_api_deliberations import Acts

ADMIN, INSTRUCTOR, SECRETARY, FINANCE, AUDITOR = "admin", "instructor", "secretary", "finance", "auditor"
APPLICANT = "applicant"  # any applicant: it acts on its own behalf, whatever the scene's ids
OWNER = "owner"  # only the applicant the resource belongs to; another applicant gets 404
PUBLIC = frozenset({"public"})
STAFF = frozenset({ADMIN, INSTRUCTOR, SECRETARY, FINANCE})
READERS = STAFF | {AUDITOR}


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/health"): PUBLIC,
    # audit: auditors read everything and write nothing; admin seals
    ("GET", "/audit/verify"): roles(AUDITOR, ADMIN),
    ("GET", "/audit/seals"): roles(AUDITOR, ADMIN),
    ("POST", "/audit/seals"): roles(ADMIN),
    ("GET", "/audit/seals/{day}"): roles(AUDITOR, ADMIN),
    ("GET", "/audit/seals/{day}/export"): roles(AUDITOR, ADMIN),
    # budget lines — admin, finance (write); staff, auditor (read)
    ("GET", "/budget-lines"): READERS,
    ("POST", "/budget-lines"): roles(ADMIN, FINANCE),
    ("GET", "/budget-lines/{budget_line_id}"): READERS,
    ("GET", "/budget-lines/{budget_line_id}/history"): READERS,
    ("POST", "/budget-lines/{budget_line_id}/credits"): roles(ADMIN, FINANCE),
    ("GET", "/budget-lines/{budget_line_id}/payments"): READERS,
    ("GET", "/budget-lines/{budget_line_id}/payments.csv"): READERS,
    # programmes — admin (write); everyone authenticated (read)
    ("GET", "/programmes"): READERS | {APPLICANT},
    ("POST", "/programmes"): roles(ADMIN),
    ("GET", "/programmes/{programme_id}"): READERS | {APPLICANT},
    # applicants — admin, instructor (create); the applicant itself and staff (read)
    ("POST", "/applicants"): roles(ADMIN, INSTRUCTOR),
    ("GET", "/applicants/{applicant_id}"): READERS | {OWNER},
    ("PUT", "/applicants/{applicant_id}/bank"): roles(ADMIN, INSTRUCTOR, FINANCE, OWNER),
    # dossiers: intake and instruction
    ("GET", "/dossiers"): READERS | {APPLICANT},
    ("POST", "/dossiers"): roles(APPLICANT, INSTRUCTOR),
    ("GET", "/dossiers/{dossier_id}"): READERS | {OWNER},
    ("PATCH", "/dossiers/{dossier_id}"): roles(OWNER),
    ("POST", "/dossiers/{dossier_id}/documents"): roles(INSTRUCTOR, OWNER),
    ("GET", "/dossiers/{dossier_id}/documents/{document_id}"): READERS | {OWNER},
    ("POST", "/dossiers/{dossier_id}/submit"): roles(INSTRUCTOR, OWNER),
    ("POST", "/dossiers/{dossier_id}/request-documents"): roles(INSTRUCTOR),
    ("POST", "/dossiers/{dossier_id}/instruct"): roles(INSTRUCTOR),
    ("POST", "/dossiers/{dossier_id}/decline"): roles(INSTRUCTOR),
    ("POST", "/dossiers/{dossier_id}/withdraw"): roles(OWNER),
    ("GET", "/dossiers/{dossier_id}/history"): READERS | {OWNER},
    ("GET", "/dossiers/{dossier_id}/legality"): READERS,
    # deliberations — secretary (write); staff, auditor (read)
    ("GET", "/deliberations"): READERS,
    ("POST", "/deliberations"): roles(SECRETARY),
    ("GET", "/deliberations/{deliberation_id}"): READERS,
    ("POST", "/deliberations/{deliberation_id}/vote"): roles(SECRETARY),
    ("POST", "/deliberations/{deliberation_id}/signature"): roles(SECRETARY),
    ("POST", "/deliberations/{deliberation_id}/transmission"): roles(SECRETARY),
    ("POST", "/deliberations/{deliberation_id}/publication"): roles(SECRETARY),
    ("POST", "/deliberations/{deliberation_id}/prefect-letters"): roles(SECRETARY),
    ("GET", "/deliberations/{deliberation_id}/history"): READERS,
    ("GET", "/deliberations/{deliberation_id}/legality-bundle"): READERS,
    ("GET", "/deliberations/{deliberation_id}/legality-bundle.html"): READERS,
    ("GET", "/legality/register"): READERS,
    ("GET", "/legality/register.csv"): READERS,
    # execution of a granted dossier
    ("POST", "/dossiers/{dossier_id}/convention"): roles(INSTRUCTOR),
    ("POST", "/dossiers/{dossier_id}/convention/signatures"): roles(INSTRUCTOR, SECRETARY, ADMIN),
    ("POST", "/dossiers/{dossier_id}/amendments"): roles(INSTRUCTOR),
    ("POST", "/dossiers/{dossier_id}/payments"): roles(FINANCE),
    ("GET", "/dossiers/{dossier_id}/payments/{payment_id}"): READERS | {OWNER},
    ("POST", "/dossiers/{dossier_id}/payments/{payment_id}/paid"): roles(FINANCE),
    ("POST", "/dossiers/{dossier_id}/report"): roles(INSTRUCTOR, OWNER),
    ("POST", "/dossiers/{dossier_id}/report/acceptance"): roles(INSTRUCTOR),
    ("POST", "/dossiers/{dossier_id}/refunds"): roles(FINANCE),
    ("GET", "/dossiers/{dossier_id}/refunds/{refund_id}"): READERS | {OWNER},
    ("POST", "/dossiers/{dossier_id}/refunds/{refund_id}/receipts"): roles(FINANCE),
    ("POST", "/dossiers/{dossier_id}/termination"): roles(INSTRUCTOR),
    ("GET", "/dossiers/{dossier_id}/notifications"): STAFF | {AUDITOR, OWNER},
    # registers
    ("GET", "/refunds"): roles(FINANCE, AUDITOR),
    ("GET", "/refunds.csv"): roles(FINANCE, AUDITOR),
    ("GET", "/payments"): roles(FINANCE, AUDITOR),
}
"""Endpoint × roles allowed. `owner`: the applicant the resource belongs to; `applicant`: any applicant."""

METHODS = ("get", "post", "put", "patch", "delete")
PROBE = {"__probe__": "unknown field"}


def served(client: Any) -> set[tuple[str, str]]:
    spec = client.get("/openapi.json").get_json()
    return {(m.upper(), path) for path, operations in spec["paths"].items() for m in operations if m in METHODS}


@pytest.fixture
def scene(client: Any, services: Any, token: Any) -> Scene:
    return build_scene(Acts(client, services, token))


def test_the_table_lists_every_operation_of_the_openapi_document(client):
    operations = served(client)

    missing = sorted(operations - set(MATRIX))
    stale = sorted(set(MATRIX) - operations)

    assert not missing, f"operations served but absent from the access table: {missing}"
    assert not stale, f"operations in the access table that /openapi.json does not describe: {stale}"


def ids_for(template: str, scene: Scene) -> dict[str, str]:
    """The scene's ids; a document lives on the owner's draft dossier."""
    if "{document_id}" in template:
        return {**scene.ids, "dossier_id": scene.ids["draft_id"]}
    return scene.ids


def call(scene: Scene, method: str, template: str, who: str, ids: dict[str, str] | None = None) -> Any:
    headers = {} if who == "nobody" else scene.headers(who)
    path = scene.path(template, ids or ids_for(template, scene))
    if method == "GET":
        return scene.acts.client.open(path, method=method, headers=headers)
    return scene.acts.client.open(path, method=method, headers=headers, json=PROBE)


def expected(method: str, template: str, who: str) -> int:
    """The status the table implies for this caller (a write is sent a body with an unknown field)."""
    allowed = MATRIX[(method, template)]
    if allowed == PUBLIC:
        return 200
    if who == "nobody":
        return 401
    if who == "other" and OWNER in allowed:
        return 404  # another applicant's resource: as if it did not exist
    if who in ("applicant", "other"):
        admitted = APPLICANT in allowed or (who == "applicant" and OWNER in allowed)
    else:
        admitted = who in allowed
    if not admitted:
        return 403
    if method == "GET":
        return 200
    return 409 if template == "/audit/seals" else 422  # sealed already today; the unknown field


def test_every_operation_answers_every_role_as_the_table_says(scene, client, services):
    operations = sorted(served(client) & set(MATRIX))
    wrong: list[str] = []
    calls = 0
    for method, template in operations:
        for who in (*ROLES, "other", "nobody"):
            before = event_count(services)
            response = call(scene, method, template, who)
            calls += 1
            want = expected(method, template, who)
            if response.status_code != want:
                wrong.append(f"{method} {template} as {who}: {response.status_code}, expected {want}: "
                             f"{response.get_data(True)[:160]}")
                continue
            if response.status_code >= 400:
                error = response.get_json()["error"]
                assert set(error) == {"code", "message", "fields", "checks"}, (method, template, who)
            if method != "GET" and response.status_code != 201:
                assert event_count(services) == before, f"{method} {template} as {who} recorded an event"
    assert not wrong, "\n".join(wrong)
    assert calls == len(operations) * (len(ROLES) + 2)


OWNED = sorted(key for key, allowed in MATRIX.items() if OWNER in allowed)


def test_another_applicants_resources_answer_404_exactly_like_missing_ones(scene, client, services):
    """Existence does not leak: same status, same code, same fields as for an id that exists nowhere."""
    for method, template in OWNED:
        if (method, template) not in served(client):
            continue
        ids = ids_for(template, scene)
        unknown = {k: (str(uuid4()) if k.endswith("_id") else v) for k, v in ids.items()}
        theirs = call(scene, method, template, "other", ids)
        nowhere = call(scene, method, template, "other", unknown)
        assert theirs.status_code == nowhere.status_code == 404, (method, template, theirs.status_code)
        mine, missing = theirs.get_json()["error"], nowhere.get_json()["error"]
        assert (mine["code"], mine["fields"], mine["checks"]) == (missing["code"], missing["fields"], missing["checks"])
        for value in (scene.ids["dossier_id"], "Lianes", "TITRE-2024", "contact@lianes"):
            if value not in path_of(template, ids):
                assert value not in theirs.get_data(True), (method, template, value)


def path_of(template: str, ids: dict[str, str]) -> str:
    return template.format(**ids)


def test_an_applicant_lists_sees_and_browses_only_its_own_dossiers(scene, client):
    acts, mine, theirs = scene.acts, scene.ids, scene.other_ids
    listed = acts.call("GET", "/dossiers", scene.other, 200).json["items"]
    assert {d["id"] for d in listed} == {theirs["dossier_id"]}
    forced = acts.call("GET", "/dossiers", scene.other, 200, query_string={"applicant_id": mine["applicant_id"]})
    assert {d["id"] for d in forced.json["items"]} == {theirs["dossier_id"]}  # the filter is forced to itself
    own = acts.call("GET", "/dossiers", scene.owner, 200).json["items"]
    assert {d["id"] for d in own} == {mine["dossier_id"], mine["draft_id"]}
    assert acts.call("GET", f"/dossiers/{theirs['dossier_id']}/history", scene.other, 200).json["items"]

    # The web view, signed in with the other applicant's token: its list, then the owner's dossier.
    token = scene.other["Authorization"].removeprefix("Bearer ")
    signed_in = client.post("/ui/login", data={"token": token})
    assert signed_in.status_code in (302, 303)
    page = client.get("/ui/dossiers")
    assert page.status_code == 200
    assert theirs["dossier_id"] in page.get_data(True) and mine["dossier_id"] not in page.get_data(True)
    assert client.get(f"/ui/dossiers/{mine['dossier_id']}").status_code == 404
    assert client.get(f"/ui/dossiers/{uuid4()}").status_code == 404

"""The bad-input corpus of tests/corpus/ against the API (issue 8); tests/corpus/README.md describes the files.

Every case is answered with its expected status (never a 5xx); a refusal has the error format, names the field
(422) and records nothing; an accepted value reads back exactly, through the event store and the read models.
Injection strings are stored verbatim, found again through every query, refused as query filters, shown as
text by the web view and by the mails (escaped in HTML, never evaluated by Jinja or a format string).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from tests.conftest import event_count
from tests.integration import test_workers_support as support
from tests.integration.reliability_scene import mail_workers
from tests.integration.test_api import World

CORPUS = Path(__file__).parent.parent / "corpus"
smtp_sink, broker_url, prefix = support.smtp_sink, support.broker_url, support.prefix  # fixtures
__all__ = ["mail_workers"]  # a fixture
RAW = "__raw_value__"


def load(name: str) -> dict[str, Any]:
    corpus: dict[str, Any] = json.loads((CORPUS / name).read_text(encoding="utf-8"))
    return corpus


def expected(case: dict[str, Any]) -> list[int]:
    status = case["status"]
    return status if isinstance(status, list) else [status]


@pytest.fixture
def world(client: Any, services: Any, token: Any) -> World:
    return World(client, services, token)


class Targets:
    """Where a corpus value goes: a valid body with one field replaced by the value, written as raw JSON."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.line = world.budget_line(credits="100000.00")
        self.programme = world.programme(required=[], line=self.line)
        self.owner = world.owner(world.applicant())
        self.count = 0

    def request(self, where: str, field: str) -> tuple[str, str, dict[str, str], dict[str, Any], list[str]]:
        """(method, url, headers, body with RAW in `field`, path of the field in the body)."""
        w, self.count = self.world, self.count + 1
        today = w.today.isoformat()
        if where == "line":
            body = {"code": f"K{self.count}", "imputation": "65748//93043", "label": "Ligne", "year": w.today.year,
                    "credits": "10.00", field: RAW}
            return "POST", "/budget-lines", w.admin, body, [field]
        if where == "credits":
            body = {"amount": "10.00", "reason": "Décision modificative", "decided_on": today, field: RAW}
            return "POST", f"/budget-lines/{self.line['id']}/credits", w.finance, body, [field]
        if where == "dossier":
            body = {"programme_id": self.programme["id"], "project_name": "Projet", "total_budget": "10000.00",
                    "amount_requested": "7000.00", field: RAW}
            return "POST", "/dossiers", self.owner, body, [field]
        if where == "submit":
            draft = w.dossier(self.programme, self.owner)
            sworn = {"signatory": "Elise MOULENE", "place": "Lille", "signed_on": today, field: RAW}
            return "POST", f"/dossiers/{draft['id']}/submit", w.instructor, {"sworn_statement": sworn,
                                                                              "submitted_on": today}, \
                ["sworn_statement", field]
        raise ValueError(where)


def send(world: World, method: str, url: str, headers: dict[str, str], data: bytes,
         content_type: str = "application/json") -> Any:
    return world.client.open(url, method=method, headers=headers, data=data, content_type=content_type)


def judged(world: World, response: Any, case: dict[str, Any], field: str | None, before: int) -> None:
    """The answer is the case's, never a 5xx; a refusal has the error format, names the field, records nothing."""
    label = case.get("name") or case.get("raw") or case.get("value")
    assert response.status_code in expected(case), (label, response.status_code, response.get_data(True)[:300])
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert set(error) == {"code", "message", "fields", "checks"}, label
        if "code" in case:
            assert error["code"] == case["code"], (label, error)
        if response.status_code == 422 and field is not None and error["code"] == "invalid_fields":
            assert any(name == field or name.endswith(f".{field.rsplit('.', 1)[-1]}") for name in error["fields"]), \
                (label, error["fields"])
        assert event_count(world.services) == before, f"{label}: a refused request recorded an event"


def test_malformed_bodies_are_refused_with_400_or_422(world, services):
    corpus = load("malformed.json")
    for case in corpus["cases"]:
        data = bytes.fromhex(case["hex"]) if "hex" in case else case["text"].encode("utf-8")
        before = event_count(services)
        response = send(world, "POST", "/budget-lines", world.admin, data,
                        case.get("content_type", "application/json"))
        judged(world, response, case, None, before)
    assert len(corpus["cases"]) >= 20


@pytest.mark.parametrize("corpus", ["numbers.json", "dates.json"])
def test_numbers_and_dates_are_refused_or_kept_exactly(world, services, corpus):
    targets = Targets(world)
    cases = load(corpus)["cases"]
    for case in cases:
        method, url, headers, body, path = targets.request(case["where"], case["field"])
        raw = case["raw"] if "raw" in case else case["raw_repeat"][0] * case["raw_repeat"][1]
        data = json.dumps(body).replace(json.dumps(RAW), raw).encode("utf-8")
        before = event_count(services)
        response = send(world, method, url, headers, data)
        judged(world, response, case, ".".join(path), before)
        if response.status_code < 300 and "stored" in case:
            assert response.get_json()[case["field"]] == case["stored"], (case, response.get_json())
    assert len(cases) >= 15


def test_unicode_names_are_kept_exactly_or_refused(world, services, client):
    cases = load("unicode.json")["cases"]
    programme = world.programme(required=[], code="UNICODE")
    for number, case in enumerate(cases):
        value = case["value"] if "value" in case else case["repeat"][0] * case["repeat"][1]
        before = event_count(services)
        response = client.post("/applicants", headers=world.instructor, json={
            "kind": "person", "name": value, "address": "Lille", "email": f"p{number}@example.org",
            "legal_representative": {"name": "Elise MOULENE", "role": "Présidente"}})
        judged(world, response, case, "name", before)
        if response.status_code != 201:
            continue
        applicant = response.get_json()
        assert world.call("GET", f"/applicants/{applicant['id']}", world.admin, 200).get_json()["name"] == value
        owner = world.owner(applicant)
        dossier = world.call("POST", "/dossiers", owner, 201, json={
            "programme_id": programme["id"], "project_name": value, "total_budget": "10.00",
            "amount_requested": "10.00"}).get_json()
        listed = world.call("GET", "/dossiers", owner, 200).get_json()["items"]  # through the read model
        assert [(d["id"], d["project_name"]) for d in listed] == [(dossier["id"], value)], case["name"]


def test_a_10_mb_body_is_refused_with_413(world, services):
    body = b'{"project_name": "' + b"A" * (10 * 1024 * 1024) + b'"}'
    world.refused("POST", "/dossiers", world.instructor, 413, "too_large", data=body, content_type="application/json")
    assert event_count(services) == 0


def test_injection_strings_are_data_everywhere(world, services, client, mail_workers, smtp_sink):
    values = load("injection.json")["values"]
    programme = world.programme(required=[], code="INJECTION")
    owner = world.owner(world.applicant())
    ids = {}
    for value in values:
        dossier = world.call("POST", "/dossiers", owner, 201, json={
            "programme_id": programme["id"], "project_name": value, "total_budget": "10.00",
            "amount_requested": "10.00"}).get_json()
        world.submit(dossier["id"], owner)
        ids[value] = dossier["id"]
        assert world.call("GET", f"/dossiers/{dossier['id']}", world.auditor, 200).get_json()["project_name"] == value
        for param in ("programme_id", "applicant_id", "cursor"):
            refused = client.get("/dossiers", headers=world.auditor, query_string={param: value})
            assert refused.status_code == 422, (param, value, refused.status_code)
        filtered = world.call("GET", "/dossiers", world.auditor, 200, query_string={"status": value}).get_json()
        assert filtered["items"] == []  # a filter value, compared as data: it matches no status
    listed = world.call("GET", "/dossiers", world.auditor, 200, query_string={"limit": 200}).get_json()["items"]
    assert {d["id"]: d["project_name"] for d in listed} == {v: k for k, v in ids.items()}
    assert world.call("GET", "/audit/verify", world.auditor, 200).get_json()["ok"] is True  # nothing was dropped

    token = world.instructor["Authorization"].removeprefix("Bearer ")
    assert client.post("/ui/login", data={"token": token}).status_code in (302, 303)
    for value, dossier_id in ids.items():
        page = client.get(f"/ui/dossiers/{dossier_id}").get_data(True)
        assert str(escape(value)) in page, value  # as Jinja's autoescape writes it
        if set(value) & set("<>&"):
            assert value not in page, value
    mails = smtp_sink.wait_for(len(values), timeout=60)
    assert len(mails) >= len(values)
    for value in values:
        [mail] = [m for m in mails if value in m.text]  # the acknowledgment names the project as written
        assert str(escape(value)) in mail.html, value
        if set(value) & set("<>&\"'"):
            assert value not in mail.html, value
        for text in (mail.text, mail.html, mail.subject):
            assert "boomboomboom" not in text and "{{ config }}" not in text.replace(value, "")

"""End to end: the real `subventio serve` (gunicorn, 2 worker processes) driven over HTTP."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests

pytestmark = pytest.mark.e2e

SIRET = "43853522100024"  # Lianes coopération (seed 002 L812)
IBAN = "FR7630006000011234567890189"


def test_intake_over_http_with_read_your_writes(server):
    admin = server.token("admin")
    instructor = server.token("instructor")
    line = requests.post(f"{server.url}/budget-lines", headers=admin, json={
        "code": "C05-043A06", "imputation": "65748//93043", "label": "Actions européennes et internationales",
        "year": date.today().year, "credits": "10000.00"}, timeout=10)
    assert line.status_code == 201, line.text
    assert line.headers["Location"].endswith(line.json()["id"])
    today = date.today()
    programme = requests.post(f"{server.url}/programmes", headers=admin, json={
        "code": "OUVERTURE-MONDE", "title": "L'ouverture au monde", "year": today.year,
        "opens_on": (today - timedelta(days=30)).isoformat(), "closes_on": (today + timedelta(days=30)).isoformat(),
        "budget_line_id": line.json()["id"],
        "rules": {"rounding": "cent", "settlement": "reduce", "convention_required_above": "0.00",
                  "payment_plan": [{"tranche": "single", "when": "convention_signed"}]},
        "required_documents": {"association": ["statuts"]}}, timeout=10)
    assert programme.status_code == 201, programme.text
    applicant = requests.post(f"{server.url}/applicants", headers=admin, json={
        "kind": "association", "name": "Lianes coopération", "siret": SIRET,
        "address": "5 rue Jules de Vicq, 59800 Lille", "email": "contact@lianes.example",
        "legal_representative": {"name": "Elise MOULENE", "role": "Présidente"},
        "bank": {"holder": "Lianes coopération", "iban": IBAN, "bic": "AGRIFRPP"}}, timeout=10)
    assert applicant.status_code == 201, applicant.text
    owner = server.token("applicant", applicant.json()["id"])

    dossier = requests.post(f"{server.url}/dossiers", headers=owner, json={
        "programme_id": programme.json()["id"], "project_name": "Accompagnement 62MEI",
        "total_budget": "9380.00", "amount_requested": "9380.00"}, timeout=10)
    assert dossier.status_code == 201, dossier.text
    dossier_id = dossier.json()["id"]
    upload = requests.post(f"{server.url}/dossiers/{dossier_id}/documents", headers=owner,
                           data={"kind": "statuts", "label": "Statuts"},
                           files={"file": ("statuts.pdf", b"%PDF-1.4 statuts", "application/pdf")}, timeout=10)
    assert upload.status_code == 201, upload.text
    submitted = requests.post(f"{server.url}/dossiers/{dossier_id}/submit", headers=owner, json={
        "sworn_statement": {"signatory": "Elise MOULENE", "place": "Lille", "signed_on": today.isoformat()}},
        timeout=10)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["reference"] == f"{today.year}-00001"

    # Read-your-writes through either worker process: the list shows the submission at once.
    for _ in range(6):
        listed = requests.get(f"{server.url}/dossiers?status=submitted", headers=instructor, timeout=10)
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()["items"]] == [dossier_id]

    etag = requests.get(f"{server.url}/dossiers/{dossier_id}", headers=instructor, timeout=10).headers["ETag"]
    stale = requests.post(f"{server.url}/dossiers/{dossier_id}/instruct",
                          headers={**instructor, "If-Match": '"1"'},
                          json={"opinion": "favourable", "proposed_amount": "9380.00",
                                "eligible_cost": "9380.00"}, timeout=10)
    assert stale.status_code == 412
    instructed = requests.post(f"{server.url}/dossiers/{dossier_id}/instruct",
                               headers={**instructor, "If-Match": etag},
                               json={"opinion": "favourable", "proposed_amount": "9380.00",
                                     "eligible_cost": "9380.00"}, timeout=10)
    assert instructed.status_code == 200, instructed.text
    assert instructed.json()["status"] == "instructed"
    assert instructed.json()["proposed_amount"] == "9380.00"

    verify = requests.get(f"{server.url}/audit/verify", headers=admin, timeout=10).json()
    assert verify["ok"] is True
    assert verify["events_checked"] >= 8
    assert "/dossiers/{dossier_id}/instruct" in requests.get(f"{server.url}/openapi.json", timeout=10).json()["paths"]


def test_bad_input_over_http_is_a_clear_4xx(server):
    admin = server.token("admin")
    bad = requests.post(f"{server.url}/budget-lines", headers=admin, json={
        "code": "X", "imputation": "Y", "label": "Z", "year": 2026, "credits": "10.001"}, timeout=10)
    assert bad.status_code == 422
    assert "credits" in bad.json()["error"]["fields"]
    malformed = requests.post(f"{server.url}/budget-lines", headers={**admin, "Content-Type": "application/json"},
                              data=b"{not json", timeout=10)
    assert malformed.status_code == 400
    assert requests.get(f"{server.url}/budget-lines", timeout=10).status_code == 401
    assert server.cli("audit", "verify")  # the store is still sound and readable by the CLI

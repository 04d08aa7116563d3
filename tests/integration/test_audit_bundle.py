"""The legality bundle of a deliberation (issue 6): JSON and the printable page, on the seed-002 grant."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.audit_story import grant_2025_paid_twice
from tests.integration.test_api_deliberations import Acts
from tests.integration.test_api_execution import CITES_2025


@pytest.fixture
def acts(client: Any, services: Any, token: Any) -> Acts:
    return Acts(client, services, token)


def test_the_bundle_holds_the_vote_the_act_the_dossier_its_convention_and_the_checked_payments(acts):
    story = grant_2025_paid_twice(acts)
    grant = story.grant
    bundle = acts.call("GET", f"/deliberations/{grant.deliberation}/legality-bundle", acts.auditor, 200).json

    assert (bundle["id"], bundle["number"], bundle["session_on"], bundle["status"], bundle["result"]) == (
        grant.deliberation, "2025-344", "2025-09-15", "adopted", "adopted")
    assert bundle["quorum"] == {"members_in_office": 44, "present": 36, "excused": 8, "absent": 0, "proxies": 8,
                                "voting": 44, "required": 23, "reached": True}
    assert len(bundle["attendance"]["present"]) == 36
    assert bundle["attendance"]["proxies"][0] == {"from": "Membre 37", "to": "Membre 01"}
    assert {k: bundle["vote"][k] for k in ("voted_on", "for", "against", "abstention")} == {
        "voted_on": "2025-09-15", "for": 44, "against": 0, "abstention": 0}
    assert bundle["act"] == {
        "number": "2025-344", "session_on": "2025-09-15", "act_id": "062-226200012-20250915-lmc1-DE-1-1",
        "signed_on": "2025-09-15", "signatory": "Jean-Claude LEROY", "transmitted_on": "2025-10-01",
        "acknowledged_on": "2025-10-01", "published_on": "2025-10-01", "publication_mode": "electronic",
        "executory_on": "2025-10-01", "referral_deadline": "2025-12-02", "letters": [], "referred": False}
    assert (bundle["total_amount"], bundle["total_paid"]) == ("9380.00", "9380.00")

    [item] = bundle["items"]
    assert (item["dossier_id"], item["amount"], item["budget_line_id"]) == (grant.dossier, "9380.00", grant.line)
    assert item["budget_line"] == {"id": grant.line, "code": "C05-043A06", "imputation": "65748//93043",
                                   "label": "Actions européennes et internationales", "year": 2025}
    dossier = item["dossier"]
    assert (dossier["reference"], dossier["status"], dossier["granted_amount"], dossier["paid_total"]) == (
        "2025-00001", "closed", "9380.00", "9380.00")
    assert dossier["applicant"] == {"id": grant.applicant, "kind": "association", "name": "Lianes coopération",
                                    "siret": "43853522100024"}
    convention = dossier["convention"]
    assert (convention["status"], convention["signed_on"], convention["eligible_cost"]) == (
        "signed", "2025-10-08", "9380.00")
    assert convention["cites"] == CITES_2025
    assert [(s["party"], s["signatory"], s["signed_on"]) for s in convention["signatures"]] == [
        ("beneficiary", "Elise MOULENE", "2025-10-06"), ("department", "Maryline VINCLAIRE", "2025-10-08")]
    # Each payment with the checks recorded when it was ordered.
    assert [(p["id"], p["tranche"], p["amount"], p["ordered_on"], p["paid_on"]) for p in dossier["payments"]] == [
        (story.advance["id"], "advance", "4690.00", "2025-10-15", "2025-10-15"),
        (story.balance["id"], "balance", "4690.00", "2026-03-10", "2026-03-10")]
    assert dossier["payments"][0]["checks"] == story.advance["checks"]
    assert {c["check"] for c in dossier["payments"][0]["checks"]} >= {
        "deliberation_adopted", "deliberation_executory", "convention_signed", "bank_details", "within_grant"}
    assert all(c["ok"] for p in dossier["payments"] for c in p["checks"])
    # Paid in full and closed: a further payment today would be refused.
    assert item["ready_for_payment"] is False
    assert {c["check"] for c in item["checks"] if not c["ok"]} == {"tranche_allowed", "not_terminated_or_lapsed"}
    # 002's convention cites "2 septembre 2025" for the vote of 15 September.
    assert [(i["field"], i["convention"], i["deliberation"]) for i in item["inconsistencies"]] == [
        ("deliberation_date", "2025-09-02", "2025-09-15")]
    assert [(i["dossier_reference"], i["field"]) for i in bundle["inconsistencies"]] == [
        ("2025-00001", "deliberation_date")]
    assert bundle["generated_on"] == acts.today.isoformat()
    assert bundle["version"] == 5


def test_the_printable_page_shows_the_same_facts_in_french(acts):
    story = grant_2025_paid_twice(acts)
    response = acts.call("GET", f"/deliberations/{story.grant.deliberation}/legality-bundle.html", acts.instructor, 200)
    assert response.mimetype == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none': no script at all
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    for shown in ("délibération N° 2025-344", "062-226200012-20250915-lmc1-DE-1-1", "Exécutoire le</dt><dd>01/10/2025",
                  "Fin du délai de déféré</dt><dd>02/12/2025", "Lianes coopération (SIRET 43853522100024)",
                  "Elise MOULENE", "Maryline VINCLAIRE", "4\u202f690,00\u202f€", "9\u202f380,00\u202f€",
                  "deliberation_executory", "2025-09-02", "Aucun courrier.", "36 : Membre 01"):
        assert shown in page, shown
    assert page.count("✓") == sum(len(p["checks"]) for p in (story.advance, story.balance))
    assert "<script" not in page


def test_the_bundle_is_for_staff_and_auditors_only(acts):
    story = grant_2025_paid_twice(acts)
    url = f"/deliberations/{story.grant.deliberation}/legality-bundle"
    owner = acts.owner(acts.lianes())
    acts.call("GET", url, owner, 403)
    acts.call("GET", f"{url}.html", owner, 403)
    acts.call("GET", url, None, 401)
    missing = "/deliberations/00000000-0000-4000-8000-000000000000/legality-bundle"
    assert acts.call("GET", missing, acts.auditor, 404).json["error"]["code"] == "not_found"
    acts.call("GET", f"{missing}.html", acts.auditor, 404)
    paths = acts.client.get("/openapi.json").json["paths"]
    assert "text/html" in paths["/deliberations/{deliberation_id}/legality-bundle.html"]["get"]["responses"]["200"][
        "content"]

"""The HTTP API through Flask's test client, on the real stores: the whole intake of a grant.

The amounts are the seeds': 9 380 € on a 10 000 € budget line (002), 7 000 € on 18 695 € (003, rate 37.44 %).
`World` (also used by the other test_api_* modules) acts with real tokens and checks every answer.
"""

from __future__ import annotations

import hashlib
import io
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from uuid import UUID

import pytest

from domain.values import Actor, Ctx
from tests.conftest import event_count
from tests.unit.test_execution import convention, grant_2023, pay, report, sign_both

SIRET = "43853522100024"  # Lianes coopération (002 L812), a valid Luhn key
OTHER_SIRET = "73282932000074"
IBAN = "FR7630006000011234567890189"
BANK = {"holder": "Lianes coopération", "iban": IBAN, "bic": "AGRIFRPP"}


def raw(text: str) -> dict[str, Any]:
    """A JSON body sent as written (JSON numbers with decimals, NaN...), not re-encoded by the client."""
    return {"data": text.encode(), "content_type": "application/json"}


class World:
    """Acts on the API with real tokens; every helper checks the status it expects."""

    def __init__(self, client: Any, services: Any, token: Any) -> None:
        self.client, self.services, self.token = client, services, token
        self.today: date = services.today()
        self.admin, self.instructor = token("admin"), token("instructor")
        self.finance, self.auditor, self.secretary = token("finance"), token("auditor"), token("secretary")

    def call(self, method: str, url: str, headers: dict[str, str] | None, expect: int, **kwargs: Any) -> Any:
        response = self.client.open(url, method=method, headers=headers or {}, **kwargs)
        assert response.status_code == expect, f"{method} {url}: {response.status_code} {response.get_data(True)}"
        return response

    def refused(self, method: str, url: str, headers: dict[str, str] | None, status: int, code: str,
                field: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """The request is refused with this status and code (and field), and nothing is recorded."""
        before = event_count(self.services)
        error = self.call(method, url, headers, status, **kwargs).get_json()["error"]
        assert error["code"] == code, error
        assert set(error) == {"code", "message", "fields", "checks"}
        assert error["message"]
        if field is not None:
            assert field in error["fields"], error
            assert all(isinstance(m, str) and m for m in error["fields"][field])
        assert event_count(self.services) == before, "a refused request recorded an event"
        return error

    def day(self, days: int) -> str:
        return (self.today + timedelta(days=days)).isoformat()

    # --- the world, built through the API ------------------------------------------------------

    def budget_line(self, credits: str = "10000.00", code: str = "C05-043A06") -> dict[str, Any]:
        return self.call("POST", "/budget-lines", self.admin, 201, json={
            "code": code, "imputation": "65748//93043", "label": "Actions européennes et internationales",
            "year": self.today.year, "credits": credits}).get_json()

    def programme(self, *, code: str = "OUVERTURE-MONDE", closes_in: int = 30, rules: dict[str, Any] | None = None,
                  required: list[str] | None = None, line: dict[str, Any] | None = None) -> dict[str, Any]:
        line = line or self.budget_line(code=f"L-{code}")
        return self.call("POST", "/programmes", self.admin, 201, json={
            "code": code, "title": "L'ouverture au monde", "year": self.today.year,
            "opens_on": self.day(-30), "closes_on": self.day(closes_in), "budget_line_id": line["id"],
            "rules": rules or {"rounding": "cent", "settlement": "reduce", "convention_required_above": "0.00",
                               "payment_plan": [{"tranche": "single", "when": "convention_signed"}]},
            "required_documents": {"association": required if required is not None else ["statuts", "rib"]},
        }).get_json()

    def applicant(self, siret: str = SIRET, name: str = "Lianes coopération") -> dict[str, Any]:
        return self.call("POST", "/applicants", self.instructor, 201, json={
            "kind": "association", "name": name, "siret": siret, "address": "5 rue Jules de Vicq, 59800 Lille",
            "email": "contact@lianes.example", "legal_representative": {"name": "Elise MOULENE", "role": "Présidente"},
            "bank": BANK}).get_json()

    def owner(self, applicant: dict[str, Any]) -> dict[str, str]:
        headers: dict[str, str] = self.token("applicant", applicant["id"], name=applicant["name"])
        return headers

    def dossier(self, programme: dict[str, Any], owner: dict[str, str], total: str = "10000.00",
                requested: str = "9380.00") -> dict[str, Any]:
        return self.call("POST", "/dossiers", owner, 201, json={
            "programme_id": programme["id"], "project_name": "Accompagnement 62MEI et Jumelages",
            "total_budget": total, "amount_requested": requested}).get_json()

    def attach(self, dossier_id: str, headers: dict[str, str], kind: str, content: bytes | None = None,
               expect: int = 201, **extra: str) -> Any:
        content = content if content is not None else f"%PDF-1.4 {kind}".encode()
        return self.call("POST", f"/dossiers/{dossier_id}/documents", headers, expect,
                         data={"kind": kind, "label": kind.capitalize(), "file": (_stream(content), f"{kind}.pdf",
                                                                                  "application/pdf"), **extra},
                         content_type="multipart/form-data")

    def sworn(self) -> dict[str, Any]:
        return {"signatory": "Elise MOULENE", "place": "Lille", "signed_on": self.today.isoformat()}

    def submit(self, dossier_id: str, headers: dict[str, str], expect: int = 200, **extra: Any) -> Any:
        return self.call("POST", f"/dossiers/{dossier_id}/submit", headers, expect,
                         json={"sworn_statement": self.sworn(), **extra}).get_json()

    def submitted(self, programme: dict[str, Any] | None = None, owner: dict[str, str] | None = None,
                  **amounts: str) -> tuple[dict[str, Any], dict[str, str]]:
        """A dossier filed by its applicant with every document, submitted today."""
        programme = programme or self.programme()
        owner = owner or self.owner(self.applicant())
        dossier = self.dossier(programme, owner, **amounts)
        for kind in ("statuts", "rib"):
            self.attach(dossier["id"], owner, kind)
        return self.submit(dossier["id"], owner), owner

    def instruct(self, dossier_id: str, expect: int = 200, **body: Any) -> Any:
        return self.call("POST", f"/dossiers/{dossier_id}/instruct", self.instructor, expect, json=body).get_json()


def _stream(content: bytes) -> io.BytesIO:
    return io.BytesIO(content)


@pytest.fixture
def world(client: Any, services: Any, token: Any) -> World:
    return World(client, services, token)


# --- the whole intake ----------------------------------------------------------------------------


def test_intake_of_the_2025_grant_from_budget_line_to_instruction(world, services):
    w = world
    line = w.call("POST", "/budget-lines", w.finance, 201, json={
        "code": "C05-043A06", "imputation": "65748//93043", "label": "Actions européennes et internationales",
        "year": w.today.year, "credits": "10000.00"})
    assert line.headers["Location"] == f"/budget-lines/{line.json['id']}"
    assert line.headers["ETag"] == '"1"'
    assert (line.json["credits"], line.json["available"], line.json["reserved"]) == ("10000.00", "10000.00", "0.00")

    programme = w.programme(line=line.json, required=["statuts", "rib"])
    applicant = w.applicant()
    assert applicant["siret"] == SIRET and applicant["bank"]["iban"] == IBAN
    owner = w.owner(applicant)

    # The applicant files for itself: its applicant_id is filled in from its token.
    programme_id = programme["id"]
    created = w.call("POST", "/dossiers", owner, 201, **raw(
        f'{{"programme_id": "{programme_id}", "project_name": "Accompagnement 62MEI et Jumelages 2025",'
        ' "total_budget": 10000.00, "amount_requested": 9380}'))
    dossier = created.json
    assert created.headers["Location"] == f"/dossiers/{dossier['id']}"
    assert (dossier["status"], dossier["applicant_id"], dossier["reference"]) == ("draft", applicant["id"], None)
    assert (dossier["total_budget"], dossier["amount_requested"]) == ("10000.00", "9380.00")

    content = b"%PDF-1.4 statuts de l'association"
    document = w.attach(dossier["id"], owner, "statuts", content)
    assert document.json["sha256"] == hashlib.sha256(content).hexdigest()
    assert {k: document.json[k] for k in ("kind", "label", "size")} == {"kind": "statuts", "label": "Statuts",
                                                                         "size": len(content)}
    assert document.headers["Location"] == f"/dossiers/{dossier['id']}/documents/{document.json['id']}"
    blob = services.blobs_dir / document.json["sha256"][:2] / document.json["sha256"]
    assert blob.read_bytes() == content
    w.attach(dossier["id"], owner, "rib")

    submitted = w.submit(dossier["id"], owner)
    assert submitted["status"] == "submitted"
    assert submitted["reference"] == f"{w.today.year}-00001"
    assert submitted["submitted_on"] == w.today.isoformat()

    incomplete = w.call("POST", f"/dossiers/{dossier['id']}/request-documents", w.instructor, 200, json={
        "documents": ["budget_previsionnel"], "message": "Merci de joindre le budget prévisionnel."}).json
    assert incomplete["status"] == "incomplete"
    assert incomplete["requested_documents"] == ["budget_previsionnel"]
    w.refused("POST", f"/dossiers/{dossier['id']}/submit", owner, 409, "missing_documents",
              json={"sworn_statement": w.sworn()})
    w.attach(dossier["id"], owner, "budget_previsionnel")
    resubmitted = w.submit(dossier["id"], owner)
    assert (resubmitted["status"], resubmitted["reference"]) == ("submitted", f"{w.today.year}-00001")

    instructed = w.call("POST", f"/dossiers/{dossier['id']}/instruct", w.instructor, 200, **raw(
        '{"opinion": "favourable", "proposed_amount": "9380.00", "eligible_cost": 10000.00,'
        ' "comment": "Dossier complet"}')).json
    assert instructed["status"] == "instructed"
    assert instructed["proposed_amount"] == "9380.00"
    assert instructed["instruction"] == {"opinion": "favourable", "proposed_amount": "9380.00",
                                         "eligible_cost": "10000.00", "rate": "0.9380",
                                         "comment": "Dossier complet", "instructed_on": w.today.isoformat()}

    shown = w.call("GET", f"/dossiers/{dossier['id']}", w.instructor, 200)
    assert shown.headers["ETag"] == f'"{shown.json["version"]}"'
    assert shown.json == instructed
    assert [d["kind"] for d in shown.json["documents"]] == ["statuts", "rib", "budget_previsionnel"]
    assert w.call("GET", f"/dossiers/{dossier['id']}", owner, 200).json == instructed

    listed = w.call("GET", "/dossiers?status=instructed", w.instructor, 200).json
    assert [item["id"] for item in listed["items"]] == [dossier["id"]]
    assert listed["items"][0]["status"] == "instructed" and listed["next_cursor"] is None
    assert [i["id"] for i in w.call("GET", "/dossiers", owner, 200).json["items"]] == [dossier["id"]]
    line_now = w.call("GET", f"/budget-lines/{line.json['id']}", w.auditor, 200).json
    assert line_now["available"] == "10000.00"  # nothing reserved before a deliberation


def test_the_2023_grant_is_7000_on_18695_at_the_rate_of_37_44_percent(world):
    dossier, _ = world.submitted(total="18695.00", requested="7000.00")
    instructed = world.instruct(dossier["id"], opinion="favourable", proposed_amount="7000.00",
                                eligible_cost="18695.00")
    assert instructed["instruction"]["rate"] == "0.3744"
    assert (instructed["proposed_amount"], instructed["instruction"]["eligible_cost"]) == ("7000.00", "18695.00")


def test_a_rate_alone_computes_the_proposed_amount_with_the_programme_rounding(world):
    programme = world.programme(rules={"rounding": "ten_euros", "settlement": "prorata"})
    dossier, _ = world.submitted(programme, total="18695.00", requested="7000.00")
    instructed = world.instruct(dossier["id"], opinion="favourable", rate="0.3744", eligible_cost="18695.00")
    assert instructed["proposed_amount"] == "7000.00"  # 6 999.41 rounded to the nearest ten euros


def test_staff_records_a_paper_application_on_its_real_date_before_the_deadline(world):
    programme = world.programme(code="CLOS-HIER", closes_in=-1)
    applicant = world.applicant()
    dossier = world.call("POST", "/dossiers", world.instructor, 201, json={
        "programme_id": programme["id"], "applicant_id": applicant["id"], "project_name": "Dossier papier",
        "total_budget": "18695.00", "amount_requested": "7000.00"}).json
    for kind in ("statuts", "rib"):
        world.attach(dossier["id"], world.instructor, kind, received_on=world.day(-2))
    sworn = dict(world.sworn(), signed_on=world.day(-3))
    submitted = world.call("POST", f"/dossiers/{dossier['id']}/submit", world.instructor, 200,
                           json={"sworn_statement": sworn, "submitted_on": world.day(-2)}).json
    assert (submitted["status"], submitted["submitted_on"]) == ("submitted", world.day(-2))
    history = world.call("GET", f"/dossiers/{dossier['id']}/history", world.auditor, 200).json["items"]
    assert history[-1]["effective_on"] == world.day(-2)
    assert history[-1]["actor"] == {"name": "instructor-test", "role": "instructor"}


def test_declining_and_withdrawing_record_who_and_when(world):
    declined_dossier, _ = world.submitted()
    declined = world.call("POST", f"/dossiers/{declined_dossier['id']}/decline", world.instructor, 200, json={
        "reason": "Hors du champ du dispositif", "decided_on": world.today.isoformat()}).json
    assert declined["status"] == "declined"
    assert declined["decision"] == {"kind": "declined", "reason": "Hors du champ du dispositif",
                                    "decided_on": world.today.isoformat()}
    owner = world.owner(world.applicant(OTHER_SIRET, "Jumelages de Nice"))
    draft = world.dossier(world.programme(code="AUTRE"), owner)
    withdrawn = world.call("POST", f"/dossiers/{draft['id']}/withdraw", owner, 200, json={}).json
    assert (withdrawn["status"], withdrawn["decision"]["kind"]) == ("withdrawn", "withdrawn")


def test_the_owner_edits_its_draft(world):
    owner = world.owner(world.applicant())
    draft = world.dossier(world.programme(), owner)
    edited = world.call("PATCH", f"/dossiers/{draft['id']}", owner, 200, json={
        "project_name": "Jumelages 2025", "amount_requested": "9000.00", "other_public_funding": "0.00"})
    assert edited.json["project_name"] == "Jumelages 2025"
    assert (edited.json["amount_requested"], edited.json["other_public_funding"]) == ("9000.00", "0.00")
    assert edited.headers["ETag"] == f'"{draft["version"] + 1}"'


def test_credits_are_changed_on_the_date_of_the_decision(world):
    line = world.budget_line()
    more = world.call("POST", f"/budget-lines/{line['id']}/credits", world.finance, 200, json={
        "amount": "500.00", "reason": "Décision modificative n°1", "decided_on": world.day(-1)})
    assert (more.json["credits"], more.json["available"]) == ("10500.00", "10500.00")
    less = world.call("POST", f"/budget-lines/{line['id']}/credits", world.admin, 200, **raw(
        '{"amount": -620.00, "reason": "Virement de crédits"}'))
    assert less.json["credits"] == "9880.00"
    assert less.headers["ETag"] == '"3"'
    history = world.services.app.history(UUID(line["id"]))
    assert history[1]["effective_on"] == world.today - timedelta(days=1)


# --- rules: 409 with the rule's code, nothing recorded ---------------------------------------------


def test_submitting_after_the_closing_date_is_refused_as_deadline_passed(world):
    programme = world.programme(code="CLOS-HIER", closes_in=-1)
    owner = world.owner(world.applicant())
    dossier = world.dossier(programme, owner)
    for kind in ("statuts", "rib"):
        world.attach(dossier["id"], owner, kind)
    error = world.refused("POST", f"/dossiers/{dossier['id']}/submit", owner, 409, "deadline_passed",
                          json={"sworn_statement": world.sworn()})
    assert "hors délais" in error["message"]
    assert world.call("GET", f"/dossiers/{dossier['id']}", owner, 200).json["status"] == "draft"


def test_submitting_without_the_required_documents_is_refused(world):
    owner = world.owner(world.applicant())
    dossier = world.dossier(world.programme(required=["statuts", "rib"]), owner)
    world.attach(dossier["id"], owner, "statuts")
    error = world.refused("POST", f"/dossiers/{dossier['id']}/submit", owner, 409, "missing_documents",
                          json={"sworn_statement": world.sworn()})
    assert "rib" in error["message"]


def test_instruction_above_the_programme_caps_is_refused(world):
    # 004 L7757: "50 % du budget et 2 500 €"
    programme = world.programme(code="CAPS", rules={"max_rate": "0.50", "max_amount": "2500.00"})
    dossier, _ = world.submitted(programme, total="18695.00", requested="7000.00")
    error = world.refused("POST", f"/dossiers/{dossier['id']}/instruct", world.instructor, 409,
                          "programme_cap_exceeded", json={"opinion": "favourable", "proposed_amount": "7000.00",
                                                          "eligible_cost": "18695.00"})
    assert "2500.00" in error["message"]
    assert world.instruct(dossier["id"], opinion="favourable", proposed_amount="2500.00",
                          eligible_cost="18695.00")["status"] == "instructed"


def test_commands_not_allowed_in_the_current_state_are_refused(world):
    dossier, owner = world.submitted()
    world.refused("PATCH", f"/dossiers/{dossier['id']}", owner, 409, "not_allowed_in_state",
                  json={"project_name": "Changé après dépôt"})
    world.refused("POST", f"/dossiers/{dossier['id']}/documents", owner, 409, "not_allowed_in_state",
                  data={"kind": "rib", "label": "RIB", "file": (_stream(b"rib"), "rib.pdf")},
                  content_type="multipart/form-data")
    world.instruct(dossier["id"], opinion="unfavourable", eligible_cost="10000.00")
    world.refused("POST", f"/dossiers/{dossier['id']}/withdraw", owner, 409, "not_allowed_in_state", json={})
    world.refused("POST", f"/dossiers/{dossier['id']}/request-documents", world.instructor, 409,
                  "not_allowed_in_state", json={"documents": ["rib"], "message": "?"})


def test_a_date_before_the_facts_it_depends_on_is_refused(world):
    dossier, _ = world.submitted()
    world.refused("POST", f"/dossiers/{dossier['id']}/instruct", world.instructor, 409, "invalid_date",
                  json={"opinion": "favourable", "proposed_amount": "9380.00", "eligible_cost": "10000.00",
                        "instructed_on": world.day(-1)})


def test_credits_never_fall_below_what_is_reserved_and_committed_and_lines_are_unique(world):
    line = world.budget_line()
    world.refused("POST", f"/budget-lines/{line['id']}/credits", world.finance, 409, "insufficient_credits",
                  json={"amount": "-10000.01", "reason": "Trop"})
    world.refused("POST", "/budget-lines", world.admin, 409, "already_exists", json={
        "code": "C05-043A06", "imputation": "65748//93043", "label": "Doublon", "year": world.today.year,
        "credits": "1.00"})
    world.applicant()
    world.refused("POST", "/applicants", world.admin, 409, "already_exists", json={
        "kind": "association", "name": "Doublon", "siret": SIRET, "address": "Lille", "email": "a@b.example",
        "legal_representative": {"name": "X", "role": "Y"}})


# --- versions: ETag and If-Match ---------------------------------------------------------------------


def test_a_stale_if_match_is_refused_with_412_and_a_current_one_is_accepted(world):
    dossier, _ = world.submitted()
    url = f"/dossiers/{dossier['id']}"
    etag = world.call("GET", url, world.instructor, 200).headers["ETag"]
    body = {"opinion": "favourable", "proposed_amount": "9380.00", "eligible_cost": "10000.00"}
    world.refused("POST", f"{url}/instruct", {**world.instructor, "If-Match": '"1"'}, 412, "stale_version",
                  json=body)
    world.refused("POST", f"{url}/instruct", {**world.instructor, "If-Match": "n'importe quoi"}, 412,
                  "stale_version", json=body)
    done = world.call("POST", f"{url}/instruct", {**world.instructor, "If-Match": etag}, 200, json=body)
    assert done.headers["ETag"] == f'"{int(etag.strip(chr(34))) + 1}"'


def test_if_match_protects_budget_lines_and_bank_details_too(world):
    line = world.budget_line()
    world.refused("POST", f"/budget-lines/{line['id']}/credits", {**world.finance, "If-Match": '"7"'}, 412,
                  "stale_version", json={"amount": "1.00", "reason": "r"})
    applicant = world.applicant()
    got = world.call("GET", f"/applicants/{applicant['id']}", world.instructor, 200)
    assert got.headers["ETag"] == '"1"'
    world.refused("PUT", f"/applicants/{applicant['id']}/bank", {**world.finance, "If-Match": '"0"'}, 412,
                  "stale_version", json=BANK)
    changed = world.call("PUT", f"/applicants/{applicant['id']}/bank", {**world.finance, "If-Match": '"1"'}, 200,
                         json=dict(BANK, holder="Lianes coopération (compte projets)"))
    assert changed.json["bank"]["holder"] == "Lianes coopération (compte projets)"
    programme = world.programme()
    assert world.call("GET", f"/programmes/{programme['id']}", world.auditor, 200).headers["ETag"] == '"1"'


# --- time travel and history ---------------------------------------------------------------------------


def test_as_of_shows_the_dossier_as_it_stood_and_404_before_it_existed(world):
    dossier, _ = world.submitted()
    url = f"/dossiers/{dossier['id']}"
    world.instruct(dossier["id"], opinion="favourable", proposed_amount="9380.00", eligible_cost="10000.00")
    history = world.call("GET", f"{url}/history", world.auditor, 200).json["items"]
    submitted_at = next(i["recorded_at"] for i in history if i["type"] == "Dossier.Submitted")
    then = world.call("GET", url, world.auditor, 200, query_string={"as_of": submitted_at}).json
    assert (then["status"], then["reference"], then["instruction"]) == ("submitted", dossier["reference"], None)
    assert world.call("GET", url, world.auditor, 200, query_string={"as_of": world.today.isoformat()}).json[
        "status"] == "instructed"
    world.refused("GET", url, world.auditor, 404, "not_found", query_string={"as_of": world.day(-1)})
    world.refused("GET", url, world.auditor, 404, "not_found", query_string={"as_of": "2000-01-01T00:00:00Z"})


def test_history_lists_every_event_in_order_with_chained_hashes(world):
    dossier, owner = world.submitted()
    items = world.call("GET", f"/dossiers/{dossier['id']}/history", owner, 200).json["items"]
    assert [i["type"] for i in items] == ["Dossier.Opened", "Dossier.DocumentAttached", "Dossier.DocumentAttached",
                                          "Dossier.Submitted"]
    assert [i["version"] for i in items] == [1, 2, 3, 4]
    assert items[0]["previous_hash"] is None
    assert all(later["previous_hash"] == earlier["hash"] for earlier, later in pairwise(items))
    assert len({i["hash"] for i in items}) == 4
    assert items[0]["actor"] == {"name": "Lianes coopération", "role": "applicant"}
    assert items[0]["data"]["amount_requested"] == "9380.00"
    assert items[3]["data"]["reference"] == dossier["reference"]
    assert all(i["recorded_at"].endswith("+00:00") for i in items)
    verified = world.call("GET", "/audit/verify", world.auditor, 200).json
    assert verified == {"ok": True, "events_checked": event_count(world.services), "first_broken": None,
                        "seals": []}  # no day sealed yet (issue 6: each seal is recomputed too)


# --- lists from the read model -------------------------------------------------------------------------


def test_lists_filter_and_page_with_a_cursor_and_applicants_only_see_their_own(world):
    programme = world.programme()
    lianes = world.owner(world.applicant())
    nice = world.owner(world.applicant(OTHER_SIRET, "Jumelages de Nice"))
    mine = [world.dossier(programme, lianes)["id"] for _ in range(3)]
    theirs = world.dossier(programme, nice)["id"]

    first = world.call("GET", "/dossiers", world.instructor, 200, query_string={"limit": 2}).json
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = world.call("GET", "/dossiers", world.instructor, 200,
                      query_string={"limit": 2, "cursor": first["next_cursor"]}).json
    assert rest["next_cursor"] is None
    assert {i["id"] for i in first["items"] + rest["items"]} == {*mine, theirs}

    own = world.call("GET", "/dossiers", lianes, 200, query_string={"applicant_id": world.call(
        "GET", f"/dossiers/{theirs}", world.instructor, 200).json["applicant_id"]}).json
    assert {i["id"] for i in own["items"]} == set(mine)
    by_status = world.call("GET", "/dossiers", world.auditor, 200,
                           query_string={"status": "draft", "programme_id": programme["id"]}).json
    assert len(by_status["items"]) == 4
    assert world.call("GET", "/dossiers", world.auditor, 200, query_string={"status": "submitted"}).json[
        "items"] == []


def test_budget_lines_and_programmes_are_listed(world):
    programme = world.programme()
    lines = world.call("GET", "/budget-lines", world.auditor, 200).json["items"]
    assert programme["budget_line_id"] in [line["id"] for line in lines]
    assert all(line["credits"] == "10000.00" for line in lines)
    owner = world.owner(world.applicant())
    programmes = world.call("GET", "/programmes", owner, 200).json["items"]
    assert [p["code"] for p in programmes] == ["OUVERTURE-MONDE"]


# --- attachments ---------------------------------------------------------------------------------------


def test_the_same_content_is_stored_once_and_can_be_downloaded(world, services):
    owner = world.owner(world.applicant())
    dossier = world.dossier(world.programme(), owner)
    first = world.attach(dossier["id"], owner, "statuts", b"%PDF same bytes").json
    second = world.attach(dossier["id"], world.instructor, "rib", b"%PDF same bytes").json
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    stored = [p for p in services.blobs_dir.rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [first["sha256"]]
    download = world.call("GET", f"/dossiers/{dossier['id']}/documents/{first['id']}", owner, 200)
    assert download.data == b"%PDF same bytes"
    assert download.mimetype == "application/pdf"


def test_a_file_of_exactly_20_mb_is_accepted(world):
    owner = world.owner(world.applicant())
    dossier = world.dossier(world.programme(), owner)
    document = world.attach(dossier["id"], owner, "statuts", b"\0" * (20 * 1024 * 1024)).json
    assert document["size"] == 20 * 1024 * 1024


# --- operations and the document of the API -----------------------------------------------------------------


def test_health_needs_no_token_and_reports_the_projection_lag(world, services):
    world.budget_line()
    # Commands do not project (lists catch up before reading): one event is not yet projected.
    assert world.call("GET", "/health", None, 200).json == {
        "status": "ok", "store": "ok", "broker": "embedded", "projections_lag": 1}
    services.runner.catch_up()
    health = world.call("GET", "/health", None, 200).json
    assert health == {"status": "ok", "store": "ok", "broker": "embedded", "projections_lag": 0}


def test_openapi_describes_every_served_path_and_method(world, flask_app):
    spec = world.call("GET", "/openapi.json", None, 200).json
    served = {}
    for rule in flask_app.url_map.iter_rules():
        if rule.endpoint.startswith(("api-docs", "ui.")):  # the web view (/ui/) is not part of the API
            continue
        path = rule.rule.replace("<uuid:", "{").replace("<", "{").replace(">", "}")
        served[path] = sorted(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    documented = {path: sorted(set(ops) - {"parameters"}) for path, ops in spec["paths"].items()}
    assert documented == served
    assert {"/dossiers/{dossier_id}/instruct", "/audit/verify", "/health"} <= set(documented)
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["$ref"] == "#/components/schemas/ErrorBody"
    assert set(spec["components"]["schemas"]["ErrorBody"]["properties"]) == {"code", "message", "fields", "checks"}
    upload = spec["paths"]["/dossiers/{dossier_id}/documents"]["post"]["requestBody"]["content"]
    assert list(upload) == ["multipart/form-data"]
    instruct = spec["paths"]["/dossiers/{dossier_id}/instruct"]["post"]
    assert {"200", "401", "403", "404", "409", "412", "422"} <= set(instruct["responses"])
    assert any(p.get("name") == "If-Match" for p in instruct["parameters"])
    assert instruct["security"] == [{"bearerAuth": []}]
    get_dossier = spec["paths"]["/dossiers/{dossier_id}"]["get"]["responses"]["200"]
    assert "ETag" in get_dossier["headers"]
    assert "security" not in spec["paths"]["/health"]["get"]


def test_a_dossier_shows_its_whole_later_life_in_the_contracts_shape(world, services):
    """003 carried to its end through the application (those endpoints come later): granted 7 000 € on
    18 695 €, paid, report of 11 879.54 € settled prorata at 4 447.70 €, refund of 2 552.30 € received."""
    app = services.app
    dossier = grant_2023(app)
    convention(app, dossier, eligible="18695.00", on=date(2023, 10, 2), rate="0.3744")
    sign_both(app, dossier, date(2023, 10, 5))
    pay(app, dossier, "single", date(2023, 10, 20))
    report(app, dossier, date(2024, 3, 25), "11879.54")
    _, refund = app.demand_refund(Ctx(Actor("Paierie", "finance"), date(2024, 4, 10), world.today), dossier.id,
                                  title_number="T-2024-118", issued_on=date(2024, 4, 10),
                                  received_by_beneficiary_on=date(2024, 4, 12), reason="Reversement")
    app.receive_refund(Ctx(Actor("Paierie", "finance"), date(2024, 5, 10), world.today), dossier.id, refund["id"],
                       amount=Decimal("2552.30"))

    shown = world.call("GET", f"/dossiers/{dossier.id}", world.auditor, 200).json
    assert (shown["status"], shown["granted_amount"], shown["paid_total"]) == ("closed", "7000.00", "7000.00")
    assert (shown["final_amount"], shown["refunded_total"], shown["refund_due"]) == ("4447.70", "2552.30", "0.00")
    assert shown["deliberation_id"] and shown["budget_line_id"]
    assert (shown["convention"]["status"], shown["convention"]["rate"]) == ("signed", "0.3744")
    assert shown["convention"]["eligible_cost"] == "18695.00"
    assert [s["party"] for s in shown["convention"]["signatures"]] == ["beneficiary", "department"]
    assert shown["convention"]["cites"]["deliberation_number"] == "2023-388"
    payment = shown["payments"][0]
    assert {k: payment[k] for k in ("tranche", "amount", "status", "ordered_on", "paid_on")} == {
        "tranche": "single", "amount": "7000.00", "status": "paid", "ordered_on": "2023-10-20",
        "paid_on": "2023-10-20"}
    assert (shown["report"]["status"], shown["report"]["justified_expenses"]) == ("accepted", "11879.54")
    assert shown["report"]["accepted_on"] == "2024-03-25"
    assert {k: shown["refunds"][0][k] for k in ("title_number", "amount", "due_on", "received_total", "status")} == {
        "title_number": "T-2024-118", "amount": "2552.30", "due_on": "2024-05-12", "received_total": "2552.30",
        "status": "closed"}
    on_the_vote = world.call("GET", f"/dossiers/{dossier.id}", world.auditor, 200,
                             query_string={"effective_on": "2023-09-18"}).json
    assert (on_the_vote["status"], on_the_vote["granted_amount"], on_the_vote["payments"]) == (
        "granted", "7000.00", [])
    assert world.call("GET", f"/dossiers/{dossier.id}", world.auditor, 200,
                      query_string={"effective_on": "2023-10-20"}).json["paid_total"] == "7000.00"
    world.refused("GET", f"/dossiers/{dossier.id}", world.auditor, 404, "not_found",
                  query_string={"effective_on": "2022-12-31"})
    line = world.call("GET", f"/budget-lines/{shown['budget_line_id']}", world.finance, 200).json
    assert (line["credits"], line["committed"], line["paid"], line["available"]) == (
        "43056.00", "7000.00", "7000.00", "36056.00")

"""The read-only web view (issue 6) through Flask's test client, on the demo history (seeds 001–003).

Sign-in by token into an HttpOnly, SameSite=Strict cookie; every page needs it; applicants see only their
own dossiers; the timeline shows every event and the dossier as it stood on a date; templates escape what
people typed; the pages stay out of the OpenAPI document.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import demo
from tests.integration.audit_story import INJECTION
from tests.integration.test_api import World


@pytest.fixture
def world(client: Any, services: Any, token: Any) -> World:
    return World(client, services, token)


@pytest.fixture
def history(services: Any) -> dict[str, str]:
    """The demo history: the 2023 and 2025 grants to Lianes coopération, on their real dates."""
    lianes = Path(demo.__file__).with_name("history_1_lianes.json")
    created: dict[str, str] = demo.load(services, fixtures=[lianes])["created"]
    services.runner.catch_up()
    return created


def sign_in(client: Any, services: Any, role: str, applicant_id: str | None = None, name: str = "Contrôle") -> str:
    """Signs the test client in with a fresh token of that role; returns the token."""
    from uuid import UUID

    value: str = services.tokens.create(role=role, name=name, applicant_id=UUID(applicant_id) if applicant_id else None)
    response = client.post("/ui/login", data={"token": value})
    assert response.status_code == 303, response.get_data(as_text=True)
    return value


def text_of(response: Any) -> str:
    """The page's visible text, tags removed and whitespace collapsed."""
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def shown_status(response: Any) -> str:
    found = re.search(r'id="state-status" data-status="([a-z_]+)"', response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1)


def test_every_page_needs_a_session_and_a_token_opens_one(client, services):
    for page in ("/ui/dossiers", "/ui/legality", f"/ui/dossiers/{'0' * 8}-0000-4000-8000-{'0' * 12}"):
        response = client.get(page)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/ui/?next=")
    login = client.get("/ui/")
    assert login.status_code == 200
    assert 'name="token"' in login.get_data(as_text=True)
    assert "default-src 'none'" in login.headers["Content-Security-Policy"]

    refused = client.post("/ui/login", data={"token": "not-a-token"})
    assert refused.status_code == 401
    assert "Jeton inconnu" in refused.get_data(as_text=True)
    assert "Set-Cookie" not in refused.headers

    value = services.tokens.create(role="auditor", name="Chambre régionale des comptes", applicant_id=None)
    response = client.post("/ui/login", data={"token": value, "next": "/ui/legality"})
    assert (response.status_code, response.headers["Location"]) == (303, "/ui/legality")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"subventio_token={value};")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/ui"):
        assert attribute in cookie
    page = client.get("/ui/dossiers")
    assert page.status_code == 200
    assert "Chambre régionale des comptes — contrôle" in text_of(page)

    # Another site is never a destination after signing in.
    elsewhere = client.post("/ui/login", data={"token": value, "next": "https://example.org/ui/"})
    assert elsewhere.headers["Location"] == "/ui/dossiers"

    # A revoked token ends the session at once; signing out clears the cookie.
    services.tokens.revoke(value)
    assert client.get("/ui/dossiers").status_code == 302
    sign_in(client, services, "auditor")
    out = client.post("/ui/logout")
    assert out.status_code == 303
    assert "subventio_token=;" in out.headers["Set-Cookie"]
    assert client.get("/ui/dossiers").status_code == 302


def test_the_timeline_shows_every_event_and_the_dossier_as_it_stood(client, services, history):
    sign_in(client, services, "auditor")
    dossier_id = history["d2025"]
    events = services.app.history(_uuid(dossier_id))
    page = client.get(f"/ui/dossiers/{dossier_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for event in events:  # every event, with its hash, actor and dates
        assert event["hash"] in body
        assert event["actor"]["name"] in body
    assert body.count("<tr") == len(events) + 1
    visible = text_of(page)
    assert f"Historique : {len(events)} événements" in visible
    assert "Dépôt" in visible and "Attribution" in visible and "Paiement effectué" in visible
    assert "22/10/2025" in visible  # the payment's effective date, in French
    assert shown_status(page) == "convention_signed"

    def as_of(day: str, mode: str) -> Any:
        return client.get(f"/ui/dossiers/{dossier_id}", query_string={"date": day, "mode": mode})

    # By the dates of the facts (the demo records them on their real dates).
    assert shown_status(as_of("2025-06-01", "effective")) == "absent"
    assert shown_status(as_of("2025-07-01", "effective")) == "submitted"
    assert shown_status(as_of("2025-09-01", "effective")) == "instructed"
    granted = as_of("2025-09-20", "effective")
    assert shown_status(granted) == "granted"
    assert "9\u202f380,00\u202f€" in text_of(granted)
    assert granted.get_data(as_text=True).count('class="later"') == sum(
        1 for e in events if e["effective_on"].isoformat() > "2025-09-20")
    # By the recorded instant: everything was recorded today, nothing before.
    assert shown_status(as_of(services.today().isoformat(), "recorded")) == "convention_signed"
    before = as_of("2020-01-01", "recorded")
    assert shown_status(before) == "absent"
    assert "n'existait pas encore" in text_of(before)


def test_dossier_search_by_reference_status_and_programme_with_pages(client, services, history, monkeypatch):
    monkeypatch.setattr("api.ui.PAGE_SIZE", 1)
    sign_in(client, services, "instructor")
    first = client.get("/ui/dossiers")
    assert "2023-00001" in text_of(first) and "2025-00001" not in text_of(first)
    next_page = re.search(r'id="next-page" href="([^"]+)"', first.get_data(as_text=True))
    assert next_page
    second = client.get(next_page.group(1).replace("&amp;", "&"))
    assert "2025-00001" in text_of(second) and "2023-00001" not in text_of(second)
    assert 'id="next-page"' not in second.get_data(as_text=True)

    monkeypatch.setattr("api.ui.PAGE_SIZE", 25)
    by_reference = text_of(client.get("/ui/dossiers", query_string={"reference": "2025-"}))
    assert "2025-00001" in by_reference and "2023-00001" not in by_reference
    by_status = text_of(client.get("/ui/dossiers", query_string={"status": "closed"}))
    assert "2023-00001" in by_status and "2025-00001" not in by_status
    by_programme = text_of(client.get("/ui/dossiers", query_string={"programme_id": history["prog2025"]}))
    assert "2025-00001" in by_programme and "2023-00001" not in by_programme
    nothing = text_of(client.get("/ui/dossiers", query_string={"reference": "1999-%"}))
    assert "Aucun dossier" in nothing
    assert client.get("/ui/dossiers", query_string={"cursor": "garbage"}).status_code == 200


def test_an_applicant_sees_only_its_own_dossiers(client, services, history, world):
    other = world.applicant(siret="73282932000074", name="Autre association")
    theirs = world.dossier(world.programme(), world.owner(other))
    sign_in(client, services, "applicant", history["lianes"], name="Lianes coopération")
    listed = text_of(client.get("/ui/dossiers"))
    assert "2023-00001" in listed and "2025-00001" in listed
    links = set(re.findall(r"/ui/dossiers/([0-9a-f-]{36})", client.get("/ui/dossiers").get_data(as_text=True)))
    assert links == {history["d2023"], history["d2025"]}
    assert client.get(f"/ui/dossiers/{history['d2025']}").status_code == 200
    hidden = client.get(f"/ui/dossiers/{theirs['id']}")
    assert hidden.status_code == 404
    assert theirs["project_name"] not in hidden.get_data(as_text=True)
    assert client.get("/ui/legality").status_code == 403  # registers are for staff and auditors
    assert client.get(f"/ui/deliberations/{history['delib2025']}/bundle").status_code == 403


def test_what_people_typed_is_escaped(client, services, world):
    applicant = world.applicant()
    dossier = world.call("POST", "/dossiers", world.instructor, 201, json={
        "programme_id": world.programme()["id"], "applicant_id": applicant["id"], "project_name": INJECTION,
        "total_budget": "1000.00", "amount_requested": "500.00"}).json
    sign_in(client, services, "auditor")
    for page in (client.get(f"/ui/dossiers/{dossier['id']}"), client.get("/ui/dossiers")):
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        assert INJECTION not in body
        assert "<script>" not in body and "<b>Jumelages</b>" not in body
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Jumelages&lt;/b&gt;" in body


def test_the_register_of_acts_page_and_the_bundle_behind_it(client, services, history):
    sign_in(client, services, "secretary")
    page = client.get("/ui/legality")
    visible = text_of(page)
    assert "2023-388" in visible and "2025-344" in visible
    assert "062-226200012-20250915-lmc1526130-DE-1-1" in visible
    assert "01/10/2025" in visible and "02/12/2025" in visible
    only_2025 = text_of(client.get("/ui/legality", query_string={"from": "2025-01-01"}))
    assert "2025-344" in only_2025 and "2023-388" not in only_2025
    link = f"/ui/deliberations/{history['delib2025']}/bundle"
    assert link in page.get_data(as_text=True)
    bundle = client.get(link)
    assert bundle.status_code == 200
    assert "Dossier de contrôle de légalité — délibération N° 2025-344" in text_of(bundle)
    csv_file = client.get("/ui/legality.csv", query_string={"from": "2025-01-01"})
    assert csv_file.mimetype == "text/csv"
    assert csv_file.data.decode("utf-8-sig").splitlines()[1].startswith("2025-344;")
    assert client.get("/ui/deliberations/00000000-0000-4000-8000-000000000000/bundle").status_code == 404


def test_the_web_view_is_not_in_the_openapi_document_and_serves_its_css(client):
    paths = client.get("/openapi.json").json["paths"]
    assert not [p for p in paths if p.startswith("/ui")]
    css = client.get("/ui/static/ui.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert b"@media print" in css.data


def _uuid(text: str) -> Any:
    from uuid import UUID

    return UUID(text)

"""The current-state GETs answered in front of Flask (api.reads): the same answers as Flask's, or Flask's.

For every marked route, the answer served from the cache in front of Flask is compared with Flask's own
(status, headers in order, body), and every case the layer must leave to Flask is checked to reach it:
no token, an unknown one, a role the view refuses, an applicant's token where ownership is checked, a
query string, another spelling of the id, another method, and a version the cache does not hold.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from werkzeug.test import Client

from api.reads import CurrentReads
from domain.application import Subventio
from domain.values import Actor, Ctx
from tests.integration.test_api_deliberations import Acts, rules


@pytest.fixture
def acts(client: Any, services: Any, token: Any) -> Acts:
    return Acts(client, services, token)


@pytest.fixture
def layer(flask_app: Any) -> CurrentReads:
    wsgi = flask_app.wsgi_app
    assert isinstance(wsgi, CurrentReads)
    return wsgi


def flask_only(flask_app: Any) -> Client:
    """A client of Flask's own WSGI app, behind no layer."""
    return Client(flask_app.wsgi_app.wsgi_app)


def answer(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, list(response.headers.items()), response.get_data()


def resources(acts: Acts) -> dict[str, str]:
    """One resource behind each marked route: prefix → id."""
    line = acts.line_of(2025, "10000.00")
    programme = acts.programme_of(2025, line, rules(), "OUVERTURE-MONDE-2025")
    applicant = acts.lianes()
    dossier = acts.instructed(programme, applicant, amount="9380.00", eligible="9380.00",
                              submitted_on="2025-06-02", instructed_on="2025-08-25")
    deliberation = acts.deliberation("2025-344", "2025-09-15", [acts.item(dossier, "9380.00", line)])
    return {"/budget-lines": line["id"], "/programmes": programme["id"], "/applicants": applicant["id"],
            "/dossiers": dossier, "/deliberations": deliberation["id"]}


def test_the_marked_routes_are_the_five_current_state_gets(layer):
    assert sorted(layer.routes) == ["/applicants", "/budget-lines", "/deliberations", "/dossiers", "/programmes"]
    assert {prefix: route.schema.__name__ for prefix, route in layer.routes.items()} == {
        "/applicants": "ApplicantSchema", "/budget-lines": "BudgetLineSchema",
        "/deliberations": "DeliberationSchema", "/dossiers": "DossierSchema", "/programmes": "ProgrammeSchema"}


def test_each_route_answers_in_front_of_flask_exactly_as_flask_does(acts, flask_app, layer):
    for prefix, resource in resources(acts).items():
        url = f"{prefix}/{resource}"
        flask_answer = answer(flask_only(flask_app).get(url, headers=acts.auditor))
        assert flask_answer[0] == 200, (url, flask_answer)
        before = layer.served
        first = answer(acts.client.get(url, headers=acts.auditor))  # cached by now: answered in front
        assert layer.served == before + 1, url
        assert first == flask_answer, url
        assert dict(first[1])["ETag"] == f'"{acts.client.get(url, headers=acts.admin).get_json()["version"]}"'


def test_what_the_layer_leaves_to_flask(acts, flask_app, layer, token):
    ids = resources(acts)
    dossier, line = ids["/dossiers"], ids["/budget-lines"]
    owner = acts.owner(acts.lianes())
    stranger = acts.owner(acts.applicant(siret="73282932000074", name="Autre association"))
    for url in (f"/dossiers/{dossier}", f"/budget-lines/{line}"):
        acts.call("GET", url, acts.instructor, 200)  # the bodies are cached
    cases: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", f"/dossiers/{dossier}", {}, 401),
        ("GET", f"/dossiers/{dossier}", {"Authorization": "Bearer not-a-token"}, 401),
        ("GET", f"/dossiers/{dossier}", {"Authorization": acts.instructor["Authorization"].replace("Bearer", "Basic")},
         401),
        ("GET", f"/dossiers/{dossier}", stranger, 404),  # another applicant is not told it exists
        ("GET", f"/dossiers/{dossier}", owner, 200),  # its owner: Flask's view checks whose it is
        ("GET", f"/budget-lines/{line}", owner, 403),  # a role the view does not admit
        ("GET", f"/dossiers/{dossier}?effective_on=2025-06-01", acts.instructor, 404),  # not submitted yet then
        ("GET", f"/dossiers/{dossier}?unknown=1", acts.instructor, 200),  # (ignored by Flask's view)
        ("GET", f"/dossiers/{UUID(dossier).hex}", acts.instructor, 404),  # not the route's spelling of an id
        ("GET", f"/dossiers/{dossier}/", acts.instructor, 404),
        ("HEAD", f"/dossiers/{dossier}", acts.instructor, 200),
        ("GET", f"/dossiers/{line}", acts.instructor, 404),  # a budget line's id (cached, but as a budget line)
    ]
    for method, url, headers, status in cases:
        before = layer.served
        response = acts.client.open(url, method=method, headers=headers)
        assert (response.status_code, layer.served) == (status, before), (method, url, headers)
        expected = flask_only(flask_app).open(url, method=method, headers=headers)
        assert answer(response) == answer(expected), (method, url)
    revoked = token("auditor")
    acts.call("GET", f"/dossiers/{dossier}", revoked, 200)
    assert acts.services.tokens.revoke(revoked["Authorization"].split()[1])
    before = layer.served
    acts.call("GET", f"/dossiers/{dossier}", revoked, 401)
    assert layer.served == before


def counted(log: Any, monkeypatch: Any) -> list[UUID]:
    """The ids whose version is asked of the store (the real query still runs)."""
    asked: list[UUID] = []
    real = log.version

    def version(aggregate_id: UUID) -> int:
        asked.append(aggregate_id)
        return int(real(aggregate_id))

    monkeypatch.setattr(log, "version", version)
    return asked


def test_a_write_elsewhere_is_answered_by_flask_then_in_front_again(acts, layer, settings, monkeypatch):
    line = acts.line_of(2025, "10000.00")
    url = f"/budget-lines/{line['id']}"
    asked = counted(acts.services.runner.log, monkeypatch)
    acts.call("GET", url, acts.finance, 200)
    assert asked == [UUID(line["id"])]  # a miss: the layer's query is the one Flask's view uses
    before = layer.served
    assert acts.call("GET", url, acts.finance, 200).get_json()["credits"] == "10000.00"
    assert layer.served == before + 1
    elsewhere = Subventio(env=settings.event_store_env())  # another process's write: this app's cache never saw it
    try:
        elsewhere.change_credits(Ctx(Actor("Autre poste", "finance"), acts.today, acts.today), UUID(line["id"]),
                                 amount=Decimal("12000.00"), reason="Décision modificative")  # credits added
    finally:
        elsewhere.close()
    asked.clear()
    response = acts.call("GET", url, acts.finance, 200)  # a version the cache does not hold: Flask
    assert asked == [UUID(line["id"])]
    assert (response.get_json()["credits"], response.headers["ETag"]) == ("22000.00", '"2"')
    assert layer.served == before + 1
    again = acts.call("GET", url, acts.finance, 200)
    assert layer.served == before + 2 and answer(again) == answer(response)

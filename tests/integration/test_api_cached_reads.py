"""GET of a resource's current state is served from the response cache only while the store says it is current.

`api.common.current` answers from the bodies it dumped before, keyed by (schema, id, version), after asking
the store for the aggregate's last version: these tests check that what it serves is byte for byte what the
uncached path gives, that a write made elsewhere (another process, another application object) is seen at
once, and that a cached body of one kind of resource is never served for another.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from api.schemas import DossierSchema
from domain.application import Subventio
from domain.values import Actor, Ctx
from tests.integration.test_api import World


@pytest.fixture
def world(client: Any, services: Any, token: Any) -> World:
    return World(client, services, token)


def body_and_tag(world: World, url: str, headers: dict[str, str]) -> tuple[bytes, str]:
    response = world.call("GET", url, headers, 200)
    return response.get_data(), response.headers["ETag"]


def test_a_cached_answer_is_the_uncached_one_byte_for_byte(world, flask_app):
    dossier, _ = world.submitted()
    url = f"/dossiers/{dossier['id']}"
    first = body_and_tag(world, url, world.instructor)  # dumped, then kept
    cache = flask_app.extensions["subventio_responses"]
    assert cache.get((DossierSchema, UUID(dossier["id"]), dossier["version"])) == first[0]
    again = world.client.get(url, headers=world.instructor)
    assert (again.get_data(), again.headers["ETag"]) == first
    assert again.headers["Content-Type"] == "application/json"
    assert again.headers["Cache-Control"] == "no-store"
    cache.clear()  # an empty cache: the path that dumps
    assert body_and_tag(world, url, world.instructor) == first
    assert first[1] == f'"{dossier["version"]}"'


def test_a_write_by_another_application_is_seen_at_the_next_get(world, services, settings):
    dossier, _ = world.submitted()
    url = f"/dossiers/{dossier['id']}"
    body, tag = body_and_tag(world, url, world.instructor)
    elsewhere = Subventio(env=settings.event_store_env())  # as another process would write: not this app's cache
    try:
        today = world.today
        elsewhere.instruct_dossier(Ctx(Actor("Autre poste", "instructor"), today, today), UUID(dossier["id"]),
                                   opinion="favourable", proposed_amount=Decimal("7000.00"),
                                   eligible_cost=Decimal("18695.00"))
    finally:
        elsewhere.close()
    response = world.call("GET", url, world.instructor, 200)
    assert response.headers["ETag"] == f'"{dossier["version"] + 1}"' != tag
    assert response.get_json()["status"] == "instructed" and response.get_data() != body


def test_a_cached_body_is_never_served_for_another_kind_of_resource(world):
    line = world.budget_line()
    world.call("GET", f"/budget-lines/{line['id']}", world.admin, 200)
    world.refused("GET", f"/dossiers/{line['id']}", world.admin, 404, "not_found")
    world.refused("GET", f"/deliberations/{line['id']}", world.admin, 404, "not_found")


def test_every_current_state_get_carries_its_version(world):
    programme = world.programme()
    applicant = world.applicant(siret="73282932000074", name="Autre association")
    for url, version in ((f"/programmes/{programme['id']}", programme["version"]),
                         (f"/budget-lines/{programme['budget_line_id']}", None),
                         (f"/applicants/{applicant['id']}", applicant["version"])):
        for _ in range(2):
            response: Any = world.call("GET", url, world.admin, 200)
            assert response.headers["ETag"] == f'"{response.get_json()["version"]}"'
            if version is not None:
                assert response.get_json()["version"] == version


def test_query_arguments_are_still_read_and_checked_after_requests_without_any(world):
    dossier, _ = world.submitted()
    url = f"/dossiers/{dossier['id']}"
    for _ in range(3):
        world.call("GET", url, world.instructor, 200)
    world.refused("GET", f"{url}?as_of=not-a-date", world.instructor, 422, "invalid_fields", field="as_of")
    assert world.call("GET", f"{url}?as_of=2000-01-01T00:00:00Z", world.instructor, 404)
    assert world.call("GET", url, world.instructor, 200).get_json()["status"] == "submitted"


def test_a_schema_loaded_without_a_query_string_gives_each_request_its_own_result(flask_app):
    from marshmallow import Schema, fields

    from api.common import Parser

    class WithDefault(Schema):
        tags = fields.List(fields.String(), load_default=lambda: ["a"])

    parser, schema = Parser(), WithDefault()
    with flask_app.test_request_context("/anything"):
        first = parser.parse(schema, location="query")
        first["tags"].append("changed by a view")
        second = parser.parse(schema, location="query")
    assert second == {"tags": ["a"]}
    with flask_app.test_request_context("/anything?tags=b"):
        assert parser.parse(schema, location="query") == {"tags": ["b"]}

"""Schemathesis against /openapi.json, in process (WSGI), with a valid token of each role (issue 8).

Every operation of the document gets `SUBVENTIO_FUZZ_EXAMPLES` generated requests (valid and invalid bodies,
queries and path parameters; seeded and derandomized, so a run is repeatable), each sent with the token of a
role drawn among the six roles and another applicant. Half of the path parameters are swapped for ids that
exist (a granted, paid, settled dossier with its titre, a document, a deliberation, a seal), so requests reach
past the 404s. Every answer must be a non-5xx that the document describes (status, content type, headers, body
schema), and a request the document says is invalid must be refused with a 4xx.

The operations are the access table's (test_access_matrix checks that it lists exactly /openapi.json's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.reliability_scene import ROLES, Scene, build_scene, scoped_settings, token_maker
from tests.integration.test_access_matrix import MATRIX
from tests.integration.test_api_deliberations import Acts

EXAMPLES = int(os.environ.get("SUBVENTIO_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("SUBVENTIO_FUZZ_SEED", "20260408"))
POSITIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_headers_conformance, response_schema_conformance]
CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]
CONFIG = SchemathesisConfig.from_dict({"seed": SEED})
REQUESTS: dict[str, int] = {}


@dataclass
class Fuzz:
    scene: Scene
    schema: Any


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: Any, pg_database: str | None) -> Iterator[Fuzz]:
    """One world for every operation: a module-wide store, app, tokens and scene (built once, ~1 s)."""
    from api import create_app
    from subventio import build

    services = build(scoped_settings(tmp_path_factory.mktemp("fuzz"), pg_database))
    flask_app = create_app(services)
    flask_app.config["TESTING"] = True
    scene = build_scene(Acts(flask_app.test_client(), services, token_maker(services)))
    yield Fuzz(scene, schemathesis.openapi.from_wsgi("/openapi.json", flask_app, config=CONFIG))
    services.app.close()
    services.read.dispose()


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids=lambda v: v)
def test_every_operation_answers_as_documented_and_never_5xx(fuzz: Fuzz, method: str, path: str) -> None:
    operation = fuzz.schema[path][method]
    positive, negative = (operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))
    scene = fuzz.scene

    @given(case=st.one_of(positive, negative), data=st.data())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def exchange(case: Any, data: Any) -> None:
        who = data.draw(st.sampled_from((*ROLES, "other")), label="role")
        checks = CHECKS
        if case.meta.generation.mode.is_negative:
            # The token is always sent (the case may have dropped it), so an invalid header is no longer invalid.
            if "HEADER" in repr(case.meta.phase.data):
                checks = POSITIVE_CHECKS
        else:
            for name in list(case.path_parameters or {}):
                if name in scene.ids and data.draw(st.booleans(), label=f"existing {name}"):
                    case.path_parameters[name] = scene.ids[name]
            checks = POSITIVE_CHECKS
        headers = scene.headers(who)
        response = case.call(headers=headers)
        REQUESTS[f"{method} {path}"] = REQUESTS.get(f"{method} {path}", 0) + 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} as {who}: {response.status_code} {response.text[:300]}")
        case.validate_response(response, checks=checks, headers=headers)

    exchange()
    assert REQUESTS.get(f"{method} {path}", 0) >= 1

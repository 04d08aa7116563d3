"""Every endpoint refuses bad input, missing tokens and wrong roles with a clear 4xx, and records nothing.

Each case asserts the status, the error code, the field named (for 422) and an unchanged event count.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest

from tests.conftest import event_count
from tests.integration.test_api import BANK, OTHER_SIRET, World, raw

MB = 1024 * 1024


@dataclass
class Scene:
    """A programme on its budget line, an applicant with its token, a draft and a submitted dossier."""

    world: World
    line: str
    programme: str
    applicant: str
    owner: dict[str, str]
    other: dict[str, str]
    draft: str
    submitted: str

    def who(self, name: str) -> dict[str, str]:
        """A role's headers: a staff role, the owner, another applicant, or no token at all."""
        if name == "nobody":
            return {}
        return getattr(self, name) if name in ("owner", "other") else getattr(self.world, name)

    def url(self, template: str) -> str:
        return template.format(line=self.line, programme=self.programme, applicant=self.applicant,
                               draft=self.draft, submitted=self.submitted, unknown=uuid4())


@pytest.fixture
def scene(client: Any, services: Any, token: Any) -> Scene:
    world = World(client, services, token)
    line = world.budget_line()
    programme = world.programme(line=line)
    applicant = world.applicant()
    owner = world.owner(applicant)
    draft = world.dossier(programme, owner)
    submitted, _ = world.submitted(programme, owner)
    other = world.owner(world.applicant(OTHER_SIRET, "Jumelages de Nice"))
    return Scene(world, line["id"], programme["id"], applicant["id"], owner, other, draft["id"], submitted["id"])


def line_body(**changes: Any) -> dict[str, Any]:
    return {"json": {"code": "C05-048A06", "imputation": "65748//93043", "label": "Coopération", "year": 2026,
                     "credits": "10000.00", **changes}}


def programme_body(**changes: Any) -> Callable[[Scene], dict[str, Any]]:
    def body(s: Scene) -> dict[str, Any]:
        return {"json": {"code": "AUTRE", "title": "Autre", "year": 2026, "opens_on": "2026-01-01",
                         "closes_on": "2026-12-31", "budget_line_id": s.line, "rules": {},
                         "required_documents": {"association": ["statuts"]}, **changes}}
    return body


def rules(**values: Any) -> Callable[[Scene], dict[str, Any]]:
    return lambda s: programme_body(rules=values)(s)


def applicant_body(**changes: Any) -> dict[str, Any]:
    body = {"kind": "association", "name": "Comité de jumelage", "siret": "73282932000074",
            "address": "Nice", "email": "jumelage@nice.example",
            "legal_representative": {"name": "M. Président", "role": "Président"}, **changes}
    return {"json": {k: v for k, v in body.items() if v is not None}}


def dossier_body(**changes: Any) -> Callable[[Scene], dict[str, Any]]:
    return lambda s: {"json": {"programme_id": s.programme, "project_name": "Jumelage",
                               "total_budget": "18695.00", "amount_requested": "7000.00", **changes}}


def upload(content: bytes = b"%PDF statuts", **form: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": "statuts", "label": "Statuts", **form}
    if content is not None:
        fields["file"] = (io.BytesIO(content), "statuts.pdf", "application/pdf")
    return {"data": {k: v for k, v in fields.items() if v is not None}, "content_type": "multipart/form-data"}


def sworn(**changes: Any) -> dict[str, Any]:
    return {"signatory": "Elise MOULENE", "place": "Lille", "signed_on": "2026-01-02", **changes}


def tomorrow(s: Scene) -> str:
    return s.world.day(1)


LABEL_51 = "x" * 51

# (method, url, who, body, status, code, field)
BAD_INPUT = [
    # POST /budget-lines
    ("POST", "/budget-lines", "admin", line_body(credits="10.001"), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "admin", line_body(credits="-5.00"), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "admin", line_body(credits="0.00"), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "admin", line_body(credits=True), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "admin", line_body(credits="NaN"), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "admin", line_body(credits="dix mille"), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "finance", raw('{"code": "C", "imputation": "I", "label": "L", "year": 2026, '
                                             '"credits": 10000.001}'), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "finance", raw('{"code": "C", "imputation": "I", "label": "L", "year": 2026, '
                                             '"credits": NaN}'), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "finance", raw('{"code": "C", "imputation": "I", "label": "L", "year": 2026, '
                                             '"credits": 1e400}'), 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "admin", line_body(year="2026"), 422, "invalid_fields", "year"),
    ("POST", "/budget-lines", "admin", line_body(year=2026.5), 422, "invalid_fields", "year"),
    ("POST", "/budget-lines", "admin", line_body(colour="bleu"), 422, "invalid_fields", "colour"),
    ("POST", "/budget-lines", "admin", line_body(code=""), 422, "invalid_fields", "code"),
    ("POST", "/budget-lines", "admin", line_body(label="x" * 201), 422, "invalid_fields", "label"),
    ("POST", "/budget-lines", "admin", {"json": {"code": "C"}}, 422, "invalid_fields", "credits"),
    ("POST", "/budget-lines", "admin", raw("{not json"), 400, "malformed_json", None),
    ("POST", "/budget-lines", "admin", {"data": b'{"code": "\xff"}', "content_type": "application/json"},
     400, "malformed_json", None),
    ("POST", "/budget-lines", "admin", raw('["a", "list"]'), 422, "invalid_fields", "body"),
    ("POST", "/budget-lines", "admin", raw("null"), 422, "invalid_fields", "body"),
    # POST /budget-lines/{id}/credits
    ("POST", "/budget-lines/{line}/credits", "finance", {"json": {"amount": "1.234", "reason": "r"}}, 422,
     "invalid_fields", "amount"),
    ("POST", "/budget-lines/{line}/credits", "finance", {"json": {"amount": 0, "reason": "r"}}, 422,
     "invalid_fields", "amount"),
    ("POST", "/budget-lines/{line}/credits", "finance", {"json": {"amount": "10.00"}}, 422, "invalid_fields",
     "reason"),
    ("POST", "/budget-lines/{line}/credits", "finance",
     lambda s: {"json": {"amount": "10.00", "reason": "r", "decided_on": tomorrow(s)}}, 422, "invalid_fields",
     "decided_on"),
    ("POST", "/budget-lines/{line}/credits", "finance",
     {"json": {"amount": "10.00", "reason": "r", "decided_on": "15/09/2025"}}, 422, "invalid_fields", "decided_on"),
    ("POST", "/budget-lines/{unknown}/credits", "finance", {"json": {"amount": "10.00", "reason": "r"}}, 404,
     "not_found", None),
    # POST /programmes
    ("POST", "/programmes", "admin", rules(max_amount="-1"), 422, "invalid_fields", "rules.max_amount"),
    ("POST", "/programmes", "admin", rules(max_rate="1.5"), 422, "invalid_fields", "rules.max_rate"),
    ("POST", "/programmes", "admin", rules(rounding="decade"), 422, "invalid_fields", "rules.rounding"),
    ("POST", "/programmes", "admin", rules(colour="bleu"), 422, "invalid_fields", "rules.colour"),
    ("POST", "/programmes", "admin", rules(payment_plan=[{"tranche": "x", "when": "convention_signed"}]),
     422, "invalid_fields", "rules.payment_plan.0.tranche"),
    ("POST", "/programmes", "admin", rules(min_amount="3000.00", max_amount="2500.00"), 422, "invalid_fields",
     "rules.min_amount"),
    ("POST", "/programmes", "admin", programme_body(closes_on="2025-12-31"), 422, "invalid_fields", "closes_on"),
    ("POST", "/programmes", "admin", programme_body(opens_on="2026-13-01"), 422, "invalid_fields", "opens_on"),
    ("POST", "/programmes", "admin", programme_body(budget_line_id="nope"), 422, "invalid_fields",
     "budget_line_id"),
    ("POST", "/programmes", "admin", programme_body(year=1999), 422, "invalid_fields", "year"),
    ("POST", "/programmes", "admin", programme_body(required_documents={"association": [LABEL_51]}), 422,
     "invalid_fields", "required_documents.association.value.0"),
    ("POST", "/programmes", "admin", programme_body(required_documents={"martian": ["x"]}), 422,
     "invalid_fields", "required_documents.martian.key"),
    ("POST", "/programmes", "admin", lambda s: programme_body(budget_line_id=str(uuid4()))(s), 404, "not_found",
     None),
    # POST /applicants
    ("POST", "/applicants", "instructor", applicant_body(siret="43853522100025"), 422, "invalid_fields", "siret"),
    ("POST", "/applicants", "instructor", applicant_body(siret="1234"), 422, "invalid_fields", "siret"),
    ("POST", "/applicants", "instructor", applicant_body(siret=73282932000074), 422, "invalid_fields", "siret"),
    ("POST", "/applicants", "instructor", applicant_body(siret=None), 422, "invalid_fields", "siret"),
    ("POST", "/applicants", "admin", applicant_body(bank=dict(BANK, iban="FR7630006000011234567890188")), 422,
     "invalid_fields", "bank.iban"),
    ("POST", "/applicants", "admin", applicant_body(email="pas-une-adresse"), 422, "invalid_fields", "email"),
    ("POST", "/applicants", "admin", applicant_body(kind="alien"), 422, "invalid_fields", "kind"),
    ("POST", "/applicants", "admin", applicant_body(colour="bleu"), 422, "invalid_fields", "colour"),
    ("POST", "/applicants", "admin", applicant_body(legal_representative={"name": "X"}), 422, "invalid_fields",
     "legal_representative.role"),
    # PUT /applicants/{id}/bank
    ("PUT", "/applicants/{applicant}/bank", "owner", {"json": dict(BANK, iban="FR76 3000 6000")}, 422,
     "invalid_fields", "iban"),
    ("PUT", "/applicants/{applicant}/bank", "finance", {"json": dict(BANK, bic="XX")}, 422, "invalid_fields", "bic"),
    ("PUT", "/applicants/{applicant}/bank", "finance", {"json": dict(BANK, holder=" ")}, 422, "invalid_fields",
     "holder"),
    ("PUT", "/applicants/{applicant}/bank", "finance", {"json": dict(BANK, colour="bleu")}, 422,
     "invalid_fields", "colour"),
    # POST /dossiers
    ("POST", "/dossiers", "owner", dossier_body(total_budget="abc"), 422, "invalid_fields", "total_budget"),
    ("POST", "/dossiers", "owner", dossier_body(amount_requested="7000.001"), 422, "invalid_fields",
     "amount_requested"),
    ("POST", "/dossiers", "owner", dossier_body(amount_requested="-1"), 422, "invalid_fields", "amount_requested"),
    ("POST", "/dossiers", "owner", dossier_body(other_public_funding="-1.00"), 422, "invalid_fields",
     "other_public_funding"),
    ("POST", "/dossiers", "owner", dossier_body(programme_id="x"), 422, "invalid_fields", "programme_id"),
    ("POST", "/dossiers", "owner", dossier_body(status="granted"), 422, "invalid_fields", "status"),
    ("POST", "/dossiers", "owner", dossier_body(amount_requested="20000.00"), 409, "amount_exceeds_budget", None),
    ("POST", "/dossiers", "owner", lambda s: dossier_body(programme_id=str(uuid4()))(s), 404, "not_found", None),
    ("POST", "/dossiers", "instructor", dossier_body(), 422, "invalid_fields", "applicant_id"),
    # PATCH /dossiers/{id}
    ("PATCH", "/dossiers/{draft}", "owner", {"json": {"amount_requested": "-100.00"}}, 422, "invalid_fields",
     "amount_requested"),
    ("PATCH", "/dossiers/{draft}", "owner", {"json": {"reference": "2026-99999"}}, 422, "invalid_fields",
     "reference"),
    ("PATCH", "/dossiers/{draft}", "owner", {"json": {"project_name": ""}}, 422, "invalid_fields", "project_name"),
    ("PATCH", "/dossiers/{draft}", "owner", {"json": {"project_name": "x" * 301}}, 422, "invalid_fields",
     "project_name"),
    ("PATCH", "/dossiers/{draft}", "owner", {"json": {"amount_requested": "99999.00"}}, 409,
     "amount_exceeds_budget", None),
    # POST /dossiers/{id}/documents
    ("POST", "/dossiers/{draft}/documents", "owner", upload(label=LABEL_51), 422, "invalid_fields", "label"),
    ("POST", "/dossiers/{draft}/documents", "owner", upload(content=None), 422, "invalid_fields", "file"),
    ("POST", "/dossiers/{draft}/documents", "owner", upload(kind=None), 422, "invalid_fields", "kind"),
    ("POST", "/dossiers/{draft}/documents", "owner", upload(colour="bleu"), 422, "invalid_fields", "colour"),
    ("POST", "/dossiers/{draft}/documents", "owner", upload(content=b""), 422, "invalid_fields", "file"),
    ("POST", "/dossiers/{draft}/documents", "owner", upload(received_on="2026-01-01"), 422, "invalid_fields",
     "received_on"),
    ("POST", "/dossiers/{draft}/documents", "owner", {"json": {"kind": "statuts", "label": "Statuts"}}, 422,
     "invalid_fields", "file"),
    # POST /dossiers/{id}/submit
    ("POST", "/dossiers/{draft}/submit", "owner", {"json": {}}, 422, "invalid_fields", "sworn_statement"),
    ("POST", "/dossiers/{draft}/submit", "owner", {"json": {"sworn_statement": "oui"}}, 422, "invalid_fields",
     "sworn_statement"),
    ("POST", "/dossiers/{draft}/submit", "owner", lambda s: {"json": {"sworn_statement": sworn(
        signed_on=tomorrow(s))}}, 422, "invalid_fields", "sworn_statement.signed_on"),
    ("POST", "/dossiers/{draft}/submit", "owner", {"json": {"sworn_statement": sworn(signatory="")}}, 422,
     "invalid_fields", "sworn_statement.signatory"),
    ("POST", "/dossiers/{draft}/submit", "owner", lambda s: {"json": {"sworn_statement": sworn(),
                                                                      "submitted_on": s.world.today.isoformat()}},
     422, "invalid_fields", "submitted_on"),
    ("POST", "/dossiers/{draft}/submit", "instructor", lambda s: {"json": {"sworn_statement": sworn(),
                                                                           "submitted_on": tomorrow(s)}},
     422, "invalid_fields", "submitted_on"),
    ("POST", "/dossiers/{draft}/submit", "owner", {"json": {"sworn_statement": sworn(), "colour": 1}}, 422,
     "invalid_fields", "colour"),
    # POST /dossiers/{id}/request-documents
    ("POST", "/dossiers/{submitted}/request-documents", "instructor", {"json": {"documents": [], "message": "m"}},
     422, "invalid_fields", "documents"),
    ("POST", "/dossiers/{submitted}/request-documents", "instructor", {"json": {"documents": "rib",
                                                                                "message": "m"}},
     422, "invalid_fields", "documents"),
    ("POST", "/dossiers/{submitted}/request-documents", "instructor", {"json": {"documents": [""], "message": "m"}},
     422, "invalid_fields", "documents.0"),
    ("POST", "/dossiers/{submitted}/request-documents", "instructor", {"json": {"documents": ["rib"]}}, 422,
     "invalid_fields", "message"),
    ("POST", "/dossiers/{submitted}/request-documents", "instructor",
     lambda s: {"json": {"documents": ["rib"], "message": "m", "requested_on": tomorrow(s)}}, 422,
     "invalid_fields", "requested_on"),
    # POST /dossiers/{id}/instruct
    ("POST", "/dossiers/{submitted}/instruct", "instructor", {"json": {"opinion": "maybe",
                                                                       "eligible_cost": "10000.00"}},
     422, "invalid_fields", "opinion"),
    ("POST", "/dossiers/{submitted}/instruct", "instructor", {"json": {"opinion": "favourable",
                                                                       "proposed_amount": "100.00",
                                                                       "eligible_cost": "0"}},
     422, "invalid_fields", "eligible_cost"),
    ("POST", "/dossiers/{submitted}/instruct", "instructor", {"json": {"opinion": "favourable", "rate": "1.5",
                                                                       "eligible_cost": "10000.00"}},
     422, "invalid_fields", "rate"),
    ("POST", "/dossiers/{submitted}/instruct", "instructor", raw(
        '{"opinion": "favourable", "proposed_amount": 9380.001, "eligible_cost": "10000.00"}'),
     422, "invalid_fields", "proposed_amount"),
    ("POST", "/dossiers/{submitted}/instruct", "instructor", raw(
        '{"opinion": "favourable", "proposed_amount": true, "eligible_cost": "10000.00"}'),
     422, "invalid_fields", "proposed_amount"),
    ("POST", "/dossiers/{submitted}/instruct", "instructor", lambda s: {"json": {
        "opinion": "favourable", "proposed_amount": "9380.00", "eligible_cost": "10000.00",
        "instructed_on": tomorrow(s)}}, 422, "invalid_fields", "instructed_on"),
    ("POST", "/dossiers/{submitted}/instruct", "instructor", {"json": {"opinion": "favourable",
                                                                       "eligible_cost": "10000.00"}},
     409, "proposed_amount_required", None),
    # POST /dossiers/{id}/decline
    ("POST", "/dossiers/{submitted}/decline", "instructor", {"json": {}}, 422, "invalid_fields", "reason"),
    ("POST", "/dossiers/{submitted}/decline", "instructor", lambda s: {"json": {"reason": "r",
                                                                                "decided_on": tomorrow(s)}},
     422, "invalid_fields", "decided_on"),
    ("POST", "/dossiers/{submitted}/decline", "instructor", {"json": {"reason": "r", "colour": 1}}, 422,
     "invalid_fields", "colour"),
    # POST /dossiers/{id}/withdraw
    ("POST", "/dossiers/{draft}/withdraw", "owner", {"json": {"reason": 123}}, 422, "invalid_fields", "reason"),
    ("POST", "/dossiers/{draft}/withdraw", "owner", {"json": {"withdrawn_on": "2026-01-01"}}, 422,
     "invalid_fields", "withdrawn_on"),
    # issue 8: what no body may carry (the corpus in tests/corpus/ has many more)
    ("POST", "/dossiers", "owner", raw("[" * 50_000), 400, "json_too_deep", None),
    ("POST", "/dossiers/{submitted}/instruct", "instructor", raw('{"comment": ' + '{"a": ' * 40 + "1" + "}" * 41),
     400, "json_too_deep", None),
    ("POST", "/dossiers", "owner", raw('{"project_name": "' + "x" * (1024 * 1024) + '"}'), 413, "too_large", None),
    ("PATCH", "/dossiers/{draft}", "owner", {"json": {"project_name": "Jumelage\u0000"}}, 422, "invalid_fields",
     "project_name"),
    ("PATCH", "/dossiers/{draft}", "owner", {"json": {"project_name": "\ud83d"}}, 422, "invalid_fields",
     "project_name"),
    ("POST", "/budget-lines/{line}/credits", "finance", {"json": {"amount": "1_000", "reason": "r"}}, 422,
     "invalid_fields", "amount"),
    ("POST", "/budget-lines/{line}/credits", "finance",
     {"json": {"amount": "10.00", "reason": "r", "decided_on": "1999-12-31"}}, 422, "invalid_fields", "decided_on"),
    # reads
    ("GET", "/dossiers?limit=0", "instructor", {}, 422, "invalid_fields", "limit"),
    ("GET", "/dossiers?limit=201", "instructor", {}, 422, "invalid_fields", "limit"),
    ("GET", "/dossiers?limit=abc", "instructor", {}, 422, "invalid_fields", "limit"),
    ("GET", "/dossiers?programme_id=x", "auditor", {}, 422, "invalid_fields", "programme_id"),
    ("GET", "/dossiers/{submitted}?as_of=hier", "auditor", {}, 422, "invalid_fields", "as_of"),
    ("GET", "/dossiers/{submitted}?as_of=2026-02-30", "auditor", {}, 422, "invalid_fields", "as_of"),
    ("GET", "/dossiers/{submitted}?effective_on=2026-01", "auditor", {}, 422, "invalid_fields", "effective_on"),
    ("GET", "/dossiers/{submitted}?effective_on=2026-01-01&as_of=2026-01-01", "auditor", {}, 422,
     "invalid_fields", "effective_on"),
    # unknown resources and methods
    ("GET", "/dossiers/not-a-uuid", "instructor", {}, 404, "not_found", None),
    ("GET", "/dossiers/{unknown}", "instructor", {}, 404, "not_found", None),
    ("GET", "/dossiers/{unknown}/history", "auditor", {}, 404, "not_found", None),
    ("GET", "/dossiers/{draft}/documents/{unknown}", "owner", {}, 404, "not_found", None),
    ("POST", "/dossiers/{unknown}/submit", "instructor", {"json": {"sworn_statement": sworn()}}, 404, "not_found",
     None),
    ("GET", "/budget-lines/{unknown}", "finance", {}, 404, "not_found", None),
    ("GET", "/programmes/{unknown}", "owner", {}, 404, "not_found", None),
    ("GET", "/applicants/{unknown}", "instructor", {}, 404, "not_found", None),
    ("GET", "/nowhere", "admin", {}, 404, "not_found", None),
    ("DELETE", "/dossiers/{draft}", "owner", {}, 405, "method_not_allowed", None),
]


def case_id(case: tuple[Any, ...]) -> str:
    method, url, who, _, status, code, field = case
    return f"{method} {url} {who} {status} {field or code}"


@pytest.mark.parametrize("case", BAD_INPUT, ids=[case_id(c) for c in BAD_INPUT])
def test_bad_input_is_refused_with_the_field_named_and_nothing_recorded(scene, case):
    method, url, who, body, status, code, field = case
    kwargs = body(scene) if callable(body) else body
    scene.world.refused(method, scene.url(url), scene.who(who), status, code, field, **kwargs)


# --- files ---------------------------------------------------------------------------------------------------


def test_a_file_over_20_mb_is_refused_with_413_and_nothing_is_kept(scene, services):
    before = sorted(p for p in services.blobs_dir.rglob("*") if p.is_file())
    url = scene.url("/dossiers/{draft}/documents")
    error = scene.world.refused("POST", url, scene.owner, 413, "too_large", "file",
                                **upload(content=b"%" * (20 * MB + 1)))
    assert "20 Mo" in error["message"]
    scene.world.refused("POST", url, scene.owner, 413, "too_large", None, **upload(content=b"%" * (22 * MB)))
    assert sorted(p for p in services.blobs_dir.rglob("*") if p.is_file()) == before


# --- who may do what ------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/budget-lines"), ("POST", "/budget-lines"), ("GET", "/budget-lines/{line}"),
    ("POST", "/budget-lines/{line}/credits"), ("GET", "/programmes"), ("POST", "/programmes"),
    ("GET", "/programmes/{programme}"), ("POST", "/applicants"), ("GET", "/applicants/{applicant}"),
    ("PUT", "/applicants/{applicant}/bank"), ("GET", "/dossiers"), ("POST", "/dossiers"),
    ("GET", "/dossiers/{draft}"), ("PATCH", "/dossiers/{draft}"), ("POST", "/dossiers/{draft}/documents"),
    ("POST", "/dossiers/{draft}/submit"), ("POST", "/dossiers/{submitted}/request-documents"),
    ("POST", "/dossiers/{submitted}/instruct"), ("POST", "/dossiers/{submitted}/decline"),
    ("POST", "/dossiers/{draft}/withdraw"), ("GET", "/dossiers/{draft}/history"), ("GET", "/audit/verify"),
]
WRITES = [(m, u) for m, u in ENDPOINTS if m != "GET"]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS, ids=[f"{m} {u}" for m, u in ENDPOINTS])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic YWRtaW46YWRtaW4=", "Bearer "])
def test_without_a_valid_token_every_endpoint_answers_401(scene, method, url, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    error = scene.world.refused(method, scene.url(url), headers, 401, "unauthorized", json={})
    assert "jeton" in error["message"]


@pytest.mark.parametrize(("method", "url"), WRITES, ids=[f"{m} {u}" for m, u in WRITES])
def test_auditors_write_nothing(scene, method, url):
    scene.world.refused(method, scene.url(url), scene.world.auditor, 403, "forbidden", json={})


WRONG_ROLE = [
    ("GET", "/budget-lines", "owner"), ("POST", "/budget-lines", "instructor"), ("POST", "/budget-lines", "owner"),
    ("GET", "/budget-lines/{line}", "owner"), ("POST", "/budget-lines/{line}/credits", "instructor"),
    ("POST", "/programmes", "instructor"), ("POST", "/programmes", "finance"), ("POST", "/applicants", "finance"),
    ("POST", "/applicants", "secretary"), ("POST", "/applicants", "owner"),
    ("PUT", "/applicants/{applicant}/bank", "secretary"), ("POST", "/dossiers", "admin"),
    ("POST", "/dossiers", "finance"), ("POST", "/dossiers", "secretary"), ("PATCH", "/dossiers/{draft}", "instructor"),
    ("PATCH", "/dossiers/{draft}", "admin"), ("POST", "/dossiers/{draft}/documents", "admin"),
    ("POST", "/dossiers/{draft}/documents", "finance"), ("POST", "/dossiers/{draft}/submit", "admin"),
    ("POST", "/dossiers/{submitted}/request-documents", "owner"),
    ("POST", "/dossiers/{submitted}/request-documents", "admin"), ("POST", "/dossiers/{submitted}/instruct", "owner"),
    ("POST", "/dossiers/{submitted}/instruct", "finance"), ("POST", "/dossiers/{submitted}/decline", "owner"),
    ("POST", "/dossiers/{submitted}/decline", "secretary"), ("POST", "/dossiers/{draft}/withdraw", "instructor"),
    ("GET", "/audit/verify", "instructor"), ("GET", "/audit/verify", "owner"),
]


@pytest.mark.parametrize(("method", "url", "who"), WRONG_ROLE, ids=[" ".join(c) for c in WRONG_ROLE])
def test_a_role_not_allowed_gets_403(scene, method, url, who):
    error = scene.world.refused(method, scene.url(url), scene.who(who), 403, "forbidden", json={})
    assert "rôle" in error["message"]


ANOTHER_APPLICANTS = [
    ("GET", "/dossiers/{draft}"), ("GET", "/dossiers/{draft}/history"), ("PATCH", "/dossiers/{draft}"),
    ("POST", "/dossiers/{draft}/documents"), ("POST", "/dossiers/{draft}/submit"),
    ("POST", "/dossiers/{draft}/withdraw"), ("GET", "/applicants/{applicant}"),
    ("PUT", "/applicants/{applicant}/bank"),
]


@pytest.mark.parametrize(("method", "url"), ANOTHER_APPLICANTS, ids=[" ".join(c) for c in ANOTHER_APPLICANTS])
def test_another_applicants_dossier_or_record_is_404_not_403(scene, method, url):
    scene.world.refused(method, scene.url(url), scene.other, 404, "not_found", json={"project_name": "Volé"})


def test_an_applicant_files_only_for_itself(scene, services):
    other_id = services.tokens.authenticate(scene.other["Authorization"].split()[1]).applicant_id
    scene.world.refused("POST", "/dossiers", scene.owner, 403, "forbidden",
                        **dossier_body(applicant_id=str(other_id))(scene))
    mine = scene.world.call("POST", "/dossiers", scene.owner, 201,
                            **dossier_body(applicant_id=scene.applicant)(scene)).get_json()
    assert mine["applicant_id"] == scene.applicant


def test_admin_reads_what_staff_reads_and_applicants_read_themselves(scene):
    w = scene.world
    for url in ("/dossiers", "/dossiers/{draft}", "/dossiers/{draft}/history", "/budget-lines/{line}",
                "/applicants/{applicant}", "/programmes", "/audit/verify"):
        w.call("GET", scene.url(url), w.admin, 200)
    assert w.call("GET", scene.url("/applicants/{applicant}"), scene.owner, 200).get_json()["id"] == scene.applicant
    changed = w.call("PUT", scene.url("/applicants/{applicant}/bank"), scene.owner, 200,
                     json=dict(BANK, iban="FR76 3000 6000 0112 3456 7890 189")).get_json()
    assert changed["bank"]["iban"] == "FR7630006000011234567890189"


# --- never a 500 for bad input ----------------------------------------------------------------------------------

GARBAGE = ['[]', '"text"', '42', 'null', '{"x": {"y": [1, {"z": null}]}}', '{"credits": 1e999999}',
           '{"amount": "Infinity", "reason": -Infinity}', '{"' + "a" * 5000 + '": 1}',
           '{"sworn_statement": {"signed_on": 20260101}, "documents": {"a": 1}, "rules": []}',
           '{"opinion": ["favourable"], "eligible_cost": {"v": 1}, "rate": false, "year": 1e3}']


@pytest.mark.parametrize(("method", "url"), WRITES, ids=[f"{m} {u}" for m, u in WRITES])
def test_garbage_bodies_never_cause_a_server_error(scene, method, url):
    allowed = {"/budget-lines": "admin", "/programmes": "admin", "/applicants": "instructor", "/dossiers": "owner"}
    who = next((w for prefix, w in allowed.items() if url == prefix), None) or (
        "finance" if "budget-lines" in url or "bank" in url else
        "instructor" if any(k in url for k in ("instruct", "decline", "request-documents")) else "owner")
    before = event_count(scene.world.services)
    for text in GARBAGE:
        response = scene.world.client.open(scene.url(url), method=method, headers=scene.who(who), **raw(text))
        assert response.status_code in (400, 404, 409, 413, 422), (text, response.get_data(True))
        assert set(response.get_json()["error"]) == {"code", "message", "fields", "checks"}
    assert event_count(scene.world.services) == before


def test_an_unexpected_failure_is_a_500_in_the_same_format(scene, services, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.app.recorder, "max_notification_id", broken)
    error = scene.world.call("GET", "/audit/verify", scene.world.auditor, 500).get_json()["error"]
    assert error["code"] == "internal_error"
    assert "disk on fire" not in error["message"]

"""Hardening (issue 8): tokens, limits on what a request may carry, rate limits, headers, and clean logs.

- tokens are stored as SHA-256 only and the stored hash is compared in constant time (hmac.compare_digest);
- a JSON body is at most 1 MiB (413) and 32 levels deep (400 `json_too_deep`: never a RecursionError 500);
  text holding control characters or lone surrogates is refused (422) instead of breaking storage (500);
- writes are rate-limited per token and process (429 in the error format, with Retry-After), reads never;
- every answer carries nosniff, no framing, no referrer, no-store; pages get their Content-Security-Policy;
- a whole grant's life through the API and the mail workers logs no IBAN, e-mail address or token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from typing import Any

import pytest
from sqlalchemy import select

from api.hardening import JSON_MAX_BYTES, JSON_MAX_DEPTH, RateLimit, TokenBuckets
from projections.tokens import api_tokens
from tests.conftest import event_count
from tests.integration import test_workers_support as support
from tests.integration.reliability_scene import build_scene, mail_workers
from tests.integration.test_api import IBAN, World, raw
from tests.integration.test_api_deliberations import Acts

smtp_sink, broker_url, prefix = support.smtp_sink, support.broker_url, support.prefix  # fixtures
__all__ = ["mail_workers"]  # a fixture

LINE = {"code": "C05-043A06", "imputation": "65748//93043", "label": "Actions européennes", "year": 2026,
        "credits": "10000.00"}


@pytest.fixture
def world(client: Any, services: Any, token: Any) -> World:
    return World(client, services, token)


# --- tokens --------------------------------------------------------------------------------------


def test_tokens_are_kept_as_hashes_and_compared_in_constant_time(services, monkeypatch):
    token = services.tokens.create(role="finance", name="Paierie", applicant_id=None)
    with services.read.begin() as conn:
        rows = [dict(r) for r in conn.execute(select(api_tokens)).mappings()]
    assert [r["token_hash"] for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(value) for r in rows for value in r.values())

    compared: list[tuple[str, str]] = []
    import projections.tokens as tokens_module

    real = tokens_module.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens_module.hmac, "compare_digest", spy)
    services.tokens.cache_seconds = 0
    assert services.tokens.authenticate(token) is not None
    assert compared == [(rows[0]["token_hash"], hashlib.sha256(token.encode()).hexdigest())]


# --- what a request may carry --------------------------------------------------------------------


def test_absurdly_nested_json_is_refused_with_400_and_records_nothing(world, services):
    for text in ("[" * 100_000, '{"a":' * 50_000, "[" * (JSON_MAX_DEPTH + 1) + "]" * (JSON_MAX_DEPTH + 1)):
        world.refused("POST", "/budget-lines", world.admin, 400, "json_too_deep", **raw(text))
    nested: Any = "x"
    for _ in range(JSON_MAX_DEPTH + 5):
        nested = {"k": nested}
    world.refused("POST", "/budget-lines", world.admin, 400, "json_too_deep", json={**LINE, "label": nested})
    shallow: Any = "x"
    for _ in range(JSON_MAX_DEPTH - 2):
        shallow = [shallow]
    world.refused("POST", "/budget-lines", world.admin, 422, "invalid_fields", "label", json={**LINE, "label": shallow})
    assert event_count(services) == 0


def test_json_bodies_are_limited_to_one_mebibyte(world):
    big = b'{"code": "' + b"x" * (JSON_MAX_BYTES + 1) + b'"}'
    error = world.refused("POST", "/budget-lines", world.admin, 413, "too_large",
                          data=big, content_type="application/json")
    assert "Ko" in error["message"]
    under = {**LINE, "label": "x" * (JSON_MAX_BYTES // 2)}  # under the limit: judged on its fields
    world.refused("POST", "/budget-lines", world.admin, 422, "invalid_fields", "label", json=under)


def test_text_no_storage_could_hold_is_refused_with_the_field_named(world, services):
    for value, field in (("A\u0000B", "code"), ("\ud800", "label"), ("bell\u0007", "imputation")):
        world.refused("POST", "/budget-lines", world.admin, 422, "invalid_fields", field, json={**LINE, field: value})
    world.refused("POST", "/budget-lines", world.admin, 422, "invalid_fields", "\u0000",
                  json={**LINE, "\u0000": "x"})
    accepted = world.call("POST", "/budget-lines", world.admin, 201,
                          json={**LINE, "label": "Ligne\tavec\ntabulation et retour"}).get_json()
    assert accepted["label"] == "Ligne\tavec\ntabulation et retour"


# --- rate limits ---------------------------------------------------------------------------------


@pytest.fixture
def limited(settings: Any) -> Any:
    """An app whose writes are limited to 3 an hour per token."""
    from api import create_app
    from subventio import build

    services = build(dataclasses.replace(settings, rate_limit="3/3600"))
    app = create_app(services)
    app.config["TESTING"] = True
    yield services, app.test_client()
    services.app.close()
    services.read.dispose()


def test_writes_beyond_the_rate_limit_get_429_with_retry_after(limited):
    services, client = limited
    admin = {"Authorization": f"Bearer {services.tokens.create(role='admin', name='a', applicant_id=None)}"}
    other = {"Authorization": f"Bearer {services.tokens.create(role='admin', name='b', applicant_id=None)}"}
    statuses = [client.post("/budget-lines", headers=admin, json={**LINE, "code": f"C{i}"}).status_code
                for i in range(3)]
    assert statuses == [201, 201, 201]
    before = event_count(services)

    refused = client.post("/budget-lines", headers=admin, json={**LINE, "code": "C9"})

    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert (error["code"], set(error)) == ("rate_limited", {"code", "message", "fields", "checks"})
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert event_count(services) == before
    assert client.get("/budget-lines", headers=admin).status_code == 200  # reads are never limited
    assert client.post("/budget-lines", headers=other, json={**LINE, "code": "D1"}).status_code == 201  # per token


def test_a_bucket_refills_at_its_rate_and_settings_are_checked():
    now = [0.0]
    buckets = TokenBuckets(RateLimit(2, 10.0), clock=lambda: now[0])
    assert [buckets.take("t") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("t") == pytest.approx(5.0)  # one request every 5 s
    now[0] = 5.0
    assert buckets.take("t") == 0.0
    assert buckets.take("u") == 0.0
    assert RateLimit.parse(None) == RateLimit(6000, 60.0)  # the default
    assert RateLimit.parse("off") is None and RateLimit.parse("0") is None
    assert RateLimit.parse("120/60") == RateLimit(120, 60.0)
    for wrong in ("abc", "-1/60", "10/0", "10/nan"):
        with pytest.raises(ValueError, match="SUBVENTIO_RATE_LIMIT"):
            RateLimit.parse(wrong)


# --- headers ---------------------------------------------------------------------------------------


SAFE = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store"}


def test_every_answer_carries_the_safety_headers(world, client):
    line = world.budget_line()
    answers = {
        "json": client.get(f"/budget-lines/{line['id']}", headers=world.finance),
        "error": client.get("/budget-lines"),
        "openapi": client.get("/openapi.json"),
        "health": client.get("/health"),
        "csv": client.get("/legality/register.csv", headers=world.auditor),
        "page": client.get("/ui/"),
    }
    for name, response in answers.items():
        assert response.status_code < 500, name
        for header, value in SAFE.items():
            assert response.headers.get(header) == value, (name, header, response.headers.get(header))
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, (name, policy)
    assert "script-src" not in answers["page"].headers["Content-Security-Policy"]  # no script at all
    assert "style-src 'self'" in answers["page"].headers["Content-Security-Policy"]


# --- logs ------------------------------------------------------------------------------------------


def test_a_whole_grant_logs_no_iban_email_or_token(client, services, token, caplog, mail_workers, smtp_sink):
    issued: list[str] = []

    def recording_token(role: str, applicant_id: Any = None, name: str | None = None) -> dict[str, str]:
        headers: dict[str, str] = token(role, applicant_id, name)
        issued.append(headers["Authorization"].removeprefix("Bearer "))
        return headers

    caplog.set_level(logging.DEBUG)
    scene = build_scene(Acts(client, services, recording_token))
    assert mail_workers.notifier.connected.wait(30)
    assert smtp_sink.wait_for(3, timeout=60), "the workers sent no mail"
    client.get("/dossiers/00000000-0000-0000-0000-000000000000", headers=scene.owner)  # a refusal, logged or not
    mails = client.get(f"/dossiers/{scene.ids['dossier_id']}/notifications", headers=scene.owner).get_json()
    assert mails["items"] and {m["to"] for m in mails["items"]} == {"contact@lianes.example"}

    secrets = {IBAN, " ".join(re.findall(".{1,4}", IBAN)), "contact@lianes.example", *issued}
    logged = [record.getMessage() + (record.exc_text or "") for record in caplog.records
              if not record.name.startswith("mail.log")]  # aiosmtpd: the test's mail server, not ours
    assert logged, "nothing was logged: the test would prove nothing"
    assert any("mail sent to c***@l***" in line for line in logged), logged
    leaks = [(secret, line) for line in logged for secret in secrets if secret in line]
    assert leaks == []


def test_the_embedded_default_prints_mail_to_the_log_without_the_address(caplog):
    from workers.mail import LogMailer, Mail

    caplog.set_level(logging.INFO)
    LogMailer().send(Mail(to="elise.moulene@lianes.example", subject="Accusé de réception", text="Bonjour",
                          html="<p>Bonjour</p>", kind="acknowledgment", dossier_id="d", message_id="m"))
    [record] = [r for r in caplog.records if r.name == "subventio.mail"]
    assert "Accusé de réception" in record.getMessage() and "Bonjour" in record.getMessage()
    assert "elise.moulene" not in record.getMessage() and "e***@l***" in record.getMessage()

"""One error body for every refusal: {"error": {code, message, fields, checks}}, whatever raised it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from domain.errors import (
    Check,
    DomainError,
    Forbidden,
    InvalidFields,
    InvalidValue,
    NotFound,
    RuleViolation,
    StaleVersion,
)

log = logging.getLogger("subventio.api")

MAX_UPLOAD = 20 * 1024 * 1024  # rule 2: at most 20 MB per attachment


class ApiError(Exception):
    """A refusal decided by the HTTP layer itself (bad JSON, no token, file too large...)."""

    def __init__(self, status: int, code: str, message: str, fields: Mapping[str, list[str]] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Authentification requise : jeton (Bearer) absent, invalide ou révoqué.")


def malformed_json() -> ApiError:
    return ApiError(400, "malformed_json", "Le corps de la requête n'est pas un JSON valide.")


def too_large() -> ApiError:
    return ApiError(413, "too_large", f"Fichier trop volumineux : {MAX_UPLOAD // (1024 * 1024)} Mo au plus.",
                    {"file": [f"Au plus {MAX_UPLOAD // (1024 * 1024)} Mo."]})


def body(status: int, code: str, message: str, fields: Mapping[str, list[str]] | None = None,
         checks: list[Check] | None = None) -> tuple[Response, int]:
    payload = {"code": code, "message": message, "fields": dict(fields or {}),
               "checks": [c.as_dict() for c in checks or []]}
    return jsonify({"error": payload}), status


DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (InvalidValue, 422), (InvalidFields, 422), (NotFound, 404), (StaleVersion, 412), (Forbidden, 403),
    (RuleViolation, 409),
]


def domain_error(error: DomainError) -> tuple[Response, int]:
    """Maps each kind of domain refusal to its status; the rule's code is kept as the error code."""
    status = next((s for cls, s in DOMAIN_STATUS if isinstance(error, cls)), 409)
    return body(status, error.code, error.message, getattr(error, "fields", None),
                getattr(error, "checks", None))


def api_error(error: ApiError) -> tuple[Response, int]:
    response, status = body(error.status, error.code, error.message, error.fields)
    response.headers.update(error.headers)
    return response, status


HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
              415: "unsupported_media_type", 422: "invalid_fields", 429: "rate_limited"}
HTTP_MESSAGES = {
    400: "Requête invalide.",
    404: "Ressource introuvable.",
    405: "Méthode non permise sur cette ressource.",
    413: f"Requête trop volumineuse : un fichier fait au plus {MAX_UPLOAD // (1024 * 1024)} Mo.",
    422: "Champs invalides.",
}


def http_error(error: HTTPException) -> tuple[Response, int]:
    """Werkzeug's and webargs' errors (404 routing, 405, 413, 422 validation) in our format."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    fields = flatten(data.get("messages") or data.get("errors") or {}) if status == 422 else {}
    code = HTTP_CODES.get(status, (error.name or "error").lower().replace(" ", "_"))
    message = HTTP_MESSAGES.get(status, error.description or error.name or "Erreur")
    if fields:
        message = "Champs invalides : " + ", ".join(sorted(fields)) + "."
    response, status = body(status, code, message, fields)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    return response, status


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs' {"json": {"rules": {"max_amount": [..]}}} → {"rules.max_amount": [..]} (location dropped)."""
    if prefix == "" and isinstance(messages, Mapping) and set(messages) <= LOCATIONS:
        return {k: v for location in messages.values() for k, v in flatten(location, "").items()}
    if isinstance(messages, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            for field, texts in flatten(value, name).items():
                out.setdefault(field, []).extend(texts)
        return out
    texts = messages if isinstance(messages, list) else [messages]
    return {prefix or "body": [str(t) for t in texts]}


LOCATIONS = {"json", "query", "querystring", "form", "files", "headers", "view_args", "form_and_files"}


def unexpected(error: Exception) -> tuple[Response, int]:
    """Anything not foreseen: logged with its traceback, answered in the same format, never leaked."""
    log.exception("unexpected error while handling the request", exc_info=error)
    return body(500, "internal_error", "Erreur interne : l'incident est journalisé.")


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, domain_error)
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(Exception, unexpected)

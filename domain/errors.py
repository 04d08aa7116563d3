"""Domain errors: each names the rule it enforces so the API can say which one refused."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every refusal by the domain; nothing is recorded when one is raised."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(DomainError):
    """A field's value is malformed (HTTP 422)."""

    code = "invalid_fields"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.fields = {field_name: [message]}


class InvalidFields(DomainError):
    """Several fields are malformed (HTTP 422)."""

    code = "invalid_fields"

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Check:
    """One named check with its outcome, as listed in a refusal or a legality report."""

    check: str
    ok: bool
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


class RuleViolation(DomainError):
    """The state or a business rule forbids the command (HTTP 409); `code` names the rule."""

    def __init__(self, code: str, message: str, checks: list[Check] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.checks: list[Check] = list(checks or [])


class NotFound(DomainError):
    """An unknown resource, or one this user may not see (HTTP 404)."""

    code = "not_found"


class StaleVersion(DomainError):
    """The If-Match version is not the current one (HTTP 412)."""

    code = "stale_version"


class Forbidden(DomainError):
    """The role may not do this (HTTP 403)."""

    code = "forbidden"

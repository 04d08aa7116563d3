"""What the HTTP layer needs, built once by the composition root (subventio.py) and passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from domain.application import Subventio
from projections.database import ReadStore
from projections.runner import ProjectionRunner
from projections.tokens import TokenStore


@dataclass
class Services:
    """The application, the read store and its runner, tokens, blob directory, clock and settings."""

    app: Subventio
    read: ReadStore
    runner: ProjectionRunner
    tokens: TokenStore
    blobs_dir: Path
    today: Callable[[], date]
    authority_siren: str = "226200012"
    department_code: str = "062"
    broker_status: Callable[[], str] = lambda: "embedded"
    rate_limit: str | None = None
    """Writes allowed per token and worker process, "<requests>/<seconds>" or "off" (None: api.hardening's default)."""
    verify_workers: int = 1
    """Processes `GET /audit/verify` may use on a big log (projections.integrity.verify)."""
    extra: dict[str, Any] = field(default_factory=dict)


def current_services() -> Services:
    """The services of the running Flask app (set by create_app)."""
    from flask import current_app

    services: Services = current_app.extensions["subventio"]
    return services

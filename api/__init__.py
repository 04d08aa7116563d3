"""HTTP API: Flask app factory, one blueprint per resource, marshmallow schemas, auth and errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from api.services import Services


def create_app(services: Services) -> Flask:
    """Builds the Flask app around already-built services; nothing is read or opened here."""
    from flask import Flask

    from api import applicants, audit, budget_lines, deliberations, dossiers, errors, execution, health, programmes
    from api.common import Api, JSONProvider, ResponseCache
    from api.errors import MAX_UPLOAD
    from api.hardening import install as harden
    from api.schemas import Instant, Money, Rate

    app = Flask("subventio", static_folder=None)
    app.json = JSONProvider(app)
    app.extensions["subventio"] = services
    app.extensions["subventio_responses"] = ResponseCache()
    app.config.update(
        API_TITLE="subventio", API_VERSION="1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_UPLOAD + 1024 * 1024,  # the multipart envelope; the file itself is checked exactly
        API_SPEC_OPTIONS={
            "info": {"description": "Subventions d'un Département : dépôt, instruction, historique auditable."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api = Api(app)
    api.register_field(Money, "string", "decimal")
    api.register_field(Rate, "string", "decimal")
    api.register_field(Instant, "string", None)
    errors.register(app)
    harden(app, services.rate_limit)
    for module in (health, audit, budget_lines, programmes, applicants, dossiers, deliberations, execution):
        api.register_blueprint(module.blp)
    for blueprint in (deliberations.legality_blp, execution.refunds_blp, execution.payments_blp):
        api.register_blueprint(blueprint)
    register_audit_views(app, api)
    serve_current_reads(app)
    return app


def serve_current_reads(app: Flask) -> None:
    """Cached current-state GETs answered in front of Flask (api.reads); `app.wsgi_app.wsgi_app` is Flask's."""
    from api.reads import CurrentReads, routes

    app.wsgi_app = CurrentReads(app.wsgi_app, app.extensions["subventio"],  # type: ignore[method-assign]
                                app.extensions["subventio_responses"], routes(app))


def register_audit_views(app: Flask, api: Any) -> None:
    """Issue 6: CSV registers and legality bundles (documented), and the web view (a plain blueprint: no OpenAPI)."""
    from api import bundles, exports
    from api.ui import ui

    api.register_blueprint(exports.blp)
    api.register_blueprint(bundles.blp)
    app.register_blueprint(ui)

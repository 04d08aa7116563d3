"""Health: does the event store answer, the broker's state, how far the projections lag (no auth)."""

from __future__ import annotations

import logging
from typing import Any

from flask.views import MethodView

from api.common import Blueprint
from api.schemas import HealthSchema
from api.services import current_services

log = logging.getLogger("subventio.api")

blp = Blueprint("health", __name__, description="État du service.")


def report() -> Any:
    services = current_services()
    try:
        services.app.recorder.max_notification_id()
        lag = services.runner.lag()
        store = "ok"
    except Exception:
        log.exception("health: the event store does not answer")
        store, lag = "unavailable", None
    status = "ok" if store == "ok" else "degraded"
    return {"status": status, "store": store, "broker": services.broker_status(),
            "projections_lag": lag}, 200 if status == "ok" else 503


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="The event store does not answer")
    def get(self) -> Any:
        """Liveness and readiness."""
        return report()

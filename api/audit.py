"""Audit: proof that no stored event was changed, removed or reordered (auditors and admin)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.auth import ADMIN, AUDITOR
from api.common import Blueprint, application
from api.schemas import VerificationSchema

blp = Blueprint("audit", __name__, url_prefix="/audit", description="Intégrité du journal d'événements.")


@blp.route("/verify")
class Verify(MethodView):
    @blp.auth(AUDITOR, ADMIN)
    @blp.response(200, VerificationSchema)
    def get(self) -> Any:
        """Walk every aggregate's hash chain; name the first broken event, if any."""
        return application().verify_chains().as_dict()

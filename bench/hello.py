"""The HTTP reference: the smallest Flask app under the same gunicorn settings as `subventio serve`.

`GET /dossiers/<id>` answers a constant JSON document: what remains of a request when the
application does nothing, i.e. the ceiling this machine (and wrk beside it) allows at that moment.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

app = Flask("hello")
DOCUMENT = {"id": "", "status": "submitted", "reference": "2026-00001", "version": 2}


@app.get("/dossiers/<dossier_id>")
def dossier(dossier_id: str) -> Any:
    return {**DOCUMENT, "id": dossier_id}, 200, {"ETag": '"2"'}


@app.get("/health")
def health() -> Any:
    return {"status": "ok"}

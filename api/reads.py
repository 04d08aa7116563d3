"""Current-state reads answered in front of Flask, from the bodies Flask has already built.

`GET /dossiers/{id}` (and every view marked `@blp.current_state(Schema)`) without a query string is, once
its body is in the `ResponseCache`, one token lookup (cached), one indexed query for the aggregate's last
version, and one dictionary lookup; with Flask's request context, routing, flask-smorest's and webargs'
wrappers and the response object around them, it took 323 µs on SQLite and 571 µs on PostgreSQL in process
(test client, one thread), against 161 and 345 µs answered here. This WSGI layer answers exactly those
requests itself, with the bytes and headers Flask would send, and hands every other request to Flask
untouched:

- any other method, any query string, a path that is not `<prefix>/<canonical uuid>` of a marked route;
- no bearer token, an unknown or revoked one, a role the view does not admit, an applicant where the view
  checks ownership: Flask answers (401, 403, 404, or the owner's own resource);
- no body cached for (schema, id, last version): Flask loads, dumps and caches it (`api.common.current`);
- anything that fails here (the store unreachable): Flask answers, with its error format.

The version query is still made for every request, as Flask's path makes it: a command committed by
another process is seen by the next read (no invalidation message to wait for). The routes, their
schemas and admitted roles are read from the Flask app once it is built (`routes`), so they cannot drift
from the views; tests/integration/test_current_reads.py compares both paths' answers route by route.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from werkzeug.routing import UUIDConverter

from api.auth import Admits, bearer, user_for_token
from api.hardening import SECURE_HEADERS
from api.services import Services

CANONICAL_UUID = re.compile(UUIDConverter.regex)
"""What Flask's `<uuid:...>` converter matches: any other spelling of an id goes to Flask (404 there)."""

KNOWN_VERSION = "subventio.version"
"""The environ key under which a miss hands Flask the (id, version) just read (`api.common.current`)."""

RULE = re.compile(r"(/[^<>]*)/<uuid:[A-Za-z_]\w*>")


@dataclass(frozen=True)
class Route:
    schema: type[Any]
    admits: Admits


def routes(flask_app: Any) -> dict[str, Route]:
    """The marked views' path prefixes ("/dossiers" for "/dossiers/<uuid:dossier_id>") → schema and roles."""
    found: dict[str, Route] = {}
    for rule in flask_app.url_map.iter_rules():
        view = flask_app.view_functions.get(rule.endpoint)
        get = getattr(getattr(view, "view_class", None), "get", None)
        schema = getattr(get, "current_state", None)
        if schema is None:
            continue
        match = RULE.fullmatch(rule.rule)
        admits = getattr(get, "admits", None)
        if match is None or not isinstance(admits, Admits):
            raise TypeError(f"{rule.rule}: current_state needs a '<prefix>/<uuid:...>' rule and @blp.auth")
        found[match.group(1)] = Route(schema, admits)
    return found


class CurrentReads:
    """The WSGI layer: `app.wsgi_app = CurrentReads(app.wsgi_app, services, cache, routes(app))`."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], services: Services, cache: Any,
                 table: dict[str, Route]) -> None:
        self.wsgi_app = wsgi_app
        self.services = services
        self.cache = cache
        self.routes = table
        self.served = 0
        """Requests answered here (not by Flask): for the tests and the curious."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING"):
            try:
                found = self.cached(environ)
            except Exception:  # noqa: BLE001 - Flask answers it, and reports the failure in its own format
                found = None
            if found is not None:
                body, version = found
                self.served += 1
                start_response("200 OK", [("ETag", f'"{version}"'), ("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body))), *SECURE_HEADERS,
                                          ("Cache-Control", "no-store")])
                return [body]
        return self.wsgi_app(environ, start_response)

    def cached(self, environ: dict[str, Any]) -> tuple[bytes, int] | None:
        """The cached body and version for this request, if it may be served here; None: Flask decides."""
        prefix, _, tail = environ.get("PATH_INFO", "").rpartition("/")
        route = self.routes.get(prefix)
        if route is None or CANONICAL_UUID.fullmatch(tail) is None:
            return None
        token = bearer(environ.get("HTTP_AUTHORIZATION", ""))
        user = user_for_token(token, self.services.tokens) if token else None
        if user is None or not route.admits.outright(user):
            return None  # refused, or whose resource it is: Flask's view asks (and says 404 to anyone else)
        aggregate_id = UUID(tail)
        version = self.services.runner.log.version(aggregate_id)
        body = self.cache.get((route.schema, aggregate_id, version)) if version else None
        if body is None:
            environ[KNOWN_VERSION] = (aggregate_id, version)  # Flask's `current` need not ask again
            return None
        return body, version

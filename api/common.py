"""What every resource shares: Decimal JSON, the argument parser, the Blueprint with auth, view helpers.

A view parses (schemas), builds the command's Ctx, calls the application, and serialises the result;
the helpers below keep each of those steps to one line.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import wraps
from http import HTTPStatus
from typing import Any, ClassVar
from uuid import UUID

import flask_smorest
from flask import Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import HTTPException

from api import errors, hardening
from api.auth import Admits, Owner, current_user
from api.reads import KNOWN_VERSION
from api.schemas import ErrorSchema
from api.services import current_services
from domain.application import Subventio
from domain.errors import StaleVersion
from domain.values import Ctx

log = logging.getLogger("subventio.api")


class JSONProvider(DefaultJSONProvider):
    """Numbers in as Decimal (never float), so "at most two decimals" is checked on what was sent."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(s, parse_float=Decimal, parse_constant=Decimal, **kwargs)
        except RecursionError:
            raise hardening.too_deep() from None

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, datetime):
            return o.astimezone(UTC).isoformat()
        if isinstance(o, date):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


class Parser(FlaskParser):
    """webargs' parser reading JSON with the app's provider, plus a multipart location (form and files)."""

    __location_map__: ClassVar[dict[str, str]] = {**FlaskParser.__location_map__,
                                                  "form_and_files": "load_form_and_files"}
    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar[dict[str, str | None]] = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                                                     "form_and_files": None}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._without_query: dict[int, Any] = {}

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any) -> Any:
        """webargs' parse; a query schema read from a request without a query string is loaded once, not per request.

        (The schemas are built once, when the views are decorated; what `load({})` gives them never changes: the
        result or its copy is served to every request that sends no query string, ~8 % of a GET's CPU otherwise.)
        """
        if location in ("query", "querystring") and isinstance(argmap, Schema) and not kwargs.get("validate") \
                and not (req if req is not None else request).query_string:
            known = self._without_query.get(id(argmap))
            if known is not None:
                return copy.deepcopy(known) if known else {}
            result = super().parse(argmap, req, location=location, **kwargs)
            self._without_query[id(argmap)] = copy.deepcopy(result)
            return result
        return super().parse(argmap, req, location=location, **kwargs)

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return missing
        data = req.get_data(cache=True)
        if not data.strip():
            return missing
        try:
            value = current_app.json.loads(data)
        except ValueError:
            raise errors.malformed_json() from None
        hardening.check_json(value)  # depth and characters, before any schema walks it
        return value

    def _handle_invalid_json_error(self, error: Exception, req: Any, *args: Any, **kwargs: Any) -> Any:
        raise errors.malformed_json()

    def load_form_and_files(self, req: Any, schema: Any) -> Any:
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": 'Version attendue, telle que renvoyée dans l\'ETag : "3". Périmée → 412.'}
ETAG = {"ETag": {"description": 'Version de la ressource : "3"', "schema": {"type": "string"}}}
CREATED = {"Location": {"description": "Adresse de la ressource créée", "schema": {"type": "string"}}}
LOCATION = {**CREATED, **ETAG}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with our parser, an `auth` decorator and documented refusals."""

    ARGUMENTS_PARSER = Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING, "form_and_files": "multipart/form-data"}

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """flask-smorest's, with a schema class instantiated once here (webargs would build one per request)."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

    def auth(self, *roles: str, owner: Owner | None = None) -> Callable[[Any], Any]:
        """Lets in these roles (and the owning applicant, if `owner`); checked before the body is read."""

        def decorator(view: Any) -> Any:
            admits = Admits(roles, owner)

            @wraps(view)
            def checked(*args: Any, **kwargs: Any) -> Any:
                admits.admit(kwargs)
                return view(*args, **kwargs)

            checked.admits = admits  # type: ignore[attr-defined]  # (read by api.reads)

            documented = self.refusals(401, 403, *([404] if owner else []))(checked)
            return self.doc(security=[{"bearerAuth": []}])(documented)

        return decorator

    @staticmethod
    def current_state(schema: type[Any]) -> Callable[[Any], Any]:
        """Marks a GET whose answer without a query string is `current(..., schema)`: once Flask has cached
        its body, api.reads may answer it in front of Flask (the mark, like `auth`'s, reaches the outermost
        wrapper: every decorator here copies the wrapped function's attributes)."""

        def decorator(view: Any) -> Any:
            view.current_state = schema
            return view

        return decorator

    def refusals(self, *statuses: int) -> Callable[[Any], Any]:
        """Documents the error responses a view may give (412 also documents the If-Match header)."""

        def decorator(view: Any) -> Any:
            for status in statuses:
                view = self.alt_response(status, HTTPStatus(status).name)(view)  # flask-smorest's component
            if 412 in statuses:
                view = self.doc(parameters=[IF_MATCH])(view)
            return view

        return decorator


class Api(flask_smorest.Api):
    """flask-smorest's Api whose error responses (served and documented) are ours."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return errors.http_error(error)


# --- view helpers ----------------------------------------------------------------------------


def application() -> Subventio:
    return current_services().app


def fact_ctx(on: date | None = None) -> Ctx:
    """The command's context: the caller, the real date of the fact (default today), and today."""
    today = current_services().today()
    return Ctx(current_user().actor, on or today, today)


def expected_version() -> int | None:
    """If-Match: "<version>" → the version the command expects; absent or * → none."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    tag = raw.strip().removeprefix("W/").strip('"')
    if not re.fullmatch(r"[0-9]{1,9}", tag):
        raise StaleVersion(f"If-Match illisible : {raw!r} (attendu : \"<version>\").")
    return int(tag)


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def caught_up() -> None:
    """Read-your-writes for lists: they project what is recorded before reading (single resources are read
    from the event store), so commands never pay for projection writes; a failure only delays lists (logged)."""
    try:
        current_services().runner.catch_up()
    except Exception:
        log.exception("projections could not catch up; lists may lag behind")


def command(run: Callable[..., Any], *ids: UUID, args: dict[str, Any], dated: str | None = None) -> Any:
    """Runs a command on an existing aggregate (If-Match honoured) → 200, its new state and ETag."""
    args = dict(args)
    result = run(fact_ctx(args.pop(dated, None) if dated else None), *ids,
                 expected_version=expected_version(), **args)
    return result.as_dict(), etag(result.version)


def create(run: Callable[..., Any], args: dict[str, Any]) -> Any:
    """Runs a creating command → 201, the resource, its Location and ETag."""
    resource = run(fact_ctx(), **args).as_dict()
    return created(resource)


def created(resource: dict[str, Any]) -> Any:
    headers = {"Location": location(resource["id"])}
    if "version" in resource:
        headers.update(etag(resource["version"]))
    return resource, 201, headers


def location(resource_id: str) -> str:
    """The address of a resource created by a POST on its collection."""
    return f"{request.script_root}{request.path.rstrip('/')}/{resource_id}"


def shown(aggregate: Any) -> Any:
    """A resource read from the event store, with its ETag."""
    return aggregate.as_dict(), etag(aggregate.version)


def stored(cls: type[Any], aggregate_id: UUID, what: str) -> Any:
    """The current state from the event store (shared, read-only)."""
    return application().load(cls, aggregate_id, what=what, read_only=True)


class ResponseCache:
    """The JSON bodies of current-state GETs by (schema, id, version), least recently used out first.

    A version of an aggregate never changes, and the body shows nothing but that version's state: so
    once the store says which version is the last (one indexed query), its body can be served again
    without loading, dumping or encoding anything. Per process; a body is ~2-5 KB (10 000 of them: ~30 MB).
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._bodies: OrderedDict[tuple[Any, UUID, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, UUID, int]) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()

    def put(self, key: tuple[Any, UUID, int], body: bytes) -> None:
        with self._lock:
            self._bodies[key] = body
            self._bodies.move_to_end(key)
            while len(self._bodies) > self.size:
                self._bodies.popitem(last=False)


_SCHEMAS: dict[type[Any], Any] = {}


def current(cls: type[Any], aggregate_id: UUID, what: str, schema: type[Any]) -> Response:
    """The resource as it stands now, with its ETag: the same response as `shown(stored(...))` dumped by `schema`."""
    cache: ResponseCache = current_app.extensions["subventio_responses"]
    known = request.environ.get(KNOWN_VERSION)  # read by api.reads an instant ago, for this request
    version = known[1] if known and known[0] == aggregate_id else current_services().runner.log.version(aggregate_id)
    body = cache.get((schema, aggregate_id, version)) if version else None
    if body is None:
        aggregate = stored(cls, aggregate_id, what)  # (may be newer than `version`: a write came in between)
        dumper = _SCHEMAS.get(schema) or _SCHEMAS.setdefault(schema, schema())
        body = current_app.json.response(dumper.dump(aggregate.as_dict())).get_data()
        version = aggregate.version
        cache.put((schema, aggregate_id, version), body)
    return current_app.response_class(body, mimetype=current_app.json.mimetype,  # type: ignore[attr-defined]
                                      headers=etag(version))

"""What protects the service from its callers: body and nesting limits, per-token rate limits, safe headers.

- JSON bodies are at most `JSON_MAX_BYTES` (413) and `JSON_MAX_DEPTH` levels deep (400): an absurdly nested
  body is refused before anything walks it recursively (the parser's RecursionError never becomes a 500).
  Multipart uploads keep their own limit (20 MB per file, `MAX_CONTENT_LENGTH` for the envelope).
- Writes (POST, PUT, PATCH, DELETE) are rate-limited per bearer token by a token bucket in each worker process
  (`SUBVENTIO_RATE_LIMIT="<requests>/<seconds>"`, or `off`): beyond it, 429 in the error format with
  `Retry-After`. Reads are never limited. Demo loading goes through the application, not HTTP.
- Every response says `nosniff`, may not be framed, sends no referrer and is never cached (`no-store`: API
  answers carry personal data); pages get the HTML Content-Security-Policy, everything else `default-src 'none'`.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, request

from api.errors import ApiError
from domain.errors import InvalidFields
from domain.values import CONTROL_CHARACTERS

JSON_MAX_BYTES = 1024 * 1024
"""A JSON body is at most 1 MiB: the largest real one (a deliberation of a few hundred items) is far smaller."""

JSON_MAX_DEPTH = 32
"""Objects and arrays nested at most this deep; the deepest request body of the contract has 4 levels."""

DEFAULT_RATE_LIMIT = "6000/60"
"""Writes per token and per worker process: a burst of 6 000, refilled at 100 a second."""

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURE_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                  ("Referrer-Policy", "no-referrer"), ("Content-Security-Policy", API_CSP))
"""Every answer's, unless a page sets its own (then Cache-Control: no-store too, but under /ui/static/)."""
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def too_deep() -> ApiError:
    return ApiError(400, "json_too_deep", f"JSON trop imbriqué : au plus {JSON_MAX_DEPTH} niveaux.")


def json_too_large() -> ApiError:
    return ApiError(413, "too_large", f"Corps JSON trop volumineux : au plus {JSON_MAX_BYTES // 1024} Ko.")


def check_json(value: Any, limit: int = JSON_MAX_DEPTH) -> None:
    """Refuses a parsed request body nested deeper than `limit` (400), or holding text no field may hold (422):
    control characters other than tab and line breaks (NUL cannot even be stored in PostgreSQL text) and lone
    surrogates (not Unicode: they cannot be encoded, stored or hashed). Iterative: any depth is safe to check."""
    bad: dict[str, list[str]] = {}
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if not clean_text(item):
                bad.setdefault(path or "body", []).append(BAD_TEXT)
            continue
        if isinstance(item, dict):
            pairs = [(str(k), v) for k, v in item.items()]
        elif isinstance(item, list):
            pairs = [(str(i), v) for i, v in enumerate(item)]
        else:
            continue
        if depth > limit:
            raise too_deep()
        for key, child in pairs:
            name = f"{path}.{key}" if path else key
            if not clean_text(key):
                bad.setdefault(name, []).append(BAD_TEXT)
            stack.append((child, depth + 1, name))
    if bad:
        raise InvalidFields(bad)


BAD_TEXT = "Caractère interdit : caractère de contrôle ou texte Unicode invalide."


def clean_text(text: str) -> bool:
    """No control character but tab and line breaks, and no lone surrogate."""
    return (text.isascii() and text.isprintable()) or CONTROL_CHARACTERS.search(text) is None


# --- rate limiting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """`capacity` requests at once, refilled at `capacity / seconds` per second."""

    capacity: int
    seconds: float

    @classmethod
    def parse(cls, text: str | None) -> RateLimit | None:
        """"600/60" → 600 per 60 s; "off", "0" or "" → no limit. Anything else is a configuration error."""
        text = (text if text is not None else DEFAULT_RATE_LIMIT).strip().lower()
        if text in ("", "0", "off", "none"):
            return None
        count, _, seconds = text.partition("/")
        try:
            limit = cls(int(count), float(seconds or "1"))
        except ValueError:
            raise ValueError(f"SUBVENTIO_RATE_LIMIT: {text!r} is not '<requests>/<seconds>' or 'off'") from None
        if limit.capacity < 1 or not limit.seconds > 0 or not math.isfinite(limit.seconds):
            raise ValueError(f"SUBVENTIO_RATE_LIMIT: {text!r} needs a positive count and duration")
        return limit

    @property
    def per_second(self) -> float:
        return self.capacity / self.seconds


@dataclass
class TokenBuckets:
    """One bucket per key (a token's digest), the least recently used forgotten beyond `max_keys`."""

    limit: RateLimit
    max_keys: int = 10_000
    clock: Any = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> float:
        """Takes one request from the key's bucket: 0 if allowed, else the seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.limit.capacity), now))
            tokens = min(float(self.limit.capacity), tokens + (now - last) * self.limit.per_second)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.limit.per_second
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


def rate_limited(wait: float) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(429, "rate_limited", f"Trop de requêtes d'écriture avec ce jeton : réessayez dans {seconds} s.",
                    headers={"Retry-After": str(seconds)})


# --- the hooks -------------------------------------------------------------------------------------


def limit_request() -> None:
    """Before any view: the JSON body's size, then the caller's write budget."""
    if request.mimetype != "multipart/form-data":
        if request.content_length is not None and request.content_length > JSON_MAX_BYTES:
            raise json_too_large()
        request.max_content_length = JSON_MAX_BYTES  # a body sent without Content-Length, too
    buckets: TokenBuckets | None = current_app.extensions.get("subventio.buckets")
    if buckets is None or request.method not in WRITES:
        return
    credentials = request.headers.get("Authorization", "")
    if not credentials:
        return  # refused with 401 by the view: nothing to count
    wait = buckets.take(hashlib.sha256(credentials.encode("utf-8", "replace")).hexdigest())
    if wait > 0:
        raise rate_limited(wait)


def secure_headers(response: Response) -> Response:
    """Headers every answer carries; pages keep the stricter policy they set themselves."""
    headers = response.headers
    for name, value in SECURE_HEADERS:
        headers.setdefault(name, value)
    if not request.path.startswith("/ui/static/"):
        headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask, rate_limit: str | None) -> None:
    """Registers the limits and headers on the app; `rate_limit` as in SUBVENTIO_RATE_LIMIT (None: the default)."""
    limit = RateLimit.parse(rate_limit)
    app.extensions["subventio.buckets"] = TokenBuckets(limit) if limit is not None else None
    app.before_request(limit_request)
    app.after_request(secure_headers)

"""API tokens: only their SHA-256 is stored; a revoked token stops working in every process within seconds."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Column, String, Table, insert, select, update

from projections.database import ReadStore, UTCDateTime, metadata

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("applicant_id", String(36), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

CACHE_SECONDS = 2.0
"""How long one process trusts an answer; a revocation elsewhere takes effect after at most this."""


@dataclass(frozen=True)
class TokenInfo:
    """Who a valid token belongs to."""

    role: str
    name: str
    applicant_id: str | None
    token_id: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """Creates, authenticates and revokes bearer tokens in the read store's `api_tokens` table."""

    def __init__(self, read: ReadStore, cache_seconds: float = CACHE_SECONDS) -> None:
        self.read = read
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}
        self._lock = threading.Lock()

    def create(self, role: str, name: str, applicant_id: UUID | None) -> str:
        """A new random token; the caller shows it once, the store keeps only its hash."""
        token = secrets.token_urlsafe(32)
        while token.startswith("-"):  # (one in 64 would read as an option: `subventio token revoke -x…`)
            token = secrets.token_urlsafe(32)
        with self.read.begin() as conn:
            conn.execute(insert(api_tokens).values(
                id=str(uuid.uuid4()), token_hash=token_hash(token), role=role, name=name,
                applicant_id=str(applicant_id) if applicant_id is not None else None,
                created_at=datetime.now(UTC), revoked_at=None))
        return token

    def authenticate(self, token: str) -> TokenInfo | None:
        """The token's owner, or None if it is unknown or revoked."""
        digest = token_hash(token)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self.read.begin() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == digest)).mappings().first()
        info: TokenInfo | None = None
        if row is not None and hmac.compare_digest(row["token_hash"], digest) and row["revoked_at"] is None:
            info = TokenInfo(role=row["role"], name=row["name"], applicant_id=row["applicant_id"],
                             token_id=row["id"])
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, info)
        return info

    def revoke(self, token: str) -> bool:
        """Revokes a token; False if it was unknown or already revoked."""
        digest = token_hash(token)
        with self.read.begin() as conn:
            result = conn.execute(update(api_tokens)
                                  .where(api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None))
                                  .values(revoked_at=datetime.now(UTC)))
        with self._lock:
            self._cache.pop(digest, None)
        return bool(result.rowcount)

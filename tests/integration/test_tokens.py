"""API tokens on the real read store: only a hash is kept, and revocation reaches every process."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select

from projections.database import ReadStore
from projections.tokens import TokenInfo, TokenStore, api_tokens


def stored(read: ReadStore) -> list[dict[str, Any]]:
    with read.begin() as conn:
        return [dict(row) for row in conn.execute(select(api_tokens)).mappings()]


def test_create_then_authenticate(services: Any) -> None:
    applicant = uuid.uuid4()
    staff = services.tokens.create(role="instructor", name="M. Instructeur", applicant_id=None)
    porteur = services.tokens.create(role="applicant", name="Jumelages", applicant_id=applicant)

    staff_info = services.tokens.authenticate(staff)
    porteur_info = services.tokens.authenticate(porteur)

    assert isinstance(staff_info, TokenInfo)
    assert (staff_info.role, staff_info.name, staff_info.applicant_id) == ("instructor", "M. Instructeur", None)
    assert porteur_info is not None
    assert (porteur_info.role, porteur_info.applicant_id) == ("applicant", str(applicant))
    assert staff_info.token_id != porteur_info.token_id
    assert len(staff) >= 43 and staff != porteur  # 32 random bytes, URL-safe


def test_only_the_hash_is_stored(services: Any) -> None:
    token = services.tokens.create(role="admin", name="Mme Admin", applicant_id=None)

    [row] = stored(services.read)

    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in row.values()}
    assert row["created_at"].tzinfo is not None and row["revoked_at"] is None


def test_unknown_tokens_are_refused(services: Any) -> None:
    services.tokens.create(role="admin", name="Mme Admin", applicant_id=None)

    assert services.tokens.authenticate("not-a-token") is None
    assert services.tokens.authenticate("") is None
    assert services.tokens.revoke("not-a-token") is False


def test_revocation_takes_effect_in_every_process(services: Any, settings: Any) -> None:
    token = services.tokens.create(role="finance", name="Paierie", applicant_id=None)
    other_read = ReadStore(settings.read_store_url(), schema=settings.database_schema)
    other = TokenStore(other_read, cache_seconds=0)  # another process, asking the store each time
    try:
        assert other.authenticate(token) is not None
        assert services.tokens.authenticate(token) is not None

        assert services.tokens.revoke(token) is True

        assert services.tokens.authenticate(token) is None  # its own cache is dropped at once
        assert other.authenticate(token) is None
        assert services.tokens.revoke(token) is False  # already revoked
        [row] = stored(services.read)
        assert row["revoked_at"] is not None
    finally:
        other_read.dispose()


def test_a_cached_answer_expires(services: Any, settings: Any) -> None:
    token = services.tokens.create(role="auditor", name="CRC", applicant_id=None)
    other_read = ReadStore(settings.read_store_url(), schema=settings.database_schema)
    cached = TokenStore(other_read, cache_seconds=3600)
    uncached = TokenStore(other_read, cache_seconds=0)
    try:
        assert cached.authenticate(token) is not None
        services.tokens.revoke(token)

        assert cached.authenticate(token) is not None  # within its cache window, by design
        assert uncached.authenticate(token) is None
        cached.cache_seconds = 0
        assert cached.authenticate(token) is None
    finally:
        other_read.dispose()


def test_no_token_reads_as_a_command_line_option(services: Any) -> None:
    """`subventio token revoke <token>`: a token starting with "-" would be taken for an option (one in 64 did)."""
    tokens = [services.tokens.create(role="auditor", name=f"a{i}", applicant_id=None) for i in range(400)]
    assert len(set(tokens)) == 400
    assert not [t for t in tokens if t.startswith("-")]
    assert all(len(t) == 43 for t in tokens)  # still 32 random bytes, URL-safe

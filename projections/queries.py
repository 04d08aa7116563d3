"""What the API reads from the read models: pages with opaque keyset cursors, lists, and a checksum."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, or_, select

from projections.database import ReadStore, read_model_tables, tracking
from projections.read_models import rm_applicants, rm_budget_lines, rm_dossiers, rm_programmes

MAX_LIMIT = 200
DOSSIER_COLUMNS = ("id", "reference", "status", "programme_id", "applicant_id", "project_name", "total_budget",
                   "amount_requested", "proposed_amount", "granted_amount", "submitted_on", "version",
                   "created_at", "updated_at")
TICK_STATUSES = ("granted", "convention_drafted", "convention_signed", "report_accepted")
"""Where a deadline can act: a termination taking effect, or a report missing (lapse)."""


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def encode_cursor(*key: Any) -> str:
    """An opaque cursor: the last item's sort key, as URL-safe base64 of a JSON list."""
    values = [v.isoformat() if isinstance(v, datetime | date) else v for v in key]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The key inside a cursor; ValueError if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not isinstance(values, list) or len(values) != size or not all(isinstance(v, str) for v in values):
        raise ValueError("invalid cursor")
    return values


def _after(columns: tuple[Any, Any], values: tuple[Any, Any]) -> ColumnElement[bool]:
    """(a, b) > (x, y), written portably."""
    (a, b), (x, y) = columns, values
    return or_(a > x, and_(a == x, b > y))


def _page(read: ReadStore, query: Select[Any], key: tuple[str, str], limit: int,
          cursor: str | None, parse: Any) -> tuple[list[dict[str, Any]], str | None]:
    table_columns = query.selected_columns
    first, second = table_columns[key[0]], table_columns[key[1]]
    if cursor:
        values = decode_cursor(cursor, 2)
        try:
            query = query.where(_after((first, second), (parse(values[0]), values[1])))
        except ValueError as exc:
            raise ValueError("invalid cursor") from exc
    query = query.order_by(first, second).limit(limit + 1)
    with read.begin() as conn:
        items = [dict(row) for row in conn.execute(query).mappings()]
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_cursor(items[-1][key[0]], items[-1][key[1]])


def list_dossiers(read: ReadStore, *, status: str | None = None, programme_id: UUID | str | None = None,
                  applicant_id: UUID | str | None = None, limit: int = 50,
                  cursor: str | None = None, reference: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """A page of dossiers ordered by (created_at, id); `reference` matches a prefix ("2025-" or "2025-00042").

    ValueError for a bad limit or cursor.
    """
    query = select(*(rm_dossiers.c[name] for name in DOSSIER_COLUMNS))
    if reference:
        pattern = reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(rm_dossiers.c.reference.like(pattern, escape="\\"))
    if status is not None:
        query = query.where(rm_dossiers.c.status == status)
    if programme_id is not None:
        query = query.where(rm_dossiers.c.programme_id == str(programme_id))
    if applicant_id is not None:
        query = query.where(rm_dossiers.c.applicant_id == str(applicant_id))
    return _page(read, query, ("created_at", "id"), _limit(limit), cursor, datetime.fromisoformat)


def list_applicants(read: ReadStore, limit: int = 50,
                    cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """A page of applicants ordered by (name, id)."""
    return _page(read, select(rm_applicants), ("name", "id"), _limit(limit), cursor, str)


def list_programmes(read: ReadStore) -> list[dict[str, Any]]:
    """Every programme, by year then code."""
    with read.begin() as conn:
        rows = conn.execute(select(rm_programmes).order_by(rm_programmes.c.year, rm_programmes.c.code)).mappings()
        return [dict(row) for row in rows]


def list_budget_lines(read: ReadStore) -> list[dict[str, Any]]:
    """Every budget line, by year, code and imputation."""
    t = rm_budget_lines
    with read.begin() as conn:
        rows = conn.execute(select(t).order_by(t.c.year, t.c.code, t.c.imputation, t.c.id)).mappings()
        return [dict(row) for row in rows]


def dossier_ids_for_tick(read: ReadStore) -> list[UUID]:
    """The dossiers a daily deadline run may have to act on (granted, not yet ended)."""
    with read.begin() as conn:
        rows = conn.execute(select(rm_dossiers.c.id).where(rm_dossiers.c.status.in_(TICK_STATUSES))
                            .order_by(rm_dossiers.c.created_at, rm_dossiers.c.id)).scalars()
        return [UUID(value) for value in rows]


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"D{value:.2f}" if value == value.quantize(Decimal("0.01")) else f"D{value}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def checksum(read: ReadStore) -> str:
    """SHA-256 over every read-model table's rows in primary-key order: equal stores, equal checksums."""
    digest = hashlib.sha256()
    with read.begin() as conn:
        for table in sorted(read_model_tables(), key=lambda t: t.name):
            if table is tracking:
                continue
            digest.update(f"\x1e{table.name}\x1f".encode())
            order = list(table.primary_key.columns)
            for row in conn.execute(select(table).order_by(*order)).mappings():
                line = json.dumps({k: _canonical(v) for k, v in row.items()}, sort_keys=True, default=str,
                                  ensure_ascii=False, separators=(",", ":"))
                digest.update(line.encode())
                digest.update(b"\n")
    return digest.hexdigest()

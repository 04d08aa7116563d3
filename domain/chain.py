"""Tamper evidence: every event carries the hash of its predecessor and its own hash.

The hash is SHA-256 over a canonical encoding (see docs/adr/0002-hash-chain.md):
UTF-8 JSON with sorted keys, no insignificant white space, of
``{"aggregate_id", "version", "topic", "recorded_at", "data"}`` where ``data`` holds every
event attribute except ``hash`` (so it includes ``previous_hash``, the actor and the
effective date). Values: Decimal → its string, date/datetime → ISO 8601, UUID → canonical
string, Actor → {"name", "role"}, tuples → lists. Changing this encoding needs a migration.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

GENESIS = ""
_ENVELOPE = ("originator_id", "originator_version", "timestamp", "hash")


def canonical_value(value: Any) -> Any:
    """Maps a value to plain JSON types, deterministically."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return canonical_value(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical_value(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical_value(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"no canonical encoding for {type(value).__name__}")


def event_data(event_state: dict[str, Any]) -> dict[str, Any]:
    """The attributes of an event that are its data (everything but the envelope and hash)."""
    return {k: v for k, v in event_state.items() if k not in _ENVELOPE}


def canonical_bytes(aggregate_id: UUID, version: int, topic: str, recorded_at: datetime,
                    data: dict[str, Any]) -> bytes:
    document = {
        "aggregate_id": str(aggregate_id),
        "version": version,
        "topic": topic,
        "recorded_at": recorded_at.isoformat(),
        "data": canonical_value(data),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(aggregate_id: UUID, version: int, topic: str, recorded_at: datetime,
               data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(aggregate_id, version, topic, recorded_at, data)).hexdigest()

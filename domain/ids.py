"""Ids of aggregates without a natural key (docs/adr/0007-time-ordered-ids.md): time-ordered UUIDs (RFC 9562, v7)."""

from __future__ import annotations

import os
import time
from uuid import UUID

_VERSION_7 = 0x7 << 76
_VARIANT_RFC = 0x2 << 62
_CLEAR = ~((0xF << 76) | (0x3 << 62))


def time_ordered_id() -> UUID:
    """A UUID version 7: 48 bits of Unix time in milliseconds, then 74 random bits.

    Ids made later sort after ids made earlier (as text and as bytes), so the event store's
    (aggregate id, version) index takes the events of recent aggregates, which receive nearly all new
    events, in its last pages instead of anywhere: appends into a store of millions of events stay as
    fast as into an empty one. The creation instant it reveals is in the aggregate's first event anyway.
    """
    value = (time.time_ns() // 1_000_000 & (1 << 48) - 1) << 80 | int.from_bytes(os.urandom(10), "big")
    return UUID(int=value & _CLEAR | _VERSION_7 | _VARIANT_RFC)

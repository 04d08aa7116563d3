"""Proof that the read models are what the event log says: rebuild them elsewhere and compare checksums.

The live read store is caught up, a scratch store (an empty SQLite file or PostgreSQL schema, made by the
composition root) is rebuilt from position zero, and both are brought to the same log position before
their `queries.checksum` are compared. Equal checksums mean every row of every read model is exactly what
a replay gives; a difference means a row was changed by hand, a handler is not deterministic, or an
event was applied twice or missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.application import Subventio
from projections.database import ReadStore
from projections.queries import checksum
from projections.runner import ProjectionRunner


@dataclass(frozen=True)
class RebuildProof:
    ok: bool
    position: int
    live_checksum: str
    rebuilt_checksum: str
    events: int

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "position": self.position, "live_checksum": self.live_checksum,
                "rebuilt_checksum": self.rebuilt_checksum, "events_replayed": self.events}


def verify_rebuild(app: Subventio, live: ProjectionRunner, scratch: ReadStore, *, attempts: int = 20) -> RebuildProof:
    """Rebuilds into `scratch` and compares it with the live store at one common log position.

    Events recorded meanwhile are applied to both until their positions agree (a busy store may need a
    few rounds); ValueError if they never do.
    """
    scratch.create_all()
    rebuilt = ProjectionRunner(app, scratch, name=live.name)
    live.catch_up(reread=True)
    events = rebuilt.rebuild()
    for _ in range(attempts):
        live.catch_up(reread=True)
        events += rebuilt.catch_up(reread=True)
        position = live.position()
        if rebuilt.position() == position:
            live_sum, rebuilt_sum = checksum(live.read), checksum(scratch)
            if live.position() == position:  # nothing was applied while the checksums were taken
                return RebuildProof(live_sum == rebuilt_sum, position, live_sum, rebuilt_sum, events)
    raise ValueError("the live read store and the rebuilt one never reached the same log position")

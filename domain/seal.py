"""Daily seals: a Merkle root over every aggregate's chain head, so truncation becomes detectable.

Leaves are SHA-256 of "<aggregate_id>:<version>:<hash>" in aggregate-id order; a level pairs
neighbours (an odd last leaf is carried up unchanged) until one root remains. The empty tree's
root is SHA-256 of the empty string. See docs/adr/0002-hash-chain.md.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from domain.programme import NAMESPACE
from domain.record import Record
from domain.values import Ctx


def leaf(aggregate_id: UUID | str, version: int, digest: str) -> str:
    return hashlib.sha256(f"{aggregate_id}:{version}:{digest}".encode()).hexdigest()


def merkle_root(heads: dict[UUID, tuple[int, str]]) -> str:
    level = [leaf(a, v, h) for a, (v, h) in sorted(heads.items(), key=lambda item: str(item[0]))]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        paired = [hashlib.sha256((level[i] + level[i + 1]).encode()).hexdigest()
                  for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class Seal(Record):
    """The seal of one day: the Merkle root of all chain heads at the moment it was written."""

    if TYPE_CHECKING:  # state set by apply(); runtime annotations would become dataclass fields
        day: date
        merkle_root: str
        aggregates: int
        events: int
        last_position: int

    @staticmethod
    def id_for(day: date) -> UUID:
        return uuid5(NAMESPACE, f"seal:{day.isoformat()}")

    class Sealed(Record.Created):
        day: date
        merkle_root: str
        aggregates: int
        events: int
        last_position: int

        def apply(self, s: Seal) -> None:
            s.day, s.merkle_root, s.aggregates = self.day, self.merkle_root, self.aggregates
            s.events, s.last_position = self.events, self.last_position

    @classmethod
    def write(cls, ctx: Ctx, *, day: date, heads: dict[UUID, tuple[int, str]], events: int,
              last_position: int) -> Seal:
        return cls._start(cls.Sealed, ctx, cls.id_for(day), day=day, merkle_root=merkle_root(heads),
                          aggregates=len(heads), events=events, last_position=last_position)

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "day": self.day, "merkle_root": self.merkle_root, "aggregates": self.aggregates,
                "events": self.events, "last_position": self.last_position,
                "recorded_at": self.created_on, "version": self.version}

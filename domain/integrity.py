"""The verdict on the hash chains (docs/adr/0002-hash-chain.md): what breaks a chain, found in one pass or in parts.

One event at a time, a reader says what the stored event claims (`Link`: the hash it follows, its
own hash, and whether its content matches that hash); the walk below judges the claims in log order.
The log may be walked whole (`walk(..., from_start=True)`) or cut into consecutive segments walked
independently, even in other processes: a segment that does not start at the beginning cannot judge
the first event it sees of each aggregate against what came before, so it keeps that event's claim
(`Segment.firsts`) and `stitch` judges it against the previous segments' chain heads. The verdict is
the same either way: the first break in log order, with the same reason and the same count of events
checked, as the one-pass walk gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from uuid import UUID

from domain.chain import GENESIS


class Undecodable(Exception):
    """A stored event the application cannot read back (its reason is the break's)."""


class Link(NamedTuple):
    """What one stored event says of its chain: the hash it follows, its own, and whether its content matches it."""

    previous_hash: Any
    hash: Any
    intact: bool


@dataclass(frozen=True)
class ChainBreak:
    aggregate_id: str
    version: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"aggregate_id": self.aggregate_id, "version": self.version, "reason": self.reason}


@dataclass(frozen=True)
class Verification:
    ok: bool
    events_checked: int
    first_broken: ChainBreak | None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events_checked": self.events_checked,
                "first_broken": self.first_broken.as_dict() if self.first_broken else None}


Head = tuple[int, str]
"""An aggregate's last checked event: (version, hash)."""

LinkReader = Callable[[Any], Link]
"""notification → its Link; raises Undecodable."""


@dataclass
class Pending:
    """An event whose verdict needs the chain head before the segment: its claim, where it is, its content check."""

    index: int
    aggregate_id: UUID
    version: int
    previous_hash: Any
    intact: bool


@dataclass
class Segment:
    """What a walk found in consecutive events of the log.

    `count` events were read (up to and including the break, if any); `lasts` are the chain heads at
    the end; `firsts` the first event of each aggregate whose predecessor lies before the segment
    (intact ones only: a non-intact one is a break, kept in `pending`); `broken` a break whose reason
    is known, `pending` one whose reason depends on the previous head. At most one of them is set.
    """

    count: int = 0
    lasts: dict[UUID, Head] = field(default_factory=dict)
    firsts: dict[UUID, Pending] = field(default_factory=dict)
    broken: tuple[int, ChainBreak] | None = None
    pending: Pending | None = None


def link_failure(version: int, previous_hash: Any, head: Head) -> str | None:
    """Why an event does not continue the chain whose head is `head`; None if it does."""
    last_version, last_hash = head
    if version != last_version + 1:
        kind = "an event is missing before it" if version > last_version + 1 else "event out of order or inserted"
        return f"version {version} follows version {last_version}: {kind}"
    if previous_hash != last_hash:
        return "previous_hash does not match the hash of the event before it"
    return None


CONTENT_CHANGED = "the event's content does not match its hash (changed payload or metadata)"


PROGRESS_EVERY = 1000


def walk(notifications: Iterable[Any], read: LinkReader, *, from_start: bool,
         progress: Callable[[int], None] | None = None) -> Segment:
    """Judges consecutive events; stops at the first break. `from_start`: the segment begins the log.

    `progress(n)` is told the events judged so far, every PROGRESS_EVERY events and at the end.
    """
    segment = Segment()
    lasts, firsts = segment.lasts, segment.firsts
    genesis: Head = (0, GENESIS)
    index = -1
    for index, notification in enumerate(notifications):
        if progress is not None and index and index % PROGRESS_EVERY == 0:
            progress(index)
        aggregate_id = notification.originator_id
        version = notification.originator_version
        try:
            link = read(notification)
        except Undecodable as exc:
            segment.broken = (index, ChainBreak(str(aggregate_id), version, str(exc)))
            break
        head = lasts.get(aggregate_id)
        if head is None and not from_start:
            if not link.intact:
                segment.pending = Pending(index, aggregate_id, version, link.previous_hash, False)
                break
            firsts[aggregate_id] = Pending(index, aggregate_id, version, link.previous_hash, True)
        else:
            reason = link_failure(version, link.previous_hash, head or genesis)
            if reason is None and not link.intact:
                reason = CONTENT_CHANGED
            if reason is not None:
                segment.broken = (index, ChainBreak(str(aggregate_id), version, reason))
                break
        lasts[aggregate_id] = (version, link.hash)
    segment.count = index + 1
    if progress is not None:
        progress(segment.count)
    return segment


def stitch(segments: Sequence[Segment]) -> Verification:
    """The verdict on consecutive segments (the first one begins the log): the first break in log order."""
    heads: dict[UUID, Head] = {}
    genesis: Head = (0, GENESIS)
    before = 0
    for segment in segments:
        breaks: list[tuple[int, ChainBreak]] = []
        if segment.broken is not None:
            breaks.append(segment.broken)
        candidates = list(segment.firsts.values()) + ([segment.pending] if segment.pending else [])
        for first in candidates:
            reason = link_failure(first.version, first.previous_hash, heads.get(first.aggregate_id, genesis))
            if reason is None and not first.intact:
                reason = CONTENT_CHANGED
            if reason is not None:
                breaks.append((first.index, ChainBreak(str(first.aggregate_id), first.version, reason)))
        if breaks:
            index, broken = min(breaks, key=lambda b: b[0])
            return Verification(False, before + index + 1, broken)
        heads.update(segment.lasts)
        before += segment.count
    return Verification(True, before, None)

"""domain.integrity: a log cut into segments, walked apart and stitched, gets the one-pass walk's verdict."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.chain import GENESIS
from domain.integrity import CONTENT_CHANGED, Link, Undecodable, stitch, walk

AGGREGATES = [UUID(int=i + 1) for i in range(4)]


@dataclass(frozen=True)
class Stored:
    """A notification as the walk sees it, with what a reader would find in its state."""

    originator_id: UUID
    originator_version: int
    previous_hash: str
    hash: str
    intact: bool = True
    decodable: bool = True


def read(notification: Stored) -> Link:
    if not notification.decodable:
        raise Undecodable("stored event cannot be decoded: ValueError")
    return Link(notification.previous_hash, notification.hash, notification.intact)


def honest_log(order: list[int]) -> list[Stored]:
    """Events of the aggregates in the given order, each chained to its predecessor."""
    versions = dict.fromkeys(AGGREGATES, 0)
    heads = dict.fromkeys(AGGREGATES, GENESIS)
    log = []
    for pick in order:
        aggregate = AGGREGATES[pick]
        versions[aggregate] += 1
        digest = f"{aggregate.int}-{versions[aggregate]}"
        log.append(Stored(aggregate, versions[aggregate], heads[aggregate], digest))
        heads[aggregate] = digest
    return log


TAMPERINGS = ("content", "undecodable", "link", "version_up", "version_down", "drop", "swap")


def tampered(log: list[Stored], where: int, how: str) -> list[Stored]:
    log = list(log)
    event = log[where]
    if how == "content":
        log[where] = Stored(event.originator_id, event.originator_version, event.previous_hash, event.hash, False)
    elif how == "undecodable":
        log[where] = Stored(event.originator_id, event.originator_version, "", "", decodable=False)
    elif how == "link":
        log[where] = Stored(event.originator_id, event.originator_version, "forged", event.hash)
    elif how in ("version_up", "version_down"):
        version = event.originator_version + (1 if how == "version_up" else -1)
        log[where] = Stored(event.originator_id, version, event.previous_hash, event.hash)
    elif how == "drop":
        del log[where]
    elif how == "swap" and where + 1 < len(log):
        log[where], log[where + 1] = log[where + 1], log[where]
    return log


def segmented(log: list[Stored], cuts: list[int]) -> Any:
    bounds = [0, *sorted(set(cuts)), len(log)]
    segments = [walk(log[a:b], read, from_start=a == 0) for a, b in itertools.pairwise(bounds) if b >= a]
    return stitch(segments)


@settings(max_examples=400, deadline=None)
@given(order=st.lists(st.integers(0, len(AGGREGATES) - 1), min_size=1, max_size=40),
       tamperings=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(TAMPERINGS)), max_size=3),
       cuts=st.lists(st.integers(0, 40), max_size=4))
def test_segments_stitched_give_the_one_pass_verdict(order, tamperings, cuts):
    log = honest_log(order)
    for where, how in tamperings:
        if log:
            log = tampered(log, where % len(log), how)
    cuts = [c for c in cuts if c <= len(log)]
    assert segmented(log, cuts) == stitch([walk(log, read, from_start=True)])


def test_an_honest_log_verifies_whole_and_in_parts():
    log = honest_log([0, 1, 0, 2, 1, 0, 3, 3, 2])
    assert stitch([walk(log, read, from_start=True)]).ok
    verdict = segmented(log, [2, 5, 7])
    assert verdict.ok and verdict.events_checked == len(log)


def test_a_break_at_a_segments_first_event_is_named_with_the_previous_segments_head():
    log = honest_log([0, 0, 0, 1])
    log = tampered(log, 2, "link")  # aggregate 0's third event, first of the second segment
    verdict = segmented(log, [2])
    assert not verdict.ok and verdict.events_checked == 3
    assert verdict.first_broken is not None
    assert (verdict.first_broken.version, verdict.first_broken.reason) == (
        3, "previous_hash does not match the hash of the event before it")


def test_a_changed_first_event_of_a_segment_is_named_for_its_content_when_it_links():
    log = tampered(honest_log([0, 0, 1]), 1, "content")
    verdict = segmented(log, [1])
    assert verdict.first_broken is not None and verdict.first_broken.reason == CONTENT_CHANGED
    assert verdict.events_checked == 2


def test_progress_counts_every_event_and_ends_with_the_total():
    seen: list[int] = []
    log = honest_log([0, 1] * 1500)
    walk(log, read, from_start=True, progress=seen.append)
    assert seen == [1000, 2000, 3000]

"""Seeded stores for the reading benchmarks: a realistic log (bench/seed.py) under the service's own settings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import pg_database, settings


@contextmanager
def store(data_dir: Path, postgres: bool) -> Iterator[Any]:
    """Settings of an empty store: a SQLite data directory, or a new PostgreSQL database."""
    if not postgres:
        yield settings(data_dir)
        return
    with pg_database("store") as url:
        yield settings(data_dir, url)


def fill(config: Any, dossiers: int, **generator: Any) -> dict[str, float]:
    """Appends `dossiers` realistic dossiers; returns the events written and the seconds it took."""
    from bench.seed import Generator
    from subventio import build

    services = build(config)
    try:
        gen = Generator(services.app, **generator)
        start = time.perf_counter()
        gen.run(dossiers)
        return {"events": float(gen.events), "seconds": time.perf_counter() - start}
    finally:
        services.app.close()
        services.read.dispose()


def read_and_decode(app: Any, batch: int = 5000) -> int:
    """The reference of every log reader: read the whole log and decode every event, write nothing.

    It reads and decodes as the projection runner does (projections.log.LogReader, projections.decoding.EventDecoder,
    the collector paused), so a reader's ratio to it is what that reader adds to the cheapest way to decode the log.
    """
    from projections.decoding import EventDecoder
    from projections.log import LogReader, collector_paused

    decode = EventDecoder(app.mapper)
    count = 0
    with collector_paused():
        for entry in LogReader(app.recorder).entries(batch=batch):
            decode(entry)
            count += 1
    return count


def read_and_decode_with_eventsourcing(app: Any, batch: int = 1000) -> int:
    """The same through eventsourcing's own recorder and mapper (select_notifications, to_domain_event)."""
    to_domain_event = app.mapper.to_domain_event
    position = count = 0
    while True:
        page = app.recorder.select_notifications(position, batch, inclusive_of_start=False)
        if not page:
            return count
        for notification in page:
            to_domain_event(notification)
        count += len(page)
        position = page[-1].id

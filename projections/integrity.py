"""`subventio audit verify` and `GET /audit/verify`: every hash chain checked, fast, and in parallel on a big log.

The verdict is the domain's (`domain.integrity`: `walk` judges events in order, `stitch` joins
consecutive segments); `Subventio.verify_chains` is the reference, one domain event after the other.
This module gets the same verdict faster in two ways:

- `StoredLinks` computes each event's canonical form straight from its stored JSON (orjson, no
  domain object built). It only ever vouches for an event whose recomputed hash equals the stored
  one, and every transform it applies is one-to-one (a transcoded UUID, decimal, date, instant or
  actor becomes exactly the text `canonical_value` gives): so a match means the domain's check
  matches too. Anything else (a mismatch, an unknown transcoding, an upcast class, JSON orjson
  refuses) goes to `Subventio.link_of`, which decides and gives the reason.
- `verify` cuts a big log into consecutive segments walked by as many processes (spawned, each
  with its own connection to the store), then stitches their chain heads in log order.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from eventsourcing.utils import resolve_topic

from domain.application import ActorAsDict, DateAsISO, Subventio
from domain.integrity import Link, Segment, Verification, stitch, walk
from projections.log import LogReader, collector_paused

PARALLEL_MIN_EVENTS = 60_000
"""Below this many events one process is faster: starting a worker costs ~0.3 s (interpreter, imports, connection)."""

_ENVELOPE = frozenset(("originator_id", "originator_version", "timestamp", "hash"))
_NATIVE: dict[str, type[Any]] = {"uuid_hex": UUIDAsHex, "decimal_str": DecimalAsStr, "datetime_iso": DatetimeAsISO,
                                 "date_iso": DateAsISO, "actor": ActorAsDict}
"""The transcodings whose canonical form is computed here: eventsourcing's defaults and the application's own."""


class _Unsure(Exception):
    """The stored JSON holds something only the application's own decoding can judge."""


def _uuid(data: Any) -> str:
    if type(data) is not str or len(data) != 32:
        raise _Unsure
    return f"{data[:8]}-{data[8:12]}-{data[12:16]}-{data[16:20]}-{data[20:]}"


def _text(data: Any) -> str:
    if type(data) is not str:
        raise _Unsure
    return data


_TEXTS = frozenset(("decimal_str", "date_iso", "datetime_iso"))
_CANONICAL: dict[str, Callable[[Any], Any]] = {
    "uuid_hex": _uuid, "decimal_str": _text, "date_iso": _text, "datetime_iso": _text,
}


def _canonical(value: Any) -> Any:
    """The canonical form (domain.chain.canonical_value) of a value as the transcoder stored it."""
    if type(value) is list:
        return [_canonical(v) if type(v) is dict or type(v) is list else v for v in value]
    if len(value) == 2 and "_type_" in value and "_data_" in value:  # a transcoded value
        name, data = value["_type_"], value["_data_"]
        if name == "actor":
            if type(data) is not dict:
                raise _Unsure
            return _canonical(data)
        convert = _CANONICAL.get(name) if type(name) is str else None
        if convert is None:
            raise _Unsure
        return convert(data)
    return {k: _canonical(v) if type(v) is dict or type(v) is list else v for k, v in value.items()}


class StoredLinks:
    """Reads an event's Link from its stored JSON; falls back on the application's reader when unsure."""

    def __init__(self, app: Subventio) -> None:
        self.app = app
        mapper = app.mapper
        transcoder = mapper.transcoder
        self.usable = (mapper.cipher is None and mapper.compressor is None and isinstance(transcoder, JSONTranscoder)
                       and {n: type(transcoder.names.get(n)) for n in _NATIVE} == _NATIVE)
        self.topics: dict[str, bool] = {}
        self.names: dict[Any, str] = {}
        self.slow = 0

    def _plain(self, topic: str) -> bool:
        """The topic resolves to a class that is not upcast (its stored state is its state)."""
        try:
            known = getattr(resolve_topic(topic), "class_version", 1) == 1
        except Exception:  # noqa: BLE001 - an unresolvable topic is for the application to report
            known = False
        self.topics[topic] = known
        return known

    def __call__(self, notification: Any) -> Link:
        link = self._fast(notification) if self.usable else None
        if link is not None:
            return link
        self.slow += 1
        return self.app.link_of(notification)

    def _fast(self, notification: Any) -> Link | None:
        topic = notification.topic
        plain = self.topics.get(topic)
        if plain is None:
            plain = self._plain(topic)
        if not plain:
            return None
        try:
            state = orjson.loads(notification.state)
            if type(state) is not dict or "class_version" in state:
                return None
            instant, stored = state.pop("timestamp", None), state.pop("hash", None)
            state.pop("originator_id", None)  # (the mapper replaces them by the row's: not part of the data)
            state.pop("originator_version", None)
            if type(instant) is not dict or len(instant) != 2 or instant.get("_type_") != "datetime_iso":
                return None
            for key, value in state.items():  # values replaced in place, keys unchanged
                kind = type(value)
                if kind is dict:
                    if len(value) == 2 and value.get("_type_") in _TEXTS and "_data_" in value:
                        state[key] = _text(value["_data_"])  # (inline: most transcoded values are these)
                    else:
                        state[key] = _canonical(value)
                elif kind is list:
                    state[key] = _canonical(value)
            aggregate = notification.originator_id
            name = self.names.get(aggregate)
            if name is None:
                if len(self.names) >= NAMES_CACHED:
                    self.names.clear()
                name = self.names[aggregate] = str(aggregate)
            document = {"aggregate_id": name, "version": notification.originator_version,
                        "topic": topic, "recorded_at": _text(instant.get("_data_")), "data": state}
            digest = hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()
        except (_Unsure, orjson.JSONDecodeError, TypeError, ValueError):
            return None
        if digest != stored:
            return None
        return Link(state.get("previous_hash"), stored, True)


NAMES_CACHED = 10_000
"""Aggregate ids kept as text (an aggregate has ~10 events: str(UUID) once, not ten times)."""


def shareable(app: Subventio) -> bool:
    """Another process can open this store: a SQLite file or PostgreSQL (not memory)."""
    env = app.env
    module = str(env.get("PERSISTENCE_MODULE") or "")
    if module.startswith("eventsourcing.postgres"):
        return True
    if module.startswith("eventsourcing.sqlite"):
        name = str(env.get("SQLITE_DBNAME") or "")
        return bool(name) and ":memory:" not in name and "mode=memory" not in name
    return False


def verify(app: Subventio, *, workers: int = 1, progress: Callable[[int], None] | None = None,
           parallel_from: int = PARALLEL_MIN_EVENTS) -> Verification:
    """Every chain of the log checked; the first break named (as `app.verify_chains()` names it).

    With `workers` > 1 and a log of at least `parallel_from` events in a store other processes can
    open, this process walks the first segment while `workers - 1` others walk the rest.
    """
    head = int(app.recorder.max_notification_id() or 0)
    workers = min(workers, head // max(1, parallel_from // 2))  # segments of at least half the threshold
    if workers <= 1 or head < parallel_from or not shareable(app):
        with collector_paused():
            return stitch([walk(LogReader(app.recorder).entries(), StoredLinks(app), from_start=True,
                                progress=progress)])
    # This process starts at once, the others after ~0.3 s: it takes a little more.
    first = min(head // 2, (head + STARTUP_EVENTS * (workers - 1)) // workers)
    cuts = [0, *(first + (head - first) * k // (workers - 1) for k in range(workers - 1))]
    ranges: list[tuple[int, int | None]] = [(cuts[k], cuts[k + 1] if k + 1 < workers else None)
                                            for k in range(workers)]
    return stitch(_parallel(app, ranges, progress))


STARTUP_EVENTS = 25_000
"""About what one process checks while another starts (interpreter, imports, connection)."""


def _parallel(app: Subventio, ranges: list[tuple[int, int | None]],
              progress: Callable[[int], None] | None) -> list[Segment]:
    """Walks the first (start, stop] range here and each other one in a process of its own; segments in log order.

    The others are new interpreters (`python -m projections.integrity`, not forks: the caller may be a
    threaded server holding connections); each reads its job on stdin and writes pickled frames on
    stdout: ("progress", n)…, then ("ok", segment) or ("error", message).
    """
    env = dict(app.env)
    others = ranges[1:]
    processes = [subprocess.Popen([sys.executable, "-m", "projections.integrity"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_ROOT)
                 for _ in others]
    done = [0] * len(ranges)
    results: list[tuple[str, Any]] = [("error", "no answer")] * len(ranges)

    def follow(slot: int, process: subprocess.Popen[bytes]) -> None:
        stream = process.stdout
        try:
            while stream is not None:
                kind, value = pickle.load(stream)  # noqa: S301 - frames of our own child process
                if kind != "progress":
                    results[slot] = (kind, value)
                    return
                done[slot] = value
        except (EOFError, pickle.UnpicklingError):
            results[slot] = ("error", f"verification process {slot} stopped (exit code {process.wait()})")

    def mine(n: int) -> None:
        done[0] = n
        if progress is not None:
            progress(sum(done))

    readers = []
    try:
        for slot, ((start, stop), process) in enumerate(zip(others, processes, strict=True), start=1):
            with process.stdin or open(os.devnull, "wb") as job:  # (stdin is a pipe: never None)
                job.write(json.dumps({"env": env, "start": start, "stop": stop}).encode())
            reader = threading.Thread(target=follow, args=(slot, process), daemon=True)
            reader.start()
            readers.append(reader)
        start, stop = ranges[0]
        with collector_paused():
            results[0] = ("ok", walk(LogReader(app.recorder).entries(start, stop), StoredLinks(app),
                                     from_start=start == 0, progress=mine))
        while any(r.is_alive() for r in readers):
            for reader in readers:
                reader.join(timeout=0.2)
                if progress is not None:
                    progress(sum(done))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
    failures = [str(value) for kind, value in results if kind != "ok"]
    if failures:
        raise RuntimeError("; ".join(failures))
    return [segment for _, segment in results]


_ROOT = str(Path(__file__).resolve().parents[1])


def _segment_main() -> int:
    """The child: walks positions (start, stop] of the store described on stdin; frames on stdout."""
    job = json.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    start, stop = int(job["start"]), job["stop"]
    try:
        app = Subventio(env={**job["env"], "CREATE_TABLE": "false"})
        try:
            def counted(n: int) -> None:
                pickle.dump(("progress", n), out)
                out.flush()

            with collector_paused():
                segment = walk(LogReader(app.recorder).entries(start, stop), StoredLinks(app), from_start=start == 0,
                               progress=counted)
        finally:
            app.close()
        pickle.dump(("ok", segment), out, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        pickle.dump(("error", f"verification of positions {start}-{stop or 'end'} failed in process "
                              f"{os.getpid()}: {type(exc).__name__}: {exc}"), out)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_segment_main())

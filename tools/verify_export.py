#!/usr/bin/env python3
"""Offline verification of a subventio store against a sealed export — standard library only.

Usage:
    python3 verify_export.py EXPORT.json STORE
where EXPORT.json is a day's sealed export, downloaded by an auditor from
`GET /audit/seals/{day}/export` (or written by `subventio audit export --seal DAY -o EXPORT.json`;
the seal itself is written by an admin, `POST /audit/seals` or `subventio audit seal`), and STORE
is a copy of the SQLite event store (made with `sqlite3 var/events.sqlite ".backup copy.sqlite"`,
which includes the write-ahead log) or a CSV dump of the PostgreSQL table made with:
    psql -c "\\copy (SELECT notification_id, originator_id, originator_version, topic,
    state FROM subventio_events ORDER BY notification_id) TO 'events.csv' WITH CSV HEADER"

It recomputes, for every stored event up to the sealed position, the SHA-256 of its canonical
encoding (docs/adr/0002-hash-chain.md), checks that each event links to its predecessor, then
rebuilds the Merkle root of all chain heads and compares it with the seal. Exit status 0 when the
store matches the export, 1 otherwise, with the first problem named on stderr.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

ENVELOPE = {"originator_id", "originator_version", "timestamp", "hash"}


def untranscode(value: Any) -> Any:
    """Undoes eventsourcing's JSON transcodings into the canonical plain values."""
    if isinstance(value, dict):
        if set(value) == {"_type_", "_data_"}:
            kind, data = value["_type_"], value["_data_"]
            if kind in ("datetime_iso", "date_iso", "decimal_str"):
                return data
            if kind == "uuid_hex":
                return str(uuid.UUID(data))
            if kind == "actor":
                return {"name": data["name"], "role": data["role"]}
            if kind == "tuple":
                return [untranscode(v) for v in data]
            raise ValueError(f"unknown transcoding {kind!r}")
        return {k: untranscode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untranscode(v) for v in value]
    return value


def canonical_hash(aggregate_id: str, version: int, topic: str, state: dict[str, Any]) -> str:
    data = {k: untranscode(v) for k, v in state.items() if k not in ENVELOPE}
    document = {"aggregate_id": aggregate_id, "version": version, "topic": topic,
                "recorded_at": untranscode(state["timestamp"]), "data": data}
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def merkle_root(heads: dict[str, tuple[int, str]]) -> str:
    level = [hashlib.sha256(f"{a}:{v}:{h}".encode()).hexdigest() for a, (v, h) in sorted(heads.items())]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        paired = [hashlib.sha256((level[i] + level[i + 1]).encode()).hexdigest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def read_store(path: Path) -> list[tuple[int, str, int, str, bytes]]:
    """(position, aggregate id, version, topic, state) in log order."""
    if path.suffix == ".csv":
        csv.field_size_limit(sys.maxsize)
        rows = []
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                state = row["state"]
                raw = bytes.fromhex(state[2:]) if state.startswith("\\x") else state.encode()
                rows.append((int(row["notification_id"]), str(uuid.UUID(row["originator_id"])),
                             int(row["originator_version"]), row["topic"], raw))
        return sorted(rows)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        cursor = conn.execute("SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
                              "ORDER BY rowid")
        return [(int(p), str(uuid.UUID(a)), int(v), t, bytes(s)) for p, a, v, t, s in cursor]


def verify(export: dict[str, Any], rows: list[tuple[int, str, int, str, bytes]]) -> list[str]:
    seal = export["seal"]
    heads: dict[str, tuple[int, str]] = {}
    events = 0
    for position, aggregate_id, version, topic, raw in rows:
        if position > seal["last_position"]:
            break
        events += 1
        where = f"event {aggregate_id} v{version} (position {position})"
        try:
            state = json.loads(raw)
        except ValueError:
            return [f"{where}: stored state is not valid JSON"]
        last_version, last_hash = heads.get(aggregate_id, (0, ""))
        if version != last_version + 1:
            return [f"{where}: follows version {last_version} (missing, inserted or reordered event)"]
        if state.get("previous_hash") != last_hash:
            return [f"{where}: previous_hash does not match the event before it"]
        if canonical_hash(aggregate_id, version, topic, state) != state.get("hash"):
            return [f"{where}: content does not match its hash (changed payload or metadata)"]
        heads[aggregate_id] = (version, state["hash"])
    problems = []
    exported = {a: (v, h) for a, v, h in export["heads"]}
    for aggregate_id, (version, digest) in sorted(exported.items()):
        found = heads.get(aggregate_id)
        if found is None:
            problems.append(f"aggregate {aggregate_id}: sealed at v{version} but absent from the store")
        elif found != (version, digest):
            problems.append(f"aggregate {aggregate_id}: sealed head v{version} {digest[:12]}…, store has "
                            f"v{found[0]} {found[1][:12]}… (truncated or rewritten)")
    extra = sorted(set(heads) - set(exported))
    problems += [f"aggregate {a}: in the store before the sealed position but not in the seal" for a in extra]
    if events != seal["events"]:
        problems.append(f"{events} events before the sealed position, the seal counted {seal['events']}")
    root = merkle_root(heads)
    if root != seal["merkle_root"]:
        problems.append(f"Merkle root {root} ≠ sealed root {seal['merkle_root']}")
    if merkle_root(exported) != seal["merkle_root"]:
        problems.append("the export's own heads do not give the sealed root (export altered)")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    export = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    problems = verify(export, read_store(Path(argv[2])))
    seal = export["seal"]
    if problems:
        for problem in problems:
            print(f"BROKEN: {problem}", file=sys.stderr)
        return 1
    print(f"OK: {seal['events']} events, {len(export['heads'])} chains, Merkle root {seal['merkle_root']} "
          f"of the seal of {seal['day']} verified.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

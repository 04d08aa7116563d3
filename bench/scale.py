"""Scale: a realistic store of ~100 000 then ~1 000 000 events (10 000 then 100 000 dossiers, bench/seed.py).

- rebuild linearity: seconds per event of the projection rebuild at 1M ÷ at 100k (1.0 = linear);
  the 100k store is kept as a copy and rebuilt again right before and after the 1M one, so both
  sizes are measured side by side (a noisy neighbour affects both);
- peak RSS of the rebuild process (a child process: its ru_maxrss), at both sizes, and its growth;
- append rate at the end: batches appended to the 1M store ÷ the same batches appended to a new,
  empty store: two generators with one seed, one numbering and one first year write identical cohorts,
  interleaved in rounds (time inside `app.save` only); the figure is the median of the rounds' ratios
  (a round's two halves run seconds apart, so a noisy neighbour touches both);
- `audit verify` (projections.integrity.verify) events/s on the 1M store (a child process too, with its peak RSS).

`python -m bench.scale child rebuild|verify|read DATA_DIR [DATABASE_URL]` is the child.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import note, settings


class Appends:
    """Counts the events `Generator` saves and the seconds spent inside `app.save`."""

    def __init__(self) -> None:
        self.events = 0
        self.seconds = 0.0

    def __call__(self, events: int, seconds: float) -> None:
        self.events += events
        self.seconds += seconds

    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def child(operation: str, data_dir: str, database_url: str | None) -> dict[str, float]:
    from bench.stores import read_and_decode
    from subventio import build

    services = build(settings(Path(data_dir), database_url))
    start = time.perf_counter()
    if operation == "rebuild":
        events = services.runner.rebuild()
    elif operation == "verify":
        from projections.integrity import verify

        result = verify(services.app, workers=settings(Path(data_dir)).verify_workers)
        if not result.ok:
            raise AssertionError(result.as_dict())
        events = result.events_checked
    else:
        events = read_and_decode(services.app)
    seconds = time.perf_counter() - start
    services.app.close()
    services.read.dispose()
    return {"seconds": seconds, "events": float(events), "rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident set: VmHWM (its own address space since exec). ru_maxrss is not used
    where VmHWM exists: Linux carries the parent's high-water mark over the fork into the child's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spawn(operation: str, data_dir: Path, database_url: str | None = None) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", "bench.scale", "child", operation, str(data_dir),
                           *([database_url] if database_url else [])], capture_output=True, text=True,
                          check=False, cwd=Path(__file__).resolve().parents[1], timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"bench.scale child {operation} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    note(f"{operation} {data_dir.name}: {figures['events']:.0f} events in {figures['seconds']:.1f} s "
         f"({figures['events'] / figures['seconds']:.0f}/s), peak RSS {figures['rss_mb']:.0f} MB")
    return figures


def copy_store(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite event store (the backup API includes the write-ahead log)."""
    target.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source / "events.sqlite") as src, sqlite3.connect(target / "events.sqlite") as dst:
        src.backup(dst)


def per_event(f: dict[str, float]) -> float:
    return f["seconds"] / f["events"]


def run(quick: bool = False, postgres: bool = False, **_: Any) -> dict[str, Any]:
    from bench.seed import Generator
    from subventio import build

    small, large = (800, 6000) if quick else (10_000, 100_000)
    probe_rounds, probe_dossiers = (3, 200) if quick else (8, 1000)  # (8 rounds: the ratio of two noisy rates)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        big_dir, small_dir, fresh_dir = root / "big", root / "small", root / "fresh"
        services = build(settings(big_dir))
        appends = Appends()
        gen = Generator(services.app, saved=appends)
        started = time.perf_counter()
        gen.run(small)
        note(f"generated {gen.events} events ({gen.dossiers} dossiers) in {time.perf_counter() - started:.0f} s, "
             f"{appends.rate():.0f} events/s in app.save")
        first_rate = appends.rate()
        copy_store(big_dir, small_dir)
        appends.events, appends.seconds = 0, 0.0
        gen.run(large - small)
        last_rate = appends.rate()
        note(f"generated {gen.events} events ({gen.dossiers} dossiers) in {time.perf_counter() - started:.0f} s")
        events_total = gen.events

        # The append probe: identical cohorts (one seed, numbering and first year, beyond the big store's years
        # and SIRET numbers) appended to the big store and to an empty one, interleaved.
        os.sync()  # (the bulk load's dirty pages reach the disk before the probe, not during its first fsyncs)
        fresh = build(settings(fresh_dir))
        probes = []
        for app in (services.app, fresh.app):
            counter = Appends()
            probe = Generator(app, saved=counter, first_year=gen.first_year + 100, seed=11,
                              numbering=gen.applicants * 10)
            probe.run(gen.cohort)  # its reference data and first cohort: not measured
            probes.append((probe, counter))
            counter.events, counter.seconds = 0, 0.0
        ratios = []
        for index in range(probe_rounds):
            rates = [0.0, 0.0]
            for which in (0, 1) if index % 2 == 0 else (1, 0):
                probe, counter = probes[which]
                events, seconds = counter.events, counter.seconds
                probe.run(probe_dossiers)
                rates[which] = (counter.events - events) / (counter.seconds - seconds)
            ratios.append(rates[0] / rates[1])
        append_ratio = statistics.median(ratios)
        big_rate, fresh_rate = (counter.rate() for _, counter in probes)
        note(f"append probe: {big_rate:.0f} events/s into {gen.events + probes[0][0].events} events, "
             f"{fresh_rate:.0f} events/s into a new store; round ratios "
             + " ".join(f"{r:.2f}" for r in ratios))
        services.app.close()
        services.read.dispose()
        fresh.app.close()
        fresh.read.dispose()

        small_a = spawn("rebuild", small_dir)
        big = spawn("rebuild", big_dir)
        small_b = spawn("rebuild", small_dir)
        verify_big = spawn("verify", big_dir)
        verify_small = spawn("verify", small_dir)
        read_big = spawn("read", big_dir)

    small_per_event = (per_event(small_a) + per_event(small_b)) / 2
    small_rss = max(small_a["rss_mb"], small_b["rss_mb"])
    return {
        "scale_events": int(big["events"]),
        "scale_generated_events": int(events_total),
        "scale_small_events": int(small_a["events"]),
        "scale_rebuild_seconds": round(big["seconds"], 1),
        "scale_rebuild_small_seconds": round(small_per_event * small_a["events"], 2),
        "scale_rebuild_events_per_s": round(big["events"] / big["seconds"]),
        "scale_rebuild_linearity": round(per_event(big) / small_per_event, 3),
        "scale_peak_rss_mb": round(max(big["rss_mb"], small_rss, verify_big["rss_mb"]), 1),
        "scale_rebuild_rss_mb": round(big["rss_mb"], 1),
        "scale_rebuild_small_rss_mb": round(small_rss, 1),
        "scale_rss_growth": round(big["rss_mb"] / small_rss, 3),
        "scale_append_ratio": round(append_ratio, 3),
        "scale_append_first_last_ratio": round(last_rate / first_rate, 3) if first_rate else 0.0,
        "scale_verify_events_per_s": round(verify_big["events"] / verify_big["seconds"]),
        "scale_verify_small_events_per_s": round(verify_small["events"] / verify_small["seconds"]),
        "scale_verify_rss_mb": round(verify_big["rss_mb"], 1),
        "scale_read_decode_events_per_s": round(read_big["events"] / read_big["seconds"]),
    }


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "child":
        os.environ.setdefault("SUBVENTIO_LOG_LEVEL", "WARNING")
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))

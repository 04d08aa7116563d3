"""subventio.WriteLock: one writer at a time on a SQLite event store, across the threads and processes that share it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from subventio import Settings, WriteLock, write_lock

CHILD = """
import sys, time
from pathlib import Path
from subventio import WriteLock
lock, log, name = WriteLock(Path(sys.argv[1])), Path(sys.argv[2]), sys.argv[3]
for _ in range(40):
    with lock():
        with log.open("a") as f:
            f.write(f"{name} in\\n")
        time.sleep(0.002)
        with log.open("a") as f:
            f.write(f"{name} out\\n")
"""


def assert_never_two_inside(lines: list[str]) -> None:
    inside = None
    for line in lines:
        who, what = line.split()
        if what == "in":
            assert inside is None, f"{who} entered while {inside} held the lock"
            inside = who
        else:
            assert inside == who
            inside = None


def test_processes_take_turns(tmp_path: Path):
    lock_path, log = tmp_path / "events.sqlite.lock", tmp_path / "log.txt"
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(lock_path), str(log), f"p{i}"])
                for i in range(3)]
    for child in children:
        assert child.wait(timeout=60) == 0
    lines = log.read_text().splitlines()
    assert len(lines) == 3 * 40 * 2
    assert_never_two_inside(lines)


def test_threads_of_one_process_take_turns(tmp_path: Path):
    lock, events, inside = WriteLock(tmp_path / "events.sqlite.lock"), [], []

    def work(name: str) -> None:
        for _ in range(30):
            with lock():
                events.append(f"{name} in")
                inside.append(name)
                time.sleep(0.0005)
                assert inside == [name]
                inside.pop()
                events.append(f"{name} out")

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(events) == 4 * 30 * 2
    assert_never_two_inside(events)


def test_a_lock_held_elsewhere_makes_the_writer_wait(tmp_path: Path):
    path = tmp_path / "events.sqlite.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                               "from subventio import WriteLock\nlock = WriteLock(Path(sys.argv[1]))\n"
                               "with lock():\n    print('held', flush=True)\n    time.sleep(0.5)\n", str(path)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with WriteLock(path)():
        waited = time.monotonic() - started
    holder.wait(timeout=30)
    assert waited > 0.2


@pytest.mark.parametrize(("database_url", "kind"), [(None, WriteLock), ("postgresql://x@h/db", type(None))])
def test_only_a_sqlite_store_gets_one(tmp_path: Path, database_url, kind):
    assert type(write_lock(Settings(data_dir=tmp_path, database_url=database_url))) is kind


def test_the_sqlite_write_ahead_log_stays_bounded_under_back_to_back_writers(tmp_path: Path):
    """SQLite's own checkpoint runs in the commit that crosses 1 000 pages, with `WriteLock` held: it finds the
    log wholly copied, so the next writer starts it afresh (a checkpoint beside unpaused writers never could:
    the log then grew without end, 73 MB after 65 000 events; docs/adr/0009)."""
    from decimal import Decimal

    from subventio import build
    from tests.unit.factories import ctx

    services = build(Settings(data_dir=tmp_path))
    try:
        app, wal = services.app, tmp_path / "events.sqlite-wal"
        line = app.open_budget_line(ctx(), code="C05", imputation="65748//93043", label="Ligne", year=2025,
                                    credits=Decimal("1000000.00"))
        salts, largest = set(), 0
        for _ in range(1500):  # each commit writes a few pages: several times 1 000 pages in all
            app.change_credits(ctx(), line.id, amount=Decimal("1.00"), reason="test")
            with wal.open("rb") as f:
                salts.add(f.read(24)[16:24])  # the header's salts: new at each restart of the log
            largest = max(largest, wal.stat().st_size)
        assert len(salts) >= 3, "the log never started afresh"
        assert largest < 6 * 2**20, f"the log reached {largest} bytes"  # 1 000 pages of 4 KiB, and the last commit
    finally:
        services.app.close()
        services.read.dispose()

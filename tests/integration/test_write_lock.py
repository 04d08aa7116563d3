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


def test_the_sqlite_store_checkpoints_beside_its_writers(tmp_path: Path):
    """Writers leave the write-ahead log to the recorder's checkpointer, which copies it into the database."""
    import sqlite3
    from decimal import Decimal

    from subventio import build
    from tests.unit.factories import ctx

    services = build(Settings(data_dir=tmp_path))
    try:
        app, database = services.app, tmp_path / "events.sqlite"
        assert type(app.recorder).__name__ == "SQLiteRecorder"
        line = app.open_budget_line(ctx(), code="C05", imputation="65748//93043", label="Ligne", year=2025,
                                    credits=Decimal("1000000.00"))
        before = database.stat().st_size
        for _ in range(300):  # ~300 commits: past SQLite's 1 000-page automatic checkpoint
            app.change_credits(ctx(), line.id, amount=Decimal("1.00"), reason="test")
        deadline = time.monotonic() + 10
        while app.recorder.checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.recorder.checkpointer.checkpoints > 0
        time.sleep(0.5)  # (the last nudge's checkpoint)
        with sqlite3.connect(database) as probe:
            for _ in range(50):  # busy while the checkpointer itself is at it: ask again
                busy, log_frames, checkpointed = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if not busy:
                    break
                time.sleep(0.1)
        assert busy == 0 and checkpointed == log_frames
        assert database.stat().st_size > before  # what was written reached the database file
    finally:
        services.app.close()
        services.read.dispose()


def test_the_checkpointer_ends_when_writes_stop_and_starts_again_on_the_next(tmp_path: Path):
    import sqlite3

    from subventio import Checkpointer

    database = tmp_path / "store.sqlite"
    with sqlite3.connect(database) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (x)")
    checkpointer = Checkpointer(database, interval=0.01, idle=0.2)
    assert not checkpointer.running
    checkpointer.nudge()
    assert checkpointer.running
    deadline = time.monotonic() + 10
    while checkpointer.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not checkpointer.running and checkpointer.checkpoints == 1
    checkpointer.nudge()
    deadline = time.monotonic() + 10
    while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.checkpoints == 2


@pytest.mark.parametrize(("restart_frames", "bounded"), [(100, True), (10**9, False)])
def test_back_to_back_writers_still_let_the_log_start_afresh(tmp_path: Path, restart_frames, bounded):
    """A checkpoint beside writers that never pause copies the log but never lets it restart; the pass with the
    writers held back does (and the control, which never takes it, shows the log growing)."""
    import sqlite3

    from subventio import Checkpointer

    database = tmp_path / "store.sqlite"
    writers = WriteLock.beside(database)
    checkpointer = Checkpointer(database, interval=0.01, restart_frames=restart_frames)
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE t (x BLOB)")
    try:
        for _ in range(2500):  # ~10 MB through the log, a page and more per transaction
            with writers():
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO t VALUES (randomblob(4000))")
                connection.execute("COMMIT")
            checkpointer.nudge()
        wal = database.with_name("store.sqlite-wal").stat().st_size
    finally:
        connection.close()
    assert checkpointer.checkpoints > 0
    if bounded:
        assert checkpointer.finished > 0 and wal < 3 * 2**20
    else:
        assert checkpointer.finished == 0 and wal > 6 * 2**20

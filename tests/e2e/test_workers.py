"""End to end: `subventio worker …` and `subventio serve` as real processes, killed with SIGKILL at random
points, or cut off from the broker, while dossiers are submitted; a real SMTP server counts the mail.

SUBVENTIO_TEST_CRASH_DOSSIERS sets how many dossiers are submitted (default 200; the issue's figure is
1000); SUBVENTIO_TEST_SEED replays a run's kill points.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from projections.notifications import notifications
from tests.conftest import BACKEND
from tests.e2e import conftest as e2e
from tests.integration import test_workers_support as support
from tests.integration.test_workers_support import Grants, delete_topology, queue_depth, rabbitmq, wait_until
from workers.broker import Topology
from workers.tables import load_position, sent_notifications

pytestmark = pytest.mark.e2e
smtp_sink, prefix = support.smtp_sink, support.prefix  # fixtures

COUNT = int(os.environ.get("SUBVENTIO_TEST_CRASH_DOSSIERS", "200"))
SEED = int(os.environ.get("SUBVENTIO_TEST_SEED") or random.SystemRandom().randrange(1_000_000))
ACK = "Accusé de réception"


class WorkerProcess:
    """`subventio worker NAME --prefix P`, restartable, with its output in a log file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, prefix: str, number: int) -> None:
        self.name, self.env, self.prefix = name, env, prefix
        self.label = f"{name}-{number}"
        self.log = log_dir / f"worker-{self.label}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([str(e2e.BIN / "subventio"), "worker", self.name, "--prefix", self.prefix],
                                            env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1

    def kill(self) -> None:
        """kill -9: no cleanup, no goodbye to the broker or the database."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM: the worker finishes its current message; unacknowledged ones go back to the queue."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def worker_env(settings: Any, broker_url: str | None, smtp_url: str) -> dict[str, str]:
    env = e2e.server_env(settings)
    if broker_url:
        env["SUBVENTIO_BROKER_URL"] = broker_url
    env["SUBVENTIO_SMTP_URL"] = smtp_url
    env["SUBVENTIO_LOG_LEVEL"] = "INFO"
    return env


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    running: list[WorkerProcess] = []
    yield running
    for process in running:
        process.stop()


def count_rows(services: Any, table: Any) -> int:
    with services.read.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def acknowledgments(sink: Any) -> collections.Counter[str]:
    return collections.Counter(to for mail in sink.mails(subject_contains=ACK) for to in mail.to)


def drain(url: str, prefix: str, env: dict[str, str], log_dir: Path) -> None:
    """With every worker stopped, lets one notifier consume what is left (republished copies) until nothing is."""
    queue = Topology(prefix).notifications.name
    for attempt in range(5):
        if queue_depth(url, queue) == 0:
            return
        notifier = WorkerProcess("notify", env, log_dir, prefix, 100 + attempt)
        notifier.start()
        try:
            wait_until(lambda: queue_depth(url, queue) == 0, timeout=60)
        finally:
            notifier.stop()
    assert queue_depth(url, queue) == 0, "the notifications queue does not drain"


def crash_window_copies(sink: Any, services: Any, doubled: list[str]) -> list[str]:
    """The doubled recipients whose extra copies a crash inside the handover window explains; fails on any other.

    Exactly once cannot hold across SMTP: a notifier killed between the mail's final dot leaving and
    the commit of its record (tens of microseconds, workers/mail.py) has sent a mail it did not record,
    and the redelivery sends it again. Such a copy has two marks: the SMTP session ended right after it
    (no further MAIL, RSET or QUIT: the process died), and it was accepted before the mail's record was
    written (the record is the resend's). A recorded mail sent again (a deduplication bug) has neither.
    """
    with services.read.begin() as conn:
        recorded = {row.to: row.sent_at for row in conn.execute(select(notifications.c.to, notifications.c.sent_at)
                                                                .where(notifications.c.kind == "acknowledgment"))}
    for to in doubled:
        *earlier, _last = sorted(sink.mails(to=to, subject_contains=ACK), key=lambda mail: mail.wall)
        for copy in earlier:
            accepted = datetime.fromtimestamp(copy.wall, UTC)
            assert not copy.followed and accepted < recorded[to], \
                f"{to}: a copy sent again after it was recorded ({accepted} >= {recorded[to]}) or by a live " \
                f"notifier (followed={copy.followed}): a deduplication bug, not a crash; seed {SEED}"
    return doubled


def assert_each_applicant_acknowledged(sink: Any, services: Any, emails: list[str], logs: str,
                                       crash_window_allowed: int = 0) -> list[str]:
    """None lost; none doubled, except copies proven to come from a crash inside the handover window."""
    received = acknowledgments(sink)
    missing = sorted(set(emails) - set(received))
    doubled = sorted(to for to, n in received.items() if n > 1)
    assert not missing, f"lost {missing[:10]} ({len(missing)}); seed {SEED}\n{logs}"
    assert sorted(received) == sorted(emails)
    assert count_rows(services, sent_notifications) == count_rows(services, notifications) == len(emails)
    if crash_window_allowed == 0:
        assert not doubled, f"doubled {doubled[:10]} ({len(doubled)}); seed {SEED}\n{logs}"
    explained = crash_window_copies(sink, services, doubled)
    assert len(explained) <= crash_window_allowed, f"{len(explained)} crash-window copies for " \
                                                   f"{crash_window_allowed} notifier kills; seed {SEED}"
    assert len(sink.mails()) == len(emails) + sum(received[to] - 1 for to in explained)
    return explained


def test_killed_relay_and_notifiers_neither_lose_nor_double_an_acknowledgment(settings, services, smtp_sink,
                                                                              prefix, processes, tmp_path):
    """kill -9 at random points while COUNT dossiers are submitted: every applicant gets its acknowledgment, once;
    a second copy only where a notifier died inside the handover window, which `crash_window_copies` proves."""
    embedded = BACKEND == "sqlite"
    url = None if embedded else rabbitmq()
    env = worker_env(settings, url, smtp_sink.url)
    # The embedded broker lives in one process: relay and notifier die together. On RabbitMQ: one relay and two
    # competing notifiers, each killed on its own.
    names = ["all"] if embedded else ["relay", "notify", "notify"]
    processes.extend(WorkerProcess(name, env, tmp_path, prefix, n) for n, name in enumerate(names))
    for process in processes:
        process.start()
    rng = random.Random(SEED)  # noqa: S311 - kill points, not secrets
    kills: collections.Counter[str] = collections.Counter()
    submitted = threading.Event()
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set():
            stop.wait(rng.uniform(0.1, 0.8))
            if stop.is_set():
                break
            victim = rng.choice(processes)
            victim.kill()
            kills[victim.name] += 1
            victim.start()
            every_role = all(kills[name] for name in set(names))
            if submitted.is_set() and every_role and sum(kills.values()) >= 8:
                return

    thread = threading.Thread(target=killer, name="killer")
    thread.start()
    g = Grants(services.app)
    emails = [f"porteur{n}@exemple.fr" for n in range(COUNT)]
    try:
        for n, address in enumerate(emails):
            g.submitted(g.applicant(n, address))
        submitted.set()
        thread.join(timeout=120)
    finally:
        stop.set()
        thread.join()
    head = int(services.app.recorder.max_notification_id() or 0)
    relay_name = f"relay:{prefix}"
    logs = "\n".join(f"--- {p.label}\n{p.tail()}" for p in processes)

    assert wait_until(lambda: len(acknowledgments(smtp_sink)) == COUNT, timeout=300), \
        f"{len(acknowledgments(smtp_sink))} of {COUNT} acknowledgments; seed {SEED}\n{logs}"
    # Quiet: the relay is past every event (on the embedded broker: every message is finished).
    assert wait_until(lambda: load_position(services.read, relay_name) == head, timeout=120), logs
    for process in processes:
        process.stop()
    if url is not None:
        drain(url, prefix, env, tmp_path)
    notifier_kills = kills["all"] + kills["notify"]
    explained = assert_each_applicant_acknowledged(smtp_sink, services, emails, logs, notifier_kills)
    print(f"\n{COUNT} dossiers, kills {dict(kills)}, seed {SEED}: every applicant acknowledged; "
          f"{len(explained)} crash-window copies {explained}")
    if url is not None:
        assert queue_depth(url, Topology(prefix).dead.name) == 0
        delete_topology(url, prefix)


class TcpProxy:
    """A TCP relay in front of RabbitMQ that the test can cut (every connection dropped, new ones refused)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            doomed, self.sockets = self.sockets, set()
        for s in doomed:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.server.close()


def test_a_broker_that_goes_away_and_comes_back_loses_nothing(settings, services, smtp_sink, prefix, processes,
                                                               tmp_path):
    url = rabbitmq()
    proxy = TcpProxy(("127.0.0.1", 5672))
    try:
        env = worker_env(settings, f"amqp://guest:guest@127.0.0.1:{proxy.port}//", smtp_sink.url)
        processes.extend([WorkerProcess("relay", env, tmp_path, prefix, 0),
                          WorkerProcess("notify", env, tmp_path, prefix, 1)])
        for process in processes:
            process.start()
        g = Grants(services.app)
        count = max(20, COUNT // 4)
        emails = [f"porteur{n}@exemple.fr" for n in range(count)]
        for n, address in enumerate(emails[: count // 2]):
            g.submitted(g.applicant(n, address))
        # Both workers are up and busy when the broker goes away; the rest is submitted while it is away.
        assert wait_until(lambda: len(acknowledgments(smtp_sink)) >= count // 4, timeout=60)
        proxy.cut()
        for n, address in enumerate(emails[count // 2:], start=count // 2):
            g.submitted(g.applicant(n, address))
        relay, notifier = processes
        noticed = wait_until(lambda: "retrying" in relay.tail() and "reconnecting" in notifier.tail(), timeout=30)
        time.sleep(1)  # a little longer down: reconnection attempts fail too
        proxy.restore()
        logs = "\n".join(f"--- {p.label}\n{p.tail()}" for p in processes)
        assert noticed, logs
        assert wait_until(lambda: len(acknowledgments(smtp_sink)) == count, timeout=120), logs
        head = int(services.app.recorder.max_notification_id() or 0)
        assert wait_until(lambda: load_position(services.read, f"relay:{prefix}") == head, timeout=60), logs
        for process in processes:
            process.stop()
        drain(url, prefix, worker_env(settings, url, smtp_sink.url), tmp_path)
        assert_each_applicant_acknowledged(smtp_sink, services, emails, logs)
    finally:
        proxy.close()
        delete_topology(url, prefix)


@pytest.mark.sqlite_only
def test_serve_runs_the_workers_beside_the_api_and_tick_sends_reminders(settings, services, smtp_sink, monkeypatch):
    """The embedded default: `serve` with no broker starts relay, notifier and scheduler on the in-memory broker."""
    if BACKEND != "sqlite":
        pytest.skip("the embedded default")
    plain = e2e.server_env
    monkeypatch.setattr(e2e, "server_env", lambda s: {**plain(s), "SUBVENTIO_SMTP_URL": smtp_sink.url})
    server = e2e.Server(settings)
    try:
        admin = server.token("admin")
        today = date.today()
        line = requests.post(f"{server.url}/budget-lines", headers=admin, json={
            "code": "C05-043A06", "imputation": "65748//93043", "label": "Actions européennes et internationales",
            "year": today.year, "credits": "10000.00"}, timeout=10).json()
        programme = requests.post(f"{server.url}/programmes", headers=admin, json={
            "code": "OUVERTURE-MONDE", "title": "L'ouverture au monde", "year": today.year,
            "opens_on": date(today.year, 1, 1).isoformat(), "closes_on": date(today.year, 12, 31).isoformat(),
            "budget_line_id": line["id"],
            "rules": {"rounding": "cent", "settlement": "reduce", "convention_required_above": "0.00",
                      "payment_plan": [{"tranche": "single", "when": "convention_signed"}]},
            "required_documents": {}}, timeout=10).json()
        applicant = requests.post(f"{server.url}/applicants", headers=admin, json={
            "kind": "person", "name": "Elise MOULENE", "address": "5 rue Jules de Vicq, 59800 Lille",
            "email": "elise@exemple.fr", "legal_representative": {"name": "Elise MOULENE", "role": "Présidente"}},
            timeout=10)
        assert applicant.status_code == 201, applicant.text
        owner = server.token("applicant", applicant.json()["id"])
        dossier = requests.post(f"{server.url}/dossiers", headers=owner, json={
            "programme_id": programme["id"], "project_name": "Accompagnement 62MEI", "total_budget": "9380.00",
            "amount_requested": "9380.00"}, timeout=10).json()
        submitted = requests.post(f"{server.url}/dossiers/{dossier['id']}/submit", headers=owner, json={
            "sworn_statement": {"signatory": "Elise MOULENE", "place": "Lille", "signed_on": today.isoformat()}},
            timeout=10)
        assert submitted.status_code == 200, submitted.text
        [ack] = smtp_sink.wait_for(1, to="elise@exemple.fr", timeout=60)
        assert submitted.json()["reference"] in ack.subject and ACK in ack.subject

        # A granted dossier whose report is due on 1 April 2026, recorded by this process in the same store;
        # `subventio tick` 30 days before writes the reminder, which the serve's relay publishes.
        g = Grants(services.app)
        d, number = g.vote(g.submitted(g.applicant(1, "alice@exemple.fr")), adopted=True)
        g.sign(d, g.convention(d, report_due_on=date(2026, 4, 1), number=number))
        services.runner.catch_up()
        out = server.cli("tick", "--today", "2026-03-02")
        assert f"reminder:{d.id}:2026-04-01:30" in out
        [reminder] = smtp_sink.wait_for(1, to="alice@exemple.fr", subject_contains="rappel", timeout=60)
        assert "soit dans 30 jours" in reminder.text
    finally:
        server.stop()


def test_a_worker_alone_on_the_embedded_broker_is_refused(settings):
    """The in-memory broker lives in one process: `worker relay` alone would publish to nobody."""
    env = worker_env(settings, None, "smtp://127.0.0.1:1")
    done = subprocess.run([str(e2e.BIN / "subventio"), "worker", "relay"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert "SUBVENTIO_BROKER_URL" in done.stderr and "worker all" in done.stderr

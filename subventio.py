"""The one composition root and the `subventio` command line: reads settings once, builds, runs.

Nothing imports this module; it imports everything.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
log = logging.getLogger("subventio")


@dataclass(frozen=True)
class Settings:
    """Every SUBVENTIO_* setting, read once from the environment."""

    data_dir: Path
    database_url: str | None = None
    broker_url: str | None = None
    smtp_url: str | None = None
    authority_siren: str = "226200012"
    department_code: str = "062"
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 4
    workers: int = 2
    reuse_port: bool = True
    rate_limit: str | None = None
    verify_workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    """Processes `audit verify` (CLI and API) may use on a big log."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            data_dir=Path(environ.get("SUBVENTIO_DATA_DIR") or "var").resolve(),
            database_url=environ.get("SUBVENTIO_DATABASE_URL") or None,
            broker_url=environ.get("SUBVENTIO_BROKER_URL") or None,
            smtp_url=environ.get("SUBVENTIO_SMTP_URL") or None,
            authority_siren=environ.get("SUBVENTIO_AUTHORITY_SIREN") or "226200012",
            department_code=environ.get("SUBVENTIO_DEPARTMENT_CODE") or "062",
            host=environ.get("SUBVENTIO_HOST") or "127.0.0.1",
            port=int(environ.get("SUBVENTIO_PORT") or 8000),
            threads=int(environ.get("SUBVENTIO_THREADS") or 4),
            workers=int(environ.get("SUBVENTIO_WORKERS") or 2),
            reuse_port=(environ.get("SUBVENTIO_REUSE_PORT") or "1") not in ("0", "false", "no"),
            rate_limit=environ.get("SUBVENTIO_RATE_LIMIT"),
            **({"verify_workers": max(1, int(environ["SUBVENTIO_VERIFY_WORKERS"]))}
               if environ.get("SUBVENTIO_VERIFY_WORKERS") else {}),
        )

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url and self.database_url.startswith(("postgres://", "postgresql")))

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing settings: SQLite file under the data directory, or PostgreSQL."""
        if not self.is_postgres:
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": str(self.data_dir / "events.sqlite"),
                    "SQLITE_LOCK_TIMEOUT": "30",
                    "AGGREGATE_CACHE_MAXSIZE": "2000"}
        url = urlparse(self.database_url or "")
        env = {"PERSISTENCE_MODULE": "eventsourcing.postgres",
               "POSTGRES_DBNAME": url.path.lstrip("/") or "subventio",
               "POSTGRES_HOST": url.hostname or "127.0.0.1",
               "POSTGRES_PORT": str(url.port or 5432),
               "POSTGRES_USER": unquote(url.username or "postgres"),
               "POSTGRES_PASSWORD": unquote(url.password or ""),
               "POSTGRES_POOL_SIZE": "5",
               "POSTGRES_MAX_OVERFLOW": "10",
               "APPLICATION_RECORDER_TOPIC": "subventio:PostgresRecorder",
               "AGGREGATE_CACHE_MAXSIZE": "2000"}
        schema = self.database_schema
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return env

    @property
    def database_schema(self) -> str | None:
        if not self.is_postgres:
            return None
        return (parse_qs(urlparse(self.database_url or "").query).get("schema") or [None])[0]

    def read_store_url(self) -> str:
        """SQLAlchemy URL of the read models: a second SQLite file, or the same PostgreSQL database."""
        if not self.is_postgres:
            return f"sqlite:///{self.data_dir / 'read.sqlite'}"
        url = urlparse(self.database_url or "")
        return url._replace(scheme="postgresql+psycopg", query="").geturl()


def today_in_paris() -> date:
    return datetime.now(UTC).astimezone(PARIS).date()


EVENT_STORE_LOCK = 7_226_200_012
"""PostgreSQL advisory lock held while a process creates (or checks) the event store's tables and functions."""


@contextmanager
def event_store_creation_lock(settings: Settings) -> Iterator[None]:
    """One process at a time sets up the event store: eventsourcing runs CREATE OR REPLACE FUNCTION at start-up,
    which PostgreSQL refuses to run concurrently ("tuple concurrently updated"), so the gunicorn workers, the
    companion worker and any CLI command starting together would otherwise fail at random."""
    if not settings.is_postgres:
        yield
        return
    import psycopg

    env = settings.event_store_env()
    with psycopg.connect(host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), user=env["POSTGRES_USER"],
                         password=env["POSTGRES_PASSWORD"] or None, dbname=env["POSTGRES_DBNAME"],
                         autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (EVENT_STORE_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (EVENT_STORE_LOCK,))


class WriteLock:
    """One writer at a time on the SQLite event store, across threads and processes (`Subventio(write_lock=...)`).

    SQLite lets one transaction write; a second process that tries gets "busy" and retries on SQLite's
    own schedule, sleeping 1, 2, 5 ... up to 100 ms between tries, while eventsourcing's connection
    pool keeps that process's readers waiting behind it: under concurrent commands, throughput fell
    and the slowest answers took a second. Writers now queue on an exclusive `flock` of a file beside
    the store (and on a thread lock inside each process, as a process holds a flock for all its threads):
    the kernel hands it over the moment it is released. Opened per process (a descriptor inherited
    through fork would share its lock with the parent).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = threading.Lock()
        self._file: Any = None
        self._pid = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        import fcntl

        with self._thread:
            if self._file is None or self._pid != os.getpid():
                self._file = open(self.path, "a+b")  # noqa: SIM115 - kept open for the process's life
                self._pid = os.getpid()
            fcntl.flock(self._file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)


def __getattr__(name: str) -> Any:
    """`subventio:PostgresRecorder`, the topic `event_store_env` gives eventsourcing, built on first use (so that
    nothing PostgreSQL is imported where the store is SQLite)."""
    if name == "PostgresRecorder":
        recorder = _postgres_recorder_class()
        globals()[name] = recorder
        return recorder
    raise AttributeError(name)


def _postgres_recorder_class() -> type[Any]:
    from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder
    from eventsourcing.utils import retry
    from psycopg.rows import tuple_row
    from psycopg.sql import SQL, Identifier

    class PostgresRecorder(PostgresApplicationRecorder):
        """eventsourcing's PostgreSQL application recorder, whose insert is one statement (docs/adr/0010).

        eventsourcing inserts in a pipelined transaction: SET LOCAL lock_timeout, LOCK TABLE … IN EXCLUSIVE
        MODE (so that notification ids commit in their order: readers following the log never pass a gap that
        fills later), NOTIFY, INSERT … RETURNING notification_id, then COMMIT: two round trips with the lock
        held between them, and ~0.65 ms of a command's CPU in psycopg's pipeline machinery. This recorder runs
        the same statements, in the same order, inside one PL/pgSQL function called in auto-commit: the lock
        is taken and released within one statement on the server (~0.22 ms of client CPU, half the time held).
        Reads, the table, its index and every other behaviour are eventsourcing's.
        """

        def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
            super().__init__(datastore, events_table_name=events_table_name)
            self.locked_insert_function = f"{events_table_name}_insert_locked"
            self.sql_create_statements.append(SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "ids {id_type}[], versions bigint[], topics text[], states bytea[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
                "BEGIN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(ids, versions, topics, states) RETURNING notification_id; "
                "END; $BODY$").format(
                    schema=Identifier(self.datastore.schema), function=Identifier(self.locked_insert_function),
                    id_type=Identifier(self.datastore.originator_id_type), lock_timeout=self.datastore.lock_timeout,
                    table=Identifier(self.events_table_name), channel=Identifier(self.channel_name)))
            self._insert: Any = SQL("SELECT * FROM {schema}.{function}(%s, %s, %s, %s)").format(
                schema=Identifier(self.datastore.schema), function=Identifier(self.locked_insert_function))

        @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
        def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
            if kwargs.get("tracking") is not None:  # (a process application's tracking: not used here)
                return super().insert_events(stored_events, **kwargs)
            if not stored_events:
                return None
            # (get_connection turns psycopg's errors into eventsourcing's: a duplicate version → IntegrityError)
            with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as cursor:
                if not isinstance(self._insert, str):
                    self._insert = self._insert.as_string(conn)
                cursor.execute(self._insert, ([e.originator_id for e in stored_events],
                                              [e.originator_version for e in stored_events],
                                              [e.topic for e in stored_events], [e.state for e in stored_events]),
                               prepare=True)
                return [row[0] for row in cursor.fetchall()]

    return PostgresRecorder


def write_lock(settings: Settings) -> WriteLock | None:
    """The event store's writer lock: for a SQLite file (PostgreSQL queues writers itself: eventsourcing locks
    the table for each insert, and a waiting transaction is woken as soon as the lock is free)."""
    return None if settings.is_postgres else WriteLock(settings.data_dir / "events.sqlite.lock")


def build(settings: Settings) -> Any:
    """Builds the application, read store, projection runner and token store."""
    from api.services import Services
    from domain.application import Subventio
    from domain.legality import Authority
    from projections.database import ReadStore
    from projections.runner import ProjectionRunner
    from projections.tokens import TokenStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with event_store_creation_lock(settings):
        app = Subventio(env=settings.event_store_env(),
                        authority=Authority(department_code=settings.department_code, siren=settings.authority_siren),
                        write_lock=write_lock(settings))
    read = ReadStore(settings.read_store_url(), schema=settings.database_schema)
    read.create_all()
    runner = ProjectionRunner(app, read)
    tokens = TokenStore(read)
    broker = "rabbitmq" if settings.broker_url and settings.broker_url.startswith("amqp") else \
        (settings.broker_url.split(":", 1)[0] if settings.broker_url else "embedded")
    return Services(app=app, read=read, runner=runner, tokens=tokens, broker_status=lambda: broker,
                    blobs_dir=settings.data_dir / "blobs", today=today_in_paris,
                    authority_siren=settings.authority_siren, department_code=settings.department_code,
                    rate_limit=settings.rate_limit, verify_workers=settings.verify_workers)


# --- command line --------------------------------------------------------------------------


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Serves the API with gunicorn: pre-forked worker processes, each building its own services."""
    from gunicorn.app.base import BaseApplication

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", settings.threads)
            # Each worker listens on its own SO_REUSEPORT socket and the kernel spreads new connections
            # over them: otherwise one worker may accept every keep-alive connection (e.g. all those
            # opened while its sibling was still loading) and serve them alone on one core.
            self.cfg.set("reuse_port", settings.reuse_port)
            self.cfg.set("accesslog", None)
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("proc_name", "subventio")

        def load(self) -> Any:
            from api import create_app

            services = build(settings)
            services.runner.catch_up()
            app = create_app(services)
            settle_heap()
            return app

    if settings.reuse_port:  # a server already on this port (even one with SO_REUSEPORT too): refuse, as without it
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                print(f"subventio: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
                return 1
    first = build(settings)  # create the tables and project once, before forking
    first.runner.catch_up()
    first.app.close()
    first.read.dispose()
    print(f"subventio: listening on http://{host}:{port} ({workers} worker processes, store: "
          f"{'postgresql' if settings.is_postgres else settings.data_dir})", flush=True)
    # No broker configured: relay, notifier and scheduler run beside the API in one process of their
    # own on the embedded (in-memory) broker; it stops with this process. The API's processes fork
    # once it has built its stores, so that no two processes create tables at the same time.
    companion = None
    if not settings.broker_url:
        ready, ready_w = os.pipe()
        companion = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-m", "subventio", "worker", "all", "--parent", str(os.getpid()),
             "--ready-fd", str(ready_w)], pass_fds=(ready_w,))
        os.close(ready_w)
        select.select([ready], [], [], 120)  # readable at EOF: the workers started (or died)
        os.close(ready)
    try:
        Server().run()
    finally:
        if companion is not None:
            companion.terminate()
            companion.wait(timeout=15)
    return 0


def settle_heap() -> None:
    """Moves what a long-running process has built (modules, the app, its stores) out of the collector's sight.

    The garbage collector's full passes walk every tracked object: ~120 000 in an API worker once built,
    ~45 ms each time, and under load a pause every few seconds that every thread of the process waits out
    (measured: 80-97 ms in a worker serving GETs). Frozen objects are still freed when unreferenced; only
    cycles among them would outlive the process, and start-up leaves none after the collection first made
    here. Afterwards a full pass walks only the caches and requests (~30 000 objects, ~4 ms).
    """
    import gc

    gc.collect()
    gc.freeze()


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    services = build(settings)
    if args.token_command == "create":  # noqa: S105 - a sub-command name, not a password
        from uuid import UUID

        applicant = UUID(args.applicant) if args.applicant else None
        if args.role == "applicant" and applicant is None:
            print("subventio: --applicant is required with --role applicant", file=sys.stderr)
            return 2
        print(services.tokens.create(role=args.role, name=args.name, applicant_id=applicant))
        return 0
    if args.token_command == "revoke":  # noqa: S105 - a sub-command name, not a password
        ok = services.tokens.revoke(args.token)
        print("revoked" if ok else "unknown token", file=sys.stderr)
        return 0 if ok else 1
    return 2


def cmd_projections(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    services = build(settings)
    if args.projections_command == "rebuild":
        total = services.app.recorder.max_notification_id() or 0
        with tqdm(total=total, unit="ev", desc="rebuild", file=sys.stderr) as bar:
            count = services.runner.rebuild(progress=lambda n: bar.update(n))
        print(json.dumps({"events": count, "position": services.runner.position()}))
        return 0
    if args.projections_command == "catch-up":
        print(json.dumps({"events": services.runner.catch_up(), "position": services.runner.position()}))
        return 0
    if args.projections_command == "checksum":
        from projections.queries import checksum

        print(checksum(services.read))
        return 0
    if args.projections_command == "verify-rebuild":
        from projections.rebuild_proof import verify_rebuild

        with scratch_read_store(settings, services.read) as scratch:
            proof = verify_rebuild(services.app, services.runner, scratch)
        print(json.dumps(proof.as_dict(), indent=2))
        return 0 if proof.ok else 1
    return 2


@contextmanager
def scratch_read_store(settings: Settings, live: Any) -> Iterator[Any]:
    """An empty read store thrown away afterwards: a temporary SQLite file, or a temporary PostgreSQL schema."""
    import tempfile
    import uuid

    from sqlalchemy import text

    from projections.database import ReadStore

    if not settings.is_postgres:
        with tempfile.TemporaryDirectory(prefix="subventio-rebuild-") as directory:
            scratch = ReadStore(f"sqlite:///{Path(directory) / 'read.sqlite'}")
            try:
                yield scratch
            finally:
                scratch.dispose()
        return
    schema = f"rebuild_{uuid.uuid4().hex[:12]}"
    with live.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scratch = ReadStore(settings.read_store_url(), schema=schema)
    try:
        yield scratch
    finally:
        scratch.dispose()
        with live.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from domain.values import Actor, Ctx

    services = build(settings)
    app = services.app
    if args.audit_command == "seal":
        day = date.fromisoformat(args.day) if args.day else today_in_paris()
        seal = app.seal(Ctx(Actor(args.by, "admin"), day, today_in_paris()), day)  # auditors write nothing
        print(json.dumps(seal.as_dict(), default=str, indent=2))
        return 0
    if args.audit_command == "export":
        day = date.fromisoformat(args.seal)
        export = app.seal_export(day)
        text = json.dumps(export, default=str, indent=1, ensure_ascii=False)
        if args.output:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
            print(f"subventio: wrote {args.output} ({len(export['heads'])} chain heads)", file=sys.stderr)
        else:
            print(text)
        return 0
    from projections.integrity import verify

    total = app.recorder.max_notification_id() or 0
    with tqdm(total=total, unit="ev", desc="verify", file=sys.stderr) as bar:
        def progress(done: int) -> None:
            bar.update(done - bar.n)

        result = verify(app, workers=settings.verify_workers, progress=progress)
    report = result.as_dict()
    report["seals"] = [app.verify_seal(day) for day in app.seal_days()]
    report["ok"] = result.ok and all(s["ok"] for s in report["seals"])  # as GET /audit/verify says it
    print(json.dumps(report, indent=2, default=str))
    return 0 if result.ok and all(s["ok"] for s in report["seals"]) else 1


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from uuid import UUID

    from domain.dossier import Dossier
    from domain.errors import NotFound

    services = build(settings)
    instant = parse_instant(args.as_of)
    try:
        dossier = services.app.as_of(Dossier, UUID(args.dossier), instant, "Dossier")
    except NotFound as exc:
        print(f"subventio: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(dossier.as_dict(), default=str, indent=2, ensure_ascii=False))
    return 0


def parse_instant(text: str) -> datetime:
    """An ISO instant, or a date meaning the end of that day in Paris."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=PARIS).astimezone(UTC)
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def cmd_tick(settings: Settings, args: argparse.Namespace) -> int:
    """Runs the deadline checks of one day once: lapses, terminations taking effect, report reminders."""
    from projections.queries import dossier_ids_for_tick
    from workers.scheduler import Scheduler

    services = build(settings)
    today = date.fromisoformat(args.today) if args.today else today_in_paris()
    done = Scheduler(services.app, services.read, dossier_ids=lambda: dossier_ids_for_tick(services.read),
                     catch_up=services.runner.catch_up, today=lambda: today).tick(today)
    print(json.dumps({"today": today.isoformat(), **done}, indent=2))
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Runs background workers until SIGTERM: on RabbitMQ each may run alone and several times."""
    from projections.queries import dossier_ids_for_tick
    from workers.runtime import NeedsBroker, Workers

    services = build(settings)
    workers = Workers(app=services.app, read=services.read, runner=services.runner, today=today_in_paris,
                      dossier_ids=lambda: dossier_ids_for_tick(services.read), broker_url=settings.broker_url,
                      smtp_url=settings.smtp_url, prefix=args.prefix)
    settle_heap()
    try:
        return workers.run(args.worker, parent_pid=args.parent,
                           started=(lambda: os.close(args.ready_fd)) if args.ready_fd is not None else None)
    except NeedsBroker as exc:
        print(f"subventio: {exc}", file=sys.stderr)
        return 2
    finally:
        services.app.close()
        services.read.dispose()


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    import demo

    services = build(settings)
    if args.if_empty and (services.app.recorder.max_notification_id() or 0) > 0:
        print("subventio: the store already holds events; demo not loaded again.", file=sys.stderr)
        return 0
    summary = demo.load(services)
    services.runner.catch_up()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    base = f"http://{settings.host}:{settings.port}"
    print(f"subventio: demo history loaded ({summary['steps']} commands from the seed documents).\n"
          f"  Open {base}/openapi.json (the API), {base}/ui/ (the read-only web view),\n"
          f"  and call the API with the admin token below, e.g.\n"
          f"  curl -H 'Authorization: Bearer {summary['admin_token']}' {base}/dossiers\n"
          f"  admin token: {summary['admin_token']}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="subventio", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API (gunicorn, pre-forked workers)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes (default 2, SUBVENTIO_WORKERS)")
    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it alone on stdout")
    create.add_argument("--role", required=True,
                        choices=["admin", "instructor", "secretary", "finance", "auditor", "applicant"])
    create.add_argument("--name", required=True)
    create.add_argument("--applicant")
    revoke = token_sub.add_parser("revoke", help="revoke a token")
    revoke.add_argument("token")
    proj = sub.add_parser("projections", help="read models")
    proj_sub = proj.add_subparsers(dest="projections_command", required=True)
    proj_sub.add_parser("rebuild", help="rebuild every read model from the event log")
    proj_sub.add_parser("catch-up", help="apply the events not yet projected")
    proj_sub.add_parser("checksum", help="print the SHA-256 of every read model's rows")
    proj_sub.add_parser("verify-rebuild", help="rebuild into a scratch store and compare checksums with the live "
                                               "one; exit 1 on mismatch")
    audit = sub.add_parser("audit", help="integrity of the event store")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="walk every hash chain and name the first broken event; check every seal")
    seal = audit_sub.add_parser("seal", help="write the day's seal: Merkle root of every chain head")
    seal.add_argument("--day", help="YYYY-MM-DD (default today)")
    seal.add_argument("--by", default="subventio audit seal", help="who seals (recorded as the actor)")
    export = audit_sub.add_parser("export", help="write a sealed export an auditor verifies offline "
                                                 "with tools/verify_export.py")
    export.add_argument("--seal", required=True, help="the day of the seal (YYYY-MM-DD)")
    export.add_argument("--output", "-o", help="file to write (default stdout)")
    replay = sub.add_parser("replay", help="print a dossier as it stood at an instant")
    replay.add_argument("--dossier", required=True)
    replay.add_argument("--as-of", required=True)
    tick = sub.add_parser("tick", help="run the deadline checks for a day once (lapses, terminations)")
    tick.add_argument("--today", help="the day to run for (YYYY-MM-DD; default today in Paris)")
    worker = sub.add_parser("worker", help="run background workers (relay, notifier, scheduler, projections)")
    worker.add_argument("worker", nargs="?", default="all", choices=["relay", "notify", "scheduler", "projections",
                                                                     "all"])
    worker.add_argument("--prefix", default="", help="prefix of the broker's exchange and queue names")
    worker.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # stop when this process is gone
    worker.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)  # closed once the workers run
    demo_p = sub.add_parser("demo", help="load the demo history")
    demo_p.add_argument("--if-empty", action="store_true", help="only when the store holds no event")
    demo_p.add_argument("--json", action="store_true", help="print every created id as JSON")
    return p


COMMANDS = {"serve": cmd_serve, "token": cmd_token, "projections": cmd_projections, "audit": cmd_audit,
            "replay": cmd_replay, "demo": cmd_demo, "tick": cmd_tick, "worker": cmd_worker}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("SUBVENTIO_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    settings = Settings.from_env(os.environ)
    return COMMANDS[args.command](settings, args)


if __name__ == "__main__":
    sys.exit(main())

"""The read store: one SQLAlchemy Core engine (SQLite file or a PostgreSQL schema) and every table's metadata."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator, TypeEngine

metadata = MetaData()
"""Every table of the read side: read models (info read_model=True), their tracking, and the API tokens."""

CENT = Decimal("0.01")
SCHEMA_LOCK = 0x5AB_7E47_10
"""PostgreSQL advisory lock taken while creating or dropping tables."""


class Money(TypeDecorator[Decimal]):
    """Euros as NUMERIC(14, 2); on SQLite (no decimal type) as exact integer cents, never a float."""

    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = Decimal(value).quantize(CENT)
        if dialect.name == "sqlite":
            return int(amount.scaleb(2))
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-2).quantize(CENT)
        return Decimal(value).quantize(CENT)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant in UTC, read back timezone-aware; on SQLite a fixed-width ISO string, which sorts in time order."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat(timespec="microseconds") if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        instant: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


tracking = Table(
    "projection_tracking", metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
    info={"read_model": True},
)
"""How far each runner has applied the notification log; written in the same transaction as the rows."""

# Modules that define tables on `metadata`: imported before create/drop so the metadata is complete.
TABLE_MODULES = ("projections.read_models", "projections.acts", "projections.notifications", "projections.tokens")


def load_tables() -> None:
    for module in TABLE_MODULES:
        importlib.import_module(module)


def read_model_tables() -> list[Table]:
    """The tables rebuilt from the event log (never the tokens)."""
    load_tables()
    return [t for t in metadata.sorted_tables if t.info.get("read_model")]


class ReadStore:
    """The read side's database: SQLite in WAL mode, or PostgreSQL with every connection in one schema."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.metadata = metadata
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30})
            _sqlite_events(self.engine)
        else:
            connect_args: dict[str, Any] = {}
            if schema:
                connect_args["options"] = f"-csearch_path={schema}"
            self.engine = create_engine(url, connect_args=connect_args, pool_size=5, max_overflow=10,
                                        pool_pre_ping=True)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def create_all(self) -> None:
        """Creates every missing table and index; safe when several processes start at once."""
        load_tables()
        with self.write() as conn:
            self.lock_schema(conn)
            metadata.create_all(conn)

    def drop_all(self) -> None:
        """Drops the read models and their tracking; the API tokens are kept."""
        with self.write() as conn:
            self.lock_schema(conn)
            metadata.drop_all(conn, tables=read_model_tables())

    def lock_schema(self, conn: Connection) -> None:
        """Serialises table creation and removal between processes until the transaction ends.

        PostgreSQL fails two concurrent CREATE TABLE of one name; on SQLite the write transaction
        (BEGIN IMMEDIATE) already serialises them.
        """
        if not self.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})

    def dispose(self) -> None:
        self.engine.dispose()

    def begin(self) -> AbstractContextManager[Connection]:
        """A transaction (engine.begin()): commits on success, rolls back on error."""
        return self.engine.begin()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at once (BEGIN IMMEDIATE)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn


def _sqlite_events(engine: Engine) -> None:
    """WAL, synchronous=NORMAL, a busy timeout, and real transactions (SQLAlchemy emits BEGIN itself)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # the driver no longer begins/commits behind our back
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

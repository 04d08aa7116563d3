"""One active instance of a worker role per database, so that `worker all` can be scaled out safely.

On PostgreSQL the leader holds a session advisory lock on a dedicated connection; the others wait
and take over when its connection goes away (crash included). On SQLite every instance leads:
one host, and the SQLite deployment runs one set of workers.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from projections.database import ReadStore

log = logging.getLogger("subventio.workers")


class Leader:
    def __init__(self, read: ReadStore, role: str) -> None:
        self.read = read
        self.role = role
        self.key = zlib.crc32(f"subventio:{read.schema or ''}:{role}".encode())
        self._conn: Any = None

    def acquire(self) -> bool:
        """True while this instance leads; tries to become leader when it does not."""
        if self.read.is_sqlite:
            return True
        if self._conn is not None:
            return self._alive()
        try:
            conn = self.read.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            conn.commit()
        except DBAPIError:
            log.warning("%s: cannot reach the database to take the lead", self.role, exc_info=True)
            return False
        if not got:
            conn.close()
            return False
        self._conn = conn
        log.info("%s: leading (advisory lock %d)", self.role, self.key)
        return True

    def _alive(self) -> bool:
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except DBAPIError:
            log.warning("%s: lost the lock connection; standing down", self.role)
            with contextlib.suppress(DBAPIError):
                self._conn.invalidate()
            self._conn = None
            return False

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._conn.commit()
            self._conn.close()
        except DBAPIError:
            log.debug("%s: releasing the lock failed (the connection is gone, and the lock with it)", self.role)
        self._conn = None

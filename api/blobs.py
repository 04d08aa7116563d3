"""Attachments, stored once by content: blobs_dir/ab/abcdef… (SHA-256), written whole then renamed into place."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from api.errors import MAX_UPLOAD, too_large
from domain.errors import InvalidValue

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


def path_of(blobs_dir: Path, sha256: str) -> Path:
    return blobs_dir / sha256[:2] / sha256


def store(stream: IO[bytes], blobs_dir: Path, limit: int = MAX_UPLOAD) -> Blob:
    """Hashes while copying to a temporary file; refuses beyond `limit` bytes; keeps one copy per content.

    A reader never sees a partial blob: the file appears under its hash only once complete (atomic rename).
    """
    blobs_dir.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, temporary = tempfile.mkstemp(dir=blobs_dir, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large()
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise InvalidValue("file", "Le fichier est vide.")
        blob = Blob(digest.hexdigest(), size)
        final = path_of(blobs_dir, blob.sha256)
        if not final.exists():
            final.parent.mkdir(exist_ok=True)
            os.replace(temporary, final)
        return blob
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)

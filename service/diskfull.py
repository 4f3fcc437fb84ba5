"""A full disk, recognised in one place: every door answers it as "storage full, try again later"
(507 with Retry-After, a ``gr.Error``), never as an internal error, since freeing space fixes it.

File writes fail with ENOSPC (or EDQUOT past a quota); SQLite says SQLITE_FULL ("database or disk
is full"), PostgreSQL SQLSTATE 53100; SQLAlchemy and our own code may wrap either, so the whole
chain (``__cause__``, ``__context__``, SQLAlchemy's ``.orig``) is searched.
"""

from __future__ import annotations

import errno

MESSAGE = "the server's storage is full; try again later"
CODE = "storage_full"  # v1's error code, and a failed job's error_code
RETRY_AFTER = 60  # seconds: space is freed by retention or an operator, not in a moment
JOB_MESSAGE = f"{MESSAGE} (nothing was charged)"

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13
SQLITE_FULL_TEXT = "database or disk is full"
POSTGRES_DISK_FULL = "53100"


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc``, or anything it was raised from or while handling, says the disk is full."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _says_full(current):
            return True
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]
        if isinstance(current, BaseExceptionGroup):
            pending += current.exceptions
    return False


def _says_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    code = getattr(exc, "sqlite_errorcode", None)  # sqlite3 (Python 3.11+): the extended code; its low byte is the primary one
    if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
        return True
    if POSTGRES_DISK_FULL in (getattr(exc, "sqlstate", None), getattr(exc, "pgcode", None)):  # psycopg 3, psycopg2
        return True
    return SQLITE_FULL_TEXT in str(exc)

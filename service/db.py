"""Persistence: users, API keys and jobs in SQLAlchemy (SQLite by default, any SQLAlchemy URL works).
The schema is built and upgraded by the Alembic migrations in ``service/migrations`` when a
``Database`` opens (``migrate``)."""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """A stored moment as every door shows it (ISO 8601, UTC, seconds)."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    tier: Mapped[str] = mapped_column(String(20), default="free")
    credits: Mapped[int] = mapped_column(Integer, default=0)
    coins: Mapped[int] = mapped_column(Integer, default=0)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # for the web UI's login
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the key; the key itself is never stored
    prefix: Mapped[str] = mapped_column(String(16))  # "sk_live_abcd", to recognise a key in lists
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    api: Mapped[str] = mapped_column(String(10), default="v1")  # the door: v1 (spec 000), hitpaw (spec 002) or ui
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    input_key: Mapped[str] = mapped_column(String(300))
    output_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    operations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    output_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_name: Mapped[str | None] = mapped_column(String(50), nullable=True)
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # spec 002's img_url
    credits: Mapped[int] = mapped_column(Integer, default=0)
    coins: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(120), nullable=True)  # host:pid of the process running it
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    hints: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)  # web-UI extras by storage key, e.g. a clicked subject's mask
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)


class Database:
    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {}
        if url.startswith("sqlite"):
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
            _private_file(make_url(url).database)
        else:  # a server database shared by processes: as many connections as request threads, checked before use
            options.update(pool_size=20, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **options)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            migrate(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait on the worker's writes
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _private_file(path: str | None) -> None:
    """The database holds password and key hashes: owner-only (0600) from its first byte.
    SQLite creates its -wal and -shm files with the database's own permissions."""
    if not path or path == ":memory:":
        return
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)


#: the schema's history: Alembic migrations inside the package
MIGRATIONS = Path(__file__).with_name("migrations")
#: the Postgres advisory lock held while a process migrates (one at a time per database)
MIGRATION_LOCK = 0x5354_5544_494F  # "STUDIO"
#: a database made before the migrations (create_all, then the hand-written column additions) has
#: these tables; the columns each later revision added, oldest first, tell the revision it matches
LEGACY_TABLES = {"users", "api_keys", "jobs"}
LEGACY_COLUMNS = {
    "0002": {"users": {"password_hash"}},
    "0003": {"jobs": {"worker", "lease_expires_at"}},
    "0004": {"jobs": {"hints"}},
}
#: Alembic's ``context`` and ``op`` are module-wide: one migration at a time in a process too
_MIGRATING = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the studio's migrations, on ``connection`` when one is given
    (without one, Alembic's commands open STUDIO_DATABASE_URL's database)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Bring the database to the newest migration: a new one is created by the migrations, one made
    before them is stamped at the revision it matches first. The upgrade is one transaction under a
    lock (Postgres: an advisory lock; SQLite: BEGIN IMMEDIATE), so processes opening the same
    database at once never migrate together; those that come second find it at head."""
    with engine.connect() as connection:
        if MigrationContext.configure(connection).get_current_revision() == _head():
            return  # the common case: no lock taken
        connection.rollback()
        with _MIGRATING:
            _upgrade(connection)


def _upgrade(connection: Connection) -> None:
    """Lock the database, stamp one made before the migrations, upgrade, commit (the lock goes with it)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, held to the commit (DDL included)
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})  # released at the commit
    config = alembic_config(connection)
    legacy = _legacy_revision(connection)
    if legacy is not None:
        command.stamp(config, legacy)
    command.upgrade(config, "head")
    connection.commit()


@functools.cache
def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _legacy_revision(connection: Connection) -> str | None:
    """The revision a database made before the migrations matches (None: it has a version table,
    or no tables yet)."""
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables or not tables & LEGACY_TABLES:
        return None
    if not LEGACY_TABLES <= tables:
        raise RuntimeError(f"the database has some of the studio's tables but not {sorted(LEGACY_TABLES - tables)}; no version made it")
    columns = {table: {column["name"] for column in inspector.get_columns(table)} for table in LEGACY_TABLES}
    revision = "0001"
    for candidate, added in LEGACY_COLUMNS.items():
        if not all(names <= columns[table] for table, names in added.items()):
            break
        revision = candidate
    if revision >= "0003" and "ix_jobs_lease_expires_at" not in {index["name"] for index in inspector.get_indexes("jobs")}:
        # the hand-written additions added jobs.lease_expires_at without revision 0003's index
        connection.exec_driver_sql("CREATE INDEX ix_jobs_lease_expires_at ON jobs (lease_expires_at)")
    return revision

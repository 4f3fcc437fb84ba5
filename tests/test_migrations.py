"""The schema comes from the Alembic migrations in ``service/migrations``: a new database is built by
them, a database made by an older version (before the migrations: no ``alembic_version``, some
columns missing) is stamped at the revision it matches and upgraded with its rows, opening again
changes nothing, processes opening one database at once migrate one at a time, and the models agree
with the migrations. On SQLite, and on a real PostgreSQL where Debian's server is installed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from service import db as dbmodule
from service.db import ApiKey, Base, Database, Job, User
from tests import services

ROOT = Path(__file__).resolve().parent.parent

HEAD = dbmodule._head()
NEEDS_POSTGRES = pytest.mark.skipif(bool(services.missing()), reason=f"needs a real PostgreSQL: {services.missing()}")

# The tables as the first version made them (commit 785bff1, Base.metadata.create_all); {ts} is the
# dialect's DateTime(timezone=True). The older versions' states follow by adding columns to it.
FIRST_SCHEMA = [
    """CREATE TABLE users (
        id VARCHAR(36) NOT NULL, email VARCHAR(320) NOT NULL, tier VARCHAR(20) NOT NULL,
        credits INTEGER NOT NULL, coins INTEGER NOT NULL, created_at {ts} NOT NULL,
        PRIMARY KEY (id), UNIQUE (email))""",
    """CREATE TABLE api_keys (
        id VARCHAR(36) NOT NULL, user_id VARCHAR(36) NOT NULL, key_hash VARCHAR(64) NOT NULL,
        prefix VARCHAR(16) NOT NULL, name VARCHAR(100) NOT NULL, created_at {ts} NOT NULL,
        last_used_at {ts}, revoked_at {ts},
        PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES users (id), UNIQUE (key_hash))""",
    "CREATE INDEX ix_api_keys_user_id ON api_keys (user_id)",
    """CREATE TABLE jobs (
        id VARCHAR(36) NOT NULL, user_id VARCHAR(36) NOT NULL, api VARCHAR(10) NOT NULL,
        status VARCHAR(12) NOT NULL, input_key VARCHAR(300) NOT NULL, output_key VARCHAR(300),
        operations JSON NOT NULL, output_options JSON NOT NULL, model_name VARCHAR(50), source_url TEXT,
        credits INTEGER NOT NULL, coins INTEGER NOT NULL, progress FLOAT NOT NULL, attempts INTEGER NOT NULL,
        result JSON, error_message TEXT, error_code VARCHAR(40), created_at {ts} NOT NULL, updated_at {ts} NOT NULL,
        PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES users (id))""",
    "CREATE INDEX ix_jobs_user_id ON jobs (user_id)",
    "CREATE INDEX ix_jobs_status ON jobs (status)",
]
# what each older version's database had on top of the first schema (the hand-written column
# additions of 1ca82d1..ed7d8c0 added columns but never the lease index)
LATER = {
    "password_hash": ["ALTER TABLE users ADD COLUMN password_hash VARCHAR(200)"],
    "leases": ["ALTER TABLE jobs ADD COLUMN worker VARCHAR(120)", "ALTER TABLE jobs ADD COLUMN lease_expires_at {ts}"],
    "lease_index": ["CREATE INDEX ix_jobs_lease_expires_at ON jobs (lease_expires_at)"],
    "hints": ["ALTER TABLE jobs ADD COLUMN hints JSON"],
}
# (name, what it had, the revision it is stamped at)
OLD_VERSIONS = [
    ("785bff1", [], "0001"),
    ("ef98f9b", ["password_hash"], "0002"),
    ("1ca82d1-added-columns", ["password_hash", "leases"], "0003"),
    ("1ca82d1-created", ["password_hash", "leases", "lease_index"], "0003"),
    ("48fbf20-added-columns", ["password_hash", "leases", "hints"], "0004"),
    ("ed7d8c0-created", ["password_hash", "leases", "lease_index", "hints"], "0004"),
]
ROWS = [
    "INSERT INTO users (id, email, tier, credits, coins, created_at) VALUES ('u1', 'old@example.com', 'pro', 7, 3, '2026-01-02 03:04:05')",
    "INSERT INTO api_keys (id, user_id, key_hash, prefix, name, created_at) VALUES ('k1', 'u1', '{hash}', 'sk_live_abcd', 'laptop', '2026-01-02 03:04:05')",
    """INSERT INTO jobs (id, user_id, api, status, input_key, operations, output_options, credits, coins, progress, attempts, created_at, updated_at)
       VALUES ('j1', 'u1', 'v1', 'completed', 'in/a.png', '[{{"type": "upscale"}}]', '{{}}', 2, 0, 1.0, 1, '2026-01-02 03:04:05', '2026-01-02 03:04:05')""",
]


def build_old(execute: Callable[[str], object], ts: str, had: list[str]) -> None:
    """An older version's database with a user, a key and a job in it, in raw SQL."""
    for statement in FIRST_SCHEMA + [s for part in had for s in LATER[part]]:
        execute(statement.format(ts=ts))
    for statement in ROWS:
        execute(statement.format(hash="a" * 64))


def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def differences(database: Database) -> list:
    with database.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)


def check_upgraded(database: Database, url: str) -> None:
    """At head, every model column and index present, the models and the schema agree, the old rows kept."""
    assert revision(url) == HEAD
    assert differences(database) == []
    inspector = inspect(database.engine)
    assert {"users", "api_keys", "jobs", "alembic_version"} <= set(inspector.get_table_names())
    for table in Base.metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys())
    assert "ix_jobs_lease_expires_at" in {i["name"] for i in inspector.get_indexes("jobs")}
    with database.session() as session:
        user = session.scalar(select(User).where(User.email == "old@example.com"))
        assert (user.id, user.tier, user.credits, user.coins, user.password_hash) == ("u1", "pro", 7, 3, None)
        assert session.get(ApiKey, "k1").name == "laptop"
        job = session.get(Job, "j1")
        assert (job.status, job.operations, job.worker, job.lease_expires_at, job.hints) == ("completed", [{"type": "upscale"}], None, None, None)
        job.hints = {"mask": "masks/m.png"}  # the added columns are usable
        user.password_hash = "x"
    with database.session() as session:
        assert session.get(Job, "j1").hints == {"mask": "masks/m.png"}


OPEN_AT = """
import sys, time
from service.db import Database
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
Database(sys.argv[1]).engine.dispose()
"""


def open_at_once(url: str, count: int = 4) -> list[str]:
    """``count`` processes open a Database on ``url`` at the same moment; the errors they met."""
    start_at = time.time() + 4  # each has imported everything by then
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_AT, url, str(start_at)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(count)
    ]
    outputs = [(process.communicate(timeout=120)[0], process.returncode) for process in processes]
    return [output for output, code in outputs if code != 0]


# --- SQLite ----------------------------------------------------------------------------------------


def test_a_new_sqlite_database_is_made_by_the_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    database = Database(url)
    assert revision(url) == HEAD
    assert set(inspect(database.engine).get_table_names()) == {"alembic_version", "users", "api_keys", "jobs"}
    assert differences(database) == []
    assert (tmp_path / "studio.db").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("version", "had", "stamped"), OLD_VERSIONS, ids=[v[0] for v in OLD_VERSIONS])
def test_an_older_versions_sqlite_database_is_stamped_and_upgraded(tmp_path: Path, version: str, had: list[str], stamped: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "studio.db"
    with sqlite3.connect(path) as connection:
        build_old(connection.execute, "DATETIME", had)
    connection.close()
    stamps: list[str] = []
    original = dbmodule.command.stamp
    monkeypatch.setattr(dbmodule.command, "stamp", lambda config, rev: (stamps.append(rev), original(config, rev)))
    url = f"sqlite:///{path}"
    check_upgraded(Database(url), url)
    assert stamps == [stamped]


def test_opening_again_changes_nothing_and_takes_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "studio.db"
    url = f"sqlite:///{path}"
    Database(url).engine.dispose()

    def schema() -> list:
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()

    before = schema()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process mid-write: a database at head opens all the same
    try:
        database = Database(url)
        database.engine.dispose()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert schema() == before
    assert revision(url) == HEAD


def test_processes_opening_a_new_sqlite_database_at_once_migrate_one_at_a_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    assert open_at_once(url) == []
    assert revision(url) == HEAD


def test_a_failed_upgrade_leaves_the_sqlite_database_as_it_was(tmp_path: Path) -> None:
    """The upgrade is one transaction: a database no version made (hints without password_hash,
    so 0004 meets its column already there) keeps its schema, unstamped."""
    path = tmp_path / "studio.db"
    with sqlite3.connect(path) as connection:
        build_old(connection.execute, "DATETIME", ["hints"])
    connection.close()
    with pytest.raises(Exception, match="(?i)duplicate column"):
        Database(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {row[1] for row in connection.execute("PRAGMA table_info(users)")}
    connection.close()
    assert "alembic_version" not in tables
    assert "password_hash" not in columns


def test_the_models_and_the_migrations_agree() -> None:
    """A model change needs its migration: at head, Alembic's autogenerate finds nothing to do."""
    database = Database("sqlite://")  # in memory: one connection per thread, enough for a check
    assert differences(database) == []


# --- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """A throwaway PostgreSQL server; calling the fixture makes a fresh database on it (a URL)."""
    with services.postgres_server(tmp_path_factory.mktemp("postgres")) as url:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")

        def fresh() -> str:
            name = f"t_{uuid.uuid4().hex[:12]}"
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}"))
            return make_url(url).set(database=name).render_as_string(hide_password=False)

        yield fresh
        admin.dispose()


@NEEDS_POSTGRES
def test_a_new_postgres_database_is_made_by_the_migrations(postgres: Callable[[], str]) -> None:
    url = postgres()
    database = Database(url)
    try:
        assert revision(url) == HEAD
        assert differences(database) == []
        database.engine.dispose()
        database = Database(url)  # again: nothing to do
        assert revision(url) == HEAD
    finally:
        database.engine.dispose()


@NEEDS_POSTGRES
@pytest.mark.parametrize(("version", "had", "stamped"), [OLD_VERSIONS[0], OLD_VERSIONS[4]], ids=[OLD_VERSIONS[0][0], OLD_VERSIONS[4][0]])
def test_an_older_versions_postgres_database_is_stamped_and_upgraded(postgres: Callable[[], str], version: str, had: list[str], stamped: str) -> None:
    url = postgres()
    engine = create_engine(url)
    with engine.begin() as connection:
        build_old(connection.exec_driver_sql, "TIMESTAMP WITH TIME ZONE", had)
    engine.dispose()
    database = Database(url)
    try:
        check_upgraded(database, url)
    finally:
        database.engine.dispose()


@NEEDS_POSTGRES
def test_processes_opening_a_new_postgres_database_at_once_migrate_one_at_a_time(postgres: Callable[[], str]) -> None:
    url = postgres()
    assert open_at_once(url, 6) == []
    assert revision(url) == HEAD


@NEEDS_POSTGRES
def test_a_failed_upgrade_leaves_the_postgres_database_as_it_was(postgres: Callable[[], str]) -> None:
    url = postgres()
    engine = create_engine(url)
    with engine.begin() as connection:
        build_old(connection.exec_driver_sql, "TIMESTAMP WITH TIME ZONE", ["hints"])
    with pytest.raises(Exception, match="(?i)already exists"):
        Database(url)
    inspector = inspect(engine)
    assert "alembic_version" not in inspector.get_table_names()
    assert "password_hash" not in {c["name"] for c in inspector.get_columns("users")}
    engine.dispose()

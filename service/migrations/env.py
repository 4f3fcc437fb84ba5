"""Alembic's environment: migrations run on the connection ``service.db.migrate`` hands over (inside
its transaction, under its lock), or, for Alembic's own commands, on the configured database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from service.db import Base

config = context.config
OPTIONS = {"target_metadata": Base.metadata, "render_as_batch": True, "compare_type": True}  # batch: SQLite's ALTER TABLE is limited


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from ops.settings import Settings  # Alembic's own command line: a door of its own

    return Settings().db_url


def run_offline() -> None:
    context.configure(url=_url(), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # service.db.migrate: its connection, its transaction
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **OPTIONS)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

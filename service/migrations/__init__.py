"""The database schema's history as Alembic migrations; ``service.db.migrate`` runs them when a
``Database`` opens (SQLite and Postgres alike, one process at a time).

A schema change is a new file in ``versions/``: change the models in ``service/db.py``, then write
the revision by hand or let Alembic draft it against a database at head::

    python -c "from alembic import command; from service.db import alembic_config; command.revision(alembic_config(), 'what changed', autogenerate=True)"

(``STUDIO_DATABASE_URL`` / ``STUDIO_DATA_DIR`` say which database; read the draft before keeping it:
SQLite alterations go through ``op.batch_alter_table``). ``tests/test_migrations.py`` checks that the
models and the migrations agree.
"""

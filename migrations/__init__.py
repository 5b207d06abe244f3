"""Alembic migrations; the same revisions serve SQLite and PostgreSQL."""

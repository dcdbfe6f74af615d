"""Alembic migrations of the sync log."""

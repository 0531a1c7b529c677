"""Alembic environment and revisions of the store schema (see advisor.store.migrate)."""

"""Alembic's environment and revisions for the schema (run through services/storage/migrate.py)."""

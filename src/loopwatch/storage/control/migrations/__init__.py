"""Alembic migrations of the control plane, applied when it is opened (one chain for every table)."""

"""The server tests use the sync tests' fixtures: every test using ``storage`` runs on SQLite and on
PostgreSQL (which must run, not skip, when CI=true)."""

from __future__ import annotations

from tests.sync.conftest import laptop, org, server, storage

__all__ = ["laptop", "org", "server", "storage"]

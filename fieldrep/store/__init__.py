"""Local SQLite store: connection, migrations, the sync-aware writer and repositories."""
